//! Calendars as an app manages them: create, list, read, rename with optimistic
//! concurrency, and delete, which takes the calendar's events with it as tombstones.

#[macro_use]
mod support;

use reqwest::Method;
use serde_json::json;
use support::{TestApp, meeting};

on_both_databases!(an_app_creates_lists_reads_and_renames_a_calendar);
async fn an_app_creates_lists_reads_and_renames_a_calendar(app: TestApp) {
    let token = app.user("ada").await;

    let created = app
        .send_json(
            Method::POST,
            "/api/v1/calendars",
            &token,
            &json!({"name": "Family", "color": "#ff8800", "time_zone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let id = created.id();
    assert_eq!(created.header("location"), format!("/api/v1/calendars/{id}"));
    assert_eq!(created.header("etag"), "\"1\"");
    assert_eq!(
        (created.json["name"].as_str(), created.json["color"].as_str(), created.json["time_zone"].as_str()),
        (Some("Family"), Some("#ff8800"), Some("Europe/Berlin"))
    );
    assert_eq!(created.json["version"], 1);

    // Without a zone a calendar is in UTC.
    let plain = app.send_json(Method::POST, "/api/v1/calendars", &token, &json!({"name": "Work"})).await;
    assert_eq!((plain.status, plain.json["time_zone"].as_str()), (201, Some("UTC")));

    let listed = app.get("/api/v1/calendars", &token).await;
    assert_eq!(listed.status, 200);
    let mut names: Vec<&str> =
        listed.json["calendars"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["Family", "Work"]);

    let path = format!("/api/v1/calendars/{id}");
    let got = app.get(&path, &token).await;
    assert_eq!((got.status, got.header("etag")), (200, "\"1\""));
    assert_eq!(got.json["name"], "Family");

    let renamed = app
        .send(
            app.request(Method::PUT, &path, &token)
                .header("If-Match", "\"1\"")
                .json(&json!({"name": "Family & friends", "color": "#ff8800", "time_zone": "Europe/Berlin"})),
        )
        .await;
    assert_eq!((renamed.status, renamed.header("etag")), (200, "\"2\""), "{}", renamed.json);
    assert_eq!(renamed.json["name"], "Family & friends");

    // A second tab still holding version 1 is told, and its edit is not applied.
    let stale = app
        .send(app.request(Method::PUT, &path, &token).header("If-Match", "\"1\"").json(&json!({"name": "Stale"})))
        .await;
    stale.assert_status_problem(412);
    assert_eq!(stale.json["current_version"], 2);
    assert_eq!(app.get(&path, &token).await.json["name"], "Family & friends");

    // Without If-Match the last write wins; the same content again is not a new version.
    let unconditional = json!({"name": "Family", "color": "#ff8800", "time_zone": "Europe/Berlin"});
    let again = app.send_json(Method::PUT, &path, &token, &unconditional).await;
    assert_eq!((again.status, again.json["version"].as_i64()), (200, Some(3)));
    let same = app.send_json(Method::PUT, &path, &token, &unconditional).await;
    assert_eq!((same.status, same.json["version"].as_i64()), (200, Some(3)));

    // Calendar edits are not event changes.
    assert_eq!(app.changes(&token).await, Vec::<serde_json::Value>::new());
}

on_both_databases!(deleting_a_calendar_tombstones_its_events);
async fn deleting_a_calendar_tombstones_its_events(app: TestApp) {
    let token = app.user("ada").await;
    let doomed = app.calendar(&token, "Old job").await;
    let kept = app.calendar(&token, "Home").await;
    let standup = app.create_event(&token, meeting(&doomed, "Standup", "2026-05-04", "09:00", "09:15")).await;
    let mut weekly = meeting(&doomed, "1:1", "2026-05-05", "10:00", "10:30");
    weekly["recurrence"] = json!(["RRULE:FREQ=WEEKLY;COUNT=10"]);
    let series = app.create_event(&token, weekly).await;
    let mut moved = meeting(&doomed, "1:1 (moved)", "2026-05-13", "10:00", "10:30");
    moved["recurring_event_id"] = series["id"].clone();
    moved["original_start"] = json!({"date_time": "2026-05-12T10:00:00", "time_zone": "Europe/Berlin"});
    let exception = app.create_event(&token, moved).await;
    let home = app.create_event(&token, meeting(&kept, "Dinner", "2026-05-04", "19:00", "21:00")).await;
    let path = format!("/api/v1/calendars/{doomed}");

    // A stale If-Match protects the calendar like an event.
    let stale = app.send(app.request(Method::DELETE, &path, &token).header("If-Match", "\"7\"")).await;
    stale.assert_status_problem(412);
    assert_eq!(stale.json["current_version"], 1);
    assert_eq!(app.changes(&token).await.len(), 4, "nothing was deleted");

    let deleted = app.send(app.request(Method::DELETE, &path, &token).header("If-Match", "\"1\"")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.json);

    let changes = app.changes(&token).await;
    let deletions: Vec<_> =
        changes[4..].iter().map(|c| (c["event_id"].clone(), c["op"].clone(), c["version"].clone())).collect();
    let mut expected = vec![
        (standup["id"].clone(), json!("deleted"), json!(2)),
        (series["id"].clone(), json!("deleted"), json!(2)),
        (exception["id"].clone(), json!("deleted"), json!(2)),
    ];
    let key =
        |t: &(serde_json::Value, serde_json::Value, serde_json::Value)| t.0.as_str().unwrap_or_default().to_owned();
    let mut got = deletions.clone();
    got.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(got, expected, "one deletion per event of the calendar: {changes:?}");
    assert!(changes[4..].iter().all(|c| c["calendar_id"] == doomed.as_str() && c["origin"] == "local"));

    for event in [&standup, &series, &exception] {
        let gone = app.get(&format!("/api/v1/events/{}", event["id"].as_str().unwrap_or_default()), &token).await;
        gone.assert_status_problem(410);
    }
    app.get(&path, &token).await.assert_status_problem(404);
    app.send(app.request(Method::DELETE, &path, &token)).await.assert_status_problem(404);
    let range = "start=2026-05-01&end=2026-06-01";
    app.get(&format!("{path}/events?{range}"), &token).await.assert_status_problem(404);
    let listed = app.get("/api/v1/calendars", &token).await;
    assert_eq!(listed.json["calendars"].as_array().map(Vec::len), Some(1));

    // No new events can go there; the other calendar is untouched.
    app.send_json(Method::POST, "/api/v1/events", &token, &meeting(&doomed, "Late", "2026-05-20", "09:00", "10:00"))
        .await
        .assert_problem(422, "calendar_id", "exists");
    let dinner = app.get(&format!("/api/v1/events/{}", home["id"].as_str().unwrap_or_default()), &token).await;
    assert_eq!((dinner.status, dinner.json["version"].as_i64()), (200, Some(1)));
}

on_both_databases!(an_event_moves_between_calendars_and_the_feed_says_where_from);
async fn an_event_moves_between_calendars_and_the_feed_says_where_from(app: TestApp) {
    let token = app.user("ada").await;
    let work = app.calendar(&token, "Work").await;
    let home = app.calendar(&token, "Home").await;
    let event = app.create_event(&token, meeting(&work, "Pick up parcel", "2026-05-04", "17:00", "17:30")).await;
    let path = format!("/api/v1/events/{}", event["id"].as_str().unwrap_or_default());

    let moved = app
        .send_json(Method::PUT, &path, &token, &meeting(&home, "Pick up parcel", "2026-05-04", "17:00", "17:30"))
        .await;
    assert_eq!((moved.status, moved.json["calendar_id"].as_str()), (200, Some(home.as_str())));
    let changes = app.changes(&token).await;
    assert_eq!(changes[1]["calendar_id"], home.as_str());
    assert_eq!(changes[1]["previous_calendar_id"], work.as_str());

    let range = "start=2026-05-01&end=2026-06-01";
    let at_work = app.get(&format!("/api/v1/calendars/{work}/events?{range}"), &token).await;
    let at_home = app.get(&format!("/api/v1/calendars/{home}/events?{range}"), &token).await;
    assert_eq!(at_work.json["events"], json!([]));
    assert_eq!(at_home.json["events"].as_array().map(Vec::len), Some(1));
}
