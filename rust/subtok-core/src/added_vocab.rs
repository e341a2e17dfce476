//! Added tokens (HF `added_tokens`), found before pre-tokenization and mapped straight to their
//! ids. As in HF, tokens with `normalized: false` (all special tokens such as `[CLS]`) are matched
//! in the raw text; tokens with `normalized: true` are matched by their normalized content in the
//! normalized text of what lies between.
use crate::error::{Error, Result};
use aho_corasick::{AhoCorasick, MatchKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedToken {
    pub id: u32,
    pub content: String,
    pub special: bool,
    pub single_word: bool,
    pub lstrip: bool,
    pub rstrip: bool,
    pub normalized: bool,
}

impl AddedToken {
    pub fn special(id: u32, content: &str) -> Self {
        AddedToken {
            id,
            content: content.to_string(),
            special: true,
            single_word: false,
            lstrip: false,
            rstrip: false,
            normalized: false,
        }
    }
}

/// A piece of the input: plain text to normalize, or a matched added token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// Byte range of plain text.
    Text { start: usize, end: usize },
    /// A matched added token covering the byte range.
    Added { id: u32, start: usize, end: usize },
}

/// Leftmost-longest matching of some of the tokens' contents.
#[derive(Debug, Clone)]
struct Matcher {
    ac: AhoCorasick,
    /// Pattern index -> index into `AddedVocab::tokens`.
    token_of: Vec<usize>,
}

impl Matcher {
    fn build(patterns: Vec<(usize, String)>) -> Result<Option<Self>> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(patterns.iter().map(|(_, p)| p))
            .map_err(|e| Error::invalid(format!("cannot index added tokens: {e}")))?;
        Ok(Some(Matcher {
            ac,
            token_of: patterns.into_iter().map(|(i, _)| i).collect(),
        }))
    }
}

#[derive(Debug, Clone, Default)]
pub struct AddedVocab {
    tokens: Vec<AddedToken>,
    raw: Option<Matcher>,
    normalized: Option<Matcher>,
}

impl AddedVocab {
    /// Index `tokens`; `normalize` gives the normalized form of a `normalized: true` token's
    /// content (one that normalizes to nothing can never match and is left out).
    pub fn new(tokens: Vec<AddedToken>, normalize: impl Fn(&str) -> String) -> Result<Self> {
        if tokens.iter().any(|t| t.content.is_empty()) {
            return Err(Error::invalid("an added token has empty content"));
        }
        let mut raw = Vec::new();
        let mut normalized = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            if t.normalized {
                let n = normalize(&t.content);
                if !n.is_empty() {
                    normalized.push((i, n));
                }
            } else {
                raw.push((i, t.content.clone()));
            }
        }
        Ok(AddedVocab {
            raw: Matcher::build(raw)?,
            normalized: Matcher::build(normalized)?,
            tokens,
        })
    }

    pub fn tokens(&self) -> &[AddedToken] {
        &self.tokens
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether some token is matched in normalized text ([`split_normalized`](Self::split_normalized)).
    pub fn has_normalized(&self) -> bool {
        self.normalized.is_some()
    }

    /// Split raw `text` into plain-text and added-token segments (the `normalized: false` tokens),
    /// in order. `lstrip`/`rstrip` tokens absorb the whitespace beside them; `single_word` tokens
    /// only match when not glued to a word character.
    pub fn split(&self, text: &str, out: &mut Vec<Segment>) {
        self.split_with(self.raw.as_ref(), text, out)
    }

    /// As [`split`](Self::split), for normalized text and the `normalized: true` tokens.
    pub fn split_normalized(&self, text: &str, out: &mut Vec<Segment>) {
        self.split_with(self.normalized.as_ref(), text, out)
    }

    fn split_with(&self, matcher: Option<&Matcher>, text: &str, out: &mut Vec<Segment>) {
        out.clear();
        let Some(m) = matcher else {
            out.push(Segment::Text {
                start: 0,
                end: text.len(),
            });
            return;
        };
        let mut pos = 0usize;
        for mat in m.ac.find_iter(text) {
            let tok = &self.tokens[m.token_of[mat.pattern().as_usize()]];
            let (s, e) = (mat.start(), mat.end());
            if s < pos {
                continue;
            }
            let Some((s, e)) = match_span(text, pos, s, e, tok.single_word, tok.lstrip, tok.rstrip)
            else {
                continue;
            };
            if s > pos {
                out.push(Segment::Text { start: pos, end: s });
            }
            out.push(Segment::Added {
                id: tok.id,
                start: s,
                end: e,
            });
            pos = e;
        }
        if pos < text.len() || out.is_empty() {
            out.push(Segment::Text {
                start: pos,
                end: text.len(),
            });
        }
    }
}

