//! The general tokenizer pipeline, HF tokenizers' layout: added tokens -> normalizer
//! ([`Normalizer`]) -> pre-tokenizer ([`PreTokenizer`]) -> model (BPE over characters,
//! WordPiece, WordLevel) -> truncation -> post-processor ([`Processor`]) -> padding, and a
//! [`Decoder`] chain back to text.
//!
//! The loader ([`load`]) keeps the hand-fused specializations for the files they match exactly
//! (BERT WordPiece, byte-level BPE without normalizer/template) and builds this pipeline for
//! every other BPE / WordPiece / WordLevel `tokenizer.json`.
use crate::added_vocab::{AddedToken, AddedVocab, Segment};
use crate::decoders::Decoder;
use crate::encoding::{CompactEncoding, Encoding};
use crate::error::{Error, Result};
use crate::io::hf_json::{self, Ctx};
use crate::models::word_bpe::{BpeOptions, WordBpe};
use crate::models::word_level::WordLevel;
use crate::models::WordPiece;
use crate::normalize::component::Normalizer;
use crate::normalize::normalized::Normalized;
use crate::postprocess::processor::Processor;
use crate::postprocess::settings::SettingsCell;
use crate::postprocess::{pad_compact, pad_encodings, truncate_encodings, truncate_ids, PaddingParams, TruncationParams};
use crate::pretokenize::bytelevel::string_to_bytes;
use crate::pretokenize::component::PreTokenizer;
use crate::pretokenize::pieces::Pretok;
use rayon::prelude::*;
use serde_json::Value;
use std::sync::Arc;

/// The subword model of a general pipeline.
#[derive(Debug, Clone)]
pub enum Model {
    Bpe(WordBpe),
    WordPiece(WordPiece),
    WordLevel(WordLevel),
}

impl Model {
    fn tokenize(&self, word: &str, out: &mut Vec<(u32, u32, u32)>) -> Result<()> {
        match self {
            Model::Bpe(m) => m.tokenize(word, out),
            Model::WordPiece(m) => {
                m.tokenize_word(word.as_bytes(), word.chars().count(), out);
                Ok(())
            }
            Model::WordLevel(m) => m.tokenize(word, out),
        }
    }
    fn token_to_id(&self, t: &str) -> Option<u32> {
        match self {
            Model::Bpe(m) => m.vocab().token_to_id(t),
            Model::WordPiece(m) => m.token_to_id(t),
            Model::WordLevel(m) => m.vocab().token_to_id(t),
        }
    }
    fn id_to_token(&self, id: u32) -> Option<&str> {
        match self {
            Model::Bpe(m) => m.vocab().id_to_token(id),
            Model::WordPiece(m) => m.id_to_token(id).filter(|s| !s.is_empty()),
            Model::WordLevel(m) => m.vocab().id_to_token(id),
        }
    }
    fn id_capacity(&self) -> usize {
        match self {
            Model::Bpe(m) => m.vocab().id_capacity(),
            Model::WordPiece(m) => m.vocab().len(),
            Model::WordLevel(m) => m.vocab().id_capacity(),
        }
    }
    /// HF's `model.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Model::Bpe(_) => "BPE",
            Model::WordPiece(_) => "WordPiece",
            Model::WordLevel(_) => "WordLevel",
        }
    }
}

/// Per-thread buffers of one encoding pass.
#[derive(Default)]
struct Scratch {
    pt: Pretok,
    seg: Vec<Segment>,
    seg2: Vec<Segment>,
    norm: Normalized,
    piece: Normalized,
    toks: Vec<(u32, u32, u32)>,
    char_of: Vec<u32>,
    /// The two sequences of an input before post-processing (reused).
    enc_a: Encoding,
    enc_b: Encoding,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// A general HF tokenizer pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub normalizer: Option<Normalizer>,
    pub pre_tokenizer: Option<PreTokenizer>,
    pub model: Model,
    pub processor: Processor,
    pub decoder: Option<Decoder>,
    added: AddedVocab,
    id_to_token: Arc<Vec<String>>,
    special_ids: Vec<bool>,
    /// Stored truncation and padding (changeable through `&self`, see [`SettingsCell`]).
    pub settings: SettingsCell,
    /// The loaded file, re-emitted by [`Pipeline::to_json`] with the current truncation and
    /// padding (every component is immutable after loading).
    source: Arc<Value>,
}

