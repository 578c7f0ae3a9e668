//! The Graph connector against the Graph emulator: real HTTP, real OAuth refresh (with
//! rotating refresh tokens), calendar-view delta over a window, series, subscriptions.

use calsync_core::event::Status;
use calsync_core::sync::Content;
use calsync_core::{CalendarId, Clock, EventId, EventInput};
use calsync_emulators::graph::{Config, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_USER, GraphEmulator};
use calsync_providers::graph::GraphProvider;
use calsync_providers::oauth::{AccessTokens, OAuthClient};
use calsync_providers::{
    EventWrite, ListingWindow, PageNext, Provider, ProviderError, RemoteEvent, RemoteState, SeriesRef,
};
use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// "Now" for the listings: the window is 30 days back and 60 ahead of it.
const NOW: &str = "2026-03-01T10:00:00Z";
const DAY: SignedDuration = SignedDuration::from_hours(24);

fn at(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn window() -> ListingWindow {
    ListingWindow { start: at("2026-01-30T00:00:00Z"), end: at("2026-05-01T00:00:00Z") }
}

/// A clock the test moves by hand.
#[derive(Debug)]
struct TestClock(Mutex<Timestamp>);

impl TestClock {
    fn advance(&self, by: SignedDuration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.saturating_add(by).unwrap_or(*now);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct World {
    emulator: GraphEmulator,
    http: reqwest::Client,
    graph: Arc<GraphProvider>,
    clock: Arc<TestClock>,
    calendar: String,
    refresh_token: String,
}

async fn call(http: &reqwest::Client, method: Method, url: &str, token: Option<&str>, body: Value) -> Value {
    let mut req = http.request(method, url).header("Prefer", r#"IdType="ImmutableId""#);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if !body.is_null() {
        req = req.json(&body);
    }
    let r = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = r.status();
    let answer = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {answer}");
    answer
}

impl World {
    async fn control(&self, method: Method, path: &str, body: Value) -> Value {
        call(&self.http, method, &format!("{}{path}", self.emulator.base_url()), None, body).await
    }

    /// An edit "made in Outlook": returns the event's immutable id.
    async fn outlook_create(&self, body: Value) -> String {
        let path = format!("/_emulator/users/{DEFAULT_USER}/events");
        let made = self.control(Method::POST, &path, body).await;
        made["immutableId"].as_str().unwrap_or_else(|| panic!("no id in {made}")).to_owned()
    }

    async fn outlook_patch(&self, id: &str, body: Value) {
        self.control(Method::PATCH, &format!("/_emulator/users/{DEFAULT_USER}/events/{id}"), body).await;
    }

    async fn outlook_delete(&self, id: &str) {
        let url = format!("{}/_emulator/users/{DEFAULT_USER}/events/{id}", self.emulator.base_url());
        let r = self.http.delete(url).send().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(r.status().is_success(), "delete {id}: {}", r.status());
    }

    /// The immutable id of the occurrence of `master` originally at `original` (UTC).
    async fn occurrence(&self, master: &str, original: &str) -> String {
        let token = self.emulator.access_token(DEFAULT_USER);
        let url = format!(
            "{}me/events/{master}/instances?startDateTime=2026-01-01T00:00:00Z&endDateTime=2027-01-01T00:00:00Z&$top=100",
            self.emulator.api_root()
        );
        let list = call(&self.http, Method::GET, &url, Some(&token), Value::Null).await;
        list["value"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["originalStart"].as_str().is_some_and(|s| s.starts_with(original)))
            .and_then(|o| o["id"].as_str())
            .unwrap_or_else(|| panic!("no occurrence {original} in {list}"))
            .to_owned()
    }

    async fn requests(&self) -> Vec<Value> {
        let log = self.control(Method::GET, "/_emulator/requests", Value::Null).await;
        log["requests"].as_array().cloned().unwrap_or_default()
    }
}

fn oauth_client(emulator: &GraphEmulator) -> OAuthClient {
    OAuthClient {
        auth_url: emulator.authorize_url(),
        token_url: emulator.token_url(),
        revoke_url: None,
        client_id: DEFAULT_CLIENT_ID.into(),
        client_secret: SecretString::from(DEFAULT_CLIENT_SECRET),
        redirect_uri: "http://127.0.0.1:1/oauth/microsoft/callback".into(),
        scopes: vec!["offline_access".into(), "Calendars.ReadWrite".into()],
    }
}

async fn world_with(config: Config) -> World {
    let emulator = GraphEmulator::start(config).await.unwrap_or_else(|e| panic!("emulator: {e}"));
    let http = reqwest::Client::new();
    let tokens = call(
        &http,
        Method::POST,
        &format!("{}/_emulator/tokens", emulator.base_url()),
        None,
        json!({"email": DEFAULT_USER}),
    )
    .await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap_or_default().to_owned();
    let access = AccessTokens::new(oauth_client(&emulator), SecretString::from(refresh_token.clone()));
    let clock = Arc::new(TestClock(Mutex::new(at(NOW))));
    let graph = GraphProvider::new(http.clone(), &emulator.api_root(), access)
        .with_page_size(2)
        .with_window(30 * DAY, 60 * DAY)
        .with_clock(clock.clone());
    let calendars = graph.calendars().await.unwrap_or_else(|e| panic!("calendars: {e}"));
    let primary = calendars.iter().find(|c| c.primary).unwrap_or_else(|| panic!("no default calendar: {calendars:?}"));
    assert!(primary.writable);
    let calendar = primary.id.clone();
    World { emulator, http, graph: Arc::new(graph), clock, calendar, refresh_token }
}

async fn world() -> World {
    world_with(Config::default()).await
}

fn graph_time(local: &str) -> Value {
    json!({"dateTime": local, "timeZone": "Europe/Berlin"})
}

fn single(subject: &str, start: &str, end: &str) -> Value {
    json!({"subject": subject, "start": graph_time(start), "end": graph_time(end)})
}

/// Thursdays at 09:00 in Berlin from 5 March 2026, six times: 5, 12, 19, 26 March, 2, 9 April.
fn standup() -> Value {
    json!({
        "subject": "Standup",
        "start": graph_time("2026-03-05T09:00:00"),
        "end": graph_time("2026-03-05T09:30:00"),
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["thursday"], "firstDayOfWeek": "sunday"},
            "range": {"type": "numbered", "startDate": "2026-03-05", "numberOfOccurrences": 6, "recurrenceTimeZone": "Europe/Berlin"},
        },
    })
}

fn event(title: &str) -> EventInput {
    serde_json::from_value(json!({
        "calendar_id": CalendarId::new(),
        "title": title,
        "start": {"date_time": "2026-03-04T09:00:00", "time_zone": "Europe/Berlin"},
        "end": {"date_time": "2026-03-04T10:00:00", "time_zone": "Europe/Berlin"},
    }))
    .unwrap_or_else(|e| panic!("fixture: {e}"))
}

fn present(e: &RemoteEvent) -> &EventInput {
    match &e.state {
        RemoteState::Present(input) => input,
        RemoteState::Deleted => panic!("expected {} to be present", e.id),
    }
}

fn titled<'a>(events: &'a [RemoteEvent], title: &str) -> Vec<&'a RemoteEvent> {
    events.iter().filter(|e| matches!(&e.state, RemoteState::Present(i) if i.title == title)).collect()
}

