//! Events: the JSON input clients send, the validated draft, and the stored event with its
//! sync metadata.

use crate::event_time::{EventTime, EventTimeInput, Length, Schedule};
use crate::ids::{CalendarId, EventId};
use crate::limits::*;
use crate::recurrence::Recurrence;
use crate::source::Source;
use crate::validation::{Violations, check_color, check_len};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Confirmed,
    Tentative,
    /// For an exception of a series: this occurrence does not happen.
    Cancelled,
}

/// Whether the event blocks time (busy) or not (free). iCalendar TRANSP OPAQUE / TRANSPARENT.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transparency {
    #[default]
    Busy,
    Free,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// The calendar's default.
    #[default]
    Default,
    Public,
    Private,
    Confidential,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    #[default]
    NeedsAction,
    Accepted,
    Declined,
    Tentative,
}

/// One attendee, keyed by email (case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attendee {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub response_status: ResponseStatus,
}

/// An event as clients send it (create or full replace). Also the shape we return, plus
/// the metadata in [`EventView`](crate::event::EventMeta).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Create only: the id to give the new event, so a retried create answers 409 instead of
    /// making a duplicate. Never part of stored or returned content (the id is the URL's).
    #[serde(default, skip_serializing)]
    pub id: Option<EventId>,
    /// The calendar the event belongs to. Changing it on update moves the event.
    pub calendar_id: CalendarId,
    #[schema(example = "Team sync")]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub start: EventTimeInput,
    /// All-day ends are exclusive: a one-day event on May 1 ends on May 2.
    pub end: EventTimeInput,
    /// RFC 5545 lines: `RRULE:…`, `RDATE…:…`, `EXDATE…:…`. Empty for a single event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10"]))]
    pub recurrence: Vec<String>,
    /// For an exception (one changed or cancelled occurrence of a series): the series' id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurring_event_id: Option<EventId>,
    /// For an exception: the start the occurrence has according to the series' rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_start: Option<EventTimeInput>,
    #[serde(default)]
    pub status: Status,
    #[serde(default)]
    pub transparency: Transparency,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<Attendee>,
    /// `#RRGGBB`; unset means the calendar's colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// The link of an exception to its series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesLink {
    pub series_id: EventId,
    pub original_start: EventTime,
}

/// A validated event body. Only [`EventDraft::parse`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    calendar_id: CalendarId,
    title: String,
    description: Option<String>,
    location: Option<String>,
    schedule: Schedule,
    recurrence: Recurrence,
    series: Option<SeriesLink>,
    status: Status,
    transparency: Transparency,
    visibility: Visibility,
    attendees: Vec<Attendee>,
    color: Option<String>,
}

