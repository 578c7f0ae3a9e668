//! The harness the emulators' scenario tests share: a running emulator on a free port, a JSON
//! client that talks to it the way an application would, and a webhook receiver that records
//! push notifications (and answers Graph's validation handshake). The Graph-specific parts are
//! in [`graph`]; the emulators' web pages as a browser uses them in [`web`]; installing and
//! running the providers' official Python clients in [`python_client`].
//!
//! Every test binary uses a different part of it.
#![allow(dead_code)]

pub mod graph;
pub mod python_client;
pub mod web;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use calsync_emulators::google::{Config, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USER, GoogleEmulator};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub const USER: &str = DEFAULT_USER;
pub const CLIENT_ID: &str = DEFAULT_CLIENT_ID;
pub const CLIENT_SECRET: &str = DEFAULT_CLIENT_SECRET;
pub const SCOPE_CALENDAR: &str = "https://www.googleapis.com/auth/calendar";
pub const EVENTS: &str = "/calendar/v3/calendars/primary/events";
pub const CALENDAR_LIST: &str = "/calendar/v3/users/me/calendarList";

/// How long a test waits for something asynchronous (a push notification) before failing.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Status, headers and body (JSON; `Null` when empty, a JSON string when not JSON).
pub type Reply = (u16, HeaderMap, Value);

/// A running emulator with a client authorized as the default user and one for the control API.
#[derive(Debug)]
pub struct Emu {
    pub emulator: GoogleEmulator,
    /// Authorized as [`USER`] with the full `calendar` scope.
    pub api: Client,
    /// No credentials: the control API under `/_emulator/` and the OAuth endpoints.
    pub control: Client,
}

impl Emu {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let emulator = GoogleEmulator::start(config).await.expect("the emulator binds 127.0.0.1:0");
        let api = Client::new(emulator.base_url(), Some(emulator.access_token(USER)));
        let control = Client::new(emulator.base_url(), None);
        Self { emulator, api, control }
    }

    pub fn base(&self) -> &str {
        self.emulator.base_url()
    }

    /// Adds `email` as a user (a no-op when present) and returns a client authorized as them.
    pub fn as_user(&self, email: &str) -> Client {
        self.emulator.add_user(email);
        Client::new(self.base(), Some(self.emulator.access_token(email)))
    }

    pub fn with_token(&self, token: &str) -> Client {
        Client::new(self.base(), Some(token.to_owned()))
    }
}

