//! The veterinary and phytosanitary service: health entry documents and official controls of
//! animals, plants and food at the border control post.
//!
//! A consignment's life here: the operator pre-notifies it (`SubmitChed`, CHED Part I); the
//! gateway asks which document and checks it needs (`AssessConsignments`, which links the CHED
//! and the ePhyto certificate presented, refuses restricted origins and draws the checks from the
//! request id); goods customs referred get their CHED later (`PresentChed`); the inspector's
//! result becomes the decision (`RecordInspectionResult`, Part II) and is read back through
//! `GetAssessment` and `GetChed`; `RecordFollowUp` (Part III) closes the document.
//! Travellers' luggage is checked apart (`CheckLuggage`), seizures recorded.
//!
//! - `domain/`: the rules, pure: control regimes, species, check selection, the CHED lifecycle,
//!   disease restrictions, phytosanitary certificates, luggage; their data lives in `data/`
//!   (see `data/README.md`), the policy in `data/policy.toml`, overridable by
//!   `sanitary-policy.toml` in the data directory.
//! - `store`: the SQL, the same on SQLite and PostgreSQL.
//! - `api/`: the tonic service, one file per concern, converting and validating requests.
#![forbid(unsafe_code)]

pub mod api;
pub mod domain;
pub mod store;

use bordermesh_kit::{config::Config, db::Db, server::ServerHandle, storage::Checkpoints};
use bordermesh_proto::sanitary::v1::sanitary_service_server::{self, SanitaryServiceServer};
use sqlx::migrate::Migrator;
use tonic::service::Routes;

pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Full gRPC name, as health checks and reflection report it.
pub const SERVICE_NAME: &str = sanitary_service_server::SERVICE_NAME;

/// Opens this service's database and serves it until `handle`'s shutdown.
pub async fn serve(config: &Config, handle: ServerHandle) -> anyhow::Result<()> {
    let url = config.database_url("sanitary", config.sanitary.database_url.as_ref());
    let db = Db::connect(&url, &MIGRATIONS, Checkpoints::Periodic).await?;
    // The built-in data files, with the policy overridable by `sanitary-policy.toml` in the
    // data directory.
    let rules = domain::Rulebook::load(&config.data_dir)?;
    let api = api::SanitaryApi::new(store::Store::new(db.clone()), rules);
    let served = handle
        .serve(SERVICE_NAME, Routes::new(SanitaryServiceServer::new(api)))
        .await;
    db.close().await;
    served
}
