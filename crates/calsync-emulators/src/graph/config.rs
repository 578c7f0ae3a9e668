//! What the Graph emulator is configured with. Everything protocols.md marks ❓ (or leaves
//! unsaid) is a knob here; the defaults follow the documented values where there are any.

use serde::{Deserialize, Serialize};
use std::time::Duration;

pub use crate::config::{DEFAULT_CLIENT_SECRET, DEFAULT_USER, PageMode, UserSpec};

/// A registered app. `secret: None` is a public client (PKCE only). An empty `redirect_uris`
/// accepts any redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSpec {
    pub id: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

/// What happens to a refresh token once it was exchanged for a new one (§2.7: "the response
/// normally carries a new refresh_token; always store it"; how long the old one lives is not
/// documented).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshRotation {
    /// The old token dies as soon as the new one is issued.
    Immediate,
    /// The old token keeps working until the new one is used once (so a client whose refresh
    /// answer was lost can retry), then dies.
    #[default]
    UntilNextUsed,
    /// Old tokens keep working (a new one is still issued each time).
    KeepOld,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub users: Vec<UserSpec>,
    pub clients: Vec<ClientSpec>,
    /// The directory (tenant) id, in notifications and `/me`.
    pub tenant_id: String,
    /// Skip the consent page and approve for the `login_hint` user (or the first user).
    pub auto_approve: bool,
    /// Lifetime of access tokens (Microsoft: 60–90 minutes; default one hour).
    pub access_token_ttl: Duration,
    pub refresh_rotation: RefreshRotation,
    /// However the policy says, a rotated-out refresh token still works this long.
    pub refresh_grace: Duration,
    /// `$top` default of list and calendarView requests (Graph: 10).
    pub list_page_size: usize,
    /// Delta page size without `Prefer: odata.maxpagesize` (❓ U11).
    pub delta_page_size: usize,
    /// The most `odata.maxpagesize` / `$top` may ask for (❓ U11).
    pub max_page_size: usize,
    pub page_mode: PageMode,
    /// Additionally, each delta page is empty (but still followed by `@odata.nextLink`) with
    /// this probability. 0 keeps tests deterministic.
    pub empty_page_probability: f64,
    /// Each delta round also reports again the changes at the position the previous round
    /// ended on (MS-DQO: "the same change can appear again").
    pub delta_replays: bool,
    /// How many delta/skip tokens stay alive; older ones answer 410 `SyncStateNotFound`.
    pub delta_token_cache: usize,
    /// 400 for `$select`, `$expand`, `$filter`, `$orderby`, `$search` on calendarView delta
    /// (MS-DELTA: "not supported"). Off: they are ignored.
    pub delta_rejects_query_options: bool,
    /// How long a `transactionId` makes a repeated create return the first event (undocumented;
    /// `None`: for the event's lifetime).
    pub transaction_id_window: Option<Duration>,
    /// Longest subscription lifetime; longer requests are clamped (10,080 min now, 4,230 in
    /// older docs).
    pub subscription_max_minutes: u32,
    /// Shorter requested lifetimes are raised to this (45 min).
    pub subscription_min_minutes: u32,
    /// Microsoft requires `https` notification URLs; this also allows `http://127.0.0.1` and
    /// `http://localhost` so tests can listen locally.
    pub allow_http_loopback_webhooks: bool,
    /// Time the validation echo may take (10 s).
    pub validation_timeout: Duration,
    /// Time a notification POST may take before it counts as failed (3 s).
    pub notification_timeout: Duration,
    /// First redelivery delay after a non-2xx answer; doubles each time (capped at 10 min).
    pub notification_retry_delay: Duration,
    /// Redeliveries stop after this long (Graph: 4 hours).
    pub notification_retry_for: Duration,
    /// Requests per (app, mailbox) per `rate_window` (10,000 per 10 min). `None`: off.
    pub rate_limit: Option<u32>,
    pub rate_window: Duration,
    /// Concurrent requests per (app, mailbox) (4). `None`: off.
    pub concurrency_limit: Option<u32>,
    /// `Retry-After` of a concurrency 429, in seconds.
    pub concurrency_retry_after: u64,
    /// Public base URL used in links (`@odata.nextLink`, `@odata.deltaLink`); defaults to the
    /// listen address.
    pub public_base_url: Option<String>,
}

pub const DEFAULT_CLIENT_ID: &str = "0b6a3c1e-5f2d-4e8a-9c7b-1d2e3f4a5b6c";
pub const DEFAULT_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

impl Default for Config {
    fn default() -> Self {
        Self {
            users: crate::config::default_users(),
            clients: vec![ClientSpec {
                id: DEFAULT_CLIENT_ID.into(),
                secret: Some(DEFAULT_CLIENT_SECRET.into()),
                redirect_uris: Vec::new(),
            }],
            tenant_id: DEFAULT_TENANT.into(),
            auto_approve: false,
            access_token_ttl: Duration::from_secs(3600),
            refresh_rotation: RefreshRotation::UntilNextUsed,
            refresh_grace: Duration::ZERO,
            list_page_size: 10,
            delta_page_size: 50,
            max_page_size: 1000,
            page_mode: PageMode::Full,
            empty_page_probability: 0.0,
            delta_replays: false,
            delta_token_cache: 1000,
            delta_rejects_query_options: true,
            transaction_id_window: None,
            subscription_max_minutes: 10_080,
            subscription_min_minutes: 45,
            allow_http_loopback_webhooks: true,
            validation_timeout: Duration::from_secs(10),
            notification_timeout: Duration::from_secs(3),
            notification_retry_delay: Duration::from_secs(5),
            notification_retry_for: Duration::from_secs(4 * 3600),
            rate_limit: Some(10_000),
            rate_window: Duration::from_secs(600),
            concurrency_limit: Some(4),
            concurrency_retry_after: 1,
            public_base_url: None,
        }
    }
}
