//! The gateway's own rules: how the agencies' verdicts make one decision.

pub mod decision;
