//! Change-notification subscriptions (protocols.md §2.6, MS-SUB, MS-WH, MS-LC): creation
//! with the validation handshake, the lifetime clamp, renewal, reauthorization, deletion,
//! notifications after each committed change, and lifecycle events on demand.

use super::delivery::{Alive, Courier, Outgoing, Retry};
use super::error::{GraphError, GraphResult};
use super::ids::{self, IdType};
use super::render::{etag, precise};
use super::world::Notice;
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What a subscription watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// `me/events`: every calendar of the mailbox.
    Mailbox,
    /// `me/calendars/{id}/events` (or `me/calendar/events`).
    Calendar(u64),
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub user: String,
    pub user_id: String,
    pub client_id: String,
    pub resource: String,
    pub watched: Watched,
    pub change_types: Vec<String>,
    pub client_state: Option<String>,
    pub notification_url: String,
    pub lifecycle_url: Option<String>,
    pub expires: Timestamp,
    pub id_type: IdType,
    /// After `reauthorizationRequired`: nothing is delivered until reauthorize or PATCH.
    pub paused: bool,
}

impl Subscription {
    fn alive(&self, now: Timestamp) -> bool {
        self.expires > now
    }

    pub fn json(&self, base: &str) -> Value {
        json!({
            "@odata.context": format!("{base}/v1.0/$metadata#subscriptions/$entity"),
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.client_id,
            "changeType": self.change_types.join(","),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": null,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": precise(self.expires),
            "creatorId": self.user_id,
            "includeResourceData": false,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": null,
            "encryptionCertificateId": null,
            "notificationUrlAppId": null,
        })
    }
}

/// A checked create request (before the handshake).
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub resource: String,
    /// The calendar id the resource names (`None`: whole mailbox; `Some(None)`: default).
    pub calendar: Option<Option<String>>,
    pub change_types: Vec<String>,
    pub client_state: Option<String>,
    pub notification_url: String,
    pub lifecycle_url: Option<String>,
    pub expires: Timestamp,
}

/// Lifetime rules: at most `max_minutes` (clamped), at least `min_minutes` (raised).
#[derive(Debug, Clone, Copy)]
pub struct Lifetime {
    pub max_minutes: u32,
    pub min_minutes: u32,
}

impl Lifetime {
    pub fn clamp(self, wanted: Timestamp, now: Timestamp) -> GraphResult<Timestamp> {
        if wanted <= now {
            return Err(GraphError::invalid_request("Subscription expiration can only be in the future."));
        }
        let max = now.checked_add(SignedDuration::from_mins(i64::from(self.max_minutes))).unwrap_or(now);
        let min = now
            .checked_add(SignedDuration::from_mins(i64::from(self.min_minutes.min(self.max_minutes))))
            .unwrap_or(now);
        Ok(wanted.min(max).max(min))
    }
}

fn text<'a>(body: &'a Map<String, Value>, key: &str) -> GraphResult<Option<&'a str>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(v) => {
            Err(GraphError::body_read(format!("Cannot convert the literal '{v}' to the expected type 'Edm.String'.")))
        }
    }
}

fn check_url(url: &str, allow_loopback_http: bool, field: &str) -> GraphResult<()> {
    let parsed =
        reqwest::Url::parse(url).map_err(|_| GraphError::invalid_request(format!("{field} is not a valid URL.")))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if parsed.scheme() == "https" || (allow_loopback_http && parsed.scheme() == "http" && loopback) {
        Ok(())
    } else {
        Err(GraphError::invalid_request(format!("The {field} must be an HTTPS URL.")))
    }
}

