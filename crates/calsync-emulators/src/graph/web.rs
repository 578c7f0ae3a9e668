//! "Outlook (emulator)": the emulator's own web page, one mailbox's calendar as its user would
//! see it in Outlook. `GET /outlook?user=&calendar=` lists the calendar's single events and
//! series (times in each event's own zone) with forms to create, edit and delete them. Like the
//! control API it needs no token and bypasses the request log, throttling and faults; its writes
//! are the API's (`parse_write`, then `World::create`/`update`/`delete`, then
//! `Shared::changed`), so they move change keys, show in delta rounds and notify subscriptions
//! as an API write by the user does. The HTML and the form are [`crate::web`]'s.

use super::Shared;
use super::error::GraphError;
use super::event::{StoredEvent, parse_write};
use super::ids::{self, IdType};
use super::render::{self, Expand, View};
use super::series;
use super::when::{NamedZone, When};
use super::world::{Target as Item, User, World};
use crate::web::{self, Brand, Changes, EventFields, EventInput, NotHere, Page, Problem, Row, Selection, Span, Target};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use calsync_core::patterned::RangeKind;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const BRAND: Brand = Brand {
    title: "Outlook (emulator)",
    logo: "Outlook <small style=\"font-size:13px;opacity:.85\">(emulator)</small>",
    path: "/outlook",
    colours: "--accent:#0f6cbd;--accent-text:#fff;--bar:#0f6cbd;--bar-text:#fff;--event:#0f6cbd;\
              --font:'Segoe UI','Segoe UI Web (West European)',-apple-system,Roboto,'Helvetica Neue',sans-serif;",
};

/// The zone of a new event when the form leaves it empty (mailboxes here have no zone).
const DEFAULT_ZONE: &str = "UTC";

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/outlook", get(page))
        .route("/outlook/events", post(create))
        .route("/outlook/events/{id}", post(update))
        .route("/outlook/events/{id}/delete", post(delete))
}

/// The mailbox and calendar (folder) a request is about.
#[derive(Debug)]
struct Scope {
    user: String,
    folder: u64,
}

impl Scope {
    fn calendar_id(&self) -> String {
        ids::calendar_id(self.folder)
    }

    fn home(&self) -> String {
        web::link(BRAND.path, &self.user, &self.calendar_id())
    }
}

/// `?user=` (default: the first configured user) and `?calendar=` (default: their default
/// calendar), or a 404 page.
fn scope(s: &Shared, raw: Option<&str>) -> Result<Scope, NotHere> {
    let sel = Selection::parse(raw);
    let user = sel.user_or(s.config().users.first().map(|u| u.email.as_str()));
    let w = s.world();
    if !w.users.contains_key(&user) {
        return Err(Box::new(web::message_page(
            &BRAND,
            StatusCode::NOT_FOUND,
            &format!("There is no mailbox {user}."),
        )));
    }
    let folder = w.resolve_calendar(&user, sel.calendar.as_deref()).map_err(|_| {
        let cal = sel.calendar.as_deref().unwrap_or("");
        Box::new(web::message_page(&BRAND, StatusCode::NOT_FOUND, &format!("{user} has no calendar {cal}.")))
    })?;
    Ok(Scope { user, folder })
}

/// The event as the edit form shows it: times in its start zone, the body as text.
fn fields(ev: &StoredEvent, owner: &User) -> EventFields {
    let view = View { zone: NamedZone::utc(), id_type: IdType::Rest, text_body: true, expand: Expand::None };
    let v = render::event(&view, owner, ev, None);
    let text = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
    let t = &ev.times;
    let zone = NamedZone::parse(&t.start_zone).unwrap_or_else(|_| NamedZone::utc());
    let span = match (t.start, t.end) {
        (When::Day(a), When::Day(b)) => Span::days(a, b),
        _ => Span::Timed {
            start: t.start_at().to_zoned_datetime(zone.zone.clone()).datetime(),
            end: t.end_at().to_zoned_datetime(zone.zone.clone()).datetime(),
        },
    };
    EventFields::new(text("/subject"), span, &zone.name, text("/location/displayName"), text("/body/content"))
}

fn row(ev: &StoredEvent, owner: &User, now: Timestamp) -> Row {
    let fields = fields(ev, owner);
    let recurring = ev.recurrence.as_ref().map(|r| {
        let v = serde_json::to_value(r).unwrap_or(Value::Null);
        let kind = v.pointer("/pattern/type").and_then(Value::as_str).unwrap_or("recurring");
        format!("{kind}, every {}", r.pattern.interval)
    });
    let upcoming = match &ev.recurrence {
        None => ev.times.end_at() >= now,
        Some(r) if r.range.kind == RangeKind::NoEnd => true,
        // An end date or a count bounds the expansion.
        Some(_) => series::in_window(ev, now, Timestamp::MAX).map_or(true, |occ| !occ.is_empty()),
    };
    Row {
        id: ids::event_id(IdType::Rest, ev.folder, ev.item, None),
        shown: fields.span,
        zone_note: (!ev.times.all_day).then(|| fields.zone.clone()),
        fields,
        recurring,
        start: ev.times.start_at(),
        upcoming,
    }
}

fn render(s: &Shared, scope: &Scope, problem: Option<Problem>, status: StatusCode) -> Response {
    let now = Timestamp::now();
    let page = {
        let w = s.world();
        let (Ok(owner), Some(cal)) = (w.user(&scope.user), w.calendars.get(&scope.folder)) else {
            return web::message_page(&BRAND, StatusCode::NOT_FOUND, "This calendar is gone.");
        };
        let rows = w.events.values().filter(|e| e.folder == scope.folder).map(|e| row(e, owner, now)).collect();
        Page {
            brand: &BRAND,
            user: scope.user.clone(),
            calendar_id: scope.calendar_id(),
            calendar_name: cal.name.clone(),
            calendars: calendars(&w, &scope.user),
            zone_note: "Times in each event's own time zone.".into(),
            rows,
            blank: EventInput::new_on(now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date(), DEFAULT_ZONE),
            problem,
        }
    };
    web::html(status, web::render(&page))
}

