//! The server's configuration: command-line flags, each with an environment variable and a
//! default (flag > environment > default), parsed once in `main` and passed down by value.
//!
//! The limits live here too, because every refusal names its limit by the flag a deployer would
//! change: a 422 that says "parameter count 12000000 exceeds --max-parameters 10000000" tells the
//! user what happened and the operator what to do about it.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `trainyard`: training as a service.
#[derive(Debug, Parser)]
#[command(name = "trainyard", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server and its training workers.
    Serve(Config),
    /// Train the reference benchmark workloads (`shared/bench/README.md`) and print one JSON
    /// line per run, then a table of medians.
    Bench(BenchArgs),
}

/// `trainyard bench [W1 … W5 | all] [--reps N] [--threads T]`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Workload ids (W1…W5), names (iris-sgd…) or `all`; or `products` alone, to time the
    /// workloads' matrix products along each path (the engine's kernel, faer on 1 and 2
    /// threads); or `updates` alone, to time one optimizer apply per rule to W4's kernels.
    #[arg(default_value = "all")]
    pub workloads: Vec<String>,

    /// Timed runs per workload; the table shows the median.
    #[arg(long, default_value_t = 3)]
    pub reps: usize,

    /// Threads each run trains on (the job spec's `training.threads`): products of at least
    /// 2²³ multiply-adds are split between them. Pin with `taskset` for single-core figures.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// Everything `App::build` needs.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the log line names the real one).
    #[arg(long, env = "TRAINYARD_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Where jobs, metrics, models and datasets are kept. `sqlite://PATH` creates the file if it
    /// is missing.
    #[arg(
        long,
        env = "TRAINYARD_DATABASE_URL",
        default_value = "sqlite://trainyard.db"
    )]
    pub database_url: String,

    /// Training threads; each trains one job at a time. Default: one per core. 0 serves the
    /// API without training (jobs wait in the queue).
    #[arg(long, env = "TRAINYARD_WORKERS")]
    pub workers: Option<usize>,

    /// This node's name, recorded with every job it runs (`NODE/worker-N`). Default: the host
    /// name and the process id. Nodes sharing one PostgreSQL database need distinct names.
    #[arg(long, env = "TRAINYARD_NODE_ID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub node_id: Option<String>,

    /// Seconds a node holds a running job without renewing it. The node renews the leases of
    /// its running jobs every third of this; on PostgreSQL, another node takes over a job whose
    /// lease ran out (its node died or lost the database). Ignored by SQLite (one process).
    #[arg(
        long,
        env = "TRAINYARD_LEASE_SECS",
        default_value_t = 15,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub lease_secs: u64,

    /// Log line format.
    #[arg(long, env = "TRAINYARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// An API key (repeat the flag for several; comma-separated in the environment). With any
    /// set, every request but /healthz and /readyz must carry one as `Authorization: Bearer
    /// KEY`, or as the password of HTTP Basic (browsers ask for it on the dashboard); else 401.
    #[arg(
        long = "api-key",
        env = "TRAINYARD_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub durability: Durability,
}

/// Checkpoints of running jobs and the bound on a graceful shutdown.
#[derive(Debug, Clone, Args)]
pub struct Durability {
    /// Checkpoint a running job every this many epochs (or sooner, see
    /// --checkpoint-every-secs); 0 turns the epoch trigger off. After a crash the job continues
    /// from its latest checkpoint.
    #[arg(long, env = "TRAINYARD_CHECKPOINT_EVERY_EPOCHS", default_value_t = 100)]
    pub checkpoint_every_epochs: u64,

    /// Checkpoint a running job when this many seconds have passed since its last checkpoint
    /// (at the next optimizer step, inside an epoch if need be); 0 turns the time trigger off.
    #[arg(long, env = "TRAINYARD_CHECKPOINT_EVERY_SECS", default_value_t = 30)]
    pub checkpoint_every_secs: u64,

    /// On SIGTERM or SIGINT, the longest the server takes to checkpoint its running jobs, put
    /// them back in the queue and exit. Jobs not back by then are requeued from their latest
    /// checkpoint at the next start.
    #[arg(long, env = "TRAINYARD_SHUTDOWN_TIMEOUT_SECS", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,
}

