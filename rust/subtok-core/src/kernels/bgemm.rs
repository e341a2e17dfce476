//! bfloat16 matrix products `y = x W (+ bias, GELU)` for the encoder's dense layers
//! (`quantize="bf16"`), on AVX512-BF16.
//!
//! * Weights arrive as bf16 bit patterns (`k x n`, row-major, rounded from float32 by the caller)
//!   and are packed in blocks of 16 columns: for each pair of consecutive `k`, the 16 columns' two
//!   bf16 values (64 bytes, one AVX-512 register; `k` padded to even with zeros), the layout
//!   `vdpbf16ps` reads.
//! * Each call rounds the rows of `x` to bf16 (`vcvtneps2bf16`: to nearest even; subnormal inputs
//!   become zero) and accumulates `vdpbf16ps` products in float32: per lane and pair, the product of
//!   the odd elements is added, then the product of the even ones (bf16 products are exact in
//!   float32), subnormal inputs and results flushed to zero. Register tiles of `MR` rows x 64
//!   columns, tasks and the epilogue (bias, then optionally exact-erf GELU, on the tile in
//!   registers) are those of the int8 products (module `qgemm`).
//! * The portable kernel emulates these instructions exactly, to test the fast one against; the
//!   encoder only uses this module when the CPU has AVX512-BF16 (elsewhere a float32 product of the
//!   widened weights is faster than emulation).
use super::qgemm::{check_product, for_each_tile, Epilogue, SendPtr, MR, NB, NC};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// A bf16 weight matrix packed for the `vdpbf16ps` kernel.
#[derive(Clone, Debug)]
pub struct PackedBf16 {
    k: usize,
    n: usize,
    /// `k` rounded up to even.
    kp: usize,
    /// `[n / 16 blocks][kp / 2][16 columns][2]` bf16 bit patterns.
    data: Vec<u16>,
}

impl PackedBf16 {
    /// Pack the bf16 bit patterns of a row-major `k x n` weight matrix.
    pub fn new(bits: &[u16], k: usize, n: usize) -> Result<Self> {
        if k == 0 || n == 0 || bits.len() != k * n {
            return Err(Error::invalid(format!(
                "bf16 weights: {} values do not form a {k} x {n} matrix",
                bits.len()
            )));
        }
        let kp = k.div_ceil(2) * 2;
        let mut data = vec![0u16; n.div_ceil(NB) * kp * NB];
        for (i, row) in bits.chunks_exact(n).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                data[(j / NB) * kp * NB + (i / 2) * NB * 2 + (j % NB) * 2 + i % 2] = v;
            }
        }
        Ok(PackedBf16 { k, n, kp, data })
    }

    /// Rows of the weight matrix (the inner dimension of the product).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of the weight matrix (output features).
    pub fn n(&self) -> usize {
        self.n
    }
}

/// The bf16 product kernels, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bf16Kernel {
    /// AMX-BF16 tiles (`tdpbf16ps`; Linux, weights with `k` a multiple of 32; others run on
    /// [`Bf16Kernel::Avx512Bf16`]) with the AVX-512 epilogue.
    Amx,
    /// AVX512-BF16 (`vdpbf16ps`) + AVX512-BW.
    Avx512Bf16,
    /// Plain Rust emulating the instructions (for tests).
    Portable,
}

impl Bf16Kernel {
    /// A short name: "amx", "avx512-bf16" or "portable".
    pub fn name(self) -> &'static str {
        match self {
            Bf16Kernel::Amx => "amx",
            Bf16Kernel::Avx512Bf16 => "avx512-bf16",
            Bf16Kernel::Portable => "portable",
        }
    }

    /// Whether this CPU runs the kernel.
    pub fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Bf16Kernel::Avx512Bf16 => {
                use std::is_x86_feature_detected as has;
                has!("avx512bf16") && has!("avx512bw") && has!("avx512vl") && has!("fma")
            }
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            Bf16Kernel::Amx => Bf16Kernel::Avx512Bf16.available() && super::amx::ready(),
            #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
            Bf16Kernel::Amx => false,
            #[cfg(not(target_arch = "x86_64"))]
            Bf16Kernel::Avx512Bf16 => false,
            Bf16Kernel::Portable => true,
        }
    }

    /// The best kernel this CPU runs.
    pub fn best() -> Bf16Kernel {
        if Bf16Kernel::Amx.available() {
            Bf16Kernel::Amx
        } else if Bf16Kernel::Avx512Bf16.available() {
            Bf16Kernel::Avx512Bf16
        } else {
            Bf16Kernel::Portable
        }
    }
}

