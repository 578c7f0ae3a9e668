//! Recurrence lines (RFC 5545 §3.8.5: RRULE, RDATE, EXDATE) parsed against a series start,
//! and the generation of a series' occurrence starts.
//!
//! The rule engine is calcard's (a maintained fork of rust-rrule). We hand it only the RRULE,
//! in *floating* time (the series' local wall clock), and do zones, RDATE and EXDATE ourselves
//! with jiff. That way DST gaps and folds are resolved in one place ([`crate::event_time::resolve`])
//! and an UNTIL in UTC is compared in the series' own zone, as RFC 5545 §3.3.10 requires.

use crate::event_time::{EventTime, Length, resolve};
use crate::limits::{EXPANSION_MAX_OCCURRENCES, RECURRENCE_LINE_MAX_CHARS, RECURRENCE_LINES_MAX};
use crate::validation::Violations;
use crate::zone::ZoneName;
use calcard::icalendar::ICalendar;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span};
use std::collections::BTreeSet;

/// The parsed recurrence of a series. Keeps the lines as given so they round-trip exactly.
#[derive(Debug, Clone)]
pub struct Recurrence {
    lines: Vec<String>,
    rule: Option<Rule>,
    rdates: Vec<ExtraDate>,
    exdates: BTreeSet<DateTime>,
}

impl PartialEq for Recurrence {
    fn eq(&self, other: &Self) -> bool {
        self.lines == other.lines
    }
}
impl Eq for Recurrence {}

#[derive(Debug, Clone)]
struct Rule {
    /// The rule as handed to the engine (UNTIL rewritten to floating local time).
    calendar: ICalendar,
    /// COUNT or UNTIL present: the series ends.
    finite: bool,
}

/// An RDATE: an extra occurrence, optionally with its own length (RDATE;VALUE=PERIOD).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExtraDate {
    start: DateTime,
    length: Option<Length>,
}

/// The occurrence starts of a series in local (floating) time, ascending, with the
/// length of those that have their own (RDATE periods).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Starts {
    pub starts: Vec<(DateTime, Option<Length>)>,
    /// `false` when generation stopped at the cap or at the requested horizon, so later
    /// occurrences may exist.
    pub complete: bool,
}

const RRULE_PARTS: &[&str] = &[
    "FREQ",
    "UNTIL",
    "COUNT",
    "INTERVAL",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
];

impl Recurrence {
    /// Parses recurrence lines for a series starting at `start`. Field names in violations
    /// are `[i]` (the caller nests them under `recurrence`).
    ///
    /// # Errors
    /// Every line that breaks a rule, with the reason.
    pub fn parse(lines: &[String], start: &EventTime) -> Result<Self, Violations> {
        let mut v = Violations::new();
        if lines.len() > RECURRENCE_LINES_MAX {
            v.push("", "max_items", format!("has {} lines; at most {RECURRENCE_LINES_MAX} are allowed", lines.len()));
            return Err(v);
        }
        let mut out =
            Self { lines: Vec::with_capacity(lines.len()), rule: None, rdates: Vec::new(), exdates: BTreeSet::new() };
        for (i, raw) in lines.iter().enumerate() {
            let field = format!("[{i}]");
            let line = raw.trim();
            if line.chars().count() > RECURRENCE_LINE_MAX_CHARS {
                v.push(&field, "max_length", format!("is longer than {RECURRENCE_LINE_MAX_CHARS} characters"));
                continue;
            }
            if line.contains(['\r', '\n']) {
                v.push(&field, "recurrence", "must be a single line");
                continue;
            }
            out.lines.push(line.to_owned());
            if let Err(msg) = out.parse_line(line, start) {
                v.push(&field, "recurrence", msg);
            }
        }
        if v.is_empty() && out.rule.is_none() && out.rdates.is_empty() && !out.lines.is_empty() {
            v.push("", "recurrence", "has no RRULE or RDATE, so the series would have no occurrences besides its start; remove recurrence instead");
        }
        v.into_result(out)
    }

