//! `_core.Encoding`: a read-only view of one encoded text, held as a [`CompactEncoding`] (one
//! allocation). Token strings are looked up lazily in the shared id -> token table, so encoding
//! never makes a Python string per token.
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use std::collections::HashMap;
use std::sync::Arc;
use subtok_core::encoding::TokenRecord;
use subtok_core::{CompactEncoding, Encoding as CoreEncoding};

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
    let mut out = Vec::with_capacity(e.tokens.len() * RECORD_BYTES);
    for t in &e.tokens {
        for v in [t.id, t.type_id, t.start, t.end, t.word] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&[t.special, t.attention, t.seq]);
    }
    out
}

fn records_from_bytes(b: &[u8]) -> PyResult<Vec<TokenRecord>> {
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
    Ok(CompactEncoding {
        tokens: records_from_bytes(&records)?,
        overflowing: children
            .iter()
            .map(|c| compact_from_state(c.bind(py)))
            .collect::<PyResult<Vec<_>>>()?,
    })
}

fn collect_ids(e: &CompactEncoding, out: &mut Vec<u32>) {
    out.extend(e.tokens.iter().map(|t| t.id));
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

#[pyclass(module = "subtok._core", name = "Encoding", frozen)]
pub struct PyEncoding {
    pub inner: CompactEncoding,
    pub id_to_token: TokenTable,
    /// The padding token's text: pads (attention mask 0) show it whatever their id.
    pub pad_token: Option<Arc<str>>,
}

impl PyEncoding {
    pub fn new(
        inner: CoreEncoding,
        id_to_token: Arc<Vec<String>>,
        pad_token: Option<Arc<str>>,
    ) -> Self {
        Self::from_compact(CompactEncoding::from(&inner), id_to_token, pad_token)
    }
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
    #[getter]
    fn ids(&self) -> Vec<u32> {
        self.inner.ids()
    }
    #[getter]
    fn tokens(&self) -> Vec<String> {
        self.inner
            .tokens
            .iter()
            .map(|t| match (&self.pad_token, t.attention) {
                (Some(p), 0) => p.to_string(),
                _ => self.id_to_token.get(t.id).cloned().unwrap_or_default(),
            })
            .collect()
    }
    #[getter]
    fn offsets(&self) -> Vec<(usize, usize)> {
        self.inner.offsets()
    }
    #[getter]
    fn type_ids(&self) -> Vec<u32> {
        self.inner.type_ids()
    }
    #[getter]
    fn attention_mask(&self) -> Vec<u32> {
        self.inner.attention_mask()
    }
    #[getter]
    fn special_tokens_mask(&self) -> Vec<u32> {
        self.inner.special_tokens_mask()
    }
    #[getter]
    fn word_ids(&self) -> Vec<Option<u32>> {
        self.inner.word_ids()
    }
    #[getter]
    fn sequence_ids(&self) -> Vec<Option<u32>> {
        self.inner.sequence_ids()
    }
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
    /// Encodings are immutable: a copy is the object itself.
    fn __copy__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __deepcopy__<'py>(slf: PyRef<'py, Self>, _memo: &Bound<'py, PyAny>) -> PyRef<'py, Self> {
        slf
    }
    fn __repr__(&self) -> String {
        format!(
            "Encoding(num_tokens={}, attributes=[ids, type_ids, tokens, offsets, attention_mask, special_tokens_mask, word_ids, sequence_ids, overflowing])",
            self.inner.len()
        )
    }
}
