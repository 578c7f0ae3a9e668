//! Conflicts as a user lives them, through the API against the Google emulator: the same
//! event changed in the app and in Google between two syncs pauses that event and asks;
//! each decision settles both sides with no duplicate; a newer Google edit updates the
//! question instead of being lost. On SQLite and on PostgreSQL.

#[macro_use]
mod support;

use calsync_emulators::google::DEFAULT_USER;
use calsync_store::testing::TestDb;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use support::google::{Linked, eventually};

on_both_databases_db!(the_same_field_changed_on_both_sides_asks_and_each_choice_settles_both_sides);
on_both_databases_db!(deleted_in_google_and_edited_in_the_app_then_kept_local_comes_back_in_google_once);
on_both_databases_db!(a_newer_google_edit_updates_the_question_and_an_answer_to_the_old_one_is_refused);
on_both_databases_db!(a_local_wins_link_decides_at_once_keeps_the_overwrite_on_record_and_it_can_be_undone);
on_both_databases_db!(a_newest_wins_link_takes_the_later_edit);
on_both_databases_db!(a_link_set_to_pause_on_conflict_stops_until_the_conflict_is_decided);

/// A user with a calendar linked to her Google calendar; links are polled (hourly), so
/// syncs happen when the app writes or the test asks.
type Scene = Linked;

impl Scene {
    async fn polled(db: TestDb) -> Self {
        Linked::new(db, false, Duration::from_secs(3600)).await
    }

    fn event(&self, title: &str) -> Value {
        json!({"calendar_id": self.calendar, "title": title,
               "start": {"date_time": "2026-06-02T09:00:00", "time_zone": "Europe/Berlin"},
               "end": {"date_time": "2026-06-02T10:00:00", "time_zone": "Europe/Berlin"}})
    }

    /// Creates an event in the app; returns its id once Google has it.
    async fn create(&self, title: &str) -> String {
        let id =
            self.app.create_event(&self.token, self.event(title)).await["id"].as_str().unwrap_or_default().to_owned();
        eventually("the new event reached Google", || async { self.google_event_titled(title).await.is_some() }).await;
        id
    }

    /// Replaces the app's event with `body` (PUT).
    async fn edit(&self, id: &str, body: Value) {
        let reply = self.app.send_json(Method::PUT, &format!("/api/v1/events/{id}"), &self.token, &body).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
    }

    async fn google_events(&self) -> Vec<Value> {
        support::google::google_events(&self.google).await
    }

    async fn google_event_titled(&self, title: &str) -> Option<Value> {
        self.google_events().await.into_iter().find(|e| e["summary"] == title)
    }

    async fn google_titles(&self) -> Vec<String> {
        support::google::google_titles(&self.google).await
    }

    async fn local_titles(&self) -> Vec<String> {
        support::google::local_titles(&self.app, &self.token, &self.calendar).await
    }

    /// An edit "in Google's web UI" of the event titled `title`.
    async fn edit_in_google(&self, title: &str, method: Method, patch: Value) {
        let event = self.google_event_titled(title).await.unwrap_or_else(|| panic!("no {title:?} in Google"));
        let id = event["id"].as_str().unwrap_or_default();
        let url = format!("{}/_emulator/users/{DEFAULT_USER}/calendars/primary/events/{id}", self.google.base_url());
        let mut request = reqwest::Client::new().request(method, url);
        if !patch.is_null() {
            request = request.json(&patch);
        }
        let reply = request.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(reply.status().is_success(), "{}", reply.status());
    }

    /// Google refuses every write until `allow_writes`: local edits wait in the outbox
    /// while pulls still run, so edits on both sides meet in one sync.
    async fn hold_writes(&self) {
        for method in ["PUT", "POST", "DELETE", "PATCH"] {
            let reply = reqwest::Client::new()
                .post(format!("{}/_emulator/faults", self.google.base_url()))
                .json(&json!({"status": 503, "method": method, "path": "/events", "count": 100_000}))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(reply.status(), 204);
        }
    }