impl EventDraft {
    /// Validates an input. Checks that need the database (the calendar exists, the series is
    /// one of the user's) are the store's.
    ///
    /// # Errors
    /// All violations found, each naming its field.
    pub fn parse(input: EventInput) -> Result<Self, Violations> {
        let mut v = Violations::new();
        check_len(&mut v, "title", &input.title, TITLE_MAX_CHARS);
        if let Some(d) = &input.description {
            check_len(&mut v, "description", d, DESCRIPTION_MAX_CHARS);
        }
        if let Some(l) = &input.location {
            check_len(&mut v, "location", l, LOCATION_MAX_CHARS);
        }
        if let Some(c) = &input.color {
            check_color(&mut v, "color", c);
        }
        let start = EventTime::parse(&input.start).map_err(|e| e.nest("start"));
        let end = EventTime::parse(&input.end).map_err(|e| e.nest("end"));
        let schedule = match (start, end) {
            (Ok(s), Ok(e)) => match Schedule::new(s, e) {
                Ok(s) => Some(s),
                Err(e) => {
                    v.extend(e);
                    None
                }
            },
            (s, e) => {
                if let Err(x) = s {
                    v.extend(x);
                }
                if let Err(x) = e {
                    v.extend(x);
                }
                None
            }
        };
        let recurrence = schedule.as_ref().and_then(|s| {
            Recurrence::parse(&input.recurrence, s.start()).map_err(|e| v.extend(e.nest("recurrence"))).ok()
        });
        let series = match (input.recurring_event_id, &input.original_start) {
            (None, None) => None,
            (Some(series_id), Some(os)) => {
                if !input.recurrence.is_empty() {
                    v.push(
                        "recurrence",
                        "not_allowed",
                        "an exception (recurring_event_id set) cannot have its own recurrence",
                    );
                }
                match EventTime::parse(os) {
                    Ok(original_start) => {
                        if let Some(s) = &schedule
                            && s.is_all_day() != original_start.is_all_day()
                        {
                            v.push("original_start", "same_kind", "must be all-day exactly when start is");
                        }
                        Some(SeriesLink { series_id, original_start })
                    }
                    Err(e) => {
                        v.extend(e.nest("original_start"));
                        None
                    }
                }
            }
            (Some(_), None) => {
                v.push(
                    "original_start",
                    "required",
                    "is required with recurring_event_id: the start the occurrence had in the series",
                );
                None
            }
            (None, Some(_)) => {
                v.push("recurring_event_id", "required", "is required with original_start: the id of the series");
                None
            }
        };
        if input.attendees.len() > ATTENDEES_MAX {
            v.push(
                "attendees",
                "max_items",
                format!("has {} entries; at most {ATTENDEES_MAX} are allowed", input.attendees.len()),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, a) in input.attendees.iter().enumerate() {
            let field = format!("attendees[{i}].email");
            check_email(&mut v, &field, &a.email);
            if !seen.insert(a.email.to_lowercase()) {
                v.push(&field, "unique", format!("{} is listed twice", a.email));
            }
            if let Some(n) = &a.name {
                check_len(&mut v, &format!("attendees[{i}].name"), n, ATTENDEE_NAME_MAX_CHARS);
            }
        }
        let (Some(schedule), Some(recurrence)) = (schedule, recurrence) else {
            return Err(v);
        };
        v.into_result(Self {
            calendar_id: input.calendar_id,
            title: input.title,
            description: input.description,
            location: input.location,
            schedule,
            recurrence,
            series,
            status: input.status,
            transparency: input.transparency,
            visibility: input.visibility,
            attendees: input.attendees,
            color: input.color,
        })
    }

    /// The JSON form, such that `parse(to_input())` gives the same draft back.
    pub fn to_input(&self) -> EventInput {
        EventInput {
            id: None,
            calendar_id: self.calendar_id,
            title: self.title.clone(),
            description: self.description.clone(),
            location: self.location.clone(),
            start: self.schedule.start().to_input(),
            end: self.schedule.end().to_input(),
            recurrence: self.recurrence.lines().to_vec(),
            recurring_event_id: self.series.as_ref().map(|s| s.series_id),
            original_start: self.series.as_ref().map(|s| s.original_start.to_input()),
            status: self.status,
            transparency: self.transparency,
            visibility: self.visibility,
            attendees: self.attendees.clone(),
            color: self.color.clone(),
        }
    }

    pub fn calendar_id(&self) -> CalendarId {
        self.calendar_id
    }
    pub fn title(&self) -> &str {
        &self.title
    }
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
    pub fn recurrence(&self) -> &Recurrence {
        &self.recurrence
    }
    pub fn series(&self) -> Option<&SeriesLink> {
        self.series.as_ref()
    }
    pub fn status(&self) -> Status {
        self.status
    }
    pub fn transparency(&self) -> Transparency {
        self.transparency
    }
    pub fn visibility(&self) -> Visibility {
        self.visibility
    }
    pub fn attendees(&self) -> &[Attendee] {
        &self.attendees
    }
    pub fn color(&self) -> Option<&str> {
        self.color.as_deref()
    }

    /// A series master: has recurrence lines.
    pub fn is_series(&self) -> bool {
        !self.recurrence.is_empty()
    }

    /// The stretch of time (UTC epoch milliseconds) that holds every occurrence, used by the
    /// store to find events in a window. All-day dates float, so they get 14 hours of slack
    /// on each side (the widest UTC offsets). A series without end reaches `i64::MAX`.
    pub fn span_millis(&self) -> (i64, i64) {
        const SLACK: i64 = 14 * 3_600_000;
        let slack = if self.schedule.is_all_day() { SLACK } else { 0 };
        let utc = TimeZone::UTC;
        let first = self.schedule.start();
        let single_start = first.instant(&utc).as_millisecond();
        let single_end = self.schedule.end().instant(&utc).as_millisecond();
        if !self.is_series() {
            return (single_start - slack, single_end + slack);
        }
        // An RDATE may come before DTSTART (RFC 5545 §3.8.5.2): it is then the first occurrence.
        let start = match self.recurrence.earliest_extra() {
            Some(extra) => single_start.min(occurrence_start(first, extra).instant(&utc).as_millisecond()),
            None => single_start,
        } - slack;
        if self.recurrence.is_infinite() {
            return (start, i64::MAX);
        }
        let starts = self.recurrence.starts(first.civil(), None);
        if !starts.complete {
            return (start, i64::MAX);
        }
        let end = starts
            .starts
            .iter()
            .map(|(s, len)| occurrence_end_instant(&self.schedule, *s, *len, &utc).as_millisecond())
            .max()
            .unwrap_or(single_end);
        (start, end.max(single_end) + slack)
    }
}

/// The occurrence of a series (whose first start is `first`) at local time `local`.
pub fn occurrence_start(first: &EventTime, local: jiff::civil::DateTime) -> EventTime {
    match first {
        EventTime::Date(_) => EventTime::Date(local.date()),
        EventTime::DateTime { zone, .. } => EventTime::DateTime { local, zone: zone.clone() },
    }
}

/// The exact end instant of an occurrence starting at local time `start`: its start plus the
/// exact length for timed series (never re-read from a wall-clock time, which is ambiguous in
/// a DST fold); the end date's midnight in `all_day_zone` for all-day ones.
pub fn occurrence_end_instant(
    schedule: &Schedule,
    start: jiff::civil::DateTime,
    own: Option<Length>,
    all_day_zone: &TimeZone,
) -> Timestamp {
    match (schedule.start(), own.unwrap_or(schedule.length())) {
        (EventTime::DateTime { zone, .. }, Length::Exact(d)) => {
            let begin = crate::event_time::resolve(zone.zone(), start);
            begin.saturating_add(d).unwrap_or(begin)
        }
        _ => occurrence_end(schedule, start, own).instant(all_day_zone),
    }
}

/// The end of an occurrence that starts at local time `start`: the series' length, or the
/// occurrence's own (RDATE period). Timed lengths are exact (RFC 5545 §3.8.5.3).
pub fn occurrence_end(schedule: &Schedule, start: jiff::civil::DateTime, own: Option<Length>) -> EventTime {
    match (schedule.start(), schedule.end(), own.unwrap_or(schedule.length())) {
        (EventTime::Date(_), _, Length::Days(days)) => {
            EventTime::Date(start.date().saturating_add(jiff::Span::new().days(days)))
        }
        (EventTime::DateTime { zone, .. }, EventTime::DateTime { zone: end_zone, .. }, length) => {
            let exact = match length {
                Length::Exact(d) => d,
                Length::Days(d) => SignedDuration::from_hours(24 * d),
            };
            let begin = crate::event_time::resolve(zone.zone(), start);
            let end = begin.saturating_add(exact).unwrap_or(begin);
            EventTime::DateTime {
                local: end.to_zoned_datetime(end_zone.zone().clone()).datetime(),
                zone: end_zone.clone(),
            }
        }
        (s, _, _) => s.clone(),
    }
}

fn check_email(v: &mut Violations, field: &str, email: &str) {
    check_len(v, field, email, EMAIL_MAX_CHARS);
    let ok = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@') && domain.contains('.')
    }) && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        v.push(field, "email", format!("{email:?} is not an email address"));
    }
}

