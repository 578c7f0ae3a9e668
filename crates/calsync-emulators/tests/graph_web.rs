//! "Outlook (emulator)", the emulator's own page at `/outlook`: a person (or a browser test)
//! lists, creates, edits and deletes the demo user's events there, and an app sees those
//! writes through Graph exactly as edits made in Outlook: new change keys, delta rounds,
//! subscription notifications. No token, no request log, no throttling, no faults.

mod support;

use serde_json::{Value, json};
use support::graph::*;
use support::web::*;
use support::{Notification, Receiver, enc};

const PAGE: &str = "/outlook";
const CREATE: &str = "/outlook/events";
const DELTA: &str = "/v1.0/me/calendarView/delta";
const XSS: &str = "<img src=x onerror=alert(1)>";

fn summer() -> String {
    window(DELTA, "2099-05-01T00:00:00Z", "2099-08-01T00:00:00Z")
}

/// The page as the default user sees it; asserts 200 and HTML.
async fn page(emu: &GraphEmu, path: &str) -> String {
    let (status, headers, html) = get_page(&emu.control, path).await;
    assert_eq!(status, 200, "GET {path}: {html}");
    let kind = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(kind.starts_with("text/html"), "{kind}");
    html
}

fn delete_action(item: &str) -> String {
    let form = &item[item.find("<form class=\"delete\"").unwrap_or_else(|| panic!("no delete form in {item}"))..];
    let rest = &form[form.find("action=\"").unwrap_or_else(|| panic!("no action in {form}")) + 8..];
    unescape(&rest[..rest.find('"').unwrap_or(0)])
}

async fn get_event(emu: &GraphEmu, event_id: &str) -> Value {
    let expand =
        format!("$expand={}", enc(&format!("singleValueExtendedProperties($filter=id eq '{LOCAL_ID_PROPERTY}')")));
    let (status, _, event) = emu.api.get(&format!("{}?{expand}", event_path(event_id))).await;
    assert_eq!(status, 200, "GET {event_id}: {event}");
    event
}

async fn subscribe(emu: &GraphEmu, receiver: &Receiver) {
    let expires = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_hours(1)).unwrap_or_default();
    let body = json!({"changeType": "created,updated,deleted", "notificationUrl": receiver.url,
                      "resource": "me/events", "expirationDateTime": expires.to_string()});
    let (status, _, sub) = emu.api.post("/v1.0/subscriptions", &body).await;
    assert_eq!(status, 201, "{sub}");
}

