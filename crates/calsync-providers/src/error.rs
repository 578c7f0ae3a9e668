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
