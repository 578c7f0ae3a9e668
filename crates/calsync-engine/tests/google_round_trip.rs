//! Two-way sync with the Google emulator, as a user lives it.

mod support;

use reqwest::Method;
use serde_json::json;
use support::{hub, meeting};

#[tokio::test]
async fn a_local_event_appears_changes_and_disappears_in_google_exactly_once() {
    let hub = hub().await;
    hub.pull().await;
    let event = hub.create_local(meeting("Kick-off", "2026-05-04")).await;
    let pushed = hub.push().await;
    assert_eq!(pushed.created, 1);
    let remote = hub.live_remote_events().await;
    assert_eq!(remote.len(), 1, "{remote:?}");
    assert_eq!(remote[0]["summary"], "Kick-off");
    assert_eq!(hub.outbox_left().await, 0);

    hub.update_local(event.id, |e| e.title = "Kick-off (room 2)".into()).await;
    assert_eq!(hub.push().await.updated, 1);
    assert_eq!(hub.live_remote_events().await[0]["summary"], "Kick-off (room 2)");

    // Our own writes come back in the next delta: no local change, nothing to push.
    let version = hub.local(event.id).await.meta.version;
    let pulled = hub.pull().await;
    assert_eq!((pulled.created, pulled.updated, pulled.deleted, pulled.conflicts), (0, 0, 0, 0));
    assert_eq!(hub.local(event.id).await.meta.version, version);
    assert_eq!(hub.outbox_left().await, 0);
    assert_eq!(hub.push().await, calsync_engine::PushSummary::default());

    hub.delete_local(event.id).await;
    assert_eq!(hub.push().await.deleted, 1);
    assert!(hub.live_remote_events().await.is_empty());

    let log = hub.control(Method::GET, "/_emulator/requests", json!(null)).await;
    let writes: Vec<_> = log["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["method"] != "GET" && r["path"].as_str().is_some_and(|p| p.starts_with("/calendar/v3/calendars/"))
        })
        .collect();
    assert_eq!(writes.len(), 3);
    assert!(writes.iter().all(|r| r["send_updates"] == "none"), "{writes:?}");
}

#[tokio::test]
async fn a_google_event_arrives_changes_and_disappears_locally() {
    let hub = hub().await;
    hub.pull().await;
    let created = hub
        .google_ui(
            Method::POST,
            None,
            json!({"summary": "Dentist",
            "start": {"dateTime": "2026-05-05T15:00:00+02:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-05-05T16:00:00+02:00", "timeZone": "Europe/Berlin"}}),
        )
        .await;
    let remote_id = created["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(hub.pull().await.created, 1);
    let local = hub.local_events().await;
    assert_eq!(local.len(), 1);
    assert_eq!(local[0].draft.title(), "Dentist");
    assert_eq!(local[0].meta.source, calsync_core::Source::Google);
    // Nothing to send back.
    assert_eq!(hub.push().await.created, 0);

    hub.google_ui(Method::PATCH, Some(&remote_id), json!({"location": "Main street 1"})).await;
    assert_eq!(hub.pull().await.updated, 1);
    assert_eq!(hub.local(local[0].id).await.draft.location(), Some("Main street 1"));

    hub.google_ui(Method::DELETE, Some(&remote_id), json!(null)).await;
    assert_eq!(hub.pull().await.deleted, 1);
    assert!(hub.local_events().await.is_empty());
    assert_eq!(hub.push().await.deleted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_shows_its_progress_page_by_page_while_it_runs() {
    let mut hub = hub().await;
    hub.google = hub.google.with_page_size(10);
    for i in 0..25 {
        hub.google_create(support::google_meeting(&format!("Remote {i}"), "2026-05-04")).await;
    }
    // Each page takes a while to come, so a watcher sees the count grow between pages.
    hub.control(Method::PATCH, "/_emulator/settings", json!({"latency_ms": 150})).await;
    let store = hub.store.clone();
    let (user, link) = (hub.user, hub.link.id);
    let (done_tx, mut done) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            let read = store.get_link(user, link).await.unwrap_or_else(|e| panic!("{e}")).listing_read;
            if seen.last() != Some(&read) {
                seen.push(read);
            }
            if done.try_recv().is_ok() {
                return seen;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    });
    let import = hub.pull().await;
    let _ = done_tx.send(());
    let mut seen = watcher.await.unwrap_or_else(|e| panic!("{e}"));
    // The count after the last page lives only while the 25 events are written: a watcher
    // may catch it or not.
    seen.retain(|read| *read != Some(25));
    assert_eq!(import.created, 25);
    assert_eq!(import.pages, 3);
    assert_eq!(seen, [None, Some(10), Some(20), None], "progress after each page, cleared at the end");
}

#[tokio::test]
async fn an_outbox_bigger_than_one_brake_window_is_pushed_whole_in_one_run() {
    use calsync_core::{CalendarDraft, CalendarId, CalendarInput, EventDraft, EventId, Source};
    let hub = hub().await;
    hub.pull().await;
    // 10,050 changes in another calendar of the user (a bulk import there), then one here.
    let draft =
        CalendarDraft::parse(CalendarInput { name: "Archive".into(), color: None, time_zone: Some("UTC".into()) })
            .unwrap_or_else(|e| panic!("{e}"));
    let archive =
        hub.store.create_calendar(hub.user, CalendarId::new(), &draft).await.unwrap_or_else(|e| panic!("{e}"));
    let bulk: Vec<calsync_store::NewEvent> = (0..10_050)
        .map(|i| {
            let mut input = hub.input(meeting(&format!("Old {i}"), "2025-01-06"));
            input.calendar_id = archive.id;
            let draft = EventDraft::parse(input).unwrap_or_else(|e| panic!("{e}"));
            calsync_store::NewEvent { id: EventId::new(), draft, source: Source::Local }
        })
        .collect();
    hub.store.create_events(hub.user, bulk).await.unwrap_or_else(|e| panic!("{e}"));
    hub.create_local(meeting("Kick-off", "2026-05-04")).await;

    let pushed = hub.push().await;
    assert_eq!((pushed.created, pushed.braked), (1, 0), "{pushed:?}");
    assert_eq!(hub.outbox_left().await, 0);
}
