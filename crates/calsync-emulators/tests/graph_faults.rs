//! Bad days at Outlook: per-(app, mailbox) throttling (429 with `Retry-After`, for the request
//! rate and for concurrency) and injected faults through the control API every emulator shares
//! (protocols.md §2.5, §2.8 item 7).

mod support;

use calsync_emulators::graph::Config;
use serde_json::{Value, json};
use support::Client;
use support::graph::*;

/// Runs the requests at the same time; their answers in order.
async fn all_at_once<F>(requests: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = requests.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("a request task finished"));
    }
    out
}

async fn inject(emu: &GraphEmu, rule: &Value) {
    let (status, _, body) = emu.control.post("/_emulator/faults", rule).await;
    assert_eq!(status, 204, "adding fault {rule}: {body}");
}

async fn token_for(emu: &GraphEmu, email: &str, client_id: Option<&str>) -> Client {
    let (status, _, t) = emu.control.post("/_emulator/users", &json!({"email": email})).await;
    assert!(status == 201, "{t}");
    let (_, _, tokens) = emu.control.post("/_emulator/tokens", &json!({"email": email, "client_id": client_id})).await;
    Client::new(emu.base(), tokens["access_token"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn over_the_request_rate_a_mailbox_gets_429_with_retry_after() {
    let emu = GraphEmu::start_with(Config { rate_limit: Some(3), ..Config::default() }).await;
    for _ in 0..3 {
        assert_eq!(emu.api.get(EVENTS).await.0, 200);
    }
    let reply = emu.api.get(EVENTS).await;
    assert_graph_error(&reply, 429, "TooManyRequests");
    assert_eq!(reply.2["error"]["innerError"]["code"], json!("429"));
    let retry: u64 = reply.1.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!((1..=600).contains(&retry), "Retry-After within the 10-minute window: {retry}");

    // The limit is per app and mailbox: another mailbox, or another app, is not affected.
    let other_user = token_for(&emu, "other@example.com", None).await;
    assert_eq!(other_user.get(EVENTS).await.0, 200);
    let other_app = Client::new(emu.base(), {
        let (_, _, t) =
            emu.control.post("/_emulator/tokens", &json!({"email": USER, "client_id": "another-app"})).await;
        t["access_token"].as_str().map(str::to_owned)
    });
    assert_eq!(other_app.get(EVENTS).await.0, 200);

    emu.settings(json!({"rate_limit": 0})).await;
    assert_eq!(emu.api.get(EVENTS).await.0, 200, "0 turns the limit off");
}

#[tokio::test]
async fn more_than_four_concurrent_requests_are_throttled() {
    let emu = GraphEmu::start().await;
    emu.settings(json!({"latency_ms": 600})).await;
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let api = emu.api.clone();
            async move { api.get(EVENTS).await }
        })
        .collect();
    let replies = all_at_once(requests).await;
    let throttled: Vec<&support::Reply> = replies.iter().filter(|r| r.0 == 429).collect();
    assert_eq!(throttled.len(), 2, "{:?}", replies.iter().map(|r| r.0).collect::<Vec<_>>());
    for r in throttled {
        assert_graph_error(r, 429, "ApplicationThrottled");
        assert!(r.2["error"]["message"].as_str().is_some_and(|m| m.contains("MailboxConcurrency")));
        assert!(r.1.get("retry-after").is_some());
    }
    emu.settings(json!({"latency_ms": 0})).await;
    assert_eq!(emu.api.get(EVENTS).await.0, 200, "slots come back when answers are sent");
}

#[tokio::test]
async fn injected_faults_answer_in_graphs_body_and_are_logged() {
    let emu = GraphEmu::start().await;
    assert_eq!(emu.control.delete("/_emulator/requests").await.0, 204);
    inject(&emu, &json!({"status": 503, "count": 2, "method": "POST", "path": "/events", "retry_after": 7})).await;
    let (_, _, listed) = emu.control.get("/_emulator/faults").await;
    assert_eq!(listed["faults"][0]["count"], json!(2));
    assert_eq!(listed["latencyMs"], json!(0));
    assert_eq!(emu.api.get(EVENTS).await.0, 200, "GETs do not match the rule");
    for _ in 0..2 {
        let reply = emu.api.post(EVENTS, &hour_event("x", 9)).await;
        assert_graph_error(&reply, 503, "ServiceUnavailable");
        assert_eq!(reply.1.get("retry-after").and_then(|v| v.to_str().ok()), Some("7"));
    }
    create(&emu.api, &hour_event("third time", 9)).await;

    inject(&emu, &json!({"status": 429, "code": "ApplicationThrottled"})).await;
    assert_graph_error(&emu.api.get(EVENTS).await, 429, "ApplicationThrottled");

    let (_, _, log) = emu.control.get("/_emulator/requests").await;
    let seen: Vec<(Value, Value, Value)> = log["requests"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| (r["method"].clone(), r["status"].clone(), r["injected"].clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (json!("GET"), json!(200), json!(false)),
            (json!("POST"), json!(503), json!(true)),
            (json!("POST"), json!(503), json!(true)),
            (json!("POST"), json!(201), json!(false)),
            (json!("GET"), json!(429), json!(true)),
        ]
    );

    let reply = emu.control.post("/_emulator/faults", &json!({"status": 200})).await;
    assert_graph_error(&reply, 400, "ErrorInvalidRequest");
    inject(&emu, &json!({"status": 500, "count": 5})).await;
    assert_eq!(emu.control.delete("/_emulator/faults").await.0, 204);
    assert_eq!(emu.api.get(EVENTS).await.0, 200);
}

#[tokio::test]
async fn a_fault_after_commit_loses_the_answer_but_not_the_write() {
    let emu = GraphEmu::start().await;
    inject(&emu, &json!({"status": 500, "method": "POST", "after_commit": true})).await;
    let body = json!({"transactionId": "retry-me", "subject": "Committed",
                      "start": {"dateTime": "2024-05-01T09:00:00", "timeZone": "UTC"},
                      "end": {"dateTime": "2024-05-01T10:00:00", "timeZone": "UTC"}});
    assert_graph_error(&emu.api.post(EVENTS, &body).await, 500, "ErrorInternalServerError");
    // The retry with the same transactionId finds the committed event instead of a duplicate.
    let retried = create(&emu.api, &body).await;
    let (_, _, list) = emu.api.get(EVENTS).await;
    assert_eq!(values(&list).iter().map(id).collect::<Vec<_>>(), vec![id(&retried)]);
}
