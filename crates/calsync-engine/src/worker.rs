//! Workers: claim an account (a lease in the database, so one worker per account across
//! processes), run its due links one at a time, release it. A worker that dies loses its
//! lease when it expires and another takes over.

use crate::SyncError;
use crate::job::{LinkRun, Schedule, run_link};
use calsync_core::{AccountId, Source, UserId};
use calsync_providers::Provider;
use calsync_store::{Account, AccountState, SyncStore};
use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, broadcast, watch};

/// Stores a refresh token `provider` was handed in place of the account's (Microsoft
/// rotates them on every refresh): the old one may be dead already. Only over the secret
/// `account` has, so a reconnect meanwhile is not overwritten. Returns the new secret.
pub async fn keep_rotated_secret(
    providers: &dyn Providers,
    store: &dyn SyncStore,
    account: &Account,
    provider: &Arc<dyn Provider>,
) -> Option<Vec<u8>> {
    let stored = match providers.rotated_secret(account, provider) {
        Ok(None) => return None,
        Ok(Some(sealed)) => {
            store.set_account_secret(account.id, &account.secret, &sealed).await.map(|kept| (kept, sealed))
        }
        Err(e) => {
            tracing::error!(account = %account.id, error = %e, "could not seal the provider's new refresh token");
            return None;
        }
    };
    match stored {
        Ok((true, sealed)) => Some(sealed),
        Ok((false, _)) => {
            tracing::info!(account = %account.id, "the account was reconnected meanwhile; its new grant is kept");
            None
        }
        Err(e) => {
            tracing::error!(account = %account.id, error = %e, "could not store the provider's new refresh token");
            None
        }
    }
}

/// Connectors for accounts.
pub trait Providers: Send + Sync {
    fn for_account(&self, account: &Account) -> Result<Arc<dyn Provider>, SyncError>;
    /// Where the provider should send push notifications for this account's links (a
    /// public URL is configured), or `None` to poll.
    fn webhook_url(&self, account: &Account) -> Option<String>;
    /// The account's new sealed secret when `provider` was handed a new refresh token
    /// (Microsoft rotates them), for the caller to store; the connector stays in use.
    fn rotated_secret(&self, _account: &Account, _provider: &Arc<dyn Provider>) -> Result<Option<Vec<u8>>, SyncError> {
        Ok(None)
    }
}

/// What the sealed secret of an account is bound to.
pub fn secret_context(account_user: calsync_core::UserId, provider: Source, remote_user: &str) -> Vec<u8> {
    format!("{account_user}:{}:{remote_user}", provider.as_str()).into_bytes()
}

pub struct Worker {
    pub store: Arc<dyn SyncStore>,
    pub providers: Arc<dyn Providers>,
    /// Unique per worker (process and task): who holds a lease.
    pub owner: String,
    pub schedule: Schedule,
    pub lease: Duration,
    pub metrics: Arc<crate::EngineMetrics>,
    /// Told the user whose events a pull changed, so change streams in this process wake
    /// at once (streams elsewhere see it at their next poll).
    pub changed: Option<broadcast::Sender<UserId>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("owner", &self.owner).finish_non_exhaustive()
    }
}

fn later(d: Duration) -> Timestamp {
    let now = Timestamp::now();
    now.checked_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::from_secs(60))).unwrap_or(now)
}

impl Worker {
    /// Claims one account with due links and runs them. `Ok(None)`: nothing was due.
    pub async fn tick(&self) -> Result<Option<Vec<LinkRun>>, SyncError> {
        let Some(account) = self.store.claim_account(&self.owner, Timestamp::now(), later(self.lease)).await? else {
            return Ok(None);
        };
        let result = self.run_account(&account).await;
        self.store.release_account(account.id, &self.owner).await?;
        result.map(Some)
    }

    async fn run_account(&self, account: &Account) -> Result<Vec<LinkRun>, SyncError> {
        let provider = match self.providers.for_account(account) {
            Ok(p) => p,
            Err(e @ SyncError::NotConfigured(_)) => {
                tracing::error!(account = %account.id, error = %e, "cannot sync this account here");
                return Err(e);
            }
            Err(e) => {
                self.store.set_account_state(account.id, AccountState::NeedsReauth, Some(&e.to_string())).await?;
                return Err(e);
            }
        };
        let webhook = self.providers.webhook_url(account);
        // The account as stored: its secret moves when the provider rotates the refresh token.
        let mut current = account.clone();
        let mut runs = Vec::new();
        for link in self.store.due_links(account.id, Timestamp::now()).await? {
            if !self.store.renew_lease(account.id, &self.owner, later(self.lease)).await? {
                tracing::warn!(account = %account.id, "lost the account's lease; stopping");
                break;
            }
            // The lease is kept alive while the job runs; if it is lost anyway (this worker
            // stalled), the job stops at once: another worker owns the account now.
            let job = run_link(&*self.store, &*provider, &link, account.provider, &self.schedule, webhook.as_deref());
            let run = tokio::select! {
                run = job => Some(run),
                () = self.hold_lease(account.id) => None,
            };
            // Whatever became of the job, a refresh token the provider rotated meanwhile is
            // kept: the old one may be dead already.
            if let Some(sealed) = keep_rotated_secret(&*self.providers, &*self.store, &current, &provider).await {
                current.secret = sealed;
            }
            let Some(run) = run else {
                tracing::warn!(account = %account.id, link = %link.id, "lost the account's lease mid-job; stopping");
                break;
            };
            let run = run?;
            self.metrics.run(run.error.is_none());
            if let Some(p) = &run.pull {
                self.metrics.pulled(p);
            }
            // Events pulled, conflicts found, a brake pulled: the user's streams look now.
            let noticed = run.pull.as_ref().map_or(0, |p| p.changed() + p.braked)
                + run.push.as_ref().map_or(0, |p| p.conflicts + p.parked + p.braked);
            if noticed > 0
                && let Some(changed) = &self.changed
            {
                // No receivers is fine: nobody is streaming.
                let _ = changed.send(account.user_id);
            }
            if let Some(p) = &run.push {
                self.metrics.pushed(p);
            }
            if let Some(why) = run.needs_reauth() {
                tracing::warn!(account = %account.id, error = why, "the account must be reconnected; its sync is paused");
                self.store.set_account_state(account.id, AccountState::NeedsReauth, Some(why)).await?;
                runs.push(run);
                break;
            }
            runs.push(run);
        }
        Ok(runs)
    }

    /// Renews the account's lease every third of its length; returns only when it is lost.
    async fn hold_lease(&self, account: AccountId) {
        loop {
            tokio::time::sleep(self.lease / 3).await;
            match self.store.renew_lease(account, &self.owner, later(self.lease)).await {
                Ok(true) => {}
                Ok(false) => return,
                // A database hiccup: try again at the next beat; the lease has two more.
                Err(e) => tracing::warn!(%account, error = %e, "could not renew the lease"),
            }
        }
    }

    /// Runs until `stop` turns true: works while there is work, otherwise waits for `wake`
    /// (a local change, a notification) or a second, whichever comes first.
    pub async fn run(self, mut stop: watch::Receiver<bool>, wake: Arc<Notify>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let worked = match self.tick().await {
                Ok(r) => r.is_some(),
                Err(e) => {
                    tracing::warn!(worker = %self.owner, error = %e, "worker tick failed");
                    false
                }
            };
            if !worked {
                tokio::select! {
                    _ = stop.changed() => {}
                    () = wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}
