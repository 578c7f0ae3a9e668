//! The Google Calendar v3 connector (protocols.md §1): hand-written requests over reqwest.

pub mod map;

use crate::error::{ProviderError, parse_retry_after, permanent, transient};
use crate::model::{ChangePage, Channel, EventWrite, PageNext, RemoteCalendar, RemoteEvent};
use crate::oauth::AccessTokens;
use crate::{Provider, segment};
use async_trait::async_trait;
use map::{event_from_google, event_to_google, remote_id_for};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::time::Duration;

/// Page size for listings unless told otherwise (Google's maximum is 2,500).
const PAGE_SIZE: u16 = 1000;

#[derive(Debug)]
pub struct GoogleProvider {
    http: reqwest::Client,
    /// `https://www.googleapis.com/calendar/v3/` or an emulator's; ends with `/`.
    api_root: String,
    tokens: AccessTokens,
    /// `maxResults` of listings, as sent.
    page_size: String,
}

/// One answer: status, `Retry-After`, and the JSON body (`Null` when empty).
struct Answer {
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Value,
}

impl GoogleProvider {
    pub fn new(http: reqwest::Client, api_root: &str, tokens: AccessTokens) -> Self {
        let api_root = if api_root.ends_with('/') { api_root.to_owned() } else { format!("{api_root}/") };
        Self { http, api_root, tokens, page_size: PAGE_SIZE.to_string() }
    }

    /// Lists in pages of `n` events (1 to Google's 2,500).
    #[must_use]
    pub fn with_page_size(mut self, n: u16) -> Self {
        self.page_size = n.clamp(1, 2500).to_string();
        self
    }

    fn events_url(&self, calendar: &str) -> String {
        format!("{}calendars/{}/events", self.api_root, segment(calendar))
    }

