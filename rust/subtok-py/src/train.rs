//! `_core.Trainer` and helpers: tokenizer training (see `subtok_core::train`).
//! Counting and merging run with the GIL released; progress reaches Python through a
//! callback called at most ~5 times a second (plus once at each stage's start and end),
//! or a Rust-side stderr bar when Python says stderr is a terminal. Ctrl-C is honoured: the
//! work runs on a helper thread while the calling thread polls for signals.
use crate::errors::{detached, IntoPy};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtok_core::train::{
    self as core_train, json, pretok, ModelKind, PreTokenizer, Progress, Score, StderrBar,
    TrainConfig, WordCounter,
};

const CALLBACK_INTERVAL: Duration = Duration::from_millis(200);

struct CbState {
    stage: String,
    total: u64,
    done: u64,
    last: Option<Instant>,
}

/// Forwards core progress to a Python callable and/or a stderr bar, and carries the stop flag.
struct PyProgress {
    cb: Option<Py<PyAny>>,
    bar: Option<StderrBar>,
    state: Mutex<CbState>,
    err: Mutex<Option<PyErr>>,
    stop: AtomicBool,
}

impl PyProgress {
    fn new(cb: Option<Py<PyAny>>, stderr_bar: bool) -> Self {
        PyProgress {
            cb,
            bar: if stderr_bar {
                Some(StderrBar::new(10))
            } else {
                None
            },
            state: Mutex::new(CbState {
                stage: String::new(),
                total: 0,
                done: 0,
                last: None,
            }),
            err: Mutex::new(None),
            stop: AtomicBool::new(false),
        }
    }

    fn fail(&self, e: PyErr) {
        self.stop.store(true, Ordering::Relaxed);
        let mut g = self.err.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            *g = Some(e);
        }
    }

    /// Call the Python callback if due, or if `force`.
    fn tick(&self, force: bool) {
        if self.stop.load(Ordering::Relaxed) {
            return;
        }
        let (stage, done, total) = {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let due = force || st.last.is_none_or(|t| t.elapsed() >= CALLBACK_INTERVAL);
            if !due {
                return;
            }
            st.last = Some(Instant::now());
            (st.stage.clone(), st.done, st.total)
        };
        if let Some(cb) = &self.cb {
            Python::attach(|py| {
                if let Err(e) = cb.call1(py, (stage, done, total)) {
                    self.fail(e);
                }
            });
        }
    }

    fn into_result<T>(self, r: subtok_core::Result<T>) -> PyResult<T> {
        if let Some(e) = self.err.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        r.py()
    }
}

impl Progress for PyProgress {
    fn start(&self, stage: &str, total: u64) {
        if let Some(b) = &self.bar {
            b.start(stage, total);
        }
        {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            *st = CbState {
                stage: stage.to_string(),
                total,
                done: 0,
                last: None,
            };
        }
        self.tick(true);
    }
    fn update(&self, done: u64) {
        if let Some(b) = &self.bar {
            b.update(done);
        }
        {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.done = st.done.max(done);
        }
        self.tick(false);
    }
    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
        }
        self.tick(true);
    }
    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Run `f` (in the pool) on a helper thread while the calling thread - Python's main thread -
/// polls for Ctrl-C every 50 ms; a pending signal stops training at the next check and its
/// exception (e.g. `KeyboardInterrupt`) is raised. Panics propagate to [`detached`].
fn run_interruptible<T: Send>(prog: &PyProgress, f: impl FnOnce() -> T + Send) -> T {
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    use std::sync::mpsc::{channel, RecvTimeoutError};
    std::thread::scope(|s| {
        let (tx, rx) = channel();
        s.spawn(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(|| crate::pool::install(f))));
        });
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(v)) => return v,
                Ok(Err(p)) => resume_unwind(p),
                Err(RecvTimeoutError::Timeout) => {
                    if !prog.should_stop() {
                        Python::attach(|py| {
                            if let Err(e) = py.check_signals() {
                                prog.fail(e);
                            }
                        });
                    }
                }
                Err(RecvTimeoutError::Disconnected) => panic!("training thread vanished"),
            }
        }
    })
}