    async fn allow_writes(&self) {
        let url = format!("{}/_emulator/faults", self.google.base_url());
        reqwest::Client::new().delete(url).send().await.unwrap_or_else(|e| panic!("{e}"));
    }

    async fn sync_now(&self) {
        let reply = self
            .app
            .send_json(Method::POST, &format!("/api/v1/links/{}/sync", self.link), &self.token, &json!(null))
            .await;
        assert_eq!(reply.status, 202, "{}", reply.json);
    }

    async fn open_conflicts(&self) -> Vec<Value> {
        let reply = self.app.get("/api/v1/conflicts", &self.token).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        reply.json["conflicts"].as_array().cloned().unwrap_or_default()
    }

    /// Waits for `n` open conflicts; returns them keyed by the local title.
    async fn wait_for_conflicts(&self, n: usize) -> Vec<Value> {
        eventually(&format!("{n} open conflicts"), || async {
            self.sync_now().await;
            self.open_conflicts().await.len() == n
        })
        .await;
        self.open_conflicts().await
    }

    async fn resolve(&self, conflict: &Value, decision: Value) -> support::Reply {
        let mut body = decision;
        body["revision"] = conflict["revision"].clone();
        let id = conflict["id"].as_str().unwrap_or_default();
        self.app.send_json(Method::POST, &format!("/api/v1/conflicts/{id}/resolve"), &self.token, &body).await
    }

    async fn set_rules(&self, rules: Value) {
        let reply =
            self.app.send_json(Method::PATCH, &format!("/api/v1/links/{}", self.link), &self.token, &rules).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
    }

    /// The app's event and Google's both edited before they meet.
    async fn edit_both(&self, id: &str, title: &str, local: &str, google: &str) {
        self.hold_writes().await;
        self.edit(id, self.event(local)).await;
        self.edit_in_google(title, Method::PATCH, json!({"summary": google})).await;
        self.allow_writes().await;
    }

    async fn outbox_empty(&self) -> bool {
        let status = self.app.get(&format!("/api/v1/links/{}/status", self.link), &self.token).await;
        status.json["outbox_depth"] == 0 && status.json["conflicts"] == 0
    }
}

fn conflict_about<'c>(conflicts: &'c [Value], local_title: &str) -> &'c Value {
    conflicts
        .iter()
        .find(|c| c["local"]["title"] == local_title)
        .unwrap_or_else(|| panic!("no conflict about {local_title:?} in {conflicts:#?}"))
}

