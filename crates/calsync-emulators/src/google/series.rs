//! Recurring events: the virtual instances of a master (protocols.md §1.4, §1.14 item 6).
//! Instances are not stored; exceptions and cancelled instances are stored children keyed by
//! the instance id `{master}_{YYYYMMDDTHHMMSSZ}` (timed) or `{master}_{YYYYMMDD}` (all-day).

use super::error::{ApiError, ApiResult};
use super::resource::StoredEvent;
use super::when::{When, add_days};
use calsync_core::{EventTime, Length, Recurrence};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

/// One occurrence of a series as the rule gives it.
#[derive(Debug, Clone)]
pub struct Occurrence {
    pub id: String,
    pub start: When,
    pub end: When,
}

pub fn instance_id(master_id: &str, original_start: &When) -> String {
    format!("{master_id}_{}", original_start.instance_key())
}

/// The occurrences of `master` that start no later than `until`, ascending.
/// `complete` is false when more exist after `until` (or past the expansion cap).
pub fn occurrences(
    master: &StoredEvent,
    all_day_zone: &TimeZone,
    until: Timestamp,
) -> ApiResult<(Vec<Occurrence>, bool)> {
    let (start, end) = master.times()?;
    let Some(dtstart) = start.event_time() else {
        return Ok((Vec::new(), true));
    };
    let recurrence = parse(master, &dtstart)?;
    let horizon_zone = match &dtstart {
        EventTime::Date(_) => all_day_zone.clone(),
        EventTime::DateTime { zone, .. } => zone.zone().clone(),
    };
    let horizon = until.to_zoned_datetime(horizon_zone).datetime();
    let starts = recurrence.starts(dtstart.civil(), Some(horizon));
    let days = start.days_until(&end);
    let duration = end.instant(all_day_zone).duration_since(start.instant(all_day_zone));
    let out = starts
        .starts
        .iter()
        .map(|(local, length)| {
            let (s, e) = match &dtstart {
                EventTime::Date(_) => {
                    let d = local.date();
                    let len = match length {
                        Some(Length::Days(n)) => *n,
                        _ => days,
                    };
                    (When::Date(d), When::Date(add_days(d, len)))
                }
                EventTime::DateTime { zone, .. } => {
                    let at = calsync_core::event_time::resolve(zone.zone(), *local);
                    let len = match length {
                        Some(Length::Exact(d)) => *d,
                        _ => duration,
                    };
                    let end_at = at.checked_add(len).unwrap_or(at);
                    (start.with_instant(at), end.with_instant(end_at))
                }
            };
            Occurrence { id: instance_id(&master.id, &s), start: s, end: e }
        })
        .collect();
    Ok((out, starts.complete))
}

/// The end (ms) of the series' last occurrence, or `None` when it never ends (or has more
/// occurrences than the expansion cap).
pub fn last_end_ms(master: &StoredEvent, all_day_zone: &TimeZone) -> ApiResult<Option<i64>> {
    let (start, _) = master.times()?;
    let Some(dtstart) = start.event_time() else { return Ok(None) };
    if parse(master, &dtstart)?.is_infinite() {
        return Ok(None);
    }
    let (occ, complete) = occurrences(master, all_day_zone, Timestamp::MAX)?;
    Ok(if complete { occ.last().map(|o| o.end.instant(all_day_zone).as_millisecond()) } else { None })
}

fn parse(master: &StoredEvent, dtstart: &EventTime) -> ApiResult<Recurrence> {
    let lines: Vec<String> = master
        .fields
        .get("recurrence")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    Recurrence::parse(&lines, dtstart).map_err(|_| ApiError::invalid("recurrence", "Invalid recurrence rule."))
}

/// The fields of a not-yet-stored instance: the master's, without `recurrence`, at the
/// occurrence's times. Used to render it and as the base when it becomes an exception.
pub fn instance_fields(master: &StoredEvent, occ: &Occurrence) -> serde_json::Map<String, Value> {
    let mut f = master.fields.clone();
    f.remove("recurrence");
    f.insert("start".into(), occ.start.render());
    f.insert("end".into(), occ.end.render());
    f
}

/// A virtual instance as `StoredEvent` (sharing the master's etag, times and uid).
pub fn virtual_instance(master: &StoredEvent, occ: &Occurrence, all_day_zone: &TimeZone) -> StoredEvent {
    StoredEvent {
        id: occ.id.clone(),
        fields: instance_fields(master, occ),
        recurring_event_id: Some(master.id.clone()),
        original_start: Some(occ.start.render()),
        start_ms: occ.start.instant(all_day_zone).as_millisecond(),
        end_ms: occ.end.instant(all_day_zone).as_millisecond(),
        endless: false,
        ..master.clone()
    }
}

/// A cancelled stub for an occurrence of a deleted series.
pub fn cancelled_stub(master: &StoredEvent, occ: &Occurrence) -> Value {
    json!({"kind": "calendar#event", "etag": master.etag, "id": occ.id, "status": "cancelled",
           "recurringEventId": master.id, "originalStartTime": occ.start.render()})
}
