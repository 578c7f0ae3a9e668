//! Pull: the provider's changes into the hub. The whole listing (every page) is read first,
//! then planned event by event with the three-way rule and applied in one transaction that
//! also stores the new cursor, so a crash repeats a pull and never skips one.

use crate::SyncError;
use calsync_core::sync::{Content, Plan, plan};
use calsync_core::{EventDraft, EventId, EventInput, Source};
use calsync_providers::{ListingWindow, PageNext, Provider, ProviderError, RemoteEvent, RemoteState};
use calsync_store::{Brake, BrakeDecision, BrakeKind, EventLink, EventLinkState, Link, PullOp, StoreError, SyncStore};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PullSummary {
    /// Pages and events read from the provider.
    pub pages: usize,
    pub remote_events: usize,
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub conflicts: usize,
    /// Remote events calsync could not read or place (logged).
    pub skipped: usize,
    /// The cursor had expired: this was a full resync.
    pub resynced: bool,
    /// A full listing came back empty while events were linked: nothing was deleted.
    pub empty_listing_guarded: bool,
    /// Deletions held back by the safety brake (the link is paused, asking the user).
    pub braked: usize,
}

impl PullSummary {
    /// Local events this pull created, changed, deleted or put in conflict.
    pub const fn changed(&self) -> usize {
        self.created + self.updated + self.deleted + self.conflicts
    }
}

/// Reads every page of a listing; a full listing records how far it got on the link.
async fn read_all(
    store: &dyn SyncStore,
    provider: &dyn Provider,
    link: &Link,
    cursor: Option<&str>,
) -> Result<Listing, SyncError> {
    let calendar = link.remote_calendar_id.as_str();
    let mut events = Vec::new();
    let mut page: Option<String> = None;
    let mut pages = 0;
    loop {
        let p = provider.list(calendar, cursor, page.as_deref()).await?;
        pages += 1;
        events.extend(p.events);
        let window = p.window;
        if cursor.is_none() {
            store.set_listing_progress(link.id, Some(i64::try_from(events.len()).unwrap_or(i64::MAX))).await?;
        }
        match p.next {
            PageNext::More(t) => page = Some(t),
            PageNext::Done(c) => return Ok(Listing { events, cursor: c, pages, full: cursor.is_none(), window }),
        }
    }
}

/// Every page of one listing.
struct Listing {
    events: Vec<RemoteEvent>,
    /// For the next delta.
    cursor: String,
    pages: usize,
    /// A full listing (reconciles), not a delta.
    full: bool,
    /// The span a full listing saw, when it saw only part of time.
    window: Option<ListingWindow>,
}

/// Pulls `link`'s remote changes into the hub.
pub async fn pull(
    store: &dyn SyncStore,
    provider: &dyn Provider,
    link: &Link,
    source: Source,
) -> Result<PullSummary, SyncError> {
    let mut summary = PullSummary::default();
    let listing = match link.cursor.as_deref() {
        Some(c) => match read_all(store, provider, link, Some(c)).await {
            Ok(l) => l,
            Err(SyncError::Provider(ProviderError::CursorExpired)) => {
                tracing::info!(link = %link.id, "sync cursor expired: full resync");
                summary.resynced = true;
                store.reset_cursor(link.id).await?;
                read_all(store, provider, link, None).await?
            }
            Err(e) => return Err(e),
        },
        None => read_all(store, provider, link, None).await?,
    };
    summary.pages = listing.pages;
    summary.remote_events = listing.events.len();
    let cursor = listing.cursor.clone();
    let mut ops = plan_pull(store, provider, link, listing, &mut summary).await?;
    let deletions = ops.iter().filter(|o| matches!(o, PullOp::Delete { .. })).count();
    // The user's answer to a pull brake covers at most the deletions they were shown.
    let pull_brake = link.brake.as_ref().filter(|b| b.kind == BrakeKind::Pull);
    let answer =
        pull_brake.filter(|b| i64::try_from(deletions).unwrap_or(i64::MAX) <= b.bound).and(link.brake_decision);
    if deletions > 0 {
        let linked = store.event_links(link.id).await?.len();
        if crate::brake::trips(&link.settings, deletions, linked) {
            match answer {
                Some(BrakeDecision::Confirm) => {
                    tracing::info!(link = %link.id, deletions, "mass deletion confirmed by the user")
                }
                Some(BrakeDecision::Reject) => {
                    tracing::info!(link = %link.id, deletions, "mass deletion rejected: re-creating at the provider");
                    summary.deleted = 0;
                    ops = ops
                        .into_iter()
                        .flat_map(|op| match op {
                            PullOp::Delete { event_id } => {
                                vec![PullOp::Unlink { event_id }, PullOp::Requeue { event_id }]
                            }
                            other => vec![other],
                        })
                        .collect();
                }
                None => {
                    let s = &link.settings;
                    let reason = format!(
                        "safety brake: the provider deleted {deletions} of the {linked} events of this link (the link \
                         allows {} or {}% at once); confirm to delete them here too, or reject to restore them at the provider",
                        s.max_deletions, s.max_deletion_percent
                    );
                    tracing::warn!(link = %link.id, deletions, linked, "safety brake: pausing the link");
                    let bound = i64::try_from(deletions).unwrap_or(i64::MAX);
                    store.set_brake(link.id, Some(&Brake { kind: BrakeKind::Pull, reason, bound })).await?;
                    summary.braked = deletions;
                    summary.deleted = 0;
                    return Ok(summary);
                }
            }
        }
    }
    store.apply_pull(link.user_id, link.id, source, ops, Some(&cursor)).await?;
    if pull_brake.is_some() && link.brake_decision.is_some() {
        // Answered and applied (or no longer needed): the answer must not linger.
        store.set_brake(link.id, None).await?;
    }
    Ok(summary)
}

