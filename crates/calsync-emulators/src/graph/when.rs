//! `dateTimeTimeZone` (protocols.md §2.2): a wall-clock time without offset plus a zone name,
//! Windows (`W. Europe Standard Time`) or IANA (`Europe/Berlin`). Stored as an instant (timed)
//! or a date (all-day) beside the zone names the client gave; shown in the zone a request asks
//! for with `Prefer: outlook.timezone` (UTC by default).

use super::error::{GraphError, GraphResult};
use axum::http::StatusCode;
use calsync_core::windows_zones::zone_named;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A zone as it was named, with the zone the name means.
#[derive(Debug, Clone)]
pub struct NamedZone {
    pub name: String,
    pub zone: TimeZone,
}

impl NamedZone {
    pub fn utc() -> Self {
        Self { name: "UTC".into(), zone: TimeZone::UTC }
    }

    /// # Errors
    /// 400 `TimeZoneNotSupportedException` for a name neither database knows.
    pub fn parse(name: &str) -> GraphResult<Self> {
        let zone = if name.eq_ignore_ascii_case("utc") { Some(TimeZone::UTC) } else { zone_named(name) };
        zone.map(|zone| Self { name: name.to_owned(), zone }).ok_or_else(|| {
            GraphError::new(
                StatusCode::BAD_REQUEST,
                "TimeZoneNotSupportedException",
                format!(
                    "A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'."
                ),
            )
        })
    }

    /// The zone a `Prefer: outlook.timezone` names; unknown names fall back to UTC.
    pub fn preferred(name: Option<&str>) -> Self {
        name.and_then(|n| Self::parse(n).ok()).unwrap_or_else(Self::utc)
    }

    /// The same zone for two names (`UTC` vs `Etc/UTC`, Windows vs IANA spelling).
    pub fn same_as(&self, other: &Self) -> bool {
        self.name.eq_ignore_ascii_case(&other.name)
            || (self.zone.iana_name().is_some() && self.zone.iana_name() == other.zone.iana_name())
    }
}

/// When a stored event starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum When {
    At(Timestamp),
    /// All-day: midnight of this date in the event's zone.
    Day(Date),
}

impl When {
    pub fn instant(self, zone: &TimeZone) -> Timestamp {
        match self {
            Self::At(t) => t,
            Self::Day(d) => calsync_core::event_time::resolve(zone, d.to_datetime(jiff::civil::Time::midnight())),
        }
    }

    /// The wall-clock value in `zone` (all-day: midnight of the date).
    pub fn local(self, zone: &TimeZone) -> DateTime {
        match self {
            Self::At(t) => t.to_zoned_datetime(zone.clone()).datetime(),
            Self::Day(d) => d.to_datetime(jiff::civil::Time::midnight()),
        }
    }

    /// `{"dateTime":"2024-05-01T08:00:00.0000000","timeZone":"<as asked>"}`. All-day values
    /// are midnight of their date whatever zone is asked for.
    pub fn render(self, shown_in: &NamedZone) -> Value {
        json!({"dateTime": format_local(self.local(&shown_in.zone)), "timeZone": shown_in.name})
    }
}

/// Graph's seven-digit fraction: `2016-12-09T20:30:00.0000000`.
pub fn format_local(dt: DateTime) -> String {
    format!("{}.0000000", dt.strftime("%Y-%m-%dT%H:%M:%S"))
}

/// `originalStart` and friends: an instant in UTC, `2024-05-01T08:00:00Z`.
pub fn format_instant(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A `dateTimeTimeZone` of a request body: the wall-clock time and the zone it is in. A
/// missing `timeZone` means UTC; a `dateTime` with an offset is read as that instant.
pub fn parse_input(v: &Value, field: &str) -> GraphResult<(DateTime, NamedZone)> {
    let Some(obj) = v.as_object() else {
        return Err(GraphError::body_read(format!("{field} must be a dateTimeTimeZone object")));
    };
    let zone = match obj.get("timeZone") {
        None | Some(Value::Null) => NamedZone::utc(),
        Some(Value::String(z)) => NamedZone::parse(z)?,
        Some(_) => return Err(GraphError::body_read(format!("{field}.timeZone must be a string"))),
    };
    let text = match obj.get("dateTime") {
        Some(Value::String(s)) => s.as_str(),
        None | Some(Value::Null) => {
            return Err(GraphError::invalid_request(format!("{field}.dateTime is required")));
        }
        Some(_) => return Err(GraphError::body_read(format!("{field}.dateTime must be a string"))),
    };
    let bad =
        || GraphError::body_read(format!("Cannot convert the literal '{text}' to the expected type 'Edm.DateTime'."));
    let local = match text.parse::<DateTime>() {
        Ok(dt) => dt,
        Err(_) => text.parse::<Timestamp>().map_err(|_| bad())?.to_zoned_datetime(zone.zone.clone()).datetime(),
    };
    // Calendars keep whole seconds.
    let local = local.with().subsec_nanosecond(0).build().map_err(|_| bad())?;
    if !(1601..=9999).contains(&local.year()) {
        return Err(bad());
    }
    Ok((local, zone))
}

/// A window bound of a query (`startDateTime`): ISO 8601, UTC when it has no offset (MS-DELTA).
pub fn parse_bound(text: &str, name: &str) -> GraphResult<Timestamp> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    text.parse::<DateTime>().ok().and_then(|dt| TimeZone::UTC.to_timestamp(dt).ok()).ok_or_else(|| {
        GraphError::invalid_parameter(format!("The value '{text}' of parameter '{name}' is not a valid date and time."))
    })
}

/// `Prefer` header parts: `outlook.timezone="X"`, `odata.maxpagesize=N`, `IdType="ImmutableId"`,
/// `outlook.body-content-type="text"`. Several may come in one header or in several headers.
#[derive(Debug, Clone, Default)]
pub struct Prefer {
    pub time_zone: Option<String>,
    pub max_page_size: Option<usize>,
    pub immutable_ids: bool,
    pub text_body: bool,
}

impl Prefer {
    pub fn parse(headers: &axum::http::HeaderMap) -> Self {
        let mut p = Self::default();
        for value in headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()) {
            for part in value.split(',') {
                let Some((k, v)) = part.split_once('=') else { continue };
                let v = v.trim().trim_matches('"');
                match k.trim().to_ascii_lowercase().as_str() {
                    "outlook.timezone" => p.time_zone = Some(v.to_owned()),
                    "odata.maxpagesize" => p.max_page_size = v.parse().ok(),
                    "idtype" => p.immutable_ids = v.eq_ignore_ascii_case("ImmutableId"),
                    "outlook.body-content-type" => p.text_body = v.eq_ignore_ascii_case("text"),
                    _ => {}
                }
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_iana_names_both_work_and_render_as_asked() {
        let (local, zone) = parse_input(
            &json!({"dateTime": "2024-05-01T10:00:00.0000000", "timeZone": "W. Europe Standard Time"}),
            "start",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let at = calsync_core::event_time::resolve(&zone.zone, local);
        assert_eq!(format_instant(at), "2024-05-01T08:00:00Z");
        let shown = When::At(at).render(&NamedZone::parse("Pacific Standard Time").unwrap_or_else(|e| panic!("{e:?}")));
        assert_eq!(shown, json!({"dateTime": "2024-05-01T01:00:00.0000000", "timeZone": "Pacific Standard Time"}));
        assert!(NamedZone::parse("Mars/Olympus").is_err());
    }
}
