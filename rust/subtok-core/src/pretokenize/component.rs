//! The general pre-tokenizers of an HF `tokenizer.json` (`pre_tokenizer`), applied to a
//! [`Pretok`] with HF's semantics (splits, behaviours, offsets).
use crate::error::{Error, Result};
use crate::pretokenize::bert::is_bert_punc;
use crate::pretokenize::bytelevel::byte_to_char;
use crate::pretokenize::pattern::{char_matches, find_matches, split_chars, Behavior, Pattern};
use crate::pretokenize::pieces::Pretok;
use crate::pretokenize::regex::Splitter;
use serde_json::Value;

/// Metaspace `prepend_scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepend {
    Always,
    First,
    Never,
}

#[derive(Debug, Clone)]
pub enum PreTokenizer {
    ByteLevel { add_prefix_space: bool, use_regex: bool },
    Split { pattern: Pattern, behavior: Behavior, invert: bool },
    /// A character-class split (Whitespace, WhitespaceSplit, Punctuation, Digits,
    /// CharDelimiterSplit, the two halves of BertPreTokenizer).
    Chars { class: CharClass, behavior: Behavior },
    Metaspace { replacement: char, prepend: Prepend, split: bool },
    UnicodeScripts,
    /// HF `BertPreTokenizer` (whitespace removed, punctuation isolated) in one pass.
    Bert,
    Sequence(Vec<PreTokenizer>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharClass {
    Whitespace,
    BertPunct,
    Numeric,
    Is(char),
}

impl CharClass {
    #[inline]
    fn test(self, c: char) -> bool {
        match self {
            CharClass::Whitespace => c.is_whitespace(),
            CharClass::BertPunct => is_bert_punc(c),
            CharClass::Numeric => c.is_numeric(),
            CharClass::Is(x) => c == x,
        }
    }
}

fn s<'a>(o: &'a Value, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str)
}
fn b(o: &Value, k: &str, default: bool) -> bool {
    o.get(k).and_then(Value::as_bool).unwrap_or(default)
}

impl PreTokenizer {
    /// Parse a `pre_tokenizer` object.
    pub fn from_json(v: &Value) -> Result<Self> {
        let t = s(v, "type").ok_or_else(|| Error::invalid("pre_tokenizer without a \"type\""))?;
        let behavior = |d: Behavior| -> Result<Behavior> {
            s(v, "behavior").map_or(Ok(d), Behavior::parse)
        };
        Ok(match t {
            "ByteLevel" => PreTokenizer::ByteLevel {
                add_prefix_space: b(v, "add_prefix_space", true),
                use_regex: b(v, "use_regex", true),
            },
            "Split" => PreTokenizer::Split {
                pattern: Pattern::from_json(v.get("pattern").unwrap_or(&Value::Null), "Split")?,
                behavior: behavior(Behavior::Isolated)?,
                invert: b(v, "invert", false),
            },
            "Whitespace" => PreTokenizer::Split {
                pattern: Pattern::Regex(Splitter::Words),
                behavior: Behavior::Removed,
                invert: true,
            },
            "WhitespaceSplit" => chars(CharClass::Whitespace, Behavior::Removed),
            "Punctuation" => chars(CharClass::BertPunct, behavior(Behavior::Isolated)?),
            "Digits" => chars(
                CharClass::Numeric,
                if b(v, "individual_digits", false) {
                    Behavior::Isolated
                } else {
                    Behavior::Contiguous
                },
            ),
            "CharDelimiterSplit" => {
                let d = s(v, "delimiter").and_then(|d| d.chars().next());
                let d = d.ok_or_else(|| Error::invalid("CharDelimiterSplit needs a delimiter"))?;
                chars(CharClass::Is(d), Behavior::Removed)
            }
            "BertPreTokenizer" => PreTokenizer::Bert,
            "Metaspace" => {
                let replacement = s(v, "replacement").and_then(|r| r.chars().next()).unwrap_or('▁');
                let prepend = match s(v, "prepend_scheme") {
                    Some("always") => Prepend::Always,
                    Some("first") => Prepend::First,
                    Some("never") => Prepend::Never,
                    Some(x) => return Err(Error::invalid(format!("Metaspace prepend_scheme {x:?} is unknown"))),
                    None if b(v, "add_prefix_space", true) => Prepend::Always,
                    None => Prepend::Never,
                };
                PreTokenizer::Metaspace {
                    replacement,
                    prepend,
                    split: b(v, "split", true),
                }
            }
            "UnicodeScripts" => PreTokenizer::UnicodeScripts,
            "Sequence" => PreTokenizer::Sequence(
                v.get("pretokenizers")
                    .and_then(Value::as_array)
                    .ok_or_else(|| Error::invalid("pre_tokenizer Sequence needs \"pretokenizers\""))?
                    .iter()
                    .map(PreTokenizer::from_json)
                    .collect::<Result<_>>()?,
            ),
            other => {
                return Err(Error::invalid(format!(
                    "pre_tokenizer {other:?} is not supported"
                )))
            }
        })
    }

