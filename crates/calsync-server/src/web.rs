//! The web app (`web/`, built into `web/dist/`): its files at `/app/`, and `/` sending
//! browsers there. The app reads everything through the API with the user's bearer token,
//! so it holds no cookie a forged cross-site request could ride on.

use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use std::path::Path;
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// Where the app's pages may load things from: this server only. FullCalendar writes its
/// styles into `<style>` elements, hence inline styles; no inline script runs.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn router(dir: &Path) -> Router<AppState> {
    let files = ServeDir::new(dir).append_index_html_on_directories(true);
    let serve = move |request: Request<Body>| {
        let files = files.clone();
        async move { secure(file(files, request).await) }
    };
    Router::new()
        .route("/", get(|| async { Redirect::to("/app/") }))
        .route("/app", get(|| async { Redirect::to("/app/") }))
        .route("/app/", get(serve.clone()))
        .route("/app/{*path}", get(serve))
}

/// The file `/app/{path}` names, from the app's directory (ServeDir keeps requests inside it).
async fn file(files: ServeDir, mut request: Request<Body>) -> Response {
    let inner = request.uri().path().strip_prefix("/app").unwrap_or("/").to_owned();
    match inner.parse::<Uri>() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return axum::http::StatusCode::NOT_FOUND.into_response(),
    }
    match files.oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // The app changes with every release; a stale cached script would talk to a newer API.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
