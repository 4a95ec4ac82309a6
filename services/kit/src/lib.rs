//! The runtime every bordermesh server shares.
//!
//! - [`admission`]: load shedding with RESOURCE_EXHAUSTED beyond a server's capacity.
//! - [`config`]: layered configuration (defaults, one TOML file, `BORDERMESH_*` variables).
//! - [`telemetry`]: `tracing` logs, OTLP traces and metrics, W3C trace context propagation;
//!   never personal data, only ids.
//! - [`metrics`]: RPC counts and latencies by method and status code.
//! - [`server`]: the bootstrap every service runs: health per service, reflection, tracing spans
//!   per RPC, graceful shutdown with a bounded drain.
//! - [`error`]: AIP-193 errors: `google.rpc.Status` with `BadRequest` field violations and
//!   `ErrorInfo`; internal causes are logged, never returned.
//! - [`validate`]: the shared parsers that turn proto fields into domain values and collect
//!   field violations on the way.
//! - [`db`]: the stores' database: SQLite (embedded default) called on the caller's thread,
//!   PostgreSQL through a sqlx pool; one API for both.
//! - [`storage`]: engines, migrations, SQLite's background checkpoint, record encoding.
//! - [`idempotency`]: AIP-155 request ids: a repeat returns the saved first answer.
//! - [`writes`]: statements, and a call's writes gathered and committed together (group commit).
#![forbid(unsafe_code)]

pub mod admission;
pub mod config;
pub mod db;
pub mod error;
pub mod idempotency;
pub mod metrics;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod validate;
pub mod writes;
