//! Reading a calendar by time: stored events in a range, and the FullCalendar feed with
//! series expanded into occurrences.

use crate::auth::AuthUser;
use crate::extract::{ApiQuery, IdPath};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use calsync_core::fullcalendar::{FullCalendarEvent, Rendering, to_fullcalendar};
use calsync_core::{CalendarId, EventView, Window, ZoneName, occurrences_from};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events)).routes(routes!(fullcalendar))
}

/// A time range. FullCalendar's JSON feed sends exactly these parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Start of the range: RFC 3339 instant, local date-time or date.
    pub start: Option<String>,
    /// End of the range (exclusive), same forms. At most 400 days after `start`.
    pub end: Option<String>,
    /// IANA zone for local values in `start`/`end`, all-day dates and the returned times.
    /// `local` or absent: the calendar's zone for reading, UTC instants for writing.
    #[serde(rename = "timeZone")]
    #[param(rename = "timeZone")]
    pub time_zone: Option<String>,
}

struct Range {
    window: Window,
    zone: jiff::tz::TimeZone,
    rendering: Rendering,
}

fn range(q: &RangeQuery, calendar_zone: &ZoneName) -> Result<Range, ApiError> {
    let named = match q.time_zone.as_deref() {
        None | Some("") | Some("local") => None,
        Some(z) => Some(ZoneName::parse(z).map_err(|m| ApiError::bad_field("timeZone", "time_zone", m))?),
    };
    let zone = named.as_ref().unwrap_or(calendar_zone).zone().clone();
    let window = Window::parse(q.start.as_deref(), q.end.as_deref(), &zone)
        .map_err(|v| ApiError::BadRequest { detail: v.to_string(), errors: v })?;
    let rendering = match &named {
        Some(z) if z.as_str() != "UTC" => Rendering::Named(z.zone().clone()),
        _ => Rendering::Utc,
    };
    Ok(Range { window, zone, rendering })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventList {
    pub events: Vec<EventView>,
}

/// Stored events (series as series, not expanded) that may occur in the range.
#[utoipa::path(get, path = "/api/v1/calendars/{id}/events", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Calendar id"), RangeQuery),
    responses((status = 200, body = EventList), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_events(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<CalendarId>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<EventList>, ApiError> {
    let calendar = state.store.get_calendar(user.id, id).await?;
    let r = range(&q, &calendar.draft.time_zone)?;
    let events = state.store.events_in_window(user.id, id, r.window).await?;
    Ok(Json(EventList { events: events.iter().map(EventView::from).collect() }))
}

/// FullCalendar event objects for the range: series expanded into their occurrences,
/// exceptions and cancelled occurrences applied. Point FullCalendar's `events` option here.
#[utoipa::path(get, path = "/api/v1/calendars/{id}/fullcalendar", tag = "feeds", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Calendar id"), RangeQuery),
    responses((status = 200, body = Vec<FullCalendarEvent>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn fullcalendar(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<CalendarId>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<Vec<FullCalendarEvent>>, ApiError> {
    let calendar = state.store.get_calendar(user.id, id).await?;
    let r = range(&q, &calendar.draft.time_zone)?;
    let events = state.store.events_in_window(user.id, id, r.window).await?;
    let sync = state.store.sync_states(user.id, id).await?;
    // Expanding can take milliseconds for big calendars: keep it off the async workers.
    let cache = state.expansions.clone();
    let feed = tokio::task::spawn_blocking(move || {
        occurrences_from(&events, &r.window, &r.zone, cache.as_ref())
            .iter()
            .map(|o| {
                let mut event = to_fullcalendar(o, &r.rendering);
                let props = &mut event.extended_props;
                // An occurrence shows its own state, else its series'.
                let series = props.series_id.and_then(|s| sync.get(&s)).copied().unwrap_or_default();
                props.sync = sync.get(&props.event_id).copied().unwrap_or_default().worst(series);
                event
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError::Internal(format!("feed expansion failed: {e}")))?;
    Ok(Json(feed))
}
