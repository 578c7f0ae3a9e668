//! OAuth 2.0 the way Google does it (protocols.md §1.13): an authorization endpoint with a
//! consent page (or auto-approval), authorization codes with PKCE, the token endpoint for
//! `authorization_code` and `refresh_token`, revocation, and userinfo.

use super::Shared;
use super::error::OAuthError;
use super::world::{AccessToken, AuthCode, RefreshToken, World};
use crate::oauth::{
    Back, ConsentText, Params, SignIn, challenge_length_ok, client_credentials, consent_page, escape, params,
    redirect_uri_allowed, sign_in, token_response, verifier_matches,
};
use crate::random;
use axum::Form;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub const AUTH_PATH: &str = "/o/oauth2/v2/auth";
pub const TOKEN_PATH: &str = "/token";
pub const REVOKE_PATH: &str = "/revoke";
pub const USERINFO_PATH: &str = "/oauth2/v3/userinfo";

/// Codes live ten minutes and are good once.
const CODE_TTL: SignedDuration = SignedDuration::from_secs(600);

/// What an authorization request asks for, once checked.
struct AuthRequest {
    client_id: String,
    back: Back,
    scope: String,
    code_challenge: Option<String>,
    offline: bool,
    login_hint: Option<String>,
}

/// Problems we may not redirect with (unknown client, unregistered redirect URI) get a page.
fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let title = escape(title);
    crate::oauth::error_page(status, &title, &title, &escape(detail))
}

fn check_auth_request(world: &World, p: &Params) -> Result<AuthRequest, Box<Response>> {
    let client_id = p.get("client_id").cloned().unwrap_or_default();
    let Some(client) = world.clients.iter().find(|c| c.id == client_id) else {
        return Err(Box::new(error_page(
            StatusCode::UNAUTHORIZED,
            "Error 401: invalid_client",
            "The OAuth client was not found.",
        )));
    };
    let redirect_uri = p.get("redirect_uri").cloned().unwrap_or_default();
    if !redirect_uri_allowed(&redirect_uri, &client.redirect_uris) {
        return Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            "Error 400: redirect_uri_mismatch",
            &format!("The redirect URI {redirect_uri:?} is not registered for client {client_id}."),
        )));
    }
    let back = Back { redirect_uri, state: p.get("state").cloned() };
    let fail = |error: &str, description: &str| back.error(error, description);
    if p.get("response_type").map(String::as_str) != Some("code") {
        return Err(fail("unsupported_response_type", "response_type must be code"));
    }
    let scope = p.get("scope").map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_default();
    if scope.is_empty() {
        return Err(fail("invalid_request", "Missing required parameter: scope"));
    }
    let code_challenge = p.get("code_challenge").cloned();
    match (p.get("code_challenge_method").map(String::as_str), &code_challenge) {
        (None | Some("S256"), _) => {}
        (Some(_), _) => return Err(fail("invalid_request", "code_challenge_method must be S256")),
    }
    if code_challenge.as_ref().is_some_and(|c| !challenge_length_ok(c)) {
        return Err(fail("invalid_request", "code_challenge must be 43 to 128 characters (base64url of SHA-256)"));
    }
    Ok(AuthRequest {
        client_id,
        back,
        scope,
        code_challenge,
        offline: p.get("access_type").map(String::as_str) == Some("offline"),
        login_hint: p.get("login_hint").cloned(),
    })
}

fn issue_code(world: &mut World, req: &AuthRequest, user: &str, now: Timestamp) -> Response {
    let code = format!("4/{}", random::string(random::ALNUM, 48));
    world.codes.insert(
        code.clone(),
        AuthCode {
            client_id: req.client_id.clone(),
            redirect_uri: req.back.redirect_uri.clone(),
            user: user.to_owned(),
            scope: req.scope.clone(),
            code_challenge: req.code_challenge.clone(),
            offline: req.offline,
            expires_at: now.checked_add(CODE_TTL).unwrap_or(now),
        },
    );
    req.back.with(&[("code", code.as_str()), ("scope", req.scope.as_str())])
}

