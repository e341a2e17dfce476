//! `_core.Encoding`: a read-only view of one encoded text, held as a [`CompactEncoding`] (one
//! allocation). Token strings are looked up lazily in the shared id -> token table, so encoding
//! never makes a Python string per token.
use crate::errors::IntoPy;
use crate::tokenizer::make_padding;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use std::collections::HashMap;
use std::sync::Arc;
use subtok_core::postprocess::truncation::truncate_one;
use subtok_core::postprocess::{pad_encodings, Direction};
use subtok_core::{CompactEncoding, Encoding as CoreEncoding};

use subtok_core::encoding::TokenRecord;

/// Where token strings come from: the tokenizer's id -> token table, or (for an unpickled
/// encoding, which must not carry a whole vocabulary) a map of the ids it uses.
#[derive(Clone)]
pub enum TokenTable {
    Vocab(Arc<Vec<String>>),
    Ids(Arc<HashMap<u32, String>>),
}

impl TokenTable {
    fn get(&self, id: u32) -> Option<&String> {
        match self {
            TokenTable::Vocab(v) => v.get(id as usize),
            TokenTable::Ids(m) => m.get(&id),
        }
    }
}

const RECORD_BYTES: usize = 23;

fn records_to_bytes(e: &CompactEncoding) -> Vec<u8> {
    let mut out = Vec::with_capacity(e.len() * RECORD_BYTES);
    for t in e.records() {
        for v in [t.id, t.type_id, t.start, t.end, t.word] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&[t.special, t.attention, t.seq]);
    }
    out
}

fn records_from_bytes(b: &[u8]) -> PyResult<CompactEncoding> {
    if b.len() % RECORD_BYTES != 0 {
        return Err(PyValueError::new_err("invalid Encoding state"));
    }
    Ok(b.chunks_exact(RECORD_BYTES)
        .map(|r| {
            let u =
                |i: usize| u32::from_le_bytes([r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]]);
            TokenRecord {
                id: u(0),
                type_id: u(1),
                start: u(2),
                end: u(3),
                word: u(4),
                special: r[20],
                attention: r[21],
                seq: r[22],
            }
        })
        .collect())
}

/// The state of an encoding: `(records, [overflowing states])`, recursively.
fn state_of(py: Python<'_>, e: &CompactEncoding) -> PyResult<Py<PyAny>> {
    let children = e
        .overflowing
        .iter()
        .map(|o| state_of(py, o))
        .collect::<PyResult<Vec<_>>>()?;
    let t = PyTuple::new(
        py,
        [
            PyBytes::new(py, &records_to_bytes(e)).into_any(),
            children.into_pyobject(py)?.into_any(),
        ],
    )?;
    Ok(t.into_any().unbind())
}

fn compact_from_state(state: &Bound<'_, PyAny>) -> PyResult<CompactEncoding> {
    let (records, children): (Vec<u8>, Vec<Py<PyAny>>) = state.extract()?;
    let py = state.py();
    let mut e = records_from_bytes(&records)?;
    e.overflowing = children
        .iter()
        .map(|c| compact_from_state(c.bind(py)))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(e)
}

fn collect_ids(e: &CompactEncoding, out: &mut Vec<u32>) {
    out.extend(e.ids());
    for o in &e.overflowing {
        collect_ids(o, out);
    }
}

/// Rebuild a pickled `Encoding` (see `Encoding.__reduce__`).
#[pyfunction]
#[pyo3(signature = (state, tokens, pad_token=None))]
pub fn _encoding_from_state(
    state: &Bound<'_, PyAny>,
    tokens: HashMap<u32, String>,
    pad_token: Option<String>,
) -> PyResult<PyEncoding> {
    Ok(PyEncoding {
        inner: compact_from_state(state)?,
        id_to_token: TokenTable::Ids(Arc::new(tokens)),
        pad_token: pad_token.map(Arc::from),
    })
}

/// One encoded text or pair (HF tokenizers' `Encoding`): ids, tokens, offsets, type ids, masks,
/// word and sequence ids, overflow windows, and HF's alignment helpers (`word_to_tokens`,
/// `char_to_token`, ...), in-place `truncate` / `pad`, and `Encoding.merge`.
#[pyclass(module = "subtok._core", name = "Encoding")]
pub struct PyEncoding {
    pub inner: CompactEncoding,
    pub id_to_token: TokenTable,
    /// The padding token's text: pads (attention mask 0) show it whatever their id.
    pub pad_token: Option<Arc<str>>,
}

impl PyEncoding {
    pub fn from_compact(
        inner: CompactEncoding,
        id_to_token: Arc<Vec<String>>,
        pad_token: Option<Arc<str>>,
    ) -> Self {
        PyEncoding {
            inner,
            id_to_token: TokenTable::Vocab(id_to_token),
            pad_token,
        }
    }
}

