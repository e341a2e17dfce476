//! Training kernels: multi-head self-attention forward and backward (with attention dropout),
//! the exact-erf GELU backward, and LayerNorm forward (keeping what the backward needs) and
//! backward. Multi-threaded with rayon; the caller installs the fork-safe pool.
//!
//! Attention works on a packed `(n, 3H)` matrix `[Q | K | V]` (biases already added, Q *not*
//! pre-scaled) whose sequences are row ranges; one task per (sequence, head). The backward pass
//! recomputes the attention weights from Q and K instead of storing the `(heads, T, T)` tensor.
//! Dropout on the attention weights is drawn from a counter-based hash of
//! `(seed, row, head, key)`, so the backward pass regenerates exactly the forward's mask.
use super::{erf_f32, exp_f32, row_max, row_sum, ROWS_PER_TASK};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// Geometry and options of one attention call.
#[derive(Clone, Copy, Debug)]
pub struct AttentionSpec<'a> {
    pub heads: usize,
    pub head_dim: usize,
    /// First row of each sequence.
    pub starts: &'a [usize],
    /// Rows of each sequence.
    pub lens: &'a [usize],
    /// One additive key bias per row (0, or a large negative value for masked keys).
    pub key_mask: Option<&'a [f32]>,
    /// Multiplies the scores (usually `1/sqrt(head_dim)`).
    pub scale: f32,
    /// Probability of dropping an attention weight (0 = no dropout).
    pub dropout: f32,
    pub seed: u64,
}

/// A buffer written by tasks that each own a disjoint set of cells.
struct Shared {
    ptr: *mut f32,
    len: usize,
}
// SAFETY: every task writes only the cells of its own (sequence rows, head columns); `check`
// rejects overlapping sequences before a `Shared` is built.
unsafe impl Sync for Shared {}

impl Shared {
    /// # Safety
    /// `i` must be in bounds and no other task may access cell `i` concurrently.
    #[inline(always)]
    unsafe fn set(&self, i: usize, v: f32) {
        debug_assert!(i < self.len);
        *self.ptr.add(i) = v;
    }
}

fn check(spec: &AttentionSpec<'_>, qkv_len: usize) -> Result<usize> {
    let h = spec.heads * spec.head_dim;
    if h == 0 || !qkv_len.is_multiple_of(3 * h) {
        return Err(Error::invalid(format!(
            "attention: {qkv_len} values are not whole rows of 3 x {} heads x {}",
            spec.heads, spec.head_dim
        )));
    }
    let n = qkv_len / (3 * h);
    if spec.starts.len() != spec.lens.len() {
        return Err(Error::invalid(
            "attention: starts and lens differ in length",
        ));
    }
    if spec.key_mask.is_some_and(|m| m.len() != n) {
        return Err(Error::invalid(format!(
            "attention: key_mask must have {n} values"
        )));
    }
    if !(0.0..1.0).contains(&spec.dropout) {
        return Err(Error::invalid("attention: dropout must be in [0, 1)"));
    }
    let mut ranges: Vec<(usize, usize)> = spec
        .starts
        .iter()
        .zip(spec.lens)
        .filter(|(_, &l)| l > 0)
        .map(|(&s, &l)| (s, l))
        .collect();
    ranges.sort_unstable();
    let mut end = 0;
    for &(s, l) in &ranges {
        if s < end || s.checked_add(l).is_none_or(|e| e > n) {
            return Err(Error::invalid(
                "attention: sequences overlap or run past the last row",
            ));
        }
        end = s + l;
    }
    Ok(n)
}

/// splitmix64 finalizer.
#[inline(always)]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The dropout keep-scale of weight (row, head, key): 0 or `1/(1-p)`.
#[inline(always)]
fn keep(seed: u64, row: usize, head: usize, key: usize, threshold: u32, inv_keep: f32) -> f32 {
    let base = mix(seed ^ mix((row as u64) << 16 | head as u64));
    let r = (mix(base.wrapping_add(key as u64)) >> 32) as u32;
    if r >= threshold {
        inv_keep
    } else {
        0.0
    }
}

/// The dropout mask the attention kernels use for one (row, head): `out[j]` for `j < out.len()`.
pub fn attention_dropout_mask(seed: u64, row: usize, head: usize, p: f32, out: &mut [f32]) {
    let (thr, inv) = thresholds(p);
    for (j, o) in out.iter_mut().enumerate() {
        *o = if p > 0.0 {
            keep(seed, row, head, j, thr, inv)
        } else {
            1.0
        };
    }
}

