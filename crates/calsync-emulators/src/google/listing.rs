//! `events.list`, `events.instances` and `calendarList.list`: filters, ordering, paging and
//! incremental sync (protocols.md §1.5–§1.7, §1.11).
//!
//! Listings page by a sort-key cursor, not an offset, so writes between pages never make a
//! client skip an item: anything changed after the listing began is in the next delta.

use super::config::PageMode;
use super::error::{ApiError, ApiResult};
use super::resource::{StoredEvent, rfc3339};
use super::series::{self, Occurrence};
use super::tokens::{self, PageToken, SyncToken, fingerprint};
use super::world::{Calendar, User, World};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// Query pairs as sent (repeatable parameters appear several times).
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

/// Parameters every Google API accepts and that do not change a listing's content.
const NEUTRAL: &[&str] = &[
    "pageToken",
    "alt",
    "prettyPrint",
    "fields",
    "key",
    "quotaUser",
    "oauth_token",
    "access_token",
    "$.xgafv",
    "callback",
    "upload_protocol",
    "uploadType",
];

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        Self(form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn bool(&self, name: &str, default: bool) -> ApiResult<bool> {
        match self.get(name) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ApiError::invalid(name, format!("Invalid boolean value {v:?} for parameter {name}."))),
        }
    }

    pub fn int(&self, name: &str, default: usize, max: usize) -> ApiResult<usize> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid(
                    name,
                    format!("Invalid value '{v}'. Values must be within the range: [1, {max}]"),
                )),
            },
        }
    }

    pub fn time(&self, name: &str) -> ApiResult<Option<Timestamp>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse::<Timestamp>().map(Some).map_err(|_| {
                ApiError::invalid(
                    name,
                    format!("Bad Request: {name} must be an RFC 3339 timestamp with offset, got {v:?}"),
                )
            }),
        }
    }

    /// Fingerprint of everything but the neutral parameters: a page token is valid only for the
    /// query that produced it.
    fn page_fingerprint(&self) -> u64 {
        let mut pairs: Vec<&(String, String)> = self.0.iter().filter(|(k, _)| !NEUTRAL.contains(&k.as_str())).collect();
        pairs.sort();
        fingerprint(pairs.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]))
    }
}

/// Ordering of a full listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Id,
    StartTime,
    Updated,
}

/// The parsed `events.list` request.
#[derive(Debug)]
pub struct ListRequest {
    max_results: usize,
    page: Option<PageToken>,
    page_fingerprint: u64,
    sync: Option<SyncToken>,
    sync_fingerprint: u64,
    show_deleted: bool,
    single_events: bool,
    time_min: Option<Timestamp>,
    time_max: Option<Timestamp>,
    updated_min: Option<Timestamp>,
    q: Option<String>,
    order: Order,
    ical_uid: Option<String>,
    private_props: Vec<(String, String)>,
    shared_props: Vec<(String, String)>,
    event_types: Vec<String>,
}

/// Parameters Google refuses next to a `syncToken` (§1.5).
const FORBIDDEN_WITH_SYNC: &[&str] = &[
    "timeMin",
    "timeMax",
    "updatedMin",
    "q",
    "orderBy",
    "iCalUID",
    "privateExtendedProperty",
    "sharedExtendedProperty",
];

const PAGE_PREFIX: &str = "P";
const SYNC_PREFIX: &str = "S";

/// What the emulator's knobs and clock say about a listing.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub now: Timestamp,
    pub page_mode: PageMode,
    pub horizon_days: i64,
    pub sync_token_max_age_secs: Option<u64>,
}

