//! calsync's storage: one [`Store`] trait, two implementations (SQLite, the embedded
//! default, and PostgreSQL, for several processes sharing the work), each with its own
//! migrations applied on open. The trait speaks domain types; no SQL leaks out.

/// The rows that may have an occurrence in a window (see `Store::events_in_window`):
/// short events by a bounded range on their start, wide rows (series, long events) by their
/// span, and every exception of the series found. Binds: $1 calendar, $2 window end,
/// $3 window start minus the narrow span limit, $4 window start, $5 user.
/// Each backend wraps it to aggregate the rows into one JSON value.
macro_rules! window_rows {
    () => {
        concat!(
            "SELECT id, body, created_at, updated_at, source, updated_at_source, version, deleted_at FROM events ",
            "WHERE calendar_id = $1 AND wide = 0 AND deleted_at IS NULL ",
            "AND span_start < $2 AND span_start > $3 AND span_end > $4 AND user_id = $5 ",
            "UNION ALL SELECT id, body, created_at, updated_at, source, updated_at_source, version, deleted_at FROM events ",
            "WHERE calendar_id = $1 AND wide = 1 AND deleted_at IS NULL AND span_start < $2 AND span_end > $4 AND user_id = $5 ",
            "UNION ALL SELECT id, body, created_at, updated_at, source, updated_at_source, version, deleted_at FROM events ",
            "WHERE deleted_at IS NULL AND series_id IN (SELECT id FROM events WHERE calendar_id = $1 AND wide = 1 ",
            "AND deleted_at IS NULL AND span_start < $2 AND span_end > $4 AND user_id = $5)"
        )
    };
}

mod error;
pub mod postgres;
pub mod sqlite;
mod store;
pub mod sync;
mod url;

pub use error::StoreError;
pub use store::{NewEvent, Store, TokenHash, User};
pub use sync::{
    Account, AccountState, Brake, BrakeDecision, BrakeKind, ConflictFilter, ConflictPolicy, ConflictRecord, EventLink,
    EventLinkState, Link, LinkChannel, LinkSettings, LinkState, LocalOutcome, NewConflict, PullOp, Resolution,
    SyncStore,
};
pub use url::{DatabaseUrl, open};

#[cfg(feature = "testing")]
pub mod testing;
