//! Signing in with Google against the emulator: the authorization code flow with PKCE, the
//! consent page, refreshing and revoking, expired and missing tokens, scopes, and users
//! who each see only their own calendars (protocols.md §1.1, §1.12, §1.13).

mod support;

use calsync_emulators::google::Config;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use support::*;

const REDIRECT_URI: &str = "http://127.0.0.1:1/cb";
/// RFC 7636 Appendix B: a code verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn auth_query() -> String {
    form(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("scope", SCOPE_CALENDAR),
        ("state", "xyz"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("access_type", "offline"),
    ])
}

/// The query parameters of a redirect's `Location`, after checking it goes to our redirect URI.
fn redirect_params(reply: &(u16, reqwest::header::HeaderMap, String)) -> BTreeMap<String, String> {
    let (status, headers, body) = reply;
    assert!(matches!(status, 302 | 303), "expected a redirect, got {status}: {body}");
    let location =
        headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("a redirect without Location"));
    let url = reqwest::Url::parse(location).unwrap_or_else(|e| panic!("Location {location:?}: {e}"));
    assert_eq!(format!("{}://{}{}", url.scheme(), url.authority(), url.path()), REDIRECT_URI, "{location}");
    url.query_pairs().into_owned().collect()
}

/// Runs the browser part of the flow with auto-approval; returns the authorization code.
async fn authorize(emu: &Emu) -> String {
    let reply = emu.control.raw_text(Method::GET, &format!("/o/oauth2/v2/auth?{}", auth_query()), None, &[]).await;
    let params = redirect_params(&reply);
    assert_eq!(params.get("state").map(String::as_str), Some("xyz"), "{params:?}");
    params.get("code").unwrap_or_else(|| panic!("no code in {params:?}")).clone()
}

async fn exchange(emu: &Emu, code: &str, verifier: &str) -> Reply {
    emu.control
        .form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier),
            ],
        )
        .await
}

async fn refresh(emu: &Emu, refresh_token: &str) -> Reply {
    emu.control
        .form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
        )
        .await
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}")).to_owned()
}

fn auto_approving() -> Config {
    Config { auto_approve: true, ..Config::default() }
}

#[tokio::test]
async fn the_authorization_code_flow_with_pkce_gives_working_tokens() {
    let emu = Emu::start_with(auto_approving()).await;
    let code = authorize(&emu).await;

    let (status, _, tokens) = exchange(&emu, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], json!("Bearer"));
    assert_eq!(tokens["scope"], json!(SCOPE_CALENDAR));
    let expires_in = tokens["expires_in"].as_u64().unwrap_or(0);
    assert!((1..=3600).contains(&expires_in), "expires_in {expires_in}");
    let access = text(&tokens, "access_token");
    let refresh_token = text(&tokens, "refresh_token");

    let api = emu.with_token(&access);
    let (status, _, list) = api.get(EVENTS).await;
    assert_eq!(status, 200, "{list}");
    let (status, _, me) = api.get("/oauth2/v3/userinfo").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], json!(USER));

    // The code is single-use.
    let (status, _, err) = exchange(&emu, &code, VERIFIER).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"], json!("invalid_grant"));

    // Refreshing gives a new access token that works.
    let (status, _, refreshed) = refresh(&emu, &refresh_token).await;
    assert_eq!(status, 200, "{refreshed}");
    let second = text(&refreshed, "access_token");
    assert_ne!(second, access);
    assert_eq!(refreshed["token_type"], json!("Bearer"));
    assert_eq!(emu.with_token(&second).get(EVENTS).await.0, 200);
}

#[tokio::test]
async fn a_wrong_code_verifier_is_invalid_grant() {
    let emu = Emu::start_with(auto_approving()).await;
    let code = authorize(&emu).await;
    let (status, _, err) = exchange(&emu, &code, "a-verifier-that-does-not-match-the-challenge-at-all").await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"], json!("invalid_grant"));
    assert!(err.get("access_token").is_none());

    // A wrong client secret is refused too.
    let code = authorize(&emu).await;
    let (status, _, err) = emu
        .control
        .form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", CLIENT_ID),
                ("client_secret", "not-the-secret"),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(status, 401, "{err}");
    assert_eq!(err["error"], json!("invalid_client"));
}

