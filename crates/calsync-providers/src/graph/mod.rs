//! The Microsoft Graph (Outlook) connector (protocols.md §2): hand-written requests over
//! reqwest, one connector per mailbox.
//!
//! - listing.rs: calendar-view delta rounds over a window (cursor.rs), series and their
//!   cancelled occurrences (series.rs);
//! - request.rs: the token, the `Prefer` header, at most four requests in flight, errors;
//! - subscription.rs: change notifications;
//! - map.rs: Graph's event JSON ⇄ calsync's event body.
//!
//! Ids: every request asks for immutable ids (`Prefer: IdType="ImmutableId"`, §2.1, MS-IMM),
//! so an event keeps its id when Outlook moves it. Creates carry `transactionId` (our event
//! id, map.rs): a retried create returns the first event, so [`ProviderError::Duplicate`]
//! never comes from this connector.
//!
//! Attendee mail: Graph has no counterpart of Google's `sendUpdates=none` (§2.4 lists none):
//! Outlook mails an invitation to every attendee an event on the organizer's calendar is
//! given. So calsync never writes attendees to Outlook ([`Provider::withheld`]): an event it
//! brings there is an appointment in the user's calendar, not a meeting, and nobody is
//! mailed. Attendees of a meeting made in Outlook are read when it first arrives. Editing or
//! deleting such a meeting (from the app or another provider) is the organizer changing
//! their meeting, and Outlook mails its attendees as it would for an edit in Outlook.
//! calsync never calls the actions that mail on purpose (`cancel`, `forward`, `accept`, …).

mod cursor;
mod listing;
pub mod map;
mod request;
mod series;
mod subscription;

use crate::Provider;
use crate::error::ProviderError;
use crate::model::{ChangePage, Channel, EventWrite, RemoteCalendar, RemoteEvent, RemoteState, SeriesRef};
use crate::oauth::AccessTokens;
use async_trait::async_trait;
use calsync_core::event::Status;
use calsync_core::{Clock, EventTime, SystemClock};
use jiff::SignedDuration;
use map::{LOCAL_ID_PROPERTY, event_from_graph, event_to_graph};
use request::{permanent, segment, transient};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::Value;
use series::{parse_synthetic, synthetic_id};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Outlook's limit of concurrent requests per app and mailbox (§2.5, MS-THR).
const MAILBOX_CONCURRENCY: usize = 4;
/// The default window of a listing: a year back, two ahead.
const DEFAULT_BACK: SignedDuration = SignedDuration::from_hours(24 * 365);
const DEFAULT_AHEAD: SignedDuration = SignedDuration::from_hours(24 * 730);

#[derive(Debug)]
pub struct GraphProvider {
    http: reqwest::Client,
    /// `https://graph.microsoft.com/v1.0/` or an emulator's; ends with `/`.
    api_root: String,
    tokens: AccessTokens,
    /// The `Prefer` header of every request: immutable ids, times in UTC (map.rs reads any
    /// zone; UTC keeps `originalStart` and `start` comparable at a glance), the page size.
    prefer: String,
    /// `$expand` that brings our id's extended property along on a GET (§2.2).
    expand: String,
    /// How far before and after now a full listing looks.
    back: SignedDuration,
    ahead: SignedDuration,
    clock: Arc<dyn Clock>,
    /// At most [`MAILBOX_CONCURRENCY`] requests in flight: the engine keeps one connector per
    /// account, so this is the mailbox's limit.
    in_flight: Semaphore,
}

