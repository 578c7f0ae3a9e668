//! `cargo run --release -p calsync-bench --bin graph_sync`
//!
//! Outlook sync against the Graph emulator, over a fresh SQLite hub (the Google figures'
//! counterpart, `google_sync`):
//! 1. Initial import of 10,000 remote events (500 of them weekly series with 10
//!    occurrences, one of which is moved: an exception): the engine's full pull vs merely
//!    paging the calendarView delta over the same window with the raw API (the overhead
//!    ratio), the requests it makes, and the process' peak RSS (emulator included); in
//!    Graph's default pages, as the server runs it, and again in pages of 1,000.
//! 2. One remote change, pulled: Graph requests made and time, for a new event (beside a
//!    raw delta round that reads the same change) and for one occurrence of a series moved.
//! 3. One local change pushed: time from the hub's write to Graph's answer, p50/p99 over
//!    200, beside the same create made with the raw API; and the first push after the
//!    import, which walks the change rows the import wrote.
//!
//! Results go to stdout in the form BENCHMARKS.md records.

use anyhow::{Context, bail};
use calsync_bench::hub::{Hub, local_event};
use calsync_bench::{
    clear_request_log, graph_endpoints, is_graph_delta, p50_p99, per, post_json, refresh_token, request_log, seed,
    status_mib,
};
use calsync_core::{EventId, Source};
use calsync_emulators::graph::{Config, DEFAULT_USER, GraphEmulator};
use calsync_providers::graph::GraphProvider;
use calsync_providers::graph::map::event_to_graph;
use calsync_providers::oauth::AccessTokens;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const EVENTS: usize = 10_000;
const SERIES: usize = 500;
const OCCURRENCES: usize = 10;
const LOCAL_CHANGES: usize = 200;
/// What the connector sends with every request (immutable ids, times in UTC).
const PREFER: &str = r#"IdType="ImmutableId", outlook.timezone="UTC""#;

fn remote_event(i: usize) -> Value {
    let day = 1 + i % 28;
    let month = 1 + (i / 28) % 12;
    let hour = 7 + i % 11;
    let date = format!("2027-{month:02}-{day:02}");
    let mut v = json!({
        "subject": format!("Remote event {i}"),
        "body": {"contentType": "text", "content": "Imported by the benchmark."},
        "start": {"dateTime": format!("{date}T{hour:02}:00:00"), "timeZone": "Europe/Berlin"},
        "end": {"dateTime": format!("{date}T{hour:02}:45:00"), "timeZone": "Europe/Berlin"},
    });
    if i.is_multiple_of(EVENTS / SERIES) {
        let weekday = date.parse::<jiff::civil::Date>().map(|d| d.strftime("%A").to_string().to_lowercase());
        v["recurrence"] = json!({
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [weekday.unwrap_or_default()]},
            "range": {"type": "numbered", "startDate": date, "numberOfOccurrences": OCCURRENCES},
        });
    }
    v
}

/// Graph's API as the user's other apps use it (the default app, the default user).
struct Outlook {
    http: reqwest::Client,
    api: String,
    control: String,
    token: String,
}

