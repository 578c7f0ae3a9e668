//! Safety brakes and the trash, as a user lives them against the Google emulator: someone
//! wipes most of a Google calendar; calsync pauses the link and asks instead of following
//! along; reject restores everything in Google, confirm applies it; whatever was deleted
//! can be brought back from the trash, here and in Google. On SQLite and on PostgreSQL.

#[macro_use]
mod support;

use calsync_emulators::google::{DEFAULT_USER, GoogleEmulator};
use calsync_store::testing::TestDb;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use support::TestApp;
use support::google::{Linked, eventually, google_events};

on_both_databases_db!(a_mass_deletion_in_google_pauses_the_link_reject_restores_it_and_confirm_applies_it);
on_both_databases_db!(a_deleted_event_comes_back_from_the_trash_here_and_in_google);
on_both_databases_db!(a_mass_deletion_in_the_app_is_held_back_from_google_until_confirmed);

async fn delete_in_google(google: &GoogleEmulator, id: &str) {
    let url = format!("{}/_emulator/users/{DEFAULT_USER}/calendars/primary/events/{id}", google.base_url());
    let reply = reqwest::Client::new().delete(url).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(reply.status().is_success(), "{}", reply.status());
}

async fn local_count(app: &TestApp, token: &str, calendar: &str) -> usize {
    let feed = app
        .get(&format!("/api/v1/calendars/{calendar}/events?start=2026-06-01T00:00:00Z&end=2026-07-01T00:00:00Z"), token)
        .await;
    feed.json["events"].as_array().map_or(0, Vec::len)
}

/// A linked calendar with `n` events made in the app, all in Google.
async fn linked_with_events(db: TestDb, n: usize) -> (GoogleEmulator, TestApp, String, String, String) {
    let Linked { google, app, token, calendar, link } = Linked::new(db, false, Duration::from_secs(3600)).await;
    for i in 0..n {
        app.create_event(
            &token,
            json!({"calendar_id": calendar, "title": format!("Meeting {i}"),
                   "start": {"date_time": format!("2026-06-{:02}T09:00:00", 1 + i % 28), "time_zone": "Europe/Berlin"},
                   "end": {"date_time": format!("2026-06-{:02}T10:00:00", 1 + i % 28), "time_zone": "Europe/Berlin"}}),
        )
        .await;
    }
    eventually("every event reached Google", || async { google_events(&google).await.len() == n }).await;
    (google, app, token, calendar, link)
}

async fn status(app: &TestApp, token: &str, link: &str) -> Value {
    app.get(&format!("/api/v1/links/{link}/status"), token).await.json
}

/// Deletes `n` events in Google ("in the web UI").
async fn wipe(google: &GoogleEmulator, n: usize) {
    for e in google_events(google).await.iter().take(n) {
        delete_in_google(google, e["id"].as_str().unwrap_or_default()).await;
    }
}

async fn sync_now(app: &TestApp, token: &str, link: &str) {
    let reply = app.send_json(Method::POST, &format!("/api/v1/links/{link}/sync"), token, &Value::Null).await;
    assert_eq!(reply.status, 202, "{}", reply.json);
}

