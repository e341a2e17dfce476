//! Pre-tokenizers and the BERT normalizer used by the trainer to cut text into words.
//!
//! Every splitter has the signature `fn(&str, &mut impl FnMut(&str))` and calls the sink
//! once per piece, in order; the pieces concatenate back to the input (except for the
//! BERT splitter, which drops whitespace). They are hand-written equivalents of the
//! regexes the peers use, so training counts exactly the words HF tokenizers counts:
//!
//! * [`gpt2`]: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
//!   (HF `ByteLevel(use_regex=True)`).
//! * [`cl100k`]: `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
//! * [`whitespace`]: `\w+|[^\w\s]+` (HF `Whitespace`).
//! * [`bert`]: split on whitespace, every punctuation character is its own piece
//!   (HF `BertPreTokenizer`). Use [`bert_normalize`] first for the BERT pipeline.
//!
//! NOTE(merge): the encoder's pre-tokenizers (`pretokenize/*.rs`) implement the same rules with
//! offsets; these exist so the trainer could be written in parallel and may be deduped.
//!
//! Character classes come from the same tables HF tokenizers uses (`unicode_categories`,
//! `unicode-normalization-alignments`), so rare code points are classified as HF does.
use unicode_categories::UnicodeCategories;

/// `\p{L}`.
#[inline]
pub fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    c.is_letter()
}

/// `\p{N}`.
#[inline]
pub fn is_number(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    c.is_number()
}

/// `\s` (the Unicode White_Space property).
#[inline]
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// `\w` as Oniguruma defines it for Unicode: letters, marks, decimal and letter numbers,
/// connector punctuation and the join controls.
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    if c == '\u{200C}' || c == '\u{200D}' {
        return true;
    }
    c.is_letter()
        || c.is_mark()
        || c.is_number_decimal_digit()
        || c.is_number_letter()
        || c.is_punctuation_connector()
}

/// BERT punctuation: ASCII 33-47, 58-64, 91-96, 123-126, or any Unicode `P*` category.
#[inline]
pub fn is_bert_punct(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation();
    }
    c.is_punctuation()
}

#[inline]
fn other(c: char) -> bool {
    !is_space(c) && !is_letter(c) && !is_number(c)
}

/// Length in bytes of the run of chars satisfying `f` starting at byte `i`.
#[inline]
fn run(s: &str, i: usize, f: impl Fn(char) -> bool) -> usize {
    let mut j = i;
    for c in s[i..].chars() {
        if !f(c) {
            break;
        }
        j += c.len_utf8();
    }
    j
}

#[inline]
fn char_at(s: &str, i: usize) -> Option<char> {
    s[i..].chars().next()
}

/// End of the whitespace piece starting at `i` (a whitespace char) under `\s+(?!\S)|\s+`.
#[inline]
fn ws_piece_end(s: &str, i: usize) -> usize {
    let end = run(s, i, is_space);
    if end == s.len() {
        return end;
    }
    // Followed by a non-space: leave the last whitespace char for the next piece,
    // unless the run is a single char (then `\s+` takes it).
    let last = s[i..end]
        .chars()
        .next_back()
        .map(|c| c.len_utf8())
        .unwrap_or(0);
    if end - last > i {
        end - last
    } else {
        end
    }
}

/// GPT-2 / HF ByteLevel split (case-sensitive contractions).
pub fn gpt2(s: &str, f: &mut impl FnMut(&str)) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let Some(c) = char_at(s, i) else { break };
        let end = if c == '\'' && gpt2_contraction(&b[i + 1..]) > 0 {
            i + 1 + gpt2_contraction(&b[i + 1..])
        } else {
            let j = if c == ' ' { i + 1 } else { i };
            match char_at(s, j) {
                Some(d) if is_letter(d) => run(s, j, is_letter),
                Some(d) if is_number(d) => run(s, j, is_number),
                Some(d) if other(d) => run(s, j, other),
                _ => ws_piece_end(s, i),
            }
        };
        f(&s[i..end]);
        i = end;
    }
}

/// Length of a GPT-2 contraction suffix after `'` (0 if none).
#[inline]
fn gpt2_contraction(rest: &[u8]) -> usize {
    match rest {
        [b'r', b'e', ..] | [b'v', b'e', ..] | [b'l', b'l', ..] => 2,
        [b's', ..] | [b't', ..] | [b'm', ..] | [b'd', ..] => 1,
        _ => 0,
    }
}

