//! A real calsync server on 127.0.0.1:0 over a throw-away database, and a real HTTP client.
#![allow(dead_code)]

pub mod google;
pub mod graph;

use calsync_core::SystemClock;
use calsync_server::AppState;
use calsync_server::auth::hash_token;
use calsync_store::testing::TestDb;
use futures_util::{Stream, StreamExt};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::{Value, json};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// How long a test waits for something the server should do at once (an SSE event, the
/// end of a stream, the server task finishing) before it fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Runs the scenario `async fn $name(app: TestApp)` as the tests `$name::sqlite` and
/// `$name::postgres`; the PostgreSQL half is skipped (with a note) without
/// CALSYNC_TEST_POSTGRES_URL. Needs `#[macro_use] mod support;` and `TestApp` in scope.
#[allow(unused_macros)]
macro_rules! on_both_databases {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::TestApp::sqlite().await).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(app) = super::TestApp::postgres().await else {
                    eprintln!("CALSYNC_TEST_POSTGRES_URL unset: PostgreSQL half skipped");
                    return;
                };
                super::$name(app).await;
            }
        }
    };
}

/// Runs `async fn $name(db: TestDb)` as `$name::sqlite` and `$name::postgres` (for
/// scenarios that build their own server, e.g. with Google sync); the PostgreSQL half is
/// skipped (with a note) without CALSYNC_TEST_POSTGRES_URL. Needs `#[macro_use] mod support;`.
#[allow(unused_macros)]
macro_rules! on_both_databases_db {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(calsync_store::testing::TestDb::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = calsync_store::testing::TestDb::postgres().await else {
                    eprintln!("CALSYNC_TEST_POSTGRES_URL unset: PostgreSQL half skipped");
                    return;
                };
                super::$name(db).await;
            }
        }
    };
}

/// Which emulators a test server syncs with (their base URLs), and how.
#[derive(Debug, Clone, Default)]
pub struct Syncing {
    pub google: Option<String>,
    pub graph: Option<String>,
    /// The server's URL is public: the emulators notify it; without, links are polled.
    pub push: bool,
    pub schedule: calsync_engine::Schedule,
    pub rules: calsync_store::LinkSettings,
}

fn google_endpoints(g: &str, base: &str) -> calsync_engine::Endpoints {
    use calsync_emulators::google::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
    calsync_engine::Endpoints {
        oauth: calsync_providers::oauth::OAuthClient {
            auth_url: format!("{g}/o/oauth2/v2/auth"),
            token_url: format!("{g}/token"),
            revoke_url: Some(format!("{g}/revoke")),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: secrecy::SecretString::from(DEFAULT_CLIENT_SECRET),
            redirect_uri: format!("{base}/oauth/google/callback"),
            scopes: calsync_server::sync::GOOGLE_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        },
        identity_url: format!("{g}/oauth2/v3/userinfo"),
        api_root: format!("{g}/calendar/v3/"),
        window: None,
    }
}

fn graph_endpoints(g: &str, base: &str) -> calsync_engine::Endpoints {
    use calsync_emulators::graph::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
    calsync_engine::Endpoints {
        oauth: calsync_providers::oauth::OAuthClient {
            auth_url: format!("{g}/common/oauth2/v2.0/authorize"),
            token_url: format!("{g}/common/oauth2/v2.0/token"),
            revoke_url: None,
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: secrecy::SecretString::from(DEFAULT_CLIENT_SECRET),
            redirect_uri: format!("{base}/oauth/microsoft/callback"),
            scopes: calsync_server::sync::MICROSOFT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        },
        identity_url: format!("{g}/v1.0/me"),
        api_root: format!("{g}/v1.0/"),
        window: None,
    }
}

pub const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub db: TestDb,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Keeps the sync workers running while the app lives.
    _workers: tokio::sync::watch::Sender<bool>,
}

impl TestApp {
    /// A server over a fresh SQLite database.
    pub async fn sqlite() -> Self {
        Self::over(TestDb::sqlite()).await
    }

    /// A server over a fresh PostgreSQL database, or `None` without CALSYNC_TEST_POSTGRES_URL.
    pub async fn postgres() -> Option<Self> {
        Some(Self::over(TestDb::postgres().await?).await)
    }

    pub async fn over(db: TestDb) -> Self {
        Self::build(db, None).await
    }

    /// A server syncing with the Google emulator at `google` (its base URL), with workers on
    /// `schedule`. With `push`, the server's own URL is public: the emulator's channels
    /// notify it; without, links are polled.
    pub async fn with_google(db: TestDb, google: &str, push: bool, schedule: calsync_engine::Schedule) -> Self {
        Self::syncing(db, Syncing { google: Some(google.to_owned()), push, schedule, ..Syncing::default() }).await
    }

