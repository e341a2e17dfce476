//! The general pre-tokenizers of an HF `tokenizer.json` (`pre_tokenizer`), applied to a
//! [`Pretok`] with HF's semantics (splits, behaviours, offsets).
use crate::error::{Error, Result};
use crate::pretokenize::bert::is_bert_punc;
use crate::pretokenize::bytelevel::byte_to_char;
use crate::pretokenize::pattern::{char_matches, find_matches, Behavior, Pattern};
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
            "BertPreTokenizer" => PreTokenizer::Sequence(vec![
                chars(CharClass::Whitespace, Behavior::Removed),
                chars(CharClass::BertPunct, Behavior::Isolated),
            ]),
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
            PreTokenizer::ByteLevel { add_prefix_space, use_regex } => p.split_each(|n, out| {
                if *add_prefix_space && !n.text.starts_with(' ') {
                    n.prepend(" ");
                }
                if *use_regex {
                    // The GPT-2 pattern covers the whole text: its pieces are the splits.
                    Splitter::Gpt2.split(&n.text, &mut |a, b| out.push((a, b)))?;
                    bytes_to_chars(n, out);
                } else {
                    bytes_to_chars(n, &mut Vec::new());
                    out.push((0, n.text.len()));
                }
                Ok(())
            })?,
            PreTokenizer::Split { pattern, behavior, invert } => p.split_each(|n, out| {
                pattern.matches(&n.text, &mut found)?;
                find_matches(&n.text, &found, &mut flagged);
                if *invert {
                    flagged.iter_mut().for_each(|m| m.2 = !m.2);
                }
                behavior.apply(&flagged, out);
                Ok(())
            })?,
            PreTokenizer::Chars { class, behavior } => p.split_each(|n, out| {
                char_matches(&n.text, |c| class.test(c), &mut found);
                find_matches(&n.text, &found, &mut flagged);
                behavior.apply(&flagged, out);
                Ok(())
            })?,
            PreTokenizer::UnicodeScripts => p.split_each(|n, out| {
                crate::pretokenize::unicode_scripts::split(&n.text, out);
                Ok(())
            })?,
            PreTokenizer::Metaspace { replacement, prepend, split } => {
                let mut buf = [0u8; 4];
                let rep: &str = replacement.encode_utf8(&mut buf);
                p.split_each(|n, out| {
                    char_matches(&n.text, |c| c == ' ', &mut found);
                    n.replace_ranges(&found, rep);
                    let first = n.align.first().is_some_and(|a| a.0 == 0);
                    let add = match prepend {
                        Prepend::Always => true,
                        Prepend::First => first,
                        Prepend::Never => false,
                    };
                    if add && !n.text.starts_with(*replacement) {
                        n.prepend(rep);
                    }
                    if *split {
                        char_matches(&n.text, |c| c == *replacement, &mut found);
                        find_matches(&n.text, &found, &mut flagged);
                        Behavior::MergedWithNext.apply(&flagged, out);
                    } else {
                        out.push((0, n.text.len()));
                    }
                    Ok(())
                })?
            }
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

/// HF ByteLevel: every byte becomes its printable character; `ranges` (byte ranges of the
/// text before) are moved to the new positions.
pub fn bytes_to_chars(n: &mut crate::normalize::normalized::Normalized, ranges: &mut [(usize, usize)]) {
    // new position of old byte i = sum of the UTF-8 lengths of the chars of bytes before i;
    // ranges come in order, so one cursor walks the text (restarting if one goes back)
    let bytes = n.text.as_bytes();
    let (mut old, mut new) = (0usize, 0usize);
    let mut seek = |to: usize| {
        if to < old {
            (old, new) = (0, 0);
        }
        while old < to {
            new += byte_to_char(bytes[old]).len_utf8();
            old += 1;
        }
        new
    };
    for r in ranges.iter_mut() {
        *r = (seek(r.0), seek(r.1));
    }
    n.map_chars(|c, out| {
        let mut buf = [0u8; 4];
        for &byte in c.encode_utf8(&mut buf).as_bytes() {
            out(byte_to_char(byte));
        }
    });
}