#[inline]
fn cl100k_contraction(rest: &[u8]) -> usize {
    let lo = |k: usize| rest.get(k).map(|b| b.to_ascii_lowercase());
    match (lo(0), lo(1)) {
        (Some(b'l'), Some(b'l')) | (Some(b'v'), Some(b'e')) | (Some(b'r'), Some(b'e')) => 2,
        (Some(b's' | b'd' | b'm' | b't'), _) => 1,
        _ => 0,
    }
}

/// cl100k_base-style split (GPT-3.5/4): case-insensitive contractions, one optional
/// non-letter prefix glued to letters, digits in groups of at most three, newlines kept
/// with trailing punctuation.
pub fn cl100k(s: &str, f: &mut impl FnMut(&str)) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let Some(c) = char_at(s, i) else { break };
        let end = 'm: {
            if c == '\'' {
                let k = cl100k_contraction(&b[i + 1..]);
                if k > 0 {
                    break 'm i + 1 + k;
                }
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if is_letter(c) {
                break 'm run(s, i, is_letter);
            }
            if c != '\r' && c != '\n' && !is_number(c) {
                let j = i + c.len_utf8();
                if char_at(s, j).is_some_and(is_letter) {
                    break 'm run(s, j, is_letter);
                }
            }
            // \p{N}{1,3}
            if is_number(c) {
                let mut j = i;
                for d in s[i..].chars().take(3) {
                    if !is_number(d) {
                        break;
                    }
                    j += d.len_utf8();
                }
                break 'm j;
            }
            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            let j = if c == ' ' { i + 1 } else { i };
            if char_at(s, j).is_some_and(other) {
                let e = run(s, j, other);
                break 'm run(s, e, |d| d == '\r' || d == '\n');
            }
            // \s*[\r\n]+ : up to and including the last newline of the whitespace run
            let wend = run(s, i, is_space);
            if let Some(p) = s[i..wend].rfind(['\r', '\n']) {
                break 'm i + p + 1;
            }
            ws_piece_end(s, i)
        };
        f(&s[i..end]);
        i = end;
    }
}

/// HF `Whitespace`: `\w+|[^\w\s]+`; whitespace is dropped.
pub fn whitespace(s: &str, f: &mut impl FnMut(&str)) {
    let mut i = 0;
    while i < s.len() {
        let Some(c) = char_at(s, i) else { break };
        if is_space(c) {
            i += c.len_utf8();
            continue;
        }
        let end = if is_word_char(c) {
            run(s, i, is_word_char)
        } else {
            run(s, i, |d| !is_word_char(d) && !is_space(d))
        };
        f(&s[i..end]);
        i = end;
    }
}

/// HF `BertPreTokenizer`: split on whitespace (dropped), punctuation chars isolated.
pub fn bert(s: &str, f: &mut impl FnMut(&str)) {
    let mut start: Option<usize> = None;
    for (i, c) in s.char_indices() {
        if is_space(c) {
            if let Some(st) = start.take() {
                f(&s[st..i]);
            }
        } else if is_bert_punct(c) {
            if let Some(st) = start.take() {
                f(&s[st..i]);
            }
            f(&s[i..i + c.len_utf8()]);
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        f(&s[st..]);
    }
}

/// Whitespace as HF's BertNormalizer sees it: `\t \n \r` or the White_Space property
/// (tested after [`is_bert_removed`], so e.g. U+000B and U+0085 are deleted, not spaces).
#[inline]
pub fn is_bert_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r') || (!c.is_ascii() && c.is_whitespace())
}

/// Characters the BERT normalizer deletes: NUL, U+FFFD, and Cc|Cf|Co except `\t\n\r`.
#[inline]
pub fn is_bert_removed(c: char) -> bool {
    if c.is_ascii() {
        return (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}';
    }
    c == '\u{FFFD}' || c.is_other()
}

/// A character the BERT normalizer turns into a space (so it always separates words).
#[inline]
pub fn is_bert_separator(c: char) -> bool {
    is_bert_whitespace(c) && !is_bert_removed(c)
}

/// The CJK ranges HF's BertNormalizer pads with spaces (including its 2B920 start, spec §7.2).
#[inline]
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B920..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