/// The calendar a resource names: `me/events` → mailbox; `me/calendar/events` → default;
/// `me/calendars/{id}/events` → that one. `users/{id or upn}/…` when it is the caller.
pub fn parse_resource(resource: &str, user: &str, user_id: &str) -> GraphResult<Option<Option<String>>> {
    let r = resource.trim_start_matches('/');
    let parts: Vec<&str> = r.split('/').collect();
    let rest: &[&str] = match parts.as_slice() {
        [me, rest @ ..] if me.eq_ignore_ascii_case("me") => rest,
        [users, who, rest @ ..]
            if users.eq_ignore_ascii_case("users")
                && (who.eq_ignore_ascii_case(user) || who.eq_ignore_ascii_case(user_id)) =>
        {
            rest
        }
        _ => {
            return Err(GraphError::invalid_request(format!(
                "Resource '{resource}' is not supported for this caller."
            )));
        }
    };
    match rest {
        [events] if events.eq_ignore_ascii_case("events") => Ok(None),
        [cal, events] if cal.eq_ignore_ascii_case("calendar") && events.eq_ignore_ascii_case("events") => {
            Ok(Some(None))
        }
        [cals, id, events] if cals.eq_ignore_ascii_case("calendars") && events.eq_ignore_ascii_case("events") => {
            Ok(Some(Some((*id).to_owned())))
        }
        _ => Err(GraphError::invalid_request(format!(
            "Resource '{resource}' is not supported: use me/events or me/calendars/{{id}}/events."
        ))),
    }
}

/// Checks a create body (§2.6).
pub fn parse_new(
    body: &Map<String, Value>,
    allow_loopback_http: bool,
    user: &str,
    user_id: &str,
) -> GraphResult<NewSubscription> {
    let change_type =
        text(body, "changeType")?.ok_or_else(|| GraphError::invalid_request("changeType is required."))?;
    let change_types: Vec<String> = change_type.split(',').map(|c| c.trim().to_owned()).collect();
    if let Some(bad) = change_types.iter().find(|c| !["created", "updated", "deleted"].contains(&c.as_str())) {
        return Err(GraphError::invalid_request(format!(
            "'{bad}' is not a supported changeType (created, updated, deleted)."
        )));
    }
    let notification_url =
        text(body, "notificationUrl")?.ok_or_else(|| GraphError::invalid_request("notificationUrl is required."))?;
    check_url(notification_url, allow_loopback_http, "notificationUrl")?;
    let lifecycle_url = text(body, "lifecycleNotificationUrl")?;
    if let Some(l) = lifecycle_url {
        check_url(l, allow_loopback_http, "lifecycleNotificationUrl")?;
    }
    let resource = text(body, "resource")?.ok_or_else(|| GraphError::invalid_request("resource is required."))?;
    let calendar = parse_resource(resource, user, user_id)?;
    let expires = text(body, "expirationDateTime")?
        .ok_or_else(|| GraphError::invalid_request("expirationDateTime is required."))?
        .parse::<Timestamp>()
        .map_err(|_| GraphError::body_read("expirationDateTime is not a valid DateTimeOffset."))?;
    let client_state = text(body, "clientState")?;
    if client_state.is_some_and(|c| c.chars().count() > 128) {
        return Err(GraphError::invalid_request("clientState must be at most 128 characters."));
    }
    if body.get("includeResourceData").and_then(Value::as_bool) == Some(true) {
        return Err(GraphError::invalid_request(
            "includeResourceData needs an encryption certificate; the emulator sends basic notifications only.",
        ));
    }
    Ok(NewSubscription {
        resource: resource.to_owned(),
        calendar,
        change_types,
        client_state: client_state.map(str::to_owned),
        notification_url: notification_url.to_owned(),
        lifecycle_url: lifecycle_url.map(str::to_owned),
        expires,
    })
}

/// The subscriptions and the courier that delivers their notifications.
#[derive(Debug, Clone, Default)]
pub struct Subscriptions {
    subs: Arc<Mutex<BTreeMap<String, Subscription>>>,
    pub courier: Courier,
}

/// Not found (or not the caller's).
pub fn not_found() -> GraphError {
    GraphError::new(StatusCode::NOT_FOUND, "ResourceNotFound", "The object was not found.")
}

