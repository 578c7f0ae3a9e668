//! A sync client's life against the emulator: full listings over many pages, incremental
//! syncs with deletions, dead sync tokens, ragged pages, writes racing a listing, and the
//! calendar list's own sync (protocols.md §1.5–§1.7, §1.11, §1.14 items 2–4).

mod support;

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use support::*;

/// Inserts `n` events with ids `{prefix}{i:05}` (lowercase base32hex) and returns the ids.
async fn seed(api: &Client, prefix: &str, n: u32) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let mut body = hour_event(&format!("Event {i}"), i % 24);
        let id = format!("{prefix}{i:05}");
        body["id"] = json!(id);
        insert(api, "primary", &body).await;
        ids.push(id);
    }
    ids
}

/// Ids of the items, failing on any duplicate.
fn unique_ids(items: &[Value]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for e in items {
        let id = e["id"].as_str().unwrap_or_else(|| panic!("an item without id: {e}")).to_owned();
        assert!(seen.insert(id.clone()), "{id} was listed twice");
    }
    seen
}

#[tokio::test]
async fn a_full_sync_pages_through_every_event_exactly_once() {
    let emu = Emu::start().await;
    let all: BTreeSet<String> = seed(&emu.api, "evt", 260).await.into_iter().collect();

    // Default maxResults is 250.
    let (status, _, first) = emu.api.get(EVENTS).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["kind"], json!("calendar#events"));
    assert_eq!(items(&first).len(), 250);
    assert!(first["nextPageToken"].is_string(), "more pages follow");
    assert!(first.get("nextSyncToken").is_none(), "nextSyncToken only on the last page: {}", first["nextSyncToken"]);
    let token = first["nextPageToken"].as_str().unwrap_or_default();
    let (status, _, second) = emu.api.get(&with_page(EVENTS, token)).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(items(&second).len(), 10);
    assert!(second.get("nextPageToken").is_none());
    assert!(second["nextSyncToken"].is_string());
    let mut both = items(&first);
    both.extend(items(&second));
    assert_eq!(unique_ids(&both), all);

    // maxResults is 1..=2500.
    let (status, _, big) = emu.api.get(&format!("{EVENTS}?maxResults=2500")).await;
    assert_eq!(status, 200);
    assert_eq!(items(&big).len(), 260);
    assert_error(&emu.api.get(&format!("{EVENTS}?maxResults=2501")).await, 400, "invalid");
    assert_eq!(emu.api.get(&format!("{EVENTS}?maxResults=0")).await.0, 400);

    // Small pages: every event exactly once, the sync token on the last page only.
    let (pages, _) = list_all(&emu.api, &format!("{EVENTS}?maxResults=7")).await;
    assert_eq!(pages.len(), 38, "260 events in pages of 7");
    for page in &pages[..pages.len() - 1] {
        assert_eq!(items(page).len(), 7);
        assert!(page.get("nextSyncToken").is_none());
    }
    let listed: Vec<Value> = pages.iter().flat_map(items).collect();
    assert_eq!(unique_ids(&listed), all);
}

