//! Reading and writing tokenizer files.
pub mod check;
pub mod gpt2_files;
pub mod hf_json;
pub mod tiktoken;
pub mod vocab_txt;
