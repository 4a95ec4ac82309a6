//! The tonic SanitaryService: proto in, validated domain values, domain rules, proto out.
//! One file per concern: `assess` (consignments), `ched` (health entry documents),
//! `certificate` (ePhyto), `luggage` (travellers), `release` (compensation), `convert`
//! (shared conversions).

mod assess;
mod certificate;
mod ched;
mod convert;
mod luggage;
mod release;

use bordermesh_kit::{error, validate};
use bordermesh_proto::sanitary::v1::{self as pb, sanitary_service_server::SanitaryService};
use chrono::NaiveDate;
use tonic::{Request, Response, Status};

use crate::{domain::Rulebook, store::Store};

pub struct SanitaryApi {
    store: Store,
    rules: Rulebook,
}

impl SanitaryApi {
    pub fn new(store: Store, rules: Rulebook) -> Self {
        Self { store, rules }
    }
}

/// Today in UTC: the day pre-notifications, decisions and certificates are judged on.
fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

#[tonic::async_trait]
impl SanitaryService for SanitaryApi {
    async fn assess_consignments(
        &self,
        request: Request<pb::AssessConsignmentsRequest>,
    ) -> Result<Response<pb::AssessConsignmentsResponse>, Status> {
        self.assess(request.into_inner()).await.map(Response::new)
    }

    async fn get_assessment(
        &self,
        request: Request<pb::GetAssessmentRequest>,
    ) -> Result<Response<pb::GetAssessmentResponse>, Status> {
        let id = validate::record_id("assessment_id", &request.get_ref().assessment_id)?;
        let assessment = error::found(
            self.store.get_assessment(id).await,
            "Assessment",
            &id.to_string(),
            "reading an assessment",
        )?;
        Ok(Response::new(pb::GetAssessmentResponse {
            assessment: Some(assessment),
        }))
    }

    async fn submit_ched(
        &self,
        request: Request<pb::SubmitChedRequest>,
    ) -> Result<Response<pb::SubmitChedResponse>, Status> {
        SanitaryApi::submit_ched(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_ched(
        &self,
        request: Request<pb::GetChedRequest>,
    ) -> Result<Response<pb::GetChedResponse>, Status> {
        SanitaryApi::get_ched(self, &request.get_ref().reference)
            .await
            .map(|ched| Response::new(pb::GetChedResponse { ched: Some(ched) }))
    }

    async fn present_ched(
        &self,
        request: Request<pb::PresentChedRequest>,
    ) -> Result<Response<pb::PresentChedResponse>, Status> {
        SanitaryApi::present_ched(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn record_inspection_result(
        &self,
        request: Request<pb::RecordInspectionResultRequest>,
    ) -> Result<Response<pb::RecordInspectionResultResponse>, Status> {
        SanitaryApi::record_inspection_result(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn record_follow_up(
        &self,
        request: Request<pb::RecordFollowUpRequest>,
    ) -> Result<Response<pb::RecordFollowUpResponse>, Status> {
        SanitaryApi::record_follow_up(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn cancel_ched(
        &self,
        request: Request<pb::CancelChedRequest>,
    ) -> Result<Response<pb::CancelChedResponse>, Status> {
        SanitaryApi::cancel_ched(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn submit_phytosanitary_certificate(
        &self,
        request: Request<pb::SubmitPhytosanitaryCertificateRequest>,
    ) -> Result<Response<pb::SubmitPhytosanitaryCertificateResponse>, Status> {
        self.submit_certificate(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_phytosanitary_certificate(
        &self,
        request: Request<pb::GetPhytosanitaryCertificateRequest>,
    ) -> Result<Response<pb::GetPhytosanitaryCertificateResponse>, Status> {
        self.get_certificate(&request.get_ref().certificate_id)
            .await
            .map(Response::new)
    }

    async fn check_luggage(
        &self,
        request: Request<pb::CheckLuggageRequest>,
    ) -> Result<Response<pb::CheckLuggageResponse>, Status> {
        SanitaryApi::check_luggage(self, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn get_luggage_check(
        &self,
        request: Request<pb::GetLuggageCheckRequest>,
    ) -> Result<Response<pb::GetLuggageCheckResponse>, Status> {
        SanitaryApi::get_luggage_check(self, &request.get_ref().check_id)
            .await
            .map(|check| Response::new(pb::GetLuggageCheckResponse { check: Some(check) }))
    }

    async fn release_assessment(
        &self,
        request: Request<pb::ReleaseAssessmentRequest>,
    ) -> Result<Response<pb::ReleaseAssessmentResponse>, Status> {
        self.release(request.into_inner()).await.map(Response::new)
    }
}