impl Outlook {
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.get_with(path, PREFER).await
    }

    async fn get_with(&self, path: &str, prefer: &str) -> anyhow::Result<Value> {
        let r = self.http.get(format!("{}{path}", self.api)).bearer_auth(&self.token).header("Prefer", prefer);
        Ok(r.send().await?.error_for_status()?.json().await?)
    }

    /// Creates the event the connector would write for the hub's `i`-th local event, with
    /// the raw API; the time to Graph's answer.
    async fn create_raw(&self, cal: &str, hub: &Hub, i: usize) -> anyhow::Result<Duration> {
        let body = event_to_graph(&local_event(hub.calendar, i)?, EventId::new(), true)?;
        let url = format!("{}me/calendars/{cal}/events", self.api);
        let t = Instant::now();
        let r = self.http.post(url).bearer_auth(&self.token).header("Prefer", PREFER).json(&body).send().await?;
        r.error_for_status()?.bytes().await?;
        Ok(t.elapsed())
    }

    /// The occurrences of series `master`, by start.
    async fn occurrences(&self, master: &str) -> anyhow::Result<Vec<Value>> {
        let path = format!(
            "me/events/{master}/instances?startDateTime=2027-01-01T00:00:00Z&endDateTime=2028-06-01T00:00:00Z&$top=50"
        );
        Ok(self.get(&path).await?["value"].as_array().cloned().unwrap_or_default())
    }

    /// Moves occurrence `k` of series `master` an hour later and renames it (an exception),
    /// "in Outlook" (the control path, which notifies like the API).
    async fn move_occurrence(&self, master: &str, k: usize) -> anyhow::Result<()> {
        let occurrences = self.occurrences(master).await?;
        let occurrence = occurrences.get(k).context("the series has too few occurrences")?;
        let id = occurrence["id"].as_str().context("an occurrence without id")?;
        let later = |field: &str| -> anyhow::Result<String> {
            let at: jiff::civil::DateTime = occurrence[field]["dateTime"].as_str().context("no time")?.parse()?;
            Ok(at.saturating_add(jiff::Span::new().hours(1)).strftime("%Y-%m-%dT%H:%M:%S").to_string())
        };
        let patch = json!({"subject": format!("{} (moved)", occurrence["subject"].as_str().unwrap_or_default()),
            "start": {"dateTime": later("start")?, "timeZone": "UTC"},
            "end": {"dateTime": later("end")?, "timeZone": "UTC"}});
        let r = self.http.patch(format!("{}/events/{id}", self.control)).json(&patch).send().await?;
        if !r.status().is_success() {
            bail!("moving an occurrence of {master}: {} {}", r.status(), r.text().await.unwrap_or_default());
        }
        Ok(())
    }

    /// A calendarView delta round of calendar `cal` over `[start, end)`, page by page in
    /// pages of `page_size` (`None`: Graph's default, as the connector asks), JSON parsed:
    /// (items, pages, the deltaLink).
    async fn delta_round(
        &self,
        cal: &str,
        (start, end): (Timestamp, Timestamp),
        page_size: Option<u32>,
    ) -> anyhow::Result<(usize, usize, String)> {
        let first = format!("me/calendars/{cal}/calendarView/delta?startDateTime={start}&endDateTime={end}");
        self.follow(&first, page_size).await
    }

    /// A delta round from `first` (a path under the API root) to its deltaLink.
    async fn follow(&self, first: &str, page_size: Option<u32>) -> anyhow::Result<(usize, usize, String)> {
        let prefer = page_size.map_or_else(|| PREFER.to_owned(), |n| format!("{PREFER}, odata.maxpagesize={n}"));
        let mut next = first.to_owned();
        let (mut items, mut pages) = (0, 0);
        loop {
            let page = self.get_with(&next, &prefer).await?;
            pages += 1;
            items += page["value"].as_array().map_or(0, Vec::len);
            let link = match (page["@odata.nextLink"].as_str(), page["@odata.deltaLink"].as_str()) {
                (Some(link), _) => link,
                (None, Some(done)) => {
                    return Ok((items, pages, done.strip_prefix(&self.api).unwrap_or(done).to_owned()));
                }
                (None, None) => bail!("a delta page with neither nextLink nor deltaLink"),
            };
            next = link.strip_prefix(&self.api).context("a nextLink off the API root")?.to_owned();
        }
    }
}

/// "n requests: d delta pages, g event reads, i instances listings, t token, o other".
fn breakdown(log: &[Value]) -> String {
    let path = |r: &Value| r["path"].as_str().unwrap_or_default().to_owned();
    let delta = log.iter().filter(|r| is_graph_delta(r)).count();
    let instances = log.iter().filter(|r| path(r).ends_with("/instances")).count();
    let reads = log.iter().filter(|r| r["method"] == "GET" && path(r).contains("/events/")).count() - instances;
    let token = log.iter().filter(|r| path(r).contains("/oauth2/")).count();
    let other = log.len() - delta - instances - reads - token;
    format!(
        "{} requests: {delta} delta pages, {reads} event reads, {instances} instances listings, {token} token, {other} other",
        log.len()
    )
}

