//! HF `tokenizer.json` for a trained model, and the classic vocabulary files.
//!
//! * BPE: what HF `ByteLevelBPETokenizer` saves (ByteLevel pre-tokenizer with
//!   `add_prefix_space=false`, ByteLevel post-processor and decoder, model `BPE` with
//!   `vocab` + `merges`); other splits become a `Sequence` of that split and a
//!   regex-free ByteLevel.
//! * WordPiece: the BERT pipeline (`BertNormalizer`, `BertPreTokenizer`, `WordPiece` model
//!   with `unk_token`, `##`, `max_input_chars_per_word`, BERT `TemplateProcessing` when
//!   `[CLS]`/`[SEP]` are special tokens, `WordPiece` decoder), specials in `added_tokens`.
//!
//! The vocabulary is written in id order (as HF does), so the output is byte-for-byte
//! deterministic.
use super::pretok::{PreTokenizer, CL100K_PATTERN};
use super::{ModelKind, Trained};
use crate::error::{write_atomic, Error, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const VOCAB_PLACEHOLDER: &str = "\u{1}subtok-vocab\u{1}";

fn byte_level(use_regex: bool, add_prefix_space: bool, trim_offsets: bool) -> Value {
    json!({"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": trim_offsets, "use_regex": use_regex})
}

fn added_tokens(t: &Trained) -> Value {
    Value::Array(
        t.vocab[..t.n_special]
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({"id": i, "content": s, "single_word": false, "lstrip": false, "rstrip": false,
                       "normalized": false, "special": true})
            })
            .collect(),
    )
}

fn special_id(t: &Trained, s: &str) -> Option<usize> {
    t.vocab[..t.n_special].iter().position(|v| v == s)
}

/// The `tokenizer.json` as a `serde_json::Value` (its `model.vocab` is a map, so key
/// order there is the map's; use [`tokenizer_json_string`] for HF's id order).
pub fn tokenizer_json(t: &Trained) -> Value {
    let mut v = skeleton(t);
    let vocab: serde_json::Map<String, Value> = t
        .vocab
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), json!(i)))
        .collect();
    v["model"]["vocab"] = Value::Object(vocab);
    v
}

