//! The bootstrap every bordermesh server runs: grpc.health.v1 with a status per service,
//! server reflection (v1 and v1alpha), a tracing span per RPC, and graceful shutdown that turns
//! health to NOT_SERVING, stops accepting, and drains in-flight calls for a bounded time.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{
    service::Routes,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::ServingStatus;

/// How a server treats its connections and how it stops.
#[derive(Debug, Clone, Copy)]
pub struct ServerOptions {
    /// How long in-flight calls may finish after shutdown begins.
    pub drain: Duration,
    /// Connections are closed gracefully after this age, when set.
    pub max_connection_age: Option<Duration>,
    /// Calls answered at once; more are refused with RESOURCE_EXHAUSTED.
    pub max_concurrent_calls: usize,
}

/// Where a server listens and when it must stop.
pub struct ServerHandle {
    pub listener: TcpListener,
    pub shutdown: CancellationToken,
    pub options: ServerOptions,
}

impl ServerHandle {
    /// Binds now, so that a caller that asked for port 0 learns the real port before serving.
    pub async fn bind(
        addr: SocketAddr,
        shutdown: CancellationToken,
        options: ServerOptions,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        Ok(Self {
            listener,
            shutdown,
            options,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves `routes`, which implement the gRPC service `service_name`, until shutdown.
    pub async fn serve(self, service_name: &'static str, routes: Routes) -> anyhow::Result<()> {
        let (health, health_service) = tonic_health::server::health_reporter();
        for name in ["", service_name] {
            health
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(bordermesh_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(service_name)
            .with_service_name("grpc.health.v1.Health")
            .build_v1()
            .context("building reflection v1")?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(bordermesh_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(service_name)
            .with_service_name("grpc.health.v1.Health")
            .build_v1alpha()
            .context("building reflection v1alpha")?;
        let routes = routes
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);

        let addr = self.local_addr()?;
        tracing::info!(service = service_name, %addr, "serving");
        let stop_accepting = {
            let shutdown = self.shutdown.clone();
            async move {
                shutdown.cancelled().await;
                for name in ["", service_name] {
                    health
                        .set_service_status(name, ServingStatus::NotServing)
                        .await;
                }
                tracing::info!(service = service_name, "draining");
            }
        };
        let mut builder = Server::builder();
        if let Some(age) = self.options.max_connection_age {
            builder = builder.max_connection_age(age);
        }
        let server = builder
            .trace_fn(crate::telemetry::rpc_span)
            .layer(crate::metrics::RpcMetricsLayer::default())
            .layer(crate::admission::AdmissionLayer::new(
                self.options.max_concurrent_calls,
            ))
            .add_routes(routes)
            .serve_with_incoming_shutdown(
                // Without TCP_NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms to
                // answers that span several segments.
                TcpIncoming::from(self.listener).with_nodelay(Some(true)),
                stop_accepting,
            );
        let drain_deadline = async {
            self.shutdown.cancelled().await;
            tokio::time::sleep(self.options.drain).await;
        };
        tokio::select! {
            served = server => served.context("serving")?,
            () = drain_deadline => {
                tracing::warn!(service = service_name, "drain time exceeded; stopping with calls in flight");
            }
        }
        tracing::info!(service = service_name, "stopped");
        Ok(())
    }
}

/// Cancels `shutdown` on SIGINT (Ctrl-C) or SIGTERM.
pub fn cancel_on_signal(shutdown: CancellationToken) {
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received");
        shutdown.cancel();
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
