//! A connector keeping up with an Outlook calendar through calendarView delta: rounds that
//! page with `@odata.nextLink` (empty pages included) and end in `@odata.deltaLink`, what the
//! next round reports (changes, `@removed` for deletions, cancellations and anything that
//! happened outside the window), and tokens that die with 410 (protocols.md §2.3, §4.2).

mod support;

use calsync_emulators::graph::{Config, PageMode};
use reqwest::Method;
use serde_json::json;
use support::graph::*;

const DELTA: &str = "/v1.0/me/calendarView/delta";

fn may() -> String {
    window(DELTA, "2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z")
}

const PAGE_OF_2: &[(&str, &str)] = &[("Prefer", "odata.maxpagesize=2")];

#[tokio::test]
async fn a_first_round_pages_through_the_window_and_the_next_reports_only_changes() {
    let emu = GraphEmu::start().await;
    let mut ids = Vec::new();
    for h in 0..5 {
        ids.push(id(&create(&emu.api, &hour_event(&format!("E{h}"), 8 + h)).await));
    }
    create(&emu.api, &event("June", "2024-06-10T08:00:00", "2024-06-10T09:00:00", "UTC")).await;

    let first = delta_round(&emu, &emu.api, &may(), PAGE_OF_2).await;
    assert_eq!(first.pages.len(), 3, "5 items, 2 per page");
    assert_eq!(subjects(&first.items), vec!["E0", "E1", "E2", "E3", "E4"]);
    assert!(first.removed().is_empty(), "a first round reports no removals");
    for item in &first.items {
        assert_eq!(item["@odata.type"], json!("#microsoft.graph.event"));
        assert!(item["changeKey"].is_string() && item["start"].is_object(), "full properties: {item}");
    }
    assert!(
        first.pages[0]["@odata.nextLink"]
            .as_str()
            .is_some_and(|l| l.starts_with(emu.base()) && l.contains("$skiptoken="))
    );
    assert!(first.delta.contains("$deltatoken="));

    let quiet = delta_round(&emu, &emu.api, &first.delta, &[]).await;
    assert!(quiet.items.is_empty(), "nothing changed: {:?}", quiet.items);

    let added = create(&emu.api, &hour_event("New", 20)).await;
    assert_eq!(emu.api.patch(&event_path(&ids[0]), &json!({"subject": "E0 renamed"})).await.0, 200);
    assert_eq!(emu.api.delete(&event_path(&ids[1])).await.0, 204);
    let next = delta_round(&emu, &emu.api, &quiet.delta, &[]).await;
    assert_eq!(subjects(&next.changed()), vec!["E0 renamed", "New"]);
    assert_eq!(next.removed(), vec![ids[1].clone()]);
    let removal = next.items.iter().find(|i| i.get("@removed").is_some()).cloned().unwrap_or_default();
    assert_eq!(
        removal,
        json!({"@odata.type": "#microsoft.graph.event", "id": ids[1], "@removed": {"reason": "deleted"}})
    );
    assert!(next.changed().iter().any(|e| e["id"] == added["id"]));

    // The same deltaLink can be used again (a replay of that round).
    let again = delta_round(&emu, &emu.api, &quiet.delta, &[]).await;
    assert_eq!(again.items.len(), next.items.len());
}

#[tokio::test]
async fn changes_outside_the_window_and_moves_out_of_it_come_back_as_removed() {
    let emu = GraphEmu::start().await;
    let inside = id(&create(&emu.api, &hour_event("Inside", 9)).await);
    let outside = id(&create(&emu.api, &event("Outside", "2024-07-01T09:00:00", "2024-07-01T10:00:00", "UTC")).await);
    let round = delta_round(&emu, &emu.api, &may(), &[]).await;
    assert_eq!(subjects(&round.items), vec!["Inside"]);

    // Moved out of the window: removed. Changed outside the window: removed too (MS-DELTA).
    let later = json!({"start": {"dateTime": "2024-08-01T09:00:00", "timeZone": "UTC"},
                       "end": {"dateTime": "2024-08-01T10:00:00", "timeZone": "UTC"}});
    assert_eq!(emu.api.patch(&event_path(&inside), &later).await.0, 200);
    assert_eq!(emu.api.patch(&event_path(&outside), &json!({"subject": "Outside v2"})).await.0, 200);
    let created_outside =
        id(&create(&emu.api, &event("Far", "2025-01-01T09:00:00", "2025-01-01T10:00:00", "UTC")).await);
    let next = delta_round(&emu, &emu.api, &round.delta, &[]).await;
    let mut expected = vec![inside.clone(), outside.clone(), created_outside];
    expected.sort();
    assert_eq!(next.removed(), expected);
    assert!(next.changed().is_empty());

    // Moved back in: reported with its properties.
    let back = json!({"start": {"dateTime": "2024-05-02T09:00:00", "timeZone": "UTC"},
                      "end": {"dateTime": "2024-05-02T10:00:00", "timeZone": "UTC"}});
    assert_eq!(emu.api.patch(&event_path(&inside), &back).await.0, 200);
    let last = delta_round(&emu, &emu.api, &next.delta, &[]).await;
    assert_eq!(last.changed().iter().map(id).collect::<Vec<_>>(), vec![inside]);
}

