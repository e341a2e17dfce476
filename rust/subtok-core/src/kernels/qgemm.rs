//! Dynamically quantized int8 matrix products `y = x W (+ bias, GELU)` for the encoder's dense layers.
//!
//! * Weights `W` (`k x n`, row-major, as the encoder stores them pre-transposed) are quantized once,
//!   per output column (channel): `scale[j] = max_i |W[i, j]| / 127`, `q = round(W / scale)` in
//!   `[-127, 127]`, and packed in blocks of 16 columns: for each group of 4 consecutive `k`, the
//!   16 columns' 4 bytes (64 bytes, one AVX-512 register). `k` is padded to a multiple of 4 with
//!   zero weights.
//! * Activations are quantized per row to `u8` (what the `u8 x i8` dot-product instructions take),
//!   asymmetrically: `s = (max - min) / 255` over the row (the range always includes 0), zero point
//!   `z = round(-min / s)`, `q = clamp(round(x / s) + z, 0, 255)`, in one pass after the row's
//!   min/max pass (vectorized with AVX-512 when the VNNI kernel runs). The zero point is removed with
//!   the column sums of the quantized weights: `sum q_x q_w - z sum q_w = sum (q_x - z) q_w`.
//! * The product runs on AMX-INT8 (`tdpbusd` on 16 x 64-byte tiles, when Linux grants the tile
//!   state and `k` is a multiple of 64; the packed layout is the tiles' own), else on AVX512-VNNI
//!   (`vpdpbusd`: four `u8 x i8` products summed into each i32 lane; register tiles of [`MR`] rows
//!   x 64 columns, 24 accumulators), else on AVX-VNNI (the
//!   256-bit `vpdpbusd`), else on AVX2 (`vpmaddwd` on operands widened to i16: two products summed
//!   into each i32 lane), else on a portable loop over the same packed layout.
//! * The epilogue `y = acc * (s_x s_w) + bias` (one fused multiply-add), optionally followed by
//!   exact-erf GELU, is applied to the tile while it is in registers, so the output is written once.
//!   Without GELU every kernel gives bit-identical results (the i32 sums are exact); with it the
//!   SIMD kernels agree bit for bit with each other and within float rounding with the portable one
//!   (as the GELU kernels of `kernels.rs` do).
use crate::error::{Error, Result};
use rayon::prelude::*;

/// Columns per packed block (one 512-bit register of i32 lanes).
pub const NB: usize = 16;
/// Rows of `x` per micro-kernel call.
pub(crate) const MR: usize = 6;
/// Column blocks per micro-kernel call (the AVX-512 kernels keep `MR x NC` accumulators).
pub(crate) const NC: usize = 4;
/// Rows of `x` per parallel task.
const ROWS_PER_TASK: usize = 48;
/// Column blocks per parallel task.
pub(crate) const BLOCKS_PER_TASK: usize = 8;

/// What the products apply to each output after the (de)scaling: a bias, then optionally GELU.
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    /// Added to every row (`n` values).
    pub bias: Option<&'a [f32]>,
    /// Exact-erf GELU after the bias.
    pub gelu: bool,
}

/// Validates the arguments of a product `out (m x n) = x (m x k) W` named `what`: the buffer
/// sizes, the bias length, and that the CPU runs the kernel (`available`, called `kernel`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_product(
    what: &str,
    x: &[f32],
    m: usize,
    k: usize,
    out: &[f32],
    n: usize,
    ep: &Epilogue<'_>,
    (available, kernel): (bool, &str),
) -> Result<()> {
    if x.len() != m * k || out.len() != m * n {
        return Err(Error::invalid(format!(
            "{what}: x has {} values and out {} for m={m}, k={k}, n={n}",
            x.len(),
            out.len()
        )));
    }
    if ep.bias.is_some_and(|b| b.len() != n) {
        return Err(Error::invalid(format!(
            "{what}: bias length differs from the output width"
        )));
    }
    if !available {
        return Err(Error::invalid(format!(
            "{what}: this CPU does not run the {kernel} kernel"
        )));
    }
    Ok(())
}

/// The lanes of 16-column block `j0 / 16` that hold output columns (all but in a last partial block).
#[inline(always)]
pub(crate) fn block_mask(n: usize, j0: usize) -> u16 {
    let cols = (n - j0).min(NB);
    if cols == NB {
        0xFFFF
    } else {
        (1u16 << cols) - 1
    }
}

impl Epilogue<'_> {
    /// The portable activation of one output `y` (already scaled, with its bias).
    #[inline(always)]
    pub(crate) fn act(&self, y: f32) -> f32 {
        if self.gelu {
            super::gelu_f32(y)
        } else {
            y
        }
    }
}

/// Runs `f(row0, rows, block, blocks)` over every register tile of an `m x n` product: rayon tasks
/// take [`ROWS_PER_TASK`] rows x [`BLOCKS_PER_TASK`] column blocks, and within a task each group of
/// up to [`NC`] blocks is swept by tiles of up to [`MR`] rows (the group's weights stay in cache).
pub(crate) fn for_each_tile(m: usize, n: usize, f: impl Fn(usize, usize, usize, usize) + Sync) {
    for_each_tile_k(m, n, 1, |r, rows, b, nb, _| f(r, rows, b, nb));
}

