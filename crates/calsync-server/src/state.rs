use crate::expansion_cache::ExpansionCache;
use crate::metrics::Metrics;
use calsync_core::{Clock, UserId};
use calsync_store::{SyncStore, TokenHash};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// Everything a request handler may use. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<dyn SyncStore>,
    /// Provider sync (accounts, links); `None` when no provider is configured.
    pub sync: Option<Arc<crate::sync::SyncSetup>>,
    pub clock: Arc<dyn Clock>,
    /// Hash of the admin token; `None` disables the admin API.
    pub admin_token_hash: Option<TokenHash>,
    /// Wakes change streams: the id of a user whose change log grew in this process.
    pub changed: broadcast::Sender<UserId>,
    /// How often change streams look for changes written by other processes (PostgreSQL
    /// deployments with several calsync processes).
    pub change_poll: Duration,
    pub metrics: Arc<Metrics>,
    /// How long deleted events stay in the trash, restorable.
    pub trash_retention: Duration,
    /// Series occurrence starts, remembered per event version.
    pub expansions: Arc<ExpansionCache>,
    /// Flips to `true` when the server shuts down, so long-lived streams end.
    pub shutdown: watch::Receiver<bool>,
    /// The built web app (`web/dist`), served at `/app/`; `None`: no web app.
    pub web_dir: Option<std::path::PathBuf>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn SyncStore>,
        clock: Arc<dyn Clock>,
        admin_token_hash: Option<TokenHash>,
    ) -> (Self, watch::Sender<bool>) {
        let (shutdown_tx, shutdown) = watch::channel(false);
        let (changed, _) = broadcast::channel(1024);
        let state = Self {
            store,
            sync: None,
            clock,
            admin_token_hash,
            changed,
            change_poll: Duration::from_secs(2),
            trash_retention: Duration::from_secs(30 * 24 * 3600),
            metrics: Arc::new(Metrics::default()),
            expansions: Arc::new(ExpansionCache::default()),
            shutdown,
            web_dir: None,
        };
        (state, shutdown_tx)
    }

    /// Tells this process' change streams that `user` has new changes.
    pub fn notify_changed(&self, user: UserId) {
        // No receivers is fine: nobody is streaming.
        let _ = self.changed.send(user);
    }

    /// A local write: change streams wake, the user's links become due, workers wake.
    pub async fn local_change(&self, user: UserId) {
        self.notify_changed(user);
        if let Some(sync) = &self.sync {
            if let Err(e) = self.store.mark_user_due(user, self.clock.now()).await {
                // The backstop poll still pushes it; only the prompt push is lost.
                tracing::warn!(error = %e, %user, "could not mark the user's links due");
            }
            sync.wake_workers();
        }
    }
}
