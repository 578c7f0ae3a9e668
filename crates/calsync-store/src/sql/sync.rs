//! `SyncStore` for both backends: a child of `shared.rs`, so pulls reuse the same
//! transaction-level event writes (`update_in`, `delete_in`, change rows) as the API.

use super::{
    CLAIM_LOCK, DbRow, SqlStore, Tx, append_change, bumped, check_calendar, check_references, check_series, delete_in,
    fetch_event, lock_user, millis, source, sqlx_rows, tombstone, update_in, write_event,
};
use crate::StoreError;
use crate::sync::{
    Account, AccountState, Brake, BrakeDecision, BrakeKind, ConflictFilter, ConflictPolicy, ConflictRecord, EventLink,
    EventLinkState, Link, LinkChannel, LinkSettings, LinkState, LocalOutcome, NewConflict, PullOp, Resolution,
    SyncStore,
};
use async_trait::async_trait;
use calsync_core::fullcalendar::SyncState;
use calsync_core::sync::Content;
use calsync_core::{
    AccountId, CalendarId, ChangeOp, ConflictId, Event, EventId, EventMeta, LinkId, Seq, Source, UserId,
};
use jiff::Timestamp;
use sqlx::Row;
use uuid::Uuid;

macro_rules! link_cols {
    () => {
        "id, user_id, account_id, calendar_id, remote_calendar_id, state, cursor, cursor_at, listing_read, checkpoint, due_at, \
         last_pull_at, last_push_at, last_error, last_error_at, failures, channel_id, channel_token, \
         channel_resource_id, channel_expires_at, marked_at, policy, pause_on_conflict, max_deletions, \
         max_deletion_percent, brake, brake_kind, brake_bound, brake_decision"
    };
}

fn corrupt(what: &'static str, id: impl ToString, detail: impl ToString) -> StoreError {
    StoreError::Corrupt { what, id: id.to_string(), detail: detail.to_string() }
}

fn opt_millis(v: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    v.map(millis).transpose()
}

fn account_from_row(row: &DbRow) -> Result<Account, StoreError> {
    let id = AccountId::from_uuid(row.try_get::<Uuid, _>("id")?);
    let state: String = row.try_get("state")?;
    Ok(Account {
        id,
        user_id: UserId::from_uuid(row.try_get::<Uuid, _>("user_id")?),
        provider: source(row.try_get::<String, _>("provider")?.as_str())?,
        remote_user: row.try_get("remote_user")?,
        secret: row.try_get("secret")?,
        state: AccountState::parse(&state).ok_or_else(|| corrupt("account", id, format!("state {state:?}")))?,
        last_error: row.try_get("last_error")?,
        created_at: millis(row.try_get("created_at")?)?,
    })
}

fn link_from_row(row: &DbRow) -> Result<Link, StoreError> {
    let id = LinkId::from_uuid(row.try_get::<Uuid, _>("id")?);
    let state: String = row.try_get("state")?;
    Ok(Link {
        id,
        user_id: UserId::from_uuid(row.try_get::<Uuid, _>("user_id")?),
        account_id: AccountId::from_uuid(row.try_get::<Uuid, _>("account_id")?),
        calendar_id: CalendarId::from_uuid(row.try_get::<Uuid, _>("calendar_id")?),
        remote_calendar_id: row.try_get("remote_calendar_id")?,
        state: LinkState::parse(&state).ok_or_else(|| corrupt("link", id, format!("state {state:?}")))?,
        cursor: row.try_get("cursor")?,
        cursor_at: opt_millis(row.try_get("cursor_at")?)?,
        listing_read: row.try_get("listing_read")?,
        checkpoint: row.try_get("checkpoint")?,
        due_at: millis(row.try_get("due_at")?)?,
        last_pull_at: opt_millis(row.try_get("last_pull_at")?)?,
        last_push_at: opt_millis(row.try_get("last_push_at")?)?,
        last_error: row.try_get("last_error")?,
        last_error_at: opt_millis(row.try_get("last_error_at")?)?,
        failures: row.try_get("failures")?,
        marked_at: opt_millis(row.try_get("marked_at")?)?,
        settings: {
            let policy: String = row.try_get("policy")?;
            LinkSettings {
                policy: ConflictPolicy::parse(&policy)
                    .ok_or_else(|| corrupt("link", id, format!("policy {policy:?}")))?,
                pause_on_conflict: row.try_get::<i64, _>("pause_on_conflict")? != 0,
                max_deletions: row.try_get("max_deletions")?,
                max_deletion_percent: row.try_get("max_deletion_percent")?,
            }
        },
        brake: match (
            row.try_get::<Option<String>, _>("brake")?,
            row.try_get::<Option<String>, _>("brake_kind")?.as_deref().and_then(BrakeKind::parse),
        ) {
            (Some(reason), Some(kind)) => {
                Some(Brake { kind, reason, bound: row.try_get::<Option<i64>, _>("brake_bound")?.unwrap_or(0) })
            }
            _ => None,
        },
        brake_decision: row.try_get::<Option<String>, _>("brake_decision")?.as_deref().and_then(BrakeDecision::parse),
        channel: match (
            row.try_get::<Option<String>, _>("channel_id")?,
            row.try_get::<Option<String>, _>("channel_token")?,
            row.try_get::<Option<String>, _>("channel_resource_id")?,
            row.try_get::<Option<i64>, _>("channel_expires_at")?,
        ) {
            (Some(id), Some(token), Some(resource_id), Some(exp)) => {
                Some(LinkChannel { id, token, resource_id, expires_at: millis(exp)? })
            }
            _ => None,
        },
    })
}

