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

use anyhow::{Context, bail};
use calsync_core::{CalendarDraft, CalendarId, CalendarInput, Source, SystemClock};
use calsync_emulators::google::{Config, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USER, GoogleEmulator};
use calsync_engine::worker::secret_context;
use calsync_engine::{Endpoints, Sealer};
use calsync_server::AppState;
use calsync_server::auth::hash_token;
use calsync_server::sync::{GOOGLE_SCOPES, SyncSetup};
use calsync_store::testing::TestDb;
use futures_util::StreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHANGES: usize = 200;
const IDLE_LINKS: usize = 1_000;
const IDLE_WINDOW: Duration = Duration::from_secs(60);
const TOKEN: &str = "bench-user-token-0123456789abcdef";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// A line of /proc/self/status in MiB (`VmRSS:`, `VmHWM:`).
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// User + system CPU time of this process so far, in clock ticks (1/100 s on Linux).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

async fn request_log(http: &reqwest::Client, google: &GoogleEmulator) -> anyhow::Result<Vec<Value>> {
    let log: Value = http.get(format!("{}/_emulator/requests", google.base_url())).send().await?.json().await?;
    Ok(log["requests"].as_array().cloned().unwrap_or_default())
}

fn is_list_call(r: &Value) -> bool {
    r["method"] == "GET" && r["path"].as_str().is_some_and(|p| p.ends_with("/events"))
}