/// Every page of a listing: the events, the new cursor, and each page's window.
struct Listing {
    events: Vec<RemoteEvent>,
    cursor: String,
    windows: Vec<Option<ListingWindow>>,
}

async fn list_all(w: &World, cursor: Option<&str>) -> Result<Listing, ProviderError> {
    let mut out = Listing { events: Vec::new(), cursor: String::new(), windows: Vec::new() };
    let mut page: Option<String> = None;
    loop {
        let p = w.graph.list(&w.calendar, cursor, page.as_deref()).await?;
        out.events.extend(p.events);
        out.windows.push(p.window);
        match p.next {
            PageNext::More(t) => page = Some(t),
            PageNext::Done(c) => {
                out.cursor = c;
                return Ok(out);
            }
        }
    }
}

#[tokio::test]
async fn a_full_listing_pages_through_the_window_and_hands_over_each_series_once() {
    let w = world().await;
    w.outlook_create(single("Inside", "2026-03-10T09:00:00", "2026-03-10T10:00:00")).await;
    w.outlook_create(single("Far ahead", "2027-06-01T09:00:00", "2027-06-01T10:00:00")).await;
    let master = w.outlook_create(standup()).await;
    let moved = w.occurrence(&master, "2026-03-12T08:00:00").await;
    w.outlook_patch(
        &moved,
        json!({"subject": "Standup (later)", "start": graph_time("2026-03-12T11:00:00"),
        "end": graph_time("2026-03-12T11:30:00")}),
    )
    .await;
    let cancelled = w.occurrence(&master, "2026-03-19T08:00:00").await;
    w.outlook_delete(&cancelled).await;

    let listing = list_all(&w, None).await.unwrap_or_else(|e| panic!("list: {e}"));
    assert!(listing.windows.len() > 2, "pages of two: {}", listing.windows.len());
    assert!(listing.windows.iter().all(|p| *p == Some(window())), "every page names the window: {:?}", listing.windows);

    let events = &listing.events;
    assert!(titled(events, "Far ahead").is_empty(), "outside the window");
    assert_eq!(titled(events, "Inside").len(), 1);
    let series: Vec<&RemoteEvent> = events.iter().filter(|e| e.id == master).collect();
    assert_eq!(series.len(), 1, "the master once, not once per occurrence: {events:#?}");
    assert_eq!(present(series[0]).recurrence.len(), 1);
    assert!(present(series[0]).recurrence[0].contains("FREQ=WEEKLY"), "{:?}", present(series[0]).recurrence);
    assert_eq!(present(series[0]).start.time_zone.as_deref(), Some("Europe/Berlin"));

    let exception = titled(events, "Standup (later)");
    assert_eq!(exception.len(), 1);
    let link = exception[0].series.clone().unwrap_or_else(|| panic!("the exception names its series"));
    assert_eq!(link.series_remote_id, master);
    assert_eq!(link.original_start.date_time.as_deref(), Some("2026-03-12T09:00:00"));
    assert_eq!(present(exception[0]).start.date_time.as_deref(), Some("2026-03-12T11:00:00"));

    let stub_id = format!("{master}/2026-03-19T08:00:00Z");
    let stub =
        events.iter().find(|e| e.id == stub_id).unwrap_or_else(|| panic!("no cancelled occurrence: {events:#?}"));
    assert!(stub.stub);
    assert_eq!(present(stub).status, Status::Cancelled);
    assert_eq!(stub.series.as_ref().map(|s| s.original_start.date_time.as_deref()), Some(Some("2026-03-19T09:00:00")));
    // Nothing else: no plain occurrences, one event per id.
    assert_eq!(events.len(), 4, "{events:#?}");

    // The synthetic id reads back while the occurrence stays cancelled.
    let again = w.graph.get(&w.calendar, &stub_id).await.unwrap_or_else(|e| panic!("get: {e}"));
    assert_eq!(again.map(|e| (e.id, e.stub)), Some((stub_id, true)));
    let not_cancelled = format!("{master}/2026-03-26T08:00:00Z");
    assert_eq!(w.graph.get(&w.calendar, &not_cancelled).await, Ok(None));
}

