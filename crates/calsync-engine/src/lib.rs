//! calsync's sync engine (DESIGN.md §2). A *link job* syncs one local calendar with one
//! remote calendar: pull the provider's changes into the hub, then push the hub's outbox
//! (the change log after the link's checkpoint) to the provider. Every decision about an
//! event is calsync-core's three-way `plan`; this crate does the IO around it.

pub mod job;
pub mod metrics;
mod pull;
mod push;
pub mod sealer;
pub mod worker;

pub use job::{LinkRun, Schedule, run_link};
pub use metrics::EngineMetrics;
pub use pull::{PullSummary, pull};
pub use push::{PushSummary, push};
pub use sealer::{SealError, Sealer};
pub use worker::{GoogleProviders, Providers, Worker};

use calsync_providers::ProviderError;
use calsync_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored secret cannot be opened (wrong or missing key): the account needs the user.
    #[error("the account's stored credentials cannot be read: {0}")]
    Secret(String),
}