/// What this pull knows so far, for adopting a remote event it meets for the first time:
/// the event links by remote id, the series it listed, and the hub events it is deleting.
#[derive(Clone, Copy)]
struct Adopting<'a> {
    by_remote: &'a HashMap<String, EventLink>,
    series_inputs: &'a HashMap<String, EventInput>,
    deleting: &'a HashSet<EventId>,
    /// What the provider is never written ([`Provider::withheld`]).
    withheld: &'static [calsync_core::sync::Field],
}

/// What the hub knows of a linked event, for the three-way rule.
struct Known {
    link: EventLink,
    local: Option<EventInput>,
}

async fn plan_pull(
    store: &dyn SyncStore,
    provider: &dyn Provider,
    link: &Link,
    listing: Listing,
    summary: &mut PullSummary,
) -> Result<Vec<PullOp>, SyncError> {
    let Listing { mut events, full, window, .. } = listing;
    // A full listing reconciles against every event link; a delta needs only its own (and
    // its series'), which keeps a one-event delta cheap on a big calendar.
    let mut by_remote: HashMap<String, EventLink> = HashMap::new();
    if full {
        by_remote.extend(store.event_links(link.id).await?.into_iter().map(|l| (l.remote_id.clone(), l)));
    } else {
        for e in &events {
            for id in std::iter::once(&e.id).chain(e.series.as_ref().map(|s| &s.series_remote_id)) {
                if !by_remote.contains_key(id)
                    && let Some(l) = store.event_link_by_remote(link.id, id).await?
                {
                    by_remote.insert(id.clone(), l);
                }
            }
        }
    }
    // Series first, so their exceptions find them.
    events.sort_by_key(|e| e.series.is_some());
    let series_inputs: HashMap<String, EventInput> = events
        .iter()
        .filter_map(|e| match &e.state {
            RemoteState::Present(i) if !i.recurrence.is_empty() => Some((e.id.clone(), (**i).clone())),
            _ => None,
        })
        .collect();
    let mut ops = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for remote in events {
        seen.insert(remote.id.clone());
        let known = match by_remote.get(&remote.id) {
            Some(l) => Some(Known { link: l.clone(), local: local_input(store, link, l.event_id).await? }),
            None => None,
        };
        match (remote.state.clone(), known) {
            (RemoteState::Deleted, None) => {}
            (RemoteState::Deleted, Some(k)) => {
                let local = k.local.as_ref().map(Content::of);
                ops.extend(decide(&k, local.as_ref(), None, &remote, summary));
            }
            (RemoteState::Present(input), Some(k)) => {
                let local = k.local.as_ref().map(Content::of);
                let theirs = if remote.stub {
                    // A cancelled occurrence's stub has no content of its own: it says
                    // "this occurrence does not happen" about what we have.
                    let mut c = local.clone().unwrap_or_else(|| k.link.base.clone());
                    c.status = calsync_core::event::Status::Cancelled;
                    c
                } else {
                    crate::withheld::seen(provider.withheld(), &input, &k.link.base)
                };
                ops.extend(decide(&k, local.as_ref(), Some((&theirs, &input)), &remote, summary));
            }
            (RemoteState::Present(input), None) => {
                let deleting: HashSet<EventId> = ops
                    .iter()
                    .filter_map(|o| match o {
                        PullOp::Delete { event_id } => Some(*event_id),
                        _ => None,
                    })
                    .collect();
                let known = Adopting {
                    by_remote: &by_remote,
                    series_inputs: &series_inputs,
                    deleting: &deleting,
                    withheld: provider.withheld(),
                };
                if let Some(op) = adopt(store, link, &remote, *input, &known, summary).await? {
                    if let PullOp::Create { link: l, .. }
                    | PullOp::Link { link: l }
                    | PullOp::Conflict { link: l, .. } = &op
                    {
                        // Paired with an event linked under another remote id: that pairing is
                        // replaced, not a remote deletion for the reconciliation below.
                        let replaced: Vec<String> = by_remote
                            .values()
                            .filter(|o| o.event_id == l.event_id && o.remote_id != l.remote_id)
                            .map(|o| o.remote_id.clone())
                            .collect();
                        seen.extend(replaced);
                        by_remote.insert(l.remote_id.clone(), l.clone());
                    }
                    ops.push(op);
                }
            }
        }
    }
    if full {
        // A full listing has no tombstones: linked events it no longer lists were deleted
        // remotely. But an empty listing is never read as "everything was deleted".
        let missing: Vec<EventLink> = by_remote.values().filter(|l| !seen.contains(&l.remote_id)).cloned().collect();
        if seen.is_empty() && !missing.is_empty() {
            tracing::warn!(link = %link.id, linked = missing.len(), "the full listing came back empty; deleting nothing");
            summary.empty_listing_guarded = true;
        } else {
            for l in missing {
                if let Some(w) = window
                    && (!in_sight(store, link, l.event_id, w).await? || still_there(provider, link, &l.remote_id).await)
                {
                    // Not listed because it lies outside the listing's window (or at its
                    // edge), not because it was deleted.
                    continue;
                }
                let k = Known { local: local_input(store, link, l.event_id).await?, link: l };
                let local = k.local.as_ref().map(Content::of);
                let gone = RemoteEvent::deleted(&k.link.remote_id);
                ops.extend(decide(&k, local.as_ref(), None, &gone, summary));
            }
        }
    }
    Ok(ops)
}

