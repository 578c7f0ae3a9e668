//! Conflicts: events changed on two sides since they last agreed, waiting for the user.
//! Listing, one conflict with a field-by-field diff ready to render, and the decision.

use crate::auth::AuthUser;
use crate::extract::{ApiJson, ApiQuery, IdPath};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use calsync_core::sync::{Choice, Content, Field, Side};
use calsync_core::{CalendarId, ConflictId, Event, EventDraft, EventId, EventInput, LinkId, UserId, Violations};
use calsync_engine::resolution::{ResolutionError, local_content, resolution};
use calsync_store::{ConflictFilter, ConflictRecord, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conflicts))
        .routes(routes!(get_conflict))
        .routes(routes!(resolve_conflict))
        .routes(routes!(undo_decision))
}

/// One field of the three versions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldDiff {
    /// `title`, `description`, `location`, `time` (start and end as one), `recurrence`,
    /// `status`, `transparency`, `visibility`, `attendees`.
    pub field: Field,
    #[schema(value_type = Object)]
    pub base: Value,
    #[schema(value_type = Object)]
    pub local: Value,
    #[schema(value_type = Object)]
    pub remote: Value,
    pub local_changed: bool,
    pub remote_changed: bool,
    /// Both sides changed it, differently: this field needs the decision.
    pub clash: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConflictView {
    pub id: ConflictId,
    pub link_id: LinkId,
    pub calendar_id: CalendarId,
    pub event_id: EventId,
    /// `open` or `resolved`.
    pub state: &'static str,
    /// `both_edited`, `deleted_locally`, `deleted_remotely`, `first_match_differs`.
    pub reason: String,
    /// The fields that clash.
    pub fields: Vec<String>,
    /// Send it back when resolving: a decision on an older view is refused (409).
    pub revision: String,
    #[schema(value_type = String)]
    pub found_at: jiff::Timestamp,
    #[schema(value_type = Option<String>)]
    pub updated_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<String>)]
    pub resolved_at: Option<jiff::Timestamp>,
    /// How it was resolved: `keep_local`, `keep_remote`, `merge`, `keep_both`.
    pub choice: Option<String>,
    pub resolved_by: Option<String>,
    /// What both sides last agreed on; `null` when they never did.
    #[schema(value_type = Option<Object>)]
    pub base: Option<Content>,
    /// The hub's version (for an open conflict: as it is now); `null`: deleted.
    #[schema(value_type = Option<Object>)]
    pub local: Option<Content>,
    /// The provider's version, the newest pulled; `null`: deleted.
    #[schema(value_type = Option<Object>)]
    pub remote: Option<Content>,
    /// Every field that differs anywhere among the three.
    pub diff: Vec<FieldDiff>,
}

fn value_of(content: Option<&Content>, field: Field) -> Value {
    content.map_or(Value::Null, |c| c.field_value(field))
}

fn view(conflict: ConflictRecord, event: Option<&Event>) -> ConflictView {
    let open = conflict.is_open();
    let local = if open { local_content(&conflict, event) } else { conflict.local.clone() };
    let version = event.map_or(0, |e| e.meta.version);
    let diff = Field::ALL
        .into_iter()
        .filter_map(|field| {
            let (base, l, r) = (
                value_of(conflict.base.as_ref(), field),
                value_of(local.as_ref(), field),
                value_of(conflict.remote.as_ref(), field),
            );
            if base == l && l == r {
                return None;
            }
            let (local_changed, remote_changed) = (l != base, r != base);
            let clash = local_changed && remote_changed && l != r;
            Some(FieldDiff { field, base, local: l, remote: r, local_changed, remote_changed, clash })
        })
        .collect();
    ConflictView {
        id: conflict.id,
        link_id: conflict.link_id,
        calendar_id: conflict.calendar_id,
        event_id: conflict.event_id,
        state: if open { "open" } else { "resolved" },
        reason: conflict.reason,
        fields: conflict.fields,
        revision: format!("{}.{version}", conflict.revision),
        found_at: conflict.created_at,
        updated_at: conflict.updated_at,
        resolved_at: conflict.resolved_at,
        choice: conflict.choice,
        resolved_by: conflict.resolved_by,
        base: conflict.base,
        local,
        remote: conflict.remote,
        diff,
    }
}

