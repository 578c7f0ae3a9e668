//! Push channels kept alive by the link job.

mod support;

use calsync_core::Source;
use calsync_engine::Schedule;
use reqwest::Method;
use serde_json::{Value, json};
use support::hub;

async fn channels(hub: &support::Hub) -> Vec<Value> {
    hub.control(Method::GET, "/_emulator/channels", json!(null)).await["channels"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn run(hub: &support::Hub) {
    let link = hub.link().await;
    let run = calsync_engine::run_link(
        &*hub.store,
        &hub.google,
        &link,
        Source::Google,
        &Schedule::default(),
        Some("http://127.0.0.1:9/webhooks/google"),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(run.error.is_none(), "{:?}", run.error);
}

#[tokio::test]
async fn a_link_opens_a_channel_and_replaces_it_before_it_expires() {
    let hub = hub().await;
    run(&hub).await;
    let first = channels(&hub).await;
    assert_eq!(first.len(), 1, "{first:?}");
    let stored = hub.link().await.channel.unwrap_or_else(|| panic!("the link keeps its channel"));
    assert_eq!(first[0]["id"], stored.id.as_str());

    // A healthy channel (7 days left) is left alone.
    run(&hub).await;
    assert_eq!(hub.link().await.channel.map(|c| c.id), Some(stored.id.clone()));

    // Google only grants an hour now: under a day left, so the next run renews — the new
    // channel first, then the old one is stopped.
    hub.control(Method::PATCH, "/_emulator/settings", json!({"channel_max_ttl_secs": 3600})).await;
    run(&hub).await; // still the 7-day channel: kept
    hub.control(Method::POST, "/_emulator/channels/drop", json!({})).await;
    hub.store.set_channel(hub.link.id, None).await.unwrap_or_else(|e| panic!("{e}"));
    run(&hub).await; // no channel: a new one, with one hour
    let short = hub.link().await.channel.unwrap_or_else(|| panic!("a new channel"));
    assert_ne!(short.id, stored.id);
    run(&hub).await; // an hour left: replaced
    let renewed = hub.link().await.channel.unwrap_or_else(|| panic!("a renewed channel"));
    assert_ne!(renewed.id, short.id);
    let live: Vec<String> = channels(&hub).await.iter().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect();
    assert_eq!(live, vec![renewed.id], "the replaced channel was stopped");
}

#[tokio::test]
async fn a_channel_google_dropped_silently_is_replaced_when_the_backstop_poll_finds_changes_nobody_announced() {
    let hub = hub().await;
    run(&hub).await;
    let first = hub.link().await.channel.unwrap_or_else(|| panic!("a channel"));
    run(&hub).await; // the catch-up after opening: nothing new

    // A notification announced this change (the link was marked due): the channel works.
    hub.google_create(support::google_meeting("Announced", "2026-05-04")).await;
    hub.store.mark_due(hub.link.id, jiff::Timestamp::now()).await.unwrap_or_else(|e| panic!("{e}"));
    run(&hub).await;
    assert_eq!(hub.link().await.channel.map(|c| c.id), Some(first.id.clone()), "a working channel is kept");

    // The backstop poll, with nothing new: the channel is kept too.
    run(&hub).await;
    assert_eq!(hub.link().await.channel.map(|c| c.id), Some(first.id.clone()));

    // Google forgets the channel without a word; a change follows that nobody announces.
    hub.control(Method::POST, "/_emulator/channels/drop", json!({})).await;
    hub.google_create(support::google_meeting("Unannounced", "2026-05-05")).await;
    run(&hub).await; // the backstop poll brings it in, and sees nobody told of it
    let titles: Vec<String> = hub.local_events().await.into_iter().map(|e| e.draft.title().to_owned()).collect();
    assert!(titles.contains(&"Unannounced".to_owned()), "{titles:?}");
    let replaced = hub.link().await.channel.unwrap_or_else(|| panic!("a new channel"));
    assert_ne!(replaced.id, first.id, "a channel that missed a change must be replaced");
    let live: Vec<String> = channels(&hub).await.iter().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect();
    assert_eq!(live, vec![replaced.id], "Google holds the new channel");
}
