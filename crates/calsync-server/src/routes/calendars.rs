use crate::auth::AuthUser;
use crate::extract::{ApiJson, IdPath, etag, if_match};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use calsync_core::{CalendarDraft, CalendarId, CalendarInput, CalendarView, Source};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_calendar, list_calendars)).routes(routes!(
        get_calendar,
        update_calendar,
        delete_calendar
    ))
}

fn with_etag(status: StatusCode, calendar: &calsync_core::Calendar) -> Response {
    let mut response = (status, Json(CalendarView::from(calendar))).into_response();
    response.headers_mut().insert(header::ETAG, etag(calendar.version));
    response
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CalendarList {
    pub calendars: Vec<CalendarView>,
}

#[utoipa::path(post, path = "/api/v1/calendars", tag = "calendars", request_body = CalendarInput, security(("bearer" = [])),
    responses((status = 201, body = CalendarView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_calendar(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(input): ApiJson<CalendarInput>,
) -> Result<Response, ApiError> {
    let draft = CalendarDraft::parse(input)?;
    let calendar = state.store.create_calendar(user.id, CalendarId::new(), &draft).await?;
    let mut response = with_etag(StatusCode::CREATED, &calendar);
    if let Ok(location) = format!("/api/v1/calendars/{}", calendar.id).parse() {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/calendars", tag = "calendars", security(("bearer" = [])),
    responses((status = 200, body = CalendarList)))]
async fn list_calendars(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Json<CalendarList>, ApiError> {
    let calendars = state.store.list_calendars(user.id).await?;
    Ok(Json(CalendarList { calendars: calendars.iter().map(CalendarView::from).collect() }))
}

#[utoipa::path(get, path = "/api/v1/calendars/{id}", tag = "calendars", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Calendar id")),
    responses((status = 200, body = CalendarView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_calendar(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<CalendarId>,
) -> Result<Response, ApiError> {
    Ok(with_etag(StatusCode::OK, &state.store.get_calendar(user.id, id).await?))
}

#[utoipa::path(put, path = "/api/v1/calendars/{id}", tag = "calendars", request_body = CalendarInput, security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Calendar id"), ("If-Match" = Option<String>, Header, description = "ETag to update conditionally")),
    responses((status = 200, body = CalendarView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 412, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_calendar(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<CalendarId>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<CalendarInput>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let draft = CalendarDraft::parse(input)?;
    Ok(with_etag(StatusCode::OK, &state.store.update_calendar(user.id, id, &draft, expected).await?))
}

/// Deletes the calendar and all its events (they become tombstones in the change feed).
#[utoipa::path(delete, path = "/api/v1/calendars/{id}", tag = "calendars", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Calendar id"), ("If-Match" = Option<String>, Header, description = "ETag to delete conditionally")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 412, body = Problem, content_type = "application/problem+json")))]
async fn delete_calendar(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<CalendarId>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let deleted = state.store.delete_calendar(user.id, id, if_match(&headers)?, Source::Local).await?;
    if deleted > 0 {
        state.local_change(user.id).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
