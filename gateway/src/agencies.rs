//! The gateway's view of the agencies: their generated clients, with a deadline on every call
//! taken from what is left of the caller's budget, and retries only on UNAVAILABLE.

use std::{collections::HashSet, future::Future, net::SocketAddr, time::Duration};

use anyhow::Context;

use bordermesh_kit::{config::GatewayConfig, telemetry};
use bordermesh_proto::{
    customs::v1::customs_service_client::CustomsServiceClient,
    identity::v1::identity_service_client::IdentityServiceClient,
    sanitary::v1::sanitary_service_client::SanitaryServiceClient,
};
use opentelemetry::{KeyValue, metrics::UpDownCounter};
use tokio::time::Instant;
use tonic::{
    Code, Request, Status,
    transport::{Channel, Endpoint, channel::Change},
};
use tracing::Instrument;

/// Attempts of one idempotent call, the first included.
const MAX_ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct Agencies {
    pub identity: IdentityServiceClient<Channel>,
    pub customs: CustomsServiceClient<Channel>,
    pub sanitary: SanitaryServiceClient<Channel>,
    /// Saga steps started and not yet answered, by agency.
    steps_pending: UpDownCounter<i64>,
}

/// How often an agency's host name is resolved again, to follow replicas as they come and go
/// (Kubernetes' DNS answers for a headless Service live 5 seconds).
const RESOLVE_EVERY: Duration = Duration::from_secs(5);

fn endpoint(url: &str) -> anyhow::Result<Endpoint> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true))
}

/// A channel that balances calls, one by one, over every address the URL's host resolves to:
/// with a headless Service, every ready replica of the agency. Kubernetes balances connections,
/// not calls, so without this one gateway would send all its calls to one replica.
fn balanced_channel(url: &str) -> anyhow::Result<Channel> {
    let uri: http::Uri = url.parse()?;
    let host = uri.host().context("agency URL has no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let scheme = uri.scheme_str().unwrap_or("http").to_owned();
    Ok(balanced_channel_with(scheme, move || {
        let host = host.clone();
        async move {
            Ok(tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect())
        }
    }))
}

/// Balances over the addresses `resolve` answers, asked again every few seconds: replicas that
/// appear are added, replicas that vanish are removed.
pub fn balanced_channel_with<R, Fut>(scheme: String, resolve: R) -> Channel
where
    R: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = std::io::Result<HashSet<SocketAddr>>> + Send,
{
    let (channel, changes) = Channel::balance_channel::<SocketAddr>(64);
    tokio::spawn(async move {
        let mut known: HashSet<SocketAddr> = HashSet::new();
        loop {
            match resolve().await {
                Ok(resolved) => {
                    for gone in known.difference(&resolved) {
                        if changes.send(Change::Remove(*gone)).await.is_err() {
                            return;
                        }
                    }
                    for new in resolved.difference(&known) {
                        let Ok(endpoint) = endpoint(&format!("{scheme}://{new}")) else {
                            continue;
                        };
                        if changes.send(Change::Insert(*new, endpoint)).await.is_err() {
                            return;
                        }
                    }
                    known = resolved;
                }
                Err(error) => tracing::warn!(%error, "cannot resolve an agency"),
            }
            tokio::time::sleep(RESOLVE_EVERY).await;
        }
    });
    channel
}

impl Agencies {
    /// Channels connect on first use, so the gateway starts before the agencies do.
    pub fn connect_lazy(config: &GatewayConfig) -> anyhow::Result<Self> {
        Ok(Self {
            identity: IdentityServiceClient::new(balanced_channel(&config.identity_url)?),
            customs: CustomsServiceClient::new(balanced_channel(&config.customs_url)?),
            sanitary: SanitaryServiceClient::new(balanced_channel(&config.sanitary_url)?),
            steps_pending: opentelemetry::global::meter("bordermesh")
                .i64_up_down_counter("bordermesh.saga.steps.pending")
                .with_description("Calls to the agencies started and not yet answered")
                .build(),
        })
    }

    /// One saga step: an idempotent call to `agency` in a span of its own, counted as pending
    /// while it runs.
    pub async fn step<M, R, F, Fut>(
        &self,
        agency: &'static str,
        deadline: Deadline,
        message: M,
        call: F,
    ) -> Result<R, Status>
    where
        M: Clone,
        F: FnMut(Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        let attributes = [KeyValue::new("agency", agency)];
        self.steps_pending.add(1, &attributes);
        let span = tracing::info_span!("step", otel.kind = "client", agency);
        let result = call_idempotent(deadline, message, call)
            .instrument(span)
            .await;
        self.steps_pending.add(-1, &attributes);
        result
    }
}

/// The instant by which the caller wants its answer.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(Instant);

impl Deadline {
    /// The caller's `grpc-timeout`, capped by the gateway's own budget.
    pub fn from_request<T>(request: &Request<T>, budget: Duration) -> Self {
        let asked = request
            .metadata()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout);
        Self(Instant::now() + asked.map_or(budget, |asked| asked.min(budget)))
    }

    /// A budget that starts now, for work no caller waits on (recovery).
    pub fn after(budget: Duration) -> Self {
        Self(Instant::now() + budget)
    }

    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

/// `grpc-timeout` is at most 8 digits and a unit: H, M, S, m (milli), u (micro), n (nano).
fn parse_grpc_timeout(text: &str) -> Option<Duration> {
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

/// Runs an idempotent call with the remaining budget as its deadline, retrying UNAVAILABLE
/// with exponential backoff and full jitter while the budget lasts.
pub async fn call_idempotent<M, R, F, Fut>(
    deadline: Deadline,
    message: M,
    mut call: F,
) -> Result<R, Status>
where
    M: Clone,
    F: FnMut(Request<M>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<R>, Status>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let remaining = deadline.remaining();
        if remaining.is_zero() {
            return Err(Status::deadline_exceeded("the crossing's deadline passed"));
        }
        let mut request = Request::new(message.clone());
        request.set_timeout(remaining);
        telemetry::inject_trace_context(&mut request);
        match call(request).await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) if status.code() == Code::Unavailable && attempt < MAX_ATTEMPTS => {
                let pause = backoff.mul_f64(fastrand::f64());
                if pause >= deadline.remaining() {
                    return Err(status);
                }
                tracing::debug!(attempt, ?pause, "agency unavailable; retrying");
                tokio::time::sleep(pause).await;
                backoff *= 2;
                attempt += 1;
            }
            Err(status) => return Err(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_units_follow_the_http2_protocol_spec() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("123456789m"), None);
        assert_eq!(parse_grpc_timeout("m"), None);
        assert_eq!(parse_grpc_timeout(""), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
    }

    #[tokio::test]
    async fn only_unavailable_is_retried() {
        let deadline = Deadline(Instant::now() + Duration::from_secs(5));
        let mut calls = 0;
        let result: Result<(), Status> = call_idempotent(deadline, (), |_| {
            calls += 1;
            async { Err(Status::unavailable("down")) }
        })
        .await;
        assert_eq!(result.unwrap_err().code(), Code::Unavailable);
        assert_eq!(calls, MAX_ATTEMPTS);

        let mut calls = 0;
        let result: Result<(), Status> = call_idempotent(deadline, (), |_| {
            calls += 1;
            async { Err(Status::invalid_argument("bad")) }
        })
        .await;
        assert_eq!(result.unwrap_err().code(), Code::InvalidArgument);
        assert_eq!(calls, 1);
    }
}
