//! `cargo run --release -p calsync-bench -- [sqlite|postgres] [years, default 10]`
//!
//! 1. Bulk insert: 100,000 events (1,000 of them recurring series) spread over `years`
//!    into one calendar,
//!    through the store in batches of 1,000 (one transaction each): events per second.
//! 2. FullCalendar feed: `GET /calendars/{id}/fullcalendar` for one-month windows over the
//!    HTTP API of a server on 127.0.0.1: p50 / p99 latency.
//! 3. Change feed: reading the whole log through `GET /changes` in pages of 1,000: changes
//!    per second.
//!
//! PostgreSQL needs CALSYNC_TEST_POSTGRES_URL (a fresh database is created and dropped).
//! Results go to stdout in the form BENCHMARKS.md records.

use anyhow::{Context, bail};
use calsync_bench::percentile_ms;
use calsync_core::{CalendarId, EventDraft, EventId, EventInput, Source, SystemClock};
use calsync_server::AppState;
use calsync_server::auth::hash_token;
use calsync_store::NewEvent;
use calsync_store::testing::TestDb;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

const EVENTS: usize = 100_000;
const SERIES: usize = 1_000;
const BATCH: usize = 1_000;
const FEED_REQUESTS: usize = 300;

/// A small deterministic generator, so every run inserts the same calendar.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn event(calendar: CalendarId, i: usize, years: u64, rng: &mut Lcg) -> anyhow::Result<EventDraft> {
    // `years` of events starting 2026-01-01, in Berlin time.
    let day = jiff::civil::date(2026, 1, 1).saturating_add(jiff::Span::new().days(rng.next(365 * years) as i64));
    let hour = 7 + rng.next(11);
    let minutes = [30, 45, 60, 90][rng.next(4) as usize];
    let start = day.at(hour as i8, 0, 0, 0);
    let end = start.saturating_add(jiff::Span::new().minutes(minutes));
    let mut value = json!({
        "calendar_id": calendar,
        "title": format!("Event {i}"),
        "start": {"date_time": start.strftime("%Y-%m-%dT%H:%M:%S").to_string(), "time_zone": "Europe/Berlin"},
        "end": {"date_time": end.strftime("%Y-%m-%dT%H:%M:%S").to_string(), "time_zone": "Europe/Berlin"},
    });
    if i.is_multiple_of(EVENTS / SERIES) {
        let days = ["MO", "TU", "WE", "TH", "FR"];
        let rule = match rng.next(10) {
            0 => format!("RRULE:FREQ=WEEKLY;BYDAY={}", days[rng.next(5) as usize]),
            1..=3 => format!("RRULE:FREQ=DAILY;COUNT={}", 10 + rng.next(200)),
            _ => format!(
                "RRULE:FREQ=WEEKLY;BYDAY={},{};COUNT={}",
                days[rng.next(5) as usize],
                days[rng.next(5) as usize],
                10 + rng.next(100)
            ),
        };
        value["recurrence"] = json!([rule]);
        value["title"] = json!(format!("Series {i}"));
    }
    let input: EventInput = serde_json::from_value(value)?;
    EventDraft::parse(input).map_err(|e| anyhow::anyhow!("{e}"))
}

