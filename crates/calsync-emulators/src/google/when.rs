//! `EventDateTime`: `{date}` for all-day, `{dateTime, timeZone}` for timed (protocols.md §1.3).

use super::error::{ApiError, ApiResult};
use axum::http::StatusCode;
use calsync_core::{EventTime, ZoneName};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde_json::{Map, Value, json};

/// A parsed start, end or originalStartTime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    Date(Date),
    /// `zone` is the `timeZone` field when given; without it the `dateTime` carried an offset.
    Timed {
        at: Timestamp,
        zone: Option<ZoneName>,
        offset: jiff::tz::Offset,
    },
}

impl When {
    /// Parses `field` (`start`, `end`) of an event body.
    pub fn parse(value: &Value, field: &str) -> ApiResult<Self> {
        let Some(obj) = value.as_object() else {
            return Err(ApiError::invalid(field, format!("{field} must be an object with date or dateTime")));
        };
        let text = |k: &str| -> ApiResult<Option<&str>> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(ApiError::invalid(format!("{field}.{k}"), format!("{field}.{k} must be a string"))),
            }
        };
        let zone = match text("timeZone")? {
            None => None,
            Some(z) => Some(ZoneName::parse(z).map_err(|_| {
                ApiError::invalid(
                    format!("{field}.timeZone"),
                    format!("Invalid time zone definition for {field} time."),
                )
            })?),
        };
        match (text("date")?, text("dateTime")?) {
            (Some(_), Some(_)) => {
                Err(ApiError::invalid(field, format!("{field} must have either date or dateTime, not both")))
            }
            (None, None) => Err(ApiError::required(field, format!("Missing {field} time."))),
            (Some(d), None) => d
                .parse::<Date>()
                .map(Self::Date)
                .map_err(|_| ApiError::invalid(format!("{field}.date"), format!("Invalid {field} date: {d:?}"))),
            (None, Some(dt)) => Self::timed(dt, zone, field),
        }
    }

    fn timed(text: &str, zone: Option<ZoneName>, field: &str) -> ApiResult<Self> {
        let bad = || ApiError::invalid(format!("{field}.dateTime"), format!("Invalid {field} dateTime: {text:?}"));
        if let Ok(at) = text.parse::<Timestamp>() {
            let offset = match &zone {
                Some(z) => z.zone().to_offset(at),
                None => offset_of(text).ok_or_else(bad)?,
            };
            return Ok(Self::Timed { at, zone, offset });
        }
        // No offset: only valid with an explicit timeZone.
        let local: DateTime = text.parse().map_err(|_| bad())?;
        let Some(zone) = zone else {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "calendar",
                "missingTimeZone",
                format!("Missing time zone definition for {field} time."),
            )
            .at("parameter", format!("{field}.timeZone")));
        };
        let at = calsync_core::event_time::resolve(zone.zone(), local);
        let offset = zone.zone().to_offset(at);
        Ok(Self::Timed { at, zone: Some(zone), offset })
    }

    pub fn is_all_day(&self) -> bool {
        matches!(self, Self::Date(_))
    }

    /// The instant; all-day dates start at midnight in `all_day_zone` (the calendar's zone).
    pub fn instant(&self, all_day_zone: &TimeZone) -> Timestamp {
        match self {
            Self::Date(d) => {
                calsync_core::event_time::resolve(all_day_zone, d.to_datetime(jiff::civil::Time::midnight()))
            }
            Self::Timed { at, .. } => *at,
        }
    }

    /// The form calsync-core's recurrence engine expands: a date, or a wall-clock time in a
    /// named zone (`None` for a timed value without `timeZone`).
    pub fn event_time(&self) -> Option<EventTime> {
        match self {
            Self::Date(d) => Some(EventTime::Date(*d)),
            Self::Timed { at, zone: Some(z), .. } => {
                Some(EventTime::DateTime { local: at.to_zoned_datetime(z.zone().clone()).datetime(), zone: z.clone() })
            }
            Self::Timed { zone: None, .. } => None,
        }
    }

    /// Shifted by `delta` (timed) or `days` (all-day): an instance's start and end.
    pub fn with_instant(&self, at: Timestamp) -> Self {
        match self {
            Self::Date(_) => self.clone(),
            Self::Timed { zone, .. } => {
                let offset = zone.as_ref().map_or_else(|| self.offset(), |z| z.zone().to_offset(at));
                Self::Timed { at, zone: zone.clone(), offset }
            }
        }
    }

    fn offset(&self) -> jiff::tz::Offset {
        match self {
            Self::Date(_) => jiff::tz::Offset::UTC,
            Self::Timed { offset, .. } => *offset,
        }
    }

    /// `20260301` (all-day) or `20260301T080000Z`: the suffix of an instance id (§1.4).
    pub fn instance_key(&self) -> String {
        match self {
            Self::Date(d) => d.strftime("%Y%m%d").to_string(),
            Self::Timed { at, .. } => at.strftime("%Y%m%dT%H%M%SZ").to_string(),
        }
    }

    /// Google's JSON: `{"date"}` or `{"dateTime" with offset, "timeZone"?}`.
    pub fn render(&self) -> Value {
        match self {
            Self::Date(d) => json!({"date": d.to_string()}),
            Self::Timed { at, zone, offset } => {
                let shown = at.to_zoned_datetime(TimeZone::fixed(*offset)).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
                let mut m = Map::new();
                m.insert("dateTime".into(), json!(shown));
                if let Some(z) = zone {
                    m.insert("timeZone".into(), json!(z.as_str()));
                }
                Value::Object(m)
            }
        }
    }

    /// Days between two all-day dates, for an instance's end.
    pub fn days_until(&self, end: &Self) -> i64 {
        match (self, end) {
            (Self::Date(a), Self::Date(b)) => i64::from(a.until(*b).map(|s| s.get_days()).unwrap_or(1)),
            _ => 0,
        }
    }
}

/// The date `days` after `d`, saturating at the supported range.
pub fn add_days(d: Date, days: i64) -> Date {
    d.checked_add(days.days()).unwrap_or(d)
}

/// The UTC offset written in an RFC 3339 string (`Z`, `+02:00`).
fn offset_of(text: &str) -> Option<jiff::tz::Offset> {
    if text.ends_with(['Z', 'z']) {
        return Some(jiff::tz::Offset::UTC);
    }
    let tail = text.get(text.len().checked_sub(6)?..)?;
    let sign = match tail.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours: i32 = tail.get(1..3)?.parse().ok()?;
    let minutes: i32 = tail.get(4..6)?.parse().ok()?;
    jiff::tz::Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}
