//! Customs rules, free of transport and storage: commodity codes and the nomenclature, the
//! tariff and the duty arithmetic, cash controls, referrals, Movement Reference Numbers.

pub mod assessment;
pub mod commodity;
pub mod mrn;
pub mod referral;
pub mod tariff;
