//! Servers for the gateway's tests: each agency or gateway on its own address and database,
//! started and stopped one by one, so that a test can take one down.

#![allow(dead_code)]

use std::{net::SocketAddr, path::Path};

use bordermesh_gateway::mesh::Service;
use bordermesh_kit::{config::Config, server::ServerHandle};
use bordermesh_proto::crossing::v1::{
    ProcessCrossingRequest, crossing_service_client::CrossingServiceClient,
};
use tokio_util::sync::CancellationToken;

pub const BINARY: &str = env!("CARGO_BIN_EXE_bordermesh");

pub fn example(name: &str) -> ProcessCrossingRequest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/crossings")
        .join(name);
    bordermesh_gateway::cli::read_request(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The lorry of frozen meat under a new request id: one traveller, one declaration, one
/// consignment, so every agency takes part.
pub fn lorry() -> ProcessCrossingRequest {
    let mut request = example("lorry-frozen-meat-referred.json");
    request.request_id = uuid::Uuid::new_v4().to_string();
    request
}

/// One server of the mesh, stopped when dropped.
pub struct Running {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn config(data_dir: &Path) -> Config {
    let mut config = Config {
        data_dir: data_dir.to_path_buf(),
        drain_seconds: 1,
        ..Config::default()
    };
    config.gateway.recovery_interval_ms = 200;
    config
}

/// Starts `service` on `addr` (port 0 for any) with `config`.
pub async fn start(service: Service, config: &Config, addr: SocketAddr) -> Running {
    let shutdown = CancellationToken::new();
    let handle = ServerHandle::bind(addr, shutdown.clone(), config.server_options())
        .await
        .unwrap();
    let addr = handle.local_addr().unwrap();
    let config = config.clone();
    tokio::spawn(async move { service.serve(&config, handle).await });
    Running { addr, shutdown }
}

pub fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A loopback address nothing listens on now.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// The three agencies on port 0, and a configuration whose gateway points at them.
pub async fn agencies(config: &mut Config) -> Vec<Running> {
    let identity = start(Service::Identity, config, any_port()).await;
    let customs = start(Service::Customs, config, any_port()).await;
    let sanitary = start(Service::Sanitary, config, any_port()).await;
    config.gateway.identity_url = format!("http://{}", identity.addr);
    config.gateway.customs_url = format!("http://{}", customs.addr);
    config.gateway.sanitary_url = format!("http://{}", sanitary.addr);
    vec![identity, customs, sanitary]
}

/// Rows of a table in a service's SQLite file.
pub async fn count_rows(data_dir: &Path, service: &str, table: &str) -> i64 {
    use sqlx::{Connection, SqliteConnection};
    let url = bordermesh_kit::config::sqlite_url(&data_dir.join(format!("{service}.db")));
    let mut db = SqliteConnection::connect(&url).await.unwrap();
    let (rows,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut db)
        .await
        .unwrap();
    rows
}

/// The three agencies and a gateway, each on port 0, with their files in one directory.
pub struct Mesh {
    pub gateway: Running,
    pub agencies: Vec<Running>,
    pub config: Config,
    pub data_dir: tempfile::TempDir,
}

/// Starts a mesh whose gateway configuration `adjust` may change first.
pub async fn mesh_with(adjust: impl FnOnce(&mut Config)) -> Mesh {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = config(data_dir.path());
    let agencies = agencies(&mut config).await;
    adjust(&mut config);
    let gateway = start(Service::Gateway, &config, any_port()).await;
    Mesh {
        gateway,
        agencies,
        config,
        data_dir,
    }
}

impl Mesh {
    pub async fn client(&self) -> CrossingServiceClient<tonic::transport::Channel> {
        CrossingServiceClient::connect(format!("http://{}", self.gateway.addr))
            .await
            .unwrap()
    }
}

/// Runs the `bordermesh` binary; answers whether it succeeded and what it printed.
pub fn bordermesh(args: &[&str], data_dir: &Path) -> (bool, String) {
    let output = std::process::Command::new(BINARY)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}