/// `GET /o/oauth2/v2/auth`: the consent page, or straight back with a code when auto-approving.
pub async fn authorize(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let p = params(raw.as_deref());
    let auto = shared.config().auto_approve;
    let mut world = shared.world();
    let req = match check_auth_request(&world, &p) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    match sign_in(&world.users, req.login_hint.as_deref(), auto) {
        SignIn::Approve(user) => issue_code(&mut world, &req, &user, Timestamp::now()),
        SignIn::NoUser => error_page(StatusCode::BAD_REQUEST, "No test user", "The emulator has no users to sign in."),
        SignIn::Ask { users, hinted } => {
            Html(consent_page(&CONSENT, &p, &req.client_id, &req.scope, &users, hinted.as_deref())).into_response()
        }
    }
}

const CONSENT: ConsentText<'static> = ConsentText {
    title: "Sign in - Google Calendar emulator",
    heading: "Google Calendar emulator",
    asks: "wants to access your Google Account:",
    action: AUTH_PATH,
    legend: "Choose an account",
    allow: "Allow",
};

/// `POST /o/oauth2/v2/auth`: the consent page's answer.
pub async fn decide(State(shared): State<Arc<Shared>>, Form(p): Form<Params>) -> Response {
    let mut world = shared.world();
    let req = match check_auth_request(&world, &p) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    if p.get("decision").map(String::as_str) != Some("allow") {
        return req.back.with(&[("error", "access_denied")]);
    }
    let user = p.get("user").cloned().unwrap_or_default();
    if !world.users.contains_key(&user) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Unknown user",
            &format!("{user:?} is not a user of this emulator."),
        );
    }
    issue_code(&mut world, &req, &user, Timestamp::now())
}

/// `POST /token`.
pub async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, Form(p): Form<Params>) -> Response {
    let ttl = shared.config().access_token_ttl;
    let mut world = shared.world();
    let (client_id, secret) = client_credentials(&headers, &p);
    let secret = secret.unwrap_or_default();
    if !world.clients.iter().any(|c| c.id == client_id && c.secret == secret) {
        return OAuthError { status: StatusCode::UNAUTHORIZED, ..OAuthError::new("invalid_client", "Unauthorized") }
            .into_response();
    }
    let now = Timestamp::now();
    let result = match p.get("grant_type").map(String::as_str) {
        Some("authorization_code") => exchange_code(&mut world, &client_id, &p, ttl, now),
        Some("refresh_token") => refresh(&mut world, &client_id, &p, ttl, now),
        Some(other) => Err(OAuthError::new("unsupported_grant_type", format!("Invalid grant_type: {other}"))),
        None => Err(OAuthError::new("unsupported_grant_type", "Invalid grant_type: ")),
    };
    match result {
        Ok(body) => token_response(&body),
        Err(e) => e.into_response(),
    }
}

fn exchange_code(
    world: &mut World,
    client_id: &str,
    p: &Params,
    ttl: Duration,
    now: Timestamp,
) -> Result<serde_json::Value, OAuthError> {
    let code_text = p.get("code").cloned().unwrap_or_default();
    // Codes are single-use: removed whatever the outcome.
    let code = world.codes.remove(&code_text).ok_or_else(|| OAuthError::new("invalid_grant", "Bad Request"))?;
    if code.expires_at < now || code.client_id != client_id {
        return Err(OAuthError::new("invalid_grant", "Bad Request"));
    }
    if p.get("redirect_uri") != Some(&code.redirect_uri) {
        return Err(OAuthError::new("redirect_uri_mismatch", "Bad Request"));
    }
    if let Some(challenge) = &code.code_challenge {
        let Some(verifier) = p.get("code_verifier") else {
            return Err(OAuthError::new("invalid_grant", "Missing code verifier."));
        };
        if !verifier_matches("S256", verifier, challenge) {
            return Err(OAuthError::new("invalid_grant", "Invalid code verifier."));
        }
    }
    let refresh = code.offline.then(|| new_refresh_token(world, &code.user, client_id, &code.scope));
    let access = mint_access(world, &code.user, &code.scope, ttl, refresh.clone(), now);
    let mut body =
        json!({"access_token": access, "expires_in": ttl.as_secs(), "scope": code.scope, "token_type": "Bearer"});
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    Ok(body)
}

