//! A user's decision on a conflict, turned into what the store applies in one transaction:
//! the hub's event (written, deleted, or queued again), the event link (the remote's
//! version as the new base, so the outbox sends exactly the difference), and for
//! `keep_both` the remote version as a new event. Pure: the caller reads and writes.

use calsync_core::sync::{Choice, Content, ResolveError, resolve};
use calsync_core::{Event, EventDraft, EventId, EventInput, Source, Violations};
use calsync_store::{ConflictRecord, EventLink, EventLinkState, LocalOutcome, NewEvent, Resolution};

#[derive(Debug, thiserror::Error)]
pub enum ResolutionError {
    #[error(transparent)]
    Choice(#[from] ResolveError),
    /// The chosen content does not make a valid event.
    #[error("{0}")]
    Invalid(Violations),
}

/// The hub's side of a conflict now: its content when the event is live in the link's
/// calendar, `None` when it was deleted (or moved away).
pub fn local_content(conflict: &ConflictRecord, event: Option<&Event>) -> Option<Content> {
    event
        .filter(|e| !e.is_deleted() && e.draft.calendar_id() == conflict.calendar_id)
        .map(|e| Content::of(&e.draft.to_input()))
}

/// What `choice` on `conflict` does. `event` is the hub's event (a tombstone included),
/// `event_link` its link to the remote, `provider` where the remote version came from.
///
/// # Errors
/// A choice that needs both versions when one side deleted, or content that is no valid event.
pub fn resolution(
    conflict: &ConflictRecord,
    event: &Event,
    event_link: &EventLink,
    provider: Source,
    choice: &Choice,
    by: &str,
) -> Result<Resolution, ResolutionError> {
    let local = local_content(conflict, Some(event));
    let remote = conflict.remote.as_ref();
    let target = resolve(choice, conflict.base.as_ref(), local.as_ref(), remote)?;
    let draft_with = |content: &Content, standalone: bool| {
        let mut input: EventInput = event.draft.to_input();
        content.apply_to(&mut input);
        if standalone {
            input.recurring_event_id = None;
            input.original_start = None;
        }
        EventDraft::parse(input).map_err(ResolutionError::Invalid)
    };
    let outcome = match &target {
        None if local.is_some() || remote.is_some() => LocalOutcome::Delete,
        None => LocalOutcome::Unchanged,
        Some(t) if local.as_ref() == Some(t) && remote == Some(t) => LocalOutcome::Unchanged,
        Some(t) if local.as_ref() == Some(t) => LocalOutcome::Requeue,
        Some(t) => LocalOutcome::Write(Box::new(draft_with(t, false)?)),
    };
    let copy = match (choice, remote) {
        (Choice::KeepBoth, Some(r)) => {
            Some(NewEvent { id: EventId::new(), draft: draft_with(r, true)?, source: provider })
        }
        _ => None,
    };
    let link =
        remote.map(|r| EventLink { base: r.clone(), state: EventLinkState::Ok, error: None, ..event_link.clone() });
    let origin = if *choice == Choice::KeepRemote { provider } else { Source::Local };
    Ok(Resolution { choice: choice.name().to_owned(), by: by.to_owned(), origin, local: outcome, link, copy })
}
