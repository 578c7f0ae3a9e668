//! calsync's HTTP server: the REST API, the FullCalendar feed, the change feed (paged and
//! server-sent events), health and metrics, and the OpenAPI document generated from the
//! same route definitions.
//!
//! The server is a library: [`serve`] takes a bound listener and a shutdown signal, so
//! tests run it on `127.0.0.1:0` and the binary stays thin.

pub mod auth;
pub mod expansion_cache;
pub mod extract;
pub mod metrics;
pub mod problem;
pub mod routes;
pub mod state;
pub mod sync;
pub mod web;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::IntoResponse;
use calsync_core::limits::BODY_MAX_BYTES;
use problem::ApiError;
pub use state::AppState;
use std::future::Future;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "calsync", description = "Two-way calendar sync service: events, calendars, FullCalendar feed and change feed."),
    components(schemas(problem::Problem)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Requests (but not open change streams) that take longer are answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The OpenAPI document of every route the server answers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = routes::api().split_for_parts();
    let mut base = ApiDoc::openapi();
    base.merge(std::mem::take(&mut doc));
    base
}

/// The complete application.
pub fn app(state: AppState) -> Router {
    let (mut api, _) = routes::api().split_for_parts();
    if let Some(dir) = &state.web_dir {
        api = api.merge(web::router(dir));
    }
    let metrics = state.metrics.clone();
    api.fallback(|| async { ApiError::NotFound("no such route; the API is described at /api/v1/openapi.json".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::track))
        .layer(DefaultBodyLimit::max(BODY_MAX_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(axum::middleware::map_response(problem::bare_timeout_as_problem))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            ApiError::Internal("a request handler panicked".into()).into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, header::COOKIE]))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting, ends change streams and waits
/// for in-flight requests to finish.
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop_streams: tokio::sync::watch::Sender<bool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_streams.send(true);
        })
        .await
}