#[tokio::test]
async fn a_delta_brings_edits_deletions_and_cancellations_but_never_deletes_what_left_the_window() {
    let w = world().await;
    let inside = w.outlook_create(single("Inside", "2026-03-10T09:00:00", "2026-03-10T10:00:00")).await;
    let doomed = w.outlook_create(single("Doomed", "2026-03-11T09:00:00", "2026-03-11T10:00:00")).await;
    let mover = w.outlook_create(single("Mover", "2026-03-12T09:00:00", "2026-03-12T10:00:00")).await;
    let master = w.outlook_create(standup()).await;
    let full = list_all(&w, None).await.unwrap_or_else(|e| panic!("list: {e}"));

    w.outlook_patch(&inside, json!({"subject": "Inside (renamed)"})).await;
    w.outlook_delete(&doomed).await;
    w.outlook_patch(
        &mover,
        json!({"start": graph_time("2027-01-10T09:00:00"), "end": graph_time("2027-01-10T10:00:00")}),
    )
    .await;
    let occurrence = w.occurrence(&master, "2026-03-26T08:00:00").await;
    w.outlook_delete(&occurrence).await;

    let delta = list_all(&w, Some(&full.cursor)).await.unwrap_or_else(|e| panic!("delta: {e}"));
    assert!(delta.windows.iter().all(Option::is_none), "a delta names no window");
    let by_id = |id: &str| delta.events.iter().filter(|e| e.id == id).collect::<Vec<_>>();
    assert_eq!(by_id(&inside).len(), 1);
    assert_eq!(present(by_id(&inside)[0]).title, "Inside (renamed)");
    assert_eq!(by_id(&doomed).iter().map(|e| &e.state).collect::<Vec<_>>(), [&RemoteState::Deleted]);
    let moved = by_id(&mover);
    assert_eq!(moved.len(), 1, "what left the window is reported: {:#?}", delta.events);
    assert_eq!(present(moved[0]).start.date_time.as_deref(), Some("2027-01-10T09:00:00"), "as present, not deleted");
    let stub_id = format!("{master}/2026-03-26T08:00:00Z");
    let stub = by_id(&stub_id);
    assert_eq!(stub.len(), 1, "the cancelled occurrence: {:#?}", delta.events);
    assert!(stub[0].stub && present(stub[0]).status == Status::Cancelled);

    // A quiet delta hands over nothing new.
    let quiet = list_all(&w, Some(&delta.cursor)).await.unwrap_or_else(|e| panic!("quiet: {e}"));
    assert!(quiet.events.is_empty(), "{:#?}", quiet.events);

    // The whole series goes: its master is reported deleted.
    w.outlook_delete(&master).await;
    let gone = list_all(&w, Some(&quiet.cursor)).await.unwrap_or_else(|e| panic!("delta: {e}"));
    let master_gone = gone.events.iter().find(|e| e.id == master).map(|e| &e.state);
    assert_eq!(master_gone, Some(&RemoteState::Deleted), "{:#?}", gone.events);
}

