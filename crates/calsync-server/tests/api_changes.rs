//! The change feed an app syncs from: every event write appends one change, numbered
//! 1, 2, 3… per user; read in pages, or live as server-sent events that resume after a
//! reconnect. Each scenario runs on SQLite, and on PostgreSQL when
//! CALSYNC_TEST_POSTGRES_URL is set.

#[macro_use]
mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{TestApp, meeting};

fn id(event: &Value) -> String {
    event["id"].as_str().unwrap_or_default().to_owned()
}

/// `(seq, op, event_id, version)` of each change.
fn summary(changes: &[Value]) -> Vec<(i64, String, String, i64)> {
    changes
        .iter()
        .map(|c| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (c["seq"].as_i64().unwrap_or(-1), text(&c["op"]), text(&c["event_id"]), c["version"].as_i64().unwrap_or(-1))
        })
        .collect()
}

fn change(seq: i64, op: &str, event: &str, version: i64) -> (i64, String, String, i64) {
    (seq, op.to_owned(), event.to_owned(), version)
}

on_both_databases!(every_write_appends_one_numbered_change);
async fn every_write_appends_one_numbered_change(app: TestApp) {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    let kickoff = id(&app.create_event(&token, meeting(&cal, "Kick-off", "2026-05-04", "09:00", "10:00")).await);
    let patched = app
        .send(
            app.request(Method::PATCH, &format!("/api/v1/events/{kickoff}"), &token)
                .header("Content-Type", "application/merge-patch+json")
                .body(json!({"location": "Room 2"}).to_string()),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    let retro = id(&app.create_event(&token, meeting(&cal, "Retro", "2026-05-08", "15:00", "16:00")).await);
    let deleted = app.send(app.request(Method::DELETE, &format!("/api/v1/events/{kickoff}"), &token)).await;
    assert_eq!(deleted.status, 204);
    let replaced = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/events/{retro}"),
            &token,
            &meeting(&cal, "Retro", "2026-05-08", "16:00", "17:00"),
        )
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.json);

    // Writes that change nothing or fail add nothing.
    let same = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/events/{retro}"),
            &token,
            &meeting(&cal, "Retro", "2026-05-08", "16:00", "17:00"),
        )
        .await;
    assert_eq!((same.status, same.json["version"].as_i64()), (200, Some(2)));
    let stale = app
        .send(app.request(Method::DELETE, &format!("/api/v1/events/{retro}"), &token).header("If-Match", "\"1\""))
        .await;
    assert_eq!(stale.status, 412);
    let twice = app.send(app.request(Method::DELETE, &format!("/api/v1/events/{kickoff}"), &token)).await;
    assert_eq!(twice.status, 410);

    let changes = app.changes(&token).await;
    assert_eq!(
        summary(&changes),
        [
            change(1, "created", &kickoff, 1),
            change(2, "updated", &kickoff, 2),
            change(3, "created", &retro, 1),
            change(4, "deleted", &kickoff, 3),
            change(5, "updated", &retro, 2),
        ]
    );
    for c in &changes {
        assert_eq!((c["origin"].as_str(), c["calendar_id"].as_str()), (Some("local"), Some(cal.as_str())), "{c}");
        assert!(c["at"].as_str().is_some_and(|at| at.ends_with('Z')), "{c}");
        assert!(c.get("previous_calendar_id").is_none(), "{c}");
    }

    // Paging: next_after is where the next page starts, and stays put at the end.
    let mut pages = Vec::new();
    let mut after = 0;
    loop {
        let page = app.get(&format!("/api/v1/changes?after={after}&limit=2"), &token).await;
        assert_eq!(page.status, 200, "{}", page.json);
        let seqs: Vec<i64> =
            page.json["changes"].as_array().into_iter().flatten().filter_map(|c| c["seq"].as_i64()).collect();
        let next = page.json["next_after"].as_i64().unwrap_or(-1);
        pages.push((seqs.clone(), next));
        if seqs.is_empty() {
            break;
        }
        after = next;
    }
    assert_eq!(pages, [(vec![1, 2], 2), (vec![3, 4], 4), (vec![5], 5), (vec![], 5)]);
    let default_page = app.get("/api/v1/changes", &token).await;
    assert_eq!(default_page.json["changes"].as_array().map(Vec::len), Some(5), "without after, from the beginning");

    // Every user has a log of their own, starting at 1.
    let bob = app.user("bob").await;
    let bobs_cal = app.calendar(&bob, "Home").await;
    let gym = id(&app.create_event(&bob, meeting(&bobs_cal, "Gym", "2026-05-04", "18:00", "19:00")).await);
    assert_eq!(summary(&app.changes(&bob).await), [change(1, "created", &gym, 1)]);
    assert_eq!(app.changes(&token).await.len(), 5);
}

