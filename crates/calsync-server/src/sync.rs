//! What the server needs to connect provider accounts: the OAuth client, where the
//! provider's API is, the key that seals refresh tokens, and a way to wake the workers.

use calsync_engine::{GoogleProviders, Sealer};
use calsync_providers::oauth::OAuthClient;
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Debug)]
pub struct GoogleSetup {
    pub oauth: OAuthClient,
    /// OpenID userinfo (the account's email): `https://openidconnect.googleapis.com/v1/userinfo`.
    pub userinfo_url: String,
    /// `https://www.googleapis.com/calendar/v3/`.
    pub api_root: String,
}

#[derive(Debug)]
pub struct SyncSetup {
    pub google: GoogleSetup,
    pub sealer: Arc<Sealer>,
    pub http: reqwest::Client,
    pub providers: Arc<GoogleProviders>,
    /// Wakes idle workers (a local change, a new link, a notification).
    pub wake: Arc<Notify>,
}
