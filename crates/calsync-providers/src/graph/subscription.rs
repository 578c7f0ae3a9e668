//! Change notifications: Graph subscriptions on a calendar's events (protocols.md §2.6).
//!
//! Convention with the server: notifications go to the address the engine gives
//! (`{public}/webhooks/graph`), lifecycle notifications to the same path plus `/lifecycle`
//! (`{public}/webhooks/graph/lifecycle`), query kept. Graph allows the lifecycle URL only at
//! creation (MS-LC), so every subscription gets one.

use super::GraphProvider;
use super::request::{segment, transient};
use crate::error::ProviderError;
use crate::model::Channel;
use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use serde_json::{Value, json};

/// The lifetime asked for: 4,200 minutes, under both documented maxima for Outlook events
/// (4,230 in the older docs, 10,080 now). Graph may still shorten it; its answer counts.
const LIFETIME: SignedDuration = SignedDuration::from_mins(4_200);

/// `address` with `/lifecycle` appended to its path, before any query.
pub fn lifecycle_address(address: &str) -> String {
    let (path, query) = match address.find('?') {
        Some(i) => address.split_at(i),
        None => (address, ""),
    };
    format!("{}/lifecycle{query}", path.trim_end_matches('/'))
}

/// The channel Graph confirmed: its id, its (possibly clamped) expiry.
fn channel(answer: &Value, resource: &str, token: &str, asked: Timestamp) -> Result<Channel, ProviderError> {
    let id = answer
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| transient("Graph answered a subscription without an id".into(), None))?;
    let expires = answer
        .get("expirationDateTime")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok())
        .unwrap_or(asked);
    Ok(Channel {
        id: id.to_owned(),
        resource_id: resource.to_owned(),
        token: token.to_owned(),
        expires_at_ms: expires.as_millisecond(),
    })
}

impl GraphProvider {
    /// A subscription to created, updated and deleted events of `calendar`; `token` is its
    /// `clientState`, echoed in every notification.
    pub(super) async fn subscribe(&self, calendar: &str, token: &str, address: &str) -> Result<Channel, ProviderError> {
        let resource = format!("me/calendars/{calendar}/events");
        let now = self.clock.now();
        let until = now.saturating_add(LIFETIME).unwrap_or(now);
        let body = json!({
            "changeType": "created,updated,deleted",
            "notificationUrl": address,
            "lifecycleNotificationUrl": lifecycle_address(address),
            "resource": resource,
            "expirationDateTime": until.to_string(),
            "clientState": token,
        });
        let answer = self.call(Method::POST, &self.url("subscriptions"), &[], Some(&body), None).await?;
        channel(&answer, &resource, token, until)
    }

    /// Deletes the subscription; one Graph no longer has is success.
    pub(super) async fn unsubscribe(&self, channel: &Channel) -> Result<(), ProviderError> {
        let url = self.url(&format!("subscriptions/{}", segment(&channel.id)));
        match self.call(Method::DELETE, &url, &[], None, None).await {
            Ok(_) | Err(ProviderError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Extends the subscription to `until` (which also reauthorizes it, MS-LC); the returned
    /// channel has the expiry Graph granted.
    ///
    /// # Errors
    /// [`ProviderError::NotFound`] when Graph deleted it meanwhile (subscribe again).
    pub async fn renew(&self, channel: &Channel, until: Timestamp) -> Result<Channel, ProviderError> {
        let url = self.url(&format!("subscriptions/{}", segment(&channel.id)));
        let body = json!({"expirationDateTime": until.to_string()});
        let answer = self.call(Method::PATCH, &url, &[], Some(&body), None).await?;
        let mut renewed = self::channel(&answer, &channel.resource_id, &channel.token, until)?;
        // The id never changes on renewal; a sparse answer must not lose it.
        renewed.id.clone_from(&channel.id);
        Ok(renewed)
    }

    /// Answers a `reauthorizationRequired` lifecycle notification without extending the
    /// subscription (MS-LC).
    ///
    /// # Errors
    /// [`ProviderError::NotFound`] when the subscription is gone (subscribe again).
    pub async fn reauthorize(&self, channel: &Channel) -> Result<(), ProviderError> {
        let url = self.url(&format!("subscriptions/{}/reauthorize", segment(&channel.id)));
        self.call(Method::POST, &url, &[], None, None).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_address_is_the_notification_path_plus_lifecycle() {
        assert_eq!(lifecycle_address("https://h/webhooks/graph"), "https://h/webhooks/graph/lifecycle");
        assert_eq!(lifecycle_address("https://h/webhooks/graph/"), "https://h/webhooks/graph/lifecycle");
        assert_eq!(lifecycle_address("https://h/webhooks/graph?k=v"), "https://h/webhooks/graph/lifecycle?k=v");
    }

    #[test]
    fn the_channel_is_graphs_subscription_with_its_granted_expiry() {
        let asked: Timestamp = "2026-03-15T00:00:00Z".parse().unwrap_or_else(|e| panic!("{e}"));
        let answer = json!({"id": "7f105c7d", "expirationDateTime": "2026-03-14T22:00:00.0000000Z"});
        let c = channel(&answer, "me/calendars/C/events", "secret", asked).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.id, "7f105c7d");
        assert_eq!(c.resource_id, "me/calendars/C/events");
        assert_eq!(c.expires_at_ms, asked.as_millisecond() - 2 * 3_600_000);
        assert!(channel(&json!({}), "r", "t", asked).is_err());
    }
}
