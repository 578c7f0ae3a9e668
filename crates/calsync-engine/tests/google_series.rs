//! Recurring series with exceptions, both ways between the hub and Google.

mod support;

use calsync_core::event::Status;
use calsync_core::{Event, EventTimeInput};
use calsync_providers::google::map::remote_id_for;
use reqwest::Method;
use serde_json::{Value, json};
use support::{changed, hub};

fn berlin(date_time: &str) -> EventTimeInput {
    EventTimeInput { date: None, date_time: Some(date_time.into()), time_zone: Some("Europe/Berlin".into()) }
}

fn start_of(e: &Event) -> EventTimeInput {
    e.draft.to_input().start
}

fn original_start_of(e: &Event) -> Option<EventTimeInput> {
    e.draft.to_input().original_start
}

fn weekly_review_in_google() -> Value {
    json!({
        "summary": "Weekly review",
        "start": {"dateTime": "2026-05-04T09:00:00+02:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-05-04T10:00:00+02:00", "timeZone": "Europe/Berlin"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=5"],
    })
}

#[tokio::test]
async fn a_google_series_with_a_moved_and_a_cancelled_occurrence_arrives_as_one_series_with_two_exceptions() {
    let hub = hub().await;
    hub.pull().await;

    // In Google's web UI: a weekly series, its second occurrence moved to 11:00, its third cancelled.
    let master = hub.google_create(weekly_review_in_google()).await;
    hub.google_ui(
        Method::PATCH,
        Some(&format!("{master}_20260511T070000Z")),
        json!({"start": {"dateTime": "2026-05-11T11:00:00+02:00", "timeZone": "Europe/Berlin"},
               "end": {"dateTime": "2026-05-11T12:00:00+02:00", "timeZone": "Europe/Berlin"}}),
    )
    .await;
    hub.google_ui(Method::DELETE, Some(&format!("{master}_20260518T070000Z")), json!(null)).await;

    let pulled = hub.pull().await;
    assert_eq!(changed(&pulled), (3, 0, 0, 0, 0), "{pulled:?}");

    let local = hub.local_events().await;
    assert_eq!(local.len(), 3, "one series and two exceptions, not five flattened events: {local:?}");
    let series: Vec<&Event> = local.iter().filter(|e| e.draft.series().is_none()).collect();
    assert_eq!(series.len(), 1, "{local:?}");
    let series = series[0];
    assert_eq!(series.draft.title(), "Weekly review");
    assert_eq!(series.draft.to_input().recurrence, vec!["RRULE:FREQ=WEEKLY;COUNT=5".to_owned()]);
    assert_eq!(start_of(series), berlin("2026-05-04T09:00:00"));

    let exception = |original: &str| {
        local
            .iter()
            .find(|e| original_start_of(e) == Some(berlin(original)))
            .unwrap_or_else(|| panic!("no exception for the occurrence of {original}: {local:?}"))
    };
    let moved = exception("2026-05-11T09:00:00");
    assert_eq!(moved.draft.to_input().recurring_event_id, Some(series.id));
    assert_eq!(moved.draft.status(), Status::Confirmed);
    assert_eq!(start_of(moved), berlin("2026-05-11T11:00:00"));
    assert_eq!(moved.draft.to_input().end, berlin("2026-05-11T12:00:00"));
    let cancelled = exception("2026-05-18T09:00:00");
    assert_eq!(cancelled.draft.to_input().recurring_event_id, Some(series.id));
    assert_eq!(cancelled.draft.status(), Status::Cancelled);

    // Nothing of that goes back to Google.
    hub.clear_requests().await;
    let pushed = hub.push().await;
    assert_eq!((pushed.created, pushed.updated, pushed.deleted, pushed.parked), (0, 0, 0, 0), "{pushed:?}");
    assert_eq!(hub.api_writes().await, Vec::<String>::new());

    // The user renames the series in the app: Google's master gets the new title.
    hub.update_local(series.id, |e| e.title = "Weekly review (new format)".into()).await;
    let pushed = hub.push().await;
    assert_eq!((pushed.created, pushed.updated, pushed.deleted), (0, 1, 0), "{pushed:?}");
    let remote_master = hub.remote_event(&master).await.unwrap_or_else(|| panic!("master gone"));
    assert_eq!(remote_master["summary"], "Weekly review (new format)");
    assert_eq!(remote_master["recurrence"], json!(["RRULE:FREQ=WEEKLY;COUNT=5"]));
    assert_eq!(hub.outbox_left().await, 0);

    // Our own write comes back in the next delta: nothing changes in the hub.
    let versions: Vec<(calsync_core::EventId, i64)> =
        hub.local_events().await.iter().map(|e| (e.id, e.meta.version)).collect();
    let echo = hub.pull().await;
    assert_eq!(changed(&echo), (0, 0, 0, 0, 0), "{echo:?}");
    let after: Vec<(calsync_core::EventId, i64)> =
        hub.local_events().await.iter().map(|e| (e.id, e.meta.version)).collect();
    assert_eq!(after, versions);
    assert_eq!(hub.push().await, calsync_engine::PushSummary::default());
}

#[tokio::test]
async fn a_local_series_with_exceptions_arrives_in_google_as_a_master_and_instance_overrides() {
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
    let moved = hub
        .create_local(json!({
            "title": "Weekly review (moved)",
            "start": {"date_time": "2026-05-11T11:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-05-11T12:00:00", "time_zone": "Europe/Berlin"},
            "recurring_event_id": series.id,
            "original_start": {"date_time": "2026-05-11T09:00:00", "time_zone": "Europe/Berlin"},
        }))
        .await;
    let cancelled = hub
        .create_local(json!({
            "title": "Weekly review",
            "start": {"date_time": "2026-05-18T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-05-18T10:00:00", "time_zone": "Europe/Berlin"},
            "recurring_event_id": series.id,
            "original_start": {"date_time": "2026-05-18T09:00:00", "time_zone": "Europe/Berlin"},
            "status": "cancelled",
        }))
        .await;

    let pushed = hub.push().await;
    assert_eq!(pushed.parked, 0, "{pushed:?}");
    assert_eq!(hub.outbox_left().await, 0);

    let master_id = remote_id_for(series.id);
    let master = hub.remote_event(&master_id).await.unwrap_or_else(|| panic!("no master {master_id}"));
    assert_eq!(master["summary"], "Weekly review");
    assert_eq!(master["status"], "confirmed");
    assert_eq!(master["recurrence"], json!(["RRULE:FREQ=WEEKLY;COUNT=5"]));
    assert_eq!(master["start"]["dateTime"], "2026-05-04T09:00:00+02:00");

    let moved_id = format!("{master_id}_20260511T070000Z");
    let instance = hub.remote_event(&moved_id).await.unwrap_or_else(|| panic!("no override {moved_id}"));
    assert_eq!(instance["summary"], "Weekly review (moved)");
    assert_eq!(instance["status"], "confirmed");
    assert_eq!(instance["recurringEventId"], master_id.as_str());
    assert_eq!(instance["originalStartTime"]["dateTime"], "2026-05-11T09:00:00+02:00");
    assert_eq!(instance["start"]["dateTime"], "2026-05-11T11:00:00+02:00");
    assert_eq!(instance["end"]["dateTime"], "2026-05-11T12:00:00+02:00");

    let cancelled_id = format!("{master_id}_20260518T070000Z");
    let instance = hub.remote_event(&cancelled_id).await.unwrap_or_else(|| panic!("no override {cancelled_id}"));
    assert_eq!(instance["status"], "cancelled");
    assert_eq!(instance["recurringEventId"], master_id.as_str());

    // Exactly these three remote events: the overrides did not become single events.
    let mut ids: Vec<String> =
        hub.remote_events().await.iter().map(|e| e["id"].as_str().unwrap_or_default().to_owned()).collect();
    ids.sort();
    let mut expected = vec![master_id.clone(), moved_id.clone(), cancelled_id.clone()];
    expected.sort();
    assert_eq!(ids, expected);

    for (event, remote_id) in [(&series, &master_id), (&moved, &moved_id), (&cancelled, &cancelled_id)] {
        let link = hub.event_link(event.id).await.unwrap_or_else(|| panic!("{} is not linked", event.id));
        assert_eq!(&link.remote_id, remote_id);
        assert_eq!(link.state, calsync_store::EventLinkState::Ok);
    }

    // The echo of these writes changes nothing and creates no duplicates.
    let echo = hub.pull().await;
    assert_eq!(changed(&echo), (0, 0, 0, 0, 0), "{echo:?}");
    assert_eq!(hub.local_events().await.len(), 3);
    assert_eq!(hub.local(cancelled.id).await.meta.version, cancelled.meta.version);
    assert_eq!(hub.push().await, calsync_engine::PushSummary::default());
}

#[tokio::test]
async fn the_first_full_import_also_keeps_a_series_and_its_exceptions_together() {
    let hub = hub().await;
    // Everything exists in Google before the link's first (full) listing.
    let master = hub.google_create(weekly_review_in_google()).await;
    hub.google_ui(
        Method::PATCH,
        Some(&format!("{master}_20260525T070000Z")),
        json!({"summary": "Weekly review (with guests)"}),
    )
    .await;
    hub.google_ui(Method::DELETE, Some(&format!("{master}_20260601T070000Z")), json!(null)).await;

    let pulled = hub.pull().await;
    assert_eq!(changed(&pulled), (3, 0, 0, 0, 0), "{pulled:?}");
    let local = hub.local_events().await;
    let series = local.iter().find(|e| e.draft.series().is_none()).unwrap_or_else(|| panic!("no series: {local:?}"));
    let mut exceptions: Vec<(Option<EventTimeInput>, String, Status)> = local
        .iter()
        .filter(|e| e.draft.to_input().recurring_event_id == Some(series.id))
        .map(|e| (original_start_of(e), e.draft.title().to_owned(), e.draft.status()))
        .collect();
    exceptions.sort_by(|a, b| {
        a.0.as_ref().and_then(|t| t.date_time.clone()).cmp(&b.0.as_ref().and_then(|t| t.date_time.clone()))
    });
    assert_eq!(
        exceptions,
        vec![
            (Some(berlin("2026-05-25T09:00:00")), "Weekly review (with guests)".to_owned(), Status::Confirmed),
            (Some(berlin("2026-06-01T09:00:00")), "Weekly review".to_owned(), Status::Cancelled),
        ]
    );
    assert_eq!(local.len(), 3);
}

#[tokio::test]
async fn an_occurrence_of_a_local_series_moved_in_google_becomes_an_exception_of_that_series() {
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
    assert_eq!(changed(&hub.pull().await), (0, 0, 0, 0, 0));
    let master = remote_id_for(series.id);

    // In Google's web UI the second occurrence moves to 11:00. Google copies the master's
    // private properties (our id of the *series*) onto the instance.
    hub.google_ui(
        Method::PATCH,
        Some(&format!("{master}_20260511T070000Z")),
        json!({"start": {"dateTime": "2026-05-11T11:00:00+02:00", "timeZone": "Europe/Berlin"},
               "end": {"dateTime": "2026-05-11T12:00:00+02:00", "timeZone": "Europe/Berlin"}}),
    )
    .await;

    let pulled = hub.pull().await;
    assert_eq!(changed(&pulled), (1, 0, 0, 0, 0), "{pulled:?}");
    let local = hub.local_events().await;
    assert_eq!(local.len(), 2, "{local:?}");
    let moved = local.iter().find(|e| e.id != series.id).unwrap_or_else(|| panic!("no exception: {local:?}"));
    assert_eq!(moved.draft.to_input().recurring_event_id, Some(series.id));
    assert_eq!(original_start_of(moved), Some(berlin("2026-05-11T09:00:00")));
    assert_eq!(start_of(moved), berlin("2026-05-11T11:00:00"));

    // The series itself is untouched and still linked to the master.
    let series_now = hub.local(series.id).await;
    assert_eq!(series_now.meta.version, series.meta.version);
    let link = hub.event_link(series.id).await.unwrap_or_else(|| panic!("series unlinked"));
    assert_eq!(link.remote_id, master);
    assert_eq!(link.state, calsync_store::EventLinkState::Ok);
    let link = hub.event_link(moved.id).await.unwrap_or_else(|| panic!("exception unlinked"));
    assert_eq!(link.remote_id, format!("{master}_20260511T070000Z"));

    // A later rename of the series in the app still reaches the master.
    hub.update_local(series.id, |e| e.title = "Weekly review (new format)".into()).await;
    let pushed = hub.push().await;
    assert_eq!((pushed.updated, pushed.conflicts, pushed.parked), (1, 0, 0), "{pushed:?}");
    assert_eq!(
        hub.remote_event(&master).await.map(|m| m["summary"].clone()),
        Some(json!("Weekly review (new format)"))
    );
}
