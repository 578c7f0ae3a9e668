//! A storm of 503s and 429s from Google: the link backs off (never sooner than Google's
//! Retry-After), then converges with every event in Google exactly once.

mod support;

use calsync_core::Source;
use calsync_engine::Schedule;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;
use support::{hub, meeting};

#[tokio::test]
async fn a_storm_of_503s_and_429s_backs_off_honours_retry_after_and_converges() {
    let hub = hub().await;
    let schedule = Schedule {
        poll_with_push: Duration::from_secs(3600),
        poll_without_push: Duration::from_secs(3600),
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(200),
    };
    for day in ["2026-05-04", "2026-05-05", "2026-05-06"] {
        hub.create_local(meeting(&format!("Meeting {day}"), day)).await;
    }
    hub.control(Method::POST, "/_emulator/faults", json!({"status": 503, "count": 4, "path": "/calendar/v3/"})).await;
    hub.control(
        Method::POST,
        "/_emulator/faults",
        json!({"status": 429, "count": 1, "path": "/calendar/v3/", "retry_after": 2}),
    )
    .await;
    hub.control(
        Method::POST,
        "/_emulator/faults",
        json!({"status": 403, "reason": "rateLimitExceeded", "count": 2, "path": "/calendar/v3/"}),
    )
    .await;

    let mut runs = 0;
    let mut honoured_retry_after = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "did not converge after {runs} runs");
        let link = hub.link().await;
        let wait = link.due_at.duration_since(jiff::Timestamp::now());
        if wait.is_positive() {
            tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;
        }
        let run = calsync_engine::run_link(&*hub.store, &hub.google, &link, Source::Google, &schedule, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        runs += 1;
        let after = hub.link().await;
        if let Some(e) = &run.error {
            assert!(e.to_string().contains("temporary"), "only transient failures here: {e}");
            let gap = after.due_at.duration_since(after.last_error_at.unwrap_or(after.due_at));
            if e.to_string().contains("429") {
                // Google asked for 2 s; the backoff alone would have waited at most 300 ms.
                assert!(
                    gap >= jiff::SignedDuration::from_millis(1_900),
                    "429 with Retry-After 2 rescheduled after {gap:?}"
                );
                honoured_retry_after = true;
            }
            assert_eq!(after.failures, link.failures + 1);
            continue;
        }
        assert_eq!(after.failures, 0, "a success clears the failure count");
        if hub.outbox_left().await == 0 {
            break;
        }
    }
    assert!(honoured_retry_after, "the 429 was never seen");
    assert!(runs >= 8, "seven faults, each failing one run, then success: {runs} runs");
    let mut titles: Vec<String> =
        hub.live_remote_events().await.iter().filter_map(|e| e["summary"].as_str().map(str::to_owned)).collect();
    titles.sort();
    assert_eq!(titles, ["Meeting 2026-05-04", "Meeting 2026-05-05", "Meeting 2026-05-06"]);
}
