//! The same event changed in the app and in Google before they sync: merges where the edits
//! do not touch each other, conflicts (and no overwriting, no deleting) where they do.

mod support;

use calsync_core::Event;
use calsync_providers::google::map::remote_id_for;
use calsync_store::EventLinkState;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Hub, changed, hub, meeting};

/// A local event, pushed to Google and pulled back: in sync on both sides.
async fn synced(hub: &Hub, title: &str) -> (Event, String) {
    hub.pull().await;
    let event = hub.create_local(meeting(title, "2026-05-04")).await;
    assert_eq!(hub.push().await.created, 1);
    assert_eq!(changed(&hub.pull().await), (0, 0, 0, 0, 0));
    (hub.local(event.id).await, remote_id_for(event.id))
}

async fn remote(hub: &Hub, id: &str) -> Value {
    hub.remote_event(id).await.unwrap_or_else(|| panic!("no remote event {id}"))
}

#[tokio::test]
async fn the_same_field_edited_on_both_sides_is_a_conflict_and_neither_side_is_overwritten() {
    let hub = hub().await;
    let (event, remote_id) = synced(&hub, "Standup").await;

    hub.update_local(event.id, |e| e.title = "Standup (app)".into()).await;
    hub.google_ui(Method::PATCH, Some(&remote_id), json!({"summary": "Standup (Google)"})).await;

    let pulled = hub.pull().await;
    assert_eq!(changed(&pulled), (0, 0, 0, 1, 0), "{pulled:?}");
    assert_eq!(hub.local(event.id).await.draft.title(), "Standup (app)");
    let link = hub.event_link(event.id).await.unwrap_or_else(|| panic!("not linked"));
    assert_eq!(link.state, EventLinkState::Conflict);
    assert!(link.error.is_some());
    // The record keeps both sides for the user's decision.
    let conflicts = hub.store.open_conflicts(hub.link.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(conflicts.len(), 1);
    let (event_id, record) = &conflicts[0];
    assert_eq!(*event_id, event.id);
    assert_eq!(record.fields, ["title"]);
    assert_eq!(record.reason, "both_edited");
    assert_eq!(record.local.as_ref().map(|c| c.title.as_str()), Some("Standup (app)"));
    assert_eq!(record.remote.as_ref().map(|c| c.title.as_str()), Some("Standup (Google)"));

    hub.clear_requests().await;
    let pushed = hub.push().await;
    assert_eq!((pushed.created, pushed.updated, pushed.deleted), (0, 0, 0), "{pushed:?}");
    assert_eq!(hub.api_writes().await, Vec::<String>::new());
    assert_eq!(remote(&hub, &remote_id).await["summary"], "Standup (Google)");
    assert_eq!(hub.outbox_left().await, 0);
    assert_eq!(hub.event_link(event.id).await.map(|l| l.state), Some(EventLinkState::Conflict));

    // It stays paused: another pull neither resolves nor counts it again.
    let again = hub.pull().await;
    assert_eq!(changed(&again), (0, 0, 0, 0, 0), "{again:?}");
    assert_eq!(hub.local(event.id).await.draft.title(), "Standup (app)");
}

#[tokio::test]
async fn a_push_that_finds_the_same_field_edited_in_google_marks_a_conflict_instead_of_overwriting() {
    let hub = hub().await;
    let (event, remote_id) = synced(&hub, "Standup").await;

    hub.update_local(event.id, |e| e.title = "Standup (app)".into()).await;
    hub.google_ui(Method::PATCH, Some(&remote_id), json!({"summary": "Standup (Google)"})).await;

    // The outbox runs before any pull has seen Google's edit: the etag no longer matches.
    let pushed = hub.push().await;
    assert_eq!((pushed.updated, pushed.conflicts), (0, 1), "{pushed:?}");
    assert_eq!(hub.store.open_conflicts(hub.link.id).await.map(|c| c.len()).unwrap_or(0), 1);
    assert_eq!(remote(&hub, &remote_id).await["summary"], "Standup (Google)");
    assert_eq!(hub.local(event.id).await.draft.title(), "Standup (app)");
    assert_eq!(hub.event_link(event.id).await.map(|l| l.state), Some(EventLinkState::Conflict));
}

#[tokio::test]
async fn edits_to_different_fields_merge_and_reach_both_sides() {
    let hub = hub().await;
    let (event, remote_id) = synced(&hub, "Standup").await;

    hub.update_local(event.id, |e| e.title = "Standup (new time)".into()).await;
    hub.google_ui(Method::PATCH, Some(&remote_id), json!({"location": "Room 2"})).await;

    let pulled = hub.pull().await;
    assert_eq!(changed(&pulled), (0, 1, 0, 0, 0), "{pulled:?}");
    let local = hub.local(event.id).await;
    assert_eq!(local.draft.title(), "Standup (new time)");
    assert_eq!(local.draft.location(), Some("Room 2"));
    assert_eq!(hub.event_link(event.id).await.map(|l| l.state), Some(EventLinkState::Ok));

    let pushed = hub.push().await;
    assert_eq!((pushed.created, pushed.updated, pushed.conflicts), (0, 1, 0), "{pushed:?}");
    let r = remote(&hub, &remote_id).await;
    assert_eq!(r["summary"], "Standup (new time)");
    assert_eq!(r["location"], "Room 2");
    assert_eq!(hub.outbox_left().await, 0);

    // Both sides agree now: the echo and the next push do nothing.
    let version = hub.local(event.id).await.meta.version;
    let echo = hub.pull().await;
    assert_eq!(changed(&echo), (0, 0, 0, 0, 0), "{echo:?}");
    assert_eq!(hub.local(event.id).await.meta.version, version);
    hub.clear_requests().await;
    assert_eq!(hub.push().await, calsync_engine::PushSummary::default());
    assert_eq!(hub.api_writes().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_local_delete_against_an_edit_in_google_is_a_conflict_found_by_the_pull() {
    let hub = hub().await;
    let (event, remote_id) = synced(&hub, "Standup").await;

    hub.delete_local(event.id).await;
    hub.google_ui(Method::PATCH, Some(&remote_id), json!({"description": "Agenda: budget"})).await;

    let pulled = hub.pull().await;
    assert_eq!(changed(&pulled), (0, 0, 0, 1, 0), "{pulled:?}");
    assert!(hub.local(event.id).await.is_deleted(), "the local delete is not undone silently");
    assert_eq!(hub.event_link(event.id).await.map(|l| l.state), Some(EventLinkState::Conflict));

    hub.clear_requests().await;
    let pushed = hub.push().await;
    assert_eq!(pushed.deleted, 0, "{pushed:?}");
    assert_eq!(hub.api_writes().await, Vec::<String>::new());
    let r = remote(&hub, &remote_id).await;
    assert_eq!(r["status"], "confirmed");
    assert_eq!(r["description"], "Agenda: budget");
}

#[tokio::test]
async fn a_local_delete_pushed_against_an_edit_in_google_is_a_conflict_and_deletes_nothing() {
    let hub = hub().await;
    let (event, remote_id) = synced(&hub, "Standup").await;

    hub.delete_local(event.id).await;
    hub.google_ui(Method::PATCH, Some(&remote_id), json!({"description": "Agenda: budget"})).await;

    let pushed = hub.push().await;
    assert_eq!((pushed.deleted, pushed.conflicts), (0, 1), "{pushed:?}");
    let r = remote(&hub, &remote_id).await;
    assert_eq!(r["status"], "confirmed");
    assert_eq!(r["description"], "Agenda: budget");
    assert_eq!(hub.event_link(event.id).await.map(|l| l.state), Some(EventLinkState::Conflict));

    // The pull afterwards leaves it paused: no resurrection, no delete.
    let pulled = hub.pull().await;
    assert_eq!(changed(&pulled), (0, 0, 0, 0, 0), "{pulled:?}");
    assert!(hub.local(event.id).await.is_deleted());
    assert_eq!(remote(&hub, &remote_id).await["status"], "confirmed");
}

#[tokio::test]
async fn a_google_delete_against_a_local_edit_is_a_conflict_and_the_local_event_stays() {
    let hub = hub().await;
    let (event, remote_id) = synced(&hub, "Standup").await;

    hub.update_local(event.id, |e| e.description = Some("Agenda: budget".into())).await;
    hub.google_ui(Method::DELETE, Some(&remote_id), json!(null)).await;

    let pulled = hub.pull().await;
    assert_eq!(changed(&pulled), (0, 0, 0, 1, 0), "{pulled:?}");
    let local = hub.local(event.id).await;
    assert!(!local.is_deleted());
    assert_eq!(local.draft.description(), Some("Agenda: budget"));
    assert_eq!(hub.event_link(event.id).await.map(|l| l.state), Some(EventLinkState::Conflict));

    // The edit is not pushed onto the deleted event either (no silent resurrection).
    hub.clear_requests().await;
    hub.push().await;
    assert_eq!(hub.api_writes().await, Vec::<String>::new());
    assert_eq!(remote(&hub, &remote_id).await["status"], "cancelled");
}

#[tokio::test]
async fn a_google_rewrite_that_changes_only_the_etag_does_not_stop_a_local_edit() {
    let hub = hub().await;
    let (event, remote_id) = synced(&hub, "Standup").await;

    // Google writes the event without changing anything a user sees (new etag, same content).
    let before = remote(&hub, &remote_id).await["etag"].clone();
    hub.google_ui(Method::PATCH, Some(&remote_id), json!({"summary": "Standup "})).await;
    assert_ne!(remote(&hub, &remote_id).await["etag"], before);
    hub.update_local(event.id, |e| e.title = "Standup (app)".into()).await;

    let pushed = hub.push().await;
    assert_eq!((pushed.updated, pushed.conflicts), (1, 0), "{pushed:?}");
    assert_eq!(remote(&hub, &remote_id).await["summary"], "Standup (app)");
    assert_eq!(hub.event_link(event.id).await.map(|l| l.state), Some(EventLinkState::Ok));
    assert_eq!(changed(&hub.pull().await), (0, 0, 0, 0, 0));
}

#[tokio::test]
async fn a_push_that_finds_a_different_field_edited_in_google_waits_for_the_pull_and_then_merges() {
    let hub = hub().await;
    let (event, remote_id) = synced(&hub, "Standup").await;

    hub.update_local(event.id, |e| e.title = "Standup (new time)".into()).await;
    hub.google_ui(Method::PATCH, Some(&remote_id), json!({"location": "Room 2"})).await;

    // The outbox meets Google's edit first: it neither overwrites nor gives up the row.
    let checkpoint = hub.link().await.checkpoint;
    let failed = hub.try_push().await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(hub.link().await.checkpoint, checkpoint);
    assert_eq!(remote(&hub, &remote_id).await["summary"], "Standup");

    let pulled = hub.pull().await;
    assert_eq!(changed(&pulled), (0, 1, 0, 0, 0), "{pulled:?}");
    let pushed = hub.push().await;
    assert_eq!((pushed.updated, pushed.conflicts), (1, 0), "{pushed:?}");
    let r = remote(&hub, &remote_id).await;
    assert_eq!(r["summary"], "Standup (new time)");
    assert_eq!(r["location"], "Room 2");
    let local = hub.local(event.id).await;
    assert_eq!(local.draft.title(), "Standup (new time)");
    assert_eq!(local.draft.location(), Some("Room 2"));
    assert_eq!(hub.outbox_left().await, 0);
}
