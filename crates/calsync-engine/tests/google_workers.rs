//! Workers against the Google emulator: a dead grant pauses the account with every local
//! change kept queued until a reconnect; two workers never handle one account at once (on
//! SQLite and on PostgreSQL); a worker that dies loses its lease and another takes over.

mod support;

use calsync_core::{
    AccountId, CalendarDraft, CalendarId, CalendarInput, Event, EventDraft, EventId, EventInput, Source,
};
use calsync_emulators::google::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USER};
use calsync_engine::{LinkRun, Providers, Schedule, SyncError, Worker};
use calsync_providers::google::GoogleProvider;
use calsync_providers::oauth::{AccessTokens, OAuthClient};
use calsync_providers::{ChangePage, Channel, EventWrite, Provider, ProviderError, RemoteCalendar, RemoteEvent};
use calsync_store::testing::TestDb;
use calsync_store::{Account, AccountState, Link, NewEvent};
use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use support::{Hub, hub_on, meeting};
use tokio::sync::{Notify, watch};

/// How long a test waits for what should happen soon before it fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(30);

/// Runs `async fn $name(hub: Hub)` as `$name::sqlite` and `$name::postgres`; the PostgreSQL
/// half is skipped (with a note) without CALSYNC_TEST_POSTGRES_URL.
macro_rules! on_both_databases {
    ($name:ident) => {
        mod $name {
            use super::{TestDb, hub_on};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(hub_on(TestDb::sqlite()).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = TestDb::postgres().await else {
                    eprintln!("CALSYNC_TEST_POSTGRES_URL unset: PostgreSQL half skipped");
                    return;
                };
                super::$name(hub_on(db).await).await;
            }
        }
    };
}

on_both_databases!(invalid_grant_pauses_the_account_keeps_its_changes_and_a_reconnect_sends_them);
on_both_databases!(two_workers_never_run_one_account_at_the_same_time);
on_both_databases!(a_dead_workers_lease_expires_and_another_worker_takes_over);
on_both_databases!(a_link_job_longer_than_the_lease_still_has_the_account_to_itself);

// ---------------------------------------------------------------------------------------------
// Scenarios

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_that_changes_events_wakes_the_users_change_streams_and_a_quiet_one_does_not() {
    let hub = hub_on(TestDb::sqlite()).await;
    let providers = Arc::new(ClearTokenProviders::new(&hub, None));
    let (changed, mut heard) = tokio::sync::broadcast::channel(16);
    let worker =
        Worker { changed: Some(changed), ..worker(&hub, "worker-1", providers, quick(Duration::from_secs(3600))) };
    connect(&hub).await;
    mark_due(&hub).await;
    assert_clean(&tick_with_work(&worker).await);
    assert!(heard.try_recv().is_err(), "importing an empty calendar changed nothing");

    hub.google_create(support::google_meeting("Booked in Google", "2026-05-04")).await;
    mark_due(&hub).await;
    assert_clean(&tick_with_work(&worker).await);
    assert_eq!(heard.try_recv().ok(), Some(hub.user), "the pulled event must wake the user's streams");

    mark_due(&hub).await;
    assert_clean(&tick_with_work(&worker).await);
    assert!(heard.try_recv().is_err(), "a pull that found nothing must wake nobody");
}

