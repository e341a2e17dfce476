//! Regex-style pre-tokenization for byte-level BPE.
//!
//! [`Splitter`] recognizes the known GPT-2 / cl100k / o200k patterns and runs a hand-written
//! splitter for them (identical output, no regex engine); any other pattern runs through
//! `fancy-regex`, which supports the lookarounds and possessive quantifiers these patterns use.
//!
//! This module also holds the character classes the hand-written splitters share: an ASCII
//! table, and a lazily built table for the Basic Multilingual Plane so non-ASCII text costs one
//! table load per character.
use crate::error::{Error, Result};
use std::sync::OnceLock;
use unicode_general_category::{get_general_category, GeneralCategory as G};

/// `\p{L}`
pub(crate) const L: u8 = 1;
/// `\p{N}`
pub(crate) const N: u8 = 2;
/// `\s` (Unicode White_Space)
pub(crate) const WS: u8 = 4;
/// o200k's `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`
pub(crate) const UP: u8 = 8;
/// o200k's `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`
pub(crate) const LO: u8 = 16;
/// `[\r\n]`
pub(crate) const NL: u8 = 32;
/// `\w` (the regex crate's Unicode word characters, as `fancy-regex` and HF's `Whitespace` see them)
pub(crate) const W: u8 = 64;

fn classify(c: char) -> u8 {
    let w = if regex_syntax::is_word_character(c) { W } else { 0 };
    w | classify_pattern(c)
}

fn classify_pattern(c: char) -> u8 {
    let cp = c as u32;
    if matches!(cp, 0x09..=0x0D | 0x20 | 0x85 | 0xA0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000)
    {
        return if cp == 0x0A || cp == 0x0D {
            WS | NL
        } else {
            WS
        };
    }
    match get_general_category(c) {
        G::UppercaseLetter | G::TitlecaseLetter => L | UP,
        G::LowercaseLetter => L | LO,
        G::ModifierLetter | G::OtherLetter => L | UP | LO,
        G::NonspacingMark | G::SpacingMark | G::EnclosingMark => UP | LO,
        G::DecimalNumber | G::LetterNumber | G::OtherNumber => N,
        _ => 0,
    }
}

/// Character classifier: one table load per character for the BMP, a category lookup beyond.
#[derive(Clone, Copy)]
pub(crate) struct Cls {
    bmp: &'static [u8],
}

impl Cls {
    pub(crate) fn get() -> Cls {
        static BMP: OnceLock<Vec<u8>> = OnceLock::new();
        let bmp = BMP.get_or_init(|| {
            (0u32..0x10000)
                .map(|cp| char::from_u32(cp).map(classify).unwrap_or(0))
                .collect()
        });
        Cls { bmp }
    }

    /// Class and byte length of the character starting at byte `i` of a valid UTF-8 string.
    #[inline(always)]
    pub(crate) fn at(&self, s: &[u8], i: usize) -> (u8, usize) {
        let b0 = s[i];
        if b0 < 0x80 {
            return (self.bmp[b0 as usize], 1);
        }
        if b0 < 0xE0 {
            let cp = ((b0 as u32 & 0x1F) << 6) | (s[i + 1] as u32 & 0x3F);
            (self.bmp[cp as usize], 2)
        } else if b0 < 0xF0 {
            let cp = ((b0 as u32 & 0x0F) << 12)
                | ((s[i + 1] as u32 & 0x3F) << 6)
                | (s[i + 2] as u32 & 0x3F);
            (self.bmp[cp as usize], 3)
        } else {
            let cp = ((b0 as u32 & 0x07) << 18)
                | ((s[i + 1] as u32 & 0x3F) << 12)
                | ((s[i + 2] as u32 & 0x3F) << 6)
                | (s[i + 3] as u32 & 0x3F);
            (char::from_u32(cp).map(classify).unwrap_or(0), 4)
        }
    }