/// HF `BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
/// lowercase)`: clean text, pad CJK, then (if `lowercase`) NFD + drop Mn and lowercase,
/// one character at a time. Appends to `out`.
pub fn bert_normalize(s: &str, lowercase: bool, out: &mut String) {
    for c in s.chars() {
        if is_bert_removed(c) {
            continue;
        }
        if is_bert_whitespace(c) {
            out.push(' ');
        } else if is_cjk(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else if !lowercase {
            out.push(c);
        } else if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            unicode_normalization_alignments::char::decompose_canonical(c, |d| {
                if !d.is_mark_nonspacing() {
                    out.extend(d.to_lowercase());
                }
            });
        }
    }
}

/// The pre-tokenizers the trainer offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    Gpt2,
    Cl100k,
    Whitespace,
    Bert,
}

impl PreTokenizer {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "gpt2" | "byte_level" | "bytelevel" => Self::Gpt2,
            "cl100k" | "cl100k_base" => Self::Cl100k,
            "whitespace" => Self::Whitespace,
            "bert" => Self::Bert,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Gpt2 => "gpt2",
            Self::Cl100k => "cl100k",
            Self::Whitespace => "whitespace",
            Self::Bert => "bert",
        }
    }
    /// Run this splitter over `s`.
    pub fn split(self, s: &str, f: &mut impl FnMut(&str)) {
        match self {
            Self::Gpt2 => gpt2(s, f),
            Self::Cl100k => cl100k(s, f),
            Self::Whitespace => whitespace(s, f),
            Self::Bert => bert(s, f),
        }
    }
}

/// The regex of the cl100k split, as written into `tokenizer.json`.
pub const CL100K_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(f: fn(&str, &mut dyn FnMut(&str)), s: &str) -> Vec<String> {
        let mut v = Vec::new();
        f(s, &mut |p: &str| v.push(p.to_string()));
        v
    }
    fn g(s: &str, f: &mut dyn FnMut(&str)) {
        gpt2(s, &mut |p| f(p))
    }
    fn c(s: &str, f: &mut dyn FnMut(&str)) {
        cl100k(s, &mut |p| f(p))
    }
    fn b(s: &str, f: &mut dyn FnMut(&str)) {
        bert(s, &mut |p| f(p))
    }
    fn w(s: &str, f: &mut dyn FnMut(&str)) {
        whitespace(s, &mut |p| f(p))
    }

    #[test]
    fn gpt2_split() {
        assert_eq!(
            pieces(g, "Hello world's  end!!\n\n x12 'S"),
            ["Hello", " world", "'s", " ", " end", "!!", "\n\n", " x", "12", " '", "S"]
        );
        assert_eq!(pieces(g, "a  \n"), ["a", "  \n"]);
        assert_eq!(pieces(g, "don't ''s"), ["don", "'t", " ''", "s"]);
        assert_eq!(pieces(g, "héllo 世界 ٣٤"), ["héllo", " 世界", " ٣٤"]);
        assert_eq!(pieces(g, ""), Vec::<String>::new());
    }

    #[test]
    fn cl100k_split() {
        assert_eq!(
            pieces(c, "Hello WORLD'S 12345 (x)!\n\n  y"),
            ["Hello", " WORLD", "'S", " ", "123", "45", " (", "x", ")!\n\n", " ", " y"]
        );
        assert_eq!(pieces(c, "a \n\n b"), ["a", " \n\n", " b"]);
        assert_eq!(pieces(c, "\tfoo"), ["\tfoo"]);
    }

    #[test]
    fn bert_and_whitespace_split() {
        assert_eq!(
            pieces(b, " Hi, there$5 €x "),
            ["Hi", ",", "there", "$", "5", "€x"]
        );
        assert_eq!(
            pieces(w, "Hi, there$5 _a-b"),
            ["Hi", ",", "there", "$", "5", "_a", "-", "b"]
        );
    }

    #[test]
    fn bert_normalizer() {
        let mut o = String::new();
        bert_normalize("Héllo\u{200b} ΟΔΟΣ\t中文\u{0}x", true, &mut o);
        assert_eq!(o, "hello οδοσ  中  文 x");
        let mut o = String::new();
        bert_normalize("Héllo", false, &mut o);
        assert_eq!(o, "Héllo");
    }
}
