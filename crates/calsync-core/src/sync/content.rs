//! The comparable content of an event: what a user can see and edit, normalised so that
//! provider rewrites (whitespace, line endings, zone spellings, attendee order and case)
//! never look like a change.
//!
//! Not part of it: ids, etags, sequence numbers, timestamps, reminders, colours (Google's
//! palette is not ours) and the series link (identity, kept on the event link instead).

use crate::event::{Attendee, EventInput, Status, Transparency, Visibility};
use crate::event_time::{EventTime, EventTimeInput};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub start: EventTimeInput,
    pub end: EventTimeInput,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recurrence: Vec<String>,
    pub status: Status,
    pub transparency: Transparency,
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<Attendee>,
}

/// The parts of [`Content`] a three-way merge treats as one unit each. Start and end move
/// together: merging one side's start with the other's end makes an event nobody wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Title,
    Description,
    Location,
    Time,
    Recurrence,
    Status,
    Transparency,
    Visibility,
    Attendees,
}

impl Field {
    pub const ALL: [Self; 9] = [
        Self::Title,
        Self::Description,
        Self::Location,
        Self::Time,
        Self::Recurrence,
        Self::Status,
        Self::Transparency,
        Self::Visibility,
        Self::Attendees,
    ];
}

/// Line endings to `\n`, trailing whitespace per line and at both ends removed.
fn text(s: &str) -> String {
    let unified = s.replace("\r\n", "\n").replace('\r', "\n");
    unified.lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim().to_owned()
}

fn optional_text(s: Option<&str>) -> Option<String> {
    s.map(text).filter(|t| !t.is_empty())
}

/// The canonical spelling of a start or end (zone names as the time zone database spells
/// them); left as given when it does not parse (validation reports that elsewhere).
fn time(t: &EventTimeInput) -> EventTimeInput {
    EventTime::parse(t).map(|p| p.to_input()).unwrap_or_else(|_| t.clone())
}

/// Every part of [`Content`] is plain data (strings, unit enums, string-keyed structs), whose
/// serialisation cannot fail; `null` stands in should that ever change.
fn json<T: Serialize + ?Sized>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

impl Content {
    pub fn of(input: &EventInput) -> Self {
        let mut attendees: Vec<Attendee> = input
            .attendees
            .iter()
            .map(|a| Attendee {
                email: a.email.trim().to_lowercase(),
                name: optional_text(a.name.as_deref()),
                response_status: a.response_status,
            })
            .collect();
        attendees.sort_by(|a, b| a.email.cmp(&b.email));
        attendees.dedup_by(|a, b| a.email == b.email);
        Self {
            title: text(&input.title),
            description: optional_text(input.description.as_deref()),
            location: optional_text(input.location.as_deref()),
            start: time(&input.start),
            end: time(&input.end),
            recurrence: input.recurrence.iter().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect(),
            status: input.status,
            transparency: input.transparency,
            visibility: input.visibility,
            attendees,
        }
    }

