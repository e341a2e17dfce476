//! The one place where core errors and Rust panics become Python exceptions.
use pyo3::exceptions::{
    PyFileNotFoundError, PyIndexError, PyIsADirectoryError, PyKeyboardInterrupt,
    PyNotADirectoryError, PyOSError, PyPermissionError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use subtok_core::Error;

pyo3::create_exception!(
    _core,
    TokenizerFileError,
    PyValueError,
    "A tokenizer.json, vocab.txt, merges or .tiktoken file is malformed; the message names the file."
);

pub fn to_pyerr(e: Error) -> PyErr {
    let msg = e.to_string();
    match e {
        Error::NotFound { .. } => PyFileNotFoundError::new_err(msg),
        // The OSError subclass Python itself would raise for the same errno.
        Error::Io { ref source, .. } => match source.kind() {
            std::io::ErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
            std::io::ErrorKind::NotADirectory => PyNotADirectoryError::new_err(msg),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
            _ => PyOSError::new_err(msg),
        },
        Error::Malformed { .. } => TokenizerFileError::new_err(msg),
        Error::InvalidArgument(_) => PyValueError::new_err(msg),
        Error::OutOfRange(_) => PyIndexError::new_err(msg),
        Error::Cancelled => PyKeyboardInterrupt::new_err(msg),
    }
}

/// Core result -> Python result.
pub trait IntoPy<T> {
    fn py(self) -> PyResult<T>;
}
impl<T> IntoPy<T> for subtok_core::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_pyerr)
    }
}

/// Run `f` with the GIL released, turning a Rust panic into a `RuntimeError`
/// so that no panic ever reaches Python as `PanicException`.
pub fn detached<T: Send, F: FnOnce() -> T + Send>(py: Python<'_>, f: F) -> PyResult<T> {
    py.detach(|| catch_unwind(AssertUnwindSafe(f)))
        .map_err(panic_to_pyerr)
}

pub fn panic_to_pyerr(p: Box<dyn std::any::Any + Send>) -> PyErr {
    let what = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    PyRuntimeError::new_err(format!("subtok internal error (please report): {what}"))
}
