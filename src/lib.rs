//! slipguard: removes patron data from library receipt-printer jobs.
//!
//! # Layout
//! * [`core`] — the sans-IO filter core: [`core::tokenize`] splits ESC/POS and Star Line jobs
//!   into tokens.
#![forbid(unsafe_code)]

pub mod core;
#[doc(hidden)]
pub mod fuzzing;
pub mod inspect;
pub mod preview;
pub mod profiles;
pub mod sample;
