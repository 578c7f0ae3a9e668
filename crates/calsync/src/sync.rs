//! Provider sync in the binary: the server's connect setup and the worker tasks.

use crate::config::{GoogleSettings, Settings};
use anyhow::Context;
use calsync_engine::{GoogleProviders, Schedule, Sealer, Worker};
use calsync_providers::oauth::OAuthClient;
use calsync_server::sync::{GoogleSetup, SyncSetup};
use calsync_store::SyncStore;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How long a worker holds an account between renewals; a dead worker's account is free
/// again after this.
const LEASE: Duration = Duration::from_secs(60);

pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("calsync/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTP client")
}

/// The sync setup, when a provider is configured. `base_url` is where this server is reached
/// (for the OAuth redirect) when no public URL is set.
pub fn setup(settings: &Settings, google: &GoogleSettings, base_url: &str) -> anyhow::Result<Arc<SyncSetup>> {
    let key = settings.encryption_key.as_ref().context("encryption_key is required for Google sync")?;
    let sealer = Arc::new(Sealer::from_hex(key.expose_secret()).map_err(|e| anyhow::anyhow!("encryption_key: {e}"))?);
    let http = http_client()?;
    let public = settings.public_url.clone().unwrap_or_else(|| base_url.to_owned());
    let oauth = OAuthClient {
        auth_url: google.auth_url.clone(),
        token_url: google.token_url.clone(),
        revoke_url: google.revoke_url.clone(),
        client_id: google.client_id.clone(),
        client_secret: google.client_secret.clone(),
        redirect_uri: format!("{public}/oauth/google/callback"),
        scopes: vec!["https://www.googleapis.com/auth/calendar".into(), "openid".into(), "email".into()],
    };
    let providers = Arc::new(GoogleProviders::new(
        http.clone(),
        google.api_root.clone(),
        oauth.clone(),
        sealer.clone(),
        // Push channels need a public URL; until then links are polled.
        false,
    ));
    Ok(Arc::new(SyncSetup {
        google: GoogleSetup { oauth, userinfo_url: google.userinfo_url.clone(), api_root: google.api_root.clone() },
        sealer,
        http,
        providers,
        wake: Arc::new(Notify::new()),
    }))
}

/// Starts `count` workers; they stop when `stop` turns true.
pub fn start_workers(
    store: &Arc<dyn SyncStore>,
    sync: &SyncSetup,
    count: usize,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let process = format!("{}-{}", std::process::id(), calsync_core::EventId::new());
    (0..count)
        .map(|i| {
            let worker = Worker {
                store: store.clone(),
                providers: sync.providers.clone(),
                owner: format!("{process}-{i}"),
                schedule: Schedule::default(),
                lease: LEASE,
            };
            tokio::spawn(worker.run(stop.clone(), sync.wake.clone()))
        })
        .collect()
}
