//! Google's error envelope: `{"error":{"errors":[{domain,reason,message,...}],"code","message"}}`
//! (protocols.md §1.7, §1.12), and the OAuth endpoints' flat `{"error","error_description"}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One Calendar API error, rendered in Google's envelope. Boxed: it travels in every `Result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(Box<ErrorDetail>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    pub status: StatusCode,
    pub domain: &'static str,
    pub reason: String,
    pub message: String,
    /// `(locationType, location)`, e.g. `("parameter", "syncToken")`.
    pub location: Option<(&'static str, String)>,
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl std::ops::Deref for ApiError {
    type Target = ErrorDetail;
    fn deref(&self) -> &ErrorDetail {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorDetail {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        domain: &'static str,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self(Box::new(ErrorDetail {
            status,
            domain,
            reason: reason.into(),
            message: message.into(),
            location: None,
            retry_after: None,
        }))
    }

    #[must_use]
    pub fn at(mut self, location_type: &'static str, location: impl Into<String>) -> Self {
        self.location = Some((location_type, location.into()));
        self
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "global", "notFound", "Not Found")
    }

    pub fn deleted() -> Self {
        Self::new(StatusCode::GONE, "global", "deleted", "Resource has been deleted")
    }

    pub fn duplicate() -> Self {
        Self::new(StatusCode::CONFLICT, "global", "duplicate", "The requested identifier already exists.")
    }

    pub fn full_sync_required() -> Self {
        Self::new(
            StatusCode::GONE,
            "calendar",
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
        )
        .at("parameter", "syncToken")
    }

    pub fn precondition_failed() -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, "global", "conditionNotMet", "Precondition Failed")
            .at("header", "If-Match")
    }

    /// A request parameter or body field breaks a rule (`reason: invalid`).
    pub fn invalid(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "global", "invalid", message).at("parameter", location)
    }

    pub fn required(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "global", "required", message).at("parameter", location)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "global", "badRequest", message)
    }

    pub fn parse_error(detail: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "global", "parseError", format!("Parse Error: {detail}"))
    }

    pub fn missing_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "global",
            "required",
            "Request is missing required authentication credential. Expected OAuth 2 access token.",
        )
        .at("header", "Authorization")
    }

    pub fn invalid_credentials() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "global", "authError", "Invalid Credentials").at("header", "Authorization")
    }

    pub fn insufficient_scopes() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "global",
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )
    }

    pub fn user_rate_limited() -> Self {
        Self::new(StatusCode::FORBIDDEN, "usageLimits", "userRateLimitExceeded", "User Rate Limit Exceeded")
    }

    /// The error an injected fault answers with: Google's reason and message for the status.
    pub fn injected(status: StatusCode, reason: Option<&str>) -> Self {
        let mut e = match (status.as_u16(), reason) {
            (401, _) => Self::invalid_credentials(),
            (403, Some("userRateLimitExceeded")) => Self::user_rate_limited(),
            (403, Some("quotaExceeded")) => {
                Self::new(status, "usageLimits", "quotaExceeded", "Calendar usage limits exceeded.")
            }
            (403 | 429, _) => Self::new(status, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
            (503, _) => Self::new(status, "global", "backendError", "The service is currently unavailable."),
            (_, _) => Self::new(status, "global", "backendError", "Backend Error"),
        };
        if let Some(r) = reason {
            r.clone_into(&mut e.reason);
        }
        e
    }

    pub fn body(&self) -> Value {
        let mut item = json!({"domain": self.domain, "reason": self.reason, "message": self.message});
        if let Some((t, l)) = &self.location {
            item["locationType"] = json!(t);
            item["location"] = json!(l);
        }
        json!({"error": {"errors": [item], "code": self.status.as_u16(), "message": self.message}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, json_body(&self.body())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=UTF-8"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// An OAuth endpoint error: `{"error": code, "error_description": text}` (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error, description: description.into() }
    }

    /// A refresh token or code that was revoked, expired or never issued (protocols.md §1.13).
    pub fn invalid_grant() -> Self {
        Self::new("invalid_grant", "Token has been expired or revoked.")
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        (self.status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], json_body(&body)).into_response()
    }
}

/// Google answers pretty-printed JSON by default (`prettyPrint=true`).
pub fn json_body(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}