async fn invalid_grant_pauses_the_account_keeps_its_changes_and_a_reconnect_sends_them(hub: Hub) {
    let providers = Arc::new(ClearTokenProviders::new(&hub, None));
    let worker = worker(&hub, "worker-1", providers, quick(Duration::from_secs(3600)));
    let account = connect(&hub).await;
    assert_eq!(account.id, hub.link.account_id, "connecting again keeps the account");

    // A healthy first run: the import, and "Standup" reaches Google.
    let standup = hub.create_local(meeting("Standup", "2026-05-04")).await;
    mark_due(&hub).await;
    assert_clean(&tick_with_work(&worker).await);
    let standup_remote = hub.event_link(standup.id).await.unwrap_or_else(|| panic!("Standup was not linked")).remote_id;
    assert_eq!(remote_titles(&hub, DEFAULT_USER).await, ["Standup"]);

    // The user revokes calsync's access at Google; meanwhile they keep editing locally.
    hub.control(Method::POST, "/_emulator/refresh-tokens/revoke", json!({"user": DEFAULT_USER})).await;
    hub.update_local(standup.id, |e| e.title = "Standup (moved)".into()).await;
    let kickoff = hub.create_local(meeting("Kick-off", "2026-05-05")).await;
    hub.update_local(kickoff.id, |e| e.title = "Kick-off (room 2)".into()).await;
    assert_eq!(hub.outbox_left().await, 3);
    let before = hub.link().await;
    hub.clear_requests().await;
    mark_due(&hub).await;

    let runs = tick_with_work(&worker).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].needs_reauth().is_some(), "the dead grant must be recognised: {:?}", runs[0].error);
    let paused = hub.store.get_account(hub.user, account.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(paused.state, AccountState::NeedsReauth);
    assert!(paused.last_error.as_deref().is_some_and(|e| !e.is_empty()), "the reason is shown: {paused:?}");
    let after = hub.link().await;
    assert_eq!(after.checkpoint, before.checkpoint, "the checkpoint must not move past unsent changes");
    assert_eq!(hub.outbox_left().await, 3, "every local change stays queued");
    assert_eq!(hub.api_writes().await, Vec::<String>::new(), "nothing may reach Google");
    assert_eq!(remote_titles(&hub, DEFAULT_USER).await, ["Standup"]);

    // Paused: however due its links are, no worker takes the account.
    mark_due(&hub).await;
    assert!(tick(&worker).await.is_none(), "an account that needs the user must not be synced");
    assert_eq!(hub.outbox_left().await, 3);

    // The user connects again (a new grant): the queued changes go out, in order.
    let reconnected = connect(&hub).await;
    assert_eq!((reconnected.id, reconnected.state), (account.id, AccountState::Active));
    mark_due(&hub).await;
    assert_clean(&tick_with_work(&worker).await);
    let account = hub.store.get_account(hub.user, account.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((account.state, account.last_error.as_deref()), (AccountState::Active, None));
    assert_eq!(hub.outbox_left().await, 0);
    let kickoff_remote =
        hub.event_link(kickoff.id).await.unwrap_or_else(|| panic!("Kick-off was not linked")).remote_id;
    let writes = hub.api_writes().await;
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(
        writes[0].starts_with("PUT ") && writes[0].ends_with(&format!("/events/{standup_remote}")),
        "first the Standup's update, queued first: {writes:?}"
    );
    assert!(
        writes[1].starts_with("POST ") && writes[1].ends_with("/events"),
        "then the Kick-off's creation: {writes:?}"
    );
    assert_eq!(remote_titles(&hub, DEFAULT_USER).await, ["Kick-off (room 2)", "Standup (moved)"]);
    let remote_kickoff = hub.remote_event(&kickoff_remote).await.unwrap_or_else(|| panic!("no {kickoff_remote}"));
    assert_eq!(remote_kickoff["summary"], "Kick-off (room 2)", "the last local edit wins: {remote_kickoff}");
}

async fn two_workers_never_run_one_account_at_the_same_time(hub: Hub) {
    let account = connect(&hub).await;
    // Every Google call takes a little while, so calls of two workers would overlap.
    hub.control(Method::PATCH, "/_emulator/settings", json!({"latency_ms": 5})).await;

    // Three local calendars of one account, each linked to a Google calendar of its own.
    let mut linked = vec![(hub.calendar, hub.link.remote_calendar_id.clone())];
    for name in ["Team", "Travel"] {
        let local = local_calendar(&hub, name).await;
        let remote = remote_calendar(&hub, name).await;
        hub.store.create_link(hub.user, account.id, local, &remote).await.unwrap_or_else(|e| panic!("{e}"));
        linked.push((local, remote));
    }
    let mut expected: Vec<(String, Vec<String>)> = Vec::new();
    for (i, (calendar, remote)) in linked.iter().enumerate() {
        let titles: Vec<String> = (1..=4).map(|n| format!("Meeting {i}.{n}")).collect();
        for (n, title) in titles.iter().enumerate() {
            create_in(&hub, *calendar, meeting(title, &format!("2026-05-{:02}", n + 4))).await;
        }
        expected.push((remote.clone(), titles));
    }
    hub.store.mark_user_due(hub.user, Timestamp::now()).await.unwrap_or_else(|e| panic!("{e}"));

    // Two workers (think: two processes), sharing one gauge of the account's calls in flight.
    let gauges = Arc::new(Gauges::default());
    let schedule = quick(Duration::from_millis(20));
    let providers_a = Arc::new(ClearTokenProviders::new(&hub, Some(gauges.clone())));
    let providers_b = Arc::new(ClearTokenProviders::new(&hub, Some(gauges.clone())));
    let (stop, stopped) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let a = tokio::spawn(worker(&hub, "worker-a", providers_a.clone(), schedule).run(stopped.clone(), wake.clone()));
    let b = tokio::spawn(worker(&hub, "worker-b", providers_b.clone(), schedule).run(stopped, wake.clone()));

    // Until every event is in Google and both workers have held the account several times
    // (links keep falling due every 20 ms, and every wake-up sets both racing for them).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        wake.notify_waiters();
        let claims = (providers_a.claims.load(Ordering::SeqCst), providers_b.claims.load(Ordering::SeqCst));
        let mut arrived = true;
        for (remote, titles) in &expected {
            arrived &= remote_titles(&hub, remote).await == *titles;
        }
        if arrived && claims.0 >= 3 && claims.1 >= 3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting: claims (a, b) = {claims:?}, every event in Google: {arrived}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    for handle in [a, b] {
        tokio::time::timeout(PATIENCE, handle)
            .await
            .unwrap_or_else(|_| panic!("a worker did not stop"))
            .unwrap_or_else(|e| panic!("a worker failed: {e}"));
    }

    let gauge = gauges.of(account.id);
    assert!(gauge.calls.load(Ordering::SeqCst) > 0, "the gauge saw no calls");
    assert_eq!(gauge.most.load(Ordering::SeqCst), 1, "two calls of one account ran at the same time");
    for (remote, titles) in &expected {
        assert_eq!(remote_titles(&hub, remote).await, *titles, "each event exactly once in {remote}");
    }
    for link in hub.store.list_links(hub.user).await.unwrap_or_else(|e| panic!("{e}")) {
        assert_eq!(unsent(&hub, &link).await, 0, "link {} still has queued changes", link.id);
    }
}

async fn a_dead_workers_lease_expires_and_another_worker_takes_over(hub: Hub) {
    let account = connect(&hub).await;
    hub.create_local(meeting("Kick-off", "2026-05-04")).await;
    hub.create_local(meeting("Review", "2026-05-05")).await;
    mark_due(&hub).await;

    // Worker A takes the account and dies: it never works, renews or releases.
    let lease = SignedDuration::from_millis(1_000);
    let until = Timestamp::now().checked_add(lease).unwrap_or_else(|e| panic!("{e}"));
    let claimed = hub.store.claim_account("worker-a", Timestamp::now(), until).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claimed.map(|a| a.id), Some(account.id));

    // While A's lease holds, nobody else gets the account.
    let just_before = until.checked_sub(SignedDuration::from_millis(1)).unwrap_or_else(|e| panic!("{e}"));
    let other = hub.store.claim_account("worker-c", just_before, later(Duration::from_secs(30))).await;
    assert_eq!(other.unwrap_or_else(|e| panic!("{e}")), None, "a held lease was taken");
    let providers = Arc::new(ClearTokenProviders::new(&hub, None));
    let b = worker(&hub, "worker-b", providers.clone(), quick(Duration::from_secs(3600)));
    let early = tick(&b).await;
    if Timestamp::now() < until {
        // The tick ended before the lease did, so it cannot have taken the account.
        assert!(early.is_none(), "worker B ran an account worker A still holds: {early:?}");
        assert!(hub.live_remote_events().await.is_empty());
        assert_eq!(hub.outbox_left().await, 2);
    }

    // Once the lease has expired, B takes over and does the work.
    let runs = match early {
        Some(runs) => runs,
        None => {
            let deadline = tokio::time::Instant::now() + PATIENCE;
            loop {
                if let Some(runs) = tick(&b).await {
                    break runs;
                }
                assert!(tokio::time::Instant::now() < deadline, "worker B never took over the expired lease");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert!(Timestamp::now() > until, "worker B took over before the lease expired");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_clean(&runs);
    assert_eq!(remote_titles(&hub, DEFAULT_USER).await, ["Kick-off", "Review"]);
    assert_eq!(hub.outbox_left().await, 0);
    assert_eq!(providers.claims.load(Ordering::SeqCst), 1);

    // Worker A comes back to life: its lease is gone, and its release harms nobody.
    let renewed = hub.store.renew_lease(account.id, "worker-a", later(Duration::from_secs(30))).await;
    assert!(!renewed.unwrap_or_else(|e| panic!("{e}")), "a lease taken over must not be renewable by its old owner");
    hub.store.release_account(account.id, "worker-a").await.unwrap_or_else(|e| panic!("{e}"));
    let account = hub.store.get_account(hub.user, account.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(account.state, AccountState::Active);
}

/// A worker that is alive but slow keeps its account: a single link job may outlast the
/// lease (a big import or outbox under rate limits can outlast the server's 60 s), and
/// "one account, exactly one worker at a time" must hold through it.
async fn a_link_job_longer_than_the_lease_still_has_the_account_to_itself(hub: Hub) {
    let account = connect(&hub).await;
    for n in 1..=20 {
        hub.create_local(meeting(&format!("Meeting {n:02}"), "2026-05-04")).await;
    }
    mark_due(&hub).await;
    // Each Google call takes 30 ms, so pushing 20 events takes well over A's 300 ms lease.
    hub.control(Method::PATCH, "/_emulator/settings", json!({"latency_ms": 30})).await;
    let gauges = Arc::new(Gauges::default());
    let providers_a = Arc::new(ClearTokenProviders::new(&hub, Some(gauges.clone())));
    let mut a = worker(&hub, "worker-a", providers_a.clone(), quick(Duration::from_secs(3600)));
    a.lease = Duration::from_millis(300);
    let b = worker(
        &hub,
        "worker-b",
        Arc::new(ClearTokenProviders::new(&hub, Some(gauges.clone()))),
        quick(Duration::from_secs(3600)),
    );
    hub.clear_requests().await;

    // A takes the account and works (alive, just slow); B keeps asking for work all the while.
    let a_done = std::sync::atomic::AtomicBool::new(false);
    let (a_runs, b_took) = tokio::join!(
        async {
            let runs = tick_with_work(&a).await;
            a_done.store(true, Ordering::SeqCst);
            runs
        },
        async {
            let mut took = 0;
            while providers_a.claims.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            while !a_done.load(Ordering::SeqCst) {
                if tick(&b).await.is_some() {
                    took += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            took
        }
    );
    assert_clean(&a_runs);
    assert_eq!(remote_titles(&hub, DEFAULT_USER).await.len(), 20);
    let writes = hub.api_writes().await;
    let creates = writes.iter().filter(|w| w.starts_with("POST ")).count();
    assert_eq!(
        gauges.of(account.id).most.load(Ordering::SeqCst),
        1,
        "worker B took the account {b_took} time(s) while worker A was still working on it \
         ({} writes to Google, {creates} of them creates, for 20 events)",
        writes.len()
    );
    assert_eq!(creates, 20, "each event is created once");
}

// ---------------------------------------------------------------------------------------------
// Workers and their connectors

/// A schedule for tests: links fall due again after `poll`; failures back off briefly.
fn quick(poll: Duration) -> Schedule {
    Schedule {
        poll_with_push: Duration::from_secs(3600),
        poll_without_push: poll,
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(500),
    }
}

fn worker(hub: &Hub, owner: &str, providers: Arc<dyn Providers>, schedule: Schedule) -> Worker {
    Worker {
        store: hub.store.clone(),
        providers,
        owner: owner.to_owned(),
        schedule,
        lease: Duration::from_secs(30),
        metrics: Arc::default(),
        changed: None,
    }
}

fn later(d: Duration) -> Timestamp {
    Timestamp::now().checked_add(SignedDuration::try_from(d).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| {
        panic!("{e}");
    })
}

/// One tick; a failure of the tick itself (not of a link) fails the test.
async fn tick(worker: &Worker) -> Option<Vec<LinkRun>> {
    worker.tick().await.unwrap_or_else(|e| panic!("tick: {e}"))
}

/// One tick that must find work.
async fn tick_with_work(worker: &Worker) -> Vec<LinkRun> {
    tick(worker).await.unwrap_or_else(|| panic!("the worker found nothing due"))
}

#[track_caller]
fn assert_clean(runs: &[LinkRun]) {
    assert!(!runs.is_empty());
    for run in runs {
        assert!(run.error.is_none(), "a link run failed: {:?}", run.error);
        assert!(run.pull.is_some() && run.push.is_some(), "{run:?}");
    }
}

/// Connectors for the workers under test. A test double: an account's secret is its refresh
/// token in clear (sealing is the server's business). Every claim builds a fresh connector,
/// so no access token outlives a grant.
struct ClearTokenProviders {
    http: reqwest::Client,
    api_root: String,
    oauth: OAuthClient,
    /// Accounts handed out: one per claim.
    claims: AtomicUsize,
    gauges: Option<Arc<Gauges>>,
}

impl ClearTokenProviders {
    fn new(hub: &Hub, gauges: Option<Arc<Gauges>>) -> Self {
        let base = hub.emulator.base_url();
        let oauth = OAuthClient {
            auth_url: format!("{base}/o/oauth2/v2/auth"),
            token_url: format!("{base}/token"),
            revoke_url: Some(format!("{base}/revoke")),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: SecretString::from(DEFAULT_CLIENT_SECRET),
            redirect_uri: "http://127.0.0.1:1/oauth/google/callback".into(),
            scopes: vec!["https://www.googleapis.com/auth/calendar".into()],
        };
        Self { http: hub.http.clone(), api_root: hub.emulator.api_root(), oauth, claims: AtomicUsize::new(0), gauges }
    }
}

impl Providers for ClearTokenProviders {
    fn for_account(&self, account: &Account) -> Result<Arc<dyn Provider>, SyncError> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        let refresh = String::from_utf8(account.secret.clone())
            .map_err(|_| SyncError::Secret("the test secret is not a refresh token in clear".into()))?;
        let tokens = AccessTokens::new(self.oauth.clone(), SecretString::from(refresh));
        let google = GoogleProvider::new(self.http.clone(), &self.api_root, tokens);
        Ok(match &self.gauges {
            Some(g) => Arc::new(Gauged { inner: google, gauge: g.of(account.id) }),
            None => Arc::new(google),
        })
    }

    fn webhook_url(&self, _account: &Account) -> Option<String> {
        None
    }
}

/// Calls of one account in flight, and the most there ever were at once.
#[derive(Debug, Default)]
struct Gauge {
    now: AtomicUsize,
    most: AtomicUsize,
    calls: AtomicUsize,
}

/// Counts while alive.
struct InFlight<'g>(&'g Gauge);

impl Gauge {
    fn enter(&self) -> InFlight<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        InFlight(self)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Default)]
struct Gauges(Mutex<HashMap<AccountId, Arc<Gauge>>>);

impl Gauges {
    fn of(&self, account: AccountId) -> Arc<Gauge> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).entry(account).or_default().clone()
    }
}

/// Google's connector, with every call counted on its account's gauge while it runs.
struct Gauged {
    inner: GoogleProvider,
    gauge: Arc<Gauge>,
}

type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

// `Provider` is an `async_trait`: its methods are written in the shape that macro declares
// (boxed futures), so this crate needs no macro of its own.
impl Provider for Gauged {
    fn calendars<'s, 'a>(&'s self) -> Answer<'a, Vec<RemoteCalendar>>
    where
        's: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let _in = self.gauge.enter();
            self.inner.calendars().await
        })
    }

    fn list<'s, 'c, 'k, 'p, 'a>(
        &'s self,
        calendar: &'c str,
        cursor: Option<&'k str>,
        page: Option<&'p str>,
    ) -> Answer<'a, ChangePage>
    where
        's: 'a,
        'c: 'a,
        'k: 'a,
        'p: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let _in = self.gauge.enter();
            self.inner.list(calendar, cursor, page).await
        })
    }

    fn get<'s, 'c, 'r, 'a>(&'s self, calendar: &'c str, remote_id: &'r str) -> Answer<'a, Option<RemoteEvent>>
    where
        's: 'a,
        'c: 'a,
        'r: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let _in = self.gauge.enter();
            self.inner.get(calendar, remote_id).await
        })
    }

    fn create<'s, 'c, 'w, 'i, 'a>(&'s self, calendar: &'c str, write: &'w EventWrite<'i>) -> Answer<'a, RemoteEvent>
    where
        's: 'a,
        'c: 'a,
        'w: 'a,
        'i: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let _in = self.gauge.enter();
            self.inner.create(calendar, write).await
        })
    }

    fn update<'s, 'c, 'r, 'e, 'w, 'i, 'a>(
        &'s self,
        calendar: &'c str,
        remote_id: &'r str,
        etag: Option<&'e str>,
        write: &'w EventWrite<'i>,
    ) -> Answer<'a, RemoteEvent>
    where
        's: 'a,
        'c: 'a,
        'r: 'a,
        'e: 'a,
        'w: 'a,
        'i: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let _in = self.gauge.enter();
            self.inner.update(calendar, remote_id, etag, write).await
        })
    }

    fn delete<'s, 'c, 'r, 'e, 'a>(
        &'s self,
        calendar: &'c str,
        remote_id: &'r str,
        etag: Option<&'e str>,
    ) -> Answer<'a, ()>
    where
        's: 'a,
        'c: 'a,
        'r: 'a,
        'e: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let _in = self.gauge.enter();
            self.inner.delete(calendar, remote_id, etag).await
        })
    }

    fn watch<'s, 'c, 'i, 't, 'd, 'a>(
        &'s self,
        calendar: &'c str,
        channel_id: &'i str,
        token: &'t str,
        address: &'d str,
    ) -> Answer<'a, Option<Channel>>
    where
        's: 'a,
        'c: 'a,
        'i: 'a,
        't: 'a,
        'd: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let _in = self.gauge.enter();
            self.inner.watch(calendar, channel_id, token, address).await
        })
    }

    fn unwatch<'s, 'h, 'a>(&'s self, channel: &'h Channel) -> Answer<'a, ()>
    where
        's: 'a,
        'h: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            let _in = self.gauge.enter();
            self.inner.unwatch(channel).await
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The hub and Google

