//! The tonic CrossingService: validates a crossing, accepts it once per request id, and hands
//! it to the saga; reads, lists and watches crossings.

use std::{pin::Pin, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use bordermesh_kit::{
    error::{self, FieldViolations},
    validate,
};
use bordermesh_proto::{
    common::v1 as common,
    crossing::v1::{self as pb, crossing_service_server::CrossingService},
};
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use crate::{
    agencies::Deadline,
    domain::audit::{self, Accessor},
    saga::{Driven, Saga, decode_status, first_wave_steps},
    store::{ListPosition, Write},
};

/// Most travellers one crossing may carry (a full coach or a train carriage).
const MAX_TRAVELLERS: usize = 500;
const DEFAULT_PAGE_SIZE: i32 = 50;
const MAX_PAGE_SIZE: i32 = 500;
/// How often a watch looks at the database, for changes made by other gateway replicas.
const WATCH_POLL: Duration = Duration::from_secs(1);

/// Namespace of crossing ids: the id is derived from the request id, so that concurrent
/// copies of one request name the same crossing and the same downstream calls.
const CROSSING_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b0a_5e7d_4c1e_9a3b_8d2f_0e4a_7c61);

pub struct CrossingApi {
    saga: Saga,
    budget: Duration,
    /// The agency whose officers may ask who accessed a traveller's records.
    audit_agency: String,
}

impl CrossingApi {
    pub fn new(saga: Saga, budget: Duration, audit_agency: String) -> Self {
        Self {
            saga,
            budget,
            audit_agency,
        }
    }

    /// Writes the access to the trail before any personal data leaves; no trail, no answer.
    async fn audit(
        &self,
        accessor: &Accessor,
        action: &str,
        crossing_ids: &[String],
    ) -> Result<(), Status> {
        if crossing_ids.is_empty() {
            return Ok(());
        }
        self.saga
            .store()
            .append_audit(accessor, action, crossing_ids)
            .await
            .map_err(|e| error::internal("writing the audit trail", e))
    }
}

/// The audit trail's name for submitting a crossing.
const PROCESS_CROSSING: &str = "ProcessCrossing";

/// A request id names one crossing: another submission under it is refused.
fn check_same_submission(
    crossing: &pb::Crossing,
    submission: &pb::CrossingSubmission,
) -> Result<(), Status> {
    if crossing.submission.as_ref() == Some(submission) {
        return Ok(());
    }
    Err(error::status(
        Code::AlreadyExists,
        "REQUEST_ID_REUSED",
        "request_id was already used for a different crossing",
    ))
}

/// Request metadata naming who calls and why.
const AGENCY_HEADER: &str = "x-bordermesh-agency";
const OFFICER_HEADER: &str = "x-bordermesh-officer";
const PURPOSE_HEADER: &str = "x-bordermesh-purpose";
const UNSTATED: &str = "unstated";
const MAX_ACCESSOR_FIELD: usize = 128;

fn accessor<T>(request: &Request<T>) -> Accessor {
    let field = |name: &str| {
        request
            .metadata()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.chars().take(MAX_ACCESSOR_FIELD).collect::<String>())
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| UNSTATED.to_owned())
    };
    Accessor {
        agency: field(AGENCY_HEADER),
        officer: field(OFFICER_HEADER),
        purpose: field(PURPOSE_HEADER),
    }
}

/// Checks what the gateway itself owns; the agencies check their own fields.
fn validate_request(
    request: &pb::ProcessCrossingRequest,
) -> Result<&pb::CrossingSubmission, Status> {
    let mut violations = FieldViolations::new();
    validate::request_id(&request.request_id, &mut violations);
    let Some(crossing) = request.crossing.as_ref() else {
        violations.add("crossing", "is required");
        return Err(violations.into_status());
    };
    match &crossing.crossing_point {
        Some(point) => {
            validate::required_text("crossing.crossing_point.code", &point.code, &mut violations);
            validate::country(
                "crossing.crossing_point.country",
                &point.country,
                &mut violations,
            );
        }
        None => violations.add("crossing.crossing_point", "is required"),
    }
    validate::required_enum::<common::Direction>(
        "crossing.direction",
        crossing.direction,
        &mut violations,
    );
    if let Some(date) = &crossing.crossing_date {
        validate::date("crossing.crossing_date", Some(date), &mut violations);
    }
    if crossing.travellers.is_empty()
        && crossing.goods.is_empty()
        && crossing.consignments.is_empty()
    {
        violations.add(
            "crossing.travellers",
            "a crossing needs at least one traveller, goods item or consignment",
        );
    }
    if crossing.travellers.len() > MAX_TRAVELLERS {
        violations.add(
            "crossing.travellers",
            format!("at most {MAX_TRAVELLERS} travellers per crossing"),
        );
    }
    for (index, traveller) in crossing.travellers.iter().enumerate() {
        if traveller.document.is_none() {
            violations.add(
                format!("crossing.travellers[{index}].document"),
                "is required",
            );
        }
    }
    violations.into_result(crossing)
}

