//! After the model: truncation (with overflow windows), the special-token template, padding.
//! Shared by every model so WordPiece and BPE behave the same way HF tokenizers does.
pub mod padding;
pub mod processor;
pub mod settings;
pub mod template;
pub mod truncation;

pub use padding::{
    check_pad_lengths, pad_compact, pad_encodings, pad_target, PaddingParams, PaddingStrategy, MAX_PAD_LENGTH,
};
pub use settings::{PostSettings, SettingsCell};
pub use template::{Piece, Template};
pub use truncation::{
    truncate_encodings, truncate_ids, Direction, TruncationParams, TruncationStrategy,
};

use crate::encoding::Encoding;
use crate::error::{Error, Result};

/// `t` with `max_length` reduced by the special tokens the post-processor adds to a single
/// sequence or a pair (`count(is_pair)`, when they are asked for); an error when they do not fit.
pub fn special_budget(
    t: &TruncationParams,
    is_pair: bool,
    add_special_tokens: bool,
    count: impl Fn(bool) -> usize,
) -> Result<TruncationParams> {
    let n = if add_special_tokens { count(is_pair) } else { 0 };
    if t.max_length < n {
        return Err(Error::invalid(format!(
            "max_length={} is smaller than the {n} special tokens a {} needs; use max_length >= {n}",
            t.max_length,
            if is_pair { "pair" } else { "single sequence" },
        )));
    }
    Ok(TruncationParams { max_length: t.max_length - n, ..*t })
}

/// HF's post-processing of one input, for every tokenizer: truncation (overflow windows
/// included) less the special tokens (see [`special_budget`]), `process` (the special-token
/// template or post-processor), then `padding`.
pub fn post_process(
    (mut a, mut b): (Encoding, Option<Encoding>),
    add_special_tokens: bool,
    count: impl Fn(bool) -> usize,
    truncation: Option<&TruncationParams>,
    padding: Option<&PaddingParams>,
    process: impl FnOnce(Encoding, Option<Encoding>) -> Encoding,
) -> Result<Encoding> {
    if let Some(t) = truncation {
        let t = special_budget(t, b.is_some(), add_special_tokens, count)?;
        truncate_encodings(&mut a, b.as_mut(), &t)?;
    }
    let mut enc = process(a, b);
    if let Some(p) = padding {
        pad_encodings(std::slice::from_mut(&mut enc), p);
    }
    Ok(enc)
}
