//! Two users on one server: neither can see, change or even detect the other's calendars,
//! events and changes. Someone else's id answers exactly like an id that does not exist
//! (404, never 403).

#[macro_use]
mod support;

use reqwest::Method;
use serde_json::json;
use support::{TestApp, meeting};

/// Ada with a calendar, a meeting and a weekly series in it; Bob with a calendar of his own.
struct TwoUsers {
    app: TestApp,
    ada: String,
    ada_cal: String,
    ada_event: String,
    ada_series: String,
    bob: String,
    bob_cal: String,
}

async fn ada_and_bob(app: TestApp) -> TwoUsers {
    let ada = app.user("ada").await;
    let bob = app.user("bob").await;
    let ada_cal = app.calendar(&ada, "Ada's work").await;
    let bob_cal = app.calendar(&bob, "Bob's work").await;
    let event = app.create_event(&ada, meeting(&ada_cal, "Salary talk", "2026-05-04", "09:00", "10:00")).await;
    let mut weekly = meeting(&ada_cal, "Therapy", "2026-05-05", "17:00", "18:00");
    weekly["recurrence"] = json!(["RRULE:FREQ=WEEKLY"]);
    let series = app.create_event(&ada, weekly).await;
    let id = |v: &serde_json::Value| v["id"].as_str().unwrap_or_default().to_owned();
    TwoUsers { ada_event: id(&event), ada_series: id(&series), app, ada, ada_cal, bob, bob_cal }
}

on_both_databases!(bob_gets_404_for_every_verb_on_adas_event);
async fn bob_gets_404_for_every_verb_on_adas_event(app: TestApp) {
    let t = ada_and_bob(app).await;
    let app = &t.app;
    let path = format!("/api/v1/events/{}", t.ada_event);
    let his_version = meeting(&t.bob_cal, "Mine now", "2026-05-04", "09:00", "10:00");

    let get = app.get(&path, &t.bob).await;
    get.assert_status_problem(404);
    let put = app.send_json(Method::PUT, &path, &t.bob, &his_version).await;
    put.assert_status_problem(404);
    let put_pinned =
        app.send(app.request(Method::PUT, &path, &t.bob).header("If-Match", "\"1\"").json(&his_version)).await;
    put_pinned.assert_status_problem(404);
    let patch = app
        .send(
            app.request(Method::PATCH, &path, &t.bob)
                .header("Content-Type", "application/merge-patch+json")
                .body(json!({"title": "Mine now"}).to_string()),
        )
        .await;
    patch.assert_status_problem(404);
    let delete = app.send(app.request(Method::DELETE, &path, &t.bob)).await;
    delete.assert_status_problem(404);

    // The answer is the same as for an id nobody has.
    let nobody = app.get(&format!("/api/v1/events/{}", uuid::Uuid::now_v7()), &t.bob).await;
    nobody.assert_status_problem(404);
    assert_eq!(get.json["type"], nobody.json["type"]);
    assert_eq!(get.json["title"], nobody.json["title"]);

    let untouched = app.get(&path, &t.ada).await;
    assert_eq!(untouched.status, 200);
    assert_eq!((untouched.json["title"].as_str(), untouched.json["version"].as_i64()), (Some("Salary talk"), Some(1)));
}

on_both_databases!(bob_gets_404_for_adas_calendar_and_its_feeds);
async fn bob_gets_404_for_adas_calendar_and_its_feeds(app: TestApp) {
    let t = ada_and_bob(app).await;
    let app = &t.app;
    let path = format!("/api/v1/calendars/{}", t.ada_cal);

    app.get(&path, &t.bob).await.assert_status_problem(404);
    app.send_json(Method::PUT, &path, &t.bob, &json!({"name": "Mine now"})).await.assert_status_problem(404);
    app.send(app.request(Method::DELETE, &path, &t.bob)).await.assert_status_problem(404);
    let range = "start=2026-05-01&end=2026-06-01";
    app.get(&format!("{path}/events?{range}"), &t.bob).await.assert_status_problem(404);
    app.get(&format!("{path}/fullcalendar?{range}&timeZone=Europe/Berlin"), &t.bob).await.assert_status_problem(404);

    let listed = app.get("/api/v1/calendars", &t.bob).await;
    let names: Vec<&str> =
        listed.json["calendars"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["Bob's work"]);

    let still_there = app.get(&path, &t.ada).await;
    assert_eq!((still_there.status, still_there.json["name"].as_str()), (200, Some("Ada's work")));
    let feed = app.get(&format!("{path}/events?{range}"), &t.ada).await;
    assert_eq!(feed.json["events"].as_array().map(Vec::len), Some(2), "Ada's events survived: {}", feed.json);
}

