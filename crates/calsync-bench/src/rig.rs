//! A whole calsync server in this process (HTTP API, webhooks, two workers, a SQLite hub)
//! syncing with the Google and/or Graph emulator over real HTTP, with push on: the public
//! URL is the server's own, so every link gets a channel or subscription. What the live
//! benchmarks (`google_live`, `graph_live`, `hub_latency`) measure on it lives here too.

use crate::{clear_request_log, cpu_ticks, google_endpoints, graph_endpoints, post_json, request_log, status_mib};
use anyhow::{Context, bail};
use calsync_core::{CalendarId, Source, SystemClock, UserId};
use calsync_emulators::google::GoogleEmulator;
use calsync_emulators::graph::{ClientSpec, DEFAULT_USER, GraphEmulator};
use calsync_emulators::{google, graph};
use calsync_engine::Sealer;
use calsync_engine::worker::secret_context;
use calsync_server::AppState;
use calsync_server::auth::hash_token;
use calsync_server::sync::SyncSetup;
use calsync_store::SyncStore;
use calsync_store::testing::TestDb;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A second app registered with the Graph emulator: what the benchmarks read Outlook with
/// (as the user's other apps would), throttled apart from calsync's requests.
pub const OBSERVER_CLIENT: &str = "6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c";

/// How long a benchmark waits for something that should happen within a second.
const PATIENCE: Duration = Duration::from_secs(30);

/// The server, its workers and the emulators, all in this process.
pub struct Rig {
    pub google: Option<GoogleEmulator>,
    pub graph: Option<GraphEmulator>,
    /// The server's URL (also its public URL).
    pub base: String,
    pub http: reqwest::Client,
    pub sync: Arc<SyncSetup>,
    pub store: Arc<dyn SyncStore>,
    _db: TestDb,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Rig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rig").field("base", &self.base).finish_non_exhaustive()
    }
}

/// The Graph emulator as the live benchmarks run it: consent approved at once, quick
/// redelivery, the observer app registered, no request-rate limit (the observer polls; the
/// benchmarks count calsync's own requests instead).
async fn graph_emulator() -> anyhow::Result<GraphEmulator> {
    let mut config = graph::Config {
        auto_approve: true,
        notification_retry_delay: Duration::from_millis(50),
        rate_limit: None,
        ..graph::Config::default()
    };
    config.clients.push(ClientSpec {
        id: OBSERVER_CLIENT.into(),
        secret: Some("observer-secret".into()),
        redirect_uris: Vec::new(),
    });
    Ok(GraphEmulator::start(config).await?)
}

