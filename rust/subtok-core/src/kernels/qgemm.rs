//! Dynamically quantized int8 matrix products `y = x W` for the encoder's dense layers.
//!
//! * Weights `W` (`k x n`, row-major, as the encoder stores them pre-transposed) are quantized once,
//!   per output column (channel): `scale[j] = max_i |W[i, j]| / 127`, `q = round(W / scale)` in
//!   `[-127, 127]`, and packed in blocks of 16 columns: for each group of 4 consecutive `k`, the
//!   16 columns' 4 bytes (64 bytes, one AVX-512 register). `k` is padded to a multiple of 4 with
//!   zero weights.
//! * Activations are quantized per row to `u8` (what the `u8 x i8` dot-product instructions take),
//!   asymmetrically: `s = (max - min) / 255` over the row (the range always includes 0), zero point
//!   `z = round(-min / s)`, `q = clamp(round(x / s) + z, 0, 255)`. The zero point is removed with the
//!   column sums of the quantized weights: `sum q_x q_w - z sum q_w = sum (q_x - z) q_w`.
//! * The product runs on AVX512-VNNI (`vpdpbusd`: four `u8 x i8` products summed into each i32
//!   lane) when the CPU has it, else on AVX2 (`vpmaddwd` on operands widened to i16: two
//!   products summed into each i32 lane), else on a portable loop over the same packed layout.
//!   All give bit-identical results: the i32 sums are exact and the float epilogue
//!   `y = acc * (s_x s_w) + bias` is one fused multiply-add in each.
use crate::error::{Error, Result};
use rayon::prelude::*;

/// Columns per packed block (one 512-bit register of i32 lanes).
pub const NB: usize = 16;
/// Rows of `x` per micro-kernel call.
const MR: usize = 8;
/// Rows of `x` per parallel task.
const ROWS_PER_TASK: usize = 64;
/// Column blocks per parallel task.
const BLOCKS_PER_TASK: usize = 8;

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

