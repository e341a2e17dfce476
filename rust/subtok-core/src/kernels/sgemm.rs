//! Float32 matrix products `y = x W (+ bias, GELU)` for the encoder's dense layers, inside the same
//! rayon pool as the other kernels (so no second thread pool hands work back and forth with it).
//!
//! * Weights (`k x n`, row-major, as the encoder stores them pre-transposed) are packed once, in
//!   blocks of 16 columns: for each `k`, the block's 16 values (64 bytes, one AVX-512 register;
//!   the last block padded with zero columns).
//! * Rows of `x` are read in place (one broadcast per row and `k`), in slices of [`KC`] values of
//!   `k` (partial sums go through `out`). Register tiles of up to 6 rows
//!   x 64 columns (24 AVX-512 accumulators) or 6 rows x 16 columns (12 AVX2 accumulators), the
//!   rayon tasks (48 rows x 128 columns, stolen by idle threads) and the epilogue (bias, then
//!   optionally exact-erf GELU, on the tile in registers) are those of the int8 products (module
//!   `qgemm`).
//! * The AVX-512 and AVX2 kernels sum in the same order with fused multiply-adds and agree bit for
//!   bit; the portable loop (the reference in tests) rounds each product separately.
use super::qgemm::{check_product, for_each_tile_k, Epilogue, SendPtr, MR, NB, NC};
use crate::error::{Error, Result};

/// A float32 weight matrix packed for the register-tile kernels.
#[derive(Clone, Debug)]
pub struct PackedF32 {
    k: usize,
    n: usize,
    /// `[n / 16 blocks][k][16 columns]`.
    data: Vec<f32>,
}

impl PackedF32 {
    /// Pack a row-major `k x n` weight matrix.
    pub fn new(w: &[f32], k: usize, n: usize) -> Result<Self> {
        if k == 0 || n == 0 || w.len() != k * n {
            return Err(Error::invalid(format!(
                "float32 weights: {} values do not form a {k} x {n} matrix",
                w.len()
            )));
        }
        let mut data = vec![0f32; n.div_ceil(NB) * k * NB];
        for (i, row) in w.chunks_exact(n).enumerate() {
            for (b, cols) in row.chunks(NB).enumerate() {
                let at = b * k * NB + i * NB;
                data[at..at + cols.len()].copy_from_slice(cols);
            }
        }
        Ok(PackedF32 { k, n, data })
    }

    /// Rows of the weight matrix (the inner dimension of the product).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of the weight matrix (output features).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The weights as a row-major `k x n` matrix.
    pub fn unpacked(&self) -> Vec<f32> {
        let (k, n) = (self.k, self.n);
        let mut w = vec![0f32; k * n];
        for (i, row) in w.chunks_exact_mut(n).enumerate() {
            for (b, cols) in row.chunks_mut(NB).enumerate() {
                let at = b * k * NB + i * NB;
                cols.copy_from_slice(&self.data[at..at + cols.len()]);
            }
        }
        w
    }
}

/// The float32 product kernels, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum F32Kernel {
    /// AVX-512F + FMA.
    Avx512,
    /// AVX2 + FMA.
    Avx2,
    /// Plain Rust (the reference in tests).
    Portable,
}

impl F32Kernel {
    /// Every kernel, best first.
    pub const ALL: [F32Kernel; 3] = [F32Kernel::Avx512, F32Kernel::Avx2, F32Kernel::Portable];

    /// A short name: "avx512", "avx2" or "portable".
    pub fn name(self) -> &'static str {
        match self {
            F32Kernel::Avx512 => "avx512",
            F32Kernel::Avx2 => "avx2",
            F32Kernel::Portable => "portable",
        }
    }

    /// The kernel called `name` (one of [`F32Kernel::name`]'s values).
    pub fn from_name(name: &str) -> Option<F32Kernel> {
        F32Kernel::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether this CPU runs the kernel.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::is_x86_feature_detected as has;
            match self {
                F32Kernel::Avx512 => has!("avx512f") && has!("fma"),
                F32Kernel::Avx2 => has!("avx2") && has!("fma"),
                F32Kernel::Portable => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == F32Kernel::Portable
        }
    }

    /// The best kernel this CPU runs.
    pub fn best() -> F32Kernel {
        F32Kernel::ALL
            .into_iter()
            .find(|k| k.available())
            .unwrap_or(F32Kernel::Portable)
    }
}

