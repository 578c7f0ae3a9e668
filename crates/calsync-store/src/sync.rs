//! What the sync engine keeps: accounts, links (local calendar ⇄ remote calendar), the
//! per-event link with its base, and conflicts. See DESIGN.md §2.

use crate::StoreError;
use async_trait::async_trait;
use calsync_core::sync::Content;
use calsync_core::{AccountId, CalendarId, ConflictId, Event, EventDraft, EventId, LinkId, Seq, Source, UserId};
use jiff::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    Active,
    /// The grant is gone: sync is paused, local changes stay queued until a reconnect.
    NeedsReauth,
    Disconnected,
}

impl AccountState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsReauth => "needs_reauth",
            Self::Disconnected => "disconnected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Active, Self::NeedsReauth, Self::Disconnected].into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub user_id: UserId,
    pub provider: Source,
    pub remote_user: String,
    /// The sealed refresh token (see the engine's `Sealer`).
    pub secret: Vec<u8>,
    pub state: AccountState,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Importing,
    Active,
    Paused,
    Error,
}

impl LinkState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Importing => "importing",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Importing, Self::Active, Self::Paused, Self::Error].into_iter().find(|v| v.as_str() == s)
    }
}

/// A push channel of a link (Google watch channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkChannel {
    pub id: String,
    /// Sent back in every notification; a notification without it is forged.
    pub token: String,
    pub resource_id: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: LinkId,
    pub user_id: UserId,
    pub account_id: AccountId,
    pub calendar_id: CalendarId,
    pub remote_calendar_id: String,
    pub state: LinkState,
    pub cursor: Option<String>,
    pub cursor_at: Option<Timestamp>,
    /// Remote events read so far by a full listing in progress (`None` when none runs).
    pub listing_read: Option<i64>,
    pub checkpoint: Seq,
    pub due_at: Timestamp,
    pub last_pull_at: Option<Timestamp>,
    pub last_push_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    pub failures: i64,
    /// When something last made the link due at once: a push notification or a local change.
    pub marked_at: Option<Timestamp>,
    pub channel: Option<LinkChannel>,
    pub settings: LinkSettings,
    /// What paused the link, waiting for the user.
    pub brake: Option<Brake>,
    /// The user's answer to the brake, used once by the next pull.
    pub brake_decision: Option<BrakeDecision>,
}

/// What a conflict on a link does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// Pause the event (or the link) and ask the user.
    #[default]
    Ask,
    LocalWins,
    RemoteWins,
    /// The side changed last wins (by the time of the edit; lossy, like every automatic winner).
    NewestWins,
}

impl ConflictPolicy {
    pub const ALL: [Self; 4] = [Self::Ask, Self::LocalWins, Self::RemoteWins, Self::NewestWins];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ask => "ask",
            Self::LocalWins => "local_wins",
            Self::RemoteWins => "remote_wins",
            Self::NewestWins => "newest_wins",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A link's rules: conflicts and safety brakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSettings {
    pub policy: ConflictPolicy,
    /// With `ask`: a conflict pauses the whole link, not only its event.
    pub pause_on_conflict: bool,
    /// A pull deleting more events than this pauses the link and asks.
    pub max_deletions: i64,
    /// … or more than this share of the link's events (from 5 deletions on).
    pub max_deletion_percent: i64,
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self { policy: ConflictPolicy::Ask, pause_on_conflict: false, max_deletions: 20, max_deletion_percent: 20 }
    }
}

/// What paused a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrakeKind {
    /// A pull would delete more than the link allows.
    Pull,
    /// The outbox would delete or rewrite more than the link allows.
    Push,
    /// A conflict, on a link set to pause on conflicts: it resumes when they are decided.
    Conflict,
}

impl BrakeKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Push => "push",
            Self::Conflict => "conflict",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pull, Self::Push, Self::Conflict].into_iter().find(|v| v.as_str() == s)
    }
}

/// A pause of a link, with what the user was shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brake {
    pub kind: BrakeKind,
    pub reason: String,
    /// What an answer covers: a pull brake's number of deletions, a push brake's last
    /// outbox row judged. More than that is judged afresh.
    pub bound: i64,
}

/// The user's answer to a safety brake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrakeDecision {
    /// Apply what was held back.
    Confirm,
    /// Undo it at the provider: what the provider deleted is created there again.
    Reject,
}