/// Quantize rows of `k` values to `u8` padded to `kp` (with the zero point); fills the per-row
/// scales and zero points.
fn quantize_rows(
    x: &[f32],
    k: usize,
    kp: usize,
    q: &mut [u8],
    scales: &mut [f32],
    zps: &mut [i32],
) {
    q.par_chunks_mut(kp)
        .zip(x.par_chunks(k))
        .zip(scales.par_iter_mut().zip(zps.par_iter_mut()))
        .with_min_len(16)
        .for_each(|((qr, xr), (s, z))| {
            let (lo, hi) = xr
                .iter()
                .fold((0f32, 0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            let range = hi - lo;
            let (inv, zp) = if range > 0.0 {
                let inv = 255.0 / range;
                (inv, (-lo * inv).round_ties_even().clamp(0.0, 255.0))
            } else {
                (0.0, 0.0)
            };
            *s = range / 255.0;
            *z = zp as i32;
            for (o, v) in qr.iter_mut().zip(xr) {
                *o = (v.mul_add(inv, zp)).round_ties_even().clamp(0.0, 255.0) as u8;
            }
            for o in qr[k..].iter_mut() {
                *o = zp as u8;
            }
        });
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: every task writes a disjoint set of output cells through the pointer.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

/// Whether the int8 products run on AVX512-VNNI on this CPU.
pub fn vnni_available() -> bool {
    best_kernel() == Kernel::Vnni
}

/// The int8 product kernels, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// AVX512-VNNI + AVX512-BW.
    Vnni,
    /// AVX2 + FMA.
    Avx2,
    /// Plain Rust.
    Portable,
}

impl Kernel {
    /// A short name: "avx512-vnni", "avx2" or "portable".
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Vnni => "avx512-vnni",
            Kernel::Avx2 => "avx2",
            Kernel::Portable => "portable",
        }
    }

    /// Whether this CPU runs the kernel.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::is_x86_feature_detected as has;
            match self {
                Kernel::Vnni => has!("avx512vnni") && has!("avx512bw") && has!("fma"),
                Kernel::Avx2 => has!("avx2") && has!("fma"),
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
    [Kernel::Vnni, Kernel::Avx2]
        .into_iter()
        .find(|k| k.available())
        .unwrap_or(Kernel::Portable)
}

/// `out (m x n) = x (m x k) W`, with `x` quantized per row on the fly and `W` packed by
/// [`PackedI8::new`]; `bias` (n) is added when given. `portable` forces the non-SIMD kernel.
pub fn matmul_i8(
    x: &[f32],
    m: usize,
    w: &PackedI8,
    bias: Option<&[f32]>,
    out: &mut [f32],
    portable: bool,
) -> Result<()> {
    let kernel = if portable {
        Kernel::Portable
    } else {
        best_kernel()
    };
    matmul_i8_with(x, m, w, bias, out, kernel)
}

/// [`matmul_i8`] on the given kernel (which the CPU must run: [`Kernel::available`]).
pub fn matmul_i8_with(
    x: &[f32],
    m: usize,
    w: &PackedI8,
    bias: Option<&[f32]>,
    out: &mut [f32],
    kernel: Kernel,
) -> Result<()> {
    let (k, n, kp) = (w.k, w.n, w.kp);
    if x.len() != m * k || out.len() != m * n {
        return Err(Error::invalid(format!(
            "int8 matmul: x has {} values and out {} for m={m}, k={k}, n={n}",
            x.len(),
            out.len()
        )));
    }
    if bias.is_some_and(|b| b.len() != n) {
        return Err(Error::invalid(
            "int8 matmul: bias length differs from the output width",
        ));
    }
    if !kernel.available() {
        return Err(Error::invalid(format!(
            "int8 matmul: this CPU does not run the {} kernel",
            kernel.name()
        )));
    }
    if m == 0 {
        return Ok(());
    }
    let mut q = vec![0u8; m * kp];
    let mut sx = vec![0f32; m];
    let mut zx = vec![0i32; m];
    quantize_rows(x, k, kp, &mut q, &mut sx, &mut zx);
    // the AVX2 kernel reads the activations widened to i16 (one 8-byte broadcast per 4 of them)
    let q16: Vec<i16> = if kernel == Kernel::Avx2 {
        q.par_iter()
            .with_min_len(1 << 14)
            .map(|&v| v as i16)
            .collect()
    } else {
        Vec::new()
    };
    let nblocks = n.div_ceil(NB);
    let row_tasks = m.div_ceil(ROWS_PER_TASK);
    let col_tasks = nblocks.div_ceil(BLOCKS_PER_TASK);
    let ptr = SendPtr(out.as_mut_ptr());
    (0..row_tasks * col_tasks).into_par_iter().for_each(|t| {
        let p = ptr;
        let (rt, ct) = (t / col_tasks, t % col_tasks);
        let r0 = rt * ROWS_PER_TASK;
        let r1 = (r0 + ROWS_PER_TASK).min(m);
        let b0 = ct * BLOCKS_PER_TASK;
        let b1 = (b0 + BLOCKS_PER_TASK).min(nblocks);
        for b in b0..b1 {
            let mut r = r0;
            while r < r1 {
                let rows = (r1 - r).min(MR);
                let tile = Tile {
                    q: &q[r * kp..],
                    q16: q16.get(r * kp..).unwrap_or_default(),
                    sx: &sx[r..],
                    zx: &zx[r..],
                    rows,
                    block: b,
                    row0: r,
                };
                // SAFETY: `out` holds m x n floats; this task alone writes rows r..r+rows of
                // columns in block b (tasks split rows and blocks without overlap). The CPU runs
                // `kernel` (checked above).
                unsafe {
                    match kernel {
                        #[cfg(target_arch = "x86_64")]
                        Kernel::Vnni => vnni::tile(&tile, w, bias, p.0),
                        #[cfg(target_arch = "x86_64")]
                        Kernel::Avx2 => avx2::tile(&tile, w, bias, p.0),
                        _ => tile_portable(&tile, w, bias, p.0),
                    }
                }
                r += rows;
            }
        }
    });
    Ok(())
}

/// Up to `MR` quantized rows against one 16-column block.
struct Tile<'a> {
    q: &'a [u8],
    /// `q` widened to i16 (AVX2 kernel only, else empty).
    q16: &'a [i16],
    sx: &'a [f32],
    zx: &'a [i32],
    rows: usize,
    block: usize,
    row0: usize,
}

/// The epilogue shared by both kernels: `(acc - z colsum) * (s_x s_w) + bias` with one rounding.
#[inline(always)]
fn dequant(acc: i32, zx: i32, colsum: i32, sx: f32, sw: f32, bias: f32) -> f32 {
    ((acc - zx * colsum) as f32).mul_add(sx * sw, bias)
}

