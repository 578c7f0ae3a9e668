//! Google sync through the API: the emulator, a user's account connected the way a
//! browser does it, and what tests read on both sides.

use super::{PATIENCE, TestApp};
use calsync_emulators::google::{Config, DEFAULT_USER, GoogleEmulator};
use calsync_engine::Schedule;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// A schedule for tests: poll often when there is no push, back off briefly.
pub fn quick(poll: Duration) -> Schedule {
    Schedule {
        poll_with_push: Duration::from_secs(3600),
        poll_without_push: poll,
        backoff_base: Duration::from_millis(100),
        backoff_cap: Duration::from_secs(1),
    }
}

pub async fn emulator() -> GoogleEmulator {
    GoogleEmulator::start(Config {
        auto_approve: true,
        notification_retry_delay: Duration::from_millis(50),
        ..Config::default()
    })
    .await
    .unwrap_or_else(|e| panic!("emulator: {e}"))
}

/// Connects the user's Google account the way a browser would, and links `calendar` to the
/// primary Google calendar. Returns the link id.
pub async fn connect_and_link(app: &TestApp, token: &str, calendar: &str) -> String {
    app.connect_account(token, "google").await;

    let accounts = app.get("/api/v1/accounts", token).await;
    let account = &accounts.json["accounts"][0];
    assert_eq!((account["remote_user"].as_str(), account["state"].as_str()), (Some(DEFAULT_USER), Some("active")));
    let account_id = account["id"].as_str().unwrap_or_default().to_owned();
    let remote = app.get(&format!("/api/v1/accounts/{account_id}/calendars"), token).await;
    assert_eq!(remote.json["calendars"][0]["id"], DEFAULT_USER, "{}", remote.json);
    let link = app
        .send_json(
            Method::POST,
            "/api/v1/links",
            token,
            &json!({"account_id": account_id, "calendar_id": calendar, "remote_calendar_id": DEFAULT_USER}),
        )
        .await;
    assert_eq!(link.status, 201, "{}", link.json);
    link.json["id"].as_str().unwrap_or_default().to_owned()
}

/// Polls until `check` holds (or fails after PATIENCE with `what`).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gave up waiting: {what}");
}

pub async fn local_titles(app: &TestApp, token: &str, calendar: &str) -> Vec<String> {
    let feed = app
        .get(&format!("/api/v1/calendars/{calendar}/events?start=2026-05-01T00:00:00Z&end=2026-07-01T00:00:00Z"), token)
        .await;
    let mut titles: Vec<String> = feed.json["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["title"].as_str().map(str::to_owned))
        .collect();
    titles.sort();
    titles
}

/// The live events of the user's primary Google calendar, as Google's API lists them.
pub async fn google_events(google: &GoogleEmulator) -> Vec<Value> {
    let list: Value = reqwest::Client::new()
        .get(format!("{}calendars/primary/events?maxResults=2500", google.api_root()))
        .bearer_auth(google.access_token(DEFAULT_USER))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Their titles, sorted.
pub async fn google_titles(google: &GoogleEmulator) -> Vec<String> {
    let mut titles: Vec<String> =
        google_events(google).await.iter().filter_map(|e| e["summary"].as_str().map(str::to_owned)).collect();
    titles.sort();
    titles
}

pub async fn edit_in_google(google: &GoogleEmulator, summary: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{}/_emulator/users/{DEFAULT_USER}/calendars/primary/events", google.base_url()))
        .json(&json!({"summary": summary,
            "start": {"dateTime": "2026-06-01T10:00:00+02:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-06-01T11:00:00+02:00", "timeZone": "Europe/Berlin"}}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn meeting(calendar: &str, title: &str) -> Value {
    json!({"calendar_id": calendar, "title": title,
           "start": {"date_time": "2026-06-02T09:00:00", "time_zone": "Europe/Berlin"},
           "end": {"date_time": "2026-06-02T10:00:00", "time_zone": "Europe/Berlin"}})
}

/// The scene of most Google tests: the emulator, a server syncing with it (workers on a
/// quick schedule polling every `poll`; with `push`, notified by channels), and the user
/// "ada" whose calendar "Work" is linked to her primary Google calendar through the API.
pub struct Linked {
    pub google: GoogleEmulator,
    pub app: TestApp,
    pub token: String,
    pub calendar: String,
    pub link: String,
}

impl Linked {
    pub async fn new(db: calsync_store::testing::TestDb, push: bool, poll: Duration) -> Self {
        Self::with_rules(db, push, poll, calsync_store::LinkSettings::default()).await
    }

    /// As [`Linked::new`], with configured rules for new links.
    pub async fn with_rules(
        db: calsync_store::testing::TestDb,
        push: bool,
        poll: Duration,
        rules: calsync_store::LinkSettings,
    ) -> Self {
        let google = emulator().await;
        let app = TestApp::with_google_rules(db, google.base_url(), push, quick(poll), rules).await;
        let token = app.user("ada").await;
        let calendar = app.calendar(&token, "Work").await;
        let link = connect_and_link(&app, &token, &calendar).await;
        Self { google, app, token, calendar, link }
    }
}
