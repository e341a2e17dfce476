//! AMX tiles for the quantized products (modules `qgemm` and `bgemm`), through inline assembly
//! (Rust has no stable AMX intrinsics).
//!
//! `tdpbusd` adds to a 16 x 16 i32 tile the products of 16 rows x 64 `u8` and 64 `i8` x 16 columns;
//! `tdpbf16ps` adds to a 16 x 16 f32 tile those of 16 rows x 32 bf16 and 32 x 16 bf16. Both read
//! their second operand as 16 rows of 64 bytes, one per group of 4 `k` (int8) or 2 `k` (bf16), each
//! the 16 columns' values of the group: exactly the packed 16-column panels of those modules, so
//! the weights are used as packed. Output tiles of 32 rows x 32 columns (four accumulator tiles,
//! two activation tiles, two weight tiles) are stored to a buffer and handed to the caller's
//! epilogue row by row. Linux only lets a process use the tile registers after it asks
//! (`arch_prctl(ARCH_REQ_XCOMP_PERM)`), which [`ready`] does once.
use super::qgemm::{BLOCKS_PER_TASK, NB};
use rayon::prelude::*;
use std::arch::asm;
use std::arch::x86_64::*;
use std::ops::Range;

/// Rows of a task's row group (two tiles of 16); the activations are padded to a multiple.
pub(crate) const ROWS: usize = 32;

#[repr(C, align(64))]
struct Config {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    colsb: [u16; 16],
    rows: [u8; 16],
    reserved2: [u8; 16],
}

/// Whether the CPU has AMX-TILE, AMX-INT8 and AMX-BF16 and Linux lets this process use them.
pub(crate) fn ready() -> bool {
    static READY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *READY.get_or_init(|| {
        // SAFETY: CPUID leaf 7 is valid on x86-64 CPUs (AMX sits in EDX bits 22, 24, 25); the
        // system call only extends this process's XSAVE state.
        unsafe {
            let c = __cpuid_count(7, 0);
            let bits = (1 << 22) | (1 << 24) | (1 << 25);
            if c.edx & bits != bits {
                return false;
            }
            // arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)
            let ret: i64;
            asm!("syscall", inlateout("rax") 158i64 => ret, in("rdi") 0x1023i64,
                 in("rsi") 18i64, lateout("rcx") _, lateout("r11") _, options(nostack));
            ret == 0
        }
    })
}

/// Splits an `m x n` product into rayon tasks of [`ROWS`] rows x `BLOCKS_PER_TASK` blocks:
/// `f(first row, blocks)`.
pub(crate) fn for_each_task(m: usize, n: usize, f: impl Fn(usize, Range<usize>) + Sync) {
    let nblocks = n.div_ceil(NB);
    let col_tasks = nblocks.div_ceil(BLOCKS_PER_TASK);
    (0..m.div_ceil(ROWS) * col_tasks)
        .into_par_iter()
        .for_each(|t| {
            let b0 = (t % col_tasks) * BLOCKS_PER_TASK;
            f(
                (t / col_tasks) * ROWS,
                b0..(b0 + BLOCKS_PER_TASK).min(nblocks),
            );
        });
}

