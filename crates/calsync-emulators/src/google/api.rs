//! The Calendar v3 endpoints (protocols.md §1.2): calendarList, calendars, events, channels.

use super::Shared;
use super::error::{ApiError, ApiResult, json_body};
use super::listing::{self, ListRequest, Query};
use super::push::Push;
use super::world::WriteKind;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const SCOPE_ALL: &str = "https://www.googleapis.com/auth/calendar";
const SCOPE_READONLY: &str = "https://www.googleapis.com/auth/calendar.readonly";
const SCOPE_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
const SCOPE_EVENTS_READONLY: &str = "https://www.googleapis.com/auth/calendar.events.readonly";

/// What a request may do, by the scopes its token carries (§1.1).
#[derive(Debug, Clone, Copy)]
enum Need {
    ReadEvents,
    WriteEvents,
    ReadCalendars,
    WriteCalendars,
}

impl Need {
    fn scopes(self) -> &'static [&'static str] {
        match self {
            Self::ReadEvents => &[SCOPE_ALL, SCOPE_READONLY, SCOPE_EVENTS, SCOPE_EVENTS_READONLY],
            Self::WriteEvents => &[SCOPE_ALL, SCOPE_EVENTS],
            Self::ReadCalendars => &[SCOPE_ALL, SCOPE_READONLY],
            Self::WriteCalendars => &[SCOPE_ALL],
        }
    }
}

/// The user an access token belongs to, and its scopes.
#[derive(Debug, Clone)]
pub struct Caller {
    pub email: String,
    scope: String,
}

impl Caller {
    fn require(&self, need: Need) -> ApiResult<()> {
        let granted: Vec<&str> = self.scope.split(' ').collect();
        if need.scopes().iter().any(|s| granted.contains(s)) { Ok(()) } else { Err(ApiError::insufficient_scopes()) }
    }
}

impl FromRequestParts<Arc<Shared>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, Self::Rejection> {
        let header_token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|t| t.trim().to_owned());
        let query = Query::parse(parts.uri.query());
        let token = header_token
            .or_else(|| query.get("oauth_token").or_else(|| query.get("access_token")).map(str::to_owned))
            .ok_or_else(ApiError::missing_credentials)?;
        let now = Timestamp::now();
        let caller = {
            let world = shared.world();
            let t = world
                .access_tokens
                .get(&token)
                .filter(|t| t.expires_at > now)
                .ok_or_else(ApiError::invalid_credentials)?;
            if !world.users.contains_key(&t.user) {
                return Err(ApiError::invalid_credentials());
            }
            Self { email: t.user.clone(), scope: t.scope.clone() }
        };
        // One field, read under the lock: this runs on every request.
        let limit = super::lock(&shared.config).user_rate_limit_per_minute;
        if shared.rate().admit(&caller.email, limit, std::time::Duration::from_secs(60), now).is_err() {
            return Err(ApiError::user_rate_limited());
        }
        Ok(caller)
    }
}

/// A JSON answer with Google's content type (and the resource's ETag, when it has one).
fn ok(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, json_body(body)).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=UTF-8"));
    if let Some(tag) = body.get("etag").and_then(Value::as_str).and_then(|t| HeaderValue::from_str(t).ok()) {
        r.headers_mut().insert(header::ETAG, tag);
    }
    r
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A request body: a JSON object (an empty body is an empty object).
fn object(body: &Bytes) -> ApiResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::parse_error("the body must be a JSON object")),
        Err(e) => Err(ApiError::parse_error(e)),
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn check_send_updates(q: &Query) -> ApiResult<()> {
    match q.get("sendUpdates") {
        None | Some("all" | "externalOnly" | "none") => Ok(()),
        Some(other) => Err(ApiError::invalid(
            "sendUpdates",
            format!("Invalid value for sendUpdates: {other:?} (all, externalOnly, none)"),
        )),
    }
}

// ---- calendarList and calendars ------------------------------------------------------------

