//! Hand-written splitter for tiktoken's cl100k_base pattern
//! `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`.
use super::regex::{contraction_ci, Cls, L, N, NL, WS};

/// Calls `emit(start, end)` for each piece until it returns `false`.
pub fn split(text: &str, emit: &mut impl FnMut(usize, usize) -> bool) {
    let s = text.as_bytes();
    let cls = Cls::get();
    let mut i = 0;
    while i < s.len() {
        let e = piece_end(s, i, cls).max(i + 1);
        if !emit(i, e) {
            return;
        }
        i = e;
    }
}

#[inline(always)]
fn piece_end(s: &[u8], i: usize, cls: Cls) -> usize {
    let n = s.len();
    let b = s[i];
    // '(?i:[sdmt]|ll|ve|re)
    if b == b'\'' {
        let k = contraction_ci(s, i + 1);
        if k > 0 {
            return i + 1 + k;
        }
    }
    let (c, l) = cls.at(s, i);
    // [^\r\n\p{L}\p{N}]?+\p{L}++
    if c & L != 0 {
        return cls.run(s, i + l, L);
    }
    if c & (L | N | NL) == 0 && i + l < n {
        let (c2, l2) = cls.at(s, i + l);
        if c2 & L != 0 {
            return cls.run(s, i + l + l2, L);
        }
    }
    // \p{N}{1,3}+
    if c & N != 0 {
        let mut j = i + l;
        for _ in 0..2 {
            if j >= n {
                break;
            }
            let (c2, l2) = cls.at(s, j);
            if c2 & N == 0 {
                break;
            }
            j += l2;
        }
        return j;
    }
    // ' ?[^\s\p{L}\p{N}]++[\r\n]*+'
    let p = if b == b' ' && i + 1 < n && cls.at(s, i + 1).0 & (L | N | WS) == 0 {
        i + 1
    } else {
        i
    };
    let (cp, lp) = if p == i { (c, l) } else { cls.at(s, p) };
    if cp & (L | N | WS) == 0 {
        let mut j = cls.run_not(s, p + lp, L | N | WS);
        while j < n && (s[j] == b'\r' || s[j] == b'\n') {
            j += 1;
        }
        return j;
    }
    // \s++$ | \s*[\r\n] | \s+(?!\S) | \s
    cls.whitespace(s, i, true, true)
}
