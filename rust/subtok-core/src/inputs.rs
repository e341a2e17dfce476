//! Model inputs as transformers' `BertTokenizerFast(...)(..., return_tensors="np")` builds them:
//! rectangular id / type / mask / offset arrays over a whole batch, overflow windows flattened
//! with a sample mapping. Everything is written into flat row-major buffers in one pass.
use crate::encoding::Encoding;
use crate::error::{Error, Result};

/// Which optional arrays to fill.
#[derive(Debug, Clone, Copy, Default)]
pub struct InputOptions {
    pub return_overflowing_tokens: bool,
    pub return_offsets_mapping: bool,
    pub return_special_tokens_mask: bool,
    pub return_sequence_ids: bool,
}

/// Row-major arrays of shape (rows, cols); `offsets` is (rows, cols, 2).
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
    if let Some((_, bad)) = rows.iter().find(|(_, e)| e.len() != cols) {
        return Err(Error::invalid(format!(
            "the encoded sequences have different lengths ({cols} and {}), so they cannot form one array; \
             pass padding=True (or 'max_length') and/or truncation=True",
            bad.len()
        )));
    }
    let n = rows.len() * cols;
    let mut out = BatchArrays {
        rows: rows.len(),
        cols,
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
