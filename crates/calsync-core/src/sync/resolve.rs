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
    /// Field by field; fields not named keep the local value.
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

/// The content the event ends with (`None`: deleted everywhere).
///
/// # Errors
/// A merge or `keep_both` when one side deleted the event.
pub fn resolve(
    choice: &Choice,
    local: Option<&Content>,
    remote: Option<&Content>,
) -> Result<Option<Content>, ResolveError> {
    match choice {
        Choice::KeepLocal => Ok(local.cloned()),
        Choice::KeepRemote => Ok(remote.cloned()),
        Choice::MergeContent(content) => Ok(Some((**content).clone())),
        Choice::MergeFields(fields) => {
            let (Some(l), Some(r)) = (local, remote) else { return Err(ResolveError::NeedsBothVersions("merge")) };
            let mut merged = l.clone();
            for (field, side) in fields {
                if *side == Side::Remote {
                    merged.take(r, *field);
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
        assert_eq!(resolve(&Choice::KeepLocal, both.0, both.1), Ok(Some(ours.clone())));
        assert_eq!(resolve(&Choice::KeepRemote, both.0, both.1), Ok(Some(theirs.clone())));
        assert_eq!(resolve(&Choice::KeepBoth, both.0, both.1), Ok(Some(ours.clone())));
        let fields = BTreeMap::from([(Field::Location, Side::Remote), (Field::Title, Side::Local)]);
        assert_eq!(resolve(&Choice::MergeFields(fields), both.0, both.1), Ok(Some(content("Ours", Some("Room 2")))));
        let written = content("Written by hand", None);
        assert_eq!(resolve(&Choice::MergeContent(Box::new(written.clone())), both.0, both.1), Ok(Some(written)));
    }

    #[test]
    fn a_deletion_is_kept_or_undone_but_never_merged() {
        let ours = content("Ours", None);
        assert_eq!(resolve(&Choice::KeepRemote, Some(&ours), None), Ok(None));
        assert_eq!(resolve(&Choice::KeepLocal, Some(&ours), None), Ok(Some(ours.clone())));
        assert_eq!(resolve(&Choice::KeepLocal, None, Some(&ours)), Ok(None));
        assert!(resolve(&Choice::MergeFields(BTreeMap::new()), Some(&ours), None).is_err());
        assert!(resolve(&Choice::KeepBoth, None, Some(&ours)).is_err());
    }
}
