//! Push notifications as a webhook receiver sees them: the sync message, `exists` after each
//! change, retries, stopped and expired channels, injected delivery faults, and an API that
//! never waits for the receiver (protocols.md §1.10, §1.14 item 7).

mod support;

use calsync_emulators::google::Config;
use serde_json::{Value, json};
use std::time::Duration;
use support::*;

fn quick_retries() -> Config {
    Config { notification_retry_delay: Duration::from_millis(10), ..Config::default() }
}

fn numbers(ns: &[Notification]) -> Vec<u64> {
    ns.iter().map(Notification::number).collect()
}

fn states(ns: &[Notification]) -> Vec<&str> {
    ns.iter().map(Notification::state).collect()
}

async fn watch_ready(emu: &Emu, rx: &Receiver, channel: &str) -> Value {
    let ch = watch(&emu.api, "primary", channel, rx, &format!("token-{channel}")).await;
    rx.wait_delivered(channel, 1).await;
    ch
}

#[tokio::test]
async fn a_channel_gets_a_sync_message_then_exists_after_every_change() {
    let emu = Emu::start_with(quick_retries()).await;
    let rx = Receiver::start().await;
    let before_ms = jiff::Timestamp::now().as_millisecond();
    let channel = watch(&emu.api, "primary", "chan-0001", &rx, "opaque-token-1").await;
    assert_eq!(channel["kind"], json!("api#channel"));
    assert_eq!(channel["id"], json!("chan-0001"));
    assert_eq!(channel["token"], json!("opaque-token-1"));
    let resource_id = channel["resourceId"].as_str().unwrap_or_else(|| panic!("{channel}")).to_owned();
    let resource_uri = channel["resourceUri"].as_str().unwrap_or_else(|| panic!("{channel}")).to_owned();
    assert!(resource_uri.contains("/calendar/v3/calendars/"), "{resource_uri}");
    let expiration: i64 = channel["expiration"]
        .as_str()
        .and_then(|e| e.parse().ok())
        .unwrap_or_else(|| panic!("expiration is a string of Unix milliseconds: {channel}"));
    assert!(expiration > before_ms, "{expiration}");

    let sync = rx.wait_delivered("chan-0001", 1).await;
    let first = &sync[0];
    assert_eq!(first.state(), "sync");
    assert_eq!(first.number(), 1);
    assert_eq!(first.header("X-Goog-Channel-ID"), Some("chan-0001"));
    assert_eq!(first.header("X-Goog-Channel-Token"), Some("opaque-token-1"));
    assert_eq!(first.header("X-Goog-Resource-ID"), Some(resource_id.as_str()));
    assert_eq!(first.header("X-Goog-Resource-URI"), Some(resource_uri.as_str()));
    let expires = first.header("X-Goog-Channel-Expiration").unwrap_or("");
    assert!(expires.ends_with(" GMT"), "a human-readable expiry date: {expires:?}");
    assert!(first.body.is_empty(), "Calendar notifications have no body");

    let event = insert(&emu.api, "primary", &hour_event("Push me", 9)).await;
    let path = event_path(event["id"].as_str().unwrap_or_default());
    rx.wait_delivered("chan-0001", 2).await;
    assert_eq!(emu.api.patch(&path, &json!({"summary": "Pushed"})).await.0, 200);
    rx.wait_delivered("chan-0001", 3).await;
    assert_eq!(emu.api.delete(&path).await.0, 204);
    let all = rx.wait_delivered("chan-0001", 4).await;

    assert_eq!(numbers(&all), vec![1, 2, 3, 4]);
    assert_eq!(states(&all), vec!["sync", "exists", "exists", "exists"]);
    for n in &all {
        assert_eq!(n.header("X-Goog-Resource-ID"), Some(resource_id.as_str()));
        assert_eq!(n.header("X-Goog-Channel-Token"), Some("opaque-token-1"));
        assert!(n.body.is_empty());
    }
    // Reads do not notify.
    assert_eq!(emu.api.get(EVENTS).await.0, 200);
    let sentinel = insert(&emu.api, "primary", &hour_event("Sentinel", 10)).await;
    assert!(sentinel["id"].is_string());
    let all = rx.wait_delivered("chan-0001", 5).await;
    assert_eq!(numbers(&all), vec![1, 2, 3, 4, 5], "the read sent nothing");
}