#[tokio::test]
async fn an_event_moved_to_another_calendar_is_gone_from_this_one() {
    let w = world().await;
    let wanderer = w.outlook_create(single("Wanderer", "2026-03-10T09:00:00", "2026-03-10T10:00:00")).await;
    let full = list_all(&w, None).await.unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(full.events.len(), 1);
    let other =
        w.control(Method::POST, &format!("/_emulator/users/{DEFAULT_USER}/calendars"), json!({"name": "Other"})).await;
    let other = other["id"].as_str().unwrap_or_default().to_owned();
    let moved = w
        .control(
            Method::POST,
            &format!("/_emulator/users/{DEFAULT_USER}/events/{wanderer}/move"),
            json!({"calendarId": other}),
        )
        .await;
    assert_eq!(moved["immutableId"], json!(wanderer), "the immutable id survives the move");

    let delta = list_all(&w, Some(&full.cursor)).await.unwrap_or_else(|e| panic!("delta: {e}"));
    let states: Vec<&RemoteState> = delta.events.iter().filter(|e| e.id == wanderer).map(|e| &e.state).collect();
    assert_eq!(states, [&RemoteState::Deleted]);
    assert_eq!(w.graph.get(&w.calendar, &wanderer).await, Ok(None));
    let there = w.graph.get(&other, &wanderer).await.unwrap_or_else(|e| panic!("get: {e}"));
    assert_eq!(there.map(|e| e.id), Some(wanderer));
}

