//! One conformance suite for every store backend. Each scenario runs against SQLite always
//! and against PostgreSQL when CALSYNC_TEST_POSTGRES_URL is set (CI sets it and fails when
//! the server is unreachable), each time in a database of its own.

use calsync_core::{
    CalendarDraft, CalendarId, CalendarInput, ChangeOp, EventDraft, EventId, EventInput, Source, UserId, Window,
};
use calsync_store::testing::TestDb;
use calsync_store::{NewEvent, StoreError, SyncStore, TokenHash};
use serde_json::json;
use std::sync::Arc;

/// Runs `$body` (an async block using `store`) on each backend, as `$name::sqlite` and
/// `$name::postgres`.
macro_rules! conformance {
    ($name:ident, |$store:ident| $body:block) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let db = TestDb::sqlite();
                let $store = db.open().await;
                $body
            }

            #[tokio::test]
            async fn postgres() {
                let Some(db) = TestDb::postgres().await else {
                    eprintln!("CALSYNC_TEST_POSTGRES_URL unset: PostgreSQL half skipped");
                    return;
                };
                let $store = db.open().await;
                $body
            }
        }
    };
}

async fn user(store: &Arc<dyn SyncStore>, name: &str) -> UserId {
    store
        .create_user(name, &TokenHash(format!("hash-of-{name}-{}", uuid::Uuid::now_v7())))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id
}