#[pymethods]
impl PyEncoding {
    /// The token ids.
    #[getter]
    fn ids(&self) -> Vec<u32> {
        self.inner.ids()
    }
    /// The token strings (padding shows the pad token).
    #[getter]
    fn tokens(&self) -> Vec<String> {
        self.inner
            .records()
            .map(|t| match (&self.pad_token, t.attention) {
                (Some(p), 0) => p.to_string(),
                _ => self.id_to_token.get(t.id).cloned().unwrap_or_default(),
            })
            .collect()
    }
    /// Character offsets `(start, end)` of each token in its own sequence's text.
    #[getter]
    fn offsets(&self) -> Vec<(usize, usize)> {
        self.inner.offsets()
    }
    /// Segment (token type) ids.
    #[getter]
    fn type_ids(&self) -> Vec<u32> {
        self.inner.type_ids()
    }
    /// 1 for real tokens, 0 for padding.
    #[getter]
    fn attention_mask(&self) -> Vec<u32> {
        self.inner.attention_mask()
    }
    /// 1 for special tokens and padding, 0 for text tokens.
    #[getter]
    fn special_tokens_mask(&self) -> Vec<u32> {
        self.inner.special_tokens_mask()
    }
    /// The index of the word each token came from (`None` for specials and padding).
    #[getter]
    fn word_ids(&self) -> Vec<Option<u32>> {
        self.inner.word_ids()
    }
    /// The sequence (0 or 1) of each token (`None` for specials and padding).
    #[getter]
    fn sequence_ids(&self) -> Vec<Option<u32>> {
        self.inner.sequence_ids()
    }
    /// The windows cut off by truncation (HF `overflowing`).
    #[getter]
    fn overflowing(&self) -> Vec<PyEncoding> {
        self.inner
            .overflowing
            .iter()
            .map(|e| PyEncoding {
                inner: e.clone(),
                id_to_token: self.id_to_token.clone(),
                pad_token: self.pad_token.clone(),
            })
            .collect()
    }
    /// Number of tokens.
    fn __len__(&self) -> usize {
        self.inner.len()
    }
    /// Pickle by value: the token records, the overflowing encodings and the token strings
    /// of the ids used (not the whole vocabulary).
    fn __reduce__(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
        let mut ids = Vec::new();
        collect_ids(&self.inner, &mut ids);
        let mut tokens: HashMap<u32, String> = HashMap::new();
        for id in ids {
            if let Some(t) = self.id_to_token.get(id) {
                tokens.entry(id).or_insert_with(|| t.clone());
            }
        }
        let f = py.import("subtok._core")?.getattr("_encoding_from_state")?;
        let pad = self.pad_token.as_deref().map(str::to_string);
        let args = (state_of(py, &self.inner)?, tokens, pad).into_pyobject(py)?;
        Ok((f.unbind(), args.into_any().unbind()))
    }
    /// An independent copy (`truncate` and `pad` change an encoding in place).
    fn __copy__(&self) -> PyEncoding {
        PyEncoding {
            inner: self.inner.clone(),
            id_to_token: self.id_to_token.clone(),
            pad_token: self.pad_token.clone(),
        }
    }
    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> PyEncoding {
        self.__copy__()
    }
    fn __repr__(&self) -> String {
        format!(
            "Encoding(num_tokens={}, attributes=[ids, type_ids, tokens, offsets, attention_mask, special_tokens_mask, word_ids, sequence_ids, overflowing])",
            self.inner.len()
        )
    }
}

/// HF `Encoding` helpers (word/char/token alignment, in-place truncate and pad, merge), computed
/// from the per-token records. A sequence's range runs from its first to its last token.
impl PyEncoding {
    fn seq_range(&self, seq: usize) -> std::ops::Range<usize> {
        let t = &self.inner;
        let is = |r: TokenRecord| r.seq as usize == seq && r.seq != u8::MAX;
        let last = t.records().rev().position(is).map(|k| t.len() - k);
        match (t.records().position(is), last) {
            (Some(a), Some(b)) => a..b,
            _ if seq == 0 && self.n_seqs() <= 1 => 0..t.len(),
            _ => 0..0,
        }
    }
    /// 2 when a pair was encoded: a token of sequence 1, or (an empty pair) a non-pad token of
    /// type 1 such as BERT's last `[SEP]`.
    fn n_seqs(&self) -> usize {
        let has1 = self
            .inner
            .records()
            .any(|r| r.seq == 1 || (r.attention == 1 && r.type_id == 1));
        1 + has1 as usize
    }
    fn word_of(&self, token: usize) -> Option<u32> {
        let r = self.inner.get(token)?;
        (r.word != u32::MAX).then_some(r.word)
    }
    pub(crate) fn to_core(&self) -> CoreEncoding {
        CoreEncoding::from(&self.inner)
    }
    fn set_core(&mut self, e: &CoreEncoding) {
        self.inner = CompactEncoding::from(e);
    }
}

#[pymethods]
impl PyEncoding {
    /// Number of sequences (1, or 2 for a pair).
    #[getter]
    fn n_sequences(&self) -> usize {
        self.n_seqs()
    }

