//! The `event` resource as the emulator keeps it (protocols.md §2.2): which properties a
//! client may write, how a write is checked, and how start/end/isAllDay/recurrence combine.

use super::error::{GraphError, GraphResult};
use super::when::{NamedZone, When, parse_input};
use calsync_core::patterned::PatternedRecurrence;
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Start, end and the zones they were given in (`originalStartTimeZone`/`originalEndTimeZone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Times {
    pub start: When,
    pub end: When,
    pub start_zone: String,
    pub end_zone: String,
    pub all_day: bool,
}

impl Times {
    pub fn zone(&self) -> TimeZone {
        NamedZone::parse(&self.start_zone).map_or(TimeZone::UTC, |z| z.zone)
    }

    fn end_zone(&self) -> TimeZone {
        NamedZone::parse(&self.end_zone).map_or(TimeZone::UTC, |z| z.zone)
    }

    pub fn start_at(&self) -> Timestamp {
        self.start.instant(&self.zone())
    }

    pub fn end_at(&self) -> Timestamp {
        self.end.instant(&self.end_zone())
    }

    /// Overlaps `[from, to)`; an event without duration counts when it starts inside.
    pub fn overlaps(&self, from: Timestamp, to: Timestamp) -> bool {
        let (s, e) = (self.start_at(), self.end_at());
        if s == e { s >= from && s < to } else { s < to && e > from }
    }

    /// Builds and checks times: all-day values are midnights of the same zone (§2.2), the
    /// end is not before the start.
    pub fn new(start: (DateTime, NamedZone), end: (DateTime, NamedZone), all_day: bool) -> GraphResult<Self> {
        let (s_local, s_zone) = start;
        let (e_local, e_zone) = end;
        let (s, e) = if all_day {
            let midnight = |dt: DateTime| dt.time() == jiff::civil::Time::midnight();
            if !midnight(s_local) || !midnight(e_local) || !s_zone.same_as(&e_zone) {
                return Err(GraphError::invalid_request(
                    "Your request can't be completed. If the event is an all-day event, start and end must be specified as date values with times set to midnight, and the time zone must be the same.",
                ));
            }
            if e_local.date() <= s_local.date() {
                return Err(GraphError::invalid_request("An all-day event must end at least one day after it starts."));
            }
            (When::Day(s_local.date()), When::Day(e_local.date()))
        } else {
            let s = calsync_core::event_time::resolve(&s_zone.zone, s_local);
            let e = calsync_core::event_time::resolve(&e_zone.zone, e_local);
            if e < s {
                return Err(GraphError::invalid_request("The end of the event must not be before its start."));
            }
            (When::At(s), When::At(e))
        };
        Ok(Self { start: s, end: e, start_zone: s_zone.name, end_zone: e_zone.name, all_day })
    }

    /// The start/end as a request would give them (wall-clock time and zone name).
    pub fn start_input(&self) -> (DateTime, NamedZone) {
        let z = NamedZone::parse(&self.start_zone).unwrap_or_else(|_| NamedZone::utc());
        (self.start.local(&z.zone), z)
    }

    pub fn end_input(&self) -> (DateTime, NamedZone) {
        let z = NamedZone::parse(&self.end_zone).unwrap_or_else(|_| NamedZone::utc());
        (self.end.local(&z.zone), z)
    }
}

/// A single instance or series master, with its series' exceptions and cancellations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEvent {
    pub item: u128,
    /// The calendar (folder) it is in.
    pub folder: u64,
    pub owner: String,
    /// The plain writable properties (subject, body, location, attendees, …).
    pub fields: Map<String, Value>,
    pub times: Times,
    pub recurrence: Option<PatternedRecurrence>,
    /// Changed occurrences, by original start (Unix seconds).
    pub exceptions: BTreeMap<i64, Exception>,
    /// Cancelled occurrences: original start → change-log position of the cancellation.
    pub cancelled: BTreeMap<i64, u64>,
    /// `singleValueExtendedProperties`: (id, value).
    pub props: Vec<(String, String)>,
    pub change_key: String,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub transaction_id: Option<String>,
    pub ical_uid: String,
    /// Change-log position of the last write to the event itself.
    pub changed: u64,
}

/// An occurrence that was changed: its own properties over the master's, its own times.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exception {
    pub fields: Map<String, Value>,
    pub times: Times,
    pub props: Vec<(String, String)>,
    pub change_key: String,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub changed: u64,
}

impl StoredEvent {
    pub fn is_master(&self) -> bool {
        self.recurrence.is_some()
    }
}

/// A create or PATCH body, checked.
#[derive(Debug, Default)]
pub struct EventWrite {
    /// Plain properties to set (`null` clears).
    pub fields: Map<String, Value>,
    pub start: Option<(DateTime, NamedZone)>,
    pub end: Option<(DateTime, NamedZone)>,
    pub all_day: Option<bool>,
    /// `Some(None)`: `"recurrence": null`.
    pub recurrence: Option<Option<PatternedRecurrence>>,
    pub props: Vec<(String, String)>,
    pub transaction_id: Option<String>,
}

/// Properties Graph lets a client write, and what their values must look like.
const PLAIN: &[(&str, Kind)] = &[
    ("subject", Kind::Text),
    ("body", Kind::Body),
    ("location", Kind::Object),
    ("locations", Kind::Objects),
    ("attendees", Kind::Attendees),
    ("showAs", Kind::OneOf(&["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"])),
    ("sensitivity", Kind::OneOf(&["normal", "personal", "private", "confidential"])),
    ("importance", Kind::OneOf(&["low", "normal", "high"])),
    ("categories", Kind::Texts),
    ("reminderMinutesBeforeStart", Kind::Int),
    ("isReminderOn", Kind::Bool),
    ("allowNewTimeProposals", Kind::Bool),
    ("responseRequested", Kind::Bool),
    ("hideAttendees", Kind::Bool),
    ("isOnlineMeeting", Kind::Bool),
    ("onlineMeetingProvider", Kind::Text),
];

/// Read-only or navigation properties: accepted in a body and ignored, as Graph does.
const IGNORED: &[&str] = &[
    "id",
    "changeKey",
    "createdDateTime",
    "lastModifiedDateTime",
    "iCalUId",
    "uid",
    "type",
    "seriesMasterId",
    "originalStart",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "webLink",
    "bodyPreview",
    "isCancelled",
    "isOrganizer",
    "organizer",
    "responseStatus",
    "hasAttachments",
    "onlineMeeting",
    "onlineMeetingUrl",
    "isDraft",
    "occurrenceId",
    "cancelledOccurrences",
    "exceptionOccurrences",
    "multiValueExtendedProperties",
    "extensions",
    "attachments",
    "instances",
    "calendar",
];

#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Texts,
    Bool,
    Int,
    Body,
    Object,
    Objects,
    Attendees,
    OneOf(&'static [&'static str]),
}

const MAX_ATTENDEES: usize = 500;

fn literal(v: &Value, ty: &str) -> GraphError {
    GraphError::body_read(format!("Cannot convert the literal '{v}' to the expected type '{ty}'."))
}

fn check_kind(name: &str, kind: Kind, v: &Value) -> GraphResult<()> {
    if v.is_null() {
        return Ok(());
    }
    match kind {
        Kind::Text if !v.is_string() => Err(literal(v, "Edm.String")),
        Kind::Bool if !v.is_boolean() => Err(literal(v, "Edm.Boolean")),
        Kind::Int if !v.is_i64() => Err(literal(v, "Edm.Int32")),
        Kind::Texts if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) => {
            Err(literal(v, "Collection(Edm.String)"))
        }
        Kind::Object if !v.is_object() => Err(literal(v, "microsoft.graph.location")),
        Kind::Objects if !v.as_array().is_some_and(|a| a.iter().all(Value::is_object)) => {
            Err(literal(v, "Collection(microsoft.graph.location)"))
        }
        Kind::Body => {
            let ok_type = match v.get("contentType") {
                None | Some(Value::Null) => true,
                Some(Value::String(t)) => t.eq_ignore_ascii_case("text") || t.eq_ignore_ascii_case("html"),
                Some(_) => false,
            };
            let ok_content = v.get("content").is_none_or(|c| c.is_string() || c.is_null());
            if v.is_object() && ok_type && ok_content { Ok(()) } else { Err(literal(v, "microsoft.graph.itemBody")) }
        }
        Kind::Attendees => {
            let list = v.as_array().ok_or_else(|| literal(v, "Collection(microsoft.graph.attendee)"))?;
            if list.len() > MAX_ATTENDEES {
                return Err(GraphError::invalid_request(format!(
                    "An event can have at most {MAX_ATTENDEES} attendees."
                )));
            }
            for a in list {
                let address = a.get("emailAddress").and_then(|e| e.get("address"));
                if !address.is_some_and(Value::is_string) {
                    return Err(GraphError::invalid_request("Each attendee needs emailAddress.address."));
                }
                if let Some(t) = a.get("type").filter(|t| !t.is_null())
                    && !t.as_str().is_some_and(|t| ["required", "optional", "resource"].contains(&t))
                {
                    return Err(literal(t, "microsoft.graph.attendeeType"));
                }
            }
            Ok(())
        }
        Kind::OneOf(values) => match v.as_str() {
            Some(s) if values.contains(&s) => Ok(()),
            _ => Err(GraphError::body_read(format!(
                "The value {v} of property '{name}' is not one of {}.",
                values.join(", ")
            ))),
        },
        _ => Ok(()),
    }
}

/// The id of a single-value extended property: `{Type} {GUID} Name {name}` or
/// `{Type} {GUID} Id 0x…` (or a well-known property set name instead of the GUID).
fn valid_property_id(id: &str) -> bool {
    let mut parts = id.splitn(4, ' ');
    let (Some(ty), Some(set), Some(how), Some(name)) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let guid = set.strip_prefix('{').and_then(|s| s.strip_suffix('}')).is_some_and(|g| {
        g.len() == 36
            && g.chars()
                .enumerate()
                .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
    });
    !ty.is_empty()
        && ty.chars().all(|c| c.is_ascii_alphanumeric())
        && (guid || set.chars().all(|c| c.is_ascii_alphanumeric()))
        && (how.eq_ignore_ascii_case("Name") || how.eq_ignore_ascii_case("Id"))
        && !name.trim().is_empty()
}

fn parse_props(v: &Value) -> GraphResult<Vec<(String, String)>> {
    let list =
        v.as_array().ok_or_else(|| literal(v, "Collection(microsoft.graph.singleValueLegacyExtendedProperty)"))?;
    list.iter()
        .map(|p| {
            let id = p.get("id").and_then(Value::as_str).unwrap_or("");
            if !valid_property_id(id) {
                return Err(GraphError::invalid_request(format!("The extended property id '{id}' is not valid.")));
            }
            let value = match p.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            Ok((id.to_owned(), value))
        })
        .collect()
}

fn parse_recurrence(v: &Value) -> GraphResult<Option<PatternedRecurrence>> {
    if v.is_null() {
        return Ok(None);
    }
    let r: PatternedRecurrence = serde_json::from_value(v.clone())
        .map_err(|e| GraphError::body_read(format!("Invalid recurrence (patternedRecurrence): {e}")))?;
    if r.pattern.interval == 0 {
        return Err(GraphError::invalid_request("recurrence.pattern.interval must be at least 1."));
    }
    // The pattern must say what its type needs (from_graph refuses a weekly pattern without
    // days, a yearly one without a month, …).
    calsync_core::patterned::from_graph(&r, None)
        .map_err(|e| GraphError::invalid_request(format!("Invalid recurrence pattern: {}", e.0)))?;
    Ok(Some(r))
}

/// Checks a body. Unknown properties are 400 `RequestBodyRead`; read-only ones are ignored.
pub fn parse_write(body: &Map<String, Value>) -> GraphResult<EventWrite> {
    let mut w = EventWrite::default();
    for (name, v) in body {
        if name.starts_with("@odata.") || name.contains("@odata.") || IGNORED.contains(&name.as_str()) {
            continue;
        }
        if let Some((_, kind)) = PLAIN.iter().find(|(n, _)| n == name) {
            check_kind(name, *kind, v)?;
            w.fields.insert(name.clone(), v.clone());
            continue;
        }
        match name.as_str() {
            "start" => w.start = Some(parse_input(v, "start")?),
            "end" => w.end = Some(parse_input(v, "end")?),
            "isAllDay" => {
                w.all_day = Some(match v {
                    Value::Bool(b) => *b,
                    Value::Null => false,
                    _ => return Err(literal(v, "Edm.Boolean")),
                });
            }
            "recurrence" => w.recurrence = Some(parse_recurrence(v)?),
            "singleValueExtendedProperties" => w.props = parse_props(v)?,
            "transactionId" => match v {
                Value::String(s) if s.len() <= 256 => w.transaction_id = Some(s.clone()),
                Value::Null => {}
                _ => return Err(literal(v, "Edm.String")),
            },
            _ => {
                return Err(GraphError::body_read(format!(
                    "The property '{name}' does not exist on type 'microsoft.graph.event'. Make sure to only use property names that are defined by the type or mark the type as open type."
                )));
            }
        }
    }
    Ok(w)
}

/// Merges extended properties by id (case-insensitive), later values winning.
pub fn merge_props(into: &mut Vec<(String, String)>, new: &[(String, String)]) {
    for (id, value) in new {
        match into.iter_mut().find(|(i, _)| i.eq_ignore_ascii_case(id)) {
            Some(p) => p.1.clone_from(value),
            None => into.push((id.clone(), value.clone())),
        }
    }
}

/// New times from old ones and a write (either bound may be missing from a PATCH).
pub fn merged_times(old: Option<&Times>, w: &EventWrite) -> GraphResult<Times> {
    let start = w.start.clone().or_else(|| old.map(Times::start_input));
    let end = w.end.clone().or_else(|| old.map(Times::end_input));
    let (Some(start), Some(end)) = (start, end) else {
        return Err(GraphError::invalid_request("An event needs both start and end."));
    };
    let all_day = w.all_day.or(old.map(|t| t.all_day)).unwrap_or(false);
    Times::new(start, end, all_day)
}

/// A series starts on its range's start date: times move there, keeping time of day and length.
pub fn align_to_range(times: Times, r: &PatternedRecurrence) -> GraphResult<Times> {
    let (s_local, s_zone) = times.start_input();
    let (e_local, e_zone) = times.end_input();
    let shift = s_local.date().until(r.range.start_date).map_err(|_| GraphError::invalid_request("bad range"))?;
    if shift.get_days() == 0 {
        return Ok(times);
    }
    let moved = |dt: DateTime| {
        dt.checked_add(shift).map_err(|_| GraphError::invalid_request("range.startDate is out of range"))
    };
    Times::new((moved(s_local)?, s_zone), (moved(e_local)?, e_zone), times.all_day)
}
