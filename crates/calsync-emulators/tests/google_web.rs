//! "Google Calendar (emulator)", the emulator's own page at `/calendar`: a person (or a browser
//! test) lists, creates, edits and deletes the demo user's events there, and an app sees those
//! writes through the API exactly as writes made in Google's web UI: new etags, sync-token
//! deltas, watch-channel notifications. No token, no request log, no faults.

mod support;

use calsync_emulators::google::Config;
use reqwest::Method;
use serde_json::{Value, json};
use support::web::*;
use support::*;

const PAGE: &str = "/calendar";
const CREATE: &str = "/calendar/events";
const XSS: &str = "<img src=x onerror=alert(1)>";

/// An emulator whose new calendars are in Europe/Berlin.
async fn berlin() -> Emu {
    Emu::start_with(Config { time_zone: "Europe/Berlin".into(), ..Config::default() }).await
}

fn id(event: &Value) -> String {
    event["id"].as_str().unwrap_or_else(|| panic!("no id in {event}")).to_owned()
}

/// The page as the default user sees it; asserts 200 and HTML.
async fn page(emu: &Emu, path: &str) -> String {
    let (status, headers, html) = get_page(&emu.control, path).await;
    assert_eq!(status, 200, "GET {path}: {html}");
    let kind = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(kind.starts_with("text/html"), "{kind}");
    html
}

/// The action of an event's delete button.
fn delete_action(item: &str) -> String {
    let form = &item[item.find("<form class=\"delete\"").unwrap_or_else(|| panic!("no delete form in {item}"))..];
    let rest = &form[form.find("action=\"").unwrap_or_else(|| panic!("no action in {form}")) + 8..];
    unescape(&rest[..rest.find('"').unwrap_or(0)])
}

/// The form a person fills in for a new timed event.
fn new_event(title: &str) -> Vec<(&str, &str)> {
    vec![("title", title), ("date", "2099-06-01"), ("start_time", "09:30"), ("end_time", "10:15")]
}

async fn get_event(emu: &Emu, event_id: &str) -> Value {
    let (status, _, event) = emu.api.get(&event_path(event_id)).await;
    assert_eq!(status, 200, "GET {event_id}: {event}");
    event
}

#[tokio::test]
async fn the_page_lists_the_users_events_upcoming_first_in_the_calendars_zone() {
    let emu = berlin().await;
    let mut later = timed("Later", "2099-06-02T08:00:00Z", "2099-06-02T09:00:00Z");
    later["location"] = json!("Room 2");
    let later = insert(&emu.api, "primary", &later).await;
    let sooner = insert(&emu.api, "primary", &timed("Sooner", "2099-06-01T08:00:00Z", "2099-06-01T09:00:00Z")).await;
    let earlier = insert(&emu.api, "primary", &timed("Earlier", "2024-05-01T08:00:00Z", "2024-05-01T08:30:00Z")).await;
    let holiday = json!({"summary": "Holiday", "start": {"date": "2099-07-04"}, "end": {"date": "2099-07-05"}});
    let holiday = insert(&emu.api, "primary", &holiday).await;
    let weekly = json!({"summary": "Weekly", "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
        "start": {"dateTime": "2099-05-01T10:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2099-05-01T10:30:00", "timeZone": "Europe/Berlin"}});
    let weekly = insert(&emu.api, "primary", &weekly).await;
    let gone = insert(&emu.api, "primary", &timed("Gone", "2099-06-03T08:00:00Z", "2099-06-03T09:00:00Z")).await;
    assert_eq!(emu.api.delete(&event_path(&id(&gone))).await.0, 204);

    let html = page(&emu, PAGE).await;
    assert!(html.contains("<title>Google Calendar (emulator)</title>"), "{html}");
    assert!(html.contains("Times in Europe/Berlin"), "{html}");
    assert_eq!(
        listed(&html),
        [&weekly, &sooner, &later, &holiday, &earlier].map(id),
        "upcoming by start, then the past; cancelled events are not shown"
    );
    let item = event_item(&html, &id(&sooner));
    assert!(item.contains("Sooner") && item.contains("1 Jun 2099, 10:00 – 11:00"), "Berlin time: {item}");
    assert!(!item.contains("badge"), "{item}");
    assert!(event_item(&html, &id(&later)).contains("Room 2"));
    let past = event_item(&html, &id(&earlier));
    assert!(past.contains("event past") && past.contains("Wed, 1 May 2024, 10:00 – 10:30"), "{past}");
    let all_day = event_item(&html, &id(&holiday));
    assert!(all_day.contains("badge all-day") && all_day.contains("4 Jul 2099"), "{all_day}");
    assert!(!all_day.contains("4 Jul 2099 –"), "a one-day event shows one date: {all_day}");
    let series = event_item(&html, &id(&weekly));
    assert!(series.contains("badge recurring") && series.contains("RRULE:FREQ=WEEKLY;COUNT=3"), "{series}");

    // Another user, another calendar; unknown ones are 404.
    let bob = emu.as_user("bob@example.com");
    let bobs = insert(&bob, "primary", &hour_event("Bob's", 9)).await;
    let html = page(&emu, &format!("{PAGE}?user={}", enc("bob@example.com"))).await;
    assert_eq!(listed(&html), vec![id(&bobs)]);
    assert!(html.contains("bob@example.com"));
    let (status, _, team) = emu.api.post("/calendar/v3/calendars", &json!({"summary": "Team"})).await;
    assert_eq!(status, 200, "{team}");
    let standup = insert(&emu.api, &id(&team), &hour_event("Team standup", 9)).await;
    let html = page(&emu, &format!("{PAGE}?calendar={}", enc(&id(&team)))).await;
    assert_eq!(listed(&html), vec![id(&standup)]);
    assert!(html.contains("Times in UTC") && html.contains(">Team</a>"), "{html}");
    for path in [format!("{PAGE}?user=nobody%40example.com"), format!("{PAGE}?calendar=nope")] {
        let (status, _, html) = get_page(&emu.control, &path).await;
        assert_eq!(status, 404, "{path}: {html}");
        assert!(html.contains("role=\"alert\""), "{html}");
    }
}

