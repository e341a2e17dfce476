//! AVX-512 versions of the kernels' inner loops, written with intrinsics where LLVM's
//! auto-vectorization of the portable loops falls short (no fused multiply-adds without
//! fast-math, per-lane branches, accumulators kept in memory).
use std::arch::x86_64::*;

/// Whether the CPU runs the functions of this module (AVX-512F and FMA).
pub(crate) fn available() -> bool {
    std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma")
}

/// exp over 16 lanes: the range reduction and polynomial of `exp_f32`, with fused
/// multiply-adds; lanes below -87.3 (including -inf) give exactly 0.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn exp16(x: __m512) -> __m512 {
    let lo = _mm512_set1_ps(-87.3);
    let xc = _mm512_min_ps(_mm512_max_ps(x, lo), _mm512_set1_ps(88.0));
    let magic = _mm512_set1_ps(12_582_912.0);
    let t = _mm512_fmadd_ps(xc, _mm512_set1_ps(std::f32::consts::LOG2_E), magic);
    let n = _mm512_sub_ps(t, magic);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), xc);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm512_set1_ps(1.987_569_1e-4);
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    let y = _mm512_add_ps(
        _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r),
        _mm512_set1_ps(1.0),
    );
    let ni = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B40_0000));
    let scale = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
        ni,
        _mm512_set1_epi32(127),
    )));
    let keep = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, lo);
    _mm512_maskz_mul_ps(keep, y, scale)
}

/// Exact-erf GELU over 16 lanes: `0.5 x (1 + erf(x / sqrt 2))` with erf from Abramowitz &
/// Stegun 7.1.26, as `gelu_f32`.
#[inline]
#[target_feature(enable = "avx512f")]
fn gelu16(x: __m512) -> __m512 {
    let z = _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
    let a = _mm512_abs_ps(z);
    let t = _mm512_div_ps(
        _mm512_set1_ps(1.0),
        _mm512_fmadd_ps(_mm512_set1_ps(0.327_591_1), a, _mm512_set1_ps(1.0)),
    );
    let mut p = _mm512_set1_ps(1.061_405_4);
    for c in [-1.453_152_1, 1.421_413_7, -0.284_496_74, 0.254_829_6] {
        p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(c));
    }
    p = _mm512_mul_ps(p, t);
    let e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a)));
    let erf_abs = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0)); // erf(|z|) = 1 - p e
                                                               // 1 + erf(z), erf taking the sign of z
    let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(z, _mm512_setzero_ps());
    let one = _mm512_set1_ps(1.0);
    let one_plus = _mm512_mask_sub_ps(_mm512_add_ps(one, erf_abs), neg, one, erf_abs);
    _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5), x), one_plus)
}

/// In place: `x = gelu(x)` (as the portable `gelu_body`).
///
/// # Safety
/// The CPU must support AVX-512F and FMA ([`available`]).
#[target_feature(enable = "avx512f,fma")]
pub(crate) unsafe fn gelu(x: &mut [f32]) {
    gelu_slice(x, None)
}

/// In place over rows of `bias.len()` values: `x = gelu(x + bias)` (as `bias_gelu_body`).
///
/// # Safety
/// The CPU must support AVX-512F and FMA ([`available`]).
#[target_feature(enable = "avx512f,fma")]
pub(crate) unsafe fn bias_gelu(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        gelu_slice(row, Some(bias))
    }
}

/// In place: `x = gelu(x + bias)` (`bias`, when given, has the length of `x`).
///
/// # Safety
/// The CPU must support AVX-512F and FMA ([`available`]).
#[target_feature(enable = "avx512f,fma")]
unsafe fn gelu_slice(x: &mut [f32], bias: Option<&[f32]>) {
    if let Some(b) = bias {
        assert_eq!(b.len(), x.len());
    }
    let n = x.len();
    let p = x.as_mut_ptr();
    let mut i = 0;
    while i < n {
        let k = (n - i).min(16);
        let m: __mmask16 = if k == 16 { 0xFFFF } else { (1u16 << k) - 1 };
        // SAFETY: lanes i..i+k are in bounds of `x` (and of `bias`, asserted equal in length);
        // the masked loads and stores touch no other lane.
        let mut v = _mm512_maskz_loadu_ps(m, p.add(i));
        if let Some(b) = bias {
            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, b.as_ptr().add(i)));
        }
        _mm512_mask_storeu_ps(p.add(i), m, gelu16(v));
        i += 16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp16_is_accurate_and_flushes_to_zero() {
        if !available() {
            return;
        }
        let xs: Vec<f32> = (0..16 * 790).map(|i| -87.0 + i as f32 * 0.0137).collect();
        for c in xs.chunks_exact(16) {
            let mut out = [0.0f32; 16];
            // SAFETY: `available()` checked the CPU features; arrays hold 16 lanes.
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), exp16(_mm512_loadu_ps(c.as_ptr()))) };
            for (x, y) in c.iter().zip(out) {
                let want = (*x as f64).exp();
                assert!(((y as f64 - want) / want).abs() < 5e-7, "x={x}");
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
        let mut out = [1.0f32; 16];
        // SAFETY: as above.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr(), exp16(_mm512_loadu_ps(low.as_ptr()))) };
        assert!(out.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn gelu_slice_matches_the_portable_kernel_and_tails() {
        if !available() {
            return;
        }
        for n in [1usize, 15, 16, 17, 37, 1000] {
            let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.731).sin() * 9.0).collect();
            let bias: Vec<f32> = (0..n).map(|i| (i as f32 * 0.17).cos()).collect();
            let mut fast = x.clone();
            // SAFETY: `available()` checked the CPU features.
            unsafe { gelu_slice(&mut fast, Some(&bias)) };
            let mut slow = x.clone();
            super::super::bias_gelu_body(&mut slow, &bias);
            for (a, b) in fast.iter().zip(&slow) {
                assert!((a - b).abs() < 1e-6, "{a} vs {b}");
            }
        }
    }
}
