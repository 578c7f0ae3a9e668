//! The HTTP API, one module per resource. Every route is registered through utoipa's
//! `routes!`, so the OpenAPI document and the router cannot drift apart.

pub mod accounts;
pub mod admin;
pub mod calendars;
pub mod changes;
pub mod conflicts;
pub mod events;
pub mod feeds;
pub mod health;
pub mod history;
pub mod link_rules;
pub mod links;
pub mod trash;
pub mod webhooks;

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(accounts::router())
        .merge(links::router())
        .merge(link_rules::router())
        .merge(conflicts::router())
        .merge(webhooks::router())
        .merge(admin::router())
        .merge(calendars::router())
        .merge(trash::router())
        .merge(events::router())
        .merge(history::router())
        .merge(feeds::router())
        .merge(changes::router())
        .merge(health::router())
}
