//! Fused multi-head self-attention over a packed `(rows, 3H)` QKV matrix.
//!
//! One rayon task per (sequence, group of heads) gathers its Q, K and V columns (plus the QKV
//! bias) in one pass over the sequence's rows into small buffers that stay in L1/L2; then, head by
//! head, it transposes K and for every block of [`ROWS`] queries computes the score rows, the
//! masked softmax and the weighted sum of values, and finally writes the group's context columns
//! row by row into the `(rows, H)` output. Nothing of size `T × T` ever reaches memory, and the
//! per-head matrix products never go through a BLAS call (whose threading overhead dominates on
//! 128 × 32 problems).
//!
//! The caller folds `1/sqrt(head_dim)` into the Q projection. Sequences are row ranges of the QKV
//! matrix, so one call covers both a padded `(B, T)` batch (B ranges of T rows plus an additive key
//! mask) and a packed batch of unequal lengths (one range per sequence, no mask).
use super::softmax_body;
use crate::error::{Error, Result};
use rayon::prelude::*;

/// Query rows handled together (each loaded key/value vector is reused this many times).
const ROWS: usize = 8;
/// Columns of one accumulator block: two 16-lane vectors.
const COLS: usize = 32;

fn round_up(n: usize, m: usize) -> usize {
    n.div_ceil(m) * m
}

/// Per-thread scratch buffers, grown on demand and reused across tasks and calls.
#[derive(Default)]
struct Scratch {
    q: Vec<f32>,   // (lq, group heads * d): the group's queries, rows >= len are zero
    k: Vec<f32>,   // (len, group heads * d): the group's keys
    kt: Vec<f32>,  // (d, lk): one head's keys transposed, columns >= len are zero
    v: Vec<f32>,   // per head, (lk, dp): values; rows >= len and columns >= d are never used
    s: Vec<f32>,   // (ROWS, lk): one block of attention weights
    out: Vec<f32>, // (ROWS, dp): one block of context rows
    kb: Vec<f32>,  // (lk,): the additive key bias; -inf on padding columns
    ctx: Vec<f32>, // (lq, group heads * d): the group's context, copied out row by row
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// `dst = a + b`, elementwise.
#[inline]
fn add_into(dst: &mut [f32], a: &[f32], b: &[f32]) {
    for ((x, y), z) in dst.iter_mut().zip(a).zip(b) {
        *x = y + z;
    }
}

/// Grow or shrink `buf` to `n` values, keeping (stale) contents: callers overwrite what is read.
fn size(buf: &mut Vec<f32>, n: usize) {
    buf.resize(n, 0.0);
}

/// `out[r][c] = sum_{i < inner} a[r * sa + i] * b[i * sb + c]` for `ROWS` rows and `cols` (a
/// multiple of COLS) columns, `out` rows `cols` apart: both products of a block (Q Kᵀ and P V).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rows_times(
    a: &[f32],
    sa: usize,
    b: &[f32],
    sb: usize,
    inner: usize,
    cols: usize,
    out: &mut [f32],
) {
    for c0 in (0..cols).step_by(COLS) {
        let mut acc = [[0.0f32; COLS]; ROWS];
        for i in 0..inner {
            let bv: &[f32; COLS] = b[i * sb + c0..i * sb + c0 + COLS].try_into().unwrap();
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let x = a[r * sa + i];
                for (y, bx) in acc_r.iter_mut().zip(bv) {
                    *y += x * *bx;
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            out[r * cols + c0..r * cols + c0 + COLS].copy_from_slice(acc_r);
        }
    }
}

/// One block of `ROWS` queries of one head: the queries start at `q` (rows `qs` apart, `d`
/// values each), `kt` is Kᵀ (d x lk), `v` the values (len x dp) and `kb` the key bias (`lk`
/// values, -inf on padding columns); the context of the first `rows` queries is wanted.
#[derive(Clone, Copy)]
struct Block<'a> {
    q: &'a [f32],
    qs: usize,
    kt: &'a [f32],
    v: &'a [f32],
    kb: &'a [f32],
    d: usize,
    len: usize,
    rows: usize,
}

