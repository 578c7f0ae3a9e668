//! Events as a Google Calendar user and their app live them: ids, duplicates, etags and
//! conditional requests, deletion, update vs patch, recurring series and their exceptions
//! (protocols.md §1.2–§1.4, §1.8, §1.9, §1.14 items 1, 4, 5, 6).

mod support;

use jiff::Timestamp;
use reqwest::Method;
use serde_json::{Value, json};
use support::*;

fn updated(event: &Value) -> Timestamp {
    let text = event["updated"].as_str().unwrap_or_else(|| panic!("no updated in {event}"));
    text.parse().unwrap_or_else(|e| panic!("updated {text:?} is not RFC 3339: {e}"))
}

fn etag(event: &Value) -> String {
    event["etag"].as_str().unwrap_or_else(|| panic!("no etag in {event}")).to_owned()
}

#[tokio::test]
async fn an_app_choosing_its_own_event_ids_must_use_lowercase_base32hex() {
    let emu = Emu::start().await;
    let with_id = |id: &str| {
        let mut body = hour_event("Client id", 9);
        body["id"] = json!(id);
        body
    };
    for bad in [
        "abcd",                                 // too short (minimum 5)
        "ABCDEF0123",                           // uppercase is outside base32hex
        "abcdwxyz01",                           // w..z are outside base32hex
        "event_1234",                           // underscore
        "123e4567-e89b-12d3-a456-426614174000", // a hyphenated UUID
    ] {
        let reply = emu.api.post(EVENTS, &with_id(bad)).await;
        assert_error(&reply, 400, "invalid");
    }
    let too_long = "a".repeat(1025);
    assert_error(&emu.api.post(EVENTS, &with_id(&too_long)).await, 400, "invalid");

    // A UUID without hyphens (32 lowercase hex) is valid, as are 5 and 1024 characters.
    for good in ["123e4567e89b12d3a456426614174000".to_owned(), "abcde".to_owned(), "v".repeat(1024)] {
        let (status, _, event) = emu.api.post(EVENTS, &with_id(&good)).await;
        assert_eq!(status, 200, "{good}: {event}");
        assert_eq!(event["id"], json!(good));
        let (status, _, fetched) = emu.api.get(&event_path(&good)).await;
        assert_eq!(status, 200);
        assert_eq!(fetched["id"], json!(good));
    }
    // None of the refused inserts left an event behind.
    let (_, _, list) = emu.api.get(EVENTS).await;
    assert_eq!(items(&list).len(), 3, "{list}");
}

#[tokio::test]
async fn inserting_an_id_twice_is_409_duplicate_even_after_the_first_was_deleted() {
    let emu = Emu::start().await;
    let duplicate = google_error(409, "global", "duplicate", "The requested identifier already exists.");
    let mut body = hour_event("Standup", 9);
    body["id"] = json!("standup00001");
    insert(&emu.api, "primary", &body).await;

    let (status, _, err) = emu.api.post(EVENTS, &body).await;
    assert_eq!(status, 409);
    assert_eq!(err, duplicate);

    let (status, _, _) = emu.api.delete(&event_path("standup00001")).await;
    assert_eq!(status, 204);
    let (status, _, err) = emu.api.post(EVENTS, &body).await;
    assert_eq!(status, 409, "reusing a deleted event's id: {err}");
    assert_eq!(err, duplicate);
}

