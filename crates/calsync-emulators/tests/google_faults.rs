//! Bad days at Google, staged through the control API: injected errors in Google's envelope,
//! rate limits, latency; plus edits made "in the web UI", snapshots, and unknown paths
//! (protocols.md §1.7, §1.12, §1.14 item 8).

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::*;

async fn inject(emu: &Emu, rule: &Value) {
    let (status, _, body) = emu.control.post("/_emulator/faults", rule).await;
    assert_eq!(status, 204, "adding fault {rule}: {body}");
}

#[tokio::test]
async fn injected_500s_fail_exactly_the_next_requests_in_googles_envelope() {
    let emu = Emu::start().await;
    assert_eq!(emu.control.delete("/_emulator/requests").await.0, 204);
    inject(&emu, &json!({"status": 500, "count": 2})).await;
    for _ in 0..2 {
        let (status, _, body) = emu.api.get(EVENTS).await;
        assert_eq!(status, 500);
        assert_eq!(body, google_error(500, "global", "backendError", "Backend Error"));
    }
    let (status, _, list) = emu.api.get(EVENTS).await;
    assert_eq!(status, 200, "the third request succeeds: {list}");

    let (_, _, log) = emu.control.get("/_emulator/requests").await;
    let flags: Vec<(Value, Value)> = log["requests"]
        .as_array()
        .unwrap_or_else(|| panic!("{log}"))
        .iter()
        .map(|r| (r["status"].clone(), r["injected"].clone()))
        .collect();
    assert_eq!(flags, vec![(json!(500), json!(true)), (json!(500), json!(true)), (json!(200), json!(false))]);
}

