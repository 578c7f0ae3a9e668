//! Push notifications from providers. They only say *that* something changed: the link
//! becomes due (debounced) and the worker's pull fetches *what*.

use crate::extract::ApiQuery;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use calsync_core::LinkId;
use calsync_store::Link;
use serde::Deserialize;
use std::collections::HashSet;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(google_notification))
        .routes(routes!(graph_notification))
        .routes(routes!(graph_lifecycle))
}

/// A burst of notifications within this window causes one pull (Google sends one per
/// changed event; a bulk edit arrives as a burst within milliseconds).
const DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(250);

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[utoipa::path(post, path = "/webhooks/google", tag = "webhooks",
    params(("X-Goog-Channel-ID" = String, Header, description = "The channel calsync opened"),
           ("X-Goog-Channel-Token" = String, Header, description = "The channel's secret token"),
           ("X-Goog-Resource-State" = String, Header, description = "sync, exists or not_exists"),
           ("X-Goog-Message-Number" = String, Header, description = "Increases per channel")),
    responses((status = 204, description = "Accepted (or a duplicate, ignored)"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn google_notification(State(state): State<AppState>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let metrics = state.metrics.clone();
    let reject = |outcome: &'static str, e: ApiError| {
        metrics.webhook(outcome);
        e
    };
    let (Some(channel), Some(token), Some(resource_state), Some(number)) = (
        header(&headers, "x-goog-channel-id"),
        header(&headers, "x-goog-channel-token"),
        header(&headers, "x-goog-resource-state"),
        header(&headers, "x-goog-message-number").and_then(|n| n.parse::<i64>().ok()),
    ) else {
        return Err(reject(
            "malformed",
            ApiError::bad_field(
                "X-Goog-Channel-ID",
                "required",
                "a Google notification carries X-Goog-Channel-ID, X-Goog-Channel-Token, X-Goog-Resource-State and a numeric X-Goog-Message-Number",
            ),
        ));
    };
    if resource_state == "sync" {
        // A channel's first message says only that it exists. It can arrive before the
        // channel is stored (it is sent while the watch request is answered), so it is
        // acknowledged without a lookup and has no effect.
        state.metrics.webhook("sync");
        return Ok(StatusCode::NO_CONTENT);
    }
    let Some(link) = state.store.link_by_channel(channel).await? else {
        return Err(reject("unknown_channel", ApiError::NotFound("no link has this channel".into())));
    };
    let expected = link.channel.as_ref().map(|c| c.token.as_str());
    if !expected.is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes())) {
        return Err(reject("bad_token", ApiError::Forbidden("the channel token does not match".into())));
    }
    if !state.store.accept_notification(link.id, channel, number).await? {
        state.metrics.webhook("duplicate");
        return Ok(StatusCode::NO_CONTENT);
    }
    mark_due_debounced(&state, link.id).await?;
    state.metrics.webhook("accepted");
    Ok(StatusCode::NO_CONTENT)
}

/// Makes the link due when the debounce window closes, and wakes a worker then, not now.
async fn mark_due_debounced(state: &AppState, link: LinkId) -> Result<(), ApiError> {
    let due = state.clock.now().checked_add(DEBOUNCE).unwrap_or_else(|_| state.clock.now());
    state.store.mark_due(link, due).await?;
    if let Some(sync) = state.sync.clone() {
        tokio::spawn(async move {
            tokio::time::sleep(DEBOUNCE).await;
            sync.wake_workers();
        });
    }
    Ok(())
}

/// Graph checks a notification URL before it creates a subscription (protocols.md §2.6):
/// it posts `?validationToken=…` and wants the token back as plain text within 10 s.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Validation {
    /// Present only in Graph's validation request.
    #[serde(rename = "validationToken", default)]
    #[param(rename = "validationToken")]
    pub validation_token: Option<String>,
}

/// The longest validation token echoed; Graph's are far shorter.
const MAX_VALIDATION_TOKEN: usize = 4096;

/// Answers Graph's validation request, if this is one.
fn validation_echo(v: &Validation) -> Option<Result<Response, ApiError>> {
    let token = v.validation_token.as_ref()?;
    if token.is_empty() || token.len() > MAX_VALIDATION_TOKEN {
        return Some(Err(ApiError::bad_field(
            "validationToken",
            "length",
            format!("a validation token has 1 to {MAX_VALIDATION_TOKEN} characters"),
        )));
    }
    let headers = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    Some(Ok((StatusCode::OK, headers, token.clone()).into_response()))
}

/// A batch of Graph notifications (change or lifecycle): `{"value": [...]}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct GraphBatch {
    pub value: Vec<GraphNotification>,
}

/// One notification; only what calsync acts on. A change notification only says that
/// something changed: the pull fetches what.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphNotification {
    pub subscription_id: String,
    /// The secret calsync gave the subscription; anything else is forged.
    #[serde(default)]
    pub client_state: Option<String>,
    /// Lifecycle notifications: `reauthorizationRequired`, `subscriptionRemoved`, `missed`.
    #[serde(default)]
    pub lifecycle_event: Option<String>,
}

/// Most notifications one batch may carry; Graph batches a few.
const MAX_BATCH: usize = 100;
/// Longest subscription id looked up (Graph's are GUIDs).
const MAX_SUBSCRIPTION_ID: usize = 128;