    /// SHA-256 of the canonical JSON, hex: stored next to the base to compare cheaply.
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&json).iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Writes this content into an event body, keeping what content does not cover
    /// (calendar, series link, colour).
    pub fn apply_to(&self, input: &mut EventInput) {
        input.title.clone_from(&self.title);
        input.description.clone_from(&self.description);
        input.location.clone_from(&self.location);
        input.start = self.start.clone();
        input.end = self.end.clone();
        input.recurrence.clone_from(&self.recurrence);
        input.status = self.status;
        input.transparency = self.transparency;
        input.visibility = self.visibility;
        input.attendees.clone_from(&self.attendees);
    }

    /// The fields whose values differ.
    pub fn diff(&self, other: &Self) -> Vec<Field> {
        Field::ALL.into_iter().filter(|f| !self.same(other, *f)).collect()
    }

    fn same(&self, other: &Self, field: Field) -> bool {
        match field {
            Field::Title => self.title == other.title,
            Field::Description => self.description == other.description,
            Field::Location => self.location == other.location,
            Field::Time => self.start == other.start && self.end == other.end,
            Field::Recurrence => self.recurrence == other.recurrence,
            Field::Status => self.status == other.status,
            Field::Transparency => self.transparency == other.transparency,
            Field::Visibility => self.visibility == other.visibility,
            Field::Attendees => self.attendees == other.attendees,
        }
    }

    /// The value of `field` as JSON, for display (conflict screens, plan explanations):
    /// text as a string, optional text as `null` when absent, the time as
    /// `{"start": .., "end": ..}` in the [`EventTimeInput`] form, recurrence and attendees as
    /// arrays, the enums in their snake_case spelling.
    pub fn field_value(&self, field: Field) -> serde_json::Value {
        match field {
            Field::Title => json(&self.title),
            Field::Description => json(&self.description),
            Field::Location => json(&self.location),
            Field::Time => {
                let mut time = serde_json::Map::new();
                time.insert("start".to_owned(), json(&self.start));
                time.insert("end".to_owned(), json(&self.end));
                serde_json::Value::Object(time)
            }
            Field::Recurrence => json(&self.recurrence),
            Field::Status => json(&self.status),
            Field::Transparency => json(&self.transparency),
            Field::Visibility => json(&self.visibility),
            Field::Attendees => json(&self.attendees),
        }
    }

    /// Copies `field` from `other`.
    pub fn take(&mut self, other: &Self, field: Field) {
        match field {
            Field::Title => self.title.clone_from(&other.title),
            Field::Description => self.description.clone_from(&other.description),
            Field::Location => self.location.clone_from(&other.location),
            Field::Time => {
                self.start = other.start.clone();
                self.end = other.end.clone();
            }
            Field::Recurrence => self.recurrence.clone_from(&other.recurrence),
            Field::Status => self.status = other.status,
            Field::Transparency => self.transparency = other.transparency,
            Field::Visibility => self.visibility = other.visibility,
            Field::Attendees => self.attendees.clone_from(&other.attendees),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ResponseStatus;
    use crate::ids::CalendarId;

    fn input() -> EventInput {
        serde_json::from_value(serde_json::json!({
            "calendar_id": CalendarId::new(),
            "title": "Team sync",
            "start": {"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-05-04T10:00:00", "time_zone": "Europe/Berlin"},
        }))
        .unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    #[test]
    fn provider_rewrites_do_not_change_the_content() {
        let ours = input();
        let mut theirs = ours.clone();
        theirs.title = "  Team sync \r\n".into();
        theirs.description = Some("   ".into());
        theirs.start.time_zone = Some("europe/berlin".into());
        theirs.end.time_zone = Some("Europe/Berlin".into());
        let a = Content::of(&ours);
        let b = Content::of(&theirs);
        assert_eq!(a, b);
        assert_eq!(a.hash(), b.hash());
    }

    #[test]
    fn attendees_compare_by_lowercased_email_in_any_order() {
        let mut a = input();
        let mut b = input();
        let ada = Attendee { email: "Ada@Example.com".into(), name: None, response_status: ResponseStatus::Accepted };
        let bob = Attendee {
            email: "bob@example.com".into(),
            name: Some(" Bob ".into()),
            response_status: ResponseStatus::NeedsAction,
        };
        a.attendees = vec![ada.clone(), bob.clone()];
        b.attendees = vec![bob, ada];
        assert_eq!(Content::of(&a), Content::of(&b));
    }

    #[test]
    fn a_real_edit_is_a_change_of_exactly_that_field() {
        let a = Content::of(&input());
        let mut edited = input();
        edited.location = Some("Room 2".into());
        let b = Content::of(&edited);
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.diff(&b), vec![Field::Location]);
    }

    #[test]
    fn field_values_are_the_json_a_user_would_read() {
        let mut edited = input();
        edited.location = Some("Room 2".into());
        edited.attendees = vec![Attendee {
            email: "Ada@Example.com".into(),
            name: Some("Ada".into()),
            response_status: ResponseStatus::Accepted,
        }];
        let c = Content::of(&edited);
        let expected = [
            (Field::Title, serde_json::json!("Team sync")),
            (Field::Description, serde_json::Value::Null),
            (Field::Location, serde_json::json!("Room 2")),
            (
                Field::Time,
                serde_json::json!({
                    "start": {"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"},
                    "end": {"date_time": "2026-05-04T10:00:00", "time_zone": "Europe/Berlin"},
                }),
            ),
            (Field::Recurrence, serde_json::json!([])),
            (Field::Status, serde_json::json!("confirmed")),
            (Field::Transparency, serde_json::json!("busy")),
            (Field::Visibility, serde_json::json!("default")),
            (
                Field::Attendees,
                serde_json::json!([{"email": "ada@example.com", "name": "Ada", "response_status": "accepted"}]),
            ),
        ];
        assert_eq!(expected.each_ref().map(|(f, _)| *f), Field::ALL, "one expectation per field, in order");
        for (field, value) in expected {
            assert_eq!(c.field_value(field), value, "{field:?}");
        }
        let mut day = c.clone();
        day.start = EventTimeInput { date: Some("2026-05-04".into()), ..Default::default() };
        day.end = EventTimeInput { date: Some("2026-05-05".into()), ..Default::default() };
        assert_eq!(
            day.field_value(Field::Time),
            serde_json::json!({"start": {"date": "2026-05-04"}, "end": {"date": "2026-05-05"}})
        );
    }

    #[test]
    fn apply_to_round_trips() {
        let mut edited = input();
        edited.title = "Renamed".into();
        let content = Content::of(&edited);
        let mut target = input();
        content.apply_to(&mut target);
        assert_eq!(Content::of(&target), content);
    }
}
