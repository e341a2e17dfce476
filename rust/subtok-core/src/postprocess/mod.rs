//! After the model: truncation (with overflow windows), the special-token template, padding.
//! Shared by every model so WordPiece and BPE behave the same way HF tokenizers does.
pub mod padding;
pub mod processor;
pub mod settings;
pub mod template;
pub mod truncation;

pub use padding::{pad_compact, pad_encodings, pad_target, PaddingParams, PaddingStrategy};
pub use settings::{PostSettings, SettingsCell};
pub use template::{Piece, Template};
pub use truncation::{
    truncate_encodings, truncate_ids, Direction, TruncationParams, TruncationStrategy,
};