impl ListRequest {
    pub fn parse(q: &Query, calendar_id: &str, world: &World, ctx: &Context) -> ApiResult<Self> {
        let single_events = q.bool("singleEvents", false)?;
        let mut event_types: Vec<String> = q.all("eventTypes").map(str::to_owned).collect();
        event_types.sort();
        let show_hidden = q.bool("showHiddenInvitations", false)?;
        let sync_fingerprint = fingerprint(
            [if single_events { "single" } else { "series" }, if show_hidden { "hidden" } else { "" }]
                .into_iter()
                .chain(event_types.iter().map(String::as_str)),
        );
        let sync = match q.get("syncToken") {
            None => None,
            Some(text) => {
                if let Some(bad) = FORBIDDEN_WITH_SYNC.iter().find(|p| q.has(p)) {
                    return Err(ApiError::invalid(*bad, format!("{bad} cannot be combined with syncToken.")));
                }
                if q.get("showDeleted").is_some_and(|v| v.eq_ignore_ascii_case("false")) {
                    return Err(ApiError::invalid("showDeleted", "showDeleted cannot be false with syncToken."));
                }
                let token = check_sync_token(text, calendar_id, world, ctx)?;
                let current = world.calendar(calendar_id)?.seq;
                if token.s > current {
                    return Err(ApiError::full_sync_required());
                }
                if token.f != sync_fingerprint {
                    return Err(ApiError::invalid(
                        "syncToken",
                        "singleEvents, eventTypes and showHiddenInvitations must be the same as in the sync that produced this syncToken.",
                    ));
                }
                Some(token)
            }
        };
        let order = match q.get("orderBy") {
            None => Order::Id,
            Some("startTime") if single_events => Order::StartTime,
            Some("startTime") => {
                return Err(ApiError::invalid(
                    "orderBy",
                    "The requested ordering is not available for the particular query.",
                ));
            }
            Some("updated") => Order::Updated,
            Some(other) => return Err(ApiError::invalid("orderBy", format!("Invalid value for orderBy: {other:?}"))),
        };
        let props = |name: &str| -> ApiResult<Vec<(String, String)>> {
            q.all(name)
                .map(|p| {
                    p.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| ApiError::invalid(name, format!("{name} must be propertyName=value")))
                })
                .collect()
        };
        let time_min = q.time("timeMin")?;
        let time_max = q.time("timeMax")?;
        if let (Some(a), Some(b)) = (time_min, time_max)
            && b <= a
        {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "calendar",
                "timeRangeEmpty",
                "The specified time range is empty.",
            )
            .at("parameter", "timeMax"));
        }
        let page_fingerprint = q.page_fingerprint();
        let page = page_token(q, page_fingerprint)?;
        Ok(Self {
            max_results: q.int("maxResults", 250, 2500)?,
            page,
            page_fingerprint,
            sync,
            sync_fingerprint,
            show_deleted: q.bool("showDeleted", false)?,
            single_events,
            time_min,
            time_max,
            updated_min: q.time("updatedMin")?,
            q: q.get("q").map(str::to_lowercase),
            order,
            ical_uid: q.get("iCalUID").map(str::to_owned),
            private_props: props("privateExtendedProperty")?,
            shared_props: props("sharedExtendedProperty")?,
            event_types,
        })
    }
}

/// The `pageToken` of a request; it must come from the same query.
fn page_token(q: &Query, fingerprint: u64) -> ApiResult<Option<PageToken>> {
    let Some(text) = q.get("pageToken") else { return Ok(None) };
    tokens::decode::<PageToken>(PAGE_PREFIX, text)
        .filter(|p| p.f == fingerprint)
        .map(Some)
        .ok_or_else(|| ApiError::invalid("pageToken", "Invalid page token value (it belongs to another query)."))
}

fn check_sync_token(text: &str, scope: &str, world: &World, ctx: &Context) -> ApiResult<SyncToken> {
    let token = tokens::decode::<SyncToken>(SYNC_PREFIX, text).ok_or_else(ApiError::full_sync_required)?;
    let too_old = ctx
        .sync_token_max_age_secs
        .is_some_and(|max| ctx.now.as_second().saturating_sub(token.t) > i64::try_from(max).unwrap_or(i64::MAX));
    if token.c != scope || token.g != world.token_generation || too_old {
        return Err(ApiError::full_sync_required());
    }
    Ok(token)
}

