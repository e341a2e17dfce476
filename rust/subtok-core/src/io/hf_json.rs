//! HF `tokenizer.json`: load the BERT WordPiece pipeline from it, and write it back so that
//! HF tokenizers loads our file and encodes identically.
use crate::added_vocab::AddedToken;
use crate::error::{Error, Result};
use crate::models::WordPiece;
use crate::normalize::BertNormalizer;
use crate::postprocess::{
    Direction, PaddingParams, PaddingStrategy, Piece, Template, TruncationParams,
    TruncationStrategy,
};
use crate::tokenizer::{WordPieceDecoder, WordPieceTokenizer};
use serde_json::{json, Map, Value};

/// A JSON reader that names the file and the field in every error.
pub struct Ctx<'a> {
    pub label: &'a str,
}

impl Ctx<'_> {
    pub fn err(&self, msg: impl Into<String>) -> Error {
        Error::malformed(self.label, msg)
    }
    pub fn obj<'v>(&self, v: &'v Value, what: &str) -> Result<&'v Map<String, Value>> {
        v.as_object()
            .ok_or_else(|| self.err(format!("{what} must be an object")))
    }
    pub fn str<'v>(&self, o: &'v Map<String, Value>, k: &str, what: &str) -> Result<&'v str> {
        o.get(k)
            .and_then(|v| v.as_str())
            .ok_or_else(|| self.err(format!("{what}.{k} must be a string")))
    }
    pub fn opt_bool(
        &self,
        o: &Map<String, Value>,
        k: &str,
        what: &str,
        default: Option<bool>,
    ) -> Result<Option<bool>> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            _ => Err(self.err(format!("{what}.{k} must be true, false or null"))),
        }
    }
    pub fn bool(&self, o: &Map<String, Value>, k: &str, what: &str, default: bool) -> Result<bool> {
        Ok(self.opt_bool(o, k, what, Some(default))?.unwrap_or(default))
    }
    pub fn uint(&self, v: Option<&Value>, what: &str) -> Result<u64> {
        v.and_then(|v| v.as_u64())
            .ok_or_else(|| self.err(format!("{what} must be a non-negative integer")))
    }
    pub fn type_of<'v>(&self, o: &'v Map<String, Value>, what: &str) -> Result<&'v str> {
        self.str(o, "type", what)
    }
}

/// The WordPiece model of a `model` object.
pub fn wordpiece_model(cx: &Ctx, model: &Map<String, Value>) -> Result<(WordPiece, String)> {
    let mtype = model
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("WordPiece");
    if mtype != "WordPiece" {
        return Err(cx.err(format!("model type {mtype:?} is not WordPiece")));
    }
    let vocab_obj = cx.obj(
        model
            .get("vocab")
            .ok_or_else(|| cx.err("model.vocab is missing"))?,
        "model.vocab",
    )?;
    if vocab_obj.is_empty() {
        return Err(cx.err("model.vocab is empty"));
    }
    let mut vocab = vec![String::new(); vocab_obj.len()];
    for (tok, id) in vocab_obj {
        let id = cx.uint(Some(id), &format!("the id of token {tok:?}"))? as usize;
        if id >= vocab.len() {
            if id > vocab_obj.len() * 4 + 1024 {
                return Err(cx.err(format!(
                    "token {tok:?} has id {id}, far beyond the vocabulary size {}",
                    vocab_obj.len()
                )));
            }
            vocab.resize(id + 1, String::new());
        }
        vocab[id] = tok.clone();
    }
    let unk = cx.str(model, "unk_token", "model")?;
    let prefix = model
        .get("continuing_subword_prefix")
        .and_then(|v| v.as_str())
        .unwrap_or("##");
    let max_chars = match model.get("max_input_chars_per_word") {
        None | Some(Value::Null) => 100,
        v => cx.uint(v, "model.max_input_chars_per_word")? as usize,
    };
    let wp =
        WordPiece::new(vocab, unk, prefix, max_chars).map_err(|e| cx.err(format!("model: {e}")))?;

    Ok((wp, prefix.to_string()))
}

