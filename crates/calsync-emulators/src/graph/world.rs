//! The mailboxes: users, their calendars and events, the change log the delta reads, and the
//! OAuth grants. Plain data with the operations the API performs on it; callers hold the lock
//! for one operation and pass the time in, so every write is atomic and ordered.

use super::delta::DeltaCache;
use super::error::{GraphError, GraphResult};
use super::event::{EventWrite, Exception, StoredEvent, Times, align_to_range, merge_props, merged_times};
use super::ids::{self, ItemRef};
use super::mail::{self, Mail, MailKind};
use super::oauth::Grants;
use super::series;
use axum::http::StatusCode;
use calsync_core::patterned::PatternedRecurrence;
use jiff::Timestamp;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct World {
    pub users: BTreeMap<String, User>,
    pub calendars: BTreeMap<u64, Calendar>,
    pub events: BTreeMap<u128, StoredEvent>,
    /// What left a calendar, for the delta to report as `@removed`.
    pub tombstones: Vec<Tombstone>,
    /// Change-log position: every write takes the next number.
    pub seq: u64,
    /// `(mailbox, transactionId)` → the event it created, and when.
    pub transactions: HashMap<(String, String), (u128, Timestamp)>,
    pub grants: Grants,
    pub delta: DeltaCache,
    /// The mail Outlook sent about meetings, oldest first (the last [`OUTBOX_KEPT`]).
    pub outbox: Vec<Mail>,
}

/// How much sent mail the emulator remembers.
const OUTBOX_KEPT: usize = 10_000;

#[derive(Debug, Clone)]
pub struct User {
    pub email: String,
    pub name: Option<String>,
    /// The directory object id (a GUID), as `/me` and notifications show it.
    pub id: String,
    pub default_folder: u64,
}

impl User {
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.email)
    }
}

#[derive(Debug, Clone)]
pub struct Calendar {
    pub folder: u64,
    pub owner: String,
    pub name: String,
    pub color: String,
    pub change_key: String,
    pub is_default: bool,
}

#[derive(Debug, Clone)]
pub struct Tombstone {
    pub seq: u64,
    pub folder: u64,
    pub gone: Gone,
}

#[derive(Debug, Clone)]
pub enum Gone {
    /// A single instance (deleted, moved away, or turned into a series).
    Item { item: u128 },
    /// A series as it was before it was deleted, moved away or re-patterned: whatever of its
    /// occurrences no longer exists is reported removed.
    Series(Box<StoredEvent>),
}

/// What an id in a request names: an event, or one occurrence of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub item: u128,
    pub occurrence: Option<i64>,
}

/// A committed write, for change notifications.
#[derive(Debug, Clone)]
pub struct Notice {
    pub change_type: &'static str,
    pub owner: String,
    pub folder: u64,
    pub item: u128,
    pub occurrence: Option<i64>,
    pub change_key: String,
}

/// `If-Match`: `*` or the current `W/"changeKey"` (or the bare change key) passes (§2.4).
fn check_if_match(change_key: &str, if_match: Option<&str>) -> GraphResult<()> {
    let Some(tags) = if_match else { return Ok(()) };
    let ok = tags.split(',').map(str::trim).any(|t| {
        let t = t.strip_prefix("W/").unwrap_or(t).trim_matches('"');
        t == "*" || t == change_key
    });
    if ok { Ok(()) } else { Err(GraphError::change_key_mismatch()) }
}

impl World {
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Adds a user with a default calendar named `Calendar` (no-op when present).
    pub fn add_user(&mut self, email: &str, name: Option<String>) {
        if self.users.contains_key(email) {
            return;
        }
        let folder = self.add_calendar(email, "Calendar", true);
        self.users
            .insert(email.to_owned(), User { email: email.to_owned(), name, id: ids::guid(), default_folder: folder });
    }

    pub fn add_calendar(&mut self, owner: &str, name: &str, is_default: bool) -> u64 {
        let folder = loop {
            let f = ids::new_folder_key();
            if !self.calendars.contains_key(&f) {
                break f;
            }
        };
        self.calendars.insert(
            folder,
            Calendar {
                folder,
                owner: owner.to_owned(),
                name: name.to_owned(),
                color: "auto".into(),
                change_key: ids::new_change_key(),
                is_default,
            },
        );
        folder
    }

    pub fn user(&self, email: &str) -> GraphResult<&User> {
        self.users.get(email).ok_or_else(|| GraphError::unauthenticated("The user of this token does not exist."))
    }