#[tokio::test]
async fn each_kind_of_throttling_has_googles_reason_and_domain() {
    let emu = Emu::start().await;
    let cases = [
        (json!({"status": 403, "reason": "rateLimitExceeded"}), 403, "usageLimits", "rateLimitExceeded"),
        (json!({"status": 403, "reason": "userRateLimitExceeded"}), 403, "usageLimits", "userRateLimitExceeded"),
        (json!({"status": 403, "reason": "quotaExceeded"}), 403, "usageLimits", "quotaExceeded"),
        (json!({"status": 429}), 429, "usageLimits", "rateLimitExceeded"),
        (json!({"status": 503}), 503, "global", "backendError"),
        (json!({"status": 401}), 401, "global", "authError"),
    ];
    for (rule, status, domain, reason_text) in cases {
        inject(&emu, &rule).await;
        let reply = emu.api.get(EVENTS).await;
        assert_error(&reply, status, reason_text);
        let item = &reply.2["error"]["errors"][0];
        assert_eq!(item["domain"], json!(domain), "{rule}: {}", reply.2);
        assert_eq!(item["message"], reply.2["error"]["message"], "{}", reply.2);
        assert_eq!(emu.api.get(EVENTS).await.0, 200, "{rule} fails one request only");
    }

    // The messages Google uses where protocols.md records them.
    inject(&emu, &json!({"status": 403, "reason": "quotaExceeded"})).await;
    assert_eq!(
        emu.api.get(EVENTS).await.2,
        google_error(403, "usageLimits", "quotaExceeded", "Calendar usage limits exceeded.")
    );
    inject(&emu, &json!({"status": 403, "reason": "rateLimitExceeded"})).await;
    assert_eq!(
        emu.api.get(EVENTS).await.2,
        google_error(403, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded")
    );
    inject(&emu, &json!({"status": 401})).await;
    let (status, _, body) = emu.api.get(EVENTS).await;
    assert_eq!(status, 401);
    assert_eq!(body, google_error_at(401, "global", "authError", "Invalid Credentials", "header", "Authorization"));
}

#[tokio::test]
async fn a_fault_can_target_a_method_and_a_path() {
    let emu = Emu::start().await;
    inject(&emu, &json!({"status": 503, "method": "POST", "path": "/events", "count": 1})).await;
    assert_eq!(emu.api.get(EVENTS).await.0, 200, "GET does not match");
    assert_eq!(emu.api.get(CALENDAR_LIST).await.0, 200);
    assert_error(&emu.api.post(EVENTS, &hour_event("First try", 9)).await, 503, "backendError");
    let (_, _, list) = emu.api.get(EVENTS).await;
    assert!(items(&list).is_empty(), "the failed insert stored nothing");
    insert(&emu.api, "primary", &hour_event("Second try", 9)).await;

    inject(&emu, &json!({"status": 500, "path": "/calendarList"})).await;
    assert_eq!(emu.api.get(EVENTS).await.0, 200);
    assert_error(&emu.api.get(CALENDAR_LIST).await, 500, "backendError");
    assert_eq!(emu.api.get(CALENDAR_LIST).await.0, 200);
}

#[tokio::test]
async fn a_fault_after_commit_loses_the_answer_but_keeps_the_write_and_may_hold_it() {
    let emu = Emu::start().await;
    inject(&emu, &json!({"status": 503, "method": "POST", "path": "/events", "after_commit": true, "delay_ms": 200}))
        .await;
    let started = std::time::Instant::now();
    assert_error(&emu.api.post(EVENTS, &hour_event("Committed", 9)).await, 503, "backendError");
    assert!(started.elapsed() >= std::time::Duration::from_millis(200), "the answer was held");
    let (_, _, list) = emu.api.get(EVENTS).await;
    assert_eq!(items(&list).len(), 1, "Google kept the write whose answer was lost: {list}");

    let (status, _, body) = emu.control.post("/_emulator/faults", &json!({"status": 503, "delay_ms": 600_001})).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn a_fault_may_carry_retry_after() {
    let emu = Emu::start().await;
    inject(&emu, &json!({"status": 429, "retry_after": 7})).await;
    let reply = emu.api.get(EVENTS).await;
    assert_error(&reply, 429, "rateLimitExceeded");
    assert_eq!(reply.1.get("retry-after").and_then(|v| v.to_str().ok()), Some("7"));
    let (status, headers, _) = emu.api.get(EVENTS).await;
    assert_eq!(status, 200);
    assert!(headers.get("retry-after").is_none());
}

#[tokio::test]
async fn a_user_over_the_rate_limit_gets_403_user_rate_limit_exceeded() {
    let emu = Emu::start().await;
    let bob = emu.as_user("bob@example.com");
    let (status, _, settings) =
        emu.control.patch("/_emulator/settings", &json!({"user_rate_limit_per_minute": 3})).await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["user_rate_limit_per_minute"], json!(3));

    for i in 1..=3 {
        assert_eq!(emu.api.get(EVENTS).await.0, 200, "request {i} is within the limit");
    }
    let (status, _, body) = emu.api.get(EVENTS).await;
    assert_eq!(status, 403);
    assert_eq!(body, google_error(403, "usageLimits", "userRateLimitExceeded", "User Rate Limit Exceeded"));
    assert_eq!(bob.get(EVENTS).await.0, 200, "the limit is per user");

    let (status, _, _) = emu.control.patch("/_emulator/settings", &json!({"user_rate_limit_per_minute": 0})).await;
    assert_eq!(status, 200);
    assert_eq!(emu.api.get(EVENTS).await.0, 200, "0 turns the limit off");
}

#[tokio::test]
async fn added_latency_still_answers() {
    let emu = Emu::start().await;
    let (status, _, settings) = emu.control.patch("/_emulator/settings", &json!({"latency_ms": 30})).await;
    assert_eq!(status, 200);
    assert_eq!(settings["latency_ms"], json!(30));
    let event = insert(&emu.api, "primary", &hour_event("Slow network", 9)).await;
    let (status, _, fetched) = emu.api.get(&event_path(event["id"].as_str().unwrap_or_default())).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["summary"], json!("Slow network"));
    let (_, _, settings) = emu.control.get("/_emulator/settings").await;
    assert_eq!(settings["latency_ms"], json!(30));
}

