//! `_core.Encoding`: a read-only view of one encoded text, held as a [`CompactEncoding`] (one
//! allocation). Token strings are looked up lazily in the shared id -> token table, so encoding
//! never makes a Python string per token.
use pyo3::prelude::*;
use std::sync::Arc;
use subtok_core::{CompactEncoding, Encoding as CoreEncoding};

#[pyclass(module = "subtok._core", name = "Encoding", frozen)]
pub struct PyEncoding {
    pub inner: CompactEncoding,
    pub id_to_token: Arc<Vec<String>>,
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
            id_to_token,
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
                _ => self
                    .id_to_token
                    .get(t.id as usize)
                    .cloned()
                    .unwrap_or_default(),
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
            .map(|e| {
                PyEncoding::from_compact(
                    e.clone(),
                    self.id_to_token.clone(),
                    self.pad_token.clone(),
                )
            })
            .collect()
    }
    fn __len__(&self) -> usize {
        self.inner.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "Encoding(num_tokens={}, attributes=[ids, type_ids, tokens, offsets, attention_mask, special_tokens_mask, word_ids, sequence_ids, overflowing])",
            self.inner.len()
        )
    }
}
