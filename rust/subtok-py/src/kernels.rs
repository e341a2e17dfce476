//! `subtok._core.kernels`: in-place float32 kernels of the NumPy BERT encoder
//! (thin wrappers over `subtok_core::kernels`; the GIL is released while they run).
use crate::errors::{detached, IntoPy};
use numpy::{
    PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray2, PyReadwriteArray3,
    PyReadwriteArrayDyn, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use subtok_core::kernels as k;

fn contiguous<T>(r: Result<T, numpy::AsSliceError>, name: &str) -> PyResult<T> {
    r.map_err(|_| PyValueError::new_err(format!("{name} must be a C-contiguous float32 array")))
}

/// The values of an optional read-only array argument (`None` stays `None`).
fn contiguous_opt<'a, D: numpy::ndarray::Dimension>(
    a: &'a Option<numpy::PyReadonlyArray<'_, f32, D>>,
    name: &str,
) -> PyResult<Option<&'a [f32]>> {
    a.as_ref()
        .map(|a| contiguous(a.as_slice(), name))
        .transpose()
}

/// gelu_inplace(x): x = x * 0.5 * (1 + erf(x / sqrt 2)) over a contiguous float32 array.
#[pyfunction]
fn gelu_inplace(py: Python<'_>, mut x: PyReadwriteArrayDyn<'_, f32>) -> PyResult<()> {
    let xs = contiguous(x.as_slice_mut(), "x")?;
    detached(py, || crate::pool::install(|| k::gelu_inplace(xs)))
}

/// bias_gelu_inplace(x, bias): x = gelu(x + bias) for x of shape (n, len(bias)).
#[pyfunction]
fn bias_gelu_inplace(
    py: Python<'_>,
    mut x: PyReadwriteArray2<'_, f32>,
    bias: PyReadonlyArray1<'_, f32>,
) -> PyResult<()> {
    if x.shape()[1] != bias.len() {
        return Err(PyValueError::new_err(
            "bias length must equal the number of columns of x",
        ));
    }
    let b = contiguous(bias.as_slice(), "bias")?;
    let xs = contiguous(x.as_slice_mut(), "x")?;
    detached(py, || crate::pool::install(|| k::bias_gelu_inplace(xs, b)))?.py()
}

/// softmax_masked_inplace(scores, mask): scores (B, R, T) += mask (B, T) broadcast over R; softmax over T.
#[pyfunction]
#[pyo3(signature = (scores, mask=None))]
fn softmax_masked_inplace(
    py: Python<'_>,
    mut scores: PyReadwriteArray3<'_, f32>,
    mask: Option<PyReadonlyArray2<'_, f32>>,
) -> PyResult<()> {
    let shape = scores.shape().to_vec();
    let (b, t) = (shape[0], shape[2]);
    if let Some(m) = &mask {
        if m.shape() != [b, t] {
            return Err(PyValueError::new_err(format!(
                "mask must have shape ({b}, {t})"
            )));
        }
    }
    let ms = contiguous_opt(&mask, "mask")?;
    let ss = contiguous(scores.as_slice_mut(), "scores")?;
    detached(py, || {
        crate::pool::install(|| k::softmax_masked_inplace(ss, b, t, ms))
    })?
    .py()
}

/// add_layernorm_inplace(x, residual, bias, gamma, beta, eps): x = LayerNorm(x + bias + residual).
#[pyfunction]
#[pyo3(signature = (x, residual, bias, gamma, beta, eps))]
fn add_layernorm_inplace(
    py: Python<'_>,
    mut x: PyReadwriteArray2<'_, f32>,
    residual: Option<PyReadonlyArray2<'_, f32>>,
    bias: Option<PyReadonlyArray1<'_, f32>>,
    gamma: PyReadonlyArray1<'_, f32>,
    beta: PyReadonlyArray1<'_, f32>,
    eps: f64,
) -> PyResult<()> {
    if let Some(r) = &residual {
        if r.shape() != x.shape() {
            return Err(PyValueError::new_err("residual must have the shape of x"));
        }
    }
    if x.shape()[1] != gamma.len() {
        return Err(PyValueError::new_err(
            "gamma length must equal the number of columns of x",
        ));
    }
    let rs = contiguous_opt(&residual, "residual")?;
    let bs = contiguous_opt(&bias, "bias")?;
    let g = contiguous(gamma.as_slice(), "gamma")?;
    let be = contiguous(beta.as_slice(), "beta")?;
    let xs = contiguous(x.as_slice_mut(), "x")?;
    detached(py, || {
        crate::pool::install(|| k::add_layernorm_inplace(xs, rs, bs, g, be, eps as f32))
    })?
    .py()
}