#[tokio::test]
async fn revoking_the_grant_kills_the_refresh_token_and_its_access_tokens() {
    let emu = Emu::start_with(auto_approving()).await;
    let code = authorize(&emu).await;
    let (_, _, tokens) = exchange(&emu, &code, VERIFIER).await;
    let access = text(&tokens, "access_token");
    let refresh_token = text(&tokens, "refresh_token");
    let (_, _, refreshed) = refresh(&emu, &refresh_token).await;
    let second = text(&refreshed, "access_token");
    assert_eq!(emu.with_token(&access).get(EVENTS).await.0, 200);

    let (status, _, body) =
        emu.control.raw(Method::POST, &format!("/revoke?token={}", enc(&refresh_token)), None, &[]).await;
    assert_eq!(status, 200, "{body}");

    let (status, _, err) = refresh(&emu, &refresh_token).await;
    assert_eq!(status, 400);
    assert_eq!(err, json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}));
    for token in [&access, &second] {
        let reply = emu.with_token(token).get(EVENTS).await;
        assert_error(&reply, 401, "authError");
    }
}

#[tokio::test]
async fn an_expired_access_token_is_401_auth_error() {
    let emu = Emu::start_with(Config { access_token_ttl: Duration::from_secs(1), ..Config::default() }).await;
    let api = emu.with_token(&emu.emulator.access_token(USER));
    assert_eq!(api.get(EVENTS).await.0, 200, "the token works while it is fresh");

    // Let it expire (this waits; it asserts nothing about how long anything took).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, headers, err) = api.get(EVENTS).await;
    assert_eq!(status, 401);
    assert_eq!(err, google_error_at(401, "global", "authError", "Invalid Credentials", "header", "Authorization"));
    assert!(headers.get("www-authenticate").is_some(), "401 carries WWW-Authenticate");
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401() {
    let emu = Emu::start().await;
    let reply = emu.control.get(EVENTS).await;
    assert_eq!(reply.0, 401, "{}", reply.2);
    assert_eq!(reply.2["error"]["code"], json!(401));
    assert_eq!(reply.2["error"]["errors"][0]["location"], json!("Authorization"));

    let reply = emu.with_token("ya29.not-a-token").get(EVENTS).await;
    assert_eq!(reply.2, google_error_at(401, "global", "authError", "Invalid Credentials", "header", "Authorization"));
    assert_eq!(reply.0, 401);

    let (status, _, _) = emu.control.get("/oauth2/v3/userinfo").await;
    assert_eq!(status, 401);
}

/// `(name, value)` of every `<input>` in an HTML page, and the form's `action`.
fn form_fields(html: &str) -> (String, Vec<(String, String, String)>) {
    fn attr(tag: &str, name: &str) -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let len = tag[start..].find('"')?;
        Some(
            tag[start..start + len]
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        )
    }
    let form_tag = html.split("<form").nth(1).and_then(|t| t.split('>').next()).unwrap_or_else(|| panic!("{html}"));
    let action = attr(form_tag, "action").unwrap_or_else(|| panic!("a form without action: {form_tag}"));
    let inputs = html
        .split("<input")
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .map(|tag| {
            (
                attr(tag, "type").unwrap_or_default(),
                attr(tag, "name").unwrap_or_default(),
                attr(tag, "value").unwrap_or_default(),
            )
        })
        .collect();
    (action, inputs)
}

/// What the browser posts when the user picks `user` and presses the `decision` button.
fn consent_answer(html: &str, user: &str, decision: &str) -> (String, Vec<(String, String)>) {
    let (action, inputs) = form_fields(html);
    let mut pairs: Vec<(String, String)> =
        inputs.iter().filter(|(t, _, _)| t == "hidden").map(|(_, n, v)| (n.clone(), v.clone())).collect();
    assert!(
        inputs.iter().any(|(t, n, v)| t == "radio" && n == "user" && v == user),
        "the consent page offers {user}: {inputs:?}"
    );
    pairs.push(("user".into(), user.into()));
    pairs.push(("decision".into(), decision.into()));
    (action, pairs)
}