fn skeleton(t: &Trained) -> Value {
    let cfg = &t.config;
    match cfg.model {
        ModelKind::Bpe => {
            let pre = match cfg.pre_tokenizer {
                PreTokenizer::Gpt2 => byte_level(true, false, true),
                PreTokenizer::Cl100k => json!({"type": "Sequence", "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": CL100K_PATTERN}, "behavior": "Isolated", "invert": false},
                    byte_level(false, false, true)]}),
                PreTokenizer::Whitespace => json!({"type": "Sequence", "pretokenizers": [
                    {"type": "Whitespace"}, byte_level(false, false, true)]}),
                PreTokenizer::Bert => json!({"type": "Sequence", "pretokenizers": [
                    {"type": "BertPreTokenizer"}, byte_level(false, false, true)]}),
            };
            let merges: Vec<Value> = t
                .merges
                .iter()
                .map(|&(a, b)| json!([t.vocab[a as usize], t.vocab[b as usize]]))
                .collect();
            json!({
                "version": "1.0",
                "truncation": null,
                "padding": null,
                "added_tokens": added_tokens(t),
                "normalizer": if cfg.lowercase { json!({"type": "Lowercase"}) } else { Value::Null },
                "pre_tokenizer": pre,
                "post_processor": byte_level(true, true, false),
                "decoder": byte_level(true, true, true),
                "model": {
                    "type": "BPE",
                    "dropout": null,
                    "unk_token": null,
                    "continuing_subword_prefix": null,
                    "end_of_word_suffix": null,
                    "fuse_unk": false,
                    "byte_fallback": false,
                    "ignore_merges": false,
                    "vocab": VOCAB_PLACEHOLDER,
                    "merges": merges,
                }
            })
        }
        ModelKind::WordPiece => {
            let pre = match cfg.pre_tokenizer {
                PreTokenizer::Whitespace => json!({"type": "Whitespace"}),
                _ => json!({"type": "BertPreTokenizer"}),
            };
            let post = match (special_id(t, "[CLS]"), special_id(t, "[SEP]")) {
                (Some(cls), Some(sep)) => json!({
                    "type": "TemplateProcessing",
                    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                               {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                    "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                             {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                             {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                    "special_tokens": {
                        "[CLS]": {"id": "[CLS]", "ids": [cls], "tokens": ["[CLS]"]},
                        "[SEP]": {"id": "[SEP]", "ids": [sep], "tokens": ["[SEP]"]},
                    }
                }),
                _ => Value::Null,
            };
            json!({
                "version": "1.0",
                "truncation": null,
                "padding": null,
                "added_tokens": added_tokens(t),
                "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                               "strip_accents": null, "lowercase": cfg.lowercase},
                "pre_tokenizer": pre,
                "post_processor": post,
                "decoder": {"type": "WordPiece", "prefix": cfg.continuing_subword_prefix, "cleanup": true},
                "model": {
                    "type": "WordPiece",
                    "unk_token": cfg.unk_token,
                    "continuing_subword_prefix": cfg.continuing_subword_prefix,
                    "max_input_chars_per_word": cfg.max_input_chars_per_word,
                    "vocab": VOCAB_PLACEHOLDER,
                }
            })
        }
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The `tokenizer.json` text, vocabulary in id order. Deterministic byte for byte.
pub fn tokenizer_json_string(t: &Trained, pretty: bool) -> String {
    let v = skeleton(t);
    let text = if pretty {
        serde_json::to_string_pretty(&v)
    } else {
        serde_json::to_string(&v)
    }
    .unwrap_or_default();
    let ph = json_str(VOCAB_PLACEHOLDER);
    let Some(at) = text.find(&ph) else {
        return text;
    };
    let mut out = String::with_capacity(text.len() + t.vocab.len() * 16);
    out.push_str(&text[..at]);
    if pretty {
        let line_start = text[..at].rfind('\n').map_or(0, |p| p + 1);
        let indent = text[line_start..].len() - text[line_start..].trim_start().len();
        let pad = " ".repeat(indent + 2);
        out.push('{');
        for (i, s) in t.vocab.iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            out.push_str(&pad);
            out.push_str(&json_str(s));
            out.push_str(": ");
            out.push_str(&i.to_string());
        }
        out.push('\n');
        out.push_str(&" ".repeat(indent));
        out.push('}');
    } else {
        out.push('{');
        for (i, s) in t.vocab.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&json_str(s));
            out.push(':');
            out.push_str(&i.to_string());
        }
        out.push('}');
    }
    out.push_str(&text[at + ph.len()..]);
    out
}

/// `vocab.txt`: one token per line, id = line index.
pub fn vocab_txt(vocab: &[String]) -> String {
    let mut s = String::new();
    for t in vocab {
        s.push_str(t);
        s.push('\n');
    }
    s
}

/// `vocab.json`: `{token: id}` in id order, compact.
pub fn vocab_json(vocab: &[String]) -> String {
    let mut s = String::from("{");
    for (i, t) in vocab.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&json_str(t));
        s.push(':');
        s.push_str(&i.to_string());
    }
    s.push('}');
    s
}

/// `merges.txt` with the `#version: 0.2` header, one `left right` per line.
pub fn merges_txt(merges: &[(String, String)]) -> String {
    let mut s = String::from("#version: 0.2\n");
    for (a, b) in merges {
        s.push_str(a);
        s.push(' ');
        s.push_str(b);
        s.push('\n');
    }
    s
}

