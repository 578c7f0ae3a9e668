//! How a provider call failed, classified for the engine: retry, resync, re-plan, park, or
//! ask the user to reconnect.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The grant is gone (revoked, expired refresh token): the user must reconnect.
    #[error("the account must be reconnected: {0}")]
    NeedsReauth(String),
    /// The listing cursor is dead (Google 410): list everything again and reconcile.
    #[error("the sync cursor expired; a full resync is needed")]
    CursorExpired,
    /// A create found its id taken: fetch the event and compare.
    #[error("an event with this id already exists")]
    Duplicate,
    /// The remote changed since our etag: pull, then plan again.
    #[error("the remote event changed since we last saw it")]
    PreconditionFailed,
    #[error("not found at the provider")]
    NotFound,
    /// Worth retrying later (network, 5xx, 429, rate limits), after `retry_after` if given.
    #[error("temporary provider failure: {message}")]
    Transient { message: String, retry_after: Option<Duration> },
    /// The provider refused this request for good (e.g. 400 invalid): park the event.
    #[error("the provider refused the request ({status} {reason}): {message}")]
    Permanent { status: u16, reason: String, message: String },
}

impl ProviderError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// Longest `Retry-After` honoured as given; longer asks are capped (the engine's backoff
/// takes over).
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);

/// A temporary failure, its `Retry-After` capped at [`RETRY_AFTER_CAP`].
pub(crate) fn transient(message: String, retry_after: Option<Duration>) -> ProviderError {
    ProviderError::Transient { message, retry_after: retry_after.map(|d| d.min(RETRY_AFTER_CAP)) }
}

pub(crate) fn permanent(status: u16, reason: &str, message: String) -> ProviderError {
    ProviderError::Permanent { status, reason: reason.to_owned(), message }
}

/// `Retry-After`: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::civil::DateTime::strptime("%a, %d %b %Y %H:%M:%S GMT", v.trim()).ok()?;
    let at = jiff::tz::TimeZone::UTC.to_timestamp(at).ok()?;
    Some(Duration::try_from(at.duration_since(jiff::Timestamp::now())).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Tue, 19 Nov 2013 01:13:52 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
