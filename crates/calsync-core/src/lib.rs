//! calsync's core: the event model, its validation, and recurrence expansion.
//!
//! Everything here is pure: no IO, no async runtime, no clock reads. Time comes in as
//! arguments (see [`clock::Clock`]), so every decision can be tested with fixed values.

pub mod calendar;
pub mod change;
pub mod clock;
pub mod encoding;
pub mod event;
pub mod event_time;
pub mod fullcalendar;
pub mod ids;
pub mod limits;
pub mod patterned;
pub mod recurrence;
pub mod series;
pub mod source;
pub mod sync;
pub mod validation;
pub mod window;
pub mod windows_zones;
pub mod zone;

pub use calendar::{Calendar, CalendarDraft, CalendarInput, CalendarView};
pub use change::{Change, ChangeOp, Seq};
pub use clock::{Clock, FixedClock, SystemClock};
pub use event::{
    Attendee, Event, EventDraft, EventInput, EventMeta, EventView, ResponseStatus, SeriesLink, Status, Transparency,
    Visibility,
};
pub use event_time::{EventTime, EventTimeInput, Length, Schedule};
pub use ids::{AccountId, CalendarId, ConflictId, EventId, LinkId, UserId};
pub use recurrence::Recurrence;
pub use series::{ComputeStarts, Occurrence, StartsSource, occurrences, occurrences_from};
pub use source::Source;
pub use validation::{Violation, Violations};
pub use window::Window;
pub use zone::ZoneName;
