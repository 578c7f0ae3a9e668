//! When an event happens: all-day dates, or civil date-times in a named zone.

use crate::limits::EVENT_MAX_DAYS;
use crate::validation::Violations;
use crate::zone::ZoneName;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

/// The JSON form of a start or end, as clients send and receive it.
///
/// Exactly one of `date` (all-day) or `date_time` + `time_zone` (timed) is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTimeInput {
    /// An all-day date, `YYYY-MM-DD`. For an end, the first day *after* the event (exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "2026-05-01")]
    pub date: Option<String>,
    /// A local date-time without offset, `YYYY-MM-DDTHH:MM:SS`, read in `time_zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "2026-05-01T09:30:00")]
    pub date_time: Option<String>,
    /// The IANA time zone of `date_time` (`Europe/Berlin`), or `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Europe/Berlin")]
    pub time_zone: Option<String>,
}

/// A parsed start or end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTime {
    /// An all-day date (floating: the same calendar day everywhere).
    Date(Date),
    /// A wall-clock time in a zone.
    DateTime { local: DateTime, zone: ZoneName },
}

impl EventTime {
    /// Parses the JSON form. Violations name `date`, `date_time` or `time_zone` (the caller nests them).
    ///
    /// # Errors
    /// Every rule the input breaks.
    pub fn parse(input: &EventTimeInput) -> Result<Self, Violations> {
        let mut v = Violations::new();
        match (&input.date, &input.date_time) {
            (Some(_), Some(_)) => {
                v.push("", "one_of", "give either date (all-day) or date_time with time_zone, not both");
                Err(v)
            }
            (None, None) => {
                v.push(
                    "",
                    "required",
                    "give date (all-day, YYYY-MM-DD) or date_time (YYYY-MM-DDTHH:MM:SS) with time_zone",
                );
                Err(v)
            }
            (Some(date), None) => {
                if input.time_zone.is_some() {
                    v.push(
                        "time_zone",
                        "not_allowed",
                        "all-day dates have no time zone; remove time_zone or use date_time",
                    );
                }
                let date = parse_date(date).map_err(|m| Violations::one("date", "date", m));
                match date {
                    Ok(d) => v.into_result(Self::Date(d)),
                    Err(e) => {
                        v.extend(e);
                        Err(v)
                    }
                }
            }
            (None, Some(dt)) => {
                let local = parse_local_date_time(dt);
                let zone = match &input.time_zone {
                    None => Err(Violations::one(
                        "time_zone",
                        "required",
                        "is required with date_time: an IANA name such as Europe/Berlin, or UTC",
                    )),
                    Some(z) => ZoneName::parse(z).map_err(|m| Violations::one("time_zone", "time_zone", m)),
                };
                match (local, zone) {
                    (Ok(local), Ok(zone)) => Ok(Self::DateTime { local, zone }),
                    (l, z) => {
                        if let Err(m) = l {
                            v.push("date_time", "date_time", m);
                        }
                        if let Err(e) = z {
                            v.extend(e);
                        }
                        Err(v)
                    }
                }
            }
        }
    }

    pub fn to_input(&self) -> EventTimeInput {
        match self {
            Self::Date(d) => EventTimeInput { date: Some(d.to_string()), ..Default::default() },
            Self::DateTime { local, zone } => EventTimeInput {
                date: None,
                date_time: Some(local.strftime("%Y-%m-%dT%H:%M:%S").to_string()),
                time_zone: Some(zone.as_str().to_owned()),
            },
        }
    }

    pub fn is_all_day(&self) -> bool {
        matches!(self, Self::Date(_))
    }

    /// `20260301` or `20260301T080000Z` (the instant in UTC): the compact form Google uses in
    /// instance ids, and our key for "which occurrence of a series".
    pub fn compact(&self) -> String {
        match self {
            Self::Date(d) => d.strftime("%Y%m%d").to_string(),
            Self::DateTime { .. } => self.instant(&TimeZone::UTC).strftime("%Y%m%dT%H%M%SZ").to_string(),
        }
    }