/// The change types of the notifications `receiver` took, once there are `n`.
async fn changes(receiver: &Receiver, n: usize) -> Vec<String> {
    let kinds = |all: &[Notification]| -> Vec<String> {
        all.iter()
            .filter(|x| !x.is_validation() && x.succeeded())
            .flat_map(|x| x.json()["value"].as_array().cloned().unwrap_or_default())
            .map(|v| v["changeType"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    kinds(&receiver.wait_until(&format!("{n} notifications"), |all| kinds(all).len() >= n).await)
}

#[tokio::test]
async fn the_page_lists_the_users_events_upcoming_first() {
    let emu = GraphEmu::start().await;
    let mut later = event("Later", "2099-06-02T10:00:00", "2099-06-02T11:00:00", "Europe/Berlin");
    later["location"] = json!({"displayName": "Room 2"});
    let later = create(&emu.api, &later).await;
    let sooner = event("Sooner", "2099-06-01T10:00:00", "2099-06-01T11:00:00", "W. Europe Standard Time");
    let sooner = create(&emu.api, &sooner).await;
    let earlier = create(&emu.api, &hour_event("Earlier", 9)).await;
    let holiday = json!({"subject": "Holiday", "isAllDay": true,
        "start": {"dateTime": "2099-07-04T00:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2099-07-05T00:00:00", "timeZone": "UTC"}});
    let holiday = create(&emu.api, &holiday).await;
    let mut daily = event("Daily", "2099-05-01T08:00:00", "2099-05-01T08:15:00", "UTC");
    daily["recurrence"] = json!({"pattern": {"type": "daily", "interval": 1},
                                 "range": {"type": "numbered", "startDate": "2099-05-01", "numberOfOccurrences": 3}});
    let daily = create(&emu.api, &daily).await;

    let html = page(&emu, PAGE).await;
    assert!(html.contains("<title>Outlook (emulator)</title>"), "{html}");
    assert_eq!(
        listed(&html),
        [&daily, &sooner, &later, &holiday, &earlier].map(id),
        "upcoming by start, then the past"
    );
    let item = event_item(&html, &id(&sooner));
    assert!(item.contains("1 Jun 2099, 10:00 – 11:00 (W. Europe Standard Time)"), "in its own zone: {item}");
    assert!(event_item(&html, &id(&later)).contains("Room 2"));
    let past = event_item(&html, &id(&earlier));
    assert!(past.contains("event past") && past.contains("Wed, 1 May 2024, 09:00 – 10:00 (UTC)"), "{past}");
    let all_day = event_item(&html, &id(&holiday));
    assert!(all_day.contains("badge all-day") && all_day.contains("4 Jul 2099"), "{all_day}");
    let series = event_item(&html, &id(&daily));
    assert!(series.contains("badge recurring") && series.contains("daily, every 1"), "{series}");

    // Another calendar, another mailbox; unknown ones are 404.
    let (status, _, work) = emu.api.post("/v1.0/me/calendars", &json!({"name": "Work"})).await;
    assert_eq!(status, 201, "{work}");
    let review =
        create_at(&emu.api, &format!("/v1.0/me/calendars/{}/events", id(&work)), &hour_event("Review", 9)).await;
    let html = page(&emu, &format!("{PAGE}?calendar={}", enc(&id(&work)))).await;
    assert_eq!(listed(&html), vec![id(&review)]);
    assert!(html.contains(">Work</a>") && html.contains(">Calendar</a>"), "{html}");
    assert_eq!(emu.control.post("/_emulator/users", &json!({"email": "bob@example.com"})).await.0, 201);
    let (status, _, bobs) = emu.control.post("/_emulator/users/bob@example.com/events", &hour_event("Bob's", 9)).await;
    assert_eq!(status, 201, "{bobs}");
    let html = page(&emu, &format!("{PAGE}?user={}", enc("bob@example.com"))).await;
    assert_eq!(listed(&html), vec![id(&bobs)]);
    for path in [format!("{PAGE}?user=nobody%40example.com"), format!("{PAGE}?calendar=nope")] {
        let (status, _, html) = get_page(&emu.control, &path).await;
        assert_eq!(status, 404, "{path}: {html}");
    }
}

#[tokio::test]
async fn an_event_created_on_the_page_reaches_the_api_delta_and_subscriptions() {
    let emu = GraphEmu::start().await;
    let receiver = Receiver::start().await;
    subscribe(&emu, &receiver).await;
    let first = delta_round(&emu, &emu.api, &summer(), &[]).await;
    assert_eq!(emu.control.delete("/_emulator/requests").await.0, 204);
    assert_eq!(emu.control.post("/_emulator/faults", &json!({"status": 503, "count": 1})).await.0, 204);

    let form = [
        ("title", "Dentist"),
        ("date", "2099-06-01"),
        ("start_time", "09:30"),
        ("end_time", "10:15"),
        ("time_zone", "Europe/Berlin"),
        ("location", "Main St 1"),
        ("description", "Bring the card"),
    ];
    let location = assert_redirected(&post_form(&emu.control, CREATE, &form).await, PAGE);
    let all_day = [("title", "Trip"), ("date", "2099-07-04"), ("end_date", "2099-07-05"), ("all_day", "on")];
    assert_redirected(&post_form(&emu.control, CREATE, &all_day).await, PAGE);
    let html = page(&emu, &location).await;
    assert!(html.contains("1 Jun 2099, 09:30 – 10:15 (Europe/Berlin)"), "{html}");

    let (_, _, log) = emu.control.get("/_emulator/requests").await;
    assert_eq!(log["requests"], json!([]), "page requests are not logged");
    let (_, _, faults) = emu.control.get("/_emulator/faults").await;
    assert_eq!(faults["faults"].as_array().map(Vec::len), Some(1), "the fault still waits: {faults}");
    assert_eq!(emu.control.delete("/_emulator/faults").await.0, 204);

    let next = delta_round(&emu, &emu.api, &first.delta, &[]).await;
    assert_eq!(subjects(&next.changed()), vec!["Dentist", "Trip"]);
    let dentist = next.changed().into_iter().find(|e| e["subject"] == json!("Dentist")).unwrap_or_default();
    assert_eq!(dentist["start"], json!({"dateTime": "2099-06-01T07:30:00.0000000", "timeZone": "UTC"}));
    assert_eq!(dentist["originalStartTimeZone"], json!("Europe/Berlin"));
    assert_eq!(dentist["location"]["displayName"], json!("Main St 1"));
    assert_eq!(dentist["bodyPreview"], json!("Bring the card"));
    assert_eq!(dentist["isAllDay"], json!(false));
    let trip = next.changed().into_iter().find(|e| e["subject"] == json!("Trip")).unwrap_or_default();
    assert_eq!(trip["isAllDay"], json!(true));
    assert_eq!(trip["end"], json!({"dateTime": "2099-07-06T00:00:00.0000000", "timeZone": "UTC"}));
    assert_eq!(get_event(&emu, &id(&dentist)).await["changeKey"], dentist["changeKey"]);
    assert_eq!(changes(&receiver, 2).await, vec!["created", "created"]);
}

#[tokio::test]
async fn editing_on_the_page_changes_only_what_was_changed_with_a_new_change_key() {
    let emu = GraphEmu::start().await;
    let mut body = event("Standup", "2099-06-01T09:00:00", "2099-06-01T09:15:00", "W. Europe Standard Time");
    body["body"] = json!({"contentType": "html", "content": "<p>Agenda</p>"});
    body["location"] = json!({"displayName": "Room 1"});
    body["singleValueExtendedProperties"] = json!([{"id": LOCAL_ID_PROPERTY, "value": "0190e7a4"}]);
    let created = create(&emu.api, &body).await;
    let event_id = id(&created);
    let first = delta_round(&emu, &emu.api, &summer(), &[]).await;
    let receiver = Receiver::start().await;
    subscribe(&emu, &receiver).await;

    let html = page(&emu, PAGE).await;
    let (action, fields) = form_fields(event_item(&html, &event_id), "edit");
    assert_eq!(field(&fields, "start_time"), Some("09:00"), "{fields:?}");
    assert_eq!(field(&fields, "time_zone"), Some("W. Europe Standard Time"));
    assert_eq!(field(&fields, "description"), Some("Agenda"), "the body as text");

    assert_redirected(&post_form(&emu.control, &action, &pairs(&fields)).await, PAGE);
    assert_eq!(get_event(&emu, &event_id).await["changeKey"], created["changeKey"], "unchanged: nothing written");

    let renamed = with(&with(&fields, "title", Some("Standup (room 2)")), "location", Some("Room 2"));
    assert_redirected(&post_form(&emu.control, &action, &pairs(&renamed)).await, PAGE);
    let after = get_event(&emu, &event_id).await;
    assert_eq!(after["subject"], json!("Standup (room 2)"));
    assert_eq!(after["location"]["displayName"], json!("Room 2"));
    assert_ne!(after["changeKey"], created["changeKey"], "a new change key");
    assert_ne!(after["@odata.etag"], created["@odata.etag"]);
    for kept in ["start", "end", "originalStartTimeZone", "body"] {
        assert_eq!(after[kept], created[kept], "{kept} untouched");
    }
    assert_eq!(after["singleValueExtendedProperties"][0]["value"], json!("0190e7a4"));

    let moved = with(&with(&renamed, "start_time", Some("10:00")), "end_time", Some("10:30"));
    assert_redirected(&post_form(&emu.control, &action, &pairs(&moved)).await, PAGE);
    let last = get_event(&emu, &event_id).await;
    assert_eq!(last["start"], json!({"dateTime": "2099-06-01T08:00:00.0000000", "timeZone": "UTC"}));
    assert_eq!(last["originalStartTimeZone"], json!("W. Europe Standard Time"));

    let next = delta_round(&emu, &emu.api, &first.delta, &[]).await;
    assert_eq!(next.changed().len(), 1, "{:?}", next.items);
    assert_eq!(
        (&next.changed()[0]["subject"], &next.changed()[0]["changeKey"]),
        (&after["subject"], &last["changeKey"])
    );
    assert_eq!(changes(&receiver, 2).await, vec!["updated", "updated"]);
}

#[tokio::test]
async fn deleting_on_the_page_removes_the_event() {
    let emu = GraphEmu::start().await;
    let doomed = create(&emu.api, &event("Doomed", "2099-06-01T09:00:00", "2099-06-01T10:00:00", "UTC")).await;
    let kept = create(&emu.api, &event("Kept", "2099-06-01T10:00:00", "2099-06-01T11:00:00", "UTC")).await;
    let first = delta_round(&emu, &emu.api, &summer(), &[]).await;
    let receiver = Receiver::start().await;
    subscribe(&emu, &receiver).await;

    let html = page(&emu, PAGE).await;
    let action = delete_action(event_item(&html, &id(&doomed)));
    assert_redirected(&post_form(&emu.control, &action, &[]).await, PAGE);

    assert_graph_error(&emu.api.get(&event_path(&id(&doomed))).await, 404, "ErrorItemNotFound");
    assert_eq!(listed(&page(&emu, PAGE).await), vec![id(&kept)]);
    let next = delta_round(&emu, &emu.api, &first.delta, &[]).await;
    assert_eq!(next.removed(), vec![id(&doomed)]);
    assert_eq!(changes(&receiver, 1).await, vec!["deleted"]);

    let (status, _, html) = post_form(&emu.control, &action, &[]).await;
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("no longer exists"), "{html}");
}

#[tokio::test]
async fn what_users_typed_is_escaped_everywhere_on_the_page() {
    let emu = GraphEmu::start().await;
    let mut body = event(XSS, "2099-06-01T09:00:00", "2099-06-01T10:00:00", "UTC");
    body["location"] = json!({"displayName": "\"><script>alert(2)</script>"});
    body["body"] = json!({"contentType": "text", "content": "</textarea><script>alert(3)</script>"});
    create(&emu.api, &body).await;
    let form = [("title", XSS), ("date", "2099-06-02"), ("start_time", "09:00"), ("end_time", "10:00")];
    assert_redirected(&post_form(&emu.control, CREATE, &form).await, PAGE);

    let (status, headers, html) = get_page(&emu.control, PAGE).await;
    assert_eq!(status, 200);
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "{html}");
    assert!(!html.contains("<img") && !html.contains("<script"), "nothing typed becomes markup: {html}");
    assert!(html.contains("&lt;/textarea&gt;&lt;script&gt;alert(3)&lt;/script&gt;</textarea>"), "{html}");
    let csp = headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let (_, _, list) = emu.api.get(EVENTS).await;
    assert!(values(&list).iter().all(|e| e["subject"] == json!(XSS)), "{list}");
}

#[tokio::test]
async fn bad_input_is_shown_with_what_was_typed_and_changes_nothing() {
    let emu = GraphEmu::start().await;
    let existing = create(&emu.api, &event("Existing", "2099-06-01T09:00:00", "2099-06-01T10:00:00", "UTC")).await;
    let first = delta_round(&emu, &emu.api, &summer(), &[]).await;

    let base = [("title", "Trip"), ("date", "2099-06-01"), ("start_time", "09:00"), ("end_time", "10:00")];
    let with_field = |name: &'static str, value: &'static str| -> Vec<(&str, &str)> {
        let mut f: Vec<(&str, &str)> = base.iter().copied().filter(|(k, _)| *k != name).collect();
        f.extend([(name, value), ("location", "Typed place")]);
        f
    };
    for (form, message) in [
        (with_field("title", ""), "Add a title."),
        (with_field("date", "01/06/2099"), "is not a date"),
        (with_field("start_time", "25:00"), "is not a time"),
        (with_field("end_time", "08:59"), "ends before it starts"),
        (
            with_field("time_zone", "Mars/Olympus"),
            "The following TimeZone value is not supported: &#39;Mars/Olympus&#39;",
        ),
    ] {
        let (status, _, html) = post_form(&emu.control, CREATE, &form).await;
        assert_eq!(status, 422, "{form:?}: {html}");
        assert!(html.contains(message), "{form:?} should say {message:?}: {html}");
        let (_, fields) = form_fields(&html, "new");
        assert_eq!(field(&fields, "location"), Some("Typed place"), "the form keeps what was typed");
    }

    let html = page(&emu, PAGE).await;
    let (action, fields) = form_fields(event_item(&html, &id(&existing)), "edit");
    let (status, _, html) = post_form(&emu.control, &action, &pairs(&with(&fields, "title", Some(" ")))).await;
    assert_eq!(status, 422, "{html}");
    assert!(event_item(&html, &id(&existing)).contains("Add a title."), "shown at its form");
    assert_eq!(get_event(&emu, &id(&existing)).await["changeKey"], existing["changeKey"]);
    let (status, _, html) = post_form(&emu.control, "/outlook/events/AAMkAnonsense", &pairs(&fields)).await;
    assert_eq!(status, 404, "{html}");

    let next = delta_round(&emu, &emu.api, &first.delta, &[]).await;
    assert!(next.items.is_empty(), "nothing was written: {:?}", next.items);
    let (_, _, list) = emu.api.get(EVENTS).await;
    assert_eq!(values(&list).len(), 1, "{list}");
}