#[tokio::test]
async fn every_write_changes_the_etag_and_moves_updated_forward() {
    let emu = Emu::start().await;
    let mut seen: Vec<Value> = vec![insert(&emu.api, "primary", &hour_event("Draft", 9)).await];
    let id = seen[0]["id"].as_str().unwrap_or_default().to_owned();
    let path = event_path(&id);

    let (status, _, patched) = emu.api.patch(&path, &json!({"summary": "Patched"})).await;
    assert_eq!(status, 200, "{patched}");
    seen.push(patched);
    let (status, _, replaced) = emu.api.put(&path, &hour_event("Replaced", 10)).await;
    assert_eq!(status, 200, "{replaced}");
    seen.push(replaced);
    let (status, _, patched_again) = emu.api.patch(&path, &json!({"location": "Room 1"})).await;
    assert_eq!(status, 200, "{patched_again}");
    seen.push(patched_again);
    let (status, _, _) = emu.api.delete(&path).await;
    assert_eq!(status, 204);
    let (status, _, tombstone) = emu.api.get(&path).await;
    assert_eq!(status, 200);
    seen.push(tombstone);

    for pair in seen.windows(2) {
        assert_ne!(etag(&pair[0]), etag(&pair[1]), "a write kept the etag: {} then {}", pair[0], pair[1]);
        assert!(
            updated(&pair[1]) > updated(&pair[0]),
            "updated did not increase: {} then {}",
            pair[0]["updated"],
            pair[1]["updated"]
        );
    }
    let first_created = &seen[0]["created"];
    assert!(seen.iter().all(|e| &e["created"] == first_created), "created must not change on writes");
}

#[tokio::test]
async fn conditional_requests_protect_against_lost_updates() {
    let emu = Emu::start().await;
    let event = insert(&emu.api, "primary", &hour_event("Budget review", 9)).await;
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    let path = event_path(&id);
    let first = etag(&event);

    // Unchanged since we read it: 304 with no body.
    let (status, _, body) = emu.api.send(Method::GET, &path, None, &[("If-None-Match", &first)]).await;
    assert_eq!(status, 304);
    assert_eq!(body, Value::Null);

    // A write with the current etag succeeds.
    let (status, _, patched) =
        emu.api.send(Method::PATCH, &path, Some(&json!({"summary": "Budget"})), &[("If-Match", &first)]).await;
    assert_eq!(status, 200, "{patched}");
    let second = etag(&patched);

    // Someone else's copy is now stale: 412 conditionNotMet, and nothing changes.
    let stale = emu.api.send(Method::PATCH, &path, Some(&json!({"summary": "Lost"})), &[("If-Match", &first)]).await;
    assert_eq!(stale.0, 412);
    assert_eq!(stale.2, google_error_at(412, "global", "conditionNotMet", "Precondition Failed", "header", "If-Match"));
    let stale_put = emu.api.send(Method::PUT, &path, Some(&hour_event("Lost", 11)), &[("If-Match", &first)]).await;
    assert_error(&stale_put, 412, "conditionNotMet");
    let stale_delete = emu.api.send(Method::DELETE, &path, None, &[("If-Match", &first)]).await;
    assert_error(&stale_delete, 412, "conditionNotMet");

    // A stale If-None-Match gets the current resource.
    let (status, _, current) = emu.api.send(Method::GET, &path, None, &[("If-None-Match", &first)]).await;
    assert_eq!(status, 200);
    assert_eq!(current["summary"], json!("Budget"));
    assert_eq!(etag(&current), second);

    let (status, _, _) = emu.api.send(Method::DELETE, &path, None, &[("If-Match", &second)]).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn a_deleted_event_stays_readable_as_cancelled_and_cannot_be_deleted_twice() {
    let emu = Emu::start().await;
    let event = insert(&emu.api, "primary", &hour_event("Dentist", 9)).await;
    let path = event_path(event["id"].as_str().unwrap_or_default());

    let (status, _, body) = emu.api.delete(&path).await;
    assert_eq!(status, 204);
    assert_eq!(body, Value::Null, "delete answers an empty body");

    let (status, _, tombstone) = emu.api.get(&path).await;
    assert_eq!(status, 200, "get returns cancelled events: {tombstone}");
    assert_eq!(tombstone["status"], json!("cancelled"));
    assert_eq!(tombstone["id"], event["id"]);

    let (status, _, err) = emu.api.delete(&path).await;
    assert_eq!(status, 410);
    assert_eq!(err, google_error(410, "global", "deleted", "Resource has been deleted"));

    // A plain listing no longer shows it.
    let (_, _, list) = emu.api.get(EVENTS).await;
    assert!(items(&list).is_empty(), "{list}");

    // An id that never existed is 404 notFound.
    let (status, _, err) = emu.api.get(&event_path("neverexisted1")).await;
    assert_eq!(status, 404);
    assert_eq!(err, google_error(404, "global", "notFound", "Not Found"));
}

#[tokio::test]
async fn update_replaces_the_whole_event_while_patch_merges() {
    let emu = Emu::start().await;
    let mut body = hour_event("Planning", 9);
    body["description"] = json!("Agenda: <b>roadmap</b>");
    body["location"] = json!("Room 4");
    body["colorId"] = json!("5");
    body["extendedProperties"] = json!({"private": {"app": "calsync"}});
    let event = insert(&emu.api, "primary", &body).await;
    let path = event_path(event["id"].as_str().unwrap_or_default());

    let (status, _, patched) = emu.api.patch(&path, &json!({"summary": "Planning (moved)"})).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["summary"], json!("Planning (moved)"));
    assert_eq!(patched["description"], json!("Agenda: <b>roadmap</b>"));
    assert_eq!(patched["location"], json!("Room 4"));
    assert_eq!(patched["colorId"], json!("5"));
    assert_eq!(patched["extendedProperties"], json!({"private": {"app": "calsync"}}));
    assert_eq!(patched["start"], event["start"]);

    // Patching an object field merges inside it; an array replaces the whole array.
    let (_, _, merged) = emu.api.patch(&path, &json!({"extendedProperties": {"shared": {"team": "a"}}})).await;
    assert_eq!(merged["extendedProperties"], json!({"private": {"app": "calsync"}, "shared": {"team": "a"}}));
    let (_, _, _) = emu.api.patch(&path, &json!({"attendees": [{"email": "a@example.com"}]})).await;
    let (_, _, replaced_array) = emu.api.patch(&path, &json!({"attendees": [{"email": "b@example.com"}]})).await;
    let emails: Vec<&Value> =
        replaced_array["attendees"].as_array().map(|a| a.iter().map(|x| &x["email"]).collect()).unwrap_or_default();
    assert_eq!(emails, vec![&json!("b@example.com")]);

    let (status, _, updated) = emu.api.put(&path, &hour_event("Planning v2", 10)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["summary"], json!("Planning v2"));
    for cleared in ["description", "location", "colorId", "extendedProperties", "attendees"] {
        assert!(updated.get(cleared).is_none(), "update must clear the omitted field {cleared}: {updated}");
    }
    let (_, _, fetched) = emu.api.get(&path).await;
    assert!(fetched.get("description").is_none(), "{fetched}");

    // update requires start and end.
    let reply = emu.api.put(&path, &json!({"summary": "No times"})).await;
    assert_eq!(reply.0, 400, "{}", reply.2);
}

