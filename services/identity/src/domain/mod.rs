//! The border police's rules, free of transport and storage: ICAO 9303 machine readable zones
//! and the document checks of the Schengen Borders Code.

pub mod check;
pub mod country;
pub mod ees;
pub mod jaro_winkler;
pub mod mrz;
pub mod second_line;
pub mod sltd;
pub mod stay;
pub mod transliteration;
pub mod visa;
pub mod watchlist;