#[tokio::test]
async fn an_event_created_on_the_page_reaches_the_api_its_sync_token_and_watch_channels() {
    let emu = berlin().await;
    let rx = Receiver::start().await;
    let (_, token) = list_items(&emu.api, EVENTS).await;
    watch(&emu.api, "primary", "page-chan", &rx, "t").await;
    rx.wait_delivered("page-chan", 1).await;
    assert_eq!(emu.control.delete("/_emulator/requests").await.0, 204);
    assert_eq!(emu.control.post("/_emulator/faults", &json!({"status": 503, "count": 1})).await.0, 204);

    let mut form = new_event("Dentist");
    form.extend([("location", "Main St 1"), ("description", "Bring the card\r\nand cash")]);
    let location = assert_redirected(&post_form(&emu.control, CREATE, &form).await, PAGE);
    let all_day = [("title", "Trip"), ("date", "2099-07-04"), ("end_date", "2099-07-05"), ("all_day", "on")];
    assert_redirected(&post_form(&emu.control, CREATE, &all_day).await, PAGE);
    let html = page(&emu, &location).await;
    assert!(html.contains("Dentist") && html.contains("1 Jun 2099, 09:30 – 10:15"), "{html}");

    // The page is no API request: not logged, and the pending fault is still there.
    let (_, _, log) = emu.control.get("/_emulator/requests").await;
    assert_eq!(log["requests"], json!([]), "page requests are not logged");
    let (_, _, faults) = emu.control.get("/_emulator/faults").await;
    assert_eq!(faults["faults"].as_array().map(Vec::len), Some(1), "{faults}");
    assert_eq!(emu.control.delete("/_emulator/faults").await.0, 204);

    let (delta, _) = list_items(&emu.api, &format!("{EVENTS}?syncToken={}", enc(&token))).await;
    assert_eq!(delta.len(), 2, "{delta:?}");
    let dentist = delta.iter().find(|e| e["summary"] == json!("Dentist")).unwrap_or_else(|| panic!("{delta:?}"));
    assert_eq!(dentist["start"], json!({"dateTime": "2099-06-01T09:30:00+02:00", "timeZone": "Europe/Berlin"}));
    assert_eq!(dentist["end"], json!({"dateTime": "2099-06-01T10:15:00+02:00", "timeZone": "Europe/Berlin"}));
    assert_eq!(dentist["location"], json!("Main St 1"));
    assert_eq!(dentist["description"], json!("Bring the card\nand cash"));
    assert_eq!(dentist["status"], json!("confirmed"));
    assert_eq!(get_event(&emu, &id(dentist)).await["etag"], dentist["etag"]);
    let trip = delta.iter().find(|e| e["summary"] == json!("Trip")).unwrap_or_else(|| panic!("{delta:?}"));
    assert_eq!((&trip["start"], &trip["end"]), (&json!({"date": "2099-07-04"}), &json!({"date": "2099-07-06"})));

    let got = rx.wait_delivered("page-chan", 3).await;
    assert!(got[1..].iter().all(|n| n.state() == "exists"), "{got:?}");
}

