//! Provider sync settings → the server's sync setup.

use crate::config::{ProviderSettings, Settings};
use anyhow::Context;
use calsync_engine::{Endpoints, Sealer};
use calsync_providers::oauth::OAuthClient;
use calsync_server::sync::{GOOGLE_SCOPES, MICROSOFT_SCOPES, SyncSetup};
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

/// The sync setup for the configured providers. `base_url` is where this server is
/// reached (for the OAuth redirects) when no public URL is set.
pub fn setup(settings: &Settings, base_url: &str) -> anyhow::Result<Arc<SyncSetup>> {
    let key = settings.encryption_key.as_ref().context("encryption_key is required for sync")?;
    let sealer = Arc::new(Sealer::from_hex(key.expose_secret()).map_err(|e| anyhow::anyhow!("encryption_key: {e}"))?);
    let public = settings.public_url.clone().unwrap_or_else(|| base_url.to_owned());
    let endpoints = |p: &ProviderSettings, name: &str, scopes: &[&str]| Endpoints {
        oauth: OAuthClient {
            auth_url: p.auth_url.clone(),
            token_url: p.token_url.clone(),
            revoke_url: p.revoke_url.clone(),
            client_id: p.client_id.clone(),
            client_secret: p.client_secret.clone(),
            redirect_uri: format!("{public}/oauth/{name}/callback"),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        },
        identity_url: p.identity_url.clone(),
        api_root: p.api_root.clone(),
        window: p.window,
    };
    let google = settings.google.as_ref().map(|g| endpoints(g, "google", &GOOGLE_SCOPES));
    let microsoft = settings.microsoft.as_ref().map(|m| endpoints(m, "microsoft", &MICROSOFT_SCOPES));
    let mut sync = SyncSetup::new(sealer, http_client()?, settings.public_url.as_deref(), google, microsoft);
    sync.link_defaults = settings.link_defaults;
    Ok(Arc::new(sync))
}