#[tokio::test]
async fn the_consent_page_lets_the_user_pick_an_account_and_allow_or_deny() {
    let emu = Emu::start().await; // auto_approve is off by default
    emu.emulator.add_user("other@example.com");
    let page = emu.control.raw_text(Method::GET, &format!("/o/oauth2/v2/auth?{}", auth_query()), None, &[]).await;
    let (status, headers, html) = &page;
    assert_eq!(*status, 200, "{html}");
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(html.contains("<form"), "{html}");
    assert!(html.contains("name=\"decision\" value=\"allow\"") && html.contains(">Allow<"), "an Allow button: {html}");

    // Allow, as other@example.com.
    let (action, pairs) = consent_answer(html, "other@example.com", "allow");
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, headers, body) = emu.control.form(&action, &refs).await;
    let params = redirect_params(&(status, headers, body.to_string()));
    assert_eq!(params.get("state").map(String::as_str), Some("xyz"));
    let code = params.get("code").unwrap_or_else(|| panic!("no code in {params:?}")).clone();
    let (status, _, tokens) = exchange(&emu, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    let (_, _, me) = emu.with_token(&text(&tokens, "access_token")).get("/oauth2/v3/userinfo").await;
    assert_eq!(me["email"], json!("other@example.com"), "the token belongs to the chosen account");

    // Deny.
    let (action, pairs) = consent_answer(html, USER, "deny");
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, headers, body) = emu.control.form(&action, &refs).await;
    let params = redirect_params(&(status, headers, body.to_string()));
    assert_eq!(params.get("error").map(String::as_str), Some("access_denied"), "{params:?}");
    assert_eq!(params.get("state").map(String::as_str), Some("xyz"));
    assert!(!params.contains_key("code"), "{params:?}");
}

#[tokio::test]
async fn a_read_only_token_cannot_write() {
    let emu = Emu::start().await;
    let (status, _, minted) = emu
        .control
        .post(
            "/_emulator/tokens",
            &json!({"email": USER, "scope": "https://www.googleapis.com/auth/calendar.events.readonly"}),
        )
        .await;
    assert_eq!(status, 200, "{minted}");
    let reader = emu.with_token(&text(&minted, "access_token"));

    assert_eq!(reader.get(EVENTS).await.0, 200, "events.readonly may read events");
    let (status, _, err) = reader.post(EVENTS, &hour_event("Not allowed", 9)).await;
    assert_eq!(status, 403);
    assert_eq!(
        err,
        google_error(403, "global", "insufficientPermissions", "Request had insufficient authentication scopes.")
    );
    // calendarList needs calendar or calendar.readonly (§1.1).
    assert_error(&reader.get(CALENDAR_LIST).await, 403, "insufficientPermissions");

    let (_, _, list) = emu.api.get(EVENTS).await;
    assert!(items(&list).is_empty(), "the refused insert stored nothing");

    // calendar.events may write events but not create calendars.
    let (_, _, minted) = emu
        .control
        .post("/_emulator/tokens", &json!({"email": USER, "scope": "https://www.googleapis.com/auth/calendar.events"}))
        .await;
    let writer = emu.with_token(&text(&minted, "access_token"));
    assert_eq!(writer.post(EVENTS, &hour_event("Allowed", 9)).await.0, 200);
    assert_error(
        &writer.post("/calendar/v3/calendars", &json!({"summary": "Nope"})).await,
        403,
        "insufficientPermissions",
    );
}

#[tokio::test]
async fn each_user_sees_only_their_own_calendars() {
    let emu = Emu::start().await;
    let alice = emu.as_user("alice@example.com");
    let bob = emu.as_user("bob@example.com");
    let event = insert(&alice, "primary", &hour_event("Alice's secret", 9)).await;
    let id = event["id"].as_str().unwrap_or_default();
    assert_eq!(event["organizer"]["email"], json!("alice@example.com"));

    let not_found = google_error(404, "global", "notFound", "Not Found");
    let alice_events = events_of("alice@example.com");
    let (status, _, err) = bob.get(&alice_events).await;
    assert_eq!(status, 404);
    assert_eq!(err, not_found);
    assert_eq!(bob.get(&format!("{alice_events}/{id}")).await.0, 404);
    assert_eq!(bob.post(&alice_events, &hour_event("Intrusion", 10)).await.0, 404);
    assert_eq!(bob.delete(&format!("{alice_events}/{id}")).await.0, 404);
    assert_eq!(bob.get(&event_path(id)).await.0, 404, "bob's primary does not hold alice's event");

    let (_, _, bobs) = bob.get(EVENTS).await;
    assert!(items(&bobs).is_empty(), "{bobs}");
    let (_, _, list) = bob.get(CALENDAR_LIST).await;
    assert_eq!(ids(&list), vec!["bob@example.com".to_owned()]);
    let (_, _, cal) = alice.get("/calendar/v3/calendars/primary").await;
    assert_eq!(cal["id"], json!("alice@example.com"));

    let (status, _, still) = alice.get(&event_path(id)).await;
    assert_eq!(status, 200);
    assert_eq!(still["status"], json!("confirmed"));
    let (_, _, me) = bob.get("/oauth2/v3/userinfo").await;
    assert_eq!(me["email"], json!("bob@example.com"));
}
