//! Secrets at rest: after a Google account is connected (and synced), the refresh token Google
//! issued is nowhere in the database files in clear — not in the main file, not in the WAL.

mod support;

use calsync_emulators::google::{Config, DEFAULT_USER, GoogleEmulator};
use calsync_engine::Schedule;
use calsync_server::auth::hash_token;
use calsync_store::testing::TestDb;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{PATIENCE, TestApp};

fn polling_quickly() -> Schedule {
    Schedule {
        poll_with_push: Duration::from_secs(3600),
        poll_without_push: Duration::from_millis(200),
        backoff_base: Duration::from_millis(100),
        backoff_cap: Duration::from_secs(1),
    }
}

/// The user grants access in a browser (the emulator approves at once); returns the
/// account's id.
async fn connect_google(app: &TestApp, token: &str) -> String {
    let started = app.send_json(Method::POST, "/api/v1/accounts/google/connect", token, &json!({})).await;
    assert_eq!(started.status, 200, "{}", started.json);
    let consent = started.json["authorization_url"].as_str().unwrap_or_else(|| panic!("{}", started.json));
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let approved = browser.get(consent).send().await.unwrap_or_else(|e| panic!("consent: {e}"));
    let back = approved.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(back.starts_with(&app.url("/oauth/google/callback")), "consent sent the browser to {back:?}");
    let landed = browser.get(&back).send().await.unwrap_or_else(|e| panic!("callback: {e}"));
    assert_eq!(landed.status(), 200);
    let accounts = app.get("/api/v1/accounts", token).await;
    let account = &accounts.json["accounts"][0];
    assert_eq!(account["state"], "active", "{}", accounts.json);
    account["id"].as_str().unwrap_or_else(|| panic!("{}", accounts.json)).to_owned()
}

/// Every file of the SQLite database at `url` (`sqlite://…/calsync.db`): the database
/// itself and its companions (`-wal`, `-shm`, a rollback journal), with their bytes.
fn database_files(url: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let db = Path::new(url.strip_prefix("sqlite://").unwrap_or_else(|| panic!("not a SQLite URL: {url}")));
    let name = db.file_name().and_then(|n| n.to_str()).unwrap_or_else(|| panic!("no file name in {url}"));
    let dir = db.parent().unwrap_or_else(|| panic!("no directory in {url}"));
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(name)))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresh_token_is_never_stored_in_clear() {
    let google = GoogleEmulator::start(Config { auto_approve: true, ..Config::default() })
        .await
        .unwrap_or_else(|e| panic!("emulator: {e}"));
    let app = TestApp::with_google(TestDb::sqlite(), google.base_url(), false, polling_quickly()).await;
    let token = app.user("ada").await;
    let calendar = app.calendar(&token, "Work").await;
    let account = connect_google(&app, &token).await;

    // Link a calendar and let the workers sync it, so every place the sync writes to is used.
    let link = app
        .send_json(
            Method::POST,
            "/api/v1/links",
            &token,
            &json!({"account_id": account, "calendar_id": calendar, "remote_calendar_id": DEFAULT_USER}),
        )
        .await;
    assert_eq!(link.status, 201, "{}", link.json);
    let link = link.id();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let status = app.get(&format!("/api/v1/links/{link}/status"), &token).await;
        if status.json["state"] == "active" && status.json["last_pull_at"].is_string() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the link never synced: {}", status.json);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The refresh tokens Google issued (the connect's code exchange gives exactly one).
    let snapshot: Value = reqwest::get(format!("{}/_emulator/snapshot", google.base_url()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let issued: Vec<String> =
        snapshot["refresh_tokens"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    assert_eq!(issued.len(), 1, "{}", snapshot["refresh_tokens"]);

    // What the store holds for the account: sealed bytes, which the files must contain
    // (proof that the files read are the ones written to).
    let store = app.db.open().await;
    let user = store.user_by_token(&hash_token(&token)).await.unwrap_or_else(|e| panic!("{e}"));
    let user = user.unwrap_or_else(|| panic!("no user for the token"));
    let accounts = store.list_accounts(user.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(accounts.len(), 1);
    let sealed = accounts[0].secret.clone();

    let files = database_files(app.db.url.expose());
    let paths: Vec<&PathBuf> = files.iter().map(|(p, _)| p).collect();
    assert!(paths.iter().any(|p| p.extension().is_some_and(|e| e == "db")), "no database file: {paths:?}");
    assert!(files.iter().any(|(_, bytes)| contains(bytes, &sealed)), "the sealed secret is in none of {paths:?}");
    for refresh in &issued {
        // The whole token, and its random part alone (without Google's `1//` prefix).
        let random_part = refresh.rsplit('/').next().unwrap_or(refresh);
        assert!(random_part.len() >= 32, "an unexpectedly short token: {refresh}");
        for (path, bytes) in &files {
            assert!(!contains(bytes, refresh.as_bytes()), "the refresh token is in clear in {}", path.display());
            assert!(
                !contains(bytes, random_part.as_bytes()),
                "the refresh token's random part is in clear in {}",
                path.display()
            );
        }
    }
}
