//! "Google Calendar (emulator)": the emulator's own web page, one user's calendar as they would
//! see it at calendar.google.com. `GET /calendar?user=&calendar=` lists its events (in the
//! calendar's zone) with forms to create, edit and delete them. Like the control API it needs no
//! token and bypasses the request log, rate limits and faults; its writes are the API's
//! (`World::insert_event`, `write_event` as a patch, `delete_event`, then `Shared::changed`), so
//! they move etags, sequences and sync tokens and notify watch channels as an API write by the
//! user does. The HTML and the form are [`crate::web`]'s.

use super::Shared;
use super::error::ApiError;
use super::resource::StoredEvent;
use super::when::When;
use super::world::{Calendar, World, WriteKind};
use crate::web::{self, Brand, Changes, EventFields, EventInput, NotHere, Page, Problem, Row, Selection, Span, Target};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const BRAND: Brand = Brand {
    title: "Google Calendar (emulator)",
    logo: "<span style=\"color:#4285f4\">G</span><span style=\"color:#ea4335\">o</span>\
           <span style=\"color:#fbbc04\">o</span><span style=\"color:#4285f4\">g</span>\
           <span style=\"color:#34a853\">l</span><span style=\"color:#ea4335\">e</span> Calendar \
           <small style=\"color:#5f6368;font-size:13px\">(emulator)</small>",
    path: "/calendar",
    colours: "--accent:#1a73e8;--accent-text:#fff;--bar:#fff;--bar-text:#3c4043;--event:#039be5;\
              --font:'Google Sans',Roboto,Arial,sans-serif;",
};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/calendar", get(page))
        .route("/calendar/events", post(create))
        .route("/calendar/events/{event}", post(update))
        .route("/calendar/events/{event}/delete", post(delete))
}

/// The user and calendar a request is about.
#[derive(Debug)]
struct Scope {
    user: String,
    calendar: String,
}

/// `?user=` (default: the first configured user) and `?calendar=` (default: their primary
/// calendar), or a 404 page.
fn scope(s: &Shared, raw: Option<&str>) -> Result<Scope, NotHere> {
    let sel = Selection::parse(raw);
    let user = sel.user_or(s.config().users.first().map(|u| u.email.as_str()));
    let w = s.world();
    if !w.users.contains_key(&user) {
        return Err(Box::new(web::message_page(&BRAND, StatusCode::NOT_FOUND, &format!("There is no user {user}."))));
    }
    let cal = sel.calendar.unwrap_or_else(|| "primary".to_owned());
    let calendar = w.resolve_calendar(&user, &cal).map_err(|_| {
        Box::new(web::message_page(&BRAND, StatusCode::NOT_FOUND, &format!("{user} has no calendar {cal}.")))
    })?;
    Ok(Scope { user, calendar })
}

/// The event's start zone (its `timeZone`, else the calendar's).
fn zone_of(start: &When, cal: &Calendar) -> (String, TimeZone) {
    match start {
        When::Timed { zone: Some(z), .. } => (z.as_str().to_owned(), z.zone().clone()),
        _ => (cal.time_zone.clone(), cal.zone()),
    }
}

fn span_in(start: &When, end: &When, zone: &TimeZone) -> Span {
    match (start, end) {
        (When::Date(a), When::Date(b)) => Span::days(*a, *b),
        _ => Span::Timed {
            start: start.instant(zone).to_zoned_datetime(zone.clone()).datetime(),
            end: end.instant(zone).to_zoned_datetime(zone.clone()).datetime(),
        },
    }
}

/// The event as the edit form shows it: times in its own zone.
fn fields(e: &StoredEvent, cal: &Calendar) -> Option<EventFields> {
    let (start, end) = e.times().ok()?;
    let (zone, tz) = zone_of(&start, cal);
    let text = |k: &str| e.fields.get(k).and_then(Value::as_str).unwrap_or("");
    Some(EventFields::new(text("summary"), span_in(&start, &end, &tz), &zone, text("location"), text("description")))
}

