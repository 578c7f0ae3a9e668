//! SQLite: the embedded default. One file, WAL journal, one writer at a time
//! (`BEGIN IMMEDIATE` takes the write lock up front, so two writers never deadlock
//! upgrading read locks).

use crate::StoreError;
use calsync_core::Clock;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

type Db = sqlx::Sqlite;
const BACKEND: &str = "sqlite";
/// Row locking in the account claim. SQLite has one writer at a time: no row locks needed.
const CLAIM_LOCK: &str = "";
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
const WINDOW_SQL: &str = concat!(
    "SELECT json_group_array(json_array(lower(hex(id)), json(body), created_at, updated_at, source, ",
    "updated_at_source, version, deleted_at)) FROM (",
    window_rows!(),
    ")"
);

#[path = "sql/shared.rs"]
#[allow(clippy::duplicate_mod, reason = "one implementation compiled once per backend, on purpose")]
mod shared;
pub use shared::SqlStore;

/// Opens (creating if needed) the database file and migrates it.
///
/// # Errors
/// When the file cannot be opened or migrated.
pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<SqlStore, StoreError> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable across application crashes in WAL mode; only an OS crash or
        // power loss can lose the last transactions (https://www.sqlite.org/pragma.html#pragma_synchronous).
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // Read pages through a memory map shared by all connections instead of a pread()
        // per page: the feed's window reads were mostly system calls (BENCHMARKS.md).
        .pragma("mmap_size", "268435456")
        .pragma("cache_size", "-16384");
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
    SqlStore::new(pool, clock).await
}
