//! Turning stored events into the occurrences a viewer sees in a window: singles as they
//! are, series expanded by their rules, exceptions and cancelled occurrences applied.

use crate::event::{Event, Status, occurrence_end};
use crate::event_time::{EventTime, Length};
use crate::ids::EventId;
use crate::window::Window;
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use std::collections::HashMap;

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
                expand_series(e, ex, window, all_day_zone, &mut out);
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
    let starts = master.draft.recurrence().starts(first.civil(), Some(horizon));
    for (local, own_length) in starts.starts {
        let original = at_local(first, local);
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
                let end_at = match (own_length.unwrap_or(schedule.length()), &end) {
                    (Length::Exact(d), EventTime::DateTime { .. }) => start_at.saturating_add(d).unwrap_or(start_at),
                    _ => end.instant(zone),
                };
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

/// The last local start worth generating for `window`: its end in the series' zone, plus a
/// day for floating all-day dates.
fn horizon(first: &EventTime, window: &Window) -> DateTime {
    match first {
        EventTime::Date(_) => {
            window.end.to_zoned_datetime(TimeZone::UTC).datetime().saturating_add(jiff::Span::new().days(1))
        }
        EventTime::DateTime { zone, .. } => window.end.to_zoned_datetime(zone.zone().clone()).datetime(),
    }
}

fn to_series_local(t: &EventTime, first: &EventTime) -> DateTime {
    match (t, first) {
        (EventTime::DateTime { local, zone }, EventTime::DateTime { zone: series_zone, .. }) if zone != series_zone => {
            crate::event_time::resolve(zone.zone(), *local).to_zoned_datetime(series_zone.zone().clone()).datetime()
        }
        _ => t.civil(),
    }
}

fn at_local(first: &EventTime, local: DateTime) -> EventTime {
    match first {
        EventTime::Date(_) => EventTime::Date(local.date()),
        EventTime::DateTime { zone, .. } => EventTime::DateTime { local, zone: zone.clone() },
    }
}