fn row(e: &StoredEvent, cal: &Calendar, now: Timestamp) -> Option<Row> {
    let (start, end) = e.times().ok()?;
    let recurring = if e.is_master() {
        let lines = e.fields.get("recurrence").and_then(Value::as_array).cloned().unwrap_or_default();
        Some(lines.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "))
    } else {
        e.recurring_event_id.as_ref().map(|m| format!("a changed occurrence of {m}"))
    };
    Some(Row {
        id: e.id.clone(),
        fields: fields(e, cal)?,
        shown: span_in(&start, &end, &cal.zone()),
        zone_note: None,
        recurring,
        start: Timestamp::from_millisecond(e.start_ms).unwrap_or(now),
        upcoming: e.endless || e.end_ms >= now.as_millisecond(),
    })
}

fn render(s: &Shared, scope: &Scope, problem: Option<Problem>, status: StatusCode) -> Response {
    let now = Timestamp::now();
    let page = {
        let w = s.world();
        let Ok(cal) = w.calendar(&scope.calendar) else {
            return web::message_page(&BRAND, StatusCode::NOT_FOUND, "This calendar is gone.");
        };
        let rows = cal.events.values().filter(|e| !e.is_cancelled()).filter_map(|e| row(e, cal, now)).collect();
        let today = now.to_zoned_datetime(cal.zone()).date();
        Page {
            brand: &BRAND,
            user: scope.user.clone(),
            calendar_id: cal.id.clone(),
            calendar_name: cal.summary.clone(),
            calendars: calendars(&w, &scope.user),
            zone_note: format!("Times in {} (the calendar's time zone).", cal.time_zone),
            rows,
            blank: EventInput::new_on(today, &cal.time_zone),
            problem,
        }
    };
    web::html(status, web::render(&page))
}

/// The user's calendars (their list, without deleted entries).
fn calendars(w: &World, user: &str) -> Vec<(String, String)> {
    let Some(u) = w.users.get(user) else { return Vec::new() };
    u.list
        .iter()
        .filter(|(_, e)| !e.deleted)
        .filter_map(|(id, _)| w.calendars.get(id).map(|c| (id.clone(), c.summary.clone())))
        .collect()
}

async fn page(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    match scope(&s, raw.as_deref()) {
        Ok(scope) => render(&s, &scope, None, StatusCode::OK),
        Err(r) => *r,
    }
}

/// The request body of a write: the form's changes as Event fields (`null` clears).
fn body(c: &Changes<'_>) -> Map<String, Value> {
    let mut m = Map::new();
    let text = |v: &str| if v.is_empty() { Value::Null } else { json!(v) };
    if let Some(t) = c.title {
        m.insert("summary".into(), json!(t));
    }
    if let Some(l) = c.location {
        m.insert("location".into(), text(l));
    }
    if let Some(d) = c.description {
        m.insert("description".into(), text(d));
    }
    if let Some((span, zone)) = c.times {
        let (start, end) = match span {
            Span::AllDay { .. } => {
                let (a, b) = span.bounds();
                (json!({"date": a.date().to_string()}), json!({"date": b.date().to_string()}))
            }
            Span::Timed { start, end } => (
                json!({"dateTime": web::iso(start), "timeZone": zone}),
                json!({"dateTime": web::iso(end), "timeZone": zone}),
            ),
        };
        m.insert("start".into(), start);
        m.insert("end".into(), end);
    }
    m
}

/// A write the world refused: the form again with Google's message (422), or the page with
/// "gone" when the event no longer exists (404).
fn refused(s: &Shared, scope: &Scope, target: Target, input: EventInput, e: &ApiError) -> Response {
    if matches!(e.status.as_u16(), 404 | 410) {
        let problem = Problem { target: Target::Page, message: "That event no longer exists.".into(), input: None };
        return render(s, scope, Some(problem), StatusCode::NOT_FOUND);
    }
    let status = if e.status == StatusCode::BAD_REQUEST { StatusCode::UNPROCESSABLE_ENTITY } else { e.status };
    render(s, scope, Some(Problem { target, message: e.message.clone(), input: Some(input) }), status)
}

fn done(s: &Shared, scope: &Scope) -> Response {
    s.changed(&scope.calendar);
    web::see_other(&web::link(BRAND.path, &scope.user, &scope.calendar))
}

fn zone_name(s: &Shared, scope: &Scope) -> String {
    s.world().calendar(&scope.calendar).map_or_else(|_| "UTC".to_owned(), |c| c.time_zone.clone())
}

async fn create(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery, form: Bytes) -> Response {
    let scope = match scope(&s, raw.as_deref()) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let input = EventInput::from_form(&form);
    let fields = match input.check(&zone_name(&s, &scope)) {
        Ok(f) => f,
        Err(message) => {
            let problem = Problem { target: Target::New, message, input: Some(input) };
            return render(&s, &scope, Some(problem), StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let written = s.world().insert_event(&scope.user, &scope.calendar, &body(&fields.all()), Timestamp::now());
    match written {
        Ok(_) => done(&s, &scope),
        Err(e) => refused(&s, &scope, Target::New, input, &e),
    }
}

async fn update(
    State(s): State<Arc<Shared>>,
    Path(event): Path<String>,
    RawQuery(raw): RawQuery,
    form: Bytes,
) -> Response {
    let scope = match scope(&s, raw.as_deref()) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let input = EventInput::from_form(&form);
    let target = Target::Event(event.clone());
    let written = {
        let mut w = s.world();
        let current = w.calendar(&scope.calendar).ok().and_then(|cal| {
            let e = cal.events.get(&event).filter(|e| !e.is_cancelled())?;
            fields(e, cal)
        });
        let Some(current) = current else {
            drop(w);
            return refused(&s, &scope, target, input, &ApiError::not_found());
        };
        let submitted = match input.check(&current.zone) {
            Ok(f) => f,
            Err(message) => {
                drop(w);
                let problem = Problem { target, message, input: Some(input) };
                return render(&s, &scope, Some(problem), StatusCode::UNPROCESSABLE_ENTITY);
            }
        };
        let changes = current.changes(&submitted);
        if changes.is_empty() {
            return web::see_other(&web::link(BRAND.path, &scope.user, &scope.calendar));
        }
        w.write_event(&scope.calendar, &event, WriteKind::Patch, &body(&changes), None, Timestamp::now())
    };
    match written {
        Ok(_) => done(&s, &scope),
        Err(e) => refused(&s, &scope, target, input, &e),
    }
}

async fn delete(State(s): State<Arc<Shared>>, Path(event): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let scope = match scope(&s, raw.as_deref()) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let deleted = s.world().delete_event(&scope.calendar, &event, None, Timestamp::now());
    match deleted {
        Ok(_) => done(&s, &scope),
        Err(e) => refused(&s, &scope, Target::Page, EventInput::default(), &e),
    }
}