#[tokio::test]
async fn a_dead_delta_token_or_a_window_gone_stale_asks_for_a_full_listing() {
    let w = world().await;
    w.outlook_create(single("Inside", "2026-03-10T09:00:00", "2026-03-10T10:00:00")).await;
    let full = list_all(&w, None).await.unwrap_or_else(|e| panic!("list: {e}"));
    w.control(Method::POST, "/_emulator/delta-tokens/expire", json!({})).await;
    assert_eq!(list_all(&w, Some(&full.cursor)).await.err(), Some(ProviderError::CursorExpired));

    let fresh = list_all(&w, None).await.unwrap_or_else(|e| panic!("list: {e}"));
    w.clock.advance(6 * DAY);
    list_all(&w, Some(&fresh.cursor)).await.unwrap_or_else(|e| panic!("six days on, the window still holds: {e}"));
    w.clock.advance(2 * DAY);
    let before = w.requests().await.len();
    assert_eq!(list_all(&w, Some(&fresh.cursor)).await.err(), Some(ProviderError::CursorExpired), "rolled a week on");
    assert_eq!(w.requests().await.len(), before, "decided without asking Graph");
    let rolled = list_all(&w, None).await.unwrap_or_else(|e| panic!("list: {e}"));
    let moved = ListingWindow { start: window().start.saturating_add(8 * DAY).unwrap_or(window().start), ..window() };
    assert_eq!(rolled.windows[0].map(|w| w.start), Some(moved.start));

    assert_eq!(w.graph.list(&w.calendar, Some("not ours"), None).await.err(), Some(ProviderError::CursorExpired));
}

#[tokio::test]
async fn a_replayed_create_makes_one_event_and_writes_are_conditional() {
    let w = world().await;
    let id = EventId::new();
    let ours = event("Planning");
    let write = EventWrite { local_id: id, input: &ours, series: None };
    let created = w.graph.create(&w.calendar, &write).await.unwrap_or_else(|e| panic!("create: {e}"));
    assert_eq!(created.local_id, Some(id));
    assert_eq!(Content::of(present(&created)), Content::of(&ours));
    // A replay after a lost answer: the transactionId brings back the first event.
    let replayed = w.graph.create(&w.calendar, &write).await.unwrap_or_else(|e| panic!("replay: {e}"));
    assert_eq!(replayed.id, created.id);
    let listing = list_all(&w, None).await.unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(listing.events.len(), 1);
    assert_eq!(listing.events[0].local_id, Some(id), "our id comes back in the listing");
    let read = w.graph.get(&w.calendar, &created.id).await.unwrap_or_else(|e| panic!("get: {e}"));
    assert_eq!(read.as_ref().and_then(|r| r.local_id), Some(id));

    let mut renamed = ours.clone();
    renamed.title = "Planning (moved)".into();
    let rewrite = EventWrite { local_id: id, input: &renamed, series: None };
    let stale = Some("W/\"stale\"");
    assert_eq!(w.graph.update(&w.calendar, &created.id, stale, &rewrite).await, Err(ProviderError::PreconditionFailed));
    let updated = w
        .graph
        .update(&w.calendar, &created.id, created.etag.as_deref(), &rewrite)
        .await
        .unwrap_or_else(|e| panic!("update: {e}"));
    assert_eq!(present(&updated).title, "Planning (moved)");
    assert_ne!(updated.etag, created.etag);

    assert_eq!(
        w.graph.delete(&w.calendar, &created.id, created.etag.as_deref()).await,
        Err(ProviderError::PreconditionFailed)
    );
    w.graph.delete(&w.calendar, &created.id, updated.etag.as_deref()).await.unwrap_or_else(|e| panic!("delete: {e}"));
    w.graph.delete(&w.calendar, &created.id, None).await.unwrap_or_else(|e| panic!("already gone is success: {e}"));
    assert_eq!(w.graph.get(&w.calendar, &created.id).await, Ok(None));
}

