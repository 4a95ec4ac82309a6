//! `bordermesh`: run the whole mesh (`up`), one service (`serve`), or submit a crossing (`cross`).
#![forbid(unsafe_code)]

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use bordermesh_gateway::{cli, mesh};
use bordermesh_kit::{
    config::{Config, GATEWAY_PORT},
    server::{ServerHandle, cancel_on_signal},
    telemetry,
};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "bordermesh",
    version,
    about = "Integrated Border Management over gRPC"
)]
struct Cli {
    /// TOML configuration file; `BORDERMESH_*` variables override it.
    #[arg(long, global = true, env = "BORDERMESH_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs all four services on 127.0.0.1 (gateway 50051, identity 50052, customs 50053,
    /// sanitary 50054) until Ctrl-C or SIGTERM.
    Up {
        /// Directory of the SQLite files (default ./data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Runs one service, as a container does.
    Serve {
        service: mesh::Service,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Submits a crossing written as proto3 JSON and prints the decision.
    Cross {
        file: PathBuf,
        /// URL of the gateway.
        #[arg(long, default_value_t = format!("http://127.0.0.1:{GATEWAY_PORT}"))]
        gateway: String,
        /// Print the whole crossing as proto3 JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Measures a service on generated data; the last line printed is one JSON object.
    Bench {
        #[command(subcommand)]
        bench: Bench,
    },
    /// Imports lost, stolen and revoked documents (CSV or JSON Lines) into the identity store.
    ImportDocuments {
        file: PathBuf,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Watchlist screening over gRPC, recall against a full scan, and the rapidfuzz baseline.
    Watchlist {
        #[arg(long, default_value_t = 1_000_000)]
        entries: usize,
        #[arg(long, default_value_t = 1_000)]
        queries: usize,
    },
    /// Lost and stolen documents: memory a record and lookup times.
    Sltd {
        #[arg(long, default_value_t = 10_000_000)]
        entries: usize,
    },
    /// Advance passenger information: whole manifests in one call.
    Manifest {
        #[arg(long, default_value_t = 500)]
        travellers: usize,
        #[arg(long, default_value_t = 1_000_000)]
        watchlist_entries: usize,
        #[arg(long, default_value_t = 1_000_000)]
        documents: usize,
    },
}

fn load_config(cli: &Cli, data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(data_dir) = data_dir {
        config.data_dir = data_dir;
    }
    telemetry::init(&config.log);
    Ok(config)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Up { data_dir } => {
            let config = load_config(&cli, data_dir.clone())?;
            let shutdown = CancellationToken::new();
            cancel_on_signal(shutdown.clone());
            let running = mesh::start(config, shutdown.clone()).await?;
            tracing::info!(
                gateway = %running.gateway,
                identity = %running.identity,
                customs = %running.customs,
                sanitary = %running.sanitary,
                "bordermesh is up"
            );
            running.wait(shutdown).await
        }
        Command::Serve { service, data_dir } => {
            let config = load_config(&cli, data_dir.clone())?;
            let shutdown = CancellationToken::new();
            cancel_on_signal(shutdown.clone());
            let handle = ServerHandle::bind(
                service.listen(&config),
                shutdown,
                Duration::from_secs(config.drain_seconds),
            )
            .await?;
            service.serve(&config, handle).await
        }
        Command::Cross {
            file,
            gateway,
            json,
        } => cli::cross(file, gateway, *json)
            .await
            .context("the crossing was not processed"),
        Command::Bench { bench } => match bench {
            Bench::Watchlist { entries, queries } => {
                bordermesh_identity::bench::watchlist(*entries, *queries).await
            }
            Bench::Sltd { entries } => bordermesh_identity::bench::sltd(*entries).await,
            Bench::Manifest {
                travellers,
                watchlist_entries,
                documents,
            } => {
                bordermesh_identity::bench::manifest(*travellers, *watchlist_entries, *documents)
                    .await
            }
        },
        Command::ImportDocuments { file, data_dir } => {
            let config = load_config(&cli, data_dir.clone())?;
            let summary = bordermesh_identity::import_documents(&config, file).await?;
            println!("{summary}");
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bordermesh: {error:#}");
            ExitCode::FAILURE
        }
    }
}
