//! Subword models.
pub mod bpe;
pub mod wordpiece;
pub use wordpiece::WordPiece;
