use crate::auth::AuthUser;
use crate::extract::{ApiJson, IdPath, etag, from_value, if_match};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use calsync_core::{Event, EventDraft, EventId, EventInput, EventView, Source};
use calsync_store::{NewEvent, StoreError};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_event)).routes(routes!(
        get_event,
        replace_event,
        patch_event,
        delete_event
    ))
}

fn respond(status: StatusCode, event: &Event) -> Response {
    let mut response = (status, Json(EventView::from(event))).into_response();
    response.headers_mut().insert(header::ETAG, etag(event.meta.version));
    response
}

fn object(body: Value) -> Result<serde_json::Map<String, Value>, ApiError> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_field("body", "object", "must be a JSON object")),
    }
}

#[utoipa::path(post, path = "/api/v1/events", tag = "events", request_body = EventInput, security(("bearer" = [])),
    responses((status = 201, body = EventView, headers(("ETag" = String), ("Location" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_event(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let input = from_value::<EventInput>(Value::Object(object(body)?))?;
    // A client-chosen id makes retries safe; otherwise a new time-ordered one.
    let id = input.id.unwrap_or_default();
    let draft = EventDraft::parse(input)?;
    let mut created = state.store.create_events(user.id, vec![NewEvent { id, draft, source: Source::Local }]).await?;
    let event = created.remove(0);
    state.local_change(user.id).await;
    let mut response = respond(StatusCode::CREATED, &event);
    if let Ok(location) = format!("/api/v1/events/{}", event.id).parse() {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// An event. A deleted event answers 410 Gone.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id")),
    responses((status = 200, body = EventView, headers(("ETag" = String))), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 410, body = Problem, content_type = "application/problem+json")))]
async fn get_event(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<EventId>,
) -> Result<Response, ApiError> {
    let event = state.store.get_event(user.id, id).await?;
    if event.is_deleted() {
        return Err(ApiError::Gone(format!("event {id} was deleted")));
    }
    Ok(respond(StatusCode::OK, &event))
}

/// Replaces the whole event. With `If-Match`, only if the version is still current.
#[utoipa::path(put, path = "/api/v1/events/{id}", tag = "events", request_body = EventInput, security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id"), ("If-Match" = Option<String>, Header, description = "ETag to update conditionally")),
    responses((status = 200, body = EventView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, body = Problem, content_type = "application/problem+json"), (status = 412, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn replace_event(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<EventId>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let map = object(body)?;
    if map.contains_key("id") {
        return Err(ApiError::bad_field("id", "read_only", "the id is in the URL and cannot be changed"));
    }
    let draft = EventDraft::parse(from_value::<EventInput>(Value::Object(map))?)?;
    let event = state.store.update_event(user.id, id, draft, expected, Source::Local).await?;
    state.local_change(user.id).await;
    Ok(respond(StatusCode::OK, &event))
}

/// Changes some fields: a JSON merge patch (RFC 7396) over the event's JSON form; `null`
/// removes a field.
#[utoipa::path(patch, path = "/api/v1/events/{id}", tag = "events", request_body(content = Object, content_type = "application/merge-patch+json"),
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id"), ("If-Match" = Option<String>, Header, description = "ETag to update conditionally")),
    responses((status = 200, body = EventView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, body = Problem, content_type = "application/problem+json"), (status = 412, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn patch_event(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<EventId>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let patch = Value::Object(object(patch)?);
    if patch.get("id").is_some() {
        return Err(ApiError::bad_field("id", "read_only", "the id is in the URL and cannot be changed"));
    }
    // Without If-Match the client did not pin a version, but the patch must still apply to
    // the version it was merged with: retry on a concurrent change instead of losing it.
    for _ in 0..3 {
        let current = state.store.get_event(user.id, id).await?;
        if current.is_deleted() {
            return Err(ApiError::Gone(format!("event {id} was deleted")));
        }
        if let Some(v) = expected
            && v != current.meta.version
        {
            return Err(StoreError::VersionMismatch { expected: v, current: current.meta.version }.into());
        }
        let mut doc = serde_json::to_value(current.draft.to_input()).map_err(|e| ApiError::Internal(e.to_string()))?;
        merge_patch(&mut doc, &patch);
        let draft = EventDraft::parse(from_value::<EventInput>(doc)?)?;
        match state.store.update_event(user.id, id, draft, Some(current.meta.version), Source::Local).await {
            Ok(event) => {
                state.local_change(user.id).await;
                return Ok(respond(StatusCode::OK, &event));
            }
            Err(StoreError::VersionMismatch { .. }) if expected.is_none() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(format!("event {id} kept changing while the patch was applied; retry")))
}

/// RFC 7396 §2.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Deletes the event (it stays as a tombstone in the change feed). Deleting a series
/// deletes its exceptions.
#[utoipa::path(delete, path = "/api/v1/events/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id"), ("If-Match" = Option<String>, Header, description = "ETag to delete conditionally")),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 410, body = Problem, content_type = "application/problem+json"), (status = 412, body = Problem, content_type = "application/problem+json")))]
async fn delete_event(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<EventId>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    state.store.delete_event(user.id, id, if_match(&headers)?, Source::Local).await?;
    state.local_change(user.id).await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::merge_patch;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"title": "a", "start": {"date_time": "x", "time_zone": "UTC"}, "location": "here"});
        merge_patch(&mut doc, &json!({"title": "b", "start": {"date_time": "y"}, "location": null}));
        assert_eq!(doc, json!({"title": "b", "start": {"date_time": "y", "time_zone": "UTC"}}));
    }
}