/// self_attention(qkv, bias, heads, starts, lens, key_mask, ctx): fused multi-head attention.
///
/// qkv (n, 3H) holds [Q | K | V] rows (Q pre-scaled); each sequence is rows starts[i]..+lens[i];
/// key_mask (n,) is an additive per-row key mask; the context is written to ctx (n, H).
#[pyfunction]
#[pyo3(signature = (qkv, bias, heads, starts, lens, key_mask, ctx))]
#[allow(clippy::too_many_arguments)]
fn self_attention(
    py: Python<'_>,
    qkv: PyReadonlyArray2<'_, f32>,
    bias: Option<PyReadonlyArray1<'_, f32>>,
    heads: usize,
    starts: Vec<usize>,
    lens: Vec<usize>,
    key_mask: Option<PyReadonlyArray1<'_, f32>>,
    mut ctx: PyReadwriteArray2<'_, f32>,
) -> PyResult<()> {
    let h = ctx.shape()[1];
    if heads == 0 || h % heads != 0 || qkv.shape() != [ctx.shape()[0], 3 * h] {
        return Err(PyValueError::new_err(format!(
            "qkv must have shape (n, 3H) and ctx (n, H) with H divisible by heads={heads}"
        )));
    }
    let q = contiguous(qkv.as_slice(), "qkv")?;
    let b = contiguous_opt(&bias, "bias")?;
    let m = contiguous_opt(&key_mask, "key_mask")?;
    let out = contiguous(ctx.as_slice_mut(), "ctx")?;
    detached(py, || {
        crate::pool::install(|| k::self_attention(q, b, heads, h / heads, &starts, &lens, m, out))
    })?
    .py()
}

/// Packs the (k, n) float32 matrix `w` with `new(values, k, n)`, the GIL released.
fn pack_f32<T: Send>(
    py: Python<'_>,
    w: PyReadonlyArray2<'_, f32>,
    new: impl FnOnce(&[f32], usize, usize) -> subtok_core::error::Result<T> + Send,
) -> PyResult<T> {
    let (rows, cols) = (w.shape()[0], w.shape()[1]);
    let ws = contiguous(w.as_slice(), "w")?;
    detached(py, || new(ws, rows, cols))?.py()
}

/// A row-major (k, n) matrix as a new float32 array.
fn matrix(
    py: Python<'_>,
    v: Vec<f32>,
    k: usize,
    n: usize,
) -> PyResult<Bound<'_, numpy::PyArray2<f32>>> {
    numpy::PyArray1::from_vec(py, v).reshape([k, n])
}

/// Int8Weight(w): a (k, n) float32 weight matrix quantized to int8 per output column and packed
/// for the int8 dot-product kernels (AVX512-VNNI when present).
#[pyclass(module = "subtok._core.kernels", name = "Int8Weight", frozen)]
struct Int8Weight {
    inner: k::qgemm::PackedI8,
}

#[pymethods]
impl Int8Weight {
    #[new]
    fn new(py: Python<'_>, w: PyReadonlyArray2<'_, f32>) -> PyResult<Self> {
        let inner = pack_f32(py, w, k::qgemm::PackedI8::new)?;
        Ok(Int8Weight { inner })
    }

    /// (k, n): the shape of the weight matrix.
    #[getter]
    fn shape(&self) -> (usize, usize) {
        (self.inner.k(), self.inner.n())
    }

    /// The weights as the kernels use them (scale * int8 value), a new (k, n) float32 array.
    fn dequantized<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, numpy::PyArray2<f32>>> {
        matrix(py, self.inner.dequantized(), self.inner.k(), self.inner.n())
    }