#[tokio::test]
async fn moving_an_event_raises_its_sequence_and_its_ical_uid_is_derived_from_the_id() {
    let emu = Emu::start().await;
    let event = insert(&emu.api, "primary", &hour_event("Interview", 9)).await;
    let id = event["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(event["iCalUID"], json!(format!("{id}@google.com")));
    assert_eq!(event["kind"], json!("calendar#event"));
    assert_eq!(event["status"], json!("confirmed"));
    let first = event["sequence"].as_i64().unwrap_or_else(|| panic!("no sequence in {event}"));

    let moved = json!({"start": {"dateTime": "2024-05-02T09:00:00Z"}, "end": {"dateTime": "2024-05-02T10:00:00Z"}});
    let (status, _, after) = emu.api.patch(&event_path(&id), &moved).await;
    assert_eq!(status, 200, "{after}");
    let second = after["sequence"].as_i64().unwrap_or(-1);
    assert!(second > first, "sequence must increase when start changes: {first} -> {second}");
    assert_eq!(after["iCalUID"], event["iCalUID"], "the iCalUID is stable");

    let later = json!({"start": {"dateTime": "2024-05-03T09:00:00Z"}, "end": {"dateTime": "2024-05-03T10:00:00Z"}});
    let (_, _, again) = emu.api.put(&event_path(&id), &later).await;
    assert!(again["sequence"].as_i64().unwrap_or(-1) > second, "{again}");
}

#[tokio::test]
async fn extended_properties_round_trip_and_filter_the_listing() {
    let emu = Emu::start().await;
    let mut mine = hour_event("Synced by calsync", 9);
    mine["extendedProperties"] = json!({"private": {"calsyncId": "42", "origin": "caldav"},
                                        "shared": {"project": "apollo"}});
    let mine = insert(&emu.api, "primary", &mine).await;
    let mut other = hour_event("Someone else's", 10);
    other["extendedProperties"] = json!({"private": {"calsyncId": "43"}});
    let other = insert(&emu.api, "primary", &other).await;
    insert(&emu.api, "primary", &hour_event("No properties", 11)).await;

    let (_, _, fetched) = emu.api.get(&event_path(mine["id"].as_str().unwrap_or_default())).await;
    assert_eq!(
        fetched["extendedProperties"],
        json!({"private": {"calsyncId": "42", "origin": "caldav"}, "shared": {"project": "apollo"}})
    );

    let filter = |f: &str| format!("{EVENTS}?privateExtendedProperty={}", enc(f));
    let (status, _, list) = emu.api.get(&filter("calsyncId=42")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(ids(&list), vec![mine["id"].as_str().unwrap_or_default().to_owned()]);
    let (_, _, list) = emu.api.get(&filter("calsyncId=43")).await;
    assert_eq!(ids(&list), vec![other["id"].as_str().unwrap_or_default().to_owned()]);
    let (_, _, list) = emu.api.get(&filter("calsyncId=44")).await;
    assert!(items(&list).is_empty(), "{list}");
    // Repeated filters must all match.
    let both = format!("{}&privateExtendedProperty={}", filter("calsyncId=42"), enc("origin=caldav"));
    assert_eq!(items(&emu.api.get(&both).await.2).len(), 1);
    let conflicting = format!("{}&privateExtendedProperty={}", filter("calsyncId=42"), enc("origin=graph"));
    assert!(items(&emu.api.get(&conflicting).await.2).is_empty());
    // A shared property is not a private one.
    assert!(items(&emu.api.get(&filter("project=apollo")).await.2).is_empty());
    let shared = format!("{EVENTS}?sharedExtendedProperty={}", enc("project=apollo"));
    assert_eq!(items(&emu.api.get(&shared).await.2).len(), 1);
}

#[tokio::test]
async fn all_day_and_timed_events_keep_their_kind_of_time() {
    let emu = Emu::start().await;
    let all_day = insert(
        &emu.api,
        "primary",
        &json!({"summary": "Holiday", "start": {"date": "2024-05-01"}, "end": {"date": "2024-05-02"}}),
    )
    .await;
    assert_eq!(all_day["start"], json!({"date": "2024-05-01"}));
    assert_eq!(all_day["end"], json!({"date": "2024-05-02"}));

    let timed_in_zone = insert(
        &emu.api,
        "primary",
        &json!({"summary": "Call Berlin",
                "start": {"dateTime": "2024-05-01T09:00:00", "timeZone": "Europe/Berlin"},
                "end": {"dateTime": "2024-05-01T10:00:00", "timeZone": "Europe/Berlin"}}),
    )
    .await;
    assert_eq!(timed_in_zone["start"], json!({"dateTime": "2024-05-01T09:00:00+02:00", "timeZone": "Europe/Berlin"}));
    assert_eq!(timed_in_zone["end"], json!({"dateTime": "2024-05-01T10:00:00+02:00", "timeZone": "Europe/Berlin"}));

    let with_offset =
        insert(&emu.api, "primary", &timed("Offset", "2024-05-01T09:00:00-04:00", "2024-05-01T09:30:00-04:00")).await;
    let start: Timestamp =
        with_offset["start"]["dateTime"].as_str().unwrap_or("").parse().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(start, "2024-05-01T13:00:00Z".parse::<Timestamp>().unwrap_or(Timestamp::UNIX_EPOCH));

    // A dateTime without an offset needs a timeZone.
    let reply = emu.api.post(EVENTS, &timed("Floating", "2024-05-01T09:00:00", "2024-05-01T10:00:00")).await;
    assert_eq!(reply.0, 400, "{}", reply.2);
    // Mixing a date with a dateTime is refused.
    let mixed =
        json!({"summary": "Mixed", "start": {"date": "2024-05-01"}, "end": {"dateTime": "2024-05-01T10:00:00Z"}});
    assert_eq!(emu.api.post(EVENTS, &mixed).await.0, 400);
    // Missing start is refused.
    assert_eq!(emu.api.post(EVENTS, &json!({"summary": "No start", "end": {"date": "2024-05-02"}})).await.0, 400);

    let (_, _, list) = emu.api.get(EVENTS).await;
    assert_eq!(items(&list).len(), 3, "{list}");
}

#[tokio::test]
async fn an_end_before_the_start_is_time_range_empty() {
    let emu = Emu::start().await;
    let reply = emu.api.post(EVENTS, &timed("Backwards", "2024-05-01T10:00:00Z", "2024-05-01T09:00:00Z")).await;
    assert_error(&reply, 400, "timeRangeEmpty");
    assert_eq!(reply.2["error"]["errors"][0]["domain"], json!("calendar"));

    let same_day = json!({"summary": "Zero days", "start": {"date": "2024-05-02"}, "end": {"date": "2024-05-01"}});
    assert_error(&emu.api.post(EVENTS, &same_day).await, 400, "timeRangeEmpty");

    // Also when a patch would make the range empty.
    let event = insert(&emu.api, "primary", &hour_event("Fine", 9)).await;
    let path = event_path(event["id"].as_str().unwrap_or_default());
    let reply = emu.api.patch(&path, &json!({"end": {"dateTime": "2024-05-01T08:00:00Z"}})).await;
    assert_error(&reply, 400, "timeRangeEmpty");
    assert_eq!(emu.api.get(&path).await.2["end"], event["end"], "a refused patch changes nothing");
}

fn berlin(local: &str) -> Value {
    json!({"dateTime": local, "timeZone": "Europe/Berlin"})
}

/// A daily standup at 09:00 Berlin time (07:00Z in May), three times from 2024-05-06.
fn daily_standup() -> Value {
    json!({"summary": "Standup", "start": berlin("2024-05-06T09:00:00"), "end": berlin("2024-05-06T09:15:00"),
           "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"]})
}

#[tokio::test]
async fn a_series_expands_into_instances_with_stable_ids() {
    let emu = Emu::start().await;
    let master = insert(&emu.api, "primary", &daily_standup()).await;
    let m = master["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(master["recurrence"], json!(["RRULE:FREQ=DAILY;COUNT=3"]));

    let (status, _, instances) = emu.api.get(&format!("{}/instances", event_path(&m))).await;
    assert_eq!(status, 200, "{instances}");
    assert_eq!(
        ids(&instances),
        vec![format!("{m}_20240506T070000Z"), format!("{m}_20240507T070000Z"), format!("{m}_20240508T070000Z")]
    );
    for (i, day) in ["06", "07", "08"].iter().enumerate() {
        let inst = &items(&instances)[i];
        assert_eq!(inst["recurringEventId"], json!(m), "{inst}");
        assert_eq!(inst["originalStartTime"], berlin_rendered(&format!("2024-05-{day}T09:00:00+02:00")));
        assert_eq!(inst["start"], berlin_rendered(&format!("2024-05-{day}T09:00:00+02:00")));
        assert_eq!(inst["summary"], json!("Standup"));
        assert!(inst.get("recurrence").is_none(), "instances carry no recurrence: {inst}");
        assert_eq!(inst["iCalUID"], master["iCalUID"], "instances share the series' iCalUID");
    }
    // An instance can be fetched by its id.
    let (status, _, second) = emu.api.get(&event_path(&format!("{m}_20240507T070000Z"))).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["recurringEventId"], json!(m));

    // All-day series: `{master}_{YYYYMMDD}`.
    let weekly = insert(
        &emu.api,
        "primary",
        &json!({"summary": "Bins out", "start": {"date": "2024-05-01"}, "end": {"date": "2024-05-02"},
                "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"]}),
    )
    .await;
    let w = weekly["id"].as_str().unwrap_or_default().to_owned();
    let (_, _, instances) = emu.api.get(&format!("{}/instances", event_path(&w))).await;
    assert_eq!(ids(&instances), vec![format!("{w}_20240501"), format!("{w}_20240508"), format!("{w}_20240515")]);
    assert_eq!(items(&instances)[1]["originalStartTime"], json!({"date": "2024-05-08"}));
    assert_eq!(items(&instances)[1]["end"], json!({"date": "2024-05-09"}));
}