async fn event_of(state: &AppState, user: UserId, id: EventId) -> Result<Option<Event>, ApiError> {
    match state.store.get_event(user, id).await {
        Ok(e) => Ok(Some(e)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

async fn current_view(state: &AppState, user: UserId, id: ConflictId) -> Result<ConflictView, ApiError> {
    let conflict = state.store.get_conflict(user, id).await?;
    let event = event_of(state, user, conflict.event_id).await?;
    Ok(view(conflict, event.as_ref()))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateFilter {
    #[default]
    Open,
    Resolved,
    All,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConflictsQuery {
    pub link_id: Option<LinkId>,
    pub calendar_id: Option<CalendarId>,
    /// One event's conflicts, resolved ones included with `state=all`: its history of decisions.
    pub event_id: Option<EventId>,
    /// `open` (default), `resolved` or `all`.
    #[param(inline)]
    pub state: Option<StateFilter>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConflictList {
    pub conflicts: Vec<ConflictView>,
}

#[utoipa::path(get, path = "/api/v1/conflicts", tag = "conflicts", security(("bearer" = [])), params(ConflictsQuery),
    responses((status = 200, body = ConflictList), (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn list_conflicts(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(q): ApiQuery<ConflictsQuery>,
) -> Result<Json<ConflictList>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_field("limit", "range", "must be 1 to 1000"));
    }
    let open = match q.state.unwrap_or_default() {
        StateFilter::Open => Some(true),
        StateFilter::Resolved => Some(false),
        StateFilter::All => None,
    };
    let filter = ConflictFilter { link: q.link_id, calendar: q.calendar_id, event: q.event_id, open };
    let mut conflicts = Vec::new();
    for c in state.store.list_conflicts(user.id, filter, limit).await? {
        let event = event_of(&state, user.id, c.event_id).await?;
        conflicts.push(view(c, event.as_ref()));
    }
    Ok(Json(ConflictList { conflicts }))
}

#[utoipa::path(get, path = "/api/v1/conflicts/{id}", tag = "conflicts", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Conflict id")),
    responses((status = 200, body = ConflictView), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_conflict(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<ConflictId>,
) -> Result<Json<ConflictView>, ApiError> {
    Ok(Json(current_view(&state, user.id, id).await?))
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceName {
    KeepLocal,
    KeepRemote,
    Merge,
    KeepBoth,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveInput {
    pub choice: ChoiceName,
    /// The `revision` of the conflict as read.
    pub revision: String,
    /// With `merge`: which side each field comes from (`{"title": "remote"}`); fields not
    /// named keep the local value.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<BTreeMap<Field, Side>>,
    /// With `merge`, instead of `fields`: the whole event as it should be.
    pub event: Option<EventInput>,
}

fn choice_of(input: ResolveInput, calendar: CalendarId) -> Result<Choice, ApiError> {
    let not_allowed =
        |field: &str| ApiError::bad_field(field, "not_allowed", format!("{field} goes only with choice merge"));
    match (input.choice, input.fields, input.event) {
        (ChoiceName::Merge, Some(fields), None) => Ok(Choice::MergeFields(fields)),
        (ChoiceName::Merge, None, Some(event)) => {
            if event.calendar_id != calendar {
                return Err(ApiError::Invalid(Violations::one(
                    "event.calendar_id",
                    "same_calendar",
                    "a merged event stays in the conflict's calendar",
                )));
            }
            let content = Content::of(&event);
            EventDraft::parse(event).map_err(ApiError::Invalid)?;
            Ok(Choice::MergeContent(Box::new(content)))
        }
        (ChoiceName::Merge, _, _) => Err(ApiError::bad_field(
            "fields",
            "one_of",
            "merge needs either fields (per-field sides) or event (the whole event)",
        )),
        (_, Some(_), _) => Err(not_allowed("fields")),
        (_, _, Some(_)) => Err(not_allowed("event")),
        (ChoiceName::KeepLocal, None, None) => Ok(Choice::KeepLocal),
        (ChoiceName::KeepRemote, None, None) => Ok(Choice::KeepRemote),
        (ChoiceName::KeepBoth, None, None) => Ok(Choice::KeepBoth),
    }
}

/// `revision` as sent: `{conflict revision}.{event version}`.
fn parse_revision(text: &str) -> Result<(i64, i64), ApiError> {
    text.split_once('.').and_then(|(r, v)| Some((r.parse().ok()?, v.parse().ok()?))).ok_or_else(|| {
        ApiError::bad_field("revision", "format", "must be the revision of the conflict as read, e.g. \"2.5\"")
    })
}

fn stale(view: ConflictView, detail: &str) -> ApiError {
    ApiError::Stale { detail: detail.to_owned(), current: serde_json::to_value(view).unwrap_or(Value::Null) }
}

#[utoipa::path(post, path = "/api/v1/conflicts/{id}/resolve", tag = "conflicts", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Conflict id")), request_body = ResolveInput,
    responses((status = 200, body = ConflictView, description = "Resolved; the result is on its way to the provider"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json",
               description = "Resolved already, or the versions changed since they were read: `current` holds the conflict now"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn resolve_conflict(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<ConflictId>,
    ApiJson(input): ApiJson<ResolveInput>,
) -> Result<Json<ConflictView>, ApiError> {
    let (revision, version) = parse_revision(&input.revision)?;
    let conflict = state.store.get_conflict(user.id, id).await?;
    let choice = choice_of(input, conflict.calendar_id)?;
    let event = event_of(&state, user.id, conflict.event_id).await?;
    let Some(event) = event.filter(|_| conflict.is_open()) else {
        return Err(stale(view(conflict, None), "this conflict was resolved already"));
    };
    if (conflict.revision, event.meta.version) != (revision, version) {
        return Err(stale(view(conflict, Some(&event)), "the versions changed since you read them: decide on these"));
    }
    let event_link = state
        .store
        .event_link(conflict.link_id, conflict.event_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("conflict {id} has no event link")))?;
    let link = state.store.get_link(user.id, conflict.link_id).await?;
    let account = state.store.get_account(user.id, link.account_id).await?;
    let decided =
        resolution(&conflict, &event, &event_link, account.provider, &choice, &user.name).map_err(|e| match e {
            ResolutionError::Choice(e) => {
                ApiError::Invalid(Violations::one("choice", "needs_both_versions", e.to_string()))
            }
            ResolutionError::Invalid(v) => ApiError::Invalid(v),
        })?;
    match state.store.resolve_conflict(user.id, id, revision, Some(version), &decided).await {
        Ok(()) => {}
        Err(StoreError::Stale { .. }) => {
            let now = current_view(&state, user.id, id).await?;
            return Err(stale(now, "the conflict changed while it was being resolved: decide on these versions"));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(conflict = %id, choice = decided.choice, user = %user.id, "conflict resolved");
    if link.brake.as_ref().is_some_and(|b| b.kind == calsync_store::BrakeKind::Conflict) {
        // The link paused for its conflicts: it resumes when the last one is decided.
        let filter = ConflictFilter { link: Some(link.id), open: Some(true), ..ConflictFilter::default() };
        if state.store.list_conflicts(user.id, filter, 1).await?.is_empty() {
            state.store.set_brake(link.id, None).await?;
        }
    }
    state.local_change(user.id).await;
    Ok(Json(current_view(&state, user.id, id).await?))
}

#[utoipa::path(post, path = "/api/v1/conflicts/{id}/undo", tag = "conflicts", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Conflict id")),
    responses((status = 200, body = calsync_core::EventView, description = "The version that lost is the event's content again, on its way to the provider"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "Open, or decided by a merge or keep_both (nothing single to put back)"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn undo_decision(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<ConflictId>,
) -> Result<Json<calsync_core::EventView>, ApiError> {
    let conflict = state.store.get_conflict(user.id, id).await?;
    let lost = match conflict.choice.as_deref() {
        Some("keep_local") => conflict.remote.clone(),
        Some("keep_remote") => conflict.local.clone(),
        _ => {
            return Err(ApiError::Conflict(format!(
                "conflict {id} is {}: only a keep_local or keep_remote decision (a policy's included) can be undone",
                conflict.choice.as_deref().unwrap_or("open")
            )));
        }
    };
    let mut event = state.store.get_event(user.id, conflict.event_id).await?;
    let source = calsync_core::Source::Local;
    match lost {
        Some(content) => {
            if event.is_deleted() {
                event = state.store.restore_event(user.id, event.id, source).await?;
            }
            let mut input = event.draft.to_input();
            content.apply_to(&mut input);
            let draft = EventDraft::parse(input).map_err(ApiError::Invalid)?;
            event = state.store.update_event(user.id, event.id, draft, None, source).await?;
        }
        None if !event.is_deleted() => event = state.store.delete_event(user.id, event.id, None, source).await?,
        None => {}
    }
    tracing::info!(conflict = %id, user = %user.id, "a conflict decision was undone");
    state.local_change(user.id).await;
    Ok(Json(calsync_core::EventView::from(&event)))
}