fn thresholds(p: f32) -> (u32, f32) {
    (
        ((p as f64) * 4_294_967_296.0).min(u32::MAX as f64) as u32,
        1.0 / (1.0 - p),
    )
}

/// One (sequence, head): the head's Q, K and V rows gathered contiguously (`l x d` each), Kᵀ and
/// Vᵀ (`d x l`).
struct Head {
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    kt: Vec<f32>,
    vt: Vec<f32>,
}

fn gather(qkv: &[f32], h: usize, r0: usize, l: usize, head: usize, d: usize) -> Head {
    let mut g = Head {
        q: vec![0.0; l * d],
        k: vec![0.0; l * d],
        v: vec![0.0; l * d],
        kt: vec![0.0; l * d],
        vt: vec![0.0; l * d],
    };
    for i in 0..l {
        let row = &qkv[(r0 + i) * 3 * h..(r0 + i + 1) * 3 * h];
        g.q[i * d..(i + 1) * d].copy_from_slice(&row[head * d..(head + 1) * d]);
        g.k[i * d..(i + 1) * d].copy_from_slice(&row[h + head * d..h + (head + 1) * d]);
        g.v[i * d..(i + 1) * d].copy_from_slice(&row[2 * h + head * d..2 * h + (head + 1) * d]);
        for t in 0..d {
            g.kt[t * l + i] = row[h + head * d + t];
            g.vt[t * l + i] = row[2 * h + head * d + t];
        }
    }
    g
}

/// Softmax weights of query `i` into `p` (length l): `softmax(scale q_i Kᵀ + mask)`.
#[inline(always)]
fn weights_body(q: &[f32], kt: &[f32], l: usize, scale: f32, mask: Option<&[f32]>, p: &mut [f32]) {
    p.fill(0.0);
    for (t, &qv) in q.iter().enumerate() {
        let krow = &kt[t * l..(t + 1) * l];
        for (s, &kv) in p.iter_mut().zip(krow) {
            *s += qv * kv;
        }
    }
    for s in p.iter_mut() {
        *s *= scale;
    }
    if let Some(m) = mask {
        for (s, &mv) in p.iter_mut().zip(m) {
            *s += mv;
        }
    }
    let mx = row_max(p);
    for s in p.iter_mut() {
        *s = exp_f32(*s - mx);
    }
    let inv = 1.0 / row_sum(p);
    for s in p.iter_mut() {
        *s *= inv;
    }
}

