//! The four services as separate OS processes, as in a cluster, exporting to an in-process
//! OTLP collector: one crossing passes through them, its spans from all four services share
//! one trace id, metrics arrive, and no span or log holds the traveller's personal data.

use std::{
    net::{SocketAddr, TcpListener},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bordermesh_proto::crossing::v1::{Outcome, crossing_service_client::CrossingServiceClient};
use opentelemetry_proto::tonic::collector::{
    metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        metrics_service_server::{MetricsService, MetricsServiceServer},
    },
    trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
};
use tonic::{Request, Response, Status};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

const BINARY: &str = env!("CARGO_BIN_EXE_bordermesh");
const SERVICES: [&str; 4] = ["identity", "customs", "sanitary", "gateway"];
/// Personal data of the lorry driver in the example: surname, given name, document number,
/// and date of birth as the zone and as ISO 8601 write it.
const PERSONAL_DATA: [&str; 5] = ["PETROVIC", "MARKO", "012345678", "790214", "1979-02-14"];

#[derive(Default, Clone)]
struct Collector {
    spans: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.spans.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.metrics.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

async fn start_collector() -> (SocketAddr, Collector) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let collector = Collector::default();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(collector.clone()))
        .add_service(MetricsServiceServer::new(collector.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    (addr, collector)
}

fn free_ports() -> [u16; 4] {
    let listeners: Vec<_> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    [0, 1, 2, 3].map(|i| listeners[i].local_addr().unwrap().port())
}

/// Kills what is still running when a test fails, so no process outlives it.
struct Processes(Vec<(&'static str, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
        }
    }
}

fn spawn_services(data_dir: &Path, ports: [u16; 4], collector: SocketAddr) -> Processes {
    let [identity, customs, sanitary, gateway] = ports;
    let children = SERVICES
        .iter()
        .map(|service| {
            let log = std::fs::File::create(data_dir.join(format!("{service}.log"))).unwrap();
            let child = Command::new(BINARY)
                .args(["serve", service, "--data-dir"])
                .arg(data_dir)
                .env(
                    "BORDERMESH_IDENTITY__LISTEN",
                    format!("127.0.0.1:{identity}"),
                )
                .env("BORDERMESH_CUSTOMS__LISTEN", format!("127.0.0.1:{customs}"))
                .env(
                    "BORDERMESH_SANITARY__LISTEN",
                    format!("127.0.0.1:{sanitary}"),
                )
                .env("BORDERMESH_GATEWAY__LISTEN", format!("127.0.0.1:{gateway}"))
                .env(
                    "BORDERMESH_GATEWAY__IDENTITY_URL",
                    format!("http://127.0.0.1:{identity}"),
                )
                .env(
                    "BORDERMESH_GATEWAY__CUSTOMS_URL",
                    format!("http://127.0.0.1:{customs}"),
                )
                .env(
                    "BORDERMESH_GATEWAY__SANITARY_URL",
                    format!("http://127.0.0.1:{sanitary}"),
                )
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"))
                .env("OTEL_BSP_SCHEDULE_DELAY", "100")
                .env("OTEL_METRIC_EXPORT_INTERVAL", "500")
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            (*service, child)
        })
        .collect();
    Processes(children)
}

async fn wait_until_serving(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = async {
            let channel =
                tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
                    .ok()?
                    .connect()
                    .await
                    .ok()?;
            let mut health = HealthClient::new(channel);
            let response = health.check(HealthCheckRequest::default()).await.ok()?;
            Some(response.into_inner().status())
        };
        if answer.await == Some(ServingStatus::Serving) {
            return;
        }
        assert!(Instant::now() < deadline, "port {port} never served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn lorry() -> bordermesh_proto::crossing::v1::ProcessCrossingRequest {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/crossings/lorry-frozen-meat-referred.json"
    );
    bordermesh_gateway::cli::read_request(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_crossing_through_four_processes_is_one_trace_without_personal_data() {
    let (collector_addr, collector) = start_collector().await;
    let data_dir = tempfile::tempdir().unwrap();
    let ports = free_ports();
    let mut processes = spawn_services(data_dir.path(), ports, collector_addr);
    for port in ports {
        wait_until_serving(port).await;
    }

    let mut client = CrossingServiceClient::connect(format!("http://127.0.0.1:{}", ports[3]))
        .await
        .unwrap();
    let crossing = client
        .process_crossing(lorry())
        .await
        .unwrap()
        .into_inner()
        .crossing
        .unwrap();
    assert_eq!(crossing.decision.unwrap().outcome(), Outcome::Referred);

    // SIGTERM flushes each process's exporters before it exits.
    for (service, child) in &mut processes.0 {
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "{service}");
    }
    for (service, child) in &mut processes.0 {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{service} did not stop");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(status.code(), Some(0), "{service} exit status");
    }

    let exports = collector.spans.lock().unwrap().clone();
    let spans: Vec<(String, &opentelemetry_proto::tonic::trace::v1::Span)> = exports
        .iter()
        .flat_map(|export| &export.resource_spans)
        .flat_map(|resource| {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .map(|v| format!("{:?}", v.value))
                .unwrap_or_default();
            resource
                .scope_spans
                .iter()
                .flat_map(|scope| &scope.spans)
                .map(move |span| (service.clone(), span))
        })
        .collect();
    let crossing_span = spans
        .iter()
        .find(|(_, span)| span.name.ends_with("CrossingService/ProcessCrossing"))
        .expect("the gateway exported its ProcessCrossing span");
    let trace_id = &crossing_span.1.trace_id;
    let mut services_in_trace: Vec<&str> = SERVICES
        .iter()
        .copied()
        .filter(|service| {
            spans.iter().any(|(name, span)| {
                name.contains(&format!("bordermesh-{service}")) && &span.trace_id == trace_id
            })
        })
        .collect();
    services_in_trace.sort();
    assert_eq!(
        services_in_trace,
        ["customs", "gateway", "identity", "sanitary"]
    );

    let exported = format!("{exports:?}");
    let mut logs = String::new();
    for service in SERVICES {
        logs.push_str(
            &std::fs::read_to_string(data_dir.path().join(format!("{service}.log"))).unwrap(),
        );
    }
    assert!(
        logs.contains("crossing decided"),
        "the logs are the processes' own"
    );
    // Only text can carry personal data; timestamps and ids are numbers that may hold the same
    // digits by chance.
    let exported_text: Vec<&str> = exported.split('"').skip(1).step_by(2).collect();
    let logged_text: Vec<&str> = logs
        .lines()
        .filter_map(|line| line.split_once(' ').map(|(_timestamp, rest)| rest))
        .collect();
    for personal in PERSONAL_DATA {
        assert!(
            !exported_text.iter().any(|text| text.contains(personal)),
            "a span holds {personal}"
        );
        assert!(
            !logged_text.iter().any(|text| text.contains(personal)),
            "a log holds {personal}"
        );
    }

    let metrics = format!("{:?}", collector.metrics.lock().unwrap());
    for name in [
        "rpc.server.duration",
        "rpc.server.requests",
        "bordermesh.crossings",
        "bordermesh.saga.steps.pending",
    ] {
        assert!(metrics.contains(name), "metric {name} was not exported");
    }
}