fn berlin_rendered(date_time: &str) -> Value {
    json!({"dateTime": date_time, "timeZone": "Europe/Berlin"})
}

#[tokio::test]
async fn changing_one_occurrence_makes_an_exception_that_every_view_shows() {
    let emu = Emu::start().await;
    let master = insert(&emu.api, "primary", &daily_standup()).await;
    let m = master["id"].as_str().unwrap_or_default().to_owned();
    let second = format!("{m}_20240507T070000Z");

    let moved = json!({"summary": "Standup (late)", "start": berlin("2024-05-07T11:00:00"),
                       "end": berlin("2024-05-07T11:15:00")});
    let (status, _, exception) = emu.api.patch(&event_path(&second), &moved).await;
    assert_eq!(status, 200, "{exception}");
    assert_eq!(exception["id"], json!(second));
    assert_eq!(exception["recurringEventId"], json!(m));
    assert_eq!(exception["originalStartTime"], berlin_rendered("2024-05-07T09:00:00+02:00"));
    assert_eq!(exception["start"], berlin_rendered("2024-05-07T11:00:00+02:00"));

    // events.instances shows the exception in place.
    let (_, _, instances) = emu.api.get(&format!("{}/instances", event_path(&m))).await;
    let inst = items(&instances);
    assert_eq!(inst.len(), 3, "{instances}");
    assert_eq!(inst[1]["id"], json!(second));
    assert_eq!(inst[1]["summary"], json!("Standup (late)"));
    assert_eq!(inst[1]["originalStartTime"], berlin_rendered("2024-05-07T09:00:00+02:00"));
    assert_eq!(inst[0]["summary"], json!("Standup"));

    // singleEvents=true lists the exception instead of the rule's occurrence.
    let (_, _, single) = emu.api.get(&format!("{EVENTS}?singleEvents=true&orderBy=startTime")).await;
    let single_items = items(&single);
    assert_eq!(single_items.len(), 3, "{single}");
    let shown = single_items.iter().find(|e| e["id"] == json!(second)).unwrap_or_else(|| panic!("{single}"));
    assert_eq!(shown["summary"], json!("Standup (late)"));
    assert_eq!(shown["recurringEventId"], json!(m));
    assert_eq!(shown["originalStartTime"], berlin_rendered("2024-05-07T09:00:00+02:00"));
    assert!(single_items.iter().all(|e| e.get("recurrence").is_none()), "singleEvents omits masters: {single}");

    // Without singleEvents: the master and the exception.
    let (_, _, series) = emu.api.get(EVENTS).await;
    let mut got = ids(&series);
    got.sort();
    let mut want = vec![m.clone(), second.clone()];
    want.sort();
    assert_eq!(got, want, "{series}");
}

