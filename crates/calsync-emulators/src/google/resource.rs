//! The Event resource (protocols.md §1.3): which fields a client may write, how they are
//! checked, and how a stored event is rendered (full, or as a cancelled stub in deltas).

use super::error::{ApiError, ApiResult};
use super::when::When;
use axum::http::StatusCode;
use calsync_core::Recurrence;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Fields a client may set with insert/update/patch. Everything else in a body (`kind`,
/// `etag`, `created`, `updated`, `htmlLink`, `creator`, `organizer`, `recurringEventId`,
/// `originalStartTime`, unknown names) is ignored, as Google does with read-only fields.
const WRITABLE: &[&str] = &[
    "summary",
    "description",
    "location",
    "colorId",
    "start",
    "end",
    "endTimeUnspecified",
    "recurrence",
    "status",
    "transparency",
    "visibility",
    "attendees",
    "attendeesOmitted",
    "extendedProperties",
    "reminders",
    "guestsCanModify",
    "guestsCanInviteOthers",
    "guestsCanSeeOtherGuests",
    "anyoneCanAddSelf",
    "sequence",
    "source",
    "conferenceData",
    "attachments",
    "eventType",
    "gadget",
    "privateCopy",
    "workingLocationProperties",
    "outOfOfficeProperties",
    "focusTimeProperties",
];

/// Fields that change what the event *is* for attendees; changing one raises `sequence`.
const SIGNIFICANT: &[&str] = &["start", "end", "recurrence", "location", "status"];

/// An event as the emulator keeps it: single events, recurring masters, and the stored
/// children of a series (exceptions and cancelled instances).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEvent {
    pub id: String,
    /// The client-writable fields, `status` and `sequence` included.
    pub fields: Map<String, Value>,
    pub etag: String,
    pub created: Timestamp,
    pub updated: Timestamp,
    pub ical_uid: String,
    pub recurring_event_id: Option<String>,
    /// JSON `EventDateTime` of the occurrence a child replaces.
    pub original_start: Option<Value>,
    /// Calendar change-log position of the last write.
    pub changed: u64,
    pub creator: String,
    /// First start and (for a master: last occurrence's) end, in ms; all-day in the calendar's zone.
    pub start_ms: i64,
    pub end_ms: i64,
    /// A master whose rule never ends.
    pub endless: bool,
}

impl StoredEvent {
    pub fn status(&self) -> &str {
        self.fields.get("status").and_then(Value::as_str).unwrap_or("confirmed")
    }

    pub fn is_cancelled(&self) -> bool {
        self.status() == "cancelled"
    }

    pub fn sequence(&self) -> i64 {
        self.fields.get("sequence").and_then(Value::as_i64).unwrap_or(0)
    }

    pub fn is_master(&self) -> bool {
        self.fields.get("recurrence").and_then(Value::as_array).is_some_and(|r| !r.is_empty())
    }

    pub fn event_type(&self) -> &str {
        self.fields.get("eventType").and_then(Value::as_str).unwrap_or("default")
    }

    /// Start and end as stored (both present: every stored event passed [`check`]).
    pub fn times(&self) -> ApiResult<(When, When)> {
        let start = When::parse(self.fields.get("start").unwrap_or(&Value::Null), "start")?;
        let end = When::parse(self.fields.get("end").unwrap_or(&Value::Null), "end")?;
        Ok((start, end))
    }

    /// The full resource.
    pub fn render(&self, calendar_id: &str, calendar_summary: &str, base_url: &str) -> Value {
        let mut m = self.fields.clone();
        m.insert("kind".into(), json!("calendar#event"));
        m.insert("etag".into(), json!(self.etag));
        m.insert("id".into(), json!(self.id));
        m.insert("status".into(), json!(self.status()));
        m.insert("htmlLink".into(), json!(format!("{base_url}/calendar/event?eid={}", self.id)));
        m.insert("created".into(), json!(rfc3339(self.created)));
        m.insert("updated".into(), json!(rfc3339(self.updated)));
        m.insert("creator".into(), json!({"email": self.creator, "self": true}));
        m.insert("organizer".into(), json!({"email": calendar_id, "displayName": calendar_summary, "self": true}));
        m.insert("iCalUID".into(), json!(self.ical_uid));
        m.insert("sequence".into(), json!(self.sequence()));
        m.entry("reminders").or_insert_with(|| json!({"useDefault": true}));
        m.entry("eventType").or_insert_with(|| json!("default"));
        if let Some(r) = &self.recurring_event_id {
            m.insert("recurringEventId".into(), json!(r));
            m.remove("recurrence");
        }
        if let Some(o) = &self.original_start {
            m.insert("originalStartTime".into(), o.clone());
        }
        Value::Object(m)
    }

    /// What a delta carries for a cancelled event: only the guaranteed fields (§1.6).
    pub fn stub(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), json!("calendar#event"));
        m.insert("etag".into(), json!(self.etag));
        m.insert("id".into(), json!(self.id));
        m.insert("status".into(), json!("cancelled"));
        if let Some(r) = &self.recurring_event_id {
            m.insert("recurringEventId".into(), json!(r));
        }
        if let Some(o) = &self.original_start {
            m.insert("originalStartTime".into(), o.clone());
        }
        Value::Object(m)
    }
}