fn opt<'a>(top: &'a serde_json::Map<String, Value>, k: &str) -> Option<&'a Value> {
    top.get(k).filter(|v| !v.is_null())
}

fn str_opt(m: &Value, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_string)
}

fn vocab_pairs(cx: &Ctx, m: &Value) -> Result<Vec<(String, u32)>> {
    let o = m
        .get("vocab")
        .and_then(Value::as_object)
        .ok_or_else(|| cx.err("model.vocab must be an object"))?;
    o.iter()
        .map(|(k, v)| Ok((k.clone(), cx.uint(Some(v), &format!("the id of token {k:?}"))? as u32)))
        .collect()
}

fn parse_model(cx: &Ctx, m: &Value, kind: &str) -> Result<Model> {
    let wrap = |e: Error| cx.err(format!("model: {e}"));
    Ok(match kind {
        "BPE" => {
            let vocab = vocab_pairs(cx, m)?;
            let merges = m
                .get("merges")
                .and_then(Value::as_array)
                .ok_or_else(|| cx.err("model.merges must be a list"))?
                .iter()
                .enumerate()
                .map(|(k, x)| {
                    let p = match x {
                        Value::String(s) => s.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())),
                        Value::Array(a) if a.len() == 2 => match (a[0].as_str(), a[1].as_str()) {
                            (Some(a), Some(b)) => Some((a.to_string(), b.to_string())),
                            _ => None,
                        },
                        _ => None,
                    };
                    p.ok_or_else(|| cx.err(format!("model.merges[{k}]: expected \"a b\" or [\"a\", \"b\"]")))
                })
                .collect::<Result<Vec<_>>>()?;
            let flag = |k: &str| m.get(k).and_then(Value::as_bool).unwrap_or(false);
            let o = BpeOptions {
                unk_token: str_opt(m, "unk_token"),
                continuing_subword_prefix: str_opt(m, "continuing_subword_prefix"),
                end_of_word_suffix: str_opt(m, "end_of_word_suffix"),
                byte_fallback: flag("byte_fallback"),
                fuse_unk: flag("fuse_unk"),
                ignore_merges: flag("ignore_merges"),
                // read and kept: dropout only matters for training-time sampling
                dropout: m.get("dropout").and_then(Value::as_f64),
            };
            Model::Bpe(WordBpe::new(vocab, merges, o).map_err(wrap)?)
        }
        "WordPiece" => {
            let mo = cx.obj(m, "model")?;
            Model::WordPiece(hf_json::wordpiece_model(cx, mo)?.0)
        }
        "WordLevel" => {
            let unk = str_opt(m, "unk_token").unwrap_or_else(|| "<unk>".into());
            Model::WordLevel(WordLevel::new(vocab_pairs(cx, m)?, &unk).map_err(wrap)?)
        }
        "Unigram" => {
            return Err(cx.err(
                "model type \"Unigram\" is not supported: subtok implements the BPE, WordPiece and WordLevel models",
            ))
        }
        other => return Err(cx.err(format!("model type {other:?} is not supported (BPE, WordPiece and WordLevel are)"))),
    })
}

