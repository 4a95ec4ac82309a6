//! The composition root: runs one service (what a container runs) or the whole mesh in one
//! process, each service on its own port and talking to the others over real gRPC.

use std::net::SocketAddr;

use anyhow::Context;
use bordermesh_kit::{config::Config, server::ServerHandle};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    Gateway,
    Identity,
    Customs,
    Sanitary,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Identity => "identity",
            Self::Customs => "customs",
            Self::Sanitary => "sanitary",
        }
    }

    pub fn listen(self, config: &Config) -> SocketAddr {
        match self {
            Self::Gateway => config.gateway.listen,
            Self::Identity => config.identity.listen,
            Self::Customs => config.customs.listen,
            Self::Sanitary => config.sanitary.listen,
        }
    }

    /// Serves this service on `handle` until its shutdown.
    pub async fn serve(self, config: &Config, handle: ServerHandle) -> anyhow::Result<()> {
        match self {
            Self::Gateway => crate::serve(config, handle).await,
            Self::Identity => bordermesh_identity::serve(config, handle).await,
            Self::Customs => bordermesh_customs::serve(config, handle).await,
            Self::Sanitary => bordermesh_sanitary::serve(config, handle).await,
        }
        .with_context(|| format!("{} service", self.name()))
    }
}

/// The four servers of a running mesh and the addresses they really listen on.
pub struct RunningMesh {
    pub gateway: SocketAddr,
    pub identity: SocketAddr,
    pub customs: SocketAddr,
    pub sanitary: SocketAddr,
    servers: JoinSet<anyhow::Result<()>>,
}

impl RunningMesh {
    /// Waits for every server to stop; the first failure stops the others.
    pub async fn wait(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut result = Ok(());
        while let Some(joined) = self.servers.join_next().await {
            let outcome = joined
                .context("server task panicked")
                .and_then(|served| served);
            if let Err(error) = outcome {
                tracing::error!(
                    error = format!("{error:#}"),
                    "a server failed; stopping the mesh"
                );
                shutdown.cancel();
                if result.is_ok() {
                    result = Err(error);
                }
            }
        }
        result
    }
}

/// Binds every port first (so port 0 resolves and a taken port fails at once), points the
/// gateway at the agencies' real addresses, then serves all four.
pub async fn start(mut config: Config, shutdown: CancellationToken) -> anyhow::Result<RunningMesh> {
    let options = config.server_options();
    let mut handles = Vec::new();
    for service in [
        Service::Identity,
        Service::Customs,
        Service::Sanitary,
        Service::Gateway,
    ] {
        if service == Service::Gateway {
            let [identity, customs, sanitary] = [0, 1, 2].map(|i: usize| handles_addr(&handles, i));
            config.gateway.identity_url = format!("http://{}", identity?);
            config.gateway.customs_url = format!("http://{}", customs?);
            config.gateway.sanitary_url = format!("http://{}", sanitary?);
        }
        let handle = ServerHandle::bind(service.listen(&config), shutdown.clone(), options)
            .await
            .with_context(|| format!("{} service", service.name()))?;
        handles.push((service, handle));
    }
    let addr = |i: usize| handles_addr(&handles, i);
    let (identity, customs, sanitary, gateway) = (addr(0)?, addr(1)?, addr(2)?, addr(3)?);
    let mut servers = JoinSet::new();
    for (service, handle) in handles {
        let config = config.clone();
        servers.spawn(async move { service.serve(&config, handle).await });
    }
    Ok(RunningMesh {
        gateway,
        identity,
        customs,
        sanitary,
        servers,
    })
}

fn handles_addr(handles: &[(Service, ServerHandle)], index: usize) -> anyhow::Result<SocketAddr> {
    handles
        .get(index)
        .context("server not bound")?
        .1
        .local_addr()
}