async fn calendar(store: &Arc<dyn SyncStore>, user: UserId) -> CalendarId {
    let draft = CalendarDraft::parse(CalendarInput {
        name: "Work".into(),
        color: None,
        time_zone: Some("Europe/Berlin".into()),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    store.create_calendar(user, CalendarId::new(), &draft).await.unwrap_or_else(|e| panic!("{e}")).id
}

fn draft(value: serde_json::Value) -> EventDraft {
    let input: EventInput = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
    EventDraft::parse(input).unwrap_or_else(|e| panic!("{e}"))
}

fn meeting(calendar: CalendarId, title: &str, day: &str) -> EventDraft {
    draft(json!({
        "calendar_id": calendar, "title": title,
        "start": {"date_time": format!("{day}T09:00:00"), "time_zone": "Europe/Berlin"},
        "end": {"date_time": format!("{day}T10:00:00"), "time_zone": "Europe/Berlin"},
    }))
}

fn weekly(calendar: CalendarId, first_day: &str, rule: &str) -> EventDraft {
    draft(json!({
        "calendar_id": calendar, "title": "Weekly",
        "start": {"date_time": format!("{first_day}T09:00:00"), "time_zone": "Europe/Berlin"},
        "end": {"date_time": format!("{first_day}T09:30:00"), "time_zone": "Europe/Berlin"},
        "recurrence": [rule],
    }))
}

async fn create(store: &Arc<dyn SyncStore>, user: UserId, draft: EventDraft) -> calsync_core::Event {
    let mut created = store
        .create_events(user, vec![NewEvent { id: EventId::new(), draft, source: Source::Local }])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    created.remove(0)
}

fn window(start: &str, end: &str) -> Window {
    Window {
        start: start.parse().unwrap_or_else(|e| panic!("{e}")),
        end: end.parse().unwrap_or_else(|e| panic!("{e}")),
    }
}

conformance!(an_event_lives_and_dies_with_versions_and_a_change_log, |store| {
    let ada = user(&store, "ada").await;
    let cal = calendar(&store, ada).await;
    let event = create(&store, ada, meeting(cal, "Kick-off", "2026-05-04")).await;
    assert_eq!(event.meta.version, 1);
    assert_eq!(event.meta.source, Source::Local);
    assert_eq!(store.get_event(ada, event.id).await.unwrap_or_else(|e| panic!("{e}")), event);

    let moved = store
        .update_event(ada, event.id, meeting(cal, "Kick-off (moved)", "2026-05-05"), Some(1), Source::Google)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moved.meta.version, 2);
    assert_eq!(moved.meta.source, Source::Local, "source is where it was created");
    assert_eq!(moved.meta.updated_at_source, Source::Google);

    let stale =
        store.update_event(ada, event.id, meeting(cal, "lost edit", "2026-05-06"), Some(1), Source::Local).await;
    assert!(matches!(stale, Err(StoreError::VersionMismatch { expected: 1, current: 2 })), "{stale:?}");

    // Writing the same content again is not a change.
    let same = store
        .update_event(ada, event.id, moved.draft.clone(), None, Source::Local)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(same.meta.version, 2);

    let dead = store.delete_event(ada, event.id, Some(2), Source::Local).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dead.meta.version, 3);
    assert!(dead.is_deleted());
    let tombstone = store.get_event(ada, event.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(tombstone.is_deleted(), "a tombstone stays for sync");
    assert!(matches!(store.delete_event(ada, event.id, None, Source::Local).await, Err(StoreError::Gone { .. })));
    assert!(matches!(
        store.update_event(ada, event.id, meeting(cal, "zombie", "2026-05-07"), None, Source::Local).await,
        Err(StoreError::Gone { .. })
    ));

    let log = store.changes_after(ada, 0, 100).await.unwrap_or_else(|e| panic!("{e}"));
    let summary: Vec<(i64, ChangeOp, i64, Source)> = log.iter().map(|c| (c.seq, c.op, c.version, c.origin)).collect();
    assert_eq!(
        summary,
        [
            (1, ChangeOp::Created, 1, Source::Local),
            (2, ChangeOp::Updated, 2, Source::Google),
            (3, ChangeOp::Deleted, 3, Source::Local)
        ]
    );
    assert_eq!(store.changes_after(ada, 2, 100).await.unwrap_or_else(|e| panic!("{e}")).len(), 1);
    assert_eq!(store.changes_after(ada, 0, 2).await.unwrap_or_else(|e| panic!("{e}")).len(), 2);
});

conformance!(users_never_see_each_other, |store| {
    let ada = user(&store, "ada").await;
    let bob = user(&store, "bob").await;
    let cal = calendar(&store, ada).await;
    let event = create(&store, ada, meeting(cal, "private", "2026-05-04")).await;

    assert!(matches!(store.get_event(bob, event.id).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(store.get_calendar(bob, cal).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(
        store.update_event(bob, event.id, meeting(cal, "hijack", "2026-05-04"), None, Source::Local).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(store.delete_event(bob, event.id, None, Source::Local).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(store.delete_calendar(bob, cal, None, Source::Local).await, Err(StoreError::NotFound { .. })));
    // Bob cannot put an event into Ada's calendar either.
    let sneaky = store
        .create_events(
            bob,
            vec![NewEvent { id: EventId::new(), draft: meeting(cal, "x", "2026-05-04"), source: Source::Local }],
        )
        .await;
    assert!(matches!(sneaky, Err(StoreError::Invalid(_))), "{sneaky:?}");
    assert!(store.list_calendars(bob).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    assert!(store.changes_after(bob, 0, 10).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    assert!(
        store
            .events_in_window(bob, cal, window("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
});

conformance!(tokens_find_their_user, |store| {
    let token = TokenHash("ab".repeat(32));
    let created = store.create_user("ada", &token).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.user_by_token(&token).await.unwrap_or_else(|e| panic!("{e}")), Some(created.clone()));
    assert_eq!(store.user_by_token(&TokenHash("cd".repeat(32))).await.unwrap_or_else(|e| panic!("{e}")), None);
    assert_eq!(store.list_users().await.unwrap_or_else(|e| panic!("{e}")), vec![created]);
    store.ping().await.unwrap_or_else(|e| panic!("{e}"));
});

conformance!(calendars_update_with_versions_and_delete_their_events, |store| {
    let ada = user(&store, "ada").await;
    let cal = calendar(&store, ada).await;
    let renamed =
        CalendarDraft::parse(CalendarInput { name: "Home".into(), color: Some("#00ff00".into()), time_zone: None })
            .unwrap_or_else(|e| panic!("{e}"));
    let updated = store.update_calendar(ada, cal, &renamed, Some(1)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((updated.version, updated.draft.name.as_str()), (2, "Home"));
    assert!(matches!(
        store.update_calendar(ada, cal, &renamed, Some(1)).await,
        Err(StoreError::VersionMismatch { .. })
    ));
    assert_eq!(store.list_calendars(ada).await.unwrap_or_else(|e| panic!("{e}")).len(), 1);

    let a = create(&store, ada, meeting(cal, "a", "2026-05-04")).await;
    create(&store, ada, meeting(cal, "b", "2026-05-05")).await;
    assert_eq!(store.delete_calendar(ada, cal, Some(2), Source::Local).await.unwrap_or_else(|e| panic!("{e}")), 2);
    assert!(store.get_event(ada, a.id).await.unwrap_or_else(|e| panic!("{e}")).is_deleted());
    assert!(matches!(store.get_calendar(ada, cal).await, Err(StoreError::NotFound { .. })));
    let deletions = store.changes_after(ada, 2, 10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(deletions.iter().filter(|c| c.op == ChangeOp::Deleted).count(), 2);
});

conformance!(a_batch_is_all_or_nothing, |store| {
    let ada = user(&store, "ada").await;
    let cal = calendar(&store, ada).await;
    let good = NewEvent { id: EventId::new(), draft: meeting(cal, "good", "2026-05-04"), source: Source::Google };
    let bad =
        NewEvent { id: EventId::new(), draft: meeting(CalendarId::new(), "bad", "2026-05-04"), source: Source::Google };
    let result = store.create_events(ada, vec![good.clone(), bad]).await;
    match result {
        Err(StoreError::Invalid(v)) => assert_eq!(v.0[0].field, "calendar_id"),
        other => panic!("expected an invalid calendar_id, got {other:?}"),
    }
    assert!(matches!(store.get_event(ada, good.id).await, Err(StoreError::NotFound { .. })));
    assert!(store.changes_after(ada, 0, 10).await.unwrap_or_else(|e| panic!("{e}")).is_empty());

    // The same id twice is refused, never duplicated.
    store.create_events(ada, vec![good.clone()]).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(store.create_events(ada, vec![good]).await, Err(StoreError::AlreadyExists { .. })));
});

conformance!(series_exceptions_follow_their_series, |store| {
    let ada = user(&store, "ada").await;
    let cal = calendar(&store, ada).await;
    let single = create(&store, ada, meeting(cal, "single", "2026-05-04")).await;
    let series = create(&store, ada, weekly(cal, "2026-05-04", "RRULE:FREQ=WEEKLY;COUNT=10")).await;
    let exception = |series_id: EventId| {
        draft(json!({
            "calendar_id": cal, "title": "moved",
            "start": {"date_time": "2026-05-12T15:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2026-05-12T15:30:00", "time_zone": "Europe/Berlin"},
            "recurring_event_id": series_id,
            "original_start": {"date_time": "2026-05-11T09:00:00", "time_zone": "Europe/Berlin"},
        }))
    };
    // Exceptions must point at a series of the same user.
    let not_a_series = store
        .create_events(ada, vec![NewEvent { id: EventId::new(), draft: exception(single.id), source: Source::Local }])
        .await;
    assert!(
        matches!(not_a_series, Err(StoreError::Invalid(ref v)) if v.0[0].field == "recurring_event_id"),
        "{not_a_series:?}"
    );
    let ex = create(&store, ada, exception(series.id)).await;
    // One exception per occurrence.
    let twice = store
        .create_events(ada, vec![NewEvent { id: EventId::new(), draft: exception(series.id), source: Source::Local }])
        .await;
    assert!(matches!(twice, Err(StoreError::AlreadyExists { .. })), "{twice:?}");

    store.delete_event(ada, series.id, None, Source::Local).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        store.get_event(ada, ex.id).await.unwrap_or_else(|e| panic!("{e}")).is_deleted(),
        "exceptions die with their series"
    );
});

conformance!(window_queries_find_what_overlaps, |store| {
    let ada = user(&store, "ada").await;
    let cal = calendar(&store, ada).await;
    let inside = create(&store, ada, meeting(cal, "inside", "2026-05-04")).await;
    create(&store, ada, meeting(cal, "before", "2026-04-01")).await;
    create(&store, ada, meeting(cal, "after", "2026-07-01")).await;
    let long = create(
        &store,
        ada,
        draft(json!({
            "calendar_id": cal, "title": "sabbatical",
            "start": {"date": "2026-01-01"}, "end": {"date": "2026-12-31"},
        })),
    )
    .await;
    let endless = create(&store, ada, weekly(cal, "2020-01-06", "RRULE:FREQ=WEEKLY")).await;
    let ended = create(&store, ada, weekly(cal, "2020-01-06", "RRULE:FREQ=WEEKLY;COUNT=3")).await;
    let gone = create(&store, ada, meeting(cal, "deleted", "2026-05-05")).await;
    store.delete_event(ada, gone.id, None, Source::Local).await.unwrap_or_else(|e| panic!("{e}"));
    // An exception of the endless series moved far away still comes along with its series.
    let far = create(
        &store,
        ada,
        draft(json!({
            "calendar_id": cal, "title": "moved far",
            "start": {"date_time": "2027-01-05T09:00:00", "time_zone": "Europe/Berlin"},
            "end": {"date_time": "2027-01-05T09:30:00", "time_zone": "Europe/Berlin"},
            "recurring_event_id": endless.id,
            "original_start": {"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"},
        })),
    )
    .await;

    let found = store
        .events_in_window(ada, cal, window("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut ids: Vec<EventId> = found.iter().map(|e| e.id).collect();
    ids.sort();
    let mut expected = vec![inside.id, long.id, endless.id, far.id];
    expected.sort();
    assert_eq!(ids, expected, "ended series {} must not be found", ended.id);

    // Edges: an event ending exactly at the window start is not in it.
    let edge = store
        .events_in_window(ada, cal, window("2026-05-04T08:00:00Z", "2026-05-04T09:00:00Z"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!edge.iter().any(|e| e.id == inside.id));
});

conformance!(change_numbers_stay_dense_under_concurrent_writers, |store| {
    let ada = user(&store, "ada").await;
    let cal = calendar(&store, ada).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            create(&store, ada, meeting(cal, &format!("parallel {i}"), "2026-05-04")).await;
        }));
    }
    for t in tasks {
        t.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let seqs: Vec<i64> =
        store.changes_after(ada, 0, 100).await.unwrap_or_else(|e| panic!("{e}")).iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=16).collect::<Vec<_>>());
    assert!(store.outbox_depth().await.unwrap_or_else(|e| panic!("{e}")) >= 16);
});

conformance!(moving_a_series_drops_exceptions_whose_occurrence_is_gone, |store| {
    let ada = user(&store, "ada").await;
    let cal = calendar(&store, ada).await;
    let series = create(&store, ada, weekly(cal, "2026-05-04", "RRULE:FREQ=WEEKLY;COUNT=10")).await;
    let cancel = |day: &str| {
        draft(json!({
            "calendar_id": cal, "title": "Weekly", "status": "cancelled",
            "start": {"date_time": format!("{day}T09:00:00"), "time_zone": "Europe/Berlin"},
            "end": {"date_time": format!("{day}T09:30:00"), "time_zone": "Europe/Berlin"},
            "recurring_event_id": series.id,
            "original_start": {"date_time": format!("{day}T09:00:00"), "time_zone": "Europe/Berlin"},
        }))
    };
    let cancelled = create(&store, ada, cancel("2026-05-11")).await;
    // Renaming keeps the exception: its occurrence still exists.
    let mut renamed = series.draft.to_input();
    renamed.title = "Weekly sync".into();
    let renamed = EventDraft::parse(renamed).unwrap_or_else(|e| panic!("{e}"));
    store.update_event(ada, series.id, renamed, None, Source::Local).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!store.get_event(ada, cancelled.id).await.unwrap_or_else(|e| panic!("{e}")).is_deleted());
    // Moving the series to 10:00 leaves no 09:00 occurrence to cancel: the exception goes,
    // instead of the cancelled occurrence silently coming back.
    let later = weekly(cal, "2026-05-04", "RRULE:FREQ=WEEKLY;COUNT=10");
    let mut later = later.to_input();
    later.start.date_time = Some("2026-05-04T10:00:00".into());
    later.end.date_time = Some("2026-05-04T10:30:00".into());
    let later = EventDraft::parse(later).unwrap_or_else(|e| panic!("{e}"));
    store.update_event(ada, series.id, later, None, Source::Local).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(store.get_event(ada, cancelled.id).await.unwrap_or_else(|e| panic!("{e}")).is_deleted());
    let log = store.changes_after(ada, 0, 100).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(log.iter().any(|c| c.event_id == cancelled.id && c.op == ChangeOp::Deleted));
    assert_eq!(store.last_seq(ada).await.unwrap_or_else(|e| panic!("{e}")), log.len() as i64);
});

conformance!(an_account_lease_is_held_by_one_owner_at_a_time, |store| {
    let ada = user(&store, "ada").await;
    let cal = calendar(&store, ada).await;
    let account =
        store.upsert_account(ada, Source::Google, "ada@example.com", b"sealed").await.unwrap_or_else(|e| panic!("{e}"));
    store.create_link(ada, account.id, cal, "ada@example.com").await.unwrap_or_else(|e| panic!("{e}"));
    let now = jiff::Timestamp::now();
    let soon = now.checked_add(jiff::SignedDuration::from_secs(60)).unwrap_or(now);
    let claimed = store.claim_account("worker-a", now, soon).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claimed.map(|a| a.id), Some(account.id), "the account has a due link");
    assert_eq!(store.claim_account("worker-b", now, soon).await.unwrap_or_else(|e| panic!("{e}")), None);
    assert!(!store.claim_this_account(account.id, "operator", now, soon).await.unwrap_or_else(|e| panic!("{e}")));
    assert!(!store.renew_lease(account.id, "worker-b", soon).await.unwrap_or_else(|e| panic!("{e}")));
    assert!(store.renew_lease(account.id, "worker-a", soon).await.unwrap_or_else(|e| panic!("{e}")));
    store.release_account(account.id, "worker-a").await.unwrap_or_else(|e| panic!("{e}"));
    assert!(store.claim_this_account(account.id, "operator", now, soon).await.unwrap_or_else(|e| panic!("{e}")));
    // An expired lease is free for anyone.
    let later = soon.checked_add(jiff::SignedDuration::from_secs(1)).unwrap_or(soon);
    let after = later.checked_add(jiff::SignedDuration::from_secs(60)).unwrap_or(later);
    assert!(store.claim_account("worker-b", later, after).await.unwrap_or_else(|e| panic!("{e}")).is_some());
});

conformance!(a_rotated_secret_replaces_only_the_secret_it_was_rotated_from, |store| {
    let ada = user(&store, "ada").await;
    let account = store
        .upsert_account(ada, Source::Microsoft, "ada@example.com", b"grant-1")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        store.set_account_secret(account.id, b"grant-1", b"grant-1-rotated").await.unwrap_or_else(|e| panic!("{e}"))
    );
    // The user reconnects while a worker still holds the old grant's rotation.
    store.upsert_account(ada, Source::Microsoft, "ada@example.com", b"grant-2").await.unwrap_or_else(|e| panic!("{e}"));
    let stale = store.set_account_secret(account.id, b"grant-1-rotated", b"grant-1-rotated-again").await;
    assert!(!stale.unwrap_or_else(|e| panic!("{e}")), "a stale rotation does not overwrite the new grant");
    let now = store.get_account(ada, account.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(now.secret, b"grant-2");
    assert_eq!(store.account_providers().await.unwrap_or_else(|e| panic!("{e}")), [Source::Microsoft]);
});
