//! Request extractors whose failures are problems that name the field and the rule,
//! instead of axum's plain-text rejections.

use crate::problem::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use calsync_core::limits::BODY_MAX_BYTES;
use serde::de::DeserializeOwned;
use std::str::FromStr;

/// A JSON body: `Content-Type: application/json` (or `application/merge-patch+json`), at
/// most [`BODY_MAX_BYTES`], deserialised with the path of the first offending field.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence != "application/json" && essence != "application/merge-patch+json" {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the body as application/json (got {})",
                if content_type.is_empty() { "no Content-Type".to_owned() } else { format!("{content_type:?}") }
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(BODY_MAX_BYTES)
            } else {
                ApiError::bad_field("body", "readable", format!("could not read the request body: {e}"))
            }
        })?;
        parse_json(&bytes).map(Self)
    }
}

/// Deserialises JSON, reporting the path of the first bad field.
///
/// # Errors
/// A 400 problem naming the field (or `body` for syntax errors).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            // A syntax error is the document's, wherever the parser happened to be.
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::bad_field("body", "json", format!("is not valid JSON: {inner}"))
            }
            serde_json::error::Category::Io => ApiError::bad_field("body", "readable", inner.to_string()),
            serde_json::error::Category::Data => data_error(&path, &strip_position(&inner.to_string())),
        }
    })?;
    // Only whitespace may follow the value: `{…} junk` is not a JSON document.
    de.end().map_err(|e| ApiError::bad_field("body", "json", format!("is not valid JSON: {e}")))?;
    Ok(value)
}

/// A value that does not fit the schema: the field it concerns and the rule it broke
/// (`unknown_field`, `required` or `type`).
fn data_error(path: &str, message: &str) -> ApiError {
    let at_top = path == "." || path.is_empty();
    let field = if at_top { "body" } else { path };
    if message.starts_with("unknown field") {
        // serde_path_to_error already ends the path with the unknown key.
        return ApiError::bad_field(field, "unknown_field", message);
    }
    if let Some(name) = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
        // Here the path is the object that lacks the field.
        let missing = if at_top { name.to_owned() } else { format!("{path}.{name}") };
        return ApiError::bad_field(&missing, "required", message);
    }
    ApiError::bad_field(field, "type", message)
}

/// Serde's messages end in "at line 1 column 42", which means nothing to most clients once
/// the field is named.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Query parameters, with the parameter named on failure.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Self).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { "query".to_owned() } else { path };
            ApiError::bad_field(&field, "query", e.into_inner().to_string())
        })
    }
}

/// A UUID path segment, e.g. `/events/{id}`.
#[derive(Debug)]
pub struct IdPath<T>(pub T);

impl<S: Send + Sync, T: FromStr> FromRequestParts<S> for IdPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_field("id", "path", e.to_string()))?;
        raw.parse().map(Self).map_err(|_| ApiError::bad_field("id", "uuid", format!("{raw:?} is not a UUID")))
    }
}

/// `If-Match: "3"` → `Some(3)`; absent or `*` → `None`.
///
/// # Errors
/// A 400 problem when the header is not one of our ETags.
pub fn if_match(headers: &axum::http::HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_matches('"').parse::<i64>().map(Some).map_err(|_| {
        ApiError::bad_field(
            "If-Match",
            "etag",
            format!("{text:?} is not an ETag of this API; send the ETag you received, e.g. \"3\""),
        )
    })
}

/// The ETag for a version.
pub fn etag(version: i64) -> axum::http::HeaderValue {
    axum::http::HeaderValue::from_str(&format!("\"{version}\""))
        .unwrap_or(axum::http::HeaderValue::from_static("\"0\""))
}

/// Deserialises an already-parsed JSON value, naming the offending field on failure.
///
/// # Errors
/// A 400 problem naming the field.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        data_error(&path, &strip_position(&e.into_inner().to_string()))
    })
}