    /// The folder a calendar id names (`None`: the user's default calendar).
    pub fn resolve_calendar(&self, user: &str, id: Option<&str>) -> GraphResult<u64> {
        let folder = match id {
            None => self.user(user)?.default_folder,
            Some(id) => ids::parse_calendar_id(id).ok_or_else(GraphError::not_found)?,
        };
        match self.calendars.get(&folder) {
            Some(c) if c.owner == user => Ok(folder),
            _ => Err(GraphError::not_found()),
        }
    }

    pub fn delete_calendar(&mut self, user: &str, folder: u64) -> GraphResult<()> {
        let cal = self.calendars.get(&folder).filter(|c| c.owner == user).ok_or_else(GraphError::not_found)?;
        if cal.is_default {
            return Err(GraphError::invalid_request("The default calendar cannot be deleted."));
        }
        let items: Vec<u128> = self.events.values().filter(|e| e.folder == folder).map(|e| e.item).collect();
        for item in items {
            self.remove_event(item);
        }
        self.calendars.remove(&folder);
        Ok(())
    }

    /// What `id` names for `user` (in `folder`, when the path names a calendar). REST ids name
    /// the calendar they were issued in: after a move they name nothing.
    pub fn locate(&self, user: &str, id: &str, folder: Option<u64>) -> GraphResult<Target> {
        let ItemRef { folder: id_folder, item, occurrence } = ids::parse_event_id(id)
            .ok_or_else(|| GraphError::new(StatusCode::BAD_REQUEST, "ErrorInvalidIdMalformed", "Id is malformed."))?;
        let ev = self.events.get(&item).filter(|e| e.owner == user).ok_or_else(GraphError::not_found)?;
        if id_folder.is_some_and(|f| f != ev.folder) || folder.is_some_and(|f| f != ev.folder) {
            return Err(GraphError::not_found());
        }
        if let Some(key) = occurrence
            && series::find(ev, key)?.is_none()
        {
            return Err(GraphError::not_found());
        }
        Ok(Target { item, occurrence })
    }

    pub fn event(&self, item: u128) -> GraphResult<&StoredEvent> {
        self.events.get(&item).ok_or_else(GraphError::not_found)
    }

    fn event_mut(&mut self, item: u128) -> GraphResult<&mut StoredEvent> {
        self.events.get_mut(&item).ok_or_else(GraphError::not_found)
    }

    /// Creates an event; a `transactionId` already used in this mailbox (within `window`)
    /// returns the event it created instead (`false`: nothing new).
    pub fn create(
        &mut self,
        user: &str,
        folder: u64,
        w: EventWrite,
        window: Option<Duration>,
        now: Timestamp,
    ) -> GraphResult<(u128, Option<Notice>)> {
        if let Some(tx) = &w.transaction_id
            && let Some((item, at)) = self.transactions.get(&(user.to_owned(), tx.clone()))
            && self.events.contains_key(item)
            && window
                .is_none_or(|win| now.duration_since(*at).as_secs() <= i64::try_from(win.as_secs()).unwrap_or(i64::MAX))
        {
            return Ok((*item, None));
        }
        let mut times = merged_times(None, &w)?;
        let recurrence = match w.recurrence.clone().flatten() {
            Some(r) => {
                let r = with_zone(r, &times);
                times = align_to_range(times, &r)?;
                Some(r)
            }
            None => None,
        };
        let item = loop {
            let k = ids::new_item_key();
            if !self.events.contains_key(&k) {
                break k;
            }
        };
        let changed = self.next_seq();
        let mut fields = w.fields;
        fields.retain(|_, v| !v.is_null());
        let ev = StoredEvent {
            item,
            folder,
            owner: user.to_owned(),
            fields,
            times,
            recurrence,
            exceptions: BTreeMap::new(),
            cancelled: BTreeMap::new(),
            props: w.props,
            change_key: ids::new_change_key(),
            created: now,
            modified: now,
            transaction_id: w.transaction_id.clone(),
            ical_uid: format!("040000008200E00074C5B7101A82E00800000000{item:032X}"),
            changed,
        };
        let notice = notice("created", &ev, None, &ev.change_key);
        self.send(mail::for_write(MailKind::Invitation, &ev, None, now));
        self.events.insert(item, ev);
        if let Some(tx) = w.transaction_id {
            self.transactions.insert((user.to_owned(), tx), (item, now));
        }
        Ok((item, Some(notice)))
    }

