//! Series at Graph: masters, occurrences, and the occurrences Graph no longer shows.
//!
//! Graph v1.0 keeps no list of a series' cancelled occurrences (only beta has
//! `cancelledOccurrences`, protocols.md §4.1): a cancelled occurrence just vanishes from the
//! calendar view and from `instances`. So they are computed: the master's rule expanded over
//! a span, against what `GET me/events/{master}/instances` lists for it (by `originalStart`);
//! a start the rule gives and Graph does not list is a cancelled occurrence.
//!
//! Such an occurrence has no id at Graph. calsync gives it a synthetic, stable one:
//! `{masterId}/{originalStart}`, the original start as a UTC RFC 3339 instant (all-day: its
//! date at `00:00:00Z`), e.g. `AAMkADg3…AAA=/2026-03-19T08:00:00Z`. Graph ids are base64 and
//! never end in `/` plus a timestamp, so the two cannot be confused; [`parse_synthetic`]
//! tells them apart, and the connector's get/update/delete treat synthetic ids specially.

use super::GraphProvider;
use super::request::segment;
use crate::error::ProviderError;
use crate::model::{ListingWindow, RemoteEvent, RemoteState, SeriesRef};
use calsync_core::event::{Status, occurrence_end, occurrence_end_instant, occurrence_start};
use calsync_core::recurrence::Recurrence;
use calsync_core::{EventInput, EventTime, EventTimeInput, Length, Schedule};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use std::collections::HashSet;

/// How far beyond the window `instances` is asked: an occurrence edited to lie just outside
/// the window (an exception moved by a few days) is still listed, and so not taken for
/// cancelled.
const INSTANCES_MARGIN: SignedDuration = SignedDuration::from_hours(24 * 31);

/// A series' rules as calsync reads them: the first occurrence, the length, the RRULE.
#[derive(Debug)]
pub struct SeriesRules {
    schedule: Schedule,
    recurrence: Recurrence,
}

/// One occurrence the rules give: its original start, and that start's wall-clock time in
/// the series' zone (what the rules iterate over).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub original: EventTime,
    local: DateTime,
    own: Option<Length>,
}

impl SeriesRules {
    /// `None` when `master` is no series calsync can expand.
    pub fn of(master: &EventInput) -> Option<Self> {
        if master.recurrence.is_empty() {
            return None;
        }
        let start = EventTime::parse(&master.start).ok()?;
        let end = EventTime::parse(&master.end).ok()?;
        let recurrence = Recurrence::parse(&master.recurrence, &start).ok()?;
        Some(Self { schedule: Schedule::new(start, end).ok()?, recurrence })
    }

    /// The occurrences that overlap `window`, ascending. All-day dates are UTC days, as
    /// Graph's all-day events are written (map.rs).
    pub fn occurrences_in(&self, window: &ListingWindow) -> Vec<Generated> {
        let first = self.schedule.start();
        let zone = match first {
            EventTime::Date(_) => TimeZone::UTC,
            EventTime::DateTime { zone, .. } => zone.zone().clone(),
        };
        let horizon = window.end.to_zoned_datetime(zone).datetime().saturating_add(jiff::Span::new().days(1));
        self.recurrence
            .starts(first.civil(), Some(horizon))
            .starts
            .into_iter()
            .filter(|(local, own)| {
                let begin = occurrence_start(first, *local).instant(&TimeZone::UTC);
                let end = occurrence_end_instant(&self.schedule, *local, *own, &TimeZone::UTC);
                // A zero-length occurrence still counts when it starts inside.
                begin < window.end && (end > window.start || begin >= window.start)
            })
            .map(|(local, own)| Generated { original: occurrence_start(first, local), local, own })
            .collect()
    }

