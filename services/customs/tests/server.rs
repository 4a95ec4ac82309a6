//! The customs server on port 0, called through the generated client: declarations, lanes and
//! their replay, cash records for the FIU, transit movements and bad input.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use bordermesh_customs::{
    api::selection_seed,
    domain::{mrn, risk::DEFAULT_RISK_PROFILES, tariff::DEFAULT_TARIFF},
    store::Store,
};
use bordermesh_kit::{config::Config, db::Db, server::ServerHandle, storage, writes::Statement};
use bordermesh_proto::{
    common::v1::{CrossingPoint, Date, Direction, Money, Quantity, TransportMode, Verdict},
    customs::v1::{
        AssessDeclarationRequest, CashCarried, CashKind, Declaration, DeclarationStatus,
        DischargeTransitRequest, ExaminationResult, GetDeclarationRequest, GoodsItem,
        InvalidateDeclarationRequest, Lane, ListOverdueTransitsRequest, OpenTransitRequest,
        Procedure, RecordExaminationRequest, ReferralKind, Trader, TransitMovement, Vehicle,
        VehicleKind, customs_service_client::CustomsServiceClient,
    },
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt;
use uuid::Uuid;

fn nomenclature() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/hs2022/harmonized-system.csv")
}

/// The default risk profiles with random selection at the given percentages.
fn risk_with_random(red: &str, aeo_red: &str) -> String {
    let zero = |text: String, key: &str, from: &str, to: &str| {
        text.replacen(
            &format!("{key} = \"{from}\""),
            &format!("{key} = \"{to}\""),
            1,
        )
    };
    let text = zero(DEFAULT_RISK_PROFILES.to_owned(), "red_percent", "1", red);
    let text = zero(text, "yellow_percent", "3", "0");
    let text = zero(text, "blue_percent", "2", "0");
    let text = zero(text, "red_percent", "0.2", aeo_red);
    let text = zero(text, "yellow_percent", "0.5", "0");
    zero(text, "blue_percent", "1", "0")
}

struct Customs {
    client: CustomsServiceClient<Channel>,
    config: Config,
    shutdown: CancellationToken,
    server: JoinHandle<anyhow::Result<()>>,
    dir: tempfile::TempDir,
}

impl Customs {
    /// Starts the server with the worked example's rates (2.5 % duty, 23 % VAT), at most
    /// three items per declaration, the HS 2022 nomenclature and the given risk profiles.
    async fn start(risk: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let tariff = format!(
            "risk_profiles = \"risk.toml\"\n{}",
            DEFAULT_TARIFF
                .replace(
                    "default_duty_rate_percent = \"4\"",
                    "default_duty_rate_percent = \"2.5\""
                )
                .replace("vat_rate_percent = \"22\"", "vat_rate_percent = \"23\"")
                .replace("max_items = 999", "max_items = 3")
        );
        std::fs::write(dir.path().join("tariff.toml"), tariff).unwrap();
        std::fs::write(dir.path().join("risk.toml"), risk).unwrap();
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            drain_seconds: 2,
            ..Config::default()
        };
        config.customs.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.customs.tariff_path = Some(dir.path().join("tariff.toml"));
        config.customs.nomenclature_path = Some(nomenclature());
        let shutdown = CancellationToken::new();
        let handle = ServerHandle::bind(
            config.customs.listen,
            shutdown.clone(),
            config.server_options(),
        )
        .await
        .unwrap();
        let addr = handle.local_addr().unwrap();
        let server = {
            let config = config.clone();
            tokio::spawn(async move { bordermesh_customs::serve(&config, handle).await })
        };
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        Self {
            client: CustomsServiceClient::new(channel),
            config,
            shutdown,
            server,
            dir,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.unwrap().unwrap();
    }

    async fn assess(&mut self, request: AssessDeclarationRequest) -> Result<Declaration, Status> {
        Ok(self
            .client
            .assess_declaration(request)
            .await?
            .into_inner()
            .declaration
            .unwrap())
    }