    /// Sends with a valid access token (on 401 refreshes once and repeats), and turns any
    /// non-2xx answer into an error.
    async fn call(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Value, ProviderError> {
        let mut forced = false;
        loop {
            let token = self.tokens.get(&self.http, forced).await?;
            let mut target = reqwest::Url::parse(url).map_err(|e| permanent(0, "url", e.to_string()))?;
            if !query.is_empty() {
                target.query_pairs_mut().extend_pairs(query);
            }
            let mut req = self.http.request(method.clone(), target).bearer_auth(token.expose_secret());
            if let Some(tag) = if_match {
                req = req.header(reqwest::header::IF_MATCH, tag);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let r = req.send().await.map_err(|e| transient(format!("{method} {url}: {e}"), None))?;
            let status = r.status();
            let retry_after =
                r.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
            let bytes = r.bytes().await.map_err(|e| transient(format!("{method} {url}: {e}"), None))?;
            if status == StatusCode::UNAUTHORIZED && !forced {
                forced = true;
                continue;
            }
            let body =
                if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
            let answer = Answer { status, retry_after, body };
            return if status.is_success() { Ok(answer.body) } else { Err(classify(&answer)) };
        }
    }
}

/// Google's error reason (`error.errors[0].reason`).
fn reason(body: &Value) -> String {
    body.pointer("/error/errors/0/reason").and_then(Value::as_str).unwrap_or("").to_owned()
}

fn message(body: &Value) -> String {
    body.pointer("/error/message").and_then(Value::as_str).unwrap_or("").to_owned()
}

fn classify(a: &Answer) -> ProviderError {
    let why = reason(&a.body);
    match a.status.as_u16() {
        401 => ProviderError::NeedsReauth(format!("Google refused a freshly refreshed token: {}", message(&a.body))),
        404 => ProviderError::NotFound,
        409 if why == "duplicate" => ProviderError::Duplicate,
        410 if why == "fullSyncRequired" || why == "updatedMinTooLongAgo" => ProviderError::CursorExpired,
        410 => ProviderError::NotFound,
        412 => ProviderError::PreconditionFailed,
        403 if matches!(why.as_str(), "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded") => {
            transient(format!("403 {why}"), a.retry_after)
        }
        s @ (408 | 409 | 429 | 500..=599) => transient(format!("{s} {why} {}", message(&a.body)), a.retry_after),
        s => permanent(s, &why, message(&a.body)),
    }
}

/// Google's instance id of the occurrence `original_start` of series `series_id` (§1.4).
fn instance_id(series_id: &str, original_start: &calsync_core::EventTimeInput) -> Option<String> {
    let t = calsync_core::EventTime::parse(original_start).ok()?;
    Some(format!("{series_id}_{}", t.compact()))
}

fn items(body: &Value) -> Vec<RemoteEvent> {
    body.get("items")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|item| {
                    let mapped = event_from_google(item);
                    if mapped.is_none() {
                        tracing::warn!(id = ?item.get("id"), "skipping a Google event calsync cannot read");
                    }
                    mapped
                })
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl Provider for GoogleProvider {
    async fn calendars(&self) -> Result<Vec<RemoteCalendar>, ProviderError> {
        let url = format!("{}users/me/calendarList", self.api_root);
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut q = vec![("maxResults", "250")];
            if let Some(p) = &page {
                q.push(("pageToken", p));
            }
            let body = self.call(Method::GET, &url, &q, None, None).await?;
            for c in body.get("items").and_then(Value::as_array).into_iter().flatten() {
                let Some(id) = c.get("id").and_then(Value::as_str) else { continue };
                let role = c.get("accessRole").and_then(Value::as_str).unwrap_or("reader");
                out.push(RemoteCalendar {
                    id: id.to_owned(),
                    name: c
                        .get("summaryOverride")
                        .or_else(|| c.get("summary"))
                        .and_then(Value::as_str)
                        .unwrap_or(id)
                        .to_owned(),
                    time_zone: c.get("timeZone").and_then(Value::as_str).map(str::to_owned),
                    primary: c.get("primary").and_then(Value::as_bool).unwrap_or(false),
                    writable: matches!(role, "owner" | "writer"),
                });
            }
            match body.get("nextPageToken").and_then(Value::as_str) {
                Some(p) => page = Some(p.to_owned()),
                None => return Ok(out),
            }
        }
    }

    async fn list(
        &self,
        calendar: &str,
        cursor: Option<&str>,
        page: Option<&str>,
    ) -> Result<ChangePage, ProviderError> {
        let mut q: Vec<(&str, &str)> = vec![("maxResults", &self.page_size)];
        match cursor {
            Some(c) => q.push(("syncToken", c)),
            // A full listing without tombstones: what is listed is what exists (§1.6).
            None => q.push(("showDeleted", "false")),
        }
        if let Some(p) = page {
            q.push(("pageToken", p));
        }
        let body = self.call(Method::GET, &self.events_url(calendar), &q, None, None).await?;
        let next = match (
            body.get("nextPageToken").and_then(Value::as_str),
            body.get("nextSyncToken").and_then(Value::as_str),
        ) {
            (Some(p), _) => PageNext::More(p.to_owned()),
            (None, Some(s)) => PageNext::Done(s.to_owned()),
            (None, None) => {
                return Err(transient("Google listing page had neither nextPageToken nor nextSyncToken".into(), None));
            }
        };
        Ok(ChangePage { events: items(&body), next, window: None })
    }

    async fn get(&self, calendar: &str, remote_id: &str) -> Result<Option<RemoteEvent>, ProviderError> {
        let url = format!("{}/{}", self.events_url(calendar), segment(remote_id));
        match self.call(Method::GET, &url, &[], None, None).await {
            Ok(body) => Ok(event_from_google(&body)),
            Err(ProviderError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create(&self, calendar: &str, write: &EventWrite<'_>) -> Result<RemoteEvent, ProviderError> {
        if let Some(series) = write.series {
            // An exception is written onto the occurrence's instance id.
            let id = instance_id(&series.series_remote_id, &series.original_start)
                .ok_or_else(|| permanent(400, "invalid", "the exception's original start cannot be read".into()))?;
            return self.update(calendar, &id, None, write).await;
        }
        let id = remote_id_for(write.local_id);
        let body = event_to_google(write.input, write.local_id, Some(&id));
        let out =
            self.call(Method::POST, &self.events_url(calendar), &[("sendUpdates", "none")], Some(&body), None).await?;
        event_from_google(&out)
            .ok_or_else(|| transient("Google answered the insert with something unreadable".into(), None))
    }

    async fn update(
        &self,
        calendar: &str,
        remote_id: &str,
        etag: Option<&str>,
        write: &EventWrite<'_>,
    ) -> Result<RemoteEvent, ProviderError> {
        let url = format!("{}/{}", self.events_url(calendar), segment(remote_id));
        let body = event_to_google(write.input, write.local_id, None);
        let out = self.call(Method::PUT, &url, &[("sendUpdates", "none")], Some(&body), etag).await?;
        event_from_google(&out)
            .ok_or_else(|| transient("Google answered the update with something unreadable".into(), None))
    }

    async fn delete(&self, calendar: &str, remote_id: &str, etag: Option<&str>) -> Result<(), ProviderError> {
        let url = format!("{}/{}", self.events_url(calendar), segment(remote_id));
        match self.call(Method::DELETE, &url, &[("sendUpdates", "none")], None, etag).await {
            Ok(_) | Err(ProviderError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn watch(
        &self,
        calendar: &str,
        channel_id: &str,
        token: &str,
        address: &str,
    ) -> Result<Option<Channel>, ProviderError> {
        let url = format!("{}/watch", self.events_url(calendar));
        let body = json!({"id": channel_id, "type": "web_hook", "address": address, "token": token});
        let out = self.call(Method::POST, &url, &[], Some(&body), None).await?;
        let resource_id = out.get("resourceId").and_then(Value::as_str).unwrap_or_default().to_owned();
        let expires_at_ms = match out.get("expiration") {
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            Some(v) => v.as_i64().unwrap_or(0),
            None => 0,
        };
        Ok(Some(Channel { id: channel_id.to_owned(), resource_id, token: token.to_owned(), expires_at_ms }))
    }

    async fn unwatch(&self, channel: &Channel) -> Result<(), ProviderError> {
        let url = format!("{}channels/stop", self.api_root);
        let body = json!({"id": channel.id, "resourceId": channel.resource_id});
        match self.call(Method::POST, &url, &[], Some(&body), None).await {
            Ok(_) | Err(ProviderError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn take_rotated_refresh_token(&self) -> Option<secrecy::SecretString> {
        self.tokens.take_rotated()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(segment("team@group.calendar.google.com"), "team%40group.calendar.google.com");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }
}
