//! The SQL store, written once and compiled for each backend: `sqlite.rs` and `postgres.rs`
//! include this file as a module and provide `Db`, `BEGIN_WRITE`, `BACKEND` and `MIGRATOR`.
//! The SQL is the portable subset both speak (`$n` placeholders, `RETURNING`, partial
//! indexes); anything that must differ lives in the backend file. The conformance suite in
//! `tests/` runs against both to prove they agree.

use super::{BACKEND, BEGIN_WRITE, CLAIM_LOCK, Db, MIGRATOR, WINDOW_SQL};
use crate::{NewEvent, Store, StoreError, TokenHash, User};
use async_trait::async_trait;
use calsync_core::{
    Calendar, CalendarDraft, CalendarId, CalendarInput, Change, ChangeOp, Clock, Event, EventDraft, EventId,
    EventInput, EventMeta, Seq, Source, UserId, Violations, Window,
};
use jiff::Timestamp;
use sqlx::Row;
use std::sync::Arc;
use uuid::Uuid;

type Tx = sqlx::Transaction<'static, Db>;
type DbRow = <Db as sqlx::Database>::Row;

/// Rows whose span is longer than this (and every series) are "wide" and searched apart
/// from the short ones, so a window query on short events is a bounded index range.
const NARROW_SPAN_MS: i64 = 33 * 86_400_000;

macro_rules! event_cols {
    () => {
        "id, calendar_id, body, created_at, updated_at, source, updated_at_source, version, deleted_at"
    };
}
macro_rules! calendar_cols {
    () => {
        "id, user_id, name, color, time_zone, created_at, updated_at, version"
    };
}

/// The store over one connection pool.
#[derive(Debug)]
pub struct SqlStore {
    pool: sqlx::Pool<Db>,
    clock: Arc<dyn Clock>,
}

impl SqlStore {
    /// Wraps a pool and brings the schema up to date.
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn new(pool: sqlx::Pool<Db>, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, clock })
    }

    pub fn pool(&self) -> &sqlx::Pool<Db> {
        &self.pool
    }

    async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(self.pool.begin_with(BEGIN_WRITE).await?)
    }

    /// Starts a write to a live event: takes the user's lock, reads the event, and checks it
    /// is not deleted and still at the `expected` version.
    async fn begin_event_write(
        &self,
        user: UserId,
        id: EventId,
        expected: Option<i64>,
    ) -> Result<(Tx, Event), StoreError> {
        let mut tx = self.begin().await?;
        lock_user(&mut tx, user).await?;
        let current = fetch_event(&mut tx, user, id).await?;
        if current.is_deleted() {
            return Err(StoreError::Gone { what: "event", id: id.to_string() });
        }
        check_version(expected, current.meta.version)?;
        Ok((tx, current))
    }

    fn now(&self) -> i64 {
        self.clock.now().as_millisecond()
    }
}

fn millis(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt {
        what: "timestamp",
        id: ms.to_string(),
        detail: e.to_string(),
    })
}

fn source(s: &str) -> Result<Source, StoreError> {
    s.parse().map_err(|e: calsync_core::source::UnknownSource| StoreError::Corrupt {
        what: "source",
        id: s.to_owned(),
        detail: e.to_string(),
    })
}

fn event_from_row(row: &DbRow) -> Result<Event, StoreError> {
    let id = EventId::from_uuid(row.try_get::<Uuid, _>("id")?);
    let corrupt = |detail: String| StoreError::Corrupt { what: "event", id: id.to_string(), detail };
    let body: String = row.try_get("body")?;
    let input: EventInput = serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?;
    let draft = EventDraft::parse(input).map_err(|e| corrupt(e.to_string()))?;
    Ok(Event {
        id,
        draft,
        meta: EventMeta {
            created_at: millis(row.try_get("created_at")?)?,
            updated_at: millis(row.try_get("updated_at")?)?,
            source: source(row.try_get::<String, _>("source")?.as_str())?,
            updated_at_source: source(row.try_get::<String, _>("updated_at_source")?.as_str())?,
            version: row.try_get("version")?,
            deleted_at: row.try_get::<Option<i64>, _>("deleted_at")?.map(millis).transpose()?,
        },
    })
}