    /// As [`TestApp::with_google`], with configured rules for new links.
    pub async fn with_google_rules(
        db: TestDb,
        google: &str,
        push: bool,
        schedule: calsync_engine::Schedule,
        rules: calsync_store::LinkSettings,
    ) -> Self {
        Self::syncing(db, Syncing { google: Some(google.to_owned()), push, schedule, rules, ..Syncing::default() })
            .await
    }

    /// A server syncing with the emulators `sync` names.
    pub async fn syncing(db: TestDb, sync: Syncing) -> Self {
        Self::build(db, Some(sync)).await
    }

    async fn build(db: TestDb, syncing: Option<Syncing>) -> Self {
        let store = db.open().await;
        let (mut state, stop_streams) =
            AppState::new(store.clone(), Arc::new(SystemClock), Some(hash_token(ADMIN_TOKEN)));
        state.change_poll = std::time::Duration::from_millis(200);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let base = format!("http://{}", listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
        let (stop_workers, workers_stopped) = tokio::sync::watch::channel(false);
        if let Some(s) = syncing {
            let google = s.google.as_deref().map(|g| google_endpoints(g, &base));
            let microsoft = s.graph.as_deref().map(|g| graph_endpoints(g, &base));
            let sealer = Arc::new(calsync_engine::Sealer::from_hex(&"ab".repeat(32)).unwrap_or_else(|e| panic!("{e}")));
            let public = s.push.then_some(base.as_str());
            let mut sync = calsync_server::sync::SyncSetup::new(sealer, Client::new(), public, google, microsoft);
            sync.link_defaults = s.rules;
            let sync = Arc::new(sync);
            // Detached: they end when `stop_workers` is dropped or the test's runtime ends.
            drop(sync.start_workers(&store, 2, s.schedule, &workers_stopped, Some(state.changed.clone())));
            state.sync = Some(sync);
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(calsync_server::serve(listener, state, stop_streams, async move {
            let _ = stopped.await;
        }));
        Self { base, client: Client::new(), db, stop: Some(stop), server: Some(server), _workers: stop_workers }
    }

    /// Begins a graceful shutdown.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(token)
    }

    /// Connects the user's `provider` account (`google`, `microsoft`) the way a browser
    /// does: start, follow the emulator's consent redirect, land on the callback, which is
    /// single-use.
    pub async fn connect_account(&self, token: &str, provider: &str) {
        let start =
            self.send_json(Method::POST, &format!("/api/v1/accounts/{provider}/connect"), token, &json!({})).await;
        assert_eq!(start.status, 200, "{}", start.json);
        let consent = start.json["authorization_url"].as_str().unwrap_or_default().to_owned();
        let browser =
            Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap_or_else(|e| panic!("{e}"));
        let redirect = browser.get(&consent).send().await.unwrap_or_else(|e| panic!("{e}"));
        let callback = redirect.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(
            callback.starts_with(&self.url(&format!("/oauth/{provider}/callback"))),
            "consent redirected to {callback:?}"
        );
        let done = browser.get(&callback).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(done.status(), 200, "{}", done.text().await.unwrap_or_default());
        assert_eq!(browser.get(&callback).send().await.map(|r| r.status().as_u16()).unwrap_or(0), 400, "replayed");
    }

    /// A new user; returns its token.
    pub async fn user(&self, name: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/admin/users"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"name": name}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 201);
        body(response).await["token"].as_str().unwrap_or_default().to_owned()
    }

    /// A new calendar of the token's user; returns its id.
    pub async fn calendar(&self, token: &str, name: &str) -> String {
        let response = self
            .request(Method::POST, "/api/v1/calendars", token)
            .json(&json!({"name": name, "time_zone": "Europe/Berlin"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 201);
        body(response).await["id"].as_str().unwrap_or_default().to_owned()
    }

    /// POST /api/v1/events, asserting 201; returns the event JSON.
    pub async fn create_event(&self, token: &str, event: Value) -> Value {
        let response = self
            .request(Method::POST, "/api/v1/events", token)
            .json(&event)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let status = response.status();
        let json = body(response).await;
        assert_eq!(status, 201, "{json}");
        json
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        Reply::read(request.send().await.unwrap_or_else(|e| panic!("{e}"))).await
    }

    /// GET `path` as the token's user.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(self.request(Method::GET, path, token)).await
    }

    /// `method` `path` with a JSON body, as the token's user.
    pub async fn send_json(&self, method: Method, path: &str, token: &str, json: &Value) -> Reply {
        self.send(self.request(method, path, token).json(json)).await
    }

    /// The user's whole change feed, oldest first.
    pub async fn changes(&self, token: &str) -> Vec<Value> {
        let reply = self.get("/api/v1/changes?after=0&limit=1000", token).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        reply.json["changes"].as_array().cloned().unwrap_or_else(|| panic!("no changes array: {}", reply.json))
    }

    /// Opens the user's change stream at `path_and_query` (`/api/v1/changes/stream…`),
    /// optionally resuming after `last_event_id`.
    pub async fn stream(&self, token: &str, path_and_query: &str, last_event_id: Option<&str>) -> EventStream {
        let mut request = self.request(Method::GET, path_and_query, token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 200);
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        EventStream { chunks: Box::pin(response.bytes_stream()), buffer: String::new() }
    }

    /// Waits for the server task to finish (after [`TestApp::shutdown`]).
    pub async fn stopped(&mut self) {
        let server = self.server.take().unwrap_or_else(|| panic!("the server was already joined"));
        let joined = tokio::time::timeout(PATIENCE, server).await.unwrap_or_else(|_| panic!("the server did not stop"));
        joined.unwrap_or_else(|e| panic!("the server task failed: {e}")).unwrap_or_else(|e| panic!("serve: {e}"));
    }
}

/// A whole HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as JSON; `Value::Null` for an empty body.
    pub json: Value,
}

impl Reply {
    pub async fn read(response: Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_else(|e| panic!("{e}"));
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        Self { status, headers, json }
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// Asserts an `application/problem+json` answer with `status` whose `errors` name
    /// `field` with `rule`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, field: &str, rule: &str) {
        self.assert_status_problem(status);
        let errors = self.json["errors"].as_array().cloned().unwrap_or_default();
        assert!(
            errors.iter().any(|e| e["field"] == field && e["rule"] == rule),
            "expected an error on {field} breaking {rule}, got {}",
            self.json
        );
    }