impl BrakeDecision {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Confirm, Self::Reject].into_iter().find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventLinkState {
    Ok,
    /// The provider refused this event for good; it waits with a visible error.
    Parked,
    /// Changed on both sides; sync of this event on this link waits for the user.
    Conflict,
}

impl EventLinkState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Parked => "parked",
            Self::Conflict => "conflict",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Ok, Self::Parked, Self::Conflict].into_iter().find(|v| v.as_str() == s)
    }
}

/// One local event's link to its remote copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLink {
    pub link_id: LinkId,
    pub event_id: EventId,
    pub remote_id: String,
    pub etag: Option<String>,
    /// What both sides last agreed on.
    pub base: Content,
    pub state: EventLinkState,
    pub error: Option<String>,
}

/// What a conflict record keeps: both sides' content (`None`: deleted there), the fields
/// that clash and why, next to the base the event link holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConflict {
    pub local: Option<Content>,
    pub remote: Option<Content>,
    pub fields: Vec<String>,
    pub reason: String,
    /// When the provider last changed its version, when it says.
    pub remote_updated_at: Option<Timestamp>,
}

/// A conflict as stored: the three versions (`None`: deleted on that side), the clashing
/// fields, and — once resolved — who chose what and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictRecord {
    pub id: ConflictId,
    pub user_id: UserId,
    pub link_id: LinkId,
    pub calendar_id: CalendarId,
    pub event_id: EventId,
    pub base: Option<Content>,
    pub local: Option<Content>,
    pub remote: Option<Content>,
    pub fields: Vec<String>,
    pub reason: String,
    /// Moves whenever a pull brings a newer remote version.
    pub revision: i64,
    /// When the provider last changed its version, when it says.
    pub remote_updated_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub choice: Option<String>,
    pub resolved_by: Option<String>,
}

impl ConflictRecord {
    pub const fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }
}

/// Which conflicts to list; `None` matches all.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConflictFilter {
    pub link: Option<LinkId>,
    pub calendar: Option<CalendarId>,
    pub event: Option<EventId>,
    pub open: Option<bool>,
}

/// What resolving a conflict does to the hub's event.
#[derive(Debug, Clone)]
pub enum LocalOutcome {
    /// The hub already holds the result and the remote too: nothing to send.
    Unchanged,
    /// The hub holds the result; queue it again for the link (a new version, same content).
    Requeue,
    /// The hub's event gets this content (queued like any edit).
    Write(Box<EventDraft>),
    /// The hub's event is deleted (or its deletion queued again when it already is).
    Delete,
}

/// A decision on a conflict, applied in one transaction.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub choice: String,
    pub by: String,
    /// Where the written content came from (the provider's source for `keep_remote`).
    pub origin: Source,
    pub local: LocalOutcome,
    /// The event link afterwards (state ok, base = what the remote holds now), or `None`
    /// when the remote copy is gone (a push creates it again).
    pub link: Option<EventLink>,
    /// `keep_both`: the remote version as a new local event (pushed as a new remote event).
    pub copy: Option<crate::NewEvent>,
    /// The hub's version the decision was taken on, kept on the record (for `/undo`).
    pub local_seen: Option<Content>,
}

/// A change a pull applies to the hub, with the event link that results.
#[derive(Debug, Clone)]
pub enum PullOp {
    /// A remote event new to us.
    Create { id: EventId, draft: EventDraft, link: EventLink },
    /// New content for a linked event (no-op when equal).
    Update { draft: EventDraft, link: EventLink },
    /// The remote copy is gone and ours was unchanged: tombstone it.
    Delete { event_id: EventId },
    /// Only the event link changes (new base/etag, a first pairing, or a conflict mark).
    Link { link: EventLink },
    /// Forget the event link (both sides deleted).
    Unlink { event_id: EventId },
    /// Pause the event on this link (its event link in state Conflict) and record why.
    Conflict { link: EventLink, conflict: NewConflict },
    /// Queue the hub's event for the link again (a new version, same content): the push
    /// sends it to the provider anew.
    Requeue { event_id: EventId },
}

