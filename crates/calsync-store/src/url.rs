use crate::{Store, StoreError};
use calsync_core::Clock;
use std::fmt;
use std::sync::Arc;

/// A database URL: `sqlite://path/to/file.db` (created if missing) or `postgres://…`.
/// `Debug`/`Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// # Errors
    /// When the scheme is neither `sqlite:` nor `postgres:`/`postgresql:`.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self(url.to_owned()))
        } else {
            Err(StoreError::Config(format!(
                "database URL {:?} is not supported: use sqlite://path/to/calsync.db or postgres://user@host/db",
                Self(url.to_owned()).to_string()
            )))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // scheme://user:secret@host → scheme://user:***@host
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(s), Some(at)) if at > s => {
                let creds = &self.0[s + 3..at];
                match creds.split_once(':') {
                    Some((user, _)) => write!(f, "{}://{user}:***{}", &self.0[..s], &self.0[at..]),
                    None => f.write_str(&self.0),
                }
            }
            _ => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Opens the store the URL names and brings its schema up to date.
///
/// # Errors
/// Connection or migration failures.
pub async fn open(url: &DatabaseUrl, clock: Arc<dyn Clock>) -> Result<Arc<dyn Store>, StoreError> {
    if url.is_sqlite() {
        Ok(Arc::new(crate::sqlite::open(url.expose(), clock).await?))
    } else {
        Ok(Arc::new(crate::postgres::open(url.expose(), clock).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = DatabaseUrl::parse("postgres://calsync:hunter2@db:5432/calsync").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url.to_string(), "postgres://calsync:***@db:5432/calsync");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }
}
