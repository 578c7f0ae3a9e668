//! The web app's files as the server hands them out: at `/app/`, with a strict content
//! security policy, and nothing outside the app's directory.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use calsync_core::SystemClock;
use calsync_server::AppState;
use calsync_store::testing::TestDb;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;

/// A built app in a fresh directory, with a secret file next to (not inside) it.
fn built_app() -> PathBuf {
    let root = std::env::temp_dir().join(format!("calsync-web-{}", uuid::Uuid::now_v7()));
    let dist = root.join("dist");
    std::fs::create_dir_all(&dist).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dist.join("index.html"), "<!doctype html><title>calsync</title>").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dist.join("main.js"), "export {};").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(root.join("secret.txt"), "not for the web").unwrap_or_else(|e| panic!("{e}"));
    dist
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let request = Request::get(path).body(Body::empty()).unwrap_or_else(|e| panic!("{e}"));
    let response = app.clone().oneshot(request).await.unwrap_or_else(|e| match e {});
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn the_app_is_served_under_app_with_a_strict_policy_and_nothing_else_is() {
    let dist = built_app();
    let (mut state, _stop) = AppState::new(TestDb::sqlite().open().await, Arc::new(SystemClock), None);
    state.web_dir = Some(dist.clone());
    let app = calsync_server::app(state);

    let (status, headers, _) = get(&app, "/").await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(headers.get(header::LOCATION).and_then(|v| v.to_str().ok()), Some("/app/"));

    let (status, headers, page) = get(&app, "/app/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<title>calsync</title>"), "{page}");
    let csp = headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers.get(header::X_CONTENT_TYPE_OPTIONS).and_then(|v| v.to_str().ok()), Some("nosniff"));

    let (status, headers, _) = get(&app, "/app/main.js").await;
    assert_eq!(status, StatusCode::OK);
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(kind.contains("javascript"), "modules load only as JavaScript: {kind}");

    for outside in ["/app/../secret.txt", "/app/%2e%2e/secret.txt", "/app/..%2fsecret.txt", "/app/missing.js"] {
        let (status, _, body) = get(&app, outside).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{outside}: {body}");
        assert!(!body.contains("not for the web"), "{outside}");
    }
    // The API is still the API.
    assert_eq!(get(&app, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    let _ = std::fs::remove_dir_all(dist.parent().unwrap_or(&dist));
}

#[tokio::test]
async fn without_a_built_app_there_is_no_app_route() {
    let (state, _stop) = AppState::new(TestDb::sqlite().open().await, Arc::new(SystemClock), None);
    let app = calsync_server::app(state);
    assert_eq!(get(&app, "/app/").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/").await.0, StatusCode::NOT_FOUND);
}