    /// matmul(x, out, bias=None, portable=False, gelu=False, kernel=None):
    /// out (m, n) = quantize_rows(x) (m, k) @ W + bias, then exact GELU when `gelu`.
    /// `kernel` names one of `int8_kernels()` (default: the best; `portable=True`: "portable").
    #[pyo3(signature = (x, out, bias=None, portable=false, gelu=false, kernel=None))]
    #[allow(clippy::too_many_arguments)]
    fn matmul(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f32>,
        out: PyReadwriteArray2<'_, f32>,
        bias: Option<PyReadonlyArray1<'_, f32>>,
        portable: bool,
        gelu: bool,
        kernel: Option<&str>,
    ) -> PyResult<()> {
        let kernel = match (kernel, portable) {
            (Some(name), _) => k::qgemm::Kernel::from_name(name)
                .ok_or_else(|| PyValueError::new_err(format!("unknown int8 kernel {name:?}")))?,
            (None, true) => k::qgemm::Kernel::Portable,
            (None, false) => k::qgemm::best_kernel(),
        };
        let w = &self.inner;
        let (kk, n) = (w.k(), w.n());
        run_matmul(py, x, out, bias, gelu, kk, n, |xs, m, ep, os| {
            k::qgemm::matmul_i8_with(xs, m, w, ep, os, kernel)
        })
    }
}

/// Checks that `x` is (m, k) and `out` (m, n), then runs `f(x, m, epilogue, out)` in the pool
/// without the GIL (the shared body of the packed-weight products' `matmul`: int8, bf16, float32).
#[allow(clippy::too_many_arguments)]
fn run_matmul(
    py: Python<'_>,
    x: PyReadonlyArray2<'_, f32>,
    mut out: PyReadwriteArray2<'_, f32>,
    bias: Option<PyReadonlyArray1<'_, f32>>,
    gelu: bool,
    k: usize,
    n: usize,
    f: impl FnOnce(&[f32], usize, k::qgemm::Epilogue<'_>, &mut [f32]) -> subtok_core::error::Result<()>
        + Send,
) -> PyResult<()> {
    let m = x.shape()[0];
    if x.shape()[1] != k || out.shape() != [m, n] {
        return Err(PyValueError::new_err(format!(
            "x must have shape (m, {k}) and out (m, {n})"
        )));
    }
    let xs = contiguous(x.as_slice(), "x")?;
    let bs = contiguous_opt(&bias, "bias")?;
    let os = contiguous(out.as_slice_mut(), "out")?;
    let ep = k::qgemm::Epilogue { bias: bs, gelu };
    detached(py, || crate::pool::install(|| f(xs, m, ep, os)))?.py()
}

/// vnni_available(): whether the int8 products run on AVX512-VNNI on this CPU.
#[pyfunction]
fn vnni_available() -> bool {
    k::qgemm::vnni_available()
}

/// int8_kernel(): the kernel the int8 products run on here: "avx512-vnni", "avx-vnni", "avx2" or
/// "portable".
#[pyfunction]
fn int8_kernel() -> &'static str {
    k::qgemm::best_kernel().name()
}

/// int8_kernels(): every int8 kernel this CPU runs, best first (the last is "portable").
#[pyfunction]
fn int8_kernels() -> Vec<&'static str> {
    k::qgemm::Kernel::ALL
        .into_iter()
        .filter(|k| k.available())
        .map(|k| k.name())
        .collect()
}

/// Bf16Weight(bits): a (k, n) weight matrix of bf16 bit patterns (uint16) packed for the
/// AVX512-BF16 dot-product kernel (`vdpbf16ps`, float32 accumulation).
#[pyclass(module = "subtok._core.kernels", name = "Bf16Weight", frozen)]
struct Bf16Weight {
    inner: k::bgemm::PackedBf16,
}

#[pymethods]
impl Bf16Weight {
    #[new]
    fn new(py: Python<'_>, bits: PyReadonlyArray2<'_, u16>) -> PyResult<Self> {
        let (rows, cols) = (bits.shape()[0], bits.shape()[1]);
        let bs = bits
            .as_slice()
            .map_err(|_| PyValueError::new_err("bits must be a C-contiguous uint16 array"))?;
        let inner = detached(py, || k::bgemm::PackedBf16::new(bs, rows, cols))?.py()?;
        Ok(Bf16Weight { inner })
    }

