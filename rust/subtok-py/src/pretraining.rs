//! Binding for `subtok_core::pretraining`: a tokenized corpus object whose
//! `create_instances` returns flat NumPy arrays (reshaped by `subtok.pretraining`).
use crate::errors::{detached, IntoPy};
use numpy::{IntoPyArray, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use subtok_core::pretraining::{
    create_instances, finish_instances, instance_permutation, Corpus, PretrainingConfig,
};

fn slice<'a, T: numpy::Element>(a: &'a PyReadonlyArray1<'_, T>, name: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{name} must be a contiguous 1-D array")))
}

/// Tokenized documents for pretraining-instance generation (internal; use
/// `subtok.pretraining.create_pretraining_data`).
#[pyclass(module = "subtok._core", name = "PretrainingCorpus", frozen)]
pub struct PyPretrainingCorpus {
    corpus: Corpus,
}

#[pymethods]
impl PyPretrainingCorpus {
    #[new]
    fn new(
        py: Python<'_>,
        ids: PyReadonlyArray1<'_, u32>,
        sentence_lengths: PyReadonlyArray1<'_, i64>,
        doc_sentence_counts: PyReadonlyArray1<'_, i64>,
        is_subword: PyReadonlyArray1<'_, bool>,
    ) -> PyResult<Self> {
        let ids = slice(&ids, "ids")?;
        let lens = slice(&sentence_lengths, "sentence_lengths")?;
        let counts = slice(&doc_sentence_counts, "doc_sentence_counts")?;
        let sub = slice(&is_subword, "is_subword")?.to_vec();
        let corpus = detached(py, || Corpus::new(ids, lens, counts, sub))?.py()?;
        Ok(PyPretrainingCorpus { corpus })
    }

    /// Number of non-empty documents.
    #[getter]
    fn num_documents(&self) -> usize {
        self.corpus.num_documents()
    }

    /// The seeded document order shared by all passes.
    fn document_order(&self, seed: u64) -> Vec<usize> {
        self.corpus.document_order(seed)
    }

    /// Instances of tasks `task_start..task_end` (task t = pass t / n_docs, document t % n_docs
    /// of `order`), as a dict of flat arrays plus `n`.
    #[pyo3(signature = (order, task_start, task_end, *, max_seq_length, short_seq_prob, masked_lm_prob,
                        max_predictions_per_seq, whole_word_mask, seed, cls_id, sep_id, mask_id,
                        vocab_size, shuffle=false, num_threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_instances<'py>(
        &self,
        py: Python<'py>,
        order: Vec<usize>,
        task_start: usize,
        task_end: usize,
        max_seq_length: usize,
        short_seq_prob: f64,
        masked_lm_prob: f64,
        max_predictions_per_seq: usize,
        whole_word_mask: bool,
        seed: u64,
        cls_id: u32,
        sep_id: u32,
        mask_id: u32,
        vocab_size: u32,
        shuffle: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let cfg = PretrainingConfig {
            max_seq_length,
            short_seq_prob,
            masked_lm_prob,
            max_predictions_per_seq,
            whole_word_mask,
            seed,
            cls_id,
            sep_id,
            mask_id,
            vocab_size,
        };
        let corpus = &self.corpus;
        // In the pool with the caller watching for Ctrl-C (`pool::run`): a cancelled run stops
        // within one sentence per worker and raises KeyboardInterrupt.
        let arrays = crate::pool::run(py, || {
            let run = || {
                create_instances(corpus, &order, &cfg, task_start, task_end).and_then(|inst| {
                    finish_instances(
                        inst,
                        shuffle.then_some(seed),
                        max_seq_length,
                        max_predictions_per_seq,
                    )
                })
            };
            match num_threads {
                Some(n) => match rayon::ThreadPoolBuilder::new()
                    .num_threads(n.max(1))
                    .build()
                {
                    Ok(pool) => {
                        let cancel = subtok_core::cancel::Cancel::current();
                        pool.install(move || cancel.enter(run))
                    }
                    Err(e) => Err(subtok_core::Error::invalid(format!(
                        "cannot start threads: {e}"
                    ))),
                },
                None => run(),
            }
        })?
        .py()?;
        let d = PyDict::new(py);
        d.set_item("n", arrays.n)?;
        d.set_item("input_ids", arrays.input_ids.into_pyarray(py))?;
        d.set_item("token_type_ids", arrays.token_type_ids.into_pyarray(py))?;
        d.set_item("attention_mask", arrays.attention_mask.into_pyarray(py))?;
        d.set_item(
            "masked_lm_positions",
            arrays.masked_lm_positions.into_pyarray(py),
        )?;
        d.set_item("masked_lm_ids", arrays.masked_lm_ids.into_pyarray(py))?;
        d.set_item(
            "masked_lm_weights",
            arrays.masked_lm_weights.into_pyarray(py),
        )?;
        d.set_item(
            "next_sentence_labels",
            arrays.next_sentence_labels.into_pyarray(py),
        )?;
        Ok(d)
    }
}

/// The final instance order of a run of `n` instances seeded with `seed` (row r = instance perm[r]).
#[pyfunction]
fn pretraining_permutation(py: Python<'_>, seed: u64, n: usize) -> Bound<'_, numpy::PyArray1<i64>> {
    let perm: Vec<i64> = py.detach(|| {
        instance_permutation(seed, n)
            .into_iter()
            .map(|p| p as i64)
            .collect()
    });
    perm.into_pyarray(py)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPretrainingCorpus>()?;
    m.add_function(wrap_pyfunction!(pretraining_permutation, m)?)
}
