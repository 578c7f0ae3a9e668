//! Push: the hub's outbox (the change log after the link's checkpoint) to the provider,
//! strictly in order, one write at a time. Each finished row advances the checkpoint in the
//! same transaction as the event link it produced, so an interrupted push resumes exactly
//! there; creates use ids derived from ours, so a replay finds the first create.

use crate::SyncError;
use calsync_core::sync::{Content, Plan, plan};
use calsync_core::{Event, EventId, EventInput, Seq, Source};
use calsync_providers::{EventWrite, Provider, ProviderError, RemoteEvent, RemoteState, SeriesRef};
use calsync_store::{Brake, BrakeDecision, BrakeKind, EventLink, EventLinkState, Link, StoreError, SyncStore};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PushSummary {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    /// Outbox rows that needed no write (echoes of pulls, other calendars, no-ops).
    pub unchanged: usize,
    pub parked: usize,
    pub conflicts: usize,
    /// Deletions or rewrites held back by the safety brake (the link is paused, asking).
    pub braked: usize,
    /// Delay from the local change to the provider's write, summed (ms), over `lag_count` writes.
    pub lag_ms_sum: u64,
    pub lag_count: u64,
}

/// Outbox rows read per round trip.
const BATCH: u32 = 200;

/// Pushes everything after `link.checkpoint`. Stops at the first transient failure (the
/// checkpoint stays on the row that failed, so it is retried first next time).
pub async fn push(store: &dyn SyncStore, provider: &dyn Provider, link: &Link) -> Result<PushSummary, SyncError> {
    let mut summary = PushSummary::default();
    // The user's answer to a push brake, and the last outbox row they were shown.
    let mut answered =
        link.brake.as_ref().filter(|b| b.kind == BrakeKind::Push).map(|b| b.bound).zip(link.brake_decision);
    let mut checkpoint = link.checkpoint;
    loop {
        // The brake judges the outbox (a slice of it, when big) as it is now; the push goes
        // no further than that. Rows written meanwhile wait for the next look.
        let (horizon, more) = match brake(store, link, checkpoint, answered).await? {
            Braked::Held(n) => {
                summary.braked = n;
                return Ok(summary);
            }
            Braked::Clear { horizon: None, .. } => break,
            Braked::Clear { horizon: Some(h), more } => (h, more),
        };
        checkpoint = push_until(store, provider, link, checkpoint, horizon, &mut summary).await?;
        if answered.take().is_some() {
            // Used: it must not answer a later brake. What came after the rows it covered is
            // judged afresh (below, or by the next run, at once).
            store.set_brake(link.id, None).await?;
            store.mark_due(link.id, jiff::Timestamp::now()).await?;
        }
        if !more {
            break;
        }
    }
    Ok(summary)
}

/// Pushes the outbox rows after `checkpoint` up to `horizon`, in order; returns the new
/// checkpoint.
async fn push_until(
    store: &dyn SyncStore,
    provider: &dyn Provider,
    link: &Link,
    mut checkpoint: Seq,
    horizon: Seq,
    summary: &mut PushSummary,
) -> Result<Seq, SyncError> {
    while checkpoint < horizon {
        let mut changes = store.changes_after(link.user_id, checkpoint, BATCH).await?;
        changes.retain(|c| c.seq <= horizon);
        let Some(last) = changes.last().map(|c| c.seq) else { break };
        let mut skipped_to: Option<Seq> = None;
        for change in changes {
            let ours = change.calendar_id == link.calendar_id || change.previous_calendar_id == Some(link.calendar_id);
            if !ours {
                skipped_to = Some(change.seq);
                continue;
            }
            let writes_before = summary.created + summary.updated + summary.deleted;
            push_one(store, provider, link, change.seq, change.event_id, summary).await?;
            if summary.created + summary.updated + summary.deleted > writes_before {
                let lag = jiff::Timestamp::now().duration_since(change.at).as_millis();
                summary.lag_ms_sum += u64::try_from(lag).unwrap_or(0);
                summary.lag_count += 1;
            }
            skipped_to = None;
        }
        if let Some(seq) = skipped_to {
            // Rows of other calendars at the end of the batch: move past them in one write.
            store.record_push(link.id, seq, None, None, None).await?;
        }
        checkpoint = last;
    }
    Ok(checkpoint)
}

