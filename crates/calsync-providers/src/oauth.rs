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
    /// RFC 7009 revocation (Google). `None`: the provider has none (Microsoft's identity
    /// platform revokes only through the user's account page).
    pub revoke_url: Option<String>,
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
            .append_pair("code_challenge_method", "S256");
        // Microsoft grants a refresh token for the `offline_access` scope; Google for
        // `access_type=offline`, and only with a consent screen every time. Microsoft's
        // `prompt=consent` would force user consent where an admin has already granted it.
        if !self.scopes.iter().any(|s| s == "offline_access") {
            q.append_pair("access_type", "offline").append_pair("prompt", "consent");
        }
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
    /// Without a revocation endpoint there is nothing to do.
    pub async fn revoke(&self, http: &reqwest::Client, token: &SecretString) -> Result<(), ProviderError> {
        let Some(url) = &self.revoke_url else {
            return Ok(());
        };
        let r = http
            .post(url)
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
            // Microsoft: the user must sign in again or consent (protocols.md §2.7).
            (400 | 401, Some(e))
                if matches!(e.error.as_str(), "invalid_grant" | "interaction_required" | "consent_required") =>
            {
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
///
/// Microsoft hands out a new refresh token with every refresh (protocols.md §2.7): the newest
/// is used for the next refresh, and kept for [`AccessTokens::take_rotated`] so the caller can
/// store it before the old one stops working.
#[derive(Debug)]
pub struct AccessTokens {
    client: OAuthClient,
    grant: Mutex<Grant>,
    /// The refresh token that replaced the stored one, until the caller takes it. A plain
    /// mutex: it is never held across an await.
    rotated: std::sync::Mutex<Option<SecretString>>,
}

#[derive(Debug)]
struct Grant {
    refresh_token: SecretString,
    current: Option<(SecretString, Timestamp)>,
}

/// Refresh this long before the provider's expiry.
const REFRESH_AHEAD: Duration = Duration::from_secs(60);

impl AccessTokens {
    pub fn new(client: OAuthClient, refresh_token: SecretString) -> Self {
        Self { client, grant: Mutex::new(Grant { refresh_token, current: None }), rotated: std::sync::Mutex::new(None) }
    }

    /// A valid access token. `force` refreshes even when the current one looks valid (after a 401).
    pub async fn get(&self, http: &reqwest::Client, force: bool) -> Result<SecretString, ProviderError> {
        let mut grant = self.grant.lock().await;
        let ahead = SignedDuration::try_from(REFRESH_AHEAD).unwrap_or(SignedDuration::ZERO);
        let fresh = grant
            .current
            .as_ref()
            .filter(|(_, exp)| !force && exp.checked_sub(ahead).is_ok_and(|t| t > Timestamp::now()));
        if let Some((token, _)) = fresh {
            return Ok(token.clone());
        }
        let tokens = self.client.refresh(http, &grant.refresh_token).await?;
        if let Some(next) = tokens.refresh_token.filter(|t| t.expose_secret() != grant.refresh_token.expose_secret()) {
            grant.refresh_token = next.clone();
            *self.rotated.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(next);
        }
        grant.current = Some((tokens.access_token.clone(), tokens.expires_at));
        Ok(tokens.access_token)
    }

    /// The refresh token the provider issued in place of the one this was built with (the
    /// newest, if it rotated several times), once; `None` when it has not rotated since.
    pub fn take_rotated(&self) -> Option<SecretString> {
        self.rotated.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The form body of one HTTP/1.1 request (headers, then Content-Length bytes).
    async fn read_form(socket: &mut tokio::net::TcpStream) -> String {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap_or(0);
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    return text[end + 4..].to_owned();
                }
            }
            if n == 0 {
                return String::new();
            }
        }
    }

    /// A token endpoint that answers each refresh with the next of `answers` (one
    /// connection each) and reports the refresh token each request carried.
    async fn token_endpoint(answers: Vec<&'static str>) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let url = format!("http://{}/token", listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
        let (sent, received) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            for body in answers {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let form = read_form(&mut socket).await;
                let carried = form_urlencoded::parse(form.as_bytes())
                    .find(|(k, _)| k == "refresh_token")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                let _ = sent.send(carried);
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        (url, received)
    }

    fn client(token_url: String) -> OAuthClient {
        OAuthClient {
            auth_url: "http://127.0.0.1:1/authorize".into(),
            token_url,
            revoke_url: None,
            client_id: "calsync".into(),
            client_secret: SecretString::from("secret"),
            redirect_uri: "http://127.0.0.1:1/callback".into(),
            scopes: vec!["offline_access".into()],
        }
    }

    #[tokio::test]
    async fn a_rotated_refresh_token_is_used_next_and_surfaces_once() {
        let answers = vec![
            r#"{"access_token":"a1","refresh_token":"r2","expires_in":3600}"#,
            r#"{"access_token":"a2","refresh_token":"r2","expires_in":3600}"#,
            r#"{"access_token":"a3","refresh_token":"r3","expires_in":3600}"#,
        ];
        let (url, mut carried) = token_endpoint(answers).await;
        let tokens = AccessTokens::new(client(url), SecretString::from("r1"));
        let http = reqwest::Client::new();
        assert!(tokens.take_rotated().is_none());

        let access = tokens.get(&http, false).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(access.expose_secret(), "a1");
        assert_eq!(carried.recv().await.as_deref(), Some("r1"));
        assert_eq!(tokens.take_rotated().map(|t| t.expose_secret().to_owned()).as_deref(), Some("r2"));
        assert!(tokens.take_rotated().is_none(), "taken once");

        // The same refresh token again is no rotation; the next refresh uses the newest.
        tokens.get(&http, true).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(carried.recv().await.as_deref(), Some("r2"));
        assert!(tokens.take_rotated().is_none());
        tokens.get(&http, true).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(carried.recv().await.as_deref(), Some("r2"));
        assert_eq!(tokens.take_rotated().map(|t| t.expose_secret().to_owned()).as_deref(), Some("r3"));
    }
}