    /// (k, n): the shape of the weight matrix.
    #[getter]
    fn shape(&self) -> (usize, usize) {
        (self.inner.k(), self.inner.n())
    }

    /// matmul(x, out, bias=None, gelu=False, portable=False): out (m, n) = bf16(x) @ W + bias, then
    /// exact GELU when `gelu`; `portable=True` runs the exact emulation of the instructions.
    #[pyo3(signature = (x, out, bias=None, gelu=false, portable=false))]
    fn matmul(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f32>,
        out: PyReadwriteArray2<'_, f32>,
        bias: Option<PyReadonlyArray1<'_, f32>>,
        gelu: bool,
        portable: bool,
    ) -> PyResult<()> {
        let kernel = if portable {
            k::bgemm::Bf16Kernel::Portable
        } else {
            k::bgemm::Bf16Kernel::best()
        };
        let w = &self.inner;
        let (kk, n) = (w.k(), w.n());
        run_matmul(py, x, out, bias, gelu, kk, n, |xs, m, ep, os| {
            k::bgemm::matmul_bf16(xs, m, w, ep, os, kernel)
        })
    }
}

/// bf16_kernel(): the kernel bf16 products run on here: "amx", "avx512-bf16" or "portable" (an
/// exact emulation of vdpbf16ps, slower than a float32 product: the encoder does not use it).
#[pyfunction]
fn bf16_kernel() -> &'static str {
    k::bgemm::Bf16Kernel::best().name()
}

/// F32Weight(w): a (k, n) float32 weight matrix packed once for the float32 register-tile kernels
/// (AVX-512 / AVX2+FMA / portable), which run in the same thread pool as the other kernels.
#[pyclass(module = "subtok._core.kernels", name = "F32Weight", frozen)]
struct F32Weight {
    inner: k::sgemm::PackedF32,
}

#[pymethods]
impl F32Weight {
    #[new]
    fn new(py: Python<'_>, w: PyReadonlyArray2<'_, f32>) -> PyResult<Self> {
        let inner = pack_f32(py, w, k::sgemm::PackedF32::new)?;
        Ok(F32Weight { inner })
    }

    /// (k, n): the shape of the weight matrix.
    #[getter]
    fn shape(&self) -> (usize, usize) {
        (self.inner.k(), self.inner.n())
    }

    /// The weights, a new (k, n) float32 array.
    fn unpacked<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, numpy::PyArray2<f32>>> {
        matrix(py, self.inner.unpacked(), self.inner.k(), self.inner.n())
    }

    /// matmul(x, out, bias=None, gelu=False, kernel=None): out (m, n) = x (m, k) @ W + bias, then
    /// exact GELU when `gelu`. `kernel` names one of `f32_kernels()` (default: the best).
    #[pyo3(signature = (x, out, bias=None, gelu=false, kernel=None))]
    fn matmul(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f32>,
        out: PyReadwriteArray2<'_, f32>,
        bias: Option<PyReadonlyArray1<'_, f32>>,
        gelu: bool,
        kernel: Option<&str>,
    ) -> PyResult<()> {
        let kernel = match kernel {
            Some(name) => k::sgemm::F32Kernel::from_name(name)
                .ok_or_else(|| PyValueError::new_err(format!("unknown float32 kernel {name:?}")))?,
            None => k::sgemm::F32Kernel::best(),
        };
        let w = &self.inner;
        let (kk, n) = (w.k(), w.n());
        run_matmul(py, x, out, bias, gelu, kk, n, |xs, m, ep, os| {
            k::sgemm::matmul_f32(xs, m, w, ep, os, kernel)
        })
    }
}

/// f32_kernels(): every float32 product kernel this CPU runs, best first ("avx512", "avx2",
/// "portable"; the last is always "portable").
#[pyfunction]
fn f32_kernels() -> Vec<&'static str> {
    k::sgemm::F32Kernel::ALL
        .into_iter()
        .filter(|k| k.available())
        .map(|k| k.name())
        .collect()
}

