//! Conversions between proto messages and domain values shared by the RPCs, and the field
//! checks they share. Each check records a violation at the field's path instead of failing.

use bordermesh_kit::{error::FieldViolations, validate};
use bordermesh_proto::{common::v1 as common, sanitary::v1 as pb};
use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::domain::{
    Rulebook,
    assessment::{Finding, Verdict},
    ched::Status,
    ephyto::{self, Measured, TreatmentType},
    regime::DocumentType,
    species::Species,
};

/// A commodity code of 6 to 10 digits (HS subheading and national subdivisions).
pub fn commodity_code(field: &str, code: &str, violations: &mut FieldViolations) -> Option<String> {
    let valid = (6..=10).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        violations.add(field, "must be an HS code of 6 to 10 digits");
    }
    valid.then(|| code.to_owned())
}

/// The species named for goods of `code`, when a name is given: unknown species and species
/// the commodity cannot be of are violations.
pub fn species<'a>(
    rules: &'a Rulebook,
    field: &str,
    name: &str,
    code: Option<&str>,
    violations: &mut FieldViolations,
) -> Option<&'a Species> {
    if name.trim().is_empty() {
        return None;
    }
    let result = match code {
        Some(code) => rules.species.for_commodity(name, code),
        None => rules
            .species
            .find(name)
            .ok_or(crate::domain::species::SpeciesError::Unknown),
    };
    match result {
        Ok(species) => Some(species),
        Err(error) => {
            violations.add(field, error.to_string());
            None
        }
    }
}

/// An ISO 3166-2 subdivision code such as `RS-VO` or `UA-71`, when one is given.
pub fn region(field: &str, value: &str, violations: &mut FieldViolations) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    let valid = value.split_once('-').is_some_and(|(country, subdivision)| {
        country.len() == 2
            && country.bytes().all(|b| b.is_ascii_uppercase())
            && (1..=3).contains(&subdivision.len())
            && subdivision
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    });
    if !valid {
        violations.add(field, "must be an ISO 3166-2 code such as RS-VO");
    }
    valid.then(|| value.to_owned())
}

/// A quantity with a positive value and a unit; `None` and a violation when either is wrong.
pub fn quantity(
    field: &str,
    value: Option<&common::Quantity>,
    violations: &mut FieldViolations,
) -> Option<Measured> {
    let Some(quantity) = value else {
        violations.add(field, "is required");
        return None;
    };
    let number = validate::positive_decimal(&format!("{field}.value"), &quantity.value, violations);
    let unit = validate::required_text(&format!("{field}.unit"), &quantity.unit, violations);
    Some(Measured {
        value: number?,
        unit: unit?.to_ascii_uppercase(),
    })
}

/// A text field that may be empty but not longer than the shared limit.
pub fn optional_text(field: &str, value: &str, violations: &mut FieldViolations) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.len() > validate::MAX_TEXT_FIELD {
        violations.add(
            field,
            format!("must be at most {} bytes", validate::MAX_TEXT_FIELD),
        );
        return None;
    }
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

pub fn verdict_to_proto(verdict: Verdict) -> common::Verdict {
    match verdict {
        Verdict::Clear => common::Verdict::Clear,
        Verdict::ClearWithConditions => common::Verdict::ClearWithConditions,
        Verdict::Refer => common::Verdict::Refer,
        Verdict::Refuse => common::Verdict::Refuse,
    }
}

pub fn document_to_proto(document: Option<DocumentType>) -> pb::DocumentType {
    match document {
        None => pb::DocumentType::None,
        Some(DocumentType::ChedA) => pb::DocumentType::ChedA,
        Some(DocumentType::ChedP) => pb::DocumentType::ChedP,
        Some(DocumentType::ChedPp) => pb::DocumentType::ChedPp,
        Some(DocumentType::ChedD) => pb::DocumentType::ChedD,
    }
}

pub fn document_from_proto(document: i32) -> Option<DocumentType> {
    match pb::DocumentType::try_from(document).ok()? {
        pb::DocumentType::ChedA => Some(DocumentType::ChedA),
        pb::DocumentType::ChedP => Some(DocumentType::ChedP),
        pb::DocumentType::ChedPp => Some(DocumentType::ChedPp),
        pb::DocumentType::ChedD => Some(DocumentType::ChedD),
        pb::DocumentType::None | pb::DocumentType::Unspecified => None,
    }
}