/// Parse a `tokenizer.json` text into the BERT WordPiece pipeline.
/// `label` (the file path, or `<string>`) is named in every error.
pub fn wordpiece_from_json(root: &Value, label: &str) -> Result<WordPieceTokenizer> {
    super::check::check_tokenizer_json(root, label)?;
    let cx = Ctx { label };
    let top = cx.obj(root, "the top level")?;
    let model = cx.obj(
        top.get("model")
            .ok_or_else(|| cx.err("missing \"model\""))?,
        "model",
    )?;
    let (wp, prefix) = wordpiece_model(&cx, model)?;
    let prefix = prefix.as_str();
    let normalizer = match top.get("normalizer") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let o = cx.obj(v, "normalizer")?;
            match cx.type_of(o, "normalizer")? {
                "BertNormalizer" => Some(BertNormalizer {
                    clean_text: cx.bool(o, "clean_text", "normalizer", true)?,
                    handle_chinese_chars: cx.bool(o, "handle_chinese_chars", "normalizer", true)?,
                    strip_accents: cx.opt_bool(o, "strip_accents", "normalizer", None)?,
                    lowercase: cx.bool(o, "lowercase", "normalizer", true)?,
                }),
                t => return Err(cx.err(format!("normalizer type {t:?} is not supported with WordPiece (expected BertNormalizer)"))),
            }
        }
    };
    match top.get("pre_tokenizer") {
        None | Some(Value::Null) => {}
        Some(v) => {
            let o = cx.obj(v, "pre_tokenizer")?;
            let t = cx.type_of(o, "pre_tokenizer")?;
            if t != "BertPreTokenizer" {
                return Err(cx.err(format!("pre_tokenizer type {t:?} is not supported with WordPiece (expected BertPreTokenizer)")));
            }
        }
    }
    let added = parse_added_tokens(&cx, top.get("added_tokens"))?;
    let template = match top.get("post_processor") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_post_processor(&cx, v)?),
    };
    let decoder = match top.get("decoder") {
        None | Some(Value::Null) => WordPieceDecoder {
            prefix: prefix.to_string(),
            cleanup: true,
        },
        Some(v) => {
            let o = cx.obj(v, "decoder")?;
            match cx.type_of(o, "decoder")? {
                "WordPiece" => WordPieceDecoder {
                    prefix: o
                        .get("prefix")
                        .and_then(|p| p.as_str())
                        .unwrap_or("##")
                        .to_string(),
                    cleanup: cx.bool(o, "cleanup", "decoder", true)?,
                },
                t => {
                    return Err(cx.err(format!(
                        "decoder type {t:?} is not supported with WordPiece"
                    )))
                }
            }
        }
    };
    let tok = WordPieceTokenizer::new(normalizer, wp, added, template, decoder)
        .map_err(|e| cx.err(e.to_string()))?;
    tok.settings
        .set_truncation(parse_truncation(&cx, top.get("truncation"))?);
    tok.settings
        .set_padding(parse_padding(&cx, top.get("padding"))?);
    Ok(tok)
}

pub fn parse_added_tokens(cx: &Ctx, v: Option<&Value>) -> Result<Vec<AddedToken>> {
    let Some(v) = v else { return Ok(vec![]) };
    if v.is_null() {
        return Ok(vec![]);
    }
    let arr = v
        .as_array()
        .ok_or_else(|| cx.err("added_tokens must be a list"))?;
    let mut out = Vec::with_capacity(arr.len());
    for (i, t) in arr.iter().enumerate() {
        let what = format!("added_tokens[{i}]");
        let o = cx.obj(t, &what)?;
        let content = cx.str(o, "content", &what)?;
        if content.is_empty() {
            return Err(cx.err(format!("{what}.content is empty")));
        }
        out.push(AddedToken {
            id: cx.uint(o.get("id"), &format!("{what}.id"))? as u32,
            content: content.to_string(),
            special: cx.bool(o, "special", &what, false)?,
            single_word: cx.bool(o, "single_word", &what, false)?,
            lstrip: cx.bool(o, "lstrip", &what, false)?,
            rstrip: cx.bool(o, "rstrip", &what, false)?,
            normalized: cx.bool(o, "normalized", &what, true)?,
        });
    }
    Ok(out)
}