/// The sync engine's storage.
///
/// # Errors
/// As [`crate::Store`].
#[async_trait]
pub trait SyncStore: crate::Store {
    /// Adds the account, or (same user, provider and remote user) reconnects it: new secret,
    /// state active.
    async fn upsert_account(
        &self,
        user: UserId,
        provider: Source,
        remote_user: &str,
        secret: &[u8],
    ) -> Result<Account, StoreError>;
    async fn get_account(&self, user: UserId, id: AccountId) -> Result<Account, StoreError>;
    async fn list_accounts(&self, user: UserId) -> Result<Vec<Account>, StoreError>;
    /// The providers of the accounts over all users: a server that is not configured for
    /// one of them refuses to start rather than silently stop syncing those accounts.
    async fn account_providers(&self) -> Result<Vec<Source>, StoreError>;
    async fn set_account_state(
        &self,
        id: AccountId,
        state: AccountState,
        error: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Replaces the account's sealed secret `old` with `new` (a provider rotated the refresh
    /// token), leaving its state alone. `false`: the secret is no longer `old` (the user
    /// reconnected meanwhile), and nothing changed.
    async fn set_account_secret(&self, id: AccountId, old: &[u8], new: &[u8]) -> Result<bool, StoreError>;

    /// Links a local calendar to a remote one. The checkpoint starts at 0: after the import
    /// pairs what the remote already has, the push replays the calendar's log, which creates
    /// the local events the remote lacks (rows of deleted events cost nothing).
    async fn create_link(
        &self,
        user: UserId,
        account: AccountId,
        calendar: CalendarId,
        remote_calendar_id: &str,
    ) -> Result<Link, StoreError>;
    async fn get_link(&self, user: UserId, id: LinkId) -> Result<Link, StoreError>;
    /// A link by id alone, for operators (`calsync sync --link`).
    async fn find_link(&self, id: LinkId) -> Result<Link, StoreError>;
    /// Removes a link with its event links and conflicts. Returns the local events that were
    /// linked (the caller may delete them). The local events themselves stay.
    async fn delete_link(&self, user: UserId, id: LinkId) -> Result<Vec<EventId>, StoreError>;
    /// Marks the account disconnected and forgets its sealed secret.
    async fn disconnect_account(&self, user: UserId, id: AccountId) -> Result<(), StoreError>;
    async fn list_links(&self, user: UserId) -> Result<Vec<Link>, StoreError>;

    async fn event_link(&self, link: LinkId, event: EventId) -> Result<Option<EventLink>, StoreError>;
    async fn event_link_by_remote(&self, link: LinkId, remote_id: &str) -> Result<Option<EventLink>, StoreError>;
    async fn event_links(&self, link: LinkId) -> Result<Vec<EventLink>, StoreError>;
    /// How many events the link pairs, without reading them (the brake's denominator).
    async fn count_event_links(&self, link: LinkId) -> Result<i64, StoreError>;
    /// The calendar's events that are not simply in sync with every link (waiting in an
    /// outbox, in conflict, parked); the rest are synced.
    async fn sync_states(
        &self,
        user: UserId,
        calendar: CalendarId,
    ) -> Result<std::collections::HashMap<EventId, calsync_core::fullcalendar::SyncState>, StoreError>;

    /// Applies one page of a pull in one transaction: the hub's event writes (with change
    /// rows from `origin`), the event links, and — on the last page — the new cursor and
    /// the link's state. A crash repeats a page, never skips one.
    async fn apply_pull(
        &self,
        user: UserId,
        link: LinkId,
        origin: Source,
        ops: Vec<PullOp>,
        cursor: Option<&str>,
    ) -> Result<Vec<Event>, StoreError>;

    /// Records a finished push of change `seq`: the event link (or its removal) and the
    /// checkpoint, in one transaction.
    async fn record_push(
        &self,
        link: LinkId,
        seq: Seq,
        event_link: Option<&EventLink>,
        unlink: Option<EventId>,
        conflict: Option<&NewConflict>,
    ) -> Result<(), StoreError>;
    /// Open conflicts of a link.
    async fn open_conflicts(&self, link: LinkId) -> Result<Vec<(EventId, NewConflict)>, StoreError>;
    /// The user's conflicts matching `filter`, newest first, at most `limit`.
    async fn list_conflicts(
        &self,
        user: UserId,
        filter: ConflictFilter,
        limit: u32,
    ) -> Result<Vec<ConflictRecord>, StoreError>;
    async fn get_conflict(&self, user: UserId, id: ConflictId) -> Result<ConflictRecord, StoreError>;
    async fn count_open_conflicts(&self, user: UserId) -> Result<i64, StoreError>;
    /// Applies `resolution` to an open conflict whose revision is still `revision` and whose
    /// event is still at `local_version` (`None`: it does not exist): the hub's event, the
    /// event link, the copy, and the record, in one transaction. Otherwise
    /// [`StoreError::Stale`] (or `Gone` when it was resolved already) and nothing changes.
    async fn resolve_conflict(
        &self,
        user: UserId,
        id: ConflictId,
        revision: i64,
        local_version: Option<i64>,
        resolution: &Resolution,
    ) -> Result<(), StoreError>;

    /// Records how far a full listing has read (`None`: it finished).
    async fn set_listing_progress(&self, link: LinkId, read: Option<i64>) -> Result<(), StoreError>;

    /// Pauses the link (a safety brake, or a conflict), or (`None`) lifts the pause and
    /// forgets the answer.
    async fn set_brake(&self, link: LinkId, brake: Option<&Brake>) -> Result<(), StoreError>;
    /// Records the user's answer to the link's brake and lets the link run at once;
    /// [`StoreError::Stale`] when no brake holds it.
    async fn decide_brake(&self, user: UserId, link: LinkId, decision: BrakeDecision) -> Result<(), StoreError>;
    async fn update_link_settings(
        &self,
        user: UserId,
        link: LinkId,
        settings: &LinkSettings,
    ) -> Result<Link, StoreError>;

    /// Forgets the cursor (after the provider declared it dead) so the next pull lists all.
    async fn reset_cursor(&self, link: LinkId) -> Result<(), StoreError>;

    /// Takes the lease of one active account that has a link due at `now`, for `owner`
    /// until `until`. At most one worker holds an account: its links run one at a time.
    async fn claim_account(&self, owner: &str, now: Timestamp, until: Timestamp)
    -> Result<Option<Account>, StoreError>;
    /// Takes the lease of one given account when nobody holds it (an operator's
    /// `calsync sync --link`). `false` when a worker holds it.
    async fn claim_this_account(
        &self,
        account: AccountId,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Extends a lease still held by `owner`; `false` when it was lost (expired and taken).
    async fn renew_lease(&self, account: AccountId, owner: &str, until: Timestamp) -> Result<bool, StoreError>;
    async fn release_account(&self, account: AccountId, owner: &str) -> Result<(), StoreError>;
    /// The account's links that are due at `now` and not paused, soonest first.
    async fn due_links(&self, account: AccountId, now: Timestamp) -> Result<Vec<Link>, StoreError>;
    /// Makes a link due now (a push notification, a local change, a user's request).
    async fn mark_due(&self, link: LinkId, at: Timestamp) -> Result<(), StoreError>;

    /// Makes the other links of `link`'s calendar due at `at`: what a pull brought into the
    /// hub goes out to the calendar's other providers (hub and spokes).
    async fn mark_siblings_due(&self, link: LinkId, at: Timestamp) -> Result<(), StoreError>;
    /// Makes every link of a user due (after a local change: its outbox has rows to push).
    async fn mark_user_due(&self, user: UserId, at: Timestamp) -> Result<(), StoreError>;

    /// Remembers an authorization request until `expires_at`.
    async fn put_oauth_state(
        &self,
        state: &str,
        user: UserId,
        provider: Source,
        verifier: &[u8],
        expires_at: Timestamp,
    ) -> Result<(), StoreError>;
    /// Consumes an authorization request: `(user, provider, sealed verifier)` if it exists
    /// and has not expired. A second call finds nothing.
    async fn take_oauth_state(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<Option<(UserId, Source, Vec<u8>)>, StoreError>;

    /// Stores (or, with `None`, forgets) the link's push channel.
    async fn set_channel(&self, link: LinkId, channel: Option<&LinkChannel>) -> Result<(), StoreError>;
    /// The link a push channel belongs to.
    async fn link_by_channel(&self, channel_id: &str) -> Result<Option<Link>, StoreError>;
    /// Records notification `number` of the link's channel; `false` when it is not newer
    /// than the last one seen (a replay or a duplicate).
    async fn accept_notification(&self, link: LinkId, channel_id: &str, number: i64) -> Result<bool, StoreError>;

    /// Records the outcome of a link job that began at `started_at`: success clears the
    /// error and failure count; the link is next due at `next_due` — or at once when it was
    /// marked due while the job ran (a notification must never be lost to a reschedule).
    /// A successful pull's time is `started_at`: every remote change before it is in.
    async fn record_link_run(
        &self,
        link: LinkId,
        pulled: bool,
        pushed: bool,
        error: Option<&str>,
        next_due: Timestamp,
        started_at: Timestamp,
    ) -> Result<(), StoreError>;
}