/// The connector for the emulator's default user, asking for pages of `page_size`.
async fn connector(
    http: &reqwest::Client,
    graph: &GraphEmulator,
    page_size: Option<u32>,
) -> anyhow::Result<GraphProvider> {
    let endpoints = graph_endpoints(graph.base_url(), "http://127.0.0.1:1");
    let refresh = refresh_token(http, graph.base_url(), DEFAULT_USER).await?;
    let provider = GraphProvider::new(http.clone(), &graph.api_root(), AccessTokens::new(endpoints.oauth, refresh));
    Ok(match page_size {
        Some(n) => provider.with_page_size(n),
        None => provider,
    })
}

/// A fresh hub importing the whole calendar (`expected` events); the import's time and
/// requests.
async fn import(
    http: &reqwest::Client,
    graph: &GraphEmulator,
    cal: &str,
    page_size: Option<u32>,
    expected: usize,
) -> anyhow::Result<(Hub, GraphProvider, Duration, String)> {
    let hub = Hub::linked(Source::Microsoft, DEFAULT_USER, cal).await?;
    let provider = connector(http, graph, page_size).await?;
    clear_request_log(http, graph.base_url()).await?;
    let (import, importing) = hub.pull(&provider, Source::Microsoft).await?;
    let requests = breakdown(&request_log(http, graph.base_url()).await?);
    if import.created != expected {
        bail!("the import created {} events, expected {expected}: {import:?}", import.created);
    }
    Ok((hub, provider, importing, requests))
}