#[tokio::test]
async fn an_incremental_sync_returns_changes_and_deletions_as_stubs() {
    let emu = Emu::start().await;
    seed(&emu.api, "base", 3).await;
    let (listed, token) = list_items(&emu.api, EVENTS).await;
    assert_eq!(listed.len(), 3);

    let added = insert(&emu.api, "primary", &hour_event("Added later", 15)).await;
    let (status, _, changed) = emu.api.patch(&event_path("base00001"), &json!({"summary": "Changed"})).await;
    assert_eq!(status, 200);
    assert_eq!(emu.api.delete(&event_path("base00002")).await.0, 204);

    let (delta, next) = list_items(&emu.api, &format!("{EVENTS}?syncToken={}", enc(&token))).await;
    let by_id: BTreeMap<String, Value> =
        delta.iter().map(|e| (e["id"].as_str().unwrap_or_default().to_owned(), e.clone())).collect();
    assert_eq!(by_id.len(), 3, "exactly the three changed events: {delta:?}");
    assert_eq!(by_id[added["id"].as_str().unwrap_or_default()], added, "a new event comes in full");
    assert_eq!(by_id["base00001"], changed, "a changed event comes in full");
    let stub = &by_id["base00002"];
    assert_eq!(keys(stub), vec!["etag", "id", "kind", "status"], "a deleted event is a bare stub: {stub}");
    assert_eq!(stub["status"], json!("cancelled"));
    assert_eq!(stub["kind"], json!("calendar#event"));
    assert!(stub["etag"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(!by_id.contains_key("base00000"), "an untouched event is not in the delta");

    // Nothing changed since: an empty delta with a fresh token.
    let (empty, _) = list_items(&emu.api, &format!("{EVENTS}?syncToken={}", enc(&next))).await;
    assert!(empty.is_empty(), "{empty:?}");

    // showDeleted=true is allowed with a syncToken (it is what Google forces anyway).
    let (status, _, _) = emu.api.get(&format!("{EVENTS}?syncToken={}&showDeleted=true", enc(&next))).await;
    assert_eq!(status, 200);

    // A full listing hides the deletion unless asked for it.
    let (full, _) = list_items(&emu.api, EVENTS).await;
    assert!(!unique_ids(&full).contains("base00002"));
    let (with_deleted, _) = list_items(&emu.api, &format!("{EVENTS}?showDeleted=true")).await;
    let tomb =
        with_deleted.iter().find(|e| e["id"] == json!("base00002")).unwrap_or_else(|| panic!("{with_deleted:?}"));
    assert_eq!(tomb["status"], json!("cancelled"));
}

#[tokio::test]
async fn a_cancelled_occurrence_arrives_as_a_stub_naming_its_series() {
    let emu = Emu::start().await;
    let body = json!({"summary": "Standup",
                      "start": {"dateTime": "2024-05-06T09:00:00", "timeZone": "Europe/Berlin"},
                      "end": {"dateTime": "2024-05-06T09:15:00", "timeZone": "Europe/Berlin"},
                      "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"]});
    let master = insert(&emu.api, "primary", &body).await;
    let m = master["id"].as_str().unwrap_or_default().to_owned();
    let (_, token) = list_items(&emu.api, EVENTS).await;
    let (_, single_token) = list_items(&emu.api, &format!("{EVENTS}?singleEvents=true")).await;

    let second = format!("{m}_20240507T070000Z");
    assert_eq!(emu.api.delete(&event_path(&second)).await.0, 204);
    let (delta, _) = list_items(&emu.api, &format!("{EVENTS}?syncToken={}", enc(&token))).await;
    assert_eq!(delta.len(), 1, "{delta:?}");
    let stub = &delta[0];
    assert_eq!(keys(stub), vec!["etag", "id", "kind", "originalStartTime", "recurringEventId", "status"], "{stub}");
    assert_eq!(stub["id"], json!(second));
    assert_eq!(stub["status"], json!("cancelled"));
    assert_eq!(stub["recurringEventId"], json!(m));
    assert_eq!(
        stub["originalStartTime"],
        json!({"dateTime": "2024-05-07T09:00:00+02:00", "timeZone": "Europe/Berlin"})
    );

    // With singleEvents=true the same change is the same stub.
    let (delta, single_next) =
        list_items(&emu.api, &format!("{EVENTS}?singleEvents=true&syncToken={}", enc(&single_token))).await;
    assert_eq!(delta.len(), 1, "{delta:?}");
    assert_eq!(delta[0]["id"], json!(second));
    assert_eq!(delta[0]["status"], json!("cancelled"));

    // Deleting the whole series: singleEvents=true deltas report each remaining occurrence cancelled.
    assert_eq!(emu.api.delete(&event_path(&m)).await.0, 204);
    let (delta, _) = list_items(&emu.api, &format!("{EVENTS}?singleEvents=true&syncToken={}", enc(&single_next))).await;
    let mut cancelled: Vec<String> = delta
        .iter()
        .inspect(|e| {
            assert_eq!(e["status"], json!("cancelled"), "{e}");
            assert_eq!(e["recurringEventId"], json!(m), "{e}");
        })
        .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    cancelled.sort();
    cancelled.dedup();
    assert!(cancelled.contains(&format!("{m}_20240506T070000Z")), "{delta:?}");
    assert!(cancelled.contains(&format!("{m}_20240508T070000Z")), "{delta:?}");
    assert!(!cancelled.contains(&m), "singleEvents=true never returns the master: {delta:?}");
}

#[tokio::test]
async fn parameters_google_forbids_next_to_a_sync_token_are_400() {
    let emu = Emu::start().await;
    seed(&emu.api, "evt", 2).await;
    let (_, token) = list_items(&emu.api, EVENTS).await;
    let t = enc(&token);
    for extra in [
        format!("timeMin={}", enc("2024-01-01T00:00:00Z")),
        format!("timeMax={}", enc("2025-01-01T00:00:00Z")),
        "q=standup".to_owned(),
        "orderBy=updated".to_owned(),
        format!("updatedMin={}", enc("2024-01-01T00:00:00Z")),
        format!("iCalUID={}", enc("x@google.com")),
        format!("privateExtendedProperty={}", enc("a=b")),
        "showDeleted=false".to_owned(),
    ] {
        let reply = emu.api.get(&format!("{EVENTS}?syncToken={t}&{extra}")).await;
        assert_eq!(reply.0, 400, "syncToken with {extra}: {}", reply.2);
        assert_eq!(reply.2["error"]["code"], json!(400));
    }
    // The same token alone still works.
    assert_eq!(emu.api.get(&format!("{EVENTS}?syncToken={t}")).await.0, 200);
}

#[tokio::test]
async fn a_dead_sync_token_is_410_full_sync_required() {
    let emu = Emu::start().await;
    seed(&emu.api, "evt", 2).await;

    let (status, _, body) = emu.api.get(&format!("{EVENTS}?syncToken=garbage")).await;
    assert_eq!(status, 410);
    assert_eq!(body, full_sync_required());

    let (_, token) = list_items(&emu.api, EVENTS).await;
    assert_eq!(emu.api.get(&format!("{EVENTS}?syncToken={}", enc(&token))).await.0, 200);
    let (status, _, _) = emu.control.post("/_emulator/sync-tokens/expire", &json!({})).await;
    assert_eq!(status, 200);

    let (status, _, body) = emu.api.get(&format!("{EVENTS}?syncToken={}", enc(&token))).await;
    assert_eq!(status, 410);
    let exact: Value = serde_json::from_str(
        r#"{"error":{"errors":[{"domain":"calendar","reason":"fullSyncRequired","message":"Sync token is no longer valid, a full sync is required.","locationType":"parameter","location":"syncToken"}],"code":410,"message":"Sync token is no longer valid, a full sync is required."}}"#,
    )
    .expect("the documented body is JSON");
    assert_eq!(body, exact);

    // The client wipes and resyncs: the new token works.
    let (again, fresh) = list_items(&emu.api, EVENTS).await;
    assert_eq!(again.len(), 2);
    assert_eq!(emu.api.get(&format!("{EVENTS}?syncToken={}", enc(&fresh))).await.0, 200);
}

#[tokio::test]
async fn ragged_pages_still_cover_everything() {
    let emu = Emu::start().await;
    let (status, _, settings) = emu.control.patch("/_emulator/settings", &json!({"page_mode": "ragged"})).await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["page_mode"], json!("ragged"));
    let all: BTreeSet<String> = seed(&emu.api, "rag", 9).await.into_iter().collect();

    let (pages, token) = list_all(&emu.api, &format!("{EVENTS}?maxResults=4")).await;
    let (last, rest) = pages.split_last().unwrap_or_else(|| panic!("no pages"));
    assert!(last["nextSyncToken"].is_string());
    assert!(rest.iter().any(|p| items(p).is_empty()), "some page is empty but carries nextPageToken");
    assert!(
        rest.iter().any(|p| !items(p).is_empty() && items(p).len() < 4),
        "some page is short but carries nextPageToken"
    );
    for p in rest {
        assert!(p["nextPageToken"].is_string() && p.get("nextSyncToken").is_none());
    }
    let listed: Vec<Value> = pages.iter().flat_map(items).collect();
    assert_eq!(unique_ids(&listed), all);

    // A delta is paged the same way and still complete.
    let later: BTreeSet<String> = seed(&emu.api, "late", 5).await.into_iter().collect();
    let (delta_pages, _) = list_all(&emu.api, &format!("{EVENTS}?maxResults=2&syncToken={}", enc(&token))).await;
    assert!(delta_pages.len() > 1);
    let delta: Vec<Value> = delta_pages.iter().flat_map(items).collect();
    assert_eq!(unique_ids(&delta), later);
}