fn new_sync_token(scope: &str, seq: u64, f: u64, world: &World, now: Timestamp) -> String {
    tokens::encode(
        SYNC_PREFIX,
        &SyncToken { c: scope.to_owned(), s: seq, f, g: world.token_generation, t: now.as_second() },
    )
}

/// An item a listing may return, rendered only if it lands on the page.
enum Item<'a> {
    Full(&'a StoredEvent),
    Stub(&'a StoredEvent),
    Instance(&'a StoredEvent, Occurrence),
    InstanceStub(&'a StoredEvent, Occurrence),
}

/// One page of a listing: the items, and either the next page's cursor or the end.
struct Paged<T> {
    items: Vec<T>,
    next: Option<(String, u32)>,
}

fn paginate<T>(mut all: Vec<(String, T)>, after: Option<&str>, page_no: u32, max: usize, mode: PageMode) -> Paged<T> {
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let start = after.map_or(0, |k| all.partition_point(|(key, _)| key.as_str() <= k));
    let remaining = all.len() - start;
    let take = match mode {
        PageMode::Full => max,
        PageMode::Ragged if page_no % 2 == 1 => 0,
        PageMode::Ragged => (max / 2).max(1),
    }
    .min(remaining);
    let more = take < remaining;
    let mut rest = all.into_iter().skip(start);
    let items: Vec<(String, T)> = rest.by_ref().take(take).collect();
    let cursor = items.last().map(|(k, _)| k.clone()).or_else(|| after.map(str::to_owned)).unwrap_or_default();
    Paged {
        items: items.into_iter().map(|(_, v)| v).collect(),
        next: more.then_some((cursor, page_no.saturating_add(1))),
    }
}

/// Sort keys: a fixed-width number, so lexical order is numeric order.
fn num_key(n: i64) -> String {
    format!("{:020}", i128::from(n) - i128::from(i64::MIN))
}

pub fn list_events(
    world: &World,
    calendar_id: &str,
    req: &ListRequest,
    ctx: &Context,
    base_url: &str,
) -> ApiResult<Value> {
    let cal = world.calendar(calendar_id)?;
    // The change-log position this listing is consistent with: fixed by the first page.
    let snapshot = req.page.as_ref().map_or(cal.seq, |p| p.s);
    let zone = cal.zone();
    let horizon =
        ctx.now.checked_add(jiff::SignedDuration::from_hours(24 * ctx.horizon_days)).unwrap_or(Timestamp::MAX);
    let mut items: Vec<(String, Item<'_>)> = Vec::new();
    if let Some(sync) = &req.sync {
        for e in cal.events.values().filter(|e| e.changed > sync.s && e.changed <= snapshot) {
            if !req.type_matches(e) {
                continue;
            }
            let key = format!("{}:{}", num_key(i64::try_from(e.changed).unwrap_or(i64::MAX)), e.id);
            if req.single_events && e.is_master() && e.recurring_event_id.is_none() {
                let until = if e.endless { horizon } else { Timestamp::MAX };
                for occ in series::occurrences(e, &zone, until)?.0 {
                    if cal.events.contains_key(&occ.id) {
                        continue;
                    }
                    let k = format!("{key}:{}", occ.id);
                    items.push((k, if e.is_cancelled() { Item::InstanceStub(e, occ) } else { Item::Instance(e, occ) }));
                }
            } else {
                items.push((key, if e.is_cancelled() { Item::Stub(e) } else { Item::Full(e) }));
            }
        }
    } else {
        for e in cal.events.values() {
            collect_full(cal, e, req, horizon, &mut items)?;
        }
    }
    let after = req.page.as_ref().map(|p| p.k.as_str());
    let page_no = req.page.as_ref().map_or(0, |p| p.n);
    let paged = paginate(items, after, page_no, req.max_results, ctx.page_mode);
    let rendered: Vec<Value> = paged.items.into_iter().map(|i| render(cal, i, &zone, base_url)).collect();
    let mut out = events_envelope(cal, rendered, ctx.now);
    match paged.next {
        Some((k, n)) => {
            out["nextPageToken"] =
                json!(tokens::encode(PAGE_PREFIX, &PageToken { f: req.page_fingerprint, s: snapshot, k, n }));
        }
        None => {
            out["nextSyncToken"] = json!(new_sync_token(calendar_id, snapshot, req.sync_fingerprint, world, ctx.now))
        }
    }
    Ok(out)
}

fn collect_full<'a>(
    cal: &'a Calendar,
    e: &'a StoredEvent,
    req: &ListRequest,
    horizon: Timestamp,
    items: &mut Vec<(String, Item<'a>)>,
) -> ApiResult<()> {
    let master_of = |child: &StoredEvent| child.recurring_event_id.as_ref().and_then(|m| cal.events.get(m));
    let is_master = e.is_master() && e.recurring_event_id.is_none();
    if !req.fields_match(e) {
        return Ok(());
    }
    if req.single_events && is_master {
        if e.is_cancelled() {
            return Ok(());
        }
        let until = match req.time_max {
            Some(t) => t,
            None if e.endless => horizon,
            None => Timestamp::MAX,
        };
        let zone = cal.zone();
        for occ in series::occurrences(e, &zone, until)?.0 {
            if cal.events.contains_key(&occ.id) {
                continue;
            }
            let (s, en) = (occ.start.instant(&zone).as_millisecond(), occ.end.instant(&zone).as_millisecond());
            if req.window_matches(s, en, false) {
                items.push((req.sort_key(&occ.id, s, e.updated), Item::Instance(e, occ)));
            }
        }
        return Ok(());
    }
    if !req.window_matches(e.start_ms, e.end_ms, e.endless) {
        return Ok(());
    }
    let key = req.sort_key(&e.id, e.start_ms, e.updated);
    if !e.is_cancelled() {
        items.push((key, Item::Full(e)));
        return Ok(());
    }
    let is_instance = e.recurring_event_id.is_some();
    let parent_alive = master_of(e).is_some_and(|m| !m.is_cancelled());
    if req.show_deleted || req.updated_min.is_some() {
        items.push((key, Item::Full(e)));
    } else if is_instance && parent_alive && !req.single_events {
        // §1.6: with showDeleted and singleEvents both false, cancelled instances of a live
        // series are still listed (as stubs), so clients can hide those occurrences.
        items.push((key, Item::Stub(e)));
    }
    Ok(())
}

impl ListRequest {
    fn type_matches(&self, e: &StoredEvent) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|t| t == e.event_type())
    }

    fn fields_match(&self, e: &StoredEvent) -> bool {
        if !self.type_matches(e) {
            return false;
        }
        if let Some(min) = self.updated_min
            && e.updated < min
        {
            return false;
        }
        if let Some(uid) = &self.ical_uid
            && &e.ical_uid != uid
        {
            return false;
        }
        if let Some(q) = &self.q {
            let hit = ["summary", "description", "location"]
                .iter()
                .filter_map(|k| e.fields.get(*k).and_then(Value::as_str))
                .any(|t| t.to_lowercase().contains(q.as_str()));
            if !hit {
                return false;
            }
        }
        props_match(e, "private", &self.private_props) && props_match(e, "shared", &self.shared_props)
    }

    /// `timeMin` bounds the end (exclusive), `timeMax` the start (exclusive).
    fn window_matches(&self, start_ms: i64, end_ms: i64, endless: bool) -> bool {
        let after_min = self.time_min.is_none_or(|t| endless || end_ms > t.as_millisecond());
        let before_max = self.time_max.is_none_or(|t| start_ms < t.as_millisecond());
        after_min && before_max
    }

    fn sort_key(&self, id: &str, start_ms: i64, updated: Timestamp) -> String {
        match self.order {
            Order::Id => id.to_owned(),
            Order::StartTime => format!("{}:{id}", num_key(start_ms)),
            Order::Updated => format!("{}:{id}", num_key(updated.as_microsecond())),
        }
    }
}

fn props_match(e: &StoredEvent, scope: &str, wanted: &[(String, String)]) -> bool {
    let props = e.fields.get("extendedProperties").and_then(|p| p.get(scope));
    wanted.iter().all(|(k, v)| props.and_then(|p| p.get(k)).and_then(Value::as_str) == Some(v.as_str()))
}

fn render(cal: &Calendar, item: Item<'_>, zone: &jiff::tz::TimeZone, base_url: &str) -> Value {
    match item {
        Item::Full(e) => e.render(&cal.id, &cal.summary, base_url),
        Item::Stub(e) => e.stub(),
        Item::Instance(m, occ) => series::virtual_instance(m, &occ, zone).render(&cal.id, &cal.summary, base_url),
        Item::InstanceStub(m, occ) => series::cancelled_stub(m, &occ),
    }
}

fn events_envelope(cal: &Calendar, items: Vec<Value>, now: Timestamp) -> Value {
    let updated = cal.events.values().map(|e| e.updated).max().unwrap_or(now);
    json!({
        "kind": "calendar#events",
        "etag": format!("\"{}\"", updated.as_microsecond()),
        "summary": cal.summary,
        "description": cal.description.clone().unwrap_or_default(),
        "updated": rfc3339(updated),
        "timeZone": cal.time_zone,
        "accessRole": "owner",
        "defaultReminders": [{"method": "popup", "minutes": 10}],
        "items": items,
    })
}

/// `events.instances`: the occurrences of one series, exceptions in place (§1.2).
pub fn list_instances(
    world: &World,
    calendar_id: &str,
    event_id: &str,
    q: &Query,
    ctx: &Context,
    base_url: &str,
) -> ApiResult<Value> {
    let cal = world.calendar(calendar_id)?;
    let master = cal.events.get(event_id).ok_or_else(ApiError::not_found)?;
    if master.is_cancelled() {
        return Err(ApiError::deleted());
    }
    let zone = cal.zone();
    let max = q.int("maxResults", 250, 2500)?;
    let show_deleted = q.bool("showDeleted", false)?;
    let (time_min, time_max) = (q.time("timeMin")?, q.time("timeMax")?);
    let original = match q.get("originalStart") {
        None => None,
        Some(v) => Some(
            v.parse::<Timestamp>()
                .map_err(|_| ApiError::invalid("originalStart", "originalStart must be an RFC 3339 timestamp"))?,
        ),
    };
    let fp = q.page_fingerprint();
    let page = page_token(q, fp)?;
    let horizon =
        ctx.now.checked_add(jiff::SignedDuration::from_hours(24 * ctx.horizon_days)).unwrap_or(Timestamp::MAX);
    let until = time_max.unwrap_or(if master.endless { horizon } else { Timestamp::MAX });
    let mut items: Vec<(String, Item<'_>)> = Vec::new();
    let occurrences = if master.is_master() { series::occurrences(master, &zone, until)?.0 } else { Vec::new() };
    for occ in occurrences {
        let original_ms = occ.start.instant(&zone).as_millisecond();
        if original.is_some_and(|o| o.as_millisecond() != original_ms) {
            continue;
        }
        let key = num_key(original_ms);
        let (s, e, item) = match cal.events.get(&occ.id) {
            Some(child) if child.is_cancelled() && !show_deleted => continue,
            Some(child) => (child.start_ms, child.end_ms, Item::Full(child)),
            None => (original_ms, occ.end.instant(&zone).as_millisecond(), Item::Instance(master, occ)),
        };
        let in_window =
            time_min.is_none_or(|t| e > t.as_millisecond()) && time_max.is_none_or(|t| s < t.as_millisecond());
        if in_window {
            items.push((key, item));
        }
    }
    if !master.is_master() {
        items.push((num_key(master.start_ms), Item::Full(master)));
    }
    let paged =
        paginate(items, page.as_ref().map(|p| p.k.as_str()), page.as_ref().map_or(0, |p| p.n), max, ctx.page_mode);
    let rendered: Vec<Value> = paged.items.into_iter().map(|i| render(cal, i, &zone, base_url)).collect();
    let mut out = events_envelope(cal, rendered, ctx.now);
    if let Some((k, n)) = paged.next {
        out["nextPageToken"] = json!(tokens::encode(PAGE_PREFIX, &PageToken { f: fp, s: cal.seq, k, n }));
    }
    Ok(out)
}

/// `calendarList.list` with its own sync token (§1.11).
pub fn list_calendars(world: &World, user: &User, q: &Query, ctx: &Context) -> ApiResult<Value> {
    let scope = format!("list:{}", user.email);
    let max = q.int("maxResults", 100, 250)?;
    let show_deleted = q.bool("showDeleted", false)?;
    let show_hidden = q.bool("showHidden", false)?;
    let sync = match q.get("syncToken") {
        None => None,
        Some(text) => {
            if q.has("minAccessRole") {
                return Err(ApiError::invalid("minAccessRole", "minAccessRole cannot be combined with syncToken."));
            }
            for p in ["showDeleted", "showHidden"] {
                if q.get(p).is_some_and(|v| v.eq_ignore_ascii_case("false")) {
                    return Err(ApiError::invalid(p, format!("{p} cannot be false with syncToken.")));
                }
            }
            let token = check_sync_token(text, &scope, world, ctx)?;
            if token.s > user.list_seq {
                return Err(ApiError::full_sync_required());
            }
            Some(token)
        }
    };
    let min_role_ok = match q.get("minAccessRole") {
        None | Some("freeBusyReader" | "reader" | "writer" | "owner") => true,
        Some(other) => {
            return Err(ApiError::invalid("minAccessRole", format!("Invalid value for minAccessRole: {other:?}")));
        }
    };
    let fp = q.page_fingerprint();
    let page = page_token(q, fp)?;
    let snapshot = page.as_ref().map_or(user.list_seq, |p| p.s);
    let mut items: Vec<(String, Value)> = Vec::new();
    for (id, entry) in &user.list {
        let include = match &sync {
            Some(t) => entry.changed > t.s && entry.changed <= snapshot,
            None => min_role_ok && (show_deleted || !entry.deleted) && (show_hidden || !entry.hidden),
        };
        if !include {
            continue;
        }
        let mut v = json!({"kind": "calendar#calendarListEntry", "etag": entry.etag, "id": id});
        if entry.deleted {
            v["deleted"] = json!(true);
        } else if let Some(cal) = world.calendars.get(id) {
            let m = v.as_object_mut().map(std::mem::take).unwrap_or_default();
            v = Value::Object(list_entry(m, cal, entry.primary, entry.hidden));
        }
        let key = if sync.is_some() { num_key(i64::try_from(entry.changed).unwrap_or(i64::MAX)) } else { id.clone() };
        items.push((key, v));
    }
    let paged =
        paginate(items, page.as_ref().map(|p| p.k.as_str()), page.as_ref().map_or(0, |p| p.n), max, ctx.page_mode);
    let mut out =
        json!({"kind": "calendar#calendarList", "etag": format!("\"{}\"", user.list_seq), "items": paged.items});
    match paged.next {
        Some((k, n)) => {
            out["nextPageToken"] = json!(tokens::encode(PAGE_PREFIX, &PageToken { f: fp, s: snapshot, k, n }))
        }
        None => out["nextSyncToken"] = json!(new_sync_token(&scope, snapshot, 0, world, ctx.now)),
    }
    Ok(out)
}

/// A calendar list entry's fields.
pub fn list_entry(mut m: Map<String, Value>, cal: &Calendar, primary: bool, hidden: bool) -> Map<String, Value> {
    m.insert("summary".into(), json!(cal.summary));
    if let Some(d) = &cal.description {
        m.insert("description".into(), json!(d));
    }
    m.insert("timeZone".into(), json!(cal.time_zone));
    m.insert("accessRole".into(), json!("owner"));
    m.insert("selected".into(), json!(true));
    m.insert("defaultReminders".into(), json!([]));
    if primary {
        m.insert("primary".into(), json!(true));
    }
    if hidden {
        m.insert("hidden".into(), json!(true));
    }
    m
}
