//! HF `BertNormalizer`: clean text, isolate CJK ideographs, strip accents, lowercase.
//!
//! The character classes use the same Unicode tables as HF tokenizers (`unicode_categories`,
//! `unicode-normalization-alignments`, and `char::is_whitespace` / `to_lowercase` from std)
//! so that output is identical, including on rarely used code points.
use unicode_categories::UnicodeCategories;
use unicode_normalization_alignments::char::decompose_canonical;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BertNormalizer {
    pub clean_text: bool,
    pub handle_chinese_chars: bool,
    /// `None` follows `lowercase`, as in HF.
    pub strip_accents: Option<bool>,
    pub lowercase: bool,
}

impl Default for BertNormalizer {
    fn default() -> Self {
        BertNormalizer {
            clean_text: true,
            handle_chinese_chars: true,
            strip_accents: None,
            lowercase: true,
        }
    }
}

/// What the normalizer does with one input character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharClass {
    /// Removed (NUL, U+FFFD, control/format/private-use when `clean_text`).
    Drop,
    /// Whitespace (after cleaning): a word boundary.
    Space,
    /// A CJK ideograph surrounded by spaces (its normalized form is a word of its own).
    Cjk,
    /// Anything else: normalized and then split by the pre-tokenizer.
    Other,
}

/// HF's `is_whitespace`: `\t\n\r` plus Rust's White_Space property.
#[inline]
pub fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// HF's `is_control`: the `unicode_categories` "other" class, except `\t\n\r`.
#[inline]
pub fn is_control(c: char) -> bool {
    if c.is_ascii() {
        // the only ASCII "other" characters are the controls (Cc)
        return (c < ' ' || c == '\x7f') && !matches!(c, '\t' | '\n' | '\r');
    }
    c.is_other()
}

/// HF's CJK ranges, including its sixth range starting at U+2B920 (bert-spec §7.2).
#[inline]
pub fn is_chinese_char(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B920..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

impl BertNormalizer {
    #[inline]
    pub fn strips_accents(&self) -> bool {
        self.strip_accents.unwrap_or(self.lowercase)
    }

    /// Classify one (non-special) input character.
    #[inline]
    pub fn classify(&self, c: char) -> CharClass {
        if self.clean_text {
            if c == '\0' || c == '\u{FFFD}' || is_control(c) {
                return CharClass::Drop;
            }
            if is_whitespace(c) {
                return CharClass::Space;
            }
        }
        if self.handle_chinese_chars && is_chinese_char(c) {
            return CharClass::Cjk;
        }
        CharClass::Other
    }

    /// Emit the normalized characters of `c` (accent stripping by NFD and removal of
    /// non-spacing marks, then lowercasing), each of which maps back to `c`.
    #[inline]
    pub fn normalize_char(&self, c: char, mut emit: impl FnMut(char)) {
        let lower = self.lowercase;
        let mut push = |x: char| {
            if lower {
                for l in x.to_lowercase() {
                    emit(l)
                }
            } else {
                emit(x)
            }
        };
        if self.strips_accents() && !c.is_ascii() {
            decompose_canonical(c, |d| {
                if !d.is_mark_nonspacing() {
                    push(d)
                }
            });
        } else {
            push(c)
        }
    }
}

/// The normalized text of `text` (appended to `out`), and for each normalized character the
/// index of the original character it came from (appended to `align`). `None` is the identity.
/// (The tokenizer's fused pass never builds this string; it serves added tokens with
/// `normalized: true`.)
pub fn normalize_aligned(
    normalizer: Option<&BertNormalizer>,
    text: &str,
    out: &mut String,
    align: &mut Vec<u32>,
) {
    for (i, c) in text.chars().enumerate() {
        let i = i as u32;
        let mut push = |x: char| {
            out.push(x);
            align.push(i);
        };
        let Some(n) = normalizer else {
            push(c);
            continue;
        };
        match n.classify(c) {
            CharClass::Drop => {}
            CharClass::Space => push(' '),
            CharClass::Cjk => {
                push(' ');
                n.normalize_char(c, &mut push);
                push(' ');
            }
            CharClass::Other => n.normalize_char(c, &mut push),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(n: &BertNormalizer, s: &str) -> String {
        let (mut out, mut align) = (String::new(), Vec::new());
        normalize_aligned(Some(n), s, &mut out, &mut align);
        assert_eq!(align.len(), out.chars().count());
        out
    }

    #[test]
    fn uncased_strips_accents_and_lowercases_per_char() {
        let n = BertNormalizer::default();
        assert_eq!(norm(&n, "Héllo ΟΔΟΣ"), "hello οδοσ");
        assert_eq!(norm(&n, "a\u{200b}b\tc\u{0}"), "ab c");
        assert_eq!(norm(&n, "中文"), " 中  文 ");
        let (mut out, mut align) = (String::new(), Vec::new());
        normalize_aligned(Some(&n), "İa\u{200b}中", &mut out, &mut align);
        assert_eq!((out.as_str(), align), ("ia 中 ", vec![0, 1, 3, 3, 3]));
    }

    #[test]
    fn cased_keeps_accents() {
        let n = BertNormalizer {
            lowercase: false,
            ..Default::default()
        };
        assert_eq!(norm(&n, "Héllo"), "Héllo");
    }

    #[test]
    fn hf_cjk_range_typo_is_kept() {
        assert!(!is_chinese_char('\u{2B820}'));
        assert!(is_chinese_char('\u{2B920}'));
        assert!(!is_chinese_char('\u{AC00}')); // Hangul
    }
}