on_both_databases!(bob_cannot_put_events_into_adas_calendar_or_series);
async fn bob_cannot_put_events_into_adas_calendar_or_series(app: TestApp) {
    let t = ada_and_bob(app).await;
    let app = &t.app;
    let intruder = meeting(&t.ada_cal, "Surprise", "2026-05-06", "09:00", "10:00");
    app.send_json(Method::POST, "/api/v1/events", &t.bob, &intruder).await.assert_problem(422, "calendar_id", "exists");

    // Nor move his own event there.
    let his = app.create_event(&t.bob, meeting(&t.bob_cal, "Bob's", "2026-05-06", "09:00", "10:00")).await;
    let his_path = format!("/api/v1/events/{}", his["id"].as_str().unwrap_or_default());
    app.send_json(Method::PUT, &his_path, &t.bob, &intruder).await.assert_problem(422, "calendar_id", "exists");
    let moved = app
        .send(
            app.request(Method::PATCH, &his_path, &t.bob)
                .header("Content-Type", "application/merge-patch+json")
                .body(json!({"calendar_id": t.ada_cal}).to_string()),
        )
        .await;
    moved.assert_problem(422, "calendar_id", "exists");

    // Nor hang an exception on her series from his calendar.
    let mut exception = meeting(&t.bob_cal, "Cancelled", "2026-05-12", "17:00", "18:00");
    exception["recurring_event_id"] = json!(t.ada_series);
    exception["original_start"] = json!({"date_time": "2026-05-12T17:00:00", "time_zone": "Europe/Berlin"});
    exception["status"] = json!("cancelled");
    app.send_json(Method::POST, "/api/v1/events", &t.bob, &exception).await.assert_problem(
        422,
        "recurring_event_id",
        "series",
    );

    let range = "start=2026-05-01&end=2026-06-01&timeZone=Europe/Berlin";
    let feed = app.get(&format!("/api/v1/calendars/{}/fullcalendar?{range}", t.ada_cal), &t.ada).await;
    let titles: Vec<&str> = feed.json.as_array().into_iter().flatten().filter_map(|o| o["title"].as_str()).collect();
    assert!(!titles.contains(&"Surprise") && !titles.contains(&"Bob's"), "{titles:?}");
    assert_eq!(titles.iter().filter(|t| **t == "Therapy").count(), 4, "no occurrence was cancelled: {titles:?}");
}

on_both_databases!(bob_sees_none_of_adas_changes_paged_or_streamed);
async fn bob_sees_none_of_adas_changes_paged_or_streamed(app: TestApp) {
    let t = ada_and_bob(app).await;
    let app = &t.app;
    assert_eq!(app.changes(&t.bob).await, Vec::<serde_json::Value>::new());
    let mut bobs_stream = app.stream(&t.bob, "/api/v1/changes/stream?after=0", None).await;

    // Ada keeps writing; Bob writes once. His stream shows only his own write, numbered 1.
    app.create_event(&t.ada, meeting(&t.ada_cal, "Dentist", "2026-05-07", "08:00", "09:00")).await;
    app.send(app.request(Method::DELETE, &format!("/api/v1/events/{}", t.ada_event), &t.ada)).await;
    let his = app.create_event(&t.bob, meeting(&t.bob_cal, "Gym", "2026-05-07", "18:00", "19:00")).await;

    let (id, change) = bobs_stream.next_change().await;
    assert_eq!((id.as_str(), change["event_id"].clone()), ("1", his["id"].clone()));
    let paged = app.changes(&t.bob).await;
    assert_eq!(paged.len(), 1);
    assert_eq!(paged[0]["event_id"], his["id"]);
    assert_eq!(app.changes(&t.ada).await.len(), 4, "Ada's own feed has her four writes");

    // Resuming from a position in Ada's log shows Bob nothing of hers either.
    app.create_event(&t.bob, meeting(&t.bob_cal, "Gym", "2026-05-08", "18:00", "19:00")).await;
    let mut resumed = app.stream(&t.bob, "/api/v1/changes/stream", Some("1")).await;
    assert_eq!(resumed.next_seqs(1).await, [2]);
    let page = app.get("/api/v1/changes?after=2", &t.bob).await;
    assert_eq!((page.json["changes"].clone(), page.json["next_after"].as_i64()), (json!([]), Some(2)));
}

on_both_databases!(each_token_acts_for_its_own_user_and_only_the_admin_lists_users);
async fn each_token_acts_for_its_own_user_and_only_the_admin_lists_users(app: TestApp) {
    let ada = app.user("ada").await;
    let bob = app.user("bob").await;
    let ada_me = app.get("/api/v1/me", &ada).await;
    let bob_me = app.get("/api/v1/me", &bob).await;
    assert_eq!((ada_me.status, ada_me.json["name"].as_str()), (200, Some("ada")));
    assert_eq!((bob_me.status, bob_me.json["name"].as_str()), (200, Some("bob")));
    assert_ne!(ada_me.json["id"], bob_me.json["id"]);
    assert!(ada_me.json.get("token").is_none(), "a token is shown once, at creation: {}", ada_me.json);

    let users = app.get("/api/v1/admin/users", support::ADMIN_TOKEN).await;
    assert_eq!(users.status, 200, "{}", users.json);
    let mut names: Vec<&str> = users.json.as_array().into_iter().flatten().filter_map(|u| u["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["ada", "bob"]);
    assert!(users.json.as_array().into_iter().flatten().all(|u| u.get("token").is_none()), "{}", users.json);
    app.get("/api/v1/admin/users", &ada).await.assert_status_problem(401);
}