pub fn parse_post_processor(cx: &Ctx, v: &Value) -> Result<Template> {
    let o = cx.obj(v, "post_processor")?;
    match cx.type_of(o, "post_processor")? {
        "BertProcessing" => {
            let pair = |k: &str| -> Result<(String, u32)> {
                let a = o.get(k).and_then(|x| x.as_array()).filter(|a| a.len() == 2);
                let a = a.ok_or_else(|| cx.err(format!("post_processor.{k} must be [token, id]")))?;
                let t = a[0].as_str().ok_or_else(|| cx.err(format!("post_processor.{k}[0] must be a string")))?;
                Ok((t.to_string(), cx.uint(Some(&a[1]), &format!("post_processor.{k}[1]"))? as u32))
            };
            let (c, ci) = pair("cls")?;
            let (s, si) = pair("sep")?;
            Ok(Template::bert((&c, ci), (&s, si)))
        }
        "TemplateProcessing" => {
            let specials = cx.obj(o.get("special_tokens").unwrap_or(&Value::Null), "post_processor.special_tokens")?;
            let parse = |k: &str| -> Result<Vec<Piece>> {
                let arr = o
                    .get(k)
                    .and_then(|x| x.as_array())
                    .ok_or_else(|| cx.err(format!("post_processor.{k} must be a list")))?;
                arr.iter()
                    .map(|p| {
                        let po = cx.obj(p, &format!("post_processor.{k} item"))?;
                        if let Some(s) = po.get("SpecialToken") {
                            let so = cx.obj(s, "SpecialToken")?;
                            let name = cx.str(so, "id", "SpecialToken")?;
                            let type_id = cx.uint(so.get("type_id"), "SpecialToken.type_id")? as u32;
                            let st = cx.obj(
                                specials.get(name).ok_or_else(|| cx.err(format!("post_processor: special token {name:?} is not defined in special_tokens")))?,
                                "special_tokens entry",
                            )?;
                            let ids = st
                                .get("ids")
                                .and_then(|x| x.as_array())
                                .ok_or_else(|| cx.err(format!("special_tokens.{name}.ids must be a list")))?
                                .iter()
                                .map(|x| cx.uint(Some(x), "special token id").map(|x| x as u32))
                                .collect::<Result<Vec<u32>>>()?;
                            Ok(Piece::Special { name: name.to_string(), ids, type_id })
                        } else if let Some(s) = po.get("Sequence") {
                            let so = cx.obj(s, "Sequence")?;
                            let seq = match cx.str(so, "id", "Sequence")? {
                                "A" => 0,
                                "B" => 1,
                                x => return Err(cx.err(format!("Sequence id {x:?} must be \"A\" or \"B\""))),
                            };
                            Ok(Piece::Sequence { seq, type_id: cx.uint(so.get("type_id"), "Sequence.type_id")? as u32 })
                        } else {
                            Err(cx.err(format!("post_processor.{k} items must be SpecialToken or Sequence")))
                        }
                    })
                    .collect()
            };
            Ok(Template { single: parse("single")?, pair: parse("pair")? })
        }
        t => Err(cx.err(format!("post_processor type {t:?} is not supported with WordPiece (expected BertProcessing or TemplateProcessing)"))),
    }
}