/// `out (m x n) = x (m x k) W`, then the epilogue (bias, GELU), on `kernel` (which the CPU must
/// run: [`F32Kernel::available`]).
pub fn matmul_f32(
    x: &[f32],
    m: usize,
    w: &PackedF32,
    ep: Epilogue<'_>,
    out: &mut [f32],
    kernel: F32Kernel,
) -> Result<()> {
    let (k, n) = (w.k, w.n);
    let avail = (kernel.available(), kernel.name());
    check_product("float32 matmul", x, m, k, out, n, &ep, avail)?;
    let ptr = SendPtr(out.as_mut_ptr());
    let kc = if kernel == F32Kernel::Portable { k } else { KC };
    for_each_tile_k(m, n, k.div_ceil(kc), |r, rows, block, nblk, c| {
        let p = ptr;
        let t = Tile {
            a: &x[r * k..],
            rows,
            block,
            nblk,
            row0: r,
            ks: c * kc..((c + 1) * kc).min(k),
        };
        // SAFETY: as in `qgemm::matmul_i8_with`: this call alone writes the tile's cells of the
        // m x n output, and the CPU runs `kernel` (checked above).
        unsafe {
            match kernel {
                #[cfg(target_arch = "x86_64")]
                F32Kernel::Avx512 => avx512::tile(&t, w, ep, p.0),
                #[cfg(target_arch = "x86_64")]
                F32Kernel::Avx2 => fast::avx2_tile(&t, w, ep, p.0),
                _ => tile_portable(&t, w, ep, p.0),
            }
        }
    });
    Ok(())
}

/// Up to `MR` rows of `x` (from `a`, `k` values each) against `nblk` (up to `NC`) 16-column blocks.
struct Tile<'a> {
    a: &'a [f32],
    rows: usize,
    block: usize,
    nblk: usize,
    row0: usize,
    /// The slice of the inner dimension to add: the first one starts the sums (else they continue
    /// from `out`), the last one applies the epilogue.
    ks: std::ops::Range<usize>,
}

/// The slice of `k` a tile adds at a time: a group of 4 blocks' weights for it (32 KiB) stays in
/// the L1 cache while the task's row tiles sweep it.
const KC: usize = 128;