fn event_link_from_row(row: &DbRow) -> Result<EventLink, StoreError> {
    let event_id = EventId::from_uuid(row.try_get::<Uuid, _>("event_id")?);
    let base: String = row.try_get("base")?;
    let state: String = row.try_get("state")?;
    Ok(EventLink {
        link_id: LinkId::from_uuid(row.try_get::<Uuid, _>("link_id")?),
        event_id,
        remote_id: row.try_get("remote_id")?,
        etag: row.try_get("etag")?,
        base: serde_json::from_str::<Content>(&base).map_err(|e| corrupt("event link", event_id, e))?,
        state: EventLinkState::parse(&state)
            .ok_or_else(|| corrupt("event link", event_id, format!("state {state:?}")))?,
        error: row.try_get("error")?,
    })
}

const CONFLICT_COLS: &str = "c.id, c.user_id, c.link_id, l.calendar_id, c.event_id, c.base, c.local, c.remote, \
     c.fields, c.reason, c.revision, c.remote_updated_at, c.created_at, c.updated_at, c.resolved_at, c.choice, \
     c.resolved_by";

fn conflict_from_row(row: &DbRow) -> Result<ConflictRecord, StoreError> {
    let id = ConflictId::from_uuid(row.try_get::<Uuid, _>("id")?);
    let content = |col: &str| -> Result<Option<Content>, StoreError> {
        row.try_get::<Option<String>, _>(col)?
            .map(|t| serde_json::from_str(&t).map_err(|e| corrupt("conflict", id, e)))
            .transpose()
    };
    let fields: String = row.try_get("fields")?;
    Ok(ConflictRecord {
        id,
        user_id: UserId::from_uuid(row.try_get::<Uuid, _>("user_id")?),
        link_id: LinkId::from_uuid(row.try_get::<Uuid, _>("link_id")?),
        calendar_id: CalendarId::from_uuid(row.try_get::<Uuid, _>("calendar_id")?),
        event_id: EventId::from_uuid(row.try_get::<Uuid, _>("event_id")?),
        base: content("base")?,
        local: content("local")?,
        remote: content("remote")?,
        fields: serde_json::from_str(&fields).map_err(|e| corrupt("conflict", id, e))?,
        reason: row.try_get("reason")?,
        revision: row.try_get("revision")?,
        remote_updated_at: opt_millis(row.try_get("remote_updated_at")?)?,
        created_at: millis(row.try_get("created_at")?)?,
        updated_at: opt_millis(row.try_get("updated_at")?)?,
        resolved_at: opt_millis(row.try_get("resolved_at")?)?,
        choice: row.try_get("choice")?,
        resolved_by: row.try_get("resolved_by")?,
    })
}

/// What resolving does to the hub's event, inside the resolution's transaction.
async fn apply_local_outcome(
    tx: &mut Tx,
    user: UserId,
    current: Option<Event>,
    outcome: &LocalOutcome,
    origin: Source,
    now: i64,
) -> Result<(), StoreError> {
    let missing = || StoreError::NotFound { what: "event", id: "of the conflict".into() };
    match (outcome, current) {
        (LocalOutcome::Unchanged, _) => {}
        (LocalOutcome::Requeue, Some(e)) if e.is_deleted() => drop(tombstone(tx, user, &e, origin, now).await?),
        (LocalOutcome::Requeue, Some(e)) => drop(update_in(tx, user, &e, e.draft.clone(), origin, now).await?),
        (LocalOutcome::Write(draft), Some(e)) if e.is_deleted() => {
            // Brought back: the same id, a new version, announced as created again.
            check_references(tx, user, e.id, draft).await?;
            let revived = bumped(&e, (**draft).clone(), origin, now, false)?;
            write_event(tx, user, &revived, false).await?;
            append_change(tx, user, &revived, None, ChangeOp::Created, origin, now).await?;
        }
        (LocalOutcome::Write(draft), Some(e)) => drop(update_in(tx, user, &e, (**draft).clone(), origin, now).await?),
        (LocalOutcome::Delete, Some(e)) if e.is_deleted() => drop(tombstone(tx, user, &e, origin, now).await?),
        (LocalOutcome::Delete, Some(e)) => drop(delete_in(tx, user, &e, origin, now).await?),
        (_, None) => return Err(missing()),
    }
    Ok(())
}

