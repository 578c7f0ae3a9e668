//! Size limits on user input. They keep one event small enough to sync to every provider
//! (Google and Graph both cap attendees at a few hundred) and keep a bad client from filling
//! the database. The README lists them; changing one is a product decision.

pub const TITLE_MAX_CHARS: usize = 1_024;
pub const DESCRIPTION_MAX_CHARS: usize = 65_536;
pub const LOCATION_MAX_CHARS: usize = 1_024;
pub const CALENDAR_NAME_MAX_CHARS: usize = 255;
pub const USER_NAME_MAX_CHARS: usize = 255;
pub const ATTENDEES_MAX: usize = 500;
pub const EMAIL_MAX_CHARS: usize = 254;
pub const ATTENDEE_NAME_MAX_CHARS: usize = 255;
pub const RECURRENCE_LINES_MAX: usize = 100;
pub const RECURRENCE_LINE_MAX_CHARS: usize = 4_096;
/// The longest a single (non-recurring) event may last. Longer "events" are almost always a
/// wrong year typed into a form.
pub const EVENT_MAX_DAYS: i64 = 3_660;
/// The widest window the FullCalendar feed and range listings accept.
pub const WINDOW_MAX_DAYS: i64 = 400;
/// How many occurrences of one series are generated at most, counted from the series start.
/// A rule that would produce more (a minutely rule over years) is cut there.
pub const EXPANSION_MAX_OCCURRENCES: usize = 50_000;
/// Request bodies larger than this are refused before parsing.
pub const BODY_MAX_BYTES: usize = 1024 * 1024;