/// As [`for_each_tile`], with the inner dimension cut in `chunks` slices: each group of blocks is
/// swept by the row tiles once per slice, in order (`f`'s last argument), so that the slice of the
/// group's weights stays in the L1 cache.
pub(crate) fn for_each_tile_k(
    m: usize,
    n: usize,
    chunks: usize,
    f: impl Fn(usize, usize, usize, usize, usize) + Sync,
) {
    let nblocks = n.div_ceil(NB);
    let row_tasks = m.div_ceil(ROWS_PER_TASK);
    let col_tasks = nblocks.div_ceil(BLOCKS_PER_TASK);
    (0..row_tasks * col_tasks).into_par_iter().for_each(|t| {
        let (rt, ct) = (t / col_tasks, t % col_tasks);
        let r0 = rt * ROWS_PER_TASK;
        let r1 = (r0 + ROWS_PER_TASK).min(m);
        let b0 = ct * BLOCKS_PER_TASK;
        let b1 = (b0 + BLOCKS_PER_TASK).min(nblocks);
        let mut b = b0;
        while b < b1 {
            let nb = (b1 - b).min(NC);
            for c in 0..chunks {
                let mut r = r0;
                while r < r1 {
                    let rows = (r1 - r).min(MR);
                    f(r, rows, b, nb, c);
                    r += rows;
                }
            }
            b += nb;
        }
    });
}

/// A raw output pointer shared by tasks that write disjoint cells.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub(crate) *mut f32);
// SAFETY: every task writes a disjoint set of output cells through the pointer.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

/// A weight matrix quantized to int8 per output column and packed for the dot-product kernels.
#[derive(Clone, Debug)]
pub struct PackedI8 {
    k: usize,
    n: usize,
    /// `k` rounded up to a multiple of 4.
    kp: usize,
    /// `[n / 16 blocks][kp / 4][16 columns][4]` int8 values.
    data: Vec<i8>,
    /// Per-column dequantization scale.
    scales: Vec<f32>,
    /// Per-column sum of the quantized weights (for the activations' zero points).
    colsum: Vec<i32>,
}

impl PackedI8 {
    /// Quantize and pack a row-major `k x n` weight matrix.
    pub fn new(w: &[f32], k: usize, n: usize) -> Result<Self> {
        if k == 0 || n == 0 || w.len() != k * n {
            return Err(Error::invalid(format!(
                "int8 weights: {} values do not form a {k} x {n} matrix",
                w.len()
            )));
        }
        if w.iter().any(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "int8 weights: the matrix holds NaN or infinite values",
            ));
        }
        let kp = k.div_ceil(4) * 4;
        let nblocks = n.div_ceil(NB);
        let mut scales = vec![0f32; n];
        for row in w.chunks_exact(n) {
            for (s, v) in scales.iter_mut().zip(row) {
                *s = s.max(v.abs());
            }
        }
        let inv: Vec<f32> = scales
            .iter()
            .map(|&m| if m > 0.0 { 127.0 / m } else { 0.0 })
            .collect();
        for s in scales.iter_mut() {
            *s /= 127.0;
        }
        let mut data = vec![0i8; nblocks * kp * NB];
        let mut colsum = vec![0i32; n];
        for (i, row) in w.chunks_exact(n).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let q = (v * inv[j]).round_ties_even().clamp(-127.0, 127.0) as i8;
                data[(j / NB) * kp * NB + (i / 4) * NB * 4 + (j % NB) * 4 + i % 4] = q;
                colsum[j] += q as i32;
            }
        }
        Ok(PackedI8 {
            k,
            n,
            kp,
            data,
            scales,
            colsum,
        })
    }

    /// Rows of the weight matrix (the inner dimension of the product).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of the weight matrix (output features).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The weights as the kernels see them: `scale[j] * q[i, j]` (for tests and error analysis).
    pub fn dequantized(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.k * self.n];
        for i in 0..self.k {
            for j in 0..self.n {
                let q =
                    self.data[(j / NB) * self.kp * NB + (i / 4) * NB * 4 + (j % NB) * 4 + i % 4];
                out[i * self.n + j] = q as f32 * self.scales[j];
            }
        }
        out
    }
}

/// The quantization of one row from its min (<= 0) and max (>= 0): (scale, 1 / scale, zero point).
#[inline(always)]
fn row_params(lo: f32, hi: f32) -> (f32, f32, f32) {
    let range = hi - lo;
    if range > 0.0 {
        let inv = 255.0 / range;
        (
            range / 255.0,
            inv,
            (-lo * inv).round_ties_even().clamp(0.0, 255.0),
        )
    } else {
        (range / 255.0, 0.0, 0.0)
    }
}

