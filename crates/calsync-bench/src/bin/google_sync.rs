//! `cargo run --release -p calsync-bench --bin google_sync`
//!
//! Google sync against the emulator, over a fresh SQLite hub:
//! 1. Initial import of 10,000 remote events (500 of them weekly series with 10
//!    occurrences): the engine's full pull vs merely paging the same listing over HTTP
//!    (the overhead ratio), and the process' peak RSS (emulator included).
//! 2. One remote change, pulled: Calendar API requests made (target: 1 list call) and time.
//! 3. One local change pushed: time from the hub's write to Google's answer, p50/p99 over 200.
//!
//! Results go to stdout in the form BENCHMARKS.md records.

use anyhow::{Context, bail};
use calsync_core::{CalendarDraft, CalendarId, CalendarInput, EventDraft, EventId, EventInput, Source};
use calsync_emulators::google::{Config, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USER, GoogleEmulator};
use calsync_providers::google::GoogleProvider;
use calsync_providers::oauth::{AccessTokens, OAuthClient};
use calsync_store::testing::TestDb;
use calsync_store::{NewEvent, TokenHash};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const EVENTS: usize = 10_000;
const SERIES: usize = 500;
const LOCAL_CHANGES: usize = 200;

fn remote_event(i: usize) -> Value {
    let day = 1 + i % 28;
    let month = 1 + (i / 28) % 12;
    let hour = 7 + i % 11;
    let mut v = json!({
        "summary": format!("Remote event {i}"),
        "description": "Imported by the benchmark.",
        "start": {"dateTime": format!("2027-{month:02}-{day:02}T{hour:02}:00:00"), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": format!("2027-{month:02}-{day:02}T{hour:02}:45:00"), "timeZone": "Europe/Berlin"},
    });
    if i.is_multiple_of(EVENTS / SERIES) {
        v["recurrence"] = json!(["RRULE:FREQ=WEEKLY;COUNT=10"]);
    }
    v
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

async fn requests(http: &reqwest::Client, google: &GoogleEmulator) -> anyhow::Result<Vec<Value>> {
    let log: Value = http.get(format!("{}/_emulator/requests", google.base_url())).send().await?.json().await?;
    Ok(log["requests"].as_array().cloned().unwrap_or_default())
}

#[allow(clippy::print_stdout, clippy::too_many_lines)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let google = GoogleEmulator::start(Config::default()).await?;
    let http = reqwest::Client::new();
    let base = google.base_url().to_owned();

    // Fill Google (4 clients in parallel, through the "web UI" control path).
    let mut tasks = Vec::new();
    for c in 0..4 {
        let (http, base) = (http.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            for i in (c..EVENTS).step_by(4) {
                let r = http
                    .post(format!("{base}/_emulator/users/{DEFAULT_USER}/calendars/primary/events"))
                    .json(&remote_event(i))
                    .send()
                    .await?;
                if !r.status().is_success() {
                    bail!("seeding event {i}: {}", r.status());
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }

    // Merely paging the listing (same page size as the connector), JSON parsed.
    let token = google.access_token(DEFAULT_USER);
    let t = Instant::now();
    let mut page: Option<String> = None;
    let mut paged = 0;
    loop {
        let mut url = reqwest::Url::parse(&format!("{}calendars/primary/events", google.api_root()))?;
        url.query_pairs_mut().append_pair("maxResults", "1000").append_pair("showDeleted", "false");
        if let Some(p) = &page {
            url.query_pairs_mut().append_pair("pageToken", p);
        }
        let v: Value = http.get(url).bearer_auth(&token).send().await?.json().await?;
        paged += v["items"].as_array().map_or(0, Vec::len);
        match v["nextPageToken"].as_str() {
            Some(p) => page = Some(p.to_owned()),
            None => break,
        }
    }
    let paging = t.elapsed();
    if paged != EVENTS {
        bail!("paging saw {paged} events, expected {EVENTS}");
    }

    // The hub and the link.
    let db = TestDb::sqlite();
    let store = db.open().await;
    let user = store.create_user("bench", &TokenHash("bench".into())).await?.id;
    let draft = CalendarDraft::parse(CalendarInput {
        name: "Work".into(),
        color: None,
        time_zone: Some("Europe/Berlin".into()),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let calendar = store.create_calendar(user, CalendarId::new(), &draft).await?.id;
    let account = store.upsert_account(user, Source::Google, DEFAULT_USER, b"bench").await?;
    let link = store.create_link(user, account.id, calendar, DEFAULT_USER).await?;
    let tokens: Value = http
        .post(format!("{base}/_emulator/tokens"))
        .json(&json!({"email": DEFAULT_USER}))
        .send()
        .await?
        .json()
        .await?;
    let oauth = OAuthClient {
        auth_url: format!("{base}/o/oauth2/v2/auth"),
        token_url: format!("{base}/token"),
        revoke_url: Some(format!("{base}/revoke")),
        client_id: DEFAULT_CLIENT_ID.into(),
        client_secret: secrecy::SecretString::from(DEFAULT_CLIENT_SECRET),
        redirect_uri: "http://127.0.0.1:1/cb".into(),
        scopes: vec!["https://www.googleapis.com/auth/calendar".into()],
    };
    let refresh = tokens["refresh_token"].as_str().context("no refresh token")?.to_owned();
    let provider = GoogleProvider::new(
        http.clone(),
        &google.api_root(),
        AccessTokens::new(oauth, secrecy::SecretString::from(refresh)),
    );

    let t = Instant::now();
    let import = calsync_engine::pull(&*store, &provider, &link, Source::Google).await?;
    let importing = t.elapsed();
    if import.created != EVENTS {
        bail!("the import created {} events, expected {EVENTS}: {import:?}", import.created);
    }
    let rss = peak_rss_mib();

    // One remote change, pulled.
    let link = store.get_link(user, link.id).await?;
    let one: Value = http
        .post(format!("{base}/_emulator/users/{DEFAULT_USER}/calendars/primary/events"))
        .json(&remote_event(EVENTS + 1))
        .send()
        .await?
        .json()
        .await?;
    if one["id"].is_null() {
        bail!("the remote change was refused: {one}");
    }
    http.delete(format!("{base}/_emulator/requests")).send().await?;
    let t = Instant::now();
    let delta = calsync_engine::pull(&*store, &provider, &link, Source::Google).await?;
    let delta_time = t.elapsed();
    let calls = requests(&http, &google).await?;
    let list_calls = calls
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"].as_str().is_some_and(|p| p.ends_with("/events")))
        .count();
    if delta.created != 1 {
        bail!("the delta created {} events, expected 1", delta.created);
    }

    // Local changes pushed one at a time.
    let mut lags = Vec::with_capacity(LOCAL_CHANGES);
    for i in 0..LOCAL_CHANGES {
        let input: EventInput = serde_json::from_value(json!({
            "calendar_id": calendar, "title": format!("Local {i}"),
            "start": {"date_time": "2027-06-01T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2027-06-01T10:00:00", "time_zone": "Europe/Berlin"},
        }))?;
        let draft = EventDraft::parse(input).map_err(|e| anyhow::anyhow!("{e}"))?;
        let t = Instant::now();
        store.create_events(user, vec![NewEvent { id: EventId::new(), draft, source: Source::Local }]).await?;
        let link = store.get_link(user, link.id).await?;
        let pushed = calsync_engine::push(&*store, &provider, &link).await?;
        lags.push(t.elapsed());
        if pushed.created != 1 {
            bail!("push {i} created {}", pushed.created);
        }
    }
    lags.sort();

    println!("| Google sync (SQLite hub) | result |");
    println!("|---|---|");
    println!("| paging {EVENTS} events from the emulator (pages of 1,000) | {:.2} s |", paging.as_secs_f64());
    println!(
        "| initial import of {EVENTS} events ({SERIES} series) | {:.2} s, {:.1}× paging |",
        importing.as_secs_f64(),
        importing.as_secs_f64() / paging.as_secs_f64()
    );
    println!("| peak RSS after the import (emulator in the same process) | {rss:.0} MiB |");
    println!("| one remote change pulled | {list_calls} list call(s), {:.1} ms |", delta_time.as_secs_f64() * 1e3);
    println!(
        "| one local change, hub write → Google's answer ({LOCAL_CHANGES} runs) | p50 {:.1} ms, p99 {:.1} ms |",
        percentile(&lags, 0.5),
        percentile(&lags, 0.99)
    );
    drop(db);
    google.stop().await;
    Ok(())
}
