//! `_core.PipelineTokenizer`: the general HF pipeline (any BPE / WordPiece / WordLevel
//! `tokenizer.json` that no fused specialization matches) over `subtok_core::pipeline::Pipeline`.
use crate::encoding::PyEncoding;
use crate::errors::{detached, IntoPy};
use crate::pool;
use crate::tokenizer::{
    arrays_to_dict, batch_refs, extract_batch, extract_texts, flat_arrays, input_args,
    padding_dict, truncation_dict, FlatArrays, OptionArgs, PaddingArgs, TruncationArgs,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyDict;
use std::path::PathBuf;
use subtok_core::io::hf_json;
use subtok_core::pipeline::Pipeline;
use subtok_core::Error;

#[derive(Clone)]
#[pyclass(module = "subtok._core", name = "PipelineTokenizer")]
pub struct PyPipeline {
    pub inner: Pipeline,
}

impl PyPipeline {
    fn wrap(&self, e: subtok_core::Encoding) -> PyEncoding {
        let pad = self.inner.settings.padding().map(|p| std::sync::Arc::from(p.pad_token.as_str()));
        PyEncoding::new(e, self.inner.id_to_token_table(), pad)
    }
}

fn ids_arg(ids: Vec<i64>) -> PyResult<Vec<u32>> {
    ids.into_iter()
        .map(|i| u32::try_from(i).map_err(|_| Error::OutOfRange(format!("token id {i} is not in the vocabulary"))))
        .collect::<Result<Vec<u32>, Error>>()
        .py()
}

crate::tokenizer::truncation_padding_methods!(PyPipeline);

#[pymethods]
impl PyPipeline {
    #[pyo3(signature = (path, pretty=true))]
    fn save(&self, py: Python<'_>, path: PathBuf, pretty: bool) -> PyResult<()> {
        let text = self.to_str(py, pretty)?;
        detached(py, || subtok_core::error::write_atomic(&path, text.as_bytes()))?.py()
    }

    #[pyo3(signature = (pretty=false))]
    fn to_str(&self, py: Python<'_>, pretty: bool) -> PyResult<String> {
        detached(py, || hf_json::json_text(&self.inner.to_json(), pretty))
    }

    #[pyo3(signature = (sequence, pair=None, add_special_tokens=true))]
    fn encode(
        &self,
        py: Python<'_>,
        sequence: PyBackedStr,
        pair: Option<PyBackedStr>,
        add_special_tokens: bool,
    ) -> PyResult<PyEncoding> {
        let inner = &self.inner;
        let e = detached(py, || inner.encode(&sequence, pair.as_deref(), add_special_tokens))?.py()?;
        Ok(self.wrap(e))
    }

    #[pyo3(signature = (inputs, add_special_tokens=true))]
    fn encode_batch(
        &self,
        py: Python<'_>,
        inputs: &Bound<'_, PyAny>,
        add_special_tokens: bool,
    ) -> PyResult<Vec<PyEncoding>> {
        let items = extract_batch(inputs)?;
        let inner = &self.inner;
        let encs = detached(py, || {
            let refs = batch_refs(&items);
            pool::install(|| inner.encode_batch(&refs, add_special_tokens))
        })?
        .py()?;
        Ok(encs.into_iter().map(|e| self.wrap(e)).collect())
    }

    #[pyo3(signature = (inputs, add_special_tokens=false, truncate=true))]
    fn encode_batch_flat<'py>(
        &self,
        py: Python<'py>,
        inputs: &Bound<'py, PyAny>,
        add_special_tokens: bool,
        truncate: bool,
    ) -> PyResult<FlatArrays<'py>> {
        let texts = extract_texts(inputs)?;
        let inner = &self.inner;
        let (ids, lens) = detached(py, || {
            let refs: Vec<&str> = texts.iter().map(|t| &**t).collect();
            pool::install(|| inner.encode_batch_flat(&refs, add_special_tokens, truncate))
        })?
        .py()?;
        Ok(flat_arrays(py, ids, lens))
    }

    #[pyo3(signature = (ids, skip_special_tokens=true))]
    fn decode(&self, py: Python<'_>, ids: Vec<i64>, skip_special_tokens: bool) -> PyResult<String> {
        let ids = ids_arg(ids)?;
        detached(py, || self.inner.decode(&ids, skip_special_tokens))?.py()
    }

    fn get_vocab(&self) -> std::collections::HashMap<String, u32> {
        self.inner.vocab().into_iter().collect()
    }
    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
    fn id_to_token(&self, id: i64) -> Option<String> {
        u32::try_from(id).ok().and_then(|i| self.inner.id_to_token(i)).map(str::to_string)
    }
    #[getter]
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }
    /// Ids of the special (added) tokens.
    fn special_token_ids(&self) -> Vec<u32> {
        self.inner.added_tokens().iter().filter(|t| t.special).map(|t| t.id).collect()
    }
    fn num_special_tokens_to_add(&self, is_pair: bool) -> usize {
        self.inner.num_special_tokens_to_add(is_pair)
    }

    /// Model inputs for a batch (the engine of `Tokenizer.__call__`); arguments as
    /// in `WordPieceTokenizer.build_inputs`.
    #[pyo3(signature = (inputs, add_special_tokens, truncation, padding, options))]
    fn build_inputs<'py>(
        &self,
        py: Python<'py>,
        inputs: &Bound<'py, PyAny>,
        add_special_tokens: bool,
        truncation: Option<TruncationArgs>,
        padding: Option<PaddingArgs>,
        options: OptionArgs,
    ) -> PyResult<Bound<'py, PyDict>> {
        let items = extract_batch(inputs)?;
        let (trunc, pad, opts) = input_args(truncation, padding, options)?;
        let inner = &self.inner;
        let arrays = pool::run(py, || {
            let refs = batch_refs(&items);
            inner.build_inputs(&refs, add_special_tokens, trunc, pad.as_ref(), opts)
        })?
        .py()?;
        arrays_to_dict(py, arrays)
    }

    fn __repr__(&self) -> String {
        format!(
            "PipelineTokenizer(model={}, vocab_size={})",
            self.inner.model.kind(),
            self.inner.vocab_size()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPipeline>()
}