/// Quantizes `xr` into `qr` (its length); returns (scale, zero point). NaN values are ignored by
/// the range and quantize to 0.
#[inline(always)]
fn quantize_row_scalar(xr: &[f32], qr: &mut [u8]) -> (f32, i32) {
    let (lo, hi) = xr
        .iter()
        .fold((0f32, 0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (s, inv, zp) = row_params(lo, hi);
    for (o, v) in qr.iter_mut().zip(xr) {
        *o = (v.mul_add(inv, zp)).round_ties_even().clamp(0.0, 255.0) as u8;
    }
    (s, zp as i32)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_row_avx2(xr: &[f32], qr: &mut [u8]) -> (f32, i32) {
    quantize_row_scalar(xr, qr)
}

/// As [`quantize_row_scalar`] (bit-identical: `vminps`/`vmaxps` with the new value first skip NaN
/// as `f32::min`/`max` do; the conversion rounds to nearest even as `round_ties_even`).
///
/// # Safety
/// The CPU must support AVX-512F/BW and FMA; `qr` must hold `xr.len()` bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,fma")]
unsafe fn quantize_row_avx512(xr: &[f32], qr: &mut [u8]) -> (f32, i32) {
    use std::arch::x86_64::*;
    let k = xr.len();
    let full = k / 16 * 16;
    let tail = ((1u32 << (k - full)) - 1) as __mmask16;
    let p = xr.as_ptr();
    let (mut lo, mut hi) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    while i < full {
        let v = _mm512_loadu_ps(p.add(i));
        lo = _mm512_min_ps(v, lo);
        hi = _mm512_max_ps(v, hi);
        i += 16;
    }
    if tail != 0 {
        let v = _mm512_maskz_loadu_ps(tail, p.add(full));
        lo = _mm512_min_ps(v, lo);
        hi = _mm512_max_ps(v, hi);
    }
    let (s, inv, zp) = row_params(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi));
    let (iv, zv) = (_mm512_set1_ps(inv), _mm512_set1_ps(zp));
    let (zero, top) = (_mm512_setzero_si512(), _mm512_set1_epi32(255));
    let q = qr.as_mut_ptr();
    let mut i = 0;
    while i < full {
        let y = _mm512_fmadd_ps(_mm512_loadu_ps(p.add(i)), iv, zv);
        let c = _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(y);
        let c = _mm512_min_epi32(_mm512_max_epi32(c, zero), top);
        _mm_storeu_si128(q.add(i) as *mut __m128i, _mm512_cvtepi32_epi8(c));
        i += 16;
    }
    if tail != 0 {
        let y = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, p.add(full)), iv, zv);
        let c = _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(y);
        let c = _mm512_min_epi32(_mm512_max_epi32(c, zero), top);
        _mm512_mask_cvtepi32_storeu_epi8(q.add(full) as *mut i8, tail, c);
    }
    (s, zp as i32)
}

/// Quantize rows of `k` values to `u8` padded to `kp` (with the zero point); fills the per-row
/// scales and zero points.
fn quantize_rows(
    x: &[f32],
    k: usize,
    kp: usize,
    q: &mut [u8],
    scales: &mut [f32],
    zps: &mut [i32],
    kernel: Kernel,
) {
    q.par_chunks_mut(kp)
        .zip(x.par_chunks(k))
        .zip(scales.par_iter_mut().zip(zps.par_iter_mut()))
        .with_min_len(16)
        .for_each(|((qr, xr), (s, z))| {
            let (sx, zp) = match kernel {
                // SAFETY: the caller checked that the CPU runs `kernel`, which implies the features.
                #[cfg(target_arch = "x86_64")]
                Kernel::Vnni | Kernel::Amx => unsafe { quantize_row_avx512(xr, &mut qr[..k]) },
                #[cfg(target_arch = "x86_64")]
                Kernel::AvxVnni | Kernel::Avx2 => unsafe { quantize_row_avx2(xr, &mut qr[..k]) },
                _ => quantize_row_scalar(xr, &mut qr[..k]),
            };
            *s = sx;
            *z = zp;
            qr[k..].fill(zp as u8);
        });
}

/// Whether the int8 products run on AVX512-VNNI on this CPU.
pub fn vnni_available() -> bool {
    matches!(best_kernel(), Kernel::Vnni | Kernel::Amx)
}

/// The int8 product kernels, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// AMX-INT8 tiles with the AVX512-VNNI epilogue (weights with `k` a multiple of 64; others
    /// run on [`Kernel::Vnni`]).
    Amx,
    /// AVX512-VNNI + AVX512-BW.
    Vnni,
    /// AVX-VNNI (VEX-encoded 256-bit `vpdpbusd`) + AVX2 + FMA.
    AvxVnni,
    /// AVX2 + FMA.
    Avx2,
    /// Plain Rust.
    Portable,
}

impl Kernel {
    /// Every kernel, best first.
    pub const ALL: [Kernel; 5] = [
        Kernel::Amx,
        Kernel::Vnni,
        Kernel::AvxVnni,
        Kernel::Avx2,
        Kernel::Portable,
    ];

    /// A short name: "amx", "avx512-vnni", "avx-vnni", "avx2" or "portable".
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Amx => "amx",
            Kernel::Vnni => "avx512-vnni",
            Kernel::AvxVnni => "avx-vnni",
            Kernel::Avx2 => "avx2",
            Kernel::Portable => "portable",
        }
    }

    /// The kernel called `name` (as [`Kernel::name`] gives it).
    pub fn from_name(name: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether this CPU runs the kernel.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("fma");
            let vnni = has!("avx512vnni") && has!("avx512bw") && has!("fma");
            match self {
                #[cfg(target_os = "linux")]
                Kernel::Amx => vnni && super::amx::ready(),
                #[cfg(not(target_os = "linux"))]
                Kernel::Amx => false,
                Kernel::Vnni => vnni,
                Kernel::AvxVnni => avx2 && has!("avxvnni"),
                Kernel::Avx2 => avx2,
                Kernel::Portable => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Kernel::Portable
        }
    }
}

/// The kernel [`matmul_i8`] uses on this CPU.
pub fn best_kernel() -> Kernel {
    Kernel::ALL
        .into_iter()
        .find(|k| k.available())
        .unwrap_or(Kernel::Portable)
}

