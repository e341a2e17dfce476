//! SIMD versions of the kernels' inner loops, written with intrinsics where LLVM's
//! auto-vectorization of the portable loops falls short (no fused multiply-adds without
//! fast-math, per-lane branches, accumulators kept in memory).
//!
//! Each algorithm is written once, generic over [`Simd`], a small set of float vector operations
//! that [`Avx512`] (16 lanes) and [`Avx2`] (8 lanes, with FMA) implement. The generic functions are
//! `#[inline(always)]` and only ever instantiated inside a `#[target_feature]` function of the
//! matching level (see `multiversion!` in `kernels.rs`), so the intrinsics inline into it. Both
//! levels perform the same operations in the same order lane by lane, so they give bit-identical
//! results; against the portable loops they differ only by fused multiply-add rounding.
use std::arch::x86_64::*;

/// The instruction sets a kernel can run on, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// AVX-512F + FMA: [`Avx512`].
    Avx512,
    /// AVX2 + FMA: [`Avx2`].
    Avx2,
    /// The portable loops (compiled for AVX2 + FMA when the CPU has them, without intrinsics).
    Portable,
}

impl Level {
    /// The best level this CPU runs (in tests, no better than the cap set by [`Level::capped`]).
    pub(crate) fn best() -> Level {
        let cpu = Level::detected();
        #[cfg(test)]
        if let Some(cap) = CAP.get() {
            return if cap >= cpu { cap } else { cpu };
        }
        cpu
    }

    fn detected() -> Level {
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma") {
            Level::Avx512
        } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            Level::Avx2
        } else {
            Level::Portable
        }
    }

    /// Every level this CPU runs (for tests comparing each against the portable loops).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Level> {
        [Level::Avx512, Level::Avx2, Level::Portable]
            .into_iter()
            .filter(|l| *l >= Level::detected())
            .collect()
    }

    /// Run `f` with the dispatch of this thread capped at `self` (tests of each level).
    #[cfg(test)]
    pub(crate) fn capped<R>(self, f: impl FnOnce() -> R) -> R {
        let old = CAP.replace(Some(self));
        let r = f();
        CAP.set(old);
        r
    }
}

#[cfg(test)]
thread_local! {
    static CAP: std::cell::Cell<Option<Level>> = const { std::cell::Cell::new(None) };
}

impl PartialOrd for Level {
    /// Levels compare by capability order: `Avx512 < Avx2 < Portable` (a CPU running a level runs
    /// every later one).
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        (*self as u8).partial_cmp(&(*other as u8))
    }
}

/// Float vector operations shared by the kernels. Every method is `unsafe`: the CPU must support
/// the implementation's instruction set, and pointers must be valid for the lanes they touch.
pub(crate) trait Simd: Copy {
    /// A vector of [`Self::LANES`] f32.
    type V: Copy;
    const LANES: usize;
    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// Lanes `0..n` (`n <= LANES`) from `p`, the others 0.
    unsafe fn load_first(p: *const f32, n: usize) -> Self::V;
    /// Lanes `0..n` (`n < LANES`) to `p`; memory past them is not touched.
    unsafe fn store_first(p: *mut f32, n: usize, v: Self::V);
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    /// `a * b + c`, one rounding.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `c - a * b`, one rounding.
    unsafe fn fnmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `|a|` with the sign of `s`.
    unsafe fn copysign(a: Self::V, s: Self::V) -> Self::V;
    unsafe fn abs(a: Self::V) -> Self::V;
    /// `v` where `x >= lo`, else 0 (also where `x` is NaN).
    unsafe fn keep_ge(x: Self::V, lo: Self::V, v: Self::V) -> Self::V;
    /// `2^(bits(t) - bits(1.5 * 2^23))`: the power of two of an integer rounded by the magic sum.
    unsafe fn pow2_of_magic(t: Self::V) -> Self::V;
    unsafe fn reduce_max(v: Self::V) -> f32;
    unsafe fn reduce_add(v: Self::V) -> f32;
}

/// AVX-512F + FMA, 16 lanes.
#[derive(Clone, Copy)]
pub(crate) struct Avx512;

