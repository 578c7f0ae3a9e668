//! Users and their tokens. Creating a user needs the admin token; `/me` any user token.

use crate::auth::{Admin, AuthUser, hash_token, new_token};
use crate::extract::ApiJson;
use crate::problem::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use calsync_core::UserId;
use calsync_core::limits::USER_NAME_MAX_CHARS;
use calsync_store::User;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(example = "ada")]
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: UserId,
    pub name: String,
    #[schema(value_type = String)]
    pub created_at: jiff::Timestamp,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self { id: u.id, name: u.name.clone(), created_at: u.created_at }
    }
}

/// A new user with the API token, which is shown this once and never again.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedUser {
    #[serde(flatten)]
    pub user: UserView,
    pub token: String,
}

impl std::fmt::Debug for CreatedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedUser").field("user", &self.user).field("token", &"[redacted]").finish()
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_user, list_users)).routes(routes!(me))
}

/// Creates a user and returns its API token (once).
///
/// # Errors
/// Problems for an invalid name or a missing admin token.
pub async fn create_user_with_token(state: &AppState, name: &str) -> Result<CreatedUser, ApiError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(calsync_core::Violations::one("name", "required", "must not be empty").into());
    }
    if trimmed.chars().count() > USER_NAME_MAX_CHARS {
        return Err(calsync_core::Violations::one(
            "name",
            "max_length",
            format!("at most {USER_NAME_MAX_CHARS} characters"),
        )
        .into());
    }
    let token = new_token();
    let user = state.store.create_user(trimmed, &hash_token(&token)).await?;
    Ok(CreatedUser { user: UserView::from(&user), token })
}

#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", request_body = NewUser,
    security(("bearer" = [])),
    responses((status = 201, body = CreatedUser, description = "The user and its token (shown once)"),
        (status = 401, body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, body = crate::problem::Problem, content_type = "application/problem+json")))]
async fn create_user(
    State(state): State<AppState>,
    _: Admin,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    Ok((StatusCode::CREATED, Json(create_user_with_token(&state, &body.name).await?)))
}

#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserView>), (status = 401, body = crate::problem::Problem, content_type = "application/problem+json")))]
async fn list_users(State(state): State<AppState>, _: Admin) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(state.store.list_users().await?.iter().map(UserView::from).collect()))
}

/// The user the token belongs to.
#[utoipa::path(get, path = "/api/v1/me", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = crate::problem::Problem, content_type = "application/problem+json")))]
async fn me(AuthUser(user): AuthUser) -> Json<UserView> {
    Json(UserView::from(&user))
}
