//! Load shedding: a server answers at most so many calls at once and refuses the rest at once
//! with RESOURCE_EXHAUSTED, instead of queueing until every caller times out. Health checks
//! and reflection are always admitted, so that an overloaded server is not also restarted.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tower::{Layer, Service};

const ALWAYS_ADMITTED: [&str; 3] = [
    "/grpc.health.v1.",
    "/grpc.reflection.v1.",
    "/grpc.reflection.v1alpha.",
];

#[derive(Clone)]
pub struct AdmissionLayer {
    permits: Arc<Semaphore>,
}

impl AdmissionLayer {
    pub fn new(max_concurrent_calls: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent_calls)),
        }
    }
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = Admission<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Admission {
            inner,
            permits: self.permits.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Admission<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S, B, R> Service<http::Request<B>> for Admission<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = request.uri().path();
        if ALWAYS_ADMITTED
            .iter()
            .any(|prefix| path.starts_with(prefix))
        {
            return Box::pin(inner.call(request));
        }
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => Box::pin(async move {
                let response = inner.call(request).await;
                drop(permit);
                response
            }),
            Err(_) => {
                tracing::warn!(method = path, "overloaded: call refused");
                let refusal = crate::error::status(
                    tonic::Code::ResourceExhausted,
                    "OVERLOADED",
                    "the server is at capacity; retry with backoff",
                );
                Box::pin(async move { Ok(refusal.into_http()) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    #[tokio::test]
    async fn calls_beyond_capacity_are_refused_but_health_is_always_admitted() {
        let slow = tower::service_fn(|_: http::Request<()>| async {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            Ok::<_, Infallible>(http::Response::new(String::new()))
        });
        let mut service = AdmissionLayer::new(1).layer(slow);
        let call = |path: &str| http::Request::get(path).body(()).unwrap();
        let first = tokio::spawn(service.call(call(
            "/bordermesh.crossing.v1.CrossingService/ProcessCrossing",
        )));
        tokio::task::yield_now().await;
        let refused = service
            .call(call(
                "/bordermesh.crossing.v1.CrossingService/ProcessCrossing",
            ))
            .await
            .unwrap();
        assert_eq!(refused.headers()["grpc-status"], "8");
        let health = service
            .call(call("/grpc.health.v1.Health/Check"))
            .await
            .unwrap();
        assert!(health.headers().get("grpc-status").is_none());
        assert!(
            first
                .await
                .unwrap()
                .unwrap()
                .headers()
                .get("grpc-status")
                .is_none()
        );
        let admitted = service
            .call(call(
                "/bordermesh.crossing.v1.CrossingService/ProcessCrossing",
            ))
            .await
            .unwrap();
        assert!(
            admitted.headers().get("grpc-status").is_none(),
            "the permit came back"
        );
    }
}