impl Default for Durability {
    fn default() -> Self {
        Durability {
            checkpoint_every_epochs: 100,
            checkpoint_every_secs: 30,
            shutdown_timeout_secs: 10,
        }
    }
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What one request or job may ask of the server. Each refusal names the limit and its value.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest request body in bytes (JSON specs, CSV uploads, predict inputs); larger → 413.
    #[arg(long, env = "TRAINYARD_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Most cells (rows × features) of an uploaded, inline or generated dataset; more → 422.
    /// MNIST's 60000 × 784 is 47 million.
    #[arg(
        long,
        env = "TRAINYARD_MAX_DATASET_CELLS",
        default_value_t = 64_000_000
    )]
    pub max_dataset_cells: u64,

    /// Most trainable and state parameters of one network; more → 422.
    #[arg(long, env = "TRAINYARD_MAX_PARAMETERS", default_value_t = 10_000_000)]
    pub max_parameters: u64,

    /// Most work of one job, counted as optimizer steps × batch size × parameter count
    /// (the multiply-adds of one forward pass per sample seen, within a small factor); more →
    /// 422. The default is a few minutes of one core.
    #[arg(long, env = "TRAINYARD_MAX_WORK", default_value_t = 2_000_000_000_000)]
    pub max_work: u64,

    /// Most jobs waiting in the queue; a submission beyond it → 429 with Retry-After.
    #[arg(long, env = "TRAINYARD_MAX_QUEUED_JOBS", default_value_t = 1000)]
    pub max_queued_jobs: u64,

    /// Most rows in one predict request; more → 422.
    #[arg(long, env = "TRAINYARD_MAX_PREDICT_ROWS", default_value_t = 100_000)]
    pub max_predict_rows: usize,

    /// Most jobs one sweep expands into (the product of its grid's list lengths); more → 422.
    #[arg(long, env = "TRAINYARD_MAX_SWEEP_JOBS", default_value_t = 64)]
    pub max_sweep_jobs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024 * 1024,
            max_dataset_cells: 64_000_000,
            max_parameters: 10_000_000,
            max_work: 2_000_000_000_000,
            max_queued_jobs: 1000,
            max_predict_rows: 100_000,
            max_sweep_jobs: 64,
        }
    }
}

impl Config {
    /// A configuration for `database_url` with every other setting at its default, as tests and
    /// embedders start from.
    pub fn new(database_url: impl Into<String>) -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: database_url.into(),
            workers: None,
            node_id: None,
            lease_secs: 15,
            log_format: LogFormat::Text,
            api_keys: Vec::new(),
            limits: Limits::default(),
            durability: Durability::default(),
        }
    }

    /// Checks every API key ([`valid_api_key`]). The refusal names a bad key by its position
    /// and length only, never its text: a nearly right secret must not land in the logs.
    pub fn check_api_keys(&self) -> Result<(), String> {
        match self.api_keys.iter().position(|key| !valid_api_key(key)) {
            None => Ok(()),
            Some(index) => Err(format!(
                "API key {} of {} (--api-key / TRAINYARD_API_KEYS) is {} characters long; a key \
                 must be 16 to 256 visible ASCII characters other than commas (no spaces)",
                index + 1,
                self.api_keys.len(),
                self.api_keys[index].len()
            )),
        }
    }

    /// The node's name: the flag, else `HOSTNAME-PID`.
    pub fn node_id(&self) -> String {
        self.node_id.clone().unwrap_or_else(default_node_id)
    }

    /// How long a claim or a heartbeat keeps a running job.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }

    /// The number of training threads: the flag, else one per core.
    pub fn worker_count(&self) -> usize {
        self.workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
    }
}

/// Whether `key` is an API key: 16 to 256 visible ASCII characters (no commas, which separate
/// keys in the environment), long enough not to be guessed, and fit for any header.
fn valid_api_key(key: &str) -> bool {
    (16..=256).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic() && b != b',')
}

