//! Push notifications from providers. They only say *that* something changed: the link
//! becomes due (debounced) and the worker's pull fetches *what*.

use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(google_notification))
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
    let due = state.clock.now().checked_add(DEBOUNCE).unwrap_or_else(|_| state.clock.now());
    state.store.mark_due(link.id, due).await?;
    state.metrics.webhook("accepted");
    if let Some(sync) = state.sync.clone() {
        // The link is due when the window closes: wake a worker then, not now.
        tokio::spawn(async move {
            tokio::time::sleep(DEBOUNCE).await;
            sync.wake_workers();
        });
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Compares secrets without leaking how much of them matched through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
