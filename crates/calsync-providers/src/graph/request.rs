//! One request to Graph: the access token (refreshed once on a 401), the `Prefer` header
//! every call carries, the mailbox's concurrency limit, and the answer classified for the
//! engine (protocols.md §2.5).

use super::GraphProvider;
use crate::error::{ProviderError, parse_retry_after};
pub(super) use crate::error::{permanent, transient};
pub(super) use crate::segment;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;
use std::time::Duration;

/// A throttled read is tried again at once (after a `Retry-After` up to this long, else a
/// second), so one 429 does not throw away a long listing; longer waits go to the engine.
const READ_RETRY_WAIT: Duration = Duration::from_secs(5);
/// Reads tried again at most this often.
const READ_RETRIES: u32 = 3;

impl GraphProvider {
    /// `path` under the API root (`me/events/…`).
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api_root)
    }

    /// Sends with a valid access token (on 401 refreshes once and repeats) and turns any
    /// non-2xx answer into an error. `url` is absolute: built with [`Self::url`], or a
    /// `@odata.nextLink`/`@odata.deltaLink` as Graph gave it (used verbatim, §2.3), which must
    /// lie under the API root so a forged cursor cannot send our token elsewhere.
    ///
    /// At most four requests are in flight per provider (one provider per mailbox), Outlook's
    /// per-mailbox concurrency limit (§2.5, MS-THR); the token endpoint is not counted.
    pub(super) async fn call(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Value, ProviderError> {
        if !url.starts_with(&self.api_root) {
            return Err(permanent(0, "url", format!("{url} is not under the Graph API root {}", self.api_root)));
        }
        let mut target = reqwest::Url::parse(url).map_err(|e| permanent(0, "url", e.to_string()))?;
        if !query.is_empty() {
            target.query_pairs_mut().extend_pairs(query);
        }
        let mut forced = false;
        let mut retries = 0;
        loop {
            let token = self.tokens.get(&self.http, forced).await?;
            let mut req = self
                .http
                .request(method.clone(), target.clone())
                .bearer_auth(token.expose_secret())
                .header("Prefer", &self.prefer);
            if let Some(tag) = if_match {
                req = req.header(reqwest::header::IF_MATCH, tag);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let (status, retry_after, bytes) = {
                let _permit = self
                    .in_flight
                    .acquire()
                    .await
                    .map_err(|_| transient("the request limiter was closed".into(), None))?;
                let r = req.send().await.map_err(|e| transient(format!("{method} {url}: {e}"), None))?;
                let status = r.status();
                let retry_after = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                let bytes = r.bytes().await.map_err(|e| transient(format!("{method} {url}: {e}"), None))?;
                (status, retry_after, bytes)
            };
            if status == StatusCode::UNAUTHORIZED && !forced {
                forced = true;
                continue;
            }
            let body =
                if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
            if status.is_success() {
                return Ok(body);
            }
            let error = classify(status, retry_after, &body);
            if let ProviderError::Transient { retry_after, .. } = &error {
                let wait = retry_after.unwrap_or(Duration::from_secs(1));
                if method == Method::GET && retries < READ_RETRIES && wait <= READ_RETRY_WAIT && status.as_u16() != 408
                {
                    retries += 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            return Err(error);
        }
    }

    /// Every item of a collection, following `@odata.nextLink` to the end.
    pub(super) async fn collect(&self, url: &str, query: &[(&str, &str)]) -> Result<Vec<Value>, ProviderError> {
        let mut out = Vec::new();
        let mut body = self.call(Method::GET, url, query, None, None).await?;
        loop {
            if let Some(Value::Array(items)) = body.get_mut("value").map(Value::take) {
                out.extend(items);
            }
            match body.get("@odata.nextLink").and_then(Value::as_str).map(str::to_owned) {
                Some(next) => body = self.call(Method::GET, &next, &[], None, None).await?,
                None => return Ok(out),
            }
        }
    }
}

/// Graph's error code: `error.code`, else the nested one (`innerError` or `innererror`,
/// both spellings occur, §2.5).
pub(super) fn error_code(body: &Value) -> String {
    let error = body.get("error");
    let code = |v: Option<&Value>| v.and_then(|v| v.get("code")).and_then(Value::as_str).map(str::to_owned);
    code(error)
        .or_else(|| code(error.and_then(|e| e.get("innerError").or_else(|| e.get("innererror")))))
        .unwrap_or_default()
}

/// Every code of the error, outer and inner: a dead delta token may show on either.
fn error_codes(body: &Value) -> Vec<&str> {
    let error = body.get("error");
    [error, error.and_then(|e| e.get("innerError")), error.and_then(|e| e.get("innererror"))]
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("code").and_then(Value::as_str))
        .collect()
}

fn message(body: &Value) -> String {
    body.pointer("/error/message").and_then(Value::as_str).unwrap_or("").to_owned()
}

/// A failed answer as the engine acts on it (error.rs). A 401 here came after a forced
/// refresh, so the grant itself is refused.
pub(super) fn classify(status: StatusCode, retry_after: Option<Duration>, body: &Value) -> ProviderError {
    let code = error_code(body);
    // The documented codes are `syncStateNotFound` and `resyncRequired`, observed as
    // `SyncStateNotFound` too (§2.3): compare without case.
    let resync = error_codes(body)
        .iter()
        .any(|c| c.eq_ignore_ascii_case("syncStateNotFound") || c.eq_ignore_ascii_case("resyncRequired"));
    match status.as_u16() {
        _ if resync => ProviderError::CursorExpired,
        401 => ProviderError::NeedsReauth(format!("Graph refused a freshly refreshed token: {code} {}", message(body))),
        404 => ProviderError::NotFound,
        410 => ProviderError::CursorExpired,
        412 => ProviderError::PreconditionFailed,
        // 409 is Outlook's ErrorIrresolvableConflict for concurrent writes (§2.4): try again.
        s @ (408 | 409 | 429 | 500..=599) => transient(format!("{s} {code} {}", message(body)), retry_after),
        s => permanent(s, &code, message(body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RETRY_AFTER_CAP;
    use serde_json::json;

    fn status(s: u16) -> StatusCode {
        StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    #[test]
    fn answers_are_classified_for_the_engine() {
        let gone = json!({"error": {"code": "SyncStateNotFound", "message": "generation=149"}});
        assert_eq!(classify(status(410), None, &gone), ProviderError::CursorExpired);
        let resync = json!({"error": {"code": "badRequest", "innererror": {"code": "resyncRequired"}}});
        assert_eq!(classify(status(400), None, &resync), ProviderError::CursorExpired);
        assert_eq!(classify(status(410), None, &Value::Null), ProviderError::CursorExpired);
        assert_eq!(
            classify(status(404), None, &json!({"error": {"code": "ErrorItemNotFound"}})),
            ProviderError::NotFound
        );
        assert_eq!(
            classify(status(412), None, &json!({"error": {"code": "ErrorIrresolvableConflict"}})),
            ProviderError::PreconditionFailed
        );
        let throttled = json!({"error": {"code": "TooManyRequests", "innerError": {"code": "429"}}});
        assert_eq!(
            classify(status(429), Some(Duration::from_secs(7)), &throttled),
            ProviderError::Transient {
                message: "429 TooManyRequests ".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(matches!(
            classify(status(503), Some(Duration::from_secs(3600)), &Value::Null),
            ProviderError::Transient { retry_after: Some(d), .. } if d == RETRY_AFTER_CAP
        ));
        let invalid = json!({"error": {"code": "ErrorInvalidRequest", "message": "bad pattern"}});
        assert_eq!(
            classify(status(400), None, &invalid),
            ProviderError::Permanent {
                status: 400,
                reason: "ErrorInvalidRequest".into(),
                message: "bad pattern".into()
            }
        );
    }

    #[test]
    fn the_error_code_is_read_from_either_inner_spelling() {
        assert_eq!(error_code(&json!({"error": {"innerError": {"code": "a"}}})), "a");
        assert_eq!(error_code(&json!({"error": {"innererror": {"code": "b"}}})), "b");
        assert_eq!(error_code(&json!({"error": {"code": "c", "innererror": {"code": "d"}}})), "c");
        assert_eq!(error_code(&Value::Null), "");
    }

    #[test]
    fn ids_stay_one_path_segment() {
        assert_eq!(segment("AAMkAD+/x=="), "AAMkAD%2B%2Fx%3D%3D");
    }
}