    fn parse_line(&mut self, line: &str, start: &EventTime) -> Result<(), String> {
        let (head, value) = line
            .split_once(':')
            .ok_or_else(|| format!("{line:?} is not a property line; expected e.g. RRULE:FREQ=WEEKLY;COUNT=10"))?;
        let mut parts = head.split(';');
        let name = parts.next().unwrap_or("").to_ascii_uppercase();
        let mut tzid = None;
        let mut value_type = None;
        for param in parts {
            let (k, val) = param.split_once('=').ok_or_else(|| format!("parameter {param:?} has no value"))?;
            match k.to_ascii_uppercase().as_str() {
                "TZID" => tzid = Some(ZoneName::parse(val.trim_matches('"'))?),
                "VALUE" => value_type = Some(val.to_ascii_uppercase()),
                other => return Err(format!("parameter {other} is not supported on {name}")),
            }
        }
        match name.as_str() {
            "RRULE" => {
                if self.rule.is_some() {
                    return Err("a series may have only one RRULE".into());
                }
                if tzid.is_some() || value_type.is_some() {
                    return Err("RRULE takes no parameters".into());
                }
                self.rule = Some(Rule::parse(value, start)?);
            }
            "RDATE" | "EXDATE" => {
                let is_rdate = name == "RDATE";
                let period = match value_type.as_deref() {
                    None | Some("DATE") | Some("DATE-TIME") => false,
                    Some("PERIOD") if is_rdate => true,
                    Some(other) => return Err(format!("VALUE={other} is not allowed on {name}")),
                };
                for item in value.split(',') {
                    if period {
                        self.rdates.push(parse_period(item, tzid.as_ref(), start)?);
                        continue;
                    }
                    let local = to_series_local(item, tzid.as_ref(), start)?;
                    if matches!(value_type.as_deref(), Some("DATE")) != (item.trim().len() == 8) {
                        return Err(format!(
                            "{item:?} does not match VALUE={}",
                            value_type.as_deref().unwrap_or("DATE-TIME")
                        ));
                    }
                    if is_rdate {
                        self.rdates.push(ExtraDate { start: local, length: None });
                    } else {
                        self.exdates.insert(local);
                    }
                }
            }
            "EXRULE" => return Err("EXRULE is deprecated (RFC 5545 appendix A.3) and not supported; use EXDATE".into()),
            "" => return Err("missing property name".into()),
            other => return Err(format!("{other} is not a recurrence property; use RRULE, RDATE or EXDATE")),
        }
        Ok(())
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The earliest RDATE (local time). RFC 5545 lets one lie before DTSTART, and then it is
    /// the series' first occurrence.
    pub fn earliest_extra(&self) -> Option<DateTime> {
        self.rdates.iter().map(|r| r.start).min()
    }

    /// The longest RDATE period, if any is longer than nothing.
    pub fn longest_period(&self) -> Option<Length> {
        self.rdates
            .iter()
            .filter_map(|r| match r.length {
                Some(Length::Exact(d)) => Some(d),
                _ => None,
            })
            .max()
            .map(Length::Exact)
    }

    /// `true` when the series never ends (an RRULE without COUNT or UNTIL).
    pub fn is_infinite(&self) -> bool {
        self.rule.as_ref().is_some_and(|r| !r.finite)
    }

    /// The series' occurrence starts from `dtstart` (always the first occurrence) up to and
    /// including `horizon` (local time), capped at [`EXPANSION_MAX_OCCURRENCES`].
    /// EXDATEs are removed; RDATEs added.
    pub fn starts(&self, dtstart: DateTime, horizon: Option<DateTime>) -> Starts {
        let mut out: Vec<(DateTime, Option<Length>)> = Vec::new();
        let mut complete = true;
        if let Some(rule) = &self.rule {
            let (dates, rule_complete) = rule.expand(horizon);
            complete = rule_complete;
            out.extend(dates.into_iter().map(|d| (d, None)));
        }
        out.push((dtstart, None));
        out.extend(self.rdates.iter().map(|r| (r.start, r.length)));
        out.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.is_some().cmp(&a.1.is_some())));
        out.dedup_by(|a, b| a.0 == b.0);
        out.retain(|(d, _)| !self.exdates.contains(d));
        if let Some(h) = horizon {
            let kept = out.partition_point(|(d, _)| *d <= h);
            // Anything cut here exists: the list is not the whole series.
            complete &= kept == out.len();
            out.truncate(kept);
        }
        Starts { starts: out, complete }
    }
}

