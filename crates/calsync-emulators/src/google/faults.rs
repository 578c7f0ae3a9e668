//! Fault injection and the request log (protocols.md §1.12, §1.14 item 8): the next N
//! requests (optionally matching a method and a path fragment) fail with a chosen status,
//! every request may be slowed, and each user may be held to a request rate.

use super::error::ApiError;
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// A rule: fail the next `count` matching requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// 401, 403, 429, 500, 503 (or any 4xx/5xx).
    pub status: u16,
    /// Google's reason, e.g. `rateLimitExceeded`, `userRateLimitExceeded`, `quotaExceeded`;
    /// by default the usual one for the status.
    #[serde(default)]
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
    /// Carry the request out first, then answer with the fault: Google committed and the
    /// client hears an error (an answer lost on the way back).
    #[serde(default)]
    pub after_commit: bool,
    /// Hold the answer this long (with `after_commit`, a client killed meanwhile never
    /// learns that its write was committed).
    #[serde(default)]
    pub delay_ms: u64,
}

/// What a matching rule does to one request.
#[derive(Debug)]
pub struct Injected {
    pub error: ApiError,
    pub after_commit: bool,
    pub delay: Duration,
}

fn one() -> u32 {
    1
}

impl FaultRule {
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

/// A request the emulator answered, for tests to assert on (`sendUpdates` in particular).
#[derive(Debug, Clone, Serialize)]
pub struct RequestRecord {
    pub at: Timestamp,
    pub method: String,
    pub path: String,
    pub query: String,
    /// The `sendUpdates` parameter, when given (`all`, `externalOnly`, `none`).
    pub send_updates: Option<String>,
    pub status: u16,
    /// Set when an injected fault answered.
    pub injected: bool,
}

#[derive(Debug, Default)]
pub struct Faults {
    pub rules: Vec<FaultRule>,
    pub latency: Duration,
    requests_by_user: HashMap<String, VecDeque<Timestamp>>,
    pub log: Vec<RequestRecord>,
}

/// The log keeps the latest requests only.
const LOG_MAX: usize = 100_000;

impl Faults {
    /// The fault for this request, if a rule matches (the rule's count goes down).
    pub fn take(&mut self, method: &str, path: &str) -> Option<Injected> {
        let i = self.rules.iter().position(|r| {
            r.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
                && r.path.as_deref().is_none_or(|p| path.contains(p))
        })?;
        let rule = &mut self.rules[i];
        rule.count -= 1;
        let status = StatusCode::from_u16(rule.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut error = ApiError::injected(status, rule.reason.as_deref());
        error.retry_after = rule.retry_after;
        let injected = Injected { error, after_commit: rule.after_commit, delay: Duration::from_millis(rule.delay_ms) };
        if rule.count == 0 {
            self.rules.remove(i);
        }
        Some(injected)
    }

    /// Sliding one-minute window per user; `false` when the user is over `limit`.
    pub fn admit(&mut self, user: &str, limit: Option<u32>, now: Timestamp) -> bool {
        let Some(limit) = limit else { return true };
        let window = self.requests_by_user.entry(user.to_owned()).or_default();
        let cutoff = now.checked_sub(jiff::SignedDuration::from_secs(60)).unwrap_or(now);
        while window.front().is_some_and(|t| *t <= cutoff) {
            window.pop_front();
        }
        if window.len() >= usize::try_from(limit).unwrap_or(usize::MAX) {
            return false;
        }
        window.push_back(now);
        true
    }

    pub fn record(&mut self, r: RequestRecord) {
        if self.log.len() >= LOG_MAX {
            self.log.drain(..LOG_MAX / 10);
        }
        self.log.push(r);
    }
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
        assert_eq!(f.take("POST", "/calendar/v3/calendars/a/events").map(|e| e.error.status.as_u16()), Some(503));
        assert!(f.take("POST", "/x/events").is_some());
        assert!(f.take("POST", "/x/events").is_none());
    }

    #[test]
    fn injected_403_carries_the_requested_reason() {
        let mut f = Faults::default();
        f.rules.push(FaultRule { reason: Some("quotaExceeded".into()), ..rule(403, 1, None, None) });
        let e = f.take("GET", "/").map_or_else(ApiError::not_found, |i| i.error);
        assert_eq!((e.status.as_u16(), e.reason.as_str(), e.domain), (403, "quotaExceeded", "usageLimits"));
    }

    #[test]
    fn the_rate_limit_admits_the_limit_per_minute() {
        let mut f = Faults::default();
        let t0 = Timestamp::UNIX_EPOCH;
        assert!(f.admit("u", Some(2), t0));
        assert!(f.admit("u", Some(2), t0));
        assert!(!f.admit("u", Some(2), t0));
        assert!(f.admit("v", Some(2), t0));
        let later = t0.checked_add(jiff::SignedDuration::from_secs(61)).unwrap_or(t0);
        assert!(f.admit("u", Some(2), later));
    }
}