#[tokio::test]
async fn series_show_as_occurrences_and_exceptions_never_as_masters() {
    let emu = GraphEmu::start().await;
    let mut body = event("Daily", "2024-05-06T09:00:00", "2024-05-06T09:30:00", "UTC");
    body["recurrence"] = json!({"pattern": {"type": "daily", "interval": 1},
                                "range": {"type": "numbered", "startDate": "2024-05-06", "numberOfOccurrences": 3}});
    let master = id(&create(&emu.api, &body).await);
    let round = delta_round(&emu, &emu.api, &may(), &[]).await;
    assert_eq!(round.items.len(), 3);
    assert!(round.items.iter().all(|i| i["type"] == json!("occurrence") && i["seriesMasterId"] == json!(master)));
    let occ: Vec<String> = round.items.iter().map(id).collect();

    // One occurrence changed: only it comes back, as an exception.
    assert_eq!(emu.api.patch(&event_path(&occ[0]), &json!({"subject": "Daily (special)"})).await.0, 200);
    let r2 = delta_round(&emu, &emu.api, &round.delta, &[]).await;
    assert_eq!(
        r2.items.iter().map(|i| (id(i), i["type"].clone())).collect::<Vec<_>>(),
        vec![(occ[0].clone(), json!("exception"))]
    );

    // One cancelled: removed under the occurrence's id.
    assert_eq!(emu.api.delete(&event_path(&occ[1])).await.0, 204);
    let r3 = delta_round(&emu, &emu.api, &r2.delta, &[]).await;
    assert_eq!(r3.removed(), vec![occ[1].clone()]);
    assert!(r3.changed().is_empty());

    // The master changed: every occurrence in the window is reported.
    assert_eq!(emu.api.patch(&event_path(&master), &json!({"subject": "Daily v2"})).await.0, 200);
    let r4 = delta_round(&emu, &emu.api, &r3.delta, &[]).await;
    let mut reported: Vec<String> = r4.changed().iter().map(id).collect();
    reported.sort();
    let mut live = vec![occ[0].clone(), occ[2].clone()];
    live.sort();
    assert_eq!(reported, live);

    // The series deleted: its occurrences are removed.
    assert_eq!(emu.api.delete(&event_path(&master)).await.0, 204);
    let r5 = delta_round(&emu, &emu.api, &r4.delta, &[]).await;
    assert_eq!(r5.removed(), live);
}

#[tokio::test]
async fn ragged_pages_are_sometimes_empty_but_still_lead_to_the_delta_link() {
    let emu = GraphEmu::start_with(Config { page_mode: PageMode::Ragged, ..Config::default() }).await;
    for h in 0..6 {
        create(&emu.api, &hour_event(&format!("R{h}"), 8 + h)).await;
    }
    let round = delta_round(&emu, &emu.api, &may(), &[("Prefer", "odata.maxpagesize=4")]).await;
    assert_eq!(subjects(&round.items), vec!["R0", "R1", "R2", "R3", "R4", "R5"]);
    let empty_with_next =
        round.pages.iter().filter(|p| values(p).is_empty() && p.get("@odata.nextLink").is_some()).count();
    assert!(empty_with_next >= 2, "{:?}", round.pages);
}

