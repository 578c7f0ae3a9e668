//! Google sync through the API, as a user lives it: connect an account, link a calendar,
//! and watch events flow both ways — by push notification and by polling alone.

mod support;

use calsync_store::testing::TestDb;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use support::PATIENCE;
use support::google::{Linked, edit_in_google, eventually, google_titles, local_titles, meeting};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_push_a_google_edit_arrives_by_notification_and_a_local_edit_reaches_google() {
    // Polling is slow here, so only a notification can bring the change in time.
    let Linked { google, app, token, calendar, link } =
        Linked::new(TestDb::sqlite(), true, Duration::from_secs(3600)).await;
    eventually("the link imported and opened a channel", || async {
        let status = app.get(&format!("/api/v1/links/{link}/status"), &token).await;
        status.json["state"] == "active" && status.json["channel_expires_at"].is_string()
    })
    .await;

    app.create_event(&token, meeting(&calendar, "Planned in the app")).await;
    eventually("the local event reached Google", || async { google_titles(&google).await == ["Planned in the app"] })
        .await;

    edit_in_google(&google, "Booked in Google").await;
    eventually("the Google event arrived by push", || async {
        local_titles(&app, &token, &calendar).await == ["Booked in Google", "Planned in the app"]
    })
    .await;
    // Counters move when the link job finishes, just after its writes are visible.
    eventually("the metrics count the notification, the pull and the push", || async {
        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap_or_else(|e| panic!("{e}")).text().await;
        let metrics = metrics.unwrap_or_default();
        metrics.contains("calsync_webhook_notifications_total{outcome=\"accepted\"}")
            && metrics.contains("calsync_sync_pushed_writes_total 1")
            && metrics.contains("calsync_sync_pulled_changes_total 1")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_push_polling_alone_brings_google_edits() {
    let Linked { google, app, token, calendar, link } =
        Linked::new(TestDb::sqlite(), false, Duration::from_millis(200)).await;
    edit_in_google(&google, "Booked in Google").await;
    eventually("the Google event arrived by polling", || async {
        local_titles(&app, &token, &calendar).await == ["Booked in Google"]
    })
    .await;
    let status = app.get(&format!("/api/v1/links/{link}/status"), &token).await;
    assert_eq!(status.json["channel_expires_at"], Value::Null, "a polled link has no channel: {}", status.json);
    let channels: Value = reqwest::get(format!("{}/_emulator/channels", google.base_url()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(channels["channels"], json!([]), "no public URL, so no channel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_unknown_notifications_are_refused_and_change_nothing() {
    let Linked { google, app, token, link, .. } = Linked::new(TestDb::sqlite(), true, Duration::from_secs(3600)).await;
    let channel: Value = {
        let mut found = Value::Null;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while found.is_null() && tokio::time::Instant::now() < deadline {
            let list: Value = reqwest::get(format!("{}/_emulator/channels", google.base_url()))
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .json()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            found = list["channels"][0].clone();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        found
    };
    let id = channel["id"].as_str().unwrap_or_else(|| panic!("no channel was opened"));
    let notify = |headers: Vec<(&'static str, String)>| {
        let mut r = app.client.post(app.url("/webhooks/google"));
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.send()
    };
    let forged = notify(vec![
        ("X-Goog-Channel-ID", id.to_owned()),
        ("X-Goog-Channel-Token", "guessed".into()),
        ("X-Goog-Resource-State", "exists".into()),
        ("X-Goog-Message-Number", "99".into()),
    ])
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(forged.status(), 403);
    let unknown = notify(vec![
        ("X-Goog-Channel-ID", "not-a-channel".into()),
        ("X-Goog-Channel-Token", "x".into()),
        ("X-Goog-Resource-State", "exists".into()),
        ("X-Goog-Message-Number", "1".into()),
    ])
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(unknown.status(), 404);
    let malformed = notify(vec![("X-Goog-Channel-ID", id.to_owned())]).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(malformed.status(), 400);
    // The sync message (number 1) was already delivered: a replay of it is ignored.
    let status_before = app.get(&format!("/api/v1/links/{link}/status"), &token).await.json;
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap_or_else(|e| panic!("{e}")).text().await;
    let metrics = metrics.unwrap_or_default();
    for outcome in ["bad_token", "unknown_channel", "malformed"] {
        assert!(
            metrics.contains(&format!("calsync_webhook_notifications_total{{outcome=\"{outcome}\"}} 1")),
            "{outcome}: {metrics}"
        );
    }
    assert_eq!(
        app.get(&format!("/api/v1/links/{link}/status"), &token).await.json["failures"],
        status_before["failures"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_stops_channels_revokes_the_grant_and_removes_only_imported_events_when_asked() {
    let Linked { google, app, token, calendar, .. } =
        Linked::new(TestDb::sqlite(), true, Duration::from_millis(200)).await;
    app.create_event(&token, meeting(&calendar, "Planned in the app")).await;
    edit_in_google(&google, "Booked in Google").await;
    eventually("both events are on both sides", || async {
        local_titles(&app, &token, &calendar).await == ["Booked in Google", "Planned in the app"]
            && google_titles(&google).await == ["Booked in Google", "Planned in the app"]
    })
    .await;

    let accounts = app.get("/api/v1/accounts", &token).await;
    let account = accounts.json["accounts"][0]["id"].as_str().unwrap_or_default().to_owned();
    let bye =
        app.send(app.request(Method::DELETE, &format!("/api/v1/accounts/{account}?remove_events=true"), &token)).await;
    assert_eq!(bye.status, 200, "{}", bye.json);
    assert_eq!(bye.json["removed_events"], 1);
    // Only what came from Google left the hub; Google itself keeps everything.
    assert_eq!(local_titles(&app, &token, &calendar).await, ["Planned in the app"]);
    assert_eq!(google_titles(&google).await, ["Booked in Google", "Planned in the app"]);
    let state = app.get("/api/v1/accounts", &token).await.json["accounts"][0]["state"].clone();
    assert_eq!(state, "disconnected");
    let calendars = app.get(&format!("/api/v1/accounts/{account}/calendars"), &token).await;
    assert_eq!(calendars.status, 409, "no credentials to ask Google with: {}", calendars.json);
    assert!(calendars.json["detail"].as_str().is_some_and(|d| d.contains("connect it again")), "{}", calendars.json);
    assert_eq!(app.get("/api/v1/links", &token).await.json["links"], json!([]));
    let channels: Value = reqwest::get(format!("{}/_emulator/channels", google.base_url()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(channels["channels"], json!([]), "the channel was stopped");
    let snapshot: Value = reqwest::get(format!("{}/_emulator/snapshot", google.base_url()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let grants: Vec<&Value> = snapshot["refresh_tokens"].as_object().into_iter().flat_map(|m| m.values()).collect();
    assert!(!grants.is_empty() && grants.iter().all(|g| g["revoked"] == true), "the grant was revoked: {grants:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_notifications_causes_one_pull() {
    let Linked { google, app, token, calendar, link } =
        Linked::new(TestDb::sqlite(), true, Duration::from_secs(3600)).await;
    eventually("the link imported and opened a channel", || async {
        app.get(&format!("/api/v1/links/{link}/status"), &token).await.json["state"] == "active"
    })
    .await;
    let control = reqwest::Client::new();
    control.delete(format!("{}/_emulator/requests", google.base_url())).send().await.unwrap_or_else(|e| panic!("{e}"));

    // A bulk edit in Google: ten events, ten notifications within a few milliseconds.
    for i in 0..10 {
        edit_in_google(&google, &format!("Bulk {i}")).await;
    }
    eventually("all ten arrived", || async { local_titles(&app, &token, &calendar).await.len() == 10 }).await;
    let log: Value = control
        .get(format!("{}/_emulator/requests", google.base_url()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let lists = log["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["method"] == "GET" && r["path"].as_str().is_some_and(|p| p.ends_with("/events")))
        .count();
    // One pull for the burst; a notification that lands while it runs earns one more.
    assert!((1..=2).contains(&lists), "{lists} list calls for one burst: {log}");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap_or_else(|e| panic!("{e}")).text().await;
    assert!(
        metrics.unwrap_or_default().contains("calsync_webhook_notifications_total{outcome=\"accepted\"} 10"),
        "every notification was accepted"
    );
}
