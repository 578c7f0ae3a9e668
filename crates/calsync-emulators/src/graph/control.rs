//! The Graph emulator's control API under `/_emulator/` (no token, not logged, no faults):
//! knobs, delta-token eviction, grants, subscriptions and their lifecycle events, the
//! notification log, users, tokens, and edits "made in Outlook" (including moving an event to
//! another calendar, which Graph itself cannot do). Fault rules and the request log are the
//! routes every emulator shares ([`crate::faults`]). Documented in the crate README.

use super::Shared;
use super::config::{PageMode, RefreshRotation};
use super::error::{GraphError, GraphResult};
use super::event::parse_write;
use super::ids::{self, IdType};
use super::render::{self, Expand, View};
use super::when::NamedZone;
use super::world::Notice;
use crate::control::{self, done};
use crate::faults::FaultHost;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/settings", get(get_settings).patch(patch_settings))
        .route("/_emulator/delta-tokens/expire", post(expire_delta_tokens))
        .route("/_emulator/grants/revoke", post(revoke_grants))
        .route("/_emulator/access-tokens/expire", post(expire_access_tokens))
        .route("/_emulator/subscriptions", get(list_subscriptions))
        .route("/_emulator/subscriptions/drop", post(drop_subscriptions))
        .route("/_emulator/subscriptions/expire", post(expire_subscriptions))
        .route("/_emulator/subscriptions/{id}/lifecycle", post(lifecycle))
        .route("/_emulator/notifications", get(list_notifications).delete(clear_notifications))
        .route("/_emulator/users/{user}/mail", get(list_mail))
        .route("/_emulator/users", post(add_user))
        .route("/_emulator/users/{user}/calendars", post(add_calendar))
        .route("/_emulator/tokens", post(mint_tokens))
        .route("/_emulator/users/{user}/events", post(ui_create))
        .route("/_emulator/users/{user}/calendars/{cal}/events", post(ui_create_in))
        .route("/_emulator/users/{user}/events/{id}", axum::routing::patch(ui_patch).delete(ui_delete))
        .route("/_emulator/users/{user}/events/{id}/move", post(ui_move))
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> GraphResult<T> {
    control::parse(body).map_err(GraphError::invalid_request)
}

/// Knobs that may change while the emulator runs. `0` turns a limit off.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SettingsPatch {
    latency_ms: Option<u64>,
    auto_approve: Option<bool>,
    access_token_ttl_secs: Option<u64>,
    refresh_rotation: Option<RefreshRotation>,
    refresh_grace_secs: Option<u64>,
    page_mode: Option<PageMode>,
    empty_page_probability: Option<f64>,
    delta_replays: Option<bool>,
    delta_token_cache: Option<usize>,
    delta_page_size: Option<usize>,
    list_page_size: Option<usize>,
    max_page_size: Option<usize>,
    delta_rejects_query_options: Option<bool>,
    transaction_id_window_secs: Option<u64>,
    subscription_max_minutes: Option<u32>,
    subscription_min_minutes: Option<u32>,
    allow_http_loopback_webhooks: Option<bool>,
    validation_timeout_ms: Option<u64>,
    notification_timeout_ms: Option<u64>,
    notification_retry_delay_ms: Option<u64>,
    notification_retry_for_secs: Option<u64>,
    rate_limit: Option<u32>,
    rate_window_secs: Option<u64>,
    concurrency_limit: Option<u32>,
    concurrency_retry_after_secs: Option<u64>,
}

fn settings_json(s: &Shared) -> Value {
    let c = s.config();
    json!({
        "latency_ms": s.faults().latency.as_millis(),
        "auto_approve": c.auto_approve,
        "access_token_ttl_secs": c.access_token_ttl.as_secs(),
        "refresh_rotation": c.refresh_rotation,
        "refresh_grace_secs": c.refresh_grace.as_secs(),
        "page_mode": c.page_mode,
        "empty_page_probability": c.empty_page_probability,
        "delta_replays": c.delta_replays,
        "delta_token_cache": c.delta_token_cache,
        "delta_page_size": c.delta_page_size,
        "list_page_size": c.list_page_size,
        "max_page_size": c.max_page_size,
        "delta_rejects_query_options": c.delta_rejects_query_options,
        "transaction_id_window_secs": c.transaction_id_window.map_or(0, |d| d.as_secs()),
        "subscription_max_minutes": c.subscription_max_minutes,
        "subscription_min_minutes": c.subscription_min_minutes,
        "allow_http_loopback_webhooks": c.allow_http_loopback_webhooks,
        "validation_timeout_ms": c.validation_timeout.as_millis(),
        "notification_timeout_ms": c.notification_timeout.as_millis(),
        "notification_retry_delay_ms": c.notification_retry_delay.as_millis(),
        "notification_retry_for_secs": c.notification_retry_for.as_secs(),
        "rate_limit": c.rate_limit.unwrap_or(0),
        "rate_window_secs": c.rate_window.as_secs(),
        "concurrency_limit": c.concurrency_limit.unwrap_or(0),
        "concurrency_retry_after_secs": c.concurrency_retry_after,
    })
}