fn refresh(
    world: &mut World,
    client_id: &str,
    p: &Params,
    ttl: Duration,
    now: Timestamp,
) -> Result<serde_json::Value, OAuthError> {
    let text = p.get("refresh_token").cloned().unwrap_or_default();
    let token =
        world.refresh_tokens.get(&text).filter(|t| !t.revoked).cloned().ok_or_else(OAuthError::invalid_grant)?;
    if token.client_id != client_id {
        return Err(OAuthError::new("unauthorized_client", "Unauthorized"));
    }
    let access = mint_access(world, &token.user, &token.scope, ttl, Some(text), now);
    Ok(json!({"access_token": access, "expires_in": ttl.as_secs(), "scope": token.scope, "token_type": "Bearer"}))
}

pub fn new_refresh_token(world: &mut World, user: &str, client_id: &str, scope: &str) -> String {
    let token = format!("1//{}", random::string(random::ALNUM, 64));
    world.refresh_tokens.insert(
        token.clone(),
        RefreshToken {
            user: user.to_owned(),
            client_id: client_id.to_owned(),
            scope: scope.to_owned(),
            revoked: false,
        },
    );
    token
}

pub fn mint_access(
    world: &mut World,
    user: &str,
    scope: &str,
    ttl: Duration,
    refresh: Option<String>,
    now: Timestamp,
) -> String {
    let token = format!("ya29.{}", random::string(random::ALNUM, 64));
    let ttl = SignedDuration::try_from(ttl).unwrap_or(SignedDuration::from_hours(1));
    world.access_tokens.retain(|_, t| t.expires_at > now);
    world.access_tokens.insert(
        token.clone(),
        AccessToken {
            user: user.to_owned(),
            scope: scope.to_owned(),
            expires_at: now.checked_add(ttl).unwrap_or(now),
            refresh_token: refresh,
        },
    );
    token
}

/// Revokes a refresh token (and the access tokens minted from it) or one access token.
pub fn revoke_token(world: &mut World, token: &str) -> bool {
    if let Some(r) = world.refresh_tokens.get_mut(token) {
        r.revoked = true;
        world.access_tokens.retain(|_, a| a.refresh_token.as_deref() != Some(token));
        return true;
    }
    world.access_tokens.remove(token).is_some()
}

/// `POST /revoke?token=…` (or the token in the form body).
pub async fn revoke(State(shared): State<Arc<Shared>>, RawQuery(raw): RawQuery, body: String) -> Response {
    let mut p = params(raw.as_deref());
    p.extend(params(Some(&body)));
    let token = p.get("token").cloned().unwrap_or_default();
    if revoke_token(&mut shared.world(), &token) {
        ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], "{}").into_response()
    } else {
        OAuthError::new("invalid_token", "Token expired or revoked").into_response()
    }
}

/// `GET /oauth2/v3/userinfo` with the bearer token.
pub async fn userinfo(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let world = shared.world();
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let now = Timestamp::now();
    let Some(user) = bearer
        .and_then(|b| world.access_tokens.get(b.trim()))
        .filter(|t| t.expires_at > now)
        .and_then(|t| world.users.get(&t.user))
    else {
        return OAuthError {
            status: StatusCode::UNAUTHORIZED,
            ..OAuthError::new("invalid_request", "Invalid Credentials")
        }
        .into_response();
    };
    let sub = super::tokens::fingerprint([user.email.as_str()]).to_string();
    let mut body = json!({"sub": sub, "email": user.email, "email_verified": true});
    if let Some(n) = &user.name {
        body["name"] = json!(n);
    }
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response()
}