/// The local mirror a sync client keeps: id -> summary; cancelled items remove.
fn apply(mirror: &mut BTreeMap<String, String>, items: &[Value]) {
    for e in items {
        let id = e["id"].as_str().unwrap_or_default().to_owned();
        if e["status"] == json!("cancelled") {
            mirror.remove(&id);
        } else {
            mirror.insert(id, e["summary"].as_str().unwrap_or_default().to_owned());
        }
    }
}

#[tokio::test]
async fn a_write_between_pages_is_not_lost() {
    let emu = Emu::start().await;
    seed(&emu.api, "evt", 9).await;
    let url = format!("{EVENTS}?maxResults=3");

    let (status, _, first) = emu.api.get(&url).await;
    assert_eq!(status, 200);
    let mut mirror = BTreeMap::new();
    apply(&mut mirror, &items(&first));
    let mut next = first["nextPageToken"].as_str().unwrap_or_else(|| panic!("{first}")).to_owned();

    // Meanwhile, in another tab: an insert sorting first, an insert sorting last, an edit to an
    // event already listed, an edit and a deletion of events not listed yet.
    insert(
        &emu.api,
        "primary",
        &json!({"id": "aaaaa00001", "summary": "Inserted early",
                                        "start": {"date": "2024-05-01"}, "end": {"date": "2024-05-02"}}),
    )
    .await;
    insert(
        &emu.api,
        "primary",
        &json!({"id": "vvvvv00001", "summary": "Inserted late",
                                        "start": {"date": "2024-05-01"}, "end": {"date": "2024-05-02"}}),
    )
    .await;
    let listed_already = items(&first)[0]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(emu.api.patch(&event_path(&listed_already), &json!({"summary": "Edited after listing"})).await.0, 200);
    assert_eq!(emu.api.patch(&event_path("evt00007"), &json!({"summary": "Edited before listing"})).await.0, 200);
    assert_eq!(emu.api.delete(&event_path("evt00008")).await.0, 204);

    let token = loop {
        let (status, _, page) = emu.api.get(&with_page(&url, &next)).await;
        assert_eq!(status, 200, "{page}");
        apply(&mut mirror, &items(&page));
        match (page["nextPageToken"].as_str(), page["nextSyncToken"].as_str()) {
            (Some(p), None) => next = p.to_owned(),
            (None, Some(s)) => break s.to_owned(),
            _ => panic!("exactly one of nextPageToken/nextSyncToken: {page}"),
        }
    };
    let (delta, _) = list_items(&emu.api, &format!("{EVENTS}?syncToken={}", enc(&token))).await;
    apply(&mut mirror, &delta);

    let (now, _) = list_items(&emu.api, EVENTS).await;
    let mut server = BTreeMap::new();
    apply(&mut server, &now);
    assert_eq!(mirror, server, "after the listing and the next delta the mirror equals the server");
    assert_eq!(mirror.get("aaaaa00001").map(String::as_str), Some("Inserted early"));
    assert_eq!(mirror.get(&listed_already).map(String::as_str), Some("Edited after listing"));
    assert!(!mirror.contains_key("evt00008"));
}

