//! CheckLuggage: products of animal origin in a traveller's personal luggage
//! (`domain::luggage`); every product that may not enter is recorded as a seizure.

use bordermesh_kit::{
    error::{self, FieldViolations},
    idempotency::IdempotentCall,
    storage::new_record_id,
    validate,
};
use bordermesh_proto::sanitary::v1 as pb;
use tonic::Status;

use super::{SanitaryApi, convert};
use crate::domain::{
    assessment::Verdict,
    luggage::{Item, Outcome},
};

const CHECK_LUGGAGE: &str = "sanitary.CheckLuggage";

/// Luggage quantities are weighed in kilograms (UN/ECE Recommendation 20 `KGM`).
const KILOGRAM: &str = "KGM";

impl SanitaryApi {
    fn parse_luggage(
        &self,
        request: &pb::CheckLuggageRequest,
    ) -> Result<(String, Vec<Item>), Status> {
        let mut violations = FieldViolations::new();
        validate::request_id(&request.request_id, &mut violations);
        let crossing_point = match &request.crossing_point {
            Some(point) => {
                validate::country("crossing_point.country", &point.country, &mut violations);
                validate::required_text("crossing_point.code", &point.code, &mut violations)
                    .map(str::to_owned)
            }
            None => {
                violations.add("crossing_point", "is required");
                None
            }
        };
        validate::required_text(
            "traveller_reference",
            &request.traveller_reference,
            &mut violations,
        );
        if request.items.is_empty() {
            violations.add("items", "at least one item is required");
        }
        let mut items = Vec::new();
        for (index, item) in request.items.iter().enumerate() {
            let at = |field: &str| format!("items[{index}].{field}");
            let category = item.category.trim();
            if !self.rules.luggage.is_category(category) {
                violations.add(
                    at("category"),
                    "is not a known luggage category such as MEAT, DAIRY, INFANT_MILK_POWDER or FISHERY",
                );
            }
            let quantity =
                convert::quantity(&at("quantity"), item.quantity.as_ref(), &mut violations);
            if quantity.as_ref().is_some_and(|q| q.unit != KILOGRAM) {
                violations.add(at("quantity.unit"), "must be KGM");
            }
            let origin =
                validate::country(&at("origin_country"), &item.origin_country, &mut violations);
            convert::optional_text(&at("description"), &item.description, &mut violations);
            if let (Some(quantity), Some(origin)) = (quantity, origin) {
                items.push(Item {
                    category: category.to_owned(),
                    quantity_kg: quantity.value,
                    origin_country: origin,
                });
            }
        }
        let crossing_point = violations.into_result(crossing_point)?.unwrap_or_default();
        Ok((crossing_point, items))
    }

    pub(super) async fn check_luggage(
        &self,
        request: pb::CheckLuggageRequest,
    ) -> Result<pb::CheckLuggageResponse, Status> {
        let (crossing_point, items) = self.parse_luggage(&request)?;
        let call = IdempotentCall::new(CHECK_LUGGAGE, &request.request_id, &request);
        if let Some(saved) = call.replay(self.store.db()).await? {
            return Ok(saved);
        }
        let outcomes = self.rules.luggage.check(&items);
        let mut check = pb::LuggageCheck {
            check_id: new_record_id().to_string(),
            verdict: convert::verdict_to_proto(Verdict::Clear).into(),
            traveller_reference: request.traveller_reference.trim().to_owned(),
            crossing_point: request.crossing_point.clone(),
            ..Default::default()
        };
        for (index, (outcome, item)) in outcomes.iter().zip(&items).enumerate() {
            let subject = format!("items[{index}]");
            match outcome {
                Outcome::FromTheUnion => {}
                Outcome::Exempt(finding) => check.reasons.push(convert::reason(finding, &subject)),
                Outcome::Seized(finding) => {
                    let reason = convert::reason(finding, &subject);
                    check.reasons.push(reason.clone());
                    check.verdict = convert::verdict_to_proto(finding.verdict).into();
                    check.seizures.push(pb::Seizure {
                        seizure_id: new_record_id().to_string(),
                        item_index: u32::try_from(index).unwrap_or(u32::MAX),
                        category: item.category.clone(),
                        quantity: request
                            .items
                            .get(index)
                            .and_then(|item| item.quantity.clone()),
                        reason: Some(reason),
                    });
                }
            }
        }
        let mut tx = call.begin(self.store.db()).await?;
        self.store
            .insert_luggage_check(&mut tx, &crossing_point, &check)
            .await
            .map_err(|e| error::internal("recording a luggage check", e))?;
        tracing::info!(check_id = %check.check_id, seizures = check.seizures.len(), "luggage checked");
        call.commit(
            self.store.db(),
            tx,
            pb::CheckLuggageResponse { check: Some(check) },
        )
        .await
    }
}

impl SanitaryApi {
    pub(super) async fn get_luggage_check(
        &self,
        check_id: &str,
    ) -> Result<pb::LuggageCheck, Status> {
        let id = validate::record_id("check_id", check_id)?.to_string();
        error::found(
            self.store.get_luggage_check(&id).await,
            "LuggageCheck",
            &id,
            "reading a luggage check",
        )
    }
}
