//! `cargo run --release -p calsync-bench --bin hub_latency`
//!
//! Google → Outlook through the hub: a whole calsync server (API, webhooks, two workers,
//! SQLite) with one local calendar linked to both emulators, push on for both. An event
//! created in Google (its web UI: committed, then notified) is timed until Outlook's
//! calendar view shows it (read by another app every 5 ms): p50/p99 over 200 events made
//! one at a time, and the requests each costs at either provider.
//!
//! Results go to stdout in the form BENCHMARKS.md records.

use calsync_bench::rig::{OutlookWatch, Rig, by_calsync};
use calsync_bench::{clear_request_log, p50_p99, per, post_json, request_log, utc_slot};
use calsync_core::Source;
use calsync_emulators::google::DEFAULT_USER;
use serde_json::json;
use std::time::{Duration, Instant};

const EVENTS: usize = 200;
/// Between two events, so that the echoes (Graph notifies calsync of its own write) are
/// over before the next.
const GAP: Duration = Duration::from_millis(300);
const TOKEN: &str = "bench-user-token-0123456789abcdef";

#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rig = Rig::start(&[Source::Google, Source::Microsoft]).await?;
    let graph = rig.graph.as_ref().ok_or_else(|| anyhow::anyhow!("no Graph emulator"))?;
    let google = rig.emulator(Source::Google)?;
    let (_, calendar) = rig.user("ada", TOKEN).await?;
    rig.connect_and_link(TOKEN, calendar, Source::Google).await?;
    rig.connect_and_link(TOKEN, calendar, Source::Microsoft).await?;
    let watch = OutlookWatch::new(&rig.http, graph).await?;
    let url = format!("{google}/_emulator/users/{DEFAULT_USER}/calendars/primary/events");
    clear_request_log(&rig.http, google).await?;
    clear_request_log(&rig.http, graph.base_url()).await?;

    let mut lags = Vec::with_capacity(EVENTS);
    for i in 0..EVENTS {
        let (start, end) = utc_slot(i);
        let summary = format!("Booked in Google {i}");
        let body = json!({"summary": summary, "start": {"dateTime": format!("{start}Z")},
            "end": {"dateTime": format!("{end}Z")}});
        let t = Instant::now();
        post_json(&rig.http, &url, &body).await?;
        watch.wait_for(&summary, i).await?;
        lags.push(t.elapsed());
        tokio::time::sleep(GAP).await;
    }
    lags.sort();
    let at_google = request_log(&rig.http, google).await?.len();
    let at_graph = request_log(&rig.http, graph.base_url()).await?.into_iter().filter(by_calsync).count();

    println!("| Google → Outlook through the hub (server + 2 workers, SQLite, push on both) | result |");
    println!("|---|---|");
    println!(
        "| an event created in Google → visible in Outlook's calendar view ({EVENTS} runs, polled every {} ms) | {} |",
        OutlookWatch::POLL.as_millis(),
        p50_p99(&lags)
    );
    println!(
        "| requests per event: to Google, to Graph | {:.2}, {:.2} |",
        per(at_google, EVENTS),
        per(at_graph, EVENTS)
    );
    Ok(())
}
