//! The gateway spreads its calls over every replica of an agency, call by call.

use std::{collections::HashSet, net::SocketAddr};

use bordermesh_gateway::agencies::balanced_channel_with;
use bordermesh_kit::{config::Config, server::ServerHandle};
use bordermesh_proto::{
    common::v1::CrossingPoint,
    identity::v1::{
        CheckTravellerRequest, GetTravellerCheckRequest, TravelDocument, Traveller,
        identity_service_client::IdentityServiceClient,
    },
};
use tokio_util::sync::CancellationToken;

const MRZ: &str =
    "P<NZLWILLIAMS<<AROHA<<<<<<<<<<<<<<<<<<<<<<<<\nLM01234568NZL9503308F3201174<<<<<<<<<<<<<<<2";

async fn identity_replica(shutdown: &CancellationToken) -> (SocketAddr, tempfile::TempDir) {
    let data_dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: data_dir.path().to_path_buf(),
        ..Config::default()
    };
    let handle = ServerHandle::bind(
        "127.0.0.1:0".parse().unwrap(),
        shutdown.clone(),
        config.server_options(),
    )
    .await
    .unwrap();
    let addr = handle.local_addr().unwrap();
    tokio::spawn(async move { bordermesh_identity::serve(&config, handle).await });
    (addr, data_dir)
}

#[tokio::test]
async fn calls_are_spread_over_every_resolved_replica() {
    let shutdown = CancellationToken::new();
    let (first, _first_dir) = identity_replica(&shutdown).await;
    let (second, _second_dir) = identity_replica(&shutdown).await;
    let replicas: HashSet<SocketAddr> = [first, second].into();
    let resolved = replicas.clone();
    let channel = balanced_channel_with("http".into(), move || {
        let resolved = resolved.clone();
        async move { Ok(resolved) }
    });
    let mut balanced = IdentityServiceClient::new(channel);

    let mut check_ids = Vec::new();
    for _ in 0..20 {
        let request = CheckTravellerRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            crossing_point: Some(CrossingPoint {
                code: "SI-OBREZJE".into(),
                country: "SVN".into(),
            }),
            direction: 1,
            traveller: Some(Traveller {
                document: Some(TravelDocument {
                    mrz: MRZ.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            crossing_date: None,
        };
        let check = balanced
            .check_traveller(request)
            .await
            .unwrap()
            .into_inner();
        check_ids.push(check.check.unwrap().check_id);
    }

    for replica in replicas {
        let mut direct = IdentityServiceClient::connect(format!("http://{replica}"))
            .await
            .unwrap();
        let mut served = 0;
        for check_id in &check_ids {
            let request = GetTravellerCheckRequest {
                check_id: check_id.clone(),
            };
            served += usize::from(direct.get_traveller_check(request).await.is_ok());
        }
        assert!(served > 0, "replica {replica} served none of 20 calls");
    }
    shutdown.cancel();
}
