//! What a client that sends something wrong is told: a 4xx `application/problem+json` that
//! names the field and the rule it broke, and nothing is stored.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{ADMIN_TOKEN, TestApp, meeting};

/// A server with one user (ada) who has one calendar.
async fn ada_with_a_calendar() -> (TestApp, String, String) {
    let app = TestApp::sqlite().await;
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    (app, token, cal)
}

/// Nothing was written: the change feed is empty and the calendar lists no event.
async fn assert_nothing_stored(app: &TestApp, token: &str, cal: &str) {
    assert_eq!(app.changes(token).await, Vec::<Value>::new(), "the change feed stays empty");
    let listed = app.get(&format!("/api/v1/calendars/{cal}/events?start=2026-01-01&end=2027-01-01"), token).await;
    assert_eq!(listed.status, 200, "{}", listed.json);
    assert_eq!(listed.json["events"], json!([]), "no event was stored");
}

fn with(mut event: Value, key: &str, value: Value) -> Value {
    event[key] = value;
    event
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_naming_the_body() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let broken = format!(r#"{{"calendar_id": "{cal}", "title": "Kick-off", "start": "#);
    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/events", &token).header("Content-Type", "application/json").body(broken),
        )
        .await;
    reply.assert_problem(400, "body", "json");

    // A whole event followed by anything but whitespace is not JSON either.
    let trailing = format!("{} and then some", meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00"));
    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/events", &token)
                .header("Content-Type", "application/json")
                .body(trailing),
        )
        .await;
    reply.assert_problem(400, "body", "json");
    let two_calendars = format!("{0} {0}", json!({"name": "Home"}));
    let reply = app
        .send(
            app.request(Method::POST, "/api/v1/calendars", &token)
                .header("Content-Type", "application/json")
                .body(two_calendars),
        )
        .await;
    reply.assert_problem(400, "body", "json");

    let not_an_object = app.send_json(Method::POST, "/api/v1/events", &token, &json!(["Kick-off"])).await;
    not_an_object.assert_problem(400, "body", "object");
    assert_nothing_stored(&app, &token, &cal).await;
    let calendars = app.get("/api/v1/calendars", &token).await;
    assert_eq!(calendars.json["calendars"].as_array().map(Vec::len), Some(1), "no second calendar: {}", calendars.json);
}

#[tokio::test]
async fn an_unknown_top_level_field_is_refused_naming_it() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let typo = with(meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00"), "colour", json!("#ff0000"));
    let reply = app.send_json(Method::POST, "/api/v1/events", &token, &typo).await;
    reply.assert_problem(400, "colour", "unknown_field");
    assert!(reply.json["detail"].as_str().unwrap_or_default().contains("colour"), "{}", reply.json);
    assert_nothing_stored(&app, &token, &cal).await;
}

#[tokio::test]
async fn an_unknown_field_nested_in_start_is_refused_naming_its_path() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let mut event = meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00");
    event["start"]["tz"] = json!("Europe/Berlin");
    let reply = app.send_json(Method::POST, "/api/v1/events", &token, &event).await;
    reply.assert_problem(400, "start.tz", "unknown_field");

    // Replacing an existing event with the same mistake is refused the same way.
    let created = app.create_event(&token, meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00")).await;
    let id = created["id"].as_str().unwrap_or_default();
    let replaced = app.send_json(Method::PUT, &format!("/api/v1/events/{id}"), &token, &event).await;
    replaced.assert_problem(400, "start.tz", "unknown_field");
    assert_eq!(app.changes(&token).await.len(), 1, "only the create was recorded");
}