/// # Safety
/// `out` must point to an `m x n` buffer containing the tile's cells.
unsafe fn tile_portable(t: &Tile<'_>, w: &PackedF32, ep: Epilogue<'_>, out: *mut f32) {
    let (k, n) = (w.k, w.n);
    debug_assert!(t.rows <= MR && t.nblk <= NC);
    for block in t.block..t.block + t.nblk {
        let panel = &w.data[block * k * NB..(block + 1) * k * NB];
        let j0 = block * NB;
        for r in 0..t.rows {
            let mut acc = [0f32; NB];
            for (&a, b) in t.a[r * k..(r + 1) * k].iter().zip(panel.chunks_exact(NB)) {
                for (acc_c, &b_c) in acc.iter_mut().zip(b) {
                    *acc_c += a * b_c;
                }
            }
            for (c, &y) in acc.iter().enumerate().take(n - j0) {
                let j = j0 + c;
                let y = y + ep.bias.map_or(0.0, |b| b[j]);
                // SAFETY: (row0 + r, j) is inside the m x n output (the caller's contract).
                *out.add((t.row0 + r) * n + j) = ep.act(y);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod fast {
    use super::{Epilogue, PackedF32, Tile, NB};
    use crate::kernels::simd::{gelu_v, Avx2, Simd};

    /// The tile's `R` rows x `V` vectors of `S::LANES` columns from column `j0` (inside one block,
    /// or whole consecutive blocks): `R x V` accumulators; per `k`, `V` weight loads and `R`
    /// broadcasts of `x` feed `R x V` fused multiply-adds.
    #[inline(always)]
    #[allow(clippy::needless_range_loop)]
    pub(super) unsafe fn tile_rv<S: Simd, const R: usize, const V: usize>(
        t: &Tile<'_>,
        j0: usize,
        w: &PackedF32,
        ep: Epilogue<'_>,
        out: *mut f32,
    ) {
        let (k, n) = (w.k, w.n);
        let (first, last) = (t.ks.start == 0, t.ks.end == k);
        let cols = |v: usize| (n - (j0 + v * S::LANES).min(n)).min(S::LANES);
        let at = |row: usize, v: usize| out.add((t.row0 + row) * n + j0 + v * S::LANES);
        // SAFETY (all accesses): the tile's cells of `out` are (row0 + row, j0 + v LANES + lane)
        // for lanes under cols(v); panel vector v holds k rows of NB floats from its column; the
        // tile's rows of `x` hold k values each.
        let mut acc = [[S::splat(0.0); V]; R];
        if !first {
            for v in 0..V {
                let c = cols(v);
                if c == 0 {
                    break; // past the last column: `at` would point outside `out`
                }
                for row in 0..R {
                    acc[row][v] = S::load_first(at(row, v), c);
                }
            }
        }
        let acc = sums::<S, R, V>(acc, t, j0, w);
        for v in 0..V {
            let (j, c) = (j0 + v * S::LANES, cols(v));
            if c == 0 {
                break;
            }
            let bias = match ep.bias {
                Some(b) if last => S::load_first(b.as_ptr().add(j), c),
                _ => S::splat(0.0),
            };
            for row in 0..R {
                let mut y = S::add(acc[row][v], bias);
                if last && ep.gelu {
                    y = gelu_v::<S>(y);
                }
                if c == S::LANES {
                    S::store(at(row, v), y);
                } else {
                    S::store_first(at(row, v), c, y);
                }
            }
        }
    }

    /// `acc` plus the products over the tile's slice of `k` (see [`tile_rv`]).
    #[inline(always)]
    #[allow(clippy::needless_range_loop)]
    unsafe fn sums<S: Simd, const R: usize, const V: usize>(
        mut acc: [[S::V; V]; R],
        t: &Tile<'_>,
        j0: usize,
        w: &PackedF32,
    ) -> [[S::V; V]; R] {
        let k = w.k;
        let mut panel = [w.data.as_ptr(); V];
        for v in 0..V {
            let j = j0 + v * S::LANES;
            panel[v] = w.data.as_ptr().add((j / NB) * k * NB + j % NB);
        }
        let a = t.a.as_ptr();
        for i in t.ks.clone() {
            let mut b = [S::splat(0.0); V];
            for v in 0..V {
                b[v] = S::load(panel[v].add(i * NB));
            }
            for row in 0..R {
                let av = S::splat(*a.add(row * k + i));
                for v in 0..V {
                    acc[row][v] = S::fmadd(av, b[v], acc[row][v]);
                }
            }
        }
        acc
    }

    /// The AVX2 kernel: each block of the tile in turn, 6 rows x 16 columns at a time.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA; `out` as for `tile_portable`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2_tile(t: &Tile<'_>, w: &PackedF32, ep: Epilogue<'_>, out: *mut f32) {
        for block in t.block..t.block + t.nblk {
            let j0 = block * NB;
            match t.rows {
                6 => tile_rv::<Avx2, 6, 2>(t, j0, w, ep, out),
                5 => tile_rv::<Avx2, 5, 2>(t, j0, w, ep, out),
                4 => tile_rv::<Avx2, 4, 2>(t, j0, w, ep, out),
                3 => tile_rv::<Avx2, 3, 2>(t, j0, w, ep, out),
                2 => tile_rv::<Avx2, 2, 2>(t, j0, w, ep, out),
                _ => tile_rv::<Avx2, 1, 2>(t, j0, w, ep, out),
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Epilogue, PackedF32, Tile, MR, NB, NC};
    use crate::kernels::simd::Avx512;

    crate::kernels::qgemm::dispatch_tiles!("avx512f,avx2,fma", Tile<'_>, PackedF32, tile_rc);

    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn tile_rc<const R: usize, const C: usize>(
        t: &Tile<'_>,
        w: &PackedF32,
        ep: Epilogue<'_>,
        out: *mut f32,
    ) {
        super::fast::tile_rv::<Avx512, R, C>(t, t.block * NB, w, ep, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::qgemm::tests::data;

    #[test]
    fn every_kernel_matches_the_portable_one_and_the_exact_product() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (13, 37, 40),
            (70, 384, 48),
            (9, 5, 3),
            (100, 96, 130),
            (7, 1536, 64),
            (50, 64, 1152),
        ] {
            let x = data(m * k, 1);
            let wf = data(k * n, 2);
            let w = PackedF32::new(&wf, k, n).unwrap();
            assert_eq!(w.unpacked(), wf);
            let bias = data(n, 3);
            for gelu in [false, true] {
                let ep = Epilogue {
                    bias: Some(&bias),
                    gelu,
                };
                let mut want = vec![f32::NAN; m * n];
                matmul_f32(&x, m, &w, ep, &mut want, F32Kernel::Portable).unwrap();
                for i in 0..m {
                    for j in 0..n {
                        let mut y = bias[j] as f64;
                        for t in 0..k {
                            y += x[i * k + t] as f64 * wf[t * n + j] as f64;
                        }
                        let y = if gelu {
                            crate::kernels::gelu_f32(y as f32) as f64
                        } else {
                            y
                        };
                        let got = want[i * n + j] as f64;
                        assert!((got - y).abs() <= 1e-5 * (1.0 + (k as f64).sqrt()));
                    }
                }
                let mut results = Vec::new();
                for kernel in F32Kernel::ALL.into_iter().filter(|k| k.available()) {
                    let mut got = vec![f32::NAN; m * n];
                    matmul_f32(&x, m, &w, ep, &mut got, kernel).unwrap();
                    for (a, b) in got.iter().zip(&want) {
                        assert!(
                            (a - b).abs() <= 1e-5 * (1.0 + b.abs()) * (k as f32).sqrt(),
                            "{kernel:?} m={m} k={k} n={n} gelu={gelu}: {a} vs {b}"
                        );
                    }
                    results.push((kernel, got));
                }
                // the SIMD kernels sum in the same order with the same fused multiply-adds
                let simd: Vec<_> = results
                    .iter()
                    .filter(|(k, _)| *k != F32Kernel::Portable)
                    .collect();
                for pair in simd.windows(2) {
                    assert_eq!(pair[0].1, pair[1].1, "{:?} vs {:?}", pair[0].0, pair[1].0);
                }
            }
        }
    }

    #[test]
    fn bad_shapes_and_kernel_names() {
        let w = PackedF32::new(&[1.0; 8 * 16], 8, 16).unwrap();
        let mut y = vec![0f32; 32];
        let kernel = F32Kernel::best();
        assert!(matmul_f32(&[0.0; 15], 2, &w, Epilogue::default(), &mut y, kernel).is_err());
        let ep = Epilogue {
            bias: Some(&[0.0; 3]),
            gelu: false,
        };
        assert!(matmul_f32(&[0.0; 16], 2, &w, ep, &mut y, kernel).is_err());
        assert!(PackedF32::new(&[0.0; 7], 2, 4).is_err());
        assert!(PackedF32::new(&[], 0, 4).is_err());
        matmul_f32(&[1.0; 16], 2, &w, Epilogue::default(), &mut y, kernel).unwrap();
        assert!(y.iter().all(|v| *v == 8.0));
        matmul_f32(&[], 0, &w, Epilogue::default(), &mut [], kernel).unwrap();
        for k in F32Kernel::ALL {
            assert_eq!(F32Kernel::from_name(k.name()), Some(k));
        }
        assert_eq!(F32Kernel::from_name("sse"), None);
    }
}
