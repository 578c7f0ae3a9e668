//! An app reading and writing Outlook events through the Graph emulator: CRUD with change
//! keys and `If-Match`, idempotent creates, zones, all-day rules, extended properties, series
//! with occurrences and exceptions, views, calendars, and moves (protocols.md §2.1–§2.4).

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::graph::*;

#[tokio::test]
async fn me_names_the_mailbox_and_a_call_without_a_valid_token_is_401() {
    let emu = GraphEmu::start().await;
    let (status, _, me) = emu.api.get("/v1.0/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!((me["mail"].clone(), me["userPrincipalName"].clone()), (json!(USER), json!(USER)));
    assert!(me["id"].as_str().is_some_and(|i| i.len() == 36), "{me}");
    assert!(me["displayName"].is_string());

    let anonymous = support::Client::new(emu.base(), None);
    let reply = anonymous.get(EVENTS).await;
    assert_graph_error(&reply, 401, "InvalidAuthenticationToken");
    assert!(reply.1.get("www-authenticate").is_some());
    let bogus = support::Client::new(emu.base(), Some("not-a-token".into()));
    assert_graph_error(&bogus.get("/v1.0/me/calendars").await, 401, "InvalidAuthenticationToken");
}

#[tokio::test]
async fn every_write_changes_the_change_key_and_a_stale_if_match_is_412() {
    let emu = GraphEmu::start().await;
    let created = create(&emu.api, &hour_event("Standup", 9)).await;
    let id = id(&created);
    let key1 = created["changeKey"].as_str().unwrap_or_default().to_owned();
    assert_eq!(created["@odata.etag"], json!(format!("W/\"{key1}\"")));
    assert_eq!(created["type"], json!("singleInstance"));
    assert_eq!(created["start"], json!({"dateTime": "2024-05-01T09:00:00.0000000", "timeZone": "UTC"}));
    assert!(created.get("transactionId").is_none(), "transactionId only when set: {created}");

    let (status, _, got) = emu.api.get(&event_path(&id)).await;
    assert_eq!(status, 200);
    assert_eq!(got["changeKey"], created["changeKey"]);

    let stale = format!("W/\"{key1}\"");
    let (status, _, patched) = emu
        .api
        .send(Method::PATCH, &event_path(&id), Some(&json!({"subject": "Standup v2"})), &[("If-Match", &stale)])
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["subject"], json!("Standup v2"));
    let key2 = patched["changeKey"].as_str().unwrap_or_default().to_owned();
    assert_ne!(key1, key2);
    assert_eq!(patched["@odata.etag"], json!(format!("W/\"{key2}\"")));

    let reply =
        emu.api.send(Method::PATCH, &event_path(&id), Some(&json!({"subject": "lost"})), &[("If-Match", &stale)]).await;
    assert_graph_error(&reply, 412, "ErrorIrresolvableConflict");
    let reply = emu.api.send(Method::DELETE, &event_path(&id), None, &[("If-Match", &stale)]).await;
    assert_graph_error(&reply, 412, "ErrorIrresolvableConflict");

    let fresh = format!("W/\"{key2}\"");
    let (status, _, _) = emu.api.send(Method::DELETE, &event_path(&id), None, &[("If-Match", &fresh)]).await;
    assert_eq!(status, 204);
    assert_graph_error(&emu.api.get(&event_path(&id)).await, 404, "ErrorItemNotFound");
    assert_graph_error(&emu.api.delete(&event_path(&id)).await, 404, "ErrorItemNotFound");
}

#[tokio::test]
async fn a_create_retried_with_the_same_transaction_id_returns_the_first_event() {
    let emu = GraphEmu::start().await;
    let body = json!({"transactionId": "tx-42", "subject": "Once",
                      "start": {"dateTime": "2024-05-01T09:00:00", "timeZone": "UTC"},
                      "end": {"dateTime": "2024-05-01T10:00:00", "timeZone": "UTC"}});
    let first = create(&emu.api, &body).await;
    let second = create(&emu.api, &body).await;
    assert_eq!(id(&first), id(&second));
    assert_eq!(first["transactionId"], json!("tx-42"));
    let (_, _, list) = emu.api.get(EVENTS).await;
    assert_eq!(values(&list).len(), 1, "{list}");

    // Another transaction id is another event.
    let other = create(
        &emu.api,
        &json!({"transactionId": "tx-43", "subject": "Twice", "start": body["start"], "end": body["end"]}),
    )
    .await;
    assert_ne!(id(&other), id(&first));
}

