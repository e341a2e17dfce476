//! Added tokens (HF `added_tokens`): special tokens such as `[CLS]` are found in the raw text
//! before normalization and map straight to their ids.
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

#[derive(Debug, Clone, Default)]
pub struct AddedVocab {
    tokens: Vec<AddedToken>,
    matcher: Option<AhoCorasick>,
}

impl AddedVocab {
    pub fn new(tokens: Vec<AddedToken>) -> Result<Self> {
        let patterns: Vec<&str> = tokens.iter().map(|t| t.content.as_str()).collect();
        if patterns.iter().any(|p| p.is_empty()) {
            return Err(Error::invalid("an added token has empty content"));
        }
        let matcher = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&patterns)
                    .map_err(|e| Error::invalid(format!("cannot index added tokens: {e}")))?,
            )
        };
        Ok(AddedVocab { tokens, matcher })
    }

    pub fn tokens(&self) -> &[AddedToken] {
        &self.tokens
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Split `text` into plain-text and added-token segments, in order.
    /// `lstrip`/`rstrip` tokens absorb the whitespace beside them; `single_word` tokens only
    /// match when not glued to a word character.
    pub fn split(&self, text: &str, out: &mut Vec<Segment>) {
        out.clear();
        let Some(m) = &self.matcher else {
            out.push(Segment::Text {
                start: 0,
                end: text.len(),
            });
            return;
        };
        let mut pos = 0usize;
        for mat in m.find_iter(text) {
            let tok = &self.tokens[mat.pattern().as_usize()];
            let (mut s, mut e) = (mat.start(), mat.end());
            if s < pos {
                continue;
            }
            if tok.single_word {
                let before = text[..s].chars().next_back();
                let after = text[e..].chars().next();
                if before.is_some_and(is_word_char) || after.is_some_and(is_word_char) {
                    continue;
                }
            }
            if tok.lstrip {
                let trimmed = text[pos..s].trim_end();
                s = pos + trimmed.len();
            }
            if tok.rstrip {
                let rest = &text[e..];
                e += rest.len() - rest.trim_start().len();
            }
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

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_specials_leftmost_longest() {
        let v = AddedVocab::new(vec![
            AddedToken::special(1, "[SEP]"),
            AddedToken::special(2, "[SEP]]"),
        ])
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
        let v = AddedVocab::new(vec![t]).unwrap();
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
