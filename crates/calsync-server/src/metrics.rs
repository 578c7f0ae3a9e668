//! Prometheus text metrics: request counts and latency per route, outbox depth.
//! Hand-rolled: a dozen lines of text format do not justify a metrics framework.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    webhooks: Mutex<BTreeMap<&'static str, u64>>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry((method.to_owned(), route.to_owned())).or_default();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if seconds <= *bound {
                    h.buckets[i] += 1;
                }
            }
            h.sum += seconds;
            h.count += 1;
        }
    }

    /// A push notification's fate: `accepted`, `duplicate`, `sync`, `unknown_channel`, `bad_token`, `malformed`.
    pub fn webhook(&self, outcome: &'static str) {
        if let Ok(mut w) = self.webhooks.lock() {
            *w.entry(outcome).or_default() += 1;
        }
    }

    /// The exposition text (format 0.0.4).
    pub fn render(&self, outbox_depth: Option<i64>) -> String {
        let mut out = String::new();
        out.push_str("# HELP calsync_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE calsync_http_requests_total counter\n");
        if let Ok(r) = self.requests.lock() {
            for ((method, route, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "calsync_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP calsync_webhook_notifications_total Provider push notifications by outcome.\n");
        out.push_str("# TYPE calsync_webhook_notifications_total counter\n");
        if let Ok(w) = self.webhooks.lock() {
            for (outcome, n) in w.iter() {
                let _ = writeln!(out, "calsync_webhook_notifications_total{{outcome=\"{outcome}\"}} {n}");
            }
        }
        out.push_str("# HELP calsync_http_request_duration_seconds HTTP request latency by method and route.\n");
        out.push_str("# TYPE calsync_http_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for ((method, route), h) in l.iter() {
                let labels = format!("method=\"{method}\",route=\"{route}\"");
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "calsync_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                        h.buckets[i]
                    );
                }
                let _ =
                    writeln!(out, "calsync_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "calsync_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
                let _ = writeln!(out, "calsync_http_request_duration_seconds_count{{{labels}}} {}", h.count);
            }
        }
        if let Some(depth) = outbox_depth {
            out.push_str("# HELP calsync_outbox_depth Rows in the change log / outbox (all users).\n");
            out.push_str("# TYPE calsync_outbox_depth gauge\n");
            let _ = writeln!(out, "calsync_outbox_depth {depth}");
        }
        out
    }
}

/// Middleware: counts and times every request under its route template (never the raw
/// path, so ids do not explode the label set).
pub async fn track(State(metrics): State<std::sync::Arc<Metrics>>, request: Request, next: Next) -> Response {
    // Any token is a valid HTTP method; only the standard ones become labels, so a client
    // cannot grow the metrics without bound.
    let method = match request.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_owned(),
        _ => "OTHER".to_owned(),
    };
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}
