//! The filter core: sans-IO. No tokio, no files, no sockets, no clock.
//!
//! Bytes and a printer profile go in; tokens, decoded text and (later) rewritten bytes come
//! out. Every adapter (CLI, daemon) is a thin layer over this module.

pub mod luhn;
pub mod profile;
pub mod redact;
pub mod source;
pub mod symbol;
pub mod text;
pub mod tokenize;
