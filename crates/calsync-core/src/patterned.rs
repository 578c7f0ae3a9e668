//! Microsoft Graph's `patternedRecurrence` ⇄ RFC 5545 RRULE (protocols.md §4.3), both
//! ways, for every pattern type Graph has. A rule Graph cannot express is an error naming
//! the part, never silently changed.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// A recurrence as Graph spells it: `{pattern, range}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternedRecurrence {
    pub pattern: Pattern,
    pub range: Range,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pattern {
    #[serde(rename = "type")]
    pub kind: PatternKind,
    pub interval: u32,
    /// 1–12 for the yearly types; Graph sends 0 otherwise.
    #[serde(default)]
    pub month: u8,
    /// 1–31 for the absolute types; Graph sends 0 otherwise.
    #[serde(default)]
    pub day_of_month: u8,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days_of_week: Vec<Weekday>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_day_of_week: Option<Weekday>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<WeekIndex>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PatternKind {
    Daily,
    Weekly,
    AbsoluteMonthly,
    RelativeMonthly,
    AbsoluteYearly,
    RelativeYearly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Weekday {
    Sunday,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Sunday, "SU"),
    (Weekday::Monday, "MO"),
    (Weekday::Tuesday, "TU"),
    (Weekday::Wednesday, "WE"),
    (Weekday::Thursday, "TH"),
    (Weekday::Friday, "FR"),
    (Weekday::Saturday, "SA"),
];

impl Weekday {
    fn ical(self) -> &'static str {
        WEEKDAYS.iter().find(|(d, _)| *d == self).map_or("MO", |(_, s)| s)
    }

    fn from_ical(s: &str) -> Option<Self> {
        WEEKDAYS.iter().find(|(_, t)| *t == s).map(|(d, _)| *d)
    }

    fn of(date: Date) -> Self {
        let n = date.weekday().to_sunday_zero_offset();
        WEEKDAYS[usize::try_from(n).unwrap_or(0) % 7].0
    }
}

/// Which week of the month: Graph has first to fourth, and last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WeekIndex {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

const INDEXES: [(WeekIndex, i8); 5] = [
    (WeekIndex::First, 1),
    (WeekIndex::Second, 2),
    (WeekIndex::Third, 3),
    (WeekIndex::Fourth, 4),
    (WeekIndex::Last, -1),
];

impl WeekIndex {
    fn number(self) -> i8 {
        INDEXES.iter().find(|(i, _)| *i == self).map_or(1, |(_, n)| *n)
    }

    fn from_number(n: i8) -> Option<Self> {
        INDEXES.iter().find(|(_, m)| *m == n).map(|(i, _)| *i)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: RangeKind,
    pub start_date: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_occurrences: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence_time_zone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RangeKind {
    EndDate,
    NoEnd,
    Numbered,
}

/// A rule Graph cannot hold (or a pattern that is not a rule), with the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this recurrence cannot be written to Outlook: {0}")]
pub struct Untranslatable(pub String);

fn no(why: impl Into<String>) -> Untranslatable {
    Untranslatable(why.into())
}

/// The RRULE's parts, upper-cased keys.
fn parts(rule: &str) -> Result<Vec<(String, String)>, Untranslatable> {
    let body = rule.trim().strip_prefix("RRULE:").unwrap_or(rule.trim());
    body.split(';')
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_ascii_uppercase(), v.trim().to_ascii_uppercase()))
                .ok_or_else(|| no(format!("{p:?} is not KEY=VALUE")))
        })
        .collect()
}