impl Subscriptions {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Subscription>> {
        self.subs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn alive_fn(&self) -> Alive {
        let subs = self.subs.clone();
        Arc::new(move |id: &str| {
            let now = Timestamp::now();
            subs.lock().unwrap_or_else(PoisonError::into_inner).get(id).is_some_and(|s| s.alive(now) && !s.paused)
        })
    }

    pub fn insert(&self, s: Subscription) {
        self.lock().insert(s.id.clone(), s);
    }

    /// The caller's subscription (same app and user), if alive; expired ones are forgotten.
    pub fn get(&self, id: &str, user: &str, client_id: &str) -> GraphResult<Subscription> {
        let mut subs = self.lock();
        let now = Timestamp::now();
        subs.retain(|_, s| s.alive(now));
        subs.get(id).filter(|s| s.user == user && s.client_id == client_id).cloned().ok_or_else(not_found)
    }

    pub fn list(&self, user: &str, client_id: &str) -> Vec<Subscription> {
        let now = Timestamp::now();
        self.lock().values().filter(|s| s.user == user && s.client_id == client_id && s.alive(now)).cloned().collect()
    }

    pub fn all(&self) -> Vec<Subscription> {
        self.lock().values().cloned().collect()
    }

    pub fn update(&self, id: &str, edit: impl FnOnce(&mut Subscription)) -> Option<Subscription> {
        let mut subs = self.lock();
        let s = subs.get_mut(id)?;
        edit(s);
        Some(s.clone())
    }

    pub fn remove(&self, id: &str) -> Option<Subscription> {
        self.lock().remove(id)
    }

    /// Queues notifications for committed changes. Call with no lock held.
    pub fn notify(&self, notices: &[Notice], tenant: &str, retry: Retry) {
        let now = Timestamp::now();
        let targets: Vec<(String, Outgoing)> = {
            let subs = self.lock();
            let mut out = Vec::new();
            for n in notices {
                for s in subs.values() {
                    let watched = match s.watched {
                        Watched::Mailbox => true,
                        Watched::Calendar(f) => f == n.folder,
                    };
                    if s.user != n.owner
                        || !watched
                        || !s.alive(now)
                        || s.paused
                        || !s.change_types.iter().any(|c| c == n.change_type)
                    {
                        continue;
                    }
                    let id = ids::event_id(s.id_type, n.folder, n.item, n.occurrence);
                    let resource = format!("Users/{}/Events/{id}", s.user_id);
                    let mut item = json!({
                        "id": ids::guid(),
                        "subscriptionId": s.id,
                        "subscriptionExpirationDateTime": precise(s.expires),
                        "changeType": n.change_type,
                        "resource": resource,
                        "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource,
                                         "@odata.etag": etag(&n.change_key), "id": id},
                        "tenantId": tenant,
                    });
                    if let Some(c) = &s.client_state {
                        item["clientState"] = json!(c);
                    }
                    out.push((
                        s.notification_url.clone(),
                        Outgoing { subscription_id: s.id.clone(), lifecycle: false, item, retry },
                    ));
                }
            }
            out
        };
        for (url, o) in targets {
            self.courier.send(&url, o, self.alive_fn());
        }
    }

    /// Sends a lifecycle event (`reauthorizationRequired`, `subscriptionRemoved`, `missed`) to
    /// the subscription's lifecycle URL. `false` when it has none.
    pub fn lifecycle(&self, s: &Subscription, event: &str, tenant: &str, retry: Retry) -> bool {
        let Some(url) = &s.lifecycle_url else { return false };
        let mut item = json!({
            "subscriptionId": s.id,
            "subscriptionExpirationDateTime": precise(s.expires),
            "tenantId": tenant,
            "lifecycleEvent": event,
        });
        if let Some(c) = &s.client_state {
            item["clientState"] = json!(c);
        }
        self.courier.send(
            url,
            Outgoing { subscription_id: s.id.clone(), lifecycle: true, item, retry },
            self.alive_fn(),
        );
        true
    }
}
