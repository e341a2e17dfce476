//! `_core.BpeTokenizer`: byte-level BPE (tiktoken / GPT-2 / HF BPE files) over
//! `subtok_core::bpe_tokenizer::BpeTokenizer`. Heavy work runs with the GIL released.
use crate::encoding::PyEncoding;
use crate::errors::{detached, IntoPy};
use crate::pool;
use crate::tokenizer::{
    arrays_to_dict, batch_refs, extract_batch, extract_words, flat_arrays, ids_arg, input_args,
    padding_dict, truncation_dict, FlatArrays, OptionArgs,
    PaddingArgs, TruncationArgs,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use std::collections::HashMap;
use std::path::PathBuf;
use subtok_core::bpe_tokenizer::{BpeTokenizer, SpecialPolicy, SpecialSet};
use subtok_core::Error;

/// Frozen like `WordPieceTokenizer`: settings change atomically through `&self`.
#[pyclass(module = "subtok._core", name = "BpeTokenizer", frozen)]
#[derive(Clone)]
pub struct PyBpeTokenizer {
    pub inner: BpeTokenizer,
}

/// `{name: id}` in id order; names sharing an id keep the dict's order (the last one decodes).
fn specials_by_id(dict: Option<Bound<'_, PyDict>>) -> PyResult<Vec<(String, u32)>> {
    let mut specials = Vec::new();
    if let Some(dict) = dict {
        for (k, v) in dict.iter() {
            specials.push((k.extract::<String>()?, v.extract::<u32>()?));
        }
    }
    specials.sort_by_key(|(_, id)| *id);
    Ok(specials)
}

/// `None` -> empty, `"all"` -> all, any iterable of str -> those.
fn special_set(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<SpecialSet> {
    let Some(obj) = obj else {
        return Ok(SpecialSet::none());
    };
    if obj.is_none() {
        return Ok(SpecialSet::none());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_cow()?;
        return if s == "all" {
            Ok(SpecialSet::All)
        } else {
            Err(PyValueError::new_err(format!(
                "{what} must be \"all\" or a collection of strings, not the string {s:?}"
            )))
        };
    }
    let mut names = Vec::new();
    for item in obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be \"all\" or a collection of strings"))
    })? {
        let item = item?;
        let s = item
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err(format!("{what} must contain only strings")))?;
        names.push(s.to_cow()?.into_owned());
    }
    Ok(SpecialSet::Named(names))
}