/// Scores plus key bias, softmax, and the context rows into `out` (`s` holds the weights).
#[inline(always)]
fn attend_block_body(b: Block<'_>, s: &mut [f32], out: &mut [f32]) {
    let lk = b.kb.len();
    let dp = round_up(b.d, COLS);
    rows_times(b.q, b.qs, b.kt, lk, b.d, lk, s);
    softmax_body(&mut s[..b.rows * lk], lk, Some(b.kb)); // padding columns of kb are -inf: weight 0
    rows_times(s, lk, b.v, dp, b.len, dp, out);
}

/// SIMD kernels (AVX-512 and AVX2, see module `simd`): the portable loops above leave their
/// accumulators in memory and cannot fuse multiply-adds, so on x86-64 one block is written with
/// intrinsics, keeping tiles of `R` rows x two vectors of accumulators in registers (R = 8 rows of
/// 32 columns in 16 zmm registers; R = 4 rows of 16 columns in 8 ymm registers). The score pass
/// also adds the key bias and tracks each row's maximum; the softmax is one exp-and-sum pass, and
/// its normalization is applied to the context rows (d values) instead of the weights (`len`).
#[cfg(target_arch = "x86_64")]
mod fast {
    use super::{Block, COLS, ROWS};
    use crate::kernels::simd::{exp, Simd};

    /// One `R x 2 vectors` tile of `sum_{i < inner} a[r * sa + i] * b[i * sb ..][..2 LANES]`
    /// (both products of a block, as the portable `rows_times`).
    ///
    /// # Safety
    /// `a` must hold `R` rows `sa` apart of `inner` values and `b` `inner` rows `sb` apart of
    /// `2 LANES` values; the CPU must support `S`.
    #[inline(always)]
    unsafe fn rows_times<S: Simd, const R: usize>(
        a: *const f32,
        sa: usize,
        b: *const f32,
        sb: usize,
        inner: usize,
    ) -> [[S::V; 2]; R] {
        let mut acc = [[S::splat(0.0); 2]; R];
        for i in 0..inner {
            let b0 = S::load(b.add(i * sb));
            let b1 = S::load(b.add(i * sb + S::LANES));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let x = S::splat(*a.add(r * sa + i));
                acc_r[0] = S::fmadd(x, b0, acc_r[0]);
                acc_r[1] = S::fmadd(x, b1, acc_r[1]);
            }
        }
        acc
    }

    /// As `attend_block_body`. The caller checks the buffer sizes (`s`: ROWS x lk, `out`:
    /// ROWS x dp, with `lk = kb.len()` and `dp` multiples of COLS) and that the CPU supports `S`.
    #[inline(always)]
    pub(super) unsafe fn attend_block<S: Simd>(b: Block<'_>, s: &mut [f32], out: &mut [f32]) {
        // as many rows per tile as leave registers for the tile's two vectors of each row
        if S::LANES >= 16 {
            attend::<S, 8>(b, s, out)
        } else {
            attend::<S, 4>(b, s, out)
        }
    }

    #[inline(always)]
    unsafe fn attend<S: Simd, const R: usize>(b: Block<'_>, s: &mut [f32], out: &mut [f32]) {
        const { assert!(ROWS % R == 0) };
        let Block {
            q,
            qs,
            kt,
            v,
            kb,
            d,
            len,
            rows,
        } = b;
        let w = 2 * S::LANES; // columns of a tile; divides COLS
        debug_assert!(COLS % w == 0);
        let lk = kb.len();
        let dp = super::round_up(d, COLS);
        let (sp, op) = (s.as_mut_ptr(), out.as_mut_ptr());
        // Scores + key bias, and each row's running maximum (tiles past `rows` are skipped;
        // rows past it in the last tile are padding, their results unused).
        let mut mx = [S::splat(f32::NEG_INFINITY); ROWS];
        for r0 in (0..rows).step_by(R) {
            for j0 in (0..lk).step_by(w) {
                let acc =
                    rows_times::<S, R>(q.as_ptr().add(r0 * qs), qs, kt.as_ptr().add(j0), lk, d);
                let b0 = S::load(kb.as_ptr().add(j0));
                let b1 = S::load(kb.as_ptr().add(j0 + S::LANES));
                for (r, a) in acc.iter().enumerate() {
                    let (s0, s1) = (S::add(a[0], b0), S::add(a[1], b1));
                    let at = sp.add((r0 + r) * lk + j0);
                    S::store(at, s0);
                    S::store(at.add(S::LANES), s1);
                    mx[r0 + r] = S::max(mx[r0 + r], S::max(s0, s1));
                }
            }
        }
        // exp(s - max) in place and the row sums.
        let mut inv = [0.0f32; ROWS];
        for r in 0..rows {
            let m = S::splat(S::reduce_max(mx[r]));
            let mut sum = S::splat(0.0);
            for j0 in (0..lk).step_by(S::LANES) {
                let p = sp.add(r * lk + j0);
                let e = exp::<S>(S::sub(S::load(p), m));
                S::store(p, e);
                sum = S::add(sum, e);
            }
            inv[r] = 1.0 / S::reduce_add(sum);
        }
        // Context rows: sum_j e[r][j] v[j] / sum_j e[r][j].
        for r0 in (0..rows).step_by(R) {
            for c0 in (0..dp).step_by(w) {
                let acc = rows_times::<S, R>(sp.add(r0 * lk), lk, v.as_ptr().add(c0), dp, len);
                for (r, a) in acc.iter().enumerate() {
                    let scale = S::splat(inv[r0 + r]);
                    let at = op.add((r0 + r) * dp + c0);
                    S::store(at, S::mul(a[0], scale));
                    S::store(at.add(S::LANES), S::mul(a[1], scale));
                }
            }
        }
    }
}