    /// The occurrence starting at `original` (UTC instant), if the rules give one.
    pub fn occurrence_at(&self, original: Timestamp) -> Option<Generated> {
        let day = SignedDuration::from_hours(24);
        let around = ListingWindow {
            start: original.saturating_sub(day).unwrap_or(original),
            end: original.saturating_add(day).unwrap_or(original),
        };
        self.occurrences_in(&around).into_iter().find(|g| g.original.instant(&TimeZone::UTC) == original)
    }

    /// The stub handed to the engine for a cancelled occurrence: the series' content at the
    /// original start (times and all), status cancelled, `stub: true`, the synthetic id.
    pub fn cancelled_stub(&self, master_id: &str, master: &EventInput, g: &Generated) -> RemoteEvent {
        let original_start = g.original.to_input();
        let mut input = master.clone();
        input.recurrence.clear();
        input.start = original_start.clone();
        input.end = occurrence_end(&self.schedule, g.local, g.own).to_input();
        input.original_start = Some(original_start.clone());
        input.status = Status::Cancelled;
        RemoteEvent {
            id: synthetic_id(master_id, &g.original),
            etag: None,
            state: RemoteState::Present(Box::new(input)),
            series: Some(SeriesRef { series_remote_id: master_id.to_owned(), original_start }),
            local_id: None,
            stub: true,
            updated: None,
        }
    }
}

/// Which occurrence: the UTC instant of a timed original start, the date of an all-day one.
/// Both sides of the comparison ([`EventTime::compact`] and [`instance_key`]) use it.
fn key(t: &EventTime) -> String {
    t.compact()
}

/// The occurrence key of an occurrence or exception listed by Graph (`originalStart`, UTC).
pub fn instance_key(v: &Value) -> Option<String> {
    let original: Timestamp = v.get("originalStart").and_then(Value::as_str)?.parse().ok()?;
    let all_day = v.get("isAllDay").and_then(Value::as_bool).unwrap_or(false);
    Some(if all_day {
        original.strftime("%Y%m%d").to_string()
    } else {
        original.strftime("%Y%m%dT%H%M%SZ").to_string()
    })
}

/// The synthetic id of the cancelled occurrence `original` of series `master_id`.
pub fn synthetic_id(master_id: &str, original: &EventTime) -> String {
    format!("{master_id}/{}", original.instant(&TimeZone::UTC))
}

/// A synthetic id's series and original start (UTC); `None` for Graph's own ids.
pub fn parse_synthetic(id: &str) -> Option<(&str, Timestamp)> {
    let (master, at) = id.rsplit_once('/')?;
    let original: Timestamp = at.parse().ok()?;
    (!master.is_empty() && original.to_string() == at).then_some((master, original))
}

