//! A link's rules — the conflict policy and the safety brake's limits — and the user's
//! answer when the brake has paused the link.

use crate::auth::AuthUser;
use crate::extract::{ApiJson, IdPath};
use crate::problem::{ApiError, Problem};
use crate::routes::accounts::sync;
use crate::routes::links::LinkView;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use calsync_core::{LinkId, UserId};
use calsync_store::{BrakeDecision, BrakeKind, ConflictPolicy, StoreError};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(update_rules)).routes(routes!(confirm)).routes(routes!(reject))
}

/// Only the fields sent change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesInput {
    /// `ask` (pause and ask), `local_wins`, `remote_wins`, `newest_wins` (lossy: the older
    /// edit is overwritten; every overwrite is kept as a resolved conflict to look at).
    pub policy: Option<String>,
    pub pause_on_conflict: Option<bool>,
    /// 0 to 100,000.
    pub max_deletions: Option<i64>,
    /// 0 to 100.
    pub max_deletion_percent: Option<i64>,
}

#[utoipa::path(patch, path = "/api/v1/links/{id}", tag = "links", security(("bearer" = [])), request_body = RulesInput,
    params(("id" = uuid::Uuid, Path, description = "Link id")),
    responses((status = 200, body = LinkView), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_rules(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<LinkId>,
    ApiJson(input): ApiJson<RulesInput>,
) -> Result<Json<LinkView>, ApiError> {
    let mut settings = state.store.get_link(user.id, id).await?.settings;
    if let Some(p) = input.policy {
        settings.policy = ConflictPolicy::parse(&p).ok_or_else(|| {
            ApiError::bad_field("policy", "one_of", "must be ask, local_wins, remote_wins or newest_wins")
        })?;
    }
    if let Some(v) = input.pause_on_conflict {
        settings.pause_on_conflict = v;
    }
    if let Some(n) = input.max_deletions {
        if !(0..=100_000).contains(&n) {
            return Err(ApiError::bad_field("max_deletions", "range", "must be 0 to 100000"));
        }
        settings.max_deletions = n;
    }
    if let Some(n) = input.max_deletion_percent {
        if !(0..=100).contains(&n) {
            return Err(ApiError::bad_field("max_deletion_percent", "range", "must be 0 to 100"));
        }
        settings.max_deletion_percent = n;
    }
    let mut link = state.store.update_link_settings(user.id, id, &settings).await?;
    let paused_for_conflicts = link.brake.as_ref().is_some_and(|b| b.kind == BrakeKind::Conflict);
    if paused_for_conflicts && (!settings.pause_on_conflict || settings.policy != ConflictPolicy::Ask) {
        // Paused by a rule the user just changed: the link runs again.
        state.store.set_brake(id, None).await?;
        link = state.store.get_link(user.id, id).await?;
    }
    if let Some(sync) = &state.sync {
        // A new policy decides the open conflicts at the link's next run: now.
        state.store.mark_due(id, state.clock.now()).await?;
        sync.wake_workers();
    }
    Ok(Json(LinkView::from(&link)))
}

async fn answer(state: &AppState, user: UserId, id: LinkId, decision: BrakeDecision) -> Result<StatusCode, ApiError> {
    let sync = sync(state)?;
    let link = state.store.get_link(user, id).await?;
    match link.brake.as_ref().map(|b| b.kind) {
        None => {
            return Err(ApiError::Conflict(format!(
                "no safety brake holds link {id}: there is nothing to {}",
                decision.as_str()
            )));
        }
        Some(BrakeKind::Conflict) => {
            return Err(ApiError::Conflict(format!(
                "link {id} is paused for its conflicts, not by a safety brake: decide them (GET /api/v1/conflicts?link_id={id}) and it resumes"
            )));
        }
        Some(_) => {}
    }
    match state.store.decide_brake(user, id, decision).await {
        Ok(()) => {}
        Err(StoreError::Stale { .. }) => {
            return Err(ApiError::Conflict(format!("the safety brake of link {id} was answered already")));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(link = %id, decision = decision.as_str(), "safety brake answered");
    sync.wake_workers();
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(post, path = "/api/v1/links/{id}/confirm", tag = "links", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Link id")),
    responses((status = 202, description = "What the brake held back is applied by the link's next run"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "No brake holds the link")))]
async fn confirm(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<LinkId>,
) -> Result<StatusCode, ApiError> {
    answer(&state, user.id, id, BrakeDecision::Confirm).await
}

#[utoipa::path(post, path = "/api/v1/links/{id}/reject", tag = "links", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Link id")),
    responses((status = 202, description = "The link's next run restores at the provider what the provider deleted"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "No brake holds the link")))]
async fn reject(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<LinkId>,
) -> Result<StatusCode, ApiError> {
    answer(&state, user.id, id, BrakeDecision::Reject).await
}