/// `HOSTNAME-PID`: unique among the processes of one machine, and readable in a job's record.
pub fn default_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_long_visible_and_may_be_repeated() {
        let serve = |args: &[&str]| {
            let mut argv = vec!["trainyard", "serve"];
            argv.extend_from_slice(args);
            match Cli::parse_from(argv).command {
                Command::Serve(config) => config,
                Command::Bench(_) => panic!("not the serve command"),
            }
        };
        assert_eq!(serve(&[]).check_api_keys(), Ok(()));
        let two = serve(&[
            "--api-key",
            "0123456789abcdef",
            "--api-key",
            "fedcba9876543210",
        ]);
        assert_eq!(two.api_keys, ["0123456789abcdef", "fedcba9876543210"]);
        assert_eq!(two.check_api_keys(), Ok(()));
        let short = serve(&["--api-key", "0123456789abcdef", "--api-key", "secret-ish"]);
        let refusal = short.check_api_keys().unwrap_err();
        assert!(refusal.starts_with("API key 2 of 2"), "{refusal}");
        assert!(!refusal.contains("secret-ish"), "{refusal}");
        assert!(
            serve(&["--api-key", "with a space 0123456"])
                .check_api_keys()
                .is_err()
        );
    }

    #[test]
    fn the_defaults_of_the_flags_match_limits_default() {
        let cli = Cli::parse_from(["trainyard", "serve"]);
        let Command::Serve(config) = cli.command else {
            panic!("not the serve command");
        };
        let defaults = Limits::default();
        assert_eq!(config.limits.max_body_bytes, defaults.max_body_bytes);
        assert_eq!(config.limits.max_dataset_cells, defaults.max_dataset_cells);
        assert_eq!(config.limits.max_parameters, defaults.max_parameters);
        assert_eq!(config.limits.max_work, defaults.max_work);
        assert_eq!(config.limits.max_queued_jobs, defaults.max_queued_jobs);
        assert_eq!(config.limits.max_predict_rows, defaults.max_predict_rows);
        assert_eq!(config.limits.max_sweep_jobs, defaults.max_sweep_jobs);
        let durability = Durability::default();
        assert_eq!(
            config.durability.checkpoint_every_epochs,
            durability.checkpoint_every_epochs
        );
        assert_eq!(
            config.durability.checkpoint_every_secs,
            durability.checkpoint_every_secs
        );
        assert_eq!(
            config.durability.shutdown_timeout_secs,
            durability.shutdown_timeout_secs
        );
        assert_eq!(config.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database_url, "sqlite://trainyard.db");
        assert_eq!(config.lease(), Duration::from_secs(15));
        assert!(
            config
                .node_id()
                .ends_with(&format!("-{}", std::process::id()))
        );
    }

    #[test]
    fn a_node_takes_its_name_and_lease_from_flags_and_refuses_a_zero_lease() {
        let cli = Cli::parse_from([
            "trainyard",
            "serve",
            "--node-id",
            "node-a",
            "--lease-secs",
            "3",
        ]);
        let Command::Serve(config) = cli.command else {
            panic!("not the serve command");
        };
        assert_eq!(config.node_id(), "node-a");
        assert_eq!(config.lease(), Duration::from_secs(3));
        assert!(Cli::try_parse_from(["trainyard", "serve", "--lease-secs", "0"]).is_err());
        assert!(Cli::try_parse_from(["trainyard", "serve", "--node-id", ""]).is_err());
    }

    #[test]
    fn flags_override_the_defaults() {
        let cli = Cli::parse_from([
            "trainyard",
            "serve",
            "--bind",
            "0.0.0.0:0",
            "--workers",
            "3",
            "--max-parameters",
            "99",
            "--log-format",
            "json",
            "--checkpoint-every-epochs",
            "3",
            "--shutdown-timeout-secs",
            "2",
        ]);
        let Command::Serve(config) = cli.command else {
            panic!("not the serve command");
        };
        assert_eq!(config.bind.port(), 0);
        assert_eq!(config.worker_count(), 3);
        assert_eq!(config.limits.max_parameters, 99);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.durability.checkpoint_every_epochs, 3);
        assert_eq!(config.durability.shutdown_timeout_secs, 2);
    }

    #[test]
    fn bench_takes_workloads_reps_and_threads() {
        let cli = Cli::parse_from(["trainyard", "bench", "W1", "w4", "--reps", "5"]);
        let Command::Bench(args) = cli.command else {
            panic!("not the bench command");
        };
        assert_eq!(args.workloads, ["W1", "w4"]);
        assert_eq!((args.reps, args.threads), (5, 1));
        let Command::Bench(args) = Cli::parse_from(["trainyard", "bench"]).command else {
            panic!("not the bench command");
        };
        assert_eq!(args.workloads, ["all"]);
    }
}
