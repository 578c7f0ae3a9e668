//! Signing in the way the Microsoft identity platform v2 does it (protocols.md §2.7):
//! authorization code with PKCE, refresh tokens that rotate, dead grants with AADSTS codes,
//! and scopes that decide what a token may do.

mod support;

use calsync_core::encoding::base64url;
use calsync_emulators::graph::{
    ClientSpec, Config, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT, RefreshRotation,
};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::graph::*;
use support::{Client, Reply, form};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-plus-some-more-entropy";
const SCOPE: &str =
    "offline_access https://graph.microsoft.com/Calendars.ReadWrite https://graph.microsoft.com/User.Read";

fn authorize_url(client: &str, scope: &str) -> String {
    let challenge = base64url(&Sha256::digest(VERIFIER.as_bytes()));
    format!(
        "/common/oauth2/v2.0/authorize?{}",
        form(&[
            ("client_id", client),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "s-123"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("login_hint", USER),
        ])
    )
}

/// The `code` (and `state`) of a redirect to [`REDIRECT`].
fn code_of(reply: &(u16, reqwest::header::HeaderMap, String)) -> (String, String) {
    assert!(matches!(reply.0, 302 | 303 | 307), "expected a redirect, got {}: {}", reply.0, reply.2);
    let location = reply.1.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    (get("code"), get("state"))
}

async fn redeem(emu: &GraphEmu, code: &str, verifier: &str) -> Reply {
    emu.control
        .form(
            &format!("/{DEFAULT_TENANT}/oauth2/v2.0/token"),
            &[
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ],
        )
        .await
}

async fn refresh(emu: &GraphEmu, token: &str) -> Reply {
    emu.control
        .form(
            "/common/oauth2/v2.0/token",
            &[
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", DEFAULT_CLIENT_SECRET),
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("scope", SCOPE),
            ],
        )
        .await
}

#[track_caller]
fn assert_aad(reply: &Reply, error: &str, code: u64) {
    let (status, _, body) = reply;
    assert_eq!(*status, 400, "{body}");
    assert_eq!(body["error"], json!(error), "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    assert!(body["error_description"].as_str().is_some_and(|d| d.starts_with(&format!("AADSTS{code}:"))), "{body}");
}

fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}")).to_owned()
}