pub fn parse_truncation(cx: &Ctx, v: Option<&Value>) -> Result<Option<TruncationParams>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let o = cx.obj(v, "truncation")?;
    let strategy = match o.get("strategy").and_then(|s| s.as_str()) {
        None => TruncationStrategy::LongestFirst,
        Some(s) => TruncationStrategy::parse(s).map_err(|e| cx.err(format!("truncation: {e}")))?,
    };
    let direction = match o.get("direction").and_then(|s| s.as_str()) {
        None => Direction::Right,
        Some(s) => Direction::parse(s).map_err(|e| cx.err(format!("truncation: {e}")))?,
    };
    Ok(Some(TruncationParams {
        max_length: cx.uint(o.get("max_length"), "truncation.max_length")? as usize,
        stride: match o.get("stride") {
            None | Some(Value::Null) => 0,
            s => cx.uint(s, "truncation.stride")? as usize,
        },
        strategy,
        direction,
    }))
}

pub fn parse_padding(cx: &Ctx, v: Option<&Value>) -> Result<Option<PaddingParams>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let o = cx.obj(v, "padding")?;
    let strategy = match o.get("strategy") {
        None | Some(Value::Null) => PaddingStrategy::BatchLongest,
        Some(Value::String(s)) if s == "BatchLongest" => PaddingStrategy::BatchLongest,
        Some(Value::Object(m)) if m.contains_key("Fixed") => {
            PaddingStrategy::Fixed(cx.uint(m.get("Fixed"), "padding.strategy.Fixed")? as usize)
        }
        _ => return Err(cx.err("padding.strategy must be \"BatchLongest\" or {\"Fixed\": n}")),
    };
    let direction = match o.get("direction").and_then(|s| s.as_str()) {
        None => Direction::Right,
        Some(s) => Direction::parse(s).map_err(|e| cx.err(format!("padding: {e}")))?,
    };
    let pad_to_multiple_of = match o.get("pad_to_multiple_of") {
        None | Some(Value::Null) => None,
        s => Some(cx.uint(s, "padding.pad_to_multiple_of")? as usize),
    };
    let fixed = match strategy {
        PaddingStrategy::Fixed(n) => Some(n),
        PaddingStrategy::BatchLongest => None,
    };
    crate::postprocess::check_pad_lengths(fixed, pad_to_multiple_of).map_err(|e| cx.err(e))?;
    Ok(Some(PaddingParams {
        strategy,
        direction,
        pad_to_multiple_of,
        pad_id: match o.get("pad_id") {
            None => 0,
            s => cx.uint(s, "padding.pad_id")? as u32,
        },
        pad_type_id: match o.get("pad_type_id") {
            None => 0,
            s => cx.uint(s, "padding.pad_type_id")? as u32,
        },
        pad_token: o
            .get("pad_token")
            .and_then(|s| s.as_str())
            .unwrap_or("[PAD]")
            .to_string(),
    }))
}

/// The `model.type` of a parsed `tokenizer.json` (older files without it are recognised by
/// their fields).
pub fn model_type(root: &Value, label: &str) -> Result<String> {
    let cx = Ctx { label };
    let top = cx.obj(root, "the top level")?;
    let model = cx.obj(
        top.get("model")
            .ok_or_else(|| cx.err("missing \"model\""))?,
        "model",
    )?;
    match model.get("type") {
        Some(Value::String(t)) => Ok(t.clone()),
        None if model.contains_key("continuing_subword_prefix")
            || model.contains_key("max_input_chars_per_word") =>
        {
            Ok("WordPiece".into())
        }
        None if model.contains_key("merges") => Ok("BPE".into()),
        _ => Err(cx.err("model.type is missing or not a string")),
    }
}

/// Parse JSON text, naming the file on syntax errors.
pub fn parse_json(text: &str, label: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::malformed(label, format!("invalid JSON: {e}")))
}

// ---------------------------------------------------------------------- writing

