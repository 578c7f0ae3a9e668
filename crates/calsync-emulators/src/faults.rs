//! Fault injection, artificial latency and the request log: one design for every emulator.
//!
//! A test stages bad days through `/_emulator/faults` (the next N requests matching a method
//! and a path fragment fail with a chosen status, optionally after the write was carried out,
//! optionally late), slows every request down, and reads back what the emulator answered from
//! `/_emulator/requests`. What is generic lives here; each emulator only says how a fault looks
//! in its provider's error body ([`FaultHost::render`]), which extra columns its log has, and
//! whether a request must be throttled before it runs ([`FaultHost::admit`]).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

/// A rule: fail the next `count` matching requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// 401, 403, 429, 500, 503 (or any 4xx/5xx).
    pub status: u16,
    /// The provider's reason or error code (Google: `rateLimitExceeded`, `quotaExceeded`, …;
    /// Graph: `TooManyRequests`, `ApplicationThrottled`, …); by default the usual one for the
    /// status. `code` is accepted as another name for it.
    #[serde(default, alias = "code")]
    pub reason: Option<String>,
    #[serde(default = "one")]
    pub count: u32,
    /// Only requests with this method (`GET`, `POST`, …).
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path contains this text.
    #[serde(default)]
    pub path: Option<String>,
    /// Seconds for a `Retry-After` header.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Carry the request out first, then answer with the fault: the provider committed and the
    /// client hears an error (an answer lost on the way back).
    #[serde(default)]
    pub after_commit: bool,
    /// Hold the answer this long (with `after_commit`, a client killed meanwhile never
    /// learns that its write was committed).
    #[serde(default)]
    pub delay_ms: u64,
}

fn one() -> u32 {
    1
}

impl FaultRule {
    /// # Errors
    /// A message naming the field that is out of range.
    pub fn validate(&self) -> Result<(), String> {
        if !(400..=599).contains(&self.status) {
            return Err(format!("status must be a 4xx or 5xx code, got {}", self.status));
        }
        if self.count == 0 {
            return Err("count must be at least 1".into());
        }
        if self.delay_ms > 600_000 {
            return Err(format!("delay_ms must be at most 600000, got {}", self.delay_ms));
        }
        Ok(())
    }
}

/// What a matching rule does to one request; the emulator renders it in its provider's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub status: StatusCode,
    pub reason: Option<String>,
    pub retry_after: Option<u64>,
    pub after_commit: bool,
    pub delay: Duration,
}

/// A request the emulator answered, for tests to assert on.
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub at: Timestamp,
    pub method: String,
    pub path: String,
    pub query: String,
    /// The emulator's own columns (Google: `send_updates`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    pub status: u16,
    /// Set when an injected fault answered.
    pub injected: bool,
}

/// Pending rules, the latency every request gets, and the log.
#[derive(Debug, Default)]
pub struct Faults {
    pub rules: Vec<FaultRule>,
    pub latency: Duration,
    pub log: Vec<RequestRecord>,
}

/// The log keeps the latest requests only.
const LOG_MAX: usize = 100_000;

impl Faults {
    /// The fault for this request, if a rule matches (the rule's count goes down).
    pub fn take(&mut self, method: &str, path: &str) -> Option<Fired> {
        let i = self.rules.iter().position(|r| {
            r.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.path.as_deref().is_none_or(|p| path.contains(p))
        })?;
        let rule = &mut self.rules[i];
        rule.count -= 1;
        let fired = Fired {
            status: StatusCode::from_u16(rule.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            reason: rule.reason.clone(),
            retry_after: rule.retry_after,
            after_commit: rule.after_commit,
            delay: Duration::from_millis(rule.delay_ms),
        };
        if rule.count == 0 {
            self.rules.remove(i);
        }
        Some(fired)
    }

    pub fn record(&mut self, r: RequestRecord) {
        if self.log.len() >= LOG_MAX {
            self.log.drain(..LOG_MAX / 10);
        }
        self.log.push(r);
    }
}

/// Request counts per key over a sliding window (Google: per user per minute; Graph: per app
/// and mailbox per ten minutes).
#[derive(Debug, Default)]
pub struct SlidingWindow {
    by_key: HashMap<String, VecDeque<Timestamp>>,
}

impl SlidingWindow {
    /// Counts one request for `key`. `Err(seconds)` when `key` already made `limit` requests in
    /// the last `window`: the seconds until the oldest of them leaves it (at least 1).
    pub fn admit(&mut self, key: &str, limit: Option<u32>, window: Duration, now: Timestamp) -> Result<(), u64> {
        let Some(limit) = limit else { return Ok(()) };
        let span = jiff::SignedDuration::try_from(window).unwrap_or(jiff::SignedDuration::from_secs(60));
        let times = self.by_key.entry(key.to_owned()).or_default();
        let cutoff = now.checked_sub(span).unwrap_or(now);
        while times.front().is_some_and(|t| *t <= cutoff) {
            times.pop_front();
        }
        if times.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
            let oldest = times.front().copied().unwrap_or(now);
            let free_at = oldest.checked_add(span).unwrap_or(now);
            let wait = free_at.duration_since(now).as_secs().max(1);
            return Err(u64::try_from(wait).unwrap_or(1));
        }
        times.push_back(now);
        Ok(())
    }
}

/// A value held while a request runs (a concurrency slot); dropped when it is answered.
pub(crate) type Permit = Box<dyn Send>;

