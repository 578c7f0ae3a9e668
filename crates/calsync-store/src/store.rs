use crate::StoreError;
use async_trait::async_trait;
use calsync_core::{
    Calendar, CalendarDraft, CalendarId, Change, Event, EventDraft, EventId, Seq, Source, UserId, Window,
};
use jiff::Timestamp;
use std::fmt;

/// A calsync user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub created_at: Timestamp,
}

/// The SHA-256 of an API token, hex-encoded. Tokens are 256-bit random values, so a fast
/// hash is enough: there is nothing to brute-force.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenHash(pub String);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(…)")
    }
}

/// An event to create.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Chosen by the caller so a retried create can be recognised (409, not a duplicate).
    pub id: EventId,
    pub draft: EventDraft,
    /// Where it was created.
    pub source: Source,
}

/// The event store.
///
/// Every event write appends a [`Change`] in the same transaction, numbered densely per
/// user; that log is both the apps' change feed and the sync outbox. Every method is scoped
/// to one user: ids of other users' rows behave exactly like ids that do not exist.
///
/// # Errors
/// Every method returns [`StoreError`]: `NotFound`/`Gone` for missing or deleted rows,
/// `VersionMismatch` for a stale `expected` version, `Invalid` for references that do not
/// resolve, `Database` for the database itself (see [`StoreError::is_transient`]).
///
/// # Cancel safety
/// Writes run in one transaction each; a future dropped mid-way rolls back. Nothing is half
/// written.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// One round trip to the database.
    async fn ping(&self) -> Result<(), StoreError>;

    async fn create_user(&self, name: &str, token: &TokenHash) -> Result<User, StoreError>;
    async fn user_by_token(&self, token: &TokenHash) -> Result<Option<User>, StoreError>;
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    async fn create_calendar(
        &self,
        user: UserId,
        id: CalendarId,
        draft: &CalendarDraft,
    ) -> Result<Calendar, StoreError>;
    async fn list_calendars(&self, user: UserId) -> Result<Vec<Calendar>, StoreError>;
    async fn get_calendar(&self, user: UserId, id: CalendarId) -> Result<Calendar, StoreError>;
    async fn update_calendar(
        &self,
        user: UserId,
        id: CalendarId,
        draft: &CalendarDraft,
        expected: Option<i64>,
    ) -> Result<Calendar, StoreError>;
    /// Deletes the calendar and tombstones its events (each with a change row).
    /// Returns how many events were deleted.
    async fn delete_calendar(
        &self,
        user: UserId,
        id: CalendarId,
        expected: Option<i64>,
        origin: Source,
    ) -> Result<u64, StoreError>;

    /// Creates events in one transaction: all or none.
    async fn create_events(&self, user: UserId, events: Vec<NewEvent>) -> Result<Vec<Event>, StoreError>;
    /// An event, including a deleted one (a tombstone).
    async fn get_event(&self, user: UserId, id: EventId) -> Result<Event, StoreError>;
    /// The live exception of `series` replacing its occurrence at `original`, if any.
    async fn live_exception(
        &self,
        user: UserId,
        series: EventId,
        original: &calsync_core::EventTime,
    ) -> Result<Option<Event>, StoreError>;
    /// Replaces an event's content. A draft equal to the stored one changes nothing (no new
    /// version, no change row), so replays and echoes are free.
    async fn update_event(
        &self,
        user: UserId,
        id: EventId,
        draft: EventDraft,
        expected: Option<i64>,
        origin: Source,
    ) -> Result<Event, StoreError>;
    /// Deleted events of a calendar whose deletion is not older than `since`, newest first,
    /// at most `limit` (the trash).
    async fn trash(
        &self,
        user: UserId,
        calendar: CalendarId,
        since: jiff::Timestamp,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError>;
    /// Brings a deleted event back (a new version, announced as created), with the
    /// exceptions of a series that were deleted together with it.
    async fn restore_event(&self, user: UserId, id: EventId, origin: Source) -> Result<Event, StoreError>;
    /// Tombstones an event (and, for a series, its exceptions).
    async fn delete_event(
        &self,
        user: UserId,
        id: EventId,
        expected: Option<i64>,
        origin: Source,
    ) -> Result<Event, StoreError>;
    /// Live events of a calendar that may have an occurrence in `window`: singles and
    /// exceptions overlapping it, series whose span overlaps it, and every exception of those
    /// series (so moved-away occurrences can be suppressed).
    async fn events_in_window(
        &self,
        user: UserId,
        calendar: CalendarId,
        window: Window,
    ) -> Result<Vec<Event>, StoreError>;

    /// Changes with `seq > after`, oldest first, at most `limit`.
    async fn changes_after(&self, user: UserId, after: Seq, limit: u32) -> Result<Vec<Change>, StoreError>;
    /// One event's changes, oldest first, at most `limit` (the newest when there are more).
    async fn event_changes(&self, user: UserId, event: EventId, limit: u32) -> Result<Vec<Change>, StoreError>;
    /// The newest change number of the user (0 before the first change).
    async fn last_seq(&self, user: UserId) -> Result<Seq, StoreError>;
    /// Rows in the change log/outbox, over all users.
    async fn outbox_depth(&self) -> Result<i64, StoreError>;
}
