//! What the Graph listing keeps between calls: the cursor the engine stores after a round,
//! and the page token it hands back within one. Both are our own JSON, opaque to the engine:
//!
//! ```json
//! {"v":1,"link":"https://graph.microsoft.com/v1.0/me/calendars/AQMk…/calendarView/delta?$deltatoken=…",
//!  "start":"2025-11-29T00:00:00Z","end":"2028-11-29T00:00:00Z","series":["AAMkAD…"]}
//! ```
//!
//! `link` is Graph's `@odata.deltaLink` in a cursor and its `@odata.nextLink` in a page
//! token, used verbatim (protocols.md §2.3). `start`/`end` are the calendar-view window the
//! round was opened with (Graph freezes it into its tokens). `series` names the series
//! masters seen in the window: a delta cannot tell a cancelled occurrence or a deleted series
//! from any other removal, so when a removal resolves to nothing these are re-checked. A page
//! token adds the round's progress: `emitted`, the masters already fetched and handed over
//! in this round (once per round each), and `recheck`, set when a removal could not be found.

use crate::model::ListingWindow;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

const VERSION: u8 = 1;

/// How far the window may lag behind "now" before a delta is refused and the listing starts
/// over with a fresh window: a week, so the window rolls weekly rather than on every pull.
pub const WINDOW_ROLL: SignedDuration = SignedDuration::from_hours(24 * 7);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    v: u8,
    pub link: String,
    pub start: Timestamp,
    pub end: Timestamp,
    #[serde(default)]
    pub series: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub emitted: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub recheck: bool,
}

/// For `skip_serializing_if`, which passes a reference.
fn is_false(b: &bool) -> bool {
    !*b
}

impl Position {
    /// The start of a round over `window`, at Graph's `link`.
    pub fn new(link: String, window: ListingWindow) -> Self {
        Self {
            v: VERSION,
            link,
            start: window.start,
            end: window.end,
            series: BTreeSet::new(),
            emitted: BTreeSet::new(),
            recheck: false,
        }
    }

    pub fn window(&self) -> ListingWindow {
        ListingWindow { start: self.start, end: self.end }
    }

    /// Reads a cursor or page token; `None` for anything this version did not write.
    pub fn decode(text: &str) -> Option<Self> {
        serde_json::from_str::<Self>(text).ok().filter(|p| p.v == VERSION && p.start < p.end)
    }

    /// The page token that continues this round at `next_link`.
    pub fn page_token(&self, next_link: &str) -> String {
        let page = Self { link: next_link.to_owned(), ..self.clone() };
        serde_json::to_string(&page).unwrap_or_default()
    }

    /// The cursor for the next delta: the round's progress is dropped.
    pub fn cursor(&self, delta_link: &str) -> String {
        let cursor = Self { link: delta_link.to_owned(), emitted: BTreeSet::new(), recheck: false, ..self.clone() };
        serde_json::to_string(&cursor).unwrap_or_default()
    }

    /// The delta token is still worth following at `now`: its window starts no more than
    /// [`WINDOW_ROLL`] before the window a listing would use now (`back` before `now`).
    pub fn is_current(&self, now: Timestamp, back: SignedDuration) -> bool {
        let wanted = now.saturating_sub(back).unwrap_or(now);
        wanted.duration_since(self.start) <= WINDOW_ROLL
    }
}

/// The window a full listing opens at `now`: from `back` before to `ahead` after, on UTC
/// midnights so that listings on one day agree.
pub fn window_at(now: Timestamp, back: SignedDuration, ahead: SignedDuration) -> ListingWindow {
    let day = |t: Timestamp| {
        let date = t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        jiff::tz::TimeZone::UTC.to_timestamp(date.to_datetime(jiff::civil::Time::midnight())).unwrap_or(t)
    };
    let start = day(now.saturating_sub(back).unwrap_or(now));
    let end =
        day(now.saturating_add(ahead).unwrap_or(now)).saturating_add(SignedDuration::from_hours(24)).unwrap_or(now);
    ListingWindow { start, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    const YEAR: SignedDuration = SignedDuration::from_hours(24 * 365);

    #[test]
    fn the_window_lies_on_utc_midnights_around_now() {
        let w = window_at(at("2026-03-12T15:30:00Z"), YEAR, YEAR);
        assert_eq!(w.start, at("2025-03-12T00:00:00Z"));
        assert_eq!(w.end, at("2027-03-13T00:00:00Z"));
    }

    #[test]
    fn cursors_and_page_tokens_round_trip_and_cursors_drop_the_rounds_progress() {
        let mut p =
            Position::new("https://g/v1.0/a?$skiptoken=1".into(), window_at(at("2026-03-12T00:00:00Z"), YEAR, YEAR));
        p.series.insert("M1".into());
        p.emitted.insert("M1".into());
        p.recheck = true;
        let page = Position::decode(&p.page_token("https://g/v1.0/a?$skiptoken=2")).unwrap_or_else(|| panic!("page"));
        assert_eq!(page.link, "https://g/v1.0/a?$skiptoken=2");
        assert_eq!((page.emitted.len(), page.recheck), (1, true));
        let text = p.cursor("https://g/v1.0/a?$deltatoken=3");
        assert!(!text.contains("emitted") && !text.contains("recheck"), "{text}");
        let cursor = Position::decode(&text).unwrap_or_else(|| panic!("cursor"));
        assert_eq!(cursor.series, p.series);
        assert!(cursor.emitted.is_empty() && !cursor.recheck);
        assert_eq!(cursor.window(), p.window());
    }

    #[test]
    fn foreign_or_damaged_cursors_are_not_read() {
        assert_eq!(Position::decode("AAMkAD$deltatoken=x"), None);
        assert_eq!(
            Position::decode(r#"{"v":2,"link":"x","start":"2026-01-01T00:00:00Z","end":"2027-01-01T00:00:00Z"}"#),
            None
        );
        assert_eq!(
            Position::decode(r#"{"v":1,"link":"x","start":"2027-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}"#),
            None
        );
    }

    #[test]
    fn a_delta_is_refused_once_the_window_lags_a_week_behind() {
        let opened = at("2026-03-12T10:00:00Z");
        let p = Position::new("x".into(), window_at(opened, YEAR, YEAR));
        assert!(p.is_current(opened, YEAR));
        // The window starts at 2025-03-12T00:00Z: a week after that, it rolls.
        assert!(p.is_current(at("2026-03-18T23:00:00Z"), YEAR));
        assert!(!p.is_current(at("2026-03-19T01:00:00Z"), YEAR));
    }
}