/// float32 -> bf16 as `vcvtneps2bf16` rounds: to nearest even, NaN quieted, subnormals to zero.
#[inline]
pub fn round_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        ((b >> 16) | 0x40) as u16
    } else if x.is_subnormal() {
        ((b >> 16) & 0x8000) as u16
    } else {
        ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) as u16
    }
}

/// A bf16 value as float32, subnormals read as zero (as `vdpbf16ps` reads them).
#[inline(always)]
fn widen_daz(v: u16) -> f32 {
    let f = f32::from_bits((v as u32) << 16);
    if f.is_subnormal() {
        0.0f32.copysign(f)
    } else {
        f
    }
}

/// `x`, with a subnormal result flushed to zero (as `vdpbf16ps` writes its sums).
#[inline(always)]
fn ftz(x: f32) -> f32 {
    if x.is_subnormal() {
        0.0f32.copysign(x)
    } else {
        x
    }
}

fn round_rows(x: &[f32], k: usize, kp: usize, q: &mut [u16], kernel: Bf16Kernel) {
    q.par_chunks_mut(kp)
        .zip(x.par_chunks(k))
        .with_min_len(16)
        .for_each(|(qr, xr)| {
            match kernel {
                // SAFETY: the caller checked that the CPU runs the kernel.
                #[cfg(target_arch = "x86_64")]
                Bf16Kernel::Avx512Bf16 | Bf16Kernel::Amx => unsafe {
                    fast::round_row(xr, &mut qr[..k])
                },
                _ => {
                    for (o, v) in qr.iter_mut().zip(xr) {
                        *o = round_bf16(*v);
                    }
                }
            }
            qr[k..].fill(0);
        });
}

/// `out (m x n) = bf16(x) (m x k) W`, then the epilogue (bias, GELU), on `kernel` (which the CPU
/// must run: [`Bf16Kernel::available`]).
pub fn matmul_bf16(
    x: &[f32],
    m: usize,
    w: &PackedBf16,
    ep: Epilogue<'_>,
    out: &mut [f32],
    kernel: Bf16Kernel,
) -> Result<()> {
    let (k, n, kp) = (w.k, w.n, w.kp);
    let avail = (kernel.available(), kernel.name());
    check_product("bf16 matmul", x, m, k, out, n, &ep, avail)?;
    if m == 0 {
        return Ok(());
    }
    // AMX takes whole 64-byte slices of k; other weights run on AVX512-BF16
    let kernel = match kernel {
        Bf16Kernel::Amx if kp % 32 != 0 => Bf16Kernel::Avx512Bf16,
        other => other,
    };
    // AMX reads rows in groups of 32: the rounded rows are padded with zeros to a multiple
    let rows = if kernel == Bf16Kernel::Amx {
        m.div_ceil(32) * 32
    } else {
        m
    };
    let mut q = vec![0u16; rows * kp];
    round_rows(x, k, kp, &mut q[..m * kp], kernel);
    let ptr = SendPtr(out.as_mut_ptr());
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if kernel == Bf16Kernel::Amx {
        super::amx::for_each_task(m, n, |r0, blocks| {
            let p = ptr;
            // SAFETY: the CPU runs the AMX kernel (checked above), 2 kp is a multiple of 64 and
            // `q` holds the rows rounded up to 32; each task writes its own cells of `out`.
            unsafe { fast::amx_task(&q, m, r0, blocks, w, ep, p.0) }
        });
        return Ok(());
    }
    for_each_tile(m, n, |r, rows, block, nblk| {
        let p = ptr;
        let t = Tile {
            q: &q[r * kp..],
            rows,
            block,
            nblk,
            row0: r,
        };
        // SAFETY: as in `qgemm::matmul_i8_with`: this call alone writes the tile's cells of the
        // m x n output, and the CPU runs `kernel` (checked above).
        unsafe {
            match kernel {
                #[cfg(target_arch = "x86_64")]
                Bf16Kernel::Avx512Bf16 | Bf16Kernel::Amx => fast::tile(&t, w, ep, p.0),
                _ => tile_portable(&t, w, ep, p.0),
            }
        }
    });
    Ok(())
}

