//! The control API under `/_emulator/`, outside Google's paths: knobs, token and channel
//! manipulation, the notification log, edits "made in Google's web UI", users and tokens for
//! tests, and snapshots. Fault rules and the request log are the routes every emulator shares
//! ([`crate::faults`]). Documented in the crate README.

use super::Shared;
use super::config::PageMode;
use super::error::{ApiError, ApiResult};
use super::oauth;
use super::push::NotificationFaults;
use super::world::{World, WriteKind};
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
        .route("/_emulator/sync-tokens/expire", post(expire_sync_tokens))
        .route("/_emulator/channels", get(list_channels))
        .route("/_emulator/channels/expire", post(expire_channels))
        .route("/_emulator/channels/drop", post(drop_channels))
        .route("/_emulator/notifications", get(list_notifications).delete(clear_notifications))
        .route("/_emulator/notifications/faults", axum::routing::put(notification_faults))
        .route("/_emulator/refresh-tokens/revoke", post(revoke_refresh_tokens))
        .route("/_emulator/users", post(add_user))
        .route("/_emulator/tokens", post(mint_tokens))
        .route("/_emulator/users/{user}/calendars/{cal}/events", post(ui_insert))
        .route(
            "/_emulator/users/{user}/calendars/{cal}/events/{event}",
            axum::routing::patch(ui_patch).put(ui_update).delete(ui_delete),
        )
        .route("/_emulator/snapshot", get(snapshot).put(restore))
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    control::parse(body).map_err(ApiError::bad_request)
}

/// Knobs that may change while the emulator runs. `0` turns a limit off.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct SettingsPatch {
    page_mode: Option<PageMode>,
    latency_ms: Option<u64>,
    user_rate_limit_per_minute: Option<u32>,
    sync_token_max_age_secs: Option<u64>,
    access_token_ttl_secs: Option<u64>,
    auto_approve: Option<bool>,
    notification_retries: Option<u32>,
    notification_retry_delay_ms: Option<u64>,
    channel_default_ttl_secs: Option<u64>,
    channel_max_ttl_secs: Option<u64>,
    expansion_horizon_days: Option<i64>,
}

fn settings_json(s: &Shared) -> Value {
    let c = s.config();
    json!({
        "page_mode": c.page_mode,
        "latency_ms": s.faults().latency.as_millis(),
        "user_rate_limit_per_minute": c.user_rate_limit_per_minute.unwrap_or(0),
        "sync_token_max_age_secs": c.sync_token_max_age.map_or(0, |d| d.as_secs()),
        "access_token_ttl_secs": c.access_token_ttl.as_secs(),
        "auto_approve": c.auto_approve,
        "notification_retries": c.notification_retries,
        "notification_retry_delay_ms": c.notification_retry_delay.as_millis(),
        "channel_default_ttl_secs": c.channel_default_ttl.as_secs(),
        "channel_max_ttl_secs": c.channel_max_ttl.as_secs(),
        "expansion_horizon_days": c.expansion_horizon_days,
    })
}

async fn get_settings(State(s): State<Arc<Shared>>) -> Response {
    done(settings_json(&s))
}

async fn patch_settings(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let p: SettingsPatch = parse(&body)?;
    if p.access_token_ttl_secs == Some(0) || p.channel_max_ttl_secs == Some(0) || p.channel_default_ttl_secs == Some(0)
    {
        return Err(ApiError::bad_request("ttls must be at least 1 second"));
    }
    if p.expansion_horizon_days.is_some_and(|d| !(1..=36_500).contains(&d)) {
        return Err(ApiError::bad_request("expansion_horizon_days must be between 1 and 36500"));
    }
    if let Some(ms) = p.latency_ms {
        s.faults().latency = control::latency(ms);
    }
    {
        let mut c = s.config_mut();
        if let Some(m) = p.page_mode {
            c.page_mode = m;
        }
        if let Some(n) = p.user_rate_limit_per_minute {
            c.user_rate_limit_per_minute = (n > 0).then_some(n);
        }
        if let Some(n) = p.sync_token_max_age_secs {
            c.sync_token_max_age = (n > 0).then(|| Duration::from_secs(n));
        }
        if let Some(n) = p.access_token_ttl_secs {
            c.access_token_ttl = Duration::from_secs(n);
        }
        if let Some(b) = p.auto_approve {
            c.auto_approve = b;
        }
        if let Some(n) = p.notification_retries {
            c.notification_retries = n.min(20);
        }
        if let Some(n) = p.notification_retry_delay_ms {
            c.notification_retry_delay = Duration::from_millis(n);
        }
        if let Some(n) = p.channel_default_ttl_secs {
            c.channel_default_ttl = Duration::from_secs(n);
        }
        if let Some(n) = p.channel_max_ttl_secs {
            c.channel_max_ttl = Duration::from_secs(n);
        }
        if let Some(n) = p.expansion_horizon_days {
            c.expansion_horizon_days = n;
        }
    }
    Ok(done(settings_json(&s)))
}

