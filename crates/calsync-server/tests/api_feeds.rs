//! Reading a calendar by time: the stored events of a range, and the FullCalendar feed
//! that expands series, applies exceptions, cancellations and EXDATEs, and writes times
//! in the zone the calendar view asked for.

#[macro_use]
mod support;

use serde_json::{Value, json};
use support::{TestApp, meeting};

/// Ada's May 2026 in her Berlin calendar: a Monday standup with one occurrence moved, one
/// cancelled and one taken out by EXDATE; a lunch; a public holiday.
struct May {
    app: TestApp,
    token: String,
    cal: String,
    standup: String,
    moved: String,
    cancelled: String,
    lunch: String,
    holiday: String,
}

async fn adas_may(app: TestApp) -> May {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    let mut weekly = meeting(&cal, "Standup", "2026-05-04", "09:00", "09:15");
    weekly["recurrence"] = json!(["RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE;TZID=Europe/Berlin:20260525T090000"]);
    let standup = id(&app.create_event(&token, weekly).await);

    let mut moved = meeting(&cal, "Standup (Tuesday this week)", "2026-05-12", "14:00", "14:15");
    moved["recurring_event_id"] = json!(standup);
    moved["original_start"] = json!({"date_time": "2026-05-11T09:00:00", "time_zone": "Europe/Berlin"});
    let moved = id(&app.create_event(&token, moved).await);

    let mut cancelled = meeting(&cal, "Standup", "2026-05-18", "09:00", "09:15");
    cancelled["recurring_event_id"] = json!(standup);
    cancelled["original_start"] = json!({"date_time": "2026-05-18T09:00:00", "time_zone": "Europe/Berlin"});
    cancelled["status"] = json!("cancelled");
    let cancelled = id(&app.create_event(&token, cancelled).await);

    let lunch = id(&app.create_event(&token, meeting(&cal, "Lunch with Bob", "2026-05-06", "12:00", "13:00")).await);
    let holiday = json!({"calendar_id": cal, "title": "Ascension Day", "start": {"date": "2026-05-14"}, "end": {"date": "2026-05-15"}});
    let holiday = id(&app.create_event(&token, holiday).await);
    May { app, token, cal, standup, moved, cancelled, lunch, holiday }
}

fn id(event: &Value) -> String {
    event["id"].as_str().unwrap_or_default().to_owned()
}

async fn fullcalendar(app: &TestApp, token: &str, cal: &str, query: &str) -> Vec<Value> {
    let reply = app.get(&format!("/api/v1/calendars/{cal}/fullcalendar?{query}"), token).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json.as_array().cloned().unwrap_or_else(|| panic!("not a list: {}", reply.json))
}

/// `(title, start, end)` of each object, in feed order.
fn agenda(feed: &[Value]) -> Vec<(String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    feed.iter().map(|o| (text(&o["title"]), text(&o["start"]), text(&o["end"]))).collect()
}

fn entry(title: &str, start: &str, end: &str) -> (String, String, String) {
    (title.to_owned(), start.to_owned(), end.to_owned())
}

on_both_databases!(fullcalendar_shows_the_month_in_berlin_wall_time_with_the_series_expanded);
async fn fullcalendar_shows_the_month_in_berlin_wall_time_with_the_series_expanded(app: TestApp) {
    let may = adas_may(app).await;
    let feed = fullcalendar(
        &may.app,
        &may.token,
        &may.cal,
        "start=2026-04-27T00:00:00&end=2026-06-08T00:00:00&timeZone=Europe/Berlin",
    )
    .await;

    assert_eq!(
        agenda(&feed),
        [
            entry("Standup", "2026-05-04T09:00:00", "2026-05-04T09:15:00"),
            entry("Lunch with Bob", "2026-05-06T12:00:00", "2026-05-06T13:00:00"),
            // The 11th moved to Tuesday afternoon and shows there only.
            entry("Standup (Tuesday this week)", "2026-05-12T14:00:00", "2026-05-12T14:15:00"),
            entry("Ascension Day", "2026-05-14", "2026-05-15"),
            // The 18th is cancelled and the 25th excluded by EXDATE: both absent.
            entry("Standup", "2026-06-01T09:00:00", "2026-06-01T09:15:00"),
        ]
    );

    let first = &feed[0];
    assert_eq!(first["id"], format!("{}_20260504T070000Z", may.standup), "occurrence ids are unique per occurrence");
    assert_eq!(first["groupId"], may.standup.as_str());
    assert_eq!(first["allDay"], false);
    assert_eq!(
        first["extendedProps"],
        json!({
            "event_id": may.standup, "calendar_id": may.cal, "series_id": may.standup,
            "original_start": "2026-05-04T07:00:00Z", "source": "local", "updated_at_source": "local",
            "version": 1, "status": "confirmed", "transparency": "busy", "sync": "synced",
        })
    );

    let moved = &feed[2];
    assert_eq!(moved["id"], may.moved.as_str(), "the exception is edited as itself");
    assert_eq!(moved["groupId"], may.standup.as_str(), "but drags with its series");
    assert_eq!(moved["extendedProps"]["event_id"], may.moved.as_str());
    assert_eq!(moved["extendedProps"]["series_id"], may.standup.as_str());
    assert_eq!(moved["extendedProps"]["original_start"], "2026-05-11T07:00:00Z");

    let lunch = &feed[1];
    assert_eq!(
        (lunch["id"].as_str(), lunch["extendedProps"]["event_id"].as_str()),
        (Some(may.lunch.as_str()), Some(may.lunch.as_str()))
    );
    assert!(lunch.get("groupId").is_none() && lunch["extendedProps"].get("series_id").is_none(), "{lunch}");

    let holiday = &feed[3];
    assert_eq!((holiday["id"].as_str(), holiday["allDay"].as_bool()), (Some(may.holiday.as_str()), Some(true)));

    let ids: Vec<&str> = feed.iter().filter_map(|o| o["extendedProps"]["event_id"].as_str()).collect();
    assert!(!ids.contains(&may.cancelled.as_str()), "the cancelled occurrence is not shown");
}