/// Up to `MR` rounded rows against `nblk` (up to `NC`) 16-column blocks.
struct Tile<'a> {
    q: &'a [u16],
    rows: usize,
    block: usize,
    nblk: usize,
    row0: usize,
}

/// # Safety
/// `out` must point to an `m x n` buffer containing the tile's cells.
unsafe fn tile_portable(t: &Tile<'_>, w: &PackedBf16, ep: Epilogue<'_>, out: *mut f32) {
    let (kp, n) = (w.kp, w.n);
    for block in t.block..t.block + t.nblk {
        let panel = &w.data[block * kp * NB..(block + 1) * kp * NB];
        let j0 = block * NB;
        let cols = (n - j0).min(NB);
        for r in 0..t.rows {
            let a = &t.q[r * kp..(r + 1) * kp];
            let mut acc = [0f32; NB];
            for (g, a2) in a.chunks_exact(2).enumerate() {
                let (a0, a1) = (widen_daz(a2[0]), widen_daz(a2[1]));
                let b = &panel[g * NB * 2..(g + 1) * NB * 2];
                for (c, acc_c) in acc.iter_mut().enumerate() {
                    let (b0, b1) = (widen_daz(b[2 * c]), widen_daz(b[2 * c + 1]));
                    *acc_c = ftz(*acc_c + a1 * b1);
                    *acc_c = ftz(*acc_c + a0 * b0);
                }
            }
            for c in 0..cols {
                let j = j0 + c;
                let y = acc[c] + ep.bias.map_or(0.0, |b| b[j]);
                // SAFETY: (row0 + r, j) is inside the m x n output (the caller's contract).
                *out.add((t.row0 + r) * n + j) = ep.act(y);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod fast {
    use super::{Epilogue, PackedBf16, Tile, MR, NB, NC};
    use crate::kernels::qgemm::dispatch_tiles;
    use crate::kernels::simd::{gelu_v, Avx512};
    use std::arch::x86_64::*;

    /// Rounds `xr` to bf16 into `qr` (the same length).
    ///
    /// # Safety
    /// The CPU must support AVX512-BF16, AVX512-BW and AVX512-VL.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512bf16")]
    pub(super) unsafe fn round_row(xr: &[f32], qr: &mut [u16]) {
        let k = xr.len();
        let (p, q) = (xr.as_ptr(), qr.as_mut_ptr());
        let mut i = 0;
        while i + 16 <= k {
            let h: __m256i = std::mem::transmute(_mm512_cvtneps_pbh(_mm512_loadu_ps(p.add(i))));
            _mm256_storeu_si256(q.add(i) as *mut __m256i, h);
            i += 16;
        }
        if i < k {
            let mask = ((1u32 << (k - i)) - 1) as __mmask16;
            let h: __m256i =
                std::mem::transmute(_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, p.add(i))));
            _mm256_mask_storeu_epi16(q.add(i) as *mut i16, mask, h);
        }
    }

    dispatch_tiles!(
        "avx512f,avx512bw,avx512bf16,fma",
        Tile<'_>,
        PackedBf16,
        tile_rc
    );

    /// The bf16 products on AMX (module `amx`): `tdpbf16ps` tiles, then bias and GELU.
    ///
    /// # Safety
    /// As `amx::tiles` (`q` holds `m` rounded up to 32 rows of `w.kp` values, `2 kp` a multiple
    /// of 64), and the CPU supports AVX-512F/BW and FMA.
    #[cfg(target_os = "linux")]
    #[target_feature(enable = "avx512f,avx512bw,fma")]
    pub(super) unsafe fn amx_task(
        q: &[u16],
        m: usize,
        r0: usize,
        blocks: std::ops::Range<usize>,
        w: &PackedBf16,
        ep: Epilogue<'_>,
        out: *mut f32,
    ) {
        let (kp, n) = (w.kp, w.n);
        let a = q.as_ptr() as *const u8;
        let panels = w.data.as_ptr() as *const u8;
        let finish = |blk: usize, rows: &mut dyn Iterator<Item = (usize, __m512i)>| {
            let j0 = blk * NB;
            let mask = crate::kernels::qgemm::block_mask(n, j0);
            let bv = match ep.bias {
                Some(b) => _mm512_maskz_loadu_ps(mask, b.as_ptr().add(j0)),
                None => _mm512_setzero_ps(),
            };
            for (r, acc) in rows {
                let mut y = _mm512_add_ps(_mm512_castsi512_ps(acc), bv);
                if ep.gelu {
                    y = gelu_v::<Avx512>(y);
                }
                _mm512_mask_storeu_ps(out.add(r * n + j0), mask, y);
            }
        };
        crate::kernels::amx::tiles::<true>(a, 2 * kp, m, r0, blocks, panels, 2 * kp * NB, finish);
    }

    /// `R` rows x `C` blocks of float32 accumulators; per pair of `k`, `C` weight loads and `R`
    /// 4-byte activation broadcasts feed `R x C` `vdpbf16ps`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16,fma")]
    #[allow(clippy::needless_range_loop)]
    unsafe fn tile_rc<const R: usize, const C: usize>(
        t: &Tile<'_>,
        w: &PackedBf16,
        ep: Epilogue<'_>,
        out: *mut f32,
    ) {
        let (kp, n) = (w.kp, w.n);
        let panel = w.data.as_ptr().add(t.block * kp * NB);
        let mut acc = [[_mm512_setzero_ps(); C]; R];
        let a = t.q.as_ptr();
        for g in 0..kp / 2 {
            // SAFETY: each of the C consecutive block panels holds kp / 2 pairs of 64 bytes; each
            // row holds kp values.
            let mut b = [_mm512_setzero_si512(); C];
            for c in 0..C {
                b[c] = _mm512_loadu_si512(panel.add(c * kp * NB + g * 32) as *const __m512i);
            }
            for r in 0..R {
                let a2 = (a.add(r * kp + g * 2) as *const i32).read_unaligned();
                let av: __m512bh = std::mem::transmute(_mm512_set1_epi32(a2));
                for c in 0..C {
                    acc[r][c] = _mm512_dpbf16_ps(acc[r][c], av, std::mem::transmute(b[c]));
                }
            }
        }
        for c in 0..C {
            let j0 = (t.block + c) * NB;
            let mask = crate::kernels::qgemm::block_mask(n, j0);
            let bv = match ep.bias {
                Some(b) => _mm512_maskz_loadu_ps(mask, b.as_ptr().add(j0)),
                None => _mm512_setzero_ps(),
            };
            for r in 0..R {
                let mut y = _mm512_add_ps(acc[r][c], bv);
                if ep.gelu {
                    y = gelu_v::<Avx512>(y);
                }
                _mm512_mask_storeu_ps(out.add((t.row0 + r) * n + j0), mask, y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::qgemm::tests::data;

    fn bits(w: &[f32]) -> Vec<u16> {
        w.iter().map(|&v| round_bf16(v)).collect()
    }

    #[test]
    fn rounding_matches_the_instruction() {
        let x = [
            1.0f32,
            1.003_906_3,
            1.011_718_8,
            -3.14159,
            0.0,
            -0.0,
            f32::INFINITY,
            3.4e38,
            1e-40,
            -1e-40,
        ];
        let want = [
            0x3F80u16, 0x3F80, 0x3F82, 0xC049, 0, 0x8000, 0x7F80, 0x7F80, 0, 0x8000,
        ];
        let got: Vec<u16> = x.iter().map(|&v| round_bf16(v)).collect();
        assert_eq!(got, want);
        assert!(f32::from_bits((round_bf16(f32::NAN) as u32) << 16).is_nan());
        #[cfg(target_arch = "x86_64")]
        if Bf16Kernel::Avx512Bf16.available() {
            let mut v = data(37, 11);
            v[..x.len()].copy_from_slice(&x);
            let mut fast_bits = vec![0u16; v.len()];
            // SAFETY: the CPU has AVX512-BF16.
            unsafe { fast::round_row(&v, &mut fast_bits) };
            assert_eq!(fast_bits, bits(&v));
        }
    }

    #[test]
    fn fast_kernel_matches_the_emulation_bitwise() {
        for &(m, k, n) in &[
            (1, 2, 16),
            (13, 37, 40),
            (70, 384, 48),
            (9, 5, 3),
            (100, 96, 130),
            (7, 1536, 64),
        ] {
            let x = data(m * k, 1);
            let w = PackedBf16::new(&bits(&data(k * n, 2)), k, n).unwrap();
            let bias = data(n, 3);
            for gelu in [false, true] {
                let ep = Epilogue {
                    bias: Some(&bias),
                    gelu,
                };
                let mut want = vec![1f32; m * n];
                matmul_bf16(&x, m, &w, ep, &mut want, Bf16Kernel::Portable).unwrap();
                for kernel in [Bf16Kernel::Amx, Bf16Kernel::Avx512Bf16]
                    .into_iter()
                    .filter(|k| k.available())
                {
                    let mut got = vec![0f32; m * n];
                    matmul_bf16(&x, m, &w, ep, &mut got, kernel).unwrap();
                    // AVX512-BF16 is the emulation bit for bit (but for GELU's fused multiply-adds);
                    // AMX sums each tile's 32 products in its own order
                    let tol = match (kernel, gelu) {
                        (Bf16Kernel::Amx, _) => 1e-5,
                        (_, true) => 1e-6,
                        _ => 0.0,
                    };
                    for (a, b) in got.iter().zip(&want) {
                        assert!(
                            (a - b).abs() <= tol * (1.0 + b.abs()),
                            "{kernel:?} m={m} k={k} n={n}: {a} vs {b}"
                        );
                    }
                }
            }
            // close to the float32 product
            let wf = data(k * n, 2);
            let mut y = vec![0f32; m * n];
            matmul_bf16(&x, m, &w, Epilogue::default(), &mut y, Bf16Kernel::best()).unwrap();
            let (mut err, mut norm) = (0f64, 0f64);
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
                (err / norm).sqrt() < 1e-2,
                "m={m} k={k} n={n}: {}",
                (err / norm).sqrt()
            );
        }
    }

    #[test]
    fn bad_shapes() {
        let w = PackedBf16::new(&[0x3F80; 8 * 16], 8, 16).unwrap();
        let mut y = vec![0f32; 32];
        assert!(matmul_bf16(
            &[0.0; 15],
            2,
            &w,
            Epilogue::default(),
            &mut y,
            Bf16Kernel::Portable
        )
        .is_err());
        let ep = Epilogue {
            bias: Some(&[0.0; 3]),
            gelu: false,
        };
        assert!(matmul_bf16(&[0.0; 16], 2, &w, ep, &mut y, Bf16Kernel::Portable).is_err());
        assert!(PackedBf16::new(&[0; 7], 2, 4).is_err());
        matmul_bf16(
            &[1.0; 16],
            2,
            &w,
            Epilogue::default(),
            &mut y,
            Bf16Kernel::best(),
        )
        .unwrap();
        assert!(y.iter().all(|v| *v == 8.0));
    }
}
