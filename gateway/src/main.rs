//! `bordermesh`: run the whole mesh (`up`), one service (`serve`), or submit a crossing (`cross`).
#![forbid(unsafe_code)]

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use bordermesh_gateway::{bench, cli, mesh};
use bordermesh_kit::{
    config::{Config, GATEWAY_PORT},
    server::{ServerHandle, cancel_on_signal},
    telemetry,
};
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

// glibc's malloc took about a sixth of a crossing's CPU (its fastbin consolidation and arena
// locks); jemalloc gives that back and, unlike mimalloc, returns what the document register's
// load frees (see BENCHMARKS.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Measures a service on loopback on generated data; the last line printed is one JSON
    /// object.
    Bench {
        #[command(subcommand)]
        bench: Bench,
    },
    /// Recomputes a crossing's decision from the recorded answers and says whether it matches.
    Replay {
        crossing_id: String,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Works on the gateway's audit trail of access to personal data.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
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
    /// Assesses declarations of N goods items through CustomsService.
    Declaration {
        #[arg(long)]
        items: usize,
    },
    /// Standard crossings through the whole mesh against a bare RPC through the same stack.
    Crossing(CrossingLoad),
    /// The least durable writing a crossing's saga allows, against a bare RPC: the ceiling of
    /// `bench crossing`'s ratio on this machine and store.
    StorageFloor(CrossingLoad),
}

/// How long, how hard and on which store a crossing bench runs.
#[derive(Args)]
struct CrossingLoad {
    /// Seconds each half of the measurement runs.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Crossings in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, value_enum, default_value_t = bench::BenchStore::Sqlite)]
    store: bench::BenchStore,
}

impl CrossingLoad {
    fn duration(&self) -> Duration {
        Duration::from_secs(self.duration)
    }
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Checks the hash chain; exits non-zero when an entry was altered or removed.
    Verify {
        /// Directory of the SQLite files, when the gateway has no database_url.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn load_config(cli: &Cli, data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(data_dir) = data_dir {
        config.data_dir = data_dir;
    }
    Ok(config)
}

/// Runs `servers` with telemetry named `service`, and flushes it once they stop.
async fn with_telemetry(
    config: &Config,
    service: &str,
    servers: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let telemetry = telemetry::init(&config.log, service)?;
    let result = servers.await;
    telemetry.shutdown().await;
    result
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Up { data_dir } => {
            let config = load_config(&cli, data_dir.clone())?;
            with_telemetry(&config, "bordermesh", async {
                let shutdown = CancellationToken::new();
                cancel_on_signal(shutdown.clone());
                let running = mesh::start(config.clone(), shutdown.clone()).await?;
                tracing::info!(
                    gateway = %running.gateway,
                    identity = %running.identity,
                    customs = %running.customs,
                    sanitary = %running.sanitary,
                    "bordermesh is up"
                );
                running.wait(shutdown).await
            })
            .await
        }
        Command::Serve { service, data_dir } => {
            let config = load_config(&cli, data_dir.clone())?;
            let name = format!("bordermesh-{}", service.name());
            with_telemetry(&config, &name, async {
                let shutdown = CancellationToken::new();
                cancel_on_signal(shutdown.clone());
                let handle =
                    ServerHandle::bind(service.listen(&config), shutdown, config.server_options())
                        .await?;
                service.serve(&config, handle).await
            })
            .await
        }
        Command::Bench { bench } => match bench {
            Bench::Crossing(load) => {
                bench::crossing(load.duration(), load.concurrency, load.store).await
            }
            Bench::StorageFloor(load) => {
                bench::storage_floor(load.duration(), load.concurrency, load.store).await
            }
            Bench::Declaration { items } => bordermesh_customs::bench::declaration(*items).await,
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
        Command::Replay {
            crossing_id,
            data_dir,
        } => {
            let config = load_config(&cli, data_dir.clone())?;
            let url = config.database_url("gateway", config.gateway.database_url.as_ref());
            if cli::replay(&url, crossing_id).await? {
                Ok(())
            } else {
                anyhow::bail!("the replayed decision differs from the stored one")
            }
        }
        Command::Audit {
            command: AuditCommand::Verify { data_dir },
        } => {
            let config = load_config(&cli, data_dir.clone())?;
            let url = config.database_url("gateway", config.gateway.database_url.as_ref());
            if cli::verify_audit(&url).await? {
                Ok(())
            } else {
                anyhow::bail!("the audit trail was tampered with")
            }
        }
        Command::Cross {
            file,
            gateway,
            json,
        } => cli::cross(file, gateway, *json)
            .await
            .context("the crossing was not processed"),
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
