//! Push channels (`events.watch`, `channels.stop`; protocols.md §1.10).
//!
//! Each channel has its own delivery queue and task, so notifications for a channel arrive in
//! order and a slow receiver never blocks the API call that caused the change. Messages are
//! POSTed with no body and the `X-Goog-*` headers; 5xx answers and connection failures are
//! retried with doubling delays, other answers count as delivered.

use super::error::{ApiError, ApiResult};
use crate::random;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug)]
struct Channel {
    id: String,
    resource_id: String,
    resource_uri: String,
    token: Option<String>,
    address: String,
    expiration_ms: i64,
    calendar_id: String,
    user: String,
    last_number: u64,
    queue: mpsc::UnboundedSender<Message>,
}

#[derive(Debug, Clone)]
struct Message {
    number: u64,
    state: &'static str,
    delay: Duration,
    copies: u32,
    retries: u32,
    retry_delay: Duration,
}

/// Faults applied to the next notifications (control API).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationFaults {
    /// Lose the next N notifications.
    pub drop_next: u32,
    /// Deliver the next N notifications twice.
    pub duplicate_next: u32,
    /// Hold every notification back this long before delivery.
    pub delay_ms: u64,
}

/// One delivery attempt, for tests to assert on.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub channel_id: String,
    pub message_number: u64,
    pub resource_state: &'static str,
    pub attempt: u32,
    /// The receiver's status, or `None` when it could not be reached.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// A validated watch request.
#[derive(Debug)]
pub struct WatchRequest {
    pub id: String,
    pub token: Option<String>,
    pub address: String,
    pub expiration_ms: i64,
}

#[derive(Debug, Default)]
struct Inner {
    channels: HashMap<String, Channel>,
    faults: NotificationFaults,
    deliveries: Vec<Delivery>,
}

#[derive(Debug, Clone)]
pub struct Push {
    inner: Arc<Mutex<Inner>>,
    http: reqwest::Client,
}

/// Retry policy for deliveries, from the configuration at the time of the change.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub retries: u32,
    pub delay: Duration,
}

impl Default for Push {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { inner: Arc::default(), http }
    }
}