fn parse_batch(body: &[u8]) -> Result<GraphBatch, ApiError> {
    let batch: GraphBatch = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_field("value", "json", format!("a Graph notification is {{\"value\": [...]}} in JSON: {e}"))
    })?;
    if batch.value.is_empty() || batch.value.len() > MAX_BATCH {
        return Err(ApiError::bad_field("value", "length", format!("a batch carries 1 to {MAX_BATCH} notifications")));
    }
    for (i, n) in batch.value.iter().enumerate() {
        let id = &n.subscription_id;
        if id.is_empty() || id.len() > MAX_SUBSCRIPTION_ID || id.chars().any(char::is_control) {
            return Err(ApiError::bad_field(
                &format!("value[{i}].subscriptionId"),
                "format",
                format!("a subscription id has 1 to {MAX_SUBSCRIPTION_ID} printable characters"),
            ));
        }
    }
    Ok(batch)
}

/// The notifications of `batch` that name a live subscription with its secret, with
/// their link. The rest have no effect; if none is genuine, the batch is refused.
/// Each with its subscription id and lifecycle event (empty for a change notification).
async fn genuine(state: &AppState, batch: &GraphBatch) -> Result<Vec<(Link, String, String)>, ApiError> {
    let mut found = Vec::new();
    let mut forged = false;
    let mut seen = HashSet::new();
    for n in &batch.value {
        if !seen.insert((n.subscription_id.as_str(), n.lifecycle_event.as_deref())) {
            continue;
        }
        let Some(link) = state.store.link_by_channel(&n.subscription_id).await? else {
            state.metrics.webhook("unknown_channel");
            continue;
        };
        let expected = link.channel.as_ref().map(|c| c.token.as_bytes());
        let given = n.client_state.as_deref().unwrap_or_default().as_bytes();
        if !expected.is_some_and(|t| constant_time_eq(t, given)) {
            state.metrics.webhook("bad_token");
            forged = true;
            continue;
        }
        found.push((link, n.subscription_id.clone(), n.lifecycle_event.clone().unwrap_or_default()));
    }
    if found.is_empty() {
        return Err(if forged {
            ApiError::Forbidden("the notification's clientState does not match its subscription".into())
        } else {
            ApiError::NotFound("no link has this subscription".into())
        });
    }
    Ok(found)
}

/// What Graph posted to a notification URL.
enum Posted {
    /// Its validation request, answered with the echo.
    Validation(Response),
    /// A batch, reduced to its genuine notifications (link, subscription, lifecycle event).
    Genuine(Vec<(Link, String, String)>),
}

async fn read_graph_post(state: &AppState, v: &Validation, body: &[u8]) -> Result<Posted, ApiError> {
    if let Some(echo) = validation_echo(v) {
        return echo.map(Posted::Validation);
    }
    let batch = parse_batch(body).inspect_err(|_| state.metrics.webhook("malformed"))?;
    Ok(Posted::Genuine(genuine(state, &batch).await?))
}

#[utoipa::path(post, path = "/webhooks/graph", tag = "webhooks", params(Validation), request_body = GraphBatch,
    responses((status = 200, description = "The validation token, echoed", content_type = "text/plain"),
              (status = 202, description = "Accepted: the links are due"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn graph_notification(
    State(state): State<AppState>,
    ApiQuery(v): ApiQuery<Validation>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let links = match read_graph_post(&state, &v, &body).await? {
        Posted::Validation(echo) => return Ok(echo),
        Posted::Genuine(links) => links,
    };
    // Persisted (the link is due) before the answer, so a 2xx never loses a change.
    let mut marked = HashSet::new();
    for (link, _, _) in links {
        if marked.insert(link.id) {
            mark_due_debounced(&state, link.id).await?;
        }
        state.metrics.webhook("accepted");
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

#[utoipa::path(post, path = "/webhooks/graph/lifecycle", tag = "webhooks", params(Validation), request_body = GraphBatch,
    responses((status = 200, description = "The validation token, echoed", content_type = "text/plain"),
              (status = 202, description = "Accepted"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn graph_lifecycle(
    State(state): State<AppState>,
    ApiQuery(v): ApiQuery<Validation>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let links = match read_graph_post(&state, &v, &body).await? {
        Posted::Validation(echo) => return Ok(echo),
        Posted::Genuine(links) => links,
    };
    let now = state.clock.now();
    for (link, subscription, event) in links {
        match event.as_str() {
            // The subscription needs a fresh authorization, or is gone: the link's next job
            // replaces it (a new subscription first, then the old one is deleted), and its
            // pull catches up on whatever was not announced meanwhile.
            "reauthorizationRequired" | "subscriptionRemoved" => {
                // Only if it is still the link's subscription: one replaced meanwhile is
                // left alone (the new one must not be orphaned).
                if let Some(mut channel) = link.channel.clone().filter(|c| c.id == subscription) {
                    channel.expires_at = now;
                    state.store.set_channel(link.id, Some(&channel)).await?;
                }
            }
            // Notifications were dropped: the pull (a delta from the stored cursor) sees
            // every change regardless.
            "missed" => {}
            other => tracing::info!(link = %link.id, event = other, "unknown Graph lifecycle event; pulling anyway"),
        }
        state.store.mark_due(link.id, now).await?;
        state.metrics.webhook("lifecycle");
    }
    if let Some(sync) = &state.sync {
        sync.wake_workers();
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Compares secrets without leaking how much of them matched through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
