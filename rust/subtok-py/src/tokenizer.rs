//! `_core.WordPieceTokenizer` and the `tokenizer.json` loaders.
use crate::encoding::PyEncoding;
use crate::errors::{detached, IntoPy};
use crate::pool;
use numpy::{IntoPyArray, PyArray1, PyArrayMethods};
use pyo3::exceptions::{PyTypeError, PyUnicodeEncodeError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::path::PathBuf;
use std::sync::Arc;
use subtok_core::inputs::{BatchArrays, InputOptions};
use subtok_core::io::{hf_json, vocab_txt};
use subtok_core::postprocess::{
    Direction, PaddingParams, PaddingStrategy, TruncationParams, TruncationStrategy,
};
use subtok_core::{Error, WordPieceTokenizer};

/// Frozen: every method takes `&self`, so no call ever fails with "Already borrowed"; the
/// stored settings change atomically inside the core tokenizer (`SettingsCell`).
#[pyclass(module = "subtok._core", name = "WordPieceTokenizer", frozen)]
#[derive(Clone)]
pub struct PyWordPiece {
    pub inner: WordPieceTokenizer,
    pub id_to_token: Arc<Vec<String>>,
}

impl PyWordPiece {
    pub fn new(inner: WordPieceTokenizer) -> Self {
        let id_to_token = inner.shared_id_to_token();
        PyWordPiece { inner, id_to_token }
    }
    fn pad_token(&self) -> Option<Arc<str>> {
        self.inner
            .settings
            .padding()
            .map(|p| Arc::from(p.pad_token.as_str()))
    }
    fn wrap(&self, e: impl Into<subtok_core::CompactEncoding>) -> PyEncoding {
        PyEncoding::from_compact(e.into(), self.id_to_token.clone(), self.pad_token())
    }
    fn json(&self, pretty: bool) -> String {
        hf_json::json_text(&hf_json::wordpiece_to_json(&self.inner), pretty)
    }
}

/// `obj` as UTF-8 if it is a `str` (`Ok(None)` if it is not). A `str` holding lone surrogates
/// raises `UnicodeEncodeError` naming `what` (the batch item), not the `TypeError` a failed
/// extraction would otherwise turn into.
pub fn utf8_str(obj: &Bound<'_, PyAny>, what: impl std::fmt::Display) -> PyResult<Option<PyBackedStr>> {
    let Ok(s) = obj.cast::<pyo3::types::PyString>() else {
        return Ok(None);
    };
    match obj.extract::<PyBackedStr>() {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.is_instance_of::<PyUnicodeEncodeError>(obj.py()) => {
            let py = obj.py();
            let v = e.value(py);
            let reason = format!("{what}: {}", v.getattr("reason")?);
            let err = py.get_type::<PyUnicodeEncodeError>().call1((
                "utf-8",
                s,
                v.getattr("start")?,
                v.getattr("end")?,
                reason,
            ))?;
            Err(PyErr::from_value(err))
        }
        Err(e) => Err(e),
    }
}

/// The texts of a batch argument; a single `str` is refused (it would iterate as characters).
pub fn reject_single_str(inputs: &Bound<'_, PyAny>, msg: &str) -> PyResult<()> {
    if inputs.is_instance_of::<pyo3::types::PyString>() {
        return Err(PyTypeError::new_err(msg.to_string()));
    }
    Ok(())
}

/// One batch item: a str or a (str, str) pair.
pub enum BatchInput {
    Single(PyBackedStr),
    Pair(PyBackedStr, PyBackedStr),
}

pub fn extract_batch(inputs: &Bound<'_, PyAny>) -> PyResult<Vec<BatchInput>> {
    reject_single_str(inputs, "expected a list of str or of (str, str) pairs, got a single str; use encode() for one text")?;
    let mut out = Vec::new();
    for (i, item) in inputs.try_iter()?.enumerate() {
        let item = item?;
        if let Some(s) = utf8_str(&item, format_args!("batch item {i}"))? {
            out.push(BatchInput::Single(s));
        } else if item.is_instance_of::<PyTuple>() || item.is_instance_of::<PyList>() {
            let pair_err = || {
                PyTypeError::new_err(format!("batch item {i} must be a str or a pair of two str"))
            };
            let parts: Vec<Bound<'_, PyAny>> = item.extract().map_err(|_| pair_err())?;
            let [a, b] = parts.as_slice() else {
                return Err(pair_err());
            };
            let a = utf8_str(a, format_args!("batch item {i}[0]"))?.ok_or_else(pair_err)?;
            let b = utf8_str(b, format_args!("batch item {i}[1]"))?.ok_or_else(pair_err)?;
            out.push(BatchInput::Pair(a, b));
        } else {
            return Err(PyTypeError::new_err(format!(
                "batch item {i} must be a str or a (str, str) pair, not {}",
                item.get_type().name()?
            )));
        }
    }
    Ok(out)
}

/// Borrow the batch as `(text, pair)` string slices for the core.
pub fn batch_refs(items: &[BatchInput]) -> Vec<(&str, Option<&str>)> {
    items
        .iter()
        .map(|x| match x {
            BatchInput::Single(a) => (&**a, None),
            BatchInput::Pair(a, b) => (&**a, Some(&**b)),
        })
        .collect()
}

pub fn extract_texts(inputs: &Bound<'_, PyAny>) -> PyResult<Vec<PyBackedStr>> {
    reject_single_str(inputs, "expected a list of str, got a single str")?;
    inputs
        .try_iter()?
        .enumerate()
        .map(|(i, x)| {
            utf8_str(&x?, format_args!("batch item {i}"))?
                .ok_or_else(|| PyTypeError::new_err(format!("batch item {i} is not a str")))
        })
        .collect()
}

pub fn truncation_dict<'py>(
    py: Python<'py>,
    t: &Option<TruncationParams>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(t) = t else { return Ok(None) };
    let d = PyDict::new(py);
    d.set_item("max_length", t.max_length)?;
    d.set_item("stride", t.stride)?;
    d.set_item("strategy", t.strategy.py_name())?;
    d.set_item("direction", t.direction.py_name())?;
    Ok(Some(d))
}

