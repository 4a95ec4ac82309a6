//! The customs service: declarations of goods, cash and vehicles, their duties and taxes, risk
//! lanes, transit movements, and referrals to the other agencies.
//!
//! `domain/` holds the rules (commodity codes, tariff arithmetic, allowances, cash controls,
//! risk selectivity, transit, MRNs), `store` the SQL, `api` the tonic service that converts and
//! validates requests, `bench` the latency benchmark of `bordermesh bench declaration`.
#![forbid(unsafe_code)]

pub mod api;
pub mod bench;
pub mod domain;
pub mod store;

use std::path::Path;

use anyhow::Context;
use bordermesh_kit::{config::Config, db::Db, server::ServerHandle, storage};
use bordermesh_proto::customs::v1::customs_service_server::{self, CustomsServiceServer};
use sqlx::migrate::Migrator;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::{
    api::{Rulebook, RulesInForce},
    domain::{
        commodity::Nomenclature,
        referral::ReferralTable,
        risk::{DEFAULT_RISK_PROFILES, RiskProfiles},
        tariff::{DEFAULT_TARIFF, Tariff},
    },
};

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Full gRPC name, as health checks and reflection report it.
pub const SERVICE_NAME: &str = customs_service_server::SERVICE_NAME;

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading the {what} {}", path.display()))
}

/// Reads the configured tariff (and the risk profiles it names), the nomenclature and the
/// referral tables.
pub fn load_rulebook(config: &Config) -> anyhow::Result<Rulebook> {
    let tariff = match &config.customs.tariff_path {
        Some(path) => Tariff::from_toml(&read(path, "tariff")?)
            .with_context(|| format!("in the tariff {}", path.display()))?,
        None => Tariff::from_toml(DEFAULT_TARIFF)?,
    };
    let risk = match (&tariff.risk_profiles, &config.customs.tariff_path) {
        (Some(name), Some(tariff_path)) => {
            let path = tariff_path
                .parent()
                .unwrap_or_else(|| Path::new("."))
                .join(name);
            RiskProfiles::from_toml(&read(&path, "risk profiles")?)
                .with_context(|| format!("in the risk profiles {}", path.display()))?
        }
        _ => RiskProfiles::from_toml(DEFAULT_RISK_PROFILES)?,
    };
    let nomenclature = match &config.customs.nomenclature_path {
        Some(path) => Some(Nomenclature::from_csv(
            std::fs::File::open(path)
                .with_context(|| format!("opening the nomenclature {}", path.display()))?,
        )?),
        None => None,
    };
    Ok(Rulebook {
        tariff,
        nomenclature,
        sanitary: ReferralTable::sanitary()?,
        licences: ReferralTable::licences()?,
        risk,
    })
}

/// Reloads the rulebook on SIGHUP until shutdown; a file that fails to load leaves the rules in
/// force untouched.
#[cfg(unix)]
fn reload_on_hangup(config: Config, rules: RulesInForce, shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; the tariff is read at start only");
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = hangup.recv() => match load_rulebook(&config) {
                    Ok(rulebook) => {
                        tracing::info!(risk_rule_set = %rulebook.risk.version, "customs rules reloaded");
                        rules.replace(rulebook);
                    }
                    Err(error) => tracing::error!(error = %format!("{error:#}"), "customs rules not reloaded; the previous ones stay in force"),
                },
            }
        }
    });
}

#[cfg(not(unix))]
fn reload_on_hangup(_config: Config, _rules: RulesInForce, _shutdown: CancellationToken) {}

/// Reads the rules, opens the database, and serves until shutdown.
pub async fn serve(config: &Config, handle: ServerHandle) -> anyhow::Result<()> {
    let rulebook = load_rulebook(config)?;
    match &rulebook.nomenclature {
        Some(nomenclature) => {
            tracing::info!(subheadings = nomenclature.len(), "nomenclature loaded");
        }
        None => {
            tracing::warn!(
                "no nomenclature configured: commodity codes are checked for format only"
            );
        }
    }
    let url = config.database_url("customs", config.customs.database_url.as_ref());
    // A declaration's record and saved answer run to several pages each (about 11 kB for a
    // hundred goods items), and the declarant waits on every commit.
    let db = Db::connect(&url, &MIGRATIONS, storage::Checkpoints::Small).await?;
    let store = store::Store::new(db.clone());
    let rules = RulesInForce::new(rulebook);
    reload_on_hangup(config.clone(), rules.clone(), handle.shutdown.clone());
    let api = api::CustomsApi::new(store, rules);
    let served = handle
        .serve(SERVICE_NAME, Routes::new(CustomsServiceServer::new(api)))
        .await;
    db.close().await;
    served
}
