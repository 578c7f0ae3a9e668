//! Google's Event JSON ⇄ calsync's event body (protocols.md §1.3). Pure functions.

use crate::model::{RemoteEvent, RemoteState, SeriesRef};
use calsync_core::event::{Attendee, ResponseStatus, Status, Transparency, Visibility};
use calsync_core::{CalendarId, EventId, EventInput, EventTimeInput};
use serde_json::{Map, Value, json};

/// The private extended property that carries our event id on events calsync created.
pub const LOCAL_ID_PROPERTY: &str = "calsyncId";

/// Google event id for one of our events: the UUID's 32 lowercase hex digits (hex is a
/// subset of Google's base32hex alphabet, §1.4), so a replayed create hits 409.
pub fn remote_id_for(id: EventId) -> String {
    id.to_string().replace('-', "")
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `{date}` or `{dateTime, timeZone}` → our form: a local date-time in a named zone. A
/// `dateTime` without `timeZone` is read as UTC.
pub fn time_from_google(v: &Value) -> Option<EventTimeInput> {
    if let Some(d) = text(v, "date") {
        return Some(EventTimeInput { date: Some(d.to_owned()), ..Default::default() });
    }
    let at: jiff::Timestamp = text(v, "dateTime")?.parse().ok()?;
    let zone = text(v, "timeZone").unwrap_or("UTC");
    let tz = jiff::tz::TimeZone::get(zone).ok()?;
    let local = at.to_zoned_datetime(tz).datetime();
    Some(EventTimeInput {
        date: None,
        date_time: Some(local.strftime("%Y-%m-%dT%H:%M:%S").to_string()),
        time_zone: Some(zone.to_owned()),
    })
}

pub fn time_to_google(t: &EventTimeInput) -> Value {
    match (&t.date, &t.date_time) {
        (Some(d), _) => json!({"date": d}),
        (None, Some(dt)) => json!({"dateTime": dt, "timeZone": t.time_zone.as_deref().unwrap_or("UTC")}),
        (None, None) => json!({}),
    }
}

/// A Google event (or cancelled stub) as the engine sees it.
pub fn event_from_google(v: &Value) -> Option<RemoteEvent> {
    let id = text(v, "id")?.to_owned();
    let etag = text(v, "etag").map(str::to_owned);
    let local_id = v
        .pointer("/extendedProperties/private")
        .and_then(|p| text(p, LOCAL_ID_PROPERTY))
        .and_then(|s| s.parse::<EventId>().ok());
    let series = match (text(v, "recurringEventId"), v.get("originalStartTime").and_then(time_from_google)) {
        (Some(r), Some(original_start)) => Some(SeriesRef { series_remote_id: r.to_owned(), original_start }),
        _ => None,
    };
    let updated = text(v, "updated").and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let cancelled = text(v, "status") == Some("cancelled");
    // A cancelled occurrence of a series is an exception (this occurrence does not happen);
    // any other cancelled event is a deletion (§1.6).
    if cancelled && series.is_none() {
        return Some(RemoteEvent { id, etag, state: RemoteState::Deleted, series, local_id, stub: false, updated });
    }
    let start = v.get("start").and_then(time_from_google);
    let end = v.get("end").and_then(time_from_google);
    let stub = start.is_none() || end.is_none();
    let (start, end) = match (start, end, &series) {
        (Some(s), Some(e), _) => (s, e),
        // A cancelled-instance stub carries no times: the occurrence it removes is enough.
        (_, _, Some(s)) if cancelled => (s.original_start.clone(), s.original_start.clone()),
        _ => return None,
    };
    let attendees = v
        .get("attendees")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    Some(Attendee {
                        email: text(a, "email")?.to_owned(),
                        name: text(a, "displayName").map(str::to_owned),
                        response_status: match text(a, "responseStatus") {
                            Some("accepted") => ResponseStatus::Accepted,
                            Some("declined") => ResponseStatus::Declined,
                            Some("tentative") => ResponseStatus::Tentative,
                            _ => ResponseStatus::NeedsAction,
                        },
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let input = EventInput {
        id: None,
        // The engine sets the calendar; a placeholder until then.
        calendar_id: CalendarId::from_uuid(uuid::Uuid::nil()),
        title: text(v, "summary").unwrap_or("").to_owned(),
        description: text(v, "description").map(str::to_owned),
        location: text(v, "location").map(str::to_owned),
        start,
        end,
        recurrence: v
            .get("recurrence")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default(),
        recurring_event_id: None,
        original_start: series.as_ref().map(|s| s.original_start.clone()),
        status: match text(v, "status") {
            Some("cancelled") => Status::Cancelled,
            Some("tentative") => Status::Tentative,
            _ => Status::Confirmed,
        },
        transparency: if text(v, "transparency") == Some("transparent") {
            Transparency::Free
        } else {
            Transparency::Busy
        },
        visibility: match text(v, "visibility") {
            Some("public") => Visibility::Public,
            Some("private") => Visibility::Private,
            Some("confidential") => Visibility::Confidential,
            _ => Visibility::Default,
        },
        attendees,
        color: None,
    };
    Some(RemoteEvent { id, etag, state: RemoteState::Present(Box::new(input)), series, local_id, stub, updated })
}

/// The body for insert/update. `id` only on insert. Never touches reminders or colour.
pub fn event_to_google(input: &EventInput, local_id: EventId, id: Option<&str>) -> Value {
    let mut m = Map::new();
    if let Some(id) = id {
        m.insert("id".into(), json!(id));
    }
    m.insert("summary".into(), json!(input.title));
    if let Some(d) = &input.description {
        m.insert("description".into(), json!(d));
    }
    if let Some(l) = &input.location {
        m.insert("location".into(), json!(l));
    }
    m.insert("start".into(), time_to_google(&input.start));
    m.insert("end".into(), time_to_google(&input.end));
    if !input.recurrence.is_empty() {
        m.insert("recurrence".into(), json!(input.recurrence));
    }
    m.insert(
        "status".into(),
        json!(match input.status {
            Status::Confirmed => "confirmed",
            Status::Tentative => "tentative",
            Status::Cancelled => "cancelled",
        }),
    );
    m.insert(
        "transparency".into(),
        json!(if input.transparency == Transparency::Free { "transparent" } else { "opaque" }),
    );
    m.insert(
        "visibility".into(),
        json!(match input.visibility {
            Visibility::Default => "default",
            Visibility::Public => "public",
            Visibility::Private => "private",
            Visibility::Confidential => "confidential",
        }),
    );
    if !input.attendees.is_empty() {
        let list: Vec<Value> = input
            .attendees
            .iter()
            .map(|a| {
                let mut v = json!({"email": a.email, "responseStatus": match a.response_status {
                    ResponseStatus::NeedsAction => "needsAction",
                    ResponseStatus::Accepted => "accepted",
                    ResponseStatus::Declined => "declined",
                    ResponseStatus::Tentative => "tentative",
                }});
                if let Some(n) = &a.name {
                    v["displayName"] = json!(n);
                }
                v
            })
            .collect();
        m.insert("attendees".into(), Value::Array(list));
    }
    m.insert("extendedProperties".into(), json!({"private": {LOCAL_ID_PROPERTY: local_id.to_string()}}));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use calsync_core::sync::Content;

    fn local() -> EventInput {
        serde_json::from_value(json!({
            "calendar_id": CalendarId::from_uuid(uuid::Uuid::nil()),
            "title": "Team sync",
            "description": "Agenda",
            "start": {"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-05-04T10:00:00", "time_zone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
            "transparency": "free",
            "attendees": [{"email": "ada@example.com", "response_status": "accepted"}],
        }))
        .unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    #[test]
    fn remote_ids_are_valid_google_ids() {
        let id = remote_id_for(EventId::new());
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn an_event_survives_the_round_trip_through_google_json_as_google_returns_it() {
        let id = EventId::new();
        let mut body = event_to_google(&local(), id, Some(&remote_id_for(id)));
        // What Google adds or rewrites: an offset on dateTime, etag, sequence, reminders.
        body["start"] = json!({"dateTime": "2026-05-04T09:00:00+02:00", "timeZone": "Europe/Berlin"});
        body["end"] = json!({"dateTime": "2026-05-04T10:00:00+02:00", "timeZone": "Europe/Berlin"});
        body["etag"] = json!("\"1\"");
        body["sequence"] = json!(3);
        body["reminders"] = json!({"useDefault": true});
        let remote = event_from_google(&body).unwrap_or_else(|| panic!("not mapped"));
        assert_eq!(remote.local_id, Some(id));
        assert_eq!(remote.etag.as_deref(), Some("\"1\""));
        let RemoteState::Present(input) = remote.state else { panic!("deleted?") };
        assert_eq!(Content::of(&input), Content::of(&local()));
    }

    #[test]
    fn a_cancelled_event_is_a_deletion_but_a_cancelled_occurrence_is_an_exception() {
        let deleted = event_from_google(&json!({"id": "abc12", "status": "cancelled"}));
        assert!(matches!(deleted.map(|d| d.state), Some(RemoteState::Deleted)));
        let occurrence = event_from_google(&json!({"id": "abc12_20260504T070000Z", "status": "cancelled",
            "recurringEventId": "abc12", "originalStartTime": {"dateTime": "2026-05-04T09:00:00+02:00", "timeZone": "Europe/Berlin"}}))
        .unwrap_or_else(|| panic!("not mapped"));
        let series = occurrence.series.clone().unwrap_or_else(|| panic!("no series"));
        assert_eq!(series.series_remote_id, "abc12");
        assert_eq!(series.original_start.date_time.as_deref(), Some("2026-05-04T09:00:00"));
        let RemoteState::Present(input) = occurrence.state else { panic!("deleted?") };
        assert_eq!(input.status, Status::Cancelled);
    }

    #[test]
    fn a_utc_date_time_without_zone_is_read_in_utc() {
        let t = time_from_google(&json!({"dateTime": "2026-05-04T09:00:00+02:00"}));
        assert_eq!(t.and_then(|t| t.date_time), Some("2026-05-04T07:00:00".into()));
    }
}
