//! One local calendar linked to a Google calendar and an Outlook calendar (hub and spokes,
//! DESIGN.md §2): whatever happens in one place happens in the other two, once.

#[macro_use]
mod support;

use calsync_emulators::google::{DEFAULT_USER as GOOGLE_USER, GoogleEmulator};
use calsync_store::testing::TestDb;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use support::google::{eventually, google_events, google_titles, local_titles};
use support::graph::{outlook_events, outlook_occurrence_starts, outlook_titles, patch_in_outlook};
use support::{Syncing, TestApp};

struct ThreeWay {
    google: GoogleEmulator,
    graph: calsync_emulators::graph::GraphEmulator,
    app: TestApp,
    token: String,
    calendar: String,
}

impl ThreeWay {
    async fn new(db: TestDb) -> Self {
        let google = support::google::emulator().await;
        let graph = support::graph::emulator().await;
        let sync = Syncing {
            google: Some(google.base_url().to_owned()),
            graph: Some(graph.base_url().to_owned()),
            push: true,
            schedule: support::google::quick(Duration::from_secs(3600)),
            ..Syncing::default()
        };
        let app = TestApp::syncing(db, sync).await;
        let token = app.user("ada").await;
        let calendar = app.calendar(&token, "Family").await;
        support::google::connect_and_link(&app, &token, &calendar).await;
        let account = support::graph::connect(&app, &token).await;
        support::graph::link(&app, &token, &account, &calendar, &graph).await;
        let s = Self { google, graph, app, token, calendar };
        eventually("both links imported and subscribed", || async {
            let links = s.app.get("/api/v1/links", &s.token).await;
            let all = links.json["links"].as_array().cloned().unwrap_or_default();
            all.len() == 2 && all.iter().all(|l| l["state"] == "active")
        })
        .await;
        s
    }

    /// Calls Google's own API as the user's phone would (`path` under the primary calendar).
    async fn google_api(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}calendars/primary/{path}", self.google.api_root()))
            .bearer_auth(self.google.access_token(GOOGLE_USER));
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn create_in_google(&self, event: &Value) -> Value {
        self.google_api(Method::POST, "events", Some(event)).await
    }

    /// The start instants (UTC, RFC 3339) of a Google series' occurrences in `[start, end)`.
    async fn google_occurrence_starts(&self, id: &str, start: &str, end: &str) -> Vec<String> {
        let path = format!("events/{id}/instances?timeMin={start}&timeMax={end}&maxResults=2500");
        let list = self.google_api(Method::GET, &path, None).await;
        let mut starts: Vec<String> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["start"]["dateTime"].as_str()?.parse::<jiff::Timestamp>().ok())
            .map(|t| t.to_string())
            .collect();
        starts.sort();
        starts
    }
}

