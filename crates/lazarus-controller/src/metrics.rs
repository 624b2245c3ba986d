//! Prometheus metrics, served as text on `/metrics`.
//!
//! `prometheus-client` (the Prometheus project's own Rust client) rather than the
//! `metrics` facade plus an exporter: one small crate, no global recorder, typed
//! families, and the OpenMetrics text encoder built in. Labels are plain
//! `Vec<(String, String)>` so no derive macro is needed.

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn recovery_histogram() -> Histogram {
    Histogram::new([5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0])
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ])
}

/// Every metric the controller exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    recoveries_started: Counter,
    recoveries_finished: Family<Labels, Counter>,
    steps: Family<Labels, Counter>,
    evacuations: Family<Labels, Counter>,
    nova_calls: Family<Labels, Counter>,
    alerts: Family<Labels, Counter>,
    host_health: Family<Labels, Gauge>,
    recoveries_active: Gauge,
    recovery_duration: Family<Labels, Histogram, fn() -> Histogram>,
    api_latency: Family<Labels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, registered under the `lazarus` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("lazarus");
        let m = Self {
            registry: Mutex::new(Registry::default()),
            recoveries_started: Counter::default(),
            recoveries_finished: Family::default(),
            steps: Family::default(),
            evacuations: Family::default(),
            nova_calls: Family::default(),
            alerts: Family::default(),
            host_health: Family::default(),
            recoveries_active: Gauge::default(),
            recovery_duration: Family::new_with_constructor(recovery_histogram),
            api_latency: Family::new_with_constructor(latency_histogram),
        };
        registry.register(
            "recoveries_started",
            "Host recoveries started",
            m.recoveries_started.clone(),
        );
        registry.register(
            "recoveries_finished",
            "Host recoveries finished, by outcome (done, partial, aborted)",
            m.recoveries_finished.clone(),
        );
        registry.register(
            "recovery_steps",
            "Recovery steps persisted, by kind",
            m.steps.clone(),
        );
        registry.register(
            "evacuations",
            "Evacuation requests, by result",
            m.evacuations.clone(),
        );
        registry.register(
            "nova_calls",
            "Nova calls made for the engine, by operation and result",
            m.nova_calls.clone(),
        );
        registry.register(
            "alerts",
            "Alerts raised, by kind and severity",
            m.alerts.clone(),
        );
        registry.register(
            "host_health",
            "Hosts per detector verdict",
            m.host_health.clone(),
        );
        registry.register(
            "recoveries_active",
            "Host recoveries under way",
            m.recoveries_active.clone(),
        );
        registry.register(
            "recovery_duration_seconds",
            "From the failure report to the end of the host's recovery (every protected instance recovered or given up), by outcome",
            m.recovery_duration.clone(),
        );
        registry.register(
            "api_request_duration_seconds",
            "API request latency, by method, route group and status",
            m.api_latency.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            ..m
        }
    }

    /// A recovery started.
    pub fn recovery_started(&self) {
        self.recoveries_started.inc();
    }

    /// A recovery finished with `outcome`, `seconds` after it started.
    pub fn recovery_finished(&self, outcome: &str, seconds: f64) {
        self.recoveries_finished
            .get_or_create(&labels(&[("outcome", outcome)]))
            .inc();
        self.recovery_duration
            .get_or_create(&labels(&[("outcome", outcome)]))
            .observe(seconds);
    }

    /// A step was persisted.
    pub fn step(&self, kind: &str) {
        self.steps.get_or_create(&labels(&[("kind", kind)])).inc();
    }

    /// An evacuation request ended with `result`.
    pub fn evacuation(&self, result: &str) {
        self.evacuations
            .get_or_create(&labels(&[("result", result)]))
            .inc();
    }

    /// A Nova call for the engine ended.
    pub fn nova_call(&self, operation: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.nova_calls
            .get_or_create(&labels(&[("operation", operation), ("result", result)]))
            .inc();
    }

    /// An alert was raised.
    pub fn alert(&self, kind: &str, severity: &str) {
        self.alerts
            .get_or_create(&labels(&[("kind", kind), ("severity", severity)]))
            .inc();
    }

    /// Sets how many hosts have each verdict.
    pub fn set_host_health(&self, counts: &[(&str, i64)]) {
        for (state, n) in counts {
            self.host_health
                .get_or_create(&labels(&[("state", state)]))
                .set(*n);
        }
    }

    /// Sets the number of recoveries under way.
    pub fn set_recoveries_active(&self, n: i64) {
        self.recoveries_active.set(n);
    }

    /// Records one API request.
    pub fn api_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.api_latency
            .get_or_create(&labels(&[
                ("method", method),
                ("route", route),
                ("status", &status.to_string()),
            ]))
            .observe(seconds);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match self.registry.lock() {
            Ok(r) => {
                if let Err(e) = encode(&mut out, &r) {
                    tracing::warn!(error = %e, "could not encode metrics");
                }
            }
            Err(_) => tracing::warn!("metrics registry poisoned"),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_in_the_text_exposition() {
        let m = Metrics::new();
        m.recovery_started();
        m.recovery_finished("done", 12.5);
        m.evacuation("accepted");
        m.api_request("GET", "/v1/segments", 200, 0.002);
        let text = m.render();
        assert!(
            text.contains("lazarus_recoveries_started_total 1"),
            "{text}"
        );
        assert!(
            text.contains("lazarus_recoveries_finished_total{outcome=\"done\"} 1"),
            "{text}"
        );
        assert!(text.contains("lazarus_evacuations_total{result=\"accepted\"} 1"));
        assert!(text.contains("lazarus_api_request_duration_seconds_bucket"));
        assert!(
            text.contains(
                "lazarus_recovery_duration_seconds_bucket{le=\"20.0\",outcome=\"done\"} 1"
            ),
            "{text}"
        );
    }
}
