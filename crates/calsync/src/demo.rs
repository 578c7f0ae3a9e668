//! `calsync demo`: a fresh embedded database, a Google and an Outlook emulator in the same
//! process, and a demo user whose local calendar is linked to both — connected through the
//! real OAuth flow against the emulators, as a person clicking "Connect" would.

use anyhow::{Context, bail};
use calsync_core::{CalendarDraft, CalendarId, CalendarInput, EventDraft, EventId, EventInput, Source};
use calsync_emulators::google::GoogleEmulator;
use calsync_emulators::graph::GraphEmulator;
use calsync_server::AppState;
use calsync_store::{NewEvent, SyncStore};
use jiff::ToSpan;
use jiff::civil::Date;
use serde_json::{Value, json};
use std::sync::Arc;

/// The demo's zone: every sample event is written in it.
const ZONE: &str = "Europe/Berlin";

/// The two providers the demo user lives in.
pub struct Emulators {
    pub google: GoogleEmulator,
    pub graph: GraphEmulator,
}

impl Emulators {
    /// Both emulators on free loopback ports, approving consent at once (there is nobody
    /// to click "Allow").
    pub async fn start() -> anyhow::Result<Self> {
        let google = calsync_emulators::google::Config { auto_approve: true, ..Default::default() };
        let google = GoogleEmulator::start(google).await.context("cannot start the demo's Google emulator")?;
        let graph = calsync_emulators::graph::Config { auto_approve: true, ..Default::default() };
        let graph = GraphEmulator::start(graph).await.context("cannot start the demo's Outlook emulator")?;
        Ok(Self { google, graph })
    }

    /// Points Google and Outlook sync at the emulators, with a fresh sealing key (the demo
    /// database is recreated on every start, so nothing sealed outlives the key).
    pub fn configure(&self, settings: &mut crate::config::Settings) {
        let google = self.google.base_url();
        settings.google = Some(crate::config::ProviderSettings {
            client_id: calsync_emulators::google::DEFAULT_CLIENT_ID.into(),
            client_secret: secrecy::SecretString::from(calsync_emulators::google::DEFAULT_CLIENT_SECRET),
            auth_url: format!("{google}/o/oauth2/v2/auth"),
            token_url: format!("{google}/token"),
            revoke_url: Some(format!("{google}/revoke")),
            identity_url: format!("{google}/oauth2/v3/userinfo"),
            api_root: self.google.api_root(),
            window: None,
        });
        let graph = self.graph.base_url();
        settings.microsoft = Some(crate::config::ProviderSettings {
            client_id: calsync_emulators::graph::DEFAULT_CLIENT_ID.into(),
            client_secret: secrecy::SecretString::from(calsync_emulators::graph::DEFAULT_CLIENT_SECRET),
            auth_url: format!("{graph}/common/oauth2/v2.0/authorize"),
            token_url: format!("{graph}/common/oauth2/v2.0/token"),
            revoke_url: None,
            identity_url: format!("{}me", self.graph.api_root()),
            api_root: self.graph.api_root(),
            window: None,
        });
        settings.encryption_key = Some(calsync_engine::Sealer::generate_key_hex());
    }

    /// A few events the demo user already has in Google and in Outlook, made there as the
    /// user would (through the emulators' control API, which notifies like any write).
    pub async fn seed(&self, today: Date) -> anyhow::Result<()> {
        let user = calsync_emulators::google::DEFAULT_USER;
        let at = |offset: i64, h: u8, m: u8| format!("{}T{h:02}:{m:02}:00", today.saturating_add(offset.days()));
        let google = self.google.base_url();
        for (title, day, start, end) in [
            ("Dentist", 2, (8, 0), (9, 0)),
            ("School pickup", 3, (15, 30), (16, 0)),
            ("Call with the bank", 8, (11, 0), (11, 30)),
        ] {
            let body = json!({"summary": title,
                "start": {"dateTime": at(day, start.0, start.1), "timeZone": ZONE},
                "end": {"dateTime": at(day, end.0, end.1), "timeZone": ZONE}});
            post(&format!("{google}/_emulator/users/{user}/calendars/primary/events"), None, &body).await?;
        }
        let graph = self.graph.base_url();
        for (title, day, start, end) in
            [("Vendor call", 1, (16, 0), (16, 45)), ("Quarterly business review", 9, (13, 0), (15, 0))]
        {
            let body = json!({"subject": title,
                "start": {"dateTime": at(day, start.0, start.1), "timeZone": ZONE},
                "end": {"dateTime": at(day, end.0, end.1), "timeZone": ZONE}});
            post(&format!("{graph}/_emulator/users/{user}/events"), None, &body).await?;
        }
        Ok(())
    }
}

