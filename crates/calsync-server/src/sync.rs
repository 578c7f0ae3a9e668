//! What the server needs to sync with providers: the OAuth clients, where the providers'
//! APIs are, the key that seals refresh tokens, the connectors, and the workers.

use calsync_core::Source;
use calsync_engine::{Connectors, Endpoints, EngineMetrics, Schedule, Sealer, Worker};
use calsync_store::SyncStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, broadcast, watch};

/// The scopes calsync asks Google for: calendars read/write, and who the account is.
pub const GOOGLE_SCOPES: [&str; 3] = ["https://www.googleapis.com/auth/calendar", "openid", "email"];

/// The scopes calsync asks Microsoft for (protocols.md §2.7): a refresh token
/// (`offline_access`), calendars read/write, and who the account is.
pub const MICROSOFT_SCOPES: [&str; 3] = ["offline_access", "Calendars.ReadWrite", "User.Read"];

/// How long a worker holds an account between renewals (every third of it while a job
/// runs); a dead worker's account is free again after this.
pub const LEASE: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub struct SyncSetup {
    pub sealer: Arc<Sealer>,
    pub http: reqwest::Client,
    /// The providers this server is configured for, and their connectors per account.
    pub providers: Arc<Connectors>,
    /// Wakes idle workers (a local change, a new link, a notification).
    pub wake: Arc<Notify>,
    pub metrics: Arc<EngineMetrics>,
    /// The rules new links start with (conflict policy, brake limits).
    pub link_defaults: calsync_store::LinkSettings,
}

impl SyncSetup {
    /// `public_url`: where providers can reach this server; push notifications need it,
    /// and without it links are polled. A provider left `None` cannot be connected.
    pub fn new(
        sealer: Arc<Sealer>,
        http: reqwest::Client,
        public_url: Option<&str>,
        google: Option<Endpoints>,
        microsoft: Option<Endpoints>,
    ) -> Self {
        let providers = Arc::new(Connectors::new(http.clone(), sealer.clone(), public_url, google, microsoft));
        Self {
            sealer,
            http,
            providers,
            wake: Arc::new(Notify::new()),
            metrics: Arc::default(),
            link_defaults: calsync_store::LinkSettings::default(),
        }
    }

    /// The endpoints of `provider`, when this server is configured for it.
    pub fn endpoints(&self, provider: Source) -> Option<&Endpoints> {
        self.providers.endpoints(provider)
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
