//! `subtok._core`: thin PyO3 bindings over `subtok_core`.
//! Each file extracts Python inputs, releases the GIL for O(n) work and converts
//! errors through `errors.rs`.
use pyo3::prelude::*;

mod errors;
mod kernels;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("TokenizerFileError", m.py().get_type::<errors::TokenizerFileError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    kernels::register(m)?;
    Ok(())
}