/// AVX2 + FMA, 8 lanes.
#[derive(Clone, Copy)]
pub(crate) struct Avx2;

impl Simd for Avx512 {
    type V = __m512;
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        _mm512_set1_ps(x)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        _mm512_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        _mm512_storeu_ps(p, v)
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> __m512 {
        _mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p)
    }
    #[inline(always)]
    unsafe fn store_first(p: *mut f32, n: usize, v: __m512) {
        _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as __mmask16, v)
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        _mm512_add_ps(a, b)
    }
    #[inline(always)]
    unsafe fn sub(a: __m512, b: __m512) -> __m512 {
        _mm512_sub_ps(a, b)
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        _mm512_mul_ps(a, b)
    }
    #[inline(always)]
    unsafe fn div(a: __m512, b: __m512) -> __m512 {
        _mm512_div_ps(a, b)
    }
    #[inline(always)]
    unsafe fn max(a: __m512, b: __m512) -> __m512 {
        _mm512_max_ps(a, b)
    }
    #[inline(always)]
    unsafe fn min(a: __m512, b: __m512) -> __m512 {
        _mm512_min_ps(a, b)
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn fnmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_fnmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn copysign(a: __m512, s: __m512) -> __m512 {
        let sign = _mm512_set1_epi32(i32::MIN);
        let (a, s) = (_mm512_castps_si512(a), _mm512_castps_si512(s));
        // (a & !sign) | (s & sign)
        _mm512_castsi512_ps(_mm512_ternarylogic_epi32::<0xCA>(sign, s, a))
    }
    #[inline(always)]
    unsafe fn abs(a: __m512) -> __m512 {
        _mm512_abs_ps(a)
    }
    #[inline(always)]
    unsafe fn keep_ge(x: __m512, lo: __m512, v: __m512) -> __m512 {
        _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, lo), v)
    }
    #[inline(always)]
    unsafe fn pow2_of_magic(t: __m512) -> __m512 {
        let n = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B40_0000));
        _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
            n,
            _mm512_set1_epi32(127),
        )))
    }
    #[inline(always)]
    unsafe fn reduce_max(v: __m512) -> f32 {
        _mm512_reduce_max_ps(v)
    }
    #[inline(always)]
    unsafe fn reduce_add(v: __m512) -> f32 {
        _mm512_reduce_add_ps(v)
    }
}

impl Simd for Avx2 {
    type V = __m256;
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        _mm256_set1_ps(x)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        _mm256_loadu_ps(p)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        _mm256_storeu_ps(p, v)
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> __m256 {
        _mm256_maskload_ps(p, first_lanes(n))
    }
    #[inline(always)]
    unsafe fn store_first(p: *mut f32, n: usize, v: __m256) {
        _mm256_maskstore_ps(p, first_lanes(n), v)
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        _mm256_add_ps(a, b)
    }
    #[inline(always)]
    unsafe fn sub(a: __m256, b: __m256) -> __m256 {
        _mm256_sub_ps(a, b)
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        _mm256_mul_ps(a, b)
    }
    #[inline(always)]
    unsafe fn div(a: __m256, b: __m256) -> __m256 {
        _mm256_div_ps(a, b)
    }
    #[inline(always)]
    unsafe fn max(a: __m256, b: __m256) -> __m256 {
        _mm256_max_ps(a, b)
    }
    #[inline(always)]
    unsafe fn min(a: __m256, b: __m256) -> __m256 {
        _mm256_min_ps(a, b)
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        _mm256_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn fnmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        _mm256_fnmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn copysign(a: __m256, s: __m256) -> __m256 {
        let sign = _mm256_set1_ps(-0.0);
        _mm256_or_ps(_mm256_andnot_ps(sign, a), _mm256_and_ps(sign, s))
    }
    #[inline(always)]
    unsafe fn abs(a: __m256) -> __m256 {
        _mm256_andnot_ps(_mm256_set1_ps(-0.0), a)
    }
    #[inline(always)]
    unsafe fn keep_ge(x: __m256, lo: __m256, v: __m256) -> __m256 {
        _mm256_and_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(x, lo), v)
    }
    #[inline(always)]
    unsafe fn pow2_of_magic(t: __m256) -> __m256 {
        let n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B40_0000));
        _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
            n,
            _mm256_set1_epi32(127),
        )))
    }
    #[inline(always)]
    unsafe fn reduce_max(v: __m256) -> f32 {
        let m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)))
    }
    #[inline(always)]
    unsafe fn reduce_add(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
    }
}

