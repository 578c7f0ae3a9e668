//! Connecting provider accounts (OAuth 2.0 with PKCE) and listing their calendars.

use crate::auth::AuthUser;
use crate::extract::{ApiJson, IdPath};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use crate::sync::SyncSetup;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use calsync_core::{AccountId, Source};
use calsync_engine::worker::secret_context;
use calsync_engine::{Endpoints, Providers};
use calsync_providers::ProviderError;
use calsync_providers::oauth::{Pkce, random_text};
use calsync_store::Account;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(connect_google))
        .routes(routes!(google_callback))
        .routes(routes!(connect_microsoft))
        .routes(routes!(microsoft_callback))
        .routes(routes!(list_accounts))
        .routes(routes!(account_calendars))
        .routes(routes!(disconnect_account))
}

/// Disconnects an account: ends its links (channels stopped, imported events kept or
/// removed), revokes the grant at the provider, and forgets the sealed token.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Account id"), crate::routes::links::RemoveQuery),
    responses((status = 200, body = crate::routes::links::Removed), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn disconnect_account(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<AccountId>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<crate::routes::links::RemoveQuery>,
) -> Result<Json<crate::routes::links::Removed>, ApiError> {
    let account = state.store.get_account(user.id, id).await?;
    let mut removed_events = 0;
    for link in state.store.list_links(user.id).await?.into_iter().filter(|l| l.account_id == id) {
        removed_events += crate::routes::links::unlink(&state, user.id, &link, q.remove_events).await?;
    }
    if let Some(sync) = &state.sync
        && let Some(endpoints) = sync.endpoints(account.provider)
        && !account.secret.is_empty()
    {
        let context = secret_context(account.user_id, account.provider, &account.remote_user);
        match sync.sealer.open(&account.secret, &context) {
            Ok(refresh) => {
                if let Err(e) = endpoints.oauth.revoke(&sync.http, &refresh).await {
                    // The local side is gone either way; the user can revoke in their account.
                    tracing::warn!(account = %id, error = %e, "could not revoke the grant at the provider");
                }
            }
            Err(e) => tracing::warn!(account = %id, error = %e, "the stored token cannot be opened; not revoked"),
        }
    }
    state.store.disconnect_account(user.id, id).await?;
    Ok(Json(crate::routes::links::Removed { removed_events }))
}

/// How long a user has to finish the consent screen.
const CONNECT_TTL: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

pub(crate) fn sync(state: &AppState) -> Result<&Arc<SyncSetup>, ApiError> {
    state.sync.as_ref().ok_or_else(|| {
        ApiError::NotConfigured(
            "sync with providers is not configured on this server: set google.client_id and google.client_secret \
             (or microsoft.client_id and microsoft.client_secret) and encryption_key (see the README's configuration section)"
                .into(),
        )
    })
}

/// The provider's name as users know it.
fn display(provider: Source) -> &'static str {
    match provider {
        Source::Google => "Google",
        Source::Microsoft => "Microsoft",
        Source::Caldav => "CalDAV",
        Source::Local => "calsync",
    }
}