/// The attention geometry arguments shared by the two training kernels.
#[allow(clippy::too_many_arguments)]
fn attention_spec<'a>(
    qkv_shape: &[usize],
    heads: usize,
    starts: &'a [usize],
    lens: &'a [usize],
    key_mask: Option<&'a [f32]>,
    scale: f32,
    dropout: f32,
    seed: u64,
) -> PyResult<k::AttentionSpec<'a>> {
    if heads == 0 || qkv_shape[1] % (3 * heads) != 0 {
        return Err(PyValueError::new_err(format!(
            "qkv must have shape (n, 3H) with H divisible by heads={heads}"
        )));
    }
    Ok(k::AttentionSpec {
        heads,
        head_dim: qkv_shape[1] / (3 * heads),
        starts,
        lens,
        key_mask,
        scale,
        dropout,
        seed,
    })
}

/// attention_train_forward(qkv, heads, starts, lens, key_mask, scale, dropout, seed, ctx):
/// ctx (n, H) = dropout(softmax(scale Q Kᵀ + key_mask)) V per sequence (row range) and head.
#[pyfunction]
#[pyo3(signature = (qkv, heads, starts, lens, key_mask, scale, dropout, seed, ctx))]
#[allow(clippy::too_many_arguments)]
fn attention_train_forward(
    py: Python<'_>,
    qkv: PyReadonlyArray2<'_, f32>,
    heads: usize,
    starts: Vec<usize>,
    lens: Vec<usize>,
    key_mask: Option<PyReadonlyArray1<'_, f32>>,
    scale: f32,
    dropout: f32,
    seed: u64,
    mut ctx: PyReadwriteArray2<'_, f32>,
) -> PyResult<()> {
    let q = contiguous(qkv.as_slice(), "qkv")?;
    let m = contiguous_opt(&key_mask, "key_mask")?;
    let spec = attention_spec(qkv.shape(), heads, &starts, &lens, m, scale, dropout, seed)?;
    let out = contiguous(ctx.as_slice_mut(), "ctx")?;
    detached(py, || {
        crate::pool::install(|| k::attention_train_forward(q, &spec, out))
    })?
    .py()
}

/// attention_train_backward(qkv, heads, starts, lens, key_mask, scale, dropout, seed, dctx, dqkv):
/// the gradient of attention_train_forward w.r.t. qkv, written into dqkv (n, 3H).
#[pyfunction]
#[pyo3(signature = (qkv, heads, starts, lens, key_mask, scale, dropout, seed, dctx, dqkv))]
#[allow(clippy::too_many_arguments)]
fn attention_train_backward(
    py: Python<'_>,
    qkv: PyReadonlyArray2<'_, f32>,
    heads: usize,
    starts: Vec<usize>,
    lens: Vec<usize>,
    key_mask: Option<PyReadonlyArray1<'_, f32>>,
    scale: f32,
    dropout: f32,
    seed: u64,
    dctx: PyReadonlyArray2<'_, f32>,
    mut dqkv: PyReadwriteArray2<'_, f32>,
) -> PyResult<()> {
    let q = contiguous(qkv.as_slice(), "qkv")?;
    let m = contiguous_opt(&key_mask, "key_mask")?;
    let spec = attention_spec(qkv.shape(), heads, &starts, &lens, m, scale, dropout, seed)?;
    let dc = contiguous(dctx.as_slice(), "dctx")?;
    let out = contiguous(dqkv.as_slice_mut(), "dqkv")?;
    detached(py, || {
        crate::pool::install(|| k::attention_train_backward(q, &spec, dc, out))
    })?
    .py()
}

/// gelu_backward(x, dy): dy *= gelu'(x) (exact erf GELU), in place.
#[pyfunction]
fn gelu_backward(
    py: Python<'_>,
    x: numpy::PyReadonlyArrayDyn<'_, f32>,
    mut dy: PyReadwriteArrayDyn<'_, f32>,
) -> PyResult<()> {
    let xs = contiguous(x.as_slice(), "x")?;
    let ds = contiguous(dy.as_slice_mut(), "dy")?;
    detached(py, || crate::pool::install(|| k::gelu_backward(xs, ds)))?.py()
}