    /// End of the run of characters whose class intersects `mask`, starting at `i`.
    #[inline(always)]
    pub(crate) fn run(&self, s: &[u8], mut i: usize, mask: u8) -> usize {
        while i < s.len() {
            let (c, l) = self.at(s, i);
            if c & mask == 0 {
                break;
            }
            i += l;
        }
        i
    }

    /// End of the run of characters whose class does NOT intersect `mask`.
    #[inline(always)]
    pub(crate) fn run_not(&self, s: &[u8], mut i: usize, mask: u8) -> usize {
        while i < s.len() {
            let (c, l) = self.at(s, i);
            if c & mask != 0 {
                break;
            }
            i += l;
        }
        i
    }

    /// The whitespace run starting at `i` (which must be whitespace), resolved the way
    /// `\s++$ | \s*[\r\n] | \s+(?!\S) | \s` resolve it: returns the end of the piece.
    /// `dollar`: whether a `\s++$` alternative comes first; `nl_run`: o200k's `[\r\n]+` tail.
    #[inline(always)]
    pub(crate) fn whitespace(&self, s: &[u8], i: usize, dollar: bool, newline_alt: bool) -> usize {
        let n = s.len();
        let mut j = i;
        let mut last_nl = 0usize;
        let mut last_start = i;
        while j < n {
            let (c, l) = self.at(s, j);
            if c & WS == 0 {
                break;
            }
            if c & NL != 0 {
                last_nl = j + 1;
            }
            last_start = j;
            j += l;
        }
        if dollar && j == n {
            return n;
        }
        if newline_alt && last_nl > 0 {
            return last_nl;
        }
        if j == n {
            return n;
        }
        if last_start > i {
            return last_start;
        }
        // a single whitespace character
        j.min(i + self.at(s, i).1)
    }
}

/// Length (in bytes, after the apostrophe at `s[j-1]`) of a contraction `(?i:[sdmt]|ll|ve|re)`
/// starting at byte `j`, or 0. Case-insensitive with Unicode simple folding (`ſ` folds to `s`).
#[inline(always)]
pub(crate) fn contraction_ci(s: &[u8], j: usize) -> usize {
    let Some(&a) = s.get(j) else { return 0 };
    match a | 0x20 {
        b's' | b'd' | b'm' | b't' if a.is_ascii_alphabetic() => return 1,
        _ => {}
    }
    if a == 0xC5 && s.get(j + 1) == Some(&0xBF) {
        return 2; // U+017F LATIN SMALL LETTER LONG S
    }
    if let Some(&b) = s.get(j + 1) {
        if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() {
            match (a | 0x20, b | 0x20) {
                (b'l', b'l') | (b'v', b'e') | (b'r', b'e') => return 2,
                _ => {}
            }
        }
    }
    0
}

/// Case-sensitive `(?:[sdmt]|ll|ve|re)` (GPT-2 / r50k / p50k).
#[inline(always)]
pub(crate) fn contraction_cs(s: &[u8], j: usize) -> usize {
    match s.get(j) {
        Some(b's' | b'd' | b'm' | b't') => 1,
        Some(&a) => match (a, s.get(j + 1)) {
            (b'l', Some(b'l')) | (b'v', Some(b'e')) | (b'r', Some(b'e')) => 2,
            _ => 0,
        },
        None => 0,
    }
}