#[tokio::test]
async fn deleting_one_occurrence_leaves_a_cancelled_child() {
    let emu = Emu::start().await;
    let master = insert(&emu.api, "primary", &daily_standup()).await;
    let m = master["id"].as_str().unwrap_or_default().to_owned();
    let third = format!("{m}_20240508T070000Z");

    let (status, _, _) = emu.api.delete(&event_path(&third)).await;
    assert_eq!(status, 204);
    let (status, _, child) = emu.api.get(&event_path(&third)).await;
    assert_eq!(status, 200, "{child}");
    assert_eq!(child["status"], json!("cancelled"));
    assert_eq!(child["recurringEventId"], json!(m));
    assert_eq!(child["originalStartTime"], berlin_rendered("2024-05-08T09:00:00+02:00"));

    let (_, _, instances) = emu.api.get(&format!("{}/instances", event_path(&m))).await;
    assert_eq!(ids(&instances), vec![format!("{m}_20240506T070000Z"), format!("{m}_20240507T070000Z")]);
    let (_, _, with_deleted) = emu.api.get(&format!("{}/instances?showDeleted=true", event_path(&m))).await;
    assert_eq!(items(&with_deleted).len(), 3, "{with_deleted}");
    assert_eq!(items(&with_deleted)[2]["status"], json!("cancelled"));

    let (_, _, single) = emu.api.get(&format!("{EVENTS}?singleEvents=true")).await;
    assert!(!ids(&single).contains(&third), "{single}");
    assert_eq!(items(&single).len(), 2);

    // showDeleted=false, singleEvents=false: the cancelled instance of a live series is listed.
    let (_, _, series) = emu.api.get(EVENTS).await;
    let stub = items(&series).into_iter().find(|e| e["id"] == json!(third)).unwrap_or_else(|| panic!("{series}"));
    assert_eq!(stub["status"], json!("cancelled"));
    assert_eq!(stub["recurringEventId"], json!(m));
    assert_eq!(stub["originalStartTime"], berlin_rendered("2024-05-08T09:00:00+02:00"));

    // Deleting it again is 410.
    assert_error(&emu.api.delete(&event_path(&third)).await, 410, "deleted");
}

