use calsync_core::Violations;

/// What went wrong in the store, in terms the API can map to a response and the engine can
/// act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("{what} {id} was deleted")]
    Gone { what: &'static str, id: String },
    #[error("{what} {id} already exists")]
    AlreadyExists { what: &'static str, id: String },
    /// A conditional write named a version that is no longer current.
    #[error("version {expected} is not current; the current version is {current}")]
    VersionMismatch { expected: i64, current: i64 },
    /// A decision was taken on a view that has changed since (a conflict's versions moved).
    #[error("{what} {id} changed since it was read")]
    Stale { what: &'static str, id: String },
    /// The input is well-formed but contradicts what is stored (unknown calendar, …).
    #[error("{0}")]
    Invalid(Violations),
    /// A stored row could not be read back. Never expected; reported, never guessed around.
    #[error("stored {what} {id} is unreadable: {detail}")]
    Corrupt { what: &'static str, id: String, detail: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Config(String),
}

impl StoreError {
    /// Worth retrying unchanged (connection trouble, lock timeouts), as opposed to a
    /// problem with the request or the data.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Database(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed
            )
        ) || matches!(self, Self::Database(sqlx::Error::Database(e)) if e.message().contains("database is locked"))
    }
}
