//! A Google Calendar API v3 emulator: `/calendar/v3/...` exactly as Google's paths, OAuth 2.0
//! (`/o/oauth2/v2/auth`, `/token`, `/revoke`, `/oauth2/v3/userinfo`), push channels, and a
//! control API under `/_emulator/`. State lives in memory. See the crate README.

mod api;
pub mod config;
mod control;
pub mod error;
mod listing;
mod oauth;
mod push;
mod resource;
mod series;
mod tokens;
mod web;
mod when;
mod world;

pub use crate::faults::FaultRule;
pub use config::{ClientSpec, Config, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USER, PageMode, UserSpec};
pub use push::NotificationFaults;

use crate::faults::{self, FaultHost, Faults, Fired, SlidingWindow};
use crate::server::{Bound, Server, lock};
use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use listing::Context;
use push::{Push, Retry};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use world::World;

/// State shared by all handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    world: Mutex<World>,
    config: Mutex<Config>,
    faults: Mutex<Faults>,
    /// Requests per user in the last minute (`user_rate_limit_per_minute`).
    rate: Mutex<SlidingWindow>,
    push: Push,
    base_url: String,
}

impl Shared {
    fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    fn config(&self) -> Config {
        lock(&self.config).clone()
    }

    fn config_mut(&self) -> MutexGuard<'_, Config> {
        lock(&self.config)
    }

    fn rate(&self) -> MutexGuard<'_, SlidingWindow> {
        lock(&self.rate)
    }

    fn retry(&self) -> Retry {
        let c = lock(&self.config);
        Retry { retries: c.notification_retries, delay: c.notification_retry_delay }
    }

    fn context(&self) -> Context {
        let c = lock(&self.config);
        Context {
            now: Timestamp::now(),
            page_mode: c.page_mode,
            horizon_days: c.expansion_horizon_days,
            sync_token_max_age_secs: c.sync_token_max_age.map(|d| d.as_secs()),
        }
    }

    /// A change to `calendar_id` was committed: notify its channels (never blocks).
    fn changed(&self, calendar_id: &str) {
        self.push.changed(calendar_id, Timestamp::now(), self.retry());
    }
}

/// The router: Google's paths behind the fault/latency/log layer, the control API and the web
/// page (`/calendar`) beside it.
fn router(shared: Arc<Shared>) -> Router {
    let google = Router::new()
        .route("/calendar/v3/users/me/calendarList", get(api::calendar_list))
        .route("/calendar/v3/users/me/calendarList/{calendarId}", get(api::calendar_list_get))
        .route("/calendar/v3/calendars", post(api::calendar_insert))
        .route("/calendar/v3/calendars/{calendarId}", get(api::calendar_get).delete(api::calendar_delete))
        .route("/calendar/v3/calendars/{calendarId}/events", get(api::events_list).post(api::events_insert))
        .route("/calendar/v3/calendars/{calendarId}/events/watch", post(api::events_watch))
        .route(
            "/calendar/v3/calendars/{calendarId}/events/{eventId}",
            get(api::events_get).put(api::events_update).patch(api::events_patch).delete(api::events_delete),
        )
        .route("/calendar/v3/calendars/{calendarId}/events/{eventId}/instances", get(api::events_instances))
        .route("/calendar/v3/channels/stop", post(api::channels_stop))
        .route(oauth::AUTH_PATH, get(oauth::authorize).post(oauth::decide))
        .route(oauth::TOKEN_PATH, post(oauth::token))
        .route(oauth::REVOKE_PATH, post(oauth::revoke))
        .route(oauth::USERINFO_PATH, get(oauth::userinfo))
        .fallback(api::not_found)
        .layer(middleware::from_fn(envelope))
        .layer(middleware::from_fn_with_state(shared.clone(), faults::layer::<Shared>));
    Router::new()
        .merge(control::routes())
        .merge(web::routes())
        .merge(faults::routes::<Shared>())
        .merge(google)
        .with_state(shared)
}

/// Rejections axum makes before a handler runs (wrong method, undecodable path, body too
/// large) come as plain text; under Google's paths they get Google's envelope too.
async fn envelope(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let status = response.status();
    if json || !status.is_client_error() || !path.starts_with("/calendar/v3") {
        return response;
    }
    let reason = match status.as_u16() {
        400 => "badRequest",
        404 => "notFound",
        405 => "methodNotAllowed",
        413 => "requestTooLarge",
        415 => "unsupportedMediaType",
        _ => "invalid",
    };
    let bytes = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        text.trim().to_owned()
    };
    error::ApiError::new(status, "global", reason, message).into_response()
}

impl FaultHost for Shared {
    fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    fn render(&self, fault: &Fired) -> Response {
        let mut error = error::ApiError::injected(fault.status, fault.reason.as_deref());
        error.retry_after = fault.retry_after;
        error.into_response()
    }

    fn bad_control_request(&self, message: String) -> Response {
        error::ApiError::bad_request(message).into_response()
    }

    /// `sendUpdates` (`all`, `externalOnly`, `none`), for tests that check who was notified.
    fn annotate(&self, query: &str) -> serde_json::Map<String, serde_json::Value> {
        let send_updates = listing::Query::parse(Some(query)).get("sendUpdates").map(str::to_owned);
        let mut m = serde_json::Map::new();
        m.insert("send_updates".into(), send_updates.into());
        m
    }
}

/// A running emulator. Dropping it stops the server.
#[derive(Debug)]
pub struct GoogleEmulator {
    shared: Arc<Shared>,
    server: Server,
}

impl GoogleEmulator {
    /// Starts on `127.0.0.1:0` (a free port), as tests do.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start(config: Config) -> std::io::Result<Self> {
        Self::bind("127.0.0.1:0", config).await
    }

    /// Starts on `addr`.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(addr: &str, config: Config) -> std::io::Result<Self> {
        let bound = Bound::bind(addr, config.public_base_url.as_deref()).await?;
        let shared = Arc::new(Shared {
            world: Mutex::new(World::new(&config)),
            config: Mutex::new(config),
            faults: Mutex::default(),
            rate: Mutex::default(),
            push: Push::default(),
            base_url: bound.base_url.clone(),
        });
        let server = bound.serve(router(shared.clone()), "Google");
        Ok(Self { shared, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Where Google's client libraries should point (`api_endpoint`): `{base}/calendar/v3/`.
    pub fn api_root(&self) -> String {
        format!("{}/calendar/v3/", self.shared.base_url)
    }

    /// Adds a user with a primary calendar (their email is its id).
    pub fn add_user(&self, email: &str) {
        let zone = self.shared.config().time_zone;
        self.shared.world().add_user(email, None, &zone, Timestamp::now());
    }

    /// An access token with the full `calendar` scope, as a finished consent would give.
    pub fn access_token(&self, email: &str) -> String {
        let ttl = self.shared.config().access_token_ttl;
        oauth::mint_access(
            &mut self.shared.world(),
            email,
            "https://www.googleapis.com/auth/calendar",
            ttl,
            None,
            Timestamp::now(),
        )
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}
