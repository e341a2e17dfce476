//! Float32 elementwise kernels of the NumPy BERT encoder, multi-threaded with rayon:
//! erf-GELU (optionally with a bias), masked row softmax, and residual + bias + LayerNorm.
//!
//! All kernels work in place on row-major buffers and validate their shapes, returning
//! `Error::InvalidArgument` instead of panicking. The inner loops are plain arithmetic so LLVM
//! vectorizes them; on x86-64 an AVX-512 or AVX2+FMA copy of each loop is selected at run time, and
//! the hottest loops have versions written with intrinsics for both (module `simd`).
use crate::error::{Error, Result};
use rayon::prelude::*;

/// Rows handed to one rayon task (amortizes scheduling over short rows).
const ROWS_PER_TASK: usize = 32;
/// Elements handed to one rayon task by the flat kernels.
const FLAT_CHUNK: usize = 1 << 14;

// ----------------------------------------------------------------------------- scalar maths
/// exp(x) for f32, branch-free (Cody-Waite range reduction + degree-6 polynomial, ~1-2 ulp).
/// Inputs below -87.3 give 0 (like a true exp underflowing), above 88 are clamped.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let xc = x.clamp(-87.3, 88.0);
    let t = xc * LOG2E + MAGIC;
    let n = t - MAGIC;
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let r = xc - n * C1 - n * C2;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5e-1;
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits(((ni + 127) as u32) << 23);
    let v = y * scale;
    if x < -87.3 {
        0.0
    } else {
        v
    }
}

/// erf(x) for f32 (Abramowitz & Stegun 7.1.26; |error| < 1.5e-7 plus rounding).
#[inline(always)]
fn erf_f32(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A1: f32 = 0.254_829_6;
    const A2: f32 = -0.284_496_74;
    const A3: f32 = 1.421_413_7;
    const A4: f32 = -1.453_152_1;
    const A5: f32 = 1.061_405_4;
    let a = x.abs();
    let t = 1.0 / (1.0 + P * a);
    let poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
    let y = 1.0 - poly * exp_f32(-(a * a));
    y.copysign(x)
}

#[inline(always)]
fn gelu_f32(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// Public scalar erf (for tests and callers that want the same approximation).
pub fn erf(x: f32) -> f32 {
    erf_f32(x)
}

// ----------------------------------------------------------------------------- loop bodies
#[inline(always)]
fn gelu_body(x: &mut [f32]) {
    for v in x.iter_mut() {
        *v = gelu_f32(*v);
    }
}

#[inline(always)]
fn bias_gelu_body(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = gelu_f32(*v + *b);
        }
    }
}

/// Lanes of the manual reductions: strict IEEE order stops LLVM from vectorizing a plain
/// `sum += x` loop, so reductions keep LANES independent partial results.
const LANES: usize = 16;

#[inline(always)]
fn row_max(row: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a = if *v > *a { *v } else { *a };
        }
    }
    let mut m = f32::NEG_INFINITY;
    for v in acc.iter().chain(chunks.remainder()) {
        m = if *v > m { *v } else { m };
    }
    m
}

#[inline(always)]
fn row_sum(row: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += *v;
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

#[inline(always)]
fn row_sum_sq(row: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += *v * *v;
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().map(|v| v * v).sum::<f32>()
}

#[inline(always)]
fn softmax_body(rows: &mut [f32], tk: usize, mask: Option<&[f32]>) {
    for row in rows.chunks_exact_mut(tk) {
        if let Some(m) = mask {
            for (v, b) in row.iter_mut().zip(m) {
                *v += *b;
            }
        }
        let mx = row_max(row);
        for v in row.iter_mut() {
            *v = exp_f32(*v - mx);
        }
        let inv = 1.0 / row_sum(row);
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

#[inline(always)]
fn layernorm_body(
    x: &mut [f32],
    residual: Option<&[f32]>,
    bias: Option<&[f32]>,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    let h = gamma.len();
    let inv_h = 1.0 / h as f32;
    for (r, row) in x.chunks_exact_mut(h).enumerate() {
        if let Some(b) = bias {
            for (v, bb) in row.iter_mut().zip(b) {
                *v += *bb;
            }
        }
        if let Some(res) = residual {
            for (v, rr) in row.iter_mut().zip(&res[r * h..(r + 1) * h]) {
                *v += *rr;
            }
        }
        let mean = row_sum(row) * inv_h;
        for v in row.iter_mut() {
            *v -= mean;
        }
        let rstd = 1.0 / (row_sum_sq(row) * inv_h + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = *v * rstd * *g + *b;
        }
    }
}

// ----------------------------------------------------------------------------- AVX2 dispatch
macro_rules! multiversion {
    ($name:ident, $body:ident, ($($arg:ident : $ty:ty),*)) => {
        #[allow(clippy::too_many_arguments)]
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn fast512($($arg: $ty),*) {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn fast($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports the features `fast512` was compiled for.
                    unsafe { fast512($($arg),*) };
                    return;
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports the features `fast` was compiled for.
                    unsafe { fast($($arg),*) };
                    return;
                }
            }
            $body($($arg),*)
        }
    };
    // As above, but CPUs with AVX-512F or AVX2 (each with FMA) run `$fast::<Avx512>` or
    // `$fast::<Avx2>`, a version written once with the vector operations of module `simd`.
    ($name:ident, $body:ident, ($($arg:ident : $ty:ty),*), simd: $($fast:ident)::+) => {
        #[allow(clippy::too_many_arguments)]
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                use crate::kernels::simd::{Avx2, Avx512, Level};
                #[target_feature(enable = "avx512f,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn fast512($($arg: $ty),*) {
                    $($fast)::+::<Avx512>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn fast256($($arg: $ty),*) {
                    $($fast)::+::<Avx2>($($arg),*)
                }
                match Level::best() {
                    // SAFETY: `best()` checked the CPU features each version is compiled for;
                    // their other requirements are those of `$body`, which the callers meet.
                    Level::Avx512 => return unsafe { fast512($($arg),*) },
                    Level::Avx2 => return unsafe { fast256($($arg),*) },
                    Level::Portable => {}
                }
            }
            multiversion!(portable, $body, ($($arg: $ty),*));
            portable($($arg),*)
        }
    };
}

