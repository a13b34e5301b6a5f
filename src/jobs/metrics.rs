//! [`ServiceMetrics`]: the Prometheus registry of the service, owned by the [`JobQueue`]
//! (reached from the app state; no global recorder) and served as text at `GET /metrics`.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `trainyard_jobs` | gauge | `status` | jobs in each status, read from the store at scrape time |
//! | `trainyard_queue_depth` | gauge | | queued jobs (scrape time) |
//! | `trainyard_running_jobs` | gauge | | jobs training on this server's workers (scrape time) |
//! | `trainyard_epochs_trained_total` | counter | | epochs completed by every job |
//! | `trainyard_samples_trained_total` | counter | | training rows seen (rows × epochs) |
//! | `trainyard_job_duration_seconds` | histogram | `status` | claim to end of each attempt |
//! | `trainyard_job_queue_wait_seconds` | histogram | | submission to claim |
//! | `trainyard_http_requests_total` | counter | `method`, `route`, `status` | answered requests |
//! | `trainyard_http_request_duration_seconds` | histogram | `method`, `route`, `status` | time to the response head |
//! | `trainyard_build_info` | gauge (1) | `version` | the running build |
//!
//! `route` is the route template (`/v1/jobs/{id}`), never the raw path, so ids do not multiply
//! the series.
//!
//! [`JobQueue`]: super::JobQueue

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::JobStatus;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

/// Every metric of the service and the registry that serves them.
#[derive(Debug)]
pub struct ServiceMetrics {
    registry: Registry,
    jobs: Family<StatusLabel, Gauge>,
    queue_depth: Gauge,
    running_jobs: Gauge,
    epochs_trained: Counter,
    samples_trained: Counter,
    job_duration: Family<StatusLabel, Histogram>,
    queue_wait: Histogram,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpLabels, Histogram>,
}

/// Job-length buckets: 10 ms to about 5.8 h in factors of 4.
fn job_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 4.0, 12))
}

/// Request-latency buckets: 0.5 ms to about 16 s in factors of 4.
fn http_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 4.0, 9))
}

impl Default for ServiceMetrics {
    fn default() -> Self {
        ServiceMetrics::new()
    }
}

impl ServiceMetrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("trainyard");
        let jobs = Family::<StatusLabel, Gauge>::default();
        registry.register("jobs", "Jobs in each status", jobs.clone());
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Jobs waiting in the queue",
            queue_depth.clone(),
        );
        let running_jobs = Gauge::default();
        registry.register(
            "running_jobs",
            "Jobs training on this server's workers",
            running_jobs.clone(),
        );
        // The registry appends `_total` to counters.
        let epochs_trained = Counter::default();
        registry.register(
            "epochs_trained",
            "Epochs completed by all jobs",
            epochs_trained.clone(),
        );
        let samples_trained = Counter::default();
        registry.register(
            "samples_trained",
            "Training samples processed (rows times epochs)",
            samples_trained.clone(),
        );
        let job_duration = Family::<StatusLabel, Histogram>::new_with_constructor(job_buckets as _);
        registry.register(
            "job_duration_seconds",
            "Time from claim to the end of a job attempt",
            job_duration.clone(),
        );
        let queue_wait = job_buckets();
        registry.register(
            "job_queue_wait_seconds",
            "Time a job waited in the queue before a worker claimed it",
            queue_wait.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template and status",
            http_requests.clone(),
        );
        let http_duration =
            Family::<HttpLabels, Histogram>::new_with_constructor(http_buckets as _);
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency to the response head, by route template and status",
            http_duration.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .set(1);
        registry.register("build_info", "The running build (value 1)", build_info);
        ServiceMetrics {
            registry,
            jobs,
            queue_depth,
            running_jobs,
            epochs_trained,
            samples_trained,
            job_duration,
            queue_wait,
            http_requests,
            http_duration,
        }
    }

    /// One finished epoch over `samples` training rows.
    pub fn epoch_trained(&self, samples: u64) {
        self.epochs_trained.inc();
        self.samples_trained.inc_by(samples);
    }

    /// A job attempt that ended as `status` after `seconds` of work.
    pub fn job_ended(&self, status: JobStatus, seconds: f64) {
        self.job_duration
            .get_or_create(&StatusLabel {
                status: status.as_str().to_owned(),
            })
            .observe(seconds.max(0.0));
    }

    /// A job claimed after waiting `seconds` in the queue.
    pub fn job_claimed(&self, seconds: f64) {
        self.queue_wait.observe(seconds.max(0.0));
    }

    /// An answered HTTP request.
    pub fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = HttpLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status: status.to_string(),
        };
        self.http_requests.get_or_create(&labels).inc();
        self.http_duration.get_or_create(&labels).observe(seconds);
    }

    /// Sets the scrape-time gauges and renders the text exposition format.
    pub fn render(&self, by_status: &[(JobStatus, u64)], running: usize) -> String {
        for status in JobStatus::ALL {
            let count = by_status
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            self.jobs
                .get_or_create(&StatusLabel {
                    status: status.as_str().to_owned(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
            if status == JobStatus::Queued {
                self.queue_depth
                    .set(i64::try_from(count).unwrap_or(i64::MAX));
            }
        }
        self.running_jobs
            .set(i64::try_from(running).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_metric_with_prometheus_suffixes() {
        let metrics = ServiceMetrics::new();
        metrics.epoch_trained(105);
        metrics.epoch_trained(105);
        metrics.http_request("GET", "/v1/jobs/{id}", 200, 0.002);
        let text = metrics.render(&[(JobStatus::Succeeded, 3)], 0);
        for line in [
            "trainyard_jobs{status=\"succeeded\"} 3",
            "trainyard_jobs{status=\"failed\"} 0",
            "trainyard_queue_depth 0",
            "trainyard_epochs_trained_total 2",
            "trainyard_samples_trained_total 210",
            "trainyard_http_requests_total{method=\"GET\",route=\"/v1/jobs/{id}\",status=\"200\"} 1",
            "trainyard_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/jobs/{id}\",status=\"200\"} 1",
            "# TYPE trainyard_job_queue_wait_seconds histogram",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(text.contains("trainyard_build_info{version="));
    }
}
