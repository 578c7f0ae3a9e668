//! calsync's sync engine (DESIGN.md §2). A *link job* syncs one local calendar with one
//! remote calendar: pull the provider's changes into the hub, then push the hub's outbox
//! (the change log after the link's checkpoint) to the provider. Every decision about an
//! event is calsync-core's three-way `plan`; this crate does the IO around it.

mod brake;
pub mod connectors;
pub mod job;
pub mod metrics;
pub mod policy;
mod pull;
mod push;
pub mod resolution;
pub mod sealer;
mod withheld;
pub mod worker;

pub use connectors::{Connectors, Endpoints, Window};
pub use job::{LinkRun, Schedule, run_link};
pub use metrics::EngineMetrics;
pub use pull::{PullSummary, pull};
pub use push::{PushSummary, push};
pub use sealer::{SealError, Sealer};
pub use worker::{Providers, Worker};

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
    /// This process is not configured for the account's provider: an operator's matter,
    /// not the user's (the account is left as it is).
    #[error("sync with {0} is not configured in this process (see the README's configuration section)")]
    NotConfigured(calsync_core::Source),
}

/// The conflict record for a plan that ended in a conflict.
pub(crate) fn conflict_record(
    plan: &calsync_core::sync::Plan,
    local: Option<&calsync_core::sync::Content>,
    remote: Option<&calsync_core::sync::Content>,
    remote_updated_at: Option<jiff::Timestamp>,
) -> calsync_store::NewConflict {
    let (fields, reason) = match plan {
        calsync_core::sync::Plan::Conflict { fields, reason } => (field_names(fields), name(reason)),
        // Asked before and still open, though the sides now agree more: the user decides on
        // what differs between them.
        _ => (field_names(&local.zip(remote).map(|(l, r)| l.diff(r)).unwrap_or_default()), "both_edited".into()),
    };
    calsync_store::NewConflict { local: local.cloned(), remote: remote.cloned(), fields, reason, remote_updated_at }
}

/// The snake_case name a value serialises to (fields, reasons).
fn name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn field_names(fields: &[calsync_core::sync::Field]) -> Vec<String> {
    fields.iter().map(name).collect()
}