#[tokio::test]
async fn exceptions_and_cancelled_occurrences_are_written_onto_the_series() {
    let w = world().await;
    let series_id = EventId::new();
    let mut weekly = event("Review");
    weekly.start.date_time = Some("2026-03-05T09:00:00".into());
    weekly.end.date_time = Some("2026-03-05T10:00:00".into());
    weekly.recurrence = vec!["RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=4".into()];
    let master = w
        .graph
        .create(&w.calendar, &EventWrite { local_id: series_id, input: &weekly, series: None })
        .await
        .unwrap_or_else(|e| panic!("series: {e}"));

    let original = |day: &str| calsync_core::EventTimeInput {
        date: None,
        date_time: Some(format!("2026-03-{day}T09:00:00")),
        time_zone: Some("Europe/Berlin".into()),
    };
    let twelfth = SeriesRef { series_remote_id: master.id.clone(), original_start: original("12") };
    let mut later = weekly.clone();
    later.recurrence.clear();
    later.title = "Review (later)".into();
    later.start.date_time = Some("2026-03-12T14:00:00".into());
    later.end.date_time = Some("2026-03-12T15:00:00".into());
    later.original_start = Some(original("12"));
    let exception_id = EventId::new();
    let exception = w
        .graph
        .create(&w.calendar, &EventWrite { local_id: exception_id, input: &later, series: Some(&twelfth) })
        .await
        .unwrap_or_else(|e| panic!("exception: {e}"));
    assert_eq!(exception.series.as_ref().map(|s| s.series_remote_id.as_str()), Some(master.id.as_str()));
    assert_eq!(present(&exception).title, "Review (later)");

    let nineteenth = SeriesRef { series_remote_id: master.id.clone(), original_start: original("19") };
    let mut off = weekly.clone();
    off.recurrence.clear();
    off.start = original("19");
    off.end.date_time = Some("2026-03-19T10:00:00".into());
    off.original_start = Some(original("19"));
    off.status = Status::Cancelled;
    let cancel = EventWrite { local_id: EventId::new(), input: &off, series: Some(&nineteenth) };
    let stub = w.graph.create(&w.calendar, &cancel).await.unwrap_or_else(|e| panic!("cancel: {e}"));
    assert_eq!(stub.id, format!("{}/2026-03-19T08:00:00Z", master.id));
    assert!(stub.stub);
    // Still cancelled: writing it cancelled again is fine, bringing it back is not possible.
    w.graph.update(&w.calendar, &stub.id, None, &cancel).await.unwrap_or_else(|e| panic!("still cancelled: {e}"));
    let mut revived = off.clone();
    revived.status = Status::Confirmed;
    let revive = EventWrite { local_id: cancel.local_id, input: &revived, series: Some(&nineteenth) };
    assert!(matches!(w.graph.update(&w.calendar, &stub.id, None, &revive).await, Err(ProviderError::Permanent { .. })));

    let listing = list_all(&w, None).await.unwrap_or_else(|e| panic!("list: {e}"));
    let listed_exception = listing.events.iter().find(|e| e.id == exception.id).unwrap_or_else(|| panic!("exception"));
    assert_eq!(listed_exception.local_id, Some(exception_id), "the exception pairs by our id");
    assert!(listing.events.iter().any(|e| e.id == stub.id && e.stub));
    let listed_master = listing.events.iter().find(|e| e.id == master.id).unwrap_or_else(|| panic!("master"));
    assert_eq!(listed_master.local_id, Some(series_id));

    // Deleting the cancellation means "bring the occurrence back": Graph cannot, so it is
    // refused (the event waits with the reason) instead of coming back at the next listing.
    let undo = w.graph.delete(&w.calendar, &stub.id, None).await;
    assert!(
        matches!(&undo, Err(ProviderError::Permanent { reason, .. }) if reason == "cancelled_occurrence"),
        "{undo:?}"
    );
    // Cancelling the exception deletes it at Graph: the occurrence is then cancelled.
    let mut dropped = later.clone();
    dropped.status = Status::Cancelled;
    let drop = EventWrite { local_id: exception_id, input: &dropped, series: Some(&twelfth) };
    let after = w.graph.update(&w.calendar, &exception.id, exception.etag.as_deref(), &drop).await;
    assert_eq!(after.map(|e| e.id), Ok(format!("{}/2026-03-12T08:00:00Z", master.id)));
    assert_eq!(w.graph.get(&w.calendar, &exception.id).await, Ok(None));
    // With its series deleted, deleting the cancellation is simply done.
    w.graph.delete(&w.calendar, &master.id, None).await.unwrap_or_else(|e| panic!("series: {e}"));
    assert_eq!(w.graph.delete(&w.calendar, &stub.id, None).await, Ok(()));
}

