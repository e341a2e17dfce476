//! Checks shared by every tokenizer-file loader, run before a loader builds anything:
//!
//! * **ids**: every id in a file must fit a `u32` (HF: "expected u32"; no silent wrap of
//!   `2**32 + 3` to `3`) and stay below a bound derived from the file's own entry count
//!   ([`IdBound`]), so the id-indexed tables a loader allocates stay proportional to the file;
//! * **field types** of an HF `tokenizer.json`: a field that is present must have the JSON type
//!   HF tokenizers' schema gives it (`"continuing_subword_prefix": 5` is rejected, as HF rejects
//!   it), whatever loader reads the file afterwards.
//!
//! Every error is [`Error::Malformed`] naming the file and the field (`TokenizerFileError`).
use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// The largest id a file with `entries` entries (tokens, ranks, added tokens) may use:
/// `4 × entries + 1024`. Real files are dense or nearly so (cl100k's specials sit a few ids past
/// its ranks); the bound only stops a small file from forcing a huge id-indexed table.
#[derive(Debug, Clone, Copy)]
pub struct IdBound {
    limit: u64,
    entries: usize,
}

impl IdBound {
    pub fn for_entries(entries: usize) -> Self {
        IdBound {
            limit: (entries as u64).saturating_mul(4).saturating_add(1024),
            entries,
        }
    }

    /// Check one id; `what` names the field (e.g. `model.vocab["Ġf"]`).
    pub fn check(&self, id: u64, label: &str, what: &str) -> Result<u32> {
        if id > u32::MAX as u64 {
            return Err(Error::malformed(
                label,
                format!("{what}: id {id} does not fit a u32 (expected u32)"),
            ));
        }
        if id >= self.limit {
            return Err(Error::malformed(
                label,
                format!(
                    "{what}: id {id} is far beyond the {} entries of the file (ids must stay below {})",
                    self.entries, self.limit
                ),
            ));
        }
        Ok(id as u32)
    }

    /// Check a JSON value that must be an id.
    pub fn check_json(&self, v: &Value, label: &str, what: &str) -> Result<u32> {
        let id = v.as_u64().ok_or_else(|| {
            Error::malformed(
                label,
                format!("{what} must be a non-negative integer id, got {}", short(v)),
            )
        })?;
        self.check(id, label, what)
    }
}

/// A short rendering of a JSON value for error messages.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// The JSON type a field must have when present.
#[derive(Clone, Copy, Debug)]
enum Ty {
    Str,
    Bool,
    /// a non-negative integer (HF `usize`)
    UInt,
    /// a `u32` (type ids)
    U32,
    /// an id, checked against the file's [`IdBound`]
    Id,
    Num,
    /// a one-character string (HF `char`)
    Char,
    Obj,
    Arr,
    /// `{"String": s}` or `{"Regex": s}`
    Pattern,
    /// `[token, id]`
    TokenId,
    /// `null` or the inner type
    Opt(&'static Ty),
}

struct Checker<'a> {
    label: &'a str,
    bound: IdBound,
}

