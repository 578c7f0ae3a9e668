//! Time windows for range queries and the FullCalendar feed.

use crate::event_time::{parse_date, resolve};
use crate::limits::WINDOW_MAX_DAYS;
use crate::validation::Violations;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// A half-open window `[start, end)` in absolute time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    /// Parses the `start` / `end` query parameters. Each may be an RFC 3339 instant
    /// (`2026-05-01T00:00:00Z`, `…+02:00`), a local date-time or a date; the last two are
    /// read in `zone` (FullCalendar sends local values when it is given a named `timeZone`).
    ///
    /// # Errors
    /// Violations on `start`/`end`: unreadable, end not after start, wider than
    /// [`WINDOW_MAX_DAYS`].
    pub fn parse(start: Option<&str>, end: Option<&str>, zone: &TimeZone) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let mut read = |name: &str, value: Option<&str>| match value {
            None => {
                v.push(name, "required", "is required (e.g. 2026-05-01T00:00:00Z or 2026-05-01)");
                None
            }
            Some(s) => parse_instant(s, zone).map_err(|m| v.push(name, "date_time", m)).ok(),
        };
        let (start, end) = (read("start", start), read("end", end));
        let (Some(start), Some(end)) = (start, end) else {
            return Err(v);
        };
        if end <= start {
            v.push("end", "end_after_start", format!("window end {end} must be after its start {start}"));
        } else if end.duration_since(start) > SignedDuration::from_hours(24 * WINDOW_MAX_DAYS) {
            v.push(
                "end",
                "max_window",
                format!("the window may span at most {WINDOW_MAX_DAYS} days; ask for smaller pages"),
            );
        }
        v.into_result(Self { start, end })
    }

    pub fn overlaps(&self, start: Timestamp, end: Timestamp) -> bool {
        start < self.end && end > self.start
    }
}

fn parse_instant(s: &str, zone: &TimeZone) -> Result<Timestamp, String> {
    let ts = parse_instant_any_year(s, zone)?;
    let year = ts.to_zoned_datetime(TimeZone::UTC).year();
    if (1900..=2200).contains(&year) { Ok(ts) } else { Err(format!("{s:?}: year {year} is outside 1900..=2200")) }
}

fn parse_instant_any_year(s: &str, zone: &TimeZone) -> Result<Timestamp, String> {
    if s.len() == 10 {
        return parse_date(s).map(|d| resolve(zone, d.to_datetime(jiff::civil::Time::midnight())));
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    s.parse::<jiff::civil::DateTime>()
        .map(|dt| resolve(zone, dt))
        .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD), local date-time or RFC 3339 instant"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_accept_the_forms_fullcalendar_sends() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC);
        let w =
            Window::parse(Some("2026-05-01T00:00:00"), Some("2026-06-01"), &berlin).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.start.to_string(), "2026-04-30T22:00:00Z");
        let w = Window::parse(Some("2026-05-01T00:00:00+02:00"), Some("2026-05-02T00:00:00Z"), &TimeZone::UTC)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.start.to_string(), "2026-04-30T22:00:00Z");
    }

    #[test]
    fn bad_windows_are_refused_with_the_field() {
        let utc = TimeZone::UTC;
        let rule = |s: Option<&str>, e: Option<&str>| {
            Window::parse(s, e, &utc).err().map(|v| (v.0[0].field.clone(), v.0[0].rule))
        };
        assert_eq!(rule(None, Some("2026-01-01")), Some(("start".into(), "required")));
        assert_eq!(rule(Some("2026-02-01"), Some("2026-01-01")), Some(("end".into(), "end_after_start")));
        assert_eq!(rule(Some("2026-01-01"), Some("2028-01-01")), Some(("end".into(), "max_window")));
        assert_eq!(rule(Some("yesterday"), Some("2026-01-01")), Some(("start".into(), "date_time")));
        assert_eq!(
            rule(Some("9999-01-01T00:00:00Z"), Some("9999-02-01T00:00:00Z")),
            Some(("start".into(), "date_time"))
        );
    }
}
