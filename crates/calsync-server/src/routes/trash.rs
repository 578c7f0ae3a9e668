//! The trash: deleted events stay restorable for a while (30 days by default), whoever
//! deleted them — the app, a provider, a confirmed mass deletion. Restoring brings the
//! event back here and, through the outbox, at every linked provider.

use crate::auth::AuthUser;
use crate::extract::{ApiQuery, IdPath};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use calsync_core::{CalendarId, EventId, EventView, Source};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_trash)).routes(routes!(restore))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedEvent {
    #[serde(flatten)]
    pub event: EventView,
    /// When it was deleted (the trash keeps it until this plus the retention).
    #[schema(value_type = String)]
    pub deleted_at: jiff::Timestamp,
    /// Where the deletion came from: `local` or a provider.
    pub deleted_by: Source,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Trash {
    pub events: Vec<DeletedEvent>,
    /// How long the trash keeps deleted events, in days.
    pub retention_days: u64,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TrashQuery {
    /// At most this many, newest deletion first (default 100, at most 1000).
    pub limit: Option<u32>,
}

fn oldest_kept(state: &AppState) -> jiff::Timestamp {
    let now = state.clock.now();
    let keep = jiff::SignedDuration::try_from(state.trash_retention).unwrap_or(jiff::SignedDuration::ZERO);
    now.checked_sub(keep).unwrap_or(now)
}

#[utoipa::path(get, path = "/api/v1/calendars/{id}/trash", tag = "calendars", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Calendar id"), TrashQuery),
    responses((status = 200, body = Trash), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_trash(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(calendar): IdPath<CalendarId>,
    ApiQuery(q): ApiQuery<TrashQuery>,
) -> Result<Json<Trash>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_field("limit", "range", "must be 1 to 1000"));
    }
    let events = state.store.trash(user.id, calendar, oldest_kept(&state), limit).await?;
    let events = events
        .iter()
        .filter_map(|e| {
            let deleted_at = e.meta.deleted_at?;
            Some(DeletedEvent { event: EventView::from(e), deleted_at, deleted_by: e.meta.updated_at_source })
        })
        .collect();
    Ok(Json(Trash { events, retention_days: state.trash_retention.as_secs() / 86_400 }))
}

#[utoipa::path(post, path = "/api/v1/calendars/{id}/trash/{event_id}/restore", tag = "calendars", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Calendar id"), ("event_id" = uuid::Uuid, Path, description = "Deleted event id")),
    responses((status = 200, body = EventView, description = "Restored here; the outbox re-creates it at linked providers"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json", description = "Not in this calendar's trash (never deleted, or kept longer than the retention)"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn restore(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((calendar, event_id)): Path<(String, String)>,
) -> Result<Json<EventView>, ApiError> {
    let calendar: CalendarId =
        calendar.parse().map_err(|_| ApiError::bad_field("id", "uuid", "the calendar id must be a UUID"))?;
    let event_id: EventId =
        event_id.parse().map_err(|_| ApiError::bad_field("event_id", "uuid", "the event id must be a UUID"))?;
    let event = state.store.get_event(user.id, event_id).await?;
    let in_trash =
        event.draft.calendar_id() == calendar && event.meta.deleted_at.is_some_and(|t| t >= oldest_kept(&state));
    if !in_trash {
        return Err(ApiError::NotFound(format!("event {event_id} is not in the trash of calendar {calendar}")));
    }
    let restored = state.store.restore_event(user.id, event_id, Source::Local).await?;
    state.local_change(user.id).await;
    Ok(Json(EventView::from(&restored)))
}