    async fn store(&self) -> Store {
        let url = self.config.database_url("customs", None);
        Store::new(
            Db::connect(
                &url,
                &bordermesh_customs::MIGRATIONS,
                storage::Checkpoints::Small,
            )
            .await
            .unwrap(),
        )
    }
}

fn eur(amount: &str) -> Option<Money> {
    Some(Money {
        currency_code: "EUR".into(),
        amount: amount.into(),
    })
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn toys() -> GoodsItem {
    GoodsItem {
        description: "Wooden toys".into(),
        commodity_code: "950300".into(),
        origin_country: "CHN".into(),
        quantity: Some(Quantity {
            value: "40".into(),
            unit: "NAR".into(),
        }),
        net_mass_kg: "12".into(),
        invoice_value: eur("500"),
        freight_and_insurance: eur("100"),
    }
}

fn import(items: Vec<GoodsItem>, aeo: bool) -> AssessDeclarationRequest {
    AssessDeclarationRequest {
        request_id: Uuid::new_v4().to_string(),
        crossing_point: Some(CrossingPoint {
            code: "SI-OBREZJE".into(),
            country: "SVN".into(),
        }),
        direction: Direction::Entry.into(),
        transport_mode: TransportMode::Road.into(),
        procedure: Procedure::Import.into(),
        declarant: Some(Trader {
            eori: "RS100200300".into(),
            authorised_economic_operator: aeo,
        }),
        vehicle: None,
        items,
        cash: Vec::new(),
        crossing_date: date(2026, 7, 15),
        traveller_under_15: false,
    }
}

fn violations(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let mut fields: Vec<String> = status
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    fields.sort();
    fields
}

#[tokio::test]
async fn ucc_art_70_worked_example_through_the_server_with_an_mrn_and_a_replayable_lane() {
    let mut customs = Customs::start(DEFAULT_RISK_PROFILES).await;
    let request = import(vec![toys()], false);
    let declaration = customs.assess(request.clone()).await.unwrap();
    let item = &declaration.items[0];
    assert_eq!(item.duty.as_ref().unwrap().amount, "15.00");
    assert_eq!(item.vat_base.as_ref().unwrap().amount, "615.00");
    assert_eq!(item.vat.as_ref().unwrap().amount, "141.45");
    assert!(item.classification_verified);
    assert_eq!(declaration.total_duty, [eur("15.00").unwrap()]);
    assert!(mrn::is_valid(&declaration.mrn), "{}", declaration.mrn);
    assert!(declaration.mrn.starts_with("26SI"));
    assert!(mrn::is_valid("22ITZXBZYUTJFLJXK6"));

    // The lane is recorded with the rule set version and the seed derived from the request.
    assert_ne!(declaration.lane(), Lane::Unspecified);
    assert_eq!(declaration.risk_rule_set_version, "2026.07-1");
    let request_id = Uuid::parse_str(&request.request_id).unwrap();
    assert_eq!(declaration.selection_seed, selection_seed(request_id));

    // A repeat answers the same declaration; GetDeclaration reads it back.
    assert_eq!(customs.assess(request).await.unwrap(), declaration);
    let read = customs
        .client
        .get_declaration(GetDeclarationRequest {
            declaration_id: declaration.declaration_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .declaration
        .unwrap();
    assert_eq!(read, declaration);
    customs.stop().await;
}

#[tokio::test]
async fn a_storm_of_repeats_lodges_one_declaration_and_a_changed_request_is_refused() {
    let customs = Customs::start(DEFAULT_RISK_PROFILES).await;
    let request = import(vec![toys()], false);
    let copies = (0..12).map(|_| {
        let mut client = customs.client.clone();
        let request = request.clone();
        tokio::spawn(async move { client.assess_declaration(request).await })
    });
    let mut answers = Vec::new();
    for copy in copies {
        answers.push(
            copy.await
                .unwrap()
                .unwrap()
                .into_inner()
                .declaration
                .unwrap(),
        );
    }
    assert!(answers.iter().all(|answer| *answer == answers[0]));

    let store = customs.store().await;
    let (lodged,): (i64,) = store
        .db()
        .fetch_one(&Statement::new("SELECT COUNT(*) FROM declarations"))
        .await
        .unwrap();
    assert_eq!(lodged, 1);

    let mut changed = request;
    changed.traveller_under_15 = true;
    let mut client = customs.client.clone();
    let refused = client.assess_declaration(changed).await.unwrap_err();
    assert_eq!(refused.code(), Code::AlreadyExists, "{refused:?}");
    customs.stop().await;
}

#[tokio::test]
async fn random_selection_is_lower_for_aeos_and_a_red_lane_refers_with_its_rule() {
    let mut customs = Customs::start(&risk_with_random("100", "0")).await;
    let trader = customs.assess(import(vec![toys()], false)).await.unwrap();
    assert_eq!(trader.lane(), Lane::Red);
    assert_eq!(trader.verdict(), Verdict::Refer);
    assert_eq!(trader.lane_rule_ids, ["RANDOM-RED"]);
    let lane_reason = trader
        .reasons
        .iter()
        .find(|r| r.code == "LANE_RED")
        .unwrap();
    assert_eq!(lane_reason.rule_id, "RANDOM-RED");
    let aeo = customs.assess(import(vec![toys()], true)).await.unwrap();
    assert_eq!(aeo.lane(), Lane::Green);
    assert!(aeo.lane_rule_ids.is_empty());
    assert_eq!(aeo.verdict(), Verdict::ClearWithConditions);
    customs.stop().await;
}

#[tokio::test]
async fn risk_rules_fire_on_the_goods_and_name_themselves() {
    let mut customs = Customs::start(&risk_with_random("0", "0")).await;
    let car = GoodsItem {
        description: "Used passenger car".into(),
        commodity_code: "870323".into(),
        origin_country: "DEU".into(),
        quantity: Some(Quantity {
            value: "1".into(),
            unit: "NAR".into(),
        }),
        net_mass_kg: "1400".into(),
        invoice_value: eur("9000"),
        freight_and_insurance: eur("400"),
    };
    let declaration = customs.assess(import(vec![car], false)).await.unwrap();
    assert_eq!(declaration.lane(), Lane::Yellow);
    assert_eq!(declaration.lane_rule_ids, ["RP-VEHICLES-01"]);
    // 10 % duty on 9 400 and VAT 23 % on 10 340.
    assert_eq!(declaration.items[0].duty.as_ref().unwrap().amount, "940.00");
    assert_eq!(declaration.items[0].duty_measure, "10 %");
    customs.stop().await;
}

#[tokio::test]
async fn referrals_name_the_sanitary_document_and_the_licence() {
    let mut customs = Customs::start(DEFAULT_RISK_PROFILES).await;
    let beef = GoodsItem {
        description: "Frozen beef".into(),
        commodity_code: "020230".into(),
        origin_country: "ARG".into(),
        net_mass_kg: "18000".into(),
        invoice_value: eur("40000"),
        freight_and_insurance: eur("1500"),
        ..toys()
    };
    let ivory = GoodsItem {
        description: "Carved ivory figure".into(),
        commodity_code: "960110".into(),
        ..toys()
    };
    let declaration = customs
        .assess(import(vec![beef, ivory], false))
        .await
        .unwrap();
    let referrals: Vec<_> = declaration
        .referrals
        .iter()
        .map(|r| (r.item_index, r.kind(), r.document_type.as_str()))
        .collect();
    assert_eq!(
        referrals,
        [
            (0, ReferralKind::Sanitary, "CHED-P"),
            (1, ReferralKind::Licence, "CITES")
        ]
    );
    customs.stop().await;
}

#[tokio::test]
async fn regulation_2018_1672_undeclared_gold_and_cash_refer_and_leave_an_fiu_record() {
    let mut customs = Customs::start(DEFAULT_RISK_PROFILES).await;
    let mut request = import(Vec::new(), false);
    request.procedure = Procedure::Unspecified.into();
    request.declarant = None;
    request.cash = vec![
        CashCarried {
            traveller_reference: "driver".into(),
            amount: eur("6000"),
            declared: false,
            kind: CashKind::GoldCoin.into(),
            gold_fineness: "0.9167".into(),
            declared_amount: None,
        },
        CashCarried {
            traveller_reference: "driver".into(),
            amount: Some(Money {
                currency_code: "USD".into(),
                amount: "4680".into(),
            }),
            declared: false,
            kind: CashKind::Currency.into(),
            gold_fineness: String::new(),
            declared_amount: None,
        },
    ];
    let declaration = customs.assess(request).await.unwrap();
    assert_eq!(declaration.verdict(), Verdict::Refer);
    assert!(
        declaration
            .reasons
            .iter()
            .any(|r| r.code == "CASH_UNDECLARED")
    );
    assert_eq!(declaration.fiu_record_ids.len(), 1);
    let records = customs
        .store()
        .await
        .fiu_records(&declaration.declaration_id)
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record_id, declaration.fiu_record_ids[0]);
    assert_eq!(records[0].compliance, "UNDECLARED");
    // 6 000 EUR of coins and 4 680 USD at 1.17 = 4 000 EUR.
    assert_eq!(records[0].value_amount, "10000.00");
    assert_eq!(records[0].cash_forms, "gold coins, currency");
    customs.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_field_violation_for_each_bad_field() {
    let mut customs = Customs::start(DEFAULT_RISK_PROFILES).await;
    let mut letters = toys();
    letters.commodity_code = "95O300".into();
    let mut zero_quantity = toys();
    zero_quantity.quantity = Some(Quantity {
        value: "0".into(),
        unit: "NAR".into(),
    });
    let mut negative = toys();
    negative.invoice_value = eur("-1");
    negative.net_mass_kg = "-3".into();
    let mut unknown_currency = toys();
    unknown_currency.freight_and_insurance = Some(Money {
        currency_code: "EUX".into(),
        amount: "10".into(),
    });
    let mut request = import(vec![letters, zero_quantity, negative], false);
    request.declarant = Some(Trader {
        eori: "rs-100".into(),
        authorised_economic_operator: false,
    });
    request.vehicle = Some(Vehicle {
        registration: String::new(),
        registration_country: "Serbia".into(),
        kind: VehicleKind::Lorry.into(),
    });
    request.cash = vec![CashCarried {
        traveller_reference: "driver".into(),
        amount: eur("0"),
        declared: false,
        kind: CashKind::GoldBar.into(),
        gold_fineness: String::new(),
        declared_amount: None,
    }];
    let status = customs.assess(request).await.unwrap_err();
    assert_eq!(
        violations(&status),
        [
            "cash[0].amount.amount",
            "cash[0].gold_fineness",
            "declarant.eori",
            "items[0].commodity_code",
            "items[1].quantity.value",
            "items[2].invoice_value.amount",
            "items[2].net_mass_kg",
            "vehicle.registration",
            "vehicle.registration_country",
        ]
    );

    let too_many = import(vec![toys(), toys(), toys(), unknown_currency], false);
    let status = customs.assess(too_many).await.unwrap_err();
    assert_eq!(violations(&status), ["items"]);

    let mut not_in_hs = toys();
    not_in_hs.commodity_code = "020240".into();
    let mut no_rate = toys();
    no_rate.invoice_value = Some(Money {
        currency_code: "JPY".into(),
        amount: "100000".into(),
    });
    no_rate.freight_and_insurance = None;
    let status = customs
        .assess(import(vec![not_in_hs], false))
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["items[0].commodity_code"]);
    let status = customs
        .assess(import(vec![no_rate], false))
        .await
        .unwrap_err();
    assert_eq!(
        violations(&status),
        ["items[0].invoice_value.currency_code"]
    );
    customs.stop().await;
}

fn open_transit(guarantee: &str, time_limit: Option<Date>) -> OpenTransitRequest {
    OpenTransitRequest {
        request_id: Uuid::new_v4().to_string(),
        office_of_departure: "RS000100".into(),
        office_of_destination: "SI000200".into(),
        principal: Some(Trader {
            eori: "RS100200300".into(),
            authorised_economic_operator: false,
        }),
        guarantee: eur(guarantee),
        route: vec!["SRB".into(), "HRV".into(), "SVN".into()],
        departure_date: date(2026, 7, 15),
        time_limit,
        items: vec![toys()],
    }
}

async fn open(
    customs: &mut Customs,
    request: OpenTransitRequest,
) -> Result<TransitMovement, Status> {
    Ok(customs
        .client
        .open_transit(request)
        .await?
        .into_inner()
        .movement
        .unwrap())
}

#[tokio::test]
async fn ncts_transit_is_opened_with_a_guarantee_discharged_once_and_reported_when_overdue() {
    let mut customs = Customs::start(DEFAULT_RISK_PROFILES).await;
    // Duty 15.00 and VAT 141.45 are at stake on the toys: 156.45 EUR.
    let status = open(&mut customs, open_transit("100", date(2026, 7, 20)))
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["guarantee.amount"]);
    let status = open(&mut customs, open_transit("1000", date(2026, 7, 10)))
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["time_limit"]);

    let early = open(&mut customs, open_transit("156.45", date(2026, 7, 18)))
        .await
        .unwrap();
    let late = open(&mut customs, open_transit("1000", date(2026, 7, 20)))
        .await
        .unwrap();
    assert!(mrn::is_valid(&early.mrn) && early.mrn.starts_with("26RS"));
    assert_eq!(early.duties_at_stake, eur("156.45"));

    let overdue = |as_of| ListOverdueTransitsRequest {
        as_of,
        page_size: 0,
    };
    let listed = customs
        .client
        .list_overdue_transits(overdue(date(2026, 7, 19)))
        .await
        .unwrap()
        .into_inner()
        .movements;
    assert_eq!(
        listed.iter().map(|m| &m.mrn).collect::<Vec<_>>(),
        [&early.mrn]
    );

    let discharge = DischargeTransitRequest {
        request_id: Uuid::new_v4().to_string(),
        mrn: late.mrn.clone(),
        office_of_destination: "SI000300".into(),
        arrival_date: date(2026, 7, 22),
    };
    let discharged = customs
        .client
        .discharge_transit(discharge.clone())
        .await
        .unwrap()
        .into_inner()
        .movement
        .unwrap();
    let codes: Vec<_> = discharged.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes,
        ["TIME_LIMIT_EXCEEDED", "OTHER_OFFICE_OF_DESTINATION"]
    );
    assert_eq!(discharged.office_of_discharge, "SI000300");
    // The same request again answers the same; a new discharge of it is refused.
    let repeated = customs
        .client
        .discharge_transit(discharge.clone())
        .await
        .unwrap()
        .into_inner()
        .movement
        .unwrap();
    assert_eq!(repeated, discharged);
    let again = DischargeTransitRequest {
        request_id: Uuid::new_v4().to_string(),
        ..discharge
    };
    let refused = customs.client.discharge_transit(again).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);

    let listed = customs
        .client
        .list_overdue_transits(overdue(date(2026, 7, 25)))
        .await
        .unwrap()
        .into_inner()
        .movements;
    assert_eq!(
        listed.iter().map(|m| &m.mrn).collect::<Vec<_>>(),
        [&early.mrn]
    );

    let unknown = DischargeTransitRequest {
        request_id: Uuid::new_v4().to_string(),
        mrn: "22ITZXBZYUTJFLJXK6".into(),
        office_of_destination: "SI000200".into(),
        arrival_date: date(2026, 7, 22),
    };
    let missing = customs.client.discharge_transit(unknown).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let bad = DischargeTransitRequest {
        request_id: "not-a-uuid".into(),
        mrn: "22ITZXBZYUTJFLJXK7".into(),
        office_of_destination: "slovenia".into(),
        arrival_date: None,
    };
    let status = customs.client.discharge_transit(bad).await.unwrap_err();
    assert_eq!(
        violations(&status),
        ["arrival_date", "mrn", "office_of_destination", "request_id"]
    );
    customs.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_risk_profiles_named_by_the_tariff() {
    let mut customs = Customs::start(&risk_with_random("100", "0")).await;
    assert_eq!(
        customs
            .assess(import(vec![toys()], false))
            .await
            .unwrap()
            .lane(),
        Lane::Red
    );
    let reloaded = risk_with_random("0", "0").replace("2026.07-1", "2026.07-2");
    std::fs::write(customs.dir.path().join("risk.toml"), reloaded).unwrap();
    let hangup = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(hangup.success());
    // Other servers of this test binary reload their own unchanged files meanwhile.
    let mut version = String::new();
    for _ in 0..100 {
        let declaration = customs.assess(import(vec![toys()], false)).await.unwrap();
        version = declaration.risk_rule_set_version.clone();
        if version == "2026.07-2" {
            assert_eq!(declaration.lane(), Lane::Green);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(version, "2026.07-2");
    customs.stop().await;
}

fn examination(declaration: &Declaration, result: ExaminationResult) -> RecordExaminationRequest {
    RecordExaminationRequest {
        request_id: Uuid::new_v4().to_string(),
        declaration_id: declaration.declaration_id.clone(),
        officer_id: "CU-0815".into(),
        result: result.into(),
        findings: if result == ExaminationResult::NotConform {
            "40 toys declared, 400 found".into()
        } else {
            String::new()
        },
    }
}

fn invalidation(declaration_id: &str) -> InvalidateDeclarationRequest {
    InvalidateDeclarationRequest {
        request_id: Uuid::new_v4().to_string(),
        declaration_id: declaration_id.into(),
        reason: "crossing refused by the border police".into(),
    }
}

impl Customs {
    async fn examine(&mut self, request: RecordExaminationRequest) -> Result<Declaration, Status> {
        Ok(self
            .client
            .record_examination(request)
            .await?
            .into_inner()
            .declaration
            .unwrap())
    }

    async fn invalidate(
        &mut self,
        request: InvalidateDeclarationRequest,
    ) -> Result<Declaration, Status> {
        Ok(self
            .client
            .invalidate_declaration(request)
            .await?
            .into_inner()
            .declaration
            .unwrap())
    }

    async fn get(&mut self, declaration_id: &str) -> Declaration {
        self.client
            .get_declaration(GetDeclarationRequest {
                declaration_id: declaration_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .declaration
            .unwrap()
    }
}

#[tokio::test]
async fn ucc_art_191_a_conform_red_lane_declaration_is_released_once_duties_are_paid() {
    let mut customs = Customs::start(&risk_with_random("100", "0")).await;
    let red = customs.assess(import(vec![toys()], false)).await.unwrap();
    assert_eq!((red.lane(), red.verdict()), (Lane::Red, Verdict::Refer));
    assert_eq!(red.status(), DeclarationStatus::Lodged);
    let request = examination(&red, ExaminationResult::Conform);
    let examined = customs.examine(request.clone()).await.unwrap();
    assert_eq!(examined.verdict(), Verdict::ClearWithConditions);
    assert_eq!(examined.total_duty, red.total_duty);
    let record = examined.examination.clone().unwrap();
    assert_eq!(record.officer_id, "CU-0815");
    assert_eq!(record.result(), ExaminationResult::Conform);
    assert!(record.examine_time.is_some());
    assert!(
        examined
            .reasons
            .iter()
            .any(|r| r.code == "EXAMINATION_CONFORM")
    );
    assert_eq!(customs.get(&red.declaration_id).await, examined);
    // A repeat answers the same; the same result again changes nothing; another is refused.
    assert_eq!(customs.examine(request).await.unwrap(), examined);
    let again = examination(&red, ExaminationResult::Conform);
    assert_eq!(customs.examine(again).await.unwrap(), examined);
    let status = customs
        .examine(examination(&red, ExaminationResult::NotConform))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    customs.stop().await;
}

#[tokio::test]
async fn ucc_art_198_goods_not_as_declared_are_refused_with_the_findings() {
    let mut customs = Customs::start(&risk_with_random("100", "0")).await;
    let red = customs.assess(import(vec![toys()], false)).await.unwrap();
    let refused = customs
        .examine(examination(&red, ExaminationResult::NotConform))
        .await
        .unwrap();
    assert_eq!(refused.verdict(), Verdict::Refuse);
    let reason = refused
        .reasons
        .iter()
        .find(|r| r.code == "EXAMINATION_NOT_CONFORM")
        .unwrap();
    assert!(reason.message.contains("400 found"), "{}", reason.message);
    assert_eq!(customs.get(&red.declaration_id).await, refused);
    customs.stop().await;
}

#[tokio::test]
async fn ucc_art_174_invalidation_ends_the_debt_keeps_the_fiu_record_and_stops_examination() {
    let mut customs = Customs::start(&risk_with_random("100", "0")).await;
    let mut request = import(vec![toys()], false);
    request.cash = vec![CashCarried {
        traveller_reference: "driver".into(),
        amount: eur("12000"),
        declared: false,
        kind: CashKind::Currency.into(),
        gold_fineness: String::new(),
        declared_amount: None,
    }];
    let red = customs.assess(request).await.unwrap();
    assert_eq!(red.fiu_record_ids.len(), 1);
    let first = invalidation(&red.declaration_id);
    let invalidated = customs.invalidate(first.clone()).await.unwrap();
    assert_eq!(invalidated.status(), DeclarationStatus::Invalidated);
    assert_eq!(
        invalidated.invalidation_reason,
        "crossing refused by the border police"
    );
    assert!(invalidated.invalidate_time.is_some());
    assert!(invalidated.total_duty.is_empty() && invalidated.total_vat.is_empty());
    assert_eq!(invalidated.items, red.items);
    assert_eq!(customs.get(&red.declaration_id).await, invalidated);
    assert_eq!(customs.invalidate(first).await.unwrap(), invalidated);
    assert_eq!(
        customs
            .invalidate(invalidation(&red.declaration_id))
            .await
            .unwrap(),
        invalidated
    );
    let records = customs
        .store()
        .await
        .fiu_records(&red.declaration_id)
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    let status = customs
        .examine(examination(&red, ExaminationResult::Conform))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    customs.stop().await;
}

#[tokio::test]
async fn decisions_need_a_known_referred_declaration_and_name_bad_fields() {
    let mut customs = Customs::start(&risk_with_random("100", "0")).await;
    let green = customs.assess(import(vec![toys()], true)).await.unwrap();
    assert_eq!(green.lane(), Lane::Green);
    let status = customs
        .examine(examination(&green, ExaminationResult::Conform))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let unknown = Uuid::new_v4().to_string();
    let status = customs
        .invalidate(invalidation(&unknown))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let missing = Declaration {
        declaration_id: unknown,
        ..Default::default()
    };
    let status = customs
        .examine(examination(&missing, ExaminationResult::Conform))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = customs
        .invalidate(InvalidateDeclarationRequest {
            request_id: "x".into(),
            declaration_id: "y".into(),
            reason: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violations(&status),
        ["declaration_id", "reason", "request_id"]
    );
    let status = customs
        .examine(RecordExaminationRequest {
            request_id: Uuid::new_v4().to_string(),
            declaration_id: green.declaration_id.clone(),
            officer_id: String::new(),
            result: ExaminationResult::NotConform.into(),
            findings: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["findings", "officer_id"]);
    customs.stop().await;
}

#[tokio::test]
async fn concurrent_examinations_of_one_declaration_have_one_effect() {
    let mut customs = Customs::start(&risk_with_random("100", "0")).await;
    let red = customs.assess(import(vec![toys()], false)).await.unwrap();
    let mut calls = Vec::new();
    for _ in 0..6 {
        let mut client = customs.client.clone();
        let request = examination(&red, ExaminationResult::Conform);
        calls.push(tokio::spawn(async move {
            client.record_examination(request).await
        }));
    }
    let mut answers = Vec::new();
    for call in calls {
        answers.push(
            call.await
                .unwrap()
                .unwrap()
                .into_inner()
                .declaration
                .unwrap(),
        );
    }
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
    let conform = answers[0]
        .reasons
        .iter()
        .filter(|r| r.code == "EXAMINATION_CONFORM")
        .count();
    assert_eq!(conform, 1);
    customs.stop().await;
}
