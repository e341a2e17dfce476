//! `subtok._core`: thin PyO3 bindings over `subtok_core`.
//! Each file extracts Python inputs, releases the GIL for O(n) work and converts
//! errors through `errors.rs`; batch work runs in the fork-safe pool of `pool.rs`.
use pyo3::prelude::*;

mod bpe;
mod encoding;
mod errors;
mod kernels;
mod pipeline;
mod pool;
mod pretraining;
mod tokenizer;
mod train;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add(
        "TokenizerFileError",
        m.py().get_type::<errors::TokenizerFileError>(),
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<encoding::PyEncoding>()?;
    m.add_function(wrap_pyfunction!(encoding::_encoding_from_state, m)?)?;
    m.add_class::<tokenizer::PyWordPiece>()?;
    m.add_function(wrap_pyfunction!(pool::num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(tokenizer::load_tokenizer_file, m)?)?;
    m.add_function(wrap_pyfunction!(tokenizer::load_tokenizer_str, m)?)?;
    pretraining::register(m)?;
    bpe::register(m)?;
    pipeline::register(m)?;
    train::register(m)?;
    kernels::register(m)?;
    Ok(())
}