impl Pipeline {
    /// Build the general pipeline from a parsed `tokenizer.json`.
    pub fn from_json(root: &Value, label: &str) -> Result<Self> {
        crate::io::check::check_tokenizer_json(root, label)?;
        let cx = Ctx { label };
        let top = cx.obj(root, "the top level")?;
        let model_v = top.get("model").ok_or_else(|| cx.err("missing \"model\""))?;
        let kind = hf_json::model_type(root, label)?;
        let model = parse_model(&cx, model_v, &kind)?;
        let cx2 = Ctx { label };
        let wrap = |what: &'static str| {
            let cx = &cx2;
            move |e: Error| cx.err(format!("{what}: {e}"))
        };
        let normalizer = opt(top, "normalizer")
            .map(Normalizer::from_json)
            .transpose()
            .map_err(wrap("normalizer"))?;
        let pre_tokenizer = opt(top, "pre_tokenizer")
            .map(PreTokenizer::from_json)
            .transpose()
            .map_err(wrap("pre_tokenizer"))?;
        let decoder = opt(top, "decoder")
            .map(Decoder::from_json)
            .transpose()
            .map_err(wrap("decoder"))?;
        let processor = Processor::from_json(
            opt(top, "post_processor").unwrap_or(&Value::Null),
            &|v| hf_json::parse_post_processor(&cx, v),
        )
        .map_err(|e| match e {
            Error::Malformed { .. } => e,
            e => cx.err(format!("post_processor: {e}")),
        })?;
        let added_tokens = hf_json::parse_added_tokens(&cx, top.get("added_tokens"))?;
        let mut cap = model.id_capacity();
        for t in &added_tokens {
            if t.id as usize > cap + added_tokens.len() + 1_000_000 {
                return Err(cx.err(format!("added token {:?} has an implausible id {}", t.content, t.id)));
            }
            cap = cap.max(t.id as usize + 1);
        }
        let mut table = vec![String::new(); cap];
        for (i, slot) in table.iter_mut().enumerate() {
            if let Some(t) = model.id_to_token(i as u32) {
                *slot = t.to_string();
            }
        }
        let mut special_ids = vec![false; cap];
        for t in &added_tokens {
            table[t.id as usize] = t.content.clone();
            special_ids[t.id as usize] |= t.special;
        }
        let mut processor = processor;
        processor.index_tokens(&table);
        let added = AddedVocab::new(added_tokens, |s| match &normalizer {
            Some(n) => n.normalize_str(s),
            None => s.to_string(),
        })
        .map_err(|e| cx.err(e.to_string()))?;
        let settings = SettingsCell::default();
        settings.set_truncation(hf_json::parse_truncation(&cx, top.get("truncation"))?);
        settings.set_padding(hf_json::parse_padding(&cx, top.get("padding"))?);
        Ok(Pipeline {
            normalizer,
            pre_tokenizer,
            model,
            processor,
            decoder,
            added,
            id_to_token: Arc::new(table),
            special_ids,
            settings,
            source: Arc::new(root.clone()),
        })
    }

    /// The `tokenizer.json` value: the loaded components with the current truncation/padding.
    pub fn to_json(&self) -> Value {
        let mut v = (*self.source).clone();
        let s = self.settings.snapshot();
        if let Some(o) = v.as_object_mut() {
            o.insert("truncation".into(), hf_json::truncation_json(&s.truncation));
            o.insert("padding".into(), hf_json::padding_json(&s.padding));
        }
        v
    }

    // ------------------------------------------------------------------ vocabulary

    pub fn id_to_token_table(&self) -> Arc<Vec<String>> {
        self.id_to_token.clone()
    }
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.id_to_token.get(id as usize).map(String::as_str).filter(|s| !s.is_empty())
    }
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.added
            .tokens()
            .iter()
            .find(|t| t.content == token)
            .map(|t| t.id)
            .or_else(|| self.model.token_to_id(token))
    }
    pub fn added_tokens(&self) -> &[AddedToken] {
        self.added.tokens()
    }
    pub fn is_special_id(&self, id: u32) -> bool {
        self.special_ids.get(id as usize).copied().unwrap_or(false)
    }
    /// Every (token, id) of the model and the added tokens.
    pub fn get_vocab(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = match &self.model {
            Model::Bpe(m) => m.vocab().iter().map(|(t, i)| (t.to_string(), i)).collect(),
            Model::WordLevel(m) => m.vocab().iter().map(|(t, i)| (t.to_string(), i)).collect(),
            Model::WordPiece(m) => m
                .vocab()
                .iter()
                .enumerate()
                .filter(|(i, t)| !t.is_empty() && m.token_to_id(t) == Some(*i as u32))
                .map(|(i, t)| (t.clone(), i as u32))
                .collect(),
        };
        for t in self.added.tokens() {
            v.push((t.content.clone(), t.id));
        }
        v
    }
    /// HF `get_vocab_size(with_added_tokens=True)`.
    pub fn vocab_size(&self) -> usize {
        let mut ids: Vec<u32> = self.get_vocab().into_iter().map(|x| x.1).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }
    pub fn num_special_tokens_to_add(&self, is_pair: bool) -> usize {
        self.processor.added_tokens(is_pair)
    }

    // ------------------------------------------------------------------ encoding

    /// Added tokens, normalizer and pre-tokenizer: the splits of `text` in `sc.pt`.
    fn pre_tokenize(&self, text: &str, sc: &mut Scratch) -> Result<()> {
        sc.pt.clear();
        sc.pt.norm.base = 0;
        self.added.split(text, &mut sc.seg);
        for k in 0..sc.seg.len() {
            match sc.seg[k] {
                Segment::Added { id, start, end } => {
                    sc.piece.reset(&text[start..end], start);
                    sc.pt.push_added(&sc.piece, id);
                }
                Segment::Text { start, end } => {
                    if start == end {
                        continue;
                    }
                    sc.norm.reset(&text[start..end], start);
                    if let Some(n) = &self.normalizer {
                        n.apply(&mut sc.norm)?;
                    }
                    if !self.added.has_normalized() {
                        sc.pt.take_text(&mut sc.norm);
                        continue;
                    }
                    self.added.split_normalized(&sc.norm.text, &mut sc.seg2);
                    for s2 in &sc.seg2 {
                        let (a, b, id) = match *s2 {
                            Segment::Text { start, end } => (start, end, None),
                            Segment::Added { id, start, end } => (start, end, Some(id)),
                        };
                        sc.piece.text.clear();
                        sc.piece.text.push_str(&sc.norm.text[a..b]);
                        sc.piece.align.clear();
                        sc.piece.align.extend_from_slice(&sc.norm.align[a..b]);
                        match id {
                            Some(id) => sc.pt.push_added(&sc.piece, id),
                            None => sc.pt.push_text(&sc.piece),
                        }
                    }
                }
            }
        }
        if let Some(p) = &self.pre_tokenizer {
            p.apply(&mut sc.pt)?;
        }
        Ok(())
    }

    /// One sequence, no special tokens (type id = `seq`), offsets in characters.
    fn encode_seq(&self, text: &str, seq: u32, sc: &mut Scratch) -> Result<Encoding> {
        let mut enc = Encoding::default();
        self.encode_seq_into(text, seq, sc, &mut enc)?;
        Ok(enc)
    }

    /// [`Self::encode_seq`] into `enc` (cleared first).
    fn encode_seq_into(&self, text: &str, seq: u32, sc: &mut Scratch, enc: &mut Encoding) -> Result<()> {
        self.pre_tokenize(text, sc)?;
        enc.clear();
        let ascii = text.is_ascii();
        if !ascii {
            sc.char_of.clear();
            for (i, c) in text.chars().enumerate() {
                sc.char_of.extend(std::iter::repeat_n(i as u32, c.len_utf8()));
            }
        }
        let char_of = &sc.char_of;
        // HF's byte -> char conversion: unchanged when the start is past the text.
        let convert = |(s, e): (u32, u32)| -> (usize, usize) {
            let (s, e) = (s as usize, e as usize);
            if ascii || s >= char_of.len() {
                return (s, e);
            }
            let end = if e == 0 { 0 } else { char_of[(e - 1).min(char_of.len() - 1)] as usize + 1 };
            (char_of[s] as usize, end)
        };
        for (w, sp) in sc.pt.splits.iter().enumerate() {
            let mut push = |id: u32, span: (u32, u32)| {
                enc.ids.push(id);
                enc.type_ids.push(seq);
                enc.offsets.push(convert(span));
                enc.special_tokens_mask.push(0);
                enc.attention_mask.push(1);
                enc.word_ids.push(Some(w as u32));
                enc.sequence_ids.push(Some(seq));
            };
            if let Some(id) = sp.added {
                push(id, sc.pt.norm.original(sp.start, sp.end));
                continue;
            }
            sc.toks.clear();
            self.model.tokenize(&sc.pt.norm.text[sp.start..sp.end], &mut sc.toks)?;
            for &(id, a, b) in &sc.toks {
                let (a, b) = ((sp.start + a as usize).min(sp.end), (sp.start + b as usize).min(sp.end));
                push(id, sc.pt.norm.original(a, b));
            }
        }
        Ok(())
    }

    fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> Result<T>) -> Result<T> {
        SCRATCH.with(|sc| match sc.try_borrow_mut() {
            Ok(mut sc) => f(&mut sc),
            Err(_) => f(&mut Scratch::default()),
        })
    }

    /// Truncation (less the post-processor's special tokens), the post-processor, padding.
    fn post_process_with(
        &self,
        ab: (Encoding, Option<Encoding>),
        add_special_tokens: bool,
        truncation: Option<&TruncationParams>,
        padding: Option<&PaddingParams>,
    ) -> Result<Encoding> {
        let p = &self.processor;
        let process = |a, b| p.process(a, b, add_special_tokens, &self.id_to_token);
        crate::postprocess::post_process(ab, add_special_tokens, |pair| p.added_tokens(pair), truncation, padding, process)
    }

    /// HF `Tokenizer.post_process`: stored truncation, the post-processor, stored padding, on
    /// encodings made without special tokens.
    pub fn post_process(&self, a: Encoding, b: Option<Encoding>, add_special_tokens: bool) -> Result<Encoding> {
        let s = self.settings.snapshot();
        self.post_process_with((a, b), add_special_tokens, s.truncation.as_ref(), s.padding.as_ref())
    }

    /// HF `encode(words, pair_words, is_pretokenized=True)`: each word runs the pipeline on its
    /// own (word ids = word index, offsets relative to each word), then [`Self::post_process`].
    pub fn encode_pretokenized(&self, a: &[&str], b: Option<&[&str]>, add_special_tokens: bool) -> Result<Encoding> {
        let words = |ws: &[&str], seq: u32| {
            Self::with_scratch(|sc| Encoding::from_words(ws, |w| self.encode_seq(w, seq, sc)))
        };
        let ea = words(a, 0)?;
        let eb = b.map(|b| words(b, 1)).transpose()?;
        self.post_process(ea, eb, add_special_tokens)
    }

    fn encode_truncated(
        &self,
        a: &str,
        b: Option<&str>,
        add_special_tokens: bool,
        truncation: Option<&TruncationParams>,
        padding: Option<&PaddingParams>,
    ) -> Result<Encoding> {
        let mut enc = Self::with_seq_buffers(|sc, ea, eb| {
            let eb = self.encode_truncated_seqs(a, b, add_special_tokens, truncation, sc, ea, eb)?;
            Ok(self.processor.process_ref(ea, eb, add_special_tokens, &self.id_to_token))
        })?;
        if let Some(p) = padding {
            pad_encodings(std::slice::from_mut(&mut enc), p);
        }
        Ok(enc)
    }

    /// Both sequences of an input into `ea` / `eb`, truncated; `eb` back when there is a pair.
    #[allow(clippy::too_many_arguments)]
    fn encode_truncated_seqs<'e>(
        &self,
        a: &str,
        b: Option<&str>,
        add_special_tokens: bool,
        truncation: Option<&TruncationParams>,
        sc: &mut Scratch,
        ea: &mut Encoding,
        eb: &'e mut Encoding,
    ) -> Result<Option<&'e mut Encoding>> {
        self.encode_seq_into(a, 0, sc, ea)?;
        if let Some(b) = b {
            self.encode_seq_into(b, 1, sc, eb)?;
        }
        let mut eb = b.map(|_| eb);
        if let Some(t) = truncation {
            let t = crate::postprocess::special_budget(t, eb.is_some(), add_special_tokens, |p| {
                self.num_special_tokens_to_add(p)
            })?;
            truncate_encodings(ea, eb.as_deref_mut(), &t)?;
        }
        Ok(eb)
    }

    /// The scratch encodings of this thread, for `f`.
    fn with_seq_buffers<T>(f: impl FnOnce(&mut Scratch, &mut Encoding, &mut Encoding) -> Result<T>) -> Result<T> {
        Self::with_scratch(|sc| {
            let (mut ea, mut eb) = (std::mem::take(&mut sc.enc_a), std::mem::take(&mut sc.enc_b));
            let r = f(sc, &mut ea, &mut eb);
            (sc.enc_a, sc.enc_b) = (ea, eb);
            r
        })
    }

    /// [`Self::encode_batch`] into the compact layout the bindings hold (one allocation per
    /// input, written straight from this thread's reused buffers).
    pub fn encode_batch_compact(
        &self,
        inputs: &[(&str, Option<&str>)],
        add_special_tokens: bool,
    ) -> Result<Vec<CompactEncoding>> {
        let s = self.settings.snapshot();
        let mut encs = inputs
            .par_iter()
            .with_min_len(16)
            .map(|(a, b)| {
                Self::with_seq_buffers(|sc, ea, eb| {
                    let eb = self.encode_truncated_seqs(a, *b, add_special_tokens, s.truncation.as_ref(), sc, ea, eb)?;
                    Ok(self.processor.process_compact(ea, eb, add_special_tokens, &self.id_to_token))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(p) = &s.padding {
            pad_compact(&mut encs, p);
        }
        Ok(encs)
    }

    /// HF `Tokenizer.encode`: stored truncation and padding apply.
    pub fn encode(&self, a: &str, b: Option<&str>, add_special_tokens: bool) -> Result<Encoding> {
        let s = self.settings.snapshot();
        self.encode_truncated(a, b, add_special_tokens, s.truncation.as_ref(), s.padding.as_ref())
    }

    /// [`Self::encode`] as the compact records Python `Encoding`s hold.
    pub fn encode_compact(&self, a: &str, b: Option<&str>, add_special_tokens: bool) -> Result<crate::encoding::CompactEncoding> {
        self.encode(a, b, add_special_tokens).map(crate::encoding::CompactEncoding::from)
    }

    /// HF `encode_batch`, in parallel; stored padding applies to the whole batch.
    pub fn encode_batch(&self, inputs: &[(&str, Option<&str>)], add_special_tokens: bool) -> Result<Vec<Encoding>> {
        let s = self.settings.snapshot();
        let mut encs = inputs
            .par_iter()
            .with_min_len(16)
            .map(|(a, b)| self.encode_truncated(a, *b, add_special_tokens, s.truncation.as_ref(), None))
            .collect::<Result<Vec<_>>>()?;
        if let Some(p) = &s.padding {
            pad_encodings(&mut encs, p);
        }
        Ok(encs)
    }

    /// Model-input arrays for a batch with explicit truncation and padding (`Tokenizer.__call__`).
    pub fn build_inputs(
        &self,
        inputs: &[(&str, Option<&str>)],
        add_special_tokens: bool,
        truncation: Option<TruncationParams>,
        padding: Option<&PaddingParams>,
        opt: crate::inputs::InputOptions,
    ) -> Result<crate::inputs::BatchArrays> {
        crate::inputs::from_encodings(inputs, padding, opt, |a, b| {
            self.encode_truncated(a, b, add_special_tokens, truncation.as_ref(), None)
        })
    }

    /// Flat ids of many texts plus their lengths (stored truncation applies without overflow
    /// windows when `truncate` is set; padding never does).
    pub fn encode_batch_flat(&self, texts: &[&str], add_special_tokens: bool, truncate: bool) -> Result<(Vec<u32>, Vec<i64>)> {
        let trunc = match (&self.settings.truncation(), truncate) {
            (Some(t), true) => {
                Some(crate::postprocess::special_budget(t, false, add_special_tokens, |p| self.num_special_tokens_to_add(p))?)
            }
            _ => None,
        };
        let parts = texts
            .par_chunks(64)
            .map(|group| {
                let mut ids = Vec::new();
                let mut lens = Vec::with_capacity(group.len());
                for t in group {
                    let mut e = Self::with_scratch(|sc| self.encode_seq(t, 0, sc))?;
                    if let Some(tr) = &trunc {
                        truncate_ids(&mut e.ids, 0, tr);
                        let n = e.ids.len();
                        for v in [&mut e.type_ids, &mut e.special_tokens_mask, &mut e.attention_mask] {
                            v.truncate(n);
                        }
                        e.offsets.truncate(n);
                        e.word_ids.truncate(n);
                        e.sequence_ids.truncate(n);
                    }
                    let e = self.processor.process(e, None, add_special_tokens, &self.id_to_token);
                    lens.push(e.ids.len() as i64);
                    ids.extend_from_slice(&e.ids);
                }
                Ok((ids, lens))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::encoding::join_flat(parts))
    }

    // ------------------------------------------------------------------ decoding

    /// HF `decode`: ids to token strings (special added tokens skipped if asked), then the
    /// decoder chain, or the tokens joined by spaces without a decoder.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        let mut tokens = Vec::with_capacity(ids.len());
        for &id in ids {
            let t = self.id_to_token(id).ok_or_else(|| {
                Error::OutOfRange(format!("token id {id} is not in the vocabulary"))
            })?;
            if skip_special_tokens && self.is_special_id(id) {
                continue;
            }
            tokens.push(t.to_string());
        }
        match &self.decoder {
            Some(d) => d.decode(tokens),
            None => Ok(tokens.join(" ")),
        }
    }

    /// The raw bytes of byte-level tokens (for `decode_bytes`).
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for &id in ids {
            let t = self.id_to_token(id).ok_or_else(|| Error::OutOfRange(format!("token id {id} is not in the vocabulary")))?;
            out.extend(string_to_bytes(t));
        }
        Ok(out)
    }
}

/// A tokenizer loaded from a `tokenizer.json`: a hand-fused specialization when the file
/// matches one exactly, else the general pipeline.
#[allow(clippy::large_enum_variant)]
pub enum Loaded {
    WordPiece(crate::WordPieceTokenizer),
    Bpe(crate::bpe_tokenizer::BpeTokenizer),
    Pipeline(Pipeline),
}

/// Load a parsed `tokenizer.json`: BERT WordPiece and plain byte-level BPE files get their
/// fused fast paths; everything else the general pipeline.
pub fn load(root: &Value, label: &str) -> Result<Loaded> {
    let kind = hf_json::model_type(root, label)?;
    let special = match kind.as_str() {
        "WordPiece" if is_bert_pipeline(root) => hf_json::wordpiece_from_json(root, label).map(Loaded::WordPiece).ok(),
        "BPE" if root.get("normalizer").is_none_or(Value::is_null) => {
            crate::bpe_tokenizer::BpeTokenizer::from_hf_json(root, label).map(Loaded::Bpe).ok()
        }
        _ => None,
    };
    match special {
        Some(t) => Ok(t),
        None => Pipeline::from_json(root, label).map(Loaded::Pipeline),
    }
}

/// Whether a WordPiece file is exactly the fused BERT pipeline (BertNormalizer or none,
/// BertPreTokenizer, WordPiece decoder).
fn is_bert_pipeline(root: &Value) -> bool {
    let ty = |k: &str| root.get(k).and_then(|v| v.get("type")).and_then(Value::as_str);
    matches!(ty("normalizer"), None | Some("BertNormalizer"))
        && ty("pre_tokenizer") == Some("BertPreTokenizer")
        && matches!(ty("decoder"), Some("WordPiece"))
}
