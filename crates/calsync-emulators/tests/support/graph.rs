//! The Graph emulator's part of the harness: a running emulator with a client authorized as
//! the default user, event bodies, error assertions, and a delta round followed to its end.

use super::{Client, Reply, enc};
use calsync_emulators::graph::{Config, DEFAULT_USER, GraphEmulator};
use reqwest::Method;
use serde_json::{Value, json};

pub const USER: &str = DEFAULT_USER;
pub const EVENTS: &str = "/v1.0/me/events";
pub const LOCAL_ID_PROPERTY: &str = "String {4f6c2d1e-8a3b-4c5d-9e7f-0a1b2c3d4e5f} Name calsyncId";

/// A running Graph emulator, a client authorized as [`USER`] and one for the control API.
#[derive(Debug)]
pub struct GraphEmu {
    pub emulator: GraphEmulator,
    pub api: Client,
    pub control: Client,
}

impl GraphEmu {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let emulator = GraphEmulator::start(config).await.expect("the emulator binds 127.0.0.1:0");
        let api = Client::new(emulator.base_url(), Some(emulator.access_token(USER)));
        let control = Client::new(emulator.base_url(), None);
        Self { emulator, api, control }
    }

    pub fn base(&self) -> &str {
        self.emulator.base_url()
    }

    /// Changes knobs through the control API; asserts 200.
    pub async fn settings(&self, patch: Value) {
        let (status, _, body) = self.control.patch("/_emulator/settings", &patch).await;
        assert_eq!(status, 200, "settings {patch}: {body}");
    }

    /// A path for a link the emulator handed out (absolute on its base URL).
    pub fn path_of<'a>(&self, link: &'a str) -> &'a str {
        link.strip_prefix(self.base()).unwrap_or_else(|| panic!("{link} is not on {}", self.base()))
    }
}

/// A timed event body in `zone` (Windows or IANA name).
pub fn event(subject: &str, start: &str, end: &str, zone: &str) -> Value {
    json!({"subject": subject, "start": {"dateTime": start, "timeZone": zone}, "end": {"dateTime": end, "timeZone": zone}})
}

/// A one-hour UTC event on 2024-05-01 at `hour`.
pub fn hour_event(subject: &str, hour: u32) -> Value {
    event(subject, &format!("2024-05-01T{hour:02}:00:00"), &format!("2024-05-01T{:02}:00:00", hour + 1), "UTC")
}

/// POSTs `body` to `path` and asserts 201; returns the event.
pub async fn create_at(api: &Client, path: &str, body: &Value) -> Value {
    let (status, _, event) = api.post(path, body).await;
    assert_eq!(status, 201, "create {body} answered {event}");
    event
}

pub async fn create(api: &Client, body: &Value) -> Value {
    create_at(api, EVENTS, body).await
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

pub fn event_path(id: &str) -> String {
    format!("{EVENTS}/{id}")
}

/// Asserts Graph's error body with this status and code.
#[track_caller]
pub fn assert_graph_error(reply: &Reply, status: u16, code: &str) {
    let (s, _, body) = reply;
    assert_eq!(*s, status, "expected {status} {code}, got {s}: {body}");
    assert_eq!(body["error"]["code"], json!(code), "code in {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "message in {body}");
    assert!(body["error"]["innerError"]["request-id"].is_string(), "innerError.request-id in {body}");
    assert!(body["error"]["innerError"]["date"].is_string(), "innerError.date in {body}");
}

pub fn values(page: &Value) -> Vec<Value> {
    page["value"].as_array().cloned().unwrap_or_default()
}

pub fn subjects(items: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = items.iter().map(|e| e["subject"].as_str().unwrap_or("").to_owned()).collect();
    s.sort();
    s
}

/// A calendarView query for `[start, end)`.
pub fn window(path: &str, start: &str, end: &str) -> String {
    format!("{path}?startDateTime={}&endDateTime={}", enc(start), enc(end))
}

/// The result of one delta round.
#[derive(Debug)]
pub struct Round {
    pub pages: Vec<Value>,
    pub items: Vec<Value>,
    /// The `@odata.deltaLink` as a path on the emulator.
    pub delta: String,
}

impl Round {
    /// Ids reported `@removed`.
    pub fn removed(&self) -> Vec<String> {
        let mut r: Vec<String> = self.items.iter().filter(|i| i.get("@removed").is_some()).map(id).collect();
        r.sort();
        r
    }

    /// Items with properties (not removals).
    pub fn changed(&self) -> Vec<Value> {
        self.items.iter().filter(|i| i.get("@removed").is_none()).cloned().collect()
    }
}

/// Follows `@odata.nextLink` from `start` until `@odata.deltaLink`, with `prefer` headers.
/// Asserts that every page carries exactly one of the two links.
pub async fn delta_round(emu: &GraphEmu, api: &Client, start: &str, prefer: &[(&str, &str)]) -> Round {
    let mut pages = Vec::new();
    let mut url = start.to_owned();
    loop {
        let (status, _, page) = api.send(Method::GET, &url, None, prefer).await;
        assert_eq!(status, 200, "GET {url}: {page}");
        pages.push(page.clone());
        let next = page["@odata.nextLink"].as_str();
        let delta = page["@odata.deltaLink"].as_str();
        match (next, delta) {
            (Some(n), None) => url = emu.path_of(n).to_owned(),
            (None, Some(d)) => {
                let delta = emu.path_of(d).to_owned();
                let items = pages.iter().flat_map(values).collect();
                return Round { pages, items, delta };
            }
            (n, d) => panic!("a delta page needs exactly one of nextLink/deltaLink, got {n:?} and {d:?}"),
        }
        assert!(pages.len() < 1000, "the delta round from {start} never ends");
    }
}