pub fn status_to_proto(status: Status) -> pb::ChedStatus {
    match status {
        Status::New => pb::ChedStatus::New,
        Status::InProgress => pb::ChedStatus::InProgress,
        Status::Decided => pb::ChedStatus::Decided,
        Status::Used => pb::ChedStatus::Used,
        Status::Cancelled => pb::ChedStatus::Cancelled,
    }
}

/// The status of a stored document; stored documents always carry a known one.
pub fn status_from_proto(status: i32) -> Option<Status> {
    match pb::ChedStatus::try_from(status).ok()? {
        pb::ChedStatus::New => Some(Status::New),
        pb::ChedStatus::InProgress => Some(Status::InProgress),
        pb::ChedStatus::Decided => Some(Status::Decided),
        pb::ChedStatus::Used => Some(Status::Used),
        pb::ChedStatus::Cancelled => Some(Status::Cancelled),
        pb::ChedStatus::Unspecified => None,
    }
}

pub fn reason(finding: &Finding, subject: &str) -> common::Reason {
    common::Reason {
        agency: common::Agency::Sanitary.into(),
        code: finding.code.clone(),
        rule_id: finding.rule_id.clone(),
        message: finding.message.clone(),
        subject: subject.to_owned(),
        refusal_code: String::new(),
    }
}

pub fn treatment_from_proto(treatment: i32) -> Option<TreatmentType> {
    match pb::TreatmentType::try_from(treatment).ok()? {
        pb::TreatmentType::Heat => Some(TreatmentType::Heat),
        pb::TreatmentType::Cold => Some(TreatmentType::Cold),
        pb::TreatmentType::Fumigation => Some(TreatmentType::Fumigation),
        pb::TreatmentType::Chemical => Some(TreatmentType::Chemical),
        pb::TreatmentType::Irradiation => Some(TreatmentType::Irradiation),
        pb::TreatmentType::Unspecified => None,
    }
}

fn stored_date(date: Option<&common::Date>) -> Option<NaiveDate> {
    let date = date?;
    NaiveDate::from_ymd_opt(
        date.year,
        u32::try_from(date.month).ok()?,
        u32::try_from(date.day).ok()?,
    )
}

/// The domain view of a stored certificate, which was validated when it was received.
pub fn certificate_to_domain(certificate: &pb::PhytosanitaryCertificate) -> ephyto::Certificate {
    ephyto::Certificate {
        certificate_id: certificate.certificate_id.clone(),
        origin_country: certificate.origin_country.clone(),
        lines: certificate
            .commodities
            .iter()
            .map(|line| ephyto::CertifiedLine {
                botanical_name: line.botanical_name.clone(),
                quantity: line.quantity.as_ref().and_then(|q| {
                    Some(Measured {
                        value: q.value.parse::<Decimal>().ok()?,
                        unit: q.unit.clone(),
                    })
                }),
            })
            .collect(),
        treatments: certificate
            .treatments
            .iter()
            .filter_map(|t| treatment_from_proto(t.r#type))
            .collect(),
        issue_date: stored_date(certificate.issue_date.as_ref()).unwrap_or(NaiveDate::MIN),
    }
}

/// The day a request is judged on: its own date when given, else today.
pub fn optional_date(
    field: &str,
    value: Option<&common::Date>,
    violations: &mut FieldViolations,
) -> Option<NaiveDate> {
    value.and_then(|date| validate::date(field, Some(date), violations))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_3166_2_regions_are_checked_when_given() {
        let mut violations = FieldViolations::new();
        assert_eq!(
            region("r", "UA-71", &mut violations).as_deref(),
            Some("UA-71")
        );
        assert_eq!(region("r", "", &mut violations), None);
        assert_eq!(region("r", "ukraine", &mut violations), None);
        assert_eq!(region("r", "UA-7100", &mut violations), None);
        assert_eq!(violations.fields().count(), 2);
    }
}