impl Checker<'_> {
    fn err(&self, msg: String) -> Error {
        Error::malformed(self.label, msg)
    }

    fn value(&self, v: &Value, ty: Ty, what: &str) -> Result<()> {
        let ok = match ty {
            Ty::Opt(inner) => return if v.is_null() { Ok(()) } else { self.value(v, *inner, what) },
            Ty::Str => v.is_string(),
            Ty::Bool => v.is_boolean(),
            Ty::UInt => v.is_u64(),
            Ty::U32 => v.as_u64().is_some_and(|x| x <= u32::MAX as u64),
            Ty::Id => return self.bound.check_json(v, self.label, what).map(|_| ()),
            Ty::Num => v.is_number(),
            Ty::Char => v.as_str().is_some_and(|s| s.chars().count() == 1),
            Ty::Obj => v.is_object(),
            Ty::Arr => v.is_array(),
            Ty::Pattern => {
                let o = v.as_object().filter(|o| o.len() == 1);
                match o.and_then(|o| o.iter().next()) {
                    Some((k, s)) if (k == "String" || k == "Regex") && s.is_string() => true,
                    _ => false,
                }
            }
            Ty::TokenId => match v.as_array() {
                Some(a) if a.len() == 2 && a[0].is_string() => {
                    return self.value(&a[1], Ty::Id, &format!("{what}[1]"));
                }
                _ => false,
            },
        };
        if ok {
            Ok(())
        } else {
            Err(self.err(format!("{what} must be {}, got {}", ty_name(ty), short(v))))
        }
    }

    /// Check the listed fields of `o` that are present.
    fn fields(&self, o: &Map<String, Value>, spec: &[(&str, Ty)], what: &str) -> Result<()> {
        for (k, ty) in spec {
            if let Some(v) = o.get(*k) {
                self.value(v, *ty, &format!("{what}.{k}"))?;
            }
        }
        Ok(())
    }

    /// An optional component (`null` or an object with a string `type`); `Sequence` recurses.
    fn component(
        &self,
        v: Option<&Value>,
        what: &str,
        spec: fn(&str) -> &'static [(&'static str, Ty)],
        seq_field: &str,
    ) -> Result<()> {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Ok(());
        };
        let o = v
            .as_object()
            .ok_or_else(|| self.err(format!("{what} must be an object or null, got {}", short(v))))?;
        let Some(t) = o.get("type") else { return Ok(()) };
        let t = t
            .as_str()
            .ok_or_else(|| self.err(format!("{what}.type must be a string, got {}", short(t))))?;
        if t == "Sequence" {
            let items = o.get(seq_field).map(|x| {
                x.as_array().ok_or_else(|| {
                    self.err(format!("{what}.{seq_field} must be a list, got {}", short(x)))
                })
            });
            for (i, item) in items.transpose()?.into_iter().flatten().enumerate() {
                self.component(Some(item), &format!("{what}.{seq_field}[{i}]"), spec, seq_field)?;
            }
            return Ok(());
        }
        self.fields(o, spec(t), what)
    }
}

fn ty_name(ty: Ty) -> String {
    match ty {
        Ty::Str => "a string".into(),
        Ty::Bool => "true or false".into(),
        Ty::UInt => "a non-negative integer".into(),
        Ty::U32 => "a non-negative integer below 2**32".into(),
        Ty::Id => "an id".into(),
        Ty::Num => "a number".into(),
        Ty::Char => "a one-character string".into(),
        Ty::Obj => "an object".into(),
        Ty::Arr => "a list".into(),
        Ty::Pattern => "{\"String\": ...} or {\"Regex\": ...}".into(),
        Ty::TokenId => "[token, id]".into(),
        Ty::Opt(inner) => format!("null or {}", ty_name(*inner)),
    }
}

use Ty::*;
const OPT_STR: Ty = Opt(&Str);
const OPT_BOOL: Ty = Opt(&Bool);
const OPT_UINT: Ty = Opt(&UInt);
const OPT_NUM: Ty = Opt(&Num);
const OPT_ID: Ty = Opt(&Id);

const BYTE_LEVEL: &[(&str, Ty)] = &[
    ("add_prefix_space", Bool),
    ("trim_offsets", Bool),
    ("use_regex", Bool),
];
const METASPACE: &[(&str, Ty)] = &[
    ("replacement", Char),
    ("prepend_scheme", Str),
    ("split", Bool),
    ("add_prefix_space", Bool),
];
const REPLACE: &[(&str, Ty)] = &[("pattern", Pattern), ("content", Str)];

/// HF tokenizers' field types, per component type (fields of unknown types are not checked;
/// the loaders reject types they do not support).
fn normalizer_spec(t: &str) -> &'static [(&'static str, Ty)] {
    match t {
        "BertNormalizer" => &[
            ("clean_text", Bool),
            ("handle_chinese_chars", Bool),
            ("strip_accents", OPT_BOOL),
            ("lowercase", Bool),
        ],
        "Strip" => &[("strip_left", Bool), ("strip_right", Bool)],
        "Replace" => REPLACE,
        "Prepend" => &[("prepend", Str)],
        "Precompiled" => &[("precompiled_charsmap", Opt(&Str))],
        _ => &[],
    }
}

