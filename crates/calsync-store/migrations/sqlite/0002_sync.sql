-- Sync with providers: connected accounts, links of local calendars to remote ones, the
-- per-event link (remote id, etag and the base both sides last agreed on), conflicts.

CREATE TABLE accounts (
    id            BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users(id),
    provider      TEXT NOT NULL,
    -- The account at the provider (an email for Google).
    remote_user   TEXT NOT NULL,
    -- The refresh token, sealed (XChaCha20-Poly1305); never stored in clear.
    secret        BLOB NOT NULL,
    -- active | needs_reauth | disconnected
    state         TEXT NOT NULL,
    last_error    TEXT,
    last_error_at INTEGER,
    -- One worker at a time per account: the lease holder and until when (epoch ms).
    lease_owner   TEXT,
    lease_until   INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (user_id, provider, remote_user)
);

CREATE TABLE links (
    id                  BLOB PRIMARY KEY NOT NULL,
    user_id             BLOB NOT NULL REFERENCES users(id),
    account_id          BLOB NOT NULL REFERENCES accounts(id),
    calendar_id         BLOB NOT NULL REFERENCES calendars(id),
    remote_calendar_id  TEXT NOT NULL,
    -- importing | active | paused | error
    state               TEXT NOT NULL,
    -- The provider's change cursor (Google sync token); NULL until the import finished.
    cursor              TEXT,
    cursor_at           INTEGER,
    -- Remote events read so far by a full listing in progress (the import's progress).
    listing_read        INTEGER,
    -- The last change-log seq pushed to this link (the outbox checkpoint).
    checkpoint          INTEGER NOT NULL,
    channel_id          TEXT,
    channel_token       TEXT,
    channel_resource_id TEXT,
    channel_expires_at  INTEGER,
    last_message_number INTEGER,
    -- When the link job should run next (the account's lease makes sure one worker runs it).
    due_at              INTEGER NOT NULL,
    -- When the link was last asked to run (a notification, a local change): a job that
    -- started before that runs again instead of rescheduling far away.
    marked_at           INTEGER,
    last_pull_at        INTEGER,
    last_push_at        INTEGER,
    last_error          TEXT,
    last_error_at       INTEGER,
    failures            INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (account_id, remote_calendar_id)
);
CREATE INDEX links_due ON links(due_at);
CREATE UNIQUE INDEX links_by_channel ON links(channel_id) WHERE channel_id IS NOT NULL;

CREATE TABLE event_links (
    link_id    BLOB NOT NULL REFERENCES links(id),
    event_id   BLOB NOT NULL,
    remote_id  TEXT NOT NULL,
    etag       TEXT,
    -- calsync_core::sync::Content as JSON, and its hash.
    base       TEXT NOT NULL,
    base_hash  TEXT NOT NULL,
    -- ok | parked | conflict
    state      TEXT NOT NULL,
    error      TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (link_id, event_id),
    UNIQUE (link_id, remote_id)
);

CREATE TABLE conflicts (
    id          BLOB PRIMARY KEY NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users(id),
    link_id     BLOB NOT NULL REFERENCES links(id),
    event_id    BLOB NOT NULL,
    base        TEXT,
    local       TEXT,
    remote      TEXT,
    fields      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER
);
CREATE UNIQUE INDEX conflicts_open ON conflicts(link_id, event_id) WHERE resolved_at IS NULL;

-- Authorization requests in flight: `state` ties the provider's callback to the user and
-- the PKCE verifier (sealed). Consumed once; expired ones are ignored.
CREATE TABLE oauth_states (
    state       TEXT PRIMARY KEY NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users(id),
    provider    TEXT NOT NULL,
    verifier    BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
