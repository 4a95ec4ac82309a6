//! Logs, traces and metrics. Logs always go to stderr; when `OTEL_EXPORTER_OTLP_ENDPOINT` is
//! set, spans and metrics are also exported over OTLP/gRPC, and W3C trace context travels in
//! gRPC metadata so that one crossing is one trace across the services.
//!
//! Personal data (names, document numbers, dates of birth) never goes into a log field, span or
//! metric: record ids and codes only.

use std::io::IsTerminal;

use anyhow::Context;
use opentelemetry::{
    global,
    propagation::{Extractor, Injector},
    trace::TracerProvider as _,
};
use opentelemetry_otlp::{MetricExporter, SpanExporter};
use opentelemetry_sdk::{
    Resource, metrics::SdkMeterProvider, propagation::TraceContextPropagator, runtime,
    trace::SdkTracerProvider,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// The variable that turns on OTLP export, as the OpenTelemetry specification names it.
pub const OTLP_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The exporters to flush when the process stops.
#[derive(Default)]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// Flushes what is buffered and stops the exporters.
    pub async fn shutdown(self) {
        // Shutdown blocks until the runtime's export tasks finish, so it must not hold a worker.
        let flushed = tokio::task::spawn_blocking(move || {
            if let Some(provider) = self.tracer_provider {
                let _ = provider.shutdown();
            }
            if let Some(provider) = self.meter_provider {
                let _ = provider.shutdown();
            }
        })
        .await;
        if flushed.is_err() {
            tracing::warn!("telemetry did not flush");
        }
    }
}

/// Installs logging, and OTLP export when configured. Call once, inside the Tokio runtime;
/// later calls (tests start many servers in one process) keep the first setup.
pub fn init(filter: &str, service_name: &str) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    // Logs go to stderr (stdout carries command output); colours only for a person's terminal.
    let logs = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let mut telemetry = Telemetry::default();
    let traces = if std::env::var_os(OTLP_ENDPOINT_VAR).is_some() {
        let resource = Resource::builder()
            .with_service_name(service_name.to_owned())
            .build();
        let spans = SpanExporter::builder()
            .with_tonic()
            .build()
            .context("building the OTLP span exporter")?;
        let processor =
            opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                spans,
                runtime::Tokio,
            )
            .build();
        let tracer_provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource.clone())
            .build();
        let metrics = MetricExporter::builder()
            .with_tonic()
            .build()
            .context("building the OTLP metric exporter")?;
        let reader =
            opentelemetry_sdk::metrics::periodic_reader_with_async_runtime::PeriodicReader::builder(
                metrics,
                runtime::Tokio,
            )
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();
        global::set_meter_provider(meter_provider.clone());
        let tracer = tracer_provider.tracer("bordermesh");
        telemetry.tracer_provider = Some(tracer_provider);
        telemetry.meter_provider = Some(meter_provider);
        Some(tracing_opentelemetry::layer().with_tracer(tracer))
    } else {
        None
    };
    global::set_text_map_propagator(TraceContextPropagator::new());
    if tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces)
        .try_init()
        .is_err()
    {
        return Ok(Telemetry::default());
    }
    Ok(telemetry)
}

/// Reads W3C trace context from the headers of an incoming call.
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// Writes W3C trace context into the metadata of an outgoing call.
struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// The span of one incoming RPC, a child of the caller's span when the call carries one.
pub fn rpc_span(request: &http::Request<()>) -> tracing::Span {
    let method = request.uri().path();
    let span =
        tracing::info_span!("rpc", otel.name = %method, otel.kind = "server", rpc.method = %method);
    let parent = global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    let _ = span.set_parent(parent);
    span
}

/// Carries the current span to the callee of an outgoing request.
pub fn inject_trace_context<T>(request: &mut tonic::Request<T>) {
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(request.metadata_mut()))
    });
}
