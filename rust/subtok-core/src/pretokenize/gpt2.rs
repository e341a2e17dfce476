//! Hand-written splitter for the GPT-2 / r50k / p50k pattern
//! `'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s`.
use super::regex::{contraction_cs, Cls, L, N, WS};

/// End of the piece starting at byte `i` (run by [`super::regex::drive`]).
#[inline(always)]
pub(crate) fn piece_end(s: &[u8], i: usize, cls: Cls) -> usize {
    let n = s.len();
    let b = s[i];
    if b == b'\'' {
        let k = contraction_cs(s, i + 1);
        if k > 0 {
            return i + 1 + k;
        }
    }
    let (c, l) = cls.at(s, i);
    // ` ?X+` where the optional space is only taken if X follows it.
    let (start, class) = if b == b' ' && i + 1 < n {
        let (c2, l2) = cls.at(s, i + 1);
        if c2 & WS == 0 {
            (i + 1 + l2, c2)
        } else {
            (i + l, c)
        }
    } else {
        (i + l, c)
    };
    if class & L != 0 {
        return cls.run(s, start, L);
    }
    if class & N != 0 {
        return cls.run(s, start, N);
    }
    if class & WS == 0 {
        return cls.run_not(s, start, L | N | WS);
    }
    cls.whitespace(s, i, true, false)
}