pub fn padding_dict<'py>(
    py: Python<'py>,
    p: &Option<PaddingParams>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(p) = p else { return Ok(None) };
    let d = PyDict::new(py);
    d.set_item(
        "length",
        match p.strategy {
            PaddingStrategy::Fixed(n) => Some(n),
            PaddingStrategy::BatchLongest => None,
        },
    )?;
    d.set_item("pad_to_multiple_of", p.pad_to_multiple_of)?;
    d.set_item("pad_id", p.pad_id)?;
    d.set_item("pad_token", &p.pad_token)?;
    d.set_item("pad_type_id", p.pad_type_id)?;
    d.set_item("direction", p.direction.py_name())?;
    Ok(Some(d))
}

pub fn make_truncation(
    max_length: usize,
    stride: usize,
    strategy: &str,
    direction: &str,
) -> PyResult<TruncationParams> {
    if max_length == 0 {
        return Err(Error::invalid("max_length must be at least 1")).py();
    }
    if stride >= max_length {
        return Err(Error::invalid(format!(
            "stride ({stride}) must be smaller than max_length ({max_length})"
        )))
        .py();
    }
    Ok(TruncationParams {
        max_length,
        stride,
        strategy: TruncationStrategy::parse(strategy).py()?,
        direction: Direction::parse(direction).py()?,
    })
}

