//! The customs service: declarations of goods, cash and vehicles, their duties and taxes, and
//! referrals to the other agencies.
//!
//! `domain/` holds the rules (commodity codes, tariff arithmetic, cash controls, MRNs), `store`
//! the SQL, `api` the tonic service that converts and validates requests.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod store;

use anyhow::Context;
use bordermesh_kit::{config::Config, server::ServerHandle, storage};
use bordermesh_proto::customs::v1::customs_service_server::{self, CustomsServiceServer};
use sqlx::migrate::Migrator;
use tonic::service::Routes;

use crate::domain::{
    commodity::Nomenclature,
    referral::SanitaryReferrals,
    tariff::{DEFAULT_TARIFF, Tariff},
};

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Full gRPC name, as health checks and reflection report it.
pub const SERVICE_NAME: &str = customs_service_server::SERVICE_NAME;

/// Reads the configured tariff and nomenclature, opens the database, and serves until shutdown.
pub async fn serve(config: &Config, handle: ServerHandle) -> anyhow::Result<()> {
    let tariff = match &config.customs.tariff_path {
        Some(path) => Tariff::from_toml(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading the tariff {}", path.display()))?,
        )?,
        None => Tariff::from_toml(DEFAULT_TARIFF)?,
    };
    let nomenclature = match &config.customs.nomenclature_path {
        Some(path) => Some(Nomenclature::from_csv(
            std::fs::File::open(path)
                .with_context(|| format!("opening the nomenclature {}", path.display()))?,
        )?),
        None => None,
    };
    if let Some(nomenclature) = &nomenclature {
        tracing::info!(subheadings = nomenclature.len(), "nomenclature loaded");
    } else {
        tracing::warn!("no nomenclature configured: commodity codes are checked for format only");
    }
    let url = config.database_url("customs", config.customs.database_url.as_ref());
    let pool = storage::connect(&url, &MIGRATIONS).await?;
    let api = api::CustomsApi::new(
        store::Store::new(pool.clone()),
        tariff,
        nomenclature,
        SanitaryReferrals::default_rules()?,
    );
    let served = handle
        .serve(SERVICE_NAME, Routes::new(CustomsServiceServer::new(api)))
        .await;
    // Closing the last connection checkpoints SQLite's write-ahead log into the database file.
    pool.close().await;
    served
}