impl GraphProvider {
    /// Event `id` of `calendar` with our id's extended property; `None` when the calendar
    /// has no such event. Confined to the calendar: with immutable ids an event moved to
    /// another calendar keeps its id, and must read as gone from this one.
    pub(super) async fn fetch_event(&self, calendar: &str, id: &str) -> Result<Option<Value>, ProviderError> {
        let url = self.url(&format!("me/calendars/{}/events/{}", segment(calendar), segment(id)));
        match self.call(reqwest::Method::GET, &url, &[("$expand", &self.expand)], None, None).await {
            Ok(v) => Ok(Some(v)),
            Err(ProviderError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The occurrences and exceptions of series `master_id` overlapping `[from, to)`.
    pub(super) async fn instances(
        &self,
        master_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Value>, ProviderError> {
        let url = self.url(&format!("me/events/{}/instances", segment(master_id)));
        let (from, to) = (from.to_string(), to.to_string());
        self.collect(&url, &[("startDateTime", &from), ("endDateTime", &to)]).await
    }

    /// The cancelled occurrences of `master` (a series as read by map.rs) in `window`, as
    /// stubs. One `instances` listing per call.
    pub(super) async fn cancelled_in(
        &self,
        master: &RemoteEvent,
        window: &ListingWindow,
    ) -> Result<Vec<RemoteEvent>, ProviderError> {
        let RemoteState::Present(input) = &master.state else { return Ok(Vec::new()) };
        let Some(rules) = SeriesRules::of(input) else { return Ok(Vec::new()) };
        let generated = rules.occurrences_in(window);
        if generated.is_empty() {
            return Ok(Vec::new());
        }
        let from = window.start.saturating_sub(INSTANCES_MARGIN).unwrap_or(window.start);
        let to = window.end.saturating_add(INSTANCES_MARGIN).unwrap_or(window.end);
        let listed: HashSet<String> =
            self.instances(&master.id, from, to).await?.iter().filter_map(instance_key).collect();
        let missing: Vec<_> = generated.iter().filter(|g| !listed.contains(&key(&g.original))).collect();
        if !listed.is_empty() && missing.len() * 2 > generated.len() {
            // Most of what the rule gives is not where Graph lists it: the expansion does
            // not match Graph's (an unreadable zone, a rule read differently), not half a
            // series cancelled. Cancelling on that guess would cancel real meetings.
            tracing::warn!(
                series = %master.id,
                missing = missing.len(),
                generated = generated.len(),
                "the series' occurrences do not match Graph's; not inferring cancellations"
            );
            return Ok(Vec::new());
        }
        Ok(missing.into_iter().map(|g| rules.cancelled_stub(&master.id, input, g)).collect())
    }

    /// The occurrence (or exception) of series `series_id` whose original start is
    /// `original`, looked up over a day either side. `Ok(None)`: not listed (cancelled).
    pub(super) async fn occurrence(
        &self,
        series_id: &str,
        original: &EventTimeInput,
    ) -> Result<Option<Value>, ProviderError> {
        let original = EventTime::parse(original)
            .map_err(|e| super::request::permanent(400, "invalid", format!("the occurrence's original start: {e}")))?;
        let at = original.instant(&TimeZone::UTC);
        let day = SignedDuration::from_hours(24);
        let (from, to) = (at.saturating_sub(day).unwrap_or(at), at.saturating_add(day).unwrap_or(at));
        let wanted = key(&original);
        Ok(self.instances(series_id, from, to).await?.into_iter().find(|v| instance_key(v).as_ref() == Some(&wanted)))
    }

    /// The stub of a synthetic id while its occurrence stays cancelled; `None` when the
    /// series is gone, its rules no longer give that start, or Graph lists it again.
    pub(super) async fn cancelled_occurrence(
        &self,
        calendar: &str,
        master_id: &str,
        original: Timestamp,
    ) -> Result<Option<RemoteEvent>, ProviderError> {
        let Some(master) = self.fetch_event(calendar, master_id).await?.as_ref().and_then(super::map::event_from_graph)
        else {
            return Ok(None);
        };
        let RemoteState::Present(input) = &master.state else { return Ok(None) };
        let Some(rules) = SeriesRules::of(input) else { return Ok(None) };
        let Some(g) = rules.occurrence_at(original) else { return Ok(None) };
        if self.occurrence(master_id, &g.original.to_input()).await?.is_some() {
            return Ok(None);
        }
        Ok(Some(rules.cancelled_stub(master_id, input, &g)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn weekly(start: &str, zone: &str, rule: &str) -> EventInput {
        serde_json::from_value(json!({
            "calendar_id": calsync_core::CalendarId::new(),
            "title": "Standup",
            "start": {"date_time": start, "time_zone": zone},
            "end": {"date_time": start.replace("T09:00", "T09:30"), "time_zone": zone},
            "recurrence": [rule],
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn occurrences_overlapping_the_window_are_generated_in_the_series_zone() {
        let master = weekly("2026-03-05T09:00:00", "Europe/Berlin", "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=6");
        let rules = SeriesRules::of(&master).unwrap_or_else(|| panic!("rules"));
        let window = ListingWindow { start: at("2026-03-12T08:15:00Z"), end: at("2026-03-27T00:00:00Z") };
        let got: Vec<String> = rules.occurrences_in(&window).iter().map(|g| key(&g.original)).collect();
        // The 12th (08:00Z–08:30Z) overlaps the window's start; 09:00 in Berlin is 08:00Z until 29 March.
        assert_eq!(got, ["20260312T080000Z", "20260319T080000Z", "20260326T080000Z"]);
    }

    #[test]
    fn the_missing_occurrence_becomes_a_cancelled_stub_with_a_stable_id() {
        let master = weekly("2026-03-05T09:00:00", "Europe/Berlin", "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=3");
        let rules = SeriesRules::of(&master).unwrap_or_else(|| panic!("rules"));
        let window = ListingWindow { start: at("2026-01-01T00:00:00Z"), end: at("2027-01-01T00:00:00Z") };
        let generated = rules.occurrences_in(&window);
        let listed: HashSet<String> = [
            json!({"originalStart": "2026-03-05T08:00:00Z"}),
            json!({"originalStart": "2026-03-19T08:00:00Z", "type": "exception"}),
        ]
        .iter()
        .filter_map(instance_key)
        .collect();
        let missing: Vec<&Generated> = generated.iter().filter(|g| !listed.contains(&key(&g.original))).collect();
        assert_eq!(missing.len(), 1);
        let stub = rules.cancelled_stub("AAMk=", &master, missing[0]);
        assert_eq!(stub.id, "AAMk=/2026-03-12T08:00:00Z");
        assert!(stub.stub);
        let series = stub.series.clone().unwrap_or_else(|| panic!("series"));
        assert_eq!(series.series_remote_id, "AAMk=");
        assert_eq!(series.original_start.date_time.as_deref(), Some("2026-03-12T09:00:00"));
        let RemoteState::Present(input) = &stub.state else { panic!("deleted?") };
        assert_eq!(input.status, Status::Cancelled);
        assert!(input.recurrence.is_empty());
        assert_eq!(input.end.date_time.as_deref(), Some("2026-03-12T09:30:00"));
        assert_eq!(parse_synthetic(&stub.id), Some(("AAMk=", at("2026-03-12T08:00:00Z"))));
        assert_eq!(rules.occurrence_at(at("2026-03-12T08:00:00Z")).as_ref(), Some(missing[0]));
        assert_eq!(rules.occurrence_at(at("2026-03-12T09:00:00Z")), None);
    }

    #[test]
    fn all_day_series_are_keyed_by_date() {
        let master: EventInput = serde_json::from_value(json!({
            "calendar_id": calsync_core::CalendarId::new(),
            "title": "Bins",
            "start": {"date": "2026-05-01"},
            "end": {"date": "2026-05-02"},
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let rules = SeriesRules::of(&master).unwrap_or_else(|| panic!("rules"));
        let window = ListingWindow { start: at("2026-01-01T00:00:00Z"), end: at("2027-01-01T00:00:00Z") };
        let keys: Vec<String> = rules.occurrences_in(&window).iter().map(|g| key(&g.original)).collect();
        assert_eq!(keys, ["20260501", "20260502", "20260503"]);
        let listed = instance_key(&json!({"originalStart": "2026-05-02T00:00:00Z", "isAllDay": true}));
        assert_eq!(listed.as_deref(), Some("20260502"));
        let g = &rules.occurrences_in(&window)[1];
        assert_eq!(synthetic_id("M", &g.original), "M/2026-05-02T00:00:00Z");
    }

    #[test]
    fn graph_ids_are_not_synthetic() {
        assert_eq!(parse_synthetic("AAMkADg3NjE2YmU1LTA4ZGEtNDQ3Yi05ZDI5LWQ1ZWMxYTAxYTE0ZgBGAAA="), None);
        assert_eq!(parse_synthetic("a/b"), None);
        assert_eq!(parse_synthetic("/2026-03-12T08:00:00Z"), None);
        assert_eq!(parse_synthetic("x/2026-03-12T08:00:00+01:00"), None);
    }
}
