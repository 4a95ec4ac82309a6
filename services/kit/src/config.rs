//! Layered configuration: built-in defaults, then one TOML file, then `BORDERMESH_*` variables.
//!
//! Environment variables name a nested key with a double underscore:
//! `BORDERMESH_GATEWAY__LISTEN=0.0.0.0:50051`, `BORDERMESH_CUSTOMS__DATABASE_URL=postgres://…`.

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// Prefix of every environment variable that configures bordermesh.
pub const ENV_PREFIX: &str = "BORDERMESH_";

/// Top-level keys an environment variable may set; other `BORDERMESH_*` variables (the test
/// database URL, the config file path) belong to tools, not to this file.
const ENV_KEYS: &[&str] = &[
    "data_dir",
    "drain_seconds",
    "max_connection_age_seconds",
    "max_concurrent_calls",
    "log",
    "gateway",
    "identity",
    "customs",
    "sanitary",
];

pub const GATEWAY_PORT: u16 = 50051;
pub const IDENTITY_PORT: u16 = 50052;
pub const CUSTOMS_PORT: u16 = 50053;
pub const SANITARY_PORT: u16 = 50054;

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where SQLite files live when a service has no `database_url`.
    pub data_dir: PathBuf,
    /// How long a server may drain in-flight calls after SIGTERM before it stops anyway.
    pub drain_seconds: u64,
    /// When set, a server closes each client connection after this long (gracefully), so that
    /// clients behind a connection-level load balancer reconnect and spread over the replicas.
    pub max_connection_age_seconds: Option<u64>,
    /// Calls a server answers at once; beyond them it refuses with RESOURCE_EXHAUSTED.
    pub max_concurrent_calls: usize,
    /// `tracing` filter, for example `info` or `bordermesh_gateway=debug,info`.
    pub log: String,
    pub gateway: GatewayConfig,
    pub identity: IdentityConfig,
    pub customs: CustomsConfig,
    pub sanitary: ServiceConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            drain_seconds: 10,
            max_connection_age_seconds: None,
            max_concurrent_calls: 1024,
            log: "info".to_owned(),
            gateway: GatewayConfig::default(),
            identity: IdentityConfig::default(),
            customs: CustomsConfig::default(),
            sanitary: ServiceConfig::on_port(SANITARY_PORT),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub listen: SocketAddr,
    /// sqlx URL (`sqlite://…` or `postgres://…`); a SQLite file under `data_dir` when absent.
    pub database_url: Option<String>,
}

impl ServiceConfig {
    fn on_port(port: u16) -> Self {
        Self {
            listen: loopback(port),
            database_url: None,
        }
    }
}

/// The border police service: where it listens, and the figures its checks use, which a country
/// sets within the law rather than the law itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    pub listen: SocketAddr,
    pub database_url: Option<String>,
    /// Document validity for third-country nationals (Schengen Borders Code Art. 6(1)(a)).
    pub third_country: DocumentValidityConfig,
    /// Document validity for EU, EEA and Swiss citizens (Directive 2004/38/EC Art. 5).
    pub free_movement: DocumentValidityConfig,
    /// Lowest score, from 0 to 1, at which a watchlist entry is a hit.
    pub watchlist_threshold: f64,
    /// How many days a date of birth may differ from an alert's exact date and still match.
    pub watchlist_birth_date_tolerance_days: u32,
}

/// How long a travel document must have been issued and remain valid for one category.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentValidityConfig {
    /// Months the document must stay valid after the intended date of departure; none: no rule.
    pub months_after_departure: Option<u32>,
    /// Years within which the document must have been issued, where the issue date is known.
    pub max_issue_age_years: Option<u32>,
    /// Whether a document that fails these rules is refused (true) or referred to the second
    /// line (false).
    pub refuse_invalid: bool,
}