/// Run a hand-written splitter: `piece_end(s, i, cls)` is the end of the piece starting at
/// byte `i`; calls `emit(start, end)` for each piece until it returns `false`.
#[inline(always)]
pub(crate) fn drive(
    text: &str,
    emit: &mut impl FnMut(usize, usize) -> bool,
    piece_end: impl Fn(&[u8], usize, Cls) -> usize,
) {
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

impl Cls {
    /// `\p{N}{1,3}` from the number character at `i` (byte length `l`).
    #[inline(always)]
    pub(crate) fn digits3(&self, s: &[u8], i: usize, l: usize) -> usize {
        let mut j = i + l;
        for _ in 0..2 {
            if j >= s.len() {
                break;
            }
            let (c2, l2) = self.at(s, j);
            if c2 & N == 0 {
                break;
            }
            j += l2;
        }
        j
    }

    /// ` ?[^\s\p{L}\p{N}]+` followed by the bytes `tail` accepts, from `i` (class `c`, byte
    /// length `l`); `None` if that alternative does not match there.
    #[inline(always)]
    pub(crate) fn punct(&self, s: &[u8], i: usize, (c, l): (u8, usize), tail: impl Fn(u8) -> bool) -> Option<usize> {
        let n = s.len();
        let p = if s[i] == b' ' && i + 1 < n && self.at(s, i + 1).0 & (L | N | WS) == 0 {
            i + 1
        } else {
            i
        };
        let (cp, lp) = if p == i { (c, l) } else { self.at(s, p) };
        if cp & (L | N | WS) != 0 {
            return None;
        }
        let mut j = self.run_not(s, p + lp, L | N | WS);
        while j < n && tail(s[j]) {
            j += 1;
        }
        Some(j)
    }
}

/// tiktoken's r50k/p50k pattern (GPT-2), current spelling.
pub const GPT2_PATTERN: &str =
    r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";
/// The original GPT-2 spelling (HF ByteLevel's `use_regex`); same matches.
pub const GPT2_PATTERN_HF: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// tiktoken's cl100k_base pattern.
pub const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";
/// Llama-3's pattern (also HF's spelling of cl100k, and the trainer's `cl100k` split):
/// cl100k's words, o200k's whitespace rules.
pub const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// HF `Whitespace`'s pattern (its matches are the words; whitespace between is dropped).
pub const WORDS_PATTERN: &str = r"\w+|[^\w\s]+";
/// tiktoken's o200k_base pattern.
pub const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}",
    "|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    "|",
    r"\s*[\r\n]+",
    "|",
    r"\s+(?!\S)",
    "|",
    r"\s+"
);

/// A pre-tokenizer that cuts text into pieces (byte ranges), each encoded separately by BPE.
#[derive(Debug, Clone)]
pub enum Splitter {
    Gpt2,
    Cl100k,
    O200k,
    /// [`LLAMA3_PATTERN`].
    Llama3,
    /// [`WORDS_PATTERN`]: emits its matches only (the whitespace between them is not a piece),
    /// so it is only built for HF's `Whitespace` pre-tokenizer, never for a `keep_gaps` split.
    Words,
    /// Any other pattern. `keep_gaps`: also emit the text between matches (HF `Split` with
    /// `Isolated` behaviour); tiktoken drops it.
    Regex {
        pattern: String,
        regex: Box<fancy_regex::Regex>,
        keep_gaps: bool,
    },
}

impl Splitter {
    /// A preset name (`gpt2`, `r50k_base`, `p50k_base`, `p50k_edit`, `cl100k_base`, `o200k_base`,
    /// `o200k_harmony`) or a regex. Known regexes get the hand-written splitter.
    pub fn from_pattern(pattern: &str, keep_gaps: bool) -> Result<Splitter> {
        Ok(match pattern {
            "gpt2" | "r50k_base" | "p50k_base" | "p50k_edit" | GPT2_PATTERN | GPT2_PATTERN_HF => {
                Splitter::Gpt2
            }
            "cl100k_base" | CL100K_PATTERN => Splitter::Cl100k,
            "o200k_base" | "o200k_harmony" | O200K_PATTERN => Splitter::O200k,
            LLAMA3_PATTERN => Splitter::Llama3,
            _ => Splitter::regex(pattern, keep_gaps)?,
        })
    }