/// `out (m x n) = x (m x k) W`, with `x` quantized per row on the fly and `W` packed by
/// [`PackedI8::new`], then the epilogue (bias, GELU). `portable` forces the non-SIMD kernel.
pub fn matmul_i8(
    x: &[f32],
    m: usize,
    w: &PackedI8,
    ep: Epilogue<'_>,
    out: &mut [f32],
    portable: bool,
) -> Result<()> {
    let kernel = if portable {
        Kernel::Portable
    } else {
        best_kernel()
    };
    matmul_i8_with(x, m, w, ep, out, kernel)
}

/// [`matmul_i8`] on the given kernel (which the CPU must run: [`Kernel::available`]).
pub fn matmul_i8_with(
    x: &[f32],
    m: usize,
    w: &PackedI8,
    ep: Epilogue<'_>,
    out: &mut [f32],
    kernel: Kernel,
) -> Result<()> {
    let (k, n, kp) = (w.k, w.n, w.kp);
    let avail = (kernel.available(), kernel.name());
    check_product("int8 matmul", x, m, k, out, n, &ep, avail)?;
    if m == 0 {
        return Ok(());
    }
    // AMX takes whole 64-byte slices of k; other weights run on the AVX512-VNNI kernel
    let kernel = match kernel {
        Kernel::Amx if kp % 64 != 0 => Kernel::Vnni,
        other => other,
    };
    // AMX reads rows in groups of 32: the quantized rows are padded with zeros to a multiple
    let rows = if kernel == Kernel::Amx {
        m.div_ceil(32) * 32
    } else {
        m
    };
    let mut q = vec![0u8; rows * kp];
    let mut sx = vec![0f32; m];
    let mut zx = vec![0i32; m];
    let quantizer = if kernel == Kernel::Amx {
        Kernel::Vnni
    } else {
        kernel
    };
    quantize_rows(x, k, kp, &mut q[..m * kp], &mut sx, &mut zx, quantizer);
    // the AVX2 kernel reads the activations widened to i16 (one 8-byte broadcast per 4 of them)
    let q16: Vec<i16> = if kernel == Kernel::Avx2 {
        q.par_iter()
            .with_min_len(1 << 14)
            .map(|&v| v as i16)
            .collect()
    } else {
        Vec::new()
    };
    let ptr = SendPtr(out.as_mut_ptr());
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if kernel == Kernel::Amx {
        super::amx::for_each_task(m, n, |r0, blocks| {
            let p = ptr;
            // SAFETY: the CPU runs the AMX kernel (checked above), kp is a multiple of 64 and
            // `q` holds the rows rounded up to 32; each task writes its own cells of `out`.
            unsafe { amx_task(&q, &sx, &zx, m, r0, blocks, w, ep, p.0) }
        });
        return Ok(());
    }
    for_each_tile(m, n, |r, rows, block, nblk| {
        let p = ptr;
        let tile = Tile {
            q: &q[r * kp..],
            q16: q16.get(r * kp..).unwrap_or_default(),
            sx: &sx[r..],
            zx: &zx[r..],
            rows,
            block,
            nblk,
            row0: r,
        };
        // SAFETY: `out` holds m x n floats; this call alone writes rows r..r+rows of the columns
        // of blocks block..block+nblk (`for_each_tile` visits each tile once). The CPU runs
        // `kernel` (checked above).
        unsafe {
            match kernel {
                #[cfg(target_arch = "x86_64")]
                Kernel::Vnni | Kernel::Amx => vnni::tile(&tile, w, ep, p.0),
                #[cfg(target_arch = "x86_64")]
                Kernel::AvxVnni => avxvnni::tile(&tile, w, ep, p.0),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 => avx2::tile(&tile, w, ep, p.0),
                _ => tile_portable(&tile, w, ep, p.0),
            }
        }
    });
    Ok(())
}

/// Up to `MR` quantized rows against `nblk` (up to `NC`) 16-column blocks.
struct Tile<'a> {
    q: &'a [u8],
    /// `q` widened to i16 (AVX2 kernel only, else empty).
    q16: &'a [i16],
    sx: &'a [f32],
    zx: &'a [i32],
    rows: usize,
    block: usize,
    nblk: usize,
    row0: usize,
}

/// The scaling shared by every kernel: `(acc - z colsum) * (s_x s_w) + bias` with one rounding.
#[inline(always)]
fn dequant(acc: i32, zx: i32, colsum: i32, sx: f32, sw: f32, bias: f32) -> f32 {
    ((acc - zx * colsum) as f32).mul_add(sx * sw, bias)
}

/// # Safety
/// `out` must point to an `m x n` buffer containing the tile's cells.
#[allow(clippy::needless_range_loop)]
unsafe fn tile_portable(t: &Tile<'_>, w: &PackedI8, ep: Epilogue<'_>, out: *mut f32) {
    let (kp, n) = (w.kp, w.n);
    for block in t.block..t.block + t.nblk {
        let panel = &w.data[block * kp * NB..(block + 1) * kp * NB];
        let j0 = block * NB;
        let cols = (n - j0).min(NB);
        for r in 0..t.rows {
            let a = &t.q[r * kp..(r + 1) * kp];
            let mut acc = [0i32; NB];
            for (g, a4) in a.chunks_exact(4).enumerate() {
                let b = &panel[g * NB * 4..(g + 1) * NB * 4];
                for (c, acc_c) in acc.iter_mut().enumerate() {
                    let b4 = &b[c * 4..c * 4 + 4];
                    *acc_c += (0..4).map(|i| a4[i] as i32 * b4[i] as i32).sum::<i32>();
                }
            }
            for c in 0..cols {
                let j = j0 + c;
                let bj = ep.bias.map_or(0.0, |b| b[j]);
                let y = dequant(acc[c], t.zx[r], w.colsum[j], t.sx[r], w.scales[j], bj);
                // SAFETY: (row0 + r, j) is inside the m x n output (the caller's contract).
                *out.add((t.row0 + r) * n + j) = ep.act(y);
            }
        }
    }
}