/// What the outbox would do to events the provider has.
struct Effects {
    deletions: Vec<Event>,
    /// With the content the provider has (the base).
    rewrites: Vec<(Event, Content)>,
    linked: usize,
    /// The last outbox row looked at (`None`: the outbox is empty).
    horizon: Option<Seq>,
    /// More rows wait beyond the window looked at.
    truncated: bool,
}

/// Outbox rows the brake looks at in one run (a bigger outbox is judged in slices).
const BRAKE_WINDOW: u32 = 10_000;

/// What the outbox (up to row `upto`, when given) would do to events the provider has:
/// delete them, or rewrite them.
async fn outbox_effects(
    store: &dyn SyncStore,
    link: &Link,
    checkpoint: Seq,
    upto: Option<Seq>,
) -> Result<Effects, SyncError> {
    // Only the changed events' links are read: a push must not cost a pass over every
    // linked event (10,000 of them took ~100 ms per local change).
    let linked = usize::try_from(store.count_event_links(link.id).await?).unwrap_or(usize::MAX);
    let mut pending = store.changes_after(link.user_id, checkpoint, BRAKE_WINDOW).await?;
    let truncated = pending.len() == usize::try_from(BRAKE_WINDOW).unwrap_or(usize::MAX);
    if let Some(upto) = upto {
        pending.retain(|c| c.seq <= upto);
    }
    let horizon = pending.last().map(|c| c.seq);
    let mut seen = std::collections::HashSet::new();
    let (mut deletions, mut rewrites) = (Vec::new(), Vec::new());
    for change in pending {
        let ours = change.calendar_id == link.calendar_id || change.previous_calendar_id == Some(link.calendar_id);
        if !ours || !seen.insert(change.event_id) {
            continue;
        }
        let Some(el) = store.event_link(link.id, change.event_id).await?.filter(|l| l.state == EventLinkState::Ok)
        else {
            continue;
        };
        let event = match store.get_event(link.user_id, change.event_id).await {
            Ok(e) => e,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if event.is_deleted() || event.draft.calendar_id() != link.calendar_id {
            deletions.push(event);
        } else if Content::of(&event.draft.to_input()) != el.base {
            rewrites.push((event, el.base.clone()));
        }
    }
    Ok(Effects { deletions, rewrites, linked, horizon, truncated })
}

enum Braked {
    /// The brake holds this many deletions and rewrites; the link is paused.
    Held(usize),
    /// Push up to `horizon`; with `more`, rows beyond it wait for the next look.
    Clear { horizon: Option<Seq>, more: bool },
}

/// The safety brake on pushes: an outbox deleting or rewriting more events at the provider
/// than the link allows pauses the link and asks. Confirmed, it goes out; rejected, the hub
/// takes back what it would have sent (deleted events come back, moved ones return, rewritten
/// ones return to what the provider has), so nothing changes there. An answer covers the
/// outbox rows the user was shown (`answered`: the last one, and the answer), no more.
async fn brake(
    store: &dyn SyncStore,
    link: &Link,
    checkpoint: Seq,
    answered: Option<(Seq, BrakeDecision)>,
) -> Result<Braked, SyncError> {
    let Effects { deletions, rewrites, linked, horizon, truncated: more } =
        outbox_effects(store, link, checkpoint, answered.map(|(bound, _)| bound)).await?;
    let trips = |n: usize| n > 0 && crate::brake::trips(&link.settings, n, linked);
    if !trips(deletions.len()) && !trips(rewrites.len()) {
        return Ok(Braked::Clear { horizon, more });
    }
    match answered.map(|(_, decision)| decision) {
        Some(BrakeDecision::Confirm) => {
            tracing::info!(link = %link.id, deletions = deletions.len(), rewrites = rewrites.len(), "mass change confirmed by the user");
            Ok(Braked::Clear { horizon, more })
        }
        Some(BrakeDecision::Reject) => {
            tracing::info!(link = %link.id, deletions = deletions.len(), rewrites = rewrites.len(), "mass change rejected: taking it back here");
            for event in &deletions {
                if event.is_deleted() {
                    store.restore_event(link.user_id, event.id, Source::Local).await?;
                } else {
                    // Moved to another calendar: back into this one.
                    let mut input = event.draft.to_input();
                    input.calendar_id = link.calendar_id;
                    if let Ok(draft) = calsync_core::EventDraft::parse(input) {
                        store
                            .update_event(link.user_id, event.id, draft, Some(event.meta.version), Source::Local)
                            .await?;
                    }
                }
            }
            for (event, base) in &rewrites {
                let mut input = event.draft.to_input();
                base.apply_to(&mut input);
                if let Ok(draft) = calsync_core::EventDraft::parse(input) {
                    store.update_event(link.user_id, event.id, draft, Some(event.meta.version), Source::Local).await?;
                }
            }
            // The rows the reversal wrote change nothing at the provider; the next run, at
            // once, sends them.
            store.mark_due(link.id, jiff::Timestamp::now()).await?;
            Ok(Braked::Clear { horizon, more })
        }
        None => {
            let s = &link.settings;
            let reason = format!(
                "safety brake: this calendar's outbox would delete {} and rewrite {} of the {linked} events at the provider \
                 (the link allows {} or {}% at once); confirm to send it, or reject to take it back here",
                deletions.len(),
                rewrites.len(),
                s.max_deletions,
                s.max_deletion_percent
            );
            tracing::warn!(link = %link.id, deletions = deletions.len(), rewrites = rewrites.len(), "safety brake on push: pausing the link");
            let bound = horizon.unwrap_or(checkpoint);
            store.set_brake(link.id, Some(&Brake { kind: BrakeKind::Push, reason, bound })).await?;
            Ok(Braked::Held(deletions.len() + rewrites.len()))
        }
    }
}

async fn push_one(
    store: &dyn SyncStore,
    provider: &dyn Provider,
    link: &Link,
    seq: Seq,
    event_id: EventId,
    summary: &mut PushSummary,
) -> Result<(), SyncError> {
    let event = match store.get_event(link.user_id, event_id).await {
        Ok(e) => Some(e),
        Err(StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let live = event.as_ref().filter(|e| !e.is_deleted() && e.draft.calendar_id() == link.calendar_id);
    let input = live.map(|e| e.draft.to_input());
    let local = input.as_ref().map(Content::of);
    let existing = store.event_link(link.id, event_id).await?;
    let cal = link.remote_calendar_id.as_str();
    match (existing, input) {
        (None, None) => {
            summary.unchanged += 1;
            store.record_push(link.id, seq, None, None, None).await?;
        }
        (None, Some(input)) => {
            let Some(event) = live else { return Ok(()) };
            create(store, provider, link, seq, event, &input, summary).await?;
        }
        (Some(el), _) if el.state != EventLinkState::Ok => {
            summary.unchanged += 1;
            store.record_push(link.id, seq, None, None, None).await?;
        }
        (Some(el), None) => match provider.delete(cal, &el.remote_id, el.etag.as_deref()).await {
            Ok(()) => {
                summary.deleted += 1;
                store.record_push(link.id, seq, None, Some(event_id), None).await?;
            }
            Err(ProviderError::PreconditionFailed) => {
                let remote = provider.get(cal, &el.remote_id).await?;
                let theirs = remote.as_ref().and_then(|r| seen(provider, r, &el.base));
                match plan(Some(&el.base), None, theirs.as_ref()) {
                    Plan::DeleteRemote => {
                        // Only the etag moved (a provider-side rewrite): delete at the new one.
                        let etag = remote.and_then(|r| r.etag);
                        provider.delete(cal, &el.remote_id, etag.as_deref()).await?;
                        summary.deleted += 1;
                        store.record_push(link.id, seq, None, Some(event_id), None).await?;
                    }
                    Plan::Forget => store.record_push(link.id, seq, None, Some(event_id), None).await?,
                    other => conflict(store, link, seq, &el, &other, None, theirs.as_ref(), summary).await?,
                }
            }
            Err(ProviderError::Permanent { status, reason, message }) => {
                park(store, link, seq, el, format!("{status} {reason}: {message}"), summary).await?;
            }
            Err(e) => return Err(e.into()),
        },
        (Some(el), Some(input)) => {
            let Some(local) = local else { return Ok(()) };
            if local == el.base {
                // Nothing the remote lacks: an echo of a pull, or a no-op write.
                summary.unchanged += 1;
                store.record_push(link.id, seq, None, None, None).await?;
                return Ok(());
            }
            if local.diff(&el.base).iter().all(|f| provider.withheld().contains(f)) {
                // Only what this provider is never written changed: nothing to send.
                summary.unchanged += 1;
                store.record_push(link.id, seq, Some(&EventLink { base: local, ..el }), None, None).await?;
                return Ok(());
            }
            let series = series_ref(store, link, &input).await?;
            let write = EventWrite { local_id: event_id, input: &input, series: series.as_ref() };
            match provider.update(cal, &el.remote_id, el.etag.as_deref(), &write).await {
                Ok(r) => {
                    summary.updated += 1;
                    let next = EventLink { etag: r.etag, base: local, ..el };
                    store.record_push(link.id, seq, Some(&next), None, None).await?;
                }
                Err(ProviderError::PreconditionFailed | ProviderError::NotFound) => {
                    let remote = provider.get(cal, &el.remote_id).await?;
                    let theirs = remote.as_ref().and_then(|r| seen(provider, r, &el.base));
                    match plan(Some(&el.base), Some(&local), theirs.as_ref()) {
                        Plan::Push { content } => {
                            let etag = remote.and_then(|r| r.etag);
                            let r = provider.update(cal, &el.remote_id, etag.as_deref(), &write).await?;
                            summary.updated += 1;
                            store
                                .record_push(
                                    link.id,
                                    seq,
                                    Some(&EventLink { etag: r.etag, base: content, ..el }),
                                    None,
                                    None,
                                )
                                .await?;
                        }
                        Plan::NewBase { content } => {
                            let etag = remote.and_then(|r| r.etag);
                            store
                                .record_push(link.id, seq, Some(&EventLink { etag, base: content, ..el }), None, None)
                                .await?;
                        }
                        // Merges and remote-only changes are the pull's job: leave this row for
                        // after the next pull, which re-plans with the remote's content.
                        Plan::Merge { .. } | Plan::Apply { .. } => {
                            return Err(ProviderError::Transient {
                                message: "the remote changed under our write; pulling first".into(),
                                retry_after: None,
                            }
                            .into());
                        }
                        other => {
                            conflict(store, link, seq, &el, &other, Some(&local), theirs.as_ref(), summary).await?
                        }
                    }
                }
                Err(ProviderError::Permanent { status, reason, message }) => {
                    park(store, link, seq, el, format!("{status} {reason}: {message}"), summary).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

async fn create(
    store: &dyn SyncStore,
    provider: &dyn Provider,
    link: &Link,
    seq: Seq,
    event: &Event,
    input: &EventInput,
    summary: &mut PushSummary,
) -> Result<(), SyncError> {
    let cal = link.remote_calendar_id.as_str();
    let local = Content::of(input);
    let series = series_ref(store, link, input).await?;
    if input.recurring_event_id.is_some() && series.is_none() {
        // Without its series at the provider an exception would become a stray single event.
        let error = "the series of this exception is not at the provider (parked or not synced)".to_owned();
        return park_new(store, link, seq, event.id, local, error, summary).await;
    }
    let write = EventWrite { local_id: event.id, input, series: series.as_ref() };
    let linked = |r: &RemoteEvent, base: Content| EventLink {
        link_id: link.id,
        event_id: event.id,
        remote_id: r.id.clone(),
        etag: r.etag.clone(),
        base,
        state: EventLinkState::Ok,
        error: None,
    };
    match provider.create(cal, &write).await {
        Ok(r) => {
            summary.created += 1;
            store.record_push(link.id, seq, Some(&linked(&r, local)), None, None).await?;
        }
        Err(ProviderError::Duplicate) => {
            // A replay: our earlier create went through. Pair with it, then bring it up to date.
            let id = calsync_providers::google::map::remote_id_for(event.id);
            let remote = provider.get(cal, &id).await?.ok_or(ProviderError::NotFound)?;
            // A cancelled one (deleted there since, then chosen to keep) is written again:
            // an update brings it back.
            if seen(provider, &remote, &local).as_ref() == Some(&local) {
                store.record_push(link.id, seq, Some(&linked(&remote, local)), None, None).await?;
            } else {
                let r = provider.update(cal, &remote.id, remote.etag.as_deref(), &write).await?;
                summary.updated += 1;
                store.record_push(link.id, seq, Some(&linked(&r, local)), None, None).await?;
            }
        }
        Err(ProviderError::NotFound) if write.series.is_some() => {
            // The remote series has no such occurrence to override.
            let error = "the series at the provider has no occurrence at this exception's original start".to_owned();
            park_new(store, link, seq, event.id, local, error, summary).await?;
        }
        Err(ProviderError::Permanent { status, reason, message }) => {
            park_new(store, link, seq, event.id, local, format!("{status} {reason}: {message}"), summary).await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Parks a linked event: the provider refused it for good; it waits with a visible error.
async fn park(
    store: &dyn SyncStore,
    link: &Link,
    seq: Seq,
    el: EventLink,
    error: String,
    summary: &mut PushSummary,
) -> Result<(), SyncError> {
    summary.parked += 1;
    let parked = EventLink { state: EventLinkState::Parked, error: Some(error), ..el };
    store.record_push(link.id, seq, Some(&parked), None, None).await?;
    Ok(())
}

/// Parks an event the provider never accepted (it has no remote copy).
async fn park_new(
    store: &dyn SyncStore,
    link: &Link,
    seq: Seq,
    event_id: EventId,
    local: Content,
    error: String,
    summary: &mut PushSummary,
) -> Result<(), SyncError> {
    summary.parked += 1;
    let parked = EventLink {
        link_id: link.id,
        event_id,
        // Never created remotely; a placeholder that cannot collide with a real id.
        remote_id: format!("parked:{event_id}"),
        etag: None,
        base: local,
        state: EventLinkState::Parked,
        error: Some(error),
    };
    store.record_push(link.id, seq, Some(&parked), None, None).await?;
    Ok(())
}

/// For an exception: the remote series it belongs to (its series must be linked already,
/// which the outbox order guarantees: a series is created before its exceptions).
async fn series_ref(store: &dyn SyncStore, link: &Link, input: &EventInput) -> Result<Option<SeriesRef>, SyncError> {
    let (Some(series), Some(original_start)) = (input.recurring_event_id, input.original_start.clone()) else {
        return Ok(None);
    };
    let master = store.event_link(link.id, series).await?.filter(|m| m.state != EventLinkState::Parked);
    Ok(master.map(|m| SeriesRef { series_remote_id: m.remote_id, original_start }))
}

/// The remote's content as calsync reads it, with the fields the provider is never written
/// taken from `ours` (what calsync has: the base, or the local event).
fn seen(provider: &dyn Provider, r: &RemoteEvent, ours: &Content) -> Option<Content> {
    match &r.state {
        RemoteState::Present(input) => Some(crate::withheld::seen(provider.withheld(), input, ours)),
        RemoteState::Deleted => None,
    }
}

#[allow(clippy::too_many_arguments)]
async fn conflict(
    store: &dyn SyncStore,
    link: &Link,
    seq: Seq,
    el: &EventLink,
    why: &Plan,
    local: Option<&Content>,
    remote: Option<&Content>,
    summary: &mut PushSummary,
) -> Result<(), SyncError> {
    summary.conflicts += 1;
    let record = crate::conflict_record(why, local, remote, None);
    let error = format!("changed on both sides; waiting for a decision ({})", record.reason);
    let marked = EventLink { state: EventLinkState::Conflict, error: Some(error), ..el.clone() };
    store.record_push(link.id, seq, Some(&marked), None, Some(&record)).await?;
    Ok(())
}