pub async fn calendar_list(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    caller.require(Need::ReadCalendars)?;
    let q = Query::parse(raw.as_deref());
    let ctx = s.context();
    let world = s.world();
    let user = world.users.get(&caller.email).ok_or_else(ApiError::invalid_credentials)?;
    Ok(ok(StatusCode::OK, &listing::list_calendars(&world, user, &q, &ctx)?))
}

pub async fn calendar_list_get(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path(cal): Path<String>,
) -> ApiResult<Response> {
    caller.require(Need::ReadCalendars)?;
    let world = s.world();
    let id = world.resolve_calendar(&caller.email, &cal)?;
    let entry = world.users.get(&caller.email).and_then(|u| u.list.get(&id)).ok_or_else(ApiError::not_found)?;
    let base = json!({"kind": "calendar#calendarListEntry", "etag": entry.etag, "id": id});
    let m = listing::list_entry(
        base.as_object().cloned().unwrap_or_default(),
        world.calendar(&id)?,
        entry.primary,
        entry.hidden,
    );
    Ok(ok(StatusCode::OK, &Value::Object(m)))
}

fn calendar_json(cal: &super::world::Calendar) -> Value {
    let mut v = json!({"kind": "calendar#calendar", "etag": cal.etag, "id": cal.id, "summary": cal.summary,
                       "timeZone": cal.time_zone});
    if let Some(d) = &cal.description {
        v["description"] = json!(d);
    }
    v
}

pub async fn calendar_get(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path(cal): Path<String>,
) -> ApiResult<Response> {
    caller.require(Need::ReadCalendars)?;
    let world = s.world();
    let id = world.resolve_calendar(&caller.email, &cal)?;
    Ok(ok(StatusCode::OK, &calendar_json(world.calendar(&id)?)))
}

pub async fn calendar_insert(State(s): State<Arc<Shared>>, caller: Caller, body: Bytes) -> ApiResult<Response> {
    caller.require(Need::WriteCalendars)?;
    let body = object(&body)?;
    let mut world = s.world();
    let id = world.insert_calendar(&caller.email, &body, Timestamp::now())?;
    Ok(ok(StatusCode::OK, &calendar_json(world.calendar(&id)?)))
}

pub async fn calendar_delete(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path(cal): Path<String>,
) -> ApiResult<Response> {
    caller.require(Need::WriteCalendars)?;
    let mut world = s.world();
    let id = world.resolve_calendar(&caller.email, &cal)?;
    world.delete_calendar(&caller.email, &id, Timestamp::now())?;
    Ok(no_content())
}

// ---- events --------------------------------------------------------------------------------

pub async fn events_list(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path(cal): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    caller.require(Need::ReadEvents)?;
    let q = Query::parse(raw.as_deref());
    let ctx = s.context();
    let world = s.world();
    let id = world.resolve_calendar(&caller.email, &cal)?;
    let req = ListRequest::parse(&q, &id, &world, &ctx)?;
    Ok(ok(StatusCode::OK, &listing::list_events(&world, &id, &req, &ctx, &s.base_url)?))
}

