//! Subword models.
pub mod wordpiece;
pub use wordpiece::WordPiece;