multiversion!(gelu_dispatch, gelu_body, (x: &mut [f32]), simd: simd::gelu);
multiversion!(
    bias_gelu_dispatch,
    bias_gelu_body,
    (x: &mut [f32], bias: &[f32]),
    simd: simd::bias_gelu
);
multiversion!(softmax_dispatch, softmax_body, (rows: &mut [f32], tk: usize, mask: Option<&[f32]>));
multiversion!(
    layernorm_dispatch,
    layernorm_body,
    (x: &mut [f32], residual: Option<&[f32]>, bias: Option<&[f32]>, gamma: &[f32], beta: &[f32], eps: f32)
);

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod amx;
mod attention;
pub mod bgemm;
pub mod qgemm;
pub mod sgemm;
#[cfg(target_arch = "x86_64")]
mod simd;
mod train;
pub use attention::self_attention;
pub use train::{
    attention_dropout_mask, attention_train_backward, attention_train_forward, gelu_backward,
    layernorm_backward, layernorm_train_forward, AttentionSpec,
};

// ----------------------------------------------------------------------------- public kernels
/// In place: `x = x * 0.5 * (1 + erf(x / sqrt 2))`.
pub fn gelu_inplace(x: &mut [f32]) {
    x.par_chunks_mut(FLAT_CHUNK).for_each(gelu_dispatch);
}

/// In place over a row-major `(n, bias.len())` matrix: `x = gelu(x + bias)`.
pub fn bias_gelu_inplace(x: &mut [f32], bias: &[f32]) -> Result<()> {
    let cols = bias.len();
    if cols == 0 || !x.len().is_multiple_of(cols) {
        return Err(Error::invalid(format!(
            "bias_gelu: buffer of {} values is not a whole number of rows of {cols}",
            x.len()
        )));
    }
    let rows_per_task = (FLAT_CHUNK / cols).max(1);
    x.par_chunks_mut(rows_per_task * cols)
        .for_each(|c| bias_gelu_dispatch(c, bias));
    Ok(())
}

/// In place over `scores` viewed as `(batch, rows_per_batch, tk)`: add the per-batch additive mask
/// `mask[batch, tk]` (if any) to every row, then softmax each row.
pub fn softmax_masked_inplace(
    scores: &mut [f32],
    batch: usize,
    tk: usize,
    mask: Option<&[f32]>,
) -> Result<()> {
    if tk == 0 || batch == 0 || !scores.len().is_multiple_of(batch * tk) {
        return Err(Error::invalid(format!(
            "softmax: {} scores do not split into {batch} batches of rows of {tk}",
            scores.len()
        )));
    }
    if let Some(m) = mask {
        if m.len() != batch * tk {
            return Err(Error::invalid(format!(
                "softmax: mask has {} values, expected {}",
                m.len(),
                batch * tk
            )));
        }
    }
    let per_batch = scores.len() / batch; // rows_per_batch * tk
    scores
        .par_chunks_mut(per_batch)
        .enumerate()
        .for_each(|(b, chunk)| {
            let m = mask.map(|m| &m[b * tk..(b + 1) * tk]);
            chunk
                .par_chunks_mut(ROWS_PER_TASK * tk)
                .for_each(|rows| softmax_dispatch(rows, tk, m));
        });
    Ok(())
}