on_both_databases!(a_live_stream_delivers_writes_made_after_connecting);
async fn a_live_stream_delivers_writes_made_after_connecting(app: TestApp) {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    app.create_event(&token, meeting(&cal, "Before", "2026-05-04", "09:00", "10:00")).await;
    app.create_event(&token, meeting(&cal, "Also before", "2026-05-05", "09:00", "10:00")).await;

    // Without a position the stream starts now: the two earlier writes are not replayed.
    let mut stream = app.stream(&token, "/api/v1/changes/stream", None).await;
    let created = app.create_event(&token, meeting(&cal, "After", "2026-05-06", "09:00", "10:00")).await;
    let (sse_id, data) = stream.next_change().await;
    assert_eq!(sse_id, "3");
    assert_eq!(
        (data["seq"].as_i64(), data["op"].as_str(), data["event_id"].clone(), data["version"].as_i64()),
        (Some(3), Some("created"), created["id"].clone(), Some(1))
    );
    assert_eq!((data["origin"].as_str(), data["calendar_id"].as_str()), (Some("local"), Some(cal.as_str())));

    let path = format!("/api/v1/events/{}", id(&created));
    app.send_json(Method::PUT, &path, &token, &meeting(&cal, "After (moved)", "2026-05-06", "11:00", "12:00")).await;
    app.send(app.request(Method::DELETE, &path, &token)).await;
    let (_, updated) = stream.next_change().await;
    let (_, deleted) = stream.next_change().await;
    assert_eq!((updated["seq"].as_i64(), updated["op"].as_str()), (Some(4), Some("updated")));
    assert_eq!(
        (deleted["seq"].as_i64(), deleted["op"].as_str(), deleted["version"].as_i64()),
        (Some(5), Some("deleted"), Some(3))
    );
}

on_both_databases!(a_reconnecting_client_resumes_after_its_last_event_id_without_repeats);
async fn a_reconnecting_client_resumes_after_its_last_event_id_without_repeats(app: TestApp) {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    let write = |n: u32| meeting(&cal, &format!("Write {n}"), "2026-05-04", "09:00", "10:00");

    let mut first = app.stream(&token, "/api/v1/changes/stream?after=0", None).await;
    app.create_event(&token, write(1)).await;
    app.create_event(&token, write(2)).await;
    assert_eq!(first.next_seqs(2).await, [1, 2]);
    drop(first);

    // Offline for a while; the browser reconnects with the last id it saw.
    app.create_event(&token, write(3)).await;
    app.create_event(&token, write(4)).await;
    let mut second = app.stream(&token, "/api/v1/changes/stream", Some("2")).await;
    assert_eq!(second.next_seqs(2).await, [3, 4]);
    app.create_event(&token, write(5)).await;
    assert_eq!(second.next_seqs(1).await, [5], "the next event is the new write: nothing came twice");

    // Last-Event-ID wins over ?after (a browser keeps the URL it was given).
    let mut third = app.stream(&token, "/api/v1/changes/stream?after=0", Some("4")).await;
    assert_eq!(third.next_seqs(1).await, [5]);
}

on_both_databases!(a_stream_from_zero_replays_the_whole_log_then_follows_it);
async fn a_stream_from_zero_replays_the_whole_log_then_follows_it(app: TestApp) {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    // More than one page of the store's reads, to replay across a page boundary.
    for n in 0..105 {
        app.create_event(&token, meeting(&cal, &format!("Slot {n}"), "2026-05-04", "09:00", "10:00")).await;
    }
    let mut stream = app.stream(&token, "/api/v1/changes/stream?after=0", None).await;
    assert_eq!(stream.next_seqs(105).await, (1..=105).collect::<Vec<i64>>());
    app.create_event(&token, meeting(&cal, "Live", "2026-05-05", "09:00", "10:00")).await;
    assert_eq!(stream.next_seqs(1).await, [106]);

    // And a late joiner without a position starts at the end.
    let mut late = app.stream(&token, "/api/v1/changes/stream", None).await;
    app.create_event(&token, meeting(&cal, "Later", "2026-05-06", "09:00", "10:00")).await;
    assert_eq!(late.next_seqs(1).await, [107]);
    assert_eq!(stream.next_seqs(1).await, [107], "every open stream gets every change");
}

on_both_databases!(concurrent_writes_get_dense_numbers_in_commit_order);
async fn concurrent_writes_get_dense_numbers_in_commit_order(app: TestApp) {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    let mut stream = app.stream(&token, "/api/v1/changes/stream?after=0", None).await;
    let bookings: Vec<Value> =
        (0..24).map(|n| meeting(&cal, &format!("Booking {n}"), "2026-05-04", "09:00", "10:00")).collect();
    let writes = bookings.iter().map(|booking| app.send_json(Method::POST, "/api/v1/events", &token, booking));
    let replies = futures_util::future::join_all(writes).await;
    assert!(replies.iter().all(|r| r.status == 201), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());

    let seqs: Vec<i64> = app.changes(&token).await.iter().filter_map(|c| c["seq"].as_i64()).collect();
    assert_eq!(seqs, (1..=24).collect::<Vec<i64>>());
    assert_eq!(stream.next_seqs(24).await, (1..=24).collect::<Vec<i64>>(), "the stream misses none and repeats none");
    let mut ids: Vec<Value> = app.changes(&token).await.iter().map(|c| c["event_id"].clone()).collect();
    ids.sort_by_key(ToString::to_string);
    ids.dedup();
    assert_eq!(ids.len(), 24);
}
