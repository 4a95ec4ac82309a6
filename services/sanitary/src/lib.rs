//! The veterinary and phytosanitary service: health entry documents and official controls of
//! animals, plants and food at the border control post.
//!
//! `domain/` holds the rules (control regimes, check selection, the CHED lifecycle, disease
//! restrictions, phytosanitary certificates, travellers' luggage) with their data files under
//! `data/`; `store` the SQL; `api` the tonic service that converts and validates requests.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod store;

use bordermesh_kit::{config::Config, server::ServerHandle, storage};
use bordermesh_proto::sanitary::v1::sanitary_service_server::{self, SanitaryServiceServer};
use sqlx::migrate::Migrator;
use tonic::service::Routes;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Full gRPC name, as health checks and reflection report it.
pub const SERVICE_NAME: &str = sanitary_service_server::SERVICE_NAME;

/// Opens this service's database and serves it until `handle`'s shutdown.
pub async fn serve(config: &Config, handle: ServerHandle) -> anyhow::Result<()> {
    let url = config.database_url("sanitary", config.sanitary.database_url.as_ref());
    let pool = storage::connect(&url, &MIGRATIONS).await?;
    // The built-in data files, with the policy overridable by `sanitary-policy.toml` in the
    // data directory.
    let rules = domain::Rulebook::load(&config.data_dir)?;
    let api = api::SanitaryApi::new(store::Store::new(pool.clone()), rules);
    let served = handle
        .serve(SERVICE_NAME, Routes::new(SanitaryServiceServer::new(api)))
        .await;
    // Closing the last connection checkpoints SQLite's write-ahead log into the database file.
    pool.close().await;
    served
}
