//! `calsync demo`: a fresh embedded database with a demo user and sample events, served
//! on localhost, with the token and working curl commands printed.

use anyhow::Context;
use calsync_core::{CalendarDraft, CalendarId, CalendarInput, EventDraft, EventId, EventInput, Source};
use calsync_server::AppState;
use calsync_store::{NewEvent, SyncStore};
use jiff::ToSpan;
use jiff::civil::Date;
use serde_json::json;
use std::sync::Arc;

/// Creates the demo user, a calendar and sample events. Returns the user's token and the
/// calendar id.
pub async fn seed(state: &AppState, today: Date) -> anyhow::Result<(String, CalendarId)> {
    let created = calsync_server::routes::admin::create_user_with_token(state, "demo")
        .await
        .map_err(|e| anyhow::anyhow!("creating the demo user: {e}"))?;
    let user = created.user.id;
    let calendar = CalendarDraft::parse(CalendarInput {
        name: "Demo".into(),
        color: Some("#1e90ff".into()),
        time_zone: Some("Europe/Berlin".into()),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let cal = state.store.create_calendar(user, CalendarId::new(), &calendar).await?.id;

    let day = |offset: i64| today.saturating_add(offset.days()).to_string();
    let timed =
        |d: String, h: u8, m: u8| json!({"date_time": format!("{d}T{h:02}:{m:02}:00"), "time_zone": "Europe/Berlin"});
    let monday = today.saturating_sub(i64::from(today.weekday().to_monday_zero_offset()).days());
    let standup = EventId::new();
    let events = vec![
        (
            EventId::new(),
            json!({"calendar_id": cal, "title": "Project kick-off", "location": "Room 1",
            "start": timed(day(1), 10, 0), "end": timed(day(1), 11, 30),
            "attendees": [{"email": "ada@example.com", "name": "Ada"}]}),
        ),
        (
            EventId::new(),
            json!({"calendar_id": cal, "title": "Conference", "start": {"date": day(3)}, "end": {"date": day(5)}, "transparency": "free"}),
        ),
        (
            standup,
            json!({"calendar_id": cal, "title": "Stand-up",
            "start": timed(monday.to_string(), 9, 0), "end": timed(monday.to_string(), 9, 15),
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=30"]}),
        ),
    ];
    let mut batch = Vec::new();
    for (id, value) in events {
        batch.push(new_event(id, value)?);
    }
    let store: &Arc<dyn SyncStore> = &state.store;
    store.create_events(user, batch).await?;
    // One stand-up moved to the afternoon, and the next one cancelled.
    let wednesday = monday.saturating_add(2.days()).to_string();
    let friday = monday.saturating_add(4.days()).to_string();
    let exceptions = vec![
        new_event(
            EventId::new(),
            json!({"calendar_id": cal, "title": "Stand-up (moved)",
            "start": timed(wednesday.clone(), 14, 0), "end": timed(wednesday.clone(), 14, 15),
            "recurring_event_id": standup, "original_start": timed(wednesday, 9, 0)}),
        )?,
        new_event(
            EventId::new(),
            json!({"calendar_id": cal, "title": "Stand-up", "status": "cancelled",
            "start": timed(friday.clone(), 9, 0), "end": timed(friday.clone(), 9, 15),
            "recurring_event_id": standup, "original_start": timed(friday, 9, 0)}),
        )?,
    ];
    store.create_events(user, exceptions).await?;
    Ok((created.token, cal))
}

fn new_event(id: EventId, value: serde_json::Value) -> anyhow::Result<NewEvent> {
    let input: EventInput = serde_json::from_value(value).context("demo event")?;
    let draft = EventDraft::parse(input).map_err(|e| anyhow::anyhow!("demo event: {e}"))?;
    Ok(NewEvent { id, draft, source: Source::Local })
}

/// A Google Calendar emulator for the demo, approving consent at once.
pub async fn google_emulator() -> anyhow::Result<calsync_emulators::google::GoogleEmulator> {
    let config = calsync_emulators::google::Config { auto_approve: true, ..Default::default() };
    calsync_emulators::google::GoogleEmulator::start(config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start the demo's Google emulator: {e}"))
}

/// Points Google sync at the emulator, with a fresh sealing key (the demo database is
/// recreated on every start, so nothing sealed outlives the key).
pub fn configure_google(settings: &mut crate::config::Settings, google: &calsync_emulators::google::GoogleEmulator) {
    use calsync_emulators::google::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
    let base = google.base_url();
    settings.google = Some(crate::config::ProviderSettings {
        client_id: DEFAULT_CLIENT_ID.into(),
        client_secret: secrecy::SecretString::from(DEFAULT_CLIENT_SECRET),
        auth_url: format!("{base}/o/oauth2/v2/auth"),
        token_url: format!("{base}/token"),
        revoke_url: Some(format!("{base}/revoke")),
        identity_url: format!("{base}/oauth2/v3/userinfo"),
        api_root: google.api_root(),
    });
    settings.encryption_key = Some(calsync_engine::Sealer::generate_key_hex());
}
