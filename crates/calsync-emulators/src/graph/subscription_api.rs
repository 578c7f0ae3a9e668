//! `/v1.0/subscriptions` (protocols.md §2.6): create (validation handshake first, 201),
//! list, get, renew (PATCH, which also reauthorizes), reauthorize, delete.

use super::Shared;
use super::api::{Caller, Need};
use super::error::{GraphError, GraphResult};
use super::ids::{self, IdType};
use super::subscriptions::{Lifetime, Subscription, Watched, parse_new};
use super::when::Prefer;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1.0/subscriptions", get(list).post(create))
        .route("/v1.0/subscriptions/{id}", get(get_one).patch(renew).delete(delete))
        .route("/v1.0/subscriptions/{id}/reauthorize", post(reauthorize))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [("content-type", "application/json; odata.metadata=minimal; charset=utf-8")], body.to_string())
        .into_response()
}

fn object(body: &Bytes) -> GraphResult<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(GraphError::body_read("The request body must be a JSON object.")),
        Err(e) => Err(GraphError::body_read(format!("Invalid JSON. {e}"))),
    }
}

fn lifetime(s: &Shared) -> Lifetime {
    let c = s.config();
    Lifetime { max_minutes: c.subscription_max_minutes, min_minutes: c.subscription_min_minutes }
}

fn validation_failed(url: &str, why: &str) -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "ValidationError",
        format!(
            "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request ({url}: {why})."
        ),
    )
}

async fn create(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> GraphResult<Response> {
    caller.require(Need::ReadCalendars)?;
    let body = object(&body)?;
    let config = s.config();
    let now = Timestamp::now();
    let (user_id, new, watched) = {
        let w = s.world();
        let user_id = w.user(&caller.user)?.id.clone();
        let new = parse_new(&body, config.allow_http_loopback_webhooks, &caller.user, &user_id)?;
        let watched = match &new.calendar {
            None => Watched::Mailbox,
            Some(cal) => Watched::Calendar(w.resolve_calendar(&caller.user, cal.as_deref()).map_err(|_| {
                GraphError::invalid_request(format!(
                    "Resource '{}' does not name a calendar of this mailbox.",
                    new.resource
                ))
            })?),
        };
        (user_id, new, watched)
    };
    let expires = lifetime(&s).clamp(new.expires, now)?;
    // The handshake, with no lock held (MS-WH): both URLs must echo their token in time.
    for url in std::iter::once(&new.notification_url).chain(new.lifecycle_url.as_ref()) {
        s.subs.courier.validate(url, config.validation_timeout).await.map_err(|why| validation_failed(url, &why))?;
    }
    let sub = Subscription {
        id: ids::guid(),
        user: caller.user.clone(),
        user_id,
        client_id: caller.client_id.clone(),
        resource: new.resource,
        watched,
        change_types: new.change_types,
        client_state: new.client_state,
        notification_url: new.notification_url,
        lifecycle_url: new.lifecycle_url,
        expires,
        id_type: if Prefer::parse(&headers).immutable_ids { IdType::Immutable } else { IdType::Rest },
        paused: false,
    };
    s.subs.insert(sub.clone());
    Ok(json_response(StatusCode::CREATED, &sub.json(&s.base_url)))
}

async fn list(State(s): State<Arc<Shared>>, caller: Caller) -> GraphResult<Response> {
    let value: Vec<Value> = s.subs.list(&caller.user, &caller.client_id).iter().map(|x| x.json(&s.base_url)).collect();
    let body = json!({"@odata.context": format!("{}/v1.0/$metadata#subscriptions", s.base_url), "value": value});
    Ok(json_response(StatusCode::OK, &body))
}

async fn get_one(State(s): State<Arc<Shared>>, caller: Caller, Path(id): Path<String>) -> GraphResult<Response> {
    let sub = s.subs.get(&id, &caller.user, &caller.client_id)?;
    Ok(json_response(StatusCode::OK, &sub.json(&s.base_url)))
}

/// PATCH `{"expirationDateTime"}`: renews (clamped like a create) and reauthorizes.
async fn renew(
    State(s): State<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> GraphResult<Response> {
    s.subs.get(&id, &caller.user, &caller.client_id)?;
    let body = object(&body)?;
    let wanted = match body.get("expirationDateTime") {
        Some(Value::String(t)) => t
            .parse::<Timestamp>()
            .map_err(|_| GraphError::body_read("expirationDateTime is not a valid DateTimeOffset."))?,
        _ => return Err(GraphError::invalid_request("expirationDateTime is required.")),
    };
    if let Some(other) = body.keys().find(|k| k.as_str() != "expirationDateTime" && !k.starts_with('@')) {
        return Err(GraphError::invalid_request(format!(
            "'{other}' cannot be changed; only expirationDateTime can (lifecycleNotificationUrl only at creation)."
        )));
    }
    let expires = lifetime(&s).clamp(wanted, Timestamp::now())?;
    let sub = s
        .subs
        .update(&id, |x| {
            x.expires = expires;
            x.paused = false;
        })
        .ok_or_else(super::subscriptions::not_found)?;
    Ok(json_response(StatusCode::OK, &sub.json(&s.base_url)))
}

async fn reauthorize(State(s): State<Arc<Shared>>, caller: Caller, Path(id): Path<String>) -> GraphResult<Response> {
    s.subs.get(&id, &caller.user, &caller.client_id)?;
    s.subs.update(&id, |x| x.paused = false);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete(State(s): State<Arc<Shared>>, caller: Caller, Path(id): Path<String>) -> GraphResult<Response> {
    s.subs.get(&id, &caller.user, &caller.client_id)?;
    s.subs.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}
