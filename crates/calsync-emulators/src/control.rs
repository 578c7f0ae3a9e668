//! Pieces of the control API under `/_emulator/` that read and answer the same way in every
//! emulator; each emulator puts a malformed request in its own error body (the `String`s here
//! are those bodies' messages).

use axum::Json;
use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// A control request's JSON body; an empty body reads as `{}` (every field left out).
///
/// # Errors
/// The message for a body that is not JSON or not of the expected shape.
pub(crate) fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    serde_json::from_slice(text).map_err(|e| format!("Invalid control request body: {e}"))
}

/// A control request's body that must be a JSON object (an event to write).
///
/// # Errors
/// The message for anything else.
pub(crate) fn object(body: &Bytes) -> Result<Map<String, Value>, String> {
    match parse::<Value>(body)? {
        Value::Object(m) => Ok(m),
        _ => Err("the body must be a JSON object".into()),
    }
}

/// A 200 answer with `v`.
pub(crate) fn done(v: Value) -> Response {
    Json(v).into_response()
}

/// `POST /_emulator/users`: the new user's email must look like an address.
///
/// # Errors
/// The message when it does not.
pub(crate) fn check_email(email: &str) -> Result<(), &'static str> {
    if !email.contains('@') || email.len() > 254 {
        return Err("email must be an address");
    }
    Ok(())
}

/// `PATCH /_emulator/settings` `latency_ms`: the latency every request gets, at most ten minutes.
pub(crate) fn latency(ms: u64) -> Duration {
    Duration::from_millis(ms.min(600_000))
}

/// The answer of `POST /_emulator/tokens`: tokens as a completed consent would give them.
pub(crate) fn minted(access: &str, refresh: Option<&str>, ttl: Duration, scope: &str, client_id: &str) -> Response {
    done(json!({"access_token": access, "refresh_token": refresh, "expires_in": ttl.as_secs(), "scope": scope,
                "token_type": "Bearer", "client_id": client_id}))
}

/// The message when `POST /_emulator/tokens` names a user the emulator does not have.
pub(crate) fn no_such_user(email: &str) -> String {
    format!("no user {email:?}; add it with POST /_emulator/users")
}