    /// The instant this time denotes. All-day dates have no zone of their own, so they are
    /// read at midnight in `all_day_zone` (the viewer's or the calendar's zone).
    ///
    /// Local times that fall into a DST gap or fold are resolved the RFC 5545 way
    /// ("compatible": a skipped time moves forward by the gap, a repeated time takes the first).
    pub fn instant(&self, all_day_zone: &TimeZone) -> Timestamp {
        match self {
            Self::Date(d) => resolve(all_day_zone, d.to_datetime(jiff::civil::Time::midnight())),
            Self::DateTime { local, zone } => resolve(zone.zone(), *local),
        }
    }

    /// The civil date-time (midnight for all-day dates) — the "floating" value recurrence
    /// rules iterate over.
    pub fn civil(&self) -> DateTime {
        match self {
            Self::Date(d) => d.to_datetime(jiff::civil::Time::midnight()),
            Self::DateTime { local, .. } => *local,
        }
    }
}

/// Resolves a local time in a zone, RFC 5545 style (see [`EventTime::instant`]).
pub fn resolve(zone: &TimeZone, local: DateTime) -> Timestamp {
    zone.to_ambiguous_timestamp(local)
        .compatible()
        .unwrap_or_else(|_| zone.to_ambiguous_timestamp(local).unambiguous().unwrap_or(Timestamp::UNIX_EPOCH))
}

pub(crate) fn parse_date(s: &str) -> Result<Date, String> {
    if s.len() != 10 {
        return Err(format!("{s:?} is not a date; use YYYY-MM-DD"));
    }
    s.parse::<Date>().map_err(|_| format!("{s:?} is not a valid date; use YYYY-MM-DD")).and_then(check_year)
}

fn check_year(d: Date) -> Result<Date, String> {
    if (1900..=2200).contains(&d.year()) { Ok(d) } else { Err(format!("year {} is outside 1900..=2200", d.year())) }
}

pub(crate) fn parse_local_date_time(s: &str) -> Result<DateTime, String> {
    let time_part = s.split_once('T').map(|(_, t)| t).unwrap_or("");
    if time_part.contains(['Z', 'z', '+', '-']) {
        return Err(format!(
            "{s:?} carries an offset; give the local time without offset (YYYY-MM-DDTHH:MM:SS) and name the zone in time_zone"
        ));
    }
    if s.len() < 16 || !s.is_char_boundary(10) || s.as_bytes().get(10) != Some(&b'T') {
        return Err(format!("{s:?} is not a date-time; use YYYY-MM-DDTHH:MM:SS"));
    }
    let dt = s.parse::<DateTime>().map_err(|_| format!("{s:?} is not a valid date-time; use YYYY-MM-DDTHH:MM:SS"))?;
    if dt.subsec_nanosecond() != 0 {
        return Err(format!("{s:?} has fractional seconds; calendars keep whole seconds"));
    }
    check_year(dt.date())?;
    Ok(dt)
}

/// A validated start/end pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    start: EventTime,
    end: EventTime,
}

impl Schedule {
    /// Checks the pair: same kind (both all-day or both timed), end after start, and not
    /// longer than [`EVENT_MAX_DAYS`].
    ///
    /// # Errors
    /// The violations, on `end` (the start is taken as the reference).
    pub fn new(start: EventTime, end: EventTime) -> Result<Self, Violations> {
        match (&start, &end) {
            (EventTime::Date(s), EventTime::Date(e)) => {
                if e <= s {
                    return Err(Violations::one(
                        "end",
                        "end_after_start",
                        format!(
                            "end date {e} must be after start date {s} (all-day ends are exclusive: a one-day event on {s} ends on {})",
                            s.tomorrow().unwrap_or(*s)
                        ),
                    ));
                }
                if (*e - *s).get_days() as i64 > EVENT_MAX_DAYS || s.saturating_add(EVENT_MAX_DAYS.days()) < *e {
                    return Err(too_long());
                }
            }
            (EventTime::DateTime { .. }, EventTime::DateTime { .. }) => {
                let (s, e) = (start.instant(&TimeZone::UTC), end.instant(&TimeZone::UTC));
                if e <= s {
                    return Err(Violations::one(
                        "end",
                        "end_after_start",
                        format!("end ({e}) must be after start ({s})"),
                    ));
                }
                if e.duration_since(s) > SignedDuration::from_hours(24 * EVENT_MAX_DAYS) {
                    return Err(too_long());
                }
            }
            _ => {
                return Err(Violations::one(
                    "end",
                    "same_kind",
                    "start and end must both be all-day (date) or both timed (date_time)",
                ));
            }
        }
        Ok(Self { start, end })
    }

