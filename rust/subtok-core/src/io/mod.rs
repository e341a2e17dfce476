pub mod gpt2_files;
pub mod tiktoken;
