//! AIP-193 errors in one place: every `tonic::Status` a bordermesh server returns is built here.

use std::{collections::HashMap, fmt::Display};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The `ErrorInfo.domain` of every bordermesh error.
pub const ERROR_DOMAIN: &str = "bordermesh";

/// Field violations collected while a request is converted into domain values, so that the
/// caller learns about every bad field at once.
#[derive(Debug, Default)]
pub struct FieldViolations {
    violations: Vec<FieldViolation>,
}

impl FieldViolations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation of `field`, whose path is written out only here.
    pub fn add(&mut self, field: impl Display, description: impl Into<String>) {
        self.violations
            .push(FieldViolation::new(field.to_string(), description));
    }

    pub fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }

    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.violations.iter().map(|v| v.field.as_str())
    }

    /// `Ok(value)` when nothing was wrong, else `INVALID_ARGUMENT` listing every violation.
    pub fn into_result<T>(self, value: T) -> Result<T, Status> {
        if self.violations.is_empty() {
            Ok(value)
        } else {
            Err(self.into_status())
        }
    }

    pub fn into_status(self) -> Status {
        let message = match self.violations.as_slice() {
            [only] => format!("invalid {}: {}", only.field, only.description),
            many => format!("{} invalid fields", many.len()),
        };
        let mut details = ErrorDetails::new();
        details.set_bad_request(self.violations).set_error_info(
            "INVALID_ARGUMENT",
            ERROR_DOMAIN,
            HashMap::new(),
        );
        Status::with_error_details(Code::InvalidArgument, message, details)
    }
}

/// A status with an `ErrorInfo` reason, for the errors that are not about one field.
pub fn status(code: Code, reason: &str, message: impl Into<String>) -> Status {
    let details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(code, message, details)
}

pub fn not_found(resource_type: &str, name: &str) -> Status {
    let mut details = ErrorDetails::new();
    details
        .set_error_info("NOT_FOUND", ERROR_DOMAIN, HashMap::new())
        .set_resource_info(resource_type, name, "", "no such record");
    Status::with_error_details(
        Code::NotFound,
        format!("{resource_type} {name} not found"),
        details,
    )
}

/// A record read by its key: NOT_FOUND when absent, an opaque INTERNAL when the read failed.
pub fn found<T, E: Display>(
    read: Result<Option<T>, E>,
    resource_type: &str,
    name: &str,
    context: &str,
) -> Result<T, Status> {
    match read {
        Ok(Some(record)) => Ok(record),
        Ok(None) => Err(not_found(resource_type, name)),
        Err(cause) => Err(internal(context, cause)),
    }
}

/// Logs the cause and returns an opaque `INTERNAL`: causes (SQL, paths) never leave the server.
pub fn internal(context: &str, cause: impl Display) -> Status {
    tracing::error!(error = %cause, context, "internal error");
    status(Code::Internal, "INTERNAL", "internal error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_become_invalid_argument_with_bad_request_details() {
        let mut violations = FieldViolations::new();
        violations.add(
            "travellers[0].document.mrz",
            "line 1 must have 44 characters",
        );
        violations.add("request_id", "must be a UUID");
        let status = violations.into_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let fields: Vec<_> = details
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["travellers[0].document.mrz", "request_id"]);
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some("INVALID_ARGUMENT")
        );
    }

    #[test]
    fn internal_hides_the_cause() {
        let status = internal("test", "password authentication failed for user root");
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("password"));
    }
}
