//! One error type for the HTTP API and the one place that turns it into an RFC 9457
//! `application/problem+json` response. Internal details are logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use calsync_core::{Violation, Violations};
use calsync_store::StoreError;
use serde::Serialize;

/// The problem document (RFC 9457 §3).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:calsync:problem:<kind>`; stable, for programs to branch on.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    /// What happened and what to do, for a human.
    pub detail: String,
    /// For validation problems: every field that broke a rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Violation>,
    /// For 412: the version that is current now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// For 409 on a decision taken on an old view: the resource as it is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request: unreadable JSON, wrong types, unknown fields, bad parameters.
    #[error("{detail}")]
    BadRequest { detail: String, errors: Violations },
    /// Well-formed but breaks the model's rules.
    #[error("{0}")]
    Invalid(Violations),
    #[error("missing or invalid API token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Gone(String),
    #[error("this route does not accept that method; see /api/v1/openapi.json")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{detail}")]
    PreconditionFailed { detail: String, current: Option<i64> },
    /// 409: decided on a view that has changed; `current` is the view now.
    #[error("{detail}")]
    Stale { detail: String, current: serde_json::Value },
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error(
        "the request took longer than {0} seconds and was stopped; if it was a write, read the resource before retrying"
    )]
    Timeout(u64),
    #[error("the database is unavailable; retry shortly")]
    Unavailable,
    /// A feature that needs configuration this server does not have.
    #[error("{0}")]
    NotConfigured(String),
    /// The calendar provider failed or refused.
    #[error("{0}")]
    Upstream(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_field(field: &str, rule: &'static str, message: impl Into<String>) -> Self {
        let errors = Violations::one(field, rule, message);
        Self::BadRequest { detail: errors.to_string(), errors }
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad-request", "The request is malformed"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation", "The request breaks a rule"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::Gone(_) => (StatusCode::GONE, "gone", "Deleted"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Self::Stale { .. } => (StatusCode::CONFLICT, "stale", "Changed since you read it"),
            Self::PreconditionFailed { .. } => {
                (StatusCode::PRECONDITION_FAILED, "precondition-failed", "The resource changed")
            }
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Request body too large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported content type")
            }
            Self::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "timeout", "Request timed out"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Temporarily unavailable"),
            // 409: the server's configuration, not the request, is what is missing.
            Self::NotConfigured(_) => (StatusCode::CONFLICT, "not-configured", "Not configured on this server"),
            Self::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream", "The calendar provider failed"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }
}

impl From<Violations> for ApiError {
    fn from(v: Violations) -> Self {
        Self::Invalid(v)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            tracing::warn!(error = %e, "database unavailable");
            return Self::Unavailable;
        }
        match e {
            StoreError::NotFound { what, id } => Self::NotFound(format!("{what} {id} does not exist")),
            StoreError::Gone { what, id } => Self::Gone(format!("{what} {id} was deleted")),
            StoreError::AlreadyExists { what, id } => Self::Conflict(format!("{what} {id} already exists")),
            StoreError::Stale { what, id } => Self::Conflict(format!(
                "{what} {id} changed since you read it: read it again and decide on the new versions"
            )),
            StoreError::VersionMismatch { expected, current } => Self::PreconditionFailed {
                detail: format!(
                    "If-Match named version {expected}, but the current version is {current}: reload, reapply your change, and retry"
                ),
                current: Some(current),
            },
            StoreError::Invalid(v) => Self::Invalid(v),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, title) = self.parts();
        let mut current = None;
        let (detail, errors, current_version) = match self {
            Self::BadRequest { detail, errors } => (detail, errors.0, None),
            Self::Invalid(v) => (v.to_string(), v.0, None),
            Self::PreconditionFailed { detail, current } => (detail, Vec::new(), current),
            Self::Stale { detail, current: now } => {
                current = Some(now);
                (detail, Vec::new(), None)
            }
            Self::Internal(internal) => {
                tracing::error!(error = %internal, "internal error");
                ("something went wrong on our side; it has been logged".to_owned(), Vec::new(), None)
            }
            other => (other.to_string(), Vec::new(), None),
        };
        let problem = Problem {
            kind: format!("urn:calsync:problem:{kind}"),
            title,
            status: status.as_u16(),
            detail,
            errors,
            current_version,
            current,
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// tower-http's timeout answers a bare 408; give it the same problem body as every other error.
pub async fn bare_timeout_as_problem(response: Response) -> Response {
    if response.status() == StatusCode::REQUEST_TIMEOUT && !response.headers().contains_key(header::CONTENT_TYPE) {
        return ApiError::Timeout(crate::REQUEST_TIMEOUT.as_secs()).into_response();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bare_timeout_becomes_a_problem_and_other_responses_pass() {
        let bare = Response::builder().status(StatusCode::REQUEST_TIMEOUT).body(axum::body::Body::empty());
        let mapped = bare_timeout_as_problem(bare.unwrap_or_default()).await;
        assert_eq!(mapped.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(mapped.headers()[header::CONTENT_TYPE], "application/problem+json");
        let ok = bare_timeout_as_problem(StatusCode::NO_CONTENT.into_response()).await;
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    }
}
