//! Logs through `tracing`. Personal data (names, document numbers, dates of birth) never goes
//! into a log field or span: log record ids and codes.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber once; `RUST_LOG` wins over the configured filter.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    // A second call (tests start many servers in one process) keeps the first subscriber.
    // Logs go to stderr (stdout carries command output); colours only for a person's terminal.
    let _ = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
