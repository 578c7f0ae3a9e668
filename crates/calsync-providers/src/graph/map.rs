//! Microsoft Graph's event JSON ⇄ calsync's event body (protocols.md §2.2, §4.3). Pure
//! functions. Graph writes zones by Windows name (IANA accepted too): read either, write
//! IANA. Bodies may be HTML: read as text, write text.

use crate::model::{RemoteEvent, RemoteState, SeriesRef};
use calsync_core::event::{Attendee, ResponseStatus, Status, Transparency, Visibility};
use calsync_core::patterned::{PatternedRecurrence, Untranslatable, from_graph, to_graph};
use calsync_core::windows_zones::zone_named;
use calsync_core::{CalendarId, EventId, EventInput, EventTimeInput};
use serde_json::{Map, Value, json};

/// The single-value extended property that carries our event id on events calsync created
/// (a string property in calsync's own property set).
pub const LOCAL_ID_PROPERTY: &str = "String {4f6c2d1e-8a3b-4c5d-9e7f-0a1b2c3d4e5f} Name calsyncId";

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `{dateTime, timeZone}` → a local date-time in an IANA zone, or (all-day) a date.
///
/// Graph shows times in the zone `Prefer: outlook.timezone` asks for (UTC by default, §2.1),
/// not in the event's own; the zone the event was written with is `original` (Graph's
/// `originalStartTimeZone`/`originalEndTimeZone`). The instant is read in the zone shown and
/// given in `original` when Graph's name for it is one we know (not e.g. the legacy
/// `tzone://Microsoft/Custom`), so an event written in Europe/Berlin reads back in it.
pub fn time_from_graph(v: &Value, all_day: bool, original: Option<&str>) -> Option<EventTimeInput> {
    let local = text(v, "dateTime")?;
    // "2026-03-12T09:00:00.0000000": seconds are enough.
    let local = local.get(..19).unwrap_or(local);
    let civil: jiff::civil::DateTime = local.parse().ok()?;
    if all_day {
        return Some(EventTimeInput { date: Some(civil.date().to_string()), ..Default::default() });
    }
    let shown = zone_named(text(v, "timeZone").unwrap_or("UTC"))?;
    let zone = original.and_then(zone_named).unwrap_or_else(|| shown.clone());
    let at = calsync_core::event_time::resolve(&shown, civil);
    let name = zone.iana_name().unwrap_or("UTC").to_owned();
    Some(EventTimeInput {
        date: None,
        date_time: Some(at.to_zoned_datetime(zone).strftime("%Y-%m-%dT%H:%M:%S").to_string()),
        time_zone: Some(name),
    })
}

/// Our start or end as Graph's `dateTimeTimeZone`. All-day days are midnights in UTC (Graph
/// wants start and end at midnight in one zone).
pub fn time_to_graph(t: &EventTimeInput) -> Value {
    match (&t.date, &t.date_time) {
        (Some(d), _) => json!({"dateTime": format!("{d}T00:00:00"), "timeZone": "UTC"}),
        (None, Some(dt)) => json!({"dateTime": dt, "timeZone": t.time_zone.as_deref().unwrap_or("UTC")}),
        (None, None) => json!({}),
    }
}

/// HTML to the text a person reads: tags dropped, line breaks kept, entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = &rest[open..];
            break;
        };
        let tag = rest[open + 1..open + close].trim().to_ascii_lowercase();
        let name = tag.trim_start_matches('/').split([' ', '/']).next().unwrap_or("");
        if matches!(name, "br" | "p" | "div" | "li" | "tr") && (name == "br" || tag.starts_with('/')) {
            out.push('\n');
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim().to_owned()
}

/// Our event id: from the extended property when the answer has it (a GET with `$expand`),
/// else from `transactionId`, which calsync sets to the same id on create and which Graph
/// returns with the event when set (§2.2) — the calendar-view delta has no `$expand` (§2.3).
fn local_id_of(v: &Value) -> Option<EventId> {
    let property = v
        .get("singleValueExtendedProperties")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter().find(|p| text(p, "id").is_some_and(|id| id.eq_ignore_ascii_case(LOCAL_ID_PROPERTY)))
        })
        .and_then(|p| text(p, "value"));
    property.or_else(|| text(v, "transactionId")).and_then(|s| s.parse().ok())
}