    /// Always the general engine (used by tests to compare engines).
    pub fn regex(pattern: &str, keep_gaps: bool) -> Result<Splitter> {
        let regex = fancy_regex::Regex::new(pattern)
            .map_err(|e| Error::invalid(format!("invalid pre-tokenizer regex {pattern:?}: {e}")))?;
        Ok(Splitter::Regex {
            pattern: pattern.to_string(),
            regex: Box::new(regex),
            keep_gaps,
        })
    }

    /// The regex this splitter implements.
    pub fn pattern(&self) -> &str {
        match self {
            Splitter::Gpt2 => GPT2_PATTERN,
            Splitter::Cl100k => CL100K_PATTERN,
            Splitter::O200k => O200K_PATTERN,
            Splitter::Llama3 => LLAMA3_PATTERN,
            Splitter::Words => WORDS_PATTERN,
            Splitter::Regex { pattern, .. } => pattern,
        }
    }

    /// Call `emit(start, end)` for each piece, in order. Errors only from the general engine
    /// (e.g. its backtracking limit).
    pub fn split(&self, text: &str, emit: &mut impl FnMut(usize, usize)) -> Result<()> {
        self.split_while(text, &mut |a, b| {
            emit(a, b);
            true
        })
    }

    /// [`Self::split`] that stops as soon as `emit` returns `false`.
    pub fn split_while(
        &self,
        text: &str,
        emit: &mut impl FnMut(usize, usize) -> bool,
    ) -> Result<()> {
        match self {
            Splitter::Gpt2 => drive(text, emit, super::gpt2::piece_end),
            Splitter::Cl100k => drive(text, emit, super::cl100k::piece_end::<true>),
            Splitter::Llama3 => drive(text, emit, super::cl100k::piece_end::<false>),
            Splitter::O200k => drive(text, emit, super::o200k::piece_end),
            Splitter::Words => words(text, emit),
            Splitter::Regex {
                regex, keep_gaps, ..
            } => {
                let mut last = 0;
                for m in regex.find_iter(text) {
                    let m =
                        m.map_err(|e| Error::invalid(format!("pre-tokenizer regex failed: {e}")))?;
                    if m.start() == m.end() {
                        continue;
                    }
                    if *keep_gaps && m.start() > last && !emit(last, m.start()) {
                        return Ok(());
                    }
                    if !emit(m.start(), m.end()) {
                        return Ok(());
                    }
                    last = m.end();
                }
                if *keep_gaps && last < text.len() {
                    emit(last, text.len());
                }
            }
        }
        Ok(())
    }

    /// Whether every piece is a match of the pattern (the pieces cover the text, or, for
    /// [`Splitter::Words`], are exactly its matches), so [`Self::split`] lists the matches.
    pub fn emits_matches(&self) -> bool {
        !matches!(self, Splitter::Regex { .. })
    }

    pub fn pieces<'a>(&self, text: &'a str) -> Result<Vec<&'a str>> {
        let mut v = Vec::new();
        self.split(text, &mut |a, b| v.push(&text[a..b]))?;
        Ok(v)
    }
}