/// What an emulator supplies to the shared fault machinery.
pub(crate) trait FaultHost: Send + Sync + 'static {
    fn faults(&self) -> MutexGuard<'_, Faults>;

    /// An injected fault in the provider's error body (with `Retry-After` when the rule has one).
    fn render(&self, fault: &Fired) -> Response;

    /// A malformed control request, in the emulator's error body.
    fn bad_control_request(&self, message: String) -> Response;

    /// Provider-specific columns of the request log.
    fn annotate(&self, _query: &str) -> Map<String, Value> {
        Map::new()
    }

    /// Throttling before anything else happens: `Err` answers at once, `Ok(Some)` is held
    /// until the answer is sent (a concurrency slot).
    fn admit(&self, _parts: &Parts) -> Result<Option<Permit>, Box<Response>> {
        Ok(None)
    }
}

/// The middleware around a provider's paths: throttling, latency, injected faults, the log.
pub(crate) async fn layer<S: FaultHost>(State(s): State<Arc<S>>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let (parts, body) = req.into_parts();
    let admitted = s.admit(&parts);
    let req = Request::from_parts(parts, body);
    let (response, injected) = match admitted {
        Err(refused) => (*refused, false),
        Ok(permit) => {
            let latency = s.faults().latency;
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let fired = s.faults().take(&method, &path);
            let out = match fired {
                Some(fault) => {
                    if fault.after_commit {
                        drop(next.run(req).await);
                    }
                    tokio::time::sleep(fault.delay).await;
                    (s.render(&fault), true)
                }
                None => (next.run(req).await, false),
            };
            drop(permit);
            out
        }
    };
    let extra = s.annotate(&query);
    s.faults().record(RequestRecord {
        at: Timestamp::now(),
        method,
        path,
        query,
        extra,
        status: response.status().as_u16(),
        injected,
    });
    response
}

/// `/_emulator/faults` and `/_emulator/requests`, the same for every emulator.
pub(crate) fn routes<S: FaultHost>() -> Router<Arc<S>> {
    Router::new()
        .route("/_emulator/faults", post(add_fault::<S>).get(list_faults::<S>).delete(clear_faults::<S>))
        .route("/_emulator/requests", get(list_requests::<S>).delete(clear_requests::<S>))
}

async fn add_fault<S: FaultHost>(State(s): State<Arc<S>>, body: Bytes) -> Response {
    let rule: FaultRule = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return s.bad_control_request(format!("Invalid control request body: {e}")),
    };
    if let Err(e) = rule.validate() {
        return s.bad_control_request(e);
    }
    s.faults().rules.push(rule);
    StatusCode::NO_CONTENT.into_response()
}

async fn list_faults<S: FaultHost>(State(s): State<Arc<S>>) -> Response {
    let f = s.faults();
    axum::Json(json!({"faults": f.rules, "latencyMs": f.latency.as_millis()})).into_response()
}

async fn clear_faults<S: FaultHost>(State(s): State<Arc<S>>) -> Response {
    s.faults().rules.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_requests<S: FaultHost>(State(s): State<Arc<S>>) -> Response {
    let log = s.faults().log.clone();
    axum::Json(json!({"requests": log})).into_response()
}

async fn clear_requests<S: FaultHost>(State(s): State<Arc<S>>) -> Response {
    s.faults().log.clear();
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(status: u16, count: u32, method: Option<&str>, path: Option<&str>) -> FaultRule {
        FaultRule {
            status,
            reason: None,
            count,
            method: method.map(Into::into),
            path: path.map(Into::into),
            retry_after: None,
            after_commit: false,
            delay_ms: 0,
        }
    }

    #[test]
    fn a_rule_fails_exactly_its_count_of_matching_requests() {
        let mut f = Faults::default();
        f.rules.push(rule(503, 2, Some("POST"), Some("/events")));
        assert!(f.take("GET", "/calendar/v3/calendars/a/events").is_none());
        assert_eq!(f.take("POST", "/calendar/v3/calendars/a/events").map(|e| e.status.as_u16()), Some(503));
        assert!(f.take("POST", "/x/events").is_some());
        assert!(f.take("POST", "/x/events").is_none());
    }

    #[test]
    fn code_is_another_name_for_reason() {
        let r: FaultRule = serde_json::from_value(json!({"status": 429, "code": "ApplicationThrottled"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.reason.as_deref(), Some("ApplicationThrottled"));
        assert_eq!(serde_json::to_value(&r).unwrap_or_default()["reason"], json!("ApplicationThrottled"));
    }

    #[test]
    fn the_window_admits_the_limit_and_says_when_to_come_back() {
        let mut w = SlidingWindow::default();
        let minute = Duration::from_secs(60);
        let t0 = Timestamp::UNIX_EPOCH;
        assert!(w.admit("u", Some(2), minute, t0).is_ok());
        assert!(w.admit("u", Some(2), minute, t0).is_ok());
        assert_eq!(w.admit("u", Some(2), minute, t0), Err(60));
        assert!(w.admit("v", Some(2), minute, t0).is_ok());
        assert!(w.admit("u", None, minute, t0).is_ok());
        let later = t0.checked_add(jiff::SignedDuration::from_secs(61)).unwrap_or(t0);
        assert!(w.admit("u", Some(2), minute, later).is_ok());
    }
}