async fn get_settings(State(s): State<Arc<Shared>>) -> Response {
    done(settings_json(&s))
}

async fn patch_settings(State(s): State<Arc<Shared>>, body: Bytes) -> GraphResult<Response> {
    let p: SettingsPatch = parse(&body)?;
    if p.empty_page_probability.is_some_and(|x| !(0.0..=0.9).contains(&x)) {
        return Err(GraphError::invalid_request("empty_page_probability must be between 0 and 0.9"));
    }
    if [p.access_token_ttl_secs, p.rate_window_secs, p.validation_timeout_ms, p.notification_timeout_ms]
        .contains(&Some(0))
        || [p.delta_page_size, p.list_page_size, p.max_page_size, p.delta_token_cache].contains(&Some(0))
    {
        return Err(GraphError::invalid_request("ttls, windows, timeouts and sizes must be at least 1"));
    }
    if let Some(ms) = p.latency_ms {
        s.faults().latency = control::latency(ms);
    }
    let secs = Duration::from_secs;
    let ms = Duration::from_millis;
    let mut c = s.config_mut();
    macro_rules! set {
        ($field:ident, $value:expr) => {
            if let Some(v) = p.$field {
                c.$field = $value(v);
            }
        };
    }
    if let Some(v) = p.auto_approve {
        c.auto_approve = v;
    }
    if let Some(v) = p.access_token_ttl_secs {
        c.access_token_ttl = secs(v);
    }
    set!(refresh_rotation, std::convert::identity);
    if let Some(v) = p.refresh_grace_secs {
        c.refresh_grace = secs(v);
    }
    set!(page_mode, std::convert::identity);
    set!(empty_page_probability, std::convert::identity);
    set!(delta_replays, std::convert::identity);
    set!(delta_token_cache, std::convert::identity);
    set!(delta_page_size, std::convert::identity);
    set!(list_page_size, std::convert::identity);
    set!(max_page_size, std::convert::identity);
    set!(delta_rejects_query_options, std::convert::identity);
    if let Some(v) = p.transaction_id_window_secs {
        c.transaction_id_window = (v > 0).then(|| secs(v));
    }
    set!(subscription_max_minutes, std::convert::identity);
    set!(subscription_min_minutes, std::convert::identity);
    set!(allow_http_loopback_webhooks, std::convert::identity);
    if let Some(v) = p.validation_timeout_ms {
        c.validation_timeout = ms(v);
    }
    if let Some(v) = p.notification_timeout_ms {
        c.notification_timeout = ms(v);
    }
    if let Some(v) = p.notification_retry_delay_ms {
        c.notification_retry_delay = ms(v);
    }
    if let Some(v) = p.notification_retry_for_secs {
        c.notification_retry_for = secs(v);
    }
    if let Some(v) = p.rate_limit {
        c.rate_limit = (v > 0).then_some(v);
    }
    if let Some(v) = p.rate_window_secs {
        c.rate_window = secs(v);
    }
    if let Some(v) = p.concurrency_limit {
        c.concurrency_limit = (v > 0).then_some(v);
    }
    if let Some(v) = p.concurrency_retry_after_secs {
        c.concurrency_retry_after = v;
    }
    drop(c);
    Ok(done(settings_json(&s)))
}

