//! Outlook sync through the API: the Graph emulator, a user's Microsoft account connected
//! the way a browser does it, and what tests read and write on the Outlook side (through
//! Graph's own API, as the user's other apps would).

use super::TestApp;
use calsync_emulators::graph::{Config, DEFAULT_USER, GraphEmulator};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

pub async fn emulator() -> GraphEmulator {
    GraphEmulator::start(Config {
        auto_approve: true,
        notification_retry_delay: Duration::from_millis(50),
        ..Config::default()
    })
    .await
    .unwrap_or_else(|e| panic!("graph emulator: {e}"))
}

/// Connects the user's Microsoft account the way a browser would and returns its id.
pub async fn connect(app: &TestApp, token: &str) -> String {
    app.connect_account(token, "microsoft").await;
    let accounts = app.get("/api/v1/accounts", token).await;
    let account = accounts.json["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["provider"] == "microsoft")
        .cloned()
        .unwrap_or_else(|| panic!("no Microsoft account in {}", accounts.json));
    assert_eq!((account["remote_user"].as_str(), account["state"].as_str()), (Some(DEFAULT_USER), Some("active")));
    account["id"].as_str().unwrap_or_default().to_owned()
}

/// Links `calendar` to the user's default Outlook calendar; returns the link id.
pub async fn link(app: &TestApp, token: &str, account: &str, calendar: &str, graph: &GraphEmulator) -> String {
    let remote = app.get(&format!("/api/v1/accounts/{account}/calendars"), token).await;
    let default = default_calendar(graph).await;
    assert!(
        remote.json["calendars"].as_array().into_iter().flatten().any(|c| c["id"] == default.as_str()),
        "{}",
        remote.json
    );
    let link = app
        .send_json(
            Method::POST,
            "/api/v1/links",
            token,
            &json!({"account_id": account, "calendar_id": calendar, "remote_calendar_id": default}),
        )
        .await;
    assert_eq!(link.status, 201, "{}", link.json);
    link.json["id"].as_str().unwrap_or_default().to_owned()
}

async fn call(graph: &GraphEmulator, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", graph.api_root()))
        .bearer_auth(graph.access_token(DEFAULT_USER))
        .header("Prefer", "outlook.timezone=\"UTC\"");
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The id of the user's default Outlook calendar.
pub async fn default_calendar(graph: &GraphEmulator) -> String {
    let (status, cal) = call(graph, Method::GET, "me/calendar", None).await;
    assert_eq!(status, 200, "{cal}");
    cal["id"].as_str().unwrap_or_default().to_owned()
}

/// The events of the default calendar as Graph lists them (single instances and series
/// masters; cancelled ones are gone).
pub async fn outlook_events(graph: &GraphEmulator) -> Vec<Value> {
    let cal = default_calendar(graph).await;
    let (status, list) = call(graph, Method::GET, &format!("me/calendars/{cal}/events?$top=1000"), None).await;
    assert_eq!(status, 200, "{list}");
    list["value"].as_array().cloned().unwrap_or_default()
}

/// Their subjects, sorted.
pub async fn outlook_titles(graph: &GraphEmulator) -> Vec<String> {
    let mut titles: Vec<String> =
        outlook_events(graph).await.iter().filter_map(|e| e["subject"].as_str().map(str::to_owned)).collect();
    titles.sort();
    titles
}

/// Creates an event in Outlook, as the user's Outlook app would.
pub async fn create_in_outlook(graph: &GraphEmulator, subject: &str) -> Value {
    let cal = default_calendar(graph).await;
    let body = json!({"subject": subject,
        "start": {"dateTime": "2026-06-01T10:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-06-01T11:00:00", "timeZone": "W. Europe Standard Time"}});
    let (status, event) = call(graph, Method::POST, &format!("me/calendars/{cal}/events"), Some(&body)).await;
    assert_eq!(status, 201, "{event}");
    event
}

/// Changes an Outlook event's fields (Graph PATCH semantics).
pub async fn patch_in_outlook(graph: &GraphEmulator, id: &str, patch: &Value) -> Value {
    let (status, event) = call(graph, Method::PATCH, &format!("me/events/{id}"), Some(patch)).await;
    assert_eq!(status, 200, "{event}");
    event
}

pub async fn delete_in_outlook(graph: &GraphEmulator, id: &str) {
    let (status, body) = call(graph, Method::DELETE, &format!("me/events/{id}"), None).await;
    assert_eq!(status, 204, "{body}");
}

/// A series' occurrences and exceptions in `[start, end)`, as Graph lists them.
pub async fn outlook_instances(graph: &GraphEmulator, master: &str, start: &str, end: &str) -> Vec<Value> {
    let (status, list) = call(
        graph,
        Method::GET,
        &format!("me/events/{master}/instances?startDateTime={start}&endDateTime={end}&$top=1000"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    list["value"].as_array().cloned().unwrap_or_default()
}

/// The start instants (UTC, RFC 3339) of a series' occurrences in `[start, end)`.
pub async fn outlook_occurrence_starts(graph: &GraphEmulator, master: &str, start: &str, end: &str) -> Vec<String> {
    let mut starts: Vec<String> = outlook_instances(graph, master, start, end)
        .await
        .iter()
        .filter_map(|o| o["start"]["dateTime"].as_str().map(str::to_owned))
        .filter_map(|s| format!("{}Z", s.trim_end_matches('Z')).parse::<jiff::Timestamp>().ok())
        .map(|t| t.to_string())
        .collect();
    starts.sort();
    starts
}

/// The scene of most Outlook tests: the Graph emulator, a server syncing with it (polling
/// every `poll`; with `push`, notified by subscriptions), and the user "ada" whose
/// calendar "Work" is linked to her default Outlook calendar through the API.
pub struct OutlookLinked {
    pub graph: GraphEmulator,
    pub app: TestApp,
    pub token: String,
    pub calendar: String,
    pub account: String,
    pub link: String,
}

impl OutlookLinked {
    pub async fn new(db: calsync_store::testing::TestDb, push: bool, poll: Duration) -> Self {
        let graph = emulator().await;
        let sync = super::Syncing {
            graph: Some(graph.base_url().to_owned()),
            push,
            schedule: super::google::quick(poll),
            ..super::Syncing::default()
        };
        let app = TestApp::syncing(db, sync).await;
        let token = app.user("ada").await;
        let calendar = app.calendar(&token, "Work").await;
        let account = connect(&app, &token).await;
        let link = link(&app, &token, &account, &calendar, &graph).await;
        Self { graph, app, token, calendar, account, link }
    }
}

/// The emulator's live subscriptions (Graph's subscription JSON, with `clientState`).
pub async fn subscriptions(graph: &GraphEmulator) -> Vec<Value> {
    control_list(graph, "subscriptions", "subscriptions").await
}

/// The list under `key` of what the emulator's control API shows at `path`.
async fn control_list(graph: &GraphEmulator, path: &str, key: &str) -> Vec<Value> {
    let shown: Value = reqwest::get(format!("{}/_emulator/{path}", graph.base_url()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    shown[key].as_array().cloned().unwrap_or_default()
}

/// Calls the emulator's control API; panics unless it answers 2xx.
pub async fn control(graph: &GraphEmulator, path: &str, body: &Value) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{}/_emulator/{path}", graph.base_url()))
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// The mail Outlook sent from the user's mailbox (invitations, updates, cancellations).
pub async fn sent_mail(graph: &GraphEmulator) -> Vec<Value> {
    control_list(graph, &format!("users/{DEFAULT_USER}/mail"), "mail").await
}

/// The requests the emulator served (`method`, `path`, `status`, …), oldest first.
pub async fn requests(graph: &GraphEmulator) -> Vec<Value> {
    control_list(graph, "requests", "requests").await
}