    /// Split (and for ByteLevel/Metaspace, rewrite) every plain split of `p`.
    pub fn apply(&self, p: &mut Pretok) -> Result<()> {
        let mut found = std::mem::take(&mut p.found);
        let mut flagged = std::mem::take(&mut p.flagged);
        match self {
            PreTokenizer::Sequence(v) => {
                (p.found, p.flagged) = (std::mem::take(&mut found), std::mem::take(&mut flagged));
                for x in v {
                    x.apply(p)?;
                }
                return Ok(());
            }
            PreTokenizer::ByteLevel { add_prefix_space, use_regex } => {
                let mut buf = std::mem::take(&mut p.buf);
                p.rewrite_each(|text, align, out, ranges| {
                    // HF: prepend a space (spanning the first character), split with the GPT-2
                    // pattern (its pieces cover the text), map every byte to its character
                    let prefix = *add_prefix_space && !text.starts_with(' ');
                    let t: &str = if prefix {
                        buf.clear();
                        buf.push(' ');
                        buf.push_str(text);
                        &buf
                    } else {
                        text
                    };
                    let mut emit = |a: usize, b: usize| {
                        let start = out.text.len();
                        for (k, &byte) in t.as_bytes()[a..b].iter().enumerate() {
                            let k = a + k;
                            let span = align[if prefix { k.saturating_sub(1) } else { k }];
                            let c = byte_to_char(byte);
                            out.text.push(c);
                            out.align.extend(std::iter::repeat_n(span, c.len_utf8()));
                        }
                        ranges.push((start, out.text.len()));
                    };
                    if *use_regex {
                        Splitter::Gpt2.split(t, &mut emit)
                    } else {
                        emit(0, t.len());
                        Ok(())
                    }
                })?;
                p.buf = buf;
            }
            // the splitters that only cut: their pieces stay ranges of the same buffer
            PreTokenizer::Split { pattern, behavior, invert } => p.split_in_place(|text, out| {
                pattern.matches(text, &mut found)?;
                find_matches(text, &found, &mut flagged);
                if *invert {
                    flagged.iter_mut().for_each(|m| m.2 = !m.2);
                }
                behavior.apply(&flagged, out);
                Ok(())
            })?,
            PreTokenizer::Chars { class, behavior } => p.split_in_place(|text, out| {
                if !split_chars(text, |c| class.test(c), *behavior, out) {
                    char_matches(text, |c| class.test(c), &mut found);
                    find_matches(text, &found, &mut flagged);
                    behavior.apply(&flagged, out);
                }
                Ok(())
            })?,
            PreTokenizer::Bert => p.split_in_place(|text, out| {
                crate::pretokenize::bert::split(text, &mut |a, b| out.push((a, b)));
                Ok(())
            })?,
            PreTokenizer::UnicodeScripts => p.split_in_place(|text, out| {
                crate::pretokenize::unicode_scripts::split(text, out);
                Ok(())
            })?,
            PreTokenizer::Metaspace { replacement, prepend, split } => p.rewrite_each(|text, align, out, ranges| {
                // HF: every space becomes the replacement (keeping its span), the replacement
                // is prepended (spanning the first character) by the scheme, and with `split`
                // each replacement character starts a new piece (MergedWithNext)
                let add = match prepend {
                    Prepend::Always => true,
                    Prepend::First => align[0].0 == 0,
                    Prepend::Never => false,
                };
                let starts = text.starts_with([' ', *replacement]);
                let mut piece = out.text.len();
                let mut push = |c: char, span: (u32, u32)| {
                    if *split && c == *replacement && out.text.len() > piece {
                        ranges.push((piece, out.text.len()));
                        piece = out.text.len();
                    }
                    out.text.push(c);
                    out.align.extend(std::iter::repeat_n(span, c.len_utf8()));
                };
                if add && !starts {
                    push(*replacement, align[0]);
                }
                for (i, c) in text.char_indices() {
                    push(if c == ' ' { *replacement } else { c }, align[i]);
                }
                ranges.push((piece, out.text.len()));
                Ok(())
            })?,
        }
        (p.found, p.flagged) = (found, flagged);
        Ok(())
    }

    /// Whether this pre-tokenizer maps text to byte-level characters (so the ByteLevel
    /// post-processor's offset trimming applies to the right characters).
    pub fn is_byte_level(&self) -> bool {
        match self {
            PreTokenizer::ByteLevel { .. } => true,
            PreTokenizer::Sequence(v) => v.iter().any(PreTokenizer::is_byte_level),
            _ => false,
        }
    }
}

fn chars(class: CharClass, behavior: Behavior) -> PreTokenizer {
    PreTokenizer::Chars { class, behavior }
}