async fn expire_delta_tokens(State(s): State<Arc<Shared>>) -> Response {
    done(json!({"expired": s.world().delta.expire_all()}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RevokeRequest {
    user: Option<String>,
    refresh_token: Option<String>,
}

async fn revoke_grants(State(s): State<Arc<Shared>>, body: Bytes) -> GraphResult<Response> {
    let r: RevokeRequest = parse(&body)?;
    let mut w = s.world();
    let revoked = match (&r.user, &r.refresh_token) {
        (Some(u), None) => w.grants.revoke_user(u),
        (None, Some(t)) => usize::from(w.grants.revoke_refresh(t)),
        _ => return Err(GraphError::invalid_request("give exactly one of user or refresh_token")),
    };
    Ok(done(json!({"revoked": revoked})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Selector {
    user: Option<String>,
    id: Option<String>,
}

async fn expire_access_tokens(State(s): State<Arc<Shared>>, body: Bytes) -> GraphResult<Response> {
    let sel: Selector = parse(&body)?;
    Ok(done(json!({"expired": s.world().grants.expire_access(sel.user.as_deref(), Timestamp::now())})))
}

async fn list_subscriptions(State(s): State<Arc<Shared>>) -> Response {
    let all: Vec<Value> = s
        .subs
        .all()
        .iter()
        .map(|x| {
            let mut v = x.json(&s.base_url);
            v["user"] = json!(x.user);
            v["paused"] = json!(x.paused);
            v
        })
        .collect();
    done(json!({"subscriptions": all}))
}

/// The ids of the subscriptions `sel` names (all when it names none).
fn selected(s: &Shared, sel: &Selector) -> Vec<String> {
    s.subs.all().into_iter().map(|x| x.id).filter(|i| sel.id.as_ref().is_none_or(|w| w == i)).collect()
}

async fn drop_subscriptions(State(s): State<Arc<Shared>>, body: Bytes) -> GraphResult<Response> {
    let sel: Selector = parse(&body)?;
    let n = selected(&s, &sel).iter().filter(|i| s.subs.remove(i).is_some()).count();
    Ok(done(json!({"dropped": n})))
}

async fn expire_subscriptions(State(s): State<Arc<Shared>>, body: Bytes) -> GraphResult<Response> {
    let sel: Selector = parse(&body)?;
    let now = Timestamp::now();
    let n = selected(&s, &sel).iter().filter(|i| s.subs.update(i, |x| x.expires = now).is_some()).count();
    Ok(done(json!({"expired": n})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LifecycleRequest {
    event: String,
}

/// Fires `reauthorizationRequired` (delivery pauses until reauthorize/PATCH),
/// `subscriptionRemoved` (the subscription is gone) or `missed`.
async fn lifecycle(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> GraphResult<Response> {
    let r: LifecycleRequest = parse(&body)?;
    if !["reauthorizationRequired", "subscriptionRemoved", "missed"].contains(&r.event.as_str()) {
        return Err(GraphError::invalid_request(
            "event must be reauthorizationRequired, subscriptionRemoved or missed",
        ));
    }
    let sub = s.subs.all().into_iter().find(|x| x.id == id).ok_or_else(super::subscriptions::not_found)?;
    let tenant = s.config().tenant_id;
    let sent = s.subs.lifecycle(&sub, &r.event, &tenant, s.retry());
    match r.event.as_str() {
        "subscriptionRemoved" => {
            s.subs.remove(&id);
        }
        "reauthorizationRequired" => {
            s.subs.update(&id, |x| x.paused = true);
        }
        _ => {}
    }
    Ok(done(json!({"sent": sent})))
}

async fn list_notifications(State(s): State<Arc<Shared>>) -> Response {
    done(json!({"deliveries": s.subs.courier.deliveries()}))
}

/// The mail Outlook sent from this user's mailbox about meetings (invitations, updates,
/// cancellations), oldest first.
async fn list_mail(State(s): State<Arc<Shared>>, Path(user): Path<String>) -> Response {
    let w = s.world();
    let sent: Vec<_> = w.outbox.iter().filter(|m| m.from.eq_ignore_ascii_case(&user)).collect();
    done(json!({"mail": sent}))
}

async fn clear_notifications(State(s): State<Arc<Shared>>) -> Response {
    s.subs.courier.clear_deliveries();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    email: String,
    #[serde(default)]
    name: Option<String>,
}

async fn add_user(State(s): State<Arc<Shared>>, body: Bytes) -> GraphResult<Response> {
    let u: NewUser = parse(&body)?;
    control::check_email(&u.email).map_err(GraphError::invalid_request)?;
    let mut w = s.world();
    w.add_user(&u.email, u.name);
    let user = w.user(&u.email)?;
    let body = json!({"email": user.email, "id": user.id, "defaultCalendarId": ids::calendar_id(user.default_folder)});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCalendar {
    name: String,
}

async fn add_calendar(State(s): State<Arc<Shared>>, Path(user): Path<String>, body: Bytes) -> GraphResult<Response> {
    let c: NewCalendar = parse(&body)?;
    let mut w = s.world();
    w.user(&user).map_err(|_| GraphError::invalid_request(format!("no user {user:?}")))?;
    let folder = w.add_calendar(&user, &c.name, false);
    Ok((StatusCode::CREATED, Json(json!({"id": ids::calendar_id(folder), "name": c.name}))).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    email: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Tokens for a user without the browser dance (what a completed consent would give).
async fn mint_tokens(State(s): State<Arc<Shared>>, body: Bytes) -> GraphResult<Response> {
    let r: TokenRequest = parse(&body)?;
    let config = s.config();
    let ttl = r.expires_in.map_or(config.access_token_ttl, Duration::from_secs);
    let client = r.client_id.or_else(|| config.clients.first().map(|c| c.id.clone())).unwrap_or_default();
    let scope =
        super::oauth::normalise_scopes(r.scope.as_deref().unwrap_or("Calendars.ReadWrite User.Read offline_access"));
    let mut w = s.world();
    if !w.users.contains_key(&r.email) {
        return Err(GraphError::invalid_request(control::no_such_user(&r.email)));
    }
    let (access, refresh) = w.grants.grant(&r.email, &client, &scope, ttl, Timestamp::now());
    Ok(control::minted(&access, refresh.as_deref(), ttl, &scope, &client))
}

// ---- edits "made in Outlook": same rules as the API, notifications too; no token, log or faults

fn object(body: &Bytes) -> GraphResult<Map<String, Value>> {
    control::object(body).map_err(GraphError::invalid_request)
}

fn plain_view() -> View {
    View { zone: NamedZone::utc(), id_type: IdType::Rest, text_body: false, expand: Expand::All }
}

fn show(s: &Shared, user: &str, item: u128, occurrence: Option<i64>) -> GraphResult<Value> {
    let w = s.world();
    let u = w.user(user)?;
    let ev = w.event(item)?;
    let occ = match occurrence {
        Some(k) => super::series::find(ev, k)?,
        None => None,
    };
    let mut v = render::event(&plain_view(), u, ev, occ.as_ref());
    v["immutableId"] = json!(ids::event_id(IdType::Immutable, ev.folder, item, occurrence));
    Ok(v)
}

async fn ui_create_at(s: Arc<Shared>, user: String, cal: Option<String>, body: Bytes) -> GraphResult<Response> {
    let write = parse_write(&object(&body)?)?;
    let window = s.config().transaction_id_window;
    let (item, notice) = {
        let mut w = s.world();
        let folder = w.resolve_calendar(&user, cal.as_deref())?;
        w.create(&user, folder, write, window, Timestamp::now())?
    };
    s.changed(notice.as_slice());
    Ok((StatusCode::CREATED, Json(show(&s, &user, item, None)?)).into_response())
}

async fn ui_create(State(s): State<Arc<Shared>>, Path(user): Path<String>, body: Bytes) -> GraphResult<Response> {
    ui_create_at(s, user, None, body).await
}

async fn ui_create_in(
    State(s): State<Arc<Shared>>,
    Path((user, cal)): Path<(String, String)>,
    body: Bytes,
) -> GraphResult<Response> {
    ui_create_at(s, user, Some(cal), body).await
}

async fn ui_patch(
    State(s): State<Arc<Shared>>,
    Path((user, id)): Path<(String, String)>,
    body: Bytes,
) -> GraphResult<Response> {
    let write = parse_write(&object(&body)?)?;
    let (t, notice) = {
        let mut w = s.world();
        let t = w.locate(&user, &id, None)?;
        (t, w.update(t, write, None, Timestamp::now())?)
    };
    s.changed(&[notice]);
    Ok(Json(show(&s, &user, t.item, t.occurrence)?).into_response())
}

async fn ui_delete(State(s): State<Arc<Shared>>, Path((user, id)): Path<(String, String)>) -> GraphResult<Response> {
    let notice = {
        let mut w = s.world();
        let t = w.locate(&user, &id, None)?;
        w.delete(t, None, Timestamp::now())?
    };
    s.changed(&[notice]);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MoveRequest {
    calendar_id: String,
}

/// Moves an event to another calendar of its owner: its REST id changes (the old one is
/// `@removed` from the old calendar's delta), its immutable id stays.
async fn ui_move(
    State(s): State<Arc<Shared>>,
    Path((user, id)): Path<(String, String)>,
    body: Bytes,
) -> GraphResult<Response> {
    let m: MoveRequest = parse(&body)?;
    let (item, notices): (u128, Vec<Notice>) = {
        let mut w = s.world();
        let t = w.locate(&user, &id, None)?;
        if t.occurrence.is_some() {
            return Err(GraphError::invalid_request("an occurrence moves with its series"));
        }
        let to = w.resolve_calendar(&user, Some(&m.calendar_id))?;
        (t.item, w.move_event(t.item, to, Timestamp::now())?)
    };
    s.changed(&notices);
    Ok(Json(show(&s, &user, item, None)?).into_response())
}