/// Defines, in a kernel module, `tile(t, w, ep, out)`: compiled for `$features`, it runs
/// `$kernel::<R, C>` for the tile's `R` rows (1..=[`MR`]) and `C` blocks (1..=[`NC`]).
#[cfg(target_arch = "x86_64")]
macro_rules! dispatch_tiles {
    ($features:literal, $tile:ty, $packed:ty, $kernel:ident) => {
        /// # Safety
        /// The CPU must support the module's instructions; `out` as for `tile_portable`.
        #[target_feature(enable = $features)]
        pub(super) unsafe fn tile(t: &$tile, w: &$packed, ep: Epilogue<'_>, out: *mut f32) {
            debug_assert!(t.rows <= MR && t.nblk <= NC);
            match t.nblk {
                4 => rows::<4>(t, w, ep, out),
                3 => rows::<3>(t, w, ep, out),
                2 => rows::<2>(t, w, ep, out),
                _ => rows::<1>(t, w, ep, out),
            }
        }

        #[inline]
        #[target_feature(enable = $features)]
        unsafe fn rows<const C: usize>(t: &$tile, w: &$packed, ep: Epilogue<'_>, out: *mut f32) {
            match t.rows {
                6 => $kernel::<6, C>(t, w, ep, out),
                5 => $kernel::<5, C>(t, w, ep, out),
                4 => $kernel::<4, C>(t, w, ep, out),
                3 => $kernel::<3, C>(t, w, ep, out),
                2 => $kernel::<2, C>(t, w, ep, out),
                _ => $kernel::<1, C>(t, w, ep, out),
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use dispatch_tiles;

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{Epilogue, PackedI8, Tile, MR, NB, NC};
    use crate::kernels::simd::{gelu_v, Avx512};
    use std::arch::x86_64::*;

    dispatch_tiles!(
        "avx512f,avx512bw,avx512vnni,fma",
        Tile<'_>,
        PackedI8,
        tile_rc
    );

    /// `R` rows x `C` blocks: `R x C` i32 accumulators; per group of 4 `k`, `C` weight loads and
    /// `R` 4-byte activation broadcasts feed `R x C` `vpdpbusd`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma")]
    #[allow(clippy::needless_range_loop)]
    unsafe fn tile_rc<const R: usize, const C: usize>(
        t: &Tile<'_>,
        w: &PackedI8,
        ep: Epilogue<'_>,
        out: *mut f32,
    ) {
        let (kp, n) = (w.kp, w.n);
        let panel = w.data.as_ptr().add(t.block * kp * NB);
        let mut acc = [[_mm512_setzero_si512(); C]; R];
        let a = t.q.as_ptr();
        for g in 0..kp / 4 {
            // SAFETY: each of the C consecutive block panels holds kp / 4 groups of 64 bytes;
            // each row holds kp bytes.
            let mut b = [_mm512_setzero_si512(); C];
            for c in 0..C {
                b[c] = _mm512_loadu_si512(panel.add(c * kp * NB + g * 64) as *const __m512i);
            }
            for r in 0..R {
                let a4 = (a.add(r * kp + g * 4) as *const i32).read_unaligned();
                let av = _mm512_set1_epi32(a4);
                for c in 0..C {
                    acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], av, b[c]);
                }
            }
        }
        for c in 0..C {
            let j0 = (t.block + c) * NB;
            let mask = super::block_mask(n, j0);
            let sw = _mm512_maskz_loadu_ps(mask, w.scales.as_ptr().add(j0));
            let cs = _mm512_maskz_loadu_epi32(mask, w.colsum.as_ptr().add(j0));
            let bv = match ep.bias {
                Some(b) => _mm512_maskz_loadu_ps(mask, b.as_ptr().add(j0)),
                None => _mm512_setzero_ps(),
            };
            for r in 0..R {
                let at = out.add((t.row0 + r) * n + j0);
                finish_row(acc[r][c], t.sx[r], t.zx[r], [sw, bv], cs, ep.gelu, at, mask);
            }
        }
    }

    /// The epilogue of one row of a 16-column block: `(acc - zx colsum) * (sx sw) + bias`, then
    /// GELU when `gelu`, stored to the `mask` lanes at `at` (`swb`: the block's scales and bias).
    ///
    /// # Safety
    /// The CPU must support AVX-512F/BW and FMA; `at` must be valid for the `mask` lanes.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn finish_row(
        acc: __m512i,
        sx: f32,
        zx: i32,
        [sw, bv]: [__m512; 2],
        cs: __m512i,
        gelu: bool,
        at: *mut f32,
        mask: __mmask16,
    ) {
        let scale = _mm512_mul_ps(_mm512_set1_ps(sx), sw);
        let zc = _mm512_mullo_epi32(_mm512_set1_epi32(zx), cs);
        let v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, zc));
        let mut y = _mm512_fmadd_ps(v, scale, bv);
        if gelu {
            y = gelu_v::<Avx512>(y);
        }
        _mm512_mask_storeu_ps(at, mask, y);
    }

    /// The scales, bias and weight column sums of the block at column `j0` (zeros past `n`).
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[inline(always)]
    pub(super) unsafe fn block_consts(
        w: &PackedI8,
        ep: Epilogue<'_>,
        j0: usize,
        mask: __mmask16,
    ) -> ([__m512; 2], __m512i) {
        let sw = _mm512_maskz_loadu_ps(mask, w.scales.as_ptr().add(j0));
        let cs = _mm512_maskz_loadu_epi32(mask, w.colsum.as_ptr().add(j0));
        let bv = match ep.bias {
            Some(b) => _mm512_maskz_loadu_ps(mask, b.as_ptr().add(j0)),
            None => _mm512_setzero_ps(),
        };
        ([sw, bv], cs)
    }
}

