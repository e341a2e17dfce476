//! `_core.Encoding`: a read-only view of one core [`Encoding`]; token strings are looked up lazily
//! in the shared id -> token table so encoding never allocates a Python string per token.
use pyo3::prelude::*;
use std::sync::Arc;
use subtok_core::Encoding as CoreEncoding;

#[pyclass(module = "subtok._core", name = "Encoding", frozen)]
pub struct PyEncoding {
    pub inner: CoreEncoding,
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
        self.inner.ids.clone()
    }
    #[getter]
    fn tokens(&self) -> Vec<String> {
        let e = &self.inner;
        e.ids
            .iter()
            .zip(&e.attention_mask)
            .map(|(&i, &m)| match (&self.pad_token, m) {
                (Some(p), 0) => p.to_string(),
                _ => self
                    .id_to_token
                    .get(i as usize)
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect()
    }
    #[getter]
    fn offsets(&self) -> Vec<(usize, usize)> {
        self.inner.offsets.clone()
    }
    #[getter]
    fn type_ids(&self) -> Vec<u32> {
        self.inner.type_ids.clone()
    }
    #[getter]
    fn attention_mask(&self) -> Vec<u32> {
        self.inner.attention_mask.clone()
    }
    #[getter]
    fn special_tokens_mask(&self) -> Vec<u32> {
        self.inner.special_tokens_mask.clone()
    }
    #[getter]
    fn word_ids(&self) -> Vec<Option<u32>> {
        self.inner.word_ids.clone()
    }
    #[getter]
    fn sequence_ids(&self) -> Vec<Option<u32>> {
        self.inner.sequence_ids.clone()
    }
    #[getter]
    fn overflowing(&self) -> Vec<PyEncoding> {
        self.inner
            .overflowing
            .iter()
            .map(|e| PyEncoding::new(e.clone(), self.id_to_token.clone(), self.pad_token.clone()))
            .collect()
    }
    fn __len__(&self) -> usize {
        self.inner.ids.len()
    }
    fn __repr__(&self) -> String {
        format!("Encoding(num_tokens={}, attributes=[ids, type_ids, tokens, offsets, attention_mask, special_tokens_mask, word_ids, sequence_ids, overflowing])", self.inner.ids.len())
    }
}
