//! Turning stored events into the occurrences a viewer sees in a window: singles as they
//! are, series expanded by their rules, exceptions and cancelled occurrences applied.

use crate::event::{Event, Status, occurrence_end, occurrence_end_instant, occurrence_start};
use crate::event_time::{EventTime, Length};
use crate::ids::EventId;
use crate::recurrence::Starts;
use crate::window::Window;
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use std::collections::HashMap;
use std::sync::Arc;

/// Where a series' occurrence starts come from. Generating them is the expensive part of a
/// feed (an endless rule is iterated from its first occurrence), so the server remembers
/// them per event version; tests and one-off callers compute them.
pub trait StartsSource {
    /// Starts of `series` up to at least `horizon` (local time), ascending. May return more.
    fn starts(&self, series: &Event, horizon: DateTime) -> Arc<Starts>;
}

/// Computes starts on every call.
#[derive(Debug, Clone, Copy, Default)]
pub struct ComputeStarts;

impl StartsSource for ComputeStarts {
    fn starts(&self, series: &Event, horizon: DateTime) -> Arc<Starts> {
        let first = series.draft.schedule().start().civil();
        Arc::new(series.draft.recurrence().starts(first, Some(horizon)))
    }
}

/// One occurrence shown to a viewer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence<'a> {
    /// The stored event this occurrence comes from: a single event, the series master, or
    /// the exception that replaced the generated occurrence.
    pub event: &'a Event,
    pub start: EventTime,
    pub end: EventTime,
    /// The exact instants of `start` and `end` (all-day dates read in the viewer's zone).
    /// Kept beside the wall-clock values because an end inside a DST fold is ambiguous as a
    /// wall-clock time but not as an instant.
    pub start_at: Timestamp,
    pub end_at: Timestamp,
    /// For occurrences of a series: the series' id and the start the rules gave it.
    pub series: Option<(EventId, EventTime)>,
}

/// Every occurrence of `events` that overlaps `window`, sorted by start. All-day dates are
/// read in `all_day_zone`. Deleted and cancelled events produce nothing; an exception whose
/// series is not among `events` is shown on its own.
pub fn occurrences<'a>(events: &'a [Event], window: &Window, all_day_zone: &TimeZone) -> Vec<Occurrence<'a>> {
    occurrences_from(events, window, all_day_zone, &ComputeStarts)
}

/// [`occurrences`], taking series starts from `source`.
pub fn occurrences_from<'a>(
    events: &'a [Event],
    window: &Window,
    all_day_zone: &TimeZone,
    source: &dyn StartsSource,
) -> Vec<Occurrence<'a>> {
    let live = || events.iter().filter(|e| !e.is_deleted());
    let mut exceptions: HashMap<EventId, Vec<&Event>> = HashMap::new();
    for e in live() {
        if let Some(link) = e.draft.series() {
            exceptions.entry(link.series_id).or_default().push(e);
        }
    }
    let masters: std::collections::HashSet<EventId> = live().filter(|e| e.draft.is_series()).map(|e| e.id).collect();
    let mut out = Vec::new();
    for e in live() {
        if e.draft.is_series() {
            if e.draft.status() != Status::Cancelled {
                let ex = exceptions.get(&e.id).map(Vec::as_slice).unwrap_or(&[]);
                expand_series(e, ex, window, all_day_zone, source, &mut out);
            }
        } else if let Some(link) = e.draft.series() {
            if !masters.contains(&link.series_id) && e.draft.status() != Status::Cancelled {
                push_if_visible(
                    &mut out,
                    e,
                    e.draft.schedule().start().clone(),
                    e.draft.schedule().end().clone(),
                    Some((link.series_id, link.original_start.clone())),
                    window,
                    all_day_zone,
                );
            }
        } else if e.draft.status() != Status::Cancelled {
            push_if_visible(
                &mut out,
                e,
                e.draft.schedule().start().clone(),
                e.draft.schedule().end().clone(),
                None,
                window,
                all_day_zone,
            );
        }
    }
    out.sort_by_key(|o| (o.start_at, o.event.id));
    out
}

fn push_if_visible<'a>(
    out: &mut Vec<Occurrence<'a>>,
    event: &'a Event,
    start: EventTime,
    end: EventTime,
    series: Option<(EventId, EventTime)>,
    window: &Window,
    zone: &TimeZone,
) {
    let (start_at, end_at) = (start.instant(zone), end.instant(zone));
    push_exact(out, Occurrence { event, start, end, start_at, end_at, series }, window);
}

fn push_exact<'a>(out: &mut Vec<Occurrence<'a>>, o: Occurrence<'a>, window: &Window) {
    if window.overlaps(o.start_at, o.end_at) {
        out.push(o);
    }
}