/// The `_mm256_mask*_ps` mask selecting lanes `0..n`.
#[inline(always)]
pub(crate) unsafe fn first_lanes(n: usize) -> __m256i {
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(n as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

/// exp over a vector: the range reduction and polynomial of `exp_f32`, with fused multiply-adds;
/// lanes below -87.3 (including -inf) give exactly 0.
#[inline(always)]
pub(crate) unsafe fn exp<S: Simd>(x: S::V) -> S::V {
    let lo = S::splat(-87.3);
    let xc = S::min(S::max(x, lo), S::splat(88.0));
    let magic = S::splat(12_582_912.0);
    let t = S::fmadd(xc, S::splat(std::f32::consts::LOG2_E), magic);
    let n = S::sub(t, magic);
    let r = S::fnmadd(n, S::splat(0.693_359_4), xc);
    let r = S::fnmadd(n, S::splat(-2.121_944_4e-4), r);
    let mut p = S::splat(1.987_569_1e-4);
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ] {
        p = S::fmadd(p, r, S::splat(c));
    }
    let y = S::add(S::fmadd(S::mul(p, r), r, r), S::splat(1.0));
    S::keep_ge(x, lo, S::mul(y, S::pow2_of_magic(t)))
}

/// Exact-erf GELU over a vector: `0.5 x (1 + erf(x / sqrt 2))` with erf from Abramowitz &
/// Stegun 7.1.26, as `gelu_f32`.
#[inline(always)]
pub(crate) unsafe fn gelu_v<S: Simd>(x: S::V) -> S::V {
    let z = S::mul(x, S::splat(std::f32::consts::FRAC_1_SQRT_2));
    let a = S::abs(z);
    let one = S::splat(1.0);
    let t = S::div(one, S::fmadd(S::splat(0.327_591_1), a, one));
    let mut p = S::splat(1.061_405_4);
    for c in [-1.453_152_1, 1.421_413_7, -0.284_496_74, 0.254_829_6] {
        p = S::fmadd(p, t, S::splat(c));
    }
    p = S::mul(p, t);
    let e = exp::<S>(S::sub(S::splat(0.0), S::mul(a, a)));
    let erf = S::copysign(S::fnmadd(p, e, one), z); // erf(|z|) = 1 - p e, with the sign of z
    S::mul(S::mul(S::splat(0.5), x), S::add(one, erf))
}

/// In place: `x = gelu(x)` (as the portable `gelu_body`).
#[inline(always)]
pub(crate) unsafe fn gelu<S: Simd>(x: &mut [f32]) {
    gelu_slice::<S>(x, None)
}

/// In place over rows of `bias.len()` values: `x = gelu(x + bias)` (as `bias_gelu_body`).
#[inline(always)]
pub(crate) unsafe fn bias_gelu<S: Simd>(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        gelu_slice::<S>(row, Some(bias))
    }
}

