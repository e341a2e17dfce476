//! Hand-written splitter for tiktoken's o200k_base pattern (see [`super::regex::O200K_PATTERN`]):
//! case-aware words with an optional one-character prefix and an optional contraction suffix,
//! digit groups of 1-3, punctuation runs with `[\r\n/]*`, and the whitespace rules.
use super::regex::{contraction_ci, Cls, L, LO, N, NL, UP};

/// `[UP]*[LO]+` from `p`, with the backtracking of the greedy `[UP]*` resolved directly.
#[inline(always)]
fn word_lower(s: &[u8], p: usize, cls: Cls) -> Option<usize> {
    let n = s.len();
    let mut j = p;
    let mut last_lo_end = 0usize;
    while j < n {
        let (c, l) = cls.at(s, j);
        if c & UP == 0 {
            break;
        }
        if c & LO != 0 {
            last_lo_end = j + l;
        }
        j += l;
    }
    if j < n {
        let (c, l) = cls.at(s, j);
        if c & LO != 0 {
            return Some(cls.run(s, j + l, LO));
        }
    }
    if last_lo_end > 0 {
        Some(last_lo_end)
    } else {
        None
    }
}

/// `[UP]+[LO]*` from `p`.
#[inline(always)]
fn word_upper(s: &[u8], p: usize, cls: Cls) -> Option<usize> {
    let j = cls.run(s, p, UP);
    if j == p {
        return None;
    }
    Some(cls.run(s, j, LO))
}

#[inline(always)]
fn with_suffix(s: &[u8], e: usize) -> usize {
    if s.get(e) == Some(&b'\'') {
        let k = contraction_ci(s, e + 1);
        if k > 0 {
            return e + 1 + k;
        }
    }
    e
}

/// End of the piece starting at byte `i` (run by [`super::regex::drive`]).
#[inline(always)]
pub(crate) fn piece_end(s: &[u8], i: usize, cls: Cls) -> usize {
    let n = s.len();
    let (c, l) = cls.at(s, i);
    let prefix = c & (L | N | NL) == 0 && i + l < n;
    // alternative 1, with then without the optional prefix character
    if prefix {
        if let Some(e) = word_lower(s, i + l, cls) {
            return with_suffix(s, e);
        }
    }
    if let Some(e) = word_lower(s, i, cls) {
        return with_suffix(s, e);
    }
    // alternative 2
    if prefix {
        if let Some(e) = word_upper(s, i + l, cls) {
            return with_suffix(s, e);
        }
    }
    if let Some(e) = word_upper(s, i, cls) {
        return with_suffix(s, e);
    }
    if c & N != 0 {
        return cls.digits3(s, i, l);
    }
    if let Some(e) = cls.punct(s, i, (c, l), |b| matches!(b, b'\r' | b'\n' | b'/')) {
        return e;
    }
    // \s*[\r\n]+ | \s+(?!\S) | \s+
    cls.whitespace(s, i, false, true)
}