async fn a_mass_deletion_in_google_pauses_the_link_reject_restores_it_and_confirm_applies_it(db: TestDb) {
    let (google, app, token, calendar, link) = linked_with_events(db, 25).await;
    let mut stream = app.stream(&token, "/api/v1/changes/stream", None).await;
    // Someone deletes 22 of the 25 events in Google (the link allows 20 at once).
    wipe(&google, 22).await;
    eventually("the brake pauses the link", || async {
        sync_now(&app, &token, &link).await;
        status(&app, &token, &link).await["state"] == "paused"
    })
    .await;
    let paused = status(&app, &token, &link).await;
    assert!(paused["brake"].as_str().is_some_and(|b| b.contains("deleted 22 of the 25")), "{paused}");
    assert_eq!(paused["brake_kind"], "pull", "{paused}");
    assert_eq!(local_count(&app, &token, &calendar).await, 25, "nothing deleted here while the user is asked");
    // An app streaming changes hears of it at once, to show a badge.
    let notice = loop {
        let event = stream.next().await.unwrap_or_else(|| panic!("the stream ended"));
        if event.event.as_deref() == Some("sync") {
            break serde_json::from_str::<Value>(&event.data).unwrap_or_else(|e| panic!("{e}"));
        }
    };
    assert_eq!(notice["paused_links"][0]["link_id"], link.as_str(), "{notice}");
    assert!(notice["paused_links"][0]["reason"].as_str().is_some_and(|r| r.contains("safety brake")), "{notice}");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap_or_else(|e| panic!("{e}")).text().await;
    assert!(metrics.unwrap_or_default().contains("calsync_sync_brakes_total 1"));
    let links = app.get("/api/v1/links", &token).await;
    assert!(links.json["links"][0]["brake"].is_string(), "{}", links.json);

    // Reject: Google gets them back.
    let reply = app.send_json(Method::POST, &format!("/api/v1/links/{link}/reject"), &token, &Value::Null).await;
    assert_eq!(reply.status, 202, "{}", reply.json);
    eventually("the deleted events are restored in Google", || async { google_events(&google).await.len() == 25 })
        .await;
    eventually("and the link runs again", || async {
        let s = status(&app, &token, &link).await;
        s["state"] == "active" && s["brake"].is_null() && s["outbox_depth"] == 0
    })
    .await;
    assert_eq!(local_count(&app, &token, &calendar).await, 25);
    let again = app.send_json(Method::POST, &format!("/api/v1/links/{link}/confirm"), &token, &Value::Null).await;
    again.assert_status_problem(409);

    // It happens again, and this time the user confirms.
    wipe(&google, 22).await;
    eventually("the brake pauses the link again", || async {
        sync_now(&app, &token, &link).await;
        status(&app, &token, &link).await["state"] == "paused"
    })
    .await;
    let reply = app.send_json(Method::POST, &format!("/api/v1/links/{link}/confirm"), &token, &Value::Null).await;
    assert_eq!(reply.status, 202, "{}", reply.json);
    eventually("the deletions are applied here", || async { local_count(&app, &token, &calendar).await == 3 }).await;
    assert_eq!(google_events(&google).await.len(), 3);
    eventually("the link is active", || async { status(&app, &token, &link).await["state"] == "active" }).await;

    // A higher limit lets a bigger cleanup through without asking.
    let rules = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/links/{link}"),
            &token,
            &json!({"max_deletions": 50, "max_deletion_percent": 100}),
        )
        .await;
    assert_eq!((rules.status, rules.json["max_deletions"].as_i64()), (200, Some(50)), "{}", rules.json);
    let bad = app
        .send_json(Method::PATCH, &format!("/api/v1/links/{link}"), &token, &json!({"max_deletion_percent": 101}))
        .await;
    bad.assert_problem(400, "max_deletion_percent", "range");
}

async fn a_deleted_event_comes_back_from_the_trash_here_and_in_google(db: TestDb) {
    let (google, app, token, calendar, link) = linked_with_events(db, 2).await;
    let remote = google_events(&google).await;
    let gone = remote.iter().find(|e| e["summary"] == "Meeting 0").cloned().unwrap_or_default();
    delete_in_google(&google, gone["id"].as_str().unwrap_or_default()).await;
    eventually("the deletion arrived", || async {
        sync_now(&app, &token, &link).await;
        local_count(&app, &token, &calendar).await == 1
    })
    .await;

    let trash = app.get(&format!("/api/v1/calendars/{calendar}/trash"), &token).await;
    assert_eq!(trash.status, 200, "{}", trash.json);
    assert_eq!(trash.json["retention_days"], 30);
    let deleted = &trash.json["events"][0];
    assert_eq!(
        (deleted["title"].as_str(), deleted["deleted_by"].as_str()),
        (Some("Meeting 0"), Some("google")),
        "{}",
        trash.json
    );
    let id = deleted["id"].as_str().unwrap_or_default().to_owned();

    let restored = app
        .send_json(Method::POST, &format!("/api/v1/calendars/{calendar}/trash/{id}/restore"), &token, &Value::Null)
        .await;
    assert_eq!((restored.status, restored.json["deleted"].as_bool()), (200, Some(false)), "{}", restored.json);
    eventually("it is back in Google", || async {
        google_events(&google).await.iter().filter(|e| e["summary"] == "Meeting 0").count() == 1
    })
    .await;
    assert_eq!(local_count(&app, &token, &calendar).await, 2);
    let twice = app
        .send_json(Method::POST, &format!("/api/v1/calendars/{calendar}/trash/{id}/restore"), &token, &Value::Null)
        .await;
    twice.assert_status_problem(404);
    assert_eq!(app.get(&format!("/api/v1/calendars/{calendar}/trash"), &token).await.json["events"], json!([]));
}