/// Creates the demo user, its calendar and a few dozen sample events (among them a series
/// with a moved and a cancelled occurrence). Returns the user's token and the calendar id.
pub async fn seed(state: &AppState, today: Date) -> anyhow::Result<(String, CalendarId)> {
    let created = calsync_server::routes::admin::create_user_with_token(state, "demo")
        .await
        .map_err(|e| anyhow::anyhow!("creating the demo user: {e}"))?;
    let user = created.user.id;
    let calendar = CalendarDraft::parse(CalendarInput {
        name: "Demo".into(),
        color: Some("#1e90ff".into()),
        time_zone: Some(ZONE.into()),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let cal = state.store.create_calendar(user, CalendarId::new(), &calendar).await?.id;

    let timed = |d: Date, h: u8, m: u8| json!({"date_time": format!("{d}T{h:02}:{m:02}:00"), "time_zone": ZONE});
    let monday = today.saturating_sub(i64::from(today.weekday().to_monday_zero_offset()).days());
    let week = |w: i64, weekday: i64| monday.saturating_add((7 * w + weekday).days());
    let meeting = |title: &str, d: Date, (h, m): (u8, u8), minutes: i64, extra: Value| {
        let start = d.at(i8::try_from(h).unwrap_or(0), i8::try_from(m).unwrap_or(0), 0, 0);
        let end = start.saturating_add(minutes.minutes());
        let mut event = json!({"calendar_id": cal, "title": title, "start": timed(d, h, m),
            "end": {"date_time": end.strftime("%Y-%m-%dT%H:%M:%S").to_string(), "time_zone": ZONE}});
        if let (Some(e), Some(x)) = (event.as_object_mut(), extra.as_object()) {
            e.extend(x.clone());
        }
        event
    };
    let standup = EventId::new();
    let mut events = vec![
        (standup, {
            let mut e = meeting("Stand-up", week(0, 0), (9, 0), 15, json!({"location": "Team room"}));
            e["recurrence"] = json!(["RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=36"]);
            e
        }),
        (EventId::new(), {
            let mut e = meeting("1:1 with Sam", week(0, 1), (14, 0), 30, json!({}));
            e["recurrence"] = json!(["RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=12"]);
            e
        }),
        (
            EventId::new(),
            json!({"calendar_id": cal, "title": "Team offsite", "location": "Lake house",
                   "start": {"date": week(1, 3).to_string()}, "end": {"date": week(1, 5).to_string()}, "transparency": "free"}),
        ),
        (
            EventId::new(),
            json!({"calendar_id": cal, "title": "Public holiday",
                   "start": {"date": week(2, 0).to_string()}, "end": {"date": week(2, 1).to_string()}, "transparency": "free"}),
        ),
    ];
    let sessions: [Session<'_>; 24] = [
        (
            "Project kick-off",
            0,
            1,
            (10, 0),
            90,
            json!({"location": "Room 1", "description": "Goals, roles, first milestones."}),
        ),
        ("Design review", 0, 2, (11, 0), 60, json!({"location": "Room 2"})),
        ("Lunch with Jo", 0, 3, (12, 30), 60, json!({"location": "Café Central"})),
        ("Budget planning", 0, 4, (10, 0), 60, json!({"description": "Bring last quarter's numbers."})),
        ("Gym", 0, 1, (18, 30), 60, json!({"transparency": "free"})),
        ("Customer demo", 1, 0, (15, 0), 45, json!({"location": "Video call"})),
        ("Sprint planning", 1, 1, (10, 0), 120, json!({})),
        ("Hiring interview", 1, 2, (13, 0), 60, json!({"visibility": "private"})),
        ("Gym", 1, 2, (18, 30), 60, json!({"transparency": "free"})),
        ("Architecture sync", 1, 4, (11, 0), 60, json!({})),
        ("Coffee with Priya", 1, 4, (15, 30), 30, json!({"location": "Kitchen"})),
        ("Release checklist", 2, 1, (9, 30), 60, json!({})),
        ("Security training", 2, 2, (14, 0), 90, json!({"location": "Auditorium"})),
        ("Team retro", 2, 4, (16, 0), 60, json!({})),
        ("Gym", 2, 3, (18, 30), 60, json!({"transparency": "free"})),
        ("Roadmap review", 3, 0, (10, 0), 60, json!({})),
        ("Partner workshop", 3, 1, (9, 0), 180, json!({"location": "Partner HQ"})),
        ("Lunch and learn", 3, 3, (12, 0), 60, json!({"description": "Time zones, recurrence and other joys."})),
        ("Board prep", 3, 4, (14, 0), 90, json!({})),
        ("Doctor", -1, 2, (8, 30), 45, json!({"visibility": "private"})),
        ("All hands", -1, 3, (17, 0), 60, json!({"location": "Main hall"})),
        ("Book club", -1, 4, (19, 0), 90, json!({"transparency": "free"})),
        ("Onboarding: Alex", 0, 0, (13, 0), 60, json!({"location": "Room 3"})),
        ("Quarter close", 4, 2, (10, 0), 60, json!({})),
    ];
    for (title, w, weekday, at, minutes, extra) in sessions {
        events.push((EventId::new(), meeting(title, week(w, weekday), at, minutes, extra)));
    }
    let mut batch = Vec::new();
    for (id, value) in events {
        batch.push(new_event(id, value)?);
    }
    let store: &Arc<dyn SyncStore> = &state.store;
    store.create_events(user, batch).await?;
    // One stand-up moved to the afternoon, and the next one cancelled.
    let (wednesday, friday) = (week(0, 2), week(0, 4));
    let exceptions = vec![
        new_event(
            EventId::new(),
            json!({"calendar_id": cal, "title": "Stand-up (moved)", "start": timed(wednesday, 14, 0),
            "end": timed(wednesday, 14, 15), "recurring_event_id": standup, "original_start": timed(wednesday, 9, 0)}),
        )?,
        new_event(
            EventId::new(),
            json!({"calendar_id": cal, "title": "Stand-up", "status": "cancelled", "start": timed(friday, 9, 0),
            "end": timed(friday, 9, 15), "recurring_event_id": standup, "original_start": timed(friday, 9, 0)}),
        )?,
    ];
    store.create_events(user, exceptions).await?;
    Ok((created.token, cal))
}

/// A single sample event: title, week (0 = this one), weekday (0 = Monday), start, length in
/// minutes, other fields.
type Session<'a> = (&'a str, i64, i64, (u8, u8), i64, Value);

fn new_event(id: EventId, value: Value) -> anyhow::Result<NewEvent> {
    let input: EventInput = serde_json::from_value(value).context("demo event")?;
    let draft = EventDraft::parse(input).map_err(|e| anyhow::anyhow!("demo event: {e}"))?;
    Ok(NewEvent { id, draft, source: Source::Local })
}

/// Connects the demo user's `provider` account through calsync's own API and the
/// emulator's consent (a browser's redirects, followed by hand), then links the account's
/// main calendar to `calendar`. Returns the link's id.
pub async fn connect_and_link(base: &str, token: &str, provider: &str, calendar: CalendarId) -> anyhow::Result<String> {
    let start = post(&format!("{base}/api/v1/accounts/{provider}/connect"), Some(token), &json!({})).await?;
    let consent = start["authorization_url"].as_str().context("connect returned no authorization_url")?;
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let approved = browser.get(consent).send().await?;
    let callback = approved
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .with_context(|| format!("the {provider} consent did not redirect back ({})", approved.status()))?
        .to_owned();
    let landed = browser.get(&callback).send().await?;
    if !(landed.status().is_success() || landed.status().is_redirection()) {
        bail!("the {provider} callback failed: {} {}", landed.status(), landed.text().await.unwrap_or_default());
    }
    let accounts = get(&format!("{base}/api/v1/accounts"), token).await?;
    let account = accounts["accounts"]
        .as_array()
        .and_then(|list| list.iter().find(|a| a["provider"] == provider))
        .and_then(|a| a["id"].as_str())
        .with_context(|| format!("no {provider} account after connecting"))?
        .to_owned();
    let calendars = get(&format!("{base}/api/v1/accounts/{account}/calendars"), token).await?;
    let remote = calendars["calendars"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["primary"] == true).or_else(|| list.first()))
        .and_then(|c| c["id"].as_str())
        .with_context(|| format!("the {provider} account has no calendar"))?
        .to_owned();
    let link = post(
        &format!("{base}/api/v1/links"),
        Some(token),
        &json!({"account_id": account, "calendar_id": calendar, "remote_calendar_id": remote}),
    )
    .await?;
    Ok(link["id"].as_str().unwrap_or_default().to_owned())
}

async fn post(url: &str, token: Option<&str>, body: &Value) -> anyhow::Result<Value> {
    let mut request = reqwest::Client::new().post(url).json(body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    answer(url, request.send().await?).await
}

async fn get(url: &str, token: &str) -> anyhow::Result<Value> {
    answer(url, reqwest::Client::new().get(url).bearer_auth(token).send().await?).await
}

async fn answer(url: &str, response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{url}: {status} {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}
