//! The event API as an app uses it: create, read, replace, patch, delete, with ETags.

mod support;

use reqwest::Method;
use serde_json::json;
use support::{TestApp, body, meeting};

#[tokio::test]
async fn an_app_creates_edits_and_deletes_an_event_with_optimistic_concurrency() {
    let app = TestApp::sqlite().await;
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;

    let created = app.create_event(&token, meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00")).await;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(created["version"], 1);
    assert_eq!(created["source"], "local");
    assert_eq!(created["updated_at_source"], "local");

    let got = app.request(Method::GET, &format!("/api/v1/events/{id}"), &token).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.headers()["etag"], "\"1\"");
    assert_eq!(body(got).await["title"], "Kick-off");

    let patched = app
        .request(Method::PATCH, &format!("/api/v1/events/{id}"), &token)
        .header("If-Match", "\"1\"")
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"title": "Kick-off (room 2)", "location": "Room 2"}).to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(patched.status(), 200);
    assert_eq!(patched.headers()["etag"], "\"2\"");
    let patched = body(patched).await;
    assert_eq!((patched["title"].as_str(), patched["location"].as_str()), (Some("Kick-off (room 2)"), Some("Room 2")));
    assert_eq!(patched["start"]["date_time"], "2026-05-04T09:00:00", "untouched fields stay");

    // Someone still holding version 1 is told, and nothing changes.
    let stale = app
        .request(Method::PUT, &format!("/api/v1/events/{id}"), &token)
        .header("If-Match", "\"1\"")
        .json(&meeting(&cal, "Stale edit", "2026-05-04", "09:00", "10:00"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stale.status(), 412);
    assert_eq!(body(stale).await["current_version"], 2);

    let deleted = app
        .request(Method::DELETE, &format!("/api/v1/events/{id}"), &token)
        .header("If-Match", "\"2\"")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(deleted.status(), 204);
    let gone = app.request(Method::GET, &format!("/api/v1/events/{id}"), &token).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(gone.status(), 410);
    assert_eq!(gone.headers()["content-type"], "application/problem+json");
}
