-- Resolving conflicts. `revision` moves whenever a pull brings a newer remote version, so
-- a decision taken on an older view is refused; `choice` and `resolved_by` record who
-- decided what (with `resolved_at`), for the event's history.
ALTER TABLE conflicts ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE conflicts ADD COLUMN updated_at INTEGER;
ALTER TABLE conflicts ADD COLUMN choice TEXT;
ALTER TABLE conflicts ADD COLUMN resolved_by TEXT;
-- When the provider last changed its version (for newest_wins).
ALTER TABLE conflicts ADD COLUMN remote_updated_at INTEGER;
CREATE INDEX conflicts_by_user ON conflicts(user_id, created_at);

-- Safety brakes: a pull that would delete more than max_deletions events, or more than
-- max_deletion_percent of the link's events, pauses the link with `brake` (the reason)
-- until the user confirms or rejects (`brake_decision`, used once by the next pull).
ALTER TABLE links ADD COLUMN max_deletions INTEGER NOT NULL DEFAULT 20;
ALTER TABLE links ADD COLUMN max_deletion_percent INTEGER NOT NULL DEFAULT 20;
ALTER TABLE links ADD COLUMN brake TEXT;
-- pull | push | conflict; and what the user saw when asked: a pull brake's deletions, a
-- push brake's last outbox row. An answer covers no more than that.
ALTER TABLE links ADD COLUMN brake_kind TEXT;
ALTER TABLE links ADD COLUMN brake_bound INTEGER;
ALTER TABLE links ADD COLUMN brake_decision TEXT;
-- What a conflict does: `ask` (pause the event and ask), `local_wins`, `remote_wins`,
-- `newest_wins`; with pause_on_conflict the whole link pauses instead of the one event.
ALTER TABLE links ADD COLUMN policy TEXT NOT NULL DEFAULT 'ask';
ALTER TABLE links ADD COLUMN pause_on_conflict INTEGER NOT NULL DEFAULT 0;

-- An event's history (its changes and the decisions about it), read per event.
CREATE INDEX changes_by_event ON changes(user_id, event_id, seq);
