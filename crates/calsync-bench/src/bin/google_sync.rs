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

use anyhow::bail;
use calsync_bench::hub::Hub;
use calsync_bench::{
    clear_request_log, google_endpoints, is_google_list, p50_p99, post_json, refresh_token, request_log, seed,
    status_mib,
};
use calsync_core::Source;
use calsync_emulators::google::{Config, DEFAULT_USER, GoogleEmulator};
use calsync_providers::google::GoogleProvider;
use calsync_providers::oauth::AccessTokens;
use serde_json::{Value, json};
use std::time::Instant;

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

#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let google = GoogleEmulator::start(Config::default()).await?;
    let http = reqwest::Client::new();
    let base = google.base_url().to_owned();

    // Fill Google (4 clients in parallel, through the "web UI" control path).
    let events = format!("{base}/_emulator/users/{DEFAULT_USER}/calendars/primary/events");
    seed(&http, &events, EVENTS, 4, remote_event).await?;

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
    let hub = Hub::linked(Source::Google, DEFAULT_USER, DEFAULT_USER).await?;
    let endpoints = google_endpoints(&base, "http://127.0.0.1:1");
    let refresh = refresh_token(&http, &base, DEFAULT_USER).await?;
    let provider = GoogleProvider::new(http.clone(), &google.api_root(), AccessTokens::new(endpoints.oauth, refresh));

    let (import, importing) = hub.pull(&provider, Source::Google).await?;
    if import.created != EVENTS {
        bail!("the import created {} events, expected {EVENTS}: {import:?}", import.created);
    }
    let rss = status_mib("VmHWM:");

    // One remote change, pulled.
    post_json(&http, &events, &remote_event(EVENTS + 1)).await?;
    clear_request_log(&http, &base).await?;
    let (delta, delta_time) = hub.pull(&provider, Source::Google).await?;
    let list_calls = request_log(&http, &base).await?.iter().filter(|r| is_google_list(r)).count();
    if delta.created != 1 {
        bail!("the delta created {} events, expected 1", delta.created);
    }

    // Local changes pushed one at a time.
    let lags = hub.local_push_lags(&provider, LOCAL_CHANGES).await?;

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
    println!("| one local change, hub write → Google's answer ({LOCAL_CHANGES} runs) | {} |", p50_p99(&lags));
    drop(hub);
    google.stop().await;
    Ok(())
}