pub fn make_padding(
    direction: &str,
    pad_id: u32,
    pad_type_id: u32,
    pad_token: &str,
    length: Option<usize>,
    pad_to_multiple_of: Option<usize>,
) -> PyResult<PaddingParams> {
    if pad_to_multiple_of == Some(0) {
        return Err(Error::invalid("pad_to_multiple_of must be at least 1")).py();
    }
    subtok_core::postprocess::check_pad_lengths(length, pad_to_multiple_of)
        .map_err(Error::invalid)
        .py()?;
    Ok(PaddingParams {
        strategy: length.map_or(PaddingStrategy::BatchLongest, PaddingStrategy::Fixed),
        direction: Direction::parse(direction).py()?,
        pad_to_multiple_of,
        pad_id,
        pad_type_id,
        pad_token: pad_token.to_string(),
    })
}

/// `encode_batch_flat`'s result: (uint32 ids, int64 lengths).
pub type FlatArrays<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<i64>>);

/// `build_inputs`' truncation argument: (max_length, stride, strategy, direction).
pub type TruncationArgs = (usize, usize, String, String);

/// `build_inputs`' padding argument: (length, pad_to_multiple_of, pad_id, pad_token, direction).
pub type PaddingArgs = (Option<usize>, Option<usize>, u32, String, String);

/// `build_inputs`' options: (return_overflowing_tokens, return_offsets_mapping,
/// return_special_tokens_mask, return_sequence_ids, ragged).
pub type OptionArgs = (bool, bool, bool, bool, bool);

/// The arguments of every `build_inputs` (the engine of `Tokenizer.__call__`), checked.
pub fn input_args(
    truncation: Option<TruncationArgs>,
    padding: Option<PaddingArgs>,
    options: OptionArgs,
) -> PyResult<(Option<TruncationParams>, Option<PaddingParams>, InputOptions)> {
    let trunc = truncation
        .map(|(m, s, st, d)| make_truncation(m, s, &st, &d))
        .transpose()?;
    let pad = padding
        .map(|(len, mult, id, tok, d)| make_padding(&d, id, 0, &tok, len, mult))
        .transpose()?;
    let (overflow, offsets, special, seq, ragged) = options;
    let opts = InputOptions {
        return_overflowing_tokens: overflow,
        return_offsets_mapping: offsets,
        return_special_tokens_mask: special,
        return_sequence_ids: seq,
        ragged,
    };
    Ok((trunc, pad, opts))
}

pub fn flat_arrays<'py>(py: Python<'py>, ids: Vec<u32>, lens: Vec<i64>) -> FlatArrays<'py> {
    (ids.into_pyarray(py), lens.into_pyarray(py))
}

/// The stored truncation and padding methods, the same for both tokenizer classes: a second
/// `#[pymethods]` block per class (pyo3's `multiple-pymethods`).
macro_rules! truncation_padding_methods {
    ($class:ty) => {
        #[pymethods]
        impl $class {
            #[pyo3(signature = (max_length, stride=0, strategy="longest_first", direction="right"))]
            fn enable_truncation(
                &self,
                max_length: usize,
                stride: usize,
                strategy: &str,
                direction: &str,
            ) -> PyResult<()> {
                let t = crate::tokenizer::make_truncation(max_length, stride, strategy, direction)?;
                self.inner.settings.set_truncation(Some(t));
                Ok(())
            }
            fn no_truncation(&self) {
                self.inner.settings.set_truncation(None);
            }
            #[getter]
            fn truncation<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
                truncation_dict(py, &self.inner.settings.truncation())
            }
            #[pyo3(signature = (direction="right", pad_id=0, pad_type_id=0, pad_token="[PAD]", length=None, pad_to_multiple_of=None))]
            fn enable_padding(
                &self,
                direction: &str,
                pad_id: u32,
                pad_type_id: u32,
                pad_token: &str,
                length: Option<usize>,
                pad_to_multiple_of: Option<usize>,
            ) -> PyResult<()> {
                let p = crate::tokenizer::make_padding(
                    direction,
                    pad_id,
                    pad_type_id,
                    pad_token,
                    length,
                    pad_to_multiple_of,
                )?;
                self.inner.settings.set_padding(Some(p));
                Ok(())
            }
            fn no_padding(&self) {
                self.inner.settings.set_padding(None);
            }
            #[getter]
            fn padding<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
                padding_dict(py, &self.inner.settings.padding())
            }
            /// An independent tokenizer: changing its settings leaves this one alone.
            fn __copy__(&self) -> Self {
                self.clone()
            }
            fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
                self.clone()
            }
        }
    };
}
pub(crate) use truncation_padding_methods;