impl Push {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Parses a `Channel` body. `allow_loopback_http` admits `http://127.0.0.1`/`localhost`.
    pub fn parse_watch(
        body: &Value,
        now: Timestamp,
        default_ttl: Duration,
        max_ttl: Duration,
        allow_loopback_http: bool,
    ) -> ApiResult<WatchRequest> {
        let text = |k: &str| body.get(k).and_then(Value::as_str);
        let id = text("id").filter(|s| !s.is_empty()).ok_or_else(|| ApiError::required("id", "Missing channel id."))?;
        match text("type") {
            Some("web_hook" | "webhook") => {}
            Some(other) => {
                return Err(ApiError::invalid("type", format!("Invalid channel type {other:?}: use web_hook.")));
            }
            None => return Err(ApiError::required("type", "Missing channel type.")),
        }
        let address = text("address").ok_or_else(|| ApiError::required("address", "Missing channel address."))?;
        let loopback = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/"]
            .iter()
            .any(|p| address.starts_with(p));
        if !(address.starts_with("https://") || (allow_loopback_http && loopback)) {
            return Err(ApiError::bad_request(format!("WebHook callback must be HTTPS: {address}")));
        }
        if reqwest::Url::parse(address).is_err() {
            return Err(ApiError::invalid("address", format!("Invalid channel address {address:?}")));
        }
        let now_ms = now.as_millisecond();
        let max_ms = now_ms.saturating_add(i64::try_from(max_ttl.as_millis()).unwrap_or(i64::MAX));
        let ttl_ms = match body.get("params").and_then(|p| p.get("ttl")) {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .and_then(|s| s.parse::<i64>().ok())
                    .or_else(|| v.as_i64())
                    .filter(|t| *t > 0)
                    .ok_or_else(|| ApiError::invalid("params.ttl", "params.ttl must be a positive number of seconds"))?
                    .saturating_mul(1000),
            ),
        };
        let expiration = match body.get("expiration") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_str()
                    .and_then(|s| s.parse::<i64>().ok())
                    .or_else(|| v.as_i64())
                    .ok_or_else(|| ApiError::invalid("expiration", "expiration must be Unix time in milliseconds"))?,
            ),
        };
        let default_ms = now_ms.saturating_add(i64::try_from(default_ttl.as_millis()).unwrap_or(i64::MAX));
        let wanted = expiration.or(ttl_ms.map(|t| now_ms.saturating_add(t))).unwrap_or(default_ms);
        if wanted <= now_ms {
            return Err(ApiError::invalid("expiration", "expiration lies in the past"));
        }
        Ok(WatchRequest {
            id: id.to_owned(),
            token: text("token").map(str::to_owned),
            address: address.to_owned(),
            expiration_ms: wanted.min(max_ms),
        })
    }

    /// Opens a channel and queues its `sync` message. Returns the `Channel` resource.
    pub fn watch(
        &self,
        req: WatchRequest,
        user: &str,
        calendar_id: &str,
        resource_uri: String,
        retry: Retry,
    ) -> ApiResult<Value> {
        let mut inner = self.lock();
        if inner.channels.contains_key(&req.id) {
            return Err(ApiError::bad_request(format!("Channel id {} not unique", req.id)).at("parameter", "id"));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let resource_id = random::string(random::ALNUM, 27);
        let channel = Channel {
            id: req.id.clone(),
            resource_id: resource_id.clone(),
            resource_uri: resource_uri.clone(),
            token: req.token.clone(),
            address: req.address,
            expiration_ms: req.expiration_ms,
            calendar_id: calendar_id.to_owned(),
            user: user.to_owned(),
            last_number: 0,
            queue: tx,
        };
        tokio::spawn(deliver_loop(self.clone(), req.id.clone(), rx));
        inner.channels.insert(req.id.clone(), channel);
        enqueue(&mut inner, &req.id, "sync", retry);
        let mut out = json!({"kind": "api#channel", "id": req.id, "resourceId": resource_id, "resourceUri": resource_uri,
                             "expiration": req.expiration_ms.to_string()});
        if let Some(t) = req.token {
            out["token"] = json!(t);
        }
        Ok(out)
    }

    /// `channels.stop`: the channel must belong to `user` and match `resourceId`.
    pub fn stop(&self, user: &str, id: &str, resource_id: &str) -> ApiResult<()> {
        let mut inner = self.lock();
        match inner.channels.get(id) {
            Some(c) if c.user == user && c.resource_id == resource_id => {
                inner.channels.remove(id);
                Ok(())
            }
            _ => Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "global",
                "notFound",
                format!("Channel '{id}' not found for project"),
            )),
        }
    }

    /// A change was committed to `calendar_id`: queue `exists` on its live channels.
    pub fn changed(&self, calendar_id: &str, now: Timestamp, retry: Retry) {
        let mut inner = self.lock();
        let ids: Vec<String> = inner
            .channels
            .values()
            .filter(|c| c.calendar_id == calendar_id && c.expiration_ms > now.as_millisecond())
            .map(|c| c.id.clone())
            .collect();
        for id in ids {
            enqueue(&mut inner, &id, "exists", retry);
        }
    }

    pub fn set_faults(&self, faults: NotificationFaults) {
        self.lock().faults = faults;
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().deliveries.clone()
    }

    pub fn clear_deliveries(&self) {
        self.lock().deliveries.clear();
    }

    /// Control API: make channels expire now (`None`: all), or forget them without notice.
    pub fn expire(&self, id: Option<&str>, now: Timestamp) -> usize {
        let mut inner = self.lock();
        let mut n = 0;
        for c in inner.channels.values_mut().filter(|c| id.is_none_or(|i| i == c.id)) {
            c.expiration_ms = now.as_millisecond();
            n += 1;
        }
        n
    }

    pub fn drop_channels(&self, id: Option<&str>) -> usize {
        let mut inner = self.lock();
        let before = inner.channels.len();
        inner.channels.retain(|k, _| id.is_some_and(|i| i != k));
        before - inner.channels.len()
    }

    pub fn channels(&self) -> Vec<Value> {
        self.lock()
            .channels
            .values()
            .map(|c| {
                json!({"id": c.id, "resourceId": c.resource_id, "calendarId": c.calendar_id, "user": c.user,
                       "address": c.address, "expiration": c.expiration_ms, "lastMessageNumber": c.last_number})
            })
            .collect()
    }
}

