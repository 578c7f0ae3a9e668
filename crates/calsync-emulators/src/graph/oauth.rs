//! OAuth 2.0 as the Microsoft identity platform v2 does it (protocols.md §2.7):
//! `/{tenant}/oauth2/v2.0/authorize` (consent page or auto-approval, code + PKCE) and
//! `/{tenant}/oauth2/v2.0/token` (`authorization_code`, `refresh_token`). `offline_access`
//! brings a refresh token; every refresh hands out a new one, and the old one lives on as
//! [`RefreshRotation`] says. Dead grants answer `invalid_grant` with `AADSTS` codes.

use super::Shared;
use super::config::RefreshRotation;
use super::error::AadError;
use super::world::World;
use crate::oauth::{
    Back, ConsentText, Params, SignIn, challenge_length_ok, client_credentials, consent_page, escape, params,
    redirect_uri_allowed, sign_in, token_response, verifier_matches,
};
use crate::random;
use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Codes live ten minutes and are good once.
const CODE_TTL: SignedDuration = SignedDuration::from_secs(600);

/// Scopes that say something about the sign-in, not about Graph.
const RESERVED: &[&str] = &["openid", "profile", "email", "offline_access"];
/// What `.default` grants here.
const DEFAULT_SCOPES: &[&str] = &["Calendars.ReadWrite", "User.Read"];

#[derive(Debug, Default)]
pub struct Grants {
    pub codes: HashMap<String, AuthCode>,
    pub access: HashMap<String, AccessToken>,
    pub refresh: HashMap<String, RefreshToken>,
    next_family: u64,
}

#[derive(Debug, Clone)]
pub struct AuthCode {
    client_id: String,
    redirect_uri: String,
    user: String,
    scope: String,
    /// (method, challenge).
    challenge: Option<(String, String)>,
    expires_at: Timestamp,
    redeemed: bool,
}

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub user: String,
    pub client_id: String,
    /// Normalised scopes, space-separated (`Calendars.ReadWrite User.Read`).
    pub scope: String,
    pub expires_at: Timestamp,
    /// The consent it comes from: revoking that kills this token too.
    pub family: u64,
}

#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub user: String,
    pub client_id: String,
    pub scope: String,
    pub family: u64,
    pub revoked: bool,
    /// Set once it was exchanged: its successor and when.
    pub rotated: Option<(String, Timestamp)>,
    /// It was exchanged at least once.
    pub used: bool,
}

/// `https://graph.microsoft.com/Calendars.Read` → `Calendars.Read`; `.default` → everything.
pub fn normalise_scopes(requested: &str) -> String {
    let mut out = BTreeSet::new();
    for s in requested.split_whitespace() {
        let short = s.strip_prefix("https://graph.microsoft.com/").unwrap_or(s);
        if short == ".default" {
            out.extend(DEFAULT_SCOPES.iter().map(|d| (*d).to_owned()));
        } else if !short.is_empty() {
            out.insert(short.to_owned());
        }
    }
    out.into_iter().collect::<Vec<_>>().join(" ")
}

impl Grants {
    fn family(&mut self) -> u64 {
        self.next_family += 1;
        self.next_family
    }

    pub fn mint_access(
        &mut self,
        user: &str,
        client_id: &str,
        scope: &str,
        family: u64,
        ttl: Duration,
        now: Timestamp,
    ) -> String {
        let token = format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.{}", random::string(random::ALNUM, 96));
        let ttl = SignedDuration::try_from(ttl).unwrap_or(SignedDuration::from_hours(1));
        self.access.retain(|_, t| t.expires_at > now);
        self.access.insert(
            token.clone(),
            AccessToken {
                user: user.to_owned(),
                client_id: client_id.to_owned(),
                scope: scope.to_owned(),
                expires_at: now.checked_add(ttl).unwrap_or(now),
                family,
            },
        );
        token
    }

    fn mint_refresh(&mut self, user: &str, client_id: &str, scope: &str, family: u64) -> String {
        let token = format!("0.AR8A{}", random::string(random::ALNUM, 120));
        self.refresh.insert(
            token.clone(),
            RefreshToken {
                user: user.to_owned(),
                client_id: client_id.to_owned(),
                scope: scope.to_owned(),
                family,
                revoked: false,
                rotated: None,
                used: false,
            },
        );
        token
    }

