//! What the user decided about a conflict, turned into the content the event ends with.

use super::{Content, Field};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which side a field is taken from in a per-field merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Local,
    Remote,
}

/// A user's decision on a conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The hub's version wins (a deletion included).
    KeepLocal,
    /// The provider's version wins (a deletion included).
    KeepRemote,
    /// Field by field as named; a field not named comes from the side that changed it
    /// since the base (the local side when both did).
    MergeFields(BTreeMap<Field, Side>),
    /// A whole new version, written by the user.
    MergeContent(Box<Content>),
    /// Both versions live on as two events: the local one stays paired with the remote
    /// event (which gets the local version), and the remote version becomes a new event.
    KeepBoth,
}

impl Choice {
    pub const fn name(&self) -> &'static str {
        match self {
            Self::KeepLocal => "keep_local",
            Self::KeepRemote => "keep_remote",
            Self::MergeFields(_) | Self::MergeContent(_) => "merge",
            Self::KeepBoth => "keep_both",
        }
    }
}

/// Why a choice cannot apply to these versions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "{0} needs both versions, but the event was deleted on one side: keep_local or keep_remote decide a deletion"
    )]
    NeedsBothVersions(&'static str),
}

/// The content the event ends with (`None`: deleted everywhere); `base` is what both sides
/// last agreed on.
///
/// # Errors
/// A merge or `keep_both` when one side deleted the event.
pub fn resolve(
    choice: &Choice,
    base: Option<&Content>,
    local: Option<&Content>,
    remote: Option<&Content>,
) -> Result<Option<Content>, ResolveError> {
    match choice {
        Choice::KeepLocal => Ok(local.cloned()),
        Choice::KeepRemote => Ok(remote.cloned()),
        Choice::MergeContent(content) => Ok(Some((**content).clone())),
        Choice::MergeFields(fields) => {
            let (Some(l), Some(r)) = (local, remote) else { return Err(ResolveError::NeedsBothVersions("merge")) };
            let (ours, theirs) = base.map_or_else(Default::default, |b| (b.diff(l), b.diff(r)));
            let mut merged = l.clone();
            for field in Field::ALL {
                let only_theirs = theirs.contains(&field) && !ours.contains(&field);
                let side = fields.get(&field).copied().unwrap_or(if only_theirs { Side::Remote } else { Side::Local });
                if side == Side::Remote {
                    merged.take(r, field);
                }
            }
            Ok(Some(merged))
        }
        Choice::KeepBoth => match (local, remote) {
            (Some(l), Some(_)) => Ok(Some(l.clone())),
            _ => Err(ResolveError::NeedsBothVersions("keep_both")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventInput;
    use crate::ids::CalendarId;

    fn content(title: &str, location: Option<&str>) -> Content {
        let input: EventInput = serde_json::from_value(serde_json::json!({
            "calendar_id": CalendarId::new(), "title": title, "location": location,
            "start": {"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-05-04T10:00:00", "time_zone": "Europe/Berlin"},
        }))
        .unwrap_or_else(|e| panic!("fixture: {e}"));
        Content::of(&input)
    }

    #[test]
    fn each_choice_picks_its_version() {
        let (ours, theirs) = (content("Ours", Some("Room 1")), content("Theirs", Some("Room 2")));
        let both = (Some(&ours), Some(&theirs));
        assert_eq!(resolve(&Choice::KeepLocal, None, both.0, both.1), Ok(Some(ours.clone())));
        assert_eq!(resolve(&Choice::KeepRemote, None, both.0, both.1), Ok(Some(theirs.clone())));
        assert_eq!(resolve(&Choice::KeepBoth, None, both.0, both.1), Ok(Some(ours.clone())));
        let fields = BTreeMap::from([(Field::Location, Side::Remote), (Field::Title, Side::Local)]);
        assert_eq!(
            resolve(&Choice::MergeFields(fields), None, both.0, both.1),
            Ok(Some(content("Ours", Some("Room 2"))))
        );
        let written = content("Written by hand", None);
        assert_eq!(resolve(&Choice::MergeContent(Box::new(written.clone())), None, both.0, both.1), Ok(Some(written)));
    }

    #[test]
    fn a_merge_keeps_what_only_one_side_changed_and_asks_only_for_the_clash() {
        let base = content("Standup", Some("Room 1"));
        let mut ours = content("Standup (ours)", Some("Room 7"));
        let mut theirs = content("Standup (theirs)", Some("Room 1"));
        theirs.description = Some("Agenda".into());
        ours.description = None;
        let fields = BTreeMap::from([(Field::Title, Side::Remote)]);
        let merged = resolve(&Choice::MergeFields(fields), Some(&base), Some(&ours), Some(&theirs));
        let mut expected = content("Standup (theirs)", Some("Room 7"));
        expected.description = Some("Agenda".into());
        assert_eq!(merged, Ok(Some(expected)), "title as chosen, location from us, description from them");
        let unnamed = resolve(&Choice::MergeFields(BTreeMap::new()), Some(&base), Some(&ours), Some(&theirs));
        assert_eq!(unnamed.ok().flatten().map(|c| c.title), Some("Standup (ours)".into()), "a clash not named: ours");
    }

    #[test]
    fn a_deletion_is_kept_or_undone_but_never_merged() {
        let ours = content("Ours", None);
        assert_eq!(resolve(&Choice::KeepRemote, None, Some(&ours), None), Ok(None));
        assert_eq!(resolve(&Choice::KeepLocal, None, Some(&ours), None), Ok(Some(ours.clone())));
        assert_eq!(resolve(&Choice::KeepLocal, None, None, Some(&ours)), Ok(None));
        assert!(resolve(&Choice::MergeFields(BTreeMap::new()), None, Some(&ours), None).is_err());
        assert!(resolve(&Choice::KeepBoth, None, None, Some(&ours)).is_err());
    }
}