#[tokio::test]
async fn a_missing_required_field_is_refused_naming_it() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let mut untitled = meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00");
    untitled.as_object_mut().map(|o| o.remove("title"));
    app.send_json(Method::POST, "/api/v1/events", &token, &untitled).await.assert_problem(400, "title", "required");

    let nameless = app.send_json(Method::POST, "/api/v1/calendars", &token, &json!({"color": "#1e90ff"})).await;
    nameless.assert_problem(400, "name", "required");

    let mut zoneless = meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00");
    zoneless["end"] = json!({"date_time": "2026-05-04T10:00:00"});
    app.send_json(Method::POST, "/api/v1/events", &token, &zoneless).await.assert_problem(
        422,
        "end.time_zone",
        "required",
    );
    assert_nothing_stored(&app, &token, &cal).await;
}

#[tokio::test]
async fn a_value_of_the_wrong_type_is_refused_naming_the_field() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let numeric_title = with(meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00"), "title", json!(42));
    app.send_json(Method::POST, "/api/v1/events", &token, &numeric_title).await.assert_problem(400, "title", "type");

    let attendees_as_text =
        with(meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00"), "attendees", json!("ada@example.com"));
    app.send_json(Method::POST, "/api/v1/events", &token, &attendees_as_text).await.assert_problem(
        400,
        "attendees",
        "type",
    );

    let mut start_as_number = meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00");
    start_as_number["start"]["date_time"] = json!(20260504);
    app.send_json(Method::POST, "/api/v1/events", &token, &start_as_number).await.assert_problem(
        400,
        "start.date_time",
        "type",
    );

    let unknown_status = with(meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00"), "status", json!("maybe"));
    app.send_json(Method::POST, "/api/v1/events", &token, &unknown_status).await.assert_problem(400, "status", "type");
    assert_nothing_stored(&app, &token, &cal).await;
}

#[tokio::test]
async fn an_end_before_the_start_is_refused() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let backwards = meeting(&cal, "Kick-off", "2026-05-04", "10:00", "09:00");
    app.send_json(Method::POST, "/api/v1/events", &token, &backwards).await.assert_problem(
        422,
        "end",
        "end_after_start",
    );

    let zero_days =
        json!({"calendar_id": cal, "title": "Holiday", "start": {"date": "2026-05-04"}, "end": {"date": "2026-05-04"}});
    app.send_json(Method::POST, "/api/v1/events", &token, &zero_days).await.assert_problem(
        422,
        "end",
        "end_after_start",
    );
    assert_nothing_stored(&app, &token, &cal).await;
}

#[tokio::test]
async fn a_timed_start_with_an_all_day_end_is_refused() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let mixed = with(meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00"), "end", json!({"date": "2026-05-05"}));
    app.send_json(Method::POST, "/api/v1/events", &token, &mixed).await.assert_problem(422, "end", "same_kind");
    assert_nothing_stored(&app, &token, &cal).await;
}

#[tokio::test]
async fn an_unknown_time_zone_is_refused_naming_it() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let mut event = meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00");
    event["start"]["time_zone"] = json!("Mars/Olympus_Mons");
    let reply = app.send_json(Method::POST, "/api/v1/events", &token, &event).await;
    reply.assert_problem(422, "start.time_zone", "time_zone");
    assert!(reply.json["detail"].as_str().unwrap_or_default().contains("Mars/Olympus_Mons"), "{}", reply.json);

    let calendar = json!({"name": "Mars base", "time_zone": "Mars/Olympus_Mons"});
    app.send_json(Method::POST, "/api/v1/calendars", &token, &calendar).await.assert_problem(
        422,
        "time_zone",
        "time_zone",
    );
    let calendars = app.get("/api/v1/calendars", &token).await;
    assert_eq!(calendars.json["calendars"].as_array().map(Vec::len), Some(1), "only Work exists");
    assert_nothing_stored(&app, &token, &cal).await;
}