    /// Asserts an `application/problem+json` answer with `status`.
    #[track_caller]
    pub fn assert_status_problem(&self, status: u16) {
        assert_eq!(self.status, status, "{}", self.json);
        assert_eq!(self.header("content-type"), "application/problem+json", "{}", self.json);
        assert_eq!(self.json["status"], status, "{}", self.json);
        assert!(self.json["type"].as_str().is_some_and(|t| t.starts_with("urn:calsync:problem:")), "{}", self.json);
        assert!(self.json["detail"].as_str().is_some_and(|d| !d.is_empty()), "{}", self.json);
    }

    pub fn id(&self) -> String {
        self.json["id"].as_str().unwrap_or_else(|| panic!("no id: {}", self.json)).to_owned()
    }
}

/// One server-sent event.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: String,
}

/// A `text/event-stream` response, read event by event.
pub struct EventStream {
    chunks: Pin<Box<dyn Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>,
    buffer: String,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").field("buffer", &self.buffer).finish_non_exhaustive()
    }
}

impl EventStream {
    /// The next event (comments and keep-alives skipped), or `None` when the stream ended.
    /// Fails the test when nothing comes within [`PATIENCE`].
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_block(&block) {
                    return Some(event);
                }
            }
            let chunk = tokio::time::timeout(PATIENCE, self.chunks.next())
                .await
                .unwrap_or_else(|_| panic!("no server-sent event within {PATIENCE:?}"));
            match chunk {
                None => return None,
                Some(Ok(bytes)) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Some(Err(e)) => panic!("the stream broke: {e}"),
            }
        }
    }

    /// The next `change` event: its `id:` and its data as JSON.
    pub async fn next_change(&mut self) -> (String, Value) {
        let event = self.next().await.unwrap_or_else(|| panic!("the stream ended"));
        assert_eq!(event.event.as_deref(), Some("change"), "{event:?}");
        let data = serde_json::from_str(&event.data).unwrap_or_else(|e| panic!("data is not JSON ({e}): {event:?}"));
        (event.id.unwrap_or_default(), data)
    }

    /// The sequence numbers of the next `n` change events, checking each `id:` is its `seq`.
    pub async fn next_seqs(&mut self, n: usize) -> Vec<i64> {
        let mut seqs = Vec::with_capacity(n);
        for _ in 0..n {
            let (id, change) = self.next_change().await;
            assert_eq!(id, change["seq"].to_string(), "the SSE id is the change's seq");
            seqs.push(change["seq"].as_i64().unwrap_or_default());
        }
        seqs
    }
}

fn parse_block(block: &str) -> Option<SseEvent> {
    let mut event = SseEvent::default();
    let mut has_field = false;
    for line in block.lines() {
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        has_field = true;
        match name {
            "event" => event.event = Some(value.to_owned()),
            "id" => event.id = Some(value.to_owned()),
            "data" => {
                if !event.data.is_empty() {
                    event.data.push('\n');
                }
                event.data.push_str(value);
            }
            _ => {}
        }
    }
    has_field.then_some(event)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub async fn body(response: Response) -> Value {
    let text = response.text().await.unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A timed event in Europe/Berlin on `day` from `from` to `to` (HH:MM).
pub fn meeting(calendar: &str, title: &str, day: &str, from: &str, to: &str) -> Value {
    json!({
        "calendar_id": calendar,
        "title": title,
        "start": {"date_time": format!("{day}T{from}:00"), "time_zone": "Europe/Berlin"},
        "end": {"date_time": format!("{day}T{to}:00"), "time_zone": "Europe/Berlin"},
    })
}