fn expand_series<'a>(
    master: &'a Event,
    exceptions: &[&'a Event],
    window: &Window,
    zone: &TimeZone,
    source: &dyn StartsSource,
    out: &mut Vec<Occurrence<'a>>,
) {
    let schedule = master.draft.schedule();
    let first = schedule.start();
    // Exceptions keyed by the series-local wall-clock time of the occurrence they replace.
    let mut replaced: HashMap<DateTime, &'a Event> = HashMap::new();
    for ex in exceptions {
        if let Some(link) = ex.draft.series() {
            replaced.insert(to_series_local(&link.original_start, first), ex);
        }
    }
    let horizon = horizon(first, window);
    let starts = source.starts(master, horizon);
    // Starts are sorted: skip those that end before the window without looking at each.
    // Exceptions replacing skipped occurrences are still shown by the loop further down.
    let longest = match (schedule.length(), master.draft.recurrence().longest_period()) {
        (Length::Exact(a), Some(Length::Exact(b))) => Length::Exact(a.max(b)),
        (length, _) => length,
    };
    let earliest = earliest_relevant(first, longest, window);
    let skip = starts.starts.partition_point(|(local, _)| *local < earliest);
    for (local, own_length) in starts.starts[skip..].iter().copied().take_while(|(local, _)| *local <= horizon) {
        let original = occurrence_start(first, local);
        match replaced.remove(&local) {
            Some(ex) => {
                if ex.draft.status() != Status::Cancelled {
                    let s = ex.draft.schedule();
                    push_if_visible(
                        out,
                        ex,
                        s.start().clone(),
                        s.end().clone(),
                        Some((master.id, original)),
                        window,
                        zone,
                    );
                }
            }
            None => {
                let end = occurrence_end(schedule, local, own_length);
                let start_at = original.instant(zone);
                let end_at = occurrence_end_instant(schedule, local, own_length, zone);
                let series = Some((master.id, original.clone()));
                push_exact(out, Occurrence { event: master, start: original, end, start_at, end_at, series }, window);
            }
        }
    }
    // Exceptions that match no generated occurrence (their original start lies beyond the
    // horizon, or the rules changed since): still shown if they fall into the window, so no
    // stored event is ever invisible.
    for ex in replaced.into_values() {
        if ex.draft.status() != Status::Cancelled
            && let Some(link) = ex.draft.series()
        {
            let s = ex.draft.schedule();
            push_if_visible(
                out,
                ex,
                s.start().clone(),
                s.end().clone(),
                Some((master.id, link.original_start.clone())),
                window,
                zone,
            );
        }
    }
}

/// A local start before which no occurrence lasting at most `length` can reach into
/// `window` (a week of slack for offsets and floating dates).
fn earliest_relevant(first: &EventTime, length: Length, window: &Window) -> DateTime {
    let reach = match length {
        Length::Days(d) => jiff::SignedDuration::from_hours(24 * (d + 7)),
        Length::Exact(d) => d.saturating_add(jiff::SignedDuration::from_hours(24 * 7)),
    };
    let start = window.start.saturating_sub(reach).unwrap_or(window.start);
    match first {
        EventTime::Date(_) => TimeZone::UTC.to_datetime(start),
        EventTime::DateTime { zone, .. } => zone.zone().to_datetime(start),
    }
}

/// The last local start worth generating for `window`: its end in the series' zone, plus a
/// day for floating all-day dates.
fn horizon(first: &EventTime, window: &Window) -> DateTime {
    match first {
        EventTime::Date(_) => {
            window.end.to_zoned_datetime(TimeZone::UTC).datetime().saturating_add(jiff::Span::new().days(1))
        }
        // A day of slack: in a DST fold a local time after this can still be an instant before
        // the window's end. Occurrences are filtered exactly afterwards.
        EventTime::DateTime { zone, .. } => {
            window.end.to_zoned_datetime(zone.zone().clone()).datetime().saturating_add(jiff::Span::new().days(1))
        }
    }
}

/// Whether the series `draft` has an occurrence whose original start is `original`. An
/// exception whose occurrence disappeared (the series' start or rules changed) has nothing
/// left to replace.
pub fn has_occurrence(draft: &crate::event::EventDraft, original: &EventTime) -> bool {
    let first = draft.schedule().start();
    if first.is_all_day() != original.is_all_day() {
        return false;
    }
    let local = to_series_local(original, first);
    draft.recurrence().starts(first.civil(), Some(local)).starts.iter().any(|(d, _)| *d == local)
}