#[tokio::test]
async fn single_events_ordered_by_start_time() {
    let emu = Emu::start().await;
    let late = insert(&emu.api, "primary", &timed("Late", "2024-05-10T12:00:00Z", "2024-05-10T13:00:00Z")).await;
    let series = insert(
        &emu.api,
        "primary",
        &json!({"summary": "Series", "start": berlin("2024-05-08T09:00:00"), "end": berlin("2024-05-08T10:00:00"),
                "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"]}),
    )
    .await;
    let all_day = insert(
        &emu.api,
        "primary",
        &json!({"summary": "All day", "start": {"date": "2024-05-09"}, "end": {"date": "2024-05-10"}}),
    )
    .await;
    let early = insert(&emu.api, "primary", &timed("Early", "2024-05-07T12:00:00Z", "2024-05-07T13:00:00Z")).await;
    let id = |v: &Value| v["id"].as_str().unwrap_or_default().to_owned();
    let s = id(&series);

    let (status, _, list) = emu.api.get(&format!("{EVENTS}?singleEvents=true&orderBy=startTime")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        ids(&list),
        vec![
            id(&early),
            format!("{s}_20240508T070000Z"),
            id(&all_day), // 2024-05-09 00:00 in the calendar's zone (UTC)
            format!("{s}_20240509T070000Z"),
            format!("{s}_20240510T070000Z"),
            id(&late),
        ]
    );

    let reply = emu.api.get(&format!("{EVENTS}?orderBy=startTime")).await;
    assert_error(&reply, 400, "invalid");
    let reply = emu.api.get(&format!("{EVENTS}?singleEvents=false&orderBy=startTime")).await;
    assert_eq!(reply.0, 400, "{}", reply.2);
}

