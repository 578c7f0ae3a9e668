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
    // Moved to another calendar of the hub: gone for this link, alive for the user. A
    // deletion here must not delete it there; queued again, the outbox removes it from
    // this link's provider as any move away does.
    let moved_away = !event.is_deleted() && local.is_none();
    let outcome = match &target {
        None if moved_away => LocalOutcome::Requeue,
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
    Ok(Resolution {
        choice: choice.name().to_owned(),
        by: by.to_owned(),
        origin,
        local: outcome,
        link,
        copy,
        local_seen: local,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use calsync_core::{CalendarId, ConflictId, EventMeta, LinkId, UserId};

    struct Case {
        calendar: CalendarId,
        base: Content,
    }

    impl Case {
        fn new() -> Self {
            let calendar = CalendarId::new();
            let base = Content::of(&Self::input(calendar, "Standup"));
            Self { calendar, base }
        }

        fn input(calendar: CalendarId, title: &str) -> EventInput {
            serde_json::from_value(serde_json::json!({
                "calendar_id": calendar, "title": title,
                "start": {"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"},
                "end": {"date_time": "2026-05-04T10:00:00", "time_zone": "Europe/Berlin"},
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        }

        fn content(&self, title: &str) -> Content {
            Content::of(&Self::input(self.calendar, title))
        }

        fn event(&self, calendar: CalendarId, title: &str, deleted: bool) -> Event {
            let draft = EventDraft::parse(Self::input(calendar, title)).unwrap_or_else(|e| panic!("{e}"));
            let mut meta = EventMeta::created(jiff::Timestamp::UNIX_EPOCH, Source::Local);
            if deleted {
                meta.deleted_at = Some(jiff::Timestamp::UNIX_EPOCH);
            }
            Event { id: EventId::new(), draft, meta }
        }

        fn conflict(&self, remote: Option<Content>) -> ConflictRecord {
            ConflictRecord {
                id: ConflictId::new(),
                user_id: UserId::new(),
                link_id: LinkId::new(),
                calendar_id: self.calendar,
                event_id: EventId::new(),
                base: Some(self.base.clone()),
                local: None,
                remote,
                fields: vec![],
                reason: "both_edited".into(),
                revision: 1,
                remote_updated_at: None,
                created_at: jiff::Timestamp::UNIX_EPOCH,
                updated_at: None,
                resolved_at: None,
                choice: None,
                resolved_by: None,
            }
        }

        fn link(&self) -> EventLink {
            EventLink {
                link_id: LinkId::new(),
                event_id: EventId::new(),
                remote_id: "abc".into(),
                etag: Some("\"1\"".into()),
                base: self.base.clone(),
                state: EventLinkState::Conflict,
                error: Some("changed on both sides".into()),
            }
        }

        fn decide(&self, conflict: &ConflictRecord, event: &Event, choice: &Choice) -> Resolution {
            resolution(conflict, event, &self.link(), Source::Google, choice, "ada").unwrap_or_else(|e| panic!("{e}"))
        }
    }

    #[test]
    fn keep_remote_writes_the_remote_version_here_and_pairs_on_it() {
        let c = Case::new();
        let conflict = c.conflict(Some(c.content("Theirs")));
        let r = c.decide(&conflict, &c.event(c.calendar, "Ours", false), &Choice::KeepRemote);
        assert!(matches!(&r.local, LocalOutcome::Write(d) if d.title() == "Theirs"), "{:?}", r.local);
        let link = r.link.unwrap_or_else(|| panic!("paired"));
        assert_eq!((link.base, link.state, link.error), (c.content("Theirs"), EventLinkState::Ok, None));
        assert_eq!((r.origin, r.choice.as_str(), r.by.as_str()), (Source::Google, "keep_remote", "ada"));
    }

    #[test]
    fn keep_local_against_a_remote_deletion_queues_ours_again_unpaired() {
        let c = Case::new();
        let r = c.decide(&c.conflict(None), &c.event(c.calendar, "Ours", false), &Choice::KeepLocal);
        assert!(matches!(r.local, LocalOutcome::Requeue), "{:?}", r.local);
        assert!(r.link.is_none(), "the remote copy is gone: the push creates it again");
    }

    #[test]
    fn keep_remote_against_a_local_deletion_brings_the_event_back() {
        let c = Case::new();
        let r =
            c.decide(&c.conflict(Some(c.content("Theirs"))), &c.event(c.calendar, "Ours", true), &Choice::KeepRemote);
        assert!(matches!(&r.local, LocalOutcome::Write(d) if d.title() == "Theirs"), "{:?}", r.local);
    }

    #[test]
    fn a_deletion_never_deletes_an_event_that_moved_to_another_calendar() {
        let c = Case::new();
        let elsewhere = c.event(CalendarId::new(), "Ours, moved", false);
        let r = c.decide(&c.conflict(None), &elsewhere, &Choice::KeepRemote);
        assert!(matches!(r.local, LocalOutcome::Requeue), "{:?}", r.local);
    }

    #[test]
    fn keep_both_makes_the_remote_version_a_new_standalone_event() {
        let c = Case::new();
        let r =
            c.decide(&c.conflict(Some(c.content("Theirs"))), &c.event(c.calendar, "Ours", false), &Choice::KeepBoth);
        assert!(matches!(r.local, LocalOutcome::Requeue), "ours goes to the paired remote event: {:?}", r.local);
        let copy = r.copy.unwrap_or_else(|| panic!("a copy"));
        assert_eq!((copy.draft.title(), copy.source, copy.draft.series()), ("Theirs", Source::Google, None));
        let both_deleted = resolution(
            &c.conflict(None),
            &c.event(c.calendar, "Ours", false),
            &c.link(),
            Source::Google,
            &Choice::KeepBoth,
            "ada",
        );
        assert!(both_deleted.is_err(), "keep_both needs both versions");
    }
}