fn pre_tokenizer_spec(t: &str) -> &'static [(&'static str, Ty)] {
    match t {
        "ByteLevel" => BYTE_LEVEL,
        "Split" => &[("pattern", Pattern), ("behavior", Str), ("invert", Bool)],
        "Metaspace" => METASPACE,
        "Punctuation" => &[("behavior", Str)],
        "Digits" => &[("individual_digits", Bool)],
        "CharDelimiterSplit" => &[("delimiter", Char)],
        _ => &[],
    }
}

fn post_processor_spec(t: &str) -> &'static [(&'static str, Ty)] {
    match t {
        "BertProcessing" => &[("sep", TokenId), ("cls", TokenId)],
        "RobertaProcessing" => &[
            ("sep", TokenId),
            ("cls", TokenId),
            ("trim_offsets", Bool),
            ("add_prefix_space", Bool),
        ],
        "ByteLevel" => BYTE_LEVEL,
        "TemplateProcessing" => &[("single", Arr), ("pair", Arr), ("special_tokens", Obj)],
        _ => &[],
    }
}

fn decoder_spec(t: &str) -> &'static [(&'static str, Ty)] {
    match t {
        "WordPiece" => &[("prefix", Str), ("cleanup", Bool)],
        "ByteLevel" => BYTE_LEVEL,
        "Metaspace" => METASPACE,
        "BPEDecoder" => &[("suffix", Str)],
        "CTC" => &[
            ("pad_token", Str),
            ("word_delimiter_token", Str),
            ("cleanup", Bool),
        ],
        "Replace" => REPLACE,
        "Strip" => &[("content", Char), ("start", UInt), ("stop", UInt)],
        _ => &[],
    }
}

fn model_spec(t: &str) -> &'static [(&'static str, Ty)] {
    match t {
        "WordPiece" => &[
            ("unk_token", Str),
            ("continuing_subword_prefix", Str),
            ("max_input_chars_per_word", UInt),
            ("vocab", Obj),
        ],
        "BPE" => &[
            ("dropout", OPT_NUM),
            ("unk_token", OPT_STR),
            ("continuing_subword_prefix", OPT_STR),
            ("end_of_word_suffix", OPT_STR),
            ("fuse_unk", Bool),
            ("byte_fallback", Bool),
            ("ignore_merges", Bool),
            ("vocab", Obj),
            ("merges", Arr),
        ],
        "WordLevel" => &[("unk_token", Str), ("vocab", Obj)],
        "Unigram" => &[("unk_id", OPT_ID), ("vocab", Arr), ("byte_fallback", Bool)],
        _ => &[],
    }
}

const ADDED_TOKEN: &[(&str, Ty)] = &[
    ("id", Id),
    ("content", Str),
    ("single_word", Bool),
    ("lstrip", Bool),
    ("rstrip", Bool),
    ("normalized", Bool),
    ("special", Bool),
];
const TRUNCATION: &[(&str, Ty)] = &[
    ("direction", Str),
    ("max_length", UInt),
    ("strategy", Str),
    ("stride", UInt),
];
const PADDING: &[(&str, Ty)] = &[
    ("direction", Str),
    ("pad_to_multiple_of", OPT_UINT),
    ("pad_id", Id),
    ("pad_type_id", U32),
    ("pad_token", Str),
];