#[tokio::test]
async fn edits_in_the_web_ui_reach_the_next_delta_and_push_but_not_the_request_log() {
    let emu = Emu::start().await;
    let rx = Receiver::start().await;
    insert(
        &emu.api,
        "primary",
        &json!({"id": "prior00001", "summary": "Existing",
                                        "start": {"date": "2024-05-01"}, "end": {"date": "2024-05-02"}}),
    )
    .await;
    let (_, token) = list_items(&emu.api, EVENTS).await;
    watch(&emu.api, "primary", "ui-chan", &rx, "t").await;
    rx.wait_delivered("ui-chan", 1).await;
    assert_eq!(emu.control.delete("/_emulator/requests").await.0, 204);

    let ui = format!("/_emulator/users/{USER}/calendars/primary/events");
    let (status, _, created) = emu.control.post(&ui, &hour_event("Typed in the web UI", 9)).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    let (status, _, renamed) = emu.control.patch(&format!("{ui}/{id}"), &json!({"summary": "Renamed in the UI"})).await;
    assert_eq!(status, 200, "{renamed}");
    let (status, _, _) = emu.control.delete(&format!("{ui}/prior00001")).await;
    assert_eq!(status, 204);

    let (_, _, log) = emu.control.get("/_emulator/requests").await;
    assert_eq!(log["requests"], json!([]), "UI edits are not API requests");

    let got = rx.wait_delivered("ui-chan", 4).await;
    let numbers: Vec<u64> = got.iter().map(Notification::number).collect();
    assert_eq!(numbers, vec![1, 2, 3, 4]);
    assert!(got[1..].iter().all(|n| n.state() == "exists"));

    let (delta, _) = list_items(&emu.api, &format!("{EVENTS}?syncToken={}", enc(&token))).await;
    assert_eq!(delta.len(), 2, "{delta:?}");
    let new = delta.iter().find(|e| e["id"] == json!(id)).unwrap_or_else(|| panic!("{delta:?}"));
    assert_eq!(new["summary"], json!("Renamed in the UI"));
    assert_eq!(new["etag"], renamed["etag"]);
    let gone = delta.iter().find(|e| e["id"] == json!("prior00001")).unwrap_or_else(|| panic!("{delta:?}"));
    assert_eq!(gone["status"], json!("cancelled"));
    assert_eq!(keys(gone), vec!["etag", "id", "kind", "status"]);
}

#[tokio::test]
async fn a_snapshot_restores_the_world() {
    let emu = Emu::start().await;
    let keep = insert(
        &emu.api,
        "primary",
        &json!({"id": "keepme001", "summary": "Keep",
                                                   "start": {"date": "2024-05-01"}, "end": {"date": "2024-05-02"}}),
    )
    .await;
    let (status, _, snapshot) = emu.control.get("/_emulator/snapshot").await;
    assert_eq!(status, 200);
    assert!(snapshot.is_object(), "{snapshot}");

    insert(
        &emu.api,
        "primary",
        &json!({"id": "laterone1", "summary": "Later",
                                        "start": {"date": "2024-05-03"}, "end": {"date": "2024-05-04"}}),
    )
    .await;
    assert_eq!(emu.api.delete(&event_path("keepme001")).await.0, 204);

    let (status, _, _) = emu
        .control
        .raw(Method::PUT, "/_emulator/snapshot", Some(("application/json", snapshot.to_string().into_bytes())), &[])
        .await;
    assert_eq!(status, 204);

    let (status, _, restored) = emu.api.get(&event_path("keepme001")).await;
    assert_eq!(status, 200);
    assert_eq!(restored["status"], json!("confirmed"));
    assert_eq!(restored["etag"], keep["etag"]);
    assert_eq!(emu.api.get(&event_path("laterone1")).await.0, 404);
    let (list, _) = list_items(&emu.api, EVENTS).await;
    assert_eq!(list.len(), 1, "{list:?}");

    let (status, _, _) = emu
        .control
        .raw(Method::PUT, "/_emulator/snapshot", Some(("application/json", b"{\"not\": \"a world\"".to_vec())), &[])
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn unknown_paths_under_the_api_are_404_in_googles_envelope() {
    let emu = Emu::start().await;
    let not_found = google_error(404, "global", "notFound", "Not Found");
    for path in ["/calendar/v3/nonsense", "/calendar/v3/calendars/primary/events/abcde12345/bogus", "/calendar/v3/"] {
        let (status, _, body) = emu.api.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body, not_found, "{path}");
    }
    let (status, _, body) = emu.api.get("/calendar/v3/calendars/nobody@example.com").await;
    assert_eq!(status, 404);
    assert_eq!(body, not_found);
}