/// `token id` arguments: negative ids are out of the vocabulary (`IndexError`).
/// Token ids from a sequence of ints. An int that is no `u32` (negative, or too large even for
/// 64 bits) is an id outside the vocabulary: `IndexError`, as for any unknown id, never
/// `OverflowError`.
pub fn ids_arg(ids: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
    if ids.is_instance_of::<pyo3::types::PyString>() || ids.is_instance_of::<pyo3::types::PyBytes>() {
        return Err(PyTypeError::new_err(format!(
            "ids must be a sequence of int, not {}",
            ids.get_type().name()?
        )));
    }
    let mut out = Vec::with_capacity(ids.len().unwrap_or(0));
    for item in ids.try_iter()? {
        let item = item?;
        let id = match item.extract::<i64>() {
            Ok(i) => u32::try_from(i).map_err(|_| i.to_string()),
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(item.py()) => {
                Err(format!("{:.40}", item.to_string()))
            }
            Err(e) => return Err(e),
        };
        match id {
            Ok(i) => out.push(i),
            Err(shown) => {
                return Err(Error::OutOfRange(format!("token id {shown} is not in the vocabulary"))).py()
            }
        }
    }
    Ok(out)
}

/// The HF `Tokenizer` methods that WordPiece and the general pipeline share (their core types
/// have the same method names): a second `#[pymethods]` block per class. The class provides
/// `json(pretty)` (its `tokenizer.json` text) and `wrap(encoding)`.
macro_rules! hf_tokenizer_methods {
    ($class:ty) => {
        #[pymethods]
        impl $class {
            #[pyo3(signature = (path, pretty=true))]
            fn save(&self, py: Python<'_>, path: std::path::PathBuf, pretty: bool) -> PyResult<()> {
                detached(py, || subtok_core::error::write_atomic(&path, self.json(pretty).as_bytes()))?.py()
            }

            #[pyo3(signature = (pretty=false))]
            fn to_str(&self, py: Python<'_>, pretty: bool) -> PyResult<String> {
                detached(py, || self.json(pretty))
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
                let bytes = sequence.len() + pair.as_ref().map_or(0, |p| p.len());
                let e = pool::run_sized(py, bytes, || inner.encode_compact(&sequence, pair.as_deref(), add_special_tokens))?
                    .py()?;
                Ok(self.wrap(e))
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
                let (ids, lens) = pool::run(py, || {
                    let refs: Vec<&str> = texts.iter().map(|t| &**t).collect();
                    inner.encode_batch_flat(&refs, add_special_tokens, truncate)
                })?
                .py()?;
                Ok(flat_arrays(py, ids, lens))
            }

            #[pyo3(signature = (ids, skip_special_tokens=true))]
            fn decode(&self, py: Python<'_>, ids: &Bound<'_, PyAny>, skip_special_tokens: bool) -> PyResult<String> {
                let ids = ids_arg(ids)?;
                pool::run_sized(py, ids.len() * 4, || self.inner.decode(&ids, skip_special_tokens))?.py()
            }

            fn get_vocab(&self) -> std::collections::HashMap<String, u32> {
                self.inner.get_vocab().into_iter().collect()
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
            /// Ids of the special (added) tokens, for special-token masks and skipping.
            fn special_token_ids(&self) -> Vec<u32> {
                self.inner.added_tokens().iter().filter(|t| t.special).map(|t| t.id).collect()
            }
            fn num_special_tokens_to_add(&self, is_pair: bool) -> usize {
                self.inner.num_special_tokens_to_add(is_pair)
            }

            /// Model inputs for a batch (the engine of `Tokenizer.__call__`): arguments as
            /// [`TruncationArgs`], [`PaddingArgs`] and [`OptionArgs`] describe them.
            #[pyo3(signature = (inputs, add_special_tokens, truncation, padding, options))]
            fn build_inputs<'py>(
                &self,
                py: Python<'py>,
                inputs: &Bound<'py, PyAny>,
                add_special_tokens: bool,
                truncation: Option<crate::tokenizer::TruncationArgs>,
                padding: Option<PaddingArgs>,
                options: crate::tokenizer::OptionArgs,
            ) -> PyResult<Bound<'py, PyDict>> {
                let items = extract_batch(inputs)?;
                let (trunc, pad, opts) = crate::tokenizer::input_args(truncation, padding, options)?;
                let inner = &self.inner;
                let arrays = pool::run(py, || {
                    let refs = batch_refs(&items);
                    inner.build_inputs(&refs, add_special_tokens, trunc, pad.as_ref(), opts)
                })?
                .py()?;
                arrays_to_dict(py, arrays)
            }

            /// Stored truncation, the post-processor and stored padding applied to encodings
            /// made with `add_special_tokens=False` (HF `Tokenizer.post_process`).
            #[pyo3(signature = (encoding, pair=None, add_special_tokens=true))]
            fn post_process(
                &self,
                encoding: PyRef<'_, PyEncoding>,
                pair: Option<PyRef<'_, PyEncoding>>,
                add_special_tokens: bool,
            ) -> PyResult<PyEncoding> {
                let (a, b) = (encoding.to_core(), pair.map(|p| p.to_core()));
                let e = self.inner.post_process(a, b, add_special_tokens).py()?;
                Ok(self.wrap(e))
            }

            /// Encode a list of words (and a pair list): HF `encode(..., is_pretokenized=True)`.
            #[pyo3(signature = (words, pair=None, add_special_tokens=true))]
            fn encode_pretokenized(
                &self,
                py: Python<'_>,
                words: &Bound<'_, PyAny>,
                pair: Option<&Bound<'_, PyAny>>,
                add_special_tokens: bool,
            ) -> PyResult<PyEncoding> {
                let a = extract_words(words, "sequence")?;
                let b = pair.map(|p| extract_words(p, "pair")).transpose()?;
                let inner = &self.inner;
                let e = detached(py, || {
                    let a: Vec<&str> = a.iter().map(|w| &**w).collect();
                    let b: Option<Vec<&str>> = b.as_ref().map(|b| b.iter().map(|w| &**w).collect());
                    inner.encode_pretokenized(&a, b.as_deref(), add_special_tokens)
                })?
                .py()?;
                Ok(self.wrap(e))
            }
        }
    };
}
pub(crate) use hf_tokenizer_methods;

