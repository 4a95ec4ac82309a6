//! Helpers for the workspace-level tests: the whole mesh started in-process on loopback port 0,
//! each service with its own SQLite file in a temporary directory, called through the
//! generated clients exactly as a national system would.
#![forbid(unsafe_code)]

use std::{net::SocketAddr, path::PathBuf};

use bordermesh_gateway::mesh;
use bordermesh_kit::config::Config;
use bordermesh_proto::crossing::v1::{
    ProcessCrossingRequest, crossing_service_client::CrossingServiceClient,
};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// The HS 2022 nomenclature every developer and CI share beside the checkout.
pub fn shared_nomenclature() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/hs2022/harmonized-system.csv")
}

pub fn example(name: &str) -> ProcessCrossingRequest {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/crossings")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bordermesh_gateway::cli::read_request(&text)
        .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
}

/// A running mesh; dropping it stops the servers.
pub struct TestMesh {
    pub gateway: SocketAddr,
    pub identity: SocketAddr,
    pub customs: SocketAddr,
    pub sanitary: SocketAddr,
    pub data_dir: tempfile::TempDir,
    shutdown: CancellationToken,
}

impl TestMesh {
    /// Starts the four services on port 0 with the shared nomenclature configured.
    pub async fn start() -> Self {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let mut config = Config {
            data_dir: data_dir.path().to_path_buf(),
            drain_seconds: 2,
            ..Config::default()
        };
        let any_port: SocketAddr = "127.0.0.1:0".parse().expect("loopback address");
        config.gateway.listen = any_port;
        config.identity.listen = any_port;
        config.customs.listen = any_port;
        config.sanitary.listen = any_port;
        config.customs.nomenclature_path = Some(shared_nomenclature());
        let shutdown = CancellationToken::new();
        let running = mesh::start(config, shutdown.clone())
            .await
            .expect("mesh starts");
        let (gateway, identity, customs, sanitary) = (
            running.gateway,
            running.identity,
            running.customs,
            running.sanitary,
        );
        tokio::spawn(running.wait(shutdown.clone()));
        Self {
            gateway,
            identity,
            customs,
            sanitary,
            data_dir,
            shutdown,
        }
    }

    pub async fn channel(addr: SocketAddr) -> Channel {
        Channel::from_shared(format!("http://{addr}"))
            .expect("valid URL")
            .connect()
            .await
            .expect("server reachable")
    }

    pub async fn crossings(&self) -> CrossingServiceClient<Channel> {
        CrossingServiceClient::new(Self::channel(self.gateway).await)
    }

    pub fn all(&self) -> [(SocketAddr, &'static str); 4] {
        [
            (self.gateway, bordermesh_gateway::SERVICE_NAME),
            (self.identity, "bordermesh.identity.v1.IdentityService"),
            (self.customs, "bordermesh.customs.v1.CustomsService"),
            (self.sanitary, "bordermesh.sanitary.v1.SanitaryService"),
        ]
    }
}

impl Drop for TestMesh {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