/// In place over a row-major `(n, h)` matrix: `x = LayerNorm(x + bias + residual) * gamma + beta`.
pub fn add_layernorm_inplace(
    x: &mut [f32],
    residual: Option<&[f32]>,
    bias: Option<&[f32]>,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) -> Result<()> {
    let h = gamma.len();
    if h == 0 || beta.len() != h || !x.len().is_multiple_of(h) {
        return Err(Error::invalid(format!(
            "layernorm: {} values with gamma of {h} and beta of {}",
            x.len(),
            beta.len()
        )));
    }
    if bias.is_some_and(|b| b.len() != h) {
        return Err(Error::invalid("layernorm: bias length differs from gamma"));
    }
    if residual.is_some_and(|r| r.len() != x.len()) {
        return Err(Error::invalid("layernorm: residual shape differs from x"));
    }
    let chunk = ROWS_PER_TASK * h;
    x.par_chunks_mut(chunk).enumerate().for_each(|(i, rows)| {
        let res = residual.map(|r| &r[i * chunk..i * chunk + rows.len()]);
        layernorm_dispatch(rows, res, bias, gamma, beta, eps);
    });
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Run `f` once per SIMD level this CPU has, with the kernels' dispatch on the calling thread
    /// capped at it (AVX-512, AVX2, portable on an AVX-512 machine); `f` gets the level's name.
    pub(crate) fn for_each_level(mut f: impl FnMut(&str)) {
        #[cfg(target_arch = "x86_64")]
        for level in simd::Level::available() {
            level.capped(|| f(&format!("{level:?}")));
        }
        #[cfg(not(target_arch = "x86_64"))]
        f("portable")
    }

    fn erf64(x: f64) -> f64 {
        // series / continued fraction free reference: high-order A&S 7.1.28-style is not exact
        // enough, so integrate exp(-t^2) with Simpson's rule on a fine grid.
        let n = 20_000;
        let h = x / n as f64;
        let mut s = 1.0 + (-x * x).exp();
        for i in 1..n {
            let t = i as f64 * h;
            s += if i % 2 == 1 { 4.0 } else { 2.0 } * (-t * t).exp();
        }
        s * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn exp_is_accurate() {
        let mut x = -87.0f32;
        while x < 88.0 {
            let got = exp_f32(x) as f64;
            let want = (x as f64).exp();
            assert!(
                ((got - want) / want).abs() < 5e-7,
                "x={x} got={got} want={want}"
            );
            x += 0.0137;
        }
        assert_eq!(exp_f32(-1e30), 0.0);
        assert_eq!(exp_f32(f32::MIN), 0.0);
    }

    #[test]
    fn erf_error_below_1e6() {
        let mut x = -5.0f64;
        while x < 5.0 {
            let got = erf_f32(x as f32) as f64;
            assert!((got - erf64(x as f32 as f64)).abs() < 1e-6, "x={x}");
            x += 0.01;
        }
    }

    #[test]
    fn softmax_rows_sum_to_one_and_mask() {
        let mut s: Vec<f32> = (0..2 * 3 * 4)
            .map(|i| (i as f32 * 0.37).sin() * 5.0)
            .collect();
        let mask = [0.0, 0.0, f32::MIN, 0.0, 0.0, 0.0, 0.0, 0.0];
        softmax_masked_inplace(&mut s, 2, 4, Some(&mask)).unwrap();
        for (r, row) in s.chunks(4).enumerate() {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            if r < 3 {
                assert_eq!(row[2], 0.0);
            }
        }
        assert!(softmax_masked_inplace(&mut s, 5, 4, None).is_err());
        assert!(softmax_masked_inplace(&mut s, 2, 4, Some(&mask[..3])).is_err());
    }

    #[test]
    fn layernorm_normalizes() {
        let mut x: Vec<f32> = (0..70 * 8)
            .map(|i| (i as f32 * 0.11).cos() * 3.0 + 1.0)
            .collect();
        let res = vec![0.5f32; x.len()];
        let g = vec![1.0f32; 8];
        let b = vec![0.0f32; 8];
        add_layernorm_inplace(&mut x, Some(&res), Some(&b), &g, &b, 1e-12).unwrap();
        for row in x.chunks(8) {
            let m: f32 = row.iter().sum::<f32>() / 8.0;
            let v: f32 = row.iter().map(|a| (a - m) * (a - m)).sum::<f32>() / 8.0;
            assert!(m.abs() < 1e-5 && (v - 1.0).abs() < 1e-4);
        }
        assert!(add_layernorm_inplace(&mut x, None, None, &g, &b[..7], 1e-12).is_err());
        assert!(add_layernorm_inplace(&mut x, Some(&res[..8]), None, &g, &b, 1e-12).is_err());
    }

    #[test]
    fn bias_gelu_matches_scalar() {
        let mut x: Vec<f32> = (0..3 * 5).map(|i| i as f32 * 0.3 - 2.0).collect();
        let orig = x.clone();
        let bias = [0.1, -0.2, 0.3, 0.0, 1.0];
        bias_gelu_inplace(&mut x, &bias).unwrap();
        for (i, v) in x.iter().enumerate() {
            let z = (orig[i] + bias[i % 5]) as f64;
            let want = 0.5 * z * (1.0 + erf64(z / std::f64::consts::SQRT_2));
            assert!((*v as f64 - want).abs() < 1e-6);
        }
        assert!(bias_gelu_inplace(&mut x, &bias[..4]).is_err());
    }
}