#[tokio::test]
async fn recurrence_rules_may_not_carry_dtstart_and_need_a_time_zone() {
    let emu = Emu::start().await;
    let mut with_dtstart = daily_standup();
    with_dtstart["recurrence"] = json!(["DTSTART:20240506T070000Z", "RRULE:FREQ=DAILY;COUNT=3"]);
    let reply = emu.api.post(EVENTS, &with_dtstart).await;
    assert_eq!(reply.0, 400, "{}", reply.2);
    assert_eq!(reply.2["error"]["code"], json!(400));

    let mut no_zone = timed("No zone", "2024-05-06T09:00:00+02:00", "2024-05-06T10:00:00+02:00");
    no_zone["recurrence"] = json!(["RRULE:FREQ=DAILY;COUNT=3"]);
    let reply = emu.api.post(EVENTS, &no_zone).await;
    assert_eq!(reply.0, 400, "a recurring timed event needs start.timeZone: {}", reply.2);

    let (_, _, list) = emu.api.get(EVENTS).await;
    assert!(items(&list).is_empty(), "{list}");
}

#[tokio::test]
async fn send_updates_is_recorded_and_checked() {
    let emu = Emu::start().await;
    let (status, _, _) = emu.control.delete("/_emulator/requests").await;
    assert_eq!(status, 204);

    let (status, _, event) = emu.api.post(&format!("{EVENTS}?sendUpdates=all"), &hour_event("Party", 18)).await;
    assert_eq!(status, 200, "{event}");
    let path = event_path(event["id"].as_str().unwrap_or_default());
    let (status, _, _) =
        emu.api.patch(&format!("{path}?sendUpdates=externalOnly"), &json!({"summary": "Party!"})).await;
    assert_eq!(status, 200);
    let (status, _, _) = emu.api.put(&path, &hour_event("Party!!", 19)).await;
    assert_eq!(status, 200);
    let (status, _, _) = emu.api.delete(&format!("{path}?sendUpdates=none")).await;
    assert_eq!(status, 204);

    let (status, _, log) = emu.control.get("/_emulator/requests").await;
    assert_eq!(status, 200, "{log}");
    let seen: Vec<(String, Value)> = log["requests"]
        .as_array()
        .unwrap_or_else(|| panic!("{log}"))
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with(EVENTS)))
        .map(|r| (r["method"].as_str().unwrap_or("").to_owned(), r["send_updates"].clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("POST".to_owned(), json!("all")),
            ("PATCH".to_owned(), json!("externalOnly")),
            ("PUT".to_owned(), Value::Null),
            ("DELETE".to_owned(), json!("none")),
        ]
    );

    let reply = emu.api.post(&format!("{EVENTS}?sendUpdates=everyone"), &hour_event("Refused", 9)).await;
    assert_error(&reply, 400, "invalid");
    let (_, _, list) = emu.api.get(EVENTS).await;
    assert!(items(&list).is_empty(), "a refused insert stores nothing: {list}");
}

