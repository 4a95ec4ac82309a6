//! The gateway's own rules: how the agencies' verdicts make one decision, and the hash chain
//! of the audit trail.

pub mod audit;
pub mod compensation;
pub mod decision;
