//! slipguard: removes patron data from library receipt-printer jobs.
//!
//! # Layout
//! * [`core`] — the sans-IO filter core (no tokio, files, sockets or clock):
//!   * [`core::tokenize`] splits ESC/POS and Star Line jobs into tokens, incrementally and
//!     losslessly;
//!   * [`core::text`] follows printer state to decode text into logical lines whose
//!     characters map back to their bytes;
//!   * [`core::profile`] is the printer profile schema; [`core::symbol`] reads barcodes and
//!     2-D codes.
//! * [`profiles`] — finds profile files (site directory, system directory, built-in copies).
//! * [`exact`] — exact mode: patron data an HTML slip's template marks (`data-slipguard`);
//!   [`template`] annotates Koha and Evergreen templates so that slips carry the marks.
//! * [`html`], [`typeset`] — HTML and plain-text slips (from the HTTP listener) laid out as
//!   printed lines and written as ESC/POS or Star Line bytes; sans-IO.
//! * [`inspect`], [`preview`], [`sample`] — the offline commands; `main.rs` is the CLI.
//! * [`spool`] — the encrypted spool: sealed entries, epoch keys, retention sweeper.
//! * `fuzzing` — invariants shared by the fuzz targets and the corpus replay test.
#![forbid(unsafe_code)]

pub mod config;
pub mod config_doc;
pub mod core;
pub mod daemon;
pub mod exact;
#[doc(hidden)]
pub mod fuzzing;
pub mod html;
pub mod inspect;
pub mod preview;
pub mod profiles;
pub mod sample;
pub mod service;
pub mod spool;
pub mod template;
pub mod typeset;
