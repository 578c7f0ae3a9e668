//! `cargo run --release -p calsync-bench --bin graph_live`
//!
//! A whole calsync server (API, webhooks, two workers, SQLite) syncing with the Graph
//! emulator over real HTTP, with push on (the public URL is the server's own, so every link
//! has a subscription); the Google figures' counterpart is `google_live`:
//! 1. Latency from a change committed in Outlook to its arrival on the user's change stream
//!    (SSE), p50/p99 over 200 changes made one at a time, and the requests they cost.
//! 2. Latency from a write to calsync's API to the event showing in Outlook's calendar
//!    view (read by another app every 5 ms), p50/p99 over 200 writes made one at a time.
//! 3. 1,000 linked Outlook calendars (1,000 users, each with a mailbox, an account and a
//!    subscription) that have nothing to do: how long their first sync takes, then the
//!    process' CPU and memory over an idle minute, and the requests to Graph meanwhile.
//!
//! Results go to stdout in the form BENCHMARKS.md records.

use calsync_bench::rig::{OutlookWatch, Rig, by_calsync};
use calsync_bench::{clear_request_log, is_graph_delta, p50_p99, per, request_log, utc_slot};
use calsync_core::Source;
use calsync_emulators::graph::DEFAULT_USER;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CHANGES: usize = 200;
const WRITES: usize = 200;
/// Between two local writes, so that each one's echo (Graph notifies calsync of its own
/// write; the pull after the debounce finds nothing new) is over before the next.
const WRITE_GAP: Duration = Duration::from_millis(300);
const IDLE_LINKS: usize = 1_000;
const IDLE_WINDOW: Duration = Duration::from_secs(60);
const TOKEN: &str = "bench-user-token-0123456789abcdef";

fn booked_in_outlook(i: usize) -> Value {
    json!({"subject": format!("Booked in Outlook {i}"),
        "start": {"dateTime": "2027-03-01T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2027-03-01T11:00:00", "timeZone": "UTC"}})
}

#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rig = Rig::start(&[Source::Microsoft]).await?;
    let graph = rig.graph.as_ref().ok_or_else(|| anyhow::anyhow!("no Graph emulator"))?;
    println!("| Graph live sync (server + 2 workers, SQLite, push on) | result |");
    println!("|---|---|");

    let (_, calendar) = rig.user("ada", TOKEN).await?;
    rig.connect_and_link(TOKEN, calendar, Source::Microsoft).await?;
    let url = format!("{}/_emulator/users/{DEFAULT_USER}/events", graph.base_url());
    let (lags, requests) =
        rig.remote_change_latency(TOKEN, Source::Microsoft, CHANGES, &url, booked_in_outlook).await?;
    let deltas = requests.iter().filter(|r| is_graph_delta(r)).count();
    println!(
        "| one remote change with push on, Outlook's commit → the user's change stream ({CHANGES} runs) | {} |",
        p50_p99(&lags)
    );
    println!(
        "| requests to Graph per remote change with push on | {:.2} ({:.2} delta pages) |",
        per(requests.len(), CHANGES),
        per(deltas, CHANGES)
    );

    let watch = OutlookWatch::new(&rig.http, graph).await?;
    clear_request_log(&rig.http, graph.base_url()).await?;
    let mut lags = Vec::with_capacity(WRITES);
    for i in 0..WRITES {
        let (start, end) = utc_slot(i);
        let title = format!("Written in calsync {i}");
        let body = json!({"calendar_id": calendar, "title": title,
            "start": {"date_time": start, "time_zone": "UTC"}, "end": {"date_time": end, "time_zone": "UTC"}});
        let t = Instant::now();
        rig.api_post(TOKEN, "/api/v1/events", &body).await?;
        watch.wait_for(&title, i).await?;
        lags.push(t.elapsed());
        tokio::time::sleep(WRITE_GAP).await;
    }
    lags.sort();
    let requests: Vec<Value> = request_log(&rig.http, graph.base_url()).await?.into_iter().filter(by_calsync).collect();
    let deltas = requests.iter().filter(|r| is_graph_delta(r)).count();
    println!(
        "| one local change, API write → visible in Outlook's calendar view ({WRITES} runs, polled every {} ms) | {} |",
        OutlookWatch::POLL.as_millis(),
        p50_p99(&lags)
    );
    println!(
        "| requests to Graph per local change (the write, then the pull its echo causes) | {:.2} ({:.2} delta pages) |",
        per(requests.len(), WRITES),
        per(deltas, WRITES)
    );

    rig.idle_links(Source::Microsoft, IDLE_LINKS, IDLE_WINDOW).await?.print(IDLE_LINKS, "Graph");
    Ok(())
}
