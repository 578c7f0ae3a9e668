//! Typed ids. All are UUIDv7 so they sort by creation time and index well in both databases.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

uuid_id!(
    /// A calsync user: the owner of calendars, events and API tokens.
    UserId
);
uuid_id!(
    /// A local calendar (the hub side of "hub and spokes").
    CalendarId
);
uuid_id!(
    /// A local event. Stable for the event's whole life, also across providers.
    EventId
);
uuid_id!(
    /// A user's connected provider account (one Google login, one Microsoft 365 mailbox, …).
    AccountId
);
uuid_id!(
    /// A link of a local calendar to one remote calendar (a spoke).
    LinkId
);
uuid_id!(
    /// A recorded conflict: one event changed on both sides in overlapping ways.
    ConflictId
);
