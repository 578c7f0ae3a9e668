-- calsync schema, PostgreSQL flavour. Instants are epoch milliseconds (UTC); ids are UUIDv7.
-- Never edit a landed migration: add a new one.

CREATE TABLE users (
    id          UUID PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    -- SHA-256 of the API token, hex. The token itself is shown once and never stored.
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    -- The last change sequence handed out for this user (see changes.seq).
    change_seq  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE calendars (
    id          UUID PRIMARY KEY NOT NULL,
    user_id     UUID NOT NULL REFERENCES users(id),
    name        TEXT NOT NULL,
    color       TEXT,
    time_zone   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    deleted_at  BIGINT
);
CREATE INDEX calendars_by_user ON calendars(user_id) WHERE deleted_at IS NULL;

CREATE TABLE events (
    id                UUID PRIMARY KEY NOT NULL,
    user_id           UUID NOT NULL REFERENCES users(id),
    calendar_id       UUID NOT NULL REFERENCES calendars(id),
    -- For an exception: its series, and the occurrence it replaces (a canonical key).
    series_id         UUID,
    original_key      TEXT,
    -- Epoch-ms bounds holding every occurrence; "wide" rows (series, long events) are
    -- searched separately so the common short-event query stays a narrow index range.
    span_start        BIGINT NOT NULL,
    span_end          BIGINT NOT NULL,
    wide              BIGINT NOT NULL,
    -- The event content as JSON (calsync_core::EventInput), validated on every read.
    body              TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    source            TEXT NOT NULL,
    updated_at_source TEXT NOT NULL,
    version           BIGINT NOT NULL,
    deleted_at        BIGINT
);
CREATE INDEX events_window ON events(calendar_id, wide, span_start) WHERE deleted_at IS NULL;
CREATE INDEX events_by_series ON events(series_id) WHERE series_id IS NOT NULL;
CREATE UNIQUE INDEX events_one_exception_per_occurrence
    ON events(series_id, original_key) WHERE series_id IS NOT NULL AND deleted_at IS NULL;

-- The change log and outbox: one row per event write, written in the same transaction.
CREATE TABLE changes (
    user_id              UUID NOT NULL REFERENCES users(id),
    seq                  BIGINT NOT NULL,
    event_id             UUID NOT NULL,
    calendar_id          UUID NOT NULL,
    previous_calendar_id UUID,
    op                   TEXT NOT NULL,
    version              BIGINT NOT NULL,
    origin               TEXT NOT NULL,
    at                   BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
);