#[tokio::test]
async fn an_invalid_recurrence_rule_is_refused_naming_the_line() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let rules = json!(["RRULE:FREQ=WEEKLY;COUNT=3", "RRULE:FREQ=SOMETIMES"]);
    let event = with(meeting(&cal, "Standup", "2026-05-04", "09:00", "09:15"), "recurrence", rules);
    app.send_json(Method::POST, "/api/v1/events", &token, &event).await.assert_problem(
        422,
        "recurrence[1]",
        "recurrence",
    );

    let not_a_property =
        with(meeting(&cal, "Standup", "2026-05-04", "09:00", "09:15"), "recurrence", json!(["weekly"]));
    app.send_json(Method::POST, "/api/v1/events", &token, &not_a_property).await.assert_problem(
        422,
        "recurrence[0]",
        "recurrence",
    );
    assert_nothing_stored(&app, &token, &cal).await;
}

#[tokio::test]
async fn text_over_its_length_limit_is_refused_and_every_offence_is_listed() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let mut event = meeting(&cal, &"t".repeat(1025), "2026-05-04", "09:00", "10:00");
    event["location"] = json!("l".repeat(1025));
    event["description"] = json!("d".repeat(65_537));
    event["attendees"] = json!([{"email": "ada@example.com", "name": "n".repeat(256)}]);
    let reply = app.send_json(Method::POST, "/api/v1/events", &token, &event).await;
    reply.assert_problem(422, "title", "max_length");
    reply.assert_problem(422, "location", "max_length");
    reply.assert_problem(422, "description", "max_length");
    reply.assert_problem(422, "attendees[0].name", "max_length");

    // Exactly at the limit is fine.
    let at_limit = meeting(&cal, &"t".repeat(1024), "2026-05-04", "09:00", "10:00");
    let created = app.create_event(&token, at_limit).await;
    assert_eq!(created["title"].as_str().map(str::len), Some(1024));

    let too_many_lines = with(
        meeting(&cal, "Standup", "2026-05-04", "09:00", "09:15"),
        "recurrence",
        json!(vec!["RDATE;TZID=Europe/Berlin:20260601T090000"; 101]),
    );
    app.send_json(Method::POST, "/api/v1/events", &token, &too_many_lines).await.assert_problem(
        422,
        "recurrence",
        "max_items",
    );
    let long_line = format!("RRULE:FREQ=WEEKLY;BYDAY={}", vec!["MO"; 1400].join(","));
    let too_long_line =
        with(meeting(&cal, "Standup", "2026-05-04", "09:00", "09:15"), "recurrence", json!([long_line]));
    app.send_json(Method::POST, "/api/v1/events", &token, &too_long_line).await.assert_problem(
        422,
        "recurrence[0]",
        "max_length",
    );

    let crowd: Vec<Value> = (0..501).map(|n| json!({"email": format!("guest{n}@example.com")})).collect();
    let crowded = with(meeting(&cal, "All hands", "2026-05-04", "09:00", "10:00"), "attendees", json!(crowd));
    app.send_json(Method::POST, "/api/v1/events", &token, &crowded).await.assert_problem(422, "attendees", "max_items");
    let long_email = format!("{}@example.com", "a".repeat(243));
    let long_address =
        with(meeting(&cal, "1:1", "2026-05-04", "09:00", "10:00"), "attendees", json!([{"email": long_email}]));
    app.send_json(Method::POST, "/api/v1/events", &token, &long_address).await.assert_problem(
        422,
        "attendees[0].email",
        "max_length",
    );

    let long_name = json!({"name": "c".repeat(256)});
    app.send_json(Method::POST, "/api/v1/calendars", &token, &long_name).await.assert_problem(
        422,
        "name",
        "max_length",
    );
    let long_user = app
        .send(
            app.client
                .post(app.url("/api/v1/admin/users"))
                .bearer_auth(ADMIN_TOKEN)
                .json(&json!({"name": "u".repeat(256)})),
        )
        .await;
    long_user.assert_problem(422, "name", "max_length");
    assert_eq!(app.changes(&token).await.len(), 1, "only the event at the limit was stored");
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_refused_with_413() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let huge =
        with(meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00"), "description", json!("x".repeat(1 << 20)));
    let reply = app.send_json(Method::POST, "/api/v1/events", &token, &huge).await;
    reply.assert_status_problem(413);
    assert_eq!(reply.json["type"], "urn:calsync:problem:too-large");
    assert_nothing_stored(&app, &token, &cal).await;
}

