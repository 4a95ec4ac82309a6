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

/// Registers visa SVN0001234: one entry, 15 days, valid through July 2026.
async fn register_single_entry_visa(service: &mut Service) {
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
}

#[tokio::test]
async fn a_single_entry_visa_is_used_once() {
    let mut service = start().await;
    register_single_entry_visa(&mut service).await;
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

async fn refuse(
    service: &mut Service,
    check_id: &str,
    codes: &[&str],
) -> Result<pb::TravellerCheck, tonic::Status> {
    service
        .client
        .refuse_entry(pb::RefuseEntryRequest {
            request_id: request_id(),
            check_id: check_id.into(),
            refusal_codes: codes.iter().map(|c| c.to_string()).collect(),
            text: "the crossing was refused by customs".into(),
        })
        .await
        .map(|r| r.into_inner().check.unwrap())
}

fn interview(check_id: &str, outcome: pb::InterviewOutcome) -> pb::RecordInterviewOutcomeRequest {
    let refused = outcome == pb::InterviewOutcome::Refused;
    pb::RecordInterviewOutcomeRequest {
        request_id: request_id(),
        check_id: check_id.into(),
        officer_id: "BP-4711".into(),
        outcome: outcome.into(),
        refusal_codes: if refused { vec!["E".into()] } else { vec![] },
        text: if refused {
            "alert SIS-000042 confirmed".into()
        } else {
            String::new()
        },
    }
}

async fn days_used(service: &mut Service, on: Option<Date>) -> u32 {
    service
        .client
        .assess_stay(pb::AssessStayRequest {
            issuing_state: "SRB".into(),
            document_number: "012345678".into(),
            on,
        })
        .await
        .unwrap()
        .into_inner()
        .stay
        .unwrap()
        .days_used
}

async fn get(service: &mut Service, check_id: &str) -> pb::TravellerCheck {
    service
        .client
        .get_traveller_check(pb::GetTravellerCheckRequest {
            check_id: check_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .check
        .unwrap()
}

async fn add_alert(service: &mut Service) {
    service
        .client
        .add_watchlist_entry(pb::AddWatchlistEntryRequest {
            request_id: request_id(),
            entry: Some(pb::WatchlistEntry {
                alert_id: "SIS-000042".into(),
                primary_identifier: "PETROVIC".into(),
                secondary_identifier: "MARKO".into(),
                birth_date: date(1979, 2, 14),
                birth_date_precision: pb::BirthDatePrecision::Exact.into(),
                nationality: "SRB".into(),
                sex: "M".into(),
                reason: "SIS Art. 24 refusal of entry".into(),
            }),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn ees_art_18_a_refused_entry_becomes_the_refusal_record_and_gives_the_visa_entry_back() {
    let mut service = start().await;
    register_single_entry_visa(&mut service).await;
    let mut request = crossing(Direction::Entry, date(2026, 7, 2), date(2026, 7, 5));
    request.traveller.as_mut().unwrap().visa_number = "SVN0001234".into();
    let entered = check(&mut service, request.clone()).await;
    assert_eq!(entered.verdict(), Verdict::Clear, "{:?}", codes(&entered));
    assert_eq!(days_used(&mut service, date(2026, 7, 2)).await, 1);

    let refusal = pb::RefuseEntryRequest {
        request_id: request_id(),
        check_id: entered.check_id.clone(),
        refusal_codes: vec!["E".into(), "C".into()],
        text: "the crossing was refused by customs".into(),
    };
    let refused = service
        .client
        .refuse_entry(refusal.clone())
        .await
        .unwrap()
        .into_inner()
        .check
        .unwrap();
    assert_eq!(refused.verdict(), Verdict::Refuse);
    let refusal_codes: Vec<_> = codes(&refused)
        .into_iter()
        .filter(|(code, _)| code == "ENTRY_REFUSED")
        .map(|(_, letter)| letter)
        .collect();
    assert_eq!(refusal_codes, ["E", "C"]);
    // A repeat answers the same; another refusal changes nothing.
    let repeated = service.client.refuse_entry(refusal).await.unwrap();
    assert_eq!(repeated.into_inner().check.unwrap(), refused);
    assert_eq!(
        refuse(&mut service, &entered.check_id, &["B"])
            .await
            .unwrap(),
        refused
    );
    assert_eq!(get(&mut service, &entered.check_id).await, refused);
    // The entry is a refusal now: no day of stay, and the single-entry visa is unused again.
    assert_eq!(days_used(&mut service, date(2026, 7, 2)).await, 0);
    request.request_id = request_id();
    request.crossing_date = date(2026, 7, 3);
    let again = check(&mut service, request).await;
    assert_eq!(again.verdict(), Verdict::Clear, "{:?}", codes(&again));
}

#[tokio::test]
async fn sbc_art_8_5_the_second_line_admits_a_referred_traveller_once() {
    let mut service = start().await;
    add_alert(&mut service).await;
    let referred = check(
        &mut service,
        crossing(Direction::Entry, date(2026, 7, 15), date(2026, 7, 20)),
    )
    .await;
    assert_eq!(referred.verdict(), Verdict::Refer);
    // A referred traveller has not entered yet.
    assert_eq!(days_used(&mut service, date(2026, 7, 15)).await, 0);
    let admitted = service
        .client
        .record_interview_outcome(interview(
            &referred.check_id,
            pb::InterviewOutcome::Admitted,
        ))
        .await
        .unwrap()
        .into_inner()
        .check
        .unwrap();
    assert_eq!(admitted.verdict(), Verdict::Clear);
    let decision = admitted.second_line.clone().unwrap();
    assert_eq!(decision.officer_id, "BP-4711");
    assert_eq!(decision.outcome(), pb::InterviewOutcome::Admitted);
    assert!(decision.decide_time.is_some());
    let reason = admitted
        .reasons
        .iter()
        .find(|r| r.code == "ADMITTED_BY_SECOND_LINE")
        .unwrap();
    assert!(reason.message.contains("BP-4711"), "{}", reason.message);
    assert_eq!(get(&mut service, &referred.check_id).await, admitted);
    assert_eq!(days_used(&mut service, date(2026, 7, 15)).await, 1);
    // The same outcome again changes nothing; a different one is refused.
    let same = service
        .client
        .record_interview_outcome(interview(
            &referred.check_id,
            pb::InterviewOutcome::Admitted,
        ))
        .await
        .unwrap();
    assert_eq!(same.into_inner().check.unwrap(), admitted);
    let status = service
        .client
        .record_interview_outcome(interview(&referred.check_id, pb::InterviewOutcome::Refused))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(days_used(&mut service, date(2026, 7, 15)).await, 1);
}

#[tokio::test]
async fn a_refusal_by_the_second_line_records_one_refusal_and_no_stay() {
    let mut service = start().await;
    add_alert(&mut service).await;
    let referred = check(
        &mut service,
        crossing(Direction::Entry, date(2026, 7, 15), date(2026, 7, 20)),
    )
    .await;
    let refused = service
        .client
        .record_interview_outcome(interview(&referred.check_id, pb::InterviewOutcome::Refused))
        .await
        .unwrap()
        .into_inner()
        .check
        .unwrap();
    assert_eq!(refused.verdict(), Verdict::Refuse);
    assert!(codes(&refused).contains(&("ENTRY_REFUSED".into(), "E".into())));
    assert_eq!(refused.second_line.as_ref().unwrap().refusal_codes, ["E"]);
    // A compensating refusal afterwards is a no-op.
    assert_eq!(
        refuse(&mut service, &referred.check_id, &["E"])
            .await
            .unwrap(),
        refused
    );
    assert_eq!(days_used(&mut service, date(2026, 7, 15)).await, 0);
}

async fn withdraw(
    service: &mut Service,
    request_id: &str,
    check_id: &str,
) -> Result<pb::TravellerCheck, tonic::Status> {
    service
        .client
        .withdraw_exit(pb::WithdrawExitRequest {
            request_id: request_id.into(),
            check_id: check_id.into(),
            text: "customs refused the export; the lorry turned back".into(),
        })
        .await
        .map(|response| response.into_inner().check.unwrap())
}

#[tokio::test]
async fn ees_art_35_an_exit_that_did_not_happen_is_erased_and_the_stay_goes_on() {
    let mut service = start().await;
    check(
        &mut service,
        crossing(Direction::Entry, date(2026, 7, 1), date(2026, 7, 20)),
    )
    .await;
    let exit = check(
        &mut service,
        crossing(Direction::Exit, date(2026, 7, 10), None),
    )
    .await;
    assert_eq!(exit.verdict(), Verdict::Clear, "{:?}", codes(&exit));
    assert_eq!(days_used(&mut service, date(2026, 7, 15)).await, 10);

    let once = request_id();
    let withdrawn = withdraw(&mut service, &once, &exit.check_id).await.unwrap();
    assert_eq!(withdrawn.verdict(), Verdict::Clear);
    assert!(codes(&withdrawn).contains(&("EXIT_WITHDRAWN".into(), String::new())));
    assert_eq!(get(&mut service, &exit.check_id).await, withdrawn);
    // The traveller is still here: the stay runs on through the day asked about.
    assert_eq!(days_used(&mut service, date(2026, 7, 15)).await, 15);
    // A repeat answers the same; another withdrawal changes nothing.
    assert_eq!(
        withdraw(&mut service, &once, &exit.check_id).await.unwrap(),
        withdrawn
    );
    assert_eq!(
        withdraw(&mut service, &request_id(), &exit.check_id)
            .await
            .unwrap(),
        withdrawn
    );
    assert_eq!(days_used(&mut service, date(2026, 7, 15)).await, 15);
}

#[tokio::test]
async fn an_exit_is_withdrawn_only_on_a_known_exit_check_and_bad_fields_are_named() {
    let mut service = start().await;
    let entry = check(
        &mut service,
        crossing(Direction::Entry, date(2026, 7, 15), date(2026, 7, 20)),
    )
    .await;
    let status = withdraw(&mut service, &request_id(), &entry.check_id)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let status = withdraw(&mut service, &request_id(), &request_id())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = service
        .client
        .withdraw_exit(pb::WithdrawExitRequest {
            request_id: "not-a-uuid".into(),
            check_id: "nor-this".into(),
            text: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violation_fields(&status),
        ["request_id", "check_id", "text"]
    );
}

#[tokio::test]
async fn decisions_need_a_known_referred_entry_check_and_name_bad_fields() {
    let mut service = start().await;
    let cleared = check(
        &mut service,
        crossing(Direction::Entry, date(2026, 7, 15), date(2026, 7, 20)),
    )
    .await;
    let status = service
        .client
        .record_interview_outcome(interview(&cleared.check_id, pb::InterviewOutcome::Admitted))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let exit = check(
        &mut service,
        crossing(Direction::Exit, date(2026, 7, 20), None),
    )
    .await;
    let status = refuse(&mut service, &exit.check_id, &["A"])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");

    let unknown = request_id();
    let status = refuse(&mut service, &unknown, &["A"]).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = service
        .client
        .record_interview_outcome(interview(&unknown, pb::InterviewOutcome::Admitted))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    let status = service
        .client
        .refuse_entry(pb::RefuseEntryRequest {
            request_id: "not-a-uuid".into(),
            check_id: "nor-this".into(),
            refusal_codes: vec!["Z".into()],
            text: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violation_fields(&status),
        ["request_id", "check_id", "refusal_codes[0]", "text"]
    );
    let status = service
        .client
        .record_interview_outcome(pb::RecordInterviewOutcomeRequest {
            request_id: request_id(),
            check_id: cleared.check_id.clone(),
            officer_id: String::new(),
            outcome: pb::InterviewOutcome::Refused.into(),
            refusal_codes: vec![],
            text: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violation_fields(&status),
        ["officer_id", "refusal_codes", "text"]
    );
}

#[tokio::test]
async fn concurrent_refusals_of_one_check_have_one_effect() {
    let mut service = start().await;
    let mut client = service.client.clone();
    let entered = client
        .check_traveller(crossing(
            Direction::Entry,
            date(2026, 7, 15),
            date(2026, 7, 20),
        ))
        .await
        .unwrap()
        .into_inner()
        .check
        .unwrap();
    let same = pb::RefuseEntryRequest {
        request_id: request_id(),
        check_id: entered.check_id.clone(),
        refusal_codes: vec!["E".into()],
        text: "refused".into(),
    };
    let mut calls = Vec::new();
    for index in 0..6 {
        let mut client = service.client.clone();
        let mut request = same.clone();
        if index % 2 == 1 {
            request.request_id = request_id();
        }
        calls.push(tokio::spawn(async move {
            client.refuse_entry(request).await.map(|r| r.into_inner())
        }));
    }
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap().unwrap().check.unwrap());
    }
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
    let refusals = answers[0]
        .reasons
        .iter()
        .filter(|r| r.code == "ENTRY_REFUSED")
        .count();
    assert_eq!(refusals, 1);
    assert_eq!(days_used(&mut service, date(2026, 7, 15)).await, 0);
}

#[tokio::test]
async fn a_storm_of_repeated_checks_records_one_entry() {
    let mut service = start().await;
    let same = crossing(Direction::Entry, date(2026, 7, 15), date(2026, 7, 20));
    let copies: Vec<_> = (0..12)
        .map(|_| {
            let mut client = service.client.clone();
            let request = same.clone();
            tokio::spawn(async move { client.check_traveller(request).await })
        })
        .collect();
    let mut answers = Vec::new();
    for copy in copies {
        answers.push(copy.await.unwrap().unwrap().into_inner().check.unwrap());
    }
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));

    // Refusing the one check leaves no entry behind: a second entry record would still count.
    refuse(&mut service, &answers[0].check_id, &["E"])
        .await
        .unwrap();
    assert_eq!(days_used(&mut service, date(2026, 7, 15)).await, 0);

    let mut changed = same;
    changed.crossing_date = date(2026, 7, 16);
    let refused = service.client.check_traveller(changed).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::AlreadyExists, "{refused:?}");
}