fn enqueue(inner: &mut Inner, id: &str, state: &'static str, retry: Retry) {
    let faults = &mut inner.faults;
    let drop = faults.drop_next > 0;
    faults.drop_next = faults.drop_next.saturating_sub(1);
    let copies = if faults.duplicate_next > 0 { 2 } else { 1 };
    faults.duplicate_next = faults.duplicate_next.saturating_sub(1);
    let delay = Duration::from_millis(faults.delay_ms);
    let Some(c) = inner.channels.get_mut(id) else { return };
    c.last_number += 1;
    if drop {
        // The number is used up: receivers see a gap, as Google allows.
        return;
    }
    let msg = Message { number: c.last_number, state, delay, copies, retries: retry.retries, retry_delay: retry.delay };
    let _ = c.queue.send(msg);
}

struct Target {
    address: String,
    headers: Vec<(&'static str, String)>,
}

async fn deliver_loop(push: Push, id: String, mut rx: mpsc::UnboundedReceiver<Message>) {
    while let Some(msg) = rx.recv().await {
        if !msg.delay.is_zero() {
            tokio::time::sleep(msg.delay).await;
        }
        let target = {
            let inner = push.lock();
            let Some(c) = inner.channels.get(&id) else { return };
            if c.expiration_ms <= Timestamp::now().as_millisecond() {
                continue;
            }
            let mut headers = vec![
                ("X-Goog-Channel-ID", c.id.clone()),
                ("X-Goog-Channel-Expiration", http_date(c.expiration_ms)),
                ("X-Goog-Resource-ID", c.resource_id.clone()),
                ("X-Goog-Resource-URI", c.resource_uri.clone()),
                ("X-Goog-Resource-State", msg.state.to_owned()),
                ("X-Goog-Message-Number", msg.number.to_string()),
            ];
            if let Some(t) = &c.token {
                headers.push(("X-Goog-Channel-Token", t.clone()));
            }
            Target { address: c.address.clone(), headers }
        };
        for _ in 0..msg.copies {
            deliver(&push, &id, &msg, &target).await;
        }
    }
}

async fn deliver(push: &Push, id: &str, msg: &Message, target: &Target) {
    let mut delay = msg.retry_delay;
    for attempt in 1..=msg.retries + 1 {
        let mut req = push.http.post(&target.address).header("Content-Length", "0");
        for (k, v) in &target.headers {
            req = req.header(*k, v);
        }
        let result = req.send().await;
        let (status, error) = match &result {
            Ok(r) => (Some(r.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        push.lock().deliveries.push(Delivery {
            channel_id: id.to_owned(),
            message_number: msg.number,
            resource_state: msg.state,
            attempt,
            status,
            error,
        });
        let retry = status.is_none_or(|s| (500..600).contains(&s));
        if !retry || attempt > msg.retries {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2);
    }
}

/// `X-Goog-Channel-Expiration` is human-readable: `Tue, 19 Nov 2013 01:13:52 GMT`.
fn http_date(ms: i64) -> String {
    Timestamp::from_millisecond(ms).map(|t| t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()).unwrap_or_default()
}