/// One event as the window query's JSON has it:
/// `[id, body, created_at, updated_at, source, updated_at_source, version, deleted_at]`.
#[derive(serde::Deserialize)]
struct WindowRow(String, EventInput, i64, i64, String, String, i64, Option<i64>);

impl WindowRow {
    fn into_event(self) -> Result<Event, StoreError> {
        let WindowRow(id, input, created_at, updated_at, src, updated_src, version, deleted_at) = self;
        let corrupt = |detail: String| StoreError::Corrupt { what: "event", id: id.clone(), detail };
        let id = EventId::from_uuid(Uuid::parse_str(&id).map_err(|e| corrupt(e.to_string()))?);
        Ok(Event {
            id,
            draft: EventDraft::parse(input).map_err(|e| corrupt(e.to_string()))?,
            meta: EventMeta {
                created_at: millis(created_at)?,
                updated_at: millis(updated_at)?,
                source: source(&src)?,
                updated_at_source: source(&updated_src)?,
                version,
                deleted_at: deleted_at.map(millis).transpose()?,
            },
        })
    }
}

fn calendar_from_row(row: &DbRow) -> Result<Calendar, StoreError> {
    let id = CalendarId::from_uuid(row.try_get::<Uuid, _>("id")?);
    let draft = CalendarDraft::parse(CalendarInput {
        name: row.try_get("name")?,
        color: row.try_get("color")?,
        time_zone: Some(row.try_get("time_zone")?),
    })
    .map_err(|e| StoreError::Corrupt { what: "calendar", id: id.to_string(), detail: e.to_string() })?;
    Ok(Calendar {
        id,
        user_id: UserId::from_uuid(row.try_get::<Uuid, _>("user_id")?),
        draft,
        created_at: millis(row.try_get("created_at")?)?,
        updated_at: millis(row.try_get("updated_at")?)?,
        version: row.try_get("version")?,
    })
}

fn user_from_row(row: &DbRow) -> Result<User, StoreError> {
    Ok(User {
        id: UserId::from_uuid(row.try_get::<Uuid, _>("id")?),
        name: row.try_get("name")?,
        created_at: millis(row.try_get("created_at")?)?,
    })
}

fn change_from_row(row: &DbRow) -> Result<Change, StoreError> {
    let op: String = row.try_get("op")?;
    Ok(Change {
        seq: row.try_get("seq")?,
        event_id: EventId::from_uuid(row.try_get::<Uuid, _>("event_id")?),
        calendar_id: CalendarId::from_uuid(row.try_get::<Uuid, _>("calendar_id")?),
        previous_calendar_id: row.try_get::<Option<Uuid>, _>("previous_calendar_id")?.map(CalendarId::from_uuid),
        op: ChangeOp::parse(&op).ok_or_else(|| StoreError::Corrupt {
            what: "change op",
            id: op.clone(),
            detail: "unknown".into(),
        })?,
        version: row.try_get("version")?,
        origin: source(row.try_get::<String, _>("origin")?.as_str())?,
        at: millis(row.try_get("at")?)?,
    })
}

fn body(draft: &EventDraft) -> Result<String, StoreError> {
    serde_json::to_string(&draft.to_input()).map_err(|e| StoreError::Corrupt {
        what: "event body",
        id: String::new(),
        detail: e.to_string(),
    })
}

/// Takes the user's row lock for the rest of the transaction. On PostgreSQL this serialises
/// a user's writes, so change numbers are handed out in commit order; SQLite already has a
/// single writer (`BEGIN IMMEDIATE`).
async fn lock_user(tx: &mut Tx, user: UserId) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE users SET change_seq = change_seq WHERE id = $1")
        .bind(user.as_uuid())
        .execute(&mut **tx)
        .await?;
    if sqlx_rows(&done) == 0 {
        return Err(StoreError::NotFound { what: "user", id: user.to_string() });
    }
    Ok(())
}

fn sqlx_rows(r: &<Db as sqlx::Database>::QueryResult) -> u64 {
    r.rows_affected()
}

/// Reserves `n` consecutive change numbers for the user and returns the first.
async fn take_seqs(tx: &mut Tx, user: UserId, n: i64) -> Result<Seq, StoreError> {
    let last: Option<i64> =
        sqlx::query_scalar("UPDATE users SET change_seq = change_seq + $2 WHERE id = $1 RETURNING change_seq")
            .bind(user.as_uuid())
            .bind(n)
            .fetch_optional(&mut **tx)
            .await?;
    let last = last.ok_or_else(|| StoreError::NotFound { what: "user", id: user.to_string() })?;
    Ok(last - n + 1)
}