/// # Safety
/// `out` must point to an `m x n` buffer containing the tile's cells.
#[allow(clippy::needless_range_loop)]
unsafe fn tile_portable(t: &Tile<'_>, w: &PackedI8, bias: Option<&[f32]>, out: *mut f32) {
    let (kp, n) = (w.kp, w.n);
    let panel = &w.data[t.block * kp * NB..(t.block + 1) * kp * NB];
    let j0 = t.block * NB;
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
            let bj = bias.map_or(0.0, |b| b[j]);
            // SAFETY: (row0 + r, j) is inside the m x n output (the caller's contract).
            *out.add((t.row0 + r) * n + j) =
                dequant(acc[c], t.zx[r], w.colsum[j], t.sx[r], w.scales[j], bj);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{PackedI8, Tile, MR, NB};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must support AVX512-VNNI and AVX512-BW; `out` as for `tile_portable`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma")]
    pub(super) unsafe fn tile(t: &Tile<'_>, w: &PackedI8, bias: Option<&[f32]>, out: *mut f32) {
        match t.rows {
            8 => tile_n::<8>(t, w, bias, out),
            7 => tile_n::<7>(t, w, bias, out),
            6 => tile_n::<6>(t, w, bias, out),
            5 => tile_n::<5>(t, w, bias, out),
            4 => tile_n::<4>(t, w, bias, out),
            3 => tile_n::<3>(t, w, bias, out),
            2 => tile_n::<2>(t, w, bias, out),
            _ => tile_n::<1>(t, w, bias, out),
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,fma")]
    #[allow(clippy::needless_range_loop)]
    unsafe fn tile_n<const R: usize>(
        t: &Tile<'_>,
        w: &PackedI8,
        bias: Option<&[f32]>,
        out: *mut f32,
    ) {
        debug_assert!(R <= MR && t.rows == R);
        let (kp, n) = (w.kp, w.n);
        let panel = w.data.as_ptr().add(t.block * kp * NB);
        let mut acc = [_mm512_setzero_si512(); R];
        let a = t.q.as_ptr();
        for g in 0..kp / 4 {
            // SAFETY: the panel holds kp / 4 groups of 64 bytes; each row holds kp bytes.
            let b = _mm512_loadu_si512(panel.add(g * 64) as *const __m512i);
            for r in 0..R {
                let a4 = (a.add(r * kp + g * 4) as *const i32).read_unaligned();
                acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(a4), b);
            }
        }
        let j0 = t.block * NB;
        let cols = (n - j0).min(NB);
        let mask: __mmask16 = if cols == NB {
            0xFFFF
        } else {
            (1u16 << cols) - 1
        };
        let sw = _mm512_maskz_loadu_ps(mask, w.scales.as_ptr().add(j0));
        let cs = _mm512_maskz_loadu_epi32(mask, w.colsum.as_ptr().add(j0));
        let bv = match bias {
            Some(b) => _mm512_maskz_loadu_ps(mask, b.as_ptr().add(j0)),
            None => _mm512_setzero_ps(),
        };
        for r in 0..R {
            let scale = _mm512_mul_ps(_mm512_set1_ps(t.sx[r]), sw);
            let zc = _mm512_mullo_epi32(_mm512_set1_epi32(t.zx[r]), cs);
            let v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r], zc));
            let y = _mm512_fmadd_ps(v, scale, bv);
            _mm512_mask_storeu_ps(out.add((t.row0 + r) * n + j0), mask, y);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{PackedI8, Tile, MR, NB};
    use crate::kernels::simd::{Avx2, Simd};
    use std::arch::x86_64::*;

    /// Rows per register tile: 4 rows x 8 columns x (2 i32 partial sums) in 8 ymm registers.
    const R: usize = 4;

    /// # Safety
    /// The CPU must support AVX2 and FMA; `t.q16` must hold the tile's rows; `out` as for
    /// `tile_portable`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile(t: &Tile<'_>, w: &PackedI8, bias: Option<&[f32]>, out: *mut f32) {
        debug_assert!(t.rows <= MR && t.q16.len() >= t.rows * w.kp);
        let mut r = 0;
        while r < t.rows {
            let n = (t.rows - r).min(R);
            for half in 0..2 {
                match n {
                    4 => rows_n::<4>(t, r, half, w, bias, out),
                    3 => rows_n::<3>(t, r, half, w, bias, out),
                    2 => rows_n::<2>(t, r, half, w, bias, out),
                    _ => rows_n::<1>(t, r, half, w, bias, out),
                }
            }
            r += n;
        }
    }

    /// Rows `r..r + N` of the tile against columns `8 half .. 8 half + 8` of its block.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::needless_range_loop)]
    unsafe fn rows_n<const N: usize>(
        t: &Tile<'_>,
        r: usize,
        half: usize,
        w: &PackedI8,
        bias: Option<&[f32]>,
        out: *mut f32,
    ) {
        let (kp, n) = (w.kp, w.n);
        let j0 = t.block * NB + half * 8;
        if j0 >= n {
            return;
        }
        // SAFETY: the block's panel holds kp / 4 groups of 64 bytes (16 columns x 4); this half
        // is bytes 32 half .. 32 half + 32 of each group. Rows hold kp i16 values.
        let panel = w.data.as_ptr().add(t.block * kp * NB + half * 32);
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
        let cols = (n - j0).min(8);
        let (sw, cs, bv);
        if cols == 8 {
            sw = _mm256_loadu_ps(w.scales.as_ptr().add(j0));
            cs = _mm256_loadu_si256(w.colsum.as_ptr().add(j0) as *const __m256i);
            bv = bias.map_or(_mm256_setzero_ps(), |b| _mm256_loadu_ps(b.as_ptr().add(j0)));
        } else {
            let m = crate::kernels::simd::first_lanes(cols);
            sw = _mm256_maskload_ps(w.scales.as_ptr().add(j0), m);
            cs = _mm256_maskload_epi32(w.colsum.as_ptr().add(j0), m);
            bv = bias.map_or(_mm256_setzero_ps(), |b| {
                _mm256_maskload_ps(b.as_ptr().add(j0), m)
            });
        }
        for i in 0..N {
            // pairwise sums: [c0 c1 c4 c5 | c2 c3 c6 c7], then columns in order
            let sums = _mm256_hadd_epi32(acc[i][0], acc[i][1]);
            let sums = _mm256_permute4x64_epi64::<0b11_01_10_00>(sums);
            let row = t.row0 + r + i;
            let scale = _mm256_mul_ps(_mm256_set1_ps(t.sx[r + i]), sw);
            let zc = _mm256_mullo_epi32(_mm256_set1_epi32(t.zx[r + i]), cs);
            let v = _mm256_cvtepi32_ps(_mm256_sub_epi32(sums, zc));
            let y = _mm256_fmadd_ps(v, scale, bv);
            let at = out.add(row * n + j0);
            if cols == 8 {
                Avx2::store(at, y);
            } else {
                Avx2::store_first(at, cols, y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, seed: u32) -> Vec<f32> {
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
        ] {
            let x = data(m * k, 1);
            let w = PackedI8::new(&data(k * n, 2), k, n).unwrap();
            let bias = data(n, 3);
            let mut want = vec![1f32; m * n];
            matmul_i8(&x, m, &w, Some(&bias), &mut want, true).unwrap();
            for kernel in [Kernel::Vnni, Kernel::Avx2]
                .into_iter()
                .filter(|k| k.available())
            {
                for b in [Some(&bias[..]), None] {
                    let mut got = vec![0f32; m * n];
                    let mut plain = vec![1f32; m * n];
                    matmul_i8_with(&x, m, &w, b, &mut got, kernel).unwrap();
                    matmul_i8_with(&x, m, &w, b, &mut plain, Kernel::Portable).unwrap();
                    assert_eq!(got, plain, "{kernel:?} m={m} k={k} n={n}");
                }
            }
            let mut a = vec![0f32; m * n];
            matmul_i8(&x, m, &w, Some(&bias), &mut a, false).unwrap();
            assert_eq!(a, want, "m={m} k={k} n={n}");
        }
    }

    #[test]
    fn close_to_the_float_product() {
        let (m, k, n) = (20, 300, 50);
        let x = data(m * k, 4);
        let wf = data(k * n, 5);
        let w = PackedI8::new(&wf, k, n).unwrap();
        let mut y = vec![0f32; m * n];
        matmul_i8(&x, m, &w, None, &mut y, false).unwrap();
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
        matmul_i8(&[0.0; 16], 2, &w, None, &mut y, false).unwrap();
        assert!(y.iter().all(|v| *v == 0.0));
        assert!(matmul_i8(&[0.0; 15], 2, &w, None, &mut y, false).is_err());
        assert!(matmul_i8(&[0.0; 16], 2, &w, Some(&[0.0; 3]), &mut y, false).is_err());
        assert!(PackedI8::new(&[0.0; 7], 2, 4).is_err());
        assert!(PackedI8::new(&[f32::NAN; 8], 2, 4).is_err());
    }
}
