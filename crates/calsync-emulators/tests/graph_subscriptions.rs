//! Change notifications from the Graph emulator (protocols.md §2.6): the validation
//! handshake, lifetimes, notifications with clientState and redelivery, lifecycle events,
//! and subscriptions that expire or are dropped.

mod support;

use calsync_emulators::graph::Config;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::time::Duration;
use support::graph::*;
use support::{Handshake, Notification, Receiver};

fn quick() -> Config {
    Config {
        notification_retry_delay: Duration::from_millis(30),
        validation_timeout: Duration::from_millis(500),
        ..Config::default()
    }
}

fn in_minutes(m: i64) -> String {
    Timestamp::now().checked_add(SignedDuration::from_mins(m)).unwrap_or(Timestamp::MAX).to_string()
}

fn subscription(receiver: &Receiver, resource: &str, client_state: &str) -> Value {
    json!({"changeType": "created,updated,deleted", "notificationUrl": receiver.url, "resource": resource,
           "expirationDateTime": in_minutes(60), "clientState": client_state})
}

async fn subscribe(emu: &GraphEmu, body: &Value) -> Value {
    let (status, _, sub) = emu.api.post("/v1.0/subscriptions", body).await;
    assert_eq!(status, 201, "subscribe {body}: {sub}");
    sub
}

/// The notification items (not validation requests) the receiver answered with 2xx.
fn items(all: &[Notification]) -> Vec<Value> {
    all.iter()
        .filter(|n| !n.is_validation() && n.succeeded())
        .flat_map(|n| n.json()["value"].as_array().cloned().unwrap_or_default())
        .collect()
}

async fn wait_items(receiver: &Receiver, n: usize) -> Vec<Value> {
    items(&receiver.wait_until(&format!("{n} notification items"), |all| items(all).len() >= n).await)
}

#[tokio::test]
async fn the_handshake_then_a_notification_per_change_with_client_state() {
    let emu = GraphEmu::start_with(quick()).await;
    let receiver = Receiver::start().await;
    let sub = subscribe(&emu, &subscription(&receiver, "me/events", "secret-state")).await;
    assert_eq!(sub["clientState"], json!("secret-state"));
    assert_eq!(sub["changeType"], json!("created,updated,deleted"));
    assert_eq!(sub["latestSupportedTlsVersion"], json!("v1_2"));
    let validation =
        receiver.all().into_iter().find(Notification::is_validation).unwrap_or_else(|| panic!("no handshake"));
    assert!(validation.header("content-type").is_some_and(|c| c.starts_with("text/plain")));
    assert!(validation.query.starts_with("validationToken=Validation%3A"), "{}", validation.query);

    let (_, _, me) = emu.api.get("/v1.0/me").await;
    let created = create(&emu.api, &hour_event("Notify me", 9)).await;
    let got = wait_items(&receiver, 1).await;
    let n = &got[0];
    assert_eq!(n["subscriptionId"], sub["id"]);
    assert_eq!(n["clientState"], json!("secret-state"));
    assert_eq!(n["changeType"], json!("created"));
    assert_eq!(n["tenantId"], json!(calsync_emulators::graph::DEFAULT_TENANT));
    let resource = format!("Users/{}/Events/{}", me["id"].as_str().unwrap_or(""), id(&created));
    assert_eq!(n["resource"], json!(resource));
    assert_eq!(
        n["resourceData"],
        json!({"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource,
                                          "@odata.etag": created["@odata.etag"], "id": created["id"]})
    );
    assert_eq!(n["subscriptionExpirationDateTime"], sub["expirationDateTime"]);

    assert_eq!(emu.api.patch(&event_path(&id(&created)), &json!({"subject": "v2"})).await.0, 200);
    assert_eq!(emu.api.delete(&event_path(&id(&created))).await.0, 204);
    let got = wait_items(&receiver, 3).await;
    let kinds: Vec<Value> = got.iter().map(|n| n["changeType"].clone()).collect();
    assert_eq!(kinds, vec![json!("created"), json!("updated"), json!("deleted")]);
}

