//! Reading events in bulk (protocols.md §2.4): `/events` (single instances and series
//! masters), `calendarView` and `/instances` (occurrences and exceptions in a window), with
//! `$top`/`$skip` paging and `@odata.nextLink`. `$select`, `$filter`, `$orderby` are accepted
//! and ignored.

use super::error::{GraphError, GraphResult};
use super::render::{self, View};
use super::series::{self, Occ};
use super::when::parse_bound;
use super::world::{User, World};
use jiff::Timestamp;
use serde_json::{Value, json};

/// Query pairs as sent.
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        Self(form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect())
    }

    /// Case-insensitive, as Graph reads query option names.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn without(&self, names: &[&str]) -> Vec<(String, String)> {
        self.0.iter().filter(|(k, _)| !names.iter().any(|n| n.eq_ignore_ascii_case(k))).cloned().collect()
    }

    fn number(&self, name: &str) -> GraphResult<Option<usize>> {
        self.get(name)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| GraphError::invalid_parameter(format!("Invalid value '{v}' for {name}.")))
            })
            .transpose()
    }

    /// `startDateTime`/`endDateTime`, both required.
    pub fn window(&self) -> GraphResult<(Timestamp, Timestamp)> {
        let (Some(a), Some(b)) = (self.get("startDateTime"), self.get("endDateTime")) else {
            return Err(GraphError::invalid_parameter(
                "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
            ));
        };
        let (a, b) = (parse_bound(a, "startDateTime")?, parse_bound(b, "endDateTime")?);
        if b <= a {
            return Err(GraphError::invalid_parameter(
                "The parameter 'EndDateTime' must be later than 'StartDateTime'.",
            ));
        }
        Ok((a, b))
    }
}

/// `{base}{path}?{pairs}`, with OData's `$` kept literal in option names (`$skiptoken=`).
pub fn link(base: &str, path: &str, pairs: &[(String, String)]) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let q =
        pairs.iter().map(|(k, v)| format!("{}={}", enc(k).replace("%24", "$"), enc(v))).collect::<Vec<_>>().join("&");
    if q.is_empty() { format!("{base}{path}") } else { format!("{base}{path}?{q}") }
}

/// Page size and offset of a list request.
pub struct Paging {
    pub top: usize,
    pub skip: usize,
}

impl Paging {
    pub fn parse(q: &Query, preferred: Option<usize>, default: usize, max: usize) -> GraphResult<Self> {
        let top = q.number("$top")?.or(preferred).unwrap_or(default).clamp(1, max.max(1));
        Ok(Self { top, skip: q.number("$skip")?.unwrap_or(0) })
    }
}

/// One page of `items` with `@odata.nextLink` (the same query with a later `$skip`) when more remain.
pub fn page(items: Vec<Value>, q: &Query, paging: &Paging, base: &str, path: &str, context: &str) -> Value {
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(paging.skip).take(paging.top).collect();
    let mut out = json!({"@odata.context": context, "value": value});
    if paging.skip.saturating_add(paging.top) < total {
        let mut pairs = q.without(&["$skip", "$top"]);
        pairs.push(("$top".into(), paging.top.to_string()));
        pairs.push(("$skip".into(), (paging.skip + paging.top).to_string()));
        out["@odata.nextLink"] = json!(link(base, path, &pairs));
    }
    out
}

/// Single instances and series masters of a calendar, by start.
pub fn events(world: &World, owner: &User, folder: u64, view: &View) -> Vec<Value> {
    let mut list: Vec<_> = world.events.values().filter(|e| e.folder == folder).collect();
    list.sort_by_key(|e| (e.times.start_at(), e.item));
    list.into_iter().map(|e| render::event(view, owner, e, None)).collect()
}

/// Everything a calendar shows in `[from, to)`: single instances, occurrences, exceptions.
pub fn calendar_view(
    world: &World,
    owner: &User,
    folder: u64,
    from: Timestamp,
    to: Timestamp,
    view: &View,
) -> GraphResult<Vec<Value>> {
    let mut rows: Vec<(Timestamp, u128, i64, Value)> = Vec::new();
    for e in world.events.values().filter(|e| e.folder == folder) {
        if e.is_master() {
            for o in series::in_window(e, from, to)? {
                rows.push((o.times.start_at(), e.item, o.key, render::event(view, owner, e, Some(&o))));
            }
        } else if e.times.overlaps(from, to) {
            rows.push((e.times.start_at(), e.item, 0, render::event(view, owner, e, None)));
        }
    }
    rows.sort_by_key(|(s, i, k, _)| (*s, *i, *k));
    Ok(rows.into_iter().map(|(_, _, _, v)| v).collect())
}

/// The occurrences and exceptions of one series in `[from, to)`. A single instance has none.
pub fn instances(
    world: &World,
    owner: &User,
    item: u128,
    from: Timestamp,
    to: Timestamp,
    view: &View,
) -> GraphResult<Vec<Value>> {
    let e = world.event(item)?;
    let occs: Vec<Occ> = if e.is_master() { series::in_window(e, from, to)? } else { Vec::new() };
    Ok(occs.iter().map(|o| render::event(view, owner, e, Some(o))).collect())
}
