//! The mail Outlook sends on its own when a meeting changes: an invitation when an event
//! on the organizer's calendar gains attendees, an update when it changes, a cancellation
//! when it is deleted (MS-EVENT: "the server sends invitations to all attendees"; Graph has
//! no way to say "don't", protocols.md §2.4). Kept in the sender's outbox, where tests look
//! for mail a sync write should not have caused.

use super::event::{Exception, StoredEvent};
use super::world::field;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum MailKind {
    Invitation,
    Update,
    Cancellation,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mail {
    pub kind: MailKind,
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub sent: Timestamp,
}

/// The mail a write of `kind` to this event (or one occurrence of it) sends: none without
/// attendees.
pub fn for_write(kind: MailKind, ev: &StoredEvent, exception: Option<&Exception>, now: Timestamp) -> Option<Mail> {
    let to: Vec<String> = field(ev, exception, "attendees")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| a.pointer("/emailAddress/address").and_then(Value::as_str))
                .filter(|address| !address.eq_ignore_ascii_case(&ev.owner))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if to.is_empty() {
        return None;
    }
    let title = field(ev, exception, "subject").and_then(Value::as_str).unwrap_or_default();
    let subject = match kind {
        MailKind::Invitation => title.to_owned(),
        MailKind::Update => format!("Updated: {title}"),
        MailKind::Cancellation => format!("Canceled: {title}"),
    };
    Some(Mail { kind, from: ev.owner.clone(), to, subject, sent: now })
}
