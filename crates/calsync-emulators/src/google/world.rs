//! The emulator's whole state: users, their calendars and events, OAuth grants. Plain data
//! (serialisable for snapshots) with the operations the API performs on it. Callers hold the
//! lock for one operation and pass the time in, so every write is atomic and ordered.

use super::config::{ClientSpec, Config};
use super::error::{ApiError, ApiResult};
use super::resource::{StoredEvent, check, merge, normalize_times, significant_change, valid_event_id, writable};
use super::series;
use crate::random;
use axum::http::StatusCode;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct World {
    pub users: BTreeMap<String, User>,
    pub calendars: BTreeMap<String, Calendar>,
    pub clients: Vec<ClientSpec>,
    pub codes: HashMap<String, AuthCode>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    /// Raised by the control API to invalidate every sync token issued so far.
    pub token_generation: u64,
    /// Last `updated` handed out, in µs: writes get strictly increasing times (and etags).
    last_micros: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub email: String,
    pub name: Option<String>,
    /// The user's calendar list, keyed by calendar id.
    pub list: BTreeMap<String, ListEntry>,
    /// Change-log position of the calendar list.
    pub list_seq: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListEntry {
    pub deleted: bool,
    pub hidden: bool,
    pub primary: bool,
    pub changed: u64,
    pub etag: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calendar {
    pub id: String,
    pub owner: String,
    pub summary: String,
    pub description: Option<String>,
    pub time_zone: String,
    pub etag: String,
    pub events: BTreeMap<String, StoredEvent>,
    /// Change-log position: every write to an event takes the next number.
    pub seq: u64,
}

impl Calendar {
    pub fn zone(&self) -> TimeZone {
        TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub user: String,
    pub scope: String,
    pub code_challenge: Option<String>,
    pub offline: bool,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessToken {
    pub user: String,
    pub scope: String,
    pub expires_at: Timestamp,
    /// The refresh token it was minted from: revoking that kills this one too.
    pub refresh_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshToken {
    pub user: String,
    pub client_id: String,
    pub scope: String,
    pub revoked: bool,
}

/// An update (PUT: the body replaces the resource) or a patch (PATCH: the body merges in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    Update,
    Patch,
}

impl World {
    pub fn new(config: &Config) -> Self {
        let mut w = Self { clients: config.clients.clone(), ..Self::default() };
        for u in &config.users {
            w.add_user(&u.email, u.name.clone(), &config.time_zone, Timestamp::now());
        }
        w
    }

    /// Refuses a restored snapshot whose counters leave no room to count on (they only grow).
    pub fn check(&self) -> Result<(), String> {
        const ROOM: u64 = 1 << 53;
        let latest = Timestamp::MAX.as_microsecond() / 2;
        if self.last_micros > latest || self.token_generation > ROOM {
            return Err("last_micros or token_generation is out of range".into());
        }
        if let Some(u) = self.users.values().find(|u| u.list_seq > ROOM) {
            return Err(format!("the calendar list of {} has an out-of-range position", u.email));
        }
        for c in self.calendars.values() {
            if c.seq > ROOM {
                return Err(format!("calendar {} has an out-of-range change position", c.id));
            }
            if let Some(e) = c.events.values().find(|e| e.sequence() >= i64::from(i32::MAX) || e.changed > c.seq) {
                return Err(format!("event {} in calendar {} has an out-of-range sequence or position", e.id, c.id));
            }
        }
        Ok(())
    }

    /// A strictly increasing write time.
    pub fn tick(&mut self, now: Timestamp) -> Timestamp {
        let micros = (now.as_microsecond()).max(self.last_micros.saturating_add(1));
        self.last_micros = micros;
        Timestamp::from_microsecond(micros).unwrap_or(now)
    }

    pub fn etag(at: Timestamp) -> String {
        format!("\"{}\"", at.as_microsecond())
    }

    /// Adds a user with a primary calendar named after them (no-op when present).
    pub fn add_user(&mut self, email: &str, name: Option<String>, time_zone: &str, now: Timestamp) {
        if self.users.contains_key(email) {
            return;
        }
        let at = self.tick(now);
        self.users.insert(email.to_owned(), User { email: email.to_owned(), name, list: BTreeMap::new(), list_seq: 0 });
        self.calendars.insert(
            email.to_owned(),
            Calendar {
                id: email.to_owned(),
                owner: email.to_owned(),
                summary: email.to_owned(),
                description: None,
                time_zone: time_zone.to_owned(),
                etag: Self::etag(at),
                events: BTreeMap::new(),
                seq: 0,
            },
        );
        self.list_touch(email, email, |e| e.primary = true, now);
    }

    fn list_touch(&mut self, user: &str, calendar_id: &str, edit: impl FnOnce(&mut ListEntry), now: Timestamp) {
        let at = self.tick(now);
        let Some(u) = self.users.get_mut(user) else { return };
        u.list_seq = u.list_seq.saturating_add(1);
        let seq = u.list_seq;
        let entry = u.list.entry(calendar_id.to_owned()).or_insert_with(|| ListEntry {
            deleted: false,
            hidden: false,
            primary: false,
            changed: seq,
            etag: Self::etag(at),
        });
        edit(entry);
        entry.changed = seq;
        entry.etag = Self::etag(at);
    }

    /// The calendar id a path names (`primary` is the user's own), if the user may see it.
    pub fn resolve_calendar(&self, user: &str, calendar_id: &str) -> ApiResult<String> {
        let id = if calendar_id == "primary" { user } else { calendar_id };
        let visible = self.users.get(user).and_then(|u| u.list.get(id)).is_some_and(|e| !e.deleted);
        if visible && self.calendars.contains_key(id) { Ok(id.to_owned()) } else { Err(ApiError::not_found()) }
    }

    pub fn calendar(&self, id: &str) -> ApiResult<&Calendar> {
        self.calendars.get(id).ok_or_else(ApiError::not_found)
    }

    fn calendar_mut(&mut self, id: &str) -> ApiResult<&mut Calendar> {
        self.calendars.get_mut(id).ok_or_else(ApiError::not_found)
    }

    pub fn insert_calendar(&mut self, user: &str, body: &Map<String, Value>, now: Timestamp) -> ApiResult<String> {
        let summary = match body.get("summary") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => return Err(ApiError::required("summary", "Missing title.")),
        };
        let time_zone = match body.get("timeZone") {
            None | Some(Value::Null) => "UTC".to_owned(),
            Some(Value::String(z)) if TimeZone::get(z).is_ok() => z.clone(),
            Some(_) => return Err(ApiError::invalid("timeZone", "Invalid time zone.")),
        };
        let description = body.get("description").and_then(Value::as_str).map(str::to_owned);
        let id = format!("{}@group.calendar.google.com", random::string(random::BASE32HEX, 26));
        let at = self.tick(now);
        self.calendars.insert(
            id.clone(),
            Calendar {
                id: id.clone(),
                owner: user.to_owned(),
                summary,
                description,
                time_zone,
                etag: Self::etag(at),
                events: BTreeMap::new(),
                seq: 0,
            },
        );
        self.list_touch(user, &id, |_| {}, now);
        Ok(id)
    }

    pub fn delete_calendar(&mut self, user: &str, id: &str, now: Timestamp) -> ApiResult<()> {
        if id == user {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "global",
                "cannotDeletePrimaryCalendar",
                "The primary calendar cannot be deleted; clear it instead.",
            ));
        }
        self.calendars.remove(id);
        self.list_touch(user, id, |e| e.deleted = true, now);
        Ok(())
    }

    /// A stored event, or a not-yet-stored instance of a series, by id.
    pub fn find_event(&self, calendar_id: &str, event_id: &str) -> ApiResult<StoredEvent> {
        let cal = self.calendar(calendar_id)?;
        if let Some(e) = cal.events.get(event_id) {
            return Ok(e.clone());
        }
        let (master, occ) = self.find_occurrence(cal, event_id)?.ok_or_else(ApiError::not_found)?;
        Ok(series::virtual_instance(master, &occ, &cal.zone()))
    }

    /// The master and occurrence an instance id `{master}_{key}` names, when the rule has it.
    fn find_occurrence<'a>(
        &self,
        cal: &'a Calendar,
        event_id: &str,
    ) -> ApiResult<Option<(&'a StoredEvent, series::Occurrence)>> {
        let Some((master_id, key)) = event_id.rsplit_once('_') else { return Ok(None) };
        let Some(master) = cal.events.get(master_id).filter(|m| m.is_master() && !m.is_cancelled()) else {
            return Ok(None);
        };
        let Some(until) = key_instant(key) else { return Ok(None) };
        let (occ, _) = series::occurrences(master, &cal.zone(), until)?;
        Ok(occ.into_iter().rev().find(|o| o.id == event_id).map(|o| (master, o)))
    }

    pub fn insert_event(
        &mut self,
        user: &str,
        calendar_id: &str,
        body: &Map<String, Value>,
        now: Timestamp,
    ) -> ApiResult<StoredEvent> {
        let id = match body.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) if valid_event_id(id) => Some(id.clone()),
            Some(_) => return Err(ApiError::invalid("id", "Invalid resource id value.")),
        };
        let mut fields = writable(body);
        check(&fields, false)?;
        normalize_times(&mut fields);
        let cal = self.calendar(calendar_id)?;
        if let Some(id) = &id
            && cal.events.contains_key(id)
        {
            return Err(ApiError::duplicate());
        }
        let id = id.unwrap_or_else(|| {
            loop {
                let candidate = random::string(random::BASE32HEX, 26);
                if !cal.events.contains_key(&candidate) {
                    break candidate;
                }
            }
        });
        let ical_uid = match body.get("iCalUID") {
            Some(Value::String(u)) if !u.is_empty() => u.clone(),
            _ => format!("{id}@google.com"),
        };
        let at = self.tick(now);
        let mut event = StoredEvent {
            id: id.clone(),
            fields,
            etag: Self::etag(at),
            created: at,
            updated: at,
            ical_uid,
            recurring_event_id: None,
            original_start: None,
            changed: 0,
            creator: user.to_owned(),
            start_ms: 0,
            end_ms: 0,
            endless: false,
        };
        event.fields.entry("status").or_insert_with(|| Value::from("confirmed"));
        event.fields.entry("sequence").or_insert_with(|| Value::from(0));
        self.commit(calendar_id, event)
    }

    /// Recomputes the span, takes the next change number and stores the event.
    fn commit(&mut self, calendar_id: &str, mut event: StoredEvent) -> ApiResult<StoredEvent> {
        let cal = self.calendar_mut(calendar_id)?;
        let zone = cal.zone();
        let (start, end) = event.times()?;
        event.start_ms = start.instant(&zone).as_millisecond();
        if event.is_master() && event.recurring_event_id.is_none() {
            match series::last_end_ms(&event, &zone)? {
                Some(ms) => (event.end_ms, event.endless) = (ms, false),
                None => (event.end_ms, event.endless) = (i64::MAX, true),
            }
        } else {
            (event.end_ms, event.endless) = (end.instant(&zone).as_millisecond(), false);
        }
        cal.seq = cal.seq.saturating_add(1);
        event.changed = cal.seq;
        cal.events.insert(event.id.clone(), event.clone());
        Ok(event)
    }

    /// A write to `event`: a new etag, and an `updated` later than the last one as Google
    /// shows it (milliseconds), even for writes less than 1 ms apart.
    fn stamp(&mut self, event: &mut StoredEvent, now: Timestamp) {
        let at = self.tick(now);
        let after_last = event.updated.as_millisecond() + 1;
        let ms = at.as_millisecond().max(after_last);
        event.updated = Timestamp::from_millisecond(ms).unwrap_or(at);
        event.etag = Self::etag(at);
    }

    /// Update or patch a stored event, or an instance (which then becomes a stored exception).
    pub fn write_event(
        &mut self,
        calendar_id: &str,
        event_id: &str,
        kind: WriteKind,
        body: &Map<String, Value>,
        if_match: Option<&str>,
        now: Timestamp,
    ) -> ApiResult<StoredEvent> {
        let mut event = self.find_event(calendar_id, event_id)?;
        check_if_match(&event, if_match)?;
        let child = event.recurring_event_id.is_some();
        let before = event.fields.clone();
        let mut fields = match kind {
            WriteKind::Update => writable(body),
            WriteKind::Patch => {
                let mut f = before.clone();
                merge(&mut f, &writable(body));
                f
            }
        };
        if child {
            fields.remove("recurrence");
        }
        fields.entry("status").or_insert_with(|| Value::from("confirmed"));
        let current = event.sequence();
        let sequence = match body.get("sequence").and_then(Value::as_i64) {
            Some(s) if s < current => {
                return Err(ApiError::invalid(
                    "sequence",
                    "Invalid sequence value. The specified sequence number is below the current sequence number of the resource.",
                ));
            }
            Some(s) => s,
            None if significant_change(&before, &fields) => current.saturating_add(1).min(i64::from(i32::MAX)),
            None => current,
        };
        fields.insert("sequence".into(), Value::from(sequence));
        check(&fields, child)?;
        normalize_times(&mut fields);
        event.fields = fields;
        self.stamp(&mut event, now);
        self.commit(calendar_id, event)
    }

    /// Deletes an event: it stays as a cancelled tombstone (a series' children with it); an
    /// instance becomes a cancelled child. Deleting a tombstone is 410 `deleted`.
    pub fn delete_event(
        &mut self,
        calendar_id: &str,
        event_id: &str,
        if_match: Option<&str>,
        now: Timestamp,
    ) -> ApiResult<Vec<StoredEvent>> {
        let mut event = self.find_event(calendar_id, event_id)?;
        if event.is_cancelled() {
            return Err(ApiError::deleted());
        }
        check_if_match(&event, if_match)?;
        let mut changed = Vec::new();
        if event.is_master() && event.recurring_event_id.is_none() {
            let children: Vec<StoredEvent> = self
                .calendar(calendar_id)?
                .events
                .values()
                .filter(|e| e.recurring_event_id.as_deref() == Some(event_id) && !e.is_cancelled())
                .cloned()
                .collect();
            for mut child in children {
                child.fields.insert("status".into(), Value::from("cancelled"));
                self.stamp(&mut child, now);
                changed.push(self.commit(calendar_id, child)?);
            }
        }
        event.fields.insert("status".into(), Value::from("cancelled"));
        self.stamp(&mut event, now);
        changed.push(self.commit(calendar_id, event)?);
        Ok(changed)
    }
}

/// `If-Match`: `*` or the current etag passes; anything else is 412.
fn check_if_match(event: &StoredEvent, if_match: Option<&str>) -> ApiResult<()> {
    match if_match {
        None => Ok(()),
        Some(tags)
            if tags.split(',').map(str::trim).any(|t| t == "*" || t == event.etag || strip_weak(t) == event.etag) =>
        {
            Ok(())
        }
        Some(_) => Err(ApiError::precondition_failed()),
    }
}

fn strip_weak(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

/// The instant named by an instance-id suffix (a bound for expanding the series up to it).
fn key_instant(key: &str) -> Option<Timestamp> {
    let utc = TimeZone::UTC;
    if key.len() == 8 {
        let d = jiff::civil::Date::strptime("%Y%m%d", key).ok()?;
        // An all-day occurrence starts at midnight in the calendar zone: allow a day of slack.
        return utc
            .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .ok()?
            .checked_add(jiff::SignedDuration::from_hours(48))
            .ok();
    }
    jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", key).ok().and_then(|dt| utc.to_timestamp(dt).ok())
}