#[tokio::test]
async fn editing_on_the_page_changes_only_what_was_changed_with_a_new_etag() {
    let emu = berlin().await;
    let body = json!({"summary": "Standup", "location": "Room 1",
        "start": {"dateTime": "2099-06-01T09:00:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2099-06-01T09:15:00", "timeZone": "America/New_York"},
        "extendedProperties": {"private": {"calsyncId": "0190e7a4"}}});
    let created = insert(&emu.api, "primary", &body).await;
    let event_id = id(&created);
    let (_, token) = list_items(&emu.api, EVENTS).await;

    let html = page(&emu, PAGE).await;
    let item = event_item(&html, &event_id);
    assert!(item.contains("15:00 – 15:15"), "listed in the calendar's zone: {item}");
    let (action, fields) = form_fields(item, "edit");
    assert_eq!(field(&fields, "start_time"), Some("09:00"), "edited in the event's own zone: {fields:?}");
    assert_eq!(field(&fields, "time_zone"), Some("America/New_York"));
    assert_eq!(field(&fields, "location"), Some("Room 1"));

    // Unchanged: nothing is written.
    assert_redirected(&post_form(&emu.control, &action, &pairs(&fields)).await, PAGE);
    assert_eq!(get_event(&emu, &event_id).await["etag"], created["etag"]);

    let renamed = with(&with(&fields, "title", Some("Standup (room 2)")), "location", Some(""));
    assert_redirected(&post_form(&emu.control, &action, &pairs(&renamed)).await, PAGE);
    let after = get_event(&emu, &event_id).await;
    assert_eq!(after["summary"], json!("Standup (room 2)"));
    assert_ne!(after["etag"], created["etag"], "a new etag");
    assert!(after.get("location").is_none(), "an emptied location is cleared: {after}");
    assert_eq!((&after["start"], &after["end"]), (&created["start"], &created["end"]), "times untouched");
    assert_eq!(after["extendedProperties"], created["extendedProperties"], "what the page does not show stays");

    let moved = with(&with(&renamed, "start_time", Some("10:00")), "end_time", Some("10:30"));
    assert_redirected(&post_form(&emu.control, &action, &pairs(&moved)).await, PAGE);
    let last = get_event(&emu, &event_id).await;
    assert_eq!(last["start"], json!({"dateTime": "2099-06-01T10:00:00-04:00", "timeZone": "America/New_York"}));
    assert_eq!(last["sequence"].as_i64(), after["sequence"].as_i64().map(|s| s + 1), "a new time raises it");

    let (delta, _) = list_items(&emu.api, &format!("{EVENTS}?syncToken={}", enc(&token))).await;
    assert_eq!(delta.len(), 1, "{delta:?}");
    assert_eq!((&delta[0]["summary"], &delta[0]["etag"]), (&json!("Standup (room 2)"), &last["etag"]));
}

#[tokio::test]
async fn deleting_on_the_page_cancels_the_event() {
    let emu = berlin().await;
    let doomed = insert(&emu.api, "primary", &hour_event("Doomed", 9)).await;
    let kept = insert(&emu.api, "primary", &hour_event("Kept", 10)).await;
    let (_, token) = list_items(&emu.api, EVENTS).await;

    let html = page(&emu, PAGE).await;
    let action = delete_action(event_item(&html, &id(&doomed)));
    assert_redirected(&post_form(&emu.control, &action, &[]).await, PAGE);

    assert_eq!(get_event(&emu, &id(&doomed)).await["status"], json!("cancelled"));
    let (_, _, list) = emu.api.get(EVENTS).await;
    assert_eq!(ids(&list), vec![id(&kept)]);
    assert_eq!(listed(&page(&emu, PAGE).await), vec![id(&kept)]);
    let (delta, _) = list_items(&emu.api, &format!("{EVENTS}?syncToken={}", enc(&token))).await;
    assert_eq!(delta.len(), 1, "{delta:?}");
    assert_eq!((&delta[0]["id"], &delta[0]["status"]), (&doomed["id"], &json!("cancelled")));

    // Deleting it again (a second tab): the page says it is gone.
    let (status, _, html) = post_form(&emu.control, &action, &[]).await;
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("no longer exists"), "{html}");
}

