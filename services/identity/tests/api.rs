//! The identity service on a loopback port, called through its generated client as a lane
//! booth, a consulate's system or an airline's feed would call it.

use std::net::SocketAddr;

use bordermesh_kit::{config::Config, server::ServerHandle};
use bordermesh_proto::{
    common::v1::{CrossingPoint, Date, Direction, Verdict},
    identity::v1::{self as pb, identity_service_client::IdentityServiceClient},
};
use tokio_util::sync::CancellationToken;
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

const SERBIAN: &str =
    "P<SRBPETROVIC<<MARKO<<<<<<<<<<<<<<<<<<<<<<<<\n0123456784SRB7902147M3106110<<<<<<<<<<<<<<<4";

struct Service {
    client: IdentityServiceClient<Channel>,
    shutdown: CancellationToken,
    _data_dir: tempfile::TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start() -> Service {
    let data_dir = tempfile::tempdir().unwrap();
    let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config = Config {
        data_dir: data_dir.path().to_path_buf(),
        ..Config::default()
    };
    config.identity.listen = any_port;
    let shutdown = CancellationToken::new();
    let handle = ServerHandle::bind(any_port, shutdown.clone(), config.server_options())
        .await
        .unwrap();
    let address = handle.local_addr().unwrap();
    tokio::spawn(async move { bordermesh_identity::serve(&config, handle).await });
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Service {
        client: IdentityServiceClient::new(channel),
        shutdown,
        _data_dir: data_dir,
    }
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn crossing(
    direction: Direction,
    on: Option<Date>,
    departure: Option<Date>,
) -> pb::CheckTravellerRequest {
    pb::CheckTravellerRequest {
        request_id: request_id(),
        crossing_point: Some(CrossingPoint {
            code: "SI-OBREZJE".into(),
            country: "SVN".into(),
        }),
        direction: direction.into(),
        traveller: Some(pb::Traveller {
            reference: "driver".into(),
            document: Some(pb::TravelDocument {
                mrz: SERBIAN.into(),
                issue_date: None,
            }),
            intended_departure: departure,
            ..Default::default()
        }),
        crossing_date: on,
    }
}

async fn check(service: &mut Service, request: pb::CheckTravellerRequest) -> pb::TravellerCheck {
    service
        .client
        .check_traveller(request)
        .await
        .unwrap()
        .into_inner()
        .check
        .unwrap()
}

fn codes(check: &pb::TravellerCheck) -> Vec<(String, String)> {
    check
        .reasons
        .iter()
        .map(|r| (r.code.clone(), r.refusal_code.clone()))
        .collect()
}

fn violation_fields(status: &tonic::Status) -> Vec<String> {
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

#[tokio::test]
async fn a_reported_document_is_refused_with_a_until_the_report_is_withdrawn() {
    let mut service = start().await;
    let report = pb::DocumentReport {
        issuing_state: "SRB".into(),
        document_code: "P".into(),
        document_number: "012345678".into(),
        status: pb::DocumentReportStatus::Stolen.into(),
        source: pb::DocumentReportSource::Sltd.into(),
        reported_on: date(2026, 1, 5),
    };
    service
        .client
        .report_document(pb::ReportDocumentRequest {
            request_id: request_id(),
            report: Some(report.clone()),
        })
        .await
        .unwrap();
    let found = service
        .client
        .lookup_document(pb::LookupDocumentRequest {
            issuing_state: "SRB".into(),
            document_code: "PO".into(),
            document_number: "012345678".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.report, Some(report));
    let refused = check(
        &mut service,
        crossing(Direction::Entry, date(2026, 7, 15), date(2026, 7, 20)),
    )
    .await;
    assert_eq!(refused.verdict(), Verdict::Refuse);
    assert!(
        codes(&refused).contains(&("DOCUMENT_REPORTED".into(), "A".into())),
        "{:?}",
        codes(&refused)
    );
    let withdrawn = service
        .client
        .withdraw_document_report(pb::WithdrawDocumentReportRequest {
            request_id: request_id(),
            issuing_state: "SRB".into(),
            document_code: "P".into(),
            document_number: "012345678".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(withdrawn.withdrawn);
    let cleared = check(
        &mut service,
        crossing(Direction::Entry, date(2026, 7, 15), date(2026, 7, 20)),
    )
    .await;
    assert_eq!(cleared.verdict(), Verdict::Clear, "{:?}", codes(&cleared));
}

#[tokio::test]
async fn a_watchlist_hit_refers_with_the_alert_id() {
    let mut service = start().await;
    service
        .client
        .add_watchlist_entry(pb::AddWatchlistEntryRequest {
            request_id: request_id(),
            entry: Some(pb::WatchlistEntry {
                alert_id: "SIS-000042".into(),
                primary_identifier: "Петровић".into(),
                secondary_identifier: "Марко".into(),
                birth_date: date(1979, 1, 1),
                birth_date_precision: pb::BirthDatePrecision::Year.into(),
                nationality: "SRB".into(),
                sex: "M".into(),
                reason: "SIS Art. 24 refusal of entry".into(),
            }),
        })
        .await
        .unwrap();
    let referred = check(
        &mut service,
        crossing(Direction::Entry, date(2026, 7, 15), date(2026, 7, 20)),
    )
    .await;
    assert_eq!(referred.verdict(), Verdict::Refer);
    assert_eq!(referred.watchlist_hits.len(), 1);
    assert_eq!(referred.watchlist_hits[0].alert_id, "SIS-000042");
    let reason = referred
        .reasons
        .iter()
        .find(|r| r.code == "WATCHLIST_HIT")
        .unwrap();
    assert!(reason.message.contains("SIS-000042"));
    assert!(reason.refusal_code.is_empty());
    let screened = service
        .client
        .screen_manifest(pb::ScreenManifestRequest {
            transport_reference: "JU0400".into(),
            passengers: vec![
                pb::PersonData {
                    primary_identifier: "SMITH".into(),
                    secondary_identifier: "JOHN".into(),
                    ..Default::default()
                },
                pb::PersonData {
                    primary_identifier: "MARKO".into(),
                    secondary_identifier: "PETROVICH".into(),
                    birth_date: date(1979, 2, 14),
                    ..Default::default()
                },
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(screened.screened, 2);
    assert_eq!(screened.flagged.len(), 1);
    assert_eq!(screened.flagged[0].index, 1);
}

#[tokio::test]
async fn sbc_art_6_1_stays_are_counted_from_recorded_entries_and_exits() {
    let mut service = start().await;
    let entry = check(
        &mut service,
        crossing(Direction::Entry, date(2026, 1, 1), date(2026, 3, 1)),
    )
    .await;
    assert_eq!(entry.verdict(), Verdict::Clear, "{:?}", codes(&entry));
    let stay = entry.stay.unwrap();
    assert_eq!((stay.days_used, stay.latest_exit), (1, date(2026, 3, 31)));
    // Leaving ten days late: the exit is recorded and the overstay flagged.
    let exit = check(
        &mut service,
        crossing(Direction::Exit, date(2026, 4, 10), None),
    )
    .await;
    assert_eq!(exit.verdict(), Verdict::Refer);
    assert!(codes(&exit).contains(&("OVERSTAY".into(), String::new())));
    assert_eq!(exit.stay.unwrap().overstay_days, 10);
    // Coming back a month later for a week: the window still holds 100 days.
    let refused = check(
        &mut service,
        crossing(Direction::Entry, date(2026, 5, 10), date(2026, 5, 17)),
    )
    .await;
    assert_eq!(refused.verdict(), Verdict::Refuse);
    assert!(codes(&refused).contains(&("STAY_EXCEEDS_90_IN_180".into(), "F".into())));
    let assessed = service
        .client
        .assess_stay(pb::AssessStayRequest {
            issuing_state: "SRB".into(),
            document_number: "012345678".into(),
            on: date(2026, 4, 10),
        })
        .await
        .unwrap()
        .into_inner()
        .stay
        .unwrap();
    assert_eq!(assessed.days_used, 100);
    assert_eq!(assessed.window_start, date(2025, 10, 13));
}

#[tokio::test]
async fn a_single_entry_visa_is_used_once() {
    let mut service = start().await;
    service
        .client
        .register_visa(pb::RegisterVisaRequest {
            request_id: request_id(),
            visa: Some(pb::IssuedVisa {
                visa_number: "SVN0001234".into(),
                issuing_state: "SVN".into(),
                valid_from: date(2026, 7, 1),
                valid_until: date(2026, 7, 31),
                entries_allowed: 1,
                duration_of_stay_days: 15,
                entries_used: 0,
            }),
        })
        .await
        .unwrap();
    let with_visa = |on, departure, visa: &str| {
        let mut request = crossing(Direction::Entry, on, departure);
        request.traveller.as_mut().unwrap().visa_number = visa.into();
        request
    };
    let first = check(
        &mut service,
        with_visa(date(2026, 7, 2), date(2026, 7, 5), "SVN0001234"),
    )
    .await;
    assert_eq!(first.verdict(), Verdict::Clear, "{:?}", codes(&first));
    check(
        &mut service,
        crossing(Direction::Exit, date(2026, 7, 5), None),
    )
    .await;
    let second = check(
        &mut service,
        with_visa(date(2026, 7, 10), date(2026, 7, 12), "SVN0001234"),
    )
    .await;
    assert!(codes(&second).contains(&("VISA_ENTRIES_EXHAUSTED".into(), "C".into())));
    let unknown = check(
        &mut service,
        with_visa(date(2026, 7, 10), date(2026, 7, 12), "SVN9999999"),
    )
    .await;
    assert_eq!(unknown.verdict(), Verdict::Refer);
    assert!(codes(&unknown).contains(&("VISA_NOT_ISSUED".into(), String::new())));
}

#[tokio::test]
async fn bad_input_names_every_field() {
    let mut service = start().await;
    let status = service
        .client
        .parse_mrz(pb::ParseMrzRequest {
            mrz: "P".repeat(1 << 20),
        })
        .await
        .unwrap_err();
    assert_eq!(violation_fields(&status), ["mrz"]);
    let status = service
        .client
        .report_document(pb::ReportDocumentRequest {
            request_id: "not-a-uuid".into(),
            report: Some(pb::DocumentReport {
                issuing_state: "serbia".into(),
                document_code: "p".into(),
                document_number: "".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violation_fields(&status),
        [
            "request_id",
            "report.issuing_state",
            "report.document_code",
            "report.document_number",
            "report.status",
            "report.source"
        ]
    );
    let status = service
        .client
        .screen_manifest(pb::ScreenManifestRequest {
            transport_reference: "JU0400".into(),
            passengers: vec![
                pb::PersonData {
                    primary_identifier: "1234".into(),
                    sex: "Q".into(),
                    birth_date: date(1990, 2, 30),
                    ..Default::default()
                };
                2
            ],
        })
        .await
        .unwrap_err();
    let fields = violation_fields(&status);
    assert!(
        fields.contains(&"passengers[1].primary_identifier".to_owned()),
        "{fields:?}"
    );
    assert!(fields.contains(&"passengers[0].birth_date".to_owned()));
    assert!(fields.contains(&"passengers[0].sex".to_owned()));
    let status = service
        .client
        .screen_manifest(pb::ScreenManifestRequest {
            transport_reference: "JU0400".into(),
            passengers: vec![pb::PersonData::default(); 1_001],
        })
        .await
        .unwrap_err();
    assert_eq!(violation_fields(&status), ["passengers"]);
}
