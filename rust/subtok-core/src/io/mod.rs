//! Reading and writing tokenizer files.
pub mod hf_json;
pub mod vocab_txt;