#[tokio::test]
async fn a_page_token_belongs_to_its_query() {
    let emu = Emu::start().await;
    seed(&emu.api, "evt", 5).await;
    let (_, _, first) = emu.api.get(&format!("{EVENTS}?maxResults=2")).await;
    let token = first["nextPageToken"].as_str().unwrap_or_else(|| panic!("{first}")).to_owned();

    for other in [
        format!("{EVENTS}?maxResults=3"),
        format!("{EVENTS}?maxResults=2&q=event"),
        format!("{EVENTS}?maxResults=2&showDeleted=true"),
        format!("{EVENTS}?maxResults=2&singleEvents=true"),
    ] {
        let reply = emu.api.get(&with_page(&other, &token)).await;
        assert_eq!(reply.0, 400, "{other} with a foreign page token: {}", reply.2);
        assert_eq!(reply.2["error"]["code"], json!(400));
    }
    let (status, _, second) = emu.api.get(&with_page(&format!("{EVENTS}?maxResults=2"), &token)).await;
    assert_eq!(status, 200);
    assert_eq!(items(&second).len(), 2);
}

#[tokio::test]
async fn the_calendar_list_syncs_new_and_deleted_calendars() {
    let emu = Emu::start().await;
    let (listed, token) = list_items(&emu.api, CALENDAR_LIST).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], json!(USER));
    assert_eq!(listed[0]["primary"], json!(true));
    assert_eq!(listed[0]["accessRole"], json!("owner"));
    assert_eq!(listed[0]["kind"], json!("calendar#calendarListEntry"));

    let (status, _, created) =
        emu.api.post("/calendar/v3/calendars", &json!({"summary": "Team", "timeZone": "Europe/Berlin"})).await;
    assert_eq!(status, 200, "{created}");
    let team = created["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(created["summary"], json!("Team"));

    let (delta, token) = list_items(&emu.api, &format!("{CALENDAR_LIST}?syncToken={}", enc(&token))).await;
    assert_eq!(delta.len(), 1, "{delta:?}");
    assert_eq!(delta[0]["id"], json!(team));
    assert_eq!(delta[0]["summary"], json!("Team"));
    assert_eq!(delta[0]["timeZone"], json!("Europe/Berlin"));
    assert_eq!(delta[0]["accessRole"], json!("owner"));
    assert!(delta[0].get("deleted").is_none_or(|d| d == &json!(false)));

    // Events can go into the new calendar.
    insert(&emu.api, &team, &hour_event("Team lunch", 12)).await;

    let (status, _, _) = emu.api.delete(&format!("/calendar/v3/calendars/{}", enc(&team))).await;
    assert_eq!(status, 204);
    let (delta, token) = list_items(&emu.api, &format!("{CALENDAR_LIST}?syncToken={}", enc(&token))).await;
    assert_eq!(delta.len(), 1, "{delta:?}");
    assert_eq!(delta[0]["id"], json!(team));
    assert_eq!(delta[0]["deleted"], json!(true));
    assert_eq!(emu.api.get(&events_of(&team)).await.0, 404, "a deleted calendar is gone");

    let (full, _) = list_items(&emu.api, CALENDAR_LIST).await;
    assert_eq!(full.len(), 1, "a full listing hides deleted entries: {full:?}");

    let reply = emu.api.get(&format!("{CALENDAR_LIST}?syncToken={}&minAccessRole=owner", enc(&token))).await;
    assert_eq!(reply.0, 400, "{}", reply.2);
    assert_eq!(reply.2["error"]["code"], json!(400));
    let (status, _, garbage) = emu.api.get(&format!("{CALENDAR_LIST}?syncToken=nonsense")).await;
    assert_eq!(status, 410);
    assert_eq!(garbage, full_sync_required());
}