/// Whether a windowed listing should have listed this linked event: its local event is
/// live and some of it falls in the window. A deleted local event is left to the push.
async fn in_sight(store: &dyn SyncStore, link: &Link, id: EventId, w: ListingWindow) -> Result<bool, StoreError> {
    match store.get_event(link.user_id, id).await {
        Ok(e) if !e.is_deleted() => {
            let (start, end) = e.draft.span_millis();
            Ok(start < w.end.as_millisecond() && end > w.start.as_millisecond())
        }
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the provider still has an event a windowed listing did not list. Asked before
/// deleting anything on the strength of a window: an event at the window's edge, or one
/// the listing could not read, is kept. In doubt (the provider cannot say), it is kept.
async fn still_there(provider: &dyn Provider, link: &Link, remote_id: &str) -> bool {
    match provider.get(&link.remote_calendar_id, remote_id).await {
        Ok(None) => false,
        Ok(Some(r)) => !matches!(r.state, RemoteState::Deleted),
        Err(e) => {
            tracing::warn!(link = %link.id, remote_id, error = %e, "could not tell whether an unlisted event was deleted; keeping it");
            true
        }
    }
}

/// The live local event of an event link, in the link's calendar (`None`: deleted or moved away).
async fn local_input(store: &dyn SyncStore, link: &Link, id: EventId) -> Result<Option<EventInput>, StoreError> {
    match store.get_event(link.user_id, id).await {
        Ok(e) if !e.is_deleted() && e.draft.calendar_id() == link.calendar_id => Ok(Some(e.draft.to_input())),
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The three-way rule for a linked event, as pull operations.
fn decide(
    k: &Known,
    local: Option<&Content>,
    remote: Option<(&Content, &EventInput)>,
    r: &RemoteEvent,
    summary: &mut PullSummary,
) -> Vec<PullOp> {
    if k.link.state == EventLinkState::Conflict && r.etag != k.link.etag {
        // Waiting for the user, and the remote moved on: the conflict shows the newest
        // version (nothing is written to the hub), and the etag follows it. Not counted: no
        // new conflict, and the hub's events are untouched.
        let plan = plan(Some(&k.link.base), local, remote.map(|(c, _)| c));
        let conflict = crate::conflict_record(&plan, local, remote.map(|(c, _)| c), r.updated);
        return vec![PullOp::Conflict { link: EventLink { etag: r.etag.clone(), ..k.link.clone() }, conflict }];
    }
    if k.link.state != EventLinkState::Ok {
        // Parked or in conflict: this event waits for the user on this link.
        return Vec::new();
    }
    let with = |base: &Content, etag: Option<String>| EventLink { base: base.clone(), etag, ..k.link.clone() };
    let etag = r.etag.clone().or_else(|| k.link.etag.clone());
    match plan(Some(&k.link.base), local, remote.map(|(c, _)| c)) {
        Plan::Nothing => vec![PullOp::Link { link: with(&k.link.base, etag) }],
        Plan::NewBase { content } => vec![PullOp::Link { link: with(&content, etag) }],
        // Local changed, remote did not: the outbox pushes it; keep the base, take the etag.
        Plan::Push { .. } => vec![PullOp::Link { link: with(&k.link.base, etag) }],
        Plan::Apply { content } | Plan::Merge { content, .. } => {
            let Some(mut input) = k.local.clone() else { return Vec::new() };
            content.apply_to(&mut input);
            match EventDraft::parse(input) {
                Ok(draft) => {
                    summary.updated += 1;
                    // After a merge the remote still lacks our part: the base stays what the
                    // remote has, so the outbox sees the difference and pushes the merge.
                    let base = remote.map_or(content.clone(), |(c, _)| c.clone());
                    vec![PullOp::Update { draft, link: with(&base, etag) }]
                }
                Err(v) => {
                    summary.skipped += 1;
                    tracing::warn!(event = %k.link.event_id, error = %v, "remote change does not fit calsync's rules; skipped");
                    Vec::new()
                }
            }
        }
        Plan::DeleteLocal => {
            summary.deleted += 1;
            vec![PullOp::Delete { event_id: k.link.event_id }]
        }
        // Local deleted, remote unchanged: the outbox deletes it remotely.
        Plan::DeleteRemote => Vec::new(),
        Plan::Forget => vec![PullOp::Unlink { event_id: k.link.event_id }],
        plan @ Plan::Conflict { .. } => {
            summary.conflicts += 1;
            let conflict = crate::conflict_record(&plan, local, remote.map(|(c, _)| c), r.updated);
            let error =
                format!("changed on both sides ({}: {:?}); waiting for a decision", conflict.reason, conflict.fields);
            vec![PullOp::Conflict {
                link: EventLink { state: EventLinkState::Conflict, error: Some(error), ..k.link.clone() },
                conflict,
            }]
        }
    }
}

/// A remote event without an event link: ours (created by calsync, link lost), or new.
async fn adopt(
    store: &dyn SyncStore,
    link: &Link,
    remote: &RemoteEvent,
    mut input: EventInput,
    known: &Adopting<'_>,
    summary: &mut PullSummary,
) -> Result<Option<PullOp>, SyncError> {
    let Adopting { by_remote, series_inputs, deleting, withheld } = *known;
    let theirs = Content::of(&input);
    let new_link = |event_id: EventId, base: Content, state: EventLinkState, error: Option<String>| EventLink {
        link_id: link.id,
        event_id,
        remote_id: remote.id.clone(),
        etag: remote.etag.clone(),
        base,
        state,
        error,
    };
    // Ours: pair by the id we stored with it instead of creating a duplicate. An occurrence
    // edited at the provider inherits its series' id: that names the series, not this event.
    let series_event = remote.series.as_ref().and_then(|r| by_remote.get(&r.series_remote_id)).map(|l| l.event_id);
    let local_id = remote.local_id.filter(|id| Some(*id) != series_event);
    if let Some(id) = local_id {
        if let Some(paired) = store.event_link(link.id, id).await?
            && paired.remote_id != remote.id
        {
            // Our event is paired with another remote event already: this one is a copy
            // carrying our id (a create retried after the provider forgot it, a copy made
            // in Outlook). Re-pairing would flip between the two; it is left alone.
            summary.skipped += 1;
            tracing::warn!(remote = %remote.id, paired = %paired.remote_id, event = %id, "a second remote event carries calsync's id; left alone");
            return Ok(None);
        }
        match store.get_event(link.user_id, id).await {
            Ok(existing) => {
                if existing.is_deleted() {
                    // Deleted here after it was created there: keep the pairing; the
                    // outbox's delete (or the next delete) removes it remotely.
                    return Ok(Some(PullOp::Link { link: new_link(id, theirs, EventLinkState::Ok, None) }));
                }
                let ours = Content::of(&existing.draft.to_input());
                let theirs = crate::withheld::seen(withheld, &input, &ours);
                return Ok(Some(pair(id, &ours, theirs, &new_link, remote, summary)));
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    input.calendar_id = link.calendar_id;
    if let Some(series) = &remote.series {
        let Some(master) = by_remote.get(&series.series_remote_id) else {
            summary.skipped += 1;
            tracing::warn!(remote = %remote.id, "an occurrence of a series calsync does not have; skipped");
            return Ok(None);
        };
        input.recurring_event_id = Some(master.event_id);
        input.original_start = Some(series.original_start.clone());
        if remote.stub {
            // A stub carries only the occurrence's original start: the occurrence is the
            // series' (as listed now, or as the hub has it) at that start, cancelled.
            let series_input = match series_inputs.get(&series.series_remote_id) {
                Some(i) => Some(i.clone()),
                None => store.get_event(link.user_id, master.event_id).await.ok().map(|e| e.draft.to_input()),
            };
            let length = series_input.clone().and_then(|i| EventDraft::parse(i).ok()).map(|d| d.schedule().length());
            match (series_input, length.and_then(|l| occurrence_end(&series.original_start, l))) {
                (Some(mut occurrence), Some(end)) => {
                    occurrence.calendar_id = link.calendar_id;
                    occurrence.recurrence.clear();
                    occurrence.recurring_event_id = Some(master.event_id);
                    occurrence.original_start = Some(series.original_start.clone());
                    occurrence.start = series.original_start.clone();
                    occurrence.end = end;
                    occurrence.status = calsync_core::event::Status::Cancelled;
                    input = occurrence;
                }
                _ => {
                    summary.skipped += 1;
                    return Ok(None);
                }
            }
        }
    }
    // The content as it will be stored (a stub now has its series' content).
    let theirs = Content::of(&input);
    // The hub may already have this occurrence's exception: edited on another provider too,
    // or listed before under another id (a cancelled occurrence's stub). Pair with it: a
    // second exception for one occurrence cannot exist.
    if let Some(series) = &remote.series
        && let Some(master) = by_remote.get(&series.series_remote_id)
        && let Ok(original) = calsync_core::EventTime::parse(&series.original_start)
        && let Some(existing) = store.live_exception(link.user_id, master.event_id, &original).await?
        && !deleting.contains(&existing.id)
    {
        let ours = Content::of(&existing.draft.to_input());
        let theirs = crate::withheld::seen(withheld, &input, &ours);
        return Ok(Some(pair(existing.id, &ours, theirs, &new_link, remote, summary)));
    }
    let id = local_id.unwrap_or_default();
    match EventDraft::parse(input) {
        Ok(draft) => {
            summary.created += 1;
            Ok(Some(PullOp::Create { id, draft, link: new_link(id, theirs, EventLinkState::Ok, None) }))
        }
        Err(v) => {
            summary.skipped += 1;
            tracing::warn!(remote = %remote.id, error = %v, "a remote event does not fit calsync's rules; skipped");
            Ok(None)
        }
    }
}

/// Pairs a remote event with the hub's event `id` met for the first time: equal content
/// becomes the base, different content a conflict.
fn pair(
    id: EventId,
    ours: &Content,
    theirs: Content,
    new_link: &dyn Fn(EventId, Content, EventLinkState, Option<String>) -> EventLink,
    remote: &RemoteEvent,
    summary: &mut PullSummary,
) -> PullOp {
    match plan(None, Some(ours), Some(&theirs)) {
        Plan::NewBase { content } => PullOp::Link { link: new_link(id, content, EventLinkState::Ok, None) },
        other => {
            summary.conflicts += 1;
            let error = "first pairing found different content on both sides".to_owned();
            let conflict = crate::conflict_record(&other, Some(ours), Some(&theirs), remote.updated);
            PullOp::Conflict { link: new_link(id, theirs, EventLinkState::Conflict, Some(error)), conflict }
        }
    }
}

/// The end of an occurrence starting at `start` in a series whose occurrences last `length`.
fn occurrence_end(
    start: &calsync_core::EventTimeInput,
    length: calsync_core::Length,
) -> Option<calsync_core::EventTimeInput> {
    let parsed = calsync_core::EventTime::parse(start).ok()?;
    let end = match (parsed, length) {
        (calsync_core::EventTime::Date(d), calsync_core::Length::Days(n)) => {
            calsync_core::EventTime::Date(d.checked_add(jiff::Span::new().days(n)).ok()?)
        }
        (calsync_core::EventTime::DateTime { local, zone }, calsync_core::Length::Exact(d)) => {
            let at = calsync_core::event_time::resolve(zone.zone(), local).checked_add(d).ok()?;
            calsync_core::EventTime::DateTime { local: at.to_zoned_datetime(zone.zone().clone()).datetime(), zone }
        }
        _ => return None,
    };
    Some(end.to_input())
}
