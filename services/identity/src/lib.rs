//! The border police service: checks of persons and their travel documents.
//!
//! `domain/` holds the rules (ICAO 9303 zones, Schengen Borders Code validity), `store` the
//! SQL, `api` the tonic service that converts and validates requests.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod store;

use bordermesh_kit::{config::Config, server::ServerHandle, storage};
use bordermesh_proto::identity::v1::identity_service_server::{self, IdentityServiceServer};
use sqlx::migrate::Migrator;
use tonic::service::Routes;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Full gRPC name, as health checks and reflection report it.
pub const SERVICE_NAME: &str = identity_service_server::SERVICE_NAME;

/// Opens this service's database and serves it until `handle`'s shutdown.
pub async fn serve(config: &Config, handle: ServerHandle) -> anyhow::Result<()> {
    let url = config.database_url("identity", config.identity.database_url.as_ref());
    let pool = storage::connect(&url, &MIGRATIONS).await?;
    let api = api::IdentityApi::new(store::Store::new(pool.clone()), Default::default());
    let served = handle
        .serve(SERVICE_NAME, Routes::new(IdentityServiceServer::new(api)))
        .await;
    // Closing the last connection checkpoints SQLite's write-ahead log into the database file.
    pool.close().await;
    served
}
