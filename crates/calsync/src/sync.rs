//! Provider sync settings → the server's sync setup.

use crate::config::{GoogleSettings, Settings};
use anyhow::Context;
use calsync_engine::Sealer;
use calsync_providers::oauth::OAuthClient;
use calsync_server::sync::{GOOGLE_SCOPES, GoogleSetup, SyncSetup};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("calsync/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTP client")
}

/// The sync setup for Google. `base_url` is where this server is reached (for the OAuth
/// redirect) when no public URL is set.
pub fn setup(settings: &Settings, google: &GoogleSettings, base_url: &str) -> anyhow::Result<Arc<SyncSetup>> {
    let key = settings.encryption_key.as_ref().context("encryption_key is required for Google sync")?;
    let sealer = Arc::new(Sealer::from_hex(key.expose_secret()).map_err(|e| anyhow::anyhow!("encryption_key: {e}"))?);
    let public = settings.public_url.clone().unwrap_or_else(|| base_url.to_owned());
    let oauth = OAuthClient {
        auth_url: google.auth_url.clone(),
        token_url: google.token_url.clone(),
        revoke_url: google.revoke_url.clone(),
        client_id: google.client_id.clone(),
        client_secret: google.client_secret.clone(),
        redirect_uri: format!("{public}/oauth/google/callback"),
        scopes: GOOGLE_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
    };
    let setup = GoogleSetup { oauth, userinfo_url: google.userinfo_url.clone(), api_root: google.api_root.clone() };
    let mut sync = SyncSetup::new(setup, sealer, http_client()?, settings.public_url.as_deref());
    sync.link_defaults = settings.link_defaults;
    Ok(Arc::new(sync))
}
