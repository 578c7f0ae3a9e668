//! One link job: pull, then push, then decide when the link runs next. Transient failures
//! back off exponentially with jitter (honouring the provider's `Retry-After`); a dead grant
//! pauses the account as `needs_reauth` with local changes kept queued.

use crate::{PullSummary, PushSummary, SyncError, pull, push};
use calsync_core::Source;
use calsync_providers::{Provider, ProviderError};
use calsync_store::{Link, LinkChannel, SyncStore};
use jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// How often links run when nothing happens, and how failures back off.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Backstop poll when push notifications work.
    pub poll_with_push: Duration,
    /// Poll when there is no push (no public URL, channel failed, CalDAV).
    pub poll_without_push: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            poll_with_push: Duration::from_secs(6 * 3600),
            poll_without_push: Duration::from_secs(5 * 60),
            backoff_base: Duration::from_secs(5),
            backoff_cap: Duration::from_secs(15 * 60),
        }
    }
}

impl Schedule {
    /// The wait after the `failures`-th failure in a row: doubling from the base, capped,
    /// plus up to 50 % jitter; never shorter than the provider asked for.
    pub fn backoff(&self, failures: i64, retry_after: Option<Duration>) -> Duration {
        let exp = u32::try_from(failures.clamp(0, 20)).unwrap_or(20);
        let raw = self.backoff_base.saturating_mul(2u32.saturating_pow(exp)).min(self.backoff_cap);
        let jitter = raw.mul_f64(f64::from(random_u8()) / 255.0 / 2.0);
        (raw + jitter).max(retry_after.unwrap_or(Duration::ZERO))
    }
}

fn random_u8() -> u8 {
    let mut b = [0u8; 1];
    let _ = getrandom::fill(&mut b);
    b[0]
}

/// What a link job did.
#[derive(Debug, Default)]
pub struct LinkRun {
    pub pull: Option<PullSummary>,
    pub push: Option<PushSummary>,
    pub error: Option<SyncError>,
}

impl LinkRun {
    /// The grant is dead: the account needs the user.
    pub fn needs_reauth(&self) -> Option<&str> {
        match &self.error {
            Some(SyncError::Provider(ProviderError::NeedsReauth(m))) => Some(m),
            _ => None,
        }
    }
}

/// Runs one link job and records its outcome (errors, next due time) on the link.
pub async fn run_link(
    store: &dyn SyncStore,
    provider: &dyn Provider,
    link: &Link,
    source: Source,
    schedule: &Schedule,
    webhook: Option<&str>,
) -> Result<LinkRun, SyncError> {
    let started = Timestamp::now();
    let mut run = LinkRun::default();
    match pull(store, provider, link, source).await {
        Ok(s) => run.pull = Some(s),
        Err(e) => run.error = Some(e),
    }
    let braked = run.pull.as_ref().is_some_and(|p| p.braked > 0);
    if run.error.is_none() && !braked {
        // Conflicts the pull found are decided first when the link has a policy, so this
        // push already sends the winners.
        let decided = match crate::policy::apply_policy(store, link, source).await {
            Ok(n) => n,
            Err(e) => {
                run.error = Some(e);
                0
            }
        };
        // What came into the hub goes out to the calendar's other providers.
        if decided > 0 || run.pull.as_ref().is_some_and(|p| p.created + p.updated + p.deleted > 0) {
            store.mark_siblings_due(link.id, Timestamp::now()).await?;
        }
        // Push from the link as it is now (the pull may have moved nothing of it but its cursor).
        let current = store.get_link(link.user_id, link.id).await?;
        if run.error.is_none() {
            match push(store, provider, &current).await {
                Ok(s) => run.push = Some(s),
                Err(e) => run.error = Some(e),
            }
        }
        // Conflicts the push met (a 412 on both-sides edits) are decided now; the next
        // run, at once, sends what that decided.
        if run.push.as_ref().is_some_and(|p| p.conflicts > 0) {
            match crate::policy::apply_policy(store, link, source).await {
                Ok(0) => {}
                Ok(_) => {
                    store.mark_due(link.id, Timestamp::now()).await?;
                    store.mark_siblings_due(link.id, Timestamp::now()).await?;
                }
                Err(e) => run.error = Some(e),
            }
        }
        if link.settings.pause_on_conflict && link.settings.policy == calsync_store::ConflictPolicy::Ask {
            let found = run.pull.as_ref().map_or(0, |p| p.conflicts) + run.push.as_ref().map_or(0, |p| p.conflicts);
            if found > 0 {
                let reason = format!(
                    "paused on conflict: {found} event(s) changed on both sides; resolve them (GET /api/v1/conflicts) and the link resumes"
                );
                let brake = calsync_store::Brake { kind: calsync_store::BrakeKind::Conflict, reason, bound: 0 };
                store.set_brake(link.id, Some(&brake)).await?;
            }
        }
    }
    let mut has_push = false;
    let mut catch_up = false;
    if run.error.is_none()
        && let Some(address) = webhook
    {
        let current = store.get_link(link.user_id, link.id).await?;
        let lost = channel_presumed_lost(link, run.pull.as_ref());
        if lost {
            tracing::warn!(link = %link.id, "remote changes arrived without a notification: the push channel is presumed lost; opening a new one");
        }
        match channel_upkeep(store, provider, &current, address, lost).await {
            Ok(Channel::Kept) => has_push = true,
            // Changes made between this job's pull and the channel's start notify nobody:
            // one more pull right away closes that gap.
            Ok(Channel::Opened) => (has_push, catch_up) = (true, true),
            Ok(Channel::None) => {}
            // Push is an optimisation: without it the link is polled more often.
            Err(e) => tracing::warn!(link = %link.id, error = %e, "could not renew the push channel; polling instead"),
        }
    }
    let now = Timestamp::now();
    let wait = match &run.error {
        None if catch_up => Duration::ZERO,
        None if has_push => schedule.poll_with_push,
        None => schedule.poll_without_push,
        Some(SyncError::Provider(ProviderError::Transient { retry_after, .. })) => {
            schedule.backoff(link.failures, *retry_after)
        }
        Some(_) => schedule.backoff(link.failures, None),
    };
    let next = now.checked_add(SignedDuration::try_from(wait).unwrap_or(SignedDuration::from_secs(60))).unwrap_or(now);
    let error = run.error.as_ref().map(ToString::to_string);
    if let Some(e) = &error {
        tracing::warn!(link = %link.id, error = %e, retry_in = ?wait, "link job failed");
    }
    store.record_link_run(link.id, run.pull.is_some(), run.push.is_some(), error.as_deref(), next, started).await?;
    Ok(run)
}

