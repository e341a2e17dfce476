//! HF tokenizers' padding: to a fixed length or the batch's longest, optionally rounded up to a
//! multiple; overflow windows are padded to the same length.
use crate::encoding::{CompactEncoding, Encoding, TokenRecord};
use crate::postprocess::truncation::Direction;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaddingStrategy {
    BatchLongest,
    Fixed(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaddingParams {
    pub strategy: PaddingStrategy,
    pub direction: Direction,
    pub pad_to_multiple_of: Option<usize>,
    pub pad_id: u32,
    pub pad_type_id: u32,
    pub pad_token: String,
}

impl Default for PaddingParams {
    fn default() -> Self {
        PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            direction: Direction::Right,
            pad_to_multiple_of: None,
            pad_id: 0,
            pad_type_id: 0,
            pad_token: "[PAD]".into(),
        }
    }
}

/// The longest length padding may be asked for (2**24 tokens): padding allocates what it is
/// asked for, so an absurd length (a typo, a hostile file or argument) must raise an error, not
/// abort the process on a failed allocation. Texts longer than this are not cut, only not padded
/// further.
pub const MAX_PAD_LENGTH: usize = 1 << 24;

/// `Err` naming the value when a padding length or multiple is above [`MAX_PAD_LENGTH`].
pub fn check_pad_lengths(length: Option<usize>, pad_to_multiple_of: Option<usize>) -> Result<(), String> {
    for (what, v) in [("length", length), ("pad_to_multiple_of", pad_to_multiple_of)] {
        if let Some(v) = v.filter(|&v| v > MAX_PAD_LENGTH) {
            return Err(format!("padding {what} {v} is above the limit of {MAX_PAD_LENGTH} tokens"));
        }
    }
    Ok(())
}

/// The length a batch whose longest main encoding has `longest` tokens is padded to.
pub fn pad_target(longest: usize, p: &PaddingParams) -> usize {
    let mut target = match p.strategy {
        PaddingStrategy::Fixed(n) => n,
        PaddingStrategy::BatchLongest => longest,
    };
    if let Some(m) = p.pad_to_multiple_of {
        if m > 0 && target % m != 0 {
            target += m - target % m;
        }
    }
    target
}

/// Pad every encoding (and its overflow windows) in place.
pub fn pad_encodings(encs: &mut [Encoding], p: &PaddingParams) {
    let target = pad_target(encs.iter().map(|e| e.len()).max().unwrap_or(0), p);
    for e in encs.iter_mut() {
        pad_one(e, target, p);
    }
}

/// [`pad_encodings`] for compact encodings.
pub fn pad_compact(encs: &mut [CompactEncoding], p: &PaddingParams) {
    let target = pad_target(encs.iter().map(|e| e.len()).max().unwrap_or(0), p);
    for e in encs.iter_mut() {
        pad_compact_one(e, target, p);
    }
}

fn pad_compact_one(e: &mut CompactEncoding, target: usize, p: &PaddingParams) {
    for o in e.overflowing.iter_mut() {
        pad_compact_one(o, target, p);
    }
    let len = e.len();
    if len >= target {
        return;
    }
    let pad = TokenRecord {
        id: p.pad_id,
        type_id: p.pad_type_id,
        start: 0,
        end: 0,
        word: u32::MAX,
        special: 1,
        attention: 0,
        seq: u8::MAX,
    };
    let fill = std::iter::repeat_n(pad, target - len);
    if p.direction == Direction::Left {
        let overflowing = std::mem::take(&mut e.overflowing);
        *e = fill.chain(e.records()).collect();
        e.overflowing = overflowing;
    } else {
        fill.for_each(|r| e.push(r));
    }
}

fn pad_one(e: &mut Encoding, target: usize, p: &PaddingParams) {
    for o in e.overflowing.iter_mut() {
        pad_one(o, target, p);
    }
    let len = e.len();
    if len >= target {
        return;
    }
    let n = target - len;
    fn grow<T: Clone>(v: &mut Vec<T>, n: usize, x: T, left: bool) {
        if left {
            v.splice(0..0, std::iter::repeat_n(x, n));
        } else {
            v.extend(std::iter::repeat_n(x, n));
        }
    }
    let left = p.direction == Direction::Left;
    grow(&mut e.ids, n, p.pad_id, left);
    grow(&mut e.type_ids, n, p.pad_type_id, left);
    grow(&mut e.offsets, n, (0, 0), left);
    grow(&mut e.special_tokens_mask, n, 1, left);
    grow(&mut e.attention_mask, n, 0, left);
    grow(&mut e.word_ids, n, None, left);
    grow(&mut e.sequence_ids, n, None, left);
}
