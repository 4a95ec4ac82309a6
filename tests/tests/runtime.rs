//! What every server offers: health per service and server reflection.

use bordermesh_tests::TestMesh;
use tokio_stream::StreamExt;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

#[tokio::test]
async fn every_service_is_serving_under_its_full_name() {
    let mesh = TestMesh::start().await;
    for (addr, name) in mesh.all() {
        let mut health = HealthClient::new(TestMesh::channel(addr).await);
        for service in ["", name] {
            let status = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap()
                .into_inner()
                .status();
            assert_eq!(status, ServingStatus::Serving, "{name} at {addr}");
        }
        let unknown = health
            .check(HealthCheckRequest {
                service: "no.such.Service".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::NotFound);
    }
}

#[tokio::test]
async fn reflection_lists_each_server_s_own_service_and_health() {
    let mesh = TestMesh::start().await;
    for (addr, name) in mesh.all() {
        let mut reflection = ServerReflectionClient::new(TestMesh::channel(addr).await);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = reflection
            .server_reflection_info(tokio_stream::once(request))
            .await
            .unwrap()
            .into_inner();
        let response = responses.next().await.unwrap().unwrap();
        let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
            panic!("unexpected reflection answer from {addr}");
        };
        let mut names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
        names.sort();
        let mut expected = vec![name.to_owned(), "grpc.health.v1.Health".to_owned()];
        expected.sort();
        assert_eq!(names, expected, "{addr}");
    }
}

#[tokio::test]
async fn shutdown_turns_health_to_not_serving() {
    let mesh = TestMesh::start().await;
    let channel = TestMesh::channel(mesh.gateway).await;
    let mut health = HealthClient::new(channel);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: bordermesh_gateway::SERVICE_NAME.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.next().await.unwrap().unwrap().status(),
        ServingStatus::Serving
    );
    drop(mesh);
    assert_eq!(
        watch.next().await.unwrap().unwrap().status(),
        ServingStatus::NotServing
    );
}