#[tokio::test]
async fn a_feed_window_over_400_days_or_ending_before_it_starts_is_refused() {
    let (app, token, cal) = ada_with_a_calendar().await;
    for feed in ["fullcalendar", "events"] {
        let too_wide =
            app.get(&format!("/api/v1/calendars/{cal}/{feed}?start=2026-01-01&end=2027-02-06"), &token).await;
        too_wide.assert_problem(400, "end", "max_window");
        let backwards =
            app.get(&format!("/api/v1/calendars/{cal}/{feed}?start=2026-05-01&end=2026-04-01"), &token).await;
        backwards.assert_problem(400, "end", "end_after_start");
        let missing = app.get(&format!("/api/v1/calendars/{cal}/{feed}?end=2026-04-01"), &token).await;
        missing.assert_problem(400, "start", "required");
        let unreadable =
            app.get(&format!("/api/v1/calendars/{cal}/{feed}?start=yesterday&end=2026-04-01"), &token).await;
        unreadable.assert_problem(400, "start", "date_time");
        let unknown_zone = app
            .get(&format!("/api/v1/calendars/{cal}/{feed}?start=2026-03-01&end=2026-04-01&timeZone=Mars/Base"), &token)
            .await;
        unknown_zone.assert_problem(400, "timeZone", "time_zone");
        // 400 days exactly is allowed.
        let widest = app.get(&format!("/api/v1/calendars/{cal}/{feed}?start=2026-01-01&end=2027-02-05"), &token).await;
        assert_eq!(widest.status, 200, "{}", widest.json);
    }
}

#[tokio::test]
async fn an_id_that_is_not_a_uuid_is_refused_naming_it() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let event = meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00");
    for (method, path) in [
        (Method::GET, "/api/v1/events/not-a-uuid"),
        (Method::PUT, "/api/v1/events/not-a-uuid"),
        (Method::PATCH, "/api/v1/events/not-a-uuid"),
        (Method::DELETE, "/api/v1/events/not-a-uuid"),
        (Method::GET, "/api/v1/calendars/123"),
        (Method::PUT, "/api/v1/calendars/123"),
        (Method::DELETE, "/api/v1/calendars/123"),
        (Method::GET, "/api/v1/calendars/123/events?start=2026-05-01&end=2026-06-01"),
        (Method::GET, "/api/v1/calendars/123/fullcalendar?start=2026-05-01&end=2026-06-01"),
    ] {
        let reply = app.send(app.request(method.clone(), path, &token).json(&event)).await;
        assert_eq!(reply.status, 400, "{method} {path}: {}", reply.json);
        reply.assert_problem(400, "id", "uuid");
    }

    let bad_calendar = with(event.clone(), "calendar_id", json!("work"));
    app.send_json(Method::POST, "/api/v1/events", &token, &bad_calendar).await.assert_problem(
        400,
        "calendar_id",
        "type",
    );
    let bad_series = with(event.clone(), "recurring_event_id", json!("the-weekly-one"));
    app.send_json(Method::POST, "/api/v1/events", &token, &bad_series).await.assert_problem(
        400,
        "recurring_event_id",
        "type",
    );
    let bad_own_id = with(event, "id", json!("my-event"));
    // Like every other UUID field of the body (calendar_id, recurring_event_id above).
    app.send_json(Method::POST, "/api/v1/events", &token, &bad_own_id).await.assert_problem(400, "id", "type");
    assert_nothing_stored(&app, &token, &cal).await;
}