/// The server, its workers and the emulator, all in this process.
struct Rig {
    google: GoogleEmulator,
    base: String,
    http: reqwest::Client,
    sync: Arc<SyncSetup>,
    store: Arc<dyn calsync_store::SyncStore>,
    _db: TestDb,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Rig {
    async fn start() -> anyhow::Result<Self> {
        let google = GoogleEmulator::start(Config {
            auto_approve: true,
            notification_retry_delay: Duration::from_millis(50),
            ..Config::default()
        })
        .await?;
        let g = google.base_url().to_owned();
        let db = TestDb::sqlite();
        let store = db.open().await;
        let (mut state, stop_streams) = AppState::new(store.clone(), Arc::new(SystemClock), None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let oauth = calsync_providers::oauth::OAuthClient {
            auth_url: format!("{g}/o/oauth2/v2/auth"),
            token_url: format!("{g}/token"),
            revoke_url: Some(format!("{g}/revoke")),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: SecretString::from(DEFAULT_CLIENT_SECRET),
            redirect_uri: format!("{base}/oauth/google/callback"),
            scopes: GOOGLE_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        };
        let setup = Endpoints { oauth, identity_url: format!("{g}/oauth2/v3/userinfo"), api_root: google.api_root() };
        let sealer = Arc::new(Sealer::from_hex(&"5a".repeat(32)).map_err(|e| anyhow::anyhow!("{e}"))?);
        let http = reqwest::Client::new();
        let sync = Arc::new(SyncSetup::new(sealer, http.clone(), Some(&base), Some(setup), None));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        drop(sync.start_workers(&store, 2, calsync_engine::Schedule::default(), &stopped, Some(state.changed.clone())));
        state.sync = Some(sync.clone());
        tokio::spawn(calsync_server::serve(listener, state, stop_streams, std::future::pending()));
        Ok(Self { google, base, http, sync, store, _db: db, _stop: stop })
    }

    /// A user with a local calendar; returns both.
    async fn user(&self, name: &str, token: &str) -> anyhow::Result<(calsync_core::UserId, CalendarId)> {
        let user = self.store.create_user(name, &hash_token(token)).await?.id;
        let draft =
            CalendarDraft::parse(CalendarInput { name: "Work".into(), color: None, time_zone: Some("UTC".into()) })
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        let calendar = self.store.create_calendar(user, CalendarId::new(), &draft).await?.id;
        Ok((user, calendar))
    }

    /// Connects the token's Google account through the OAuth flow, as a browser would, and
    /// links `calendar` to the primary Google calendar; returns the link id.
    async fn connect_and_link(&self, token: &str, calendar: CalendarId) -> anyhow::Result<String> {
        let start: Value = self
            .http
            .post(format!("{}/api/v1/accounts/google/connect", self.base))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await?
            .json()
            .await?;
        let consent = start["authorization_url"].as_str().context("no authorization URL")?;
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        let redirect = browser.get(consent).send().await?;
        let callback = redirect.headers().get("location").and_then(|v| v.to_str().ok()).context("no redirect")?;
        if !browser.get(callback).send().await?.status().is_success() {
            bail!("the OAuth callback failed");
        }
        let accounts: Value =
            self.http.get(format!("{}/api/v1/accounts", self.base)).bearer_auth(token).send().await?.json().await?;
        let account = accounts["accounts"][0]["id"].as_str().context("no account")?;
        let link: Value = self
            .http
            .post(format!("{}/api/v1/links", self.base))
            .bearer_auth(token)
            .json(&json!({"account_id": account, "calendar_id": calendar, "remote_calendar_id": DEFAULT_USER}))
            .send()
            .await?
            .json()
            .await?;
        Ok(link["id"].as_str().context("no link id")?.to_owned())
    }

    async fn link_status(&self, token: &str, link: &str) -> anyhow::Result<Value> {
        let url = format!("{}/api/v1/links/{link}/status", self.base);
        Ok(self.http.get(url).bearer_auth(token).send().await?.json().await?)
    }
}

/// Reads server-sent events until a `change` whose data has `origin` google.
async fn next_google_change<B: AsRef<[u8]>>(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<B>> + Unpin),
    buffer: &mut String,
) -> anyhow::Result<()> {
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if block.lines().any(|l| l == "event: change")
                && block.lines().any(|l| l.starts_with("data:") && l.contains("\"origin\":\"google\""))
            {
                return Ok(());
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .context("no change arrived within 30 s")?
            .context("the change stream ended")??;
        buffer.push_str(&String::from_utf8_lossy(chunk.as_ref()));
    }
}

async fn push_latency(rig: &Rig) -> anyhow::Result<()> {
    let (_, calendar) = rig.user("ada", TOKEN).await?;
    let link = rig.connect_and_link(TOKEN, calendar).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while rig.link_status(TOKEN, &link).await?["channel_expires_at"].is_null() {
        if Instant::now() > deadline {
            bail!("the link never opened a channel");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let response = rig
        .http
        .get(format!("{}/api/v1/changes/stream", rig.base))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .error_for_status()?;
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    rig.http.delete(format!("{}/_emulator/requests", rig.google.base_url())).send().await?;

    let mut lags = Vec::with_capacity(CHANGES);
    for i in 0..CHANGES {
        let event = json!({"summary": format!("Booked in Google {i}"),
            "start": {"dateTime": "2027-03-01T10:00:00Z"}, "end": {"dateTime": "2027-03-01T11:00:00Z"}});
        let t = Instant::now();
        let created = rig
            .http
            .post(format!("{}/_emulator/users/{DEFAULT_USER}/calendars/primary/events", rig.google.base_url()))
            .json(&event)
            .send()
            .await?;
        if !created.status().is_success() {
            bail!("Google refused change {i}: {}", created.status());
        }
        next_google_change(&mut stream, &mut buffer).await.with_context(|| format!("change {i}"))?;
        lags.push(t.elapsed());
    }
    lags.sort();
    let lists = request_log(&rig.http, &rig.google).await?.iter().filter(|r| is_list_call(r)).count();
    #[allow(clippy::cast_precision_loss)]
    let per_change = lists as f64 / CHANGES as f64;
    #[allow(clippy::print_stdout)]
    {
        println!(
            "| one remote change with push on, Google's commit → the user's change stream ({CHANGES} runs) | p50 {:.0} ms, p99 {:.0} ms (250 ms of it is the notification debounce) |",
            percentile(&lags, 0.5),
            percentile(&lags, 0.99)
        );
        println!("| list calls per remote change with push on | {per_change:.2} |");
    }
    Ok(())
}

async fn idle_links(rig: &Rig) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut links = Vec::with_capacity(IDLE_LINKS);
    for i in 0..IDLE_LINKS {
        let email = format!("idle{i}@example.com");
        rig.google.add_user(&email);
        let tokens: Value = rig
            .http
            .post(format!("{}/_emulator/tokens", rig.google.base_url()))
            .json(&json!({"email": email}))
            .send()
            .await?
            .json()
            .await?;
        let refresh = tokens["refresh_token"].as_str().context("no refresh token")?.to_owned();
        let (user, calendar) = rig.user(&format!("idle{i}"), &format!("idle-token-{i:06}-0123456789abcdef")).await?;
        let sealed =
            rig.sync.sealer.seal(&SecretString::from(refresh), &secret_context(user, Source::Google, &email))?;
        let account = rig.store.upsert_account(user, Source::Google, &email, &sealed).await?;
        links.push(rig.store.create_link(user, account.id, calendar, &email).await?);
    }
    rig.sync.wake_workers();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let mut open = 0;
        for link in &links {
            let now = rig.store.get_link(link.user_id, link.id).await?;
            if now.channel.is_some() {
                open += 1;
            }
        }
        if open == IDLE_LINKS {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {open} of {IDLE_LINKS} links synced within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let first_sync = started.elapsed();

    // Let the last jobs finish, then watch an idle minute.
    tokio::time::sleep(Duration::from_secs(2)).await;
    rig.http.delete(format!("{}/_emulator/requests", rig.google.base_url())).send().await?;
    let cpu_before = cpu_ticks();
    let t = Instant::now();
    tokio::time::sleep(IDLE_WINDOW).await;
    let wall = t.elapsed();
    let cpu = cpu_ticks() - cpu_before;
    let requests = request_log(&rig.http, &rig.google).await?.len();
    #[allow(clippy::cast_precision_loss)]
    let cpu_percent = cpu as f64 / 100.0 / wall.as_secs_f64() * 100.0;
    #[allow(clippy::print_stdout)]
    {
        println!(
            "| {IDLE_LINKS} linked calendars: users, accounts and links created, then all imported with a channel each | {:.1} s |",
            first_sync.as_secs_f64()
        );
        println!(
            "| the {IDLE_LINKS} linked calendars idle for {} s: CPU of the whole process (2 workers, server, emulator) | {cpu_percent:.2} % of one core |",
            wall.as_secs()
        );
        println!(
            "| … resident memory then (peak during the first sync) | {:.0} MiB ({:.0} MiB) |",
            status_mib("VmRSS:"),
            status_mib("VmHWM:")
        );
        println!("| … requests to Google during the idle window | {requests} |");
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rig = Rig::start().await?;
    println!("| Google live sync (server + 2 workers, SQLite, push on) | result |");
    println!("|---|---|");
    push_latency(&rig).await?;
    idle_links(&rig).await?;
    Ok(())
}