/// Consent through the page: the user picks an account and accepts.
async fn consent(emu: &GraphEmu) -> String {
    let (status, _, page) =
        emu.control.raw_text(Method::GET, &authorize_url(DEFAULT_CLIENT_ID, SCOPE), None, &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Calendars.ReadWrite") && page.contains(USER), "{page}");
    let challenge = base64url(&Sha256::digest(VERIFIER.as_bytes()));
    let answer = form(&[
        ("client_id", DEFAULT_CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", SCOPE),
        ("state", "s-123"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("user", USER),
        ("decision", "allow"),
    ]);
    let reply = emu
        .control
        .raw_text(
            Method::POST,
            "/common/oauth2/v2.0/authorize",
            Some(("application/x-www-form-urlencoded", answer.into_bytes())),
            &[],
        )
        .await;
    let (code, state) = code_of(&reply);
    assert_eq!(state, "s-123");
    code
}

#[tokio::test]
async fn code_with_pkce_then_refresh_rotates_and_the_old_refresh_token_dies() {
    let emu = GraphEmu::start().await;
    let code = consent(&emu).await;
    let (status, headers, tokens) = redeem(&emu, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    assert_eq!(tokens["token_type"], json!("Bearer"));
    assert!(tokens["expires_in"].as_u64().is_some_and(|e| e > 0) && tokens["ext_expires_in"].is_u64());
    let r1 = text(&tokens, "refresh_token");
    let me = Client::new(emu.base(), Some(text(&tokens, "access_token")));
    assert_eq!(me.get("/v1.0/me").await.2["mail"], json!(USER));

    let (status, _, second) = refresh(&emu, &r1).await;
    assert_eq!(status, 200, "{second}");
    let r2 = text(&second, "refresh_token");
    assert_ne!(r1, r2, "every refresh hands out a new refresh token");
    assert_eq!(Client::new(emu.base(), Some(text(&second, "access_token"))).get("/v1.0/me").await.0, 200);

    // Until the new one is used, the old one still works (a lost answer can be retried)…
    let (status, _, retried) = refresh(&emu, &r1).await;
    assert_eq!(status, 200, "{retried}");
    // …once the new one was used, the old one is dead.
    let (status, _, third) = refresh(&emu, &r2).await;
    assert_eq!(status, 200, "{third}");
    assert_aad(&refresh(&emu, &r1).await, "invalid_grant", 70000);

    // A code is good once.
    assert_aad(&redeem(&emu, &code, VERIFIER).await, "invalid_grant", 54005);
}

#[tokio::test]
async fn with_immediate_rotation_the_old_token_dies_at_once() {
    let emu = GraphEmu::start_with(Config {
        refresh_rotation: RefreshRotation::Immediate,
        auto_approve: true,
        ..Config::default()
    })
    .await;
    let reply = emu.control.raw_text(Method::GET, &authorize_url(DEFAULT_CLIENT_ID, SCOPE), None, &[]).await;
    let (code, _) = code_of(&reply);
    let (_, _, tokens) = redeem(&emu, &code, VERIFIER).await;
    let r1 = text(&tokens, "refresh_token");
    assert_eq!(refresh(&emu, &r1).await.0, 200);
    assert_aad(&refresh(&emu, &r1).await, "invalid_grant", 70000);
}

#[tokio::test]
async fn a_wrong_verifier_a_revoked_grant_and_a_wrong_secret_are_refused() {
    let emu = GraphEmu::start_with(Config { auto_approve: true, ..Config::default() }).await;
    let (code, _) =
        code_of(&emu.control.raw_text(Method::GET, &authorize_url(DEFAULT_CLIENT_ID, SCOPE), None, &[]).await);
    assert_aad(
        &redeem(&emu, &code, "not-the-verifier-not-the-verifier-not-the-verifier").await,
        "invalid_grant",
        501481,
    );

    let (code, _) =
        code_of(&emu.control.raw_text(Method::GET, &authorize_url(DEFAULT_CLIENT_ID, SCOPE), None, &[]).await);
    let (_, _, tokens) = redeem(&emu, &code, VERIFIER).await;
    let access = Client::new(emu.base(), Some(text(&tokens, "access_token")));
    let (status, _, revoked) = emu.control.post("/_emulator/grants/revoke", &json!({"user": USER})).await;
    assert_eq!((status, revoked["revoked"].clone()), (200, json!(1)));
    assert_aad(&refresh(&emu, &text(&tokens, "refresh_token")).await, "invalid_grant", 50173);
    assert_graph_error(&access.get("/v1.0/me").await, 401, "InvalidAuthenticationToken");

    let (status, _, body) = emu
        .control
        .form(
            "/common/oauth2/v2.0/token",
            &[
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", "wrong"),
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].clone(), body["error_codes"].clone()),
        (401, json!("invalid_client"), json!([7000215]))
    );
}

#[tokio::test]
async fn a_public_client_needs_no_secret_and_no_offline_access_means_no_refresh_token() {
    let public = ClientSpec {
        id: "11111111-2222-4333-8444-555555555555".into(),
        secret: None,
        redirect_uris: vec![REDIRECT.into()],
    };
    let config = Config { auto_approve: true, clients: vec![public.clone()], ..Config::default() };
    let emu = GraphEmu::start_with(config).await;
    let (code, _) =
        code_of(&emu.control.raw_text(Method::GET, &authorize_url(&public.id, "Calendars.Read"), None, &[]).await);
    let (status, _, tokens) = emu
        .control
        .form(
            "/consumers/oauth2/v2.0/token",
            &[
                ("client_id", &public.id),
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    assert_eq!(tokens["scope"], json!("Calendars.Read"));

    // Calendars.Read reads but does not write, and /me needs User.Read.
    let reader = Client::new(emu.base(), Some(text(&tokens, "access_token")));
    assert_eq!(reader.get(EVENTS).await.0, 200);
    assert_graph_error(&reader.post(EVENTS, &hour_event("x", 9)).await, 403, "ErrorAccessDenied");
    assert_graph_error(&reader.get("/v1.0/me").await, 403, "ErrorAccessDenied");

    // An unregistered redirect URI gets an error page, never a redirect.
    let bad = authorize_url(&public.id, "Calendars.Read")
        .replace(&support::enc(REDIRECT), &support::enc("https://evil.example/cb"));
    let (status, _, page) = emu.control.raw_text(Method::GET, &bad, None, &[]).await;
    assert_eq!(status, 400);
    assert!(page.contains("AADSTS50011"), "{page}");
}

#[tokio::test]
async fn expired_access_tokens_are_401_until_refreshed() {
    let emu = GraphEmu::start().await;
    let (status, _, tokens) = emu.control.post("/_emulator/tokens", &json!({"email": USER})).await;
    assert_eq!(status, 200, "{tokens}");
    let api = Client::new(emu.base(), Some(text(&tokens, "access_token")));
    assert_eq!(api.get(EVENTS).await.0, 200);
    assert_eq!(emu.control.post("/_emulator/access-tokens/expire", &json!({"user": USER})).await.0, 200);
    let reply = api.get(EVENTS).await;
    assert_graph_error(&reply, 401, "InvalidAuthenticationToken");
    let (status, _, fresh) = refresh(&emu, &text(&tokens, "refresh_token")).await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(Client::new(emu.base(), Some(text(&fresh, "access_token"))).get(EVENTS).await.0, 200);
}
