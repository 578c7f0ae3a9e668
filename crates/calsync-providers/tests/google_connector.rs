//! The Google connector against the Google emulator: real HTTP, real OAuth refresh.

use calsync_core::sync::Content;
use calsync_core::{CalendarId, EventId, EventInput};
use calsync_emulators::google::{Config, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USER, GoogleEmulator};
use calsync_providers::google::GoogleProvider;
use calsync_providers::oauth::{AccessTokens, OAuthClient};
use calsync_providers::{EventWrite, PageNext, Provider, ProviderError, RemoteState, SeriesRef};
use secrecy::SecretString;
use serde_json::{Value, json};

struct World {
    emulator: GoogleEmulator,
    http: reqwest::Client,
    google: GoogleProvider,
    refresh_token: String,
}

async fn control(
    http: &reqwest::Client,
    emulator: &GoogleEmulator,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let r = http
        .request(method, format!("{}{path}", emulator.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("control {path}: {e}"));
    assert!(r.status().is_success(), "control {path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

fn oauth_client(emulator: &GoogleEmulator) -> OAuthClient {
    let base = emulator.base_url();
    OAuthClient {
        auth_url: format!("{base}/o/oauth2/v2/auth"),
        token_url: format!("{base}/token"),
        revoke_url: Some(format!("{base}/revoke")),
        client_id: DEFAULT_CLIENT_ID.into(),
        client_secret: SecretString::from(DEFAULT_CLIENT_SECRET),
        redirect_uri: "http://127.0.0.1:1/oauth/google/callback".into(),
        scopes: vec!["https://www.googleapis.com/auth/calendar".into()],
    }
}

async fn world() -> World {
    let emulator = GoogleEmulator::start(Config::default()).await.unwrap_or_else(|e| panic!("emulator: {e}"));
    let http = reqwest::Client::new();
    let tokens =
        control(&http, &emulator, reqwest::Method::POST, "/_emulator/tokens", json!({"email": DEFAULT_USER})).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap_or_default().to_owned();
    let access = AccessTokens::new(oauth_client(&emulator), SecretString::from(refresh_token.clone()));
    let google = GoogleProvider::new(http.clone(), &emulator.api_root(), access);
    World { emulator, http, google, refresh_token }
}

fn event(title: &str) -> EventInput {
    serde_json::from_value(json!({
        "calendar_id": CalendarId::new(),
        "title": title,
        "start": {"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"},
        "end": {"date_time": "2026-05-04T10:00:00", "time_zone": "Europe/Berlin"},
    }))
    .unwrap_or_else(|e| panic!("fixture: {e}"))
}

fn present(state: &RemoteState) -> &EventInput {
    match state {
        RemoteState::Present(input) => input,
        RemoteState::Deleted => panic!("expected the event to be present"),
    }
}

/// Every page of a listing; returns the events and the new cursor.
async fn list_all(
    google: &GoogleProvider,
    cursor: Option<&str>,
) -> Result<(Vec<calsync_providers::RemoteEvent>, String), ProviderError> {
    let mut out = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let p = google.list("primary", cursor, page.as_deref()).await?;
        out.extend(p.events);
        match p.next {
            PageNext::More(t) => page = Some(t),
            PageNext::Done(c) => return Ok((out, c)),
        }
    }
}

#[tokio::test]
async fn an_event_created_twice_exists_once_and_updates_are_conditional() {
    let w = world().await;
    let id = EventId::new();
    let ours = event("Planning");
    let write = EventWrite { local_id: id, input: &ours, series: None };
    let created = w.google.create("primary", &write).await.unwrap_or_else(|e| panic!("create: {e}"));
    assert_eq!(created.local_id, Some(id));
    assert_eq!(Content::of(present(&created.state)), Content::of(&ours));

    // A replay after a crash: the derived id is taken, the connector says so.
    assert_eq!(w.google.create("primary", &write).await, Err(ProviderError::Duplicate));
    let (all, _) = list_all(&w.google, None).await.unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(all.len(), 1);

    let mut renamed = ours.clone();
    renamed.title = "Planning (moved)".into();
    let rewrite = EventWrite { local_id: id, input: &renamed, series: None };
    let stale = Some("\"1\"");
    assert_eq!(w.google.update("primary", &created.id, stale, &rewrite).await, Err(ProviderError::PreconditionFailed));
    let updated = w
        .google
        .update("primary", &created.id, created.etag.as_deref(), &rewrite)
        .await
        .unwrap_or_else(|e| panic!("update: {e}"));
    assert_eq!(present(&updated.state).title, "Planning (moved)");

    w.google.delete("primary", &created.id, updated.etag.as_deref()).await.unwrap_or_else(|e| panic!("delete: {e}"));
    // Already gone is success.
    w.google.delete("primary", &created.id, None).await.unwrap_or_else(|e| panic!("second delete: {e}"));
    let gone = w.google.get("primary", &created.id).await.unwrap_or_else(|e| panic!("get: {e}"));
    assert!(matches!(gone.map(|g| g.state), Some(RemoteState::Deleted)));

    let log = control(&w.http, &w.emulator, reqwest::Method::GET, "/_emulator/requests", Value::Null).await;
    let writes: Vec<&Value> = log["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            matches!(r["method"].as_str(), Some("POST" | "PUT" | "PATCH" | "DELETE"))
                && r["path"].as_str().is_some_and(|p| p.contains("/events"))
        })
        .collect();
    assert!(!writes.is_empty());
    assert!(writes.iter().all(|r| r["send_updates"] == "none"), "every write must say sendUpdates=none: {writes:?}");
}

#[tokio::test]
async fn a_delta_brings_remote_edits_and_deletions_and_a_dead_cursor_says_so() {
    let w = world().await;
    let a =
        w.google.create("primary", &EventWrite { local_id: EventId::new(), input: &event("A"), series: None }).await;
    let b =
        w.google.create("primary", &EventWrite { local_id: EventId::new(), input: &event("B"), series: None }).await;
    let (a, b) = (a.unwrap_or_else(|e| panic!("{e}")), b.unwrap_or_else(|e| panic!("{e}")));
    let (full, cursor) = list_all(&w.google, None).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(full.len(), 2);

    let user = DEFAULT_USER;
    control(
        &w.http,
        &w.emulator,
        reqwest::Method::PATCH,
        &format!("/_emulator/users/{user}/calendars/primary/events/{}", a.id),
        json!({"summary": "A, edited in Google"}),
    )
    .await;
    let r = w
        .http
        .delete(format!("{}/_emulator/users/{user}/calendars/primary/events/{}", w.emulator.base_url(), b.id))
        .send()
        .await;
    assert!(r.is_ok_and(|r| r.status().is_success()));

    let (delta, next) = list_all(&w.google, Some(&cursor)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(delta.len(), 2);
    let edited = delta.iter().find(|e| e.id == a.id).unwrap_or_else(|| panic!("no edit in {delta:?}"));
    assert_eq!(present(&edited.state).title, "A, edited in Google");
    let deleted = delta.iter().find(|e| e.id == b.id).unwrap_or_else(|| panic!("no deletion in {delta:?}"));
    assert_eq!(deleted.state, RemoteState::Deleted);

    control(&w.http, &w.emulator, reqwest::Method::POST, "/_emulator/sync-tokens/expire", json!({})).await;
    assert_eq!(w.google.list("primary", Some(&next), None).await.map(|_| ()), Err(ProviderError::CursorExpired));
}

#[tokio::test]
async fn an_exception_is_written_onto_its_occurrence() {
    let w = world().await;
    let mut series = event("Weekly");
    series.recurrence = vec!["RRULE:FREQ=WEEKLY;COUNT=4".into()];
    let master =
        w.google.create("primary", &EventWrite { local_id: EventId::new(), input: &series, series: None }).await;
    let master = master.unwrap_or_else(|e| panic!("{e}"));
    let mut moved = event("Weekly (moved)");
    moved.start.date_time = Some("2026-05-11T11:00:00".into());
    moved.end.date_time = Some("2026-05-11T12:00:00".into());
    let occurrence = SeriesRef {
        series_remote_id: master.id.clone(),
        original_start: calsync_core::EventTimeInput {
            date: None,
            date_time: Some("2026-05-11T09:00:00".into()),
            time_zone: Some("Europe/Berlin".into()),
        },
    };
    let exception = w
        .google
        .create("primary", &EventWrite { local_id: EventId::new(), input: &moved, series: Some(&occurrence) })
        .await;
    let exception = exception.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exception.id, format!("{}_20260511T070000Z", master.id));
    assert_eq!(exception.series, Some(occurrence));
    assert_eq!(present(&exception.state).start.date_time.as_deref(), Some("2026-05-11T11:00:00"));
}

#[tokio::test]
async fn failures_are_classified_for_the_engine() {
    let w = world().await;
    let post = reqwest::Method::POST;
    control(
        &w.http,
        &w.emulator,
        post.clone(),
        "/_emulator/faults",
        json!({"status": 503, "retry_after": 7, "path": "/calendar/v3/"}),
    )
    .await;
    match w.google.list("primary", None, None).await {
        Err(ProviderError::Transient { retry_after, .. }) => {
            assert_eq!(retry_after, Some(std::time::Duration::from_secs(7)))
        }
        other => panic!("503 must be transient, got {other:?}"),
    }
    control(
        &w.http,
        &w.emulator,
        post.clone(),
        "/_emulator/faults",
        json!({"status": 403, "reason": "quotaExceeded", "path": "/calendar/v3/"}),
    )
    .await;
    assert!(w.google.list("primary", None, None).await.is_err_and(|e| e.is_transient()));
    // One 401: the connector refreshes its token and repeats the call.
    control(&w.http, &w.emulator, post.clone(), "/_emulator/faults", json!({"status": 401, "path": "/calendar/v3/"}))
        .await;
    assert!(w.google.list("primary", None, None).await.is_ok());
    // A body Google refuses is permanent for that event.
    let mut bad = event("Backwards");
    bad.end.date_time = Some("2026-05-04T08:00:00".into());
    let refused = w.google.create("primary", &EventWrite { local_id: EventId::new(), input: &bad, series: None }).await;
    assert!(matches!(refused, Err(ProviderError::Permanent { status: 400, .. })), "{refused:?}");
    // A revoked grant: the user must reconnect.
    control(&w.http, &w.emulator, post, "/_emulator/refresh-tokens/revoke", json!({"token": w.refresh_token})).await;
    let google = GoogleProvider::new(
        w.http.clone(),
        &w.emulator.api_root(),
        AccessTokens::new(oauth_client(&w.emulator), SecretString::from(w.refresh_token.clone())),
    );
    assert!(matches!(google.calendars().await, Err(ProviderError::NeedsReauth(_))));
}

#[tokio::test]
async fn calendars_and_channels() {
    let w = world().await;
    let calendars = w.google.calendars().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(calendars.len(), 1);
    assert!(calendars[0].primary && calendars[0].writable);
    assert_eq!(calendars[0].id, DEFAULT_USER);
    let channel = w.google.watch("primary", "chan-1", "secret-token", "http://127.0.0.1:9/hook").await;
    let channel = channel.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("Google has push"));
    assert!(!channel.resource_id.is_empty());
    assert!(channel.expires_at_ms > jiff::Timestamp::now().as_millisecond());
    w.google.unwatch(&channel).await.unwrap_or_else(|e| panic!("{e}"));
    w.google.unwatch(&channel).await.unwrap_or_else(|e| panic!("stopping twice is fine: {e}"));
}