async fn the_same_field_changed_on_both_sides_asks_and_each_choice_settles_both_sides(db: TestDb) {
    let s = Scene::polled(db).await;
    let mut ids = Vec::new();
    for name in ["Alpha", "Bravo", "Charlie", "Delta", "Echo"] {
        ids.push(s.create(name).await);
    }

    let mut stream = s.app.stream(&s.token, "/api/v1/changes/stream", None).await;
    s.hold_writes().await;
    for (i, name) in ["Alpha", "Bravo", "Charlie", "Delta"].iter().enumerate() {
        let mut body = s.event(&format!("{name} (app)"));
        if *name == "Charlie" {
            body["location"] = json!("Room 7");
        }
        s.edit(&ids[i], body).await;
        let mut patch = json!({"summary": format!("{name} (Google)")});
        if *name == "Charlie" {
            patch["description"] = json!("Agenda from Google");
        }
        s.edit_in_google(name, Method::PATCH, patch).await;
    }
    // Echo changes only in Google: it must keep flowing while the others wait.
    s.edit_in_google("Echo", Method::PATCH, json!({"summary": "Echo (Google)"})).await;
    s.allow_writes().await;

    let conflicts = s.wait_for_conflicts(4).await;
    // An app streaming changes hears of them at once, to show a badge.
    loop {
        let event = stream.next().await.unwrap_or_else(|| panic!("the stream ended"));
        let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
        if event.event.as_deref() == Some("sync") && data["open_conflicts"] == 4 {
            break;
        }
    }
    let alpha = conflict_about(&conflicts, "Alpha (app)");
    assert_eq!(alpha["state"], "open");
    assert_eq!(alpha["reason"], "both_edited");
    assert_eq!(alpha["fields"], json!(["title"]));
    assert_eq!(alpha["remote"]["title"], "Alpha (Google)");
    let title_row = alpha["diff"].as_array().into_iter().flatten().find(|d| d["field"] == "title").cloned();
    assert_eq!(
        title_row,
        Some(json!({"field": "title", "base": "Alpha", "local": "Alpha (app)", "remote": "Alpha (Google)",
                    "local_changed": true, "remote_changed": true, "clash": true}))
    );
    eventually("Echo's Google edit arrived though others wait", || async {
        s.local_titles().await.contains(&"Echo (Google)".to_owned())
    })
    .await;
    // Paused: neither side was overwritten.
    let google = s.google_titles().await;
    assert!(google.contains(&"Alpha (Google)".to_owned()) && !google.contains(&"Alpha (app)".to_owned()), "{google:?}");
    assert!(s.local_titles().await.contains(&"Alpha (app)".to_owned()));

    let keep_local = s.resolve(alpha, json!({"choice": "keep_local"})).await;
    assert_eq!(keep_local.status, 200, "{}", keep_local.json);
    assert_eq!(
        (keep_local.json["state"].as_str(), keep_local.json["choice"].as_str()),
        (Some("resolved"), Some("keep_local"))
    );
    assert_eq!(keep_local.json["resolved_by"], "ada");
    let again = s.resolve(alpha, json!({"choice": "keep_remote"})).await;
    again.assert_status_problem(409);
    assert_eq!(again.json["current"]["state"], "resolved", "{}", again.json);

    let bravo = s.resolve(conflict_about(&conflicts, "Bravo (app)"), json!({"choice": "keep_remote"})).await;
    assert_eq!(bravo.status, 200, "{}", bravo.json);
    let charlie = s
        .resolve(conflict_about(&conflicts, "Charlie (app)"), json!({"choice": "merge", "fields": {"title": "remote"}}))
        .await;
    assert_eq!(charlie.status, 200, "{}", charlie.json);
    let undo = s
        .app
        .send_json(Method::POST, &format!("/api/v1/conflicts/{}/undo", charlie.id()), &s.token, &Value::Null)
        .await;
    undo.assert_status_problem(409);
    let delta = s.resolve(conflict_about(&conflicts, "Delta (app)"), json!({"choice": "keep_both"})).await;
    assert_eq!(delta.status, 200, "{}", delta.json);

    let expected =
        ["Alpha (app)", "Bravo (Google)", "Charlie (Google)", "Delta (Google)", "Delta (app)", "Echo (Google)"];
    eventually("both sides agree on every decision", || async {
        s.google_titles().await == expected && s.local_titles().await == expected && s.outbox_empty().await
    })
    .await;
    let charlie = s.google_event_titled("Charlie (Google)").await.unwrap_or_default();
    assert_eq!(
        (charlie["location"].as_str(), charlie["description"].as_str()),
        (Some("Room 7"), Some("Agenda from Google")),
        "the merge kept what each side alone changed: {charlie}"
    );
    assert!(s.open_conflicts().await.is_empty());
    let history = s.app.get(&format!("/api/v1/conflicts?event_id={}&state=all", ids[0]), &s.token).await;
    assert_eq!(history.json["conflicts"][0]["choice"], "keep_local", "{}", history.json);
    let history = s.app.get(&format!("/api/v1/events/{}/history", ids[0]), &s.token).await;
    let kinds: Vec<&str> =
        history.json["entries"].as_array().into_iter().flatten().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"change"), "{}", history.json);
    let found = kinds.iter().position(|k| *k == "conflict_found");
    let resolved = kinds.iter().position(|k| *k == "conflict_resolved");
    assert!(found.is_some() && resolved > found, "the conflict, then its decision: {}", history.json);
    let decision = &history.json["entries"][resolved.unwrap_or_default()];
    assert_eq!((decision["choice"].as_str(), decision["by"].as_str()), (Some("keep_local"), Some("ada")));
    // Settled for good: another sync changes nothing and asks nothing.
    s.sync_now().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.google_titles().await, expected);
    assert!(s.open_conflicts().await.is_empty());
}