fn parse_model(s: &str) -> PyResult<ModelKind> {
    match s {
        "bpe" => Ok(ModelKind::Bpe),
        "wordpiece" => Ok(ModelKind::WordPiece),
        _ => Err(PyValueError::new_err(format!(
            "model must be 'bpe' or 'wordpiece', got {s:?}"
        ))),
    }
}

fn parse_pretok(s: &str) -> PyResult<PreTokenizer> {
    PreTokenizer::parse(s).ok_or_else(|| {
        PyValueError::new_err(format!(
            "pre_tokenizer must be one of 'gpt2', 'cl100k', 'whitespace', 'bert', got {s:?}"
        ))
    })
}

/// Holds the training settings and the word counts gathered so far.
#[pyclass(module = "subtok._core", name = "Trainer")]
pub struct PyTrainer {
    cfg: TrainConfig,
    counter: WordCounter,
}

#[pymethods]
impl PyTrainer {
    /// `None` for an option means the model's default.
    #[new]
    #[pyo3(signature = (model, vocab_size, min_frequency, special_tokens=None, limit_alphabet=None, score=None,
                        lowercase=None, pre_tokenizer=None, unk_token=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        model: &str,
        vocab_size: i64,
        min_frequency: i64,
        special_tokens: Option<Vec<String>>,
        limit_alphabet: Option<i64>,
        score: Option<&str>,
        lowercase: Option<bool>,
        pre_tokenizer: Option<&str>,
        unk_token: Option<String>,
    ) -> PyResult<Self> {
        let mut cfg = TrainConfig::new(parse_model(model)?);
        if vocab_size <= 0 || vocab_size > u32::MAX as i64 {
            return Err(PyValueError::new_err(format!(
                "vocab_size must be a positive int below 2**32, got {vocab_size}"
            )));
        }
        cfg.vocab_size = vocab_size as usize;
        if min_frequency < 0 {
            return Err(PyValueError::new_err(format!(
                "min_frequency must be >= 0, got {min_frequency}"
            )));
        }
        cfg.min_frequency = min_frequency as u64;
        if let Some(s) = special_tokens {
            cfg.special_tokens = s;
        }
        if let Some(l) = limit_alphabet {
            if l <= 0 {
                return Err(PyValueError::new_err(format!(
                    "limit_alphabet must be positive, got {l}"
                )));
            }
            cfg.limit_alphabet = Some(l as usize);
        }
        if let Some(s) = score {
            cfg.score = Score::parse(s).py()?;
        }
        if let Some(l) = lowercase {
            cfg.lowercase = l;
        }
        if let Some(p) = pre_tokenizer {
            cfg.pre_tokenizer = parse_pretok(p)?;
        }
        if let Some(u) = unk_token {
            cfg.unk_token = u;
        }
        cfg.validate().py()?;
        let counter = WordCounter::new(cfg.count_config());
        Ok(PyTrainer { cfg, counter })
    }

    /// Stream and count text files (in parallel, line by line).
    #[pyo3(signature = (paths, progress=None, stderr_bar=false))]
    fn feed_files(
        &mut self,
        py: Python<'_>,
        paths: Vec<PathBuf>,
        progress: Option<Py<PyAny>>,
        stderr_bar: bool,
    ) -> PyResult<()> {
        let prog = PyProgress::new(progress, stderr_bar);
        let counter = &mut self.counter;
        let r = detached(py, || {
            run_interruptible(&prog, || {
                let r = counter.add_files(&paths, &prog);
                prog.finish();
                r
            })
        })?;
        prog.into_result(r)
    }

    /// Count a batch of texts; each text is one sequence.
    fn feed_texts(&mut self, py: Python<'_>, texts: &Bound<'_, PyAny>) -> PyResult<()> {
        let texts = crate::tokenizer::extract_texts(texts)?;
        let counter = &mut self.counter;
        detached(py, || crate::pool::install(|| counter.add_texts(&texts)))
    }

    /// Add ready `{word: count}` pairs, used verbatim.
    fn feed_counts(&mut self, counts: &Bound<'_, PyDict>) -> PyResult<()> {
        for (k, v) in counts.iter() {
            let w: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "word counts need str keys, got {}",
                    k.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                ))
            })?;
            let c: i128 = v
                .extract()
                .map_err(|_| PyTypeError::new_err(format!("count of {w:?} is not an int")))?;
            if c < 0 || c > u64::MAX as i128 {
                return Err(PyValueError::new_err(format!(
                    "count of {w:?} must be between 0 and 2**64-1, got {c}"
                )));
            }
            self.counter.add_word(&w, c as u64);
        }
        Ok(())
    }

    /// Distinct keys counted so far (before normalization).
    fn num_keys(&self) -> usize {
        self.counter.len()
    }

    /// Train on everything fed so far; returns the HF `tokenizer.json` text.
    #[pyo3(signature = (progress=None, stderr_bar=false, pretty=true))]
    /// Consumes the counts: the trainer is empty afterwards.
    fn train(
        &mut self,
        py: Python<'_>,
        progress: Option<Py<PyAny>>,
        stderr_bar: bool,
        pretty: bool,
    ) -> PyResult<String> {
        let prog = PyProgress::new(progress, stderr_bar);
        let counter =
            std::mem::replace(&mut self.counter, WordCounter::new(self.cfg.count_config()));
        let cfg = &self.cfg;
        let r = detached(py, || {
            run_interruptible(&prog, || {
                core_train::train_counter(counter, cfg, &prog).map(|t| t.to_json_string(pretty))
            })
        })?;
        prog.into_result(r)
    }
}