    /// PATCH: an event, or an occurrence (which becomes an exception).
    pub fn update(&mut self, t: Target, w: EventWrite, if_match: Option<&str>, now: Timestamp) -> GraphResult<Notice> {
        let was_meeting = self.mail_about(MailKind::Update, t, now).is_some();
        let notice = match t.occurrence {
            None => self.update_event(t.item, w, if_match, now),
            Some(key) => self.update_occurrence(t.item, key, w, if_match, now),
        }?;
        let kind = if was_meeting { MailKind::Update } else { MailKind::Invitation };
        self.send(self.mail_about(kind, t, now));
        Ok(notice)
    }

    /// The mail a write to `t` sends (none without attendees).
    fn mail_about(&self, kind: MailKind, t: Target, now: Timestamp) -> Option<Mail> {
        let ev = self.events.get(&t.item)?;
        mail::for_write(kind, ev, t.occurrence.and_then(|k| ev.exceptions.get(&k)), now)
    }

    fn send(&mut self, mail: Option<Mail>) {
        if let Some(m) = mail {
            if self.outbox.len() >= OUTBOX_KEPT {
                self.outbox.remove(0);
            }
            self.outbox.push(m);
        }
    }

    fn update_event(
        &mut self,
        item: u128,
        w: EventWrite,
        if_match: Option<&str>,
        now: Timestamp,
    ) -> GraphResult<Notice> {
        let old = self.event(item)?.clone();
        check_if_match(&old.change_key, if_match)?;
        if let Some(tx) = &w.transaction_id
            && old.transaction_id.as_ref().is_some_and(|o| o != tx)
        {
            return Err(GraphError::invalid_request("transactionId cannot be changed."));
        }
        let mut ev = old.clone();
        for (k, v) in &w.fields {
            if v.is_null() {
                ev.fields.remove(k);
            } else {
                ev.fields.insert(k.clone(), v.clone());
            }
        }
        let mut times = merged_times(Some(&old.times), &w)?;
        let recurrence: Option<PatternedRecurrence> = match &w.recurrence {
            None => old.recurrence.clone(),
            Some(None) => None,
            Some(Some(r)) => Some(r.clone()),
        };
        let recurrence = recurrence.map(|r| with_zone(r, &times));
        if let Some(r) = &recurrence {
            times = align_to_range(times, r)?;
        }
        let reshaped = recurrence != old.recurrence || times != old.times;
        ev.times = times;
        ev.recurrence = recurrence;
        merge_props(&mut ev.props, &w.props);
        if ev.transaction_id.is_none() {
            ev.transaction_id.clone_from(&w.transaction_id);
        }
        let seq = self.next_seq();
        if reshaped {
            match (old.is_master(), ev.is_master()) {
                (true, _) => self.tombstones.push(Tombstone {
                    seq,
                    folder: old.folder,
                    gone: Gone::Series(Box::new(old.clone())),
                }),
                (false, true) => self.tombstones.push(Tombstone { seq, folder: old.folder, gone: Gone::Item { item } }),
                (false, false) => {}
            }
            prune_exceptions(&mut ev)?;
        }
        ev.change_key = ids::new_change_key();
        ev.modified = now;
        ev.changed = seq;
        let n = notice("updated", &ev, None, &ev.change_key);
        self.events.insert(item, ev);
        Ok(n)
    }

    fn update_occurrence(
        &mut self,
        item: u128,
        key: i64,
        w: EventWrite,
        if_match: Option<&str>,
        now: Timestamp,
    ) -> GraphResult<Notice> {
        if w.recurrence.is_some() {
            return Err(GraphError::invalid_request(
                "recurrence can only be set on a series master or a single instance.",
            ));
        }
        let master = self.event(item)?;
        let occ = series::find(master, key)?.ok_or_else(GraphError::not_found)?;
        let current = master.exceptions.get(&key).map_or(&master.change_key, |x| &x.change_key);
        check_if_match(current, if_match)?;
        let mut x = master.exceptions.get(&key).cloned().unwrap_or_else(|| Exception {
            fields: serde_json::Map::new(),
            times: occ.times.clone(),
            props: Vec::new(),
            change_key: String::new(),
            created: now,
            modified: now,
            changed: 0,
        });
        for (k, v) in &w.fields {
            x.fields.insert(k.clone(), v.clone());
        }
        x.times = merged_times(Some(&x.times), &w)?;
        merge_props(&mut x.props, &w.props);
        x.change_key = ids::new_change_key();
        x.modified = now;
        x.changed = self.next_seq();
        let change_key = x.change_key.clone();
        let ev = self.event_mut(item)?;
        ev.exceptions.insert(key, x);
        Ok(notice("updated", ev, Some(key), &change_key))
    }