impl Rig {
    /// Starts the emulators of `providers` and a server syncing with them.
    pub async fn start(providers: &[Source]) -> anyhow::Result<Self> {
        let google = if providers.contains(&Source::Google) {
            let config = google::Config {
                auto_approve: true,
                notification_retry_delay: Duration::from_millis(50),
                ..google::Config::default()
            };
            Some(GoogleEmulator::start(config).await?)
        } else {
            None
        };
        let graph = if providers.contains(&Source::Microsoft) { Some(graph_emulator().await?) } else { None };
        let db = TestDb::sqlite();
        let store = db.open().await;
        let (mut state, stop_streams) = AppState::new(store.clone(), Arc::new(SystemClock), None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let sealer = Arc::new(Sealer::from_hex(&"5a".repeat(32)).map_err(|e| anyhow::anyhow!("{e}"))?);
        let http = reqwest::Client::new();
        let sync = Arc::new(SyncSetup::new(
            sealer,
            http.clone(),
            Some(&base),
            google.as_ref().map(|g| google_endpoints(g.base_url(), &base)),
            graph.as_ref().map(|g| graph_endpoints(g.base_url(), &base)),
        ));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        drop(sync.start_workers(&store, 2, calsync_engine::Schedule::default(), &stopped, Some(state.changed.clone())));
        state.sync = Some(sync.clone());
        tokio::spawn(calsync_server::serve(listener, state, stop_streams, std::future::pending()));
        Ok(Self { google, graph, base, http, sync, store, _db: db, _stop: stop })
    }

    /// The base URL of `source`'s emulator.
    pub fn emulator(&self, source: Source) -> anyhow::Result<&str> {
        match source {
            Source::Google => self.google.as_ref().map(GoogleEmulator::base_url),
            Source::Microsoft => self.graph.as_ref().map(GraphEmulator::base_url),
            Source::Local | Source::Caldav => None,
        }
        .with_context(|| format!("no {source:?} emulator in this rig"))
    }

    /// A user with a local calendar "Work" (UTC); returns both.
    pub async fn user(&self, name: &str, token: &str) -> anyhow::Result<(UserId, CalendarId)> {
        crate::user_with_calendar(&*self.store, name, &hash_token(token), "Work", "UTC").await
    }

    async fn api_get(&self, token: &str, path: &str) -> anyhow::Result<Value> {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(token).send().await?;
        Ok(r.error_for_status()?.json().await?)
    }

    /// POSTs `body` to the server's `path` as the token's user; the answer.
    pub async fn api_post(&self, token: &str, path: &str, body: &Value) -> anyhow::Result<Value> {
        let r = self.http.post(format!("{}{path}", self.base)).bearer_auth(token).json(body).send().await?;
        let status = r.status();
        let answer: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST {path}: {status} {answer}");
        }
        Ok(answer)
    }