/// Write `vocab.txt` (WordPiece) or `vocab.json` + `merges.txt` (BPE) of a tokenizer.json text.
#[pyfunction]
#[pyo3(signature = (json_text, directory, prefix=None))]
fn train_export_vocab_files(
    py: Python<'_>,
    json_text: &str,
    directory: PathBuf,
    prefix: Option<String>,
) -> PyResult<Vec<String>> {
    let r = detached(py, || {
        json::export_vocab_files(json_text, &directory, prefix.as_deref())
    })?
    .py()?;
    Ok(r.into_iter().map(|p| p.display().to_string()).collect())
}

/// Write text to a file atomically (temp file + rename).
#[pyfunction]
fn train_write_atomic(py: Python<'_>, path: PathBuf, text: &str) -> PyResult<()> {
    detached(py, || {
        subtok_core::error::write_atomic(&path, text.as_bytes())
    })?
    .py()
}

/// Test hook: the trainer's pre-tokenizer pieces of `text`.
#[pyfunction]
fn _train_pretokenize(name: &str, text: &str) -> PyResult<Vec<String>> {
    let p = parse_pretok(name)?;
    let mut out = Vec::new();
    p.split(text, &mut |w| out.push(w.to_string()));
    Ok(out)
}

/// Test hook: the trainer's BERT normalizer.
#[pyfunction]
fn _train_bert_normalize(text: &str, lowercase: bool) -> String {
    let mut s = String::new();
    pretok::bert_normalize(text, lowercase, &mut s);
    s
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTrainer>()?;
    m.add_function(wrap_pyfunction!(train_export_vocab_files, m)?)?;
    m.add_function(wrap_pyfunction!(train_write_atomic, m)?)?;
    m.add_function(wrap_pyfunction!(_train_pretokenize, m)?)?;
    m.add_function(wrap_pyfunction!(_train_bert_normalize, m)?)?;
    Ok(())
}
