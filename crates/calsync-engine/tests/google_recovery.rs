//! Recovering from what goes wrong between calsync and Google: a crash between Google's answer
//! and our checkpoint, a dead sync token, a listing that comes back empty or fails.

mod support;

use calsync_core::EventId;
use calsync_providers::google::GoogleProvider;
use calsync_providers::google::map::remote_id_for;
use calsync_providers::{ChangePage, Channel, EventWrite, Provider, ProviderError, RemoteCalendar, RemoteEvent};
use calsync_store::EventLinkState;
use reqwest::Method;
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use support::{Hub, changed, google_meeting, hub, meeting};

/// Google accepts the create, then calsync dies before it stores the checkpoint: the
/// remote event exists, the hub knows nothing of it.
async fn create_then_crash(hub: &Hub, id: EventId) {
    let input = hub.local(id).await.draft.to_input();
    let write = EventWrite { local_id: id, input: &input, series: None };
    hub.google.create(&hub.link.remote_calendar_id, &write).await.unwrap_or_else(|e| panic!("create: {e}"));
}

async fn titles(hub: &Hub) -> Vec<String> {
    let mut t: Vec<String> = hub.local_events().await.iter().map(|e| e.draft.title().to_owned()).collect();
    t.sort();
    t
}

async fn remote_titles(hub: &Hub) -> Vec<String> {
    let mut t: Vec<String> =
        hub.live_remote_events().await.iter().map(|e| e["summary"].as_str().unwrap_or_default().to_owned()).collect();
    t.sort();
    t
}