async fn an_event_travels_google_to_outlook_and_back_and_a_local_delete_clears_both(db: TestDb) {
    let s = ThreeWay::new(db).await;
    s.create_in_google(&json!({"summary": "Dentist",
        "start": {"dateTime": "2026-06-03T08:30:00+02:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-06-03T09:15:00+02:00", "timeZone": "Europe/Berlin"}}))
        .await;
    eventually("the Google event reached the app and Outlook, once each", || async {
        local_titles(&s.app, &s.token, &s.calendar).await == ["Dentist"]
            && outlook_titles(&s.graph).await == ["Dentist"]
    })
    .await;
    let outlook = outlook_events(&s.graph).await;
    assert_eq!(
        outlook[0]["start"]["dateTime"].as_str().map(|t| &t[..19]),
        Some("2026-06-03T06:30:00"),
        "{}",
        outlook[0]
    );

    let id = outlook[0]["id"].as_str().unwrap_or_default().to_owned();
    patch_in_outlook(&s.graph, &id, &json!({"subject": "Dentist (moved room)"})).await;
    eventually("the Outlook edit reached Google through the hub", || async {
        google_titles(&s.google).await == ["Dentist (moved room)"]
    })
    .await;
    assert_eq!(outlook_titles(&s.graph).await, ["Dentist (moved room)"], "Outlook has its one event");

    let local = s
        .app
        .get(
            &format!("/api/v1/calendars/{}/events?start=2026-06-01T00:00:00Z&end=2026-07-01T00:00:00Z", s.calendar),
            &s.token,
        )
        .await;
    let local_id = local.json["events"][0]["id"].as_str().unwrap_or_default().to_owned();
    let deleted = s.app.request(Method::DELETE, &format!("/api/v1/events/{local_id}"), &s.token).send().await;
    assert_eq!(deleted.map(|r| r.status().as_u16()).unwrap_or(0), 204);
    eventually("the local deletion cleared Google and Outlook", || async {
        google_titles(&s.google).await.is_empty() && outlook_titles(&s.graph).await.is_empty()
    })
    .await;
}
on_both_databases_db!(an_event_travels_google_to_outlook_and_back_and_a_local_delete_clears_both);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_series_made_in_google_has_the_same_occurrences_in_outlook_across_dst() {
    let s = ThreeWay::new(TestDb::sqlite()).await;
    // Monday 09:00 in Berlin, every week for a year: Berlin's clocks change on 29 March and
    // 25 October 2026, so the UTC start moves by an hour twice.
    let series = s
        .create_in_google(&json!({"summary": "Standup",
            "start": {"dateTime": "2026-01-05T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-01-05T09:15:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20261231T235959Z"]}))
        .await;
    let google_id = series["id"].as_str().unwrap_or_default().to_owned();
    eventually("the series reached Outlook as one series", || async {
        outlook_events(&s.graph)
            .await
            .iter()
            .filter(|e| e["type"] == "seriesMaster" && e["subject"] == "Standup")
            .count()
            == 1
    })
    .await;
    let master = outlook_events(&s.graph).await.into_iter().find(|e| e["type"] == "seriesMaster").unwrap_or_default();
    let master_id = master["id"].as_str().unwrap_or_default();
    let (from, to) = ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
    let in_google = s.google_occurrence_starts(&google_id, from, to).await;
    let in_outlook = outlook_occurrence_starts(&s.graph, master_id, from, to).await;
    assert_eq!(in_google.len(), 52, "{in_google:?}");
    assert!(
        in_google.contains(&"2026-03-23T08:00:00Z".to_owned())
            && in_google.contains(&"2026-03-30T07:00:00Z".to_owned())
    );
    assert_eq!(in_outlook, in_google, "Outlook's occurrences are Google's, DST included");
    assert_eq!(google_events(&s.google).await.len(), 1, "nothing came back to Google as a second series");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_occurrence_edited_in_google_and_in_outlook_becomes_one_question_not_a_stall() {
    let s = ThreeWay::new(TestDb::sqlite()).await;
    let series = s
        .create_in_google(&json!({"summary": "Standup",
            "start": {"dateTime": "2026-06-01T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-06-01T09:15:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=8"]}))
        .await;
    let google_id = series["id"].as_str().unwrap_or_default().to_owned();
    eventually("the series reached Outlook", || async {
        outlook_events(&s.graph).await.iter().any(|e| e["type"] == "seriesMaster")
    })
    .await;
    let master = outlook_events(&s.graph).await.into_iter().find(|e| e["type"] == "seriesMaster").unwrap_or_default();
    let master_id = master["id"].as_str().unwrap_or_default().to_owned();

    // The 8 June standup is renamed in both places before calsync looks.
    let instance = format!("{google_id}_20260608T070000Z");
    let renamed =
        s.google_api(Method::PATCH, &format!("events/{instance}"), Some(&json!({"summary": "Standup (Google)"}))).await;
    assert_eq!(renamed["summary"], "Standup (Google)", "{renamed}");
    let occurrences =
        support::graph::outlook_instances(&s.graph, &master_id, "2026-06-08T00:00:00Z", "2026-06-09T00:00:00Z").await;
    let occurrence = occurrences[0]["id"].as_str().unwrap_or_default().to_owned();
    patch_in_outlook(&s.graph, &occurrence, &json!({"subject": "Standup (Outlook)"})).await;

    // calsync asks once which name wins, and both links keep running.
    eventually("one conflict about the occurrence", || async {
        let open = s.app.get("/api/v1/conflicts?state=open", &s.token).await.json;
        open["conflicts"].as_array().is_some_and(|c| c.len() == 1)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let links = s.app.get("/api/v1/links", &s.token).await.json;
    for l in links["links"].as_array().into_iter().flatten() {
        let id = l["id"].as_str().unwrap_or_default();
        let st = s.app.get(&format!("/api/v1/links/{id}/status"), &s.token).await.json;
        assert_eq!(st["failures"], 0, "no link is stuck: {st}");
    }
    let feed = s
        .app
        .get(
            &format!("/api/v1/calendars/{}/events?start=2026-06-08T00:00:00Z&end=2026-06-09T00:00:00Z", s.calendar),
            &s.token,
        )
        .await;
    let exceptions = feed.json["events"].as_array().into_iter().flatten().filter(|e| e["original_start"].is_object());
    assert_eq!(exceptions.count(), 1, "one exception for the occurrence, not two: {}", feed.json);
}
