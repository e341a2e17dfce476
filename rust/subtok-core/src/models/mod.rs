//! Subword models.
pub mod bpe;
pub mod wordpiece;
pub use wordpiece::WordPiece;
pub mod word_bpe;
pub mod word_level;
pub mod vocab;