impl Rule {
    fn parse(value: &str, start: &EventTime) -> Result<Self, String> {
        let mut seen = BTreeSet::new();
        let mut rewritten = Vec::new();
        let mut finite = false;
        for part in value.split(';').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| format!("RRULE part {part:?} is not KEY=VALUE"))?;
            let key = k.to_ascii_uppercase();
            if !RRULE_PARTS.contains(&key.as_str()) {
                return Err(format!("RRULE part {key} is not part of RFC 5545 (known: {})", RRULE_PARTS.join(", ")));
            }
            if !seen.insert(key.clone()) {
                return Err(format!("RRULE part {key} appears twice"));
            }
            if v.is_empty() {
                return Err(format!("RRULE part {key} has no value"));
            }
            match key.as_str() {
                "UNTIL" => {
                    finite = true;
                    let local = until_to_local(v, start)?;
                    rewritten.push(format!("UNTIL={}", local.strftime("%Y%m%dT%H%M%S")));
                }
                "COUNT" => {
                    finite = true;
                    match v.parse::<u32>() {
                        Ok(n) if n >= 1 => rewritten.push(format!("COUNT={n}")),
                        _ => return Err(format!("COUNT={v} must be a positive whole number")),
                    }
                }
                "INTERVAL" => match v.parse::<u16>() {
                    Ok(n) if n >= 1 => rewritten.push(format!("INTERVAL={n}")),
                    _ => return Err(format!("INTERVAL={v} must be a whole number from 1 to 65535")),
                },
                _ => rewritten.push(format!("{key}={}", v.to_ascii_uppercase())),
            }
        }
        if !seen.contains("FREQ") {
            return Err("RRULE needs FREQ (e.g. RRULE:FREQ=WEEKLY)".into());
        }
        if seen.contains("UNTIL") && seen.contains("COUNT") {
            return Err("RRULE may have COUNT or UNTIL, not both (RFC 5545 §3.3.10)".into());
        }
        let dtstart = start.civil().strftime("%Y%m%dT%H%M%S");
        let ics = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:r\r\nDTSTART:{dtstart}\r\nRRULE:{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            rewritten.join(";")
        );
        let calendar = ICalendar::parse(&ics).map_err(|_| format!("RRULE:{value} could not be read"))?;
        let valid_rule = calendar.components.iter().any(|c| {
            c.entries.iter().any(|e| {
                matches!(e.name, calcard::icalendar::ICalendarProperty::Rrule)
                    && matches!(e.values.first(), Some(calcard::icalendar::ICalendarValue::RecurrenceRule(_)))
            })
        });
        if !valid_rule {
            return Err(format!("RRULE:{value} is not a valid recurrence rule (RFC 5545 §3.3.10)"));
        }
        let probe = calendar.expand_dates(calcard::common::timezone::Tz::Floating, 1);
        if probe.errors.is_empty() && probe.events.is_empty() {
            return Err(format!(
                "RRULE:{value} produces no occurrence (e.g. BYMONTHDAY=30 with BYMONTH=2, or UNTIL before the first match)"
            ));
        }
        if let Some(err) = probe.errors.first() {
            return Err(match &err.error {
                calcard::icalendar::dates::CalendarErrorType::RRule(e) => format!("RRULE:{value} is not valid: {e}"),
                other => format!("RRULE:{value} is not valid: {other:?}"),
            });
        }
        Ok(Self { calendar, finite })
    }

    /// Rule dates up to `horizon`, and whether the rule is exhausted (vs. cut off).
    fn expand(&self, horizon: Option<DateTime>) -> (Vec<DateTime>, bool) {
        // The engine only has a count limit, so ask for a few and double until the horizon
        // is passed, the rule ends, or the cap is hit: at most twice the work of an exact stop.
        let mut limit = 64usize;
        loop {
            let expanded = self.calendar.expand_dates(calcard::common::timezone::Tz::Floating, limit);
            let dates: Vec<DateTime> =
                expanded.events.iter().filter_map(|e| from_chrono(e.start.naive_local())).collect();
            let exhausted = dates.len() < limit;
            let past_horizon = match (horizon, dates.iter().max()) {
                (Some(h), Some(last)) => *last > h,
                _ => false,
            };
            if exhausted || past_horizon || limit >= EXPANSION_MAX_OCCURRENCES {
                return (dates, exhausted);
            }
            limit = (limit * 2).min(EXPANSION_MAX_OCCURRENCES);
        }
    }
}

