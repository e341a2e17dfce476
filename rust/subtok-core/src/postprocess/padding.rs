//! HF tokenizers' padding: to a fixed length or the batch's longest, optionally rounded up to a
//! multiple; overflow windows are padded to the same length.
use crate::encoding::Encoding;
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

/// Pad every encoding (and its overflow windows) in place.
pub fn pad_encodings(encs: &mut [Encoding], p: &PaddingParams) {
    if encs.is_empty() {
        return;
    }
    let mut target = match p.strategy {
        PaddingStrategy::Fixed(n) => n,
        PaddingStrategy::BatchLongest => encs.iter().map(|e| e.len()).max().unwrap_or(0),
    };
    if let Some(m) = p.pad_to_multiple_of {
        if m > 0 && target % m != 0 {
            target += m - target % m;
        }
    }
    for e in encs.iter_mut() {
        pad_one(e, target, p);
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
            v.splice(0..0, std::iter::repeat(x).take(n));
        } else {
            v.extend(std::iter::repeat(x).take(n));
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