/// Sync and bookkeeping data of a stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Where the event was created.
    pub source: Source,
    /// Where it was last changed.
    pub updated_at_source: Source,
    /// Starts at 1; grows by one on every change (also on delete). Used as the HTTP ETag.
    pub version: i64,
    /// Set when deleted: the row stays as a tombstone so sync can propagate the deletion.
    pub deleted_at: Option<Timestamp>,
}

impl EventMeta {
    /// The metadata of an event created at `at` by `source`: version 1, not deleted.
    pub fn created(at: Timestamp, source: Source) -> Self {
        Self { created_at: at, updated_at: at, source, updated_at_source: source, version: 1, deleted_at: None }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    pub draft: EventDraft,
    pub meta: EventMeta,
}

impl Event {
    pub fn is_deleted(&self) -> bool {
        self.meta.deleted_at.is_some()
    }
}

/// The JSON form of a stored event: the input fields plus id and metadata.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventView {
    pub id: EventId,
    #[serde(flatten)]
    pub content: EventInput,
    #[schema(value_type = String, example = "2026-05-01T09:30:00Z")]
    pub created_at: Timestamp,
    #[schema(value_type = String, example = "2026-05-01T09:30:00Z")]
    pub updated_at: Timestamp,
    pub source: Source,
    pub updated_at_source: Source,
    pub version: i64,
    pub deleted: bool,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        Self {
            id: e.id,
            content: e.draft.to_input(),
            created_at: e.meta.created_at,
            updated_at: e.meta.updated_at,
            source: e.meta.source,
            updated_at_source: e.meta.updated_at_source,
            version: e.meta.version,
            deleted: e.is_deleted(),
        }
    }
}
