//! A Microsoft Graph (Outlook calendar) emulator: `/v1.0/me/...` calendars, events,
//! calendarView and its delta, subscriptions with webhooks, OAuth 2.0 like the Microsoft
//! identity platform (`/{tenant}/oauth2/v2.0/...`), per-(app, mailbox) throttling, and a
//! control API under `/_emulator/`. State lives in memory. See the crate README.

mod api;
pub mod config;
mod control;
mod delivery;
mod delta;
pub mod error;
mod event;
mod ids;
mod mail;
mod oauth;
mod render;
mod series;
mod subscription_api;
mod subscriptions;
mod throttle;
mod views;
mod web;
mod when;
mod world;

pub use crate::faults::FaultRule;
pub use config::{
    ClientSpec, Config, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT, DEFAULT_USER, PageMode,
    RefreshRotation, UserSpec,
};

use crate::faults::{self, FaultHost, Faults, Fired, Permit};
use crate::server::{Bound, Server, lock};
use axum::Router;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use delivery::Retry;
use jiff::Timestamp;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use subscriptions::Subscriptions;
use throttle::{Limits, Throttle};
use world::{Notice, World};

/// State shared by all handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    world: Mutex<World>,
    config: Mutex<Config>,
    faults: Mutex<Faults>,
    throttle: Throttle,
    subs: Subscriptions,
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

    fn retry(&self) -> Retry {
        let c = lock(&self.config);
        Retry {
            timeout: c.notification_timeout,
            first_delay: c.notification_retry_delay,
            give_up_after: c.notification_retry_for,
        }
    }

    /// Changes were committed: notify subscriptions (never called with the world locked).
    fn changed(&self, notices: &[Notice]) {
        if notices.is_empty() {
            return;
        }
        let tenant = lock(&self.config).tenant_id.clone();
        self.subs.notify(notices, &tenant, self.retry());
    }

    fn limits(&self) -> Limits {
        let c = lock(&self.config);
        Limits {
            rate: c.rate_limit,
            window: c.rate_window,
            concurrency: c.concurrency_limit,
            concurrency_retry_after: c.concurrency_retry_after,
        }
    }
}

impl FaultHost for Shared {
    fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    fn render(&self, fault: &Fired) -> Response {
        error::GraphError::injected(fault.status, fault.reason.as_deref(), fault.retry_after).into_response()
    }

    fn bad_control_request(&self, message: String) -> Response {
        error::GraphError::invalid_request(message).into_response()
    }

    /// Outlook's limits apply per app and mailbox, so only requests with a valid token count.
    fn admit(&self, parts: &Parts) -> Result<Option<Permit>, Box<Response>> {
        let Some(token) = api::bearer(&parts.headers) else { return Ok(None) };
        let now = Timestamp::now();
        let who = {
            let w = self.world();
            w.grants.access.get(token).filter(|t| t.expires_at > now).map(|t| (t.client_id.clone(), t.user.clone()))
        };
        let Some((app, mailbox)) = who else { return Ok(None) };
        match self.throttle.admit(&app, &mailbox, self.limits(), now) {
            Ok(slot) => Ok(Some(Box::new(slot))),
            Err(e) => Err(Box::new(e.into_response())),
        }
    }
}

/// Every Graph answer carries a `request-id` (and echoes `client-request-id`).
async fn stamp(req: Request, next: Next) -> Response {
    let client = req.headers().get("client-request-id").cloned();
    let mut response = next.run(req).await;
    let status = response.status();
    let typed = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if status.is_client_error() && !typed {
        // Rejections axum makes itself (wrong method, body too large) get Graph's body too.
        let code = match status.as_u16() {
            405 => "MethodNotAllowed",
            413 => "RequestEntityTooLarge",
            415 => "UnsupportedMediaType",
            _ => "BadRequest",
        };
        response =
            error::GraphError::new(status, code, status.canonical_reason().unwrap_or("Bad Request")).into_response();
    }
    let id = ids::guid();
    if let Ok(v) = HeaderValue::from_str(&id) {
        let headers = response.headers_mut();
        headers.insert("request-id", v.clone());
        headers.insert("client-request-id", client.unwrap_or(v));
    }
    response
}

/// The router: Graph's and the identity platform's paths behind the shared fault layer, the
/// control API and the web page (`/outlook`) beside them.
fn router(shared: Arc<Shared>) -> Router {
    let graph = api::routes()
        .merge(subscription_api::routes())
        .route("/{tenant}/oauth2/v2.0/authorize", get(oauth::authorize).post(oauth::decide))
        .route("/{tenant}/oauth2/v2.0/token", post(oauth::token))
        .fallback(api::unknown_segment)
        .layer(middleware::from_fn_with_state(shared.clone(), faults::layer::<Shared>))
        .layer(middleware::from_fn(stamp));
    Router::new()
        .merge(control::routes())
        .merge(web::routes())
        .merge(faults::routes::<Shared>())
        .merge(graph)
        .with_state(shared)
}

/// A running emulator. Dropping it stops the server.
#[derive(Debug)]
pub struct GraphEmulator {
    shared: Arc<Shared>,
    server: Server,
}

impl GraphEmulator {
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
        let mut world = World::default();
        for u in &config.users {
            world.add_user(&u.email, u.name.clone());
        }
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            config: Mutex::new(config),
            faults: Mutex::default(),
            throttle: Throttle::default(),
            subs: Subscriptions::default(),
            base_url: bound.base_url.clone(),
        });
        let server = bound.serve(router(shared.clone()), "Graph");
        Ok(Self { shared, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Where Graph clients should point instead of `https://graph.microsoft.com/v1.0/`.
    pub fn api_root(&self) -> String {
        format!("{}/v1.0/", self.shared.base_url)
    }

    /// `{base}/{tenant}/oauth2/v2.0/authorize` for the configured tenant.
    pub fn authorize_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/authorize", self.shared.base_url, self.shared.config().tenant_id)
    }

    /// `{base}/{tenant}/oauth2/v2.0/token` for the configured tenant.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.shared.base_url, self.shared.config().tenant_id)
    }

    /// Adds a user with a default calendar (no-op when present).
    pub fn add_user(&self, email: &str) {
        self.shared.world().add_user(email, None);
    }

    /// An access token of the first registered app for `email`, with `Calendars.ReadWrite`
    /// and `User.Read`, as a finished consent would give.
    pub fn access_token(&self, email: &str) -> String {
        let config = self.shared.config();
        let client = config.clients.first().map(|c| c.id.clone()).unwrap_or_default();
        let (access, _) = self.shared.world().grants.grant(
            email,
            &client,
            "Calendars.ReadWrite User.Read",
            config.access_token_ttl,
            Timestamp::now(),
        );
        access
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}
