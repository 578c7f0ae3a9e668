//! Graph's calendar endpoints under `/v1.0/me` (protocols.md §2.1, §2.3, §2.4): the user,
//! calendars, events (CRUD, instances), calendarView and its delta. Paths that name a calendar
//! (`/me/calendars/{cal}/…`, `/me/calendar/…`) confine a request to it; `/me/events/{id}`
//! finds the event in any calendar of the mailbox.

use super::Shared;
use super::delta::{self, DeltaRequest, DeltaSettings};
use super::error::{GraphError, GraphResult};
use super::event::parse_write;
use super::render::{self, Expand, View};
use super::series;
use super::views::{self, Paging, Query};
use super::when::Prefer;
use super::world::{Calendar, User, World};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    let mut r = Router::new()
        .route("/v1.0/me", get(me))
        .route("/v1.0/me/calendars", get(calendars_list).post(calendar_create))
        .route("/v1.0/me/calendar", get(calendar_get))
        .route("/v1.0/me/calendars/{cal}", get(calendar_get).delete(calendar_delete));
    for scope in ["/v1.0/me", "/v1.0/me/calendar", "/v1.0/me/calendars/{cal}"] {
        r = r
            .route(&format!("{scope}/events"), get(events_list).post(event_create))
            .route(&format!("{scope}/events/{{id}}"), get(event_get).patch(event_patch).delete(event_delete))
            .route(&format!("{scope}/events/{{id}}/instances"), get(event_instances))
            .route(&format!("{scope}/calendarView"), get(calendar_view));
        // The spellings the official SDKs send for the delta function.
        for delta in ["delta", "delta()", "microsoft.graph.delta()", "microsoft.graph.delta"] {
            r = r.route(&format!("{scope}/calendarView/{delta}"), get(calendar_view_delta));
        }
    }
    r
}

/// `Authorization: Bearer …` (case-insensitive scheme).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The user and app an access token belongs to, and its scopes.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: String,
    pub client_id: String,
    scope: String,
}

#[derive(Debug, Clone, Copy)]
pub enum Need {
    ReadCalendars,
    WriteCalendars,
    ReadUser,
}

impl Caller {
    pub fn require(&self, need: Need) -> GraphResult<()> {
        let has = |s: &str| self.scope.split(' ').any(|g| g.eq_ignore_ascii_case(s));
        let ok = match need {
            Need::ReadCalendars => has("Calendars.Read") || has("Calendars.ReadWrite") || has("Calendars.ReadBasic"),
            Need::WriteCalendars => has("Calendars.ReadWrite"),
            Need::ReadUser => {
                has("User.Read") || has("User.ReadWrite") || has("User.ReadBasic.All") || has("User.Read.All")
            }
        };
        if ok { Ok(()) } else { Err(GraphError::access_denied()) }
    }
}

impl FromRequestParts<Arc<Shared>> for Caller {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(|| GraphError::unauthenticated("Access token is empty."))?;
        let world = shared.world();
        let t = world
            .grants
            .access
            .get(token)
            .ok_or_else(|| GraphError::unauthenticated("Access token validation failure. Invalid audience."))?;
        if t.expires_at <= Timestamp::now() {
            return Err(GraphError::unauthenticated("Lifetime validation failed, the token is expired."));
        }
        if !world.users.contains_key(&t.user) {
            return Err(GraphError::unauthenticated("The user of this token does not exist."));
        }
        Ok(Self { user: t.user.clone(), client_id: t.client_id.clone(), scope: t.scope.clone() })
    }
}

/// Which calendars a path confines a request to.
enum Scope {
    /// `/me/events…`: lists and creates use the default calendar; ids may be in any.
    Mailbox,
    Calendar(Option<String>),
}

impl Scope {
    fn of(params: &HashMap<String, String>, uri: &Uri) -> Self {
        match params.get("cal") {
            Some(c) => Self::Calendar(Some(c.clone())),
            None if uri.path().starts_with("/v1.0/me/calendar/") => Self::Calendar(None),
            None => Self::Mailbox,
        }
    }

    /// The calendar for lists and creates.
    fn folder(&self, w: &World, user: &str) -> GraphResult<u64> {
        match self {
            Self::Mailbox => w.resolve_calendar(user, None),
            Self::Calendar(c) => w.resolve_calendar(user, c.as_deref()),
        }
    }

    /// The calendar an id must be in (`None`: any).
    fn confine(&self, w: &World, user: &str) -> GraphResult<Option<u64>> {
        match self {
            Self::Mailbox => Ok(None),
            Self::Calendar(c) => w.resolve_calendar(user, c.as_deref()).map(Some),
        }
    }
}

