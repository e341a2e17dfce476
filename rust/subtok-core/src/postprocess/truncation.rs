//! HF tokenizers' truncation, including its `longest_first` rule for pairs (bert-spec §7.5)
//! and overflow windows that overlap by `stride` tokens.
use crate::encoding::Encoding;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TruncationStrategy {
    LongestFirst,
    OnlyFirst,
    OnlySecond,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Left,
    Right,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruncationParams {
    pub max_length: usize,
    pub stride: usize,
    pub strategy: TruncationStrategy,
    pub direction: Direction,
}

impl TruncationStrategy {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "longest_first" | "LongestFirst" => Ok(Self::LongestFirst),
            "only_first" | "OnlyFirst" => Ok(Self::OnlyFirst),
            "only_second" | "OnlySecond" => Ok(Self::OnlySecond),
            _ => Err(Error::invalid(format!(
                "unknown truncation strategy {s:?}; use 'longest_first', 'only_first' or 'only_second'"
            ))),
        }
    }
    pub fn hf_name(self) -> &'static str {
        match self {
            Self::LongestFirst => "LongestFirst",
            Self::OnlyFirst => "OnlyFirst",
            Self::OnlySecond => "OnlySecond",
        }
    }
    pub fn py_name(self) -> &'static str {
        match self {
            Self::LongestFirst => "longest_first",
            Self::OnlyFirst => "only_first",
            Self::OnlySecond => "only_second",
        }
    }
}

impl Direction {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "right" | "Right" => Ok(Self::Right),
            "left" | "Left" => Ok(Self::Left),
            _ => Err(Error::invalid(format!(
                "unknown direction {s:?}; use 'right' or 'left'"
            ))),
        }
    }
    pub fn hf_name(self) -> &'static str {
        match self {
            Self::Left => "Left",
            Self::Right => "Right",
        }
    }
    pub fn py_name(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Right => "right",
        }
    }
}

/// Cut `enc` to `max_len` tokens; the cut-off parts become `enc.overflowing`, each a window of
/// at most `max_len` tokens sharing `stride` tokens with its neighbour (HF `Encoding::truncate`).
pub fn truncate_one(
    enc: &mut Encoding,
    max_len: usize,
    stride: usize,
    direction: Direction,
) -> Result<()> {
    let len = enc.ids.len();
    if max_len >= len {
        return Ok(());
    }
    if max_len == 0 {
        let whole = std::mem::take(enc);
        enc.overflowing.push(whole);
        return Ok(());
    }
    if stride >= max_len {
        return Err(Error::invalid(format!(
            "stride ({stride}) must be smaller than the number of tokens left for the sequence after truncation ({max_len}); lower the stride or raise max_length"
        )));
    }
    let step = max_len - stride;
    let mut ranges = Vec::new();
    match direction {
        Direction::Right => {
            let mut start = 0;
            loop {
                let stop = (start + max_len).min(len);
                ranges.push((start, stop));
                if stop == len {
                    break;
                }
                start += step;
            }
        }
        Direction::Left => {
            let mut back = 0;
            loop {
                let stop = len - back;
                let start = stop.saturating_sub(max_len);
                ranges.push((start, stop));
                if start == 0 {
                    break;
                }
                back += step;
            }
        }
    }
    let mut parts = ranges.into_iter().map(|(s, e)| slice(enc, s, e));
    let mut first = parts.next().unwrap_or_default();
    first.overflowing = parts.collect();
    *enc = first;
    Ok(())
}

fn slice(e: &Encoding, s: usize, t: usize) -> Encoding {
    Encoding {
        ids: e.ids[s..t].to_vec(),
        type_ids: e.type_ids[s..t].to_vec(),
        offsets: e.offsets[s..t].to_vec(),
        special_tokens_mask: e.special_tokens_mask[s..t].to_vec(),
        attention_mask: e.attention_mask[s..t].to_vec(),
        word_ids: e.word_ids[s..t].to_vec(),
        sequence_ids: e.sequence_ids[s..t].to_vec(),
        overflowing: Vec::new(),
    }
}

/// Cut the ids appended after `from` to `t.max_length` (no overflow windows): the flat-id path.
pub fn truncate_ids(ids: &mut Vec<u32>, from: usize, t: &TruncationParams) {
    let n = ids.len() - from;
    if n > t.max_length {
        match t.direction {
            Direction::Right => ids.truncate(from + t.max_length),
            Direction::Left => {
                ids.drain(from..from + (n - t.max_length));
            }
        }
    }
}