fn from_chrono(n: chrono::NaiveDateTime) -> Option<DateTime> {
    use chrono::{Datelike, Timelike};
    DateTime::new(
        i16::try_from(n.year()).ok()?,
        i8::try_from(n.month()).ok()?,
        i8::try_from(n.day()).ok()?,
        i8::try_from(n.hour()).ok()?,
        i8::try_from(n.minute()).ok()?,
        i8::try_from(n.second()).ok()?,
        0,
    )
    .ok()
}

/// An iCalendar DATE or DATE-TIME value (RFC 5545 §3.3.4, §3.3.5).
enum IcalValue {
    Date(Date),
    Floating(DateTime),
    Utc(DateTime),
}

/// Parses a DATE or DATE-TIME and checks its year is in the range events may use.
fn parse_ical_value(s: &str) -> Result<IcalValue, String> {
    let value = parse_ical_value_any_year(s)?;
    let year = match &value {
        IcalValue::Date(d) => d.year(),
        IcalValue::Floating(dt) | IcalValue::Utc(dt) => dt.year(),
    };
    if (1900..=2200).contains(&year) { Ok(value) } else { Err(format!("{s:?}: year {year} is outside 1900..=2200")) }
}

fn parse_ical_value_any_year(s: &str) -> Result<IcalValue, String> {
    let s = s.trim();
    let bad = || format!("{s:?} is not an iCalendar date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS[Z])");
    let num = |r: std::ops::Range<usize>| -> Result<i16, String> {
        s.get(r).filter(|d| d.bytes().all(|b| b.is_ascii_digit())).and_then(|d| d.parse().ok()).ok_or_else(bad)
    };
    let date =
        || -> Result<Date, String> { Date::new(num(0..4)?, num(4..6)? as i8, num(6..8)? as i8).map_err(|_| bad()) };
    match s.len() {
        8 => Ok(IcalValue::Date(date()?)),
        15 | 16 if s.as_bytes()[8] == b'T' => {
            let time = Time::new(num(9..11)? as i8, num(11..13)? as i8, num(13..15)? as i8, 0).map_err(|_| bad())?;
            let dt = date()?.to_datetime(time);
            match s.as_bytes().get(15) {
                None => Ok(IcalValue::Floating(dt)),
                Some(b'Z') => Ok(IcalValue::Utc(dt)),
                Some(_) => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

/// Converts an RDATE/EXDATE value to the series' local wall-clock time.
fn to_series_local(item: &str, tzid: Option<&ZoneName>, start: &EventTime) -> Result<DateTime, String> {
    let value = parse_ical_value(item)?;
    match (start, value) {
        (EventTime::Date(_), IcalValue::Date(d)) => Ok(d.to_datetime(Time::midnight())),
        (EventTime::Date(_), _) => Err(format!("{item:?}: an all-day series takes dates (VALUE=DATE, YYYYMMDD)")),
        (EventTime::DateTime { .. }, IcalValue::Date(_)) => {
            Err(format!("{item:?}: a timed series takes date-times (YYYYMMDDTHHMMSS), not dates"))
        }
        (EventTime::DateTime { zone, .. }, IcalValue::Floating(dt)) => Ok(match tzid {
            Some(z) if z != zone => resolve(z.zone(), dt).to_zoned_datetime(zone.zone().clone()).datetime(),
            _ => dt,
        }),
        (EventTime::DateTime { zone, .. }, IcalValue::Utc(dt)) => {
            Ok(resolve(&TimeZone::UTC, dt).to_zoned_datetime(zone.zone().clone()).datetime())
        }
    }
}

/// UNTIL in the series' local time. RFC 5545 wants UNTIL in UTC for zoned starts and a DATE
/// for all-day starts; providers send all sorts, so every form is accepted and converted.
fn until_to_local(v: &str, start: &EventTime) -> Result<DateTime, String> {
    // "Forever" is often written as UNTIL=99991231…: past 2200 there is nothing to generate anyway.
    let value = match parse_ical_value_any_year(v).map_err(|e| format!("UNTIL: {e}"))? {
        IcalValue::Date(d) if d.year() > 2200 => IcalValue::Date(jiff::civil::date(2200, 12, 31)),
        IcalValue::Floating(dt) | IcalValue::Utc(dt) if dt.year() > 2200 => {
            IcalValue::Floating(jiff::civil::date(2200, 12, 31).at(23, 59, 59, 0))
        }
        other => other,
    };
    Ok(match (start, value) {
        (EventTime::Date(_), IcalValue::Date(d)) => d.to_datetime(Time::midnight()),
        (EventTime::Date(_), IcalValue::Floating(dt) | IcalValue::Utc(dt)) => dt,
        // A date UNTIL on a timed series includes that whole local day.
        (EventTime::DateTime { .. }, IcalValue::Date(d)) => d.to_datetime(Time::constant(23, 59, 59, 0)),
        (EventTime::DateTime { .. }, IcalValue::Floating(dt)) => dt,
        (EventTime::DateTime { zone, .. }, IcalValue::Utc(dt)) => {
            resolve(&TimeZone::UTC, dt).to_zoned_datetime(zone.zone().clone()).datetime()
        }
    })
}

fn parse_period(item: &str, tzid: Option<&ZoneName>, start: &EventTime) -> Result<ExtraDate, String> {
    if start.is_all_day() {
        return Err("VALUE=PERIOD needs a timed series".into());
    }
    let (from, to) =
        item.split_once('/').ok_or_else(|| format!("{item:?} is not a period (start/end or start/duration)"))?;
    let local = to_series_local(from, tzid, start)?;
    let EventTime::DateTime { zone, .. } = start else {
        return Err("VALUE=PERIOD needs a timed series".into());
    };
    let begin = resolve(zone.zone(), local);
    let length = if to.starts_with(['P', '+', '-']) {
        let span: Span = to.parse().map_err(|_| format!("{to:?} is not an ISO 8601 duration"))?;
        span.to_duration(&begin.to_zoned_datetime(zone.zone().clone())).map_err(|e| e.to_string())?
    } else {
        let end = resolve(zone.zone(), to_series_local(to, tzid, start)?);
        end.duration_since(begin)
    };
    if length <= SignedDuration::ZERO {
        return Err(format!("period {item:?} must end after it starts"));
    }
    if length > SignedDuration::from_hours(24 * crate::limits::EVENT_MAX_DAYS) {
        return Err(format!("period {item:?} is longer than {} days", crate::limits::EVENT_MAX_DAYS));
    }
    Ok(ExtraDate { start: local, length: Some(Length::Exact(length)) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_time::EventTimeInput;

    fn berlin(dt: &str) -> EventTime {
        EventTime::parse(&EventTimeInput {
            date: None,
            date_time: Some(dt.into()),
            time_zone: Some("Europe/Berlin".into()),
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn lines(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let start = berlin("2026-03-02T09:00:00");
        let cases = [
            ("RRULE:FREQ=SOMETIMES", "not a valid recurrence rule"),
            ("RRULE:COUNT=3", "needs FREQ"),
            ("RRULE:FREQ=DAILY;COUNT=3;UNTIL=20260401T000000Z", "COUNT or UNTIL"),
            ("RRULE:FREQ=DAILY;BOGUS=1", "not part of RFC 5545"),
            ("RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "produces no occurrence"),
            ("RDATE;VALUE=PERIOD:20260401T080000Z/P4000D", "longer than"),
            ("EXDATE:99991231T090000Z", "outside 1900..=2200"),
            ("RRULE:FREQ=DAILY;COUNT=0", "positive"),
            ("EXRULE:FREQ=DAILY", "deprecated"),
            ("EXDATE;VALUE=DATE:20260309", "takes date-times"),
            ("EXDATE:20260309", "date-times"),
            ("EXDATE:2026-03-09", "not an iCalendar date"),
            ("SUMMARY:hello", "not a recurrence property"),
            ("RRULE FREQ=DAILY", "not a property line"),
            ("EXDATE;TZID=Mars/Base:20260309T090000", "not a known IANA"),
        ];
        for (line, expect) in cases {
            let err = Recurrence::parse(&lines(&["RRULE:FREQ=WEEKLY", line]), &start)
                .map(|_| ())
                .err()
                .map(|v| v.to_string())
                .unwrap_or_default();
            let err = if line.starts_with("RRULE") {
                Recurrence::parse(&lines(&[line]), &start).err().map(|v| v.to_string()).unwrap_or_default()
            } else {
                err
            };
            assert!(err.contains(expect), "{line}: {err:?} should contain {expect:?}");
        }
    }

    #[test]
    fn until_in_utc_is_compared_in_the_series_zone() {
        // 09:00 Berlin = 08:00Z in March. UNTIL=…T080000Z must include the occurrence on that day.
        let start = berlin("2026-03-02T09:00:00");
        let r = Recurrence::parse(&lines(&["RRULE:FREQ=DAILY;UNTIL=20260304T080000Z"]), &start)
            .unwrap_or_else(|e| panic!("{e}"));
        let s = r.starts(start.civil(), None);
        assert_eq!(s.starts.len(), 3, "{s:?}");
        assert!(s.complete);
        assert!(!r.is_infinite());
    }

    #[test]
    fn exdate_in_another_zone_removes_the_matching_instance() {
        let start = berlin("2026-03-02T09:00:00");
        let r = Recurrence::parse(
            &lines(&[
                "RRULE:FREQ=DAILY;COUNT=4",
                "EXDATE:20260303T080000Z",
                "RDATE;TZID=America/New_York:20260310T040000",
            ]),
            &start,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<String> = r.starts(start.civil(), None).starts.iter().map(|(d, _)| d.to_string()).collect();
        assert_eq!(got, ["2026-03-02T09:00:00", "2026-03-04T09:00:00", "2026-03-05T09:00:00", "2026-03-10T09:00:00"]);
    }

    #[test]
    fn infinite_rules_stop_at_the_horizon() {
        let start = berlin("2020-01-01T09:00:00");
        let r = Recurrence::parse(&lines(&["RRULE:FREQ=DAILY"]), &start).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.is_infinite());
        let horizon = jiff::civil::datetime(2020, 3, 1, 0, 0, 0, 0);
        let s = r.starts(start.civil(), Some(horizon));
        assert!(!s.complete);
        assert_eq!(s.starts.len(), 60);
    }
}