#[tokio::test]
async fn what_users_typed_is_escaped_everywhere_on_the_page() {
    let emu = berlin().await;
    let mut body = hour_event(XSS, 9);
    body["location"] = json!("\"><script>alert(2)</script>");
    body["description"] = json!("</textarea><script>alert(3)</script>");
    insert(&emu.api, "primary", &body).await;
    let mut form = new_event(XSS);
    form.push(("time_zone", "Europe/Berlin"));
    assert_redirected(&post_form(&emu.control, CREATE, &form).await, PAGE);

    let (status, headers, html) = get_page(&emu.control, PAGE).await;
    assert_eq!(status, 200);
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{html}");
    assert!(!html.contains("<img") && !html.contains("<script"), "nothing typed becomes markup: {html}");
    assert!(html.contains("&lt;/textarea&gt;&lt;script&gt;alert(3)&lt;/script&gt;</textarea>"), "{html}");
    let csp = headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    // The API keeps the text as typed.
    let (_, _, list) = emu.api.get(EVENTS).await;
    assert!(items(&list).iter().all(|e| e["summary"] == json!(XSS)), "{list}");
}

#[tokio::test]
async fn bad_input_is_shown_with_what_was_typed_and_changes_nothing() {
    let emu = berlin().await;
    let existing = insert(&emu.api, "primary", &hour_event("Existing", 9)).await;
    let (_, token) = list_items(&emu.api, EVENTS).await;

    let base = [("title", "Trip"), ("date", "2099-06-01"), ("start_time", "09:00"), ("end_time", "10:00")];
    let with_field = |name: &'static str, value: &'static str| -> Vec<(&str, &str)> {
        let mut f: Vec<(&str, &str)> = base.iter().copied().filter(|(k, _)| *k != name).collect();
        f.extend([(name, value), ("location", "Typed place")]);
        f
    };
    for (form, message) in [
        (with_field("title", "   "), "Add a title."),
        (with_field("date", "2099-02-30"), "is not a date"),
        (with_field("start_time", "nine"), "is not a time"),
        (with_field("end_time", "08:00"), "ends before it starts"),
        (with_field("end_date", "2099-05-31"), "ends before it starts"),
        (with_field("time_zone", "Mars/Olympus"), "Invalid time zone definition for start time."),
    ] {
        let (status, _, html) = post_form(&emu.control, CREATE, &form).await;
        assert_eq!(status, 422, "{form:?}: {html}");
        assert!(html.contains(message), "{form:?} should say {message:?}: {html}");
        let (_, fields) = form_fields(&html, "new");
        assert_eq!(field(&fields, "location"), Some("Typed place"), "the form keeps what was typed");
    }
    let all_day_backwards = [("title", "x"), ("date", "2099-06-02"), ("end_date", "2099-06-01"), ("all_day", "on")];
    let (status, _, html) = post_form(&emu.control, CREATE, &all_day_backwards).await;
    assert_eq!(status, 422);
    assert!(html.contains("The end date is before the start date."), "{html}");
    let garbage = Some(("text/plain", b"\xff\xfe%%%=&&=".to_vec()));
    let (status, _, html) = emu.control.raw_text(Method::POST, CREATE, garbage, &[]).await;
    assert_eq!(status, 422, "{html}");

    // An edit with a bad value leaves the event as it was.
    let html = page(&emu, PAGE).await;
    let (action, fields) = form_fields(event_item(&html, &id(&existing)), "edit");
    let (status, _, html) = post_form(&emu.control, &action, &pairs(&with(&fields, "end_time", Some("08:00")))).await;
    assert_eq!(status, 422, "{html}");
    assert!(event_item(&html, &id(&existing)).contains("<details class=\"edit\" open>"), "shown at its form");
    assert_eq!(get_event(&emu, &id(&existing)).await["etag"], existing["etag"]);
    let (status, _, html) = post_form(&emu.control, "/calendar/events/nosuchevent1", &pairs(&fields)).await;
    assert_eq!(status, 404, "{html}");

    let (delta, _) = list_items(&emu.api, &format!("{EVENTS}?syncToken={}", enc(&token))).await;
    assert_eq!(delta, Vec::<Value>::new(), "nothing was written");
}