/// Appends one change row, numbered next in the user's log.
async fn append_change(
    tx: &mut Tx,
    user: UserId,
    event: &Event,
    previous_calendar: Option<CalendarId>,
    op: ChangeOp,
    origin: Source,
    at: i64,
) -> Result<Seq, StoreError> {
    let seq = take_seqs(tx, user, 1).await?;
    insert_change(tx, user, seq, event, previous_calendar, op, origin, at).await?;
    Ok(seq)
}

#[allow(clippy::too_many_arguments)]
async fn insert_change(
    tx: &mut Tx,
    user: UserId,
    seq: Seq,
    event: &Event,
    previous_calendar: Option<CalendarId>,
    op: ChangeOp,
    origin: Source,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO changes (user_id, seq, event_id, calendar_id, previous_calendar_id, op, version, origin, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(user.as_uuid())
    .bind(seq)
    .bind(event.id.as_uuid())
    .bind(event.draft.calendar_id().as_uuid())
    .bind(previous_calendar.map(|c| c.as_uuid()))
    .bind(op.as_str())
    .bind(event.meta.version)
    .bind(origin.as_str())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An event of the user, tombstones included, read on `conn` (a transaction's or the pool's).
async fn fetch_event(
    conn: &mut <Db as sqlx::Database>::Connection,
    user: UserId,
    id: EventId,
) -> Result<Event, StoreError> {
    let row = sqlx::query(concat!("SELECT ", event_cols!(), " FROM events WHERE id = $1 AND user_id = $2"))
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound { what: "event", id: id.to_string() })?;
    event_from_row(&row)
}

/// What the model cannot check alone: the calendar is one of the user's, and an exception's
/// series is a live series of the same user and calendar.
async fn check_references(tx: &mut Tx, user: UserId, id: EventId, draft: &EventDraft) -> Result<(), StoreError> {
    check_calendar(tx, user, draft.calendar_id()).await?;
    check_series(tx, user, id, draft).await
}

async fn check_calendar(tx: &mut Tx, user: UserId, calendar: CalendarId) -> Result<(), StoreError> {
    let found = sqlx::query("SELECT 1 FROM calendars WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL")
        .bind(calendar.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&mut **tx)
        .await?;
    if found.is_none() {
        return Err(StoreError::Invalid(Violations::one(
            "calendar_id",
            "exists",
            format!("there is no calendar {calendar} (create it first, or check the id)"),
        )));
    }
    Ok(())
}

async fn check_series(tx: &mut Tx, user: UserId, id: EventId, draft: &EventDraft) -> Result<(), StoreError> {
    if let Some(link) = draft.series() {
        let invalid = |msg: String| StoreError::Invalid(Violations::one("recurring_event_id", "series", msg));
        if link.series_id == id {
            return Err(invalid("an event cannot be an exception of itself".into()));
        }
        let series = match fetch_event(tx, user, link.series_id).await {
            Ok(e) => e,
            Err(StoreError::NotFound { .. }) => return Err(invalid(format!("there is no event {}", link.series_id))),
            Err(e) => return Err(e),
        };
        if series.is_deleted() {
            return Err(invalid(format!("series {} was deleted", link.series_id)));
        }
        if !series.draft.is_series() || series.draft.series().is_some() {
            return Err(invalid(format!("event {} is not a recurring series", link.series_id)));
        }
        if series.draft.calendar_id() != draft.calendar_id() {
            return Err(invalid(format!(
                "series {} is in another calendar; an exception lives in its series' calendar",
                link.series_id
            )));
        }
        if series.draft.schedule().is_all_day() != link.original_start.is_all_day() {
            return Err(StoreError::Invalid(Violations::one(
                "original_start",
                "same_kind",
                "must be a date for an all-day series and a date-time for a timed one",
            )));
        }
    }
    Ok(())
}

/// Writes an event row (insert or update) from its draft and metadata.
async fn write_event(tx: &mut Tx, user: UserId, event: &Event, insert: bool) -> Result<(), StoreError> {
    let (span_start, span_end) = event.draft.span_millis();
    let wide = i64::from(event.draft.is_series() || span_end.saturating_sub(span_start) > NARROW_SPAN_MS);
    let series = event.draft.series();
    let sql = if insert {
        "INSERT INTO events (calendar_id, series_id, original_key, span_start, span_end, wide, body, updated_at, \
         updated_at_source, version, deleted_at, id, user_id, created_at, source) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    } else {
        "UPDATE events SET calendar_id = $1, series_id = $2, original_key = $3, span_start = $4, span_end = $5, \
         wide = $6, body = $7, updated_at = $8, updated_at_source = $9, version = $10, deleted_at = $11 \
         WHERE id = $12 AND user_id = $13"
    };
    let mut q = sqlx::query(sql)
        .bind(event.draft.calendar_id().as_uuid())
        .bind(series.map(|s| s.series_id.as_uuid()))
        .bind(series.map(|s| s.original_start.compact()))
        .bind(span_start)
        .bind(span_end)
        .bind(wide)
        .bind(body(&event.draft)?)
        .bind(event.meta.updated_at.as_millisecond())
        .bind(event.meta.updated_at_source.as_str())
        .bind(event.meta.version)
        .bind(event.meta.deleted_at.map(|t| t.as_millisecond()))
        .bind(event.id.as_uuid())
        .bind(user.as_uuid());
    if insert {
        q = q.bind(event.meta.created_at.as_millisecond()).bind(event.meta.source.as_str());
    }
    match q.execute(&mut **tx).await {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            // The transaction is unusable after the error (PostgreSQL), so tell the two unique
            // constraints apart by name (PostgreSQL) or by the columns named (SQLite).
            let id_taken = e.constraint().map_or_else(|| e.message().contains("events.id"), |c| c == "events_pkey");
            if insert && id_taken {
                return Err(StoreError::AlreadyExists { what: "event", id: event.id.to_string() });
            }
            let (series_id, key) =
                series.map(|s| (s.series_id.to_string(), s.original_start.compact())).unwrap_or_default();
            Err(StoreError::AlreadyExists {
                what: "exception for occurrence",
                id: format!("{key} of series {series_id}"),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// The next state of a stored event after a change from `origin`.
fn bumped(event: &Event, draft: EventDraft, origin: Source, now: i64, deleted: bool) -> Result<Event, StoreError> {
    Ok(Event {
        id: event.id,
        draft,
        meta: EventMeta {
            updated_at: millis(now)?,
            updated_at_source: origin,
            version: event.meta.version + 1,
            deleted_at: if deleted { Some(millis(now)?) } else { None },
            ..event.meta.clone()
        },
    })
}

async fn live_exceptions(tx: &mut Tx, user: UserId, series: EventId) -> Result<Vec<Event>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        event_cols!(),
        " FROM events WHERE series_id = $1 AND user_id = $2 AND deleted_at IS NULL ORDER BY id"
    ))
    .bind(series.as_uuid())
    .bind(user.as_uuid())
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(event_from_row).collect()
}

async fn tombstone(tx: &mut Tx, user: UserId, event: &Event, origin: Source, now: i64) -> Result<Event, StoreError> {
    let dead = bumped(event, event.draft.clone(), origin, now, true)?;
    write_event(tx, user, &dead, false).await?;
    append_change(tx, user, &dead, None, ChangeOp::Deleted, origin, now).await?;
    Ok(dead)
}

fn check_version(expected: Option<i64>, current: i64) -> Result<(), StoreError> {
    match expected {
        Some(expected) if expected != current => Err(StoreError::VersionMismatch { expected, current }),
        _ => Ok(()),
    }
}

/// Replaces a live event's content inside `tx` (the caller holds the user's lock and checked
/// the version): exceptions follow their series, one change row per written event.
async fn update_in(
    tx: &mut Tx,
    user: UserId,
    current: &Event,
    draft: EventDraft,
    origin: Source,
    now: i64,
) -> Result<Event, StoreError> {
    let id = current.id;
    check_references(tx, user, id, &draft).await?;
    if current.draft.is_series() && current.draft.series().is_none() {
        // Exceptions follow their series: gone when it stops being one or no longer has
        // the occurrence they replace (its start or rules changed), moved when it moves.
        let rules_changed =
            current.draft.schedule() != draft.schedule() || current.draft.recurrence() != draft.recurrence();
        for ex in live_exceptions(tx, user, id).await? {
            let orphaned = rules_changed
                && ex
                    .draft
                    .series()
                    .is_some_and(|link| !calsync_core::series::has_occurrence(&draft, &link.original_start));
            if !draft.is_series() || orphaned {
                tombstone(tx, user, &ex, origin, now).await?;
            } else if ex.draft.calendar_id() != draft.calendar_id() {
                let mut input = ex.draft.to_input();
                input.calendar_id = draft.calendar_id();
                let moved_draft = EventDraft::parse(input).map_err(StoreError::Invalid)?;
                let moved = bumped(&ex, moved_draft, origin, now, false)?;
                write_event(tx, user, &moved, false).await?;
                append_change(tx, user, &moved, Some(ex.draft.calendar_id()), ChangeOp::Updated, origin, now).await?;
            }
        }
    }
    let previous_calendar = (current.draft.calendar_id() != draft.calendar_id()).then(|| current.draft.calendar_id());
    let next = bumped(current, draft, origin, now, false)?;
    write_event(tx, user, &next, false).await?;
    append_change(tx, user, &next, previous_calendar, ChangeOp::Updated, origin, now).await?;
    Ok(next)
}

/// Tombstones a live event (and a series' exceptions) inside `tx`.
async fn delete_in(tx: &mut Tx, user: UserId, current: &Event, origin: Source, now: i64) -> Result<Event, StoreError> {
    if current.draft.is_series() {
        for ex in live_exceptions(tx, user, current.id).await? {
            tombstone(tx, user, &ex, origin, now).await?;
        }
    }
    tombstone(tx, user, current, origin, now).await
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_user(&self, name: &str, token: &TokenHash) -> Result<User, StoreError> {
        let user = User { id: UserId::new(), name: name.to_owned(), created_at: millis(self.now())? };
        sqlx::query("INSERT INTO users (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(user.id.as_uuid())
            .bind(&user.name)
            .bind(&token.0)
            .bind(user.created_at.as_millisecond())
            .execute(&self.pool)
            .await?;
        Ok(user)
    }

    async fn user_by_token(&self, token: &TokenHash) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM users WHERE token_hash = $1")
            .bind(&token.0)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query("SELECT id, name, created_at FROM users ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn create_calendar(
        &self,
        user: UserId,
        id: CalendarId,
        draft: &CalendarDraft,
    ) -> Result<Calendar, StoreError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        lock_user(&mut tx, user).await?;
        let exists =
            sqlx::query("SELECT 1 FROM calendars WHERE id = $1").bind(id.as_uuid()).fetch_optional(&mut *tx).await?;
        if exists.is_some() {
            return Err(StoreError::AlreadyExists { what: "calendar", id: id.to_string() });
        }
        sqlx::query(
            "INSERT INTO calendars (id, user_id, name, color, time_zone, created_at, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, 1)",
        )
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .bind(&draft.name)
        .bind(draft.color.as_deref())
        .bind(draft.time_zone.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Calendar {
            id,
            user_id: user,
            draft: draft.clone(),
            created_at: millis(now)?,
            updated_at: millis(now)?,
            version: 1,
        })
    }

    async fn list_calendars(&self, user: UserId) -> Result<Vec<Calendar>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            calendar_cols!(),
            " FROM calendars WHERE user_id = $1 AND deleted_at IS NULL ORDER BY id"
        ))
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(calendar_from_row).collect()
    }

    async fn get_calendar(&self, user: UserId, id: CalendarId) -> Result<Calendar, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            calendar_cols!(),
            " FROM calendars WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL"
        ))
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound { what: "calendar", id: id.to_string() })?;
        calendar_from_row(&row)
    }

    async fn update_calendar(
        &self,
        user: UserId,
        id: CalendarId,
        draft: &CalendarDraft,
        expected: Option<i64>,
    ) -> Result<Calendar, StoreError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        lock_user(&mut tx, user).await?;
        let current = sqlx::query(concat!(
            "SELECT ",
            calendar_cols!(),
            " FROM calendars WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL"
        ))
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound { what: "calendar", id: id.to_string() })?;
        let current = calendar_from_row(&current)?;
        check_version(expected, current.version)?;
        if current.draft == *draft {
            return Ok(current);
        }
        sqlx::query("UPDATE calendars SET name = $1, color = $2, time_zone = $3, updated_at = $4, version = version + 1 WHERE id = $5")
            .bind(&draft.name)
            .bind(draft.color.as_deref())
            .bind(draft.time_zone.as_str())
            .bind(now)
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Calendar { draft: draft.clone(), updated_at: millis(now)?, version: current.version + 1, ..current })
    }

    async fn delete_calendar(
        &self,
        user: UserId,
        id: CalendarId,
        expected: Option<i64>,
        origin: Source,
    ) -> Result<u64, StoreError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        lock_user(&mut tx, user).await?;
        let version: Option<i64> =
            sqlx::query_scalar("SELECT version FROM calendars WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL")
                .bind(id.as_uuid())
                .bind(user.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
        let version = version.ok_or_else(|| StoreError::NotFound { what: "calendar", id: id.to_string() })?;
        check_version(expected, version)?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_cols!(),
            " FROM events WHERE calendar_id = $1 AND user_id = $2 AND deleted_at IS NULL ORDER BY id"
        ))
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .fetch_all(&mut *tx)
        .await?;
        let events: Vec<Event> = rows.iter().map(event_from_row).collect::<Result<_, _>>()?;
        for event in &events {
            tombstone(&mut tx, user, event, origin, now).await?;
        }
        sqlx::query("UPDATE calendars SET deleted_at = $1, updated_at = $1, version = version + 1 WHERE id = $2")
            .bind(now)
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(events.len() as u64)
    }

    async fn create_events(&self, user: UserId, events: Vec<NewEvent>) -> Result<Vec<Event>, StoreError> {
        let now = self.now();
        let at = millis(now)?;
        let mut tx = self.begin().await?;
        // One lock and one reservation of change numbers for the whole batch.
        let mut seq = take_seqs(&mut tx, user, events.len() as i64).await?;
        let mut known_calendars = std::collections::HashSet::new();
        let mut created = Vec::with_capacity(events.len());
        for new in events {
            if known_calendars.insert(new.draft.calendar_id()) {
                check_calendar(&mut tx, user, new.draft.calendar_id()).await?;
            }
            check_series(&mut tx, user, new.id, &new.draft).await?;
            let event = Event { id: new.id, draft: new.draft, meta: EventMeta::created(at, new.source) };
            // A reused id fails the primary key, reported as AlreadyExists (never a duplicate).
            write_event(&mut tx, user, &event, true).await?;
            insert_change(&mut tx, user, seq, &event, None, ChangeOp::Created, new.source, now).await?;
            seq += 1;
            created.push(event);
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn get_event(&self, user: UserId, id: EventId) -> Result<Event, StoreError> {
        let mut conn = self.pool.acquire().await?;
        fetch_event(&mut conn, user, id).await
    }

    async fn live_exception(
        &self,
        user: UserId,
        series: EventId,
        original: &calsync_core::EventTime,
    ) -> Result<Option<Event>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            event_cols!(),
            " FROM events WHERE user_id = $1 AND series_id = $2 AND original_key = $3 AND deleted_at IS NULL"
        ))
        .bind(user.as_uuid())
        .bind(series.as_uuid())
        .bind(original.compact())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn update_event(
        &self,
        user: UserId,
        id: EventId,
        draft: EventDraft,
        expected: Option<i64>,
        origin: Source,
    ) -> Result<Event, StoreError> {
        let now = self.now();
        let (mut tx, current) = self.begin_event_write(user, id, expected).await?;
        if current.draft == draft {
            return Ok(current);
        }
        let next = update_in(&mut tx, user, &current, draft, origin, now).await?;
        tx.commit().await?;
        Ok(next)
    }

    async fn delete_event(
        &self,
        user: UserId,
        id: EventId,
        expected: Option<i64>,
        origin: Source,
    ) -> Result<Event, StoreError> {
        let now = self.now();
        let (mut tx, current) = self.begin_event_write(user, id, expected).await?;
        let dead = delete_in(&mut tx, user, &current, origin, now).await?;
        tx.commit().await?;
        Ok(dead)
    }

    async fn trash(
        &self,
        user: UserId,
        calendar: CalendarId,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        self.get_calendar(user, calendar).await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_cols!(),
            " FROM events WHERE user_id = $1 AND calendar_id = $2 AND deleted_at IS NOT NULL AND deleted_at >= $3 \
             ORDER BY deleted_at DESC, id LIMIT $4"
        ))
        .bind(user.as_uuid())
        .bind(calendar.as_uuid())
        .bind(since.as_millisecond())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn restore_event(&self, user: UserId, id: EventId, origin: Source) -> Result<Event, StoreError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        lock_user(&mut tx, user).await?;
        let dead = fetch_event(&mut tx, user, id).await?;
        let Some(deleted_at) = dead.meta.deleted_at else {
            return Err(StoreError::AlreadyExists { what: "live event", id: id.to_string() });
        };
        check_references(&mut tx, user, id, &dead.draft).await?;
        let alive = bumped(&dead, dead.draft.clone(), origin, now, false)?;
        write_event(&mut tx, user, &alive, false).await?;
        append_change(&mut tx, user, &alive, None, ChangeOp::Created, origin, now).await?;
        if dead.draft.is_series() {
            let rows = sqlx::query(concat!(
                "SELECT ",
                event_cols!(),
                " FROM events WHERE series_id = $1 AND user_id = $2 AND deleted_at = $3 ORDER BY id"
            ))
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .bind(deleted_at.as_millisecond())
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                let ex = event_from_row(row)?;
                let back = bumped(&ex, ex.draft.clone(), origin, now, false)?;
                write_event(&mut tx, user, &back, false).await?;
                append_change(&mut tx, user, &back, None, ChangeOp::Created, origin, now).await?;
            }
        }
        tx.commit().await?;
        Ok(alive)
    }

    async fn events_in_window(
        &self,
        user: UserId,
        calendar: CalendarId,
        window: Window,
    ) -> Result<Vec<Event>, StoreError> {
        let (start, end) = (window.start.as_millisecond(), window.end.as_millisecond());
        // One row holding every match as JSON (WINDOW_SQL, per backend): handing rows over one
        // by one cost more than the query itself in sqlx's SQLite driver.
        let rows: Option<String> = sqlx::query_scalar(WINDOW_SQL)
            .bind(calendar.as_uuid())
            .bind(end)
            .bind(start.saturating_sub(NARROW_SPAN_MS))
            .bind(start)
            .bind(user.as_uuid())
            .fetch_one(&self.pool)
            .await?;
        let rows: Vec<WindowRow> = serde_json::from_str(rows.as_deref().unwrap_or("[]")).map_err(|e| {
            StoreError::Corrupt { what: "event window", id: calendar.to_string(), detail: e.to_string() }
        })?;
        let mut seen = std::collections::HashSet::with_capacity(rows.len());
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let event = row.into_event()?;
            if seen.insert(event.id) {
                events.push(event);
            }
        }
        Ok(events)
    }

    async fn changes_after(&self, user: UserId, after: Seq, limit: u32) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, event_id, calendar_id, previous_calendar_id, op, version, origin, at FROM changes \
             WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(user.as_uuid())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(change_from_row).collect()
    }

    async fn event_changes(&self, user: UserId, event: EventId, limit: u32) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, event_id, calendar_id, previous_calendar_id, op, version, origin, at FROM changes \
             WHERE user_id = $1 AND event_id = $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(user.as_uuid())
        .bind(event.as_uuid())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut changes = rows.iter().map(change_from_row).collect::<Result<Vec<_>, _>>()?;
        changes.reverse();
        Ok(changes)
    }

    async fn outbox_depth(&self) -> Result<i64, StoreError> {
        // Change numbers are dense per user, so their sum counts the rows without a table scan.
        Ok(sqlx::query_scalar("SELECT CAST(COALESCE(SUM(change_seq), 0) AS BIGINT) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn last_seq(&self, user: UserId) -> Result<Seq, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT change_seq FROM users WHERE id = $1")
            .bind(user.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
        seq.ok_or_else(|| StoreError::NotFound { what: "user", id: user.to_string() })
    }
}

#[path = "sync.rs"]
#[allow(clippy::duplicate_mod, reason = "compiled once per backend, like this file")]
mod sync_sql;
