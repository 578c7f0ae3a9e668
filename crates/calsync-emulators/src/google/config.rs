//! What the Google emulator is configured with. Everything the documentation leaves unclear
//! (protocols.md ❓ rows) is a knob here; the defaults follow the documented values.

use serde::{Deserialize, Serialize};
use std::time::Duration;

pub use crate::config::{DEFAULT_CLIENT_SECRET, DEFAULT_USER, PageMode, UserSpec};

/// A registered OAuth client. An empty `redirect_uris` accepts any redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSpec {
    pub id: String,
    pub secret: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub users: Vec<UserSpec>,
    pub clients: Vec<ClientSpec>,
    /// Skip the consent page and approve for the `login_hint` user (or the first user).
    pub auto_approve: bool,
    /// Lifetime of access tokens (Google: about an hour).
    pub access_token_ttl: Duration,
    /// Sync tokens older than this answer 410 (Google documents no lifetime; off by default).
    pub sync_token_max_age: Option<Duration>,
    /// Channel lifetime when the watch request names none, and the most it may ask for.
    pub channel_default_ttl: Duration,
    pub channel_max_ttl: Duration,
    /// Google requires `https` watch addresses; this also allows `http://127.0.0.1`/`localhost`.
    pub allow_http_loopback_webhooks: bool,
    /// Redeliveries of a notification the receiver answered with 5xx (or could not be reached).
    pub notification_retries: u32,
    /// First redelivery delay; doubles each time.
    pub notification_retry_delay: Duration,
    pub page_mode: PageMode,
    /// How far past now `singleEvents=true` expands a series that never ends, when no `timeMax` is given.
    pub expansion_horizon_days: i64,
    /// Zone of new primary calendars.
    pub time_zone: String,
    /// Requests per user per minute before 403 `userRateLimitExceeded` (Google: 600). Off by default.
    pub user_rate_limit_per_minute: Option<u32>,
    /// Public base URL used in `resourceUri`/`htmlLink`; defaults to the listen address.
    pub public_base_url: Option<String>,
}

pub const DEFAULT_CLIENT_ID: &str = "emulator-client.apps.googleusercontent.com";

impl Default for Config {
    fn default() -> Self {
        Self {
            users: crate::config::default_users(),
            clients: vec![ClientSpec {
                id: DEFAULT_CLIENT_ID.into(),
                secret: DEFAULT_CLIENT_SECRET.into(),
                redirect_uris: Vec::new(),
            }],
            auto_approve: false,
            access_token_ttl: Duration::from_secs(3600),
            sync_token_max_age: None,
            channel_default_ttl: Duration::from_secs(7 * 24 * 3600),
            channel_max_ttl: Duration::from_secs(7 * 24 * 3600),
            allow_http_loopback_webhooks: true,
            notification_retries: 3,
            notification_retry_delay: Duration::from_millis(200),
            page_mode: PageMode::Full,
            expansion_horizon_days: 730,
            time_zone: "UTC".into(),
            user_rate_limit_per_minute: None,
            public_base_url: None,
        }
    }
}