/// A small HTTP client: never follows redirects, sends the bearer token if it has one.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client builds");
        Self { http, base: base.trim_end_matches('/').to_owned(), token }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// A request with a JSON body (if any) and extra headers.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Reply {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        self.raw(method, path, body, headers).await
    }

    /// A form POST (`application/x-www-form-urlencoded`), as OAuth clients and browsers send.
    pub async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Reply {
        let body = form(pairs).into_bytes();
        self.raw(Method::POST, path, Some(("application/x-www-form-urlencoded", body)), &[]).await
    }

    /// Any request: `body` is `(content type, bytes)`.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let (status, headers, text) = self.raw_text(method, path, body, headers).await;
        (status, headers, parse_body(&text))
    }

    /// Like [`Client::raw`] with the body as text (HTML pages).
    pub async fn raw_text(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> (u16, HeaderMap, String) {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some((content_type, bytes)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{method} {path} failed to send: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_else(|e| panic!("{method} {path}: unreadable body: {e}"));
        (status, headers, text)
    }
}

fn parse_body(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// `application/x-www-form-urlencoded` of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// Percent-encodes a query value or path segment.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `/calendar/v3/calendars/{id}/events`.
pub fn events_of(calendar_id: &str) -> String {
    format!("/calendar/v3/calendars/{}/events", enc(calendar_id))
}

/// `/calendar/v3/calendars/primary/events/{id}`.
pub fn event_path(id: &str) -> String {
    format!("{EVENTS}/{id}")
}

/// A timed event body (RFC 3339 instants with offsets).
pub fn timed(summary: &str, start: &str, end: &str) -> Value {
    json!({"summary": summary, "start": {"dateTime": start}, "end": {"dateTime": end}})
}

/// A one-hour timed event on 2024-05-01 at `hour` UTC.
pub fn hour_event(summary: &str, hour: u32) -> Value {
    timed(summary, &format!("2024-05-01T{hour:02}:00:00Z"), &format!("2024-05-01T{hour:02}:30:00Z"))
}

/// Inserts into `calendar_id` and asserts 200; returns the event.
pub async fn insert(api: &Client, calendar_id: &str, body: &Value) -> Value {
    let (status, _, event) = api.post(&events_of(calendar_id), body).await;
    assert_eq!(status, 200, "insert {body} answered {event}");
    event
}

/// Google's error envelope without a location.
pub fn google_error(code: u16, domain: &str, reason: &str, message: &str) -> Value {
    json!({"error": {"errors": [{"domain": domain, "reason": reason, "message": message}], "code": code,
                     "message": message}})
}

/// Google's error envelope with a `locationType`/`location`.
pub fn google_error_at(code: u16, domain: &str, reason: &str, message: &str, kind: &str, location: &str) -> Value {
    json!({"error": {"errors": [{"domain": domain, "reason": reason, "message": message, "locationType": kind,
                                 "location": location}],
                     "code": code, "message": message}})
}

/// The exact 410 a dead sync token gets (protocols.md §1.7).
pub fn full_sync_required() -> Value {
    google_error_at(
        410,
        "calendar",
        "fullSyncRequired",
        "Sync token is no longer valid, a full sync is required.",
        "parameter",
        "syncToken",
    )
}

/// `error.errors[0].reason` of an error body ("" when absent).
pub fn reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"].as_str().unwrap_or("")
}

/// Asserts a Google error envelope with this status, code and reason.
#[track_caller]
pub fn assert_error(reply: &Reply, status: u16, reason_text: &str) {
    let (s, _, body) = reply;
    assert_eq!(*s, status, "expected {status} {reason_text}, got {s}: {body}");
    assert_eq!(body["error"]["code"], json!(status), "error.code in {body}");
    assert_eq!(reason(body), reason_text, "reason in {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "error.message in {body}");
}

/// The ids of a list response's `items`.
pub fn ids(list: &Value) -> Vec<String> {
    items(list).iter().map(|e| e["id"].as_str().unwrap_or("").to_owned()).collect()
}

pub fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Appends `pageToken` to a list URL.
pub fn with_page(url: &str, token: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}pageToken={}", enc(token))
}

/// One listing followed to its end. Asserts that every page carries exactly one of
/// `nextPageToken`/`nextSyncToken`. Returns the pages and the final sync token.
pub async fn list_all(api: &Client, url: &str) -> (Vec<Value>, String) {
    let mut pages = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let target = next.as_deref().map_or_else(|| url.to_owned(), |t| with_page(url, t));
        let (status, _, page) = api.get(&target).await;
        assert_eq!(status, 200, "GET {target}: {page}");
        let page_token = page["nextPageToken"].as_str().map(str::to_owned);
        let sync_token = page["nextSyncToken"].as_str().map(str::to_owned);
        pages.push(page.clone());
        match (page_token, sync_token) {
            (Some(p), None) => next = Some(p),
            (None, Some(s)) => return (pages, s),
            (p, s) => panic!("a page must carry exactly one of nextPageToken/nextSyncToken, got {p:?} and {s:?}"),
        }
        assert!(pages.len() < 10_000, "the listing of {url} never ends");
    }
}

/// The items of a whole listing (all pages) and its sync token.
pub async fn list_items(api: &Client, url: &str) -> (Vec<Value>, String) {
    let (pages, token) = list_all(api, url).await;
    (pages.iter().flat_map(items).collect(), token)
}

/// The object keys of `v`, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

// ---- webhook receiver -------------------------------------------------------------------------

/// One notification the receiver got: lower-case header names, the query, the body, and what
/// it answered.
#[derive(Debug, Clone)]
pub struct Notification {
    pub headers: BTreeMap<String, String>,
    pub query: String,
    pub body: Vec<u8>,
    pub answered: u16,
}

impl Notification {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn channel(&self) -> &str {
        self.header("x-goog-channel-id").unwrap_or("")
    }

    pub fn state(&self) -> &str {
        self.header("x-goog-resource-state").unwrap_or("")
    }

    /// `X-Goog-Message-Number` (0 when missing or not a number).
    pub fn number(&self) -> u64 {
        self.header("x-goog-message-number").and_then(|n| n.parse().ok()).unwrap_or(0)
    }

    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.answered)
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A Graph validation request (`?validationToken=…`).
    pub fn is_validation(&self) -> bool {
        self.query.starts_with("validationToken=") || self.query.contains("&validationToken=")
    }
}

/// How the receiver answers Graph's validation handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// 200, text/plain, the decoded token.
    Echo,
    /// 200 with the token still URL-encoded (Graph refuses that).
    EchoEncoded,
    /// The right answer, after this many milliseconds.
    Slow(u64),
}

#[derive(Debug)]
struct Inbox {
    seen: Mutex<Vec<Notification>>,
    handshake: Mutex<Handshake>,
    fail_next: AtomicU32,
    arrived: AtomicUsize,
    open: watch::Sender<bool>,
}

/// A webhook endpoint on `127.0.0.1:0` that records every POST it gets.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub url: String,
    inbox: Arc<Inbox>,
}

