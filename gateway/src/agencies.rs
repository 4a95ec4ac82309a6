//! The gateway's view of the agencies: their generated clients, with a deadline on every call
//! taken from what is left of the caller's budget, and retries only on UNAVAILABLE.

use std::{future::Future, time::Duration};

use bordermesh_kit::config::GatewayConfig;
use bordermesh_proto::{
    customs::v1::customs_service_client::CustomsServiceClient,
    identity::v1::identity_service_client::IdentityServiceClient,
    sanitary::v1::sanitary_service_client::SanitaryServiceClient,
};
use tokio::time::Instant;
use tonic::{
    Code, Request, Status,
    transport::{Channel, Endpoint},
};

/// Attempts of one idempotent call, the first included.
const MAX_ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct Agencies {
    pub identity: IdentityServiceClient<Channel>,
    pub customs: CustomsServiceClient<Channel>,
    pub sanitary: SanitaryServiceClient<Channel>,
}

fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect_lazy())
}

impl Agencies {
    /// Channels connect on first use, so the gateway starts before the agencies do.
    pub fn connect_lazy(config: &GatewayConfig) -> anyhow::Result<Self> {
        Ok(Self {
            identity: IdentityServiceClient::new(channel(&config.identity_url)?),
            customs: CustomsServiceClient::new(channel(&config.customs_url)?),
            sanitary: SanitaryServiceClient::new(channel(&config.sanitary_url)?),
        })
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