pub fn added_tokens_json(tokens: &[AddedToken]) -> Value {
    Value::Array(
        tokens
            .iter()
            .map(|t| {
                json!({"id": t.id, "content": t.content, "single_word": t.single_word, "lstrip": t.lstrip,
                       "rstrip": t.rstrip, "normalized": t.normalized, "special": t.special})
            })
            .collect(),
    )
}

pub fn truncation_json(t: &Option<TruncationParams>) -> Value {
    match t {
        None => Value::Null,
        Some(t) => json!({"direction": t.direction.hf_name(), "max_length": t.max_length,
                          "strategy": t.strategy.hf_name(), "stride": t.stride}),
    }
}

pub fn padding_json(p: &Option<PaddingParams>) -> Value {
    match p {
        None => Value::Null,
        Some(p) => json!({
            "strategy": match p.strategy { PaddingStrategy::BatchLongest => json!("BatchLongest"), PaddingStrategy::Fixed(n) => json!({"Fixed": n}) },
            "direction": p.direction.hf_name(), "pad_to_multiple_of": p.pad_to_multiple_of,
            "pad_id": p.pad_id, "pad_type_id": p.pad_type_id, "pad_token": p.pad_token,
        }),
    }
}

pub fn template_json(t: &Template) -> Value {
    let pieces = |ps: &[Piece]| -> Value {
        Value::Array(
            ps.iter()
                .map(|p| match p {
                    Piece::Special { name, type_id, .. } => json!({"SpecialToken": {"id": name, "type_id": type_id}}),
                    Piece::Sequence { seq, type_id } => {
                        json!({"Sequence": {"id": if *seq == 0 { "A" } else { "B" }, "type_id": type_id}})
                    }
                })
                .collect(),
        )
    };
    let mut specials = Map::new();
    for p in t.single.iter().chain(t.pair.iter()) {
        if let Piece::Special { name, ids, .. } = p {
            specials.insert(
                name.clone(),
                json!({"id": name, "ids": ids, "tokens": [name]}),
            );
        }
    }
    json!({"type": "TemplateProcessing", "single": pieces(&t.single), "pair": pieces(&t.pair), "special_tokens": specials})
}

/// The full `tokenizer.json` value of a WordPiece pipeline.
pub fn wordpiece_to_json(t: &WordPieceTokenizer) -> Value {
    let settings = t.settings.snapshot();
    let mut vocab = Map::new();
    for (i, tok) in t.model.vocab().iter().enumerate() {
        if !tok.is_empty() && t.model.token_to_id(tok) == Some(i as u32) {
            vocab.insert(tok.clone(), json!(i));
        }
    }
    let normalizer = match &t.normalizer {
        None => Value::Null,
        Some(n) => {
            json!({"type": "BertNormalizer", "clean_text": n.clean_text, "handle_chinese_chars": n.handle_chinese_chars,
                          "strip_accents": n.strip_accents, "lowercase": n.lowercase})
        }
    };
    json!({
        "version": "1.0",
        "truncation": truncation_json(&settings.truncation),
        "padding": padding_json(&settings.padding),
        "added_tokens": added_tokens_json(t.added_tokens()),
        "normalizer": normalizer,
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": t.template.as_ref().map_or(Value::Null, template_json),
        "decoder": {"type": "WordPiece", "prefix": t.decoder.prefix, "cleanup": t.decoder.cleanup},
        "model": {"type": "WordPiece", "unk_token": t.model.unk_token, "continuing_subword_prefix": t.model.continuing_subword_prefix,
                  "max_input_chars_per_word": t.model.max_input_chars_per_word, "vocab": vocab},
    })
}

/// Serialize a `tokenizer.json` value (serializing a `Value` cannot fail).
pub fn json_text(v: &Value, pretty: bool) -> String {
    if pretty {
        serde_json::to_string_pretty(v).unwrap_or_default()
    } else {
        serde_json::to_string(v).unwrap_or_default()
    }
}
