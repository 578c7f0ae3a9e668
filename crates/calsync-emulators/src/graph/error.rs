//! Graph's error body `{"error":{"code","message","innerError":{"date","request-id",
//! "client-request-id"}}}` (protocols.md §2.5, MS-ERR), and the Microsoft identity
//! platform's OAuth errors with `AADSTS` codes (§2.7).

use super::ids::guid;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};

/// One Graph API error. Boxed: it travels in every `Result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError(Box<Detail>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub retry_after: Option<u64>,
    /// `Location` header (a 410 for a dead delta token points at the initial query).
    pub location: Option<String>,
    /// `innerError.code`, as throttling answers carry it.
    pub inner_code: Option<String>,
}

pub type GraphResult<T> = Result<T, GraphError>;

impl std::ops::Deref for GraphError {
    type Target = Detail;
    fn deref(&self) -> &Detail {
        &self.0
    }
}

impl std::ops::DerefMut for GraphError {
    fn deref_mut(&mut self) -> &mut Detail {
        &mut self.0
    }
}

impl GraphError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self(Box::new(Detail {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
            location: None,
            inner_code: None,
        }))
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "ErrorItemNotFound", "The specified object was not found in the store.")
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ErrorInvalidRequest", message)
    }

    /// A body that is not JSON, or a property of the wrong type or unknown to the type.
    pub fn body_read(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "RequestBodyRead", message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ErrorInvalidParameter", message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", message)
    }

    pub fn access_denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    }

    /// `If-Match` names another version (observed code for Outlook items, §2.4).
    pub fn change_key_mismatch() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
        )
    }

    pub fn sync_state_not_found(location: String) -> Self {
        let mut e = Self::new(
            StatusCode::GONE,
            "SyncStateNotFound",
            "The sync state generation is not found; the delta token expired or was evicted. Start a new sync from the Location URL.",
        );
        e.location = Some(location);
        e
    }

    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "Please retry again later.");
        e.retry_after = Some(retry_after);
        e.inner_code = Some("429".into());
        e
    }

    pub fn mailbox_concurrency(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
        );
        e.retry_after = Some(retry_after);
        e.inner_code = Some("429".into());
        e
    }

    /// The error an injected fault answers with: the usual code and message for the status.
    pub fn injected(status: StatusCode, code: Option<&str>, retry_after: Option<u64>) -> Self {
        let mut e = match status.as_u16() {
            401 => Self::unauthenticated("Access token has expired or is not yet valid."),
            403 => Self::access_denied(),
            404 => Self::not_found(),
            409 => {
                Self::new(status, "ErrorIrresolvableConflict", "Another write to this item happened at the same time.")
            }
            412 => Self::change_key_mismatch(),
            429 => Self::too_many_requests(retry_after.unwrap_or(1)),
            500 => Self::new(
                status,
                "ErrorInternalServerError",
                "An internal server error occurred. The operation failed.",
            ),
            503 => {
                Self::new(status, "ServiceUnavailable", "The service is temporarily unavailable. Please retry later.")
            }
            504 => Self::new(status, "GatewayTimeout", "The gateway did not receive a response in time."),
            _ => Self::new(status, "UnknownError", status.canonical_reason().unwrap_or("Error")),
        };
        e.status = status;
        if let Some(c) = code {
            c.clone_into(&mut e.code);
        }
        e.retry_after = retry_after.or(e.retry_after);
        e
    }

    pub fn body(&self) -> Value {
        let mut inner = json!({
            "date": Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": guid(),
            "client-request-id": guid(),
        });
        if let Some(c) = &self.inner_code {
            inner["code"] = json!(c);
        }
        json!({"error": {"code": self.code, "message": self.message, "innerError": inner}})
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                ),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(l) = self.location.as_deref().and_then(|l| HeaderValue::from_str(l).ok()) {
            headers.insert(header::LOCATION, l);
        }
        response
    }
}

/// A token-endpoint error of the Microsoft identity platform: `error`, `error_description`
/// starting with `AADSTS<n>:`, and `error_codes: [n]` (§2.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AadError {
    pub status: StatusCode,
    pub error: &'static str,
    pub aadsts: u32,
    pub message: String,
}

impl AadError {
    pub fn new(error: &'static str, aadsts: u32, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error, aadsts, message: message.into() }
    }

    /// A refresh token that was revoked (password change, admin action, control API).
    pub fn revoked() -> Self {
        Self::new(
            "invalid_grant",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
        )
    }

    /// A refresh token that was rotated out, or never issued.
    pub fn bad_refresh_token() -> Self {
        Self::new("invalid_grant", 70000, "The provided grant is invalid or malformed. The refresh token is not valid.")
    }
}

impl IntoResponse for AadError {
    fn into_response(self) -> Response {
        let now = Timestamp::now().strftime("%Y-%m-%d %H:%M:%SZ").to_string();
        let (trace, correlation) = (guid(), guid());
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {now}",
            self.aadsts, self.message
        );
        let body = json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.aadsts],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.aadsts),
        });
        (self.status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response()
    }
}
