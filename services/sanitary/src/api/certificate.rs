//! Electronic phytosanitary certificates (ePhyto): received once, checked field by field, and
//! later checked against the consignment they are presented with (`domain::ephyto`).

use bordermesh_kit::{
    error::{self, FieldViolations},
    idempotency::{IdempotentCall, Start},
    validate,
};
use bordermesh_proto::sanitary::v1 as pb;
use tonic::{Code, Status};

use super::{SanitaryApi, convert};

const SUBMIT_CERTIFICATE: &str = "sanitary.SubmitPhytosanitaryCertificate";

/// The species group a phytosanitary certificate certifies (`data/species.csv`).
const PLANTS: &str = "plants";

impl SanitaryApi {
    fn validate_certificate(
        &self,
        request: &pb::SubmitPhytosanitaryCertificateRequest,
    ) -> Result<(), Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let Some(certificate) = &request.certificate else {
            violations.add("certificate", "is required");
            return Err(violations.into_status());
        };
        let at = |field: &str| format!("certificate.{field}");
        validate::required_text(
            &at("certificate_id"),
            &certificate.certificate_id,
            &mut violations,
        );
        validate::required_text(
            &at("issuing_nppo"),
            &certificate.issuing_nppo,
            &mut violations,
        );
        validate::country(
            &at("issuing_country"),
            &certificate.issuing_country,
            &mut violations,
        );
        validate::required_text(&at("consignor"), &certificate.consignor, &mut violations);
        validate::required_text(&at("consignee"), &certificate.consignee, &mut violations);
        validate::country(
            &at("origin_country"),
            &certificate.origin_country,
            &mut violations,
        );
        if certificate.commodities.is_empty() {
            violations.add(at("commodities"), "at least one commodity is required");
        }
        for (index, line) in certificate.commodities.iter().enumerate() {
            let line_at = |field: &str| format!("certificate.commodities[{index}].{field}");
            let code = convert::commodity_code(
                &line_at("commodity_code"),
                &line.commodity_code,
                &mut violations,
            );
            if code
                .as_deref()
                .is_some_and(|code| !self.rules.regimes.is_controlled(code))
            {
                violations.add(
                    line_at("commodity_code"),
                    "is not a plant or plant product under phytosanitary border controls",
                );
            }
            if line.botanical_name.trim().is_empty() {
                violations.add(line_at("botanical_name"), "is required");
            } else if let Some(species) = convert::species(
                &self.rules,
                &line_at("botanical_name"),
                &line.botanical_name,
                code.as_deref(),
                &mut violations,
            ) && species.group != PLANTS
            {
                violations.add(
                    line_at("botanical_name"),
                    "is not a plant: a phytosanitary certificate certifies plants",
                );
            }
            convert::quantity(
                &line_at("quantity"),
                line.quantity.as_ref(),
                &mut violations,
            );
            convert::optional_text(&line_at("description"), &line.description, &mut violations);
        }
        for (index, treatment) in certificate.treatments.iter().enumerate() {
            let treatment_at = |field: &str| format!("certificate.treatments[{index}].{field}");
            validate::required_enum::<pb::TreatmentType>(
                &treatment_at("type"),
                treatment.r#type,
                &mut violations,
            );
            if let Some(date) = &treatment.date {
                validate::date(&treatment_at("date"), Some(date), &mut violations);
            }
            convert::optional_text(
                &treatment_at("chemical"),
                &treatment.chemical,
                &mut violations,
            );
            convert::optional_text(
                &treatment_at("conditions"),
                &treatment.conditions,
                &mut violations,
            );
        }
        for (index, declaration) in certificate.additional_declarations.iter().enumerate() {
            convert::optional_text(
                &format!("certificate.additional_declarations[{index}]"),
                declaration,
                &mut violations,
            );
        }
        // ISPM 12 section 4: a certificate is issued before the consignment is sent, never later.
        let issue_field = at("issue_date");
        if let Some(issued) = validate::date(
            &issue_field,
            certificate.issue_date.as_ref(),
            &mut violations,
        ) && issued > super::today()
        {
            violations.add(issue_field, "must not be in the future");
        }
        violations.into_result(())
    }

    pub(super) async fn submit_certificate(
        &self,
        request: pb::SubmitPhytosanitaryCertificateRequest,
    ) -> Result<pb::SubmitPhytosanitaryCertificateResponse, Status> {
        self.validate_certificate(&request)?;
        let call = IdempotentCall::new(SUBMIT_CERTIFICATE, &request.request_id, &request);
        let mut tx = match call.start(self.store.db()).await? {
            Start::Replayed(saved) => return Ok(saved),
            Start::Fresh(tx) => tx,
        };
        let mut certificate = request.certificate.unwrap_or_default();
        // Consignments name the certificate by its id; spaces around it are not part of it.
        certificate.certificate_id = certificate.certificate_id.trim().to_owned();
        let stored = self
            .store
            .insert_certificate(&mut tx, &certificate)
            .await
            .map_err(|e| error::internal("storing a certificate", e))?;
        if !stored {
            // ISPM 12 section 1: one certificate, one consignment; a replayed one is refused.
            return Err(error::status(
                Code::AlreadyExists,
                "PHYTO_CERTIFICATE_REPLAYED",
                format!(
                    "phytosanitary certificate {} was already received",
                    certificate.certificate_id
                ),
            ));
        }
        tracing::info!(certificate_id = %certificate.certificate_id, "phytosanitary certificate received");
        call.commit(
            self.store.db(),
            tx,
            pb::SubmitPhytosanitaryCertificateResponse {
                certificate: Some(certificate),
            },
        )
        .await
    }

    pub(super) async fn get_certificate(
        &self,
        id: &str,
    ) -> Result<pb::GetPhytosanitaryCertificateResponse, Status> {
        let mut violations = FieldViolations::new();
        let id = validate::required_text("certificate_id", id, &mut violations).map(str::to_owned);
        let id = violations.into_result(id)?.unwrap_or_default();
        let stored = error::found(
            self.store.get_certificate(&id).await,
            "PhytosanitaryCertificate",
            &id,
            "reading a certificate",
        )?;
        Ok(pb::GetPhytosanitaryCertificateResponse {
            certificate: Some(stored.certificate),
            used_by_assessment_id: stored.used_by_assessment.unwrap_or_default(),
        })
    }
}