/// The mailbox's calendars, the default one first.
fn calendars(w: &World, user: &str) -> Vec<(String, String)> {
    let mut mine: Vec<_> = w.calendars.values().filter(|c| c.owner == user).collect();
    mine.sort_by_key(|c| (!c.is_default, c.name.clone()));
    mine.into_iter().map(|c| (ids::calendar_id(c.folder), c.name.clone())).collect()
}

async fn page(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    match scope(&s, raw.as_deref()) {
        Ok(scope) => render(&s, &scope, None, StatusCode::OK),
        Err(r) => *r,
    }
}

/// The request body of a write: the form's changes as event properties (`null` clears).
fn body(c: &Changes<'_>) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(t) = c.title {
        m.insert("subject".into(), json!(t));
    }
    if let Some(l) = c.location {
        m.insert("location".into(), if l.is_empty() { Value::Null } else { json!({"displayName": l}) });
    }
    if let Some(d) = c.description {
        m.insert("body".into(), if d.is_empty() { Value::Null } else { json!({"contentType": "text", "content": d}) });
    }
    if let Some((span, zone)) = c.times {
        let (start, end) = span.bounds();
        m.insert("start".into(), json!({"dateTime": web::iso(start), "timeZone": zone}));
        m.insert("end".into(), json!({"dateTime": web::iso(end), "timeZone": zone}));
        m.insert("isAllDay".into(), json!(span.is_all_day()));
    }
    m
}

/// A write the mailbox refused: the form again with Graph's message (422), or the page with
/// "gone" when the event no longer exists (404).
fn refused(s: &Shared, scope: &Scope, target: Target, input: EventInput, e: &GraphError) -> Response {
    if e.status == StatusCode::NOT_FOUND || e.code == "ErrorInvalidIdMalformed" {
        let problem = Problem { target: Target::Page, message: "That event no longer exists.".into(), input: None };
        return render(s, scope, Some(problem), StatusCode::NOT_FOUND);
    }
    let status = if e.status == StatusCode::BAD_REQUEST { StatusCode::UNPROCESSABLE_ENTITY } else { e.status };
    render(s, scope, Some(Problem { target, message: e.message.clone(), input: Some(input) }), status)
}

fn invalid(s: &Shared, scope: &Scope, target: Target, input: EventInput, message: String) -> Response {
    render(s, scope, Some(Problem { target, message, input: Some(input) }), StatusCode::UNPROCESSABLE_ENTITY)
}

/// An event of this page's calendar (not an occurrence: the page lists series, not instances).
fn locate(w: &World, scope: &Scope, id: &str) -> Result<Item, GraphError> {
    let t = w.locate(&scope.user, id, Some(scope.folder))?;
    if t.occurrence.is_some() {
        return Err(GraphError::not_found());
    }
    Ok(t)
}

async fn create(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery, form: Bytes) -> Response {
    let scope = match scope(&s, raw.as_deref()) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let input = EventInput::from_form(&form);
    let fields = match input.check(DEFAULT_ZONE) {
        Ok(f) => f,
        Err(message) => return invalid(&s, &scope, Target::New, input, message),
    };
    let write = match parse_write(&body(&fields.all())) {
        Ok(w) => w,
        Err(e) => return refused(&s, &scope, Target::New, input, &e),
    };
    let window = s.config().transaction_id_window;
    let created = s.world().create(&scope.user, scope.folder, write, window, Timestamp::now());
    match created {
        Ok((_, notice)) => {
            s.changed(notice.as_slice());
            web::see_other(&scope.home())
        }
        Err(e) => refused(&s, &scope, Target::New, input, &e),
    }
}

async fn update(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    form: Bytes,
) -> Response {
    let scope = match scope(&s, raw.as_deref()) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let input = EventInput::from_form(&form);
    let target = Target::Event(id.clone());
    let updated = {
        let mut w = s.world();
        let current = locate(&w, &scope, &id).and_then(|t| {
            let ev = w.event(t.item)?;
            Ok((t, fields(ev, w.user(&scope.user)?)))
        });
        let (t, current) = match current {
            Ok(x) => x,
            Err(e) => {
                drop(w);
                return refused(&s, &scope, target, input, &e);
            }
        };
        let submitted = match input.check(&current.zone) {
            Ok(f) => f,
            Err(message) => {
                drop(w);
                return invalid(&s, &scope, target, input, message);
            }
        };
        let changes = current.changes(&submitted);
        if changes.is_empty() {
            return web::see_other(&scope.home());
        }
        parse_write(&body(&changes)).and_then(|write| w.update(t, write, None, Timestamp::now()))
    };
    match updated {
        Ok(notice) => {
            s.changed(&[notice]);
            web::see_other(&scope.home())
        }
        Err(e) => refused(&s, &scope, target, input, &e),
    }
}

async fn delete(State(s): State<Arc<Shared>>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let scope = match scope(&s, raw.as_deref()) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let deleted = {
        let mut w = s.world();
        locate(&w, &scope, &id).and_then(|t| w.delete(t, None, Timestamp::now()))
    };
    match deleted {
        Ok(notice) => {
            s.changed(&[notice]);
            web::see_other(&scope.home())
        }
        Err(e) => refused(&s, &scope, Target::Page, EventInput::default(), &e),
    }
}