/// Connects (or reconnects) the hub's Google account with a new grant, as a finished consent
/// gives; the account keeps its refresh token in clear (see [`ClearTokenProviders`]).
async fn connect(hub: &Hub) -> Account {
    let tokens = hub.control(Method::POST, "/_emulator/tokens", json!({"email": DEFAULT_USER})).await;
    let refresh = tokens["refresh_token"].as_str().unwrap_or_else(|| panic!("no refresh token in {tokens}"));
    hub.store
        .upsert_account(hub.user, Source::Google, DEFAULT_USER, refresh.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn mark_due(hub: &Hub) {
    hub.store.mark_due(hub.link.id, Timestamp::now()).await.unwrap_or_else(|e| panic!("{e}"));
}

async fn local_calendar(hub: &Hub, name: &str) -> CalendarId {
    let draft =
        CalendarDraft::parse(CalendarInput { name: name.into(), color: None, time_zone: Some("Europe/Berlin".into()) })
            .unwrap_or_else(|e| panic!("{e}"));
    hub.store.create_calendar(hub.user, CalendarId::new(), &draft).await.unwrap_or_else(|e| panic!("{e}")).id
}

async fn create_in(hub: &Hub, calendar: CalendarId, mut value: Value) -> Event {
    value["calendar_id"] = json!(calendar);
    let input: EventInput = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
    let draft = EventDraft::parse(input).unwrap_or_else(|e| panic!("{e}"));
    let new = NewEvent { id: EventId::new(), draft, source: Source::Local };
    let mut created = hub.store.create_events(hub.user, vec![new]).await.unwrap_or_else(|e| panic!("{e}"));
    created.remove(0)
}

/// A new secondary Google calendar of the user; returns its id.
async fn remote_calendar(hub: &Hub, name: &str) -> String {
    let created: Value = hub
        .http
        .post(format!("{}calendars", hub.emulator.api_root()))
        .bearer_auth(hub.emulator.access_token(DEFAULT_USER))
        .json(&json!({"summary": name, "timeZone": "Europe/Berlin"}))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("calendars.insert: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("calendars.insert: {e}"));
    created["id"].as_str().unwrap_or_else(|| panic!("no id in {created}")).to_owned()
}

/// The titles of the live events of a Google calendar, sorted.
async fn remote_titles(hub: &Hub, calendar: &str) -> Vec<String> {
    let mut url = reqwest::Url::parse(&hub.emulator.api_root()).unwrap_or_else(|e| panic!("{e}"));
    url.path_segments_mut().unwrap_or_else(|()| panic!("the API root cannot take a path")).pop_if_empty().extend([
        "calendars",
        calendar,
        "events",
    ]);
    url.query_pairs_mut().append_pair("maxResults", "2500");
    let listed: Value = hub
        .http
        .get(url)
        .bearer_auth(hub.emulator.access_token(DEFAULT_USER))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("events.list: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("events.list: {e}"));
    assert!(listed.get("nextPageToken").is_none(), "more than one page: {listed}");
    let mut titles: Vec<String> = listed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["status"] != "cancelled")
        .map(|e| e["summary"].as_str().unwrap_or_default().to_owned())
        .collect();
    titles.sort();
    titles
}

/// The change rows of `link`'s calendar after its checkpoint.
async fn unsent(hub: &Hub, link: &Link) -> usize {
    let now = hub.store.get_link(hub.user, link.id).await.unwrap_or_else(|e| panic!("{e}"));
    let rows = hub.store.changes_after(hub.user, now.checkpoint, 10_000).await.unwrap_or_else(|e| panic!("{e}"));
    rows.iter().filter(|c| c.calendar_id == now.calendar_id || c.previous_calendar_id == Some(now.calendar_id)).count()
}