#[tokio::test]
async fn a_create_replayed_after_a_crash_pairs_with_the_first_one_instead_of_duplicating_it() {
    let hub = hub().await;
    hub.pull().await;
    let event = hub.create_local(meeting("Kick-off", "2026-05-04")).await;
    create_then_crash(&hub, event.id).await;
    assert_eq!(hub.outbox_left().await, 1, "the crash left the row unfinished");

    let pushed = hub.push().await;
    assert_eq!(pushed.parked + pushed.conflicts, 0, "{pushed:?}");
    let remote = hub.live_remote_events().await;
    assert_eq!(remote.len(), 1, "{remote:?}");
    assert_eq!(remote[0]["id"], remote_id_for(event.id).as_str());
    assert_eq!(remote[0]["summary"], "Kick-off");
    let link = hub.event_link(event.id).await.unwrap_or_else(|| panic!("not linked"));
    assert_eq!(link.remote_id, remote_id_for(event.id));
    assert_eq!(link.state, EventLinkState::Ok);
    assert_eq!(hub.outbox_left().await, 0);

    // The next pull sees the event as ours: no second local copy.
    let pulled = hub.pull().await;
    assert_eq!(changed(&pulled), (0, 0, 0, 0, 0), "{pulled:?}");
    assert_eq!(hub.local_events().await.len(), 1);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_retried_into_the_same_remote_event() {
    let hub = hub().await;
    hub.pull().await;
    let event = hub.create_local(meeting("Kick-off", "2026-05-04")).await;
    // Google commits the create; its answer never arrives (a 503 in its place).
    hub.inject_fault(json!({"status": 503, "method": "POST", "path": "/events", "after_commit": true})).await;
    assert!(hub.try_push().await.is_err(), "the lost answer is a failure of this run");
    assert_eq!(hub.outbox_left().await, 1, "the checkpoint stays before the create");
    assert_eq!(remote_titles(&hub).await, ["Kick-off"], "yet Google has it");

    let pushed = hub.push().await;
    assert_eq!(pushed.parked + pushed.conflicts, 0, "{pushed:?}");
    assert_eq!(remote_titles(&hub).await, ["Kick-off"], "the retry made no second event");
    assert_eq!(hub.event_link(event.id).await.map(|l| l.remote_id), Some(remote_id_for(event.id)));
    assert_eq!(hub.outbox_left().await, 0);
    assert_eq!(changed(&hub.pull().await), (0, 0, 0, 0, 0));
}

#[tokio::test]
async fn an_edit_made_while_a_create_was_in_limbo_reaches_google_once_the_create_is_replayed() {
    let hub = hub().await;
    hub.pull().await;
    let event = hub.create_local(meeting("Kick-off", "2026-05-04")).await;
    create_then_crash(&hub, event.id).await;
    hub.update_local(event.id, |e| e.title = "Kick-off (room 2)".into()).await;

    let pushed = hub.push().await;
    assert_eq!(pushed.parked + pushed.conflicts, 0, "{pushed:?}");
    assert_eq!(remote_titles(&hub).await, vec!["Kick-off (room 2)".to_owned()]);
    assert_eq!(hub.remote_events().await.len(), 1);
    assert_eq!(hub.outbox_left().await, 0);
    assert_eq!(hub.event_link(event.id).await.map(|l| l.state), Some(EventLinkState::Ok));
    assert_eq!(changed(&hub.pull().await), (0, 0, 0, 0, 0));
    assert_eq!(titles(&hub).await, vec!["Kick-off (room 2)".to_owned()]);
}

#[tokio::test]
async fn a_pull_that_runs_before_the_replay_pairs_the_orphaned_create_with_its_local_event() {
    let hub = hub().await;
    hub.pull().await;
    let event = hub.create_local(meeting("Kick-off", "2026-05-04")).await;
    create_then_crash(&hub, event.id).await;

    // The next link job pulls first: the remote event carries our id, so it is paired, not imported.
    let pulled = hub.pull().await;
    assert_eq!(changed(&pulled), (0, 0, 0, 0, 0), "{pulled:?}");
    assert_eq!(hub.local_events().await.len(), 1);
    assert_eq!(hub.event_link(event.id).await.map(|l| l.remote_id), Some(remote_id_for(event.id)));

    hub.clear_requests().await;
    let pushed = hub.push().await;
    assert_eq!((pushed.created, pushed.updated, pushed.parked, pushed.conflicts), (0, 0, 0, 0), "{pushed:?}");
    assert_eq!(hub.api_writes().await, Vec::<String>::new());
    assert_eq!(hub.remote_events().await.len(), 1);
    assert_eq!(hub.outbox_left().await, 0);
}

#[tokio::test]
async fn an_expired_sync_token_resyncs_and_reconciles_without_losing_or_doubling_anything() {
    let hub = hub().await;
    hub.pull().await;
    let kickoff = hub.create_local(meeting("Kick-off", "2026-05-04")).await;
    let review = hub.create_local(meeting("Review", "2026-05-05")).await;
    let retro = hub.create_local(meeting("Retro", "2026-05-06")).await;
    assert_eq!(hub.push().await.created, 3);
    let dentist = hub.google_create(google_meeting("Dentist", "2026-05-07")).await;
    hub.google_create(google_meeting("Gym", "2026-05-08")).await;
    assert_eq!(hub.pull().await.created, 2);
    assert_eq!(changed(&hub.pull().await), (0, 0, 0, 0, 0));
    assert_eq!(hub.local_events().await.len(), 5);
    assert_eq!(hub.event_links().await.len(), 5);

    // Google forgets every sync token; meanwhile things happen on both sides.
    hub.expire_sync_tokens().await;
    hub.google_ui(Method::DELETE, Some(&remote_id_for(review.id)), json!(null)).await;
    hub.google_ui(Method::PATCH, Some(&dentist), json!({"summary": "Dentist (moved to 16:00)"})).await;
    hub.google_create(google_meeting("Haircut", "2026-05-09")).await;
    hub.update_local(retro.id, |e| e.location = Some("Room 4".into())).await;

    let pulled = hub.pull().await;
    assert!(pulled.resynced, "{pulled:?}");
    assert!(!pulled.empty_listing_guarded);
    assert_eq!(changed(&pulled), (1, 1, 1, 0, 0), "created Haircut, updated Dentist, deleted Review: {pulled:?}");
    assert_eq!(
        titles(&hub).await,
        vec!["Dentist (moved to 16:00)", "Gym", "Haircut", "Kick-off", "Retro"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    );
    assert!(hub.local(review.id).await.is_deleted());
    assert_eq!(hub.local(kickoff.id).await.meta.version, kickoff.meta.version);
    assert_eq!(hub.local(retro.id).await.draft.location(), Some("Room 4"), "the pending local edit survives");
    assert_eq!(hub.event_links().await.len(), 5);

    // The pending local edit goes out; nothing else is written to Google.
    hub.clear_requests().await;
    let pushed = hub.push().await;
    assert_eq!((pushed.created, pushed.updated, pushed.deleted, pushed.conflicts), (0, 1, 0, 0), "{pushed:?}");
    assert_eq!(hub.api_writes().await.len(), 1);
    assert_eq!(
        remote_titles(&hub).await,
        vec!["Dentist (moved to 16:00)", "Gym", "Haircut", "Kick-off", "Retro"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    );

    // The new token works: the next pull is a plain, empty delta.
    let again = hub.pull().await;
    assert!(!again.resynced);
    assert_eq!(changed(&again), (0, 0, 0, 0, 0), "{again:?}");
    assert_eq!(hub.local_events().await.len(), 5);
}

/// Google's connector, except that its listings can be made to come back empty.
struct EmptyListings<'h> {
    inner: &'h GoogleProvider,
    empty: AtomicBool,
}

type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

// `Provider` is an `async_trait`; its methods are written out here in the form that macro
// gives them (boxed futures), which needs no macro in this test crate.
impl Provider for EmptyListings<'_> {
    fn calendars<'s, 'a>(&'s self) -> Answer<'a, Vec<RemoteCalendar>>
    where
        's: 'a,
        Self: 'a,
    {
        self.inner.calendars()
    }

    fn list<'s, 'c, 'k, 'p, 'a>(
        &'s self,
        calendar: &'c str,
        cursor: Option<&'k str>,
        page: Option<&'p str>,
    ) -> Answer<'a, ChangePage>
    where
        's: 'a,
        'c: 'a,
        'k: 'a,
        'p: 'a,
        Self: 'a,
    {
        Box::pin(async move {
            // The real listing (so the cursor it ends with is a real one), with its events dropped.
            let mut page = self.inner.list(calendar, cursor, page).await?;
            if self.empty.load(Ordering::SeqCst) {
                page.events.clear();
            }
            Ok(page)
        })
    }

    fn get<'s, 'c, 'r, 'a>(&'s self, calendar: &'c str, remote_id: &'r str) -> Answer<'a, Option<RemoteEvent>>
    where
        's: 'a,
        'c: 'a,
        'r: 'a,
        Self: 'a,
    {
        self.inner.get(calendar, remote_id)
    }

    fn create<'s, 'c, 'w, 'i, 'a>(&'s self, calendar: &'c str, write: &'w EventWrite<'i>) -> Answer<'a, RemoteEvent>
    where
        's: 'a,
        'c: 'a,
        'w: 'a,
        'i: 'a,
        Self: 'a,
    {
        self.inner.create(calendar, write)
    }

    fn update<'s, 'c, 'r, 'e, 'w, 'i, 'a>(
        &'s self,
        calendar: &'c str,
        remote_id: &'r str,
        etag: Option<&'e str>,
        write: &'w EventWrite<'i>,
    ) -> Answer<'a, RemoteEvent>
    where
        's: 'a,
        'c: 'a,
        'r: 'a,
        'e: 'a,
        'w: 'a,
        'i: 'a,
        Self: 'a,
    {
        self.inner.update(calendar, remote_id, etag, write)
    }

    fn delete<'s, 'c, 'r, 'e, 'a>(
        &'s self,
        calendar: &'c str,
        remote_id: &'r str,
        etag: Option<&'e str>,
    ) -> Answer<'a, ()>
    where
        's: 'a,
        'c: 'a,
        'r: 'a,
        'e: 'a,
        Self: 'a,
    {
        self.inner.delete(calendar, remote_id, etag)
    }

    fn watch<'s, 'c, 'i, 't, 'd, 'a>(
        &'s self,
        calendar: &'c str,
        channel_id: &'i str,
        token: &'t str,
        address: &'d str,
    ) -> Answer<'a, Option<Channel>>
    where
        's: 'a,
        'c: 'a,
        'i: 'a,
        't: 'a,
        'd: 'a,
        Self: 'a,
    {
        self.inner.watch(calendar, channel_id, token, address)
    }

    fn unwatch<'s, 'h, 'a>(&'s self, channel: &'h Channel) -> Answer<'a, ()>
    where
        's: 'a,
        'h: 'a,
        Self: 'a,
    {
        self.inner.unwatch(channel)
    }
}

