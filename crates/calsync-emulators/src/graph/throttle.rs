//! Outlook's per-(app, mailbox) limits (protocols.md §2.5, MS-THR): requests per window
//! (10,000 per 10 minutes) and concurrent requests (4). Over either: 429 with `Retry-After`.

use super::error::GraphError;
use crate::faults::SlidingWindow;
use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The limits in force (from the configuration).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub rate: Option<u32>,
    pub window: Duration,
    pub concurrency: Option<u32>,
    pub concurrency_retry_after: u64,
}

#[derive(Debug, Default)]
pub struct Throttle {
    window: Mutex<SlidingWindow>,
    in_flight: Arc<Mutex<HashMap<String, u32>>>,
}

/// A concurrency slot, given back when the request is answered.
#[derive(Debug)]
pub struct Slot {
    key: String,
    in_flight: Arc<Mutex<HashMap<String, u32>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.key);
            }
        }
    }
}

impl Throttle {
    /// Admits one request of `app` on `mailbox`, or says why not. The concurrency limit is
    /// checked first: a request refused for it does not count against the rate.
    pub fn admit(&self, app: &str, mailbox: &str, limits: Limits, now: Timestamp) -> Result<Slot, GraphError> {
        let key = format!("{app}|{mailbox}");
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        let running = in_flight.get(&key).copied().unwrap_or(0);
        if limits.concurrency.is_some_and(|max| running >= max) {
            return Err(GraphError::mailbox_concurrency(limits.concurrency_retry_after));
        }
        self.window
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(&key, limits.rate, limits.window, now)
            .map_err(GraphError::too_many_requests)?;
        *in_flight.entry(key.clone()).or_insert(0) += 1;
        Ok(Slot { key, in_flight: self.in_flight.clone() })
    }
}