fn text_arg(obj: &Bound<'_, PyAny>, what: impl std::fmt::Display) -> PyResult<String> {
    let s = crate::tokenizer::utf8_str(obj, &what)?.ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{what} must be str, not {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    Ok(s.to_string())
}

impl PyBpeTokenizer {
    fn policy(
        &self,
        allowed: Option<&Bound<'_, PyAny>>,
        disallowed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SpecialPolicy> {
        let a = special_set(allowed, "allowed_special")?;
        let d = match disallowed {
            None => SpecialSet::All,
            Some(d) if d.is_none() => SpecialSet::none(),
            Some(d) => special_set(Some(d), "disallowed_special")?,
        };
        if a == SpecialSet::none() && d == SpecialSet::All {
            return Ok(self.inner.default_policy().clone());
        }
        self.inner.policy(&a, &d).py()
    }

    fn wrap(&self, e: impl Into<subtok_core::CompactEncoding>) -> PyEncoding {
        let pad = self
            .inner
            .settings
            .padding()
            .map(|p| std::sync::Arc::from(p.pad_token.as_str()));
        PyEncoding::from_compact(e.into(), self.inner.id_to_token_table(), pad)
    }
}

crate::tokenizer::truncation_padding_methods!(PyBpeTokenizer);

#[pymethods]
impl PyBpeTokenizer {
    /// Load a `.tiktoken` file; `pattern` is a preset name or a regex.
    #[staticmethod]
    #[pyo3(signature = (path, pattern, special_tokens=None))]
    fn from_tiktoken(
        py: Python<'_>,
        path: PathBuf,
        pattern: &str,
        special_tokens: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let specials = specials_by_id(special_tokens)?;
        let pattern = pattern.to_string();
        let inner = detached(py, move || {
            BpeTokenizer::from_tiktoken_file(&path, &pattern, specials)
        })?
        .py()?;
        Ok(PyBpeTokenizer { inner })
    }

    #[staticmethod]
    fn from_gpt2_files(py: Python<'_>, vocab_json: PathBuf, merges_txt: PathBuf) -> PyResult<Self> {
        let inner = detached(py, move || {
            BpeTokenizer::from_gpt2_files(&vocab_json, &merges_txt)
        })?
        .py()?;
        Ok(PyBpeTokenizer { inner })
    }

    #[staticmethod]
    fn from_str(py: Python<'_>, json: String) -> PyResult<Self> {
        let inner = detached(py, move || {
            BpeTokenizer::from_hf_str(&json, "<tokenizer json string>")
        })?
        .py()?;
        Ok(PyBpeTokenizer { inner })
    }

    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = detached(py, move || BpeTokenizer::from_hf_file(&path))?.py()?;
        Ok(PyBpeTokenizer { inner })
    }

    #[pyo3(signature = (path, pretty=true))]
    fn save(&self, py: Python<'_>, path: PathBuf, pretty: bool) -> PyResult<()> {
        detached(py, || self.inner.save(&path, pretty))?.py()
    }

    #[pyo3(signature = (pretty=false))]
    fn to_str(&self, py: Python<'_>, pretty: bool) -> PyResult<String> {
        detached(py, || self.inner.to_hf_string(pretty))
    }

    #[pyo3(signature = (sequence, pair=None, add_special_tokens=true, allowed_special=None, disallowed_special=None))]
    fn encode(
        &self,
        py: Python<'_>,
        sequence: &Bound<'_, PyAny>,
        pair: Option<&Bound<'_, PyAny>>,
        add_special_tokens: bool,
        allowed_special: Option<&Bound<'_, PyAny>>,
        disallowed_special: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyEncoding> {
        let _ = add_special_tokens; // byte-level BPE adds no special tokens of its own
        let pol = self.policy(allowed_special, disallowed_special)?;
        let text = text_arg(sequence, "sequence")?;
        let pair = match pair {
            Some(p) if !p.is_none() => Some(text_arg(p, "pair")?),
            _ => None,
        };
        let bytes = text.len() + pair.as_ref().map_or(0, |p| p.len());
        let enc = pool::run_sized(py, bytes, || {
            self.inner.encode_compact(&text, pair.as_deref(), &pol)
        })?
        .py()?;
        Ok(self.wrap(enc))
    }

    #[pyo3(signature = (inputs, add_special_tokens=true, allowed_special=None, disallowed_special=None))]
    fn encode_batch(
        &self,
        py: Python<'_>,
        inputs: &Bound<'_, PyAny>,
        add_special_tokens: bool,
        allowed_special: Option<&Bound<'_, PyAny>>,
        disallowed_special: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<PyEncoding>> {
        let _ = add_special_tokens;
        let pol = self.policy(allowed_special, disallowed_special)?;
        crate::tokenizer::reject_single_str(inputs, "expected a list of str or of (str, str) pairs, got a single str; use encode() for one text")?;
        let mut items: Vec<(String, Option<String>)> = Vec::new();
        for (i, item) in inputs
            .try_iter()
            .map_err(|_| PyTypeError::new_err("inputs must be a list of str or (str, str)"))?
            .enumerate()
        {
            let item = item?;
            if item.cast::<PyString>().is_ok() {
                items.push((text_arg(&item, format_args!("batch item {i}"))?, None));
            } else if item.cast::<PyTuple>().is_ok() || item.cast::<PyList>().is_ok() {
                let a: Vec<Bound<'_, PyAny>> = item.extract()?;
                if a.len() != 2 {
                    return Err(PyValueError::new_err(
                        "a pair input must have exactly two strings",
                    ));
                }
                items.push((
                    text_arg(&a[0], format_args!("batch item {i}[0]"))?,
                    Some(text_arg(&a[1], format_args!("batch item {i}[1]"))?),
                ));
            } else {
                return Err(PyTypeError::new_err(
                    "inputs must be a list of str or (str, str)",
                ));
            }
        }
        let encs = pool::run(py, || self.inner.encode_batch_compact(&items, &pol))?.py()?;
        Ok(encs.into_iter().map(|e| self.wrap(e)).collect())
    }

    /// (uint32 ids, int64 lengths) for many texts; parallel, GIL released.
    #[pyo3(signature = (inputs, add_special_tokens=false, allowed_special=None, disallowed_special=None, truncate=true))]
    fn encode_batch_flat<'py>(
        &self,
        py: Python<'py>,
        inputs: &Bound<'py, PyAny>,
        add_special_tokens: bool,
        allowed_special: Option<&Bound<'py, PyAny>>,
        disallowed_special: Option<&Bound<'py, PyAny>>,
        truncate: bool,
    ) -> PyResult<FlatArrays<'py>> {
        let _ = add_special_tokens;
        let pol = self.policy(allowed_special, disallowed_special)?;
        crate::tokenizer::reject_single_str(inputs, "expected a list of str, got a single str")?;
        let mut texts: Vec<String> = Vec::new();
        if let Ok(list) = inputs.cast::<PyList>() {
            texts.reserve(list.len());
            for (i, item) in list.iter().enumerate() {
                texts.push(text_arg(&item, format_args!("batch item {i}"))?);
            }
        } else {
            for (i, item) in inputs
                .try_iter()
                .map_err(|_| PyTypeError::new_err("inputs must be a list of str"))?
                .enumerate()
            {
                texts.push(text_arg(&item?, format_args!("batch item {i}"))?);
            }
        }
        let (ids, lens) =
            pool::run(py, || self.inner.encode_batch_flat(&texts, &pol, truncate))?.py()?;
        Ok(flat_arrays(py, ids, lens))
    }

    /// Model inputs for a batch (the engine of `Tokenizer.__call__`); arguments as in
    /// `WordPieceTokenizer.build_inputs`. Special tokens in the text are matched, as in
    /// transformers; BPE adds none of its own, so `add_special_tokens` changes nothing.
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
        let _ = add_special_tokens;
        let items = extract_batch(inputs)?;
        let (trunc, pad, opts) = input_args(truncation, padding, options)?;
        let pol = self.inner.policy(&SpecialSet::All, &SpecialSet::none()).py()?;
        let inner = &self.inner;
        let arrays = pool::run(py, || {
            let refs = batch_refs(&items);
            inner.build_inputs(&refs, &pol, trunc, pad.as_ref(), opts)
        })?
        .py()?;
        arrays_to_dict(py, arrays)
    }

    /// Number of tokens `encode` would produce, without building the id list.
    #[pyo3(signature = (text, allowed_special=None, disallowed_special=None))]
    fn count_tokens(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyAny>,
        allowed_special: Option<&Bound<'_, PyAny>>,
        disallowed_special: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let pol = self.policy(allowed_special, disallowed_special)?;
        let text = text_arg(text, "text")?;
        pool::run_sized(py, text.len(), || self.inner.count_tokens(&text, &pol))?.py()
    }

    #[pyo3(signature = (ids, skip_special_tokens=true))]
    fn decode(&self, py: Python<'_>, ids: &Bound<'_, PyAny>, skip_special_tokens: bool) -> PyResult<String> {
        let ids = ids_arg(ids)?;
        pool::run_sized(py, ids.len() * 4, || {
            self.inner.decode(&ids, skip_special_tokens)
        })?
        .py()
    }

    /// The raw bytes of `ids` (special tokens included), for ids that end inside a character.
    fn decode_bytes<'py>(
        &self,
        py: Python<'py>,
        ids: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let ids = ids_arg(ids)?;
        let b = detached(py, || self.inner.decode_bytes(&ids, false))?.py()?;
        Ok(pyo3::types::PyBytes::new(py, &b))
    }

    fn get_vocab<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (tok, id) in self.inner.vocab() {
            d.set_item(tok, id)?;
        }
        Ok(d)
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    fn id_to_token(&self, id: i64) -> Option<String> {
        u32::try_from(id)
            .ok()
            .and_then(|i| self.inner.id_to_token(i).map(str::to_string))
    }

    #[getter]
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    /// The special tokens as {content: id}.
    #[getter]
    fn special_tokens<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for a in self.inner.added_tokens().iter().filter(|a| a.special) {
            d.set_item(&a.content, a.id)?;
        }
        Ok(d)
    }

    fn num_special_tokens_to_add(&self, _is_pair: bool) -> usize {
        0
    }

    fn __repr__(&self) -> String {
        format!(
            "BpeTokenizer(vocab_size={}, pattern={:?})",
            self.inner.vocab_size(),
            self.inner.splitter.pattern()
        )
    }
}