/// Rows `r0..r0 + 32` (those below `m` are handed on) against `blocks`: for each block,
/// `finish(block, rows)` gets the (row, 16 accumulator lanes) of its valid rows (i32 sums for
/// int8, f32 bit patterns for bf16).
///
/// `a` holds the activation rows `sa` bytes apart (at least `r0 + 32` rows; `sa`, a multiple of
/// 64, is `kp` for int8 and `2 kp` for bf16); block `b`'s panel starts at `panels + b *
/// panel_bytes` and holds `sa / 64` groups of 16 rows of 64 bytes.
///
/// # Safety
/// [`ready`]; the buffers as described.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn tiles<const BF16: bool>(
    a: *const u8,
    sa: usize,
    m: usize,
    r0: usize,
    blocks: Range<usize>,
    panels: *const u8,
    panel_bytes: usize,
    mut finish: impl FnMut(usize, &mut dyn Iterator<Item = (usize, __m512i)>),
) {
    let mut cfg = Config {
        palette: 1,
        start_row: 0,
        reserved: [0; 14],
        colsb: [64; 16],
        rows: [16; 16],
        reserved2: [0; 16],
    };
    cfg.colsb[8..].fill(0);
    cfg.rows[8..].fill(0);
    asm!("ldtilecfg [{}]", in(reg) &cfg, options(nostack, readonly));
    let mut c = [[0i32; 16]; 64]; // tiles (rows 0-15, block 0) (0-15, 1) (16-31, 0) (16-31, 1)
    let a0 = a.add(r0 * sa);
    let a1 = a0.add(16 * sa);
    let mut b = blocks.start;
    while b < blocks.end {
        let two = b + 1 < blocks.end;
        let p0 = panels.add(b * panel_bytes);
        let p1 = if two { p0.add(panel_bytes) } else { p0 };
        asm!(
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            options(nostack, nomem)
        );
        for kc in 0..sa / 64 {
            // activations: 16 rows x 64 bytes, rows sa apart; weights: 16 rows of 64 bytes
            let (x0, x1, y0, y1) = (
                a0.add(kc * 64),
                a1.add(kc * 64),
                p0.add(kc * 1024),
                p1.add(kc * 1024),
            );
            if BF16 {
                asm!(
                    "tileloadd tmm4, [{x0} + {sa}*1]",
                    "tileloadd tmm5, [{x1} + {sa}*1]",
                    "tileloadd tmm6, [{y0} + {sb}*1]",
                    "tileloadd tmm7, [{y1} + {sb}*1]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tdpbf16ps tmm1, tmm4, tmm7",
                    "tdpbf16ps tmm2, tmm5, tmm6",
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    x0 = in(reg) x0, x1 = in(reg) x1, y0 = in(reg) y0, y1 = in(reg) y1,
                    sa = in(reg) sa, sb = in(reg) 64usize,
                    options(nostack, readonly),
                );
            } else {
                asm!(
                    "tileloadd tmm4, [{x0} + {sa}*1]",
                    "tileloadd tmm5, [{x1} + {sa}*1]",
                    "tileloadd tmm6, [{y0} + {sb}*1]",
                    "tileloadd tmm7, [{y1} + {sb}*1]",
                    "tdpbusd tmm0, tmm4, tmm6",
                    "tdpbusd tmm1, tmm4, tmm7",
                    "tdpbusd tmm2, tmm5, tmm6",
                    "tdpbusd tmm3, tmm5, tmm7",
                    x0 = in(reg) x0, x1 = in(reg) x1, y0 = in(reg) y0, y1 = in(reg) y1,
                    sa = in(reg) sa, sb = in(reg) 64usize,
                    options(nostack, readonly),
                );
            }
        }
        let cp = c.as_mut_ptr() as *mut i32;
        asm!(
            "tilestored [{c0} + {s}*1], tmm0",
            "tilestored [{c1} + {s}*1], tmm1",
            "tilestored [{c2} + {s}*1], tmm2",
            "tilestored [{c3} + {s}*1], tmm3",
            c0 = in(reg) cp, c1 = in(reg) cp.add(256), c2 = in(reg) cp.add(512),
            c3 = in(reg) cp.add(768), s = in(reg) 64usize,
            options(nostack),
        );
        for bi in 0..1 + two as usize {
            let c = &c;
            let mut rows = (0..ROWS).take_while(|i| r0 + i < m).map(|i| {
                let tile = (i / 16) * 2 + bi;
                // SAFETY: row i % 16 of the tile, 16 i32 values.
                let lanes =
                    unsafe { _mm512_loadu_si512(c[tile * 16 + i % 16].as_ptr() as *const __m512i) };
                (r0 + i, lanes)
            });
            finish(b + bi, &mut rows);
        }
        b += 2;
    }
    asm!("tilerelease", options(nostack, nomem));
}