#[tokio::test]
async fn updated_min_lists_changes_including_deletions() {
    let emu = Emu::start().await;
    seed(&emu.api, "old", 2).await;
    let (_, _, latest) = emu.api.get(&event_path("old00001")).await;
    let since = latest["updated"].as_str().unwrap_or_default().to_owned();
    assert_eq!(emu.api.delete(&event_path("old00000")).await.0, 204);
    let fresh = insert(&emu.api, "primary", &hour_event("Fresh", 20)).await;

    let (list, _) = list_items(&emu.api, &format!("{EVENTS}?updatedMin={}", enc(&since))).await;
    let got = unique_ids(&list);
    assert!(got.contains("old00000"), "a deletion after updatedMin is listed: {list:?}");
    assert!(got.contains(fresh["id"].as_str().unwrap_or_default()));
    let deleted = list.iter().find(|e| e["id"] == json!("old00000")).unwrap_or_else(|| panic!("{list:?}"));
    assert_eq!(deleted["status"], json!("cancelled"));
}

#[tokio::test]
async fn a_sync_token_older_than_the_configured_age_is_410() {
    let emu = Emu::start().await;
    seed(&emu.api, "evt", 1).await;
    let (_, _, settings) = emu.control.patch("/_emulator/settings", &json!({"sync_token_max_age_secs": 1})).await;
    assert_eq!(settings["sync_token_max_age_secs"], json!(1));
    let (_, token) = list_items(&emu.api, EVENTS).await;

    // Let the token age past the limit (this waits; it asserts nothing about durations).
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let (status, _, body) = emu.api.get(&format!("{EVENTS}?syncToken={}", enc(&token))).await;
    assert_eq!(status, 410);
    assert_eq!(body, full_sync_required());
}