#[tokio::test]
async fn an_evicted_token_is_410_with_the_initial_query_in_location() {
    let emu = GraphEmu::start_with(Config { delta_token_cache: 2, ..Config::default() }).await;
    create(&emu.api, &hour_event("A", 9)).await;
    let old = delta_round(&emu, &emu.api, &may(), &[]).await;
    // Two newer tokens push the old one out of the cache.
    let r2 = delta_round(&emu, &emu.api, &old.delta, &[]).await;
    delta_round(&emu, &emu.api, &r2.delta, &[]).await;
    let (status, headers, body) = emu.api.get(&old.delta).await;
    assert_eq!(status, 410, "{body}");
    assert_eq!(body["error"]["code"], json!("SyncStateNotFound"));
    let location = headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(location.contains("/v1.0/me/calendarView/delta?startDateTime=2024-05-01T00"), "{location}");
    let fresh = delta_round(&emu, &emu.api, emu.path_of(&location), &[]).await;
    assert_eq!(subjects(&fresh.items), vec!["A"], "following Location starts over");

    assert_eq!(emu.control.post("/_emulator/delta-tokens/expire", &json!({})).await.0, 200);
    let (status, _, body) = emu.api.get(&fresh.delta).await;
    assert_eq!((status, body["error"]["code"].clone()), (410, json!("SyncStateNotFound")));
}

#[tokio::test]
async fn sdk_spellings_and_calendar_specific_delta_work() {
    let emu = GraphEmu::start().await;
    let (_, _, work) = emu.api.post("/v1.0/me/calendars", &json!({"name": "Work"})).await;
    let work_id = id(&work);
    create(&emu.api, &hour_event("Home", 9)).await;
    create_at(&emu.api, &format!("/v1.0/me/calendars/{work_id}/events"), &hour_event("Job", 10)).await;
    for path in [
        "/v1.0/me/calendarView/delta()",
        "/v1.0/me/calendarView/microsoft.graph.delta()",
        "/v1.0/me/calendar/calendarView/delta",
    ] {
        let r = delta_round(&emu, &emu.api, &window(path, "2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z"), &[]).await;
        assert_eq!(subjects(&r.items), vec!["Home"], "{path}");
        assert!(r.delta.starts_with(path), "links keep the spelling: {}", r.delta);
    }
    let path = format!("/v1.0/me/calendars/{work_id}/calendarView/delta");
    let r = delta_round(&emu, &emu.api, &window(&path, "2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z"), &[]).await;
    assert_eq!(subjects(&r.items), vec!["Job"]);

    assert_graph_error(&emu.api.get(DELTA).await, 400, "ErrorInvalidParameter");
    let reply = emu.api.get(&format!("{}&$select=subject", may())).await;
    assert_graph_error(&reply, 400, "ErrorInvalidRequest");
}

#[tokio::test]
async fn a_move_to_another_calendar_is_a_removal_there_and_an_addition_here() {
    let emu = GraphEmu::start().await;
    let (_, _, work) = emu.api.post("/v1.0/me/calendars", &json!({"name": "Work"})).await;
    let work_delta = window(
        &format!("/v1.0/me/calendars/{}/calendarView/delta", id(&work)),
        "2024-05-01T00:00:00Z",
        "2024-06-01T00:00:00Z",
    );
    let moving = id(&create(&emu.api, &hour_event("Moving", 9)).await);
    let home = delta_round(&emu, &emu.api, &may(), &[]).await;
    let job = delta_round(&emu, &emu.api, &work_delta, &[]).await;
    assert!(job.items.is_empty());
    let (status, _, moved) = emu
        .control
        .post(&format!("/_emulator/users/{USER}/events/{moving}/move"), &json!({"calendarId": work["id"]}))
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(delta_round(&emu, &emu.api, &home.delta, &[]).await.removed(), vec![moving]);
    let arrived = delta_round(&emu, &emu.api, &job.delta, &[]).await;
    assert_eq!(arrived.changed().iter().map(id).collect::<Vec<_>>(), vec![id(&moved)]);
}

#[tokio::test]
async fn with_replays_on_the_last_change_comes_again_and_zones_follow_prefer() {
    let emu = GraphEmu::start_with(Config { delta_replays: true, ..Config::default() }).await;
    create(&emu.api, &hour_event("First", 9)).await;
    let r1 = delta_round(&emu, &emu.api, &may(), &[]).await;
    let r2 = delta_round(&emu, &emu.api, &r1.delta, &[]).await;
    assert_eq!(subjects(&r2.items), vec!["First"], "replayed");

    let tz = [("Prefer", "outlook.timezone=\"Tokyo Standard Time\"")];
    let (status, _, page) = emu.api.send(Method::GET, &may(), None, &tz).await;
    assert_eq!(status, 200);
    assert_eq!(
        values(&page)[0]["start"],
        json!({"dateTime": "2024-05-01T18:00:00.0000000", "timeZone": "Tokyo Standard Time"})
    );
}