    /// Connects the token's account at `source` through the OAuth flow, as a browser would,
    /// links `calendar` to its primary remote calendar, and waits until the link has a
    /// channel (Google) or subscription (Graph); returns the link id.
    pub async fn connect_and_link(&self, token: &str, calendar: CalendarId, source: Source) -> anyhow::Result<String> {
        let start = self.api_post(token, &format!("/api/v1/accounts/{}/connect", source.as_str()), &json!({})).await?;
        let consent = start["authorization_url"].as_str().context("no authorization URL")?;
        let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        let redirect = browser.get(consent).send().await?;
        let callback = redirect.headers().get("location").and_then(|v| v.to_str().ok()).context("no redirect")?;
        if !browser.get(callback).send().await?.status().is_success() {
            bail!("the OAuth callback failed");
        }
        let accounts = self.api_get(token, "/api/v1/accounts").await?;
        let account = accounts["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["provider"] == source.as_str())
            .and_then(|a| a["id"].as_str())
            .context("no account")?;
        let remote = self.api_get(token, &format!("/api/v1/accounts/{account}/calendars")).await?;
        let primary = remote["calendars"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["primary"] == true)
            .and_then(|c| c["id"].as_str())
            .context("no primary remote calendar")?;
        let link = self
            .api_post(
                token,
                "/api/v1/links",
                &json!({"account_id": account, "calendar_id": calendar, "remote_calendar_id": primary}),
            )
            .await?;
        let link = link["id"].as_str().context("no link id")?.to_owned();
        let deadline = Instant::now() + PATIENCE;
        while self.api_get(token, &format!("/api/v1/links/{link}/status")).await?["channel_expires_at"].is_null() {
            if Instant::now() > deadline {
                bail!("the link never opened a channel");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(link)
    }

    /// The user's change stream (SSE).
    pub async fn change_stream(&self, token: &str) -> anyhow::Result<ChangeStream> {
        let response = self
            .http
            .get(format!("{}/api/v1/changes/stream", self.base))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?;
        Ok(ChangeStream {
            inner: Box::pin(response.bytes_stream().map(|r| r.map(|b| b.to_vec()))),
            buffer: String::new(),
        })
    }

    /// `n` changes made one at a time at `source` by POSTing `body(i)` to `url` (a control
    /// path of the emulator: the change is committed, then notified), each timed until it
    /// reaches the token's change stream. Returns the sorted latencies and the requests the
    /// emulator served meanwhile. The token's calendar must be linked already.
    pub async fn remote_change_latency(
        &self,
        token: &str,
        source: Source,
        n: usize,
        url: &str,
        body: fn(usize) -> Value,
    ) -> anyhow::Result<(Vec<Duration>, Vec<Value>)> {
        let emulator = self.emulator(source)?;
        let mut stream = self.change_stream(token).await?;
        clear_request_log(&self.http, emulator).await?;
        let mut lags = Vec::with_capacity(n);
        for i in 0..n {
            let t = Instant::now();
            post_json(&self.http, url, &body(i)).await.with_context(|| format!("remote change {i}"))?;
            stream.next_from(source).await.with_context(|| format!("change {i}"))?;
            lags.push(t.elapsed());
        }
        lags.sort();
        Ok((lags, request_log(&self.http, emulator).await?))
    }

    /// `n` users, each with an account at `source` (a mailbox of its own in the emulator)
    /// and one linked calendar, made directly in the store; then how long until every link
    /// has been imported with a channel, and what the idle process costs over `window`.
    pub async fn idle_links(&self, source: Source, n: usize, window: Duration) -> anyhow::Result<Idle> {
        let emulator = self.emulator(source)?;
        let started = Instant::now();
        let mut links = Vec::with_capacity(n);
        for i in 0..n {
            let email = format!("idle{i}@example.com");
            let made = post_json(&self.http, &format!("{emulator}/_emulator/users"), &json!({"email": email})).await?;
            let remote_calendar = match source {
                Source::Microsoft => made["defaultCalendarId"].as_str().context("no default calendar")?.to_owned(),
                _ => email.clone(),
            };
            let refresh = crate::refresh_token(&self.http, emulator, &email).await?;
            let (user, calendar) =
                self.user(&format!("idle{i}"), &format!("idle-token-{i:06}-0123456789abcdef")).await?;
            let sealed = self.sync.sealer.seal(&refresh, &secret_context(user, source, &email))?;
            let account = self.store.upsert_account(user, source, &email, &sealed).await?;
            links.push(self.store.create_link(user, account.id, calendar, &remote_calendar).await?);
        }
        self.sync.wake_workers();
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let mut open = 0;
            for link in &links {
                if self.store.get_link(link.user_id, link.id).await?.channel.is_some() {
                    open += 1;
                }
            }
            if open == n {
                break;
            }
            if Instant::now() > deadline {
                bail!("only {open} of {n} links synced within 10 minutes");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let first_sync = started.elapsed();

        // Let the last jobs finish, then watch the idle window.
        tokio::time::sleep(Duration::from_secs(2)).await;
        clear_request_log(&self.http, emulator).await?;
        let cpu_before = cpu_ticks();
        let t = Instant::now();
        tokio::time::sleep(window).await;
        let wall = t.elapsed();
        let cpu = cpu_ticks() - cpu_before;
        let requests = request_log(&self.http, emulator).await?.len();
        #[allow(clippy::cast_precision_loss)]
        let cpu_percent = cpu as f64 / 100.0 / wall.as_secs_f64() * 100.0;
        Ok(Idle {
            first_sync,
            wall,
            cpu_percent,
            rss_mib: status_mib("VmRSS:"),
            peak_mib: status_mib("VmHWM:"),
            requests,
        })
    }
}

/// What [`Rig::idle_links`] measured.
#[derive(Debug)]
pub struct Idle {
    /// From the first user created to the last link imported with a channel.
    pub first_sync: Duration,
    pub wall: Duration,
    /// CPU of the whole process (server, workers, emulators) over the window, % of one core.
    pub cpu_percent: f64,
    pub rss_mib: f64,
    pub peak_mib: f64,
    /// Requests the emulator served during the window.
    pub requests: usize,
}

impl Idle {
    /// The rows BENCHMARKS.md records, for `n` links at `provider` (a display name).
    #[allow(clippy::print_stdout)]
    pub fn print(&self, n: usize, provider: &str) {
        println!(
            "| {n} linked calendars: users, accounts and links created, then all imported with a channel each | {:.1} s |",
            self.first_sync.as_secs_f64()
        );
        println!(
            "| the {n} linked calendars idle for {} s: CPU of the whole process (2 workers, server, emulator) | {:.2} % of one core |",
            self.wall.as_secs(),
            self.cpu_percent
        );
        println!(
            "| … resident memory then (peak during the first sync) | {:.0} MiB ({:.0} MiB) |",
            self.rss_mib, self.peak_mib
        );
        println!("| … requests to {provider} during the idle window | {} |", self.requests);
    }
}

/// A user's change stream (server-sent events).
pub struct ChangeStream {
    inner: Pin<Box<dyn Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
    buffer: String,
}

impl std::fmt::Debug for ChangeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeStream").field("buffered", &self.buffer.len()).finish_non_exhaustive()
    }
}

impl ChangeStream {
    /// Reads events until a `change` whose origin is `source`.
    pub async fn next_from(&mut self, source: Source) -> anyhow::Result<()> {
        let origin = format!("\"origin\":\"{}\"", source.as_str());
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if block.lines().any(|l| l == "event: change")
                    && block.lines().any(|l| l.starts_with("data:") && l.contains(&origin))
                {
                    return Ok(());
                }
            }
            let chunk = tokio::time::timeout(PATIENCE, self.inner.next())
                .await
                .context("no change arrived within 30 s")?
                .context("the change stream ended")??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// The default Outlook calendar of the emulator's default user, read through Graph's API by
/// the observer app, as the user's other apps would see it.
#[derive(Debug)]
pub struct OutlookWatch {
    http: reqwest::Client,
    view: String,
    token: String,
}

impl OutlookWatch {
    /// How often the calendar is looked at: the resolution of what is measured with it.
    pub const POLL: Duration = Duration::from_millis(5);

    pub async fn new(http: &reqwest::Client, graph: &GraphEmulator) -> anyhow::Result<Self> {
        let tokens = post_json(
            http,
            &format!("{}/_emulator/tokens", graph.base_url()),
            &json!({"email": DEFAULT_USER, "client_id": OBSERVER_CLIENT, "scope": "Calendars.Read"}),
        )
        .await?;
        let token = tokens["access_token"].as_str().context("no access token")?.to_owned();
        let calendar: Value = http
            .get(format!("{}me/calendar", graph.api_root()))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = calendar["id"].as_str().context("no default calendar")?;
        Ok(Self { http: http.clone(), view: format!("{}me/calendars/{id}/calendarView", graph.api_root()), token })
    }

    /// Waits until the calendar view of slot `i` ([`crate::utc_slot`]) shows an event with
    /// `subject`.
    pub async fn wait_for(&self, subject: &str, i: usize) -> anyhow::Result<()> {
        let (start, end) = crate::utc_slot(i);
        let mut url = reqwest::Url::parse(&self.view)?;
        url.query_pairs_mut()
            .append_pair("startDateTime", &format!("{start}Z"))
            .append_pair("endDateTime", &format!("{end}Z"));
        let deadline = Instant::now() + PATIENCE;
        loop {
            let view: Value = self
                .http
                .get(url.clone())
                .bearer_auth(&self.token)
                .header("Prefer", "outlook.timezone=\"UTC\"")
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            if view["value"].as_array().into_iter().flatten().any(|e| e["subject"] == subject) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{subject:?} did not reach Outlook within {PATIENCE:?}");
            }
            tokio::time::sleep(Self::POLL).await;
        }
    }
}

/// An Outlook request by calsync (not the observer's calendar view) in the emulator's log.
pub fn by_calsync(r: &Value) -> bool {
    !r["path"].as_str().is_some_and(|p| p.ends_with("/calendarView"))
}