async fn receive(
    State(inbox): State<Arc<Inbox>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let query = uri.query().unwrap_or("").to_owned();
    let token =
        form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "validationToken").map(|(_, v)| v.into_owned());
    if let Some(token) = token {
        let mode = *inbox.handshake.lock().unwrap_or_else(PoisonError::into_inner);
        let answer = match mode {
            Handshake::Echo => token,
            Handshake::EchoEncoded => enc(&token),
            Handshake::Slow(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                token
            }
        };
        record(&inbox, &headers, query, &body, 200);
        return ([("content-type", "text/plain; charset=utf-8")], answer).into_response();
    }
    receive_notification(inbox, headers, query, body).await.into_response()
}

fn record(inbox: &Inbox, headers: &HeaderMap, query: String, body: &Bytes, answered: u16) {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    inbox.seen.lock().unwrap_or_else(PoisonError::into_inner).push(Notification {
        headers,
        query,
        body: body.to_vec(),
        answered,
    });
}

async fn receive_notification(
    inbox: Arc<Inbox>,
    headers: HeaderMap,
    query: String,
    body: Bytes,
) -> axum::http::StatusCode {
    inbox.arrived.fetch_add(1, Ordering::SeqCst);
    let mut open = inbox.open.subscribe();
    // Held: answer only once the test releases the receiver.
    let _ = open.wait_for(|o| *o).await;
    let fail = inbox.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let status = if fail { axum::http::StatusCode::INTERNAL_SERVER_ERROR } else { axum::http::StatusCode::OK };
    record(&inbox, &headers, query, &body, status.as_u16());
    status
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("the receiver binds 127.0.0.1:0");
        let addr = listener.local_addr().expect("the receiver has an address");
        let inbox = Arc::new(Inbox {
            seen: Mutex::default(),
            handshake: Mutex::new(Handshake::Echo),
            fail_next: AtomicU32::new(0),
            arrived: AtomicUsize::new(0),
            open: watch::Sender::new(true),
        });
        let app = Router::new().fallback(receive).with_state(inbox.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url: format!("http://{addr}/notifications"), inbox }
    }

    /// How to answer Graph's validation requests from now on.
    pub fn handshake(&self, mode: Handshake) {
        *self.inbox.handshake.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// Answer the next `n` notifications with 500.
    pub fn fail_next(&self, n: u32) {
        self.inbox.fail_next.store(n, Ordering::SeqCst);
    }

    /// Stop answering: requests wait (unrecorded) until [`Receiver::release`].
    pub fn hold(&self) {
        self.inbox.open.send_replace(false);
    }

    pub fn release(&self) {
        self.inbox.open.send_replace(true);
    }

    /// Requests that reached the handler, answered or still held.
    pub fn arrived(&self) -> usize {
        self.inbox.arrived.load(Ordering::SeqCst)
    }

    /// Every answered request, in order.
    pub fn all(&self) -> Vec<Notification> {
        self.inbox.seen.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The notifications of `channel` answered with 2xx, in order.
    pub fn delivered(&self, channel: &str) -> Vec<Notification> {
        self.all().into_iter().filter(|n| n.channel() == channel && n.succeeded()).collect()
    }

    /// Polls until `done` holds for the answered requests; fails after [`DEADLINE`].
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Notification]) -> bool) -> Vec<Notification> {
        let started = Instant::now();
        loop {
            let all = self.all();
            if done(&all) {
                return all;
            }
            if started.elapsed() > DEADLINE {
                let summary: Vec<String> = all
                    .iter()
                    .map(|n| format!("{}#{} {} -> {}", n.channel(), n.number(), n.state(), n.answered))
                    .collect();
                panic!("timed out after {DEADLINE:?} waiting for {what}; the receiver got {summary:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `channel` has `n` successful deliveries; returns them.
    pub async fn wait_delivered(&self, channel: &str, n: usize) -> Vec<Notification> {
        let what = format!("{n} notifications on channel {channel}");
        self.wait_until(&what, |all| all.iter().filter(|x| x.channel() == channel && x.succeeded()).count() >= n).await;
        self.delivered(channel)
    }
}

/// Polls `check` until it returns `Some`; fails after [`DEADLINE`] with `what`.
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(started.elapsed() <= DEADLINE, "timed out after {DEADLINE:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens a `web_hook` channel on `calendar_id` to `receiver` and asserts 200.
pub async fn watch(api: &Client, calendar_id: &str, channel_id: &str, receiver: &Receiver, token: &str) -> Value {
    let body = json!({"id": channel_id, "type": "web_hook", "address": receiver.url, "token": token});
    let (status, _, channel) = api.post(&format!("{}/watch", events_of(calendar_id)), &body).await;
    assert_eq!(status, 200, "watch answered {channel}");
    channel
}
