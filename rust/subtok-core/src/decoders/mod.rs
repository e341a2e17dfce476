//! Decoders of an HF `tokenizer.json` (`decoder`): token strings back to text, each step
//! mapping the list of token strings to a new list (HF's `decode_chain`), then joined.
use crate::error::{Error, Result};
use crate::pretokenize::bytelevel::char_to_byte;
use crate::pretokenize::pattern::Pattern;
use serde_json::Value;

#[derive(Debug, Clone)]
pub enum Decoder {
    ByteLevel,
    WordPiece { prefix: String, cleanup: bool },
    /// `prepend`: the pre-tokenizer's prepend scheme is not `never`.
    Metaspace { replacement: char, prepend: bool },
    ByteFallback,
    Fuse,
    Strip { content: char, start: usize, stop: usize },
    Replace { pattern: Pattern, content: String },
    Bpe { suffix: String },
    Sequence(Vec<Decoder>),
}

impl Decoder {
    pub fn from_json(v: &Value) -> Result<Self> {
        let t = v
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid("decoder without a \"type\""))?;
        let st = |k: &str, d: &str| v.get(k).and_then(Value::as_str).unwrap_or(d).to_string();
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
        Ok(match t {
            "ByteLevel" => Decoder::ByteLevel,
            "WordPiece" => Decoder::WordPiece {
                prefix: st("prefix", "##"),
                cleanup: v.get("cleanup").and_then(Value::as_bool).unwrap_or(true),
            },
            "Metaspace" => Decoder::Metaspace {
                replacement: st("replacement", "▁").chars().next().unwrap_or('▁'),
                prepend: match v.get("prepend_scheme").and_then(Value::as_str) {
                    Some(s) => s != "never",
                    None => v.get("add_prefix_space").and_then(Value::as_bool).unwrap_or(true),
                },
            },
            "ByteFallback" => Decoder::ByteFallback,
            "Fuse" => Decoder::Fuse,
            "Strip" => Decoder::Strip {
                content: st("content", " ").chars().next().unwrap_or(' '),
                start: n("start"),
                stop: n("stop"),
            },
            "Replace" => Decoder::Replace {
                pattern: Pattern::from_json(v.get("pattern").unwrap_or(&Value::Null), "decoder Replace")?,
                content: st("content", ""),
            },
            "BPEDecoder" => Decoder::Bpe { suffix: st("suffix", "</w>") },
            "Sequence" => Decoder::Sequence(
                v.get("decoders")
                    .and_then(Value::as_array)
                    .ok_or_else(|| Error::invalid("decoder Sequence needs \"decoders\""))?
                    .iter()
                    .map(Decoder::from_json)
                    .collect::<Result<_>>()?,
            ),
            other => return Err(Error::invalid(format!("decoder {other:?} is not supported"))),
        })
    }

    /// Decode token strings into the final text.
    pub fn decode(&self, tokens: Vec<String>) -> Result<String> {
        Ok(self.chain(tokens)?.concat())
    }

    /// One step: token strings in, token strings out.
    pub fn chain(&self, tokens: Vec<String>) -> Result<Vec<String>> {
        Ok(match self {
            Decoder::ByteLevel => {
                let mut bytes = Vec::new();
                for t in &tokens {
                    let mark = bytes.len();
                    let mut ok = true;
                    for c in t.chars() {
                        match char_to_byte(c) {
                            Some(b) => bytes.push(b),
                            None => {
                                ok = false;
                                break;
                            }
                        }
                    }
                    if !ok {
                        bytes.truncate(mark);
                        bytes.extend_from_slice(t.as_bytes());
                    }
                }
                vec![String::from_utf8_lossy(&bytes).into_owned()]
            }
            Decoder::WordPiece { prefix, cleanup } => tokens
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    let t = if i == 0 {
                        t
                    } else if let Some(rest) = t.strip_prefix(prefix.as_str()) {
                        rest.to_string()
                    } else {
                        format!(" {t}")
                    };
                    if *cleanup {
                        crate::tokenizer::cleanup(&t)
                    } else {
                        t
                    }
                })
                .collect(),
            Decoder::Metaspace { replacement, prepend } => tokens
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    t.chars()
                        .filter_map(|c| {
                            if c != *replacement {
                                Some(c)
                            } else if i == 0 && *prepend {
                                None
                            } else {
                                Some(' ')
                            }
                        })
                        .collect()
                })
                .collect(),
            Decoder::ByteFallback => {
                let mut out = Vec::with_capacity(tokens.len());
                let mut pending: Vec<u8> = Vec::new();
                let flush = |pending: &mut Vec<u8>, out: &mut Vec<String>| {
                    if pending.is_empty() {
                        return;
                    }
                    match String::from_utf8(std::mem::take(pending)) {
                        Ok(s) => out.push(s),
                        Err(e) => out.extend(e.as_bytes().iter().map(|_| "\u{FFFD}".to_string())),
                    }
                };
                for t in tokens {
                    match byte_token(&t) {
                        Some(b) => pending.push(b),
                        None => {
                            flush(&mut pending, &mut out);
                            out.push(t);
                        }
                    }
                }
                flush(&mut pending, &mut out);
                out
            }
            Decoder::Fuse => vec![tokens.concat()],
            Decoder::Strip { content, start, stop } => tokens
                .into_iter()
                .map(|t| {
                    let chars: Vec<char> = t.chars().collect();
                    let lead = chars.iter().take(*start).take_while(|c| *c == content).count();
                    let trail = chars[lead..].iter().rev().take(*stop).take_while(|c| *c == content).count();
                    chars[lead..chars.len() - trail].iter().collect()
                })
                .collect(),
            Decoder::Replace { pattern, content } => {
                let mut m = Vec::new();
                let mut out = Vec::with_capacity(tokens.len());
                for t in tokens {
                    pattern.matches(&t, &mut m)?;
                    let mut s = String::with_capacity(t.len());
                    let mut last = 0;
                    for &(a, b) in &m {
                        s.push_str(&t[last..a]);
                        s.push_str(content);
                        last = b;
                    }
                    s.push_str(&t[last..]);
                    out.push(s);
                }
                out
            }
            Decoder::Bpe { suffix } => {
                let n = tokens.len();
                tokens
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| t.replace(suffix.as_str(), if i + 1 == n { "" } else { " " }))
                    .collect()
            }
            Decoder::Sequence(v) => {
                let mut t = tokens;
                for d in v {
                    t = d.chain(t)?;
                }
                t
            }
        })
    }
}

/// `<0xAB>` -> the byte.
fn byte_token(t: &str) -> Option<u8> {
    let h = t.strip_prefix("<0x")?.strip_suffix('>')?;
    if h.len() != 2 {
        return None;
    }
    u8::from_str_radix(h, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dec(v: Value, toks: &[&str]) -> String {
        Decoder::from_json(&v).unwrap().decode(toks.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn llama_sequence() {
        let v = json!({"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]});
        assert_eq!(dec(v.clone(), &["▁Hi", "<0xE2>", "<0x82>", "<0xAC>", "▁x"]), "Hi€ x");
        assert_eq!(dec(v, &["<0xE2>", "a"]), "\u{FFFD}a");
    }

    #[test]
    fn bpe_suffix_and_wordpiece() {
        assert_eq!(dec(json!({"type": "BPEDecoder", "suffix": "</w>"}), &["he", "llo</w>", "you</w>"]), "hello you");
        assert_eq!(dec(json!({"type": "WordPiece", "prefix": "##", "cleanup": true}), &["un", "##aff", "!"]), "unaff!");
        assert_eq!(dec(json!({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}), &["▁a", "▁b"]), "a b");
    }
}