fn to_series_local(t: &EventTime, first: &EventTime) -> DateTime {
    match (t, first) {
        (EventTime::DateTime { local, zone }, EventTime::DateTime { zone: series_zone, .. }) if zone != series_zone => {
            crate::event_time::resolve(zone.zone(), *local).to_zoned_datetime(series_zone.zone().clone()).datetime()
        }
        _ => t.civil(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventDraft, EventInput, EventMeta};
    use crate::ids::CalendarId;
    use crate::source::Source;

    fn series(rule: &str, start: &str, minutes: i64) -> Event {
        let begin: DateTime = start.parse().unwrap_or_else(|e| panic!("{e}"));
        let end = begin.saturating_add(jiff::Span::new().minutes(minutes));
        let input: EventInput = serde_json::from_value(serde_json::json!({
            "calendar_id": CalendarId::new(), "title": "s",
            "start": {"date_time": begin.to_string(), "time_zone": "Europe/Berlin"},
            "end": {"date_time": end.to_string(), "time_zone": "Europe/Berlin"},
            "recurrence": [rule],
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let meta = EventMeta::created(Timestamp::UNIX_EPOCH, Source::Local);
        Event { id: EventId::new(), draft: EventDraft::parse(input).unwrap_or_else(|e| panic!("{e}")), meta }
    }

    /// Every start generated (no skipping, no horizon), kept when it overlaps the window.
    fn naive(e: &Event, w: &Window) -> Vec<Timestamp> {
        let zone = TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC);
        let length = match e.draft.schedule().length() {
            Length::Exact(d) => d,
            Length::Days(_) => jiff::SignedDuration::ZERO,
        };
        let far = jiff::civil::date(2045, 1, 1).at(0, 0, 0, 0);
        e.draft
            .recurrence()
            .starts(e.draft.schedule().start().civil(), Some(far))
            .starts
            .iter()
            .map(|(local, _)| crate::event_time::resolve(&zone, *local))
            .filter(|s| w.overlaps(*s, s.saturating_add(length).unwrap_or(*s)))
            .collect()
    }

    fn with_lines(lines: &[&str]) -> Event {
        let input: EventInput = serde_json::from_value(serde_json::json!({
            "calendar_id": CalendarId::new(), "title": "s",
            "start": {"date_time": "2026-03-02T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-03-02T10:00:00", "time_zone": "Europe/Berlin"},
            "recurrence": lines,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        Event {
            id: EventId::new(),
            draft: EventDraft::parse(input).unwrap_or_else(|e| panic!("{e}")),
            meta: EventMeta::created(Timestamp::UNIX_EPOCH, Source::Local),
        }
    }

    fn utc_window(start: &str, end: &str) -> Window {
        Window {
            start: start.parse().unwrap_or_else(|e| panic!("{e}")),
            end: end.parse().unwrap_or_else(|e| panic!("{e}")),
        }
    }

    #[test]
    fn an_rdate_before_the_start_is_found_and_shown() {
        let e = with_lines(&["RRULE:FREQ=WEEKLY;COUNT=3", "RDATE;TZID=Europe/Berlin:20260210T090000"]);
        let (span_start, _) = e.draft.span_millis();
        let early: Timestamp = "2026-02-10T08:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(span_start <= early.as_millisecond(), "the index span must hold the early RDATE");
        let w = utc_window("2026-02-10T00:00:00Z", "2026-02-11T00:00:00Z");
        assert_eq!(occurrences(std::slice::from_ref(&e), &w, &TimeZone::UTC).len(), 1);
    }

    #[test]
    fn a_long_rdate_period_is_shown_while_it_lasts() {
        let e = with_lines(&["RRULE:FREQ=WEEKLY;COUNT=3", "RDATE;VALUE=PERIOD:20260401T080000Z/P30D"]);
        let w = utc_window("2026-04-20T00:00:00Z", "2026-04-21T00:00:00Z");
        let shown = occurrences(std::slice::from_ref(&e), &w, &TimeZone::UTC);
        assert_eq!(shown.len(), 1, "the 30-day occurrence from April 1 covers April 20");
    }

    #[test]
    fn skipping_early_starts_loses_no_occurrence() {
        let events = [
            series("RRULE:FREQ=DAILY;COUNT=150", "2026-03-20T23:30:00", 90),
            series("RRULE:FREQ=WEEKLY;BYDAY=TU,MO;COUNT=60", "2026-01-07T08:00:00", 60),
            series("RRULE:FREQ=WEEKLY;BYDAY=FR", "2026-01-02T17:00:00", 45),
            series("RRULE:FREQ=MONTHLY;BYMONTHDAY=-1", "2026-01-31T22:00:00", 180),
        ];
        for month in 0..60 {
            let start = jiff::civil::date(2026, 1, 1).at(0, 0, 0, 0).saturating_add(jiff::Span::new().months(month));
            let end = start.saturating_add(jiff::Span::new().months(1));
            let zone = TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC);
            let w =
                Window { start: crate::event_time::resolve(&zone, start), end: crate::event_time::resolve(&zone, end) };
            for e in &events {
                let got: Vec<Timestamp> =
                    occurrences(std::slice::from_ref(e), &w, &zone).iter().map(|o| o.start_at).collect();
                assert_eq!(got, naive(e, &w), "{} in {start}", e.draft.recurrence().lines()[0]);
            }
        }
    }
}
