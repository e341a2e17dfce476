//! A string being normalized, with, for each of its bytes, the byte range of the original input
//! it came from (HF's `NormalizedString` alignments, kept absolute: positions in the whole input).
//!
//! Every edit follows HF's alignment rules, so that offsets come out identical: a character that
//! replaces another takes the replaced one's span; an inserted character takes the span of the
//! byte before it (the input start, if it is first); removed characters leave no trace.

thread_local! {
    /// Buffers of the last replaced text, reused by the next rewrite on this thread.
    static SPARE: std::cell::RefCell<(String, Vec<(u32, u32)>)> = Default::default();
}

/// Empty buffers for a rewrite (the spare ones when there are).
fn take_spare() -> (String, Vec<(u32, u32)>) {
    let (mut t, mut a) = SPARE.with(|s| std::mem::take(&mut *s.borrow_mut()));
    t.clear();
    a.clear();
    (t, a)
}

/// Install rewritten buffers in `n`, keeping the old ones as the spare.
fn install(n: &mut Normalized, text: String, align: Vec<(u32, u32)>) {
    let old = (std::mem::replace(&mut n.text, text), std::mem::replace(&mut n.align, align));
    SPARE.with(|s| *s.borrow_mut() = old);
}

/// Text plus per-byte original spans.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    pub text: String,
    /// One `(start, end)` original byte span per byte of `text`.
    pub align: Vec<(u32, u32)>,
    /// Original position used for a character inserted at the very start.
    pub base: u32,
}

impl Normalized {
    /// `text`, found at original byte `base`.
    pub fn new(text: &str, base: usize) -> Self {
        let mut n = Normalized {
            text: String::new(),
            align: Vec::new(),
            base: base as u32,
        };
        n.reset(text, base);
        n
    }