/// layernorm_train_forward(x, xhat, rstd, gamma, beta, eps): x = LayerNorm(x) in place, keeping
/// the normalized values (xhat, same shape) and 1/std per row (rstd) for the backward pass.
#[pyfunction]
fn layernorm_train_forward(
    py: Python<'_>,
    mut x: PyReadwriteArray2<'_, f32>,
    mut xhat: PyReadwriteArray2<'_, f32>,
    mut rstd: numpy::PyReadwriteArray1<'_, f32>,
    gamma: PyReadonlyArray1<'_, f32>,
    beta: PyReadonlyArray1<'_, f32>,
    eps: f64,
) -> PyResult<()> {
    let g = contiguous(gamma.as_slice(), "gamma")?;
    let b = contiguous(beta.as_slice(), "beta")?;
    let xs = contiguous(x.as_slice_mut(), "x")?;
    let xh = contiguous(xhat.as_slice_mut(), "xhat")?;
    let r = contiguous(rstd.as_slice_mut(), "rstd")?;
    detached(py, || {
        crate::pool::install(|| k::layernorm_train_forward(xs, xh, r, g, b, eps as f32))
    })?
    .py()
}

/// layernorm_backward(dy, xhat, rstd, gamma, dgamma, dbeta): dy becomes the input gradient in
/// place; dgamma and dbeta are overwritten with the parameter gradients.
#[pyfunction]
fn layernorm_backward(
    py: Python<'_>,
    mut dy: PyReadwriteArray2<'_, f32>,
    xhat: PyReadonlyArray2<'_, f32>,
    rstd: PyReadonlyArray1<'_, f32>,
    gamma: PyReadonlyArray1<'_, f32>,
    mut dgamma: numpy::PyReadwriteArray1<'_, f32>,
    mut dbeta: numpy::PyReadwriteArray1<'_, f32>,
) -> PyResult<()> {
    let xh = contiguous(xhat.as_slice(), "xhat")?;
    let r = contiguous(rstd.as_slice(), "rstd")?;
    let g = contiguous(gamma.as_slice(), "gamma")?;
    let d = contiguous(dy.as_slice_mut(), "dy")?;
    let dg = contiguous(dgamma.as_slice_mut(), "dgamma")?;
    let db = contiguous(dbeta.as_slice_mut(), "dbeta")?;
    detached(py, || {
        crate::pool::install(|| k::layernorm_backward(d, xh, r, g, dg, db))
    })?
    .py()
}

/// Adds the `kernels` submodule to `_core`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let sub = PyModule::new(m.py(), "kernels")?;
    sub.add_function(wrap_pyfunction!(gelu_inplace, &sub)?)?;
    sub.add_function(wrap_pyfunction!(bias_gelu_inplace, &sub)?)?;
    sub.add_function(wrap_pyfunction!(softmax_masked_inplace, &sub)?)?;
    sub.add_function(wrap_pyfunction!(add_layernorm_inplace, &sub)?)?;
    sub.add_function(wrap_pyfunction!(self_attention, &sub)?)?;
    sub.add_function(wrap_pyfunction!(vnni_available, &sub)?)?;
    sub.add_function(wrap_pyfunction!(int8_kernel, &sub)?)?;
    sub.add_function(wrap_pyfunction!(int8_kernels, &sub)?)?;
    sub.add_class::<Int8Weight>()?;
    sub.add_function(wrap_pyfunction!(bf16_kernel, &sub)?)?;
    sub.add_class::<Bf16Weight>()?;
    sub.add_function(wrap_pyfunction!(f32_kernels, &sub)?)?;
    sub.add_class::<F32Weight>()?;
    sub.add_function(wrap_pyfunction!(attention_train_forward, &sub)?)?;
    sub.add_function(wrap_pyfunction!(attention_train_backward, &sub)?)?;
    sub.add_function(wrap_pyfunction!(gelu_backward, &sub)?)?;
    sub.add_function(wrap_pyfunction!(layernorm_train_forward, &sub)?)?;
    sub.add_function(wrap_pyfunction!(layernorm_backward, &sub)?)?;
    m.add_submodule(&sub)
}
