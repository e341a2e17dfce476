//! Model inputs as transformers' `BertTokenizerFast(...)(..., return_tensors="np")` builds them:
//! rectangular id / type / mask / offset arrays over a whole batch, overflow windows flattened
//! with a sample mapping. Everything is written into flat row-major buffers in one pass.
use crate::cancel::Cancel;
use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::postprocess::{Direction, PaddingParams, PaddingStrategy};
use rayon::prelude::*;

/// Inputs per parallel work item in [`CompactRows`] batches.
pub const ROWS_PER_CHUNK: usize = 256;

/// Which optional arrays to fill.
#[derive(Debug, Clone, Copy, Default)]
pub struct InputOptions {
    pub return_overflowing_tokens: bool,
    pub return_offsets_mapping: bool,
    pub return_special_tokens_mask: bool,
    pub return_sequence_ids: bool,
    /// Without padding, rows may differ in length: they are returned one after the other
    /// (flat, `row_lengths` set) instead of refused (transformers' lists, `return_tensors=None`).
    pub ragged: bool,
}

/// Row-major arrays of shape (rows, cols); `offsets` is (rows, cols, 2). Ragged results
/// (`row_lengths` set) hold the rows one after the other instead, `cols` unused.
#[derive(Debug, Clone, Default)]
pub struct BatchArrays {
    pub rows: usize,
    pub cols: usize,
    pub input_ids: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    pub special_tokens_mask: Option<Vec<i64>>,
    pub offset_mapping: Option<Vec<i64>>,
    /// -1 for special tokens and padding, else 0 (first sequence) or 1 (pair).
    pub sequence_ids: Option<Vec<i64>>,
    /// Source sample of each row (only with `return_overflowing_tokens`).
    pub overflow_to_sample_mapping: Option<Vec<i64>>,
    /// The length of each row of a ragged result.
    pub row_lengths: Option<Vec<i64>>,
}

/// Flatten encodings (each with its overflow windows when asked) into arrays. All rows must have
/// the same length, which is what padding guarantees; otherwise this is an error that says so.
pub fn to_arrays(encs: &[Encoding], opt: InputOptions) -> Result<BatchArrays> {
    let rows: Vec<(usize, &Encoding)> = encs
        .iter()
        .enumerate()
        .flat_map(|(i, e)| {
            let extra: &[Encoding] = if opt.return_overflowing_tokens {
                &e.overflowing
            } else {
                &[]
            };
            std::iter::once((i, e)).chain(extra.iter().map(move |o| (i, o)))
        })
        .collect();
    let cols = rows.first().map_or(0, |(_, e)| e.len());
    let ragged = opt.ragged && rows.iter().any(|(_, e)| e.len() != cols);
    if let Some((_, bad)) = rows.iter().find(|(_, e)| e.len() != cols && !ragged) {
        return Err(Error::invalid(format!(
            "the encoded sequences have different lengths ({cols} and {}), so they cannot form one array; \
             pass padding=True (or 'max_length') and/or truncation=True",
            bad.len()
        )));
    }
    let n = rows.iter().map(|(_, e)| e.len()).sum();
    let mut out = BatchArrays {
        rows: rows.len(),
        cols,
        row_lengths: ragged.then(|| rows.iter().map(|(_, e)| e.len() as i64).collect()),
        input_ids: Vec::with_capacity(n),
        token_type_ids: Vec::with_capacity(n),
        attention_mask: Vec::with_capacity(n),
        special_tokens_mask: opt
            .return_special_tokens_mask
            .then(|| Vec::with_capacity(n)),
        offset_mapping: opt
            .return_offsets_mapping
            .then(|| Vec::with_capacity(2 * n)),
        sequence_ids: opt.return_sequence_ids.then(|| Vec::with_capacity(n)),
        overflow_to_sample_mapping: opt
            .return_overflowing_tokens
            .then(|| rows.iter().map(|(i, _)| *i as i64).collect()),
    };
    for (_, e) in &rows {
        out.input_ids.extend(e.ids.iter().map(|&x| x as i64));
        out.token_type_ids
            .extend(e.type_ids.iter().map(|&x| x as i64));
        out.attention_mask
            .extend(e.attention_mask.iter().map(|&x| x as i64));
        if let Some(v) = out.special_tokens_mask.as_mut() {
            v.extend(e.special_tokens_mask.iter().map(|&x| x as i64));
        }
        if let Some(v) = out.offset_mapping.as_mut() {
            for &(s, t) in &e.offsets {
                v.push(s as i64);
                v.push(t as i64);
            }
        }
        if let Some(v) = out.sequence_ids.as_mut() {
            v.extend(e.sequence_ids.iter().map(|s| s.map_or(-1, |x| x as i64)));
        }
    }
    Ok(out)
}

/// Model inputs of a batch from whole encodings: `encode(text, pair)` runs on every input in
/// parallel (under the caller's cancellation token), then `padding` and [`to_arrays`].
pub fn from_encodings(
    inputs: &[(&str, Option<&str>)],
    padding: Option<&PaddingParams>,
    opt: InputOptions,
    encode: impl Fn(&str, Option<&str>) -> Result<Encoding> + Sync,
) -> Result<BatchArrays> {
    let cancel = Cancel::current();
    let mut encs = inputs
        .par_iter()
        .with_min_len(16)
        .map(|&(a, b)| {
            cancel.check()?;
            cancel.enter(|| encode(a, b))
        })
        .collect::<Result<Vec<_>>>()?;
    cancel.check()?;
    if let Some(p) = padding {
        crate::postprocess::pad_encodings(&mut encs, p);
    }
    to_arrays(&encs, opt)
}

