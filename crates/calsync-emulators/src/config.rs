//! Configuration types both emulators take the same way. Each emulator re-exports them from its
//! own `config` module (`google::UserSpec`, `graph::PageMode`, …).

use serde::{Deserialize, Serialize};

/// A test user. Google: their primary calendar's id is the email address. Graph: a mailbox,
/// with a default calendar named `Calendar`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSpec {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// The user both emulators start with.
pub const DEFAULT_USER: &str = "user@example.com";
/// The secret of the client (app) both emulators register at start.
pub const DEFAULT_CLIENT_SECRET: &str = "emulator-secret";

/// The users of a default configuration: [`DEFAULT_USER`], named "Emulated User".
pub(crate) fn default_users() -> Vec<UserSpec> {
    vec![UserSpec { email: DEFAULT_USER.into(), name: Some("Emulated User".into()) }]
}

/// How list pages (Google) and delta pages (Graph) are filled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageMode {
    /// Pages hold the page size (Google: `maxResults`) until the last one.
    #[default]
    Full,
    /// Every other page is empty and the others hold at most half the page size, all but the
    /// last still carrying the next-page link (Google §1.5: "a page may hold fewer items or
    /// none"; Graph's `@odata.nextLink`, MS-DQO: "keep following, even when value is empty").
    Ragged,
}