truncation_padding_methods!(PyWordPiece);
hf_tokenizer_methods!(PyWordPiece);

#[pymethods]
impl PyWordPiece {
    #[staticmethod]
    #[pyo3(signature = (path, lowercase=true, strip_accents=None, handle_chinese_chars=true, unk_token="[UNK]", max_input_chars_per_word=100))]
    fn from_vocab(
        py: Python<'_>,
        path: PathBuf,
        lowercase: bool,
        strip_accents: Option<bool>,
        handle_chinese_chars: bool,
        unk_token: &str,
        max_input_chars_per_word: usize,
    ) -> PyResult<Self> {
        let opts = vocab_txt::BertVocabOptions {
            lowercase,
            strip_accents,
            handle_chinese_chars,
            unk_token: unk_token.to_string(),
            max_input_chars_per_word,
        };
        let t = detached(py, || vocab_txt::bert_from_vocab(&path, &opts))?.py()?;
        Ok(PyWordPiece::new(t))
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
        let encs = pool::run(py, || {
            let refs = batch_refs(&items);
            inner.encode_batch_compact(&refs, add_special_tokens)
        })?
        .py()?;
        let pad = self.pad_token();
        Ok(encs
            .into_iter()
            .map(|e| PyEncoding::from_compact(e, self.id_to_token.clone(), pad.clone()))
            .collect())
    }