/// Where the next page starts, bound to the query it belongs to (AIP-158).
#[derive(serde::Serialize, serde::Deserialize, PartialEq)]
struct PageToken {
    query: String,
    created_at: i64,
    crossing_id: String,
}

fn millis(timestamp: Option<&prost_types::Timestamp>, default: i64) -> i64 {
    timestamp.map_or(default, |t| {
        t.seconds.saturating_mul(1000) + i64::from(t.nanos) / 1_000_000
    })
}

fn respond(crossing: pb::Crossing) -> Response<pb::ProcessCrossingResponse> {
    Response::new(pb::ProcessCrossingResponse {
        crossing: Some(crossing),
    })
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchCrossingResponse, Status>> + Send>>;

#[tonic::async_trait]
impl CrossingService for CrossingApi {
    async fn process_crossing(
        &self,
        request: Request<pb::ProcessCrossingRequest>,
    ) -> Result<Response<pb::ProcessCrossingResponse>, Status> {
        let deadline = Deadline::from_request(&request, self.budget);
        let accessor = accessor(&request);
        let request = request.into_inner();
        let submission = validate_request(&request)?;
        let store = self.saga.store();
        let now = Some(prost_types::Timestamp::from(std::time::SystemTime::now()));
        let crossing_id = Uuid::new_v5(&CROSSING_NAMESPACE, request.request_id.as_bytes());
        let pending = pb::Crossing {
            crossing_id: crossing_id.to_string(),
            request_id: request.request_id.clone(),
            status: pb::CrossingStatus::Pending.into(),
            submission: Some(submission.clone()),
            decision: None,
            create_time: now,
            update_time: now,
        };
        // Accepted and audited in one commit, with the intents of the first calls: no crossing
        // without its trail, and one commit before any agency is called. A repeat of the
        // request id (its crossing id is the same) only adds to the trail, and is read back.
        let writes = vec![
            Write::Accept {
                crossing: Box::new(pending.clone()),
                first_steps: first_wave_steps(submission),
            },
            Write::Audit {
                accessor,
                action: PROCESS_CROSSING.into(),
                crossing_ids: vec![pending.crossing_id.clone()],
            },
        ];
        let accepted = store
            .write(writes)
            .await
            .map_err(|e| error::internal("accepting a crossing", e))?;
        let intents_written = accepted.first() == Some(&true);
        let crossing = if intents_written {
            pending
        } else {
            let existing = store
                .by_request_id(&request.request_id)
                .await
                .map_err(|e| error::internal("reading a crossing", e))?
                .ok_or_else(|| error::internal("reading a crossing", "crossing vanished"))?;
            check_same_submission(&existing, submission)?;
            existing
        };
        match crossing.status() {
            pb::CrossingStatus::Rejected => {
                let stored = store
                    .rejection(&crossing.crossing_id)
                    .await
                    .map_err(|e| error::internal("reading a rejection", e))?
                    .ok_or_else(|| error::internal("reading a rejection", "rejection missing"))?;
                Err(decode_status(&stored)?)
            }
            pb::CrossingStatus::Pending => {
                match self.saga.drive(crossing, deadline, intents_written).await? {
                    Driven::Crossing(crossing) => Ok(respond(*crossing)),
                    Driven::Rejected(status) => Err(status),
                }
            }
            _ => Ok(respond(crossing)),
        }
    }

    async fn get_crossing(
        &self,
        request: Request<pb::GetCrossingRequest>,
    ) -> Result<Response<pb::GetCrossingResponse>, Status> {
        let id = validate::record_id("crossing_id", &request.get_ref().crossing_id)?;
        let crossing = error::found(
            self.saga.store().by_id(&id.to_string()).await,
            "Crossing",
            &id.to_string(),
            "reading a crossing",
        )?;
        self.audit(&accessor(&request), "GetCrossing", &[id.to_string()])
            .await?;
        Ok(Response::new(pb::GetCrossingResponse {
            crossing: Some(crossing),
        }))
    }

    async fn list_crossings(
        &self,
        request: Request<pb::ListCrossingsRequest>,
    ) -> Result<Response<pb::ListCrossingsResponse>, Status> {
        let accessor = accessor(&request);
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        validate::required_text("crossing_point", &request.crossing_point, &mut violations);
        if request.page_size < 0 {
            violations.add("page_size", "must not be negative");
        }
        let start = millis(request.start_time.as_ref(), i64::MIN);
        let end = millis(request.end_time.as_ref(), i64::MAX);
        let query = format!("{}|{start}|{end}", request.crossing_point);
        let after = if request.page_token.is_empty() {
            None
        } else {
            let token = URL_SAFE_NO_PAD
                .decode(&request.page_token)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<PageToken>(&bytes).ok())
                .filter(|token| token.query == query);
            if token.is_none() {
                violations.add("page_token", "is not a token of this query's previous page");
            }
            token.map(|token| ListPosition {
                created_at: token.created_at,
                crossing_id: token.crossing_id,
            })
        };
        violations.into_result(())?;
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        };
        let mut rows = self
            .saga
            .store()
            .list(
                &request.crossing_point,
                start,
                end,
                after.as_ref(),
                i64::from(page_size) + 1,
            )
            .await
            .map_err(|e| error::internal("listing crossings", e))?;
        let more = rows.len() > page_size as usize;
        rows.truncate(page_size as usize);
        let next_page_token = match rows.last().filter(|_| more) {
            Some((position, _)) => {
                let token = PageToken {
                    query,
                    created_at: position.created_at,
                    crossing_id: position.crossing_id.clone(),
                };
                let bytes = serde_json::to_vec(&token)
                    .map_err(|e| error::internal("writing a page token", e))?;
                URL_SAFE_NO_PAD.encode(bytes)
            }
            None => String::new(),
        };
        let listed: Vec<String> = rows
            .iter()
            .map(|(position, _)| position.crossing_id.clone())
            .collect();
        self.audit(&accessor, "ListCrossings", &listed).await?;
        Ok(Response::new(pb::ListCrossingsResponse {
            crossings: rows.into_iter().map(|(_, crossing)| crossing).collect(),
            next_page_token,
        }))
    }

    type WatchCrossingStream = WatchStream;

    async fn watch_crossing(
        &self,
        request: Request<pb::WatchCrossingRequest>,
    ) -> Result<Response<Self::WatchCrossingStream>, Status> {
        let id = validate::record_id("crossing_id", &request.get_ref().crossing_id)?.to_string();
        // Subscribe before the first read, so that no change falls between the two.
        let mut changes = self.saga.subscribe();
        let store = self.saga.store().clone();
        let first = store
            .by_id(&id)
            .await
            .map_err(|e| error::internal("reading a crossing", e))?
            .ok_or_else(|| error::not_found("Crossing", &id))?;
        self.audit(
            &accessor(&request),
            "WatchCrossing",
            std::slice::from_ref(&id),
        )
        .await?;
        let (sender, receiver) = mpsc::channel(16);
        tokio::spawn(async move {
            let mut last = first;
            let send = |crossing: pb::Crossing| pb::WatchCrossingResponse {
                crossing: Some(crossing),
            };
            if sender.send(Ok(send(last.clone()))).await.is_err() {
                return;
            }
            loop {
                let next = tokio::select! {
                    () = sender.closed() => return,
                    changed = changes.recv() => match changed {
                        Ok(crossing) if crossing.crossing_id == id => Some(crossing),
                        Ok(_) => None,
                        Err(_) => store.by_id(&id).await.ok().flatten(),
                    },
                    () = tokio::time::sleep(WATCH_POLL) => store.by_id(&id).await.ok().flatten(),
                };
                if let Some(crossing) = next.filter(|crossing| *crossing != last) {
                    last = crossing.clone();
                    if sender.send(Ok(send(crossing))).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn list_personal_data_access(
        &self,
        request: Request<pb::ListPersonalDataAccessRequest>,
    ) -> Result<Response<pb::ListPersonalDataAccessResponse>, Status> {
        let asker = accessor(&request);
        if asker.agency != self.audit_agency {
            return Err(error::status(
                Code::PermissionDenied,
                "NOT_AUDIT_AGENCY",
                format!(
                    "only the agency {} may read the audit trail",
                    self.audit_agency
                ),
            ));
        }
        let request = request.into_inner();
        let mut violations = FieldViolations::new();
        validate::country("issuing_state", &request.issuing_state, &mut violations);
        validate::required_text("document_number", &request.document_number, &mut violations);
        violations.into_result(())?;
        let key = audit::traveller_key(&request.issuing_state, &request.document_number);
        let entries = self
            .saga
            .store()
            .accesses_for_traveller(&key)
            .await
            .map_err(|e| error::internal("reading the audit trail", e))?;
        let mut crossings: Vec<String> = entries.iter().map(|e| e.crossing_id.clone()).collect();
        crossings.sort();
        crossings.dedup();
        self.audit(&asker, "ListPersonalDataAccess", &crossings)
            .await?;
        let accesses = entries
            .into_iter()
            .map(|entry| pb::PersonalDataAccess {
                sequence: entry.sequence,
                access_time: Some(prost_types::Timestamp {
                    seconds: entry.at.div_euclid(1000),
                    nanos: (entry.at.rem_euclid(1000) * 1_000_000) as i32,
                }),
                agency: entry.accessor.agency,
                officer: entry.accessor.officer,
                purpose: entry.accessor.purpose,
                action: entry.action,
                crossing_id: entry.crossing_id,
            })
            .collect();
        Ok(Response::new(pb::ListPersonalDataAccessResponse {
            accesses,
        }))
    }
}
