use crate::{StoreError, SyncStore};
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
    /// The URL with secrets masked: `user:secret@` and `password=`/`sslpassword=` parameters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (base, query) = self.0.split_once('?').map_or((self.0.as_str(), None), |(b, q)| (b, Some(q)));
        match (base.find("://"), base.rfind('@')) {
            (Some(s), Some(at)) if at > s => match base[s + 3..at].split_once(':') {
                Some((user, _)) => write!(f, "{}://{user}:***{}", &base[..s], &base[at..])?,
                None => f.write_str(base)?,
            },
            _ => f.write_str(base)?,
        }
        if let Some(query) = query {
            let masked: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("sslpassword") => {
                        format!("{k}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            write!(f, "?{}", masked.join("&"))?;
        }
        Ok(())
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
pub async fn open(url: &DatabaseUrl, clock: Arc<dyn Clock>) -> Result<Arc<dyn SyncStore>, StoreError> {
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
        let query = DatabaseUrl::parse("postgres://calsync@db/calsync?sslmode=require&password=hunter2")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(query.to_string(), "postgres://calsync@db/calsync?sslmode=require&password=***");
    }
}
