//! The event API as an app uses it: create, read, replace, patch, delete, with ETags.

#[macro_use]
mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{TestApp, body, meeting};

on_both_databases!(an_app_creates_edits_and_deletes_an_event_with_optimistic_concurrency);
async fn an_app_creates_edits_and_deletes_an_event_with_optimistic_concurrency(app: TestApp) {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;

    let created = app.create_event(&token, meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00")).await;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(created["version"], 1);
    assert_eq!(created["source"], "local");
    assert_eq!(created["updated_at_source"], "local");

    let got = app
        .request(Method::GET, &format!("/api/v1/events/{id}"), &token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
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
    let gone = app
        .request(Method::GET, &format!("/api/v1/events/{id}"), &token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(gone.status(), 410);
    assert_eq!(gone.headers()["content-type"], "application/problem+json");

    let ops: Vec<(Value, Value, Value)> =
        app.changes(&token).await.iter().map(|c| (c["seq"].clone(), c["op"].clone(), c["version"].clone())).collect();
    assert_eq!(
        ops,
        [
            (json!(1), json!("created"), json!(1)),
            (json!(2), json!("updated"), json!(2)),
            (json!(3), json!("deleted"), json!(3))
        ]
    );
}

on_both_databases!(a_client_that_chooses_the_id_can_retry_a_create_safely);
async fn a_client_that_chooses_the_id_can_retry_a_create_safely(app: TestApp) {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    let id = uuid::Uuid::now_v7().to_string();
    let mut event = meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00");
    event["id"] = json!(id);

    let first = app.send_json(Method::POST, "/api/v1/events", &token, &event).await;
    assert_eq!((first.status, first.id()), (201, id.clone()), "{}", first.json);
    assert_eq!(first.header("location"), format!("/api/v1/events/{id}"));
    assert_eq!(first.header("etag"), "\"1\"");

    // The answer got lost; the client sends the same create again.
    let retry = app.send_json(Method::POST, "/api/v1/events", &token, &event).await;
    retry.assert_status_problem(409);
    assert_eq!(app.changes(&token).await.len(), 1, "no duplicate");
}

on_both_databases!(a_merge_patch_changes_only_what_it_names_and_null_removes_a_field);
async fn a_merge_patch_changes_only_what_it_names_and_null_removes_a_field(app: TestApp) {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    let mut event = meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00");
    event["location"] = json!("Room 1");
    event["attendees"] = json!([{"email": "bob@example.com"}]);
    let created = app.create_event(&token, event).await;
    let path = format!("/api/v1/events/{}", created["id"].as_str().unwrap_or_default());

    // No If-Match: the patch applies to whatever is current.
    let patched = app
        .send(app.request(Method::PATCH, &path, &token).header("Content-Type", "application/merge-patch+json").body(
            json!({"location": null, "end": {"date_time": "2026-05-04T11:00:00"}, "color": "#1e90ff"}).to_string(),
        ))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert!(patched.json.get("location").is_none(), "{}", patched.json);
    assert_eq!(patched.json["end"], json!({"date_time": "2026-05-04T11:00:00", "time_zone": "Europe/Berlin"}));
    assert_eq!(patched.json["color"], "#1e90ff");
    assert_eq!(patched.json["attendees"], json!([{"email": "bob@example.com", "response_status": "needs_action"}]));
    assert_eq!((patched.json["title"].as_str(), patched.json["version"].as_i64()), (Some("Kick-off"), Some(2)));
}

on_both_databases!(one_occurrence_of_a_series_can_have_only_one_exception);
async fn one_occurrence_of_a_series_can_have_only_one_exception(app: TestApp) {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    let mut weekly = meeting(&cal, "Standup", "2026-05-04", "09:00", "09:15");
    weekly["recurrence"] = json!(["RRULE:FREQ=WEEKLY;COUNT=4"]);
    let series = app.create_event(&token, weekly).await;
    let mut moved = meeting(&cal, "Standup (later)", "2026-05-11", "10:00", "10:15");
    moved["recurring_event_id"] = series["id"].clone();
    moved["original_start"] = json!({"date_time": "2026-05-11T09:00:00", "time_zone": "Europe/Berlin"});
    let exception = app.create_event(&token, moved.clone()).await;
    assert_eq!(exception["recurring_event_id"], series["id"]);

    // The same occurrence named in UTC is still the same occurrence.
    moved["original_start"] = json!({"date_time": "2026-05-11T07:00:00", "time_zone": "UTC"});
    let twice = app.send_json(Method::POST, "/api/v1/events", &token, &moved).await;
    twice.assert_status_problem(409);

    // Once the first exception is deleted the occurrence may be changed again.
    let path = format!("/api/v1/events/{}", exception["id"].as_str().unwrap_or_default());
    assert_eq!(app.send(app.request(Method::DELETE, &path, &token)).await.status, 204);
    app.create_event(&token, moved).await;
    assert_eq!(app.changes(&token).await.len(), 4);
}
