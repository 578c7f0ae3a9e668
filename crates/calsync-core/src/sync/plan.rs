//! The three-way rule of DESIGN.md §2: given the base (what both sides last agreed on), the
//! local event and the remote one, decide what to write where. `None` for a side means the
//! event is deleted there (or, without a base, was never there).

use super::content::{Content, Field};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Plan {
    /// Both sides equal the base: nothing to do (also how echoes of our own writes end).
    Nothing,
    /// Both sides changed to the same content: record it as the new base, write nothing.
    NewBase {
        content: Content,
    },
    /// Write the local content to the remote (create it when it has no remote yet).
    Push {
        content: Content,
    },
    /// Write the remote content to the hub (create it when it has no local yet).
    Apply {
        content: Content,
    },
    /// Both changed, different fields: write the merge both ways.
    Merge {
        content: Content,
        local: Vec<Field>,
        remote: Vec<Field>,
    },
    DeleteRemote,
    DeleteLocal,
    /// Deleted on both sides: drop the link.
    Forget,
    /// Both changed the same fields differently, or one deleted what the other changed:
    /// pause this event on this link and ask the user.
    Conflict {
        fields: Vec<Field>,
        reason: ConflictReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictReason {
    /// Both sides edited overlapping fields to different values.
    BothEdited,
    /// Deleted locally, edited remotely.
    DeletedLocally,
    /// Deleted remotely, edited locally.
    DeletedRemotely,
    /// First pairing (no base yet) of two events with different content.
    FirstMatchDiffers,
}

pub fn plan(base: Option<&Content>, local: Option<&Content>, remote: Option<&Content>) -> Plan {
    let Some(base) = base else {
        return match (local, remote) {
            (None, None) => Plan::Forget,
            (Some(l), None) => Plan::Push { content: l.clone() },
            (None, Some(r)) => Plan::Apply { content: r.clone() },
            (Some(l), Some(r)) if l == r => Plan::NewBase { content: l.clone() },
            (Some(l), Some(r)) => Plan::Conflict { fields: l.diff(r), reason: ConflictReason::FirstMatchDiffers },
        };
    };
    match (local, remote) {
        (None, None) => Plan::Forget,
        (None, Some(r)) if r == base => Plan::DeleteRemote,
        (None, Some(r)) => Plan::Conflict { fields: base.diff(r), reason: ConflictReason::DeletedLocally },
        (Some(l), None) if l == base => Plan::DeleteLocal,
        (Some(l), None) => Plan::Conflict { fields: base.diff(l), reason: ConflictReason::DeletedRemotely },
        (Some(l), Some(r)) => {
            let local_changed = base.diff(l);
            let remote_changed = base.diff(r);
            match (local_changed.is_empty(), remote_changed.is_empty()) {
                (true, true) => Plan::Nothing,
                (false, true) => Plan::Push { content: l.clone() },
                (true, false) => Plan::Apply { content: r.clone() },
                (false, false) if l == r => Plan::NewBase { content: l.clone() },
                (false, false) => merge(base, l, r, local_changed, remote_changed),
            }
        }
    }
}

fn merge(base: &Content, l: &Content, r: &Content, local: Vec<Field>, remote: Vec<Field>) -> Plan {
    let clashing: Vec<Field> = local.iter().copied().filter(|f| remote.contains(f) && l.diff(r).contains(f)).collect();
    if !clashing.is_empty() {
        return Plan::Conflict { fields: clashing, reason: ConflictReason::BothEdited };
    }
    let mut merged = base.clone();
    for f in &local {
        merged.take(l, *f);
    }
    for f in &remote {
        merged.take(r, *f);
    }
    Plan::Merge { content: merged, local, remote }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventInput;
    use crate::ids::CalendarId;

    fn base() -> Content {
        let input: EventInput = serde_json::from_value(serde_json::json!({
            "calendar_id": CalendarId::new(),
            "title": "Team sync",
            "start": {"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-05-04T10:00:00", "time_zone": "Europe/Berlin"},
        }))
        .unwrap_or_else(|e| panic!("fixture: {e}"));
        Content::of(&input)
    }

    fn with(edit: impl FnOnce(&mut Content)) -> Content {
        let mut c = base();
        edit(&mut c);
        c
    }

    #[test]
    fn unchanged_on_both_sides_is_nothing() {
        assert_eq!(plan(Some(&base()), Some(&base()), Some(&base())), Plan::Nothing);
    }

    #[test]
    fn a_change_on_one_side_goes_to_the_other() {
        let renamed = with(|c| c.title = "Renamed".into());
        assert_eq!(plan(Some(&base()), Some(&renamed), Some(&base())), Plan::Push { content: renamed.clone() });
        assert_eq!(plan(Some(&base()), Some(&base()), Some(&renamed)), Plan::Apply { content: renamed });
    }

    #[test]
    fn the_same_change_on_both_sides_only_records_a_new_base() {
        let renamed = with(|c| c.title = "Renamed".into());
        assert_eq!(plan(Some(&base()), Some(&renamed), Some(&renamed)), Plan::NewBase { content: renamed });
    }

    #[test]
    fn changes_to_different_fields_merge() {
        let local = with(|c| c.title = "Renamed".into());
        let remote = with(|c| c.location = Some("Room 2".into()));
        let merged = with(|c| {
            c.title = "Renamed".into();
            c.location = Some("Room 2".into());
        });
        assert_eq!(
            plan(Some(&base()), Some(&local), Some(&remote)),
            Plan::Merge { content: merged, local: vec![Field::Title], remote: vec![Field::Location] }
        );
    }

    #[test]
    fn different_changes_to_the_same_field_conflict() {
        let local = with(|c| c.title = "Ours".into());
        let remote = with(|c| {
            c.title = "Theirs".into();
            c.location = Some("Room 2".into());
        });
        assert_eq!(
            plan(Some(&base()), Some(&local), Some(&remote)),
            Plan::Conflict { fields: vec![Field::Title], reason: ConflictReason::BothEdited }
        );
    }

    #[test]
    fn start_and_end_merge_as_one_field() {
        let local = with(|c| c.start.date_time = Some("2026-05-04T08:00:00".into()));
        let remote = with(|c| c.end.date_time = Some("2026-05-04T11:00:00".into()));
        assert!(matches!(plan(Some(&base()), Some(&local), Some(&remote)), Plan::Conflict { .. }));
    }

    #[test]
    fn deletions_apply_only_against_an_unchanged_other_side() {
        let edited = with(|c| c.title = "Renamed".into());
        assert_eq!(plan(Some(&base()), None, Some(&base())), Plan::DeleteRemote);
        assert_eq!(plan(Some(&base()), Some(&base()), None), Plan::DeleteLocal);
        assert_eq!(plan(Some(&base()), None, None), Plan::Forget);
        assert_eq!(
            plan(Some(&base()), None, Some(&edited)),
            Plan::Conflict { fields: vec![Field::Title], reason: ConflictReason::DeletedLocally }
        );
        assert_eq!(
            plan(Some(&base()), Some(&edited), None),
            Plan::Conflict { fields: vec![Field::Title], reason: ConflictReason::DeletedRemotely }
        );
    }

    #[test]
    fn without_a_base_new_events_flow_and_equal_ones_pair_up() {
        assert_eq!(plan(None, Some(&base()), None), Plan::Push { content: base() });
        assert_eq!(plan(None, None, Some(&base())), Plan::Apply { content: base() });
        assert_eq!(plan(None, Some(&base()), Some(&base())), Plan::NewBase { content: base() });
        let other = with(|c| c.title = "Other".into());
        assert_eq!(
            plan(None, Some(&base()), Some(&other)),
            Plan::Conflict { fields: vec![Field::Title], reason: ConflictReason::FirstMatchDiffers }
        );
    }
}