on_both_databases!(fullcalendar_without_a_time_zone_writes_utc_instants);
async fn fullcalendar_without_a_time_zone_writes_utc_instants(app: TestApp) {
    let may = adas_may(app).await;
    // Dates without a zone are read in the calendar's zone (Berlin).
    let feed = fullcalendar(&may.app, &may.token, &may.cal, "start=2026-05-04&end=2026-05-15").await;
    assert_eq!(
        agenda(&feed),
        [
            entry("Standup", "2026-05-04T07:00:00Z", "2026-05-04T07:15:00Z"),
            entry("Lunch with Bob", "2026-05-06T10:00:00Z", "2026-05-06T11:00:00Z"),
            entry("Standup (Tuesday this week)", "2026-05-12T12:00:00Z", "2026-05-12T12:15:00Z"),
            entry("Ascension Day", "2026-05-14", "2026-05-15"),
        ]
    );
    assert_eq!(feed[3]["allDay"], true);

    let utc = fullcalendar(
        &may.app,
        &may.token,
        &may.cal,
        "start=2026-05-04T00:00:00Z&end=2026-05-07T00:00:00Z&timeZone=UTC",
    )
    .await;
    assert_eq!(
        agenda(&utc),
        [
            entry("Standup", "2026-05-04T07:00:00Z", "2026-05-04T07:15:00Z"),
            entry("Lunch with Bob", "2026-05-06T10:00:00Z", "2026-05-06T11:00:00Z"),
        ]
    );
}

on_both_databases!(fullcalendar_writes_wall_time_of_whichever_zone_the_viewer_is_in);
async fn fullcalendar_writes_wall_time_of_whichever_zone_the_viewer_is_in(app: TestApp) {
    let may = adas_may(app).await;
    // FullCalendar sends its range with an offset when it runs in a named zone.
    let query = "start=2026-05-04T00:00:00-04:00&end=2026-05-07T00:00:00-04:00&timeZone=America/New_York";
    let feed = fullcalendar(&may.app, &may.token, &may.cal, query).await;
    assert_eq!(
        agenda(&feed),
        [
            entry("Standup", "2026-05-04T03:00:00", "2026-05-04T03:15:00"),
            entry("Lunch with Bob", "2026-05-06T06:00:00", "2026-05-06T07:00:00"),
        ]
    );
    let offset = "start=2026-05-06T00:00:00%2B02:00&end=2026-05-07T00:00:00%2B02:00&timeZone=Europe/Berlin";
    assert_eq!(
        agenda(&fullcalendar(&may.app, &may.token, &may.cal, offset).await),
        [entry("Lunch with Bob", "2026-05-06T12:00:00", "2026-05-06T13:00:00")]
    );
}