/// Truncate a sequence (and its pair) so that together they fit `params.max_length`
/// (already reduced by the number of special tokens the template adds).
pub fn truncate_encodings(
    enc: &mut Encoding,
    pair: Option<&mut Encoding>,
    params: &TruncationParams,
) -> Result<()> {
    let n_a = enc.ids.len();
    let n_b = pair.as_ref().map_or(0, |p| p.ids.len());
    let total = n_a + n_b;
    let max = params.max_length;
    if total <= max {
        return Ok(());
    }
    let to_remove = total - max;
    match params.strategy {
        TruncationStrategy::LongestFirst => match pair {
            Some(pair) => {
                let (mut n1, mut n2) = (n_a, n_b);
                let swap = n1 > n2;
                if swap {
                    std::mem::swap(&mut n1, &mut n2);
                }
                n2 = if n1 > max { n1 } else { (max - n1).max(n1) };
                if n1 + n2 > max {
                    n1 = max / 2;
                    n2 = n1 + max % 2;
                }
                if swap {
                    std::mem::swap(&mut n1, &mut n2);
                }
                truncate_one(enc, n1, params.stride, params.direction)?;
                truncate_one(pair, n2, params.stride, params.direction)?;
            }
            None => truncate_one(enc, max, params.stride, params.direction)?,
        },
        TruncationStrategy::OnlyFirst | TruncationStrategy::OnlySecond => {
            let target = if params.strategy == TruncationStrategy::OnlyFirst {
                enc
            } else {
                pair.ok_or_else(|| {
                    Error::invalid("truncation strategy 'only_second' needs a pair of sequences; use 'longest_first' or 'only_first'")
                })?
            };
            let n = target.ids.len();
            if n > to_remove {
                truncate_one(target, n - to_remove, params.stride, params.direction)?;
            } else {
                return Err(Error::invalid(format!(
                    "cannot truncate with '{}': the sequence to truncate has {n} tokens but {to_remove} must go; use 'longest_first' or raise max_length",
                    params.strategy.py_name()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(n: usize) -> Encoding {
        let mut e = Encoding::with_capacity(n);
        for i in 0..n {
            e.ids.push(i as u32);
            e.type_ids.push(0);
            e.offsets.push((i, i + 1));
            e.special_tokens_mask.push(0);
            e.attention_mask.push(1);
            e.word_ids.push(Some(i as u32));
            e.sequence_ids.push(Some(0));
        }
        e
    }

    #[test]
    fn windows_overlap_by_stride() {
        let mut e = enc(10);
        truncate_one(&mut e, 4, 1, Direction::Right).unwrap();
        assert_eq!(e.ids, vec![0, 1, 2, 3]);
        let o: Vec<Vec<u32>> = e.overflowing.iter().map(|x| x.ids.clone()).collect();
        assert_eq!(o, vec![vec![3, 4, 5, 6], vec![6, 7, 8, 9]]);
    }

    #[test]
    fn left_windows() {
        let mut e = enc(5);
        truncate_one(&mut e, 3, 0, Direction::Left).unwrap();
        assert_eq!(e.ids, vec![2, 3, 4]);
        assert_eq!(e.overflowing[0].ids, vec![0, 1]);
    }

    #[test]
    fn longest_first_rule() {
        // Both longer than half: the shorter gets floor(m/2), the longer the rest.
        let p = TruncationParams {
            max_length: 7,
            stride: 0,
            strategy: TruncationStrategy::LongestFirst,
            direction: Direction::Right,
        };
        let (mut a, mut b) = (enc(10), enc(6));
        truncate_encodings(&mut a, Some(&mut b), &p).unwrap();
        assert_eq!((a.ids.len(), b.ids.len()), (4, 3));
        // Tie: B counts as the longer.
        let (mut a, mut b) = (enc(9), enc(9));
        truncate_encodings(&mut a, Some(&mut b), &p).unwrap();
        assert_eq!((a.ids.len(), b.ids.len()), (3, 4));
        // Only the longer needs cutting.
        let (mut a, mut b) = (enc(2), enc(9));
        truncate_encodings(&mut a, Some(&mut b), &p).unwrap();
        assert_eq!((a.ids.len(), b.ids.len()), (2, 5));
    }

    #[test]
    fn impossible_only_second_errors() {
        let p = TruncationParams {
            max_length: 3,
            stride: 0,
            strategy: TruncationStrategy::OnlySecond,
            direction: Direction::Right,
        };
        let (mut a, mut b) = (enc(5), enc(2));
        assert!(truncate_encodings(&mut a, Some(&mut b), &p).is_err());
        let mut a = enc(5);
        assert!(truncate_encodings(&mut a, None, &p).is_err());
    }

    #[test]
    fn stride_too_large_errors() {
        let mut e = enc(10);
        assert!(truncate_one(&mut e, 4, 4, Direction::Right).is_err());
    }
}
