//! `_core.PipelineTokenizer`: the general HF pipeline (any BPE / WordPiece / WordLevel
//! `tokenizer.json` that no fused specialization matches) over `subtok_core::pipeline::Pipeline`.
//! Its HF methods are the ones `WordPieceTokenizer` has (`hf_tokenizer_methods!`).
use crate::encoding::PyEncoding;
use crate::errors::{detached, IntoPy};
use crate::pool;
use crate::tokenizer::{
    arrays_to_dict, batch_refs, extract_batch, extract_texts, extract_words, flat_arrays, ids_arg,
    padding_dict, truncation_dict, FlatArrays, PaddingArgs,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyDict;
use subtok_core::io::hf_json;
use subtok_core::pipeline::Pipeline;

/// Frozen like `WordPieceTokenizer`: settings change atomically through `&self`.
#[derive(Clone)]
#[pyclass(module = "subtok._core", name = "PipelineTokenizer", frozen)]
pub struct PyPipeline {
    pub inner: Pipeline,
}

impl PyPipeline {
    fn pad_token(&self) -> Option<std::sync::Arc<str>> {
        self.inner.settings.padding().map(|p| std::sync::Arc::from(p.pad_token.as_str()))
    }
    fn wrap(&self, e: impl Into<subtok_core::CompactEncoding>) -> PyEncoding {
        PyEncoding::from_compact(e.into(), self.inner.id_to_token_table(), self.pad_token())
    }
    fn json(&self, pretty: bool) -> String {
        hf_json::json_text(&self.inner.to_json(), pretty)
    }
}

crate::tokenizer::truncation_padding_methods!(PyPipeline);
crate::tokenizer::hf_tokenizer_methods!(PyPipeline);

#[pymethods]
impl PyPipeline {
    #[pyo3(signature = (inputs, add_special_tokens=true))]
    fn encode_batch(
        &self,
        py: Python<'_>,
        inputs: &Bound<'_, PyAny>,
        add_special_tokens: bool,
    ) -> PyResult<Vec<PyEncoding>> {
        let items = extract_batch(inputs)?;
        let inner = &self.inner;
        let encs = pool::run(py, || inner.encode_batch_compact(&batch_refs(&items), add_special_tokens))?.py()?;
        let (table, pad) = (self.inner.id_to_token_table(), self.pad_token());
        Ok(encs.into_iter().map(|e| PyEncoding::from_compact(e, table.clone(), pad.clone())).collect())
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
