//! A hub for the engine-level benchmarks (`google_sync`, `graph_sync`): a fresh SQLite
//! store with one user, one local calendar and its link to a remote calendar, driven by
//! calling the engine's pull and push directly.

use anyhow::bail;
use calsync_core::{CalendarId, EventDraft, EventId, EventInput, LinkId, Source, UserId};
use calsync_engine::PullSummary;
use calsync_providers::Provider;
use calsync_store::testing::TestDb;
use calsync_store::{NewEvent, SyncStore, TokenHash};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Hub {
    pub store: Arc<dyn SyncStore>,
    pub user: UserId,
    pub calendar: CalendarId,
    pub link: LinkId,
    _db: TestDb,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("calendar", &self.calendar).field("link", &self.link).finish_non_exhaustive()
    }
}

/// The `i`-th event [`Hub::local_push_lags`] writes.
pub fn local_event(calendar: CalendarId, i: usize) -> anyhow::Result<EventInput> {
    Ok(serde_json::from_value(json!({
        "calendar_id": calendar, "title": format!("Local {i}"),
        "start": {"date_time": "2027-06-01T09:00:00", "time_zone": "Europe/Berlin"},
        "end": {"date_time": "2027-06-01T10:00:00", "time_zone": "Europe/Berlin"},
    }))?)
}

impl Hub {
    /// A calendar "Work" (Europe/Berlin) linked to `remote_calendar` of the account
    /// `remote_user` at `source`.
    pub async fn linked(source: Source, remote_user: &str, remote_calendar: &str) -> anyhow::Result<Self> {
        let db = TestDb::sqlite();
        let store = db.open().await;
        let (user, calendar) =
            crate::user_with_calendar(&*store, "bench", &TokenHash("bench".into()), "Work", "Europe/Berlin").await?;
        let account = store.upsert_account(user, source, remote_user, b"bench").await?;
        let link = store.create_link(user, account.id, calendar, remote_calendar).await?.id;
        Ok(Self { store, user, calendar, link, _db: db })
    }

    /// One pull of the link as it is now stored (cursor included), timed.
    pub async fn pull(&self, provider: &dyn Provider, source: Source) -> anyhow::Result<(PullSummary, Duration)> {
        let link = self.store.get_link(self.user, self.link).await?;
        let t = Instant::now();
        let summary = calsync_engine::pull(&*self.store, provider, &link, source).await?;
        Ok((summary, t.elapsed()))
    }

    /// `n` local events, one at a time: each written to the hub, then pushed; the time from
    /// the write to the provider's answer, sorted.
    pub async fn local_push_lags(&self, provider: &dyn Provider, n: usize) -> anyhow::Result<Vec<Duration>> {
        let mut lags = Vec::with_capacity(n);
        for i in 0..n {
            let draft = EventDraft::parse(local_event(self.calendar, i)?).map_err(|e| anyhow::anyhow!("{e}"))?;
            let t = Instant::now();
            self.store
                .create_events(self.user, vec![NewEvent { id: EventId::new(), draft, source: Source::Local }])
                .await?;
            let link = self.store.get_link(self.user, self.link).await?;
            let pushed = calsync_engine::push(&*self.store, provider, &link).await?;
            lags.push(t.elapsed());
            if pushed.created != 1 {
                bail!("push {i} created {} events: {pushed:?}", pushed.created);
            }
        }
        lags.sort();
        Ok(lags)
    }
}