    pub fn start(&self) -> &EventTime {
        &self.start
    }

    pub fn end(&self) -> &EventTime {
        &self.end
    }

    pub fn is_all_day(&self) -> bool {
        self.start.is_all_day()
    }

    /// Exact length for timed events; whole days for all-day ones.
    pub fn length(&self) -> Length {
        match (&self.start, &self.end) {
            (EventTime::Date(s), EventTime::Date(e)) => Length::Days((*e - *s).get_days() as i64),
            _ => Length::Exact(self.end.instant(&TimeZone::UTC).duration_since(self.start.instant(&TimeZone::UTC))),
        }
    }
}

/// How long one occurrence lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    Days(i64),
    Exact(SignedDuration),
}

fn too_long() -> Violations {
    Violations::one(
        "end",
        "max_duration",
        format!("an event may last at most {EVENT_MAX_DAYS} days; use recurrence for repeating events"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(dt: &str, tz: &str) -> EventTimeInput {
        EventTimeInput { date: None, date_time: Some(dt.into()), time_zone: Some(tz.into()) }
    }

    #[test]
    fn timed_and_all_day_parse_and_round_trip() {
        let t = EventTime::parse(&timed("2026-03-29T02:30:00", "Europe/Berlin")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.to_input(), timed("2026-03-29T02:30:00", "Europe/Berlin"));
        // 02:30 does not exist that night in Berlin; RFC 5545 reads it as 03:30 CEST = 01:30Z.
        assert_eq!(t.instant(&TimeZone::UTC).to_string(), "2026-03-29T01:30:00Z");
        let d = EventTime::parse(&EventTimeInput { date: Some("2026-05-01".into()), ..Default::default() });
        assert_eq!(d, Ok(EventTime::Date(jiff::civil::date(2026, 5, 1))));
    }

    #[test]
    fn bad_times_name_the_field() {
        let cases = [
            (timed("2026-03-01T09:00:00Z", "UTC"), "date_time"),
            (timed("2026-03-01T09:00:00+01:00", "UTC"), "date_time"),
            (timed("2026-13-01T09:00:00", "UTC"), "date_time"),
            (timed("2026-03-01T09:00:00", "Nowhere/Town"), "time_zone"),
            (EventTimeInput { date_time: Some("2026-03-01T09:00:00".into()), ..Default::default() }, "time_zone"),
            (EventTimeInput { date: Some("2026-02-30".into()), ..Default::default() }, "date"),
            (
                EventTimeInput { date: Some("2026-02-01".into()), time_zone: Some("UTC".into()), ..Default::default() },
                "time_zone",
            ),
        ];
        for (input, field) in cases {
            let err = EventTime::parse(&input).expect_err("must be rejected");
            assert_eq!(err.0[0].field, field, "{input:?}: {err}");
        }
    }

    #[test]
    fn schedules_need_same_kind_and_order() {
        let s = EventTime::parse(&timed("2026-03-01T09:00:00", "Europe/Berlin")).unwrap_or_else(|e| panic!("{e}"));
        let e = EventTime::parse(&timed("2026-03-01T08:30:00", "UTC")).unwrap_or_else(|e| panic!("{e}"));
        // 08:30Z is after 09:00 Berlin (08:00Z): fine across zones.
        assert!(Schedule::new(s.clone(), e).is_ok());
        let before = EventTime::parse(&timed("2026-03-01T07:59:00", "UTC")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Schedule::new(s.clone(), before).err().map(|v| v.0[0].rule), Some("end_after_start"));
        let day = EventTime::Date(jiff::civil::date(2026, 3, 2));
        assert_eq!(Schedule::new(s, day).err().map(|v| v.0[0].rule), Some("same_kind"));
        let d1 = EventTime::Date(jiff::civil::date(2026, 3, 2));
        assert_eq!(Schedule::new(d1.clone(), d1).err().map(|v| v.0[0].rule), Some("end_after_start"));
    }
}