/// Check the field types and every id of a parsed HF `tokenizer.json` (see the module docs).
/// Call it first in every `tokenizer.json` loader; loaders may then cast ids to `u32` freely.
pub fn check_tokenizer_json(root: &Value, label: &str) -> Result<()> {
    let Some(top) = root.as_object() else {
        return Err(Error::malformed(label, "the top level must be an object"));
    };
    let model = top.get("model").and_then(Value::as_object);
    let vocab_len = match model.and_then(|m| m.get("vocab")) {
        Some(Value::Object(o)) => o.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    };
    let added = match top.get("added_tokens") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(v) => {
            return Err(Error::malformed(
                label,
                format!("added_tokens must be a list, got {}", short(v)),
            ))
        }
    };
    let cx = Checker {
        label,
        bound: IdBound::for_entries(vocab_len + added.len()),
    };
    if let Some(v) = top.get("version") {
        if v.as_str() != Some("1.0") {
            return Err(cx.err(format!(
                "unknown tokenizer version {} (HF tokenizers reads \"1.0\")",
                short(v)
            )));
        }
    }
    for (i, a) in added.iter().enumerate() {
        let what = format!("added_tokens[{i}]");
        let o = a
            .as_object()
            .ok_or_else(|| cx.err(format!("{what} must be an object, got {}", short(a))))?;
        cx.fields(o, ADDED_TOKEN, &what)?;
    }
    if let Some(m) = top.get("model") {
        let m = m
            .as_object()
            .ok_or_else(|| cx.err(format!("model must be an object, got {}", short(m))))?;
        let t = match m.get("type") {
            None => None,
            Some(Value::String(t)) => Some(t.as_str()),
            Some(t) => return Err(cx.err(format!("model.type must be a string, got {}", short(t)))),
        };
        // Files without `model.type` are typed by their fields (see `hf_json::model_type`).
        let t = t.unwrap_or(if m.contains_key("merges") { "BPE" } else { "WordPiece" });
        cx.fields(m, model_spec(t), "model")?;
        if let Some(Value::Object(vocab)) = m.get("vocab") {
            for (tok, id) in vocab {
                cx.bound
                    .check_json(id, label, &format!("model.vocab[{}]", short(&Value::String(tok.clone()))))?;
            }
        }
    }
    for (k, spec) in [("truncation", TRUNCATION), ("padding", PADDING)] {
        match top.get(k) {
            None | Some(Value::Null) => {}
            Some(Value::Object(o)) => cx.fields(o, spec, k)?,
            Some(v) => return Err(cx.err(format!("{k} must be an object or null, got {}", short(v)))),
        }
    }
    if let Some(Value::Object(p)) = top.get("padding") {
        match p.get("strategy") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s == "BatchLongest" => {}
            Some(Value::Object(f)) if f.len() == 1 && f.get("Fixed").is_some_and(Value::is_u64) => {}
            Some(v) => {
                return Err(cx.err(format!(
                    "padding.strategy must be \"BatchLongest\" or {{\"Fixed\": n}}, got {}",
                    short(v)
                )))
            }
        }
    }
    cx.component(top.get("normalizer"), "normalizer", normalizer_spec, "normalizers")?;
    cx.component(top.get("pre_tokenizer"), "pre_tokenizer", pre_tokenizer_spec, "pretokenizers")?;
    cx.component(top.get("decoder"), "decoder", decoder_spec, "decoders")?;
    cx.component(top.get("post_processor"), "post_processor", post_processor_spec, "processors")?;
    check_templates(&cx, top.get("post_processor"), "post_processor")
}