async fn a_mass_deletion_in_the_app_is_held_back_from_google_until_confirmed(db: TestDb) {
    let (google, app, token, calendar, link) = linked_with_events(db, 25).await;
    // Every deletion asks: how the 22 are split between the runs that judge them depends on
    // timing, and a remainder under the usual limits (5 of 25) would go through unasked.
    let strict =
        app.send_json(Method::PATCH, &format!("/api/v1/links/{link}"), &token, &json!({"max_deletions": 0})).await;
    assert_eq!(strict.status, 200, "{}", strict.json);
    // Google is down for a while; meanwhile the app (a bug, a slip of the hand) deletes 22
    // of the 25 events, so the outbox holds them all when Google is back.
    let delete_22_while_google_is_down = || async {
        let faults = format!("{}/_emulator/faults", google.base_url());
        let rule = json!({"status": 503, "method": "DELETE", "path": "/events", "count": 100_000});
        let added = reqwest::Client::new().post(&faults).json(&rule).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(added.status(), 204);
        let feed = app
            .get(
                &format!("/api/v1/calendars/{calendar}/events?start=2026-06-01T00:00:00Z&end=2026-07-01T00:00:00Z"),
                &token,
            )
            .await;
        let ids: Vec<String> = feed.json["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["id"].as_str().map(str::to_owned))
            .collect();
        for id in ids.iter().take(22) {
            let reply = app.send(app.request(Method::DELETE, &format!("/api/v1/events/{id}"), &token)).await;
            assert_eq!(reply.status, 204, "{}", reply.json);
        }
        reqwest::Client::new().delete(&faults).send().await.unwrap_or_else(|e| panic!("{e}"));
    };
    delete_22_while_google_is_down().await;
    eventually("the brake pauses the link", || async {
        sync_now(&app, &token, &link).await;
        status(&app, &token, &link).await["state"] == "paused"
    })
    .await;
    let paused = status(&app, &token, &link).await;
    assert!(paused["brake"].as_str().is_some_and(|b| b.contains("outbox would delete")), "{paused}");
    assert_eq!(paused["brake_kind"], "push", "{paused}");
    assert_eq!(google_events(&google).await.len(), 25, "nothing deleted in Google while the user is asked");

    // Reject: the deletions are taken back here; Google never lost anything. An answer
    // covers what the user was shown; deletions that came after ask again.
    answer_every_brake(&app, &token, &link, "reject").await;
    assert_eq!(local_count(&app, &token, &calendar).await, 25);
    assert_eq!(google_events(&google).await.len(), 25);

    // Again, and this time the user confirms: Google follows.
    delete_22_while_google_is_down().await;
    eventually("the brake pauses the link again", || async {
        sync_now(&app, &token, &link).await;
        status(&app, &token, &link).await["state"] == "paused"
    })
    .await;
    answer_every_brake(&app, &token, &link, "confirm").await;
    eventually("Google follows the confirmed deletions", || async { google_events(&google).await.len() == 3 }).await;
    assert_eq!(local_count(&app, &token, &calendar).await, 3);
}

/// Answers the link's brakes with `decision` until it runs again with nothing left to send.
async fn answer_every_brake(app: &TestApp, token: &str, link: &str, decision: &str) {
    eventually(&format!("the link runs again after {decision}"), || async {
        let s = status(app, token, link).await;
        if s["state"] == "paused" {
            let path = format!("/api/v1/links/{link}/{decision}");
            let reply = app.send_json(Method::POST, &path, token, &Value::Null).await;
            assert!(matches!(reply.status, 202 | 409), "{}", reply.json);
        }
        s["state"] == "active" && s["outbox_depth"] == 0 && s["brake"].is_null()
    })
    .await;
}
