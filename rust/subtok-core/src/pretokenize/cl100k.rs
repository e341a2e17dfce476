//! Hand-written splitter for tiktoken's cl100k_base pattern
//! `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`
//! and, with `DOLLAR = false`, for Llama-3's spelling of it ([`super::regex::LLAMA3_PATTERN`]:
//! the same words, no `\s++$`, `\s*[\r\n]+|\s+(?!\S)|\s+` for whitespace).
use super::regex::{contraction_ci, Cls, L, N, NL};

/// End of the piece starting at byte `i` (run by [`super::regex::drive`]).
#[inline(always)]
pub(crate) fn piece_end<const DOLLAR: bool>(s: &[u8], i: usize, cls: Cls) -> usize {
    // '(?i:[sdmt]|ll|ve|re)
    if s[i] == b'\'' {
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
    if c & (L | N | NL) == 0 && i + l < s.len() {
        let (c2, l2) = cls.at(s, i + l);
        if c2 & L != 0 {
            return cls.run(s, i + l + l2, L);
        }
    }
    if c & N != 0 {
        return cls.digits3(s, i, l);
    }
    if let Some(e) = cls.punct(s, i, (c, l), |b| b == b'\r' || b == b'\n') {
        return e;
    }
    cls.whitespace(s, i, DOLLAR, true)
}
