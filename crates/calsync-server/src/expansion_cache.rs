//! Remembered occurrence starts of series, per event version.
//!
//! Generating a series' starts means iterating its rule from the first occurrence, so a
//! window years after the start of an endless series is expensive. The feed asks this cache
//! instead: an entry is valid for one version of one event and covers starts up to a local
//! horizon (a year past what was asked, so neighbouring windows hit too). A new version
//! simply misses, so nothing is ever stale.

use calsync_core::recurrence::Starts;
use calsync_core::{Event, EventId, StartsSource};
use jiff::ToSpan;
use jiff::civil::DateTime;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Entries beyond this are dropped all at once (cheap, and a full cache is rare).
const MAX_SERIES: usize = 20_000;
/// Start lists longer than this are not kept (a minutely rule over years).
const MAX_STARTS_KEPT: usize = 20_000;

#[derive(Debug, Default)]
pub struct ExpansionCache {
    entries: Mutex<HashMap<EventId, Entry>>,
}

#[derive(Debug)]
struct Entry {
    version: i64,
    until: DateTime,
    starts: Arc<Starts>,
}

impl StartsSource for ExpansionCache {
    fn starts(&self, series: &Event, horizon: DateTime) -> Arc<Starts> {
        if let Ok(entries) = self.entries.lock()
            && let Some(e) = entries.get(&series.id)
            && e.version == series.meta.version
            && (e.starts.complete || e.until >= horizon)
        {
            return e.starts.clone();
        }
        let until = horizon.saturating_add(1.year());
        let first = series.draft.schedule().start().civil();
        let starts = Arc::new(series.draft.recurrence().starts(first, Some(until)));
        if starts.starts.len() <= MAX_STARTS_KEPT
            && let Ok(mut entries) = self.entries.lock()
        {
            if entries.len() >= MAX_SERIES {
                entries.clear();
            }
            entries.insert(series.id, Entry { version: series.meta.version, until, starts: starts.clone() });
        }
        starts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calsync_core::event::{EventDraft, EventInput, EventMeta};
    use calsync_core::{CalendarId, ComputeStarts, Source, Window, occurrences_from};
    use jiff::Timestamp;
    use jiff::tz::TimeZone;

    fn series(rule: &str, version: i64) -> Event {
        let input: EventInput = serde_json::from_value(serde_json::json!({
            "calendar_id": CalendarId::new(), "title": "s",
            "start": {"date_time": "2026-01-05T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-01-05T10:00:00", "time_zone": "Europe/Berlin"},
            "recurrence": [rule],
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let meta = EventMeta { version, ..EventMeta::created(Timestamp::UNIX_EPOCH, Source::Local) };
        Event {
            id: EventId::from_uuid(uuid::Uuid::nil()),
            draft: EventDraft::parse(input).unwrap_or_else(|e| panic!("{e}")),
            meta,
        }
    }

    fn month(year: i16, month: i8) -> Window {
        let start = jiff::civil::date(year, month, 1).at(0, 0, 0, 0);
        let end = start.saturating_add(1.month());
        Window {
            start: TimeZone::UTC.to_timestamp(start).unwrap_or_default(),
            end: TimeZone::UTC.to_timestamp(end).unwrap_or_default(),
        }
    }

    fn starts_in(events: &[Event], w: &Window, source: &dyn StartsSource) -> Vec<Timestamp> {
        occurrences_from(events, w, &TimeZone::UTC, source).iter().map(|o| o.start_at).collect()
    }

    #[test]
    fn cached_starts_give_the_same_occurrences_in_any_order_of_windows() {
        // An endless rule, and one whose COUNT ends past the first horizons asked for.
        for rule in ["RRULE:FREQ=WEEKLY;BYDAY=MO,TH", "RRULE:FREQ=DAILY;COUNT=1500"] {
            let cache = ExpansionCache::default();
            let events = [series(rule, 1)];
            for (y, m) in [(2027, 12), (2029, 12), (2026, 2), (2034, 6), (2031, 11), (2026, 1), (2040, 3), (2026, 3)] {
                let w = month(y, m);
                assert_eq!(starts_in(&events, &w, &cache), starts_in(&events, &w, &ComputeStarts), "{rule} {y}-{m}");
            }
        }
    }

    #[test]
    fn a_new_version_never_sees_the_old_rule() {
        let cache = ExpansionCache::default();
        let w = month(2026, 2);
        let weekly = [series("RRULE:FREQ=WEEKLY", 1)];
        let daily = [series("RRULE:FREQ=DAILY", 2)];
        assert_eq!(starts_in(&weekly, &w, &cache).len(), 4);
        assert_eq!(starts_in(&daily, &w, &cache).len(), 28);
    }
}
