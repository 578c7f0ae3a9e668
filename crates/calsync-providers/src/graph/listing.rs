//! Listing one calendar: Graph v1.0 has a delta only over a calendar view, a fixed window of
//! time (protocols.md §2.3), so a full listing opens a round over a window around now and a
//! delta continues it from the stored `@odata.deltaLink` (cursor.rs).
//!
//! What a round hands to the engine, per item of the view:
//! - a single event or an exception (`type` `singleInstance`/`exception`) as itself, the
//!   exception with its series and original start (map.rs); an exception is fetched once
//!   more for calsync's id (below);
//! - an unchanged occurrence not at all: its series master is fetched instead (once per
//!   round) and handed over as the series, with its RRULE, the way Google hands over series;
//!   with it go the series' cancelled occurrences in the window (series.rs), which the view
//!   never shows;
//! - a removal (`@removed`) is looked up in this calendar: gone (404) is a deletion (so is an
//!   event moved to another calendar, which keeps its immutable id there); still there means
//!   it left the window or changed outside it (§2.3, gotcha 7), and it is handed over as
//!   present, never as deleted. In a delta a removal that resolves to nothing may have been a
//!   cancelled occurrence or a whole series, which the view cannot say: at the round's end
//!   every series the cursor knows is re-checked (master gone: deleted; else the master and
//!   its cancelled occurrences again).
//!
//! Our event id (`RemoteEvent::local_id`) comes from `transactionId` on what calsync created
//! (map.rs), since the view has no `$expand`. Exceptions have none, so each one the view
//! lists is read once more with the extended property: one request per exception and round.
//!
//! Graph may repeat an entity within a page and replay changes across pages (§2.3): each
//! page hands over an id once (the last version), and handing over the same state twice is
//! harmless to the engine.

use super::GraphProvider;
use super::cursor::{Position, window_at};
use super::map::event_from_graph;
use super::request::{permanent, segment, transient};
use crate::error::ProviderError;
use crate::model::{ChangePage, PageNext, RemoteEvent, RemoteState};
use reqwest::Method;
use serde_json::Value;
use std::collections::HashMap;

/// The events of one page, in order, one per id: a later version replaces an earlier one.
#[derive(Debug, Default)]
struct Found {
    events: Vec<RemoteEvent>,
    at: HashMap<String, usize>,
}

impl Found {
    fn push(&mut self, event: RemoteEvent) {
        match self.at.get(&event.id) {
            Some(&i) => self.events[i] = event,
            None => {
                self.at.insert(event.id.clone(), self.events.len());
                self.events.push(event);
            }
        }
    }
}

/// One page's work: the calendar, whether the round is a full listing, where it stands.
#[derive(Debug)]
struct Round<'a> {
    calendar: &'a str,
    full: bool,
    pos: Position,
    found: Found,
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A page's items, one per id (the last), in the order of their last appearance's slot.
fn unique(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    for item in items {
        let Some(id) = text(&item, "id").map(str::to_owned) else { continue };
        match at.get(&id) {
            Some(&i) => out[i] = item,
            None => {
                at.insert(id, out.len());
                out.push(item);
            }
        }
    }
    out
}

fn read(v: &Value) -> Option<RemoteEvent> {
    let event = event_from_graph(v);
    if event.is_none() {
        tracing::warn!(id = ?v.get("id"), "skipping a Graph event calsync cannot read");
    }
    event
}

impl GraphProvider {
    /// One page of a round: the first of a full listing (no cursor, no page), the first of a
    /// delta (cursor), or a later one (page token).
    pub(super) async fn list_page(
        &self,
        calendar: &str,
        cursor: Option<&str>,
        page: Option<&str>,
    ) -> Result<ChangePage, ProviderError> {
        let full = cursor.is_none();
        let mut pos = match (page, cursor) {
            (Some(p), _) => Position::decode(p).ok_or_else(|| {
                permanent(0, "page_token", "the Graph page token is not one this connector wrote".into())
            })?,
            (None, Some(c)) => {
                let pos = Position::decode(c).ok_or(ProviderError::CursorExpired)?;
                // The window has rolled on: list in full over a fresh one (the engine
                // reconciles, and nothing that merely left the window is deleted).
                if !pos.is_current(self.clock.now(), self.back) {
                    return Err(ProviderError::CursorExpired);
                }
                pos
            }
            (None, None) => {
                let window = window_at(self.clock.now(), self.back, self.ahead);
                // Per calendar by id. protocols.md §2.3 lists this path under beta only (v1.0
                // documents `me/calendarView/delta`, the default calendar's): unverified on v1.0.
                let url = self.url(&format!("me/calendars/{}/calendarView/delta", segment(calendar)));
                let mut link = reqwest::Url::parse(&url).map_err(|e| permanent(0, "url", e.to_string()))?;
                link.query_pairs_mut()
                    .append_pair("startDateTime", &window.start.to_string())
                    .append_pair("endDateTime", &window.end.to_string());
                Position::new(link.to_string(), window)
            }
        };
        let mut body = match self.call(Method::GET, &pos.link, &[], None, None).await {
            // Graph v1.0 may not follow one calendar by id (beta only, §2.3). The default
            // calendar has the documented `me/calendarView/delta`: use it for that one.
            Err(ProviderError::Permanent { status: 400 | 404, .. }) if page.is_none() && cursor.is_none() => {
                let default = self.call(Method::GET, &self.url("me/calendar"), &[], None, None).await?;
                if default.get("id").and_then(Value::as_str) != Some(calendar) {
                    return Err(permanent(
                        400,
                        "delta_unsupported",
                        "Microsoft Graph follows changes only in the default Outlook calendar here; link that one"
                            .into(),
                    ));
                }
                let mut link = reqwest::Url::parse(&self.url("me/calendarView/delta"))
                    .map_err(|e| permanent(0, "url", e.to_string()))?;
                link.query_pairs_mut()
                    .append_pair("startDateTime", &pos.window().start.to_string())
                    .append_pair("endDateTime", &pos.window().end.to_string());
                pos.link = link.to_string();
                self.call(Method::GET, &pos.link, &[], None, None).await?
            }
            other => other?,
        };
        let items = match body.get_mut("value").map(Value::take) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let mut round = Round { calendar, full, pos, found: Found::default() };
        for item in unique(items) {
            self.take(&item, &mut round).await?;
        }
        let next = match (text(&body, "@odata.nextLink"), text(&body, "@odata.deltaLink")) {
            (Some(next), _) => PageNext::More(round.pos.page_token(next)),
            (None, Some(delta)) => {
                if round.pos.recheck {
                    let unseen: Vec<String> = round.pos.series.difference(&round.pos.emitted).cloned().collect();
                    for id in unseen {
                        self.take_series(&id, &mut round).await?;
                    }
                }
                PageNext::Done(round.pos.cursor(delta))
            }
            (None, None) => {
                return Err(transient("a Graph delta page had neither nextLink nor deltaLink".into(), None));
            }
        };
        Ok(ChangePage { events: round.found.events, next, window: full.then(|| round.pos.window()) })
    }

