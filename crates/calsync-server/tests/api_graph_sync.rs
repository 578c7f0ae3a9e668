//! Outlook (Microsoft Graph) sync through the API, as a user lives it: connect a Microsoft
//! account, link a calendar, and watch events flow both ways — by subscription
//! notification and by polling alone.

#[macro_use]
mod support;

use calsync_store::testing::TestDb;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use support::google::{eventually, local_titles, meeting};
use support::graph::{
    OutlookLinked, create_in_outlook, delete_in_outlook, outlook_events, outlook_titles, patch_in_outlook,
};

/// The local event titled `title`, as the API shows it.
async fn local_event(s: &OutlookLinked, title: &str) -> Option<Value> {
    let feed = s
        .app
        .get(
            &format!("/api/v1/calendars/{}/events?start=2026-05-01T00:00:00Z&end=2026-07-01T00:00:00Z", s.calendar),
            &s.token,
        )
        .await;
    feed.json["events"].as_array().into_iter().flatten().find(|e| e["title"] == title).cloned()
}

async fn events_flow_both_ways(s: &OutlookLinked) {
    let (app, token, graph) = (&s.app, &s.token, &s.graph);
    eventually("the link imported", || async {
        app.get(&format!("/api/v1/links/{}/status", s.link), token).await.json["state"] == "active"
    })
    .await;

    // Made in the app: it reaches Outlook once.
    let made = app.create_event(token, meeting(&s.calendar, "Planned in the app")).await;
    eventually("the local event reached Outlook", || async { outlook_titles(graph).await == ["Planned in the app"] })
        .await;
    let id = made["id"].as_str().unwrap_or_default().to_owned();

    // Edited in the app: Outlook follows, still one event.
    let mut body = meeting(&s.calendar, "Moved in the app");
    body["location"] = json!("Room 4");
    let edited = app.send_json(Method::PUT, &format!("/api/v1/events/{id}"), token, &body).await;
    assert_eq!(edited.status, 200, "{}", edited.json);
    eventually("the local edit reached Outlook", || async {
        let events = outlook_events(graph).await;
        events.len() == 1
            && events[0]["subject"] == "Moved in the app"
            && events[0]["location"]["displayName"] == "Room 4"
    })
    .await;

    // Made in Outlook: it arrives here.
    let booked = create_in_outlook(graph, "Booked in Outlook").await;
    eventually("the Outlook event arrived", || async {
        local_titles(app, token, &s.calendar).await == ["Booked in Outlook", "Moved in the app"]
    })
    .await;
    let arrived = local_event(s, "Booked in Outlook").await.unwrap_or_default();
    assert_eq!(
        arrived["start"],
        json!({"date_time": "2026-06-01T10:00:00", "time_zone": "Europe/Berlin"}),
        "{arrived}"
    );

    // Edited in Outlook: the edit arrives, and nothing echoes back as a new version.
    let booked_id = booked["id"].as_str().unwrap_or_default();
    patch_in_outlook(graph, booked_id, &json!({"subject": "Rebooked in Outlook"})).await;
    eventually("the Outlook edit arrived", || async {
        local_titles(app, token, &s.calendar).await == ["Moved in the app", "Rebooked in Outlook"]
    })
    .await;

    // Deleted in Outlook: gone here. Deleted here: gone in Outlook.
    delete_in_outlook(graph, booked_id).await;
    eventually("the Outlook deletion arrived", || async {
        local_titles(app, token, &s.calendar).await == ["Moved in the app"]
    })
    .await;
    let deleted = app.request(Method::DELETE, &format!("/api/v1/events/{id}"), token).send().await;
    assert_eq!(deleted.map(|r| r.status().as_u16()).unwrap_or(0), 204);
    eventually("the local deletion reached Outlook", || async { outlook_titles(graph).await.is_empty() }).await;
}

async fn with_push(db: TestDb) {
    // Polling is slow here, so only notifications can bring Outlook's changes in time.
    let s = OutlookLinked::new(db, true, Duration::from_secs(3600)).await;
    eventually("the link opened a subscription", || async {
        s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json["channel_expires_at"].is_string()
    })
    .await;
    events_flow_both_ways(&s).await;
}
on_both_databases_db!(with_push);

async fn by_polling_alone(db: TestDb) {
    let s = OutlookLinked::new(db, false, Duration::from_millis(200)).await;
    events_flow_both_ways(&s).await;
    let status = s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await;
    assert_eq!(status.json["channel_expires_at"], Value::Null, "a polled link has no subscription: {}", status.json);
}
on_both_databases_db!(by_polling_alone);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_checks_the_notification_url_and_forged_notifications_change_nothing() {
    let s = OutlookLinked::new(TestDb::sqlite(), true, Duration::from_secs(3600)).await;
    let hook = s.app.url("/webhooks/graph");

    // Graph's validation request gets its token back, decoded, as plain text.
    let echo = s.app.client.post(format!("{hook}?validationToken=Validation%3A%20Testing%20client")).send().await;
    let echo = echo.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(echo.status(), 200);
    assert!(echo.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/plain"));
    assert_eq!(echo.text().await.unwrap_or_default(), "Validation: Testing client");

    eventually("the link opened a subscription", || async {
        s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json["channel_expires_at"].is_string()
    })
    .await;
    let subscription = support::graph::subscriptions(&s.graph).await.into_iter().next().unwrap_or_default();
    let (id, secret) = (subscription["id"].clone(), subscription["clientState"].clone());
    assert!(id.is_string() && secret.is_string(), "{subscription}");
    // The pull that follows a new subscription has run by then.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json;

    let post = |body: Value| {
        let hook = hook.clone();
        let client = s.app.client.clone();
        async move { client.post(hook).json(&body).send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };
    let forged = json!({"value": [{"subscriptionId": id, "clientState": "guessed", "changeType": "updated",
        "resource": "me/events/x"}]});
    assert_eq!(post(forged).await, 403, "a wrong clientState is refused");
    let unknown = json!({"value": [{"subscriptionId": "no-such-subscription", "clientState": secret,
        "changeType": "updated", "resource": "me/events/x"}]});
    assert_eq!(post(unknown).await, 404, "an unknown subscription is refused");
    let malformed = s.app.client.post(&hook).body("{not json").send().await.map(|r| r.status().as_u16()).unwrap_or(0);
    assert_eq!(malformed, 400);
    // Longer than the debounce: a pull prompted by any of them would have run by now.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json;
    assert_eq!(after["last_pull_at"], before["last_pull_at"], "nothing made the link pull");
    let metrics = s.app.client.get(s.app.url("/metrics")).send().await.unwrap_or_else(|e| panic!("{e}")).text().await;
    let metrics = metrics.unwrap_or_default();
    for outcome in ["bad_token", "unknown_channel", "malformed"] {
        assert!(
            metrics.contains(&format!("calsync_webhook_notifications_total{{outcome=\"{outcome}\"}} 1")),
            "{outcome}: {metrics}"
        );
    }

    // The genuine article is answered 202 at once and brings a pull.
    let genuine = json!({"value": [{"subscriptionId": id, "clientState": secret,
        "changeType": "created", "resource": "me/events/x"}]});
    assert_eq!(post(genuine).await, 202);
    eventually("the genuine notification brought a pull", || async {
        s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json["last_pull_at"]
            != before["last_pull_at"]
    })
    .await;
}
