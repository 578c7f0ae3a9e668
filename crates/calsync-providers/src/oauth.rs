//! OAuth 2.0 for providers (authorization code + PKCE, refresh, revoke). Endpoints, client id
//! and secret are configuration, so the same code talks to Google or to the emulator.

use crate::error::ProviderError;
use calsync_core::encoding::base64url;
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::sync::Mutex;

/// Where and as whom to ask for tokens.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub auth_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
}

/// A PKCE verifier and its S256 challenge (RFC 7636).
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: SecretString,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = random_text(64);
        let challenge = base64url(&Sha256::digest(verifier.as_bytes()));
        Self { verifier: SecretString::from(verifier), challenge }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// `len` characters of RFC 7636's unreserved alphabet, from the OS generator.
pub fn random_text(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    let mut bytes = vec![0u8; len];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

/// What the token endpoint answers.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_at: Timestamp,
    pub scope: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl OAuthClient {
    /// The URL to send the user to. `state` ties the callback to this request.
    pub fn authorization_url(&self, state: &str, pkce: &Pkce, login_hint: Option<&str>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", &self.scopes.join(" "))
            .append_pair("state", state)
            .append_pair("code_challenge", &pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent");
        if let Some(hint) = login_hint {
            q.append_pair("login_hint", hint);
        }
        let sep = if self.auth_url.contains('?') { '&' } else { '?' };
        format!("{}{sep}{}", self.auth_url, q.finish())
    }

    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        verifier: &SecretString,
    ) -> Result<Tokens, ProviderError> {
        self.token_request(
            http,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", verifier.expose_secret()),
            ],
        )
        .await
    }

    pub async fn refresh(&self, http: &reqwest::Client, refresh_token: &SecretString) -> Result<Tokens, ProviderError> {
        self.token_request(http, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose_secret())])
            .await
    }

    /// Revokes a token (the refresh token revokes the whole grant). Unknown tokens are fine.
    pub async fn revoke(&self, http: &reqwest::Client, token: &SecretString) -> Result<(), ProviderError> {
        let r = http
            .post(&self.revoke_url)
            .form(&[("token", token.expose_secret())])
            .send()
            .await
            .map_err(|e| transient(format!("revoke: {e}")))?;
        match r.status().as_u16() {
            200..=299 | 400 => Ok(()),
            s if s >= 500 => Err(transient(format!("revoke answered {s}"))),
            s => Err(ProviderError::Permanent {
                status: s,
                reason: "revoke".into(),
                message: r.text().await.unwrap_or_default(),
            }),
        }
    }

    async fn token_request(&self, http: &reqwest::Client, params: &[(&str, &str)]) -> Result<Tokens, ProviderError> {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        form.push(("client_id", &self.client_id));
        form.push(("client_secret", self.client_secret.expose_secret()));
        let r = http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| transient(format!("token endpoint: {e}")))?;
        let status = r.status().as_u16();
        let body = r.bytes().await.map_err(|e| transient(format!("token endpoint: {e}")))?;
        if (200..300).contains(&status) {
            let t: TokenResponse = serde_json::from_slice(&body)
                .map_err(|e| transient(format!("token endpoint answered something that is not a token: {e}")))?;
            let expires_in = t.expires_in.unwrap_or(3600).clamp(1, 86_400 * 7);
            return Ok(Tokens {
                access_token: SecretString::from(t.access_token),
                refresh_token: t.refresh_token.map(SecretString::from),
                expires_at: Timestamp::now()
                    .checked_add(SignedDuration::from_secs(expires_in))
                    .unwrap_or(Timestamp::now()),
                scope: t.scope,
            });
        }
        let err: Option<TokenError> = serde_json::from_slice(&body).ok();
        match (status, err) {
            (400 | 401, Some(e)) if e.error == "invalid_grant" => {
                Err(ProviderError::NeedsReauth(e.error_description.unwrap_or(e.error)))
            }
            (s, _) if s >= 500 || s == 429 => Err(transient(format!("token endpoint answered {s}"))),
            (s, e) => Err(ProviderError::Permanent {
                status: s,
                reason: e.as_ref().map_or_else(|| "token".to_owned(), |e| e.error.clone()),
                message: e
                    .and_then(|e| e.error_description)
                    .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned()),
            }),
        }
    }
}

fn transient(message: String) -> ProviderError {
    ProviderError::Transient { message, retry_after: None }
}

/// Access tokens for one account: refreshed a minute ahead of expiry, or on demand after a 401.
#[derive(Debug)]
pub struct AccessTokens {
    client: OAuthClient,
    refresh_token: SecretString,
    current: Mutex<Option<(SecretString, Timestamp)>>,
}

/// Refresh this long before the provider's expiry.
const REFRESH_AHEAD: Duration = Duration::from_secs(60);

impl AccessTokens {
    pub fn new(client: OAuthClient, refresh_token: SecretString) -> Self {
        Self { client, refresh_token, current: Mutex::new(None) }
    }

    /// A valid access token. `force` refreshes even when the current one looks valid (after a 401).
    pub async fn get(&self, http: &reqwest::Client, force: bool) -> Result<SecretString, ProviderError> {
        let mut current = self.current.lock().await;
        let ahead = SignedDuration::try_from(REFRESH_AHEAD).unwrap_or(SignedDuration::ZERO);
        let fresh =
            current.as_ref().filter(|(_, exp)| !force && exp.checked_sub(ahead).is_ok_and(|t| t > Timestamp::now()));
        if let Some((token, _)) = fresh {
            return Ok(token.clone());
        }
        let tokens = self.client.refresh(http, &self.refresh_token).await?;
        *current = Some((tokens.access_token.clone(), tokens.expires_at));
        Ok(tokens.access_token)
    }
}