    /// One item of the view: what is alive by its type, what is gone as deleted.
    async fn take(&self, item: &Value, round: &mut Round<'_>) -> Result<(), ProviderError> {
        let Some(id) = text(item, "id") else { return Ok(()) };
        let removed = item.get("@removed").is_some();
        // The view has no `$expand` (§2.3), and an exception has no `transactionId` to fall
        // back on (map.rs): one calsync wrote is fetched for our id, so that a pull after a
        // lost answer pairs it with ours instead of copying it.
        let unpaired = text(item, "type") == Some("exception") && item.get("singleValueExtendedProperties").is_none();
        if !removed && !unpaired {
            return self.take_alive(item, round).await;
        }
        match self.fetch_event(round.calendar, id).await? {
            Some(alive) => self.take_alive(&alive, round).await,
            None => {
                round.found.push(RemoteEvent::deleted(id));
                round.pos.series.remove(id);
                // A cancelled occurrence or a deleted series looks like this too.
                round.pos.recheck |= removed && !round.full;
                Ok(())
            }
        }
    }

    /// An event Graph has, by its type.
    async fn take_alive(&self, v: &Value, round: &mut Round<'_>) -> Result<(), ProviderError> {
        match (text(v, "type"), text(v, "seriesMasterId"), text(v, "id")) {
            (Some("occurrence"), Some(master), _) | (Some("seriesMaster"), _, Some(master)) => {
                self.take_series(master, round).await
            }
            (Some("exception"), Some(master), _) => {
                round.found.extend(read(v));
                // Its series must reach the engine before (or with) it.
                if !round.pos.series.contains(master) {
                    self.take_series(master, round).await?;
                }
                Ok(())
            }
            _ => {
                round.found.extend(read(v));
                Ok(())
            }
        }
    }

    /// The series `id` with its cancelled occurrences in the window, once per round.
    async fn take_series(&self, id: &str, round: &mut Round<'_>) -> Result<(), ProviderError> {
        if !round.pos.emitted.insert(id.to_owned()) {
            return Ok(());
        }
        let Some(master) = self.fetch_event(round.calendar, id).await? else {
            round.found.push(RemoteEvent::deleted(id));
            round.pos.series.remove(id);
            return Ok(());
        };
        let Some(event) = read(&master) else { return Ok(()) };
        let is_series = matches!(&event.state, RemoteState::Present(i) if !i.recurrence.is_empty());
        if !is_series {
            // No longer a series: just the event.
            round.pos.series.remove(id);
            round.found.push(event);
            return Ok(());
        }
        round.pos.series.insert(id.to_owned());
        let cancelled = self.cancelled_in(&event, &round.pos.window()).await?;
        round.found.push(event);
        round.found.extend(cancelled);
        Ok(())
    }
}

impl Extend<RemoteEvent> for Found {
    fn extend<I: IntoIterator<Item = RemoteEvent>>(&mut self, events: I) {
        for e in events {
            self.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_keeps_one_item_per_id_the_last() {
        let items = vec![
            json!({"id": "a", "subject": "1"}),
            json!({"id": "b"}),
            json!({"no": "id"}),
            json!({"id": "a", "subject": "2"}),
        ];
        let out = unique(items);
        assert_eq!(out, vec![json!({"id": "a", "subject": "2"}), json!({"id": "b"})]);
    }

    #[test]
    fn a_later_version_of_an_event_replaces_the_earlier() {
        let mut found = Found::default();
        found.push(RemoteEvent::deleted("x"));
        found.push(RemoteEvent::deleted("y"));
        let mut again = RemoteEvent::deleted("x");
        again.etag = Some("2".into());
        found.push(again);
        assert_eq!(found.events.len(), 2);
        assert_eq!(found.events[0].etag.as_deref(), Some("2"));
    }
}