/// A JSON answer as Graph sends it, with `Preference-Applied` when a zone was asked for.
fn ok(status: StatusCode, body: &Value, prefer: &Prefer) -> Response {
    let mut r = (status, body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8",
        ),
    );
    let mut applied = Vec::new();
    if let Some(z) = &prefer.time_zone {
        applied.push(format!("outlook.timezone=\"{z}\""));
    }
    if let Some(n) = prefer.max_page_size {
        applied.push(format!("odata.maxpagesize={n}"));
    }
    if let Ok(v) = HeaderValue::from_str(&applied.join(", "))
        && !applied.is_empty()
    {
        h.insert("preference-applied", v);
    }
    r
}

/// A request body: a JSON object. Bad JSON is 400 `RequestBodyRead`, never a panic.
fn object(body: &Bytes) -> GraphResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(GraphError::body_read("Empty Payload. JSON content expected."));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(GraphError::body_read("The request body must be a JSON object.")),
        Err(e) => Err(GraphError::body_read(format!("Invalid JSON. {e}"))),
    }
}

fn view(headers: &HeaderMap, q: &Query) -> (Prefer, View) {
    let prefer = Prefer::parse(headers);
    let v = View::new(&prefer, Expand::parse(q.get("$expand")));
    (prefer, v)
}

fn context(s: &Shared, user: &User, what: &str) -> String {
    format!("{}/v1.0/$metadata#users('{}')/{what}", s.base_url, user.id)
}

// ---- the user and calendars ------------------------------------------------------------------

async fn me(State(s): State<Arc<Shared>>, caller: Caller) -> GraphResult<Response> {
    caller.require(Need::ReadUser)?;
    let w = s.world();
    let u = w.user(&caller.user)?;
    let body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users/$entity", s.base_url),
        "id": u.id, "displayName": u.display_name(), "mail": u.email, "userPrincipalName": u.email,
        "givenName": null, "surname": null, "jobTitle": null, "mobilePhone": null, "officeLocation": null,
        "preferredLanguage": "en-US", "businessPhones": [],
    });
    Ok(ok(StatusCode::OK, &body, &Prefer::default()))
}

fn calendar_json(c: &Calendar, owner: &User) -> Value {
    json!({
        "id": super::ids::calendar_id(c.folder), "name": c.name, "color": c.color, "hexColor": "",
        "isDefaultCalendar": c.is_default, "changeKey": c.change_key, "canShare": true,
        "canViewPrivateItems": true, "canEdit": true, "isRemovable": !c.is_default, "isTallyingResponses": true,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"], "defaultOnlineMeetingProvider": "teamsForBusiness",
        "owner": {"name": owner.display_name(), "address": owner.email},
    })
}

async fn calendars_list(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    RawQuery(raw): RawQuery,
    uri: Uri,
) -> GraphResult<Response> {
    caller.require(Need::ReadCalendars)?;
    let q = Query::parse(raw.as_deref());
    let w = s.world();
    let u = w.user(&caller.user)?;
    let mut cals: Vec<&Calendar> = w.calendars.values().filter(|c| c.owner == caller.user).collect();
    cals.sort_by_key(|c| (!c.is_default, c.name.clone(), c.folder));
    let items: Vec<Value> = cals.into_iter().map(|c| calendar_json(c, u)).collect();
    let paging = Paging::parse(&q, None, 10, 1000)?;
    let body = views::page(items, &q, &paging, &s.base_url, uri.path(), &context(&s, u, "calendars"));
    Ok(ok(StatusCode::OK, &body, &Prefer::default()))
}

async fn calendar_get(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> GraphResult<Response> {
    caller.require(Need::ReadCalendars)?;
    let w = s.world();
    let folder = w.resolve_calendar(&caller.user, p.get("cal").map(String::as_str))?;
    let u = w.user(&caller.user)?;
    let mut body = calendar_json(&w.calendars[&folder], u);
    body["@odata.context"] = json!(context(&s, u, "calendars/$entity"));
    Ok(ok(StatusCode::OK, &body, &Prefer::default()))
}

async fn calendar_create(State(s): State<Arc<Shared>>, caller: Caller, body: Bytes) -> GraphResult<Response> {
    caller.require(Need::WriteCalendars)?;
    let body = object(&body)?;
    let name = match body.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => n.clone(),
        _ => return Err(GraphError::invalid_request("name is required.")),
    };
    let mut w = s.world();
    if w.calendars.values().any(|c| c.owner == caller.user && c.name.eq_ignore_ascii_case(&name)) {
        return Err(GraphError::new(
            StatusCode::CONFLICT,
            "ErrorFolderExists",
            "A folder with the specified name already exists.",
        ));
    }
    let folder = w.add_calendar(&caller.user, &name, false);
    let u = w.user(&caller.user)?;
    let mut out = calendar_json(&w.calendars[&folder], u);
    out["@odata.context"] = json!(context(&s, u, "calendars/$entity"));
    Ok(ok(StatusCode::CREATED, &out, &Prefer::default()))
}