/// HF's added-token flags on a match at bytes `start..end` of `text`, the previous match having
/// ended at `prev_end`: `None` if a `single_word` token is glued to a word character (the match
/// is skipped whole), else the span widened over the whitespace `lstrip`/`rstrip` absorb (never
/// back past `prev_end`).
pub(crate) fn match_span(
    text: &str,
    prev_end: usize,
    start: usize,
    end: usize,
    single_word: bool,
    lstrip: bool,
    rstrip: bool,
) -> Option<(usize, usize)> {
    // HF tests word characters with the regex crate's Unicode `\w` (letters, marks, decimal
    // digits, connector punctuation): `²` is not one, a combining accent is.
    let is_word_char = regex_syntax::is_word_character;
    if single_word
        && (text[..start].chars().next_back().is_some_and(is_word_char)
            || text[end..].chars().next().is_some_and(is_word_char))
    {
        return None;
    }
    let start = if lstrip {
        prev_end + text[prev_end..start].trim_end().len()
    } else {
        start
    };
    let end = if rstrip {
        text.len() - text[end..].trim_start().len()
    } else {
        end
    };
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_tokens_match_only_normalized_text() {
        let mut t = AddedToken::special(7, "COVID");
        t.normalized = true;
        let mut empty = AddedToken::special(8, "\u{200b}");
        empty.normalized = true;
        let v = AddedVocab::new(vec![AddedToken::special(1, "[SEP]"), t, empty], |s| {
            s.replace('\u{200b}', "").to_lowercase()
        })
        .unwrap();
        assert!(v.has_normalized());
        let mut out = vec![];
        v.split("covid[SEP]", &mut out); // raw pass: only [SEP]
        assert_eq!(
            out[1],
            Segment::Added {
                id: 1,
                start: 5,
                end: 10
            }
        );
        assert_eq!(out.len(), 2);
        v.split_normalized("a covid b", &mut out);
        assert_eq!(
            out[1],
            Segment::Added {
                id: 7,
                start: 2,
                end: 7
            }
        );
        assert_eq!(v.tokens().len(), 3);
    }

    #[test]
    fn single_word_boundaries_are_unicode_word_characters() {
        let at = |text: &str| {
            let start = text.find("zz").unwrap();
            match_span(text, 0, start, start + 2, true, false, false)
        };
        // Other numbers (²) and symbols are not word characters; letters, marks, digits and `_` are.
        for text in ["²zz", "zz¼", "-zz", "zz€"] {
            assert!(at(text).is_some(), "{text:?}");
        }
        for text in ["azz", "zz\u{301}", "7zz", "zz_", "中zz"] {
            assert_eq!(at(text), None, "{text:?}");
        }
    }

    #[test]
    fn splits_specials_leftmost_longest() {
        let v = AddedVocab::new(
            vec![
                AddedToken::special(1, "[SEP]"),
                AddedToken::special(2, "[SEP]]"),
            ],
            str::to_string,
        )
        .unwrap();
        let mut out = vec![];
        v.split("a[SEP]]b[SEP]", &mut out);
        assert_eq!(
            out,
            vec![
                Segment::Text { start: 0, end: 1 },
                Segment::Added {
                    id: 2,
                    start: 1,
                    end: 7
                },
                Segment::Text { start: 7, end: 8 },
                Segment::Added {
                    id: 1,
                    start: 8,
                    end: 13
                },
            ]
        );
    }

    #[test]
    fn lstrip_absorbs_whitespace() {
        let mut t = AddedToken::special(5, "<mask>");
        t.lstrip = true;
        let v = AddedVocab::new(vec![t], str::to_string).unwrap();
        let mut out = vec![];
        v.split("a  <mask>", &mut out);
        assert_eq!(
            out,
            vec![
                Segment::Text { start: 0, end: 1 },
                Segment::Added {
                    id: 5,
                    start: 1,
                    end: 9
                }
            ]
        );
    }
}