/// `\w+|[^\w\s]+`: each match, whitespace skipped.
fn words(text: &str, emit: &mut impl FnMut(usize, usize) -> bool) {
    let s = text.as_bytes();
    let cls = Cls::get();
    let mut i = 0;
    while i < s.len() {
        let (c, l) = cls.at(s, i);
        let e = if c & W != 0 {
            cls.run(s, i + l, W)
        } else if c & WS != 0 {
            i += l;
            continue;
        } else {
            cls.run_not(s, i + l, W | WS)
        };
        if !emit(i, e) {
            return;
        }
        i = e;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Texts that exercise every alternative of the three patterns.
    pub(crate) const HARD: &[&str] = &[
        "Hello world, it's 12345 o'clock!",
        "I'M YOU'LL We'Re they'VE she'D it'S don'T 'ſ 'll 'LL",
        "a  b   c\n\nd \n e\r\n\r\nf\t\tg   ",
        "trailing spaces   ",
        "x \n  ",
        "   leading",
        "1234567890 12 1 ١٢٣٤ ½¾",
        "(hello) [world] {x} --- ... !!!\n\n???\r\n",
        "emoji 👍🏽 and 🇫🇷 flags 😀😀😀",
        "中文字符测试，日本語のテキスト。한국어",
        "Ünïcödé ÀÉÎÕÜ straße ǅungla ʰmod",
        "combining e\u{301}e\u{301} a\u{300}\u{301}b",
        "\u{3000}ideographic\u{a0}nbsp\u{2003}em",
        "CamelCaseWord HTTPServer iPhone McDonald's XMLHttpRequest",
        "path/to/file.txt\n/usr/bin//\n",
        "'",
        "' ",
        " '",
        "a'",
        "'\n",
        "  ",
        "\n",
        "",
        " !",
        "\u{85}x\u{85}",
        "a\u{2028}b",
    ];

    fn check(pattern: &str, fast: Splitter) {
        check_with(&fast, &Splitter::regex(pattern, true).unwrap());
    }

    fn check_with(fast: &Splitter, slow: &Splitter) {
        let pattern = slow.pattern();
        for t in HARD {
            assert_eq!(
                fast.pieces(t).unwrap(),
                slow.pieces(t).unwrap(),
                "pattern {pattern:?} text {t:?}"
            );
        }
        // pseudo-random strings from a nasty alphabet
        let alphabet: Vec<char> = "aZ 1'\n\r\t!.é中👍\u{301}\u{a0}sStTlLdD/ǅʰ٣"
            .chars()
            .collect();
        let mut x: u64 = 0x9E3779B97F4A7C15;
        for _ in 0..3000 {
            let mut t = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                t.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            assert_eq!(
                fast.pieces(&t).unwrap(),
                slow.pieces(&t).unwrap(),
                "pattern {pattern:?} text {t:?}"
            );
        }
    }

    #[test]
    fn gpt2_matches_regex() {
        check(GPT2_PATTERN, Splitter::Gpt2);
        check(GPT2_PATTERN_HF, Splitter::Gpt2);
    }

    #[test]
    fn cl100k_matches_regex() {
        check(CL100K_PATTERN, Splitter::Cl100k);
    }

    #[test]
    fn llama3_matches_regex() {
        check(LLAMA3_PATTERN, Splitter::Llama3);
    }

    #[test]
    fn words_match_regex() {
        // the matches only: the general engine without gaps
        let slow = Splitter::regex(WORDS_PATTERN, false).unwrap();
        check_with(&Splitter::Words, &slow);
        for t in ["a_b\u{200c}c \u{2163}x٣ ~~ -1", "\u{301}x\u{301} \u{1f600}"] {
            assert_eq!(Splitter::Words.pieces(t).unwrap(), slow.pieces(t).unwrap(), "text {t:?}");
        }
    }

    #[test]
    fn o200k_matches_regex() {
        check(O200K_PATTERN, Splitter::O200k);
    }

    #[test]
    fn presets_and_bad_regex() {
        assert!(matches!(
            Splitter::from_pattern("cl100k_base", false).unwrap(),
            Splitter::Cl100k
        ));
        assert!(matches!(
            Splitter::from_pattern(CL100K_PATTERN, false).unwrap(),
            Splitter::Cl100k
        ));
        assert!(matches!(
            Splitter::from_pattern("(?:a)", false).unwrap(),
            Splitter::Regex { .. }
        ));
        assert!(Splitter::from_pattern("(unclosed", false).is_err());
    }

    #[test]
    fn regex_gaps() {
        let s = Splitter::regex("a+", true).unwrap();
        assert_eq!(s.pieces("xaay").unwrap(), vec!["x", "aa", "y"]);
        let s = Splitter::regex("a+", false).unwrap();
        assert_eq!(s.pieces("xaay").unwrap(), vec!["aa"]);
    }
}
