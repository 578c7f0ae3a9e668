//! FullCalendar event objects (<https://fullcalendar.io/docs/event-object>) made from
//! occurrences.

use crate::event_time::EventTime;
use crate::ids::{CalendarId, EventId};
use crate::series::Occurrence;
use crate::source::Source;
use jiff::tz::TimeZone;
use serde::Serialize;

/// One event object as FullCalendar's JSON feed expects it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FullCalendarEvent {
    /// Unique per occurrence: the event id, or `{series id}_{original start}` for a
    /// generated occurrence of a series.
    pub id: String,
    /// The series id, so FullCalendar drags a series' occurrences together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<EventId>,
    pub title: String,
    /// `YYYY-MM-DD` when all-day; else a date-time in the requested zone.
    pub start: String,
    pub end: String,
    pub all_day: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    pub extended_props: ExtendedProps,
}

/// calsync's own data about the occurrence, for the app's event form.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExtendedProps {
    /// The stored event to open when editing: the single event, the series master or the exception.
    pub event_id: EventId,
    pub calendar_id: CalendarId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_id: Option<EventId>,
    /// The start the series' rules gave this occurrence (its RECURRENCE-ID), as a date or an
    /// RFC 3339 instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_start: Option<String>,
    pub source: Source,
    pub updated_at_source: Source,
    pub version: i64,
    pub status: crate::event::Status,
    pub transparency: crate::event::Transparency,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where the event stands with the linked providers (the feed fills it in).
    pub sync: SyncState,
}

/// How an event stands with the providers its calendar is linked to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Every linked provider has this version (or the calendar is not linked).
    #[default]
    Synced,
    /// A change waits in the outbox of some link.
    Pending,
    /// Changed here and at a provider: waiting for the user to decide.
    Conflict,
    /// A provider refused it for good (parked with the reason on the link).
    Error,
}

impl SyncState {
    /// The state to show when several links disagree: the one that needs the user most.
    #[must_use]
    pub fn worst(self, other: Self) -> Self {
        let rank = |s: Self| match s {
            Self::Synced => 0,
            Self::Pending => 1,
            Self::Error => 2,
            Self::Conflict => 3,
        };
        if rank(other) > rank(self) { other } else { self }
    }
}

/// How timed values are written: local wall time in a named zone (what FullCalendar expects
/// when it sent `timeZone=Area/City`), or UTC instants with `Z`.
#[derive(Debug, Clone)]
pub enum Rendering {
    Utc,
    Named(TimeZone),
}

impl Rendering {
    fn zone(&self) -> TimeZone {
        match self {
            Self::Utc => TimeZone::UTC,
            Self::Named(z) => z.clone(),
        }
    }

    fn write(&self, t: &EventTime, ts: jiff::Timestamp) -> String {
        match t {
            EventTime::Date(d) => d.to_string(),
            EventTime::DateTime { .. } => match self {
                Self::Utc => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                Self::Named(z) => ts.to_zoned_datetime(z.clone()).strftime("%Y-%m-%dT%H:%M:%S").to_string(),
            },
        }
    }
}

pub fn to_fullcalendar(o: &Occurrence<'_>, rendering: &Rendering) -> FullCalendarEvent {
    let e = o.event;
    let d = &e.draft;
    let id = match &o.series {
        Some((series_id, original)) if e.id == *series_id => {
            format!("{series_id}_{}", original.compact())
        }
        _ => e.id.to_string(),
    };
    FullCalendarEvent {
        id,
        group_id: o.series.as_ref().map(|(s, _)| *s),
        title: d.title().to_owned(),
        start: rendering.write(&o.start, o.start_at),
        end: rendering.write(&o.end, o.end_at),
        all_day: o.start.is_all_day(),
        color: d.color().map(str::to_owned),
        extended_props: ExtendedProps {
            event_id: e.id,
            calendar_id: d.calendar_id(),
            series_id: o.series.as_ref().map(|(s, _)| *s),
            original_start: o.series.as_ref().map(|(_, t)| match t {
                EventTime::Date(d) => d.to_string(),
                _ => t.instant(&rendering.zone()).to_string(),
            }),
            source: e.meta.source,
            updated_at_source: e.meta.updated_at_source,
            version: e.meta.version,
            status: d.status(),
            transparency: d.transparency(),
            location: d.location().map(str::to_owned),
            description: d.description().map(str::to_owned),
            sync: SyncState::Synced,
        },
    }
}
