//! calendarView delta (protocols.md §2.3, §2.8 item 3). A round reports what changed in the
//! calendar between two change-log positions, within the window of the first request:
//! single instances, occurrences and exceptions with all their properties (never masters),
//! and `@removed` entries for what was deleted, cancelled, moved away, or changed outside the
//! window. A change to a series master reports every occurrence of it in the window.
//!
//! The window, the positions and the paging cursor are frozen into the opaque `$skiptoken` /
//! `$deltatoken`; each token also has a serial that must still be in a bounded cache
//! (Outlook's tokens die by eviction, MS-DQO), else 410 `SyncStateNotFound` with the initial
//! query in `Location`.

use super::error::{GraphError, GraphResult};
use super::event::StoredEvent;
use super::ids;
use super::render::{self, View};
use super::series::{self, Occ};
use super::views::{Query, link};
use super::world::{Gone, User, World};
use calsync_core::encoding::base64url;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet, VecDeque};

/// What a token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Token {
    /// Serial in the cache.
    n: u64,
    /// Calendar (folder).
    f: u64,
    /// Window, Unix seconds.
    a: i64,
    b: i64,
    /// Changes after this position…
    s: u64,
    /// …up to this one (the position the round started at).
    u: u64,
    /// Sort key of the last entry handed out (skip tokens).
    k: Option<String>,
    /// Page number within the round.
    g: u32,
}

fn encode(t: &Token) -> String {
    base64url(&serde_json::to_vec(t).unwrap_or_default())
}

fn decode(text: &str) -> Option<Token> {
    serde_json::from_slice(&ids::decode(text)?).ok()
}

/// The live token serials, oldest first.
#[derive(Debug, Default)]
pub struct DeltaCache {
    order: VecDeque<u64>,
    live: HashSet<u64>,
    next: u64,
}

impl DeltaCache {
    fn issue(&mut self, capacity: usize) -> u64 {
        self.next += 1;
        self.order.push_back(self.next);
        self.live.insert(self.next);
        while self.order.len() > capacity.max(1) {
            if let Some(old) = self.order.pop_front() {
                self.live.remove(&old);
            }
        }
        self.next
    }

    /// Every token issued so far dies (control API).
    pub fn expire_all(&mut self) -> usize {
        let n = self.live.len();
        self.order.clear();
        self.live.clear();
        n
    }
}

/// The knobs a round needs.
#[derive(Debug, Clone)]
pub struct DeltaSettings {
    pub page_size: usize,
    pub ragged: bool,
    pub empty_page_probability: f64,
    pub replays: bool,
    pub cache_size: usize,
    pub reject_query_options: bool,
}

/// One delta request: the calendar, the request path (for links), the query.
pub struct DeltaRequest<'a> {
    pub folder: u64,
    pub path: &'a str,
    pub query: &'a Query,
    pub base: &'a str,
}

enum Entry<'a> {
    Full(&'a StoredEvent, Option<Occ>),
    Removed { folder: u64, item: u128, occurrence: Option<i64> },
}

fn sort_key(item: u128, occurrence: Option<i64>) -> String {
    let occ = occurrence.map_or(0, |k| i128::from(k) - i128::from(i64::MIN) + 1);
    format!("{item:032x}:{occ:021}")
}

const UNSUPPORTED: &[&str] = &["$select", "$expand", "$filter", "$orderby", "$search"];