#[tokio::test]
async fn an_empty_full_listing_deletes_nothing() {
    let hub = hub().await;
    hub.pull().await;
    hub.create_local(meeting("Kick-off", "2026-05-04")).await;
    hub.create_local(meeting("Review", "2026-05-05")).await;
    assert_eq!(hub.push().await.created, 2);
    hub.google_create(google_meeting("Dentist", "2026-05-07")).await;
    assert_eq!(hub.pull().await.created, 1);
    hub.push().await;
    assert_eq!(hub.outbox_left().await, 0);
    let before = titles(&hub).await;
    assert_eq!(before.len(), 3);

    // A full listing (no cursor) that Google answers with nothing at all.
    let google = EmptyListings { inner: &hub.google, empty: AtomicBool::new(true) };
    hub.store.reset_cursor(hub.link.id).await.unwrap_or_else(|e| panic!("{e}"));
    let pulled = hub.pull_via(&google).await;
    assert!(pulled.empty_listing_guarded, "{pulled:?}");
    assert_eq!(changed(&pulled), (0, 0, 0, 0, 0), "{pulled:?}");
    assert_eq!(titles(&hub).await, before);
    assert_eq!(hub.event_links().await.len(), 3);
    assert_eq!(hub.outbox_left().await, 0, "no local deletions were queued for Google");
    assert_eq!(remote_titles(&hub).await, before);

    // Google answers normally again: still nothing to do.
    google.empty.store(false, Ordering::SeqCst);
    hub.store.reset_cursor(hub.link.id).await.unwrap_or_else(|e| panic!("{e}"));
    let pulled = hub.pull_via(&google).await;
    assert!(!pulled.empty_listing_guarded, "{pulled:?}");
    assert_eq!(changed(&pulled), (0, 0, 0, 0, 0), "{pulled:?}");
    assert_eq!(titles(&hub).await, before);
    assert_eq!(hub.push().await, calsync_engine::PushSummary::default());
}