async fn put_event_link(tx: &mut Tx, l: &EventLink, now: i64) -> Result<(), StoreError> {
    let base = serde_json::to_string(&l.base).map_err(|e| corrupt("event link", l.event_id, e))?;
    sqlx::query(
        "INSERT INTO event_links (link_id, event_id, remote_id, etag, base, base_hash, state, error, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (link_id, event_id) DO UPDATE SET remote_id = excluded.remote_id, etag = excluded.etag, \
         base = excluded.base, base_hash = excluded.base_hash, state = excluded.state, error = excluded.error, \
         updated_at = excluded.updated_at",
    )
    .bind(l.link_id.as_uuid())
    .bind(l.event_id.as_uuid())
    .bind(&l.remote_id)
    .bind(&l.etag)
    .bind(base)
    .bind(l.base.hash())
    .bind(l.state.as_str())
    .bind(&l.error)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn put_conflict(tx: &mut Tx, l: &EventLink, c: &NewConflict, now: i64) -> Result<(), StoreError> {
    let json =
        |v: Option<&Content>| v.map(serde_json::to_string).transpose().map_err(|e| corrupt("conflict", l.event_id, e));
    let fields = serde_json::to_string(&c.fields).map_err(|e| corrupt("conflict", l.event_id, e))?;
    sqlx::query(
        "INSERT INTO conflicts (id, user_id, link_id, event_id, base, local, remote, fields, reason, created_at, \
         remote_updated_at) SELECT $1, user_id, id, $2, $3, $4, $5, $6, $7, $8, $10 FROM links WHERE id = $9 \
         ON CONFLICT (link_id, event_id) WHERE resolved_at IS NULL DO UPDATE SET local = excluded.local, \
         remote = excluded.remote, fields = excluded.fields, reason = excluded.reason, \
         remote_updated_at = excluded.remote_updated_at, \
         revision = conflicts.revision + 1, updated_at = excluded.created_at \
         WHERE conflicts.remote IS DISTINCT FROM excluded.remote OR conflicts.local IS DISTINCT FROM excluded.local",
    )
    .bind(calsync_core::ConflictId::new().as_uuid())
    .bind(l.event_id.as_uuid())
    .bind(json(Some(&l.base))?)
    .bind(json(c.local.as_ref())?)
    .bind(json(c.remote.as_ref())?)
    .bind(fields)
    .bind(&c.reason)
    .bind(now)
    .bind(l.link_id.as_uuid())
    .bind(c.remote_updated_at.map(|t| t.as_millisecond()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn drop_event_link(tx: &mut Tx, link: LinkId, event: EventId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM event_links WHERE link_id = $1 AND event_id = $2")
        .bind(link.as_uuid())
        .bind(event.as_uuid())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A live event of the user inside the transaction (pulls only touch live events).
async fn live_event(tx: &mut Tx, user: UserId, id: EventId) -> Result<Event, StoreError> {
    let event = fetch_event(tx, user, id).await?;
    if event.is_deleted() {
        return Err(StoreError::Gone { what: "event", id: id.to_string() });
    }
    Ok(event)
}

#[async_trait]
impl SyncStore for SqlStore {
    async fn upsert_account(
        &self,
        user: UserId,
        provider: Source,
        remote_user: &str,
        secret: &[u8],
    ) -> Result<Account, StoreError> {
        let now = self.now();
        let row = sqlx::query(
            "INSERT INTO accounts (id, user_id, provider, remote_user, secret, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'active', $6, $6) \
             ON CONFLICT (user_id, provider, remote_user) DO UPDATE SET secret = excluded.secret, state = 'active', \
             last_error = NULL, last_error_at = NULL, updated_at = excluded.updated_at \
             RETURNING id, user_id, provider, remote_user, secret, state, last_error, created_at",
        )
        .bind(AccountId::new().as_uuid())
        .bind(user.as_uuid())
        .bind(provider.as_str())
        .bind(remote_user)
        .bind(secret)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        account_from_row(&row)
    }

    async fn get_account(&self, user: UserId, id: AccountId) -> Result<Account, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, provider, remote_user, secret, state, last_error, created_at FROM accounts \
             WHERE id = $1 AND user_id = $2",
        )
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound { what: "account", id: id.to_string() })?;
        account_from_row(&row)
    }

    async fn list_accounts(&self, user: UserId) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, provider, remote_user, secret, state, last_error, created_at FROM accounts \
             WHERE user_id = $1 ORDER BY id",
        )
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn account_providers(&self) -> Result<Vec<Source>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar("SELECT DISTINCT provider FROM accounts ORDER BY provider")
            .fetch_all(&self.pool)
            .await?;
        names.iter().map(|n| source(n)).collect()
    }

    async fn set_account_state(
        &self,
        id: AccountId,
        state: AccountState,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = self.now();
        sqlx::query(
            "UPDATE accounts SET state = $2, last_error = $3, last_error_at = CASE WHEN $3 IS NULL THEN NULL ELSE $4 END, \
             updated_at = $4 WHERE id = $1",
        )
        .bind(id.as_uuid())
        .bind(state.as_str())
        .bind(error)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_account_secret(&self, id: AccountId, old: &[u8], new: &[u8]) -> Result<bool, StoreError> {
        let now = self.now();
        let done = sqlx::query("UPDATE accounts SET secret = $3, updated_at = $4 WHERE id = $1 AND secret = $2")
            .bind(id.as_uuid())
            .bind(old)
            .bind(new)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_link(
        &self,
        user: UserId,
        account: AccountId,
        calendar: CalendarId,
        remote_calendar_id: &str,
    ) -> Result<Link, StoreError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        lock_user(&mut tx, user).await?;
        check_calendar(&mut tx, user, calendar).await?;
        let owned = sqlx::query("SELECT 1 FROM accounts WHERE id = $1 AND user_id = $2")
            .bind(account.as_uuid())
            .bind(user.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
        if owned.is_none() {
            return Err(StoreError::NotFound { what: "account", id: account.to_string() });
        }
        let checkpoint: i64 = 0;
        let id = LinkId::new();
        let inserted = sqlx::query(
            "INSERT INTO links (id, user_id, account_id, calendar_id, remote_calendar_id, state, checkpoint, due_at, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'importing', $6, $7, $7, $7) \
             ON CONFLICT (account_id, remote_calendar_id) DO NOTHING",
        )
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .bind(account.as_uuid())
        .bind(calendar.as_uuid())
        .bind(remote_calendar_id)
        .bind(checkpoint)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if sqlx_rows(&inserted) == 0 {
            return Err(StoreError::AlreadyExists {
                what: "link to remote calendar",
                id: remote_calendar_id.to_owned(),
            });
        }
        tx.commit().await?;
        self.get_link(user, id).await
    }

    async fn get_link(&self, user: UserId, id: LinkId) -> Result<Link, StoreError> {
        let row = sqlx::query(concat!("SELECT ", link_cols!(), " FROM links WHERE id = $1 AND user_id = $2"))
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { what: "link", id: id.to_string() })?;
        link_from_row(&row)
    }

    async fn delete_link(&self, user: UserId, id: LinkId) -> Result<Vec<EventId>, StoreError> {
        let mut tx = self.begin().await?;
        let owned = sqlx::query("SELECT 1 FROM links WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
        if owned.is_none() {
            return Err(StoreError::NotFound { what: "link", id: id.to_string() });
        }
        let events: Vec<Uuid> = sqlx::query_scalar("SELECT event_id FROM event_links WHERE link_id = $1")
            .bind(id.as_uuid())
            .fetch_all(&mut *tx)
            .await?;
        for table in [
            "DELETE FROM event_links WHERE link_id = $1",
            "DELETE FROM conflicts WHERE link_id = $1",
            "DELETE FROM links WHERE id = $1",
        ] {
            sqlx::query(table).bind(id.as_uuid()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(events.into_iter().map(EventId::from_uuid).collect())
    }

    async fn disconnect_account(&self, user: UserId, id: AccountId) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE accounts SET state = 'disconnected', secret = $3, lease_owner = NULL, lease_until = NULL, \
             updated_at = $4 WHERE id = $1 AND user_id = $2",
        )
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .bind(Vec::<u8>::new())
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        if sqlx_rows(&done) == 0 {
            return Err(StoreError::NotFound { what: "account", id: id.to_string() });
        }
        Ok(())
    }

    async fn find_link(&self, id: LinkId) -> Result<Link, StoreError> {
        let row = sqlx::query(concat!("SELECT ", link_cols!(), " FROM links WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { what: "link", id: id.to_string() })?;
        link_from_row(&row)
    }

    async fn list_links(&self, user: UserId) -> Result<Vec<Link>, StoreError> {
        let rows = sqlx::query(concat!("SELECT ", link_cols!(), " FROM links WHERE user_id = $1 ORDER BY id"))
            .bind(user.as_uuid())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(link_from_row).collect()
    }

    async fn event_link(&self, link: LinkId, event: EventId) -> Result<Option<EventLink>, StoreError> {
        let row = sqlx::query("SELECT * FROM event_links WHERE link_id = $1 AND event_id = $2")
            .bind(link.as_uuid())
            .bind(event.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(event_link_from_row).transpose()
    }

    async fn event_link_by_remote(&self, link: LinkId, remote_id: &str) -> Result<Option<EventLink>, StoreError> {
        let row = sqlx::query("SELECT * FROM event_links WHERE link_id = $1 AND remote_id = $2")
            .bind(link.as_uuid())
            .bind(remote_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(event_link_from_row).transpose()
    }

    async fn event_links(&self, link: LinkId) -> Result<Vec<EventLink>, StoreError> {
        let rows = sqlx::query("SELECT * FROM event_links WHERE link_id = $1 ORDER BY remote_id")
            .bind(link.as_uuid())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_link_from_row).collect()
    }

    async fn count_event_links(&self, link: LinkId) -> Result<i64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM event_links WHERE link_id = $1")
            .bind(link.as_uuid())
            .fetch_one(&self.pool)
            .await?;
        Ok(count)
    }

    async fn sync_states(
        &self,
        user: UserId,
        calendar: CalendarId,
    ) -> Result<std::collections::HashMap<EventId, SyncState>, StoreError> {
        // Changes past a link's checkpoint wait in its outbox (bounded: a link paused for
        // long has many, and the first ten thousand say enough).
        let pending = sqlx::query(
            "SELECT DISTINCT c.event_id FROM changes c JOIN links l ON l.user_id = c.user_id AND l.calendar_id = $2 \
             WHERE c.user_id = $1 AND c.seq > l.checkpoint AND (c.calendar_id = $2 OR c.previous_calendar_id = $2) \
             LIMIT 10000",
        )
        .bind(user.as_uuid())
        .bind(calendar.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        let held = sqlx::query(
            "SELECT el.event_id, el.state FROM event_links el JOIN links l ON l.id = el.link_id \
             WHERE l.user_id = $1 AND l.calendar_id = $2 AND el.state <> 'ok'",
        )
        .bind(user.as_uuid())
        .bind(calendar.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        let mut states = std::collections::HashMap::new();
        for row in &pending {
            states.insert(EventId::from_uuid(row.try_get::<Uuid, _>("event_id")?), SyncState::Pending);
        }
        for row in &held {
            let state: String = row.try_get("state")?;
            let held = if state == EventLinkState::Conflict.as_str() { SyncState::Conflict } else { SyncState::Error };
            let id = EventId::from_uuid(row.try_get::<Uuid, _>("event_id")?);
            let now = states.get(&id).copied().unwrap_or_default();
            states.insert(id, now.worst(held));
        }
        Ok(states)
    }

    async fn apply_pull(
        &self,
        user: UserId,
        link: LinkId,
        origin: Source,
        ops: Vec<PullOp>,
        cursor: Option<&str>,
    ) -> Result<Vec<Event>, StoreError> {
        let now = self.now();
        let at = millis(now)?;
        let mut tx = self.begin().await?;
        lock_user(&mut tx, user).await?;
        let mut written = Vec::new();
        let mut known_calendars = std::collections::HashSet::new();
        for op in ops {
            match op {
                PullOp::Create { id, draft, link: l } => {
                    if known_calendars.insert(draft.calendar_id()) {
                        check_calendar(&mut tx, user, draft.calendar_id()).await?;
                    }
                    check_series(&mut tx, user, id, &draft).await?;
                    let event = Event { id, draft, meta: EventMeta::created(at, origin) };
                    write_event(&mut tx, user, &event, true).await?;
                    append_change(&mut tx, user, &event, None, ChangeOp::Created, origin, now).await?;
                    put_event_link(&mut tx, &l, now).await?;
                    written.push(event);
                }
                PullOp::Update { draft, link: l } => {
                    let current = live_event(&mut tx, user, l.event_id).await?;
                    if current.draft != draft {
                        written.push(update_in(&mut tx, user, &current, draft, origin, now).await?);
                    }
                    put_event_link(&mut tx, &l, now).await?;
                }
                PullOp::Delete { event_id } => {
                    match live_event(&mut tx, user, event_id).await {
                        Ok(current) => written.push(delete_in(&mut tx, user, &current, origin, now).await?),
                        // Already gone here too (an exception deleted with its series).
                        Err(StoreError::Gone { .. } | StoreError::NotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                    drop_event_link(&mut tx, link, event_id).await?;
                }
                PullOp::Link { link: l } => put_event_link(&mut tx, &l, now).await?,
                PullOp::Unlink { event_id } => drop_event_link(&mut tx, link, event_id).await?,
                PullOp::Conflict { link: l, conflict } => {
                    put_event_link(&mut tx, &l, now).await?;
                    put_conflict(&mut tx, &l, &conflict, now).await?;
                }
                PullOp::Requeue { event_id } => {
                    let current = live_event(&mut tx, user, event_id).await?;
                    let draft = current.draft.clone();
                    written.push(update_in(&mut tx, user, &current, draft, Source::Local, now).await?);
                }
            }
        }
        if let Some(c) = cursor {
            sqlx::query(
                "UPDATE links SET cursor = $2, cursor_at = $3, listing_read = NULL, state = CASE WHEN state = 'importing' \
                 THEN 'active' ELSE state END, last_pull_at = $3, updated_at = $3 WHERE id = $1",
            )
            .bind(link.as_uuid())
            .bind(c)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(written)
    }

    async fn record_push(
        &self,
        link: LinkId,
        seq: Seq,
        event_link: Option<&EventLink>,
        unlink: Option<EventId>,
        conflict: Option<&NewConflict>,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        if let Some(l) = event_link {
            put_event_link(&mut tx, l, now).await?;
            if let Some(c) = conflict {
                put_conflict(&mut tx, l, c, now).await?;
            }
        }
        if let Some(e) = unlink {
            drop_event_link(&mut tx, link, e).await?;
        }
        sqlx::query(
            "UPDATE links SET checkpoint = CASE WHEN checkpoint < $2 THEN $2 ELSE checkpoint END, last_push_at = $3, \
             updated_at = $3 WHERE id = $1",
        )
        .bind(link.as_uuid())
        .bind(seq)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn open_conflicts(&self, link: LinkId) -> Result<Vec<(EventId, NewConflict)>, StoreError> {
        let rows = sqlx::query(
            "SELECT event_id, local, remote, fields, reason, remote_updated_at FROM conflicts WHERE link_id = $1 \
             AND resolved_at IS NULL \
             ORDER BY created_at",
        )
        .bind(link.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let event = EventId::from_uuid(row.try_get::<Uuid, _>("event_id")?);
                let content = |col: &str| -> Result<Option<Content>, StoreError> {
                    row.try_get::<Option<String>, _>(col)?
                        .map(|t| serde_json::from_str(&t).map_err(|e| corrupt("conflict", event, e)))
                        .transpose()
                };
                let fields: String = row.try_get("fields")?;
                Ok((
                    event,
                    NewConflict {
                        local: content("local")?,
                        remote: content("remote")?,
                        fields: serde_json::from_str(&fields).map_err(|e| corrupt("conflict", event, e))?,
                        reason: row.try_get("reason")?,
                        remote_updated_at: opt_millis(row.try_get("remote_updated_at")?)?,
                    },
                ))
            })
            .collect()
    }

    async fn list_conflicts(
        &self,
        user: UserId,
        filter: ConflictFilter,
        limit: u32,
    ) -> Result<Vec<ConflictRecord>, StoreError> {
        let sql = format!(
            "SELECT {CONFLICT_COLS} FROM conflicts c JOIN links l ON l.id = c.link_id WHERE c.user_id = $1 \
             AND ($2 IS NULL OR c.link_id = $2) AND ($3 IS NULL OR l.calendar_id = $3) \
             AND ($4 IS NULL OR c.event_id = $4) AND ($5 IS NULL OR (c.resolved_at IS NULL) = $5) \
             ORDER BY c.created_at DESC, c.id LIMIT $6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.as_uuid())
            .bind(filter.link.map(|l| l.as_uuid()))
            .bind(filter.calendar.map(|c| c.as_uuid()))
            .bind(filter.event.map(|e| e.as_uuid()))
            .bind(filter.open)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(conflict_from_row).collect()
    }

    async fn get_conflict(&self, user: UserId, id: ConflictId) -> Result<ConflictRecord, StoreError> {
        let sql = format!(
            "SELECT {CONFLICT_COLS} FROM conflicts c JOIN links l ON l.id = c.link_id WHERE c.id = $1 AND c.user_id = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound { what: "conflict", id: id.to_string() })?;
        conflict_from_row(&row)
    }

    async fn count_open_conflicts(&self, user: UserId) -> Result<i64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM conflicts WHERE user_id = $1 AND resolved_at IS NULL",
        )
        .bind(user.as_uuid())
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    async fn resolve_conflict(
        &self,
        user: UserId,
        id: ConflictId,
        revision: i64,
        local_version: Option<i64>,
        resolution: &Resolution,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        lock_user(&mut tx, user).await?;
        let sql = format!(
            "SELECT {CONFLICT_COLS} FROM conflicts c JOIN links l ON l.id = c.link_id WHERE c.id = $1 AND c.user_id = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound { what: "conflict", id: id.to_string() })?;
        let conflict = conflict_from_row(&row)?;
        let current = match fetch_event(&mut tx, user, conflict.event_id).await {
            Ok(e) => Some(e),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if !conflict.is_open()
            || conflict.revision != revision
            || current.as_ref().map(|e| e.meta.version) != local_version
        {
            return Err(StoreError::Stale { what: "conflict", id: id.to_string() });
        }
        apply_local_outcome(&mut tx, user, current, &resolution.local, resolution.origin, now).await?;
        match &resolution.link {
            Some(l) => put_event_link(&mut tx, l, now).await?,
            None => drop_event_link(&mut tx, conflict.link_id, conflict.event_id).await?,
        }
        if let Some(copy) = &resolution.copy {
            check_calendar(&mut tx, user, copy.draft.calendar_id()).await?;
            let event =
                Event { id: copy.id, draft: copy.draft.clone(), meta: EventMeta::created(millis(now)?, copy.source) };
            write_event(&mut tx, user, &event, true).await?;
            append_change(&mut tx, user, &event, None, ChangeOp::Created, copy.source, now).await?;
        }
        let local_seen = resolution.local_seen.as_ref().map(serde_json::to_string).transpose();
        let local_seen = local_seen.map_err(|e| corrupt("conflict", id, e))?;
        sqlx::query(
            "UPDATE conflicts SET resolved_at = $2, choice = $3, resolved_by = $4, updated_at = $2, local = $5 WHERE id = $1",
        )
        .bind(id.as_uuid())
        .bind(now)
        .bind(&resolution.choice)
        .bind(&resolution.by)
        .bind(local_seen)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_listing_progress(&self, link: LinkId, read: Option<i64>) -> Result<(), StoreError> {
        sqlx::query("UPDATE links SET listing_read = $2 WHERE id = $1")
            .bind(link.as_uuid())
            .bind(read)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_brake(&self, link: LinkId, brake: Option<&Brake>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE links SET brake = $2, brake_kind = $3, brake_bound = $4, brake_decision = NULL, \
             state = CASE WHEN $2 IS NULL THEN (CASE WHEN state = 'paused' THEN 'active' ELSE state END) ELSE 'paused' END, \
             updated_at = $5 WHERE id = $1",
        )
        .bind(link.as_uuid())
        .bind(brake.map(|b| b.reason.as_str()))
        .bind(brake.map(|b| b.kind.as_str()))
        .bind(brake.map(|b| b.bound))
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn decide_brake(&self, user: UserId, link: LinkId, decision: BrakeDecision) -> Result<(), StoreError> {
        let now = self.now();
        let done = sqlx::query(
            "UPDATE links SET brake_decision = $3, state = 'active', due_at = $4, marked_at = $4, updated_at = $4 \
             WHERE id = $1 AND user_id = $2 AND brake IS NOT NULL AND brake_kind <> 'conflict'",
        )
        .bind(link.as_uuid())
        .bind(user.as_uuid())
        .bind(decision.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        if sqlx_rows(&done) == 1 {
            return Ok(());
        }
        self.get_link(user, link).await?;
        Err(StoreError::Stale { what: "link", id: link.to_string() })
    }

    async fn update_link_settings(
        &self,
        user: UserId,
        link: LinkId,
        settings: &LinkSettings,
    ) -> Result<Link, StoreError> {
        sqlx::query(
            "UPDATE links SET policy = $3, pause_on_conflict = $4, max_deletions = $5, max_deletion_percent = $6, \
             updated_at = $7 WHERE id = $1 AND user_id = $2",
        )
        .bind(link.as_uuid())
        .bind(user.as_uuid())
        .bind(settings.policy.as_str())
        .bind(i64::from(settings.pause_on_conflict))
        .bind(settings.max_deletions)
        .bind(settings.max_deletion_percent)
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        self.get_link(user, link).await
    }

    async fn reset_cursor(&self, link: LinkId) -> Result<(), StoreError> {
        sqlx::query("UPDATE links SET cursor = NULL, cursor_at = NULL, updated_at = $2 WHERE id = $1")
            .bind(link.as_uuid())
            .bind(self.now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn claim_account(
        &self,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<Account>, StoreError> {
        let sql = format!(
            "UPDATE accounts SET lease_owner = $1, lease_until = $2 WHERE id = (\
             SELECT a.id FROM accounts a WHERE a.state = 'active' AND (a.lease_until IS NULL OR a.lease_until < $3) \
             AND EXISTS (SELECT 1 FROM links l WHERE l.account_id = a.id AND l.due_at <= $3 AND l.state <> 'paused') \
             ORDER BY a.lease_until NULLS FIRST, a.id LIMIT 1 {CLAIM_LOCK}) \
             AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING id, user_id, provider, remote_user, secret, state, last_error, created_at"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(until.as_millisecond())
            .bind(now.as_millisecond())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn claim_this_account(
        &self,
        account: AccountId,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE accounts SET lease_owner = $2, lease_until = $3 WHERE id = $1 AND (lease_until IS NULL OR lease_until < $4)",
        )
        .bind(account.as_uuid())
        .bind(owner)
        .bind(until.as_millisecond())
        .bind(now.as_millisecond())
        .execute(&self.pool)
        .await?;
        Ok(sqlx_rows(&done) == 1)
    }

    async fn renew_lease(&self, account: AccountId, owner: &str, until: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE accounts SET lease_until = $3 WHERE id = $1 AND lease_owner = $2")
            .bind(account.as_uuid())
            .bind(owner)
            .bind(until.as_millisecond())
            .execute(&self.pool)
            .await?;
        Ok(sqlx_rows(&done) == 1)
    }

    async fn release_account(&self, account: AccountId, owner: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2")
            .bind(account.as_uuid())
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn due_links(&self, account: AccountId, now: Timestamp) -> Result<Vec<Link>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            link_cols!(),
            " FROM links WHERE account_id = $1 AND due_at <= $2 AND state <> 'paused' ORDER BY due_at, id"
        ))
        .bind(account.as_uuid())
        .bind(now.as_millisecond())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_from_row).collect()
    }

    async fn mark_due(&self, link: LinkId, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE links SET due_at = CASE WHEN due_at > $2 THEN $2 ELSE due_at END, marked_at = $3 WHERE id = $1",
        )
        .bind(link.as_uuid())
        .bind(at.as_millisecond())
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_siblings_due(&self, link: LinkId, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE links SET due_at = CASE WHEN due_at > $2 THEN $2 ELSE due_at END, marked_at = $3 \
             WHERE calendar_id = (SELECT calendar_id FROM links WHERE id = $1) AND id <> $1",
        )
        .bind(link.as_uuid())
        .bind(at.as_millisecond())
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_user_due(&self, user: UserId, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE links SET due_at = CASE WHEN due_at > $2 THEN $2 ELSE due_at END, marked_at = $3 WHERE user_id = $1",
        )
        .bind(user.as_uuid())
        .bind(at.as_millisecond())
        .bind(self.now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn put_oauth_state(
        &self,
        state: &str,
        user: UserId,
        provider: Source,
        verifier: &[u8],
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let now = self.now();
        sqlx::query("DELETE FROM oauth_states WHERE expires_at < $1").bind(now).execute(&self.pool).await?;
        sqlx::query(
            "INSERT INTO oauth_states (state, user_id, provider, verifier, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(state)
        .bind(user.as_uuid())
        .bind(provider.as_str())
        .bind(verifier)
        .bind(now)
        .bind(expires_at.as_millisecond())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_oauth_state(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<Option<(UserId, Source, Vec<u8>)>, StoreError> {
        let row =
            sqlx::query("DELETE FROM oauth_states WHERE state = $1 RETURNING user_id, provider, verifier, expires_at")
                .bind(state)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        if row.try_get::<i64, _>("expires_at")? < now.as_millisecond() {
            return Ok(None);
        }
        Ok(Some((
            UserId::from_uuid(row.try_get::<Uuid, _>("user_id")?),
            source(row.try_get::<String, _>("provider")?.as_str())?,
            row.try_get("verifier")?,
        )))
    }

    async fn set_channel(&self, link: LinkId, channel: Option<&LinkChannel>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE links SET channel_id = $2, channel_token = $3, channel_resource_id = $4, channel_expires_at = $5, \
             last_message_number = NULL, updated_at = $6 WHERE id = $1",
        )
        .bind(link.as_uuid())
        .bind(channel.map(|c| c.id.clone()))
        .bind(channel.map(|c| c.token.clone()))
        .bind(channel.map(|c| c.resource_id.clone()))
        .bind(channel.map(|c| c.expires_at.as_millisecond()))
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn link_by_channel(&self, channel_id: &str) -> Result<Option<Link>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", link_cols!(), " FROM links WHERE channel_id = $1"))
            .bind(channel_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(link_from_row).transpose()
    }

    async fn accept_notification(&self, link: LinkId, channel_id: &str, number: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE links SET last_message_number = $3 WHERE id = $1 AND channel_id = $2 \
             AND (last_message_number IS NULL OR last_message_number < $3)",
        )
        .bind(link.as_uuid())
        .bind(channel_id)
        .bind(number)
        .execute(&self.pool)
        .await?;
        Ok(sqlx_rows(&done) == 1)
    }

    async fn record_link_run(
        &self,
        link: LinkId,
        pulled: bool,
        pushed: bool,
        error: Option<&str>,
        next_due: Timestamp,
        started_at: Timestamp,
    ) -> Result<(), StoreError> {
        let now = self.now();
        sqlx::query(
            "UPDATE links SET due_at = CASE WHEN marked_at IS NOT NULL AND marked_at >= $7 THEN $6 ELSE $2 END, \
             last_pull_at = CASE WHEN $3 THEN $7 ELSE last_pull_at END, \
             last_push_at = CASE WHEN $4 THEN $6 ELSE last_push_at END, \
             last_error = CASE WHEN $5 IS NULL THEN last_error ELSE $5 END, \
             last_error_at = CASE WHEN $5 IS NULL THEN last_error_at ELSE $6 END, \
             failures = CASE WHEN $5 IS NULL THEN 0 ELSE failures + 1 END, \
             state = CASE WHEN $5 IS NULL AND state = 'error' THEN 'active' ELSE state END, updated_at = $6 \
             WHERE id = $1",
        )
        .bind(link.as_uuid())
        .bind(next_due.as_millisecond())
        .bind(pulled)
        .bind(pushed)
        .bind(error)
        .bind(now)
        .bind(started_at.as_millisecond())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