async fn calendar_delete(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path(p): Path<HashMap<String, String>>,
) -> GraphResult<Response> {
    caller.require(Need::WriteCalendars)?;
    let mut w = s.world();
    let folder = w.resolve_calendar(&caller.user, p.get("cal").map(String::as_str))?;
    w.delete_calendar(&caller.user, folder)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- events ----------------------------------------------------------------------------------

/// The parts every event handler reads.
struct Req {
    params: HashMap<String, String>,
    uri: Uri,
    query: Query,
    headers: HeaderMap,
}

impl<S: Send + Sync> FromRequestParts<S> for Req {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| GraphError::invalid_request(format!("Bad path: {e}")))?;
        Ok(Self {
            params,
            uri: parts.uri.clone(),
            query: Query::parse(parts.uri.query()),
            headers: parts.headers.clone(),
        })
    }
}

impl Req {
    fn scope(&self) -> Scope {
        Scope::of(&self.params, &self.uri)
    }

    fn id(&self) -> &str {
        self.params.get("id").map_or("", String::as_str)
    }

    fn if_match(&self) -> Option<&str> {
        self.headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
    }
}

async fn events_list(State(s): State<Arc<Shared>>, caller: Caller, r: Req) -> GraphResult<Response> {
    caller.require(Need::ReadCalendars)?;
    let (prefer, view) = view(&r.headers, &r.query);
    let config = s.config();
    let paging = Paging::parse(&r.query, prefer.max_page_size, config.list_page_size, config.max_page_size)?;
    let w = s.world();
    let folder = r.scope().folder(&w, &caller.user)?;
    let u = w.user(&caller.user)?;
    let items = views::events(&w, u, folder, &view);
    let body = views::page(items, &r.query, &paging, &s.base_url, r.uri.path(), &context(&s, u, "events"));
    Ok(ok(StatusCode::OK, &body, &prefer))
}

async fn event_get(State(s): State<Arc<Shared>>, caller: Caller, r: Req) -> GraphResult<Response> {
    caller.require(Need::ReadCalendars)?;
    let (prefer, view) = view(&r.headers, &r.query);
    let w = s.world();
    let confine = r.scope().confine(&w, &caller.user)?;
    let t = w.locate(&caller.user, r.id(), confine)?;
    let u = w.user(&caller.user)?;
    let ev = w.event(t.item)?;
    let occ = match t.occurrence {
        Some(k) => Some(series::find(ev, k)?.ok_or_else(GraphError::not_found)?),
        None => None,
    };
    let mut body = render::event(&view, u, ev, occ.as_ref());
    body["@odata.context"] = json!(context(&s, u, "events/$entity"));
    Ok(ok(StatusCode::OK, &body, &prefer))
}

/// Renders one event (or occurrence) after a write.
fn rendered(s: &Shared, w: &World, user: &str, view: &View, item: u128, occurrence: Option<i64>) -> GraphResult<Value> {
    let u = w.user(user)?;
    let ev = w.event(item)?;
    let occ = match occurrence {
        Some(k) => Some(series::find(ev, k)?.ok_or_else(GraphError::not_found)?),
        None => None,
    };
    let mut body = render::event(view, u, ev, occ.as_ref());
    body["@odata.context"] = json!(context(s, u, "events/$entity"));
    Ok(body)
}

async fn event_create(State(s): State<Arc<Shared>>, caller: Caller, r: Req, body: Bytes) -> GraphResult<Response> {
    caller.require(Need::WriteCalendars)?;
    let (prefer, view) = view(&r.headers, &r.query);
    let write = parse_write(&object(&body)?)?;
    let window = s.config().transaction_id_window;
    let (body, notice) = {
        let mut w = s.world();
        let folder = r.scope().folder(&w, &caller.user)?;
        let (item, notice) = w.create(&caller.user, folder, write, window, Timestamp::now())?;
        (rendered(&s, &w, &caller.user, &view, item, None)?, notice)
    };
    s.changed(notice.as_slice());
    Ok(ok(StatusCode::CREATED, &body, &prefer))
}