/// In place: `x = gelu(x + bias)` (`bias`, when given, has the length of `x`).
#[inline(always)]
unsafe fn gelu_slice<S: Simd>(x: &mut [f32], bias: Option<&[f32]>) {
    if let Some(b) = bias {
        assert_eq!(b.len(), x.len());
    }
    let n = x.len();
    let p = x.as_mut_ptr();
    let mut i = 0;
    let step = |v: S::V, i: usize| match bias {
        Some(b) => S::add(v, S::load(b.as_ptr().add(i))),
        None => v,
    };
    // SAFETY (both loops): lanes i..i+LANES, or the last n - i, are in bounds of `x` (and of
    // `bias`, asserted equal in length); the partial loads and stores touch no other lane.
    while i + S::LANES <= n {
        S::store(p.add(i), gelu_v::<S>(step(S::load(p.add(i)), i)));
        i += S::LANES;
    }
    if i < n {
        let k = n - i;
        let mut v = S::load_first(p.add(i), k);
        if let Some(b) = bias {
            v = S::add(v, S::load_first(b.as_ptr().add(i), k));
        }
        S::store_first(p.add(i), k, gelu_v::<S>(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tests::for_each_level;

    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn exp_512(x: &[f32], out: &mut [f32]) {
        for (c, o) in x.chunks_exact(16).zip(out.chunks_exact_mut(16)) {
            Avx512::store(o.as_mut_ptr(), exp::<Avx512>(Avx512::load(c.as_ptr())));
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn exp_256(x: &[f32], out: &mut [f32]) {
        for (c, o) in x.chunks_exact(8).zip(out.chunks_exact_mut(8)) {
            Avx2::store(o.as_mut_ptr(), exp::<Avx2>(Avx2::load(c.as_ptr())));
        }
    }

    /// `exp` of each SIMD level this CPU has, over `x` (a multiple of 16 values).
    fn exp_each_level(x: &[f32]) -> Vec<(Level, Vec<f32>)> {
        let mut res = Vec::new();
        for l in Level::available() {
            let mut out = vec![1.0f32; x.len()];
            // SAFETY: `available()` lists only levels the CPU supports.
            match l {
                Level::Avx512 => unsafe { exp_512(x, &mut out) },
                Level::Avx2 => unsafe { exp_256(x, &mut out) },
                Level::Portable => continue,
            }
            res.push((l, out));
        }
        res
    }

    #[test]
    fn exp_is_accurate_and_flushes_to_zero() {
        let xs: Vec<f32> = (0..16 * 790).map(|i| -87.0 + i as f32 * 0.0137).collect();
        for (l, got) in exp_each_level(&xs) {
            for (x, y) in xs.iter().zip(got) {
                let want = (*x as f64).exp();
                assert!(((y as f64 - want) / want).abs() < 5e-7, "{l:?} x={x}");
            }
        }
        let low = [
            f32::NEG_INFINITY,
            f32::MIN,
            -1e30,
            -87.4,
            -100.0,
            -88.0,
            -90.0,
            -95.0,
            -87.31,
            -200.0,
            -1e10,
            -87.5,
            -88.5,
            -89.0,
            -150.0,
            -1000.0,
        ];
        for (l, got) in exp_each_level(&low) {
            assert!(got.iter().all(|&v| v == 0.0), "{l:?}");
        }
        // above the clamp: finite, as exp_f32
        let high = [88.0f32, 89.0, 1e10, f32::MAX, 100.0, 88.5, 95.0, 1e30];
        let high: Vec<f32> = high.iter().chain(&high).copied().collect();
        for (l, got) in exp_each_level(&high) {
            assert!(
                got.iter().all(|v| v.is_finite() && *v > 1e38),
                "{l:?} {got:?}"
            );
        }
    }

    #[test]
    fn gelu_matches_the_portable_kernel_and_tails() {
        for n in [1usize, 7, 8, 9, 15, 16, 17, 37, 1000] {
            let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.731).sin() * 9.0).collect();
            let bias: Vec<f32> = (0..n).map(|i| (i as f32 * 0.17).cos()).collect();
            let mut want = x.clone();
            super::super::bias_gelu_body(&mut want, &bias);
            let mut want_nb = x.clone();
            super::super::gelu_body(&mut want_nb);
            for_each_level(|l| {
                let mut got = x.clone();
                super::super::bias_gelu_dispatch(&mut got, &bias);
                let mut got_nb = x.clone();
                super::super::gelu_dispatch(&mut got_nb);
                for (a, b) in got.iter().zip(&want).chain(got_nb.iter().zip(&want_nb)) {
                    assert!((a - b).abs() < 1e-6, "{l} n={n}: {a} vs {b}");
                }
            });
        }
    }
}