#[tokio::test]
async fn malformed_bodies_are_400_never_5xx() {
    let emu = Emu::start().await;
    let event = insert(&emu.api, "primary", &hour_event("Target", 9)).await;
    let path = event_path(event["id"].as_str().unwrap_or_default());
    let broken: &[&[u8]] = &[b"{\"summary\": ", b"not json at all", b"[1, 2, 3]", b"\"a string\"", b"{\"start\": 5}"];
    for body in broken {
        for (method, target) in [(Method::POST, EVENTS), (Method::PUT, path.as_str()), (Method::PATCH, path.as_str())] {
            let (status, _, err) =
                emu.api.raw(method.clone(), target, Some(("application/json", body.to_vec())), &[]).await;
            assert_eq!(status, 400, "{method} {target} with {:?}: {err}", String::from_utf8_lossy(body));
            assert_eq!(err["error"]["code"], json!(400), "{err}");
        }
    }
    let (_, _, unchanged) = emu.api.get(&path).await;
    assert_eq!(unchanged["etag"], event["etag"], "nothing was written");
}

#[tokio::test]
async fn the_primary_keyword_and_the_email_name_the_same_calendar() {
    let emu = Emu::start().await;
    let event = insert(&emu.api, USER, &hour_event("By email", 9)).await;
    let (status, _, via_primary) = emu.api.get(&event_path(event["id"].as_str().unwrap_or_default())).await;
    assert_eq!(status, 200);
    assert_eq!(via_primary["id"], event["id"]);
    assert_eq!(via_primary["organizer"]["email"], json!(USER));
    let (_, _, cal) = emu.api.get("/calendar/v3/calendars/primary").await;
    assert_eq!(cal["id"], json!(USER));
}