impl Default for DocumentValidityConfig {
    fn default() -> Self {
        Self {
            months_after_departure: Some(3),
            max_issue_age_years: Some(10),
            refuse_invalid: true,
        }
    }
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            listen: loopback(IDENTITY_PORT),
            database_url: None,
            third_country: DocumentValidityConfig::default(),
            free_movement: DocumentValidityConfig {
                months_after_departure: None,
                max_issue_age_years: None,
                refuse_invalid: false,
            },
            watchlist_threshold: 0.88,
            watchlist_birth_date_tolerance_days: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    pub database_url: Option<String>,
    pub identity_url: String,
    pub customs_url: String,
    pub sanitary_url: String,
    /// Budget of a crossing when the caller sends no `grpc-timeout`.
    pub default_deadline_ms: u64,
    /// How often crossings left PENDING (an agency down, a gateway crash) are resumed.
    pub recovery_interval_ms: u64,
    /// How long a crossing may stay PENDING before it is abandoned and what the agencies
    /// recorded for it is undone.
    pub abandon_after_ms: u64,
    /// The agency (as callers name it in `x-bordermesh-agency`) whose officers may ask who
    /// accessed a traveller's records.
    pub audit_agency: String,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: loopback(GATEWAY_PORT),
            database_url: None,
            identity_url: format!("http://{}", loopback(IDENTITY_PORT)),
            customs_url: format!("http://{}", loopback(CUSTOMS_PORT)),
            sanitary_url: format!("http://{}", loopback(SANITARY_PORT)),
            default_deadline_ms: 5_000,
            recovery_interval_ms: 1_000,
            abandon_after_ms: 3_600_000,
            audit_agency: "data-protection".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomsConfig {
    pub listen: SocketAddr,
    pub database_url: Option<String>,
    /// CSV nomenclature (`section,hscode,description,parent,level`) that commodity codes are
    /// checked against; without it only the format is checked and classification is unverified.
    pub nomenclature_path: Option<PathBuf>,
    /// TOML tariff (duty and VAT rates); the built-in default tariff when absent.
    pub tariff_path: Option<PathBuf>,
}

impl Default for CustomsConfig {
    fn default() -> Self {
        Self {
            listen: loopback(CUSTOMS_PORT),
            database_url: None,
            nomenclature_path: None,
            tariff_path: None,
        }
    }
}

impl Config {
    /// Defaults, then `file` if given, then `BORDERMESH_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::prefixed(ENV_PREFIX).split("__").filter(|key| {
                let key = key.as_str().to_ascii_lowercase();
                ENV_KEYS.iter().any(|known| {
                    key.strip_prefix(known)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '_']))
                })
            }))
            .extract()
            .map_err(Box::new)
    }

    /// How a server started with this configuration listens and stops.
    pub fn server_options(&self) -> crate::server::ServerOptions {
        crate::server::ServerOptions {
            drain: std::time::Duration::from_secs(self.drain_seconds),
            max_connection_age: self
                .max_connection_age_seconds
                .map(std::time::Duration::from_secs),
            max_concurrent_calls: self.max_concurrent_calls,
        }
    }

    /// The database a service uses: its configured URL, or its own SQLite file under `data_dir`.
    pub fn database_url(&self, service: &str, configured: Option<&String>) -> String {
        match configured {
            Some(url) => url.clone(),
            None => sqlite_url(&self.data_dir.join(format!("{service}.db"))),
        }
    }
}

/// A sqlx SQLite URL that creates the file when it does not exist.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

#[cfg(test)]
// figment::Jail fixes its closure's error type; the size of figment::Error is not ours to change.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_use_the_documented_ports() {
        let config = Config::default();
        assert_eq!(config.gateway.listen.port(), 50051);
        assert_eq!(config.identity.listen.port(), 50052);
        assert_eq!(config.customs.listen.port(), 50053);
        assert_eq!(config.sanitary.listen.port(), 50054);
        assert_eq!(config.gateway.identity_url, "http://127.0.0.1:50052");
    }

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "bordermesh.toml",
                "drain_seconds = 3\n[customs]\nlisten = \"0.0.0.0:6000\"\n",
            )?;
            jail.set_env("BORDERMESH_CUSTOMS__LISTEN", "0.0.0.0:7000");
            jail.set_env("BORDERMESH_TEST_POSTGRES_URL", "postgres://ignored");
            jail.set_env("BORDERMESH_MAX_CONNECTION_AGE_SECONDS", "300");
            let config = Config::load(Some(Path::new("bordermesh.toml"))).map_err(|e| *e)?;
            assert_eq!(config.drain_seconds, 3);
            assert_eq!(config.customs.listen.port(), 7000);
            assert_eq!(config.identity.listen.port(), 50052);
            assert_eq!(
                config.server_options().max_connection_age,
                Some(std::time::Duration::from_secs(300))
            );
            Ok(())
        });
    }

    #[test]
    fn identity_rules_are_configuration() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "bordermesh.toml",
                "[identity.third_country]\nmonths_after_departure = 6\n[identity]\nwatchlist_threshold = 0.9\n",
            )?;
            let config = Config::load(Some(Path::new("bordermesh.toml"))).map_err(|e| *e)?;
            assert_eq!(
                config.identity.third_country.months_after_departure,
                Some(6)
            );
            assert_eq!(config.identity.third_country.max_issue_age_years, Some(10));
            assert_eq!(config.identity.watchlist_threshold, 0.9);
            assert_eq!(config.identity.listen.port(), 50052);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_in_the_file_are_rejected() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bordermesh.toml", "drain_secnds = 3\n")?;
            assert!(Config::load(Some(Path::new("bordermesh.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn database_defaults_to_a_sqlite_file_per_service() {
        let config = Config {
            data_dir: PathBuf::from("/var/lib/bordermesh"),
            ..Config::default()
        };
        assert_eq!(
            config.database_url("customs", None),
            "sqlite:///var/lib/bordermesh/customs.db?mode=rwc"
        );
    }
}
