pub mod bpe;
