//! An event's history: every change (who made it: the app or a provider) and every
//! conflict about it — when it was found and how it was decided, by whom — in time order.

use crate::auth::AuthUser;
use crate::extract::IdPath;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use calsync_core::{ChangeOp, ConflictId, EventId, LinkId, Source};
use calsync_store::ConflictFilter;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(event_history))
}

/// Entries read at most (the newest).
const LIMIT: u32 = 500;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HistoryEntry {
    /// The event was created, updated or deleted.
    Change {
        #[schema(value_type = String)]
        at: jiff::Timestamp,
        op: ChangeOp,
        version: i64,
        /// `local` (the app) or the provider the change came from.
        origin: Source,
    },
    /// Changed on both sides of a link.
    ConflictFound {
        #[schema(value_type = String)]
        at: jiff::Timestamp,
        conflict_id: ConflictId,
        link_id: LinkId,
        fields: Vec<String>,
    },
    /// A conflict was decided: by the user (their name) or by the link's policy (`policy:<name>`).
    ConflictResolved {
        #[schema(value_type = String)]
        at: jiff::Timestamp,
        conflict_id: ConflictId,
        link_id: LinkId,
        choice: String,
        by: String,
    },
}

impl HistoryEntry {
    const fn at(&self) -> jiff::Timestamp {
        match self {
            Self::Change { at, .. } | Self::ConflictFound { at, .. } | Self::ConflictResolved { at, .. } => *at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct History {
    pub event_id: EventId,
    /// Oldest first.
    pub entries: Vec<HistoryEntry>,
}

#[utoipa::path(get, path = "/api/v1/events/{id}/history", tag = "events", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id (a deleted event's too)")),
    responses((status = 200, body = History), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn event_history(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<EventId>,
) -> Result<Json<History>, ApiError> {
    state.store.get_event(user.id, id).await?;
    let mut entries: Vec<HistoryEntry> = state
        .store
        .event_changes(user.id, id, LIMIT)
        .await?
        .into_iter()
        .map(|c| HistoryEntry::Change { at: c.at, op: c.op, version: c.version, origin: c.origin })
        .collect();
    let filter = ConflictFilter { event: Some(id), ..ConflictFilter::default() };
    for c in state.store.list_conflicts(user.id, filter, LIMIT).await? {
        entries.push(HistoryEntry::ConflictFound {
            at: c.created_at,
            conflict_id: c.id,
            link_id: c.link_id,
            fields: c.fields.clone(),
        });
        if let (Some(at), Some(choice)) = (c.resolved_at, c.choice) {
            let by = c.resolved_by.unwrap_or_default();
            entries.push(HistoryEntry::ConflictResolved { at, conflict_id: c.id, link_id: c.link_id, choice, by });
        }
    }
    entries.sort_by_key(HistoryEntry::at);
    Ok(Json(History { event_id: id, entries }))
}