/// The sync setup and `provider`'s endpoints, or why this server cannot connect it.
fn endpoints(state: &AppState, provider: Source) -> Result<(&Arc<SyncSetup>, &Endpoints), ApiError> {
    let sync = sync(state)?;
    let e = sync.endpoints(provider).ok_or_else(|| {
        ApiError::NotConfigured(format!(
            "sync with {name} is not configured on this server: set {key}.client_id and {key}.client_secret \
             (see the README's configuration section)",
            name = display(provider),
            key = provider.as_str(),
        ))
    })?;
    Ok((sync, e))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectInput {
    /// The account to preselect on the consent screen (an email address).
    #[serde(default)]
    pub login_hint: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectStart {
    /// Send the user here; the provider sends them back to `/oauth/{provider}/callback`.
    pub authorization_url: String,
}

#[utoipa::path(post, path = "/api/v1/accounts/google/connect", tag = "accounts", request_body = ConnectInput, security(("bearer" = [])),
    responses((status = 200, body = ConnectStart), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn connect_google(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(input): ApiJson<ConnectInput>,
) -> Result<Json<ConnectStart>, ApiError> {
    connect(&state, user.id, &input, Source::Google).await
}

#[utoipa::path(post, path = "/api/v1/accounts/microsoft/connect", tag = "accounts", request_body = ConnectInput, security(("bearer" = [])),
    responses((status = 200, body = ConnectStart), (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn connect_microsoft(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(input): ApiJson<ConnectInput>,
) -> Result<Json<ConnectStart>, ApiError> {
    connect(&state, user.id, &input, Source::Microsoft).await
}

/// Starts the authorization-code flow with PKCE: the verifier waits, sealed, under a
/// random `state` until the provider sends the user back.
async fn connect(
    state: &AppState,
    user: calsync_core::UserId,
    input: &ConnectInput,
    provider: Source,
) -> Result<Json<ConnectStart>, ApiError> {
    let (sync, endpoints) = endpoints(state, provider)?;
    if input.login_hint.as_ref().is_some_and(|h| h.len() > 254 || !h.contains('@')) {
        return Err(ApiError::bad_field("login_hint", "email", "must be an email address"));
    }
    let pkce = Pkce::new();
    let request_state = random_text(43);
    let sealed =
        sync.sealer.seal(&pkce.verifier, request_state.as_bytes()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let expires = state.clock.now().checked_add(CONNECT_TTL).map_err(|e| ApiError::Internal(e.to_string()))?;
    state.store.put_oauth_state(&request_state, user, provider, &sealed, expires).await?;
    let url = endpoints.oauth.authorization_url(&request_state, &pkce, input.login_hint.as_deref());
    Ok(Json(ConnectStart { authorization_url: url }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CallbackQuery {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    /// Microsoft explains a refusal here.
    #[serde(default)]
    pub error_description: Option<String>,
}

/// Who the account is: Google's userinfo says `email`; Graph's `me` says `mail`, or only
/// `userPrincipalName` for accounts without a mailbox address.
#[derive(Deserialize)]
struct Identity {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    mail: Option<String>,
    #[serde(default, rename = "userPrincipalName")]
    user_principal_name: Option<String>,
}

fn upstream(provider: Source, e: &ProviderError) -> ApiError {
    ApiError::Upstream(format!("{}: {e}", display(provider)))
}

#[utoipa::path(get, path = "/oauth/google/callback", tag = "accounts", params(CallbackQuery),
    responses((status = 200, description = "Connected: a page telling the user to return to the app", content_type = "text/html"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 502, body = Problem, content_type = "application/problem+json")))]
async fn google_callback(State(state): State<AppState>, Query(q): Query<CallbackQuery>) -> Result<Response, ApiError> {
    callback(&state, q, Source::Google).await
}

#[utoipa::path(get, path = "/oauth/microsoft/callback", tag = "accounts", params(CallbackQuery),
    responses((status = 200, description = "Connected: a page telling the user to return to the app", content_type = "text/html"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 502, body = Problem, content_type = "application/problem+json")))]
async fn microsoft_callback(
    State(state): State<AppState>,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    callback(&state, q, Source::Microsoft).await
}

/// The provider sent the user back: trade the code for tokens, learn who the account is,
/// and store the refresh token sealed.
async fn callback(state: &AppState, q: CallbackQuery, provider: Source) -> Result<Response, ApiError> {
    let (sync, endpoints) = endpoints(state, provider)?;
    let name = display(provider);
    let Some(request_state) = q.state.filter(|s| !s.is_empty() && s.len() <= 256) else {
        return Err(ApiError::bad_field("state", "required", "the callback must carry the state of a connect request"));
    };
    let pending = state.store.take_oauth_state(&request_state, state.clock.now()).await?;
    let Some((user, _, sealed)) = pending.filter(|(_, p, _)| *p == provider) else {
        return Err(ApiError::bad_field(
            "state",
            "unknown",
            format!(
                "this connect request is unknown, already used or expired; start again with POST /api/v1/accounts/{}/connect",
                provider.as_str()
            ),
        ));
    };
    if let Some(error) = q.error {
        let why = q.error_description.map(|d| format!("{error} ({d})")).unwrap_or(error);
        return Err(ApiError::bad_field("error", "consent", format!("{name} did not grant access: {why}")));
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return Err(ApiError::bad_field("code", "required", "the callback carries no authorization code"));
    };
    let verifier =
        sync.sealer.open(&sealed, request_state.as_bytes()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let tokens =
        endpoints.oauth.exchange_code(&sync.http, &code, &verifier).await.map_err(|e| upstream(provider, &e))?;
    let Some(refresh) = tokens.refresh_token else {
        return Err(ApiError::Upstream(format!(
            "{name} returned no refresh token (consent without offline access); connect again"
        )));
    };
    let identity: Identity = sync
        .http
        .get(&endpoints.identity_url)
        .bearer_auth(tokens.access_token.expose_secret())
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| ApiError::Upstream(format!("{name}, asking who the account is: {e}")))?
        .json()
        .await
        .map_err(|e| ApiError::Upstream(format!("{name}, asking who the account is: {e}")))?;
    let Some(email) = identity.email.or(identity.mail).or(identity.user_principal_name).filter(|e| !e.is_empty())
    else {
        return Err(ApiError::Upstream(format!("{name} did not say which account this is (no email)")));
    };
    let context = secret_context(user, provider, &email);
    let sealed = sync.sealer.seal(&SecretString::from(refresh.expose_secret().to_owned()), &context);
    let sealed = sealed.map_err(|e| ApiError::Internal(e.to_string()))?;
    let account = state.store.upsert_account(user, provider, &email, &sealed).await?;
    // A reconnect: its links (paused as needs_reauth) may run again, queued changes first.
    state.store.mark_user_due(user, state.clock.now()).await?;
    sync.wake_workers();
    tracing::info!(account = %account.id, %user, provider = provider.as_str(), "account connected");
    if state.web_dir.is_some() {
        // Back to the web app's accounts page, where the user picks calendars to link.
        return Ok(axum::response::Redirect::to("/app/#/accounts").into_response());
    }
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Connected</title></head><body>\
         <h1>{name} account connected</h1><p>{} is now connected to calsync. You can close this window.</p></body></html>",
        html_escape(&email)
    );
    Ok((StatusCode::OK, Html(page)).into_response())
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: AccountId,
    pub provider: String,
    /// The account at the provider (its email address).
    pub remote_user: String,
    /// `active`, `needs_reauth` (connect again), or `disconnected`.
    pub state: String,
    pub last_error: Option<String>,
    #[schema(value_type = String)]
    pub created_at: jiff::Timestamp,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id,
            provider: a.provider.as_str().to_owned(),
            remote_user: a.remote_user.clone(),
            state: a.state.as_str().to_owned(),
            last_error: a.last_error.clone(),
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountList {
    pub accounts: Vec<AccountView>,
}

#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])), responses((status = 200, body = AccountList)))]
async fn list_accounts(State(state): State<AppState>, AuthUser(user): AuthUser) -> Result<Json<AccountList>, ApiError> {
    let accounts = state.store.list_accounts(user.id).await?;
    Ok(Json(AccountList { accounts: accounts.iter().map(AccountView::from).collect() }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RemoteCalendarView {
    pub id: String,
    pub name: String,
    pub time_zone: Option<String>,
    pub primary: bool,
    pub writable: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RemoteCalendarList {
    pub calendars: Vec<RemoteCalendarView>,
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/calendars", tag = "accounts", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Account id")),
    responses((status = 200, body = RemoteCalendarList), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"), (status = 502, body = Problem, content_type = "application/problem+json")))]
async fn account_calendars(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    IdPath(id): IdPath<AccountId>,
) -> Result<Json<RemoteCalendarList>, ApiError> {
    let sync = sync(&state)?;
    let account = state.store.get_account(user.id, id).await?;
    if account.state != calsync_store::AccountState::Active {
        // A disconnected account has no credentials left; a revoked one none that work.
        return Err(ApiError::Conflict(format!(
            "the account {} is {}: connect it again with POST /api/v1/accounts/{}/connect",
            account.remote_user,
            account.state.as_str(),
            account.provider.as_str()
        )));
    }
    let provider = sync.providers.for_account(&account).map_err(|e| ApiError::Upstream(e.to_string()))?;
    let calendars = provider.calendars().await;
    calsync_engine::worker::keep_rotated_secret(&*sync.providers, &*state.store, &account, &provider).await;
    let calendars = calendars.map_err(|e| upstream(account.provider, &e))?;
    Ok(Json(RemoteCalendarList {
        calendars: calendars
            .into_iter()
            .map(|c| RemoteCalendarView {
                id: c.id,
                name: c.name,
                time_zone: c.time_zone,
                primary: c.primary,
                writable: c.writable,
            })
            .collect(),
    }))
}