    fn __repr__(&self) -> String {
        format!(
            "WordPieceTokenizer(vocab_size={}, lowercase={})",
            self.inner.vocab_size(),
            self.inner.normalizer.is_some_and(|n| n.lowercase)
        )
    }
}

/// Words of a pre-tokenized input (`is_pretokenized=True`): a list of str.
pub fn extract_words(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<PyBackedStr>> {
    if obj.is_instance_of::<pyo3::types::PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a list of words (str) when is_pretokenized=True, not a single str"
        )));
    }
    obj.try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a list of str")))?
        .map(|w| {
            w?.extract::<PyBackedStr>()
                .map_err(|_| PyTypeError::new_err(format!("{what} must contain only str")))
        })
        .collect()
}

/// Wrap [`BatchArrays`] as a dict of 2-D (offsets: 3-D) int64 numpy arrays, without copying.
/// A ragged result gives 1-D arrays (offsets: 2-D) of the rows one after the other, plus
/// `row_lengths`.
pub fn arrays_to_dict(py: Python<'_>, a: BatchArrays) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    let shape = |width: usize| match &a.row_lengths {
        Some(_) => vec![a.input_ids.len(), width],
        None => vec![a.rows, a.cols, width],
    };
    let (grid_shape, offset_shape) = (shape(1), shape(2));
    let grid_shape = &grid_shape[..grid_shape.len() - 1];
    let grid = |v: Vec<i64>| v.into_pyarray(py).reshape(grid_shape);
    d.set_item("input_ids", grid(a.input_ids)?)?;
    d.set_item("token_type_ids", grid(a.token_type_ids)?)?;
    d.set_item("attention_mask", grid(a.attention_mask)?)?;
    if let Some(v) = a.special_tokens_mask {
        d.set_item("special_tokens_mask", grid(v)?)?;
    }
    if let Some(v) = a.offset_mapping {
        d.set_item("offset_mapping", v.into_pyarray(py).reshape(offset_shape)?)?;
    }
    if let Some(v) = a.row_lengths {
        d.set_item("row_lengths", v.into_pyarray(py))?;
    }
    if let Some(v) = a.sequence_ids {
        d.set_item("sequence_ids", grid(v)?)?;
    }
    if let Some(v) = a.overflow_to_sample_mapping {
        d.set_item("overflow_to_sample_mapping", v.into_pyarray(py))?;
    }
    Ok(d)
}

/// Build the right tokenizer object from `tokenizer.json` text: a fused specialization
/// (BERT WordPiece, plain byte-level BPE) when the file matches one, else the general pipeline.
fn load_json(py: Python<'_>, text: &str, label: &str) -> PyResult<Py<PyAny>> {
    use subtok_core::pipeline::{load, Loaded};
    let root = hf_json::parse_json(text, label).py()?;
    Ok(match detached(py, || load(&root, label))?.py()? {
        Loaded::WordPiece(t) => Py::new(py, PyWordPiece::new(t))?.into_any(),
        Loaded::Bpe(t) => Py::new(py, crate::bpe::PyBpeTokenizer { inner: t })?.into_any(),
        Loaded::Pipeline(t) => Py::new(py, crate::pipeline::PyPipeline { inner: t })?.into_any(),
    })
}

#[pyfunction]
pub fn load_tokenizer_file(py: Python<'_>, path: PathBuf) -> PyResult<Py<PyAny>> {
    let text = detached(py, || subtok_core::error::read_to_string(&path))?.py()?;
    load_json(py, &text, &path.display().to_string())
}

#[pyfunction]
pub fn load_tokenizer_str(py: Python<'_>, json: &str) -> PyResult<Py<PyAny>> {
    load_json(py, json, "<tokenizer.json string>")
}
