//! Veterinary and phytosanitary rules, free of transport and storage: which health entry
//! document a consignment needs and which official checks it is subject to.

pub mod assessment;
pub mod regime;
