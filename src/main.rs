//! The `trainyard` binary: parse the command line, then either start logging, build the app and
//! serve until SIGINT or SIGTERM, or run the training benchmark (`trainyard bench`).

use clap::Parser;
use trainyard::app::App;
use trainyard::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(config) => {
            trainyard::telemetry::init(config.log_format);
            let app = App::build(config).await?;
            let token = app.shutdown_token();
            tokio::spawn(async move {
                stop_signal().await;
                tracing::info!("shutting down");
                token.cancel();
            });
            app.run_until_stopped().await?;
        }
        Command::Bench(args) => {
            let result = tokio::task::spawn_blocking(move || {
                trainyard::bench::main(&args.workloads, args.reps, args.threads)
            })
            .await?;
            result.map_err(anyhow::Error::msg)?;
        }
    }
    Ok(())
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
async fn stop_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
