//! `cargo run --release -p calsync-bench --bin google_emulator`
//!
//! The Google Calendar emulator must never be the bottleneck of calsync's benchmarks:
//! 1. Writes: 10,000 `events.insert` over HTTP (half from 1 client, half from 4 concurrent
//!    clients), then 2,000 `events.patch`: writes per second.
//! 2. Full sync: `events.list` of the 10,000 events in pages of 2,500 (4 pages), 20 times:
//!    p50 / max wall time per full listing.
//! 3. Incremental sync: a delta of 100 changed events after a full sync.
//!
//! Results go to stdout in the form BENCHMARKS.md records.

use anyhow::{Context, bail};
use calsync_emulators::google::{Config, DEFAULT_USER, GoogleEmulator};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const EVENTS: usize = 10_000;
const CONCURRENT_CLIENTS: usize = 4;
const PATCHES: usize = 2_000;
const LISTINGS: usize = 20;

fn body(i: usize) -> Value {
    let day = 1 + i % 28;
    let hour = 7 + i % 11;
    json!({
        "summary": format!("Event {i}"),
        "description": "Benchmark event with a description of ordinary length for a meeting.",
        "start": {"dateTime": format!("2027-03-{day:02}T{hour:02}:00:00"), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": format!("2027-03-{day:02}T{hour:02}:45:00"), "timeZone": "Europe/Berlin"},
        "extendedProperties": {"private": {"calsyncId": format!("{i:032x}")}},
    })
}

async fn insert(http: &reqwest::Client, url: &str, token: &str, i: usize) -> anyhow::Result<String> {
    let r = http.post(url).bearer_auth(token).json(&body(i)).send().await?;
    if !r.status().is_success() {
        bail!("insert {i}: {}", r.status());
    }
    let v: Value = r.json().await?;
    Ok(v["id"].as_str().unwrap_or_default().to_owned())
}

/// Follows `nextPageToken` to the end; returns (items, nextSyncToken).
async fn list_all(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    params: &[(&str, &str)],
) -> anyhow::Result<(usize, String)> {
    let mut page: Option<String> = None;
    let mut items = 0;
    loop {
        let mut target = reqwest::Url::parse(url)?;
        target.query_pairs_mut().extend_pairs(params);
        if let Some(p) = &page {
            target.query_pairs_mut().append_pair("pageToken", p);
        }
        let r = http.get(target).bearer_auth(token).send().await?;
        if !r.status().is_success() {
            bail!("list: {}", r.status());
        }
        let v: Value = r.json().await?;
        items += v["items"].as_array().map_or(0, Vec::len);
        if let Some(t) = v["nextPageToken"].as_str() {
            page = Some(t.to_owned());
        } else {
            let sync = v["nextSyncToken"].as_str().context("last page without nextSyncToken")?;
            return Ok((items, sync.to_owned()));
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let emulator = GoogleEmulator::start(Config::default()).await?;
    let token = emulator.access_token(DEFAULT_USER);
    let url = format!("{}calendars/primary/events", emulator.api_root());
    let http = reqwest::Client::new();

    let t = Instant::now();
    let mut ids = Vec::with_capacity(EVENTS);
    for i in 0..EVENTS / 2 {
        ids.push(insert(&http, &url, &token, i).await?);
    }
    let sequential = t.elapsed();

    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CONCURRENT_CLIENTS {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in (EVENTS / 2 + c..EVENTS).step_by(CONCURRENT_CLIENTS) {
                out.push(insert(&http, &url, &token, i).await?);
            }
            anyhow::Ok(out)
        }));
    }
    for task in tasks {
        ids.extend(task.await??);
    }
    let concurrent = t.elapsed();

    let t = Instant::now();
    for (n, id) in ids.iter().take(PATCHES).enumerate() {
        let r = http
            .patch(format!("{url}/{id}"))
            .bearer_auth(&token)
            .json(&json!({"summary": format!("Patched {n}")}))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("patch {id}: {}", r.status());
        }
    }
    let patches = t.elapsed();

    let mut listings = Vec::with_capacity(LISTINGS);
    let mut sync = String::new();
    for _ in 0..LISTINGS {
        let t = Instant::now();
        let (items, s) = list_all(&http, &url, &token, &[("maxResults", "2500")]).await?;
        listings.push(t.elapsed());
        if items != EVENTS {
            bail!("full listing returned {items} items, expected {EVENTS}");
        }
        sync = s;
    }
    listings.sort();

    for id in ids.iter().rev().take(100) {
        http.patch(format!("{url}/{id}")).bearer_auth(&token).json(&json!({"location": "Room 2"})).send().await?;
    }
    let t = Instant::now();
    let (delta_items, _) = list_all(&http, &url, &token, &[("syncToken", &sync)]).await?;
    let delta = t.elapsed();
    if delta_items != 100 {
        bail!("delta returned {delta_items} items, expected 100");
    }

    println!("| Google emulator | result |");
    println!("|---|---|");
    println!(
        "| inserts, 1 client | {:.0}/s ({} in {:.2} s) |",
        rate(EVENTS / 2, sequential),
        EVENTS / 2,
        sequential.as_secs_f64()
    );
    println!(
        "| inserts, {CONCURRENT_CLIENTS} clients | {:.0}/s ({} in {:.2} s) |",
        rate(EVENTS / 2, concurrent),
        EVENTS / 2,
        concurrent.as_secs_f64()
    );
    println!("| patches, 1 client | {:.0}/s ({PATCHES} in {:.2} s) |", rate(PATCHES, patches), patches.as_secs_f64());
    println!(
        "| full listing of {EVENTS} events, 4 pages of 2,500 | p50 {:.0} ms, max {:.0} ms ({LISTINGS} runs) |",
        listings[LISTINGS / 2].as_secs_f64() * 1e3,
        listings[LISTINGS - 1].as_secs_f64() * 1e3
    );
    println!("| incremental sync, 100 changes | {:.1} ms |", delta.as_secs_f64() * 1e3);
    emulator.stop().await;
    Ok(())
}
