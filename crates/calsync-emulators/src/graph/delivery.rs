//! Getting notifications to webhooks (protocols.md §2.6, MS-WH): the validation handshake,
//! and batched POSTs `{"value":[…]}` with a per-attempt timeout (3 s) and redeliveries with
//! doubling delays for as long as Graph keeps trying (4 h). One queue and task per URL, so a
//! URL gets its notifications in order and a slow receiver never holds up the API call that
//! caused the change. Notifications of a subscription that expired or was removed meanwhile
//! are dropped before each attempt (lifecycle events are always sent).

use super::ids::guid;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

/// How one notification is delivered (the configuration when it was queued).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub timeout: Duration,
    pub first_delay: Duration,
    pub give_up_after: Duration,
}

/// One queued notification.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub subscription_id: String,
    pub lifecycle: bool,
    pub item: Value,
    pub retry: Retry,
}

/// One POST to a receiver, for tests to assert on.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub url: String,
    /// `validation`, `change` or `lifecycle`.
    pub kind: &'static str,
    pub subscription_ids: Vec<String>,
    pub attempt: u32,
    /// The receiver's status, or `None` when it could not be reached or was too slow.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub at: Timestamp,
}

/// Whether a subscription may still receive change notifications.
pub type Alive = Arc<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Clone)]
pub struct Courier {
    queues: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Outgoing>>>>,
    log: Arc<Mutex<Vec<Delivery>>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier").finish_non_exhaustive()
    }
}

impl Default for Courier {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { queues: Arc::default(), log: Arc::default(), http }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Courier {
    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.log).clone()
    }

    pub fn clear_deliveries(&self) {
        lock(&self.log).clear();
    }

    fn record(&self, d: Delivery) {
        let mut log = lock(&self.log);
        if log.len() >= 100_000 {
            log.drain(..10_000);
        }
        log.push(d);
    }

    /// The handshake: `POST {url}?validationToken=…` (text/plain); the receiver must answer 200
    /// with the decoded token as a text/plain body within `timeout`.
    pub async fn validate(&self, url: &str, timeout: Duration) -> Result<(), String> {
        let token =
            format!("Validation: Testing client application reachability for subscription Request-Id: {}", guid());
        let encoded: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
        let sep = if url.contains('?') { '&' } else { '?' };
        let target = format!("{url}{sep}validationToken={encoded}");
        let sent =
            self.http.post(&target).header("content-type", "text/plain; charset=utf-8").timeout(timeout).send().await;
        let outcome = match sent {
            Err(e) if e.is_timeout() => Err((None, format!("no answer within {} ms", timeout.as_millis()))),
            Err(e) => Err((None, format!("unreachable: {e}"))),
            Ok(r) => {
                let status = r.status().as_u16();
                let text_plain = r
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/plain"));
                match r.text().await {
                    Ok(_) if status != 200 => Err((Some(status), format!("answered {status}, not 200"))),
                    Ok(_) if !text_plain => Err((Some(status), "the answer is not text/plain".to_owned())),
                    Ok(body) if body != token => {
                        Err((Some(status), "the answer is not the decoded validationToken".to_owned()))
                    }
                    Ok(_) => Ok(status),
                    Err(e) if e.is_timeout() => {
                        Err((Some(status), format!("no answer within {} ms", timeout.as_millis())))
                    }
                    Err(e) => Err((Some(status), format!("unreadable answer: {e}"))),
                }
            }
        };
        let (status, error) = match &outcome {
            Ok(s) => (Some(*s), None),
            Err((s, e)) => (*s, Some(e.clone())),
        };
        self.record(Delivery {
            url: url.to_owned(),
            kind: "validation",
            subscription_ids: Vec::new(),
            attempt: 1,
            status,
            error,
            at: Timestamp::now(),
        });
        outcome.map(|_| ()).map_err(|(_, e)| e)
    }

    /// Queues a notification for `url`; it goes out in the next batch to that URL.
    pub fn send(&self, url: &str, out: Outgoing, alive: Alive) {
        let mut queues = lock(&self.queues);
        if let Some(tx) = queues.get(url)
            && tx.send(out.clone()).is_ok()
        {
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(out);
        queues.insert(url.to_owned(), tx);
        tokio::spawn(deliver_loop(self.clone(), url.to_owned(), rx, alive));
    }
}

async fn deliver_loop(courier: Courier, url: String, mut rx: mpsc::UnboundedReceiver<Outgoing>, alive: Alive) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        // Lifecycle events and change notifications go out in separate POSTs.
        let (lifecycle, changes): (Vec<Outgoing>, Vec<Outgoing>) = batch.into_iter().partition(|o| o.lifecycle);
        for group in [changes, lifecycle] {
            if !group.is_empty() {
                deliver(&courier, &url, group, &alive).await;
            }
        }
    }
}

async fn deliver(courier: &Courier, url: &str, mut group: Vec<Outgoing>, alive: &Alive) {
    let Some(retry) = group.first().map(|o| o.retry) else { return };
    let started = tokio::time::Instant::now();
    let mut delay = retry.first_delay;
    let kind = if group.first().is_some_and(|o| o.lifecycle) { "lifecycle" } else { "change" };
    for attempt in 1u32.. {
        group.retain(|o| o.lifecycle || alive(&o.subscription_id));
        if group.is_empty() {
            return;
        }
        let body = json!({"value": group.iter().map(|o| o.item.clone()).collect::<Vec<_>>()});
        let sent = courier
            .http
            .post(url)
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string())
            .timeout(retry.timeout)
            .send()
            .await;
        let (status, error) = match &sent {
            Ok(r) => (Some(r.status().as_u16()), None),
            Err(e) if e.is_timeout() => (None, Some(format!("no answer within {} ms", retry.timeout.as_millis()))),
            Err(e) => (None, Some(e.to_string())),
        };
        courier.record(Delivery {
            url: url.to_owned(),
            kind,
            subscription_ids: group.iter().map(|o| o.subscription_id.clone()).collect(),
            attempt,
            status,
            error,
            at: Timestamp::now(),
        });
        if status.is_some_and(|s| (200..300).contains(&s)) {
            return;
        }
        if started.elapsed().saturating_add(delay) > retry.give_up_after {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2).min(Duration::from_secs(600));
    }
}