/// `BYDAY` entries: an optional ordinal and a day.
fn by_day(value: &str) -> Result<Vec<(Option<i8>, Weekday)>, Untranslatable> {
    value
        .split(',')
        .map(|entry| {
            let split = entry.len().saturating_sub(2);
            let (ordinal, day) = entry.split_at(split);
            let day = Weekday::from_ical(day).ok_or_else(|| no(format!("BYDAY {entry:?} is not a weekday")))?;
            let ordinal = if ordinal.is_empty() {
                None
            } else {
                Some(ordinal.trim_start_matches('+').parse::<i8>().map_err(|_| no(format!("BYDAY {entry:?}")))?)
            };
            Ok((ordinal, day))
        })
        .collect()
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, Untranslatable> {
    value.parse().map_err(|_| no(format!("{key}={value} is not a number Outlook takes")))
}

/// The Graph recurrence of `rule` for a series starting on `start` (its first occurrence's
/// date in `zone`, the series' zone name as the event gives it).
///
/// # Errors
/// Anything Graph cannot express: BYHOUR/BYMINUTE/BYSECOND, BYWEEKNO, BYYEARDAY, several or
/// negative BYMONTHDAY, a fifth week, HOURLY and finer, several months.
pub fn to_graph(rule: &str, start: Date, zone: &str) -> Result<PatternedRecurrence, Untranslatable> {
    let mut freq = None;
    let mut interval = 1u32;
    let (mut days, mut month_days, mut months, mut setpos) = (Vec::new(), Vec::new(), Vec::new(), None);
    let (mut count, mut until, mut wkst) = (None, None, None);
    for (key, value) in parts(rule)? {
        match key.as_str() {
            "FREQ" => freq = Some(value),
            "INTERVAL" => interval = number("INTERVAL", &value)?,
            "BYDAY" => days = by_day(&value)?,
            "BYMONTHDAY" => {
                month_days = value.split(',').map(|v| number::<i8>("BYMONTHDAY", v)).collect::<Result<_, _>>()?;
            }
            "BYMONTH" => months = value.split(',').map(|v| number::<u8>("BYMONTH", v)).collect::<Result<_, _>>()?,
            "BYSETPOS" => setpos = Some(number::<i8>("BYSETPOS", &value)?),
            "COUNT" => count = Some(number::<u32>("COUNT", &value)?),
            "UNTIL" => until = Some(value),
            "WKST" => wkst = Some(Weekday::from_ical(&value).ok_or_else(|| no(format!("WKST={value}")))?),
            other => return Err(no(format!("{other} has no Outlook equivalent"))),
        }
    }
    if interval == 0 {
        return Err(no("INTERVAL=0"));
    }
    if months.len() > 1 {
        return Err(no("more than one BYMONTH"));
    }
    if month_days.len() > 1 || month_days.iter().any(|d| !(1..=31).contains(d)) {
        return Err(no("BYMONTHDAY must be one day from 1 to 31 for Outlook"));
    }
    let day_of_month = month_days.first().map_or(0, |d| u8::try_from(*d).unwrap_or(0));
    // The week index: an ordinal on the days (all the same), or BYSETPOS.
    let ordinals: Vec<Option<i8>> = days.iter().map(|(o, _)| *o).collect();
    let ordinal = match (ordinals.first().copied().flatten(), setpos) {
        (Some(o), None) if ordinals.iter().all(|x| *x == Some(o)) => Some(o),
        (Some(_), _) => return Err(no("BYDAY with different week numbers")),
        (None, Some(p)) if ordinals.iter().all(Option::is_none) => Some(p),
        (None, _) => None,
    };
    let index = ordinal
        .map(|o| {
            WeekIndex::from_number(o).ok_or_else(|| no(format!("week {o} of the month (Outlook has 1–4 and last)")))
        })
        .transpose()?;
    let weekdays: Vec<Weekday> = days.iter().map(|(_, d)| *d).collect();
    let month = months.first().copied().unwrap_or(0);
    let plain = |kind| Pattern {
        kind,
        interval,
        month: 0,
        day_of_month: 0,
        days_of_week: Vec::new(),
        first_day_of_week: None,
        index: None,
    };
    let pattern = match freq.as_deref() {
        Some("DAILY") if weekdays.is_empty() && month == 0 && day_of_month == 0 => plain(PatternKind::Daily),
        // "Every weekday" written as DAILY;BYDAY=…: the same as weekly on those days.
        Some("DAILY") if interval == 1 && index.is_none() && month == 0 && day_of_month == 0 => Pattern {
            days_of_week: weekdays,
            first_day_of_week: Some(wkst.unwrap_or(Weekday::Monday)),
            ..plain(PatternKind::Weekly)
        },
        Some("WEEKLY") if index.is_none() && month == 0 && day_of_month == 0 => Pattern {
            days_of_week: if weekdays.is_empty() { vec![Weekday::of(start)] } else { weekdays },
            first_day_of_week: Some(wkst.unwrap_or(Weekday::Monday)),
            ..plain(PatternKind::Weekly)
        },
        Some("MONTHLY") if month == 0 && index.is_some() && day_of_month == 0 => {
            Pattern { days_of_week: weekdays, index, ..plain(PatternKind::RelativeMonthly) }
        }
        Some("MONTHLY") if month == 0 && weekdays.is_empty() => Pattern {
            day_of_month: if day_of_month == 0 { start.day().unsigned_abs() } else { day_of_month },
            ..plain(PatternKind::AbsoluteMonthly)
        },
        Some("YEARLY") if index.is_some() && day_of_month == 0 => Pattern {
            month: if month == 0 { start.month().unsigned_abs() } else { month },
            days_of_week: weekdays,
            index,
            ..plain(PatternKind::RelativeYearly)
        },
        Some("YEARLY") if weekdays.is_empty() => Pattern {
            month: if month == 0 { start.month().unsigned_abs() } else { month },
            day_of_month: if day_of_month == 0 { start.day().unsigned_abs() } else { day_of_month },
            ..plain(PatternKind::AbsoluteYearly)
        },
        Some(f @ ("HOURLY" | "MINUTELY" | "SECONDLY")) => return Err(no(format!("FREQ={f}"))),
        Some(f) => return Err(no(format!("FREQ={f} with these BY parts"))),
        None => return Err(no("no FREQ")),
    };
    let zone_name = Some(zone.to_owned());
    let range = match (count, until) {
        (Some(_), Some(_)) => return Err(no("both COUNT and UNTIL")),
        (Some(n), None) => Range {
            kind: RangeKind::Numbered,
            start_date: start,
            end_date: None,
            number_of_occurrences: Some(n),
            recurrence_time_zone: zone_name,
        },
        (None, Some(u)) => Range {
            kind: RangeKind::EndDate,
            start_date: start,
            end_date: Some(until_date(&u, zone)?),
            number_of_occurrences: None,
            recurrence_time_zone: zone_name,
        },
        (None, None) => Range {
            kind: RangeKind::NoEnd,
            start_date: start,
            end_date: None,
            number_of_occurrences: None,
            recurrence_time_zone: zone_name,
        },
    };
    Ok(PatternedRecurrence { pattern, range })
}

/// UNTIL as the date Graph wants: in the series' zone (Graph's end date is a date).
fn until_date(until: &str, zone: &str) -> Result<Date, Untranslatable> {
    let bad = || no(format!("UNTIL={until}"));
    if until.len() == 8 {
        return Date::strptime("%Y%m%d", until).map_err(|_| bad());
    }
    let stamp = until.strip_suffix('Z').ok_or_else(bad)?;
    let utc = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%S", stamp).map_err(|_| bad())?;
    let at = crate::event_time::resolve(&jiff::tz::TimeZone::UTC, utc);
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    Ok(at.to_zoned_datetime(tz).date())
}

/// The RRULE (`RRULE:…`) of a Graph recurrence. `zone` is the series' zone (for an end
/// date on a timed series: the end of that day there, in UTC); `None` for an all-day series.
///
/// # Errors
/// A pattern missing what its type needs (no days for weekly, no month for yearly, …).
pub fn from_graph(
    recurrence: &PatternedRecurrence,
    zone: Option<&jiff::tz::TimeZone>,
) -> Result<String, Untranslatable> {
    let p = &recurrence.pattern;
    let days = || {
        if p.days_of_week.is_empty() {
            return Err(no(format!("a {:?} pattern without days of the week", p.kind)));
        }
        Ok(p.days_of_week.iter().map(|d| d.ical()).collect::<Vec<_>>().join(","))
    };
    let month = || if (1..=12).contains(&p.month) { Ok(p.month) } else { Err(no(format!("month {}", p.month))) };
    let day_of_month = || {
        if (1..=31).contains(&p.day_of_month) { Ok(p.day_of_month) } else { Err(no(format!("day {}", p.day_of_month))) }
    };
    let index = || p.index.ok_or_else(|| no(format!("a {:?} pattern without an index", p.kind)));
    // One day with the week number on it (BYDAY=2TH); several days share it via BYSETPOS.
    let relative = || -> Result<String, Untranslatable> {
        let n = index()?.number();
        Ok(if p.days_of_week.len() == 1 {
            format!("BYDAY={n}{}", days()?)
        } else {
            format!("BYDAY={};BYSETPOS={n}", days()?)
        })
    };
    let mut rule = String::from("RRULE:");
    let body = match p.kind {
        PatternKind::Daily => "FREQ=DAILY".to_owned(),
        PatternKind::Weekly => {
            let mut b = format!("FREQ=WEEKLY;BYDAY={}", days()?);
            if let Some(w) = p.first_day_of_week.filter(|w| *w != Weekday::Monday) {
                let _ = write!(b, ";WKST={}", w.ical());
            }
            b
        }
        PatternKind::AbsoluteMonthly => format!("FREQ=MONTHLY;BYMONTHDAY={}", day_of_month()?),
        PatternKind::RelativeMonthly => format!("FREQ=MONTHLY;{}", relative()?),
        PatternKind::AbsoluteYearly => format!("FREQ=YEARLY;BYMONTH={};BYMONTHDAY={}", month()?, day_of_month()?),
        PatternKind::RelativeYearly => format!("FREQ=YEARLY;BYMONTH={};{}", month()?, relative()?),
    };
    rule.push_str(&body);
    if p.interval > 1 {
        let _ = write!(rule, ";INTERVAL={}", p.interval);
    }
    let r = &recurrence.range;
    match r.kind {
        RangeKind::NoEnd => {}
        RangeKind::Numbered => {
            let n =
                r.number_of_occurrences.filter(|n| *n > 0).ok_or_else(|| no("a numbered range without a number"))?;
            let _ = write!(rule, ";COUNT={n}");
        }
        RangeKind::EndDate => {
            let end = r.end_date.ok_or_else(|| no("an end-date range without an end date"))?;
            match zone {
                None => {
                    let _ = write!(rule, ";UNTIL={}", end.strftime("%Y%m%d"));
                }
                Some(tz) => {
                    // The whole end date counts: until its last second there.
                    let last = crate::event_time::resolve(tz, end.at(23, 59, 59, 0));
                    let utc = last.to_zoned_datetime(jiff::tz::TimeZone::UTC);
                    let _ = write!(rule, ";UNTIL={}", utc.strftime("%Y%m%dT%H%M%SZ"));
                }
            }
        }
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn start() -> Date {
        jiff::civil::date(2026, 3, 12) // a Thursday
    }

    /// Each row: an RRULE, the Graph pattern it becomes, and the RRULE Graph's pattern
    /// reads back as (the same rule, in calsync's spelling).
    #[test]
    fn every_pattern_type_and_range_goes_both_ways() {
        let rows = [
            ("RRULE:FREQ=DAILY", json!({"type": "daily", "interval": 1}), "RRULE:FREQ=DAILY"),
            (
                "RRULE:FREQ=DAILY;INTERVAL=3;COUNT=10",
                json!({"type": "daily", "interval": 3}),
                "RRULE:FREQ=DAILY;INTERVAL=3;COUNT=10",
            ),
            (
                "RRULE:FREQ=WEEKLY;BYDAY=MO,WE",
                json!({"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "wednesday"], "firstDayOfWeek": "monday"}),
                "RRULE:FREQ=WEEKLY;BYDAY=MO,WE",
            ),
            (
                "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;WKST=SU",
                json!({"type": "weekly", "interval": 2, "daysOfWeek": ["tuesday"], "firstDayOfWeek": "sunday"}),
                "RRULE:FREQ=WEEKLY;BYDAY=TU;WKST=SU;INTERVAL=2",
            ),
            (
                "RRULE:FREQ=WEEKLY",
                json!({"type": "weekly", "interval": 1, "daysOfWeek": ["thursday"], "firstDayOfWeek": "monday"}),
                "RRULE:FREQ=WEEKLY;BYDAY=TH",
            ),
            (
                "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
                json!({"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"], "firstDayOfWeek": "monday"}),
                "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            ),
            (
                "RRULE:FREQ=MONTHLY;BYMONTHDAY=15",
                json!({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 15}),
                "RRULE:FREQ=MONTHLY;BYMONTHDAY=15",
            ),
            (
                "RRULE:FREQ=MONTHLY",
                json!({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 12}),
                "RRULE:FREQ=MONTHLY;BYMONTHDAY=12",
            ),
            (
                "RRULE:FREQ=MONTHLY;BYDAY=2TH",
                json!({"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["thursday"], "index": "second"}),
                "RRULE:FREQ=MONTHLY;BYDAY=2TH",
            ),
            (
                "RRULE:FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1",
                json!({"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"}),
                "RRULE:FREQ=MONTHLY;BYDAY=-1FR",
            ),
            (
                "RRULE:FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=1",
                json!({"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["monday", "tuesday"], "index": "first"}),
                "RRULE:FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=1",
            ),
            (
                "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15",
                json!({"type": "absoluteYearly", "interval": 1, "month": 3, "dayOfMonth": 15}),
                "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15",
            ),
            (
                "RRULE:FREQ=YEARLY",
                json!({"type": "absoluteYearly", "interval": 1, "month": 3, "dayOfMonth": 12}),
                "RRULE:FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=12",
            ),
            (
                "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
                json!({"type": "relativeYearly", "interval": 1, "month": 11, "daysOfWeek": ["thursday"], "index": "fourth"}),
                "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
            ),
        ];
        for (rule, pattern, back) in rows {
            let graph = to_graph(rule, start(), "Europe/Berlin").unwrap_or_else(|e| panic!("{rule}: {e}"));
            let expected: Pattern =
                serde_json::from_value(pattern.clone()).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(graph.pattern, expected, "{rule}");
            assert_eq!(from_graph(&graph, None).as_deref(), Ok(back), "{rule} read back");
            let again = to_graph(back, start(), "Europe/Berlin").unwrap_or_else(|e| panic!("{back}: {e}"));
            assert_eq!(again.pattern, graph.pattern, "{rule}: stable after one round trip");
        }
    }

    #[test]
    fn ranges_carry_count_end_date_in_the_series_zone_or_no_end() {
        let numbered = to_graph("RRULE:FREQ=DAILY;COUNT=5", start(), "Europe/Berlin").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            serde_json::to_value(&numbered.range).unwrap_or_default(),
            json!({"type": "numbered", "startDate": "2026-03-12", "numberOfOccurrences": 5, "recurrenceTimeZone": "Europe/Berlin"})
        );
        // 23:30 UTC on the 31st is already April 1st in Berlin.
        let ended = to_graph("RRULE:FREQ=DAILY;UNTIL=20260331T223000Z", start(), "Europe/Berlin")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((ended.range.kind, ended.range.end_date), (RangeKind::EndDate, Some(jiff::civil::date(2026, 4, 1))));
        let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from_graph(&ended, Some(&tz)).as_deref(), Ok("RRULE:FREQ=DAILY;UNTIL=20260401T215959Z"));
        assert_eq!(from_graph(&ended, None).as_deref(), Ok("RRULE:FREQ=DAILY;UNTIL=20260401"), "all-day: a date");
        let open = to_graph("RRULE:FREQ=DAILY", start(), "UTC").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(open.range.kind, RangeKind::NoEnd);
    }

    #[test]
    fn graph_s_own_json_reads_including_its_zero_defaults() {
        let from_graph_api = json!({
            "pattern": {"type": "relativeMonthly", "interval": 1, "month": 0, "dayOfMonth": 0,
                        "daysOfWeek": ["thursday"], "firstDayOfWeek": "sunday", "index": "second"},
            "range": {"type": "numbered", "startDate": "2026-03-12", "endDate": "0001-01-01",
                      "recurrenceTimeZone": "W. Europe Standard Time", "numberOfOccurrences": 12}
        });
        let r: PatternedRecurrence = serde_json::from_value(from_graph_api).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from_graph(&r, None).as_deref(), Ok("RRULE:FREQ=MONTHLY;BYDAY=2TH;COUNT=12"));
    }

    #[test]
    fn what_outlook_cannot_hold_is_refused_with_the_reason() {
        for (rule, part) in [
            ("RRULE:FREQ=HOURLY", "HOURLY"),
            ("RRULE:FREQ=DAILY;BYHOUR=9,17", "BYHOUR"),
            ("RRULE:FREQ=YEARLY;BYWEEKNO=20", "BYWEEKNO"),
            ("RRULE:FREQ=YEARLY;BYYEARDAY=100", "BYYEARDAY"),
            ("RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY"),
            ("RRULE:FREQ=MONTHLY;BYMONTHDAY=-1", "BYMONTHDAY"),
            ("RRULE:FREQ=MONTHLY;BYDAY=5MO", "week 5"),
            ("RRULE:FREQ=MONTHLY;BYDAY=1MO,2TU", "different week"),
            ("RRULE:FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1", "BYMONTH"),
            ("RRULE:FREQ=DAILY;COUNT=3;UNTIL=20260401", "both COUNT and UNTIL"),
            ("RRULE:INTERVAL=2", "no FREQ"),
        ] {
            let err = to_graph(rule, start(), "UTC").err().unwrap_or_else(|| panic!("{rule} must be refused"));
            assert!(err.to_string().contains(part), "{rule}: {err}");
        }
    }
}