pub async fn events_instances(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path((cal, event)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    caller.require(Need::ReadEvents)?;
    let q = Query::parse(raw.as_deref());
    let ctx = s.context();
    let world = s.world();
    let id = world.resolve_calendar(&caller.email, &cal)?;
    Ok(ok(StatusCode::OK, &listing::list_instances(&world, &id, &event, &q, &ctx, &s.base_url)?))
}

pub async fn events_get(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path((cal, event)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.require(Need::ReadEvents)?;
    let world = s.world();
    let id = world.resolve_calendar(&caller.email, &cal)?;
    let found = world.find_event(&id, &event)?;
    if header_text(&headers, header::IF_NONE_MATCH)
        .is_some_and(|t| t.split(',').any(|t| t.trim() == found.etag || t.trim() == "*"))
    {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(tag) = HeaderValue::from_str(&found.etag) {
            r.headers_mut().insert(header::ETAG, tag);
        }
        return Ok(r);
    }
    let c = world.calendar(&id)?;
    Ok(ok(StatusCode::OK, &found.render(&c.id, &c.summary, &s.base_url)))
}

pub async fn events_insert(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path(cal): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require(Need::WriteEvents)?;
    check_send_updates(&Query::parse(raw.as_deref()))?;
    let body = object(&body)?;
    let (id, rendered) = {
        let mut world = s.world();
        let id = world.resolve_calendar(&caller.email, &cal)?;
        let e = world.insert_event(&caller.email, &id, &body, Timestamp::now())?;
        let c = world.calendar(&id)?;
        (id, e.render(&c.id, &c.summary, &s.base_url))
    };
    s.changed(&id);
    Ok(ok(StatusCode::OK, &rendered))
}

/// An update or patch request, as the two handlers received it.
struct WriteRequest {
    cal: String,
    event: String,
    raw: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

async fn write(s: Arc<Shared>, caller: Caller, w: WriteRequest, kind: WriteKind) -> ApiResult<Response> {
    let WriteRequest { cal, event, raw, headers, body } = w;
    caller.require(Need::WriteEvents)?;
    check_send_updates(&Query::parse(raw.as_deref()))?;
    let body = object(&body)?;
    let if_match = header_text(&headers, header::IF_MATCH);
    let (id, rendered) = {
        let mut world = s.world();
        let id = world.resolve_calendar(&caller.email, &cal)?;
        let e = world.write_event(&id, &event, kind, &body, if_match, Timestamp::now())?;
        let c = world.calendar(&id)?;
        (id, e.render(&c.id, &c.summary, &s.base_url))
    };
    s.changed(&id);
    Ok(ok(StatusCode::OK, &rendered))
}

pub async fn events_update(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path((cal, event)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    write(s, caller, WriteRequest { cal, event, raw, headers, body }, WriteKind::Update).await
}

pub async fn events_patch(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path((cal, event)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    write(s, caller, WriteRequest { cal, event, raw, headers, body }, WriteKind::Patch).await
}

pub async fn events_delete(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path((cal, event)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.require(Need::WriteEvents)?;
    check_send_updates(&Query::parse(raw.as_deref()))?;
    let id = {
        let mut world = s.world();
        let id = world.resolve_calendar(&caller.email, &cal)?;
        world.delete_event(&id, &event, header_text(&headers, header::IF_MATCH), Timestamp::now())?;
        id
    };
    s.changed(&id);
    Ok(no_content())
}

pub async fn events_watch(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path(cal): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    caller.require(Need::ReadEvents)?;
    let body = Value::Object(object(&body)?);
    let config = s.config();
    let now = Timestamp::now();
    let req = Push::parse_watch(
        &body,
        now,
        config.channel_default_ttl,
        config.channel_max_ttl,
        config.allow_http_loopback_webhooks,
    )?;
    let id = s.world().resolve_calendar(&caller.email, &cal)?;
    let uri = format!("{}/calendar/v3/calendars/{}/events?alt=json", s.base_url, percent(&id));
    let channel = s.push.watch(req, &caller.email, &id, uri, s.retry())?;
    Ok(ok(StatusCode::OK, &channel))
}

pub async fn channels_stop(State(s): State<Arc<Shared>>, caller: Caller, body: Bytes) -> ApiResult<Response> {
    let body = object(&body)?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let id = text("id").ok_or_else(|| ApiError::required("id", "Missing channel id."))?;
    let resource = text("resourceId").ok_or_else(|| ApiError::required("resourceId", "Missing resourceId."))?;
    s.push.stop(&caller.email, &id, &resource)?;
    Ok(no_content())
}

/// `calendars.events` path segment encoding of a calendar id (`@` → `%40`).
fn percent(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

/// Anything else under Google's paths.
pub async fn not_found() -> ApiError {
    ApiError::not_found()
}
