//! The change log: one row per event write, in the same transaction as the write.
//! Apps read it as a feed; sync workers push from it (it is the outbox).

use crate::ids::{CalendarId, EventId};
use crate::source::Source;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A position in a user's change log. Dense and strictly increasing per user: the store
/// hands them out under the user's row lock, so a reader paging with `after=SEQ` never
/// misses a row committed later with a smaller number.
pub type Seq = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Created,
    Updated,
    Deleted,
}

impl ChangeOp {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "created" => Some(Self::Created),
            "updated" => Some(Self::Updated),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Change {
    pub seq: Seq,
    pub event_id: EventId,
    /// The calendar the event is in after this change.
    pub calendar_id: CalendarId,
    /// Set when this change moved the event out of another calendar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_calendar_id: Option<CalendarId>,
    pub op: ChangeOp,
    /// The event's version after the change.
    pub version: i64,
    /// Where the change came from.
    pub origin: Source,
    #[schema(value_type = String)]
    pub at: Timestamp,
}
