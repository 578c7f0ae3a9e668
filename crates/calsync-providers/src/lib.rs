//! calsync's connectors to calendar providers, behind one [`Provider`] trait that fits
//! Google Calendar, Microsoft Graph and CalDAV alike (protocols.md §5): a listing that is
//! either full or a delta from a cursor, conditional writes with the provider's precondition
//! token, idempotent creates keyed by our own event id, and optional push channels.

pub mod error;
pub mod google;
pub mod graph;
pub mod model;
pub mod oauth;

pub use error::ProviderError;
pub use model::{
    ChangePage, Channel, EventWrite, ListingWindow, PageNext, RemoteCalendar, RemoteEvent, RemoteState, SeriesRef,
};

use async_trait::async_trait;

/// Percent-encodes one URL path segment (everything but RFC 3986 unreserved characters):
/// calendar ids with `@`, Graph's base64 ids with `=`, `+`, `/` stay one segment.
pub(crate) fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One connected account of one provider.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The calendars the account can see.
    async fn calendars(&self) -> Result<Vec<RemoteCalendar>, ProviderError>;

    /// One page of a listing: the full listing when `cursor` is `None`, else the changes since
    /// it. Follow [`PageNext::More`] with the same `cursor`; [`PageNext::Done`] carries the
    /// cursor for the next delta. [`ProviderError::CursorExpired`] means: list in full again.
    async fn list(&self, calendar: &str, cursor: Option<&str>, page: Option<&str>)
    -> Result<ChangePage, ProviderError>;

    /// One event, `None` when it does not exist.
    async fn get(&self, calendar: &str, remote_id: &str) -> Result<Option<RemoteEvent>, ProviderError>;

    /// Creates the event under an id derived from our own, so a replay finds the first
    /// create: [`ProviderError::Duplicate`] then, and the caller fetches and compares.
    async fn create(&self, calendar: &str, write: &EventWrite<'_>) -> Result<RemoteEvent, ProviderError>;

    /// Replaces the event's content, only if it still has `etag` (when given).
    async fn update(
        &self,
        calendar: &str,
        remote_id: &str,
        etag: Option<&str>,
        write: &EventWrite<'_>,
    ) -> Result<RemoteEvent, ProviderError>;

    /// Deletes the event, only if it still has `etag` (when given). Already gone is success.
    async fn delete(&self, calendar: &str, remote_id: &str, etag: Option<&str>) -> Result<(), ProviderError>;

    /// Asks for change notifications at `address`. `Ok(None)` when the provider has no push.
    async fn watch(
        &self,
        calendar: &str,
        channel_id: &str,
        token: &str,
        address: &str,
    ) -> Result<Option<Channel>, ProviderError>;

    /// Stops a channel made by [`Provider::watch`]. Unknown channels are success.
    async fn unwatch(&self, channel: &Channel) -> Result<(), ProviderError>;

    /// The refresh token the provider handed out in place of the one this connector was
    /// built with (Microsoft rotates them on every refresh), once: the caller must store it,
    /// or the account is lost when the old one dies.
    fn take_rotated_refresh_token(&self) -> Option<secrecy::SecretString> {
        None
    }

    /// Fields calsync never writes to this provider, because writing them has effects
    /// beyond the calendar (Outlook mails every attendee it is given, and Graph has no way
    /// to say "don't"). A new remote event brings them once; after that the engine keeps
    /// the hub's value and reads no change to them from this provider.
    fn withheld(&self) -> &'static [calsync_core::sync::Field] {
        &[]
    }
}
