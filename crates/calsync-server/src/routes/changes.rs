//! The change feed: every event write of the user, in order. Paged, and as server-sent
//! events that resume after a reconnect from `Last-Event-ID`.

use crate::auth::AuthUser;
use crate::extract::ApiQuery;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use calsync_core::{Change, Seq, UserId};
use calsync_store::SyncStore;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const PAGE_DEFAULT: u32 = 100;
const PAGE_MAX: u32 = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_changes)).routes(routes!(stream_changes))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Return changes with a sequence number greater than this (0: from the beginning).
    pub after: Option<Seq>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// Pass as `after` to get the next page (equals `after` when there was nothing new).
    pub next_after: Seq,
}

fn check_after(after: Seq) -> Result<Seq, ApiError> {
    if after < 0 {
        return Err(ApiError::bad_field("after", "min", "must be 0 or a sequence number you received"));
    }
    Ok(after)
}

#[utoipa::path(get, path = "/api/v1/changes", tag = "changes", security(("bearer" = [])), params(ChangesQuery),
    responses((status = 200, body = ChangePage), (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn list_changes(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(q): ApiQuery<ChangesQuery>,
) -> Result<Json<ChangePage>, ApiError> {
    let after = check_after(q.after.unwrap_or(0))?;
    let limit = q.limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(ApiError::bad_field("limit", "range", format!("must be between 1 and {PAGE_MAX}")));
    }
    let changes = state.store.changes_after(user.id, after, limit).await?;
    let next_after = changes.last().map_or(after, |c| c.seq);
    Ok(Json(ChangePage { changes, next_after }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Start after this sequence number. A `Last-Event-ID` header (sent by browsers when
    /// they reconnect) takes precedence. Without either, the stream starts with what
    /// happens from now on.
    pub after: Option<Seq>,
}

/// Server-sent events: one `change` event per change, with the sequence number as its id.
#[utoipa::path(get, path = "/api/v1/changes/stream", tag = "changes", security(("bearer" = [])),
    params(StreamQuery, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this sequence number")),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "`event: change`, `id: <seq>`, `data: <Change JSON>`; \
        and, whenever the user's open conflicts or paused links change, `event: sync` with `data: {\"open_conflicts\": n, \"paused_links\": [{\"link_id\", \"reason\"}]}` (no id)"),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn stream_changes(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(|s| s.trim().parse::<Seq>().ok()).ok_or_else(|| {
            ApiError::bad_field("Last-Event-ID", "seq", "must be a sequence number from this stream")
        })?),
    };
    // Subscribe before reading the position, so nothing written in between is missed.
    let wake = state.changed.subscribe();
    let after = match last_event_id.or(q.after) {
        Some(after) => check_after(after)?,
        None => state.store.last_seq(user.id).await?,
    };
    let notice = SyncNotice::read(&*state.store, user.id).await.ok();
    let tail = Tail {
        store: state.store.clone(),
        user: user.id,
        after,
        notice,
        buffer: VecDeque::new(),
        wake,
        poll: state.change_poll,
        shutdown: state.shutdown.clone(),
    };
    Ok(Sse::new(futures_util::stream::unfold(tail, Tail::next))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// What needs the user's attention, sent as `event: sync` when it changes (a badge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct SyncNotice {
    open_conflicts: i64,
    paused_links: Vec<PausedLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct PausedLink {
    link_id: calsync_core::LinkId,
    reason: String,
}

impl SyncNotice {
    async fn read(store: &dyn SyncStore, user: UserId) -> Result<Self, calsync_store::StoreError> {
        let open_conflicts = store.count_open_conflicts(user).await?;
        let paused_links = store
            .list_links(user)
            .await?
            .into_iter()
            .filter_map(|l| l.brake.map(|b| PausedLink { link_id: l.id, reason: b.reason }))
            .collect();
        Ok(Self { open_conflicts, paused_links })
    }
}

/// Follows one user's change log.
struct Tail {
    store: Arc<dyn SyncStore>,
    user: UserId,
    after: Seq,
    /// The last attention summary sent (or seen when the stream opened).
    notice: Option<SyncNotice>,
    buffer: VecDeque<Change>,
    wake: broadcast::Receiver<UserId>,
    poll: Duration,
    shutdown: watch::Receiver<bool>,
}

impl Tail {
    async fn next(mut self) -> Option<(Result<SseEvent, Infallible>, Self)> {
        loop {
            if *self.shutdown.borrow() {
                return None;
            }
            if let Some(change) = self.buffer.pop_front() {
                self.after = change.seq;
                let event = SseEvent::default()
                    .id(change.seq.to_string())
                    .event("change")
                    .json_data(&change)
                    .unwrap_or_else(|_| SseEvent::default().comment("unserialisable change"));
                return Some((Ok(event), self));
            }
            match self.store.changes_after(self.user, self.after, PAGE_DEFAULT).await {
                Ok(page) if !page.is_empty() => {
                    self.buffer.extend(page);
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "change stream could not read; retrying"),
            }
            if let Ok(now) = SyncNotice::read(&*self.store, self.user).await
                && self.notice.as_ref() != Some(&now)
            {
                let event = SseEvent::default()
                    .event("sync")
                    .json_data(&now)
                    .unwrap_or_else(|_| SseEvent::default().comment("unserialisable notice"));
                self.notice = Some(now);
                return Some((Ok(event), self));
            }
            self.wait().await;
        }
    }

    /// Until a write of this user in this process, the poll interval (writes by other
    /// processes), or shutdown.
    async fn wait(&mut self) {
        let deadline = tokio::time::sleep(self.poll);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = self.shutdown.changed() => return,
                woke = self.wake.recv() => match woke {
                    Ok(user) if user != self.user => continue,
                    // Our user, or we lagged behind: either way, look.
                    _ => return,
                },
            }
        }
    }
}
