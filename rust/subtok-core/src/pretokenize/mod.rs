//! Pre-tokenizers: split (normalized) text into words or pieces.
pub mod bert;
pub mod bytelevel;
pub mod cl100k;
pub mod gpt2;
pub mod o200k;
pub mod regex;
pub mod component;
pub mod pattern;
pub mod pieces;
pub mod scripts_table;
pub mod unicode_scripts;