/// The int8 products on AMX (see module `amx`): `tdpbusd` tiles, finished by the AVX-512 epilogue.
///
/// # Safety
/// As `amx::tiles` (`q` holds `m` rounded up to 32 rows of `w.kp` bytes, a multiple of 64), and the
/// CPU supports AVX-512F/BW and FMA.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[target_feature(enable = "avx512f,avx512bw,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn amx_task(
    q: &[u8],
    sx: &[f32],
    zx: &[i32],
    m: usize,
    r0: usize,
    blocks: std::ops::Range<usize>,
    w: &PackedI8,
    ep: Epilogue<'_>,
    out: *mut f32,
) {
    let (kp, n) = (w.kp, w.n);
    let panels = w.data.as_ptr() as *const u8;
    super::amx::tiles::<false>(
        q.as_ptr(),
        kp,
        m,
        r0,
        blocks,
        panels,
        kp * NB,
        |blk, rows| {
            let j0 = blk * NB;
            let mask = block_mask(n, j0);
            let (swb, cs) = vnni::block_consts(w, ep, j0, mask);
            for (r, acc) in rows {
                vnni::finish_row(
                    acc,
                    sx[r],
                    zx[r],
                    swb,
                    cs,
                    ep.gelu,
                    out.add(r * n + j0),
                    mask,
                );
            }
        },
    );
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Epilogue, PackedI8, Tile, MR, NB};
    use crate::kernels::simd::{gelu_v, Avx2, Simd};
    use std::arch::x86_64::*;

    /// Rows per register tile: 4 rows x 8 columns x (2 i32 partial sums) in 8 ymm registers.
    const R: usize = 4;

    /// # Safety
    /// The CPU must support AVX2 and FMA; `t.q16` must hold the tile's rows; `out` as for
    /// `tile_portable`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile(t: &Tile<'_>, w: &PackedI8, ep: Epilogue<'_>, out: *mut f32) {
        debug_assert!(t.rows <= MR && t.q16.len() >= t.rows * w.kp);
        for block in t.block..t.block + t.nblk {
            let mut r = 0;
            while r < t.rows {
                let n = (t.rows - r).min(R);
                for half in 0..2 {
                    match n {
                        4 => rows_n::<4>(t, r, block, half, w, ep, out),
                        3 => rows_n::<3>(t, r, block, half, w, ep, out),
                        2 => rows_n::<2>(t, r, block, half, w, ep, out),
                        _ => rows_n::<1>(t, r, block, half, w, ep, out),
                    }
                }
                r += n;
            }
        }
    }

    /// Rows `r..r + N` of the tile against columns `8 half .. 8 half + 8` of `block`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
    unsafe fn rows_n<const N: usize>(
        t: &Tile<'_>,
        r: usize,
        block: usize,
        half: usize,
        w: &PackedI8,
        ep: Epilogue<'_>,
        out: *mut f32,
    ) {
        let kp = w.kp;
        let j0 = block * NB + half * 8;
        if j0 >= w.n {
            return;
        }
        // SAFETY: the block's panel holds kp / 4 groups of 64 bytes (16 columns x 4); this half
        // is bytes 32 half .. 32 half + 32 of each group. Rows hold kp i16 values.
        let panel = w.data.as_ptr().add(block * kp * NB + half * 32);
        let a = t.q16.as_ptr().add(r * kp);
        // acc[i][c]: row i, columns 4c..4c+4 of the half, lanes (column, k % 4 / 2)
        let mut acc = [[_mm256_setzero_si256(); 2]; N];
        for g in 0..kp / 4 {
            let b = panel.add(g * 64) as *const __m128i;
            let b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(b));
            let b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(b.add(1)));
            for i in 0..N {
                let a4 = (a.add(i * kp + g * 4) as *const i64).read_unaligned();
                let av = _mm256_set1_epi64x(a4);
                acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(b0, av));
                acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(b1, av));
            }
        }
        let cols = Cols::new(w, ep, j0);
        for i in 0..N {
            // pairwise sums: [c0 c1 c4 c5 | c2 c3 c6 c7], then columns in order
            let sums = _mm256_hadd_epi32(acc[i][0], acc[i][1]);
            let sums = _mm256_permute4x64_epi64::<0b11_01_10_00>(sums);
            cols.store(sums, t, r + i, ep, out);
        }
    }

    /// The per-column epilogue values of 8 columns from `j0` (the last group may be partial).
    pub(super) struct Cols {
        j0: usize,
        n: usize,
        cols: usize,
        sw: __m256,
        cs: __m256i,
        bv: __m256,
    }

    impl Cols {
        #[inline(always)]
        pub(super) unsafe fn new(w: &PackedI8, ep: Epilogue<'_>, j0: usize) -> Cols {
            let cols = (w.n - j0).min(8);
            let (sw, cs, bv);
            if cols == 8 {
                sw = _mm256_loadu_ps(w.scales.as_ptr().add(j0));
                cs = _mm256_loadu_si256(w.colsum.as_ptr().add(j0) as *const __m256i);
                bv = ep
                    .bias
                    .map_or(_mm256_setzero_ps(), |b| _mm256_loadu_ps(b.as_ptr().add(j0)));
            } else {
                let m = crate::kernels::simd::first_lanes(cols);
                sw = _mm256_maskload_ps(w.scales.as_ptr().add(j0), m);
                cs = _mm256_maskload_epi32(w.colsum.as_ptr().add(j0), m);
                bv = ep.bias.map_or(_mm256_setzero_ps(), |b| {
                    _mm256_maskload_ps(b.as_ptr().add(j0), m)
                });
            }
            Cols {
                j0,
                n: w.n,
                cols,
                sw,
                cs,
                bv,
            }
        }

        /// Scale the i32 sums (columns in order) of tile row `i`, apply the epilogue, store.
        #[inline(always)]
        pub(super) unsafe fn store(
            &self,
            sums: __m256i,
            t: &Tile<'_>,
            i: usize,
            ep: Epilogue<'_>,
            out: *mut f32,
        ) {
            let scale = _mm256_mul_ps(_mm256_set1_ps(t.sx[i]), self.sw);
            let zc = _mm256_mullo_epi32(_mm256_set1_epi32(t.zx[i]), self.cs);
            let v = _mm256_cvtepi32_ps(_mm256_sub_epi32(sums, zc));
            let mut y = _mm256_fmadd_ps(v, scale, self.bv);
            if ep.gelu {
                y = gelu_v::<Avx2>(y);
            }
            let at = out.add((t.row0 + i) * self.n + self.j0);
            if self.cols == 8 {
                Avx2::store(at, y);
            } else {
                Avx2::store_first(at, self.cols, y);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avxvnni {
    use super::avx2::Cols;
    use super::{Epilogue, PackedI8, Tile, MR, NB};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must support AVX-VNNI, AVX2 and FMA; `out` as for `tile_portable`.
    #[target_feature(enable = "avx2,fma,avxvnni")]
    pub(super) unsafe fn tile(t: &Tile<'_>, w: &PackedI8, ep: Epilogue<'_>, out: *mut f32) {
        debug_assert!(t.rows <= MR);
        for block in t.block..t.block + t.nblk {
            match t.rows {
                6 => rows_n::<6>(t, block, w, ep, out),
                5 => rows_n::<5>(t, block, w, ep, out),
                4 => rows_n::<4>(t, block, w, ep, out),
                3 => rows_n::<3>(t, block, w, ep, out),
                2 => rows_n::<2>(t, block, w, ep, out),
                _ => rows_n::<1>(t, block, w, ep, out),
            }
        }
    }

    /// The tile's `N` rows against the 16 columns of `block`: 2N ymm accumulators of 8 columns.
    #[inline]
    #[target_feature(enable = "avx2,fma,avxvnni")]
    #[allow(clippy::needless_range_loop)]
    unsafe fn rows_n<const N: usize>(
        t: &Tile<'_>,
        block: usize,
        w: &PackedI8,
        ep: Epilogue<'_>,
        out: *mut f32,
    ) {
        let kp = w.kp;
        // SAFETY: the block's panel holds kp / 4 groups of 64 bytes; rows hold kp bytes.
        let panel = w.data.as_ptr().add(block * kp * NB);
        let a = t.q.as_ptr();
        let mut acc = [[_mm256_setzero_si256(); 2]; N];
        for g in 0..kp / 4 {
            let b = panel.add(g * 64) as *const __m256i;
            let (b0, b1) = (_mm256_loadu_si256(b), _mm256_loadu_si256(b.add(1)));
            for i in 0..N {
                let av = _mm256_set1_epi32((a.add(i * kp + g * 4) as *const i32).read_unaligned());
                acc[i][0] = _mm256_dpbusd_avx_epi32(acc[i][0], av, b0);
                acc[i][1] = _mm256_dpbusd_avx_epi32(acc[i][1], av, b1);
            }
        }
        for half in 0..2 {
            let j0 = block * NB + half * 8;
            if j0 >= w.n {
                break;
            }
            let cols = Cols::new(w, ep, j0);
            for i in 0..N {
                cols.store(acc[i][half], t, i, ep, out);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-1, 1] (xorshift).
    pub(crate) fn data(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn every_kernel_agrees_with_the_portable_one_bitwise() {
        for &(m, k, n) in &[
            (1, 4, 16),
            (13, 37, 40),
            (70, 384, 48),
            (9, 5, 3),
            (130, 64, 200),
            (100, 96, 130),
            (7, 1536, 64),
        ] {
            let x = data(m * k, 1);
            let w = PackedI8::new(&data(k * n, 2), k, n).unwrap();
            let bias = data(n, 3);
            let with_bias = Epilogue {
                bias: Some(&bias),
                gelu: false,
            };
            let mut want = vec![1f32; m * n];
            matmul_i8(&x, m, &w, with_bias, &mut want, true).unwrap();
            let available: Vec<Kernel> =
                Kernel::ALL.into_iter().filter(|k| k.available()).collect();
            for &kernel in &available {
                for b in [Some(&bias[..]), None] {
                    let ep = Epilogue {
                        bias: b,
                        gelu: false,
                    };
                    let mut got = vec![0f32; m * n];
                    let mut plain = vec![1f32; m * n];
                    matmul_i8_with(&x, m, &w, ep, &mut got, kernel).unwrap();
                    matmul_i8_with(&x, m, &w, ep, &mut plain, Kernel::Portable).unwrap();
                    assert_eq!(got, plain, "{kernel:?} m={m} k={k} n={n}");
                }
            }
            // with GELU: the SIMD kernels agree bitwise, the portable one within rounding
            let ep = Epilogue {
                bias: Some(&bias),
                gelu: true,
            };
            let mut first: Option<Vec<f32>> = None;
            for &kernel in &available {
                let mut got = vec![0f32; m * n];
                matmul_i8_with(&x, m, &w, ep, &mut got, kernel).unwrap();
                for (g, y) in got.iter().zip(&want) {
                    let z = *y as f64;
                    let exact = 0.5
                        * z
                        * (1.0 + crate::kernels::erf((z / std::f64::consts::SQRT_2) as f32) as f64);
                    assert!(
                        (*g as f64 - exact).abs() <= 1e-6 * (1.0 + z.abs()),
                        "{kernel:?}: {g} vs {exact}"
                    );
                }
                match (&first, kernel) {
                    (_, Kernel::Portable) => {}
                    (None, _) => first = Some(got),
                    (Some(f), _) => assert_eq!(&got, f, "{kernel:?} with GELU m={m} k={k} n={n}"),
                }
            }
            let mut a = vec![0f32; m * n];
            matmul_i8(&x, m, &w, with_bias, &mut a, false).unwrap();
            assert_eq!(a, want, "m={m} k={k} n={n}");
        }
    }

    #[test]
    fn row_quantizers_agree_bitwise() {
        let mut x = data(3 * 37, 9);
        x[5] = f32::NAN;
        x[40] = -0.0;
        x[80] = 1e-40;
        for k in [1usize, 15, 16, 17, 37] {
            for row in x.chunks(37) {
                let xr = &row[..k];
                let mut want = vec![0u8; k];
                let ws = quantize_row_scalar(xr, &mut want);
                #[cfg(target_arch = "x86_64")]
                for kernel in [Kernel::Vnni, Kernel::Avx2]
                    .into_iter()
                    .filter(|k| k.available())
                {
                    let mut got = vec![7u8; k];
                    // SAFETY: the CPU runs the kernel, which implies the quantizer's features.
                    let gs = unsafe {
                        match kernel {
                            Kernel::Vnni => quantize_row_avx512(xr, &mut got),
                            _ => quantize_row_avx2(xr, &mut got),
                        }
                    };
                    assert_eq!(
                        (got, gs.0.to_bits(), gs.1),
                        (want.clone(), ws.0.to_bits(), ws.1),
                        "{kernel:?} k={k}"
                    );
                }
            }
        }
    }

    #[test]
    fn close_to_the_float_product() {
        let (m, k, n) = (20, 300, 50);
        let x = data(m * k, 4);
        let wf = data(k * n, 5);
        let w = PackedI8::new(&wf, k, n).unwrap();
        let mut y = vec![0f32; m * n];
        matmul_i8(&x, m, &w, Epilogue::default(), &mut y, false).unwrap();
        let mut err = 0f64;
        let mut norm = 0f64;
        for i in 0..m {
            for j in 0..n {
                let exact: f64 = (0..k)
                    .map(|t| x[i * k + t] as f64 * wf[t * n + j] as f64)
                    .sum();
                err += (y[i * n + j] as f64 - exact).powi(2);
                norm += exact * exact;
            }
        }
        assert!(
            (err / norm).sqrt() < 0.02,
            "relative error {}",
            (err / norm).sqrt()
        );
        // the dequantized weights are within half a step of the originals
        for (j, (a, b)) in w.dequantized().iter().zip(&wf).enumerate() {
            assert!((a - b).abs() <= w.scales[j % n] * 0.5 + 1e-6);
        }
    }

    #[test]
    fn zero_rows_and_bad_shapes() {
        let w = PackedI8::new(&data(8 * 16, 6), 8, 16).unwrap();
        let mut y = vec![5f32; 2 * 16];
        matmul_i8(&[0.0; 16], 2, &w, Epilogue::default(), &mut y, false).unwrap();
        assert!(y.iter().all(|v| *v == 0.0));
        assert!(matmul_i8(&[0.0; 15], 2, &w, Epilogue::default(), &mut y, false).is_err());
        assert!(matmul_i8(
            &[0.0; 16],
            2,
            &w,
            Epilogue {
                bias: Some(&[0.0; 3]),
                gelu: false
            },
            &mut y,
            false
        )
        .is_err());
        assert!(PackedI8::new(&[0.0; 7], 2, 4).is_err());
        assert!(PackedI8::new(&[f32::NAN; 8], 2, 4).is_err());
    }
}