/// Write the classic vocabulary files of any HF `tokenizer.json` text into `dir`:
/// `vocab.txt` for WordPiece, `vocab.json` + `merges.txt` for BPE (names prefixed with
/// `{prefix}-` if given, as HF does). Each file is written atomically.
pub fn export_vocab_files(
    json_text: &str,
    dir: &Path,
    prefix: Option<&str>,
) -> Result<Vec<PathBuf>> {
    let bad = |m: &str| Error::malformed("tokenizer.json", m.to_string());
    let v: Value =
        serde_json::from_str(json_text).map_err(|e| bad(&format!("not valid JSON ({e})")))?;
    let model = v.get("model").ok_or_else(|| bad("no \"model\""))?;
    let vocab_map = model
        .get("vocab")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no \"model.vocab\" object"))?;
    let mut pairs: Vec<(u64, &String)> = Vec::with_capacity(vocab_map.len());
    for (k, id) in vocab_map {
        let id = id
            .as_u64()
            .ok_or_else(|| bad(&format!("vocab id of {k:?} is not an integer")))?;
        pairs.push((id, k));
    }
    pairs.sort();
    for (i, (id, k)) in pairs.iter().enumerate() {
        if *id != i as u64 {
            return Err(bad(&format!(
                "vocab ids are not 0..n (token {k:?} has id {id})"
            )));
        }
    }
    let vocab: Vec<String> = pairs.into_iter().map(|(_, k)| k.clone()).collect();
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        ));
    }
    let name = |n: &str| match prefix {
        Some(p) => dir.join(format!("{p}-{n}")),
        None => dir.join(n),
    };
    match model.get("type").and_then(Value::as_str) {
        Some("WordPiece") => {
            let p = name("vocab.txt");
            write_atomic(&p, vocab_txt(&vocab).as_bytes())?;
            Ok(vec![p])
        }
        Some("BPE") => {
            let ms = model
                .get("merges")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("no \"model.merges\" list"))?;
            let mut merges = Vec::with_capacity(ms.len());
            for m in ms {
                let pair = match m {
                    Value::String(s) => s
                        .split_once(' ')
                        .map(|(a, b)| (a.to_string(), b.to_string())),
                    Value::Array(a) if a.len() == 2 => match (a[0].as_str(), a[1].as_str()) {
                        (Some(x), Some(y)) => Some((x.to_string(), y.to_string())),
                        _ => None,
                    },
                    _ => None,
                };
                merges.push(pair.ok_or_else(|| bad(&format!("bad merge entry {m}")))?);
            }
            let pv = name("vocab.json");
            let pm = name("merges.txt");
            write_atomic(&pv, vocab_json(&vocab).as_bytes())?;
            write_atomic(&pm, merges_txt(&merges).as_bytes())?;
            Ok(vec![pv, pm])
        }
        other => Err(bad(&format!(
            "model type {other:?} has no vocabulary file export"
        ))),
    }
}

impl Trained {
    /// The HF `tokenizer.json` text (see [`tokenizer_json_string`]).
    pub fn to_json_string(&self, pretty: bool) -> String {
        tokenizer_json_string(self, pretty)
    }
    /// Merges as token strings, in learned order.
    pub fn merge_strings(&self) -> Vec<(String, String)> {
        self.merges
            .iter()
            .map(|&(a, b)| {
                (
                    self.vocab[a as usize].clone(),
                    self.vocab[b as usize].clone(),
                )
            })
            .collect()
    }
    /// Save `tokenizer.json` atomically.
    pub fn save(&self, path: &Path, pretty: bool) -> Result<()> {
        write_atomic(path, self.to_json_string(pretty).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{train, ModelKind, NoProgress, TrainConfig};
    use super::*;

    #[test]
    fn json_is_valid_and_ordered() {
        let mut c = TrainConfig::new(ModelKind::WordPiece);
        c.vocab_size = 40;
        c.min_frequency = 1;
        let t = train(&[("hello", 3u64), ("help", 2)], &c, &NoProgress).unwrap();
        for pretty in [false, true] {
            let s = t.to_json_string(pretty);
            let v: Value = serde_json::from_str(&s).unwrap();
            assert_eq!(v["model"]["vocab"]["[PAD]"], json!(0));
            assert_eq!(
                v["model"]["vocab"].as_object().unwrap().len(),
                t.vocab.len()
            );
            assert_eq!(
                v["post_processor"]["special_tokens"]["[CLS]"]["ids"],
                json!([2])
            );
            assert_eq!(s, t.to_json_string(pretty));
        }
        let v = tokenizer_json(&t);
        assert_eq!(v["model"]["type"], json!("WordPiece"));
    }
}