async fn event_patch(State(s): State<Arc<Shared>>, caller: Caller, r: Req, body: Bytes) -> GraphResult<Response> {
    caller.require(Need::WriteCalendars)?;
    let (prefer, view) = view(&r.headers, &r.query);
    let write = parse_write(&object(&body)?)?;
    let (body, notice) = {
        let mut w = s.world();
        let confine = r.scope().confine(&w, &caller.user)?;
        let t = w.locate(&caller.user, r.id(), confine)?;
        let notice = w.update(t, write, r.if_match(), Timestamp::now())?;
        (rendered(&s, &w, &caller.user, &view, t.item, t.occurrence)?, notice)
    };
    s.changed(&[notice]);
    Ok(ok(StatusCode::OK, &body, &prefer))
}

async fn event_delete(State(s): State<Arc<Shared>>, caller: Caller, r: Req) -> GraphResult<Response> {
    caller.require(Need::WriteCalendars)?;
    let notice = {
        let mut w = s.world();
        let confine = r.scope().confine(&w, &caller.user)?;
        let t = w.locate(&caller.user, r.id(), confine)?;
        w.delete(t, r.if_match(), Timestamp::now())?
    };
    s.changed(&[notice]);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn event_instances(State(s): State<Arc<Shared>>, caller: Caller, r: Req) -> GraphResult<Response> {
    caller.require(Need::ReadCalendars)?;
    let (prefer, view) = view(&r.headers, &r.query);
    let (from, to) = r.query.window()?;
    let config = s.config();
    let paging = Paging::parse(&r.query, prefer.max_page_size, config.list_page_size, config.max_page_size)?;
    let w = s.world();
    let confine = r.scope().confine(&w, &caller.user)?;
    let t = w.locate(&caller.user, r.id(), confine)?;
    if t.occurrence.is_some() {
        return Err(GraphError::invalid_request("Instances can only be listed for a series master."));
    }
    let u = w.user(&caller.user)?;
    let items = views::instances(&w, u, t.item, from, to, &view)?;
    let body = views::page(items, &r.query, &paging, &s.base_url, r.uri.path(), &context(&s, u, "events"));
    Ok(ok(StatusCode::OK, &body, &prefer))
}

async fn calendar_view(State(s): State<Arc<Shared>>, caller: Caller, r: Req) -> GraphResult<Response> {
    caller.require(Need::ReadCalendars)?;
    let (prefer, view) = view(&r.headers, &r.query);
    let (from, to) = r.query.window()?;
    let config = s.config();
    let paging = Paging::parse(&r.query, prefer.max_page_size, config.list_page_size, config.max_page_size)?;
    let w = s.world();
    let folder = r.scope().folder(&w, &caller.user)?;
    let u = w.user(&caller.user)?;
    let items = views::calendar_view(&w, u, folder, from, to, &view)?;
    let body = views::page(items, &r.query, &paging, &s.base_url, r.uri.path(), &context(&s, u, "calendarView"));
    Ok(ok(StatusCode::OK, &body, &prefer))
}

async fn calendar_view_delta(State(s): State<Arc<Shared>>, caller: Caller, r: Req) -> GraphResult<Response> {
    caller.require(Need::ReadCalendars)?;
    let prefer = Prefer::parse(&r.headers);
    // Delta has no $expand (MS-DELTA); ids and zones follow the Prefer header.
    let view = View::new(&prefer, Expand::None);
    let config = s.config();
    let settings = DeltaSettings {
        page_size: prefer.max_page_size.unwrap_or(config.delta_page_size).clamp(1, config.max_page_size.max(1)),
        ragged: config.page_mode == super::config::PageMode::Ragged,
        empty_page_probability: config.empty_page_probability,
        replays: config.delta_replays,
        cache_size: config.delta_token_cache,
        reject_query_options: config.delta_rejects_query_options,
    };
    let mut w = s.world();
    let folder = r.scope().folder(&w, &caller.user)?;
    let u = w.user(&caller.user)?.clone();
    let req = DeltaRequest { folder, path: r.uri.path(), query: &r.query, base: &s.base_url };
    let body = delta::respond(&mut w, &u, &req, &view, &settings)?;
    Ok(ok(StatusCode::OK, &body, &prefer))
}

/// Anything else: Graph names the segment it does not know.
pub async fn unknown_segment(uri: Uri) -> GraphError {
    let segment = uri.path().rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    if uri.path().starts_with("/v1.0/") || uri.path().starts_with("/beta/") {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Resource not found for the segment '{segment}'."),
        )
    } else {
        GraphError::new(StatusCode::NOT_FOUND, "NotFound", format!("No route for {}.", uri.path()))
    }
}