async fn deleted_in_google_and_edited_in_the_app_then_kept_local_comes_back_in_google_once(db: TestDb) {
    let s = Scene::polled(db).await;
    let id = s.create("Standup").await;
    s.hold_writes().await;
    let mut body = s.event("Standup");
    body["description"] = json!("Agenda: budget");
    s.edit(&id, body).await;
    s.edit_in_google("Standup", Method::DELETE, Value::Null).await;
    s.allow_writes().await;

    let conflicts = s.wait_for_conflicts(1).await;
    assert_eq!(conflicts[0]["reason"], "deleted_remotely");
    assert_eq!(conflicts[0]["remote"], Value::Null);
    assert!(s.google_titles().await.is_empty(), "the deletion stands until the user decides");
    let merge = s.resolve(&conflicts[0], json!({"choice": "keep_both"})).await;
    merge.assert_problem(422, "choice", "needs_both_versions");

    let kept = s.resolve(&conflicts[0], json!({"choice": "keep_local"})).await;
    assert_eq!(kept.status, 200, "{}", kept.json);
    eventually("the event is back in Google", || async { s.google_titles().await == ["Standup"] }).await;
    eventually("and settled", || async { s.outbox_empty().await }).await;
    let back = s.google_event_titled("Standup").await.unwrap_or_default();
    assert_eq!(back["description"], "Agenda: budget");
    assert_eq!(s.local_titles().await, ["Standup"]);
    assert_eq!(s.google_events().await.len(), 1, "re-created once");
}

async fn a_newer_google_edit_updates_the_question_and_an_answer_to_the_old_one_is_refused(db: TestDb) {
    let s = Scene::polled(db).await;
    let id = s.create("Review").await;
    s.hold_writes().await;
    s.edit(&id, s.event("Review (app)")).await;
    s.edit_in_google("Review", Method::PATCH, json!({"summary": "Review (Google)"})).await;
    let first = s.wait_for_conflicts(1).await.remove(0);

    s.edit_in_google("Review (Google)", Method::PATCH, json!({"summary": "Review (Google, later)"})).await;
    eventually("the conflict shows the newer Google version", || async {
        s.sync_now().await;
        s.open_conflicts().await.first().is_some_and(|c| c["remote"]["title"] == "Review (Google, later)")
    })
    .await;
    let updated = s.open_conflicts().await.remove(0);
    assert_ne!(updated["revision"], first["revision"]);
    assert_eq!(updated["id"], first["id"], "the same conflict, not a second one");

    s.allow_writes().await;
    let stale = s.resolve(&first, json!({"choice": "keep_remote"})).await;
    stale.assert_status_problem(409);
    assert_eq!(stale.json["current"]["remote"]["title"], "Review (Google, later)", "{}", stale.json);
    let bad = s.resolve(&first, json!({"choice": "keep_remote", "fields": {"title": "remote"}})).await;
    bad.assert_problem(400, "fields", "not_allowed");

    let current = &stale.json["current"];
    let taken = s.resolve(current, json!({"choice": "keep_remote"})).await;
    assert_eq!(taken.status, 200, "{}", taken.json);
    eventually("the newest Google version is everywhere", || async {
        s.local_titles().await == ["Review (Google, later)"]
            && s.google_titles().await == ["Review (Google, later)"]
            && s.outbox_empty().await
    })
    .await;
}