/// The ids and type ids of every `TemplateProcessing` (also inside a `Sequence`).
fn check_templates(cx: &Checker, v: Option<&Value>, what: &str) -> Result<()> {
    let Some(o) = v.and_then(Value::as_object) else {
        return Ok(());
    };
    match o.get("type").and_then(Value::as_str) {
        Some("Sequence") => {
            if let Some(items) = o.get("processors").and_then(Value::as_array) {
                for (i, p) in items.iter().enumerate() {
                    check_templates(cx, Some(p), &format!("{what}.processors[{i}]"))?;
                }
            }
        }
        Some("TemplateProcessing") => {
            for k in ["single", "pair"] {
                for (i, piece) in o.get(k).and_then(Value::as_array).into_iter().flatten().enumerate() {
                    let w = format!("{what}.{k}[{i}]");
                    let p = piece
                        .as_object()
                        .ok_or_else(|| cx.err(format!("{w} must be an object, got {}", short(piece))))?;
                    for (name, inner) in p {
                        let io = inner.as_object().ok_or_else(|| {
                            cx.err(format!("{w}.{name} must be an object, got {}", short(inner)))
                        })?;
                        cx.fields(io, &[("id", Str), ("type_id", U32)], &format!("{w}.{name}"))?;
                    }
                }
            }
            if let Some(Value::Object(specials)) = o.get("special_tokens") {
                for (name, s) in specials {
                    let w = format!("{what}.special_tokens[{}]", short(&Value::String(name.clone())));
                    let so = s
                        .as_object()
                        .ok_or_else(|| cx.err(format!("{w} must be an object, got {}", short(s))))?;
                    cx.fields(so, &[("id", Str), ("ids", Arr), ("tokens", Arr)], &w)?;
                    for (j, id) in so.get("ids").and_then(Value::as_array).into_iter().flatten().enumerate() {
                        cx.bound.check_json(id, cx.label, &format!("{w}.ids[{j}]"))?;
                    }
                    for (j, t) in so.get("tokens").and_then(Value::as_array).into_iter().flatten().enumerate() {
                        cx.value(t, Str, &format!("{w}.tokens[{j}]"))?;
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wp() -> Value {
        json!({"version": "1.0", "added_tokens": [{"id": 0, "content": "[UNK]", "special": true}],
               "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                         "vocab": {"[UNK]": 0, "a": 1}}})
    }

    fn err(v: &Value) -> String {
        check_tokenizer_json(v, "t.json").unwrap_err().to_string()
    }

    #[test]
    fn accepts_a_good_file() {
        check_tokenizer_json(&wp(), "t.json").unwrap();
    }

    #[test]
    fn ids_must_fit_u32_and_the_bound() {
        let mut v = wp();
        v["added_tokens"][0]["id"] = json!(4294967299u64);
        assert!(err(&v).contains("added_tokens[0].id") && err(&v).contains("u32"));
        let mut v = wp();
        v["model"]["vocab"]["b"] = json!(1u64 << 31);
        assert!(err(&v).starts_with("t.json") && err(&v).contains("model.vocab[\"b\"]"));
        let mut v = wp();
        v["model"]["vocab"]["b"] = json!(1000); // sparse but within 4n + 1024: HF accepts it too
        check_tokenizer_json(&v, "t.json").unwrap();
        let mut v = wp();
        v["post_processor"] = json!({"type": "BertProcessing", "sep": ["[SEP]", 4294967297u64], "cls": ["[CLS]", 1]});
        assert!(err(&v).contains("post_processor.sep[1]"));
        let mut v = wp();
        v["padding"] = json!({"pad_id": -1});
        assert!(err(&v).contains("padding.pad_id"));
    }

    #[test]
    fn field_types_follow_hf() {
        for (path, bad) in [
            ("continuing_subword_prefix", json!(5)),
            ("continuing_subword_prefix", Value::Null),
            ("max_input_chars_per_word", json!(1.5)),
            ("unk_token", json!(null)),
        ] {
            let mut v = wp();
            v["model"][path] = bad;
            assert!(err(&v).contains(&format!("model.{path}")), "{path}");
        }
        let mut v = wp();
        v["version"] = json!("2.0");
        assert!(err(&v).contains("version"));
        let mut v = wp();
        v["normalizer"] = json!({"type": "Sequence", "normalizers": [{"type": "BertNormalizer", "lowercase": "yes"}]});
        assert!(err(&v).contains("normalizer.normalizers[0].lowercase"));
        let mut v = wp();
        v["decoder"] = json!({"type": "WordPiece", "prefix": 3});
        assert!(err(&v).contains("decoder.prefix"));
        let mut v = wp();
        v["truncation"] = json!({"max_length": -1});
        assert!(err(&v).contains("truncation.max_length"));
        let mut v = wp();
        v["added_tokens"][0]["special"] = json!("yes");
        assert!(err(&v).contains("added_tokens[0].special"));
    }
}