#[tokio::test]
async fn throttling_is_transient_with_graphs_retry_after() {
    let w = world().await;
    w.control(
        Method::POST,
        "/_emulator/faults",
        json!({"status": 429, "code": "TooManyRequests", "retry_after": 7, "path": "/v1.0/me/calendars"}),
    )
    .await;
    match w.graph.calendars().await {
        Err(ProviderError::Transient { retry_after, .. }) => assert_eq!(retry_after, Some(Duration::from_secs(7))),
        other => panic!("expected a transient error, got {other:?}"),
    }
    // A short wait is waited out in the call (a listing is not thrown away for it), a few
    // times; then the engine's backoff takes over.
    let brief = json!({"status": 503, "retry_after": 1, "path": "/v1.0/me/calendars", "count": 2});
    w.control(Method::POST, "/_emulator/faults", brief).await;
    assert!(w.graph.calendars().await.is_ok(), "two brief 503s are waited out");
    let long = json!({"status": 503, "retry_after": 1, "path": "/v1.0/me/calendars", "count": 4});
    w.control(Method::POST, "/_emulator/faults", long).await;
    assert!(w.graph.calendars().await.is_err_and(|e| e.is_transient()), "the fourth refusal goes to the engine");
    assert!(w.graph.calendars().await.is_ok(), "the fault is over");
}

#[tokio::test]
async fn a_rule_outlook_cannot_hold_is_refused_for_good_naming_it() {
    let w = world().await;
    let mut twice_a_day = event("Meds");
    twice_a_day.recurrence = vec!["RRULE:FREQ=DAILY;BYHOUR=9,21".into()];
    let write = EventWrite { local_id: EventId::new(), input: &twice_a_day, series: None };
    match w.graph.create(&w.calendar, &write).await {
        Err(ProviderError::Permanent { reason, message, .. }) => {
            assert_eq!(reason, "untranslatable");
            assert!(message.contains("BYHOUR"), "{message}");
        }
        other => panic!("expected a permanent refusal, got {other:?}"),
    }
    assert!(
        !w.requests()
            .await
            .iter()
            .any(|r| r["method"] == "POST" && r["path"].as_str().is_some_and(|p| p.ends_with("/events"))),
        "nothing was sent"
    );
}

/// A webhook receiver that passes Graph's validation handshake: it echoes `validationToken`
/// as text/plain and accepts everything else with 202. Returns its base URL.
async fn webhook_receiver() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let base = format!("http://{}", listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let target = text.split_whitespace().nth(1).unwrap_or("/");
                let token = target
                    .split_once('?')
                    .and_then(|(_, q)| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "validationToken"))
                    .map(|(_, v)| v.into_owned());
                let reply = match token {
                    Some(t) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{t}",
                        t.len()
                    ),
                    None => "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned(),
                };
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    base
}

#[tokio::test]
async fn subscriptions_are_made_with_a_lifecycle_address_renewed_and_removed() {
    let w = world().await;
    // Subscriptions expire against the emulator's real clock: this connector reads the wall clock.
    let tokens = AccessTokens::new(oauth_client(&w.emulator), SecretString::from(w.refresh_token.clone()));
    let graph = GraphProvider::new(w.http.clone(), &w.emulator.api_root(), tokens);
    let address = format!("{}/webhooks/graph", webhook_receiver().await);
    let channel = graph
        .watch(&w.calendar, "ignored", "s3cret", &address)
        .await
        .unwrap_or_else(|e| panic!("watch: {e}"))
        .unwrap_or_else(|| panic!("Graph has push"));
    assert_ne!(channel.id, "ignored", "Graph picks the id");
    assert_eq!(channel.resource_id, format!("me/calendars/{}/events", w.calendar));
    assert_eq!(channel.token, "s3cret");
    let asked = Timestamp::now().as_millisecond() + 4_200 * 60_000;
    assert!((channel.expires_at_ms - asked).abs() < 120_000, "about 4,200 minutes: {channel:?}");

    let listed = w.control(Method::GET, "/_emulator/subscriptions", Value::Null).await;
    let sub = &listed["subscriptions"][0];
    assert_eq!(sub["id"], json!(channel.id));
    assert_eq!(sub["clientState"], "s3cret");
    assert_eq!(sub["changeType"], "created,updated,deleted");
    assert_eq!(sub["notificationUrl"], json!(address));
    assert_eq!(sub["lifecycleNotificationUrl"], json!(format!("{address}/lifecycle")));

    let until = Timestamp::now().saturating_add(DAY).unwrap_or_else(|_| Timestamp::now());
    let renewed = graph.renew(&channel, until).await.unwrap_or_else(|e| panic!("renew: {e}"));
    assert_eq!(renewed.id, channel.id);
    assert!((renewed.expires_at_ms - until.as_millisecond()).abs() < 1_000, "{renewed:?}");
    graph.reauthorize(&channel).await.unwrap_or_else(|e| panic!("reauthorize: {e}"));

    graph.unwatch(&channel).await.unwrap_or_else(|e| panic!("unwatch: {e}"));
    graph.unwatch(&channel).await.unwrap_or_else(|e| panic!("a gone subscription is success: {e}"));
    let listed = w.control(Method::GET, "/_emulator/subscriptions", Value::Null).await;
    assert_eq!(listed["subscriptions"], json!([]));
    assert_eq!(graph.renew(&channel, until).await.err(), Some(ProviderError::NotFound));
}

