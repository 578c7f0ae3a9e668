//! Series masters expanded into occurrences (protocols.md §2.2, §4.1, §4.3): the
//! `patternedRecurrence` becomes an RRULE (`calsync_core::patterned`), calsync-core's
//! recurrence engine generates the starts, and stored exceptions and cancellations apply.
//! An occurrence is named by its original start; all-day occurrences by midnight UTC of their
//! date, which is also what `originalStart` shows.

use super::error::{GraphError, GraphResult};
use super::event::{StoredEvent, Times};
use super::when::When;
use calsync_core::{EventTime, ZoneName};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// One occurrence of a series, as generated or as its exception changed it.
#[derive(Debug, Clone)]
pub struct Occ {
    /// Original start, Unix seconds: the occurrence's name.
    pub key: i64,
    pub times: Times,
    pub exception: bool,
}

fn day_key(d: Date) -> i64 {
    TimeZone::UTC.to_timestamp(d.to_datetime(jiff::civil::Time::midnight())).map_or(0, |t| t.as_second())
}

/// The original start an occurrence key stands for.
pub fn key_instant(key: i64) -> Timestamp {
    Timestamp::from_second(key).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The generated occurrences of `master` that start no later than `until`, ascending, as the
/// rule gives them (exceptions and cancellations not applied).
pub fn generated(master: &StoredEvent, until: Timestamp) -> GraphResult<Vec<Occ>> {
    let Some(rec) = &master.recurrence else { return Ok(Vec::new()) };
    let t = &master.times;
    let zone = t.zone();
    let rule = calsync_core::patterned::from_graph(rec, if t.all_day { None } else { Some(&zone) })
        .map_err(|e| GraphError::invalid_request(format!("Invalid recurrence pattern: {}", e.0)))?;
    let dtstart = match t.start {
        When::Day(d) => EventTime::Date(d),
        When::At(at) => {
            let name = zone.iana_name().unwrap_or("UTC");
            let zone_name = ZoneName::parse(name).unwrap_or_else(|_| ZoneName::utc());
            EventTime::DateTime { local: at.to_zoned_datetime(zone.clone()).datetime(), zone: zone_name }
        }
    };
    let recurrence = calsync_core::Recurrence::parse(&[rule], &dtstart)
        .map_err(|_| GraphError::invalid_request("Invalid recurrence pattern."))?;
    let horizon = until.to_zoned_datetime(zone.clone()).datetime();
    let starts = recurrence.starts(dtstart.civil(), Some(horizon));
    let length = t.end_at().duration_since(t.start_at());
    let days = match (t.start, t.end) {
        (When::Day(a), When::Day(b)) => a.until(b).map_or(1, |s| s.get_days()),
        _ => 0,
    };
    Ok(starts
        .starts
        .iter()
        .map(|(local, _)| {
            let times = match t.start {
                When::Day(_) => {
                    let d = local.date();
                    let end = d.checked_add(jiff::Span::new().days(days)).unwrap_or(d);
                    Times { start: When::Day(d), end: When::Day(end), ..t.clone() }
                }
                When::At(_) => {
                    let at = calsync_core::event_time::resolve(&zone, *local);
                    Times { start: When::At(at), end: When::At(at.checked_add(length).unwrap_or(at)), ..t.clone() }
                }
            };
            let key = match times.start {
                When::Day(d) => day_key(d),
                When::At(at) => at.as_second(),
            };
            Occ { key, times, exception: false }
        })
        .collect())
}

/// The occurrences of `master` that overlap `[from, to)`: generated ones not cancelled, with
/// exceptions in place of the ones they changed (an exception moved into the window counts).
pub fn in_window(master: &StoredEvent, from: Timestamp, to: Timestamp) -> GraphResult<Vec<Occ>> {
    let mut out: Vec<Occ> = generated(master, to)?
        .into_iter()
        .filter(|o| {
            !master.cancelled.contains_key(&o.key)
                && !master.exceptions.contains_key(&o.key)
                && o.times.overlaps(from, to)
        })
        .collect();
    for (key, x) in &master.exceptions {
        if !master.cancelled.contains_key(key) && x.times.overlaps(from, to) {
            out.push(Occ { key: *key, times: x.times.clone(), exception: true });
        }
    }
    out.sort_by_key(|o| (o.times.start_at(), o.key));
    Ok(out)
}

/// The occurrence `key` names, if the series has it and it is not cancelled.
pub fn find(master: &StoredEvent, key: i64) -> GraphResult<Option<Occ>> {
    if master.cancelled.contains_key(&key) {
        return Ok(None);
    }
    if let Some(x) = master.exceptions.get(&key) {
        return Ok(Some(Occ { key, times: x.times.clone(), exception: true }));
    }
    // All-day keys are midnight UTC; the date may start up to 14 h later in the series' zone.
    let until = key_instant(key).checked_add(jiff::SignedDuration::from_hours(48)).unwrap_or(Timestamp::MAX);
    Ok(generated(master, until)?.into_iter().find(|o| o.key == key))
}

/// Keys of every generated occurrence up to `until` (to drop exceptions a new rule no longer has).
pub fn keys_until(master: &StoredEvent, until: Timestamp) -> GraphResult<std::collections::BTreeSet<i64>> {
    Ok(generated(master, until)?.into_iter().map(|o| o.key).collect())
}