#[allow(clippy::print_stdout, clippy::too_many_lines)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let graph = GraphEmulator::start(Config::default()).await?;
    let http = reqwest::Client::new();
    let base = graph.base_url().to_owned();
    let control = format!("{base}/_emulator/users/{DEFAULT_USER}");
    let outlook = Outlook {
        http: http.clone(),
        api: graph.api_root(),
        control: control.clone(),
        token: graph.access_token(DEFAULT_USER),
    };

    // Fill Outlook (4 clients in parallel, "made in Outlook" through the control path),
    // then move one occurrence of each series.
    let made = seed(&http, &format!("{control}/events"), EVENTS, 4, remote_event).await?;
    let masters: Vec<String> =
        made.iter().step_by(EVENTS / SERIES).filter_map(|v| v["id"].as_str().map(str::to_owned)).collect();
    if masters.len() != SERIES {
        bail!("{} series were made, expected {SERIES}", masters.len());
    }
    drop(made);
    for master in &masters {
        outlook.move_occurrence(master, 2).await?;
    }
    let cal = outlook.get("me/calendar").await?["id"].as_str().context("no default calendar")?.to_owned();
    let seeded_rss = status_mib("VmRSS:");

    // Merely paging the calendarView delta over the connector's window (a year back, two
    // years ahead), in Graph's default pages as the connector asks.
    let now = Timestamp::now();
    let window = (now - SignedDuration::from_hours(24 * 365), now + SignedDuration::from_hours(24 * 730));
    let t = Instant::now();
    let (paged, pages, delta_link) = outlook.delta_round(&cal, window, None).await?;
    let paging = t.elapsed();
    let expected = EVENTS - SERIES + SERIES * OCCURRENCES;
    if paged != expected {
        bail!("paging saw {paged} items, expected {expected}");
    }

    // The import as the server runs it.
    let (hub, provider, importing, import_requests) = import(&http, &graph, &cal, None, EVENTS + SERIES).await?;
    let rss = status_mib("VmHWM:");

    // One remote change: a new event, read by a raw delta round from where paging ended,
    // then pulled by the engine.
    post_json(&http, &format!("{control}/events"), &remote_event(EVENTS + 1)).await?;
    let t = Instant::now();
    let (raw_items, _, _) = outlook.follow(&delta_link, None).await?;
    let raw_delta = t.elapsed();
    if raw_items != 1 {
        bail!("the raw delta round saw {raw_items} items, expected 1");
    }
    clear_request_log(&http, &base).await?;
    let (delta, delta_time) = hub.pull(&provider, Source::Microsoft).await?;
    let delta_requests = breakdown(&request_log(&http, &base).await?);
    if delta.created != 1 {
        bail!("the delta created {} events, expected 1: {delta:?}", delta.created);
    }
    // And one occurrence of a series moved.
    outlook.move_occurrence(&masters[1], 5).await?;
    clear_request_log(&http, &base).await?;
    let (moved, moved_time) = hub.pull(&provider, Source::Microsoft).await?;
    let moved_requests = breakdown(&request_log(&http, &base).await?);
    if moved.created + moved.updated == 0 {
        bail!("the moved occurrence changed nothing: {moved:?}");
    }

    // The same writes with the raw API, then pushed one at a time by the engine (the first
    // push after the import also walks the import's own change rows: done before timing).
    let mut raw = Vec::with_capacity(LOCAL_CHANGES);
    for i in 0..LOCAL_CHANGES {
        raw.push(outlook.create_raw(&cal, &hub, i).await?);
    }
    raw.sort();
    let t = Instant::now();
    let link = hub.store.get_link(hub.user, hub.link).await?;
    let walked = calsync_engine::push(&*hub.store, &provider, &link).await?;
    let first_push = t.elapsed();
    clear_request_log(&http, &base).await?;
    let lags = hub.local_push_lags(&provider, LOCAL_CHANGES).await?;
    let push_requests = request_log(&http, &base).await?;

    // Paging and importing again in pages of 1,000: the emulator's share of the time. Outlook
    // now also has the new event, a second exception and both sets of local writes.
    let t = Instant::now();
    let (_, big_pages, _) = outlook.delta_round(&cal, window, Some(1000)).await?;
    let big_paging = t.elapsed();
    let (_, _, big_importing, big_requests) =
        import(&http, &graph, &cal, Some(1000), EVENTS + SERIES + 2 + 2 * LOCAL_CHANGES).await?;

    println!("| Graph sync (SQLite hub) | result |");
    println!("|---|---|");
    println!(
        "| paging the calendarView delta of {EVENTS} events ({paged} items: occurrences count) from the emulator, Graph's default pages | {:.2} s, {pages} pages |",
        paging.as_secs_f64()
    );
    println!(
        "| initial import of {EVENTS} events ({SERIES} series, each with an exception), as the server runs it | {:.2} s, {:.1}× paging |",
        importing.as_secs_f64(),
        importing.as_secs_f64() / paging.as_secs_f64()
    );
    println!("| … requests it made | {import_requests} |");
    println!(
        "| the same in pages of 1,000 (`odata.maxpagesize`): paging; import | {:.2} s, {big_pages} pages; {:.2} s, {:.1}× paging ({big_requests}) |",
        big_paging.as_secs_f64(),
        big_importing.as_secs_f64(),
        big_importing.as_secs_f64() / big_paging.as_secs_f64()
    );
    println!(
        "| peak RSS after the import (emulator in the same process; RSS once it was filled: {seeded_rss:.0} MiB) | {rss:.0} MiB |"
    );
    println!(
        "| one remote change (a new event): merely a raw delta round from the last deltaLink | {:.1} ms |",
        raw_delta.as_secs_f64() * 1e3
    );
    println!("| one remote change pulled: a new event | {delta_requests}; {:.1} ms |", delta_time.as_secs_f64() * 1e3);
    println!(
        "| one remote change pulled: an occurrence moved | {moved_requests}; {:.1} ms |",
        moved_time.as_secs_f64() * 1e3
    );
    println!(
        "| the first push after the import (walks the {} change rows the pulls wrote, writes nothing) | {:.2} s |",
        walked.unchanged,
        first_push.as_secs_f64()
    );
    println!("| merely creating the same event with the raw API ({LOCAL_CHANGES} runs) | {} |", p50_p99(&raw));
    println!(
        "| one local change, hub write → Graph's answer ({LOCAL_CHANGES} runs) | {}; {:.2} requests each |",
        p50_p99(&lags),
        per(push_requests.len(), LOCAL_CHANGES)
    );
    drop(hub);
    graph.stop().await;
    Ok(())
}
