//! What connectors hand to the engine, in provider-neutral terms.

use calsync_core::{EventId, EventInput, EventTimeInput};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteCalendar {
    pub id: String,
    pub name: String,
    pub time_zone: Option<String>,
    pub primary: bool,
    pub writable: bool,
}

/// An occurrence of a remote series that an event replaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesRef {
    pub series_remote_id: String,
    pub original_start: EventTimeInput,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteState {
    /// The content, as an event body whose `calendar_id` and series link the engine fills in.
    Present(Box<EventInput>),
    /// Deleted (Google: a cancelled stub). A cancelled *occurrence* of a live series is
    /// `Present` with status cancelled and a [`SeriesRef`].
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEvent {
    pub id: String,
    /// The precondition token for the next write (Google etag).
    pub etag: Option<String>,
    pub state: RemoteState,
    pub series: Option<SeriesRef>,
    /// Our event id, when calsync created the event (stored with it at the provider).
    pub local_id: Option<EventId>,
    /// Only the guaranteed fields came (a cancelled occurrence's stub, protocols.md §1.6):
    /// the times in `state` are the original start, not the occurrence's real times.
    pub stub: bool,
    /// When the provider last changed it (Google `updated`), when it says.
    pub updated: Option<jiff::Timestamp>,
}

impl RemoteEvent {
    /// Gone at the provider: all a deletion says is the id.
    pub fn deleted(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            etag: None,
            state: RemoteState::Deleted,
            series: None,
            local_id: None,
            stub: false,
            updated: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageNext {
    /// More pages: repeat the listing with this page token.
    More(String),
    /// The listing is complete; the cursor for the next delta.
    Done(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePage {
    pub events: Vec<RemoteEvent>,
    pub next: PageNext,
    /// A full listing that sees only part of time (Graph's calendar view) names the span
    /// here: an event link whose event lies wholly outside it was not listed because it is
    /// out of sight, not because it was deleted. `None`: the listing sees everything.
    pub window: Option<ListingWindow>,
}

/// The span of time a windowed listing covers: events overlapping `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingWindow {
    pub start: jiff::Timestamp,
    pub end: jiff::Timestamp,
}

/// What to write: our event, its id, and for an exception the remote series it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct EventWrite<'a> {
    pub local_id: EventId,
    pub input: &'a EventInput,
    pub series: Option<&'a SeriesRef>,
}

/// A push channel as the provider confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub id: String,
    pub resource_id: String,
    pub token: String,
    /// Unix milliseconds.
    pub expires_at_ms: i64,
}
