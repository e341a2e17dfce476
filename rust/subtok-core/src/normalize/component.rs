//! The normalizers of an HF `tokenizer.json` (`normalizer`), applied to a [`Normalized`]
//! string with HF's alignment rules.
use crate::error::{Error, Result};
use crate::normalize::bert::BertNormalizer;
use crate::normalize::normalized::Normalized;
use crate::normalize::precompiled::Precompiled;
use crate::pretokenize::bytelevel::byte_to_char;
use crate::pretokenize::pattern::Pattern;
use serde_json::Value;
use unicode_normalization_alignments::UnicodeNormalization;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Nfc,
    Nfd,
    Nfkc,
    Nfkd,
}

#[derive(Debug, Clone)]
pub enum Normalizer {
    Unicode(Form),
    Lowercase,
    Strip { left: bool, right: bool },
    StripAccents,
    Replace { pattern: Pattern, content: String },
    Prepend(String),
    Bert(BertNormalizer),
    ByteLevel,
    Precompiled(std::sync::Arc<Precompiled>),
    Sequence(Vec<Normalizer>),
}

impl Normalizer {
    /// Parse a `normalizer` object.
    pub fn from_json(v: &Value) -> Result<Self> {
        let t = v
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid("normalizer without a \"type\""))?;
        let flag = |k: &str, d: bool| v.get(k).and_then(Value::as_bool).unwrap_or(d);
        Ok(match t {
            "NFC" => Normalizer::Unicode(Form::Nfc),
            "NFD" => Normalizer::Unicode(Form::Nfd),
            "NFKC" => Normalizer::Unicode(Form::Nfkc),
            "NFKD" => Normalizer::Unicode(Form::Nfkd),
            "Lowercase" => Normalizer::Lowercase,
            "Strip" => Normalizer::Strip {
                left: flag("strip_left", true),
                right: flag("strip_right", true),
            },
            "StripAccents" => Normalizer::StripAccents,
            "Replace" => Normalizer::Replace {
                pattern: Pattern::from_json(v.get("pattern").unwrap_or(&Value::Null), "Replace")?,
                content: v.get("content").and_then(Value::as_str).unwrap_or("").to_string(),
            },
            "Prepend" => Normalizer::Prepend(
                v.get("prepend").and_then(Value::as_str).unwrap_or("").to_string(),
            ),
            "BertNormalizer" => Normalizer::Bert(BertNormalizer {
                clean_text: flag("clean_text", true),
                handle_chinese_chars: flag("handle_chinese_chars", true),
                strip_accents: v.get("strip_accents").and_then(Value::as_bool),
                lowercase: flag("lowercase", true),
            }),
            "ByteLevel" => Normalizer::ByteLevel,
            "Sequence" => Normalizer::Sequence(
                v.get("normalizers")
                    .and_then(Value::as_array)
                    .ok_or_else(|| Error::invalid("normalizer Sequence needs \"normalizers\""))?
                    .iter()
                    .map(Normalizer::from_json)
                    .collect::<Result<_>>()?,
            ),
            "Precompiled" => {
                let map = v.get("precompiled_charsmap").and_then(Value::as_str);
                let map = map.ok_or_else(|| Error::invalid("normalizer Precompiled needs a \"precompiled_charsmap\" string"))?;
                Normalizer::Precompiled(std::sync::Arc::new(Precompiled::from_base64(map)?))
            }
            other => return Err(Error::invalid(format!("normalizer {other:?} is not supported"))),
        })
    }

    pub fn apply(&self, n: &mut Normalized) -> Result<()> {
        match self {
            Normalizer::Unicode(f) => {
                if n.text.is_ascii() {
                    return Ok(()); // every form leaves ASCII unchanged
                }
                let dest: Vec<(char, isize)> = match f {
                    Form::Nfc => n.text.nfc().collect(),
                    Form::Nfd => n.text.nfd().collect(),
                    Form::Nfkc => n.text.nfkc().collect(),
                    Form::Nfkd => n.text.nfkd().collect(),
                };
                // text already in the form (most of it): nothing to rebuild
                let mut old = n.text.chars();
                if dest.iter().all(|&(c, change)| change == 0 && old.next() == Some(c)) && old.next().is_none() {
                    return Ok(());
                }
                n.transform(dest, 0);
            }
            Normalizer::Lowercase => {
                if n.text.is_ascii() {
                    n.text.make_ascii_lowercase();
                } else {
                    n.map_chars(|c, out| c.to_lowercase().for_each(&mut *out));
                }
            }
            Normalizer::Strip { left, right } => n.strip(*left, *right),
            // HF's StripAccents drops every combining mark (Mn, Mc, Me), unlike BertNormalizer (Mn)
            Normalizer::StripAccents => n.map_chars(|c, out| {
                if !unicode_normalization_alignments::char::is_combining_mark(c) {
                    out(c)
                }
            }),
            Normalizer::Replace { pattern, content } => {
                let mut m = Vec::new();
                pattern.matches(&n.text, &mut m)?;
                n.replace_ranges(&m, content);
            }
            Normalizer::Prepend(s) => n.prepend(s),
            Normalizer::Bert(b) => bert(b, n),
            Normalizer::ByteLevel => n.map_chars(|c, out| {
                let mut buf = [0u8; 4];
                for &x in c.encode_utf8(&mut buf).as_bytes() {
                    out(byte_to_char(x));
                }
            }),
            Normalizer::Precompiled(p) => p.apply(n),
            Normalizer::Sequence(v) => {
                for x in v {
                    x.apply(n)?;
                }
            }
        }
        Ok(())
    }

    /// The normalized text of `s` (for added tokens with `normalized: true`).
    pub fn normalize_str(&self, s: &str) -> String {
        let mut n = Normalized::new(s, 0);
        match self.apply(&mut n) {
            Ok(()) => n.text,
            Err(_) => s.to_string(),
        }
    }
}

/// HF `BertNormalizer` on an aligned string: every output character keeps the span of the
/// input character it comes from (HF's clean / CJK padding / NFD+filter / lowercase steps).
fn bert(b: &BertNormalizer, n: &mut Normalized) {
    use crate::normalize::bert::CharClass;
    n.map_chars(|c, out| match b.classify(c) {
        CharClass::Drop => {}
        CharClass::Space => out(' '),
        CharClass::Cjk => {
            out(' ');
            b.normalize_char(c, &mut *out);
            out(' ');
        }
        CharClass::Other => b.normalize_char(c, &mut *out),
    });
}