on_both_databases!(a_berlin_morning_meeting_stays_at_nine_across_the_spring_dst_change);
async fn a_berlin_morning_meeting_stays_at_nine_across_the_spring_dst_change(app: TestApp) {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    let mut daily = meeting(&cal, "Daily", "2026-03-27", "09:00", "09:30");
    daily["recurrence"] = json!(["RRULE:FREQ=DAILY;COUNT=5"]);
    app.create_event(&token, daily).await;

    let local = fullcalendar(&app, &token, &cal, "start=2026-03-23&end=2026-04-06&timeZone=Europe/Berlin").await;
    let starts: Vec<&str> = local.iter().filter_map(|o| o["start"].as_str()).collect();
    assert_eq!(
        starts,
        [
            "2026-03-27T09:00:00",
            "2026-03-28T09:00:00",
            "2026-03-29T09:00:00",
            "2026-03-30T09:00:00",
            "2026-03-31T09:00:00"
        ]
    );
    let ends: Vec<&str> = local.iter().filter_map(|o| o["end"].as_str()).collect();
    assert!(ends.iter().all(|e| e.ends_with("T09:30:00")), "{ends:?}");

    // In UTC the clocks' jump shows: 08:00Z in winter time, 07:00Z in summer time.
    let utc = fullcalendar(&app, &token, &cal, "start=2026-03-23&end=2026-04-06").await;
    let starts: Vec<&str> = utc.iter().filter_map(|o| o["start"].as_str()).collect();
    assert_eq!(
        starts,
        [
            "2026-03-27T08:00:00Z",
            "2026-03-28T08:00:00Z",
            "2026-03-29T07:00:00Z",
            "2026-03-30T07:00:00Z",
            "2026-03-31T07:00:00Z"
        ]
    );
    let original_starts: Vec<&str> = utc.iter().filter_map(|o| o["extendedProps"]["original_start"].as_str()).collect();
    assert_eq!(original_starts[2], "2026-03-29T07:00:00Z");
}

on_both_databases!(all_day_events_are_dates_in_every_zone);
async fn all_day_events_are_dates_in_every_zone(app: TestApp) {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Family").await;
    let trip =
        json!({"calendar_id": cal, "title": "Trip", "start": {"date": "2026-07-10"}, "end": {"date": "2026-07-13"}});
    let trip = app.create_event(&token, trip).await;
    let mut birthday = json!({"calendar_id": cal, "title": "Birthday", "start": {"date": "2026-07-12"}, "end": {"date": "2026-07-13"}});
    birthday["recurrence"] = json!(["RRULE:FREQ=YEARLY"]);
    let birthday = app.create_event(&token, birthday).await;

    for zone in ["&timeZone=Europe/Berlin", "&timeZone=Pacific/Auckland", "&timeZone=America/Los_Angeles", ""] {
        let feed = fullcalendar(&app, &token, &cal, &format!("start=2026-07-01&end=2026-08-01{zone}")).await;
        assert_eq!(
            agenda(&feed),
            [entry("Trip", "2026-07-10", "2026-07-13"), entry("Birthday", "2026-07-12", "2026-07-13")],
            "{zone}"
        );
        assert!(feed.iter().all(|o| o["allDay"] == true), "{zone}");
        assert_eq!(feed[0]["id"], trip["id"]);
        assert_eq!(feed[1]["id"], format!("{}_20260712", id(&birthday)));
        assert_eq!(feed[1]["extendedProps"]["original_start"], "2026-07-12");
    }
}

on_both_databases!(the_events_listing_returns_stored_events_without_expanding_series);
async fn the_events_listing_returns_stored_events_without_expanding_series(app: TestApp) {
    let may = adas_may(app).await;
    let reply =
        may.app.get(&format!("/api/v1/calendars/{}/events?start=2026-05-01&end=2026-06-01", may.cal), &may.token).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let events = reply.json["events"].as_array().cloned().unwrap_or_default();
    let mut ids: Vec<String> = events.iter().map(id).collect();
    ids.sort_unstable();
    let mut expected =
        vec![may.standup.clone(), may.moved.clone(), may.cancelled.clone(), may.lunch.clone(), may.holiday.clone()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "every stored event once, the series as one event with its rules");

    let standup = events.iter().find(|e| e["id"] == may.standup.as_str()).cloned().unwrap_or_default();
    assert_eq!(
        standup["recurrence"],
        json!(["RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE;TZID=Europe/Berlin:20260525T090000"])
    );
    assert_eq!(standup["start"], json!({"date_time": "2026-05-04T09:00:00", "time_zone": "Europe/Berlin"}));
    let cancelled = events.iter().find(|e| e["id"] == may.cancelled.as_str()).cloned().unwrap_or_default();
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["recurring_event_id"].as_str()),
        (Some("cancelled"), Some(may.standup.as_str()))
    );

    // A range that only the series reaches lists the series (and its exceptions), not the others.
    let later =
        may.app.get(&format!("/api/v1/calendars/{}/events?start=2026-09-01&end=2026-10-01", may.cal), &may.token).await;
    let mut later_ids: Vec<String> = later.json["events"].as_array().into_iter().flatten().map(id).collect();
    later_ids.sort_unstable();
    let mut series_and_exceptions = vec![may.standup.clone(), may.moved.clone(), may.cancelled.clone()];
    series_and_exceptions.sort_unstable();
    assert_eq!(later_ids, series_and_exceptions);

    // A range before everything is empty.
    let before =
        may.app.get(&format!("/api/v1/calendars/{}/events?start=2026-01-01&end=2026-02-01", may.cal), &may.token).await;
    assert_eq!(before.json["events"], json!([]));
}