#[allow(clippy::print_stdout)]
fn report(line: &str) {
    println!("{line}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backend = std::env::args().nth(1).unwrap_or_else(|| "sqlite".into());
    let years: u64 =
        std::env::args().nth(2).map_or(Ok(10), |y| y.parse()).context("the second argument is the number of years")?;
    let db = match backend.as_str() {
        "sqlite" => TestDb::sqlite(),
        "postgres" => TestDb::postgres().await.context("set CALSYNC_TEST_POSTGRES_URL to benchmark PostgreSQL")?,
        other => bail!("unknown backend {other:?}: use sqlite or postgres"),
    };
    let store = db.open().await;
    let token = "cs_bench_token";
    let (user, calendar) =
        calsync_bench::user_with_calendar(&*store, "bench", &hash_token(token), "Bench", "Europe/Berlin").await?;

    // 1. Bulk insert.
    let mut rng = Lcg(42);
    let mut drafts = Vec::with_capacity(EVENTS);
    for i in 0..EVENTS {
        drafts.push(event(calendar, i, years, &mut rng)?);
    }
    let started = Instant::now();
    for chunk in drafts.chunks(BATCH) {
        let batch =
            chunk.iter().map(|d| NewEvent { id: EventId::new(), draft: d.clone(), source: Source::Local }).collect();
        store.create_events(user, batch).await?;
    }
    let insert = started.elapsed();
    report(&format!("backend: {backend}, events spread over {years} years from 2026-01-01"));
    report(&format!(
        "bulk insert: {EVENTS} events ({SERIES} series) in {:.1} s = {:.0} events/s",
        insert.as_secs_f64(),
        EVENTS as f64 / insert.as_secs_f64()
    ));

    // 2. The FullCalendar feed over HTTP.
    let (state, stop_streams) = AppState::new(store.clone(), Arc::new(SystemClock), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(calsync_server::serve(listener, state, stop_streams, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let months: Vec<(String, String)> = (0..years as i64 * 12)
        .map(|m| {
            let start = jiff::civil::date(2026, 1, 1).saturating_add(jiff::Span::new().months(m));
            let end = start.saturating_add(jiff::Span::new().months(1));
            (start.to_string(), end.to_string())
        })
        .collect();
    let mut latencies = Vec::with_capacity(FEED_REQUESTS);
    let mut occurrences = 0usize;
    for i in 0..FEED_REQUESTS + 20 {
        let (start, end) = &months[(i * 7) % months.len()];
        let url =
            format!("{base}/api/v1/calendars/{calendar}/fullcalendar?start={start}&end={end}&timeZone=Europe/Berlin");
        let t = Instant::now();
        let response = client.get(&url).bearer_auth(token).send().await?;
        if !response.status().is_success() {
            bail!("feed answered {}", response.status());
        }
        // Timed until the last byte arrives; parsing on the client is not the server's latency.
        let body = response.bytes().await?;
        let took = t.elapsed();
        if i >= 20 {
            // The first 20 warm the caches and connection pools.
            latencies.push(took);
            occurrences += body.windows(9).filter(|w| w == b"\"allDay\":").count();
        }
    }
    latencies.sort();
    // Where the time goes, in-process, for a near and a far month.
    for (label, from, to) in [
        ("June 2026", "2026-06-01T00:00:00+02:00", "2026-07-01T00:00:00+02:00"),
        ("June 2034", "2034-06-01T00:00:00+02:00", "2034-07-01T00:00:00+02:00"),
    ] {
        let window = calsync_core::Window { start: from.parse()?, end: to.parse()? };
        let zone = jiff::tz::TimeZone::get("Europe/Berlin")?;
        let t = Instant::now();
        let rows = store.events_in_window(user, calendar, window).await?;
        let query = t.elapsed();
        let t = Instant::now();
        let occ = calsync_core::occurrences(&rows, &window, &zone);
        let expand = t.elapsed();
        let t = Instant::now();
        let rendering = calsync_core::fullcalendar::Rendering::Named(zone.clone());
        let objects: Vec<_> = occ.iter().map(|o| calsync_core::fullcalendar::to_fullcalendar(o, &rendering)).collect();
        let json = serde_json::to_vec(&objects)?;
        let render = t.elapsed();
        report(&format!(
            "breakdown ({label}, in-process): {} rows read+decoded in {:.2} ms, {} occurrences expanded in {:.2} ms, rendered to {} KiB of JSON in {:.2} ms",
            rows.len(),
            query.as_secs_f64() * 1e3,
            occ.len(),
            expand.as_secs_f64() * 1e3,
            json.len() / 1024,
            render.as_secs_f64() * 1e3
        ));
    }
    report(&format!(
        "fullcalendar month window: {FEED_REQUESTS} requests, {:.0} occurrences/response, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        occurrences as f64 / FEED_REQUESTS as f64,
        percentile_ms(&latencies, 0.5),
        percentile_ms(&latencies, 0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    ));

    // The cache must change nothing: every month, cached and computed expansion agree.
    let cache = calsync_server::expansion_cache::ExpansionCache::default();
    let zone = jiff::tz::TimeZone::get("Europe/Berlin")?;
    let mut checked = 0;
    for (start, end) in months.iter().rev().chain(months.iter()) {
        let window = calsync_core::Window::parse(Some(start), Some(end), &zone).map_err(|e| anyhow::anyhow!("{e}"))?;
        let rows = store.events_in_window(user, calendar, window).await?;
        let key = |o: &calsync_core::Occurrence<'_>| (o.event.id, o.start_at, o.end_at);
        let cached: Vec<_> = calsync_core::occurrences_from(&rows, &window, &zone, &cache).iter().map(key).collect();
        let computed: Vec<_> = calsync_core::occurrences(&rows, &window, &zone).iter().map(key).collect();
        if cached != computed {
            bail!("cached expansion differs from computed for {start}..{end}: {} vs {}", cached.len(), computed.len());
        }
        let url =
            format!("{base}/api/v1/calendars/{calendar}/fullcalendar?start={start}&end={end}&timeZone=Europe/Berlin");
        let served: serde_json::Value = client.get(&url).bearer_auth(token).send().await?.json().await?;
        let served = served.as_array().map_or(0, Vec::len);
        if served != computed.len() {
            bail!("the feed served {served} occurrences for {start}..{end}, the core computes {}", computed.len());
        }
        checked += computed.len();
    }
    report(&format!(
        "expansion cache check: {checked} occurrences over {} windows identical to computed",
        months.len() * 2
    ));

    // 3. The change feed over HTTP.
    let started = Instant::now();
    let (mut after, mut read) = (0i64, 0usize);
    loop {
        let page: serde_json::Value = client
            .get(format!("{base}/api/v1/changes?after={after}&limit=1000"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        let n = page["changes"].as_array().map_or(0, Vec::len);
        if n == 0 {
            break;
        }
        read += n;
        after = page["next_after"].as_i64().unwrap_or(after);
    }
    let took = started.elapsed();
    report(&format!(
        "change feed: {read} changes in {:.2} s = {:.0} changes/s",
        took.as_secs_f64(),
        read as f64 / took.as_secs_f64()
    ));
    let _ = stop.send(());
    server.await??;
    drop(db);
    Ok(())
}