#[tokio::test]
async fn a_notification_answered_with_500_is_retried() {
    let emu = Emu::start_with(quick_retries()).await;
    let rx = Receiver::start().await;
    watch_ready(&emu, &rx, "retry-chan").await;

    rx.fail_next(2);
    insert(&emu.api, "primary", &hour_event("Flaky receiver", 9)).await;
    rx.wait_delivered("retry-chan", 2).await;
    let attempts: Vec<(u64, u16)> =
        rx.all().iter().filter(|n| n.number() == 2).map(|n| (n.number(), n.answered)).collect();
    assert_eq!(attempts, vec![(2, 500), (2, 500), (2, 200)], "two failures, then the retry succeeds");
}

#[tokio::test]
async fn a_watch_address_must_be_https_or_loopback() {
    let emu = Emu::start().await;
    for address in ["http://example.com/hook", "http://10.0.0.1:8080/hook", "ftp://127.0.0.1/hook"] {
        let body = json!({"id": "bad-address", "type": "web_hook", "address": address});
        let reply = emu.api.post(&format!("{EVENTS}/watch"), &body).await;
        assert_eq!(reply.0, 400, "{address}: {}", reply.2);
        assert_eq!(reply.2["error"]["code"], json!(400));
    }
    let rx = Receiver::start().await;
    let reply = emu.api.post(&format!("{EVENTS}/watch"), &json!({"id": "no-type", "address": rx.url})).await;
    assert_eq!(reply.0, 400, "type is required: {}", reply.2);

    // Channel ids are unique.
    watch(&emu.api, "primary", "only-once", &rx, "t").await;
    let again = json!({"id": "only-once", "type": "web_hook", "address": rx.url});
    assert_eq!(emu.api.post(&format!("{EVENTS}/watch"), &again).await.0, 400);
}

#[tokio::test]
async fn the_requested_ttl_is_clamped_to_the_maximum() {
    let config = Config { channel_max_ttl: Duration::from_secs(3600), ..Config::default() };
    let emu = Emu::start_with(config).await;
    let rx = Receiver::start().await;
    let expiration_of = |channel: &Value| -> i64 {
        channel["expiration"].as_str().and_then(|e| e.parse().ok()).unwrap_or_else(|| panic!("{channel}"))
    };

    let before = jiff::Timestamp::now().as_millisecond();
    let body = json!({"id": "long", "type": "web_hook", "address": rx.url, "params": {"ttl": "604800"}});
    let (status, _, long) = emu.api.post(&format!("{EVENTS}/watch"), &body).await;
    let after = jiff::Timestamp::now().as_millisecond();
    assert_eq!(status, 200, "{long}");
    let e = expiration_of(&long);
    assert!(
        (before + 3_600_000..=after + 3_600_000).contains(&e),
        "clamped to one hour: {e} not in [{before}, {after}] + 1h"
    );

    let before = jiff::Timestamp::now().as_millisecond();
    let body = json!({"id": "short", "type": "webhook", "address": rx.url, "params": {"ttl": "60"}});
    let (status, _, short) = emu.api.post(&format!("{EVENTS}/watch"), &body).await;
    let after = jiff::Timestamp::now().as_millisecond();
    assert_eq!(status, 200, "{short}");
    let e = expiration_of(&short);
    assert!((before + 60_000..=after + 60_000).contains(&e), "a shorter ttl is honoured: {e}");
}

#[tokio::test]
async fn a_stopped_channel_gets_nothing_more() {
    let emu = Emu::start_with(quick_retries()).await;
    let rx = Receiver::start().await;
    let channel = watch_ready(&emu, &rx, "stop-me").await;
    let resource_id = channel["resourceId"].as_str().unwrap_or_default();

    let wrong = json!({"id": "stop-me", "resourceId": "not-the-resource"});
    assert_eq!(emu.api.post("/calendar/v3/channels/stop", &wrong).await.0, 404);
    let (status, _, body) =
        emu.api.post("/calendar/v3/channels/stop", &json!({"id": "stop-me", "resourceId": resource_id})).await;
    assert_eq!(status, 204);
    assert_eq!(body, Value::Null);

    insert(&emu.api, "primary", &hour_event("After stop", 9)).await;
    // A second channel proves the change was committed and pushed.
    watch_ready(&emu, &rx, "sentinel").await;
    insert(&emu.api, "primary", &hour_event("After sentinel", 10)).await;
    rx.wait_delivered("sentinel", 2).await;
    let stopped: Vec<u64> = rx.all().iter().filter(|n| n.channel() == "stop-me").map(Notification::number).collect();
    assert_eq!(stopped, vec![1], "only the sync message before the stop");
}