/// `2026-03-01T10:00:00.000Z`, Google's form of `created`/`updated`.
pub fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The writable fields of a request body; read-only and unknown names are dropped.
pub fn writable(body: &Map<String, Value>) -> Map<String, Value> {
    body.iter().filter(|(k, _)| WRITABLE.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `true` when a write changes a field attendees care about.
pub fn significant_change(before: &Map<String, Value>, after: &Map<String, Value>) -> bool {
    SIGNIFICANT.iter().any(|k| before.get(*k) != after.get(*k))
}

/// Applies a patch body: objects merge key by key, arrays and scalars replace, `null` clears.
pub fn merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match (target.get_mut(k), v) {
            (_, Value::Null) => {
                target.remove(k);
            }
            (Some(Value::Object(t)), Value::Object(p)) if k != "start" && k != "end" => merge(t, p),
            _ => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Rewrites `start`/`end` in Google's canonical form (`dateTime` with its offset).
/// Call after [`check`] passed.
pub fn normalize_times(fields: &mut Map<String, Value>) {
    for k in ["start", "end"] {
        if let Some(when) = fields.get(k).and_then(|v| When::parse(v, k).ok()) {
            fields.insert(k.into(), when.render());
        }
    }
}

/// Checks the fields an event will have after a write. `child` events (instances of a
/// series) may not carry a recurrence.
pub fn check(fields: &Map<String, Value>, child: bool) -> ApiResult<()> {
    for k in ["summary", "description", "location", "colorId", "transparency", "visibility", "eventType"] {
        if let Some(v) = fields.get(k)
            && !v.is_string()
        {
            return Err(ApiError::invalid(k, format!("{k} must be a string")));
        }
    }
    if let Some(s) = fields.get("status")
        && !matches!(s.as_str(), Some("confirmed" | "tentative" | "cancelled"))
    {
        return Err(ApiError::invalid("status", "status must be confirmed, tentative or cancelled"));
    }
    if let Some(s) = fields.get("sequence")
        && s.as_i64().is_none_or(|n| !(0..=i64::from(i32::MAX)).contains(&n))
    {
        return Err(ApiError::invalid("sequence", "sequence must be a non-negative 32-bit integer"));
    }
    check_extended_properties(fields.get("extendedProperties"))?;
    check_attendees(fields.get("attendees"))?;
    let start = When::parse(fields.get("start").unwrap_or(&Value::Null), "start")?;
    let end = When::parse(fields.get("end").unwrap_or(&Value::Null), "end")?;
    if start.is_all_day() != end.is_all_day() {
        return Err(ApiError::invalid("end", "Start and end times must either both be date or both be dateTime."));
    }
    let utc = TimeZone::UTC;
    let empty = match (&start, &end) {
        (When::Date(a), When::Date(b)) => b <= a,
        _ => end.instant(&utc) < start.instant(&utc),
    };
    if empty {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "calendar",
            "timeRangeEmpty",
            "The specified time range is empty.",
        )
        .at("parameter", "end"));
    }
    match fields.get("recurrence") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.is_empty() => {}
        Some(Value::Array(_)) if child => {
            return Err(ApiError::invalid("recurrence", "An instance of a recurring event cannot have a recurrence."));
        }
        Some(Value::Array(items)) => {
            parse_recurrence(items, &start)?;
        }
        Some(_) => return Err(ApiError::invalid("recurrence", "recurrence must be an array of strings")),
    }
    Ok(())
}

fn parse_recurrence(items: &[Value], start: &When) -> ApiResult<Recurrence> {
    let mut lines = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(line) = item.as_str() else {
            return Err(ApiError::invalid(format!("recurrence[{i}]"), "recurrence lines must be strings"));
        };
        let name = line.split([':', ';']).next().unwrap_or("").to_ascii_uppercase();
        if name == "DTSTART" || name == "DTEND" {
            return Err(ApiError::invalid(
                format!("recurrence[{i}]"),
                "Invalid recurrence rule: DTSTART and DTEND are not allowed; use start and end.",
            ));
        }
        lines.push(line.to_owned());
    }
    let Some(dtstart) = start.event_time() else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "calendar",
            "missingTimeZone",
            "Missing time zone definition for start time.",
        )
        .at("parameter", "start.timeZone"));
    };
    Recurrence::parse(&lines, &dtstart).map_err(|v| {
        let detail = v.0.iter().map(|x| format!("{}: {}", x.field, x.message)).collect::<Vec<_>>().join("; ");
        ApiError::invalid("recurrence", format!("Invalid recurrence rule. {detail}"))
    })
}

fn check_extended_properties(v: Option<&Value>) -> ApiResult<()> {
    let Some(v) = v else { return Ok(()) };
    let Some(obj) = v.as_object() else {
        return Err(ApiError::invalid("extendedProperties", "extendedProperties must be an object"));
    };
    for (scope, props) in obj {
        if scope != "private" && scope != "shared" {
            return Err(ApiError::invalid(
                format!("extendedProperties.{scope}"),
                "extendedProperties has only private and shared",
            ));
        }
        let Some(props) = props.as_object() else {
            return Err(ApiError::invalid(format!("extendedProperties.{scope}"), "must be an object of strings"));
        };
        if let Some((k, _)) = props.iter().find(|(_, v)| !v.is_string()) {
            return Err(ApiError::invalid(
                format!("extendedProperties.{scope}.{k}"),
                "property values must be strings",
            ));
        }
    }
    Ok(())
}

fn check_attendees(v: Option<&Value>) -> ApiResult<()> {
    let Some(v) = v else { return Ok(()) };
    let Some(list) = v.as_array() else {
        return Err(ApiError::invalid("attendees", "attendees must be an array"));
    };
    for (i, a) in list.iter().enumerate() {
        if !a.get("email").is_some_and(Value::is_string) {
            return Err(ApiError::required(format!("attendees[{i}].email"), "Missing attendee email."));
        }
    }
    Ok(())
}

/// Google's event id alphabet: base32hex (`a`–`v`, `0`–`9`), 5 to 1024 characters (§1.4).
pub fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
}