/// Unpadded rows of one chunk of the batch, stored flat (no allocation per row).
#[derive(Debug, Default)]
pub struct CompactRows {
    lens: Vec<usize>,
    ids: Vec<u32>,
    type_ids: Vec<u32>,
    special: Vec<u8>,
    offsets: Vec<(usize, usize)>,
    seq: Vec<i8>,
    opt: InputOptions,
}

impl CompactRows {
    pub fn new(opt: InputOptions) -> Self {
        CompactRows {
            opt,
            ..Default::default()
        }
    }

    pub fn push(&mut self, e: &Encoding) {
        self.lens.push(e.len());
        self.ids.extend_from_slice(&e.ids);
        self.type_ids.extend_from_slice(&e.type_ids);
        self.special
            .extend(e.special_tokens_mask.iter().map(|&x| x as u8));
        if self.opt.return_offsets_mapping {
            self.offsets.extend_from_slice(&e.offsets);
        }
        if self.opt.return_sequence_ids {
            self.seq
                .extend(e.sequence_ids.iter().map(|s| s.map_or(-1, |x| x as i8)));
        }
    }
}

/// Pad and lay out compact rows as arrays (one parallel pass per array): each row is padded to
/// the batch's padding length (HF semantics: a longer row stays as it is). Rows of different
/// lengths are an error unless `opt.ragged`, which returns them one after the other.
pub fn assemble(
    parts: &[CompactRows],
    padding: Option<&PaddingParams>,
    opt: InputOptions,
) -> Result<BatchArrays> {
    let rows: usize = parts.iter().map(|p| p.lens.len()).sum();
    let lens = || parts.iter().flat_map(|p| p.lens.iter().copied());
    let longest = lens().max().unwrap_or(0);
    let shortest = lens().min().unwrap_or(0);
    // The length padding brings every row up to (none: rows keep their own length).
    let pad_to = padding.map(|p| {
        let base = match p.strategy {
            PaddingStrategy::Fixed(n) => n,
            PaddingStrategy::BatchLongest => longest,
        };
        match p.pad_to_multiple_of {
            Some(m) if m > 0 && base % m != 0 => base + m - base % m,
            _ => base,
        }
    });
    let target = |len: usize| pad_to.map_or(len, |t| t.max(len));
    let cols = target(longest);
    let ragged = target(shortest) != cols;
    if ragged && !opt.ragged {
        return Err(Error::invalid(format!(
            "the encoded sequences have different lengths ({shortest} to {longest} tokens), so they cannot form one array; \
             pass padding=True (or 'max_length') and/or truncation=True"
        )));
    }
    let (pad_id, pad_type, left) = padding.map_or((0, 0, false), |p| {
        (
            p.pad_id as i64,
            p.pad_type_id as i64,
            p.direction == Direction::Left,
        )
    });
    // Output tokens (padding included) of each part, to give each part its own output slice.
    let part_sizes: Vec<usize> = parts
        .iter()
        .map(|p| p.lens.iter().map(|&l| target(l)).sum())
        .collect();
    let n: usize = part_sizes.iter().sum();
    // Fill one array: `value(part, token_index)` for tokens, `pad` elsewhere.
    let fill = |pad: i64,
                width: usize,
                value: &(dyn Fn(&CompactRows, usize, &mut [i64]) + Sync)|
     -> Vec<i64> {
        let mut out = vec![pad; n * width];
        let mut slices = Vec::with_capacity(parts.len());
        let mut rest = &mut out[..];
        for &size in &part_sizes {
            let (head, tail) = rest.split_at_mut(size * width);
            slices.push(head);
            rest = tail;
        }
        slices
            .into_par_iter()
            .zip(parts.par_iter())
            .for_each(|(dst, part)| {
                let (mut tok, mut at) = (0usize, 0usize);
                for &len in &part.lens {
                    let t = target(len);
                    let start = at + if left { t - len } else { 0 };
                    for i in 0..len {
                        value(
                            part,
                            tok + i,
                            &mut dst[(start + i) * width..(start + i + 1) * width],
                        );
                    }
                    tok += len;
                    at += t;
                }
            });
        out
    };
    let mut out = BatchArrays {
        rows,
        cols,
        input_ids: fill(pad_id, 1, &|p, i, d| d[0] = p.ids[i] as i64),
        token_type_ids: fill(pad_type, 1, &|p, i, d| d[0] = p.type_ids[i] as i64),
        attention_mask: fill(0, 1, &|_, _, d| d[0] = 1),
        row_lengths: ragged.then(|| lens().map(|l| target(l) as i64).collect()),
        ..Default::default()
    };
    if opt.return_special_tokens_mask {
        out.special_tokens_mask = Some(fill(1, 1, &|p, i, d| d[0] = p.special[i] as i64));
    }
    if opt.return_offsets_mapping {
        out.offset_mapping = Some(fill(0, 2, &|p, i, d| {
            d[0] = p.offsets[i].0 as i64;
            d[1] = p.offsets[i].1 as i64;
        }));
    }
    if opt.return_sequence_ids {
        out.sequence_ids = Some(fill(-1, 1, &|p, i, d| d[0] = p.seq[i] as i64));
    }
    Ok(out)
}