async fn a_local_wins_link_decides_at_once_keeps_the_overwrite_on_record_and_it_can_be_undone(db: TestDb) {
    let s = Scene::polled(db).await;
    s.set_rules(json!({"policy": "local_wins"})).await;
    let id = s.create("Planning").await;
    s.edit_both(&id, "Planning", "Planning (app)", "Planning (Google)").await;
    eventually("the app's version wins in Google too", || async {
        s.sync_now().await;
        s.google_titles().await == ["Planning (app)"] && s.outbox_empty().await
    })
    .await;
    assert!(s.open_conflicts().await.is_empty(), "nobody was asked");
    let record = s.app.get("/api/v1/conflicts?state=resolved", &s.token).await;
    let record = &record.json["conflicts"][0];
    assert_eq!(
        (record["choice"].as_str(), record["resolved_by"].as_str(), record["remote"]["title"].as_str()),
        (Some("keep_local"), Some("policy:local_wins"), Some("Planning (Google)")),
        "what was overwritten stays on record: {record}"
    );

    let undo = s
        .app
        .send_json(
            Method::POST,
            &format!("/api/v1/conflicts/{}/undo", record["id"].as_str().unwrap_or_default()),
            &s.token,
            &Value::Null,
        )
        .await;
    assert_eq!((undo.status, undo.json["title"].as_str()), (200, Some("Planning (Google)")), "{}", undo.json);
    eventually("the overwritten version is back on both sides", || async {
        s.local_titles().await == ["Planning (Google)"] && s.google_titles().await == ["Planning (Google)"]
    })
    .await;
}

async fn a_newest_wins_link_takes_the_later_edit(db: TestDb) {
    // The operator's config makes newest_wins the rule of new links.
    let rules = calsync_store::LinkSettings {
        policy: calsync_store::ConflictPolicy::NewestWins,
        ..calsync_store::LinkSettings::default()
    };
    let s = Scene::with_rules(db, false, Duration::from_secs(3600), rules).await;
    let links = s.app.get("/api/v1/links", &s.token).await;
    assert_eq!(links.json["links"][0]["policy"], "newest_wins", "{}", links.json);
    let id = s.create("Retro").await;
    // The app edits first; Google's edit comes later and wins.
    s.edit_both(&id, "Retro", "Retro (app, earlier)", "Retro (Google, later)").await;
    eventually("the later edit is everywhere", || async {
        s.sync_now().await;
        s.local_titles().await == ["Retro (Google, later)"] && s.google_titles().await == ["Retro (Google, later)"]
    })
    .await;
    let record = s.app.get("/api/v1/conflicts?state=resolved", &s.token).await;
    assert_eq!(record.json["conflicts"][0]["resolved_by"], "policy:newest_wins", "{}", record.json);
    assert_eq!(record.json["conflicts"][0]["local"]["title"], "Retro (app, earlier)", "the loser is on record");
}

async fn a_link_set_to_pause_on_conflict_stops_until_the_conflict_is_decided(db: TestDb) {
    let s = Scene::polled(db).await;
    s.set_rules(json!({"pause_on_conflict": true})).await;
    let id = s.create("Offsite").await;
    s.create("Lunch").await;
    s.edit_both(&id, "Offsite", "Offsite (app)", "Offsite (Google)").await;
    let conflict = s.wait_for_conflicts(1).await.remove(0);
    // The job records the conflict, then pauses the link.
    eventually("the link pauses", || async {
        s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json["state"] == "paused"
    })
    .await;
    let status = s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json;
    assert!(status["brake"].as_str().is_some_and(|b| b.contains("conflict")), "{status}");
    assert_eq!(status["brake_kind"], "conflict", "not a mass change to confirm or reject: {status}");

    // While paused, nothing flows: a Google edit of another event waits.
    s.edit_in_google("Lunch", Method::PATCH, json!({"summary": "Lunch (moved)"})).await;
    s.sync_now().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(s.local_titles().await.contains(&"Lunch".to_owned()), "the paused link must not pull");

    let decided = s.resolve(&conflict, json!({"choice": "keep_remote"})).await;
    assert_eq!(decided.status, 200, "{}", decided.json);
    eventually("the link resumes and catches up", || async {
        s.local_titles().await == ["Lunch (moved)", "Offsite (Google)"]
    })
    .await;
    let status = s.app.get(&format!("/api/v1/links/{}/status", s.link), &s.token).await.json;
    assert_eq!((status["state"].as_str(), status["brake"].as_str()), (Some("active"), None), "{status}");
}