fn prefer(page_size: Option<u32>) -> String {
    let mut p = String::from(r#"IdType="ImmutableId", outlook.timezone="UTC""#);
    if let Some(n) = page_size {
        p.push_str(&format!(", odata.maxpagesize={n}"));
    }
    p
}

impl GraphProvider {
    pub fn new(http: reqwest::Client, api_root: &str, tokens: AccessTokens) -> Self {
        let api_root = if api_root.ends_with('/') { api_root.to_owned() } else { format!("{api_root}/") };
        Self {
            http,
            api_root,
            tokens,
            prefer: prefer(None),
            expand: format!("singleValueExtendedProperties($filter=id eq '{LOCAL_ID_PROPERTY}')"),
            back: DEFAULT_BACK,
            ahead: DEFAULT_AHEAD,
            clock: Arc::new(SystemClock),
            in_flight: Semaphore::new(MAILBOX_CONCURRENCY),
        }
    }

    /// Asks for pages of at most `n` items (`Prefer: odata.maxpagesize`, §2.3; Graph may
    /// answer with fewer).
    #[must_use]
    pub fn with_page_size(mut self, n: u32) -> Self {
        self.prefer = prefer(Some(n.max(1)));
        self
    }

    /// Lists the events from `back` before now to `ahead` after (default: 365 and 730
    /// days). Events wholly outside are out of sight, never deleted for it.
    #[must_use]
    pub fn with_window(mut self, back: SignedDuration, ahead: SignedDuration) -> Self {
        self.back = back.abs();
        self.ahead = ahead.abs();
        self
    }

    /// Reads "now" (the listing window) from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// An event as written back by Graph, with our id even when the answer leaves out the
    /// extended property (it does unless expanded).
    fn written(out: &Value, write: &EventWrite<'_>) -> Result<RemoteEvent, ProviderError> {
        let mut event = event_from_graph(out)
            .ok_or_else(|| transient("Graph answered a write with an event calsync cannot read".into(), None))?;
        event.local_id.get_or_insert(write.local_id);
        Ok(event)
    }

    /// What is handed back for a cancelled occurrence we wrote: our content, as a stub
    /// under the occurrence's synthetic id (series.rs).
    fn cancelled_write(series: &SeriesRef, write: &EventWrite<'_>) -> Result<RemoteEvent, ProviderError> {
        let original = EventTime::parse(&series.original_start)
            .map_err(|e| permanent(400, "invalid", format!("the occurrence's original start: {e}")))?;
        Ok(RemoteEvent {
            id: synthetic_id(&series.series_remote_id, &original),
            etag: None,
            state: RemoteState::Present(Box::new(write.input.clone())),
            series: Some(series.clone()),
            local_id: Some(write.local_id),
            stub: true,
            updated: None,
        })
    }

    /// An exception of a remote series: the occurrence is patched into an exception, or
    /// deleted when the exception cancels it (Graph's way to cancel one occurrence, §2.4).
    async fn write_occurrence(
        &self,
        calendar: &str,
        series: &SeriesRef,
        write: &EventWrite<'_>,
    ) -> Result<RemoteEvent, ProviderError> {
        let occurrence = self.occurrence(&series.series_remote_id, &series.original_start).await?;
        let id = occurrence.as_ref().and_then(|o| o.get("id")).and_then(Value::as_str);
        if write.input.status == Status::Cancelled {
            if let Some(id) = id {
                self.delete_event(calendar, id, None).await?;
            }
            return Self::cancelled_write(series, write);
        }
        // Not listed: cancelled at Outlook (which cannot bring it back), or never there.
        let Some(id) = id else { return Err(ProviderError::NotFound) };
        let body = event_to_graph(write.input, write.local_id, false).map_err(|e| untranslatable(&e, write))?;
        let url = self.url(&format!("me/calendars/{}/events/{}", segment(calendar), segment(id)));
        let out = self.call(Method::PATCH, &url, &[], Some(&body), None).await?;
        Self::written(&out, write)
    }

    /// Deletes event `id` of `calendar`. Confined to the calendar: with immutable ids, an
    /// event the user moved to another calendar keeps its id and must not be touched there.
    async fn delete_event(&self, calendar: &str, id: &str, etag: Option<&str>) -> Result<(), ProviderError> {
        let url = self.url(&format!("me/calendars/{}/events/{}", segment(calendar), segment(id)));
        match self.call(Method::DELETE, &url, &[], None, etag).await {
            Ok(_) | Err(ProviderError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The refresh token Microsoft handed out in place of ours, once (see oauth.rs).
    pub fn take_rotated(&self) -> Option<SecretString> {
        self.tokens.take_rotated()
    }
}

/// The engine parks the event with this message: Outlook cannot hold its recurrence.
fn untranslatable(e: &calsync_core::patterned::Untranslatable, write: &EventWrite<'_>) -> ProviderError {
    permanent(400, "untranslatable", format!("{e} (recurrence: {})", write.input.recurrence.join(" ")))
}

#[async_trait]
impl Provider for GraphProvider {
    async fn calendars(&self) -> Result<Vec<RemoteCalendar>, ProviderError> {
        let items = self.collect(&self.url("me/calendars"), &[]).await?;
        Ok(items
            .iter()
            .filter_map(|c| {
                let id = c.get("id").and_then(Value::as_str)?;
                Some(RemoteCalendar {
                    id: id.to_owned(),
                    name: c.get("name").and_then(Value::as_str).unwrap_or(id).to_owned(),
                    // Graph keeps no zone per calendar (only per event and mailbox).
                    time_zone: None,
                    primary: c.get("isDefaultCalendar").and_then(Value::as_bool).unwrap_or(false),
                    writable: c.get("canEdit").and_then(Value::as_bool).unwrap_or(false),
                })
            })
            .collect())
    }

    async fn list(
        &self,
        calendar: &str,
        cursor: Option<&str>,
        page: Option<&str>,
    ) -> Result<ChangePage, ProviderError> {
        self.list_page(calendar, cursor, page).await
    }

    /// Also takes the synthetic id of a cancelled occurrence: its stub while Graph still
    /// does not list that occurrence.
    async fn get(&self, calendar: &str, remote_id: &str) -> Result<Option<RemoteEvent>, ProviderError> {
        if let Some((master, original)) = parse_synthetic(remote_id) {
            return self.cancelled_occurrence(calendar, master, original).await;
        }
        match self.fetch_event(calendar, remote_id).await? {
            None => Ok(None),
            // There, but unreadable: never "not found", which would read as deleted.
            Some(v) => event_from_graph(&v).map(Some).ok_or_else(|| {
                permanent(200, "unreadable", format!("Outlook event {remote_id} cannot be read as a calendar event"))
            }),
        }
    }

    async fn create(&self, calendar: &str, write: &EventWrite<'_>) -> Result<RemoteEvent, ProviderError> {
        if let Some(series) = write.series {
            return self.write_occurrence(calendar, series, write).await;
        }
        let body = event_to_graph(write.input, write.local_id, true).map_err(|e| untranslatable(&e, write))?;
        let url = self.url(&format!("me/calendars/{}/events", segment(calendar)));
        let out = self.call(Method::POST, &url, &[], Some(&body), None).await?;
        Self::written(&out, write)
    }

    async fn update(
        &self,
        calendar: &str,
        remote_id: &str,
        etag: Option<&str>,
        write: &EventWrite<'_>,
    ) -> Result<RemoteEvent, ProviderError> {
        if let Some((master, _)) = parse_synthetic(remote_id) {
            // A cancelled occurrence stays one: nothing to write while ours is cancelled too.
            if write.input.status == Status::Cancelled {
                let series = write.series.cloned().or_else(|| {
                    write
                        .input
                        .original_start
                        .clone()
                        .map(|original_start| SeriesRef { series_remote_id: master.to_owned(), original_start })
                });
                if let Some(series) = series {
                    return Self::cancelled_write(&series, write);
                }
            }
            return Err(permanent(
                409,
                "cancelled_occurrence",
                "this occurrence was cancelled at Outlook, and Graph cannot restore a cancelled occurrence".into(),
            ));
        }
        if write.input.status == Status::Cancelled
            && let Some(series) = write.series
        {
            // An exception that now cancels its occurrence: Graph cancels by deletion.
            self.delete_event(calendar, remote_id, etag).await?;
            return Self::cancelled_write(series, write);
        }
        let body = event_to_graph(write.input, write.local_id, false).map_err(|e| untranslatable(&e, write))?;
        let url = self.url(&format!("me/calendars/{}/events/{}", segment(calendar), segment(remote_id)));
        let out = self.call(Method::PATCH, &url, &[], Some(&body), etag).await?;
        Self::written(&out, write)
    }

    /// A synthetic id names a cancelled occurrence. Deleting it with its series gone is
    /// success; deleting it while the series lives means "bring the occurrence back", which
    /// Graph cannot do: refused, so the event waits with the reason instead of the
    /// cancellation silently coming back at the next listing.
    async fn delete(&self, calendar: &str, remote_id: &str, etag: Option<&str>) -> Result<(), ProviderError> {
        if let Some((master, _)) = parse_synthetic(remote_id) {
            if self.fetch_event(calendar, master).await?.is_none() {
                return Ok(());
            }
            return Err(permanent(
                409,
                "cancelled_occurrence",
                "this occurrence was cancelled at Outlook, and Graph cannot restore a cancelled occurrence".into(),
            ));
        }
        self.delete_event(calendar, remote_id, etag).await
    }

    /// `channel_id` is unused: Graph picks the subscription's id, which the returned channel
    /// carries.
    async fn watch(
        &self,
        calendar: &str,
        _channel_id: &str,
        token: &str,
        address: &str,
    ) -> Result<Option<Channel>, ProviderError> {
        self.subscribe(calendar, token, address).await.map(Some)
    }

    async fn unwatch(&self, channel: &Channel) -> Result<(), ProviderError> {
        self.unsubscribe(channel).await
    }

    fn take_rotated_refresh_token(&self) -> Option<SecretString> {
        self.take_rotated()
    }

    fn withheld(&self) -> &'static [calsync_core::sync::Field] {
        &[calsync_core::sync::Field::Attendees]
    }
}
