//! The border police service: checks of persons and their travel documents.
//!
//! `domain/` holds the rules (ICAO 9303 zones, Schengen Borders Code validity), `store` the
//! SQL, `api` the tonic service that converts and validates requests.
#![forbid(unsafe_code)]

pub mod api;
pub mod bench;
pub mod domain;
pub mod import;
pub mod registers;
pub mod store;

use bordermesh_kit::{
    config::{Config, DocumentValidityConfig, IdentityConfig},
    db::Db,
    server::ServerHandle,
    storage::Checkpoints,
};
use bordermesh_proto::identity::v1::identity_service_server::{self, IdentityServiceServer};
use domain::{
    check::{CategoryRules, ValidityRules},
    watchlist::MatchRules,
};
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Full gRPC name, as health checks and reflection report it.
pub const SERVICE_NAME: &str = identity_service_server::SERVICE_NAME;

/// Opens this service's database and serves it until `handle`'s shutdown.
pub async fn serve(config: &Config, handle: ServerHandle) -> anyhow::Result<()> {
    let url = config.database_url("identity", config.identity.database_url.as_ref());
    let db = Db::connect(&url, &MIGRATIONS, Checkpoints::Periodic).await?;
    let store = store::Store::new(db.clone());
    let documents = registers::DocumentRegister::load(store.clone()).await?;
    let watchlist =
        registers::WatchlistRegister::load(&store, match_rules(&config.identity)).await?;
    tracing::info!(
        reported_documents = documents.len(),
        watchlist_entries = watchlist.len(),
        "identity registers loaded"
    );
    tokio::spawn(purge_daily(store.clone(), handle.shutdown.clone()));
    let api = api::IdentityApi::new(
        store,
        validity_rules(&config.identity),
        documents,
        watchlist,
    );
    let served = handle
        .serve(SERVICE_NAME, Routes::new(IdentityServiceServer::new(api)))
        .await;
    db.close().await;
    served
}

fn category_rules(config: &DocumentValidityConfig) -> CategoryRules {
    CategoryRules {
        months_after_departure: config.months_after_departure,
        max_issue_age_years: config.max_issue_age_years,
        refuse_invalid: config.refuse_invalid,
    }
}

/// The document validity rules a country configured for each category of traveller.
pub fn validity_rules(config: &IdentityConfig) -> ValidityRules {
    ValidityRules {
        third_country: category_rules(&config.third_country),
        free_movement: category_rules(&config.free_movement),
    }
}

/// The watchlist's threshold and date of birth tolerance as configured.
pub fn match_rules(config: &IdentityConfig) -> MatchRules {
    MatchRules {
        threshold: config.watchlist_threshold,
        birth_date_tolerance_days: config.watchlist_birth_date_tolerance_days,
    }
}

/// EES Art. 35: deletes, once a day and at start, the entry/exit files whose retention ended.
async fn purge_daily(store: store::Store, shutdown: CancellationToken) {
    let mut every_day = tokio::time::interval(std::time::Duration::from_secs(24 * 60 * 60));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every_day.tick() => {}
        }
        let today = chrono::Utc::now().date_naive();
        match store.purge_expired_crossings(today).await {
            Ok(purged) => tracing::info!(purged, "expired EES records purged"),
            Err(error) => tracing::error!(error = %error, "purging EES records failed"),
        }
    }
}

/// `bordermesh import-documents`: bulk import into the configured identity store, with a
/// progress bar; answers a one-line summary with the first rejected rows.
pub async fn import_documents(config: &Config, path: &std::path::Path) -> anyhow::Result<String> {
    let url = config.database_url("identity", config.identity.database_url.as_ref());
    let db = Db::connect(&url, &MIGRATIONS, Checkpoints::Periodic).await?;
    let summary = import::import_documents(&store::Store::new(db.clone()), path, true).await?;
    db.close().await;
    let mut text = format!(
        "imported {} reports, rejected {}",
        summary.imported, summary.rejected
    );
    for rejection in &summary.rejections {
        text.push_str("\n  ");
        text.push_str(rejection);
    }
    Ok(text)
}