#[tokio::test]
async fn the_rotated_refresh_token_is_used_and_surfaces_once() {
    let config = Config { refresh_rotation: calsync_emulators::graph::RefreshRotation::Immediate, ..Config::default() };
    let w = world_with(config).await;
    let first = w.graph.take_rotated_refresh_token().unwrap_or_else(|| panic!("Microsoft rotates on every refresh"));
    assert_ne!(first.expose_secret(), w.refresh_token);
    assert!(w.graph.take_rotated_refresh_token().is_none(), "once");

    // The access token dies; the refresh must use the new refresh token (the old one is dead).
    w.control(Method::POST, "/_emulator/access-tokens/expire", json!({})).await;
    w.graph.calendars().await.unwrap_or_else(|e| panic!("after a 401 the connector refreshes: {e}"));
    let second = w.graph.take_rotated_refresh_token().unwrap_or_else(|| panic!("rotated again"));
    assert_ne!(second.expose_secret(), first.expose_secret());

    // A connector still holding the original token has lost the grant.
    let stale = AccessTokens::new(oauth_client(&w.emulator), SecretString::from(w.refresh_token.clone()));
    let old = GraphProvider::new(w.http.clone(), &w.emulator.api_root(), stale);
    assert!(matches!(old.calendars().await, Err(ProviderError::NeedsReauth(_))));
}

#[tokio::test]
async fn at_most_four_requests_are_in_flight_per_mailbox() {
    let w = world().await;
    let id = w.outlook_create(single("Busy", "2026-03-10T09:00:00", "2026-03-10T10:00:00")).await;
    // Every request takes a while, so that many overlap; the emulator refuses a fifth at once.
    w.control(Method::PATCH, "/_emulator/settings", json!({"latency_ms": 100})).await;
    w.control(Method::DELETE, "/_emulator/requests", Value::Null).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (graph, calendar, id) = (w.graph.clone(), w.calendar.clone(), id.clone());
        tasks.spawn(async move { graph.get(&calendar, &id).await });
    }
    while let Some(done) = tasks.join_next().await {
        let got = done.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("a request was throttled: {e}"));
        assert!(got.is_some());
    }
    let log = w.requests().await;
    assert_eq!(log.len(), 12);
    assert!(log.iter().all(|r| r["status"] == 200), "{log:#?}");
}

#[tokio::test]
async fn without_a_per_calendar_delta_the_default_calendar_is_followed_through_me_calendar_view() {
    let w = world().await;
    w.outlook_create(single("Standup", "2026-03-02T09:00:00", "2026-03-02T09:15:00")).await;
    // Graph v1.0 refuses the per-calendar delta path (it is beta only in Microsoft's docs).
    let refusal = json!({"status": 400, "code": "BadRequest", "method": "GET", "path": "/calendars/", "count": 1});
    w.control(Method::POST, "/_emulator/faults", refusal).await;
    let listing = list_all(&w, None).await.unwrap_or_else(|e| panic!("full listing: {e}"));
    assert_eq!(listing.events.len(), 1, "{:?}", listing.events);
    w.outlook_create(single("Retro", "2026-03-03T15:00:00", "2026-03-03T16:00:00")).await;
    let delta = list_all(&w, Some(&listing.cursor)).await.unwrap_or_else(|e| panic!("delta: {e}"));
    assert_eq!(delta.events.len(), 1, "the delta follows me/calendarView: {:?}", delta.events);
}