    /// The sequence (0 or 1) token `token_index` belongs to; `None` for special tokens and pads.
    fn token_to_sequence(&self, token_index: usize) -> Option<usize> {
        let r = self.inner.get(token_index)?;
        (r.seq != u8::MAX).then_some(r.seq as usize)
    }

    /// The character span `(start, end)` of token `token_index` in its own sequence's text.
    fn token_to_chars(&self, token_index: usize) -> Option<(usize, usize)> {
        self.token_to_sequence(token_index)?;
        let r = self.inner.get(token_index)?;
        Some((r.start as usize, r.end as usize))
    }

    /// The index of the word token `token_index` belongs to, in its own sequence.
    fn token_to_word(&self, token_index: usize) -> Option<u32> {
        self.token_to_sequence(token_index)?;
        self.word_of(token_index)
    }

    /// The token span `(start, end)` (end exclusive) of word `word_index` of sequence
    /// `sequence_index`, or `None`.
    #[pyo3(signature = (word_index, sequence_index=0))]
    fn word_to_tokens(&self, word_index: u32, sequence_index: usize) -> Option<(usize, usize)> {
        let range = self.seq_range(sequence_index);
        let mut span: Option<(usize, usize)> = None;
        for i in range {
            match self.word_of(i) {
                Some(w) if w > word_index => break,
                Some(w) if w == word_index => {
                    span = Some((span.map_or(i, |s| s.0), i + 1));
                }
                _ => {}
            }
        }
        span
    }

    /// The character span `(start, end)` of word `word_index` of sequence `sequence_index`.
    #[pyo3(signature = (word_index, sequence_index=0))]
    fn word_to_chars(&self, word_index: u32, sequence_index: usize) -> Option<(usize, usize)> {
        let (a, b) = self.word_to_tokens(word_index, sequence_index)?;
        let offsets = self.inner.offsets();
        Some((offsets[a].0, offsets[b - 1].1))
    }

    /// The index of the token covering character `char_pos` of sequence `sequence_index`.
    #[pyo3(signature = (char_pos, sequence_index=0))]
    fn char_to_token(&self, char_pos: usize, sequence_index: usize) -> Option<usize> {
        let range = self.seq_range(sequence_index);
        let t = self.inner.offsets();
        range.clone().find(|&i| t[i].0 <= char_pos && char_pos < t[i].1)
    }

    /// The index of the word covering character `char_pos` of sequence `sequence_index`.
    #[pyo3(signature = (char_pos, sequence_index=0))]
    fn char_to_word(&self, char_pos: usize, sequence_index: usize) -> Option<u32> {
        let token = self.char_to_token(char_pos, sequence_index)?;
        self.token_to_word(token)
    }

    /// Cut this encoding to `max_length` tokens in place; the rest become `overflowing` windows
    /// sharing `stride` tokens (HF `Encoding.truncate`).
    #[pyo3(signature = (max_length, stride=0, direction="right"))]
    fn truncate(&mut self, max_length: usize, stride: usize, direction: &str) -> PyResult<()> {
        let dir = Direction::parse(direction).py()?;
        let mut e = self.to_core();
        truncate_one(&mut e, max_length, stride, dir).py()?;
        self.set_core(&e);
        Ok(())
    }

    /// Pad this encoding (and its overflow windows) in place to `length` tokens (HF `Encoding.pad`).
    #[pyo3(signature = (length, direction="right", pad_id=0, pad_type_id=0, pad_token="[PAD]"))]
    fn pad(
        &mut self,
        length: usize,
        direction: &str,
        pad_id: u32,
        pad_type_id: u32,
        pad_token: &str,
    ) -> PyResult<()> {
        let p = make_padding(
            direction,
            pad_id,
            pad_type_id,
            pad_token,
            Some(length),
            None,
        )?;
        let mut e = self.to_core();
        pad_encodings(std::slice::from_mut(&mut e), &p);
        self.set_core(&e);
        if self.pad_token.is_none() && self.inner.records().any(|t| t.attention == 0) {
            self.pad_token = Some(Arc::from(pad_token));
        }
        Ok(())
    }

    /// One encoding made of `encodings` one after the other (HF `Encoding.merge`); with
    /// `growing_offsets`, offsets continue from the previous encoding's last end offset.
    #[staticmethod]
    #[pyo3(signature = (encodings, growing_offsets=true))]
    fn merge(encodings: Vec<PyRef<'_, PyEncoding>>, growing_offsets: bool) -> PyEncoding {
        let parts: Vec<CoreEncoding> = encodings.iter().map(|e| e.to_core()).collect();
        let merged = CoreEncoding::merge(&parts, growing_offsets);
        let (table, pad) = encodings
            .first()
            .map_or((TokenTable::Vocab(Arc::new(Vec::new())), None), |e| {
                (e.id_to_token.clone(), e.pad_token.clone())
            });
        PyEncoding {
            inner: CompactEncoding::from(&merged),
            id_to_token: table,
            pad_token: pad,
        }
    }
}