#[tokio::test]
async fn a_body_that_is_not_declared_as_json_is_refused_with_415() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let event = meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00").to_string();
    let as_text = app
        .send(
            app.request(Method::POST, "/api/v1/events", &token)
                .header("Content-Type", "text/plain")
                .body(event.clone()),
        )
        .await;
    as_text.assert_status_problem(415);
    let undeclared = app.send(app.request(Method::POST, "/api/v1/events", &token).body(event.clone())).await;
    undeclared.assert_status_problem(415);
    let as_form = app
        .send(
            app.request(Method::POST, "/api/v1/calendars", &token)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("name=Home"),
        )
        .await;
    as_form.assert_status_problem(415);
    // Parameters on the JSON type are fine.
    let with_charset = app
        .send(
            app.request(Method::POST, "/api/v1/events", &token)
                .header("Content-Type", "application/json; charset=utf-8")
                .body(event),
        )
        .await;
    assert_eq!(with_charset.status, 201, "{}", with_charset.json);
}

#[tokio::test]
async fn a_request_without_a_valid_token_is_refused_with_401() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let event = meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00");
    let anonymous = app.send(app.client.post(app.url("/api/v1/events")).json(&event)).await;
    anonymous.assert_status_problem(401);
    assert_eq!(anonymous.header("www-authenticate"), "Bearer");

    let forged = app.send_json(Method::POST, "/api/v1/events", "cs_0000000000000000", &event).await;
    forged.assert_status_problem(401);
    let wrong_scheme = app.send(app.client.get(app.url("/api/v1/calendars")).basic_auth("ada", Some(&token))).await;
    wrong_scheme.assert_status_problem(401);
    let empty = app.send(app.client.get(app.url("/api/v1/me")).header("Authorization", "Bearer ")).await;
    empty.assert_status_problem(401);

    // A user's token is not the admin token, and the admin token is no user's.
    let not_admin = app.send_json(Method::POST, "/api/v1/admin/users", &token, &json!({"name": "mallory"})).await;
    not_admin.assert_status_problem(401);
    let admin_as_user = app.get("/api/v1/me", ADMIN_TOKEN).await;
    admin_as_user.assert_status_problem(401);
    assert_nothing_stored(&app, &token, &cal).await;
}

#[tokio::test]
async fn an_if_match_that_is_not_an_etag_is_refused_and_changes_nothing() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let created = app.create_event(&token, meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00")).await;
    let path = format!("/api/v1/events/{}", created["id"].as_str().unwrap_or_default());
    let edit = meeting(&cal, "Edited", "2026-05-04", "09:00", "10:00");
    for method in [Method::PUT, Method::PATCH, Method::DELETE] {
        let reply =
            app.send(app.request(method.clone(), &path, &token).header("If-Match", "yesterday's").json(&edit)).await;
        reply.assert_problem(400, "If-Match", "etag");
    }
    let calendar = app
        .send(
            app.request(Method::PUT, &format!("/api/v1/calendars/{cal}"), &token)
                .header("If-Match", "v1")
                .json(&json!({"name": "Renamed"})),
        )
        .await;
    calendar.assert_problem(400, "If-Match", "etag");

    let current = app.get(&path, &token).await;
    assert_eq!((current.json["title"].as_str(), current.json["version"].as_i64()), (Some("Kick-off"), Some(1)));
    assert_eq!(app.get(&format!("/api/v1/calendars/{cal}"), &token).await.json["name"], "Work");
    assert_eq!(app.changes(&token).await.len(), 1, "only the create was recorded");
}

#[tokio::test]
async fn the_change_feed_refuses_a_limit_or_position_out_of_range() {
    let (app, token, _) = ada_with_a_calendar().await;
    for (query, field, rule) in [
        ("limit=0", "limit", "range"),
        ("limit=1001", "limit", "range"),
        ("limit=-1", "limit", "query"),
        ("limit=ten", "limit", "query"),
        ("after=-1", "after", "min"),
        ("after=first", "after", "query"),
    ] {
        let reply = app.get(&format!("/api/v1/changes?{query}"), &token).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.json);
        reply.assert_problem(400, field, rule);
    }
    let stream = app.get("/api/v1/changes/stream?after=-5", &token).await;
    stream.assert_problem(400, "after", "min");
    let resume =
        app.send(app.request(Method::GET, "/api/v1/changes/stream", &token).header("Last-Event-ID", "abc")).await;
    resume.assert_problem(400, "Last-Event-ID", "seq");
}

