//! `bordermesh bench declaration --items N`: starts the customs server on loopback with a
//! temporary database, assesses declarations of N goods items one after another through the
//! generated client, each with a fresh request id, and reports the latency. The last line
//! printed is one JSON object with `items`, `p50_ms` and `p99_ms`.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use bordermesh_kit::{config::Config, server::ServerHandle};
use bordermesh_proto::{
    common::v1::{CrossingPoint, Date, Direction, Money, Quantity, TransportMode},
    customs::v1::{
        AssessDeclarationRequest, GoodsItem, Procedure, Trader,
        customs_service_client::CustomsServiceClient,
    },
};
use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use uuid::Uuid;

const WARM_UP_REQUESTS: usize = 200;
const MEASURED_REQUESTS: usize = 2_000;

/// Goods of a plausible mixed consignment: ad valorem, specific (sugar by mass) and mixed
/// (chocolate) duties, with quantities and masses.
const GOODS: [(&str, &str, &str, &str); 4] = [
    ("847130", "Portable computers", "CHN", "NAR"),
    ("610910", "Cotton T-shirts", "BGD", "NAR"),
    ("170199", "Cane sugar", "BRA", "KGM"),
    ("180690", "Chocolate bars", "CHE", "KGM"),
];

fn item(index: usize) -> GoodsItem {
    let (code, description, origin, unit) = GOODS[index % GOODS.len()];
    let money = |amount: String| Money {
        currency_code: "EUR".into(),
        amount,
    };
    GoodsItem {
        description: description.into(),
        commodity_code: code.into(),
        origin_country: origin.into(),
        quantity: Some(Quantity {
            value: format!("{}", 10 + index % 90),
            unit: unit.into(),
        }),
        net_mass_kg: format!("{}.5", 20 + index % 50),
        invoice_value: Some(money(format!("{}.25", 1_000 + 37 * index))),
        freight_and_insurance: Some(money(format!("{}.00", 40 + index % 10))),
    }
}

fn consignment(items: usize) -> AssessDeclarationRequest {
    AssessDeclarationRequest {
        request_id: String::new(),
        crossing_point: Some(CrossingPoint {
            code: "SI-OBREZJE".into(),
            country: "SVN".into(),
        }),
        direction: Direction::Entry.into(),
        transport_mode: TransportMode::Road.into(),
        procedure: Procedure::Import.into(),
        declarant: Some(Trader {
            eori: "RS100200300".into(),
            authorised_economic_operator: false,
        }),
        vehicle: None,
        items: (0..items).map(item).collect(),
        cash: Vec::new(),
        crossing_date: Some(Date {
            year: 2026,
            month: 7,
            day: 15,
        }),
        traveller_under_15: false,
    }
}

async fn assess(
    client: &mut CustomsServiceClient<Channel>,
    template: &AssessDeclarationRequest,
) -> anyhow::Result<Duration> {
    let mut request = template.clone();
    request.request_id = Uuid::new_v4().to_string();
    let started = std::time::Instant::now();
    let response = client
        .assess_declaration(request)
        .await
        .map_err(|status| anyhow::anyhow!("AssessDeclaration failed: {status}"))?;
    let elapsed = started.elapsed();
    anyhow::ensure!(
        response.into_inner().declaration.is_some(),
        "AssessDeclaration answered without a declaration"
    );
    Ok(elapsed)
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1_000.0
}

/// Assesses the warm-up, then the measured declarations, one after another.
async fn measure(addr: SocketAddr, items: usize) -> anyhow::Result<(Histogram<u64>, Duration)> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect()
        .await
        .context("connecting to the customs server")?;
    let mut client = CustomsServiceClient::new(channel);
    let template = consignment(items);
    for _ in 0..WARM_UP_REQUESTS {
        assess(&mut client, &template).await?;
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let started = std::time::Instant::now();
    for _ in 0..MEASURED_REQUESTS {
        let elapsed = assess(&mut client, &template).await?;
        histogram.record(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))?;
    }
    Ok((histogram, started.elapsed()))
}

/// Runs the benchmark and prints its report.
pub async fn declaration(items: usize) -> anyhow::Result<()> {
    anyhow::ensure!(items >= 1, "--items must be at least 1");
    let data_dir = tempfile::tempdir().context("creating a temporary data directory")?;
    let mut config = Config {
        data_dir: data_dir.path().to_path_buf(),
        drain_seconds: 2,
        ..Config::default()
    };
    config.customs.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let shutdown = CancellationToken::new();
    let handle = ServerHandle::bind(
        config.customs.listen,
        shutdown.clone(),
        config.server_options(),
    )
    .await?;
    let addr = handle.local_addr()?;
    // The client connects while the server is still starting: its connection must not predate
    // the option.
    let server = tokio::spawn(async move { crate::serve(&config, handle).await });

    // The client runs on a thread and runtime of its own, as a national system calling customs
    // would run in a process of its own: its work does not queue behind the server's tasks.
    let client = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the client's runtime")?
            .block_on(measure(addr, items))
    });
    let measured = tokio::task::spawn_blocking(move || {
        client
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the benchmark client panicked")))
    })
    .await
    .context("waiting for the benchmark client")
    .and_then(|measured| measured);
    shutdown.cancel();
    let served = server.await.context("the customs server task failed")?;
    let (histogram, wall) = measured?;
    served?;

    let (p50, p90, p99, max) = (
        histogram.value_at_quantile(0.50),
        histogram.value_at_quantile(0.90),
        histogram.value_at_quantile(0.99),
        histogram.max(),
    );
    println!(
        "bench declaration: AssessDeclaration over loopback gRPC, SQLite in a temporary directory"
    );
    println!(
        "  {items} goods items per declaration, {WARM_UP_REQUESTS} warm-up then {MEASURED_REQUESTS} sequential requests, each with a fresh request_id"
    );
    println!(
        "  throughput {:.0} declarations/s",
        MEASURED_REQUESTS as f64 / wall.as_secs_f64()
    );
    println!(
        "  latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
        ms(p50),
        ms(p90),
        ms(p99),
        ms(max)
    );
    println!(
        "{{\"items\":{items},\"requests\":{MEASURED_REQUESTS},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
        ms(p50),
        ms(p99),
        ms(max)
    );
    Ok(())
}