on_both_databases!(deleted_events_leave_the_feeds);
async fn deleted_events_leave_the_feeds(app: TestApp) {
    let may = adas_may(app).await;
    let app = &may.app;
    let delete = |id: &str| app.request(reqwest::Method::DELETE, &format!("/api/v1/events/{id}"), &may.token);
    assert_eq!(app.send(delete(&may.lunch)).await.status, 204);
    // Deleting the exception brings the generated occurrence back at its original time.
    assert_eq!(app.send(delete(&may.moved)).await.status, 204);
    let feed = fullcalendar(app, &may.token, &may.cal, "start=2026-05-04&end=2026-05-15&timeZone=Europe/Berlin").await;
    assert_eq!(
        agenda(&feed),
        [
            entry("Standup", "2026-05-04T09:00:00", "2026-05-04T09:15:00"),
            entry("Standup", "2026-05-11T09:00:00", "2026-05-11T09:15:00"),
            entry("Ascension Day", "2026-05-14", "2026-05-15"),
        ]
    );

    // Deleting the series takes its exceptions with it.
    assert_eq!(app.send(delete(&may.standup)).await.status, 204);
    let feed = fullcalendar(app, &may.token, &may.cal, "start=2026-05-01&end=2026-06-01&timeZone=Europe/Berlin").await;
    assert_eq!(agenda(&feed), [entry("Ascension Day", "2026-05-14", "2026-05-15")]);
    app.get(&format!("/api/v1/events/{}", may.cancelled), &may.token).await.assert_status_problem(410);
    let listed =
        app.get(&format!("/api/v1/calendars/{}/events?start=2026-05-01&end=2026-06-01", may.cal), &may.token).await;
    let ids: Vec<String> = listed.json["events"].as_array().into_iter().flatten().map(id).collect();
    assert_eq!(ids, [may.holiday.as_str()]);
}

on_both_databases!(the_window_catches_everything_that_overlaps_it_and_nothing_that_only_touches_it);
async fn the_window_catches_everything_that_overlaps_it_and_nothing_that_only_touches_it(app: TestApp) {
    let token = app.user("ada").await;
    let cal = app.calendar(&token, "Work").await;
    let all_day = |title: &str, from: &str, to: &str| json!({"calendar_id": cal, "title": title, "start": {"date": from}, "end": {"date": to}});
    app.create_event(&token, all_day("Sabbatical", "2026-04-01", "2026-05-21")).await;
    app.create_event(&token, meeting(&cal, "Night shift", "2026-05-03", "22:00", "23:59")).await;
    let mut overnight = meeting(&cal, "Overnight deploy", "2026-05-03", "23:00", "23:30");
    overnight["end"] = json!({"date_time": "2026-05-04T01:00:00", "time_zone": "Europe/Berlin"});
    app.create_event(&token, overnight).await;
    let mut touching = meeting(&cal, "Ends as the week starts", "2026-05-03", "23:00", "23:30");
    touching["end"] = json!({"date_time": "2026-05-04T00:00:00", "time_zone": "Europe/Berlin"});
    app.create_event(&token, touching).await;
    app.create_event(&token, meeting(&cal, "Starts as the week ends", "2026-05-11", "00:00", "01:00")).await;
    let mut since_last_year = meeting(&cal, "Monthly review", "2025-01-05", "15:00", "16:00");
    since_last_year["recurrence"] = json!(["RRULE:FREQ=MONTHLY;BYMONTHDAY=5"]);
    let review = app.create_event(&token, since_last_year).await;
    // The June review is pulled forward into this week.
    let mut pulled = meeting(&cal, "Monthly review (early)", "2026-05-08", "15:00", "16:00");
    pulled["recurring_event_id"] = review["id"].clone();
    pulled["original_start"] = json!({"date_time": "2026-06-05T15:00:00", "time_zone": "Europe/Berlin"});
    app.create_event(&token, pulled).await;

    let feed = fullcalendar(&app, &token, &cal, "start=2026-05-04&end=2026-05-11&timeZone=Europe/Berlin").await;
    let mut titles: Vec<String> =
        agenda(&feed).into_iter().map(|(title, start, _)| format!("{start} {title}")).collect();
    titles.sort_unstable();
    assert_eq!(
        titles,
        [
            "2026-04-01 Sabbatical",
            "2026-05-03T23:00:00 Overnight deploy",
            "2026-05-05T15:00:00 Monthly review",
            "2026-05-08T15:00:00 Monthly review (early)",
        ]
    );
}