/// tiktoken's `Encoding` surface and HF `post_process` / pre-tokenized input.
#[pymethods]
impl PyBpeTokenizer {
    /// Build from in-memory tiktoken ranks (`{token bytes: rank}`), a pattern (preset name or
    /// regex) and special tokens, as `tiktoken.Encoding(...)` does.
    #[staticmethod]
    #[pyo3(signature = (ranks, pattern, special_tokens=None))]
    fn from_ranks(
        py: Python<'_>,
        ranks: HashMap<Vec<u8>, u32>,
        pattern: &str,
        special_tokens: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let mut ranks: Vec<(Vec<u8>, u32)> = ranks.into_iter().collect();
        ranks.sort_by_key(|(_, r)| *r);
        let specials = specials_by_id(special_tokens)?;
        let pattern = pattern.to_string();
        let inner = detached(py, move || {
            BpeTokenizer::from_ranks(ranks, &pattern, specials, "<mergeable_ranks>")
        })?
        .py()?;
        Ok(PyBpeTokenizer { inner })
    }

    /// The bytes of each id (special tokens: their text); `IndexError` for an unknown id.
    fn decode_tokens_bytes<'py>(
        &self,
        py: Python<'py>,
        ids: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<Bound<'py, pyo3::types::PyBytes>>> {
        ids_arg(ids)?
            .into_iter()
            .map(|id| {
                self.inner
                    .token_bytes(id)
                    .map(|b| pyo3::types::PyBytes::new(py, b))
                    .ok_or_else(|| {
                        Error::OutOfRange(format!("token id {id} is not in the vocabulary"))
                    })
                    .py()
            })
            .collect()
    }

    /// The id of the one token whose bytes are `token`, or `None`.
    fn single_token_id(&self, token: &[u8]) -> Option<u32> {
        self.inner.single_token_id(token)
    }

    /// Stored truncation, A then B, stored padding (HF `Tokenizer.post_process`).
    #[pyo3(signature = (encoding, pair=None, add_special_tokens=true))]
    fn post_process(
        &self,
        encoding: PyRef<'_, PyEncoding>,
        pair: Option<PyRef<'_, PyEncoding>>,
        add_special_tokens: bool,
    ) -> PyResult<PyEncoding> {
        let _ = add_special_tokens;
        let (a, b) = (encoding.to_core(), pair.map(|p| p.to_core()));
        let e = self.inner.post_process(a, b).py()?;
        Ok(self.wrap(e))
    }

    /// Encode a list of words (and a pair list): HF `encode(..., is_pretokenized=True)`.
    #[pyo3(signature = (words, pair=None, add_special_tokens=true, allowed_special=None, disallowed_special=None))]
    fn encode_pretokenized(
        &self,
        py: Python<'_>,
        words: &Bound<'_, PyAny>,
        pair: Option<&Bound<'_, PyAny>>,
        add_special_tokens: bool,
        allowed_special: Option<&Bound<'_, PyAny>>,
        disallowed_special: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyEncoding> {
        let _ = add_special_tokens;
        let pol = self.policy(allowed_special, disallowed_special)?;
        let a = extract_words(words, "sequence")?;
        let b = pair.map(|p| extract_words(p, "pair")).transpose()?;
        let e = detached(py, || {
            let a: Vec<&str> = a.iter().map(|w| &**w).collect();
            let b: Option<Vec<&str>> = b.as_ref().map(|b| b.iter().map(|w| &**w).collect());
            self.inner.encode_pretokenized(&a, b.as_deref(), &pol)
        })?
        .py()?;
        Ok(self.wrap(e))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBpeTokenizer>()?;
    Ok(())
}