    /// Access (and, with `offline_access`, refresh) token for a finished consent.
    pub fn grant(
        &mut self,
        user: &str,
        client_id: &str,
        scope: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> (String, Option<String>) {
        let family = self.family();
        let access = self.mint_access(user, client_id, scope, family, ttl, now);
        let refresh =
            scope.split(' ').any(|s| s == "offline_access").then(|| self.mint_refresh(user, client_id, scope, family));
        (access, refresh)
    }

    /// Kills every grant of `user` (all apps): refresh tokens answer `AADSTS50173`, access
    /// tokens 401. Returns how many refresh tokens died.
    pub fn revoke_user(&mut self, user: &str) -> usize {
        self.access.retain(|_, a| a.user != user);
        let mut n = 0;
        for r in self.refresh.values_mut().filter(|r| r.user == user && !r.revoked) {
            r.revoked = true;
            n += 1;
        }
        n
    }

    pub fn revoke_refresh(&mut self, token: &str) -> bool {
        let Some(r) = self.refresh.get_mut(token) else { return false };
        r.revoked = true;
        let family = r.family;
        for other in self.refresh.values_mut().filter(|o| o.family == family) {
            other.revoked = true;
        }
        self.access.retain(|_, a| a.family != family);
        true
    }

    /// Makes access tokens expire now (all, or one user's).
    pub fn expire_access(&mut self, user: Option<&str>, now: Timestamp) -> usize {
        let mut n = 0;
        for a in self.access.values_mut().filter(|a| user.is_none_or(|u| u == a.user)) {
            a.expires_at = now;
            n += 1;
        }
        n
    }
}

/// An authorization request, once checked.
struct AuthRequest {
    client_id: String,
    back: Back,
    scope: String,
    challenge: Option<(String, String)>,
    login_hint: Option<String>,
}

/// Problems we may not redirect with (unknown app, unregistered redirect URI) get a page.
fn error_page(status: StatusCode, code: u32, detail: &str) -> Response {
    crate::oauth::error_page(
        status,
        "Sign in to your account",
        "Sorry, but we're having trouble signing you in.",
        &format!("AADSTS{code}: {}", escape(detail)),
    )
}

fn check_auth_request(shared: &Shared, p: &Params) -> Result<AuthRequest, Box<Response>> {
    let config = shared.config();
    let client_id = p.get("client_id").cloned().unwrap_or_default();
    let Some(client) = config.clients.iter().find(|c| c.id == client_id) else {
        return Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            700_016,
            &format!("Application with identifier '{client_id}' was not found in the directory."),
        )));
    };
    let redirect_uri = p.get("redirect_uri").cloned().unwrap_or_default();
    if !redirect_uri_allowed(&redirect_uri, &client.redirect_uris) {
        return Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            50_011,
            &format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."
            ),
        )));
    }
    let back = Back { redirect_uri, state: p.get("state").cloned() };
    let fail = |error: &str, description: &str| back.error(error, description);
    if p.get("response_type").map(String::as_str) != Some("code") {
        return Err(fail("unsupported_response_type", "AADSTS70005: response_type must be 'code'."));
    }
    let scope = normalise_scopes(p.get("scope").map_or("", String::as_str));
    if scope.is_empty() {
        return Err(fail(
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'scope'.",
        ));
    }
    let challenge = match (p.get("code_challenge"), p.get("code_challenge_method").map(String::as_str)) {
        (None, _) => None,
        (Some(c), None | Some("plain")) => Some(("plain".to_owned(), c.clone())),
        (Some(c), Some("S256")) => Some(("S256".to_owned(), c.clone())),
        (Some(_), Some(_)) => {
            return Err(fail("invalid_request", "AADSTS501491: Invalid code_challenge_method (S256 or plain)."));
        }
    };
    if challenge.as_ref().is_some_and(|(_, c)| !challenge_length_ok(c)) {
        return Err(fail("invalid_request", "AADSTS501491: code_challenge must be 43 to 128 characters."));
    }
    Ok(AuthRequest { client_id, back, scope, challenge, login_hint: p.get("login_hint").cloned() })
}

