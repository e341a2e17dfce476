//! subtok-core: the pure-Rust core of subtok (no pyo3, so `cargo test` covers it).
//!
//! Data flows one way: text -> added-token split -> normalizer (with alignments)
//! -> pre-tokenizer -> model (WordPiece | BPE) -> post-processor -> [`Encoding`].
pub mod added_vocab;
pub mod bpe_tokenizer;
pub mod cancel;
pub mod decoders;
pub mod encoding;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod inputs;
pub mod io;
pub mod kernels;
pub mod models;
pub mod normalize;
pub mod pipeline;
pub mod postprocess;
pub mod pretokenize;
pub mod pretraining;
pub mod tokenizer;
pub mod train;

pub use encoding::{CompactEncoding, Encoding};
pub use error::{Error, Result};
pub use tokenizer::WordPieceTokenizer;
