//! subtok-core: the pure-Rust core of subtok (no pyo3, so `cargo test` covers it).
//!
//! Data flows one way: text -> added-token split -> normalizer (with alignments)
//! -> pre-tokenizer -> model (WordPiece | BPE) -> post-processor -> [`Encoding`].
pub mod encoding;
pub mod error;
pub mod kernels;

pub use encoding::Encoding;
pub use error::{Error, Result};