#[tokio::test]
async fn a_wrong_or_slow_echo_creates_no_subscription() {
    let emu = GraphEmu::start_with(quick()).await;
    let receiver = Receiver::start().await;
    receiver.handshake(Handshake::EchoEncoded);
    let reply = emu.api.post("/v1.0/subscriptions", &subscription(&receiver, "me/events", "s")).await;
    assert_graph_error(&reply, 400, "ValidationError");
    receiver.handshake(Handshake::Slow(1500));
    let reply = emu.api.post("/v1.0/subscriptions", &subscription(&receiver, "me/events", "s")).await;
    assert_graph_error(&reply, 400, "ValidationError");
    let (_, _, list) = emu.api.get("/v1.0/subscriptions").await;
    assert_eq!(values(&list), Vec::<Value>::new());

    // The lifecycle URL is validated too.
    let lifecycle = Receiver::start().await;
    lifecycle.handshake(Handshake::EchoEncoded);
    receiver.handshake(Handshake::Echo);
    let mut body = subscription(&receiver, "me/events", "s");
    body["lifecycleNotificationUrl"] = json!(lifecycle.url);
    assert_graph_error(&emu.api.post("/v1.0/subscriptions", &body).await, 400, "ValidationError");
}

#[tokio::test]
async fn bad_requests_are_refused_and_lifetimes_are_clamped() {
    let emu = GraphEmu::start_with(quick()).await;
    let receiver = Receiver::start().await;
    let mut body = subscription(&receiver, "me/events", &"x".repeat(129));
    assert_graph_error(&emu.api.post("/v1.0/subscriptions", &body).await, 400, "ErrorInvalidRequest");
    body["clientState"] = json!("ok");
    body["notificationUrl"] = json!("http://example.com/hook");
    assert_graph_error(&emu.api.post("/v1.0/subscriptions", &body).await, 400, "ErrorInvalidRequest");
    body["notificationUrl"] = json!(receiver.url);
    body["changeType"] = json!("created,exploded");
    assert_graph_error(&emu.api.post("/v1.0/subscriptions", &body).await, 400, "ErrorInvalidRequest");
    body["changeType"] = json!("created");
    body["resource"] = json!("me/messages");
    assert_graph_error(&emu.api.post("/v1.0/subscriptions", &body).await, 400, "ErrorInvalidRequest");
    body["resource"] = json!("me/events");

    let expiry = |sub: &Value| {
        sub["expirationDateTime"].as_str().and_then(|t| t.parse::<Timestamp>().ok()).unwrap_or(Timestamp::MIN)
    };
    let minutes_from_now = |t: Timestamp| t.duration_since(Timestamp::now()).as_secs() / 60;
    body["expirationDateTime"] = json!(in_minutes(30 * 24 * 60));
    let long = subscribe(&emu, &body).await;
    assert!((10_078..=10_080).contains(&minutes_from_now(expiry(&long))), "clamped to 10080 min: {long}");
    body["expirationDateTime"] = json!(in_minutes(10));
    let short = subscribe(&emu, &body).await;
    assert!((43..=45).contains(&minutes_from_now(expiry(&short))), "raised to 45 min: {short}");

    emu.settings(json!({"subscription_max_minutes": 4230})).await;
    let (status, _, renewed) = emu
        .api
        .patch(&format!("/v1.0/subscriptions/{}", id(&short)), &json!({"expirationDateTime": in_minutes(9000)}))
        .await;
    assert_eq!(status, 200, "{renewed}");
    assert!((4228..=4230).contains(&minutes_from_now(expiry(&renewed))), "{renewed}");
    let reply = emu
        .api
        .patch(&format!("/v1.0/subscriptions/{}", id(&short)), &json!({"lifecycleNotificationUrl": receiver.url}))
        .await;
    assert_graph_error(&reply, 400, "ErrorInvalidRequest");

    assert_eq!(emu.api.delete(&format!("/v1.0/subscriptions/{}", id(&long))).await.0, 204);
    assert_graph_error(&emu.api.get(&format!("/v1.0/subscriptions/{}", id(&long))).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn a_failed_delivery_is_retried_until_the_receiver_takes_it() {
    let emu = GraphEmu::start_with(quick()).await;
    let receiver = Receiver::start().await;
    subscribe(&emu, &subscription(&receiver, "me/events", "s")).await;
    receiver.fail_next(2);
    create(&emu.api, &hour_event("Retry me", 9)).await;
    wait_items(&receiver, 1).await;
    let answers: Vec<u16> = receiver.all().iter().filter(|n| !n.is_validation()).map(|n| n.answered).collect();
    assert_eq!(answers, vec![500, 500, 200]);
    let (_, _, log) = emu.control.get("/_emulator/notifications").await;
    let attempts: Vec<Value> = log["deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|d| d["kind"] == json!("change"))
        .map(|d| d["attempt"].clone())
        .collect();
    assert_eq!(attempts, vec![json!(1), json!(2), json!(3)]);
}

#[tokio::test]
async fn lifecycle_events_pause_remove_and_warn() {
    let emu = GraphEmu::start_with(quick()).await;
    let receiver = Receiver::start().await;
    let lifecycle = Receiver::start().await;
    let mut body = subscription(&receiver, "me/events", "life");
    body["lifecycleNotificationUrl"] = json!(lifecycle.url);
    let sub = subscribe(&emu, &body).await;
    let sub_id = id(&sub);
    let fire = |event: &'static str| {
        let path = format!("/_emulator/subscriptions/{sub_id}/lifecycle");
        let control = emu.control.clone();
        async move {
            let (status, _, out) = control.post(&path, &json!({"event": event})).await;
            assert_eq!((status, out["sent"].clone()), (200, json!(true)), "{out}");
        }
    };

    fire("reauthorizationRequired").await;
    let got = wait_items(&lifecycle, 1).await;
    assert_eq!(got[0]["lifecycleEvent"], json!("reauthorizationRequired"));
    assert_eq!((got[0]["subscriptionId"].clone(), got[0]["clientState"].clone()), (json!(sub_id), json!("life")));
    // Paused: this change is not delivered.
    create(&emu.api, &hour_event("Unseen", 9)).await;
    assert_eq!(emu.api.post(&format!("/v1.0/subscriptions/{sub_id}/reauthorize"), &json!({})).await.0, 204);
    create(&emu.api, &hour_event("Seen", 10)).await;
    let got = wait_items(&receiver, 1).await;
    assert_eq!(got.len(), 1, "only the change after reauthorization: {got:?}");

    fire("missed").await;
    fire("subscriptionRemoved").await;
    let got = wait_items(&lifecycle, 3).await;
    let events: Vec<Value> = got.iter().map(|n| n["lifecycleEvent"].clone()).collect();
    assert_eq!(events, vec![json!("reauthorizationRequired"), json!("missed"), json!("subscriptionRemoved")]);
    assert_graph_error(&emu.api.get(&format!("/v1.0/subscriptions/{sub_id}")).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn expired_dropped_and_filtered_subscriptions_deliver_nothing() {
    let emu = GraphEmu::start_with(quick()).await;
    let receiver = Receiver::start().await;
    let expired = subscribe(&emu, &subscription(&receiver, "me/events", "expired")).await;
    let dropped = subscribe(&emu, &subscription(&receiver, "me/events", "dropped")).await;
    let mut deletes_only = subscription(&receiver, "me/events", "deletes");
    deletes_only["changeType"] = json!("deleted");
    subscribe(&emu, &deletes_only).await;
    let (_, _, work) = emu.api.post("/v1.0/me/calendars", &json!({"name": "Work"})).await;
    let work_only =
        subscribe(&emu, &subscription(&receiver, &format!("me/calendars/{}/events", id(&work)), "work")).await;
    assert_eq!(work_only["resource"], json!(format!("me/calendars/{}/events", id(&work))));
    subscribe(&emu, &subscription(&receiver, "me/events", "barrier")).await;

    assert_eq!(emu.control.post("/_emulator/subscriptions/expire", &json!({"id": expired["id"]})).await.0, 200);
    assert_eq!(emu.control.post("/_emulator/subscriptions/drop", &json!({"id": dropped["id"]})).await.0, 200);
    let home = create(&emu.api, &hour_event("Home", 9)).await;
    assert_eq!(emu.api.delete(&event_path(&id(&home))).await.0, 204);
    // The barrier subscription gets both changes; by then every other queued item was handled.
    let states = |all: &[Notification]| -> Vec<String> {
        items(all)
            .iter()
            .map(|n| format!("{}:{}", n["clientState"].as_str().unwrap_or(""), n["changeType"].as_str().unwrap_or("")))
            .collect()
    };
    let all = receiver
        .wait_until("the barrier's two notifications", |all| {
            states(all).iter().filter(|s| s.starts_with("barrier:")).count() == 2
        })
        .await;
    let mut seen = states(&all);
    seen.sort();
    assert_eq!(seen, vec!["barrier:created", "barrier:deleted", "deletes:deleted"]);
    let (_, _, list) = emu.api.get("/v1.0/subscriptions").await;
    assert_eq!(values(&list).len(), 3, "expired and dropped ones are gone: {list}");
}
