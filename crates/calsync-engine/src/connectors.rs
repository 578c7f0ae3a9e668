//! The connectors the workers use: one per account, of the account's provider, built from
//! its sealed refresh token and kept (so access tokens are reused) until the account's
//! secret changes (a reconnect, or a refresh token the provider rotated).

use crate::worker::{Providers, secret_context};
use crate::{SealError, Sealer, SyncError};
use calsync_core::{AccountId, Source};
use calsync_providers::Provider;
use calsync_providers::google::GoogleProvider;
use calsync_providers::graph::GraphProvider;
use calsync_providers::oauth::{AccessTokens, OAuthClient};
use calsync_store::Account;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Where one provider's API is, and the OAuth client calsync is registered as there.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Google: `https://www.googleapis.com/calendar/v3/`; Graph: `https://graph.microsoft.com/v1.0/`.
    pub api_root: String,
    pub oauth: OAuthClient,
    /// Who the account is, read with the first access token (its email): Google's OpenID
    /// userinfo, Graph's `me`.
    pub identity_url: String,
    /// Graph only: how far before and after today a link follows its calendar; `None`
    /// keeps the connector's default (a year back, two ahead).
    pub window: Option<Window>,
}

/// The span of time a windowed provider lists (Graph's delta runs over a calendar view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub back_days: u32,
    pub ahead_days: u32,
}

/// A connector and the sealed secret it was built from.
type Cached = (Vec<u8>, Arc<dyn Provider>);

pub struct Connectors {
    pub http: reqwest::Client,
    pub sealer: Arc<Sealer>,
    pub google: Option<Endpoints>,
    pub microsoft: Option<Endpoints>,
    /// This server's public URL, when providers can reach it: push notifications go to
    /// `{public}/webhooks/google` and `{public}/webhooks/graph`.
    pub public_url: Option<String>,
    cache: Mutex<HashMap<AccountId, Cached>>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connectors")
            .field("google", &self.google.as_ref().map(|e| &e.api_root))
            .field("microsoft", &self.microsoft.as_ref().map(|e| &e.api_root))
            .finish_non_exhaustive()
    }
}

impl Connectors {
    pub fn new(
        http: reqwest::Client,
        sealer: Arc<Sealer>,
        public_url: Option<&str>,
        google: Option<Endpoints>,
        microsoft: Option<Endpoints>,
    ) -> Self {
        let public_url = public_url.map(|u| u.trim_end_matches('/').to_owned());
        Self { http, sealer, google, microsoft, public_url, cache: Mutex::default() }
    }

    /// The endpoints of `provider`, when this server is configured for it.
    pub fn endpoints(&self, provider: Source) -> Option<&Endpoints> {
        match provider {
            Source::Google => self.google.as_ref(),
            Source::Microsoft => self.microsoft.as_ref(),
            Source::Local | Source::Caldav => None,
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn days(n: u32) -> jiff::SignedDuration {
    jiff::SignedDuration::from_hours(24 * i64::from(n))
}

impl Providers for Connectors {
    fn for_account(&self, account: &Account) -> Result<Arc<dyn Provider>, SyncError> {
        if let Some((secret, p)) = self.cache().get(&account.id)
            && *secret == account.secret
        {
            return Ok(p.clone());
        }
        let endpoints = self.endpoints(account.provider).ok_or(SyncError::NotConfigured(account.provider))?;
        let context = secret_context(account.user_id, account.provider, &account.remote_user);
        let refresh =
            self.sealer.open(&account.secret, &context).map_err(|e: SealError| SyncError::Secret(e.to_string()))?;
        let tokens = AccessTokens::new(endpoints.oauth.clone(), refresh);
        let p: Arc<dyn Provider> = match account.provider {
            Source::Microsoft => {
                let graph = GraphProvider::new(self.http.clone(), &endpoints.api_root, tokens);
                Arc::new(match endpoints.window {
                    Some(w) => graph.with_window(days(w.back_days), days(w.ahead_days)),
                    None => graph,
                })
            }
            _ => Arc::new(GoogleProvider::new(self.http.clone(), &endpoints.api_root, tokens)),
        };
        self.cache().insert(account.id, (account.secret.clone(), p.clone()));
        Ok(p)
    }

    fn webhook_url(&self, account: &Account) -> Option<String> {
        let path = match account.provider {
            Source::Google => "google",
            Source::Microsoft => "graph",
            Source::Local | Source::Caldav => return None,
        };
        self.public_url.as_ref().map(|u| format!("{u}/webhooks/{path}"))
    }

    fn rotated_secret(&self, account: &Account, provider: &Arc<dyn Provider>) -> Result<Option<Vec<u8>>, SyncError> {
        let Some(refresh) = provider.take_rotated_refresh_token() else {
            return Ok(None);
        };
        let context = secret_context(account.user_id, account.provider, &account.remote_user);
        let sealed = self.sealer.seal(&refresh, &context).map_err(|e| SyncError::Secret(e.to_string()))?;
        // The connector already uses the new token: keep it, under its new secret.
        self.cache().insert(account.id, (sealed.clone(), provider.clone()));
        Ok(Some(sealed))
    }
}