async fn expire_sync_tokens(State(s): State<Arc<Shared>>) -> Response {
    let mut w = s.world();
    w.token_generation = w.token_generation.wrapping_add(1);
    done(json!({"generation": w.token_generation}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ChannelSelector {
    /// One channel; all when absent.
    id: Option<String>,
}

async fn list_channels(State(s): State<Arc<Shared>>) -> Response {
    done(json!({"channels": s.push.channels()}))
}

async fn expire_channels(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let sel: ChannelSelector = parse(&body)?;
    Ok(done(json!({"expired": s.push.expire(sel.id.as_deref(), Timestamp::now())})))
}

async fn drop_channels(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let sel: ChannelSelector = parse(&body)?;
    Ok(done(json!({"dropped": s.push.drop_channels(sel.id.as_deref())})))
}

async fn list_notifications(State(s): State<Arc<Shared>>) -> Response {
    done(json!({"deliveries": s.push.deliveries()}))
}

async fn clear_notifications(State(s): State<Arc<Shared>>) -> Response {
    s.push.clear_deliveries();
    StatusCode::NO_CONTENT.into_response()
}

async fn notification_faults(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let f: NotificationFaults = parse(&body)?;
    s.push.set_faults(f);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RevokeRequest {
    token: Option<String>,
    /// Revoke every refresh token of this user.
    user: Option<String>,
}

async fn revoke_refresh_tokens(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let r: RevokeRequest = parse(&body)?;
    let mut w = s.world();
    let tokens: Vec<String> = match (&r.token, &r.user) {
        (Some(t), None) => vec![t.clone()],
        (None, Some(u)) => w.refresh_tokens.iter().filter(|(_, v)| &v.user == u).map(|(k, _)| k.clone()).collect(),
        _ => return Err(ApiError::bad_request("give exactly one of token or user")),
    };
    let revoked = tokens.iter().filter(|t| w.refresh_tokens.contains_key(*t) && oauth::revoke_token(&mut w, t)).count();
    Ok(done(json!({"revoked": revoked})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    email: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
}

async fn add_user(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let u: NewUser = parse(&body)?;
    control::check_email(&u.email).map_err(ApiError::bad_request)?;
    let zone = u.time_zone.unwrap_or_else(|| s.config().time_zone);
    if jiff::tz::TimeZone::get(&zone).is_err() {
        return Err(ApiError::bad_request(format!("unknown time zone {zone:?}")));
    }
    s.world().add_user(&u.email, u.name, &zone, Timestamp::now());
    Ok((StatusCode::CREATED, Json(json!({"email": u.email}))).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    email: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Tokens for a user without the browser dance (what a completed consent would give).
async fn mint_tokens(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let r: TokenRequest = parse(&body)?;
    let ttl = r.expires_in.map_or_else(|| s.config().access_token_ttl, Duration::from_secs);
    let client = s.config().clients.first().map(|c| c.id.clone()).unwrap_or_default();
    let scope = r.scope.unwrap_or_else(|| "https://www.googleapis.com/auth/calendar".into());
    let mut w = s.world();
    if !w.users.contains_key(&r.email) {
        return Err(ApiError::bad_request(control::no_such_user(&r.email)));
    }
    let refresh = oauth::new_refresh_token(&mut w, &r.email, &client, &scope);
    let access = oauth::mint_access(&mut w, &r.email, &scope, ttl, Some(refresh.clone()), Timestamp::now());
    Ok(control::minted(&access, Some(&refresh), ttl, &scope, &client))
}

// ---- edits "in Google's web UI": same rules as the API, but no token, log or faults -----------

fn object(body: &Bytes) -> ApiResult<Map<String, Value>> {
    control::object(body).map_err(ApiError::bad_request)
}

fn ui_calendar(w: &World, user: &str, cal: &str) -> ApiResult<String> {
    w.resolve_calendar(user, cal)
}

async fn ui_insert(
    State(s): State<Arc<Shared>>,
    Path((user, cal)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let body = object(&body)?;
    let (id, v) = {
        let mut w = s.world();
        let id = ui_calendar(&w, &user, &cal)?;
        let e = w.insert_event(&user, &id, &body, Timestamp::now())?;
        let c = w.calendar(&id)?;
        (id, e.render(&c.id, &c.summary, &s.base_url))
    };
    s.changed(&id);
    Ok(done(v))
}

async fn ui_write(
    s: Arc<Shared>,
    user: String,
    cal: String,
    event: String,
    body: Bytes,
    kind: WriteKind,
) -> ApiResult<Response> {
    let body = object(&body)?;
    let (id, v) = {
        let mut w = s.world();
        let id = ui_calendar(&w, &user, &cal)?;
        let e = w.write_event(&id, &event, kind, &body, None, Timestamp::now())?;
        let c = w.calendar(&id)?;
        (id, e.render(&c.id, &c.summary, &s.base_url))
    };
    s.changed(&id);
    Ok(done(v))
}

async fn ui_patch(
    State(s): State<Arc<Shared>>,
    Path((user, cal, event)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    ui_write(s, user, cal, event, body, WriteKind::Patch).await
}

async fn ui_update(
    State(s): State<Arc<Shared>>,
    Path((user, cal, event)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    ui_write(s, user, cal, event, body, WriteKind::Update).await
}

async fn ui_delete(
    State(s): State<Arc<Shared>>,
    Path((user, cal, event)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let id = {
        let mut w = s.world();
        let id = ui_calendar(&w, &user, &cal)?;
        w.delete_event(&id, &event, None, Timestamp::now())?;
        id
    };
    s.changed(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn snapshot(State(s): State<Arc<Shared>>) -> Response {
    let w = s.world().clone();
    done(serde_json::to_value(w).unwrap_or(Value::Null))
}

async fn restore(State(s): State<Arc<Shared>>, body: Bytes) -> ApiResult<Response> {
    let w: World = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("not a snapshot: {e}")))?;
    w.check().map_err(|e| ApiError::bad_request(format!("not a usable snapshot: {e}")))?;
    *s.world() = w;
    Ok(StatusCode::NO_CONTENT.into_response())
}
