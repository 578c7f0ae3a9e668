-- Resolving conflicts. `revision` moves whenever a pull brings a newer remote version, so
-- a decision taken on an older view is refused; `choice` and `resolved_by` record who
-- decided what (with `resolved_at`), for the event's history.
ALTER TABLE conflicts ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;
ALTER TABLE conflicts ADD COLUMN updated_at BIGINT;
ALTER TABLE conflicts ADD COLUMN choice TEXT;
ALTER TABLE conflicts ADD COLUMN resolved_by TEXT;
CREATE INDEX conflicts_by_user ON conflicts(user_id, created_at);