#[tokio::test]
async fn zones_are_kept_and_shown_as_the_request_prefers() {
    let emu = GraphEmu::start().await;
    let created =
        create(&emu.api, &event("Berlin", "2024-05-01T10:00:00", "2024-05-01T11:00:00", "W. Europe Standard Time"))
            .await;
    assert_eq!(created["start"], json!({"dateTime": "2024-05-01T08:00:00.0000000", "timeZone": "UTC"}));
    assert_eq!(created["originalStartTimeZone"], json!("W. Europe Standard Time"));
    let (status, headers, shown) = emu
        .api
        .send(
            Method::GET,
            &event_path(&id(&created)),
            None,
            &[("Prefer", "outlook.timezone=\"Pacific Standard Time\"")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(shown["start"], json!({"dateTime": "2024-05-01T01:00:00.0000000", "timeZone": "Pacific Standard Time"}));
    assert!(headers.get("preference-applied").is_some());

    let iana = create(&emu.api, &event("Tokyo", "2024-05-01T10:00:00", "2024-05-01T11:00:00", "Asia/Tokyo")).await;
    assert_eq!(iana["end"]["dateTime"], json!("2024-05-01T02:00:00.0000000"));

    let reply =
        emu.api.post(EVENTS, &event("Mars", "2024-05-01T10:00:00", "2024-05-01T11:00:00", "Mars/Olympus")).await;
    assert_graph_error(&reply, 400, "TimeZoneNotSupportedException");
}

#[tokio::test]
async fn all_day_events_need_midnights_in_one_zone() {
    let emu = GraphEmu::start().await;
    let mut body = event("Holiday", "2024-05-01T00:00:00", "2024-05-03T00:00:00", "W. Europe Standard Time");
    body["isAllDay"] = json!(true);
    let created = create(&emu.api, &body).await;
    assert_eq!(created["isAllDay"], json!(true));
    assert_eq!(created["start"]["dateTime"], json!("2024-05-01T00:00:00.0000000"));
    assert_eq!(created["end"]["dateTime"], json!("2024-05-03T00:00:00.0000000"));

    let mut not_midnight = event("Bad", "2024-05-01T09:00:00", "2024-05-02T00:00:00", "UTC");
    not_midnight["isAllDay"] = json!(true);
    assert_graph_error(&emu.api.post(EVENTS, &not_midnight).await, 400, "ErrorInvalidRequest");
    let mut two_zones = json!({"subject": "Bad", "isAllDay": true,
        "start": {"dateTime": "2024-05-01T00:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2024-05-02T00:00:00", "timeZone": "Tokyo Standard Time"}});
    assert_graph_error(&emu.api.post(EVENTS, &two_zones).await, 400, "ErrorInvalidRequest");
    two_zones["end"]["timeZone"] = json!("UTC");
    create(&emu.api, &two_zones).await;
}

#[tokio::test]
async fn bad_bodies_and_ids_get_graph_errors_never_a_crash() {
    let emu = GraphEmu::start().await;
    for raw in ["{", "[1,2]", "\"text\"", "", "{\"subject\": 5}"] {
        let reply = emu.api.raw(Method::POST, EVENTS, Some(("application/json", raw.as_bytes().to_vec())), &[]).await;
        assert_graph_error(&reply, 400, "RequestBodyRead");
    }
    let mut unknown = hour_event("x", 9);
    unknown["colour"] = json!("red");
    assert_graph_error(&emu.api.post(EVENTS, &unknown).await, 400, "RequestBodyRead");
    let mut no_end = hour_event("x", 9);
    no_end.as_object_mut().map(|m| m.remove("end"));
    assert_graph_error(&emu.api.post(EVENTS, &no_end).await, 400, "ErrorInvalidRequest");

    let created = create(&emu.api, &hour_event("x", 9)).await;
    let good = id(&created);
    assert_graph_error(&emu.api.get(&event_path(&good.to_ascii_lowercase())).await, 400, "ErrorInvalidIdMalformed");
    let mut flipped = good.clone().into_bytes();
    if let Some(c) = flipped.last_mut() {
        *c = if c.is_ascii_uppercase() { c.to_ascii_lowercase() } else { b'A' };
    }
    let flipped = String::from_utf8(flipped).unwrap_or_default();
    let reply = emu.api.get(&event_path(&flipped)).await;
    assert!(matches!(reply.0, 400 | 404), "a re-cased id names nothing: {reply:?}");
    assert_graph_error(&emu.api.get("/v1.0/me/eventz").await, 400, "BadRequest");
}

#[tokio::test]
async fn extended_properties_come_back_only_when_expanded() {
    let emu = GraphEmu::start().await;
    let mut body = hour_event("Tagged", 9);
    body["singleValueExtendedProperties"] = json!([{"id": LOCAL_ID_PROPERTY, "value": "0190e7a4-local"}]);
    let created = create(&emu.api, &body).await;
    assert!(created.get("singleValueExtendedProperties").is_none(), "{created}");
    let expand = format!(
        "$expand={}",
        support::enc(&format!("singleValueExtendedProperties($filter=id eq '{LOCAL_ID_PROPERTY}')"))
    );
    let (_, _, got) = emu.api.get(&format!("{}?{expand}", event_path(&id(&created)))).await;
    assert_eq!(got["singleValueExtendedProperties"], json!([{"id": LOCAL_ID_PROPERTY, "value": "0190e7a4-local"}]));
    let (_, _, list) = emu.api.get(&format!("{EVENTS}?{expand}")).await;
    assert_eq!(values(&list)[0]["singleValueExtendedProperties"][0]["value"], json!("0190e7a4-local"));

    let patch = json!({"singleValueExtendedProperties": [{"id": LOCAL_ID_PROPERTY, "value": "changed"}]});
    assert_eq!(emu.api.patch(&event_path(&id(&created)), &patch).await.0, 200);
    let (_, _, got) = emu.api.get(&format!("{}?{expand}", event_path(&id(&created)))).await;
    assert_eq!(got["singleValueExtendedProperties"][0]["value"], json!("changed"));

    let bad = json!({"singleValueExtendedProperties": [{"id": "calsyncId", "value": "x"}]});
    assert_graph_error(&emu.api.patch(&event_path(&id(&created)), &bad).await, 400, "ErrorInvalidRequest");
}

fn weekly(subject: &str, count: u32) -> Value {
    let mut body = event(subject, "2024-05-06T09:00:00", "2024-05-06T09:30:00", "W. Europe Standard Time");
    body["recurrence"] = json!({
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
        "range": {"type": "numbered", "startDate": "2024-05-06", "numberOfOccurrences": count}
    });
    body
}

async fn instances(emu: &GraphEmu, master: &str) -> Vec<Value> {
    let url = window(&format!("{}/instances", event_path(master)), "2024-05-01T00:00:00Z", "2024-07-01T00:00:00Z");
    let (status, _, page) = emu.api.get(&url).await;
    assert_eq!(status, 200, "{page}");
    values(&page)
}

#[tokio::test]
async fn a_series_expands_and_its_occurrences_can_be_changed_and_cancelled() {
    let emu = GraphEmu::start().await;
    let master = create(&emu.api, &weekly("Weekly", 4)).await;
    let master_id = id(&master);
    assert_eq!(master["type"], json!("seriesMaster"));
    assert_eq!(master["recurrence"]["range"]["recurrenceTimeZone"], json!("W. Europe Standard Time"));
    assert_eq!(master["recurrence"]["pattern"]["index"], json!("first"), "Graph fills every property");

    let occ = instances(&emu, &master_id).await;
    assert_eq!(occ.len(), 4);
    let starts: Vec<Value> = occ.iter().map(|o| o["originalStart"].clone()).collect();
    assert_eq!(
        starts,
        vec![
            json!("2024-05-06T07:00:00Z"),
            json!("2024-05-13T07:00:00Z"),
            json!("2024-05-20T07:00:00Z"),
            json!("2024-05-27T07:00:00Z")
        ]
    );
    for o in &occ {
        assert_eq!((o["type"].clone(), o["seriesMasterId"].clone()), (json!("occurrence"), json!(master_id)));
        assert_ne!(o["iCalUId"], master["iCalUId"], "iCalUId differs per occurrence");
    }
    let ids: Vec<String> = occ.iter().map(id).collect();
    let (status, _, second) = emu.api.get(&event_path(&ids[1])).await;
    assert_eq!((status, second["type"].clone()), (200, json!("occurrence")));

    // Changing an occurrence makes it an exception, under the same id.
    let (status, _, x) = emu.api.patch(&event_path(&ids[1]), &json!({"subject": "Moved", "start": {"dateTime": "2024-05-14T09:00:00", "timeZone": "W. Europe Standard Time"}, "end": {"dateTime": "2024-05-14T09:30:00", "timeZone": "W. Europe Standard Time"}})).await;
    assert_eq!(status, 200, "{x}");
    assert_eq!((id(&x), x["type"].clone(), x["subject"].clone()), (ids[1].clone(), json!("exception"), json!("Moved")));
    assert_eq!(x["originalStart"], json!("2024-05-13T07:00:00Z"));

    // Cancelling one makes it vanish from every view.
    assert_eq!(emu.api.delete(&event_path(&ids[2])).await.0, 204);
    assert_graph_error(&emu.api.get(&event_path(&ids[2])).await, 404, "ErrorItemNotFound");
    let after = instances(&emu, &master_id).await;
    let kinds: Vec<(String, Value)> = after.iter().map(|o| (id(o), o["type"].clone())).collect();
    assert_eq!(
        kinds,
        vec![
            (ids[0].clone(), json!("occurrence")),
            (ids[1].clone(), json!("exception")),
            (ids[3].clone(), json!("occurrence"))
        ]
    );
    let (_, _, view) =
        emu.api.get(&window("/v1.0/me/calendarView", "2024-05-01T00:00:00Z", "2024-07-01T00:00:00Z")).await;
    assert_eq!(values(&view).len(), 3, "{view}");

    // /me/events lists the master only.
    let (_, _, list) = emu.api.get(EVENTS).await;
    assert_eq!(values(&list).iter().map(id).collect::<Vec<_>>(), vec![master_id.clone()]);

    // Deleting the master deletes the series with its exceptions.
    assert_eq!(emu.api.delete(&event_path(&master_id)).await.0, 204);
    for occ_id in &ids {
        assert_graph_error(&emu.api.get(&event_path(occ_id)).await, 404, "ErrorItemNotFound");
    }
}

#[tokio::test]
async fn calendar_view_pages_with_next_links() {
    let emu = GraphEmu::start().await;
    for h in 0..5 {
        create(&emu.api, &hour_event(&format!("E{h}"), 8 + h)).await;
    }
    create(&emu.api, &event("Outside", "2024-06-01T08:00:00", "2024-06-01T09:00:00", "UTC")).await;
    let mut url = window("/v1.0/me/calendarView", "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, _, page) = emu.api.send(Method::GET, &url, None, &[("Prefer", "odata.maxpagesize=2")]).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(values(&page));
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = emu.path_of(next).to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(subjects(&seen), vec!["E0", "E1", "E2", "E3", "E4"]);
    assert_graph_error(&emu.api.get("/v1.0/me/calendarView").await, 400, "ErrorInvalidParameter");
}

#[tokio::test]
async fn calendars_list_create_and_hold_their_own_events() {
    let emu = GraphEmu::start().await;
    let (_, _, list) = emu.api.get("/v1.0/me/calendars").await;
    let cals = values(&list);
    assert_eq!(cals.len(), 1);
    assert_eq!((cals[0]["name"].clone(), cals[0]["isDefaultCalendar"].clone()), (json!("Calendar"), json!(true)));
    let (_, _, default) = emu.api.get("/v1.0/me/calendar").await;
    assert_eq!(default["id"], cals[0]["id"]);

    let (status, _, work) = emu.api.post("/v1.0/me/calendars", &json!({"name": "Work"})).await;
    assert_eq!(status, 201, "{work}");
    let work_id = id(&work);
    let in_work =
        create_at(&emu.api, &format!("/v1.0/me/calendars/{work_id}/events"), &hour_event("Work item", 9)).await;
    create(&emu.api, &hour_event("Home item", 10)).await;
    let (_, _, work_events) = emu.api.get(&format!("/v1.0/me/calendars/{work_id}/events")).await;
    assert_eq!(subjects(&values(&work_events)), vec!["Work item"]);
    let (_, _, default_events) = emu.api.get("/v1.0/me/calendar/events").await;
    assert_eq!(subjects(&values(&default_events)), vec!["Home item"]);
    // /me/events/{id} finds it in any calendar; a calendar path confines it.
    assert_eq!(emu.api.get(&event_path(&id(&in_work))).await.0, 200);
    assert_graph_error(
        &emu.api.get(&format!("/v1.0/me/calendar/events/{}", id(&in_work))).await,
        404,
        "ErrorItemNotFound",
    );
}

#[tokio::test]
async fn a_move_changes_the_rest_id_but_not_the_immutable_id() {
    let emu = GraphEmu::start().await;
    let (_, _, work) = emu.api.post("/v1.0/me/calendars", &json!({"name": "Work"})).await;
    let immutable = [("Prefer", "IdType=\"ImmutableId\"")];
    let (status, _, created) = emu.api.send(Method::POST, EVENTS, Some(&hour_event("Moving", 9)), &immutable).await;
    assert_eq!(status, 201);
    let immutable_id = id(&created);
    let (_, _, rest) = emu.api.get(&event_path(&immutable_id)).await;
    let rest_id = id(&rest);
    assert_ne!(rest_id, immutable_id);

    let (status, _, moved) = emu
        .control
        .post(&format!("/_emulator/users/{USER}/events/{rest_id}/move"), &json!({"calendarId": work["id"]}))
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_ne!(id(&moved), rest_id);
    assert_eq!(moved["immutableId"], json!(immutable_id));
    assert_graph_error(&emu.api.get(&event_path(&rest_id)).await, 404, "ErrorItemNotFound");
    let (status, _, again) = emu.api.send(Method::GET, &event_path(&immutable_id), None, &immutable).await;
    assert_eq!((status, id(&again)), (200, immutable_id));
}

#[tokio::test]
async fn outlook_mails_the_attendees_of_a_meeting_and_nobody_for_an_appointment() {
    let emu = GraphEmu::start().await;
    let mail = || async {
        let (status, _, body) = emu.control.get(&format!("/_emulator/users/{USER}/mail")).await;
        assert_eq!(status, 200, "{body}");
        body["mail"].as_array().cloned().unwrap_or_default()
    };
    let appointment = create(&emu.api, &hour_event("Dentist", 8)).await;
    emu.api.send(Method::PATCH, &event_path(&id(&appointment)), Some(&json!({"subject": "Dentist!"})), &[]).await;
    emu.api.delete(&event_path(&id(&appointment))).await;
    assert!(mail().await.is_empty(), "no attendees, no mail");

    let mut body = hour_event("Design review", 9);
    body["attendees"] = json!([{"type": "required", "emailAddress": {"address": "ada@example.com", "name": "Ada"}}]);
    let meeting = create(&emu.api, &body).await;
    emu.api.send(Method::PATCH, &event_path(&id(&meeting)), Some(&json!({"subject": "Design review 2"})), &[]).await;
    emu.api.delete(&event_path(&id(&meeting))).await;
    let sent = mail().await;
    let kinds: Vec<_> = sent.iter().map(|m| (m["kind"].clone(), m["subject"].clone())).collect();
    assert_eq!(
        kinds,
        vec![
            (json!("invitation"), json!("Design review")),
            (json!("update"), json!("Updated: Design review 2")),
            (json!("cancellation"), json!("Canceled: Design review 2")),
        ]
    );
    assert!(sent.iter().all(|m| m["to"] == json!(["ada@example.com"]) && m["from"] == json!(USER)), "{sent:?}");

    // An appointment that gains attendees becomes a meeting: they are invited.
    let later = create(&emu.api, &hour_event("Lunch", 12)).await;
    let invite = json!({"attendees": [{"emailAddress": {"address": "bob@example.com"}}]});
    emu.api.send(Method::PATCH, &event_path(&id(&later)), Some(&invite), &[]).await;
    let last = mail().await.pop().unwrap_or_default();
    assert_eq!((last["kind"].clone(), last["to"].clone()), (json!("invitation"), json!(["bob@example.com"])));
}