/// Renew a channel this long before it expires (protocols.md §1.10: renew under 24 h).
const RENEW_AHEAD: SignedDuration = SignedDuration::from_hours(24);

/// What channel upkeep left the link with.
enum Channel {
    /// The live channel has time left.
    Kept,
    /// A new channel was opened (replacing an expiring one, or the first).
    Opened,
    /// The provider has no push.
    None,
}

/// Providers drop channels without a word (protocols.md §1.10: delivery is not
/// guaranteed). The sign: a job nothing prompted since the last pull — the backstop poll —
/// found remote changes, so they happened and no notification told of them.
fn channel_presumed_lost(link: &Link, pull: Option<&PullSummary>) -> bool {
    let prompted = link.marked_at.is_some_and(|m| link.last_pull_at.is_none_or(|p| m >= p));
    link.channel.is_some() && !prompted && pull.is_some_and(|p| p.changed() > 0)
}

/// Keeps a push channel on the link: a new one when there is none, it expires within a
/// day, or it is presumed `lost` (the new one first, then the old one is stopped).
async fn channel_upkeep(
    store: &dyn SyncStore,
    provider: &dyn Provider,
    link: &Link,
    address: &str,
    lost: bool,
) -> Result<Channel, SyncError> {
    let now = Timestamp::now();
    if let Some(c) = &link.channel
        && !lost
        && c.expires_at > now.checked_add(RENEW_AHEAD).unwrap_or(now)
    {
        return Ok(Channel::Kept);
    }
    let id = calsync_core::EventId::new().to_string();
    let token = calsync_providers::oauth::random_text(40);
    let Some(channel) = provider.watch(&link.remote_calendar_id, &id, &token, address).await? else {
        return Ok(Channel::None);
    };
    let expires_at = Timestamp::from_millisecond(channel.expires_at_ms).unwrap_or(now);
    let stored = LinkChannel { id: channel.id, token: channel.token, resource_id: channel.resource_id, expires_at };
    store.set_channel(link.id, Some(&stored)).await?;
    if let Some(old) = &link.channel {
        let old = calsync_providers::Channel {
            id: old.id.clone(),
            resource_id: old.resource_id.clone(),
            token: old.token.clone(),
            expires_at_ms: old.expires_at.as_millisecond(),
        };
        if let Err(e) = provider.unwatch(&old).await {
            tracing::info!(link = %link.id, error = %e, "could not stop the replaced channel; it expires on its own");
        }
    }
    Ok(Channel::Opened)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let s = Schedule::default();
        let first = s.backoff(0, None);
        assert!(first >= Duration::from_secs(5) && first <= Duration::from_millis(7_500), "{first:?}");
        let third = s.backoff(2, None);
        assert!(third >= Duration::from_secs(20) && third <= Duration::from_secs(30), "{third:?}");
        let capped = s.backoff(50, None);
        assert!(capped >= s.backoff_cap && capped <= s.backoff_cap.mul_f64(1.5), "{capped:?}");
        assert!(s.backoff(0, Some(Duration::from_secs(120))) >= Duration::from_secs(120));
    }
}