#[tokio::test]
async fn a_full_listing_that_fails_changes_nothing() {
    let hub = hub().await;
    hub.pull().await;
    for day in ["2026-05-04", "2026-05-05", "2026-05-06"] {
        hub.google_create(google_meeting(&format!("Meeting {day}"), day)).await;
    }
    assert_eq!(hub.pull().await.created, 3);
    let before = titles(&hub).await;

    hub.store.reset_cursor(hub.link.id).await.unwrap_or_else(|e| panic!("{e}"));
    hub.inject_fault(json!({"status": 503, "count": 1, "method": "GET", "path": "/events"})).await;
    let failed = hub.try_pull().await;
    assert!(matches!(failed, Err(calsync_engine::SyncError::Provider(ProviderError::Transient { .. }))), "{failed:?}");
    assert_eq!(titles(&hub).await, before);
    assert_eq!(hub.event_links().await.len(), 3);
    assert_eq!(hub.link().await.cursor, None, "no cursor was stored from a failed listing");

    // The retry lists in full and finds everything where it was.
    let pulled = hub.pull().await;
    assert_eq!(changed(&pulled), (0, 0, 0, 0, 0), "{pulled:?}");
    assert_eq!(titles(&hub).await, before);
    assert!(hub.link().await.cursor.is_some());
}