multiversion!(
    attend_block_dispatch,
    attend_block_body,
    (b: Block<'_>, s: &mut [f32], out: &mut [f32]),
    simd: fast::attend_block
);

/// One block of queries (through the SIMD kernels when the CPU has them), after checking the
/// buffer sizes the kernels rely on.
fn attend_block(b: Block<'_>, s: &mut [f32], out: &mut [f32]) {
    let (lk, dp) = (b.kb.len(), round_up(b.d, COLS));
    assert!(lk.is_multiple_of(COLS) && lk >= b.len && b.rows <= ROWS);
    assert!(b.qs >= b.d && b.q.len() >= (ROWS - 1) * b.qs + b.d);
    assert!(b.kt.len() >= b.d * lk && b.v.len() >= b.len * dp);
    assert!(s.len() >= ROWS * lk && out.len() >= ROWS * dp);
    attend_block_dispatch(b, s, out)
}

/// The context output, shared by tasks that each write a disjoint set of (row, column) cells.
struct SharedOut {
    ptr: *mut f32,
    len: usize,
}
// SAFETY: tasks write disjoint cells (distinct sequences own distinct rows, distinct heads own
// distinct columns); `self_attention` checks that sequences do not overlap before sharing it.
unsafe impl Sync for SharedOut {}

/// Multi-head self-attention: for every sequence (`starts[i]`, `lens[i]` rows of `qkv`) and head,
/// `ctx[rows, head] = softmax(Q Kᵀ + key_mask) V`, where Q, K and V are the head's columns of
/// `qkv + bias` (`qkv` is `(n, 3H)` laid out `[Q | K | V]`, heads contiguous within each).
///
/// `key_mask` (one additive value per row of `qkv`, e.g. 0 or `f32::MIN`) masks keys; `ctx` is
/// `(n, H)`. Rows outside every sequence are left untouched. Sequences must not overlap.
#[allow(clippy::too_many_arguments)]
pub fn self_attention(
    qkv: &[f32],
    bias: Option<&[f32]>,
    heads: usize,
    head_dim: usize,
    starts: &[usize],
    lens: &[usize],
    key_mask: Option<&[f32]>,
    ctx: &mut [f32],
) -> Result<()> {
    let h = heads * head_dim;
    if h == 0 || !qkv.len().is_multiple_of(3 * h) {
        return Err(Error::invalid(format!(
            "attention: {} values are not whole rows of 3 * {heads} heads * {head_dim}",
            qkv.len()
        )));
    }
    let n = qkv.len() / (3 * h);
    if ctx.len() != n * h {
        return Err(Error::invalid(format!(
            "attention: output has {} values, expected {n} x {h}",
            ctx.len()
        )));
    }
    if bias.is_some_and(|b| b.len() != 3 * h) {
        return Err(Error::invalid(format!(
            "attention: bias must have {} values",
            3 * h
        )));
    }
    if key_mask.is_some_and(|m| m.len() != n) {
        return Err(Error::invalid(format!(
            "attention: key mask must have {n} values"
        )));
    }
    if starts.len() != lens.len() {
        return Err(Error::invalid(
            "attention: starts and lengths differ in length",
        ));
    }
    let mut ranges: Vec<(usize, usize)> =
        starts.iter().copied().zip(lens.iter().copied()).collect();
    ranges.retain(|(_, l)| *l > 0); // empty sequences have nothing to compute
    ranges.sort_unstable();
    let mut end = 0;
    for &(s, l) in &ranges {
        if s < end || s.checked_add(l).is_none_or(|e| e > n) {
            return Err(Error::invalid(format!(
                "attention: sequence at row {s} of length {l} overlaps another or exceeds {n} rows"
            )));
        }
        end = s + l;
    }

    let zeros;
    let bias = match bias {
        Some(b) => b,
        None => {
            zeros = vec![0.0f32; 3 * h];
            &zeros
        }
    };
    let out = SharedOut {
        ptr: ctx.as_mut_ptr(),
        len: ctx.len(),
    };
    let out = &out;
    // One task per (sequence, group of heads): a sequence's rows are then read by one thread,
    // head after head, while they sit in its L2 and TLB; heads are split only as far as needed
    // to give every thread several tasks.
    let live = ranges;
    let groups = (4 * rayon::current_num_threads())
        .div_ceil(live.len().max(1))
        .clamp(1, heads);
    let per_group = heads.div_ceil(groups);
    let tasks: Vec<(usize, usize, usize)> = live
        .iter()
        .flat_map(|&(s, l)| (0..heads).step_by(per_group).map(move |h0| (s, l, h0)))
        .collect();
    tasks.par_iter().for_each(|&(start, len, h0)| {
        SCRATCH.with_borrow_mut(|w| {
            let group = Group {
                start,
                len,
                h0,
                h1: (h0 + per_group).min(heads),
                h,
                d: head_dim,
            };
            attend_group(w, &group, qkv, bias, key_mask, out);
        })
    });
    Ok(())
}

/// Heads `h0..h1` of the sequence of `len` rows from `start`; the model width is `h`.
struct Group {
    start: usize,
    len: usize,
    h0: usize,
    h1: usize,
    h: usize,
    d: usize,
}

/// Attention of one group: gather Q, Kᵀ, V (+ bias) of its heads in one pass over the rows,
/// attend head by head, then write the group's context columns row by row.
fn attend_group(
    w: &mut Scratch,
    g: &Group,
    qkv: &[f32],
    bias: &[f32],
    key_mask: Option<&[f32]>,
    out: &SharedOut,
) {
    let (h, d, len) = (g.h, g.d, g.len);
    let nh = g.h1 - g.h0;
    let (lq, lk, dp) = (round_up(len, ROWS), round_up(len, COLS), round_up(d, COLS));
    let width = nh * d; // the group's columns within each of Q, K and V
    let vs = lk * dp; // per-head size of `v`
    size(&mut w.q, lq * width);
    size(&mut w.k, len * width);
    size(&mut w.kt, d * lk);
    size(&mut w.v, nh * vs);
    size(&mut w.s, ROWS * lk);
    size(&mut w.out, ROWS * dp);
    size(&mut w.ctx, lq * width);
    // Buffers keep stale values from earlier tasks. Two padding regions are read and are zeroed:
    // Kᵀ columns past `len` (-inf is added to them, so they must be finite for their weight to be
    // exactly 0) and query rows past `len` (their context is dropped; zeros keep stale NaN or
    // subnormal values out of the arithmetic). Value columns past `d` only reach dropped outputs.
    w.q[len * width..].fill(0.0);
    for row in w.kt.chunks_exact_mut(lk) {
        row[len..].fill(0.0);
    }
    let cols = g.h0 * d..g.h1 * d;
    let (bq, bk, bv) = (
        &bias[cols.clone()],
        &bias[h..][cols.clone()],
        &bias[2 * h..][cols.clone()],
    );
    // One sequential pass over the rows: Q and K rows as they are (plus bias), V split per head
    // into rows padded to `dp` for the context kernel.
    let rows = qkv[g.start * 3 * h..(g.start + len) * 3 * h].chunks_exact(3 * h);
    let dst = w.q.chunks_exact_mut(width).zip(w.k.chunks_exact_mut(width));
    for (j, (row, (qd, kd))) in rows.zip(dst).enumerate() {
        add_into(qd, &row[cols.clone()], bq);
        add_into(kd, &row[h..][cols.clone()], bk);
        let rv = &row[2 * h..][cols.clone()];
        for hh in 0..nh {
            let c = hh * d..(hh + 1) * d;
            add_into(&mut w.v[hh * vs + j * dp..][..d], &rv[c.clone()], &bv[c]);
        }
    }
    w.kb.clear();
    match key_mask {
        Some(m) => w.kb.extend_from_slice(&m[g.start..g.start + len]),
        None => w.kb.resize(len, 0.0),
    }
    w.kb.resize(lk, f32::NEG_INFINITY);
    for hh in 0..nh {
        // Kᵀ of this head, read from the L1-resident key rows.
        for (k, kt_row) in w.kt.chunks_exact_mut(lk).enumerate() {
            for (x, krow) in kt_row.iter_mut().zip(w.k.chunks_exact(width)) {
                *x = krow[hh * d + k];
            }
        }
        let v = &w.v[hh * vs..][..vs];
        for i0 in (0..lq).step_by(ROWS) {
            let rows = ROWS.min(len - i0);
            let q = &w.q[i0 * width + hh * d..];
            let block = Block {
                q,
                qs: width,
                kt: &w.kt,
                v,
                kb: &w.kb,
                d,
                len,
                rows,
            };
            attend_block(block, &mut w.s, &mut w.out);
            for r in 0..rows {
                w.ctx[(i0 + r) * width + hh * d..][..d].copy_from_slice(&w.out[r * dp..][..d]);
            }
        }
    }
    for (r, src) in w.ctx.chunks_exact(width).take(len).enumerate() {
        let at = (g.start + r) * h + g.h0 * d;
        assert!(at + width <= out.len);
        // SAFETY: row start+r, columns of heads h0..h1, belongs to this task alone (sequences
        // were checked disjoint and each head is in one group) and is in bounds.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), out.ptr.add(at), width) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tests::for_each_level;

    /// Straightforward float64 attention for one sequence and head.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        qkv: &[f32],
        bias: &[f32],
        heads: usize,
        d: usize,
        start: usize,
        len: usize,
        mask: Option<&[f32]>,
        hd: usize,
    ) -> Vec<f64> {
        let h = heads * d;
        let at = |r: usize, c: usize| (qkv[(start + r) * 3 * h + c] + bias[c]) as f64;
        let mut out = vec![0.0; len * d];
        for i in 0..len {
            let mut s: Vec<f64> = (0..len)
                .map(|j| {
                    let dot: f64 = (0..d)
                        .map(|k| at(i, hd * d + k) * at(j, h + hd * d + k))
                        .sum();
                    dot + mask.map_or(0.0, |m| m[start + j] as f64)
                })
                .collect();
            let mx = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            s.iter_mut().for_each(|x| *x = (*x - mx).exp());
            let sum: f64 = s.iter().sum();
            for k in 0..d {
                out[i * d + k] = (0..len)
                    .map(|j| s[j] / sum * at(j, 2 * h + hd * d + k))
                    .sum();
            }
        }
        out
    }

    /// Pseudo-random values in [-0.5, 0.5): attention logits of realistic size (a few units).
    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 * 0.618 + seed as f32).sin() * 43758.547).rem_euclid(1.0) - 0.5)
            .collect()
    }

    #[test]
    fn matches_reference_on_ragged_sequences_and_masks() {
        for &(heads, d) in &[(3usize, 8usize), (2, 32), (1, 37)] {
            let h = heads * d;
            let seqs = [(0usize, 1usize), (1, 9), (12, 33), (45, 8), (60, 70)];
            let n = 130;
            let qkv = data(n * 3 * h, d as u32);
            let bias = data(3 * h, 7);
            let mut mask = vec![0.0f32; n];
            mask[14] = f32::MIN;
            mask[100] = f32::MIN;
            let mut ctx = vec![-7.0f32; n * h];
            let (starts, lens): (Vec<_>, Vec<_>) = seqs.iter().copied().unzip();
            self_attention(
                &qkv,
                Some(&bias),
                heads,
                d,
                &starts,
                &lens,
                Some(&mask),
                &mut ctx,
            )
            .unwrap();
            for &(s, l) in &seqs {
                for hd in 0..heads {
                    let want = reference(&qkv, &bias, heads, d, s, l, Some(&mask), hd);
                    for i in 0..l {
                        for k in 0..d {
                            let got = ctx[(s + i) * h + hd * d + k] as f64;
                            assert!(
                                (got - want[i * d + k]).abs() < 2e-6,
                                "h={heads} d={d} seq={s} i={i} k={k} got={got} want={}",
                                want[i * d + k]
                            );
                        }
                    }
                }
            }
            // rows 10, 11 and 53..60 belong to no sequence: untouched
            assert!(ctx[10 * h..12 * h]
                .iter()
                .chain(&ctx[53 * h..60 * h])
                .all(|&x| x == -7.0));
        }
    }

    #[test]
    fn portable_block_matches_each_simd_block() {
        // `attend_block` takes the intrinsics path of each SIMD level this CPU has (AVX-512,
        // AVX2); the portable loops (used elsewhere) must agree with every one. Ragged row counts
        // cover partial tiles of both tile heights (8 and 4 rows).
        let (d, len, qs) = (20, 45, 64);
        let (lk, dp) = (round_up(len, COLS), round_up(d, COLS));
        let q = data(ROWS * qs, 1);
        let kt = data(d * lk, 2);
        let mut v = data(len * dp, 3);
        v.resize(lk * dp, 0.0);
        let mut kb = data(len, 4);
        kb[3] = f32::MIN;
        kb.resize(lk, f32::NEG_INFINITY);
        for rows in [1, 3, 5, 8] {
            let run = |f: fn(Block<'_>, &mut [f32], &mut [f32])| {
                let (mut s, mut out) = (vec![0.0f32; ROWS * lk], vec![0.0f32; ROWS * dp]);
                let block = Block {
                    q: &q,
                    qs,
                    kt: &kt,
                    v: &v,
                    kb: &kb,
                    d,
                    len,
                    rows,
                };
                f(block, &mut s, &mut out);
                out
            };
            let want = run(attend_block_body);
            for_each_level(|level| {
                let got = run(attend_block);
                for r in 0..rows {
                    for c in 0..d {
                        let (a, b) = (got[r * dp + c], want[r * dp + c]);
                        assert!((a - b).abs() < 1e-6, "{level} rows {rows}: row {r} col {c}");
                    }
                }
            });
        }
    }

    #[test]
    fn stale_scratch_from_a_nan_sequence_does_not_leak() {
        // Run a sequence full of NaN first, then a shorter clean one whose padding regions overlap
        // what the first one left behind, on one thread (so the same scratch buffers).
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        pool.install(stale_scratch_body);
    }

    fn stale_scratch_body() {
        let (heads, d) = (2, 32);
        let h = heads * d;
        let nan = vec![f32::NAN; 64 * 3 * h];
        let mut ctx = vec![0.0f32; 64 * h];
        self_attention(&nan, None, heads, d, &[0], &[64], None, &mut ctx).unwrap();
        let qkv = data(64 * 3 * h, 9);
        let bias = vec![0.0f32; 3 * h];
        self_attention(&qkv, None, heads, d, &[0], &[13], None, &mut ctx).unwrap();
        for hd in 0..heads {
            let want = reference(&qkv, &bias, heads, d, 0, 13, None, hd);
            for i in 0..13 {
                for k in 0..d {
                    let got = ctx[i * h + hd * d + k] as f64;
                    assert!(
                        (got - want[i * d + k]).abs() < 2e-6,
                        "i={i} k={k} got={got}"
                    );
                }
            }
        }
    }

    #[test]
    fn rejects_bad_shapes_and_overlaps() {
        let (heads, d) = (2, 4);
        let qkv = vec![0.0f32; 10 * 24];
        let mut ctx = vec![0.0f32; 10 * 8];
        let ok = |starts: &[usize], lens: &[usize], ctx: &mut [f32]| {
            self_attention(&qkv, None, heads, d, starts, lens, None, ctx)
        };
        assert!(ok(&[0, 5], &[5, 5], &mut ctx).is_ok());
        assert!(ok(&[0, 4], &[5, 5], &mut ctx).is_err()); // overlap
        assert!(ok(&[6], &[5], &mut ctx).is_err()); // past the end
        assert!(ok(&[usize::MAX], &[2], &mut ctx).is_err());
        assert!(ok(&[0], &[5, 5], &mut ctx).is_err());
        assert!(ok(&[0], &[5], &mut ctx[..8]).is_err());
        assert!(self_attention(&qkv[..23], None, heads, d, &[], &[], None, &mut ctx).is_err());
        assert!(self_attention(&qkv, Some(&[0.0; 3]), heads, d, &[], &[], None, &mut ctx).is_err());
    }
}
