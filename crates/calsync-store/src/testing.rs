//! Throw-away stores for tests (feature `testing`): a SQLite file in a temporary directory,
//! or a fresh PostgreSQL database per test on the server `CALSYNC_TEST_POSTGRES_URL` names.
//! Both are removed when the [`TestDb`] is dropped, also when the test panics.

use crate::{DatabaseUrl, SyncStore, open};
use calsync_core::{Clock, SystemClock};
use std::sync::Arc;

/// The environment variable naming the PostgreSQL server tests may use
/// (e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
pub const POSTGRES_URL_VAR: &str = "CALSYNC_TEST_POSTGRES_URL";

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    pub url: DatabaseUrl,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Dir(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A new SQLite database file.
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("calsync-test-{}", uuid::Uuid::now_v7().simple()));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot create {}: {e}", dir.display());
        }
        let url =
            DatabaseUrl::parse(&format!("sqlite://{}/calsync.db", dir.display())).unwrap_or_else(|e| panic!("{e}"));
        Self { url, cleanup: Cleanup::Dir(dir) }
    }

    /// A new, empty PostgreSQL database, or `None` when [`POSTGRES_URL_VAR`] is unset.
    pub async fn postgres() -> Option<Self> {
        let admin_url = std::env::var(POSTGRES_URL_VAR).ok()?;
        let name = format!("calsync_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = connect_admin(&admin_url).await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database on {admin_url}: {e}"));
        let url = DatabaseUrl::parse(&with_database(&admin_url, &name)).unwrap_or_else(|e| panic!("{e}"));
        Some(Self { url, cleanup: Cleanup::Postgres { admin_url, name } })
    }

    /// Opens the store (migrating it).
    pub async fn open(&self) -> Arc<dyn SyncStore> {
        self.open_with_clock(Arc::new(SystemClock)).await
    }

    pub async fn open_with_clock(&self, clock: Arc<dyn Clock>) -> Arc<dyn SyncStore> {
        open(&self.url, clock).await.unwrap_or_else(|e| panic!("cannot open {}: {e}", self.url))
    }
}

async fn connect_admin(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}={url} is set but PostgreSQL is not reachable: {e}"))
}

/// The same server URL with another database name.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                // Drop may run inside a runtime; do the async cleanup on a thread of its own.
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let done = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
                    if let Ok(rt) = rt {
                        rt.block_on(async {
                            let mut admin = connect_admin(&admin_url).await;
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await;
                        });
                    }
                });
                let _ = done.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(super::with_database("postgres://u@h?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
    }
}
