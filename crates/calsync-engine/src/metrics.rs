//! Counters of the sync engine, rendered in Prometheus text format by the server's
//! `/metrics`. Plain atomics: cheap enough to update on every write.

use crate::{PullSummary, PushSummary};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct EngineMetrics {
    runs_ok: AtomicU64,
    runs_failed: AtomicU64,
    pulled: AtomicU64,
    pushed: AtomicU64,
    conflicts: AtomicU64,
    parked: AtomicU64,
    resyncs: AtomicU64,
    brakes: AtomicU64,
    /// Sum (ms) and count of "local change → written to the provider" delays.
    push_lag_ms: AtomicU64,
    push_lag_count: AtomicU64,
}

impl EngineMetrics {
    pub fn run(&self, ok: bool) {
        if ok { &self.runs_ok } else { &self.runs_failed }.fetch_add(1, Ordering::Relaxed);
    }

    pub fn pulled(&self, s: &PullSummary) {
        self.pulled.fetch_add((s.created + s.updated + s.deleted) as u64, Ordering::Relaxed);
        self.conflicts.fetch_add(s.conflicts as u64, Ordering::Relaxed);
        self.resyncs.fetch_add(u64::from(s.resynced), Ordering::Relaxed);
        self.brakes.fetch_add(u64::from(s.braked > 0), Ordering::Relaxed);
    }

    pub fn pushed(&self, s: &PushSummary) {
        self.pushed.fetch_add((s.created + s.updated + s.deleted) as u64, Ordering::Relaxed);
        self.conflicts.fetch_add(s.conflicts as u64, Ordering::Relaxed);
        self.parked.fetch_add(s.parked as u64, Ordering::Relaxed);
        self.brakes.fetch_add(u64::from(s.braked > 0), Ordering::Relaxed);
        if s.lag_count > 0 {
            self.push_lag_ms.fetch_add(s.lag_ms_sum, Ordering::Relaxed);
            self.push_lag_count.fetch_add(s.lag_count, Ordering::Relaxed);
        }
    }

    pub fn render(&self) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        counter(
            "calsync_sync_link_runs_total",
            "Link jobs (pull, push, channel upkeep) by result; failed ones are retried with backoff.",
            &[("{result=\"ok\"}", get(&self.runs_ok)), ("{result=\"failed\"}", get(&self.runs_failed))],
        );
        counter("calsync_sync_pulled_changes_total", "Remote changes applied to the hub.", &[("", get(&self.pulled))]);
        counter("calsync_sync_pushed_writes_total", "Writes made to providers.", &[("", get(&self.pushed))]);
        counter(
            "calsync_sync_conflicts_total",
            "Events paused because both sides changed them.",
            &[("", get(&self.conflicts))],
        );
        counter("calsync_sync_parked_total", "Events a provider refused for good.", &[("", get(&self.parked))]);
        counter(
            "calsync_sync_brakes_total",
            "Links paused by a safety brake (a mass deletion held back for the user).",
            &[("", get(&self.brakes))],
        );
        counter(
            "calsync_sync_resyncs_total",
            "Full resyncs after a provider cursor expired.",
            &[("", get(&self.resyncs))],
        );
        counter(
            "calsync_sync_push_lag_seconds",
            "Delay from a local change to its write at the provider (sum and count).",
            &[("_sum", get(&self.push_lag_ms) / 1000), ("_count", get(&self.push_lag_count))],
        );
        out
    }
}
