//! A hub (a real store), the Google emulator, and one link between them.

#![allow(dead_code)]

use calsync_core::{CalendarDraft, CalendarId, CalendarInput, Event, EventDraft, EventId, EventInput, Source, UserId};
use calsync_emulators::google::{Config, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USER, GoogleEmulator};
use calsync_engine::{PullSummary, PushSummary, SyncError};
use calsync_providers::Provider;
use calsync_providers::google::GoogleProvider;
use calsync_providers::oauth::{AccessTokens, OAuthClient};
use calsync_store::testing::TestDb;
use calsync_store::{EventLink, Link, NewEvent, SyncStore, TokenHash};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;

pub struct Hub {
    pub db: TestDb,
    pub store: Arc<dyn SyncStore>,
    pub emulator: GoogleEmulator,
    pub http: reqwest::Client,
    pub google: GoogleProvider,
    pub user: UserId,
    pub calendar: CalendarId,
    pub link: Link,
}

pub async fn hub_on(db: TestDb) -> Hub {
    let store = db.open().await;
    let emulator = GoogleEmulator::start(Config::default()).await.unwrap_or_else(|e| panic!("emulator: {e}"));
    let http = reqwest::Client::new();
    let tokens: Value = http
        .post(format!("{}/_emulator/tokens", emulator.base_url()))
        .json(&json!({"email": DEFAULT_USER}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("tokens: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("tokens: {e}"));
    let refresh = tokens["refresh_token"].as_str().unwrap_or_default().to_owned();
    let base = emulator.base_url().to_owned();
    let client = OAuthClient {
        auth_url: format!("{base}/o/oauth2/v2/auth"),
        token_url: format!("{base}/token"),
        revoke_url: Some(format!("{base}/revoke")),
        client_id: DEFAULT_CLIENT_ID.into(),
        client_secret: SecretString::from(DEFAULT_CLIENT_SECRET),
        redirect_uri: "http://127.0.0.1:1/oauth/google/callback".into(),
        scopes: vec!["https://www.googleapis.com/auth/calendar".into()],
    };
    let google =
        GoogleProvider::new(http.clone(), &emulator.api_root(), AccessTokens::new(client, SecretString::from(refresh)));
    let user = store
        .create_user("ada", &TokenHash(format!("hash-{}", EventId::new())))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let draft = CalendarDraft::parse(CalendarInput {
        name: "Work".into(),
        color: None,
        time_zone: Some("Europe/Berlin".into()),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let calendar = store.create_calendar(user, CalendarId::new(), &draft).await.unwrap_or_else(|e| panic!("{e}")).id;
    let account =
        store.upsert_account(user, Source::Google, DEFAULT_USER, b"sealed").await.unwrap_or_else(|e| panic!("{e}"));
    let link = store.create_link(user, account.id, calendar, DEFAULT_USER).await.unwrap_or_else(|e| panic!("{e}"));
    Hub { db, store, emulator, http, google, user, calendar, link }
}

pub async fn hub() -> Hub {
    hub_on(TestDb::sqlite()).await
}

impl Hub {
    /// The link as stored now (cursor and checkpoint move).
    pub async fn link(&self) -> Link {
        self.store.get_link(self.user, self.link.id).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn pull(&self) -> PullSummary {
        let link = self.link().await;
        calsync_engine::pull(&*self.store, &self.google, &link, Source::Google)
            .await
            .unwrap_or_else(|e| panic!("pull: {e}"))
    }

    pub async fn push(&self) -> PushSummary {
        let link = self.link().await;
        calsync_engine::push(&*self.store, &self.google, &link).await.unwrap_or_else(|e| panic!("push: {e}"))
    }

    pub fn input(&self, value: Value) -> EventInput {
        let mut v = value;
        v["calendar_id"] = json!(self.calendar);
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Creates an event in the hub, as the app would.
    pub async fn create_local(&self, value: Value) -> Event {
        let draft = EventDraft::parse(self.input(value)).unwrap_or_else(|e| panic!("{e}"));
        let mut created = self
            .store
            .create_events(self.user, vec![NewEvent { id: EventId::new(), draft, source: Source::Local }])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        created.remove(0)
    }

    pub async fn update_local(&self, id: EventId, edit: impl FnOnce(&mut EventInput)) -> Event {
        let current = self.store.get_event(self.user, id).await.unwrap_or_else(|e| panic!("{e}"));
        let mut input = current.draft.to_input();
        edit(&mut input);
        let draft = EventDraft::parse(input).unwrap_or_else(|e| panic!("{e}"));
        self.store.update_event(self.user, id, draft, None, Source::Local).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn delete_local(&self, id: EventId) {
        self.store.delete_event(self.user, id, None, Source::Local).await.unwrap_or_else(|e| panic!("{e}"));
    }

    pub async fn local(&self, id: EventId) -> Event {
        self.store.get_event(self.user, id).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Live local events of the linked calendar.
    pub async fn local_events(&self) -> Vec<Event> {
        let window = calsync_core::Window {
            start: "1990-01-01T00:00:00Z".parse().unwrap_or_else(|e| panic!("{e}")),
            end: "2100-01-01T00:00:00Z".parse().unwrap_or_else(|e| panic!("{e}")),
        };
        self.store.events_in_window(self.user, self.calendar, window).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let r = self
            .http
            .request(method, format!("{}{path}", self.emulator.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    /// An edit "in Google's web UI".
    pub async fn google_ui(&self, method: reqwest::Method, event: Option<&str>, body: Value) -> Value {
        let path = match event {
            Some(id) => format!("/_emulator/users/{DEFAULT_USER}/calendars/primary/events/{id}"),
            None => format!("/_emulator/users/{DEFAULT_USER}/calendars/primary/events"),
        };
        self.control(method, &path, body).await
    }

    /// Every remote event, as Google lists it with `showDeleted=true`.
    pub async fn remote_events(&self) -> Vec<Value> {
        let token = self.emulator.access_token(DEFAULT_USER);
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut url = reqwest::Url::parse(&format!("{}calendars/primary/events", self.emulator.api_root()))
                .unwrap_or_else(|e| panic!("{e}"));
            url.query_pairs_mut().append_pair("showDeleted", "true").append_pair("maxResults", "2500");
            if let Some(p) = &page {
                url.query_pairs_mut().append_pair("pageToken", p);
            }
            let v: Value = self
                .http
                .get(url)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .json()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            out.extend(v["items"].as_array().cloned().unwrap_or_default());
            match v["nextPageToken"].as_str() {
                Some(p) => page = Some(p.to_owned()),
                None => return out,
            }
        }
    }

    pub async fn live_remote_events(&self) -> Vec<Value> {
        self.remote_events().await.into_iter().filter(|e| e["status"] != "cancelled").collect()
    }

    /// A pull whose failure the test inspects.
    pub async fn try_pull(&self) -> Result<PullSummary, SyncError> {
        let link = self.link().await;
        calsync_engine::pull(&*self.store, &self.google, &link, Source::Google).await
    }

    /// A pull through another connector (a wrapper around `self.google`).
    pub async fn pull_via(&self, provider: &dyn Provider) -> PullSummary {
        let link = self.link().await;
        calsync_engine::pull(&*self.store, provider, &link, Source::Google)
            .await
            .unwrap_or_else(|e| panic!("pull: {e}"))
    }

    /// A push whose failure the test inspects.
    pub async fn try_push(&self) -> Result<PushSummary, SyncError> {
        let link = self.link().await;
        calsync_engine::push(&*self.store, &self.google, &link).await
    }

    /// The event link of a local event on the hub's link.
    pub async fn event_link(&self, id: EventId) -> Option<EventLink> {
        self.store.event_link(self.link.id, id).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn event_links(&self) -> Vec<EventLink> {
        self.store.event_links(self.link.id).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Creates an event "in Google's web UI"; returns its Google id.
    pub async fn google_create(&self, body: Value) -> String {
        let created = self.google_ui(reqwest::Method::POST, None, body).await;
        created["id"].as_str().unwrap_or_else(|| panic!("no id in {created}")).to_owned()
    }

    /// Makes the next matching Google API requests fail (`POST /_emulator/faults`).
    pub async fn inject_fault(&self, rule: Value) {
        self.control(reqwest::Method::POST, "/_emulator/faults", rule).await;
    }

    /// Every sync token issued so far answers 410 from now on.
    pub async fn expire_sync_tokens(&self) {
        self.control(reqwest::Method::POST, "/_emulator/sync-tokens/expire", json!({})).await;
    }

    /// Forgets the emulator's request log.
    pub async fn clear_requests(&self) {
        self.control(reqwest::Method::DELETE, "/_emulator/requests", json!(null)).await;
    }

    /// The calendar API writes (not GETs) in the emulator's request log, as `METHOD path`.
    pub async fn api_writes(&self) -> Vec<String> {
        let log = self.control(reqwest::Method::GET, "/_emulator/requests", json!(null)).await;
        log["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| {
                r["method"] != "GET" && r["path"].as_str().is_some_and(|p| p.starts_with("/calendar/v3/calendars/"))
            })
            .map(|r| format!("{} {}", r["method"].as_str().unwrap_or(""), r["path"].as_str().unwrap_or("")))
            .collect()
    }

    /// One remote event (also a cancelled one) by Google id, as `showDeleted=true` lists it.
    pub async fn remote_event(&self, id: &str) -> Option<Value> {
        self.remote_events().await.into_iter().find(|e| e["id"] == id)
    }

    /// The outbox rows not yet pushed to the link.
    pub async fn outbox_left(&self) -> usize {
        let link = self.link().await;
        self.store.changes_after(self.user, link.checkpoint, 10_000).await.unwrap_or_else(|e| panic!("{e}")).len()
    }
}

pub fn meeting(title: &str, day: &str) -> Value {
    json!({
        "title": title,
        "start": {"date_time": format!("{day}T09:00:00"), "time_zone": "Europe/Berlin"},
        "end": {"date_time": format!("{day}T10:00:00"), "time_zone": "Europe/Berlin"},
    })
}

/// The same meeting as [`meeting`], as Google's web UI writes it.
pub fn google_meeting(title: &str, day: &str) -> Value {
    json!({
        "summary": title,
        "start": {"dateTime": format!("{day}T09:00:00+02:00"), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": format!("{day}T10:00:00+02:00"), "timeZone": "Europe/Berlin"},
    })
}

/// What a pull changed in the hub: (created, updated, deleted, conflicts, skipped).
pub fn changed(s: &PullSummary) -> (usize, usize, usize, usize, usize) {
    (s.created, s.updated, s.deleted, s.conflicts, s.skipped)
}