#[tokio::test]
async fn an_exception_of_an_event_that_is_not_a_series_is_refused() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let single = app.create_event(&token, meeting(&cal, "One-off", "2026-05-04", "09:00", "10:00")).await;
    let mut exception = meeting(&cal, "Moved", "2026-05-04", "11:00", "12:00");
    exception["recurring_event_id"] = single["id"].clone();
    exception["original_start"] = json!({"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"});
    let reply = app.send_json(Method::POST, "/api/v1/events", &token, &exception).await;
    reply.assert_problem(422, "recurring_event_id", "series");

    let nowhere = with(exception.clone(), "recurring_event_id", json!(uuid::Uuid::now_v7()));
    app.send_json(Method::POST, "/api/v1/events", &token, &nowhere).await.assert_problem(
        422,
        "recurring_event_id",
        "series",
    );

    let mut without_original = exception;
    without_original["original_start"] = Value::Null;
    app.send_json(Method::POST, "/api/v1/events", &token, &without_original).await.assert_problem(
        422,
        "original_start",
        "required",
    );
    assert_eq!(app.changes(&token).await.len(), 1, "only the one-off was stored");
}

#[tokio::test]
async fn an_event_in_a_calendar_that_does_not_exist_is_refused() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let nowhere = meeting(&uuid::Uuid::now_v7().to_string(), "Kick-off", "2026-05-04", "09:00", "10:00");
    app.send_json(Method::POST, "/api/v1/events", &token, &nowhere).await.assert_problem(422, "calendar_id", "exists");

    // Moving an existing event there is refused too, and the event stays where it was.
    let created = app.create_event(&token, meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00")).await;
    let path = format!("/api/v1/events/{}", created["id"].as_str().unwrap_or_default());
    app.send_json(Method::PUT, &path, &token, &nowhere).await.assert_problem(422, "calendar_id", "exists");
    assert_eq!(app.get(&path, &token).await.json["calendar_id"], cal.as_str());
    assert_eq!(app.changes(&token).await.len(), 1);
}

#[tokio::test]
async fn a_patch_that_breaks_a_rule_leaves_the_event_untouched() {
    let (app, token, cal) = ada_with_a_calendar().await;
    let created = app.create_event(&token, meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00")).await;
    let path = format!("/api/v1/events/{}", created["id"].as_str().unwrap_or_default());
    let patch = |body: Value| {
        app.request(Method::PATCH, &path, &token)
            .header("Content-Type", "application/merge-patch+json")
            .body(body.to_string())
    };
    app.send(patch(json!({"end": {"date_time": "2026-05-04T08:00:00"}}))).await.assert_problem(
        422,
        "end",
        "end_after_start",
    );
    app.send(patch(json!({"title": "t".repeat(1025)}))).await.assert_problem(422, "title", "max_length");
    app.send(patch(json!({"start": {"time_zone": "Nowhere/Town"}}))).await.assert_problem(
        422,
        "start.time_zone",
        "time_zone",
    );
    app.send(patch(json!({"sttart": {}}))).await.assert_problem(400, "sttart", "unknown_field");
    app.send(patch(json!({"id": uuid::Uuid::now_v7()}))).await.assert_problem(400, "id", "read_only");

    let current = app.get(&path, &token).await;
    assert_eq!(current.json["version"], 1);
    assert_eq!(current.json["end"]["date_time"], "2026-05-04T10:00:00");
    assert_eq!(app.changes(&token).await.len(), 1);
}