    /// Reuse this value's buffers for `text` at original byte `base`.
    pub fn reset(&mut self, text: &str, base: usize) {
        self.text.clear();
        self.text.push_str(text);
        self.align.clear();
        self.base = base as u32;
        if text.is_ascii() {
            let b = base as u32;
            self.align.extend((0..text.len() as u32).map(|i| (b + i, b + i + 1)));
            return;
        }
        for (i, c) in text.char_indices() {
            let (s, e) = ((base + i) as u32, (base + i + c.len_utf8()) as u32);
            for _ in 0..c.len_utf8() {
                self.align.push((s, e));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Original span of the normalized byte range `s..e` (first byte's start, last byte's end).
    pub fn original(&self, s: usize, e: usize) -> (u32, u32) {
        if s >= e || e > self.align.len() {
            let p = self.align.get(s).map_or(self.base, |a| a.0);
            return (p, p);
        }
        (self.align[s].0, self.align[e - 1].1)
    }

    /// HF's `transform_range` over `range` (bytes): `dest` yields each new character with its
    /// change (`0` replaces the next old character, `1` is inserted, `-k` replaces one and
    /// removes `k` more); `initial_removed` old characters are dropped first.
    pub fn transform_range(
        &mut self,
        range: std::ops::Range<usize>,
        dest: impl IntoIterator<Item = (char, isize)>,
        initial_removed: usize,
    ) {
        let old = &self.text[range.clone()];
        let mut old_chars = old.chars();
        let mut offset = range.start;
        for _ in 0..initial_removed {
            offset += old_chars.next().map_or(0, char::len_utf8);
        }
        let mut text = String::with_capacity(old.len());
        let mut align = Vec::with_capacity(old.len());
        for (c, change) in dest {
            let a = if change > 0 {
                if offset == 0 {
                    (self.base, self.base)
                } else {
                    self.align[offset - 1]
                }
            } else {
                self.align.get(offset).copied().unwrap_or((self.base, self.base))
            };
            if change <= 0 {
                offset += old_chars.next().map_or(0, char::len_utf8);
            }
            for _ in 0..(-change.min(0)) {
                offset += old_chars.next().map_or(0, char::len_utf8);
            }
            text.push(c);
            align.extend(std::iter::repeat_n(a, c.len_utf8()));
        }
        self.align.splice(range.clone(), align);
        self.text.replace_range(range, &text);
    }

    /// [`transform_range`](Self::transform_range) over the whole string.
    pub fn transform(&mut self, dest: impl IntoIterator<Item = (char, isize)>, initial_removed: usize) {
        let n = self.text.len();
        self.transform_range(0..n, dest, initial_removed);
    }

    /// Replace each character by 0, 1 or more characters (`f` pushes them); each output
    /// character takes its source character's span (HF `map`/`filter`/`lowercase` semantics).
    pub fn map_chars(&mut self, mut f: impl FnMut(char, &mut dyn FnMut(char))) {
        let (mut text, mut align) = take_spare();
        text.reserve(self.text.len());
        align.reserve(self.text.len());
        for (i, c) in self.text.char_indices() {
            let a = self.align[i];
            let (text, align) = (&mut text, &mut align);
            f(c, &mut |x: char| {
                text.push(x);
                align.extend(std::iter::repeat_n(a, x.len_utf8()));
            });
        }
        install(self, text, align);
    }

    /// HF `prepend`: `s` goes before the first character, every added character sharing its span.
    pub fn prepend(&mut self, s: &str) {
        // (HF's transform: the first added character replaces the first one, the rest and the
        // first character itself are inserted after it: all take the first character's span)
        let Some(&a) = self.align.first() else {
            return;
        };
        self.text.insert_str(0, s);
        self.align.splice(0..0, std::iter::repeat_n(a, s.len()));
    }

    /// HF `replace` for the given matches (byte ranges of the current text, in order): each
    /// match becomes `content`, whose characters take the span of the match's last byte.
    /// One pass over the text.
    pub fn replace_ranges(&mut self, matches: &[(usize, usize)], content: &str) {
        if matches.iter().all(|&(s, e)| s == e) {
            return;
        }
        let (mut text, mut align) = take_spare();
        let grow = matches.len() * content.len();
        text.reserve(self.text.len() + grow);
        align.reserve(self.text.len() + grow);
        let mut prev = 0;
        for &(s, e) in matches {
            if s == e {
                continue;
            }
            text.push_str(&self.text[prev..s]);
            align.extend_from_slice(&self.align[prev..s]);
            text.push_str(content);
            align.extend(std::iter::repeat_n(self.align[e - 1], content.len()));
            prev = e;
        }
        text.push_str(&self.text[prev..]);
        align.extend_from_slice(&self.align[prev..]);
        install(self, text, align);
    }

    /// HF `lrstrip`: drop leading and/or trailing whitespace.
    pub fn strip(&mut self, left: bool, right: bool) {
        let lead = if left {
            self.text.len() - self.text.trim_start().len()
        } else {
            0
        };
        let trail = if right {
            self.text.len() - self.text.trim_end().len()
        } else {
            0
        };
        if lead + trail >= self.text.len() {
            self.text.clear();
            self.align.clear();
            return;
        }
        let end = self.text.len() - trail;
        self.text.truncate(end);
        self.align.truncate(end);
        self.text.drain(..lead);
        self.align.drain(..lead);
    }

    /// Append `other` (a later part of the same input).
    pub fn push(&mut self, other: &Normalized) {
        self.text.push_str(&other.text);
        self.align.extend_from_slice(&other.align);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepend_shares_the_first_span() {
        let mut n = Normalized::new("€5", 3);
        n.prepend("▁");
        assert_eq!(n.text, "▁€5");
        assert_eq!(n.original(0, 3), (3, 6));
        assert_eq!(n.original(3, 6), (3, 6));
        assert_eq!(n.original(6, 7), (6, 7));
    }

    #[test]
    fn replace_takes_the_last_matched_byte() {
        let mut n = Normalized::new("a  b", 0);
        n.replace_ranges(&[(1, 3)], "▁");
        assert_eq!(n.text, "a▁b");
        assert_eq!(n.original(1, 4), (2, 3));
        assert_eq!(n.original(4, 5), (3, 4));
    }

    #[test]
    fn map_and_strip_keep_spans() {
        let mut n = Normalized::new(" İx ", 0);
        n.map_chars(|c, out| c.to_lowercase().for_each(&mut *out));
        assert_eq!(n.text, " i\u{307}x ");
        assert_eq!(n.original(1, 4), (1, 3));
        n.strip(true, true);
        assert_eq!(n.text, "i\u{307}x");
        assert_eq!(n.original(0, n.text.len()), (1, 4));
    }

    #[test]
    fn nfc_composes_with_the_first_span() {
        use unicode_normalization_alignments::UnicodeNormalization;
        let mut n = Normalized::new("e\u{301}!", 0);
        let dest: Vec<(char, isize)> = n.text.clone().nfc().collect();
        n.transform(dest, 0);
        assert_eq!(n.text, "é!");
        assert_eq!(n.original(0, 2), (0, 1));
        assert_eq!(n.original(2, 3), (3, 4));
    }
}
