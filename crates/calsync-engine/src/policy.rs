//! Conflict policies other than "ask": the conflict is recorded as usual, then decided at
//! once by the link's rule, through the same resolution as a user's decision — so every
//! automatic overwrite stays on record (resolved by `policy:<name>`) for the user to look
//! at and undo.

use crate::SyncError;
use crate::resolution::resolution;
use calsync_core::Source;
use calsync_core::sync::Choice;
use calsync_store::{ConflictFilter, ConflictPolicy, ConflictRecord, Link, StoreError, SyncStore};

/// The choice `policy` makes for `conflict`; `local_updated` is when the hub's event last
/// changed. `None` for `ask`.
pub fn choice_for(policy: ConflictPolicy, conflict: &ConflictRecord, local_updated: jiff::Timestamp) -> Option<Choice> {
    match policy {
        ConflictPolicy::Ask => None,
        ConflictPolicy::LocalWins => Some(Choice::KeepLocal),
        ConflictPolicy::RemoteWins => Some(Choice::KeepRemote),
        ConflictPolicy::NewestWins => {
            // Without the provider's own time, the moment the change was seen stands in.
            let remote_updated = conflict.remote_updated_at.or(conflict.updated_at).unwrap_or(conflict.created_at);
            Some(if local_updated >= remote_updated { Choice::KeepLocal } else { Choice::KeepRemote })
        }
    }
}

/// Decides the link's open conflicts by its policy. Returns how many were decided.
pub async fn apply_policy(store: &dyn SyncStore, link: &Link, provider: Source) -> Result<usize, SyncError> {
    let policy = link.settings.policy;
    if policy == ConflictPolicy::Ask {
        return Ok(0);
    }
    let filter = ConflictFilter { link: Some(link.id), open: Some(true), ..ConflictFilter::default() };
    let mut decided = 0;
    for conflict in store.list_conflicts(link.user_id, filter, 1000).await? {
        let event = match store.get_event(link.user_id, conflict.event_id).await {
            Ok(e) => e,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let Some(event_link) = store.event_link(link.id, conflict.event_id).await? else { continue };
        let Some(choice) = choice_for(policy, &conflict, event.meta.updated_at) else { continue };
        let by = format!("policy:{}", policy.as_str());
        let decision = match resolution(&conflict, &event, &event_link, provider, &choice, &by) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(conflict = %conflict.id, error = %e, "the link's policy cannot decide this conflict; it waits for the user");
                continue;
            }
        };
        match store
            .resolve_conflict(link.user_id, conflict.id, conflict.revision, Some(event.meta.version), &decision)
            .await
        {
            Ok(()) => decided += 1,
            // Changed meanwhile: the next run decides on the new versions.
            Err(StoreError::Stale { .. }) => {}
            // The database itself failed: the run fails and is retried.
            Err(e) if e.is_transient() => return Err(e.into()),
            // The decision cannot be applied (its series was deleted, …): the user decides.
            Err(e) => {
                tracing::warn!(conflict = %conflict.id, error = %e, "the link's policy cannot apply its decision; the conflict waits for the user");
            }
        }
    }
    if decided > 0 {
        tracing::info!(link = %link.id, decided, policy = policy.as_str(), "conflicts decided by the link's policy");
    }
    Ok(decided)
}

#[cfg(test)]
mod tests {
    use super::*;
    use calsync_core::{CalendarId, ConflictId, EventId, LinkId, UserId};

    fn conflict(remote_updated: Option<&str>, seen: &str) -> ConflictRecord {
        let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap_or_else(|e| panic!("{e}"));
        ConflictRecord {
            id: ConflictId::new(),
            user_id: UserId::new(),
            link_id: LinkId::new(),
            calendar_id: CalendarId::new(),
            event_id: EventId::new(),
            base: None,
            local: None,
            remote: None,
            fields: vec!["title".into()],
            reason: "both_edited".into(),
            revision: 1,
            remote_updated_at: remote_updated.map(t),
            created_at: t(seen),
            updated_at: None,
            resolved_at: None,
            choice: None,
            resolved_by: None,
        }
    }

    #[test]
    fn each_policy_picks_its_side_and_newest_wins_compares_edit_times() {
        let local_edit: jiff::Timestamp = "2026-05-04T10:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"));
        let c = conflict(Some("2026-05-04T09:00:00Z"), "2026-05-04T11:00:00Z");
        assert_eq!(choice_for(ConflictPolicy::Ask, &c, local_edit), None);
        assert_eq!(choice_for(ConflictPolicy::LocalWins, &c, local_edit), Some(Choice::KeepLocal));
        assert_eq!(choice_for(ConflictPolicy::RemoteWins, &c, local_edit), Some(Choice::KeepRemote));
        assert_eq!(choice_for(ConflictPolicy::NewestWins, &c, local_edit), Some(Choice::KeepLocal), "ours is later");
        let later = conflict(Some("2026-05-04T10:30:00Z"), "2026-05-04T11:00:00Z");
        assert_eq!(choice_for(ConflictPolicy::NewestWins, &later, local_edit), Some(Choice::KeepRemote));
        // Without the provider's time, when the change was seen stands in for it.
        let unknown = conflict(None, "2026-05-04T11:00:00Z");
        assert_eq!(choice_for(ConflictPolicy::NewestWins, &unknown, local_edit), Some(Choice::KeepRemote));
    }
}