fn issue_code(world: &mut World, req: &AuthRequest, user: &str, now: Timestamp) -> Response {
    let code = format!("M.C5{}", random::string(random::ALNUM, 64));
    world.grants.codes.insert(
        code.clone(),
        AuthCode {
            client_id: req.client_id.clone(),
            redirect_uri: req.back.redirect_uri.clone(),
            user: user.to_owned(),
            scope: req.scope.clone(),
            challenge: req.challenge.clone(),
            expires_at: now.checked_add(CODE_TTL).unwrap_or(now),
            redeemed: false,
        },
    );
    req.back.with(&[("code", code.as_str())])
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: the consent page, or straight back with a code.
pub async fn authorize(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let p = params(raw.as_deref());
    let req = match check_auth_request(&shared, &p) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    let auto = shared.config().auto_approve;
    let mut world = shared.world();
    match sign_in(&world.users, req.login_hint.as_deref(), auto) {
        SignIn::Approve(user) => issue_code(&mut world, &req, &user, Timestamp::now()),
        SignIn::NoUser => error_page(StatusCode::BAD_REQUEST, 50_034, "The emulator has no users to sign in."),
        SignIn::Ask { users, hinted } => {
            let action = format!("/{tenant}/oauth2/v2.0/authorize");
            let text = ConsentText {
                title: "Permissions requested - Microsoft Graph emulator",
                heading: "Permissions requested",
                asks: "would like to:",
                action: &action,
                legend: "Pick an account",
                allow: "Accept",
            };
            Html(consent_page(&text, &p, &req.client_id, &req.scope, &users, hinted.as_deref())).into_response()
        }
    }
}

/// `POST /{tenant}/oauth2/v2.0/authorize`: the consent page's answer.
pub async fn decide(State(shared): State<Arc<Shared>>, Form(p): Form<Params>) -> Response {
    let req = match check_auth_request(&shared, &p) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    if p.get("decision").map(String::as_str) != Some("allow") {
        return *req.back.error("access_denied", "AADSTS65004: User declined to consent to access the app.");
    }
    let user = p.get("user").cloned().unwrap_or_default();
    let mut world = shared.world();
    if !world.users.contains_key(&user) {
        return error_page(
            StatusCode::BAD_REQUEST,
            50_034,
            &format!("The user account {user} does not exist in this directory."),
        );
    }
    issue_code(&mut world, &req, &user, Timestamp::now())
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, Form(p): Form<Params>) -> Response {
    let config = shared.config();
    let (client_id, secret) = client_credentials(&headers, &p);
    let Some(client) = config.clients.iter().find(|c| c.id == client_id) else {
        return AadError::new(
            "unauthorized_client",
            700_016,
            format!("Application with identifier '{client_id}' was not found in the directory."),
        )
        .into_response();
    };
    if let Some(expected) = &client.secret {
        match &secret {
            None => {
                return AadError::new(
                    "invalid_client",
                    7_000_218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                )
                .into_response();
            }
            Some(s) if s != expected => {
                let mut e = AadError::new(
                    "invalid_client",
                    7_000_215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                );
                e.status = StatusCode::UNAUTHORIZED;
                return e.into_response();
            }
            Some(_) => {}
        }
    }
    let now = Timestamp::now();
    let ttl = config.access_token_ttl;
    let mut world = shared.world();
    let result = match p.get("grant_type").map(String::as_str) {
        Some("authorization_code") => redeem(&mut world, &client_id, &p, ttl, now),
        Some("refresh_token") => {
            refresh(&mut world, &client_id, &p, (config.refresh_rotation, config.refresh_grace), ttl, now)
        }
        other => Err(AadError::new(
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{}'.", other.unwrap_or("")),
        )),
    };
    match result {
        Ok(body) => token_response(&body),
        Err(e) => e.into_response(),
    }
}

fn shown_scope(scope: &str) -> String {
    scope.split(' ').filter(|s| *s != "offline_access").collect::<Vec<_>>().join(" ")
}

fn token_body(access: &str, refresh: Option<&str>, scope: &str, ttl: Duration) -> serde_json::Value {
    let mut body = json!({"token_type": "Bearer", "scope": shown_scope(scope), "expires_in": ttl.as_secs(),
                          "ext_expires_in": ttl.as_secs(), "access_token": access});
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    body
}

fn redeem(
    world: &mut World,
    client_id: &str,
    p: &Params,
    ttl: Duration,
    now: Timestamp,
) -> Result<serde_json::Value, AadError> {
    let Some(text) = p.get("code") else {
        return Err(AadError::new(
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'code'.",
        ));
    };
    let code = world.grants.codes.get_mut(text).ok_or_else(|| {
        AadError::new("invalid_grant", 9_002_313, "Invalid request. Request is malformed or invalid.")
    })?;
    if code.redeemed {
        return Err(AadError::new(
            "invalid_grant",
            54_005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ));
    }
    code.redeemed = true;
    let code = code.clone();
    if code.expires_at < now {
        return Err(AadError::new(
            "invalid_grant",
            70_008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if code.client_id != client_id || p.get("redirect_uri") != Some(&code.redirect_uri) {
        return Err(AadError::new(
            "invalid_grant",
            50_148,
            "The authorization code was issued to another application or for another redirect URI.",
        ));
    }
    if let Some((method, challenge)) = &code.challenge {
        let verifier = p.get("code_verifier").ok_or_else(|| {
            AadError::new(
                "invalid_request",
                50_148,
                "The code_verifier is missing: the authorization request carried a code_challenge.",
            )
        })?;
        if !verifier_matches(method, verifier, challenge) {
            return Err(AadError::new(
                "invalid_grant",
                501_481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
    }
    let (access, refresh) = world.grants.grant(&code.user, client_id, &code.scope, ttl, now);
    Ok(token_body(&access, refresh.as_deref(), &code.scope, ttl))
}

fn refresh(
    world: &mut World,
    client_id: &str,
    p: &Params,
    (policy, grace): (RefreshRotation, Duration),
    ttl: Duration,
    now: Timestamp,
) -> Result<serde_json::Value, AadError> {
    let Some(text) = p.get("refresh_token") else {
        return Err(AadError::new(
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'refresh_token'.",
        ));
    };
    let grants = &mut world.grants;
    let token = grants.refresh.get(text).cloned().ok_or_else(AadError::bad_refresh_token)?;
    if token.revoked {
        return Err(AadError::revoked());
    }
    if token.client_id != client_id {
        return Err(AadError::new("invalid_grant", 70_000, "The refresh token was issued to a different client."));
    }
    if let Some((successor, at)) = &token.rotated {
        let in_grace = now.duration_since(*at) < SignedDuration::try_from(grace).unwrap_or(SignedDuration::ZERO);
        let alive = match policy {
            RefreshRotation::KeepOld => true,
            RefreshRotation::UntilNextUsed => grants.refresh.get(successor).is_some_and(|s| !s.used),
            RefreshRotation::Immediate => false,
        };
        if !alive && !in_grace {
            return Err(AadError::bad_refresh_token());
        }
    }
    // Scopes may be narrowed by the request, never widened.
    let scope = match p.get("scope").map(|s| normalise_scopes(s)) {
        Some(asked) if !asked.is_empty() => {
            let granted: BTreeSet<&str> = token.scope.split(' ').collect();
            if let Some(extra) = asked.split(' ').find(|s| !granted.contains(s) && !RESERVED.contains(s)) {
                return Err(AadError::new(
                    "invalid_grant",
                    65_001,
                    format!("The user or administrator has not consented to use the application with scope '{extra}'."),
                ));
            }
            token.scope.clone()
        }
        _ => token.scope.clone(),
    };
    let access = grants.mint_access(&token.user, client_id, &scope, token.family, ttl, now);
    let next = grants.mint_refresh(&token.user, client_id, &scope, token.family);
    if let Some(old) = grants.refresh.get_mut(text) {
        old.used = true;
        // The first successor decides: a retry with the old token does not extend its life.
        if old.rotated.is_none() {
            old.rotated = Some((next.clone(), now));
        }
    }
    Ok(token_body(&access, Some(&next), &scope, ttl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_short_names_and_default_expands() {
        assert_eq!(
            normalise_scopes("offline_access https://graph.microsoft.com/Calendars.ReadWrite User.Read"),
            "Calendars.ReadWrite User.Read offline_access"
        );
        assert_eq!(normalise_scopes("https://graph.microsoft.com/.default"), "Calendars.ReadWrite User.Read");
    }
}
