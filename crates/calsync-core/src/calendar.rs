//! Local calendars: the hub side that remote calendars link to.

use crate::ids::{CalendarId, UserId};
use crate::limits::CALENDAR_NAME_MAX_CHARS;
use crate::validation::{Violations, check_color, check_len};
use crate::zone::ZoneName;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A calendar as clients send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarInput {
    #[schema(example = "Work")]
    pub name: String,
    /// `#RRGGBB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "#1e90ff")]
    pub color: Option<String>,
    /// The zone new events and all-day views default to. `UTC` when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Europe/Berlin")]
    pub time_zone: Option<String>,
}

/// A validated calendar body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDraft {
    pub name: String,
    pub color: Option<String>,
    pub time_zone: ZoneName,
}

impl CalendarDraft {
    /// # Errors
    /// Every rule the input breaks.
    pub fn parse(input: CalendarInput) -> Result<Self, Violations> {
        let mut v = Violations::new();
        if input.name.trim().is_empty() {
            v.push("name", "required", "must not be empty");
        }
        check_len(&mut v, "name", &input.name, CALENDAR_NAME_MAX_CHARS);
        if let Some(c) = &input.color {
            check_color(&mut v, "color", c);
        }
        let time_zone = match input.time_zone.as_deref() {
            None => Some(ZoneName::utc()),
            Some(z) => ZoneName::parse(z).map_err(|m| v.push("time_zone", "time_zone", m)).ok(),
        };
        match time_zone {
            Some(time_zone) => v.into_result(Self { name: input.name, color: input.color, time_zone }),
            None => Err(v),
        }
    }

    pub fn to_input(&self) -> CalendarInput {
        CalendarInput {
            name: self.name.clone(),
            color: self.color.clone(),
            time_zone: Some(self.time_zone.to_string()),
        }
    }
}

/// A stored calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub id: CalendarId,
    pub user_id: UserId,
    pub draft: CalendarDraft,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

/// The JSON form of a stored calendar.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CalendarView {
    pub id: CalendarId,
    #[serde(flatten)]
    pub content: CalendarInput,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
    pub version: i64,
}

impl From<&Calendar> for CalendarView {
    fn from(c: &Calendar) -> Self {
        Self {
            id: c.id,
            content: c.draft.to_input(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
        }
    }
}
