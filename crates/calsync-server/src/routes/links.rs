//! Links: a local calendar synced with a remote calendar of a connected account.

use crate::auth::AuthUser;
use crate::extract::{ApiJson, IdPath};
use crate::problem::{ApiError, Problem};
use crate::routes::accounts::sync;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use calsync_core::{AccountId, CalendarId, LinkId};
use calsync_store::{EventLinkState, Link, StoreError};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_link, list_links))
        .routes(routes!(delete_link))
        .routes(routes!(link_status))
        .routes(routes!(sync_link_now))
}

#[utoipa::path(post, path = "/api/v1/links/{id}/sync", tag = "links", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Link id")),
    responses((status = 202, description = "The link runs as soon as a worker is free (pull, then push)"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "Sync is not configured")))]
async fn sync_link_now(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<LinkId>,
) -> Result<StatusCode, ApiError> {
    let sync = sync(&state)?;
    let link = state.store.get_link(user.id, id).await?;
    state.store.mark_due(link.id, state.clock.now()).await?;
    sync.wake_workers();
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    /// Also delete the local events this link imported from the provider (default: keep them).
    #[serde(default)]
    pub remove_events: bool,
}

/// Ends a link: stops its push channel, forgets the event links, and keeps (or removes) the
/// events it imported. Nothing is deleted at the provider. Returns how many events were removed.
pub(crate) async fn unlink(
    state: &AppState,
    user: calsync_core::UserId,
    link: &Link,
    remove_events: bool,
) -> Result<usize, ApiError> {
    if let (Some(channel), Some(sync)) = (&link.channel, &state.sync) {
        let account = state.store.get_account(user, link.account_id).await?;
        if let Ok(provider) = calsync_engine::Providers::for_account(&*sync.providers, &account) {
            let c = calsync_providers::Channel {
                id: channel.id.clone(),
                resource_id: channel.resource_id.clone(),
                token: channel.token.clone(),
                expires_at_ms: channel.expires_at.as_millisecond(),
            };
            if let Err(e) = provider.unwatch(&c).await {
                tracing::info!(link = %link.id, error = %e, "could not stop the channel; it expires on its own");
            }
            calsync_engine::worker::keep_rotated_secret(&*sync.providers, &*state.store, &account, &provider).await;
        }
    }
    let events = state.store.delete_link(user, link.id).await?;
    let mut removed = 0;
    if remove_events {
        let account = state.store.get_account(user, link.account_id).await?;
        for id in events {
            let Ok(event) = state.store.get_event(user, id).await else { continue };
            if !event.is_deleted() && event.meta.source == account.provider {
                state.store.delete_event(user, id, None, calsync_core::Source::Local).await?;
                removed += 1;
            }
        }
        if removed > 0 {
            state.local_change(user).await;
        }
    }
    Ok(removed)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Removed {
    /// Local events deleted because they had been imported through the link.
    pub removed_events: usize,
}

#[utoipa::path(delete, path = "/api/v1/links/{id}", tag = "links", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Link id"), RemoveQuery),
    responses((status = 200, body = Removed), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn delete_link(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<LinkId>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<RemoveQuery>,
) -> Result<Json<Removed>, ApiError> {
    let link = state.store.get_link(user.id, id).await?;
    let removed_events = unlink(&state, user.id, &link, q.remove_events).await?;
    Ok(Json(Removed { removed_events }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub account_id: AccountId,
    /// The local calendar.
    pub calendar_id: CalendarId,
    /// The remote calendar's id, from `GET /api/v1/accounts/{id}/calendars`.
    pub remote_calendar_id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    pub id: LinkId,
    pub account_id: AccountId,
    pub calendar_id: CalendarId,
    pub remote_calendar_id: String,
    /// `importing`, `active`, `paused` or `error`.
    pub state: String,
    /// What a conflict does: `ask`, `local_wins`, `remote_wins`, `newest_wins`.
    pub policy: String,
    /// With `ask`: a conflict pauses the whole link instead of only its event.
    pub pause_on_conflict: bool,
    /// A pull deleting more than this many events at once pauses the link and asks.
    pub max_deletions: i64,
    /// … or more than this percentage of the link's events (from 5 deletions on).
    pub max_deletion_percent: i64,
    /// Why a safety brake paused the link; answer with `/confirm` or `/reject`.
    pub brake: Option<String>,
    /// `pull` or `push` (a mass change held back: `/confirm` or `/reject`), or `conflict`
    /// (paused until the link's conflicts are decided).
    pub brake_kind: Option<String>,
}

impl From<&Link> for LinkView {
    fn from(l: &Link) -> Self {
        Self {
            id: l.id,
            account_id: l.account_id,
            calendar_id: l.calendar_id,
            remote_calendar_id: l.remote_calendar_id.clone(),
            state: l.state.as_str().to_owned(),
            policy: l.settings.policy.as_str().to_owned(),
            pause_on_conflict: l.settings.pause_on_conflict,
            max_deletions: l.settings.max_deletions,
            max_deletion_percent: l.settings.max_deletion_percent,
            brake: l.brake.as_ref().map(|b| b.reason.clone()),
            brake_kind: l.brake.as_ref().map(|b| b.kind.as_str().to_owned()),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkList {
    pub links: Vec<LinkView>,
}

#[utoipa::path(post, path = "/api/v1/links", tag = "links", request_body = LinkInput, security(("bearer" = [])),
    responses((status = 201, body = LinkView), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_link(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(input): ApiJson<LinkInput>,
) -> Result<(StatusCode, Json<LinkView>), ApiError> {
    let sync = sync(&state)?;
    let remote = input.remote_calendar_id.trim();
    if remote.is_empty() || remote.len() > 1024 {
        return Err(ApiError::bad_field("remote_calendar_id", "length", "must be 1 to 1024 characters"));
    }
    let link =
        state.store.create_link(user.id, input.account_id, input.calendar_id, remote).await.map_err(|e| match e {
            StoreError::Invalid(v) => ApiError::Invalid(v),
            other => other.into(),
        })?;
    let link = if link.settings == sync.link_defaults {
        link
    } else {
        state.store.update_link_settings(user.id, link.id, &sync.link_defaults).await?
    };
    sync.wake_workers();
    Ok((StatusCode::CREATED, Json(LinkView::from(&link))))
}

#[utoipa::path(get, path = "/api/v1/links", tag = "links", security(("bearer" = [])), responses((status = 200, body = LinkList)))]
async fn list_links(State(state): State<AppState>, AuthUser(user): AuthUser) -> Result<Json<LinkList>, ApiError> {
    let links = state.store.list_links(user.id).await?;
    Ok(Json(LinkList { links: links.iter().map(LinkView::from).collect() }))
}

/// Everything a user needs to see that sync is working — or why not.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkStatus {
    pub id: LinkId,
    /// `importing`, `active`, `paused`, `error`; `needs_reauth` when the account must be reconnected.
    pub state: String,
    #[schema(value_type = Option<String>)]
    pub last_pull_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<String>)]
    pub last_push_at: Option<jiff::Timestamp>,
    /// Local changes not yet pushed (up to 10,000 counted).
    pub outbox_depth: usize,
    /// Age of the oldest change not yet pushed, in seconds.
    pub oldest_pending_secs: Option<i64>,
    /// Age of the provider cursor, in seconds (`null` before the import finished).
    pub cursor_age_secs: Option<i64>,
    /// While an import (or a full resync) reads the remote calendar: events read so far.
    pub listing_read: Option<i64>,
    /// Why a safety brake paused the link (state `paused`); answer with `/confirm` or `/reject`.
    pub brake: Option<String>,
    /// `pull` or `push` (a mass change held back: `/confirm` or `/reject`), or `conflict`
    /// (paused until the link's conflicts are decided).
    pub brake_kind: Option<String>,
    /// When the push channel expires (it is replaced before); `null` while the link is polled.
    #[schema(value_type = Option<String>)]
    pub channel_expires_at: Option<jiff::Timestamp>,
    pub last_error: Option<String>,
    #[schema(value_type = Option<String>)]
    pub last_error_at: Option<jiff::Timestamp>,
    /// Failures in a row (0 after a success).
    pub failures: i64,
    pub linked_events: usize,
    /// Events the provider refused, waiting with an error.
    pub parked: usize,
    /// The first of them (up to 100), each with the provider's reason: what to fix.
    pub parked_events: Vec<ParkedEvent>,
    /// Events changed on both sides, waiting for a decision.
    pub conflicts: usize,
}

/// An event the provider refused for good (e.g. a recurrence Outlook cannot hold).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ParkedEvent {
    pub event_id: calsync_core::EventId,
    pub error: Option<String>,
}

/// The most parked events a status lists.
const PARKED_LISTED: usize = 100;

#[utoipa::path(get, path = "/api/v1/links/{id}/status", tag = "links", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Link id")),
    responses((status = 200, body = LinkStatus), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn link_status(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<LinkId>,
) -> Result<Json<LinkStatus>, ApiError> {
    let link = state.store.get_link(user.id, id).await?;
    let account = state.store.get_account(user.id, link.account_id).await?;
    let pending = state.store.changes_after(user.id, link.checkpoint, 10_000).await?;
    let pending: Vec<_> = pending
        .into_iter()
        .filter(|c| c.calendar_id == link.calendar_id || c.previous_calendar_id == Some(link.calendar_id))
        .collect();
    let events = state.store.event_links(link.id).await?;
    let now = state.clock.now();
    let age = |t: jiff::Timestamp| now.as_second() - t.as_second();
    let state_text = match account.state {
        calsync_store::AccountState::Active => link.state.as_str(),
        other => other.as_str(),
    };
    Ok(Json(LinkStatus {
        id: link.id,
        state: state_text.to_owned(),
        last_pull_at: link.last_pull_at,
        last_push_at: link.last_push_at,
        outbox_depth: pending.len(),
        oldest_pending_secs: pending.first().map(|c| age(c.at)),
        cursor_age_secs: link.cursor_at.map(age),
        listing_read: link.listing_read,
        brake: link.brake.as_ref().map(|b| b.reason.clone()),
        brake_kind: link.brake.as_ref().map(|b| b.kind.as_str().to_owned()),
        channel_expires_at: link.channel.as_ref().map(|c| c.expires_at),
        last_error: link.last_error.or(account.last_error),
        last_error_at: link.last_error_at,
        failures: link.failures,
        linked_events: events.len(),
        parked: events.iter().filter(|e| e.state == EventLinkState::Parked).count(),
        parked_events: events
            .iter()
            .filter(|e| e.state == EventLinkState::Parked)
            .take(PARKED_LISTED)
            .map(|e| ParkedEvent { event_id: e.event_id, error: e.error.clone() })
            .collect(),
        conflicts: events.iter().filter(|e| e.state == EventLinkState::Conflict).count(),
    }))
}
