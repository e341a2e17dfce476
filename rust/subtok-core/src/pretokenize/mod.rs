//! Pre-tokenizers: split normalized text into words.
pub mod bert;
