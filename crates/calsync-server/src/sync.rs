//! What the server needs to sync with providers: the OAuth client, where the provider's API
//! is, the key that seals refresh tokens, the connectors, and the workers.

use calsync_engine::{EngineMetrics, GoogleProviders, Schedule, Sealer, Worker};
use calsync_providers::oauth::OAuthClient;
use calsync_store::SyncStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, broadcast, watch};

/// The scopes calsync asks Google for: calendars read/write, and who the account is.
pub const GOOGLE_SCOPES: [&str; 3] = ["https://www.googleapis.com/auth/calendar", "openid", "email"];

/// How long a worker holds an account between renewals (every third of it while a job
/// runs); a dead worker's account is free again after this.
pub const LEASE: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub struct GoogleSetup {
    pub oauth: OAuthClient,
    /// OpenID userinfo (the account's email): `https://openidconnect.googleapis.com/v1/userinfo`.
    pub userinfo_url: String,
    /// `https://www.googleapis.com/calendar/v3/`.
    pub api_root: String,
}

#[derive(Debug)]
pub struct SyncSetup {
    pub google: GoogleSetup,
    pub sealer: Arc<Sealer>,
    pub http: reqwest::Client,
    pub providers: Arc<GoogleProviders>,
    /// Wakes idle workers (a local change, a new link, a notification).
    pub wake: Arc<Notify>,
    pub metrics: Arc<EngineMetrics>,
    /// The rules new links start with (conflict policy, brake limits).
    pub link_defaults: calsync_store::LinkSettings,
}

impl SyncSetup {
    /// `public_url`: where Google can reach this server; push notifications need it, and
    /// without it links are polled.
    pub fn new(google: GoogleSetup, sealer: Arc<Sealer>, http: reqwest::Client, public_url: Option<&str>) -> Self {
        let providers = Arc::new(GoogleProviders::new(
            http.clone(),
            google.api_root.clone(),
            google.oauth.clone(),
            sealer.clone(),
            public_url.map(|u| format!("{}/webhooks/google", u.trim_end_matches('/'))),
        ));
        Self {
            google,
            sealer,
            http,
            providers,
            wake: Arc::new(Notify::new()),
            metrics: Arc::default(),
            link_defaults: calsync_store::LinkSettings::default(),
        }
    }

    /// Wakes an idle worker, now or (if all are busy) as soon as one is free: a wake is
    /// never lost to a worker that was between two looks at the database.
    pub fn wake_workers(&self) {
        self.wake.notify_waiters();
        self.wake.notify_one();
    }

    /// Starts `count` workers; they stop when `stop` turns true. `changed` hears of every
    /// user whose events a pull changed (the API's change streams).
    pub fn start_workers(
        &self,
        store: &Arc<dyn SyncStore>,
        count: usize,
        schedule: Schedule,
        stop: &watch::Receiver<bool>,
        changed: Option<broadcast::Sender<calsync_core::UserId>>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let process = format!("{}-{}", std::process::id(), calsync_core::EventId::new());
        (0..count)
            .map(|i| {
                let worker = Worker {
                    store: store.clone(),
                    providers: self.providers.clone(),
                    owner: format!("{process}-{i}"),
                    schedule,
                    lease: LEASE,
                    metrics: self.metrics.clone(),
                    changed: changed.clone(),
                };
                tokio::spawn(worker.run(stop.clone(), self.wake.clone()))
            })
            .collect()
    }
}
