//! PostgreSQL: for deployments where several calsync processes share the work.

use crate::StoreError;
use calsync_core::Clock;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

type Db = sqlx::Postgres;
const BACKEND: &str = "postgres";
/// Row locking in the account claim. Workers in other processes skip an account another is claiming instead of waiting.
const CLAIM_LOCK: &str = "FOR UPDATE SKIP LOCKED";
const BEGIN_WRITE: &str = "BEGIN";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
const WINDOW_SQL: &str = concat!(
    "SELECT COALESCE(json_agg(json_build_array(w.id::text, w.body::json, w.created_at, w.updated_at, w.source, ",
    "w.updated_at_source, w.version, w.deleted_at)), '[]')::text FROM (",
    window_rows!(),
    ") AS w"
);

#[path = "sql/shared.rs"]
#[allow(clippy::duplicate_mod, reason = "one implementation compiled once per backend, on purpose")]
mod shared;
pub use shared::SqlStore;

/// Connects and migrates.
///
/// # Errors
/// When the server cannot be reached or the migration fails.
pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<SqlStore, StoreError> {
    let options = PgConnectOptions::from_str(url)?;
    let pool =
        PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect_with(options).await?;
    SqlStore::new(pool, clock).await
}
