//! API tokens: random, shown once, stored as a SHA-256 hash. Every request names its user
//! with `Authorization: Bearer <token>`; the admin token (from configuration) may create users.

use crate::problem::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use calsync_store::{TokenHash, User};
use sha2::{Digest, Sha256};

/// Prefix that makes leaked calsync tokens easy to grep for and to spot in secret scanners.
const TOKEN_PREFIX: &str = "cs_";

/// A new random API token (256 bits).
///
/// # Panics
/// When the operating system has no randomness to give, which leaves nothing safe to do.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut bytes) {
        panic!("the OS random number generator failed: {e}");
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{TOKEN_PREFIX}{hex}")
}

pub fn hash_token(token: &str) -> TokenHash {
    let digest = Sha256::digest(token.as_bytes());
    TokenHash(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The user a request acts for.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let user = state.store.user_by_token(&hash_token(token)).await?.ok_or(ApiError::Unauthorized)?;
        Ok(Self(user))
    }
}

/// A request made with the admin token.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(expected) = &state.admin_token_hash else {
            return Err(ApiError::Forbidden(
                "the admin API is off: set CALSYNC_ADMIN_TOKEN (or admin_token in the config file) to enable it".into(),
            ));
        };
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        // Comparing hashes keeps the comparison time independent of how much of the token matched.
        if hash_token(token) == *expected { Ok(Admin) } else { Err(ApiError::Unauthorized) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with("cs_") && a.len() == 67);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a).0, a);
    }
}