#[tokio::test]
async fn an_expired_channel_gets_nothing_more() {
    let emu = Emu::start_with(quick_retries()).await;
    let rx = Receiver::start().await;
    watch_ready(&emu, &rx, "expiring").await;

    let (status, _, body) = emu.control.post("/_emulator/channels/expire", &json!({"id": "expiring"})).await;
    assert_eq!(status, 200, "{body}");
    insert(&emu.api, "primary", &hour_event("After expiry", 9)).await;
    watch_ready(&emu, &rx, "sentinel").await;
    insert(&emu.api, "primary", &hour_event("After sentinel", 10)).await;
    rx.wait_delivered("sentinel", 2).await;
    let expired: Vec<u64> = rx.all().iter().filter(|n| n.channel() == "expiring").map(Notification::number).collect();
    assert_eq!(expired, vec![1], "nothing after expiry");
}

#[tokio::test]
async fn a_dropped_notification_leaves_a_gap_in_message_numbers() {
    let emu = Emu::start_with(quick_retries()).await;
    let rx = Receiver::start().await;
    watch_ready(&emu, &rx, "gappy").await;

    let (status, _, _) = emu.control.put("/_emulator/notifications/faults", &json!({"drop_next": 1})).await;
    assert_eq!(status, 204);
    insert(&emu.api, "primary", &hour_event("Lost notification", 9)).await;
    insert(&emu.api, "primary", &hour_event("Delivered", 10)).await;
    let got = rx.wait_delivered("gappy", 2).await;
    assert_eq!(numbers(&got), vec![1, 3]);
    assert_eq!(states(&got), vec!["sync", "exists"]);
}

#[tokio::test]
async fn a_duplicated_notification_arrives_twice() {
    let emu = Emu::start_with(quick_retries()).await;
    let rx = Receiver::start().await;
    watch_ready(&emu, &rx, "dupes").await;

    let (status, _, _) = emu.control.put("/_emulator/notifications/faults", &json!({"duplicate_next": 1})).await;
    assert_eq!(status, 204);
    insert(&emu.api, "primary", &hour_event("Twice", 9)).await;
    insert(&emu.api, "primary", &hour_event("Once", 10)).await;
    let got = rx.wait_delivered("dupes", 4).await;
    assert_eq!(numbers(&got), vec![1, 2, 2, 3]);
}

#[tokio::test]
async fn a_slow_receiver_never_blocks_the_api() {
    let emu = Emu::start_with(quick_retries()).await;
    let rx = Receiver::start().await;
    rx.hold();
    watch(&emu.api, "primary", "slow", &rx, "t").await;
    // The sync message is now stuck in the receiver.
    eventually("the sync message to reach the receiver", || (rx.arrived() >= 1).then_some(())).await;

    let event = insert(&emu.api, "primary", &hour_event("Fast", 9)).await;
    let (status, _, _) =
        emu.api.patch(&event_path(event["id"].as_str().unwrap_or_default()), &json!({"summary": "Faster"})).await;
    assert_eq!(status, 200);
    assert!(rx.all().is_empty(), "the writes returned while the receiver still held the first notification");

    rx.release();
    let got = rx.wait_delivered("slow", 3).await;
    assert_eq!(numbers(&got), vec![1, 2, 3]);
    assert_eq!(states(&got), vec!["sync", "exists", "exists"]);
}

#[tokio::test]
async fn watching_someone_elses_calendar_is_404() {
    let emu = Emu::start().await;
    let rx = Receiver::start().await;
    emu.emulator.add_user("carol@example.com");
    let body = json!({"id": "peek", "type": "web_hook", "address": rx.url});
    let reply = emu.api.post(&format!("{}/watch", events_of("carol@example.com")), &body).await;
    assert_error(&reply, 404, "notFound");
}
