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
    OutlookLinked, control, create_in_outlook, delete_in_outlook, outlook_events, outlook_titles, patch_in_outlook,
    requests, sent_mail, subscriptions,
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
    let subscription = subscriptions(&s.graph).await.into_iter().next().unwrap_or_default();
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
    let control_chars = json!({"value": [{"subscriptionId": "a\u{0}b", "clientState": secret}]});
    assert_eq!(post(control_chars).await, 400, "an id no subscription has is refused before any lookup");
    let flood = json!({"value": vec![json!({"subscriptionId": "x", "clientState": "y"}); 101]});
    assert_eq!(post(flood).await, 400, "a batch is bounded");
    // Longer than the debounce: a pull prompted by any of them would have run by now.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json;
    assert_eq!(after["last_pull_at"], before["last_pull_at"], "nothing made the link pull");
    let metrics = s.app.client.get(s.app.url("/metrics")).send().await.unwrap_or_else(|e| panic!("{e}")).text().await;
    let metrics = metrics.unwrap_or_default();
    for outcome in ["bad_token", "unknown_channel"] {
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

/// Waits until the link has pulled and pushed everything (no outbox, its last run did
/// not fail).
async fn settled(s: &OutlookLinked) {
    eventually("the link settled", || async {
        let st = s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json;
        st["state"] == "active" && st["outbox_depth"] == 0 && st["failures"] == 0 && st["last_pull_at"].is_string()
    })
    .await;
}

async fn a_create_whose_answer_was_lost_makes_one_outlook_event(db: TestDb) {
    let s = OutlookLinked::new(db, false, Duration::from_millis(200)).await;
    settled(&s).await;
    // Graph commits the create, and calsync hears a 500. Either the next pull finds the
    // event under our id (its transactionId) and pairs it, or the retried create carries the
    // same transactionId and Graph answers with the first event: never two.
    control(&s.graph, "faults", &json!({"status": 500, "method": "POST", "path": "/events", "after_commit": true}))
        .await;
    s.app.create_event(&s.token, meeting(&s.calendar, "Planned in the app")).await;
    eventually("the event reached Outlook", || async { outlook_titles(&s.graph).await == ["Planned in the app"] })
        .await;
    settled(&s).await;
    assert_eq!(outlook_titles(&s.graph).await, ["Planned in the app"], "one event, not two");
    let lost = requests(&s.graph).await.iter().any(|r| r["method"] == "POST" && r["status"] == 500);
    assert!(lost, "the create's answer was lost");
}
on_both_databases_db!(a_create_whose_answer_was_lost_makes_one_outlook_event);

async fn an_expired_delta_token_resyncs_without_duplicates_or_losses(db: TestDb) {
    let s = OutlookLinked::new(db, false, Duration::from_millis(200)).await;
    s.app.create_event(&s.token, meeting(&s.calendar, "Planned in the app")).await;
    let doomed = create_in_outlook(&s.graph, "Booked in Outlook").await;
    eventually("both sides have both", || async {
        local_titles(&s.app, &s.token, &s.calendar).await == ["Booked in Outlook", "Planned in the app"]
            && outlook_titles(&s.graph).await.len() == 2
    })
    .await;
    // Graph forgets every delta token; meanwhile one event is deleted and one is added.
    control(&s.graph, "delta-tokens/expire", &json!({})).await;
    delete_in_outlook(&s.graph, doomed["id"].as_str().unwrap_or_default()).await;
    create_in_outlook(&s.graph, "Added during the outage").await;
    eventually("the resync brought the addition and the deletion", || async {
        local_titles(&s.app, &s.token, &s.calendar).await == ["Added during the outage", "Planned in the app"]
    })
    .await;
    settled(&s).await;
    assert_eq!(outlook_titles(&s.graph).await, ["Added during the outage", "Planned in the app"], "nothing twice");
    let relisted = requests(&s.graph).await.iter().filter(|r| r["status"] == 410).count();
    assert_eq!(relisted, 1, "the dead token was met once, then the link listed afresh");
}
on_both_databases_db!(an_expired_delta_token_resyncs_without_duplicates_or_losses);

async fn a_throttling_storm_converges(db: TestDb) {
    let s = OutlookLinked::new(db, false, Duration::from_millis(200)).await;
    settled(&s).await;
    // calsync's reads and writes are throttled for a while, Graph asking for a 1 s pause.
    control(
        &s.graph,
        "faults",
        &json!({"status": 429, "method": "GET", "path": "delta", "count": 2, "retry_after": 1}),
    )
    .await;
    control(
        &s.graph,
        "faults",
        &json!({"status": 429, "method": "POST", "path": "/events", "count": 2, "retry_after": 1}),
    )
    .await;
    for title in ["One", "Two", "Three"] {
        s.app.create_event(&s.token, meeting(&s.calendar, title)).await;
    }
    create_in_outlook_unthrottled(&s).await;
    eventually("everything arrived on both sides, once", || async {
        outlook_titles(&s.graph).await == ["Booked in Outlook", "One", "Three", "Two"]
            && local_titles(&s.app, &s.token, &s.calendar).await == ["Booked in Outlook", "One", "Three", "Two"]
    })
    .await;
    let throttled = requests(&s.graph).await.iter().filter(|r| r["status"] == 429).count();
    assert_eq!(throttled, 4, "the storm happened, and calsync waited it out");
}
on_both_databases_db!(a_throttling_storm_converges);

/// Creates an event "in Outlook" through the control API, which faults never touch.
async fn create_in_outlook_unthrottled(s: &OutlookLinked) {
    let body = json!({"subject": "Booked in Outlook",
        "start": {"dateTime": "2026-06-01T10:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-06-01T11:00:00", "timeZone": "W. Europe Standard Time"}});
    control(&s.graph, &format!("users/{}/events", calsync_emulators::graph::DEFAULT_USER), &body).await;
}

async fn lifecycle_notifications_replace_the_subscription_and_catch_up(db: TestDb) {
    let s = OutlookLinked::new(db, true, Duration::from_secs(3600)).await;
    let first = loop {
        if let Some(sub) = subscriptions(&s.graph).await.into_iter().next() {
            break sub["id"].as_str().unwrap_or_default().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Graph removed the subscription: calsync makes a new one, and Outlook edits flow by push again.
    control(&s.graph, &format!("subscriptions/{first}/lifecycle"), &json!({"event": "subscriptionRemoved"})).await;
    eventually("a new subscription replaced the removed one", || async {
        let subs = subscriptions(&s.graph).await;
        subs.len() == 1 && subs[0]["id"] != first.as_str()
    })
    .await;
    create_in_outlook(&s.graph, "Booked after the removal").await;
    eventually("the edit arrived by push through the new subscription", || async {
        local_titles(&s.app, &s.token, &s.calendar).await == ["Booked after the removal"]
    })
    .await;

    // Notifications were missed: calsync pulls.
    let second = subscriptions(&s.graph).await[0]["id"].as_str().unwrap_or_default().to_owned();
    let before = s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json["last_pull_at"].clone();
    control(&s.graph, &format!("subscriptions/{second}/lifecycle"), &json!({"event": "missed"})).await;
    eventually("the missed notice brought a pull", || async {
        s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json["last_pull_at"] != before
    })
    .await;

    // Reauthorization required: calsync replaces the subscription with a fresh one.
    control(&s.graph, &format!("subscriptions/{second}/lifecycle"), &json!({"event": "reauthorizationRequired"})).await;
    eventually("the subscription was renewed", || async {
        let subs = subscriptions(&s.graph).await;
        subs.len() == 1 && subs[0]["id"] != second.as_str() && subs[0]["paused"] != true
    })
    .await;
}
on_both_databases_db!(lifecycle_notifications_replace_the_subscription_and_catch_up);

async fn a_revoked_grant_needs_reauth_and_reconnecting_pushes_what_waited(db: TestDb) {
    let s = OutlookLinked::new(db, false, Duration::from_millis(200)).await;
    settled(&s).await;
    control(&s.graph, "grants/revoke", &json!({"user": calsync_emulators::graph::DEFAULT_USER})).await;
    control(&s.graph, "access-tokens/expire", &json!({})).await;
    s.app.create_event(&s.token, meeting(&s.calendar, "Written while disconnected")).await;
    eventually("the account needs the user", || async {
        let accounts = s.app.get("/api/v1/accounts", &s.token).await.json;
        accounts["accounts"][0]["state"] == "needs_reauth"
    })
    .await;
    assert!(outlook_titles(&s.graph).await.is_empty());
    let account = support::graph::connect(&s.app, &s.token).await;
    assert_eq!(account, s.account, "reconnecting keeps the account");
    eventually("the queued change reached Outlook", || async {
        outlook_titles(&s.graph).await == ["Written while disconnected"]
    })
    .await;
}
on_both_databases_db!(a_revoked_grant_needs_reauth_and_reconnecting_pushes_what_waited);

async fn a_rotated_refresh_token_is_stored_sealed(db: TestDb) {
    let s = OutlookLinked::new(db, false, Duration::from_millis(200)).await;
    settled(&s).await;
    let store = s.app.db.open().await;
    let user_accounts = |store: std::sync::Arc<dyn calsync_store::SyncStore>| async move {
        let users = store.list_users().await.unwrap_or_else(|e| panic!("{e}"));
        let mut secrets = Vec::new();
        for u in users {
            secrets.extend(
                store.list_accounts(u.id).await.unwrap_or_else(|e| panic!("{e}")).into_iter().map(|a| a.secret),
            );
        }
        secrets
    };
    let before = user_accounts(store.clone()).await;
    // The access token dies: the next call refreshes, and Microsoft hands out a new refresh token.
    control(&s.graph, "access-tokens/expire", &json!({})).await;
    s.app.create_event(&s.token, meeting(&s.calendar, "After the refresh")).await;
    eventually("the event went out with a refreshed token", || async {
        outlook_titles(&s.graph).await == ["After the refresh"]
    })
    .await;
    eventually("the rotated refresh token was stored", || async { user_accounts(store.clone()).await != before }).await;
}
on_both_databases_db!(a_rotated_refresh_token_is_stored_sealed);

async fn our_own_writes_do_not_echo(db: TestDb) {
    let s = OutlookLinked::new(db, true, Duration::from_secs(3600)).await;
    eventually("the link opened a subscription", || async { !subscriptions(&s.graph).await.is_empty() }).await;
    let made = s.app.create_event(&s.token, meeting(&s.calendar, "Planned in the app")).await;
    eventually("the event reached Outlook", || async { outlook_titles(&s.graph).await == ["Planned in the app"] })
        .await;
    // Graph notifies calsync of its own create; the pull sees it and changes nothing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let id = made["id"].as_str().unwrap_or_default();
    let now = s.app.get(&format!("/api/v1/events/{id}"), &s.token).await.json;
    assert_eq!(now["version"], made["version"], "no new version from our own write coming back: {now}");
    let writes = requests(&s.graph)
        .await
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/v1.0/")))
        .filter(|r| r["method"] == "PATCH" || r["method"] == "POST")
        .count();
    assert_eq!(writes, 2, "one subscription and one create, nothing written back");
}
on_both_databases_db!(our_own_writes_do_not_echo);

/// The attendees' emails of the local event titled `title`, sorted.
async fn local_attendees(s: &OutlookLinked, title: &str) -> Vec<String> {
    let event = local_event(s, title).await.unwrap_or_default();
    let mut emails: Vec<String> = event["attendees"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["email"].as_str().map(str::to_owned))
        .collect();
    emails.sort();
    emails
}

async fn a_meeting_reaches_outlook_without_mailing_its_attendees(db: TestDb) {
    let s = OutlookLinked::new(db, true, Duration::from_secs(3600)).await;
    let mut body = meeting(&s.calendar, "Design review");
    body["attendees"] = json!([{"email": "bob@example.com", "name": "Bob"}, {"email": "cleo@example.com"}]);
    let made = s.app.create_event(&s.token, body.clone()).await;
    eventually("the meeting reached Outlook", || async { outlook_titles(&s.graph).await == ["Design review"] }).await;
    let remote = outlook_events(&s.graph).await[0].clone();
    assert_eq!(remote["attendees"], json!([]), "an appointment in Outlook, not a meeting Outlook would mail about");

    // Edited in Outlook: the edit arrives and the app keeps its attendees.
    let remote_id = remote["id"].as_str().unwrap_or_default();
    patch_in_outlook(&s.graph, remote_id, &json!({"subject": "Design review (Room 2)"})).await;
    eventually("the Outlook edit arrived", || async {
        local_titles(&s.app, &s.token, &s.calendar).await == ["Design review (Room 2)"]
    })
    .await;
    assert_eq!(local_attendees(&s, "Design review (Room 2)").await, ["bob@example.com", "cleo@example.com"]);

    // A guest added in the app, then a new title: Outlook gets the title, nobody gets mail.
    let id = made["id"].as_str().unwrap_or_default();
    body["title"] = json!("Design review (Room 2)");
    body["attendees"] = json!([{"email": "bob@example.com", "name": "Bob"}, {"email": "cleo@example.com"}, {"email": "dan@example.com"}]);
    assert_eq!(s.app.send_json(Method::PUT, &format!("/api/v1/events/{id}"), &s.token, &body).await.status, 200);
    body["title"] = json!("Design review (final)");
    assert_eq!(s.app.send_json(Method::PUT, &format!("/api/v1/events/{id}"), &s.token, &body).await.status, 200);
    eventually("the new title reached Outlook", || async {
        outlook_titles(&s.graph).await == ["Design review (final)"]
    })
    .await;
    settled(&s).await;
    assert_eq!(
        local_attendees(&s, "Design review (final)").await,
        ["bob@example.com", "cleo@example.com", "dan@example.com"],
        "nothing read back from Outlook removed a guest"
    );
    assert_eq!(sent_mail(&s.graph).await, Vec::<Value>::new(), "Outlook mailed nobody");

    // A meeting made in Outlook brings its attendees along.
    let cal = support::graph::default_calendar(&s.graph).await;
    let booked = json!({"subject": "Vendor call", "attendees": [{"emailAddress": {"address": "eve@example.com"}}],
        "start": {"dateTime": "2026-06-03T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-06-03T11:00:00", "timeZone": "UTC"}});
    control(&s.graph, &format!("users/{}/calendars/{cal}/events", calsync_emulators::graph::DEFAULT_USER), &booked)
        .await;
    eventually("the Outlook meeting arrived", || async { local_event(&s, "Vendor call").await.is_some() }).await;
    assert_eq!(local_attendees(&s, "Vendor call").await, ["eve@example.com"]);
}
on_both_databases_db!(a_meeting_reaches_outlook_without_mailing_its_attendees);

async fn the_same_field_changed_in_both_places_asks_the_user(db: TestDb) {
    // Polled rarely: both edits happen before calsync looks.
    let s = OutlookLinked::new(db, false, Duration::from_secs(3600)).await;
    let made = s.app.create_event(&s.token, meeting(&s.calendar, "Budget review")).await;
    s.app.send_json(Method::POST, &format!("/api/v1/links/{}/sync", s.link), &s.token, &json!({})).await;
    eventually("the event reached Outlook", || async { outlook_titles(&s.graph).await == ["Budget review"] }).await;
    settled(&s).await;
    let id = made["id"].as_str().unwrap_or_default();
    let remote = outlook_events(&s.graph).await[0]["id"].as_str().unwrap_or_default().to_owned();
    patch_in_outlook(&s.graph, &remote, &json!({"subject": "Budget review (Outlook)"})).await;
    let body = meeting(&s.calendar, "Budget review (app)");
    assert_eq!(s.app.send_json(Method::PUT, &format!("/api/v1/events/{id}"), &s.token, &body).await.status, 200);
    s.app.send_json(Method::POST, &format!("/api/v1/links/{}/sync", s.link), &s.token, &json!({})).await;
    eventually("the conflict was recorded", || async {
        s.app.get("/api/v1/conflicts?state=open", &s.token).await.json["conflicts"][0].is_object()
    })
    .await;
    let conflict = s.app.get("/api/v1/conflicts?state=open", &s.token).await.json["conflicts"][0].clone();
    assert_eq!(outlook_titles(&s.graph).await, ["Budget review (Outlook)"], "nothing overwritten while asking");
    assert_eq!(feed_sync_state(&s, id).await, "conflict", "the calendar shows which event waits for the user");
    let cid = conflict["id"].as_str().unwrap_or_default();
    let resolved = s
        .app
        .send_json(
            Method::POST,
            &format!("/api/v1/conflicts/{cid}/resolve"),
            &s.token,
            &json!({"choice": "keep_local", "revision": conflict["revision"]}),
        )
        .await;
    assert_eq!(resolved.status, 200, "{}", resolved.json);
    s.app.send_json(Method::POST, &format!("/api/v1/links/{}/sync", s.link), &s.token, &json!({})).await;
    eventually("the app's version won in Outlook", || async {
        outlook_titles(&s.graph).await == ["Budget review (app)"]
    })
    .await;
    assert_eq!(local_titles(&s.app, &s.token, &s.calendar).await, ["Budget review (app)"]);
    eventually("the event shows as synced", || async { feed_sync_state(&s, id).await == "synced" }).await;
}
on_both_databases_db!(the_same_field_changed_in_both_places_asks_the_user);

/// `extendedProps.sync` of the event `id` in the FullCalendar feed.
async fn feed_sync_state(s: &OutlookLinked, id: &str) -> String {
    let feed = s
        .app
        .get(&format!("/api/v1/calendars/{}/fullcalendar?start=2026-05-01&end=2026-07-01", s.calendar), &s.token)
        .await;
    let event = feed.json.as_array().into_iter().flatten().find(|e| e["extendedProps"]["event_id"] == id);
    event.and_then(|e| e["extendedProps"]["sync"].as_str()).unwrap_or_default().to_owned()
}

async fn what_lies_outside_the_window_is_kept_through_a_resync(db: TestDb) {
    let s = OutlookLinked::new(db, false, Duration::from_millis(200)).await;
    // Graph's delta sees a year back and two ahead; this meeting was long before that.
    let old = json!({"calendar_id": s.calendar, "title": "Kick-off in 2023",
        "start": {"date_time": "2023-03-01T09:00:00", "time_zone": "Europe/Berlin"},
        "end": {"date_time": "2023-03-01T10:00:00", "time_zone": "Europe/Berlin"}});
    let made = s.app.create_event(&s.token, old).await;
    s.app.create_event(&s.token, meeting(&s.calendar, "Planned in the app")).await;
    eventually("both reached Outlook", || async { outlook_titles(&s.graph).await.len() == 2 }).await;
    settled(&s).await;

    // A full listing (the token expired) does not list the 2023 meeting: it is out of
    // sight, not deleted, on both sides.
    control(&s.graph, "delta-tokens/expire", &json!({})).await;
    create_in_outlook(&s.graph, "Booked in Outlook").await;
    eventually("the resync ran", || async {
        local_titles(&s.app, &s.token, &s.calendar).await == ["Booked in Outlook", "Planned in the app"]
    })
    .await;
    settled(&s).await;
    let id = made["id"].as_str().unwrap_or_default();
    let kept = s.app.get(&format!("/api/v1/events/{id}"), &s.token).await;
    assert_eq!((kept.status, kept.json["title"].as_str()), (200, Some("Kick-off in 2023")), "{}", kept.json);
    assert_eq!(outlook_titles(&s.graph).await, ["Booked in Outlook", "Kick-off in 2023", "Planned in the app"]);

    // Moved out of the window in Outlook: Graph's delta calls it removed; it is not.
    let booked = outlook_events(&s.graph).await.into_iter().find(|e| e["subject"] == "Booked in Outlook");
    let booked = booked.unwrap_or_default()["id"].as_str().unwrap_or_default().to_owned();
    patch_in_outlook(
        &s.graph,
        &booked,
        &json!({"start": {"dateTime": "2023-05-02T10:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2023-05-02T11:00:00", "timeZone": "UTC"}}),
    )
    .await;
    eventually("the move arrived as a move", || async {
        let feed = s
            .app
            .get(
                &format!("/api/v1/calendars/{}/events?start=2023-05-01T00:00:00Z&end=2023-06-01T00:00:00Z", s.calendar),
                &s.token,
            )
            .await;
        feed.json["events"].as_array().is_some_and(|e| e.len() == 1 && e[0]["title"] == "Booked in Outlook")
    })
    .await;
}
on_both_databases_db!(what_lies_outside_the_window_is_kept_through_a_resync);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_outlook_cannot_hold_is_parked_with_the_reason_and_the_rest_flows() {
    let s = OutlookLinked::new(TestDb::sqlite(), false, Duration::from_millis(200)).await;
    // The first and the last weekday of each month: Graph's patterns have no BYSETPOS lists.
    let mut series = meeting(&s.calendar, "Month bookends");
    series["recurrence"] = json!(["RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,-1;COUNT=6"]);
    let made = s.app.create_event(&s.token, series).await;
    assert!(made["id"].is_string(), "{made}");
    s.app.create_event(&s.token, meeting(&s.calendar, "Plain meeting")).await;
    eventually("the plain meeting went out and the series was parked", || async {
        let st = s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json;
        outlook_titles(&s.graph).await == ["Plain meeting"] && st["parked"] == 1
    })
    .await;
    let st = s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json;
    assert_eq!(st["parked_events"][0]["event_id"], made["id"], "{st}");
    let why = st["parked_events"][0]["error"].as_str().unwrap_or_default();
    assert!(why.contains("BYSETPOS"), "the reason names the rule: {why}");
    let local = s.app.get(&format!("/api/v1/events/{}", made["id"].as_str().unwrap_or_default()), &s.token).await;
    assert_eq!(
        local.json["recurrence"],
        json!(["RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,-1;COUNT=6"]),
        "unchanged here"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_outlook_event_carrying_our_id_does_not_steal_the_pairing() {
    let s = OutlookLinked::new(TestDb::sqlite(), false, Duration::from_millis(200)).await;
    let made = s.app.create_event(&s.token, meeting(&s.calendar, "Planned in the app")).await;
    eventually("the event reached Outlook", || async { outlook_titles(&s.graph).await == ["Planned in the app"] })
        .await;
    settled(&s).await;
    // Graph forgets transaction ids after a while (undocumented); a create replayed after
    // that makes a second event with our id on it.
    let forget = reqwest::Client::new()
        .patch(format!("{}/_emulator/settings", s.graph.base_url()))
        .json(&json!({"transaction_id_window_secs": 1}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(forget.status().is_success());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let id = made["id"].as_str().unwrap_or_default().to_owned();
    let cal = support::graph::default_calendar(&s.graph).await;
    let copy = reqwest::Client::new()
        .post(format!("{}me/calendars/{cal}/events", s.graph.api_root()))
        .bearer_auth(s.graph.access_token(calsync_emulators::graph::DEFAULT_USER))
        .json(&json!({"subject": "A copy", "transactionId": id,
            "start": {"dateTime": "2026-06-02T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-06-02T10:00:00", "timeZone": "Europe/Berlin"}}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(copy.status(), 201);
    // Through a delta and through a full listing, the app's event keeps its own pairing.
    control(&s.graph, "delta-tokens/expire", &json!({})).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    settled(&s).await;
    let now = s.app.get(&format!("/api/v1/events/{id}"), &s.token).await.json;
    assert_eq!(now["title"], "Planned in the app", "{now}");
    assert_eq!(now["version"], made["version"], "{now}");
    let mut titles = outlook_titles(&s.graph).await;
    titles.sort();
    assert_eq!(titles, ["A copy", "Planned in the app"], "the copy is left alone, the original untouched");
    let open = s.app.get("/api/v1/conflicts?state=open", &s.token).await.json;
    assert_eq!(open["conflicts"], json!([]), "the copy is not taken for the app's event");
    let st = s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json;
    assert_eq!(st["linked_events"], 1, "{st}");
}
