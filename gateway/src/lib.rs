//! The gateway: one crossing in, every agency consulted, one decision out.
//!
//! - `api`: the tonic CrossingService: accept, read, list, watch.
//! - `saga`: the durable orchestration of one crossing across the agencies, and its recovery.
//! - `agencies`: the generated clients of the agencies, deadlines and retries.
//! - `domain`: how verdicts aggregate into one decision.
//! - `store`: crossings in the gateway's own database.
//! - `bench`: `bordermesh bench crossing`.
//! - `mesh`: the composition root that runs any one service, or all four on loopback.
//! - `cli`: the `bordermesh cross` client that submits crossings written as JSON.
#![forbid(unsafe_code)]

pub mod agencies;
pub mod api;
pub mod bench;
pub mod cli;
pub mod domain;
pub mod mesh;
pub mod saga;
pub mod store;

use std::time::Duration;

use bordermesh_kit::{config::Config, db::Db, server::ServerHandle, storage::Checkpoints};
use bordermesh_proto::crossing::v1::crossing_service_server::{self, CrossingServiceServer};
use sqlx::migrate::Migrator;
use tonic::service::Routes;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Full gRPC name, as health checks and reflection report it.
pub const SERVICE_NAME: &str = crossing_service_server::SERVICE_NAME;

/// Opens the gateway's database, connects (lazily) to the agencies, and serves until shutdown.
pub async fn serve(config: &Config, handle: ServerHandle) -> anyhow::Result<()> {
    let url = config.database_url("gateway", config.gateway.database_url.as_ref());
    let db = Db::connect(&url, &MIGRATIONS, Checkpoints::Periodic).await?;
    let agencies = agencies::Agencies::connect_lazy(&config.gateway)?;
    let saga = saga::Saga::new(
        store::Store::new(db.clone()),
        agencies,
        Duration::from_millis(config.gateway.abandon_after_ms),
    );
    let budget = Duration::from_millis(config.gateway.default_deadline_ms);
    let recovery = tokio::spawn(saga.clone().recover(
        budget,
        Duration::from_millis(config.gateway.recovery_interval_ms),
        handle.shutdown.clone(),
    ));
    let api = api::CrossingApi::new(saga, budget, config.gateway.audit_agency.clone());
    let served = handle
        .serve(SERVICE_NAME, Routes::new(CrossingServiceServer::new(api)))
        .await;
    recovery.abort();
    db.close().await;
    served
}