/// `out += a * x` over equal-length slices.
#[inline(always)]
fn axpy(out: &mut [f32], a: f32, x: &[f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o += a * v;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_head_body(
    g: &Head,
    l: usize,
    d: usize,
    scale: f32,
    mask: Option<&[f32]>,
    drop: &[f32],
    p: &mut [f32],
    out: &mut [f32],
    i: usize,
) {
    weights_body(&g.q[i * d..(i + 1) * d], &g.kt, l, scale, mask, p);
    if !drop.is_empty() {
        for (w, &m) in p.iter_mut().zip(drop) {
            *w *= m;
        }
    }
    out.fill(0.0);
    for (j, &w) in p.iter().enumerate() {
        axpy(out, w, &g.v[j * d..(j + 1) * d]);
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_row_body(
    g: &Head,
    l: usize,
    d: usize,
    scale: f32,
    mask: Option<&[f32]>,
    drop: &[f32],
    dc: &[f32],
    p: &mut [f32],
    dp: &mut [f32],
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    i: usize,
) {
    weights_body(&g.q[i * d..(i + 1) * d], &g.kt, l, scale, mask, p);
    // dP' = dc Vᵀ
    dp.fill(0.0);
    for (t, &c) in dc.iter().enumerate() {
        axpy(dp, c, &g.vt[t * l..(t + 1) * l]);
    }
    // dV += P'ᵀ dc; dP = dP' * mask
    if drop.is_empty() {
        for (j, &w) in p.iter().enumerate() {
            axpy(&mut dv[j * d..(j + 1) * d], w, dc);
        }
    } else {
        for j in 0..l {
            axpy(&mut dv[j * d..(j + 1) * d], p[j] * drop[j], dc);
            dp[j] *= drop[j];
        }
    }
    // dS = P * (dP - <dP, P>), times the score scale
    let mut dot = 0.0f32;
    for (a, b) in dp.iter().zip(p.iter()) {
        dot += a * b;
    }
    for (x, &w) in dp.iter_mut().zip(p.iter()) {
        *x = w * (*x - dot) * scale;
    }
    // dQ_i = dS K; dK += dSᵀ q_i
    let qi = &g.q[i * d..(i + 1) * d];
    dq.fill(0.0);
    for (j, &s) in dp.iter().enumerate() {
        axpy(dq, s, &g.k[j * d..(j + 1) * d]);
        axpy(&mut dk[j * d..(j + 1) * d], s, qi);
    }
}

multiversion!(
    forward_head,
    forward_head_body,
    (g: &Head, l: usize, d: usize, scale: f32, mask: Option<&[f32]>, drop: &[f32], p: &mut [f32], out: &mut [f32], i: usize)
);
multiversion!(
    backward_row,
    backward_row_body,
    (g: &Head, l: usize, d: usize, scale: f32, mask: Option<&[f32]>, drop: &[f32], dc: &[f32], p: &mut [f32], dp: &mut [f32], dq: &mut [f32], dk: &mut [f32], dv: &mut [f32], i: usize)
);

fn tasks(spec: &AttentionSpec<'_>) -> Vec<(usize, usize, usize)> {
    let mut t = Vec::new();
    for (&s, &l) in spec.starts.iter().zip(spec.lens) {
        if l > 0 {
            for head in 0..spec.heads {
                t.push((s, l, head));
            }
        }
    }
    t
}

fn drop_row(spec: &AttentionSpec<'_>, row: usize, head: usize, l: usize, buf: &mut Vec<f32>) {
    buf.clear();
    if spec.dropout > 0.0 {
        buf.resize(l, 0.0);
        attention_dropout_mask(spec.seed, row, head, spec.dropout, buf);
    }
}

/// `ctx (n, H)` = per sequence and head `dropout(softmax(scale Q Kᵀ + key_mask)) V`. Rows outside
/// every sequence are left untouched.
pub fn attention_train_forward(
    qkv: &[f32],
    spec: &AttentionSpec<'_>,
    ctx: &mut [f32],
) -> Result<()> {
    let n = check(spec, qkv.len())?;
    let (d, h) = (spec.head_dim, spec.heads * spec.head_dim);
    if ctx.len() != n * h {
        return Err(Error::invalid(format!(
            "attention: ctx must have {n} x {h} values"
        )));
    }
    let out = Shared {
        ptr: ctx.as_mut_ptr(),
        len: ctx.len(),
    };
    tasks(spec).into_par_iter().for_each(|(r0, l, head)| {
        let g = gather(qkv, h, r0, l, head, d);
        let mask = spec.key_mask.map(|m| &m[r0..r0 + l]);
        let (mut p, mut o, mut drop) = (vec![0.0; l], vec![0.0; d], Vec::new());
        for i in 0..l {
            drop_row(spec, r0 + i, head, l, &mut drop);
            forward_head(&g, l, d, spec.scale, mask, &drop, &mut p, &mut o, i);
            for (t, &v) in o.iter().enumerate() {
                // SAFETY: row r0 + i belongs to this sequence only, columns to this head only.
                unsafe { out.set((r0 + i) * h + head * d + t, v) };
            }
        }
    });
    Ok(())
}

/// Gradient of [`attention_train_forward`] w.r.t. `qkv`, written into `dqkv (n, 3H)` (rows
/// outside every sequence are left untouched), from the gradient `dctx (n, H)` of the context.
pub fn attention_train_backward(
    qkv: &[f32],
    spec: &AttentionSpec<'_>,
    dctx: &[f32],
    dqkv: &mut [f32],
) -> Result<()> {
    let n = check(spec, qkv.len())?;
    let (d, h) = (spec.head_dim, spec.heads * spec.head_dim);
    if dctx.len() != n * h || dqkv.len() != qkv.len() {
        return Err(Error::invalid(format!(
            "attention backward: dctx must have {n} x {h} values and dqkv {n} x {}",
            3 * h
        )));
    }
    let out = Shared {
        ptr: dqkv.as_mut_ptr(),
        len: dqkv.len(),
    };
    tasks(spec).into_par_iter().for_each(|(r0, l, head)| {
        let g = gather(qkv, h, r0, l, head, d);
        let mask = spec.key_mask.map(|m| &m[r0..r0 + l]);
        let (mut p, mut dp, mut dq) = (vec![0.0; l], vec![0.0; l], vec![0.0; d]);
        let (mut dk, mut dv, mut drop) = (vec![0.0; l * d], vec![0.0; l * d], Vec::new());
        for i in 0..l {
            drop_row(spec, r0 + i, head, l, &mut drop);
            let dc = &dctx[(r0 + i) * h + head * d..(r0 + i) * h + (head + 1) * d];
            backward_row(
                &g, l, d, spec.scale, mask, &drop, dc, &mut p, &mut dp, &mut dq, &mut dk, &mut dv,
                i,
            );
            for (t, &v) in dq.iter().enumerate() {
                // SAFETY: as in the forward pass; the Q columns of this head.
                unsafe { out.set((r0 + i) * 3 * h + head * d + t, v) };
            }
        }
        for j in 0..l {
            for t in 0..d {
                let base = (r0 + j) * 3 * h + head * d + t;
                // SAFETY: the K and V columns of this head, rows of this sequence.
                unsafe {
                    out.set(base + h, dk[j * d + t]);
                    out.set(base + 2 * h, dv[j * d + t]);
                }
            }
        }
    });
    Ok(())
}

// ----------------------------------------------------------------------------- GELU
#[inline(always)]
fn gelu_backward_body(x: &[f32], dy: &mut [f32]) {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    for (g, &v) in dy.iter_mut().zip(x) {
        let cdf = 0.5 * (1.0 + erf_f32(v * std::f32::consts::FRAC_1_SQRT_2));
        let pdf = exp_f32(-0.5 * v * v) * INV_SQRT_2PI;
        *g *= cdf + v * pdf;
    }
}

multiversion!(gelu_backward_dispatch, gelu_backward_body, (x: &[f32], dy: &mut [f32]));

/// In place: `dy *= gelu'(x)` for the exact-erf GELU.
pub fn gelu_backward(x: &[f32], dy: &mut [f32]) -> Result<()> {
    if x.len() != dy.len() {
        return Err(Error::invalid("gelu_backward: x and dy differ in length"));
    }
    const CHUNK: usize = 1 << 14;
    dy.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(g, v)| gelu_backward_dispatch(v, g));
    Ok(())
}

// ----------------------------------------------------------------------------- LayerNorm
#[inline(always)]
fn ln_forward_body(
    x: &mut [f32],
    xhat: &mut [f32],
    rstd: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    let h = gamma.len();
    let inv_h = 1.0 / h as f32;
    for ((row, xh), r) in x
        .chunks_exact_mut(h)
        .zip(xhat.chunks_exact_mut(h))
        .zip(rstd.iter_mut())
    {
        let mean = row_sum(row) * inv_h;
        for (o, &v) in xh.iter_mut().zip(row.iter()) {
            *o = v - mean;
        }
        let mut ss = 0.0f32;
        for &v in xh.iter() {
            ss += v * v;
        }
        *r = 1.0 / (ss * inv_h + eps).sqrt();
        for (((o, xv), &g), &b) in row.iter_mut().zip(xh.iter_mut()).zip(gamma).zip(beta) {
            *xv *= *r;
            *o = *xv * g + b;
        }
    }
}

multiversion!(
    ln_forward_dispatch,
    ln_forward_body,
    (x: &mut [f32], xhat: &mut [f32], rstd: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32)
);

/// In place over `x (n, h)`: `x = LayerNorm(x) * gamma + beta`, also writing the normalized
/// values `xhat (n, h)` and `rstd (n)` = 1/sqrt(var + eps) for the backward pass.
pub fn layernorm_train_forward(
    x: &mut [f32],
    xhat: &mut [f32],
    rstd: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) -> Result<()> {
    let h = gamma.len();
    if h == 0
        || beta.len() != h
        || !x.len().is_multiple_of(h)
        || xhat.len() != x.len()
        || rstd.len() * h != x.len()
    {
        return Err(Error::invalid("layernorm forward: inconsistent shapes"));
    }
    let chunk = ROWS_PER_TASK * h;
    x.par_chunks_mut(chunk)
        .zip(xhat.par_chunks_mut(chunk))
        .zip(rstd.par_chunks_mut(ROWS_PER_TASK))
        .for_each(|((a, b), r)| ln_forward_dispatch(a, b, r, gamma, beta, eps));
    Ok(())
}

#[inline(always)]
fn ln_backward_body(
    dy: &mut [f32],
    xhat: &[f32],
    rstd: &[f32],
    gamma: &[f32],
    dg: &mut [f32],
    db: &mut [f32],
) {
    let h = gamma.len();
    let inv_h = 1.0 / h as f32;
    for ((g, xh), &r) in dy.chunks_exact_mut(h).zip(xhat.chunks_exact(h)).zip(rstd) {
        let (mut m1, mut m2) = (0.0f32, 0.0f32);
        for (((gv, &x), &ga), (dgv, dbv)) in g
            .iter()
            .zip(xh)
            .zip(gamma)
            .zip(dg.iter_mut().zip(db.iter_mut()))
        {
            *dgv += gv * x;
            *dbv += gv;
            let t = gv * ga;
            m1 += t;
            m2 += t * x;
        }
        m1 *= inv_h;
        m2 *= inv_h;
        for ((gv, &x), &ga) in g.iter_mut().zip(xh).zip(gamma) {
            *gv = (*gv * ga - m1 - x * m2) * r;
        }
    }
}

multiversion!(
    ln_backward_dispatch,
    ln_backward_body,
    (dy: &mut [f32], xhat: &[f32], rstd: &[f32], gamma: &[f32], dg: &mut [f32], db: &mut [f32])
);

/// LayerNorm backward, in place: `dy (n, h)` becomes the input gradient; `dgamma` and `dbeta`
/// (`h` each) are overwritten with the parameter gradients.
pub fn layernorm_backward(
    dy: &mut [f32],
    xhat: &[f32],
    rstd: &[f32],
    gamma: &[f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) -> Result<()> {
    let h = gamma.len();
    if h == 0
        || dy.len() != xhat.len()
        || !dy.len().is_multiple_of(h)
        || rstd.len() * h != dy.len()
        || dgamma.len() != h
        || dbeta.len() != h
    {
        return Err(Error::invalid("layernorm backward: inconsistent shapes"));
    }
    let chunk = ROWS_PER_TASK * 4 * h;
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dy
        .par_chunks_mut(chunk)
        .zip(xhat.par_chunks(chunk))
        .zip(rstd.par_chunks(ROWS_PER_TASK * 4))
        .map(|((g, x), r)| {
            let (mut a, mut b) = (vec![0.0f32; h], vec![0.0f32; h]);
            ln_backward_dispatch(g, x, r, gamma, &mut a, &mut b);
            (a, b)
        })
        .collect();
    dgamma.fill(0.0);
    dbeta.fill(0.0);
    for (a, b) in partials {
        axpy(dgamma, 1.0, &a);
        axpy(dbeta, 1.0, &b);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u64) -> Vec<f32> {
        (0..n)
            .map(|i| ((mix(seed + i as u64) >> 40) as f32 / (1u64 << 24) as f32) - 0.5)
            .collect()
    }

    fn spec<'a>(
        starts: &'a [usize],
        lens: &'a [usize],
        mask: Option<&'a [f32]>,
        dropout: f32,
    ) -> AttentionSpec<'a> {
        AttentionSpec {
            heads: 2,
            head_dim: 4,
            starts,
            lens,
            key_mask: mask,
            scale: 0.5,
            dropout,
            seed: 9,
        }
    }

    fn loss(qkv: &[f32], s: &AttentionSpec<'_>, w: &[f32]) -> f64 {
        let mut ctx = vec![0.0f32; w.len()];
        attention_train_forward(qkv, s, &mut ctx).unwrap();
        ctx.iter().zip(w).map(|(a, b)| *a as f64 * *b as f64).sum()
    }

    #[test]
    fn attention_backward_matches_finite_differences() {
        let (n, h) = (9, 8);
        let qkv = data(n * 3 * h, 1);
        let w = data(n * h, 2);
        let mut mask = vec![0.0f32; n];
        mask[4] = f32::MIN;
        for drop in [0.0f32, 0.3] {
            let s = spec(&[0, 5], &[5, 4], Some(&mask), drop);
            let mut dqkv = vec![0.0f32; qkv.len()];
            attention_train_backward(&qkv, &s, &w, &mut dqkv).unwrap();
            let eps = 1e-2f32;
            for idx in (0..qkv.len()).step_by(7) {
                let mut a = qkv.clone();
                a[idx] += eps;
                let up = loss(&a, &s, &w);
                a[idx] -= 2.0 * eps;
                let down = loss(&a, &s, &w);
                let num = (up - down) / (2.0 * eps as f64);
                assert!(
                    (num - dqkv[idx] as f64).abs() < 2e-3,
                    "idx {idx} drop {drop}: {num} vs {}",
                    dqkv[idx]
                );
            }
        }
    }

    #[test]
    fn dropout_mask_rate_and_determinism() {
        let mut a = vec![0.0f32; 20000];
        attention_dropout_mask(3, 17, 1, 0.1, &mut a);
        let dropped = a.iter().filter(|v| **v == 0.0).count() as f64 / a.len() as f64;
        assert!((dropped - 0.1).abs() < 0.01, "{dropped}");
        let mut b = vec![0.0f32; 20000];
        attention_dropout_mask(3, 17, 1, 0.1, &mut b);
        assert_eq!(a, b);
        attention_dropout_mask(4, 17, 1, 0.1, &mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn rejects_bad_arguments() {
        let qkv = vec![0.0f32; 4 * 24];
        let mut ctx = vec![0.0f32; 4 * 8];
        assert!(
            attention_train_forward(&qkv, &spec(&[0, 2], &[3, 2], None, 0.0), &mut ctx).is_err()
        );
        assert!(attention_train_forward(&qkv, &spec(&[0], &[5], None, 0.0), &mut ctx).is_err());
        assert!(attention_train_forward(&qkv, &spec(&[0], &[4], None, 1.0), &mut ctx).is_err());
        assert!(
            attention_train_forward(&qkv[..30], &spec(&[0], &[1], None, 0.0), &mut ctx).is_err()
        );
        let mut dq = vec![0.0f32; 3];
        assert!(
            attention_train_backward(&qkv, &spec(&[0], &[4], None, 0.0), &ctx, &mut dq).is_err()
        );
        assert!(gelu_backward(&[1.0], &mut []).is_err());
    }

    #[test]
    fn gelu_and_layernorm_backward_match_finite_differences() {
        let x = data(64, 5).iter().map(|v| v * 6.0).collect::<Vec<_>>();
        let mut g = vec![1.0f32; 64];
        gelu_backward(&x, &mut g).unwrap();
        let f = |v: f64| 0.5 * v * (1.0 + erf_f32((v / std::f64::consts::SQRT_2) as f32) as f64);
        for (v, d) in x.iter().zip(&g) {
            let num = (f(*v as f64 + 1e-3) - f(*v as f64 - 1e-3)) / 2e-3;
            assert!((num - *d as f64).abs() < 2e-3, "{v}: {num} vs {d}");
        }
        // LayerNorm: loss = sum(w * LN(x)), check dx and dgamma numerically
        let (n, h) = (5, 8);
        let x0 = data(n * h, 7);
        let gamma: Vec<f32> = data(h, 8).iter().map(|v| v + 1.0).collect();
        let beta = data(h, 9);
        let w = data(n * h, 10);
        let lossf = |x: &[f32]| {
            let mut y = x.to_vec();
            let (mut xh, mut r) = (vec![0.0; n * h], vec![0.0; n]);
            layernorm_train_forward(&mut y, &mut xh, &mut r, &gamma, &beta, 1e-12).unwrap();
            y.iter()
                .zip(&w)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum::<f64>()
        };
        let mut y = x0.clone();
        let (mut xh, mut r) = (vec![0.0; n * h], vec![0.0; n]);
        layernorm_train_forward(&mut y, &mut xh, &mut r, &gamma, &beta, 1e-12).unwrap();
        let mut dy = w.clone();
        let (mut dg, mut db) = (vec![0.0; h], vec![0.0; h]);
        layernorm_backward(&mut dy, &xh, &r, &gamma, &mut dg, &mut db).unwrap();
        for i in 0..n * h {
            let mut a = x0.clone();
            a[i] += 1e-2;
            let up = lossf(&a);
            a[i] -= 2e-2;
            let num = (up - lossf(&a)) / 2e-2;
            assert!(
                (num - dy[i] as f64).abs() < 2e-3,
                "dx {i}: {num} vs {}",
                dy[i]
            );
        }
        for j in 0..h {
            let want: f32 = (0..n).map(|r| w[r * h + j] * xh[r * h + j]).sum();
            assert!((want - dg[j]).abs() < 1e-5);
            let want_b: f32 = (0..n).map(|r| w[r * h + j]).sum();
            assert!((want_b - db[j]).abs() < 1e-5);
        }
    }
}
