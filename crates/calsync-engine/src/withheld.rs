//! Fields a provider is never written ([`calsync_providers::Provider::withheld`]): what the
//! provider shows of them says nothing about a change, so calsync reads them as it has them.

use calsync_core::EventInput;
use calsync_core::sync::{Content, Field};

/// `theirs` as calsync reads it: the `withheld` fields are `ours` (the base, or the hub's
/// event it is paired with).
pub(crate) fn seen(withheld: &[Field], theirs: &EventInput, ours: &Content) -> Content {
    let mut content = Content::of(theirs);
    for field in withheld {
        content.take(ours, *field);
    }
    content
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(attendees: serde_json::Value) -> EventInput {
        serde_json::from_value(serde_json::json!({
            "calendar_id": calsync_core::CalendarId::new(),
            "title": "Review",
            "start": {"date": "2026-05-04"},
            "end": {"date": "2026-05-05"},
            "attendees": attendees,
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_withheld_field_reads_as_ours_and_the_rest_as_theirs() {
        let ours = Content::of(&input(serde_json::json!([{"email": "ada@example.com"}])));
        let mut outlook = input(serde_json::json!([]));
        outlook.title = "Review (moved)".into();
        let read = seen(&[Field::Attendees], &outlook, &ours);
        assert_eq!(read.attendees, ours.attendees, "no attendees in Outlook is not a removal");
        assert_eq!(read.title, "Review (moved)", "the title is Outlook's");
        assert_eq!(seen(&[], &outlook, &ours).attendees, Vec::new(), "a provider that carries them is read as is");
    }
}
