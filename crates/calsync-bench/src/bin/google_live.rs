//! `cargo run --release -p calsync-bench --bin google_live`
//!
//! A whole calsync server (API, webhooks, two workers, SQLite) syncing with the Google
//! emulator over real HTTP, with push notifications on:
//! 1. Latency from a change committed in Google to its arrival on the user's change stream
//!    (SSE), p50/p99 over 200 changes made one at a time, and the list calls they cost.
//! 2. 1,000 linked calendars (1,000 users, each with an account and a channel) that have
//!    nothing to do: how long their first sync takes, then the process' CPU and memory
//!    over an idle minute, and the requests the workers make to Google meanwhile.
//!
//! Results go to stdout in the form BENCHMARKS.md records.

use calsync_bench::rig::Rig;
use calsync_bench::{is_google_list, per, percentile_ms};
use calsync_core::Source;
use calsync_emulators::google::DEFAULT_USER;
use serde_json::{Value, json};
use std::time::Duration;

const CHANGES: usize = 200;
const IDLE_LINKS: usize = 1_000;
const IDLE_WINDOW: Duration = Duration::from_secs(60);
const TOKEN: &str = "bench-user-token-0123456789abcdef";

fn booked_in_google(i: usize) -> Value {
    json!({"summary": format!("Booked in Google {i}"),
        "start": {"dateTime": "2027-03-01T10:00:00Z"}, "end": {"dateTime": "2027-03-01T11:00:00Z"}})
}

#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rig = Rig::start(&[Source::Google]).await?;
    println!("| Google live sync (server + 2 workers, SQLite, push on) | result |");
    println!("|---|---|");

    let (_, calendar) = rig.user("ada", TOKEN).await?;
    rig.connect_and_link(TOKEN, calendar, Source::Google).await?;
    let url = format!("{}/_emulator/users/{DEFAULT_USER}/calendars/primary/events", rig.emulator(Source::Google)?);
    let (lags, requests) = rig.remote_change_latency(TOKEN, Source::Google, CHANGES, &url, booked_in_google).await?;
    let lists = requests.iter().filter(|r| is_google_list(r)).count();
    println!(
        "| one remote change with push on, Google's commit → the user's change stream ({CHANGES} runs) | p50 {:.0} ms, p99 {:.0} ms (250 ms of it is the notification debounce) |",
        percentile_ms(&lags, 0.5),
        percentile_ms(&lags, 0.99)
    );
    println!("| list calls per remote change with push on | {:.2} |", per(lists, CHANGES));

    rig.idle_links(Source::Google, IDLE_LINKS, IDLE_WINDOW).await?.print(IDLE_LINKS, "Google");
    Ok(())
}
