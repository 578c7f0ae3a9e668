//! Google failing: transient errors stop the outbox on the failed row (to be retried
//! first), permanent refusals park only the event concerned.

mod support;

use calsync_engine::SyncError;
use calsync_providers::ProviderError;
use calsync_providers::google::map::remote_id_for;
use calsync_store::EventLinkState;
use serde_json::json;
use std::time::Duration;
use support::{hub, meeting};

#[tokio::test]
async fn a_503_stops_the_push_and_the_retry_creates_the_event_exactly_once() {
    let hub = hub().await;
    hub.pull().await;
    let checkpoint = hub.link().await.checkpoint;
    let event = hub.create_local(meeting("Kick-off", "2026-05-04")).await;

    hub.inject_fault(json!({"status": 503, "count": 1, "path": "/calendar/v3/"})).await;
    let failed = hub.try_push().await;
    assert!(matches!(failed, Err(SyncError::Provider(ProviderError::Transient { .. }))), "{failed:?}");
    assert_eq!(hub.link().await.checkpoint, checkpoint, "the checkpoint stays before the failed row");
    assert_eq!(hub.outbox_left().await, 1);
    assert!(hub.remote_events().await.is_empty());
    assert_eq!(hub.event_link(event.id).await, None);

    let pushed = hub.push().await;
    assert_eq!((pushed.created, pushed.parked), (1, 0), "{pushed:?}");
    let remote = hub.remote_events().await;
    assert_eq!(remote.len(), 1, "{remote:?}");
    assert_eq!(remote[0]["id"], remote_id_for(event.id).as_str());
    assert_eq!(remote[0]["summary"], "Kick-off");
    assert_eq!(hub.outbox_left().await, 0);
}

#[tokio::test]
async fn a_failed_update_keeps_the_checkpoint_on_its_row_after_the_rows_that_went_through() {
    let hub = hub().await;
    hub.pull().await;
    let first = hub.create_local(meeting("Kick-off", "2026-05-04")).await;
    assert_eq!(hub.push().await.created, 1);

    let second = hub.create_local(meeting("Review", "2026-05-05")).await;
    hub.update_local(first.id, |e| e.title = "Kick-off (room 2)".into()).await;
    let rows =
        hub.store.changes_after(hub.user, hub.link().await.checkpoint, 10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.iter().map(|c| c.event_id).collect::<Vec<_>>(), vec![second.id, first.id]);

    // The create goes through, the update meets a 429 with Retry-After.
    hub.inject_fault(json!({"status": 429, "count": 1, "method": "PUT", "retry_after": 7})).await;
    let failed = hub.try_push().await;
    match &failed {
        Err(SyncError::Provider(ProviderError::Transient { retry_after, .. })) => {
            assert_eq!(*retry_after, Some(Duration::from_secs(7)));
        }
        other => panic!("expected a transient failure, got {other:?}"),
    }
    assert_eq!(hub.link().await.checkpoint, rows[0].seq, "done: the create; next: the failed update");
    assert_eq!(hub.outbox_left().await, 1);
    assert_eq!(hub.live_remote_events().await.len(), 2);

    let pushed = hub.push().await;
    assert_eq!((pushed.created, pushed.updated), (0, 1), "{pushed:?}");
    let mut titles: Vec<String> =
        hub.live_remote_events().await.iter().map(|e| e["summary"].as_str().unwrap_or_default().to_owned()).collect();
    titles.sort();
    assert_eq!(titles, vec!["Kick-off (room 2)".to_owned(), "Review".to_owned()]);
    assert_eq!(hub.remote_events().await.len(), 2);
    assert_eq!(hub.outbox_left().await, 0);
}

#[tokio::test]
async fn a_400_parks_that_event_and_the_rest_of_the_queue_goes_on() {
    let hub = hub().await;
    hub.pull().await;
    let refused = hub.create_local(meeting("Kick-off", "2026-05-04")).await;
    let next = hub.create_local(meeting("Review", "2026-05-05")).await;

    // Google refuses the first insert for good (the emulator's injected 400 carries the reason given).
    hub.inject_fault(json!({"status": 400, "count": 1, "method": "POST", "path": "/events", "reason": "invalid"}))
        .await;
    let pushed = hub.push().await;
    assert_eq!((pushed.created, pushed.parked), (1, 1), "{pushed:?}");

    let parked = hub.event_link(refused.id).await.unwrap_or_else(|| panic!("no event link for the refused event"));
    assert_eq!(parked.state, EventLinkState::Parked);
    let error = parked.error.unwrap_or_default();
    assert!(error.contains("400") && error.contains("invalid"), "{error}");

    let remote = hub.remote_events().await;
    assert_eq!(remote.len(), 1, "{remote:?}");
    assert_eq!(remote[0]["id"], remote_id_for(next.id).as_str());
    assert_eq!(remote[0]["summary"], "Review");
    assert_eq!(hub.event_link(next.id).await.map(|l| l.state), Some(EventLinkState::Ok));
    assert_eq!(hub.outbox_left().await, 0);

    // The parked event is not retried behind the user's back.
    hub.clear_requests().await;
    assert_eq!(hub.push().await, calsync_engine::PushSummary::default());
    assert_eq!(hub.api_writes().await, Vec::<String>::new());
}

