//! Bad input gets INVALID_ARGUMENT naming the field, never INTERNAL and never a panic.

use bordermesh_proto::{
    common::v1::Money,
    crossing::v1::{CrossingSubmission, ProcessCrossingRequest},
    identity::v1::{ParseMrzRequest, identity_service_client::IdentityServiceClient},
};
use bordermesh_tests::{TestMesh, example};
use tonic::Code;
use tonic_types::StatusExt;

async fn violations(mesh: &TestMesh, request: ProcessCrossingRequest) -> Vec<String> {
    let status = mesh
        .crossings()
        .await
        .process_crossing(request)
        .await
        .expect_err("the request must be refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect()
}

fn with_mrz(mrz: &str) -> ProcessCrossingRequest {
    let mut request = example("tourist-car-cleared.json");
    request.request_id = uuid::Uuid::new_v4().to_string();
    let crossing = request.crossing.as_mut().unwrap();
    crossing.travellers[1].document.as_mut().unwrap().mrz = mrz.to_owned();
    request
}

#[tokio::test]
async fn malformed_zones_name_the_traveller_and_field() {
    let mesh = TestMesh::start().await;
    let valid = example("tourist-car-cleared.json")
        .crossing
        .unwrap()
        .travellers[1]
        .document
        .clone()
        .unwrap()
        .mrz;
    for bad in [
        valid.to_lowercase(),
        valid[..40].to_owned(),
        valid.replace('<', "#"),
        "X".repeat(1 << 20),
        String::new(),
    ] {
        assert_eq!(
            violations(&mesh, with_mrz(&bad)).await,
            ["crossing.travellers[1].document.mrz"]
        );
    }
}

#[tokio::test]
async fn an_empty_crossing_and_a_bad_request_id_are_named() {
    let mesh = TestMesh::start().await;
    let mut empty = example("tourist-car-cleared.json");
    let point = empty.crossing.as_ref().unwrap().crossing_point.clone();
    empty.crossing = Some(CrossingSubmission {
        crossing_point: point,
        direction: 1,
        ..Default::default()
    });
    assert_eq!(violations(&mesh, empty).await, ["crossing.travellers"]);
    let mut no_id = example("tourist-car-cleared.json");
    no_id.request_id = "not-a-uuid".into();
    assert_eq!(violations(&mesh, no_id).await, ["request_id"]);
    assert_eq!(
        violations(&mesh, ProcessCrossingRequest::default()).await,
        ["request_id", "crossing"]
    );
}

#[tokio::test]
async fn negative_amounts_unknown_codes_and_currencies_name_the_goods_item() {
    let mesh = TestMesh::start().await;
    let mut request = example("lorry-frozen-meat-referred.json");
    request.request_id = uuid::Uuid::new_v4().to_string();
    let goods = &mut request.crossing.as_mut().unwrap().goods;
    let mut second = goods[0].clone();
    goods[0].invoice_value = Some(Money {
        currency_code: "EUR".into(),
        amount: "-40000".into(),
    });
    second.commodity_code = "020240".into();
    second.freight_and_insurance = Some(Money {
        currency_code: "ABC".into(),
        amount: "10".into(),
    });
    goods.push(second);
    let mut fields = violations(&mesh, request).await;
    fields.sort();
    assert_eq!(
        fields,
        [
            "crossing.goods[0].invoice_value.amount",
            "crossing.goods[1].commodity_code",
            "crossing.goods[1].freight_and_insurance.currency_code",
        ]
    );
}

#[tokio::test]
async fn the_identity_service_reports_malformed_zones_directly() {
    let mesh = TestMesh::start().await;
    let mut client = IdentityServiceClient::new(TestMesh::channel(mesh.identity).await);
    let status = client
        .parse_mrz(ParseMrzRequest {
            mrz: "p<uto".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<_> = status
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["mrz"]);
}