    /// DELETE: an event (a series with all its exceptions), or one occurrence (cancelled).
    pub fn delete(&mut self, t: Target, if_match: Option<&str>, now: Timestamp) -> GraphResult<Notice> {
        let cancellation = self.mail_about(MailKind::Cancellation, t, now);
        let notice = self.delete_target(t, if_match)?;
        self.send(cancellation);
        Ok(notice)
    }

    fn delete_target(&mut self, t: Target, if_match: Option<&str>) -> GraphResult<Notice> {
        let ev = self.event(t.item)?;
        match t.occurrence {
            None => {
                check_if_match(&ev.change_key, if_match)?;
                let n = notice("deleted", ev, None, &ev.change_key);
                self.remove_event(t.item);
                Ok(n)
            }
            Some(key) => {
                series::find(ev, key)?.ok_or_else(GraphError::not_found)?;
                let current = ev.exceptions.get(&key).map_or(&ev.change_key, |x| &x.change_key);
                check_if_match(current, if_match)?;
                let n = notice("deleted", ev, Some(key), current);
                let seq = self.next_seq();
                let ev = self.event_mut(t.item)?;
                ev.exceptions.remove(&key);
                ev.cancelled.insert(key, seq);
                Ok(n)
            }
        }
    }

    fn remove_event(&mut self, item: u128) {
        let Some(ev) = self.events.remove(&item) else { return };
        let seq = self.next_seq();
        let folder = ev.folder;
        let gone = if ev.is_master() { Gone::Series(Box::new(ev)) } else { Gone::Item { item } };
        self.tombstones.push(Tombstone { seq, folder, gone });
    }

    /// Moves an event to another calendar of its owner (Outlook's "move"; Graph has no call
    /// for it). Its REST id changes, its immutable id does not (MS-IMM).
    pub fn move_event(&mut self, item: u128, to: u64, now: Timestamp) -> GraphResult<Vec<Notice>> {
        let ev = self.event(item)?.clone();
        if self.calendars.get(&to).is_none_or(|c| c.owner != ev.owner) {
            return Err(GraphError::not_found());
        }
        if ev.folder == to {
            return Ok(Vec::new());
        }
        let gone_notice = notice("deleted", &ev, None, &ev.change_key);
        let seq = self.next_seq();
        let gone = if ev.is_master() { Gone::Series(Box::new(ev.clone())) } else { Gone::Item { item } };
        self.tombstones.push(Tombstone { seq, folder: ev.folder, gone });
        let ev = self.event_mut(item)?;
        ev.folder = to;
        ev.change_key = ids::new_change_key();
        ev.modified = now;
        ev.changed = seq;
        Ok(vec![gone_notice, notice("created", ev, None, &ev.change_key)])
    }
}

fn notice(change_type: &'static str, ev: &StoredEvent, occurrence: Option<i64>, change_key: &str) -> Notice {
    Notice {
        change_type,
        owner: ev.owner.clone(),
        folder: ev.folder,
        item: ev.item,
        occurrence,
        change_key: change_key.to_owned(),
    }
}

/// `recurrenceTimeZone` defaults to the start's zone.
fn with_zone(mut r: PatternedRecurrence, times: &Times) -> PatternedRecurrence {
    if r.range.recurrence_time_zone.as_deref().is_none_or(str::is_empty) {
        r.range.recurrence_time_zone = Some(times.start_zone.clone());
    }
    r
}

/// After a series changed shape: drop exceptions and cancellations of occurrences it no
/// longer has (a single instance keeps none).
fn prune_exceptions(ev: &mut StoredEvent) -> GraphResult<()> {
    if !ev.is_master() {
        ev.exceptions.clear();
        ev.cancelled.clear();
        return Ok(());
    }
    let last = ev.exceptions.keys().chain(ev.cancelled.keys()).max().copied();
    let Some(last) = last else { return Ok(()) };
    let keys = series::keys_until(
        ev,
        series::key_instant(last).checked_add(jiff::SignedDuration::from_hours(48)).unwrap_or(Timestamp::MAX),
    )?;
    ev.exceptions.retain(|k, _| keys.contains(k));
    ev.cancelled.retain(|k, _| keys.contains(k));
    Ok(())
}

/// A plain property of an event as JSON (`None` when unset).
pub fn field<'a>(ev: &'a StoredEvent, exception: Option<&'a Exception>, name: &str) -> Option<&'a Value> {
    exception.and_then(|x| x.fields.get(name)).filter(|v| !v.is_null()).or_else(|| ev.fields.get(name))
}