/// A Graph event (or an `@removed` entry of a delta) as the engine sees it. `None` when it
/// cannot be read (logged and skipped by the caller), e.g. a recurrence with no RRULE.
pub fn event_from_graph(v: &Value) -> Option<RemoteEvent> {
    let id = text(v, "id")?.to_owned();
    let etag = text(v, "@odata.etag").or_else(|| text(v, "changeKey")).map(str::to_owned);
    let updated = text(v, "lastModifiedDateTime").and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let local_id = local_id_of(v);
    if v.get("@removed").is_some() {
        return Some(RemoteEvent {
            id,
            etag,
            state: RemoteState::Deleted,
            series: None,
            local_id,
            stub: false,
            updated,
        });
    }
    let all_day = v.get("isAllDay").and_then(Value::as_bool).unwrap_or(false);
    let start = time_from_graph(v.get("start")?, all_day, text(v, "originalStartTimeZone"))?;
    let end = time_from_graph(v.get("end")?, all_day, text(v, "originalEndTimeZone"))?;
    let series = match (text(v, "type"), text(v, "seriesMasterId")) {
        (Some("occurrence" | "exception"), Some(master)) => {
            let original: jiff::Timestamp = text(v, "originalStart")?.parse().ok()?;
            let original_start = match &start.time_zone {
                _ if all_day => EventTimeInput {
                    date: Some(original.to_zoned_datetime(jiff::tz::TimeZone::UTC).date().to_string()),
                    ..Default::default()
                },
                Some(zone) => {
                    let tz = jiff::tz::TimeZone::get(zone).ok()?;
                    EventTimeInput {
                        date: None,
                        date_time: Some(original.to_zoned_datetime(tz).strftime("%Y-%m-%dT%H:%M:%S").to_string()),
                        time_zone: Some(zone.clone()),
                    }
                }
                None => return None,
            };
            Some(SeriesRef { series_remote_id: master.to_owned(), original_start })
        }
        _ => None,
    };
    let recurrence = match v.get("recurrence").filter(|r| !r.is_null()) {
        Some(r) => {
            let pattern: PatternedRecurrence = serde_json::from_value(r.clone()).ok()?;
            let zone = if all_day {
                None
            } else {
                pattern
                    .range
                    .recurrence_time_zone
                    .as_deref()
                    .and_then(zone_named)
                    .or_else(|| start.time_zone.as_deref().and_then(zone_named))
            };
            vec![from_graph(&pattern, zone.as_ref()).ok()?]
        }
        None => Vec::new(),
    };
    let body = v.get("body");
    let description = body.and_then(|b| text(b, "content")).map(|c| {
        if body.and_then(|b| text(b, "contentType")).is_some_and(|t| t.eq_ignore_ascii_case("html")) {
            html_to_text(c)
        } else {
            c.to_owned()
        }
    });
    let attendees = v
        .get("attendees")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    let email = a.get("emailAddress")?;
                    Some(Attendee {
                        email: text(email, "address")?.to_owned(),
                        name: text(email, "name").map(str::to_owned),
                        response_status: match a.get("status").and_then(|s| text(s, "response")) {
                            Some("accepted" | "organizer") => ResponseStatus::Accepted,
                            Some("declined") => ResponseStatus::Declined,
                            Some("tentativelyAccepted") => ResponseStatus::Tentative,
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
        title: text(v, "subject").unwrap_or("").to_owned(),
        description: description.filter(|d| !d.is_empty()),
        location: v.get("location").and_then(|l| text(l, "displayName")).filter(|l| !l.is_empty()).map(str::to_owned),
        start,
        end,
        recurrence,
        recurring_event_id: None,
        original_start: series.as_ref().map(|s| s.original_start.clone()),
        status: if v.get("isCancelled").and_then(Value::as_bool).unwrap_or(false) {
            Status::Cancelled
        } else {
            Status::Confirmed
        },
        transparency: if text(v, "showAs") == Some("free") { Transparency::Free } else { Transparency::Busy },
        visibility: match text(v, "sensitivity") {
            Some("private" | "personal") => Visibility::Private,
            Some("confidential") => Visibility::Confidential,
            _ => Visibility::Default,
        },
        attendees,
        color: None,
    };
    Some(RemoteEvent { id, etag, state: RemoteState::Present(Box::new(input)), series, local_id, stub: false, updated })
}

/// The body for create (`create`: with `transactionId`, so a retried create returns the first
/// event) or update. Never sends reminders or categories.
///
/// # Errors
/// A recurrence Outlook cannot hold (named in the error), never silently changed.
pub fn event_to_graph(input: &EventInput, local_id: EventId, create: bool) -> Result<Value, Untranslatable> {
    let mut m = Map::new();
    if create {
        m.insert("transactionId".into(), json!(local_id.to_string()));
    }
    m.insert("subject".into(), json!(input.title));
    m.insert("body".into(), json!({"contentType": "text", "content": input.description.as_deref().unwrap_or("")}));
    m.insert("location".into(), json!({"displayName": input.location.as_deref().unwrap_or("")}));
    let all_day = input.start.date.is_some();
    m.insert("isAllDay".into(), json!(all_day));
    m.insert("start".into(), time_to_graph(&input.start));
    m.insert("end".into(), time_to_graph(&input.end));
    if let Some(rule) = input.recurrence.iter().find(|l| l.trim_start().to_ascii_uppercase().starts_with("RRULE:")) {
        if let Some(other) =
            input.recurrence.iter().find(|l| !l.trim_start().to_ascii_uppercase().starts_with("RRULE:"))
        {
            let kind = other.split([':', ';']).next().unwrap_or(other);
            return Err(Untranslatable(format!("{kind} lines (Outlook keeps only one pattern per series)")));
        }
        let (date, zone) = match (&input.start.date, &input.start.date_time) {
            (Some(d), _) => (d.parse().map_err(|_| Untranslatable(format!("start date {d}")))?, "UTC".to_owned()),
            (None, Some(dt)) => {
                let civil: jiff::civil::DateTime = dt.parse().map_err(|_| Untranslatable(format!("start {dt}")))?;
                (civil.date(), input.start.time_zone.clone().unwrap_or_else(|| "UTC".into()))
            }
            (None, None) => return Err(Untranslatable("a series without a start".into())),
        };
        m.insert("recurrence".into(), json!(to_graph(rule, date, &zone)?));
    }
    m.insert("showAs".into(), json!(if input.transparency == Transparency::Free { "free" } else { "busy" }));
    m.insert(
        "sensitivity".into(),
        json!(match input.visibility {
            Visibility::Default | Visibility::Public => "normal",
            Visibility::Private => "private",
            Visibility::Confidential => "confidential",
        }),
    );
    // No `attendees`: Outlook would mail each one an invitation (GraphProvider::withheld).
    m.insert("singleValueExtendedProperties".into(), json!([{"id": LOCAL_ID_PROPERTY, "value": local_id.to_string()}]));
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use calsync_core::sync::Content;

    fn local() -> EventInput {
        serde_json::from_value(json!({
            "calendar_id": CalendarId::new(),
            "title": "Planning",
            "description": "Agenda:\nbudget",
            "location": "Room 7",
            "start": {"date_time": "2026-03-12T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-03-12T10:00:00", "time_zone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=10"],
            "transparency": "free",
            "visibility": "private",
            "attendees": [{"email": "bob@example.com", "name": "Bob"}],
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// What Graph answers for a written event: our fields, its own additions, Windows zones.
    fn as_graph_returns(body: &Value, id: &str) -> Value {
        let mut v = body.clone();
        v["id"] = json!(id);
        v["@odata.etag"] = json!("W/\"DwAAABYAAAA\"");
        v["lastModifiedDateTime"] = json!("2026-03-01T08:00:00Z");
        v["type"] = json!(if body.get("recurrence").is_some() { "seriesMaster" } else { "singleInstance" });
        v["start"]["dateTime"] = json!(format!("{}.0000000", v["start"]["dateTime"].as_str().unwrap_or_default()));
        if v["start"]["timeZone"] == "Europe/Berlin" {
            v["start"]["timeZone"] = json!("W. Europe Standard Time");
            v["end"]["timeZone"] = json!("W. Europe Standard Time");
        }
        v["body"] = json!({"contentType": "html", "content": "<html><body><p>Agenda:</p><p>budget</p></body></html>"});
        v["attendees"] = json!([]);
        v
    }

    #[test]
    fn an_event_written_to_graph_reads_back_as_the_same_content() {
        let ours = local();
        let id = EventId::new();
        let body = event_to_graph(&ours, id, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body["transactionId"], id.to_string());
        assert_eq!(body["recurrence"]["pattern"]["type"], "weekly");
        assert_eq!(body["sensitivity"], "private");
        let back = event_from_graph(&as_graph_returns(&body, "AAMkAD=")).unwrap_or_else(|| panic!("unreadable"));
        assert_eq!(back.local_id, Some(id), "our id comes back in the extended property");
        assert!(body.get("attendees").is_none(), "attendees are never written: Outlook would mail them");
        let RemoteState::Present(mut theirs) = back.state else { panic!("deleted?") };
        assert!(theirs.attendees.is_empty());
        theirs.attendees.clone_from(&ours.attendees);
        assert_eq!(
            Content::of(&theirs),
            Content::of(&ours),
            "Windows zones, HTML body and Graph's extras are no change"
        );
        assert_eq!(back.updated.map(|t| t.to_string()).as_deref(), Some("2026-03-01T08:00:00Z"));
    }

    #[test]
    fn all_day_events_occurrences_and_removals_read_as_the_engine_expects() {
        let all_day = json!({"id": "A", "subject": "Holiday", "isAllDay": true,
            "start": {"dateTime": "2026-05-01T00:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-05-02T00:00:00.0000000", "timeZone": "UTC"}});
        let RemoteState::Present(day) = event_from_graph(&all_day).map(|e| e.state).unwrap_or(RemoteState::Deleted)
        else {
            panic!("all-day unreadable")
        };
        assert_eq!((day.start.date.as_deref(), day.end.date.as_deref()), (Some("2026-05-01"), Some("2026-05-02")));

        let occurrence = json!({"id": "O", "subject": "Standup", "type": "exception", "seriesMasterId": "M",
            "originalStart": "2026-03-19T08:00:00Z",
            "start": {"dateTime": "2026-03-19T11:00:00.0000000", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-03-19T11:30:00.0000000", "timeZone": "W. Europe Standard Time"}});
        let moved = event_from_graph(&occurrence).unwrap_or_else(|| panic!("exception unreadable"));
        let series = moved.series.unwrap_or_else(|| panic!("no series"));
        assert_eq!(series.series_remote_id, "M");
        assert_eq!(
            series.original_start.date_time.as_deref(),
            Some("2026-03-19T09:00:00"),
            "08:00Z is 09:00 in Berlin"
        );
        assert_eq!(series.original_start.time_zone.as_deref(), Some("Europe/Berlin"));

        let removed = json!({"id": "R", "@removed": {"reason": "deleted"}});
        assert_eq!(event_from_graph(&removed).map(|e| e.state), Some(RemoteState::Deleted));
    }

    #[test]
    fn times_shown_in_utc_read_back_in_the_zone_the_event_was_written_in() {
        let shown = json!({"id": "E", "subject": "Standup",
            "originalStartTimeZone": "Europe/Berlin", "originalEndTimeZone": "W. Europe Standard Time",
            "start": {"dateTime": "2026-07-01T07:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-07-01T07:30:00.0000000", "timeZone": "UTC"}});
        let RemoteState::Present(e) = event_from_graph(&shown).map(|e| e.state).unwrap_or(RemoteState::Deleted) else {
            panic!("unreadable")
        };
        assert_eq!(e.start.date_time.as_deref(), Some("2026-07-01T09:00:00"), "07:00Z is 09:00 in Berlin in summer");
        assert_eq!(e.start.time_zone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(e.end.date_time.as_deref(), Some("2026-07-01T09:30:00"));
        let custom = json!({"dateTime": "2026-07-01T07:00:00.0000000", "timeZone": "UTC"});
        let kept = time_from_graph(&custom, false, Some("tzone://Microsoft/Custom"));
        assert_eq!(
            kept.and_then(|t| t.time_zone).as_deref(),
            Some("UTC"),
            "an unknown original zone keeps the shown one"
        );
    }

    #[test]
    fn what_outlook_cannot_hold_is_an_error_not_a_silent_change() {
        let mut hourly = local();
        hourly.recurrence = vec!["RRULE:FREQ=HOURLY".into()];
        assert!(event_to_graph(&hourly, EventId::new(), true).is_err());
        let mut with_exdate = local();
        with_exdate.recurrence.push("EXDATE;TZID=Europe/Berlin:20260319T090000".into());
        let err = event_to_graph(&with_exdate, EventId::new(), true).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("EXDATE"), "{err}");
    }

    #[test]
    fn html_bodies_read_as_text() {
        assert_eq!(html_to_text("<p>Hello&nbsp;<b>Ada</b></p><p>A &amp; B<br>C</p>"), "Hello Ada\nA & B\nC");
        assert_eq!(html_to_text("plain"), "plain");
        assert_eq!(html_to_text("broken <tag"), "broken <tag");
    }
}