/// Answers one delta request.
pub fn respond(
    world: &mut World,
    owner: &User,
    req: &DeltaRequest<'_>,
    view: &View,
    s: &DeltaSettings,
) -> GraphResult<Value> {
    if s.reject_query_options
        && let Some(bad) = UNSUPPORTED.iter().find(|o| req.query.get(o).is_some())
    {
        return Err(GraphError::invalid_request(format!(
            "The query option '{bad}' is not supported with delta on calendarView."
        )));
    }
    let skip = req.query.get("$skiptoken").filter(|t| !t.is_empty());
    let delta = req.query.get("$deltatoken").filter(|t| !t.is_empty());
    let token = match skip.or(delta) {
        None => {
            let (a, b) = req.query.window()?;
            Token { n: 0, f: req.folder, a: a.as_second(), b: b.as_second(), s: 0, u: world.seq, k: None, g: 0 }
        }
        Some(text) => {
            let t = decode(text).filter(|t| t.f == req.folder).ok_or_else(|| {
                GraphError::invalid_parameter("The delta or skip token is not valid for this request.")
            })?;
            if !world.delta.live.contains(&t.n) || t.u > world.seq {
                let pairs = vec![
                    ("startDateTime".to_owned(), series::key_instant(t.a).to_string()),
                    ("endDateTime".to_owned(), series::key_instant(t.b).to_string()),
                ];
                return Err(GraphError::sync_state_not_found(link(req.base, req.path, &pairs)));
            }
            if skip.is_some() {
                t
            } else {
                // A new round from where the last one ended (one step back when replaying).
                let from = if s.replays && t.u > 0 { t.u - 1 } else { t.u };
                Token { s: from, u: world.seq, k: None, g: 0, ..t }
            }
        }
    };
    let from = series::key_instant(token.a);
    let to = series::key_instant(token.b);
    let entries = collect(world, token.f, from, to, token.s, token.u)?;
    let remaining: Vec<(String, Entry<'_>)> =
        entries.into_iter().filter(|(k, _)| token.k.as_ref().is_none_or(|after| k > after)).collect();
    let empty = (s.ragged && token.g % 2 == 1)
        || (s.empty_page_probability > 0.0 && coin() < s.empty_page_probability.min(0.9));
    let take = match (empty, s.ragged) {
        (true, _) => 0,
        (false, true) => (s.page_size / 2).max(1),
        (false, false) => s.page_size.max(1),
    };
    let more = empty || remaining.len() > take;
    let page: Vec<(String, Entry<'_>)> = remaining.into_iter().take(take).collect();
    let last = page.last().map(|(k, _)| k.clone()).or_else(|| token.k.clone());
    let value: Vec<Value> = page
        .into_iter()
        .map(|(_, e)| match e {
            Entry::Full(ev, occ) => {
                let mut v = render::event(view, owner, ev, occ.as_ref());
                v["@odata.type"] = json!("#microsoft.graph.event");
                v
            }
            Entry::Removed { folder, item, occurrence } => render::removed(&view.id(folder, item, occurrence)),
        })
        .collect();
    let cache = s.cache_size;
    let mut out = json!({"@odata.context": format!("{}/v1.0/$metadata#Collection(event)", req.base), "value": value});
    if more {
        let next = Token { n: world.delta.issue(cache), k: last, g: token.g.saturating_add(1), ..token };
        out["@odata.nextLink"] = json!(link(req.base, req.path, &[("$skiptoken".into(), encode(&next))]));
    } else {
        let done = Token { n: world.delta.issue(cache), s: token.u, k: None, g: 0, ..token };
        out["@odata.deltaLink"] = json!(link(req.base, req.path, &[("$deltatoken".into(), encode(&done))]));
    }
    Ok(out)
}

fn coin() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    f64::from(u32::from_be_bytes(b)) / f64::from(u32::MAX)
}

/// The round's entries, keyed for paging. The first round (`s == 0`) reports only what is
/// in the window now; later rounds also report removals.
fn collect(
    world: &World,
    folder: u64,
    from: Timestamp,
    to: Timestamp,
    s: u64,
    u: u64,
) -> GraphResult<BTreeMap<String, Entry<'_>>> {
    let initial = s == 0;
    let changed = |seq: u64| seq > s && seq <= u;
    let mut out: BTreeMap<String, Entry<'_>> = BTreeMap::new();
    let removed = |out: &mut BTreeMap<String, Entry<'_>>, folder: u64, item: u128, occurrence: Option<i64>| {
        out.entry(sort_key(item, occurrence)).or_insert(Entry::Removed { folder, item, occurrence });
    };
    for ev in world.events.values().filter(|e| e.folder == folder) {
        // Written after the round began: the next round reports it.
        let later = ev.changed > u;
        if !ev.is_master() {
            if later {
                continue;
            }
            if ev.times.overlaps(from, to) && (initial || changed(ev.changed)) {
                out.insert(sort_key(ev.item, None), Entry::Full(ev, None));
            } else if !initial && changed(ev.changed) {
                removed(&mut out, folder, ev.item, None);
            }
            continue;
        }
        if initial && later {
            continue;
        }
        let whole_series = initial || changed(ev.changed);
        for occ in series::in_window(ev, from, to)? {
            let own = ev.exceptions.get(&occ.key).is_some_and(|x| changed(x.changed));
            if whole_series || own {
                out.insert(sort_key(ev.item, Some(occ.key)), Entry::Full(ev, Some(occ)));
            }
        }
        if initial {
            continue;
        }
        for (key, x) in &ev.exceptions {
            if changed(x.changed) && !x.times.overlaps(from, to) {
                removed(&mut out, folder, ev.item, Some(*key));
            }
        }
        for (key, seq) in &ev.cancelled {
            if changed(*seq) {
                removed(&mut out, folder, ev.item, Some(*key));
            }
        }
    }
    if initial {
        return Ok(out);
    }
    for t in world.tombstones.iter().filter(|t| t.folder == folder && changed(t.seq)) {
        match &t.gone {
            Gone::Item { item } => removed(&mut out, folder, *item, None),
            Gone::Series(old) => {
                for occ in series::in_window(old, from, to)? {
                    removed(&mut out, folder, old.item, Some(occ.key));
                }
            }
        }
    }
    Ok(out)
}