#[tokio::test]
async fn an_exception_google_has_no_occurrence_for_is_parked_and_the_rest_of_the_queue_goes_on() {
    let hub = hub().await;
    hub.pull().await;
    let series = hub
        .create_local(json!({
            "title": "Weekly review",
            "start": {"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-05-04T10:00:00", "time_zone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=5"],
        }))
        .await;
    assert_eq!(hub.push().await.created, 1);

    // Valid in the hub (an exception names its series and an original start), but the series
    // has no occurrence at 10:00, so Google has no instance to override.
    let orphan = hub
        .create_local(json!({
            "title": "Weekly review (moved)",
            "start": {"date_time": "2026-05-11T11:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-05-11T12:00:00", "time_zone": "Europe/Berlin"},
            "recurring_event_id": series.id,
            "original_start": {"date_time": "2026-05-11T10:00:00", "time_zone": "Europe/Berlin"},
        }))
        .await;
    let next = hub.create_local(meeting("Dentist", "2026-05-06")).await;

    let pushed = hub.try_push().await;
    let pushed = pushed.unwrap_or_else(|e| panic!("one refused event stopped the whole queue: {e}"));
    assert_eq!((pushed.created, pushed.parked), (1, 1), "{pushed:?}");
    let parked = hub.event_link(orphan.id).await.unwrap_or_else(|| panic!("no event link for the refused exception"));
    assert_eq!(parked.state, EventLinkState::Parked);
    assert!(parked.error.is_some());
    assert_eq!(hub.event_link(next.id).await.map(|l| l.state), Some(EventLinkState::Ok));
    assert!(hub.remote_event(&remote_id_for(next.id)).await.is_some());
    assert_eq!(hub.outbox_left().await, 0);
}

#[tokio::test]
async fn a_delete_google_refuses_for_good_is_parked_and_the_rest_of_the_queue_goes_on() {
    let hub = hub().await;
    hub.pull().await;
    let refused = hub.create_local(meeting("Kick-off", "2026-05-04")).await;
    assert_eq!(hub.push().await.created, 1);

    hub.delete_local(refused.id).await;
    let next = hub.create_local(meeting("Review", "2026-05-05")).await;
    hub.inject_fault(json!({"status": 400, "count": 1, "method": "DELETE", "reason": "invalid"})).await;

    let pushed = hub.try_push().await;
    let pushed = pushed.unwrap_or_else(|e| panic!("one refused delete stopped the whole queue: {e}"));
    assert_eq!((pushed.created, pushed.deleted, pushed.parked), (1, 0, 1), "{pushed:?}");
    let parked = hub.event_link(refused.id).await.unwrap_or_else(|| panic!("no event link for the refused delete"));
    assert_eq!(parked.state, EventLinkState::Parked);
    assert!(parked.error.is_some_and(|e| e.contains("400")));
    assert!(hub.remote_event(&remote_id_for(next.id)).await.is_some());
    assert_eq!(hub.outbox_left().await, 0);
}

#[tokio::test]
async fn an_exception_whose_series_google_refused_is_parked_not_created_as_a_stray_event() {
    let hub = hub().await;
    hub.pull().await;
    let series = hub
        .create_local(json!({
            "title": "Weekly review",
            "start": {"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-05-04T10:00:00", "time_zone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=5"],
        }))
        .await;
    let exception = hub
        .create_local(json!({
            "title": "Weekly review (moved)",
            "start": {"date_time": "2026-05-11T11:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-05-11T12:00:00", "time_zone": "Europe/Berlin"},
            "recurring_event_id": series.id,
            "original_start": {"date_time": "2026-05-11T09:00:00", "time_zone": "Europe/Berlin"},
        }))
        .await;
    // Google refuses the series for good.
    hub.control(
        reqwest::Method::POST,
        "/_emulator/faults",
        json!({"status": 400, "reason": "invalid", "count": 1, "method": "POST", "path": "/events"}),
    )
    .await;
    let pushed = hub.push().await;
    assert_eq!((pushed.created, pushed.parked), (0, 2), "{pushed:?}");
    for id in [series.id, exception.id] {
        assert_eq!(hub.event_link(id).await.map(|l| l.state), Some(EventLinkState::Parked));
    }
    assert!(hub.live_remote_events().await.is_empty(), "nothing stray reached Google");
}
