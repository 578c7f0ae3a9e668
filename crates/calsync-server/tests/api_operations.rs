//! What an operator relies on: a health check that names the database, Prometheus metrics
//! labelled by route template, and a graceful shutdown that lets requests finish and ends
//! change streams.

mod support;

use support::{PATIENCE, TestApp, meeting};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn healthy(app: TestApp, database: &str) {
    let reply = app.send(app.client.get(app.url("/healthz"))).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json, serde_json::json!({"status": "ok", "database": database}));
}

#[tokio::test]
async fn the_health_check_answers_ok_and_names_the_database() {
    healthy(TestApp::sqlite().await, "sqlite").await;
}

#[tokio::test]
async fn the_health_check_names_postgres_when_that_is_the_database() {
    let Some(app) = TestApp::postgres().await else {
        eprintln!("CALSYNC_TEST_POSTGRES_URL unset: PostgreSQL half skipped");
        return;
    };
    healthy(app, "postgres").await;
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_given_one_is_kept() {
    let app = TestApp::sqlite().await;
    let fresh = app.send(app.client.get(app.url("/healthz"))).await;
    assert!(uuid::Uuid::parse_str(fresh.header("x-request-id")).is_ok(), "{:?}", fresh.headers);
    let problem = app.send(app.client.get(app.url("/api/v1/me"))).await;
    assert_eq!(problem.status, 401);
    assert!(!problem.header("x-request-id").is_empty(), "problems carry one too: {:?}", problem.headers);
    let traced = app.send(app.client.get(app.url("/healthz")).header("x-request-id", "trace-4711")).await;
    assert_eq!(traced.header("x-request-id"), "trace-4711");
}

/// Checks the exposition format line by line and returns the samples as `(name{labels}, value)`.
fn samples(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(comment.starts_with("HELP calsync_") || comment.starts_with("TYPE calsync_"), "{line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let name = series.split('{').next().unwrap_or_default();
        assert!(
            name.starts_with("calsync_") && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad metric name: {line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "bad labels: {line}");
        }
        let value =
            if value == "+Inf" { f64::INFINITY } else { value.parse().unwrap_or_else(|e| panic!("{e}: {line}")) };
        out.push((series.to_owned(), value));
    }
    out
}

#[tokio::test]
async fn metrics_count_requests_per_route_template_and_show_the_outbox_depth() {
    let app = TestApp::sqlite().await;
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    let first = app.create_event(&token, meeting(&cal, "One", "2026-05-04", "09:00", "10:00")).await;
    let second = app.create_event(&token, meeting(&cal, "Two", "2026-05-05", "09:00", "10:00")).await;
    let ids: Vec<String> = [&first, &second].iter().map(|e| e["id"].as_str().unwrap_or_default().to_owned()).collect();
    for id in &ids {
        assert_eq!(app.get(&format!("/api/v1/events/{id}"), &token).await.status, 200);
    }
    let missing = uuid::Uuid::now_v7();
    assert_eq!(app.get(&format!("/api/v1/events/{missing}"), &token).await.status, 404);
    assert_eq!(app.get(&format!("/api/v1/no/such/route/{missing}"), &token).await.status, 404);

    let response = app.client.get(app.url("/metrics")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(response.status(), 200);
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.unwrap_or_else(|e| panic!("{e}"));
    let samples = samples(&text);
    let value = |series: &str| samples.iter().find(|(s, _)| s == series).map(|(_, v)| *v);

    assert_eq!(
        value(r#"calsync_http_requests_total{method="GET",route="/api/v1/events/{id}",status="200"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(r#"calsync_http_requests_total{method="GET",route="/api/v1/events/{id}",status="404"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(r#"calsync_http_requests_total{method="POST",route="/api/v1/events",status="201"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(r#"calsync_http_requests_total{method="POST",route="/api/v1/admin/users",status="201"}"#),
        Some(1.0),
        "{text}"
    );
    assert!(
        samples.iter().any(|(s, v)| s
            .starts_with(r#"calsync_http_request_duration_seconds_count{method="GET",route="/api/v1/events/{id}""#)
            && *v == 3.0),
        "{text}"
    );
    for raw in ids.iter().map(String::as_str).chain([missing.to_string().as_str(), cal.as_str(), "/no/such/route"]) {
        assert!(!text.contains(raw), "a raw path or id leaked into the labels ({raw}):\n{text}");
    }
    assert!(text.contains("# TYPE calsync_outbox_depth gauge"), "{text}");
    assert_eq!(value("calsync_outbox_depth"), Some(2.0), "two writes, two rows in the outbox:\n{text}");
}

/// Reads from `socket` until the end of a header block, or fails after [`PATIENCE`].
async fn read_head(socket: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(PATIENCE, socket.read(&mut byte))
            .await
            .unwrap_or_else(|_| panic!("no answer within {PATIENCE:?}: {}", String::from_utf8_lossy(&head)))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, 1, "the connection closed: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test]
async fn a_graceful_shutdown_finishes_requests_in_flight_and_ends_change_streams() {
    let mut app = TestApp::sqlite().await;
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    let mut stream = app.stream(&token, "/api/v1/changes/stream", None).await;

    // A client that has sent its headers and waits for "100 Continue" before the body: when
    // that arrives the server is inside the handler, reading the body.
    let body = meeting(&cal, "Written during shutdown", "2026-05-04", "09:00", "10:00").to_string();
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap_or_else(|e| panic!("{e}"));
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap_or_else(|e| panic!("{e}"));
    let interim = read_head(&mut socket).await;
    assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");

    app.shutdown();

    // The open change stream ends instead of holding the shutdown up.
    let after_shutdown = stream.next().await;
    assert!(after_shutdown.is_none(), "the stream should end, got {after_shutdown:?}");

    // The request that was in flight still completes.
    socket.write_all(body.as_bytes()).await.unwrap_or_else(|e| panic!("{e}"));
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, socket.read_to_end(&mut answer))
        .await
        .unwrap_or_else(|_| panic!("the in-flight request did not complete"))
        .unwrap_or_else(|e| panic!("{e}"));
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201 Created"), "{answer}");
    assert!(answer.contains("Written during shutdown"), "{answer}");

    // Then the server task finishes.
    app.stopped().await;
}
