//! The byte-level BPE tokenizer: special/added tokens, pre-tokenizer ([`Splitter`]) and
//! [`BpeModel`], loaded from `.tiktoken` files, GPT-2 `vocab.json` + `merges.txt`, or an HF
//! `tokenizer.json`, and saved as an HF `tokenizer.json`.
//!
//! Special tokens follow tiktoken: a special token found in user text raises an error unless
//! the caller allows it (`allowed_special`) or explicitly stops disallowing it
//! (`disallowed_special`), in which case it is encoded as plain text. Non-special HF added tokens
//! are always split out, as in HF tokenizers.
use crate::added_vocab::match_span;
use crate::cancel::{Cancel, CHECK_BYTES};
use crate::encoding::{CompactEncoding, Encoding, TokenSink};
use crate::error::{Error, Result};
use crate::models::bpe::BpeModel;
use crate::postprocess::{
    pad_encodings, truncate_encodings, Direction, PaddingParams, SettingsCell, Template,
    TruncationParams,
};
use crate::pretokenize::bytelevel::{bytes_to_string, string_to_bytes};
use crate::pretokenize::regex::Splitter;
use rayon::prelude::*;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

/// An added token (tiktoken special token, or an HF `added_tokens` entry).
#[derive(Debug, Clone)]
pub struct AddedToken {
    pub content: String,
    pub id: u32,
    /// `true`: subject to allowed/disallowed checks and skipped by `decode(skip_special_tokens)`.
    pub special: bool,
    /// HF matching flags: absorb the whitespace before / after a match; only match a token not
    /// glued to a word character. All `false` for tiktoken special tokens.
    pub lstrip: bool,
    pub rstrip: bool,
    pub single_word: bool,
    /// The HF entry as loaded, re-emitted by [`BpeTokenizer::to_hf_json`].
    pub hf: Option<Value>,
}

/// A choice of special tokens: all of them, or the named ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecialSet {
    All,
    Named(Vec<String>),
}

impl SpecialSet {
    pub fn none() -> Self {
        SpecialSet::Named(Vec::new())
    }
}

/// Which added tokens are split out of the text (`active`) and which raise (`disallowed`).
#[derive(Debug, Clone)]
pub struct SpecialPolicy {
    active: Vec<bool>,
    disallowed: Vec<bool>,
    any: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Tiktoken,
    Hf,
}

#[derive(Debug, Clone)]
pub struct BpeTokenizer {
    pub model: BpeModel,
    pub splitter: Splitter,
    /// HF ByteLevel `add_prefix_space`.
    pub add_prefix_space: bool,
    /// The pre-tokenizer was HF ByteLevel with `use_regex` (GPT-2 pattern).
    byte_level_regex: bool,
    added: Vec<AddedToken>,
    /// (id, index into `added`) sorted by id, one entry per id: the token listed last when
    /// several names share an id (decode is O(log n) per id even with a thousand specials).
    added_ids: Vec<(u32, u32)>,
    first_bytes: Vec<u8>,
    id_to_token: Arc<Vec<String>>,
    default_policy: SpecialPolicy,
    origin: Origin,
    post_processor: Value,
    /// HF ByteLevel post-processor `trim_offsets` (and its `add_prefix_space`).
    trim_offsets: bool,
    trim_prefix_space: bool,
    /// Stored truncation and padding (HF semantics; BPE adds no special tokens, so the whole
    /// `max_length` is the budget).
    /// Stored truncation and padding (changeable through `&self`; see [`SettingsCell`]).
    pub settings: SettingsCell,
}

enum Seg {
    /// Plain text at bytes `.0..1`.
    Text(usize, usize),
    /// Added token (id, start byte, end byte, its `special` flag).
    Added(u32, usize, usize, bool),
}

/// Receives the output of one encoding pass.
trait Sink {
    /// A pre-tokenized piece. `pos` maps piece byte positions to original byte positions:
    /// original = `base + p.saturating_sub(shift)` where `p` is the position in the split string.
    fn piece(&mut self, m: &BpeModel, piece: &[u8], p: usize, base: usize, shift: usize);
    /// An added token matched in the text; `special` is its HF/tiktoken `special` flag.
    fn added(&mut self, id: u32, start: usize, end: usize, special: bool);
    /// `true` once the sink needs no more tokens (the rest of the text is skipped).
    #[inline(always)]
    fn full(&self) -> bool {
        false
    }
}

struct Ids<'a>(&'a mut Vec<u32>);
impl Sink for Ids<'_> {
    #[inline]
    fn piece(&mut self, m: &BpeModel, piece: &[u8], _: usize, _: usize, _: usize) {
        m.encode_piece(piece, self.0);
    }
    fn added(&mut self, id: u32, _: usize, _: usize, _: bool) {
        self.0.push(id);
    }
}

/// Ids `skip..end` of the text (the kept part under truncation); full at `end`.
struct IdWindow<'a> {
    out: &'a mut Vec<u32>,
    n: usize,
    skip: usize,
    end: usize,
    tmp: Vec<u32>,
}
impl IdWindow<'_> {
    #[inline]
    fn take(&mut self, id: u32) {
        if self.n >= self.skip && self.n < self.end {
            self.out.push(id);
        }
        self.n += 1;
    }
}
impl Sink for IdWindow<'_> {
    #[inline]
    fn piece(&mut self, m: &BpeModel, piece: &[u8], _: usize, _: usize, _: usize) {
        let mut tmp = std::mem::take(&mut self.tmp);
        tmp.clear();
        m.encode_piece(piece, &mut tmp);
        for &id in &tmp {
            self.take(id);
        }
        self.tmp = tmp;
    }
    fn added(&mut self, id: u32, _: usize, _: usize, _: bool) {
        self.take(id);
    }
    fn full(&self) -> bool {
        self.n >= self.end
    }
}

struct Count {
    n: usize,
    scratch: Vec<u32>,
}
impl Sink for Count {
    #[inline]
    fn piece(&mut self, m: &BpeModel, piece: &[u8], _: usize, _: usize, _: usize) {
        self.n += m.count_piece(piece, &mut self.scratch);
    }
    fn added(&mut self, _: u32, _: usize, _: usize, _: bool) {
        self.n += 1;
    }
}

/// Builds a full encoding (an [`Encoding`] or compact records) with character offsets.
struct Full<'t, O: TokenSink> {
    text: &'t str,
    /// HF ByteLevel `trim_offsets` as tokens are pushed: (its `add_prefix_space`, id -> token).
    trim: Option<(bool, &'t [String])>,
    /// tiktoken origin: special tokens get `special_tokens_mask` 1 and no word id (HF origin:
    /// as in HF, every added token is a word of its own with mask 0).
    mark_specials: bool,
    enc: O,
    /// Tokens `enc` held before this sequence (its first token is trimmed as a first token).
    before: usize,
    tmp: Vec<u32>,
    word: u32,
    seq: u32,
    /// cursor for byte -> char index conversion: chars starting in [0, cur_b)
    cur_b: usize,
    cur_c: usize,
}

impl<O: TokenSink> Full<'_, O> {
    /// Number of characters starting before byte `b` (monotone calls only).
    fn chars_before(&mut self, b: usize) -> usize {
        let b = b.min(self.text.len());
        if b < self.cur_b {
            // not monotone (cannot happen in order), recount
            self.cur_b = 0;
            self.cur_c = 0;
        }
        self.cur_c += self.text.as_bytes()[self.cur_b..b]
            .iter()
            .filter(|&&x| (x as i8) >= -0x40)
            .count();
        self.cur_b = b;
        self.cur_c
    }

    /// One token at original bytes `start_b..end_b`; `tok` is its text as HF's `trim_offsets`
    /// sees it.
    fn push(&mut self, id: u32, start_b: usize, end_b: usize, tok: &str, word: Option<u32>) {
        let start = if end_b > start_b {
            self.chars_before(start_b + 1).saturating_sub(1)
        } else {
            self.chars_before(start_b)
        };
        let end = self.chars_before(end_b).max(start);
        let mut off = (start, end);
        if let Some((prefix_space, _)) = self.trim {
            trim_offsets(tok, self.enc.len() == self.before, prefix_space, &mut off);
        }
        let seq = self.seq;
        self.enc.push_token(id, seq, off, word.is_none(), word, Some(seq));
    }
}

impl<O: TokenSink> Sink for Full<'_, O> {
    fn piece(&mut self, m: &BpeModel, piece: &[u8], p: usize, base: usize, shift: usize) {
        self.tmp.clear();
        m.encode_piece(piece, &mut self.tmp);
        let mut pos = p;
        let tmp = std::mem::take(&mut self.tmp);
        let names = self.trim.map_or(&[][..], |t| t.1);
        for &id in &tmp {
            let len = m.token_bytes(id).map_or(1, |b| b.len());
            let a = base + pos.saturating_sub(shift);
            let mut b = base + (pos + len).saturating_sub(shift);
            if b == a && pos < shift {
                // A token inside the added prefix space: HF aligns that space with the first
                // character of the text, so the token covers it.
                b = a + self.text[a..].chars().next().map_or(0, char::len_utf8);
            }
            let word = Some(self.word);
            self.push(
                id,
                a,
                b,
                names.get(id as usize).map_or("", String::as_str),
                word,
            );
            pos += len;
        }
        self.tmp = tmp;
        self.word += 1;
    }
    /// The token's text is what it matched, including whitespace `lstrip`/`rstrip` absorbed.
    fn added(&mut self, id: u32, start: usize, end: usize, special: bool) {
        let text = self.text;
        if special && self.mark_specials {
            self.push(id, start, end, &text[start..end], None);
        } else {
            self.push(id, start, end, &text[start..end], Some(self.word));
            self.word += 1;
        }
    }
}

/// HF ByteLevel post-processor with `trim_offsets`: offsets leave out the spaces (or 'Ġ') a
/// token's text starts or ends with, except one leading space of the first token when a prefix
/// space was added.
pub(crate) fn trim_offsets(tok: &str, first: bool, prefix_space: bool, off: &mut (usize, usize)) {
    trim_by(space_runs(tok), first, prefix_space, off)
}

/// The leading and trailing whitespace characters of a byte-level token (`Ġ` included).
pub(crate) fn space_runs(tok: &str) -> (usize, usize) {
    let is_space = |c: &char| *c == '\u{120}' || c.is_whitespace();
    (tok.chars().take_while(is_space).count(), tok.chars().rev().take_while(is_space).count())
}

/// [`trim_offsets`] for a token with `(lead, trail)` whitespace characters.
pub(crate) fn trim_by((mut lead, trail): (usize, usize), first: bool, prefix_space: bool, off: &mut (usize, usize)) {
    if lead > 0 {
        if (first || off.0 == 0) && prefix_space && lead == 1 {
            lead = 0;
        }
        off.0 = (off.0 + lead).min(off.1);
    }
    if trail > 0 && off.1 >= trail {
        off.1 = (off.1 - trail).max(off.0);
    }
}

fn special_err(tok: &str) -> Error {
    Error::invalid(format!(
        "Encountered text corresponding to disallowed special token {tok:?}.\n\
         If you want this text to be encoded as a special token, pass it to `allowed_special`, \
         e.g. `allowed_special={{{tok:?}, ...}}`.\n\
         If you want this text to be encoded as normal text, disable the check for this token \
         by passing `disallowed_special=(enc.special_tokens_set - {{{tok:?}}})`.\n\
         To disable this check for all special tokens, pass `disallowed_special=()`."
    ))
}

impl BpeTokenizer {
    fn assemble(
        model: BpeModel,
        splitter: Splitter,
        added: Vec<AddedToken>,
        origin: Origin,
        add_prefix_space: bool,
        byte_level_regex: bool,
        post_processor: Value,
    ) -> Result<Self> {
        let mut cap = model.id_capacity();
        for a in &added {
            cap = cap.max(a.id as usize + 1);
        }
        let mut table = vec![String::new(); cap];
        for (bytes, id) in model.tokens() {
            table[id as usize] = bytes_to_string(bytes);
        }
        for a in &added {
            table[a.id as usize] = a.content.clone();
        }
        let mut added_ids: Vec<(u32, u32)> = Vec::with_capacity(added.len());
        for (i, a) in added.iter().enumerate() {
            added_ids.push((a.id, i as u32));
        }
        // stable sort, then keep the last of each run of equal ids
        added_ids.sort_by_key(|&(id, _)| id);
        added_ids.reverse();
        added_ids.dedup_by_key(|&mut (id, _)| id);
        added_ids.reverse();
        let mut first_bytes: Vec<u8> = added
            .iter()
            .filter_map(|a| a.content.as_bytes().first().copied())
            .collect();
        first_bytes.sort_unstable();
        first_bytes.dedup();
        let mut t = BpeTokenizer {
            model,
            splitter,
            add_prefix_space,
            byte_level_regex,
            added,
            added_ids,
            first_bytes,
            id_to_token: Arc::new(table),
            default_policy: SpecialPolicy {
                active: vec![],
                disallowed: vec![],
                any: false,
            },
            origin,
            trim_offsets: post_processor
                .get("trim_offsets")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                && post_processor.get("type").and_then(Value::as_str) == Some("ByteLevel"),
            trim_prefix_space: post_processor
                .get("add_prefix_space")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            post_processor,
            settings: SettingsCell::default(),
        };
        t.default_policy = t.policy(&SpecialSet::none(), &SpecialSet::All)?;
        Ok(t)
    }

    /// From tiktoken ranks, a pattern (preset name or regex) and special tokens.
    pub fn from_ranks(
        ranks: Vec<(Vec<u8>, u32)>,
        pattern: &str,
        specials: Vec<(String, u32)>,
        label: &str,
    ) -> Result<Self> {
        let bound = crate::io::check::IdBound::for_entries(ranks.len() + specials.len());
        let model = BpeModel::from_ranks(ranks).map_err(|m| Error::malformed(label, m))?;
        let splitter = Splitter::from_pattern(pattern, false)?;
        let mut added = Vec::new();
        for (content, id) in specials {
            bound
                .check(id as u64, "special_tokens", &format!("{content:?}"))
                .map_err(|e| Error::invalid(e.to_string()))?;
            if content.is_empty() {
                return Err(Error::invalid("special tokens must not be empty"));
            }
            if model.token_bytes(id).is_some() {
                return Err(Error::invalid(format!(
                    "special token {content:?}: id {id} is already a regular token"
                )));
            }
            // Two names may share an id: tiktoken's o200k_harmony gives `<|endofprompt|>` and
            // `<|reserved_200018|>` both 200018. Both encode to it; decoding gives the name listed
            // last (tiktoken's own choice depends on hash order).
            if added.iter().any(|a: &AddedToken| a.content == content) {
                return Err(Error::invalid(format!(
                    "special token {content:?} is listed twice"
                )));
            }
            added.push(AddedToken {
                content,
                id,
                special: true,
                lstrip: false,
                rstrip: false,
                single_word: false,
                hf: None,
            });
        }
        Self::assemble(
            model,
            splitter,
            added,
            Origin::Tiktoken,
            false,
            false,
            Value::Null,
        )
    }

    /// Read a `.tiktoken` file.
    pub fn from_tiktoken_file(
        path: &Path,
        pattern: &str,
        specials: Vec<(String, u32)>,
    ) -> Result<Self> {
        let ranks = crate::io::tiktoken::read(path)?;
        Self::from_ranks(ranks, pattern, specials, &path.display().to_string())
    }

    /// GPT-2 `vocab.json` + `merges.txt`: ByteLevel pre-tokenizer (GPT-2 regex, no prefix space),
    /// merges applied in file order, like HF `ByteLevelBPETokenizer(vocab, merges)`.
    pub fn from_gpt2_files(vocab: &Path, merges: &Path) -> Result<Self> {
        let (v, m) = crate::io::gpt2_files::read(vocab, merges)?;
        let label = format!("{} / {}", vocab.display(), merges.display());
        Self::from_gpt2_parts(v, m, &label)
    }

    /// [`Self::from_gpt2_files`] from a parsed vocabulary and merges list.
    pub fn from_gpt2_parts(
        v: crate::io::gpt2_files::Ranks,
        m: crate::io::gpt2_files::Merges,
        label: &str,
    ) -> Result<Self> {
        let model = BpeModel::from_merges(v, m, false).map_err(|e| Error::malformed(label, e))?;
        Self::assemble(
            model,
            Splitter::Gpt2,
            vec![],
            Origin::Hf,
            false,
            true,
            Value::Null,
        )
    }

    /// From a parsed HF `tokenizer.json` with a BPE model; `label` names the file in errors.
    pub fn from_hf_json(v: &Value, label: &str) -> Result<Self> {
        crate::io::check::check_tokenizer_json(v, label)?;
        let bad = |msg: String| Error::malformed(label, msg);
        let model = v
            .get("model")
            .filter(|m| m.is_object())
            .ok_or_else(|| bad("missing \"model\"".into()))?;
        if model
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t != "BPE")
        {
            return Err(bad(format!("model type {} is not BPE", model["type"])));
        }
        let vocab = model
            .get("vocab")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("model.vocab must be an object".into()))?;
        let vocab = crate::io::gpt2_files::vocab_from_object(vocab, label)?;
        let merges_v = model
            .get("merges")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("model.merges must be a list".into()))?;
        let mut merges = Vec::with_capacity(merges_v.len());
        for (k, m) in merges_v.iter().enumerate() {
            let pair = match m {
                Value::String(s) => crate::io::gpt2_files::split_merge(s),
                Value::Array(a) if a.len() == 2 => match (a[0].as_str(), a[1].as_str()) {
                    (Some(x), Some(y)) if !x.is_empty() && !y.is_empty() => {
                        Some((string_to_bytes(x), string_to_bytes(y)))
                    }
                    _ => None,
                },
                _ => None,
            };
            merges.push(pair.ok_or_else(|| {
                bad(format!(
                    "model.merges[{k}]: expected \"a b\" or [\"a\", \"b\"], got {m}"
                ))
            })?);
        }
        for (field, ok_if) in [
            ("continuing_subword_prefix", ""),
            ("end_of_word_suffix", ""),
        ] {
            if let Some(s) = model.get(field).and_then(Value::as_str) {
                if s != ok_if {
                    return Err(bad(format!(
                        "model.{field} is not supported for byte-level BPE"
                    )));
                }
            }
        }
        if model.get("byte_fallback").and_then(Value::as_bool) == Some(true) {
            return Err(bad(
                "model.byte_fallback is not supported (only byte-level BPE)".into(),
            ));
        }
        if model
            .get("dropout")
            .and_then(Value::as_f64)
            .is_some_and(|d| d > 0.0)
        {
            return Err(bad("model.dropout is not supported".into()));
        }
        let ignore_merges = model
            .get("ignore_merges")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut bpe = BpeModel::from_merges(vocab, merges, ignore_merges).map_err(bad)?;
        if let Some(unk) = model.get("unk_token").and_then(Value::as_str) {
            bpe.unk_id = bpe.token_id(&string_to_bytes(unk));
        }

        if !v.get("normalizer").is_none_or(Value::is_null) {
            return Err(bad(format!(
                "normalizer {} is not supported for BPE",
                v["normalizer"]["type"]
            )));
        }
        // pre-tokenizer: ByteLevel, or Split(regex) + ByteLevel(use_regex=false), or a Sequence of those
        let mut splitter: Option<Splitter> = None;
        let mut byte_level = false;
        let mut add_prefix_space = false;
        let mut byte_level_regex = false;
        let pre = v.get("pre_tokenizer").cloned().unwrap_or(Value::Null);
        let steps: Vec<Value> = match pre.get("type").and_then(Value::as_str) {
            Some("Sequence") => pre
                .get("pretokenizers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            Some(_) => vec![pre.clone()],
            None => vec![],
        };
        for st in &steps {
            match st.get("type").and_then(Value::as_str) {
                Some("ByteLevel") => {
                    byte_level = true;
                    add_prefix_space = st
                        .get("add_prefix_space")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    if st.get("use_regex").and_then(Value::as_bool).unwrap_or(true) {
                        if splitter.is_some() {
                            return Err(bad("pre_tokenizer: Split followed by ByteLevel(use_regex=true) is not supported".into()));
                        }
                        splitter = Some(Splitter::Gpt2);
                        byte_level_regex = true;
                    }
                }
                Some("Split") => {
                    if splitter.is_some() || byte_level {
                        return Err(bad(
                            "pre_tokenizer: only one Split before ByteLevel is supported".into(),
                        ));
                    }
                    let behavior = st.get("behavior").and_then(Value::as_str).unwrap_or("");
                    let invert = st.get("invert").and_then(Value::as_bool).unwrap_or(false);
                    if behavior != "Isolated" || invert {
                        return Err(bad(format!("pre_tokenizer Split with behavior {behavior:?} / invert={invert} is not supported")));
                    }
                    let pat = st
                        .get("pattern")
                        .ok_or_else(|| bad("Split without pattern".into()))?;
                    splitter = Some(if let Some(r) = pat.get("Regex").and_then(Value::as_str) {
                        Splitter::from_pattern(r, true).map_err(|e| bad(e.to_string()))?
                    } else if let Some(s) = pat.get("String").and_then(Value::as_str) {
                        let esc = fancy_regex::escape(s);
                        Splitter::regex(&esc, true).map_err(|e| bad(e.to_string()))?
                    } else {
                        return Err(bad(
                            "Split pattern must be {\"Regex\": ...} or {\"String\": ...}".into(),
                        ));
                    });
                }
                other => {
                    return Err(bad(format!(
                        "pre_tokenizer {other:?} is not supported for BPE"
                    )))
                }
            }
        }
        if !byte_level {
            return Err(bad(
                "only byte-level BPE is supported: the pre_tokenizer must include ByteLevel".into(),
            ));
        }
        let splitter = match splitter {
            Some(s) => s,
            None => Splitter::regex(r"(?s).+", true)?,
        };
        let post = v.get("post_processor").cloned().unwrap_or(Value::Null);
        match post.get("type").and_then(Value::as_str) {
            None | Some("ByteLevel") => {}
            Some(t) => {
                return Err(bad(format!(
                    "post_processor {t:?} is not supported for BPE yet"
                )))
            }
        }
        if let Some(d) = v
            .get("decoder")
            .and_then(|d| d.get("type"))
            .and_then(Value::as_str)
        {
            if d != "ByteLevel" {
                return Err(bad(format!("decoder {d:?} is not supported for BPE")));
            }
        }
        let mut added = Vec::new();
        if let Some(list) = v.get("added_tokens").and_then(Value::as_array) {
            for (k, a) in list.iter().enumerate() {
                let content = a
                    .get("content")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty());
                let id = a
                    .get("id")
                    .and_then(Value::as_u64)
                    .filter(|&i| i < (u32::MAX - 2) as u64);
                let (Some(content), Some(id)) = (content, id) else {
                    return Err(bad(format!(
                        "added_tokens[{k}]: needs a non-empty \"content\" and an integer \"id\""
                    )));
                };
                let flag = |name: &str| a.get(name).and_then(Value::as_bool).unwrap_or(false);
                added.push(AddedToken {
                    content: content.to_string(),
                    id: id as u32,
                    special: flag("special"),
                    lstrip: flag("lstrip"),
                    rstrip: flag("rstrip"),
                    single_word: flag("single_word"),
                    hf: Some(a.clone()),
                });
            }
        }
        let t = Self::assemble(
            bpe,
            splitter,
            added,
            Origin::Hf,
            add_prefix_space,
            byte_level_regex,
            post,
        )?;
        let cx = crate::io::hf_json::Ctx { label };
        t.settings
            .set_truncation(crate::io::hf_json::parse_truncation(&cx, v.get("truncation"))?);
        t.settings
            .set_padding(crate::io::hf_json::parse_padding(&cx, v.get("padding"))?);
        Ok(t)
    }

    /// Load an HF `tokenizer.json` file.
    pub fn from_hf_file(path: &Path) -> Result<Self> {
        let text = crate::error::read_to_string(path)?;
        Self::from_hf_str(&text, &path.display().to_string())
    }

    pub fn from_hf_str(text: &str, label: &str) -> Result<Self> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Error::malformed(label, format!("invalid JSON ({e})")))?;
        Self::from_hf_json(&v, label)
    }

    /// The HF `tokenizer.json` of this tokenizer.
    pub fn to_hf_json(&self) -> Value {
        let settings = self.settings.snapshot();
        let mut vocab = serde_json::Map::new();
        for (bytes, id) in self.model.tokens() {
            vocab.insert(bytes_to_string(bytes), json!(id));
        }
        let merges: Vec<Value> = self
            .model
            .merges()
            .iter()
            .map(|&(a, b)| json!([self.id_to_token[a as usize], self.id_to_token[b as usize]]))
            .collect();
        let added: Vec<Value> = self
            .added
            .iter()
            .map(|a| {
                a.hf.clone().unwrap_or_else(|| {
                    json!({"id": a.id, "content": a.content, "single_word": false, "lstrip": false,
                           "rstrip": false, "normalized": false, "special": a.special})
                })
            })
            .collect();
        let bl = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": self.add_prefix_space, "trim_offsets": true, "use_regex": use_regex});
        let pre = if self.byte_level_regex
            || (self.origin == Origin::Tiktoken && matches!(self.splitter, Splitter::Gpt2))
        {
            bl(true)
        } else {
            json!({"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": self.splitter.pattern()}, "behavior": "Isolated", "invert": false},
                bl(false)
            ]})
        };
        let unk = self
            .model
            .unk_id
            .map(|u| Value::String(self.id_to_token[u as usize].clone()))
            .unwrap_or(Value::Null);
        json!({
            "version": "1.0",
            "truncation": crate::io::hf_json::truncation_json(&settings.truncation),
            "padding": crate::io::hf_json::padding_json(&settings.padding),
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": pre,
            "post_processor": self.post_processor,
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
            "model": {
                "type": "BPE", "dropout": null, "unk_token": unk, "continuing_subword_prefix": null,
                "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                "ignore_merges": self.model.ignore_merges, "vocab": vocab, "merges": merges
            }
        })
    }

    pub fn to_hf_string(&self, pretty: bool) -> String {
        let v = self.to_hf_json();
        if pretty {
            serde_json::to_string_pretty(&v)
        } else {
            serde_json::to_string(&v)
        }
        .unwrap_or_default()
    }

    /// Write the HF `tokenizer.json` atomically.
    pub fn save(&self, path: &Path, pretty: bool) -> Result<()> {
        crate::error::write_atomic(path, self.to_hf_string(pretty).as_bytes())
    }

    // ------------------------------------------------------------------ special tokens

    /// tiktoken semantics: `allowed` tokens are encoded as specials; `disallowed` ones raise if
    /// present (`All` = every special token not allowed); the rest are plain text.
    pub fn policy(&self, allowed: &SpecialSet, disallowed: &SpecialSet) -> Result<SpecialPolicy> {
        let n = self.added.len();
        let pick = |set: &SpecialSet, what: &str| -> Result<Vec<bool>> {
            match set {
                SpecialSet::All => Ok(self.added.iter().map(|a| a.special).collect()),
                SpecialSet::Named(names) => {
                    let mut v = vec![false; n];
                    for name in names {
                        let k = self
                            .added
                            .iter()
                            .position(|a| a.special && &a.content == name)
                            .ok_or_else(|| {
                                Error::invalid(format!(
                                    "{what}: {name:?} is not a special token of this tokenizer"
                                ))
                            })?;
                        v[k] = true;
                    }
                    Ok(v)
                }
            }
        };
        let allowed_v = pick(allowed, "allowed_special")?;
        let mut dis = pick(disallowed, "disallowed_special")?;
        let active: Vec<bool> = self
            .added
            .iter()
            .zip(&allowed_v)
            .map(|(a, &al)| !a.special || al)
            .collect();
        for k in 0..n {
            if active[k] {
                dis[k] = false;
            }
        }
        let any = active.iter().chain(dis.iter()).any(|&b| b);
        Ok(SpecialPolicy {
            active,
            disallowed: dis,
            any,
        })
    }

    /// The default policy: nothing allowed, every special token disallowed.
    pub fn default_policy(&self) -> &SpecialPolicy {
        &self.default_policy
    }

    #[inline]
    fn next_candidate(&self, s: &[u8], from: usize) -> Option<usize> {
        let hay = s.get(from..)?;
        let f = &self.first_bytes;
        let r = match f.len() {
            0 => None,
            1 => memchr::memchr(f[0], hay),
            2 => memchr::memchr2(f[0], f[1], hay),
            3 => memchr::memchr3(f[0], f[1], f[2], hay),
            _ => hay.iter().position(|b| f.binary_search(b).is_ok()),
        };
        r.map(|k| k + from)
    }

    fn segments(&self, text: &str, pol: &SpecialPolicy, f: &mut impl FnMut(Seg)) -> Result<()> {
        let s = text.as_bytes();
        if !pol.any || self.added.is_empty() {
            if !s.is_empty() {
                f(Seg::Text(0, s.len()));
            }
            return Ok(());
        }
        let (mut last, mut p) = (0usize, 0usize);
        while let Some(q) = self.next_candidate(s, p) {
            let rest = &s[q..];
            let mut best: Option<(usize, &AddedToken)> = None;
            for (k, a) in self.added.iter().enumerate() {
                let c = a.content.as_bytes();
                if rest.starts_with(c) {
                    if pol.disallowed[k] {
                        return Err(special_err(&a.content));
                    }
                    if pol.active[k] && best.is_none_or(|(l, _)| c.len() > l) {
                        best = Some((c.len(), a));
                    }
                }
            }
            let Some((l, a)) = best else {
                p = q + 1;
                continue;
            };
            p = q + l;
            let Some((start, end)) =
                match_span(text, last, q, q + l, a.single_word, a.lstrip, a.rstrip)
            else {
                continue; // HF skips a glued `single_word` match whole
            };
            if start > last {
                f(Seg::Text(last, start));
            }
            f(Seg::Added(a.id, start, end, a.special));
            last = end;
            p = end;
        }
        if last < s.len() {
            f(Seg::Text(last, s.len()));
        }
        Ok(())
    }

    /// Feed `text` to `sink` piece by piece. Stops early (without error) when the sink is
    /// [`Sink::full`], and with `Error::Cancelled` when the call is cancelled (checked every
    /// [`CHECK_BYTES`]).
    fn run<S: Sink>(&self, text: &str, pol: &SpecialPolicy, sink: &mut S) -> Result<()> {
        let m = &self.model;
        let cancel = Cancel::current();
        let mut err = None;
        self.segments(text, pol, &mut |seg| match seg {
            _ if sink.full() || cancel.is_set() => {}
            Seg::Added(id, a, b, special) => sink.added(id, a, b, special),
            Seg::Text(a, b) => {
                let seg_text = &text[a..b];
                let mut check_at = CHECK_BYTES;
                let mut go_on = |y: usize, sink: &S| {
                    if y >= check_at {
                        check_at = y + CHECK_BYTES;
                        if cancel.is_set() {
                            return false;
                        }
                    }
                    !sink.full()
                };
                let r = if self.add_prefix_space && !seg_text.starts_with(' ') {
                    let shifted = format!(" {seg_text}");
                    let sb = shifted.as_bytes();
                    self.splitter.split_while(&shifted, &mut |x, y| {
                        sink.piece(m, &sb[x..y], x, a, 1);
                        go_on(y, sink)
                    })
                } else {
                    let sb = seg_text.as_bytes();
                    self.splitter.split_while(seg_text, &mut |x, y| {
                        sink.piece(m, &sb[x..y], x, a, 0);
                        go_on(y, sink)
                    })
                };
                if let Err(e) = r {
                    err.get_or_insert(e);
                }
            }
        })?;
        match err {
            Some(e) => Err(e),
            None => cancel.check(),
        }
    }

    // ------------------------------------------------------------------ encoding

    /// Ids of `text`, appended to `out`.
    pub fn encode_ids_into(
        &self,
        text: &str,
        pol: &SpecialPolicy,
        out: &mut Vec<u32>,
    ) -> Result<()> {
        self.run(text, pol, &mut Ids(out))
    }

    /// Ids of `text` truncated as `t` says (no overflow), appended to `out`. Only the kept ids
    /// are stored and a right cut stops encoding there; a left cut counts the tokens first.
    pub fn encode_ids_truncated(
        &self,
        text: &str,
        pol: &SpecialPolicy,
        t: &TruncationParams,
        out: &mut Vec<u32>,
    ) -> Result<()> {
        let skip = match t.direction {
            Direction::Right => 0,
            Direction::Left => self.count_tokens(text, pol)?.saturating_sub(t.max_length),
        };
        let mut w = IdWindow {
            out,
            n: 0,
            skip,
            end: skip.saturating_add(t.max_length),
            tmp: Vec::new(),
        };
        self.run(text, pol, &mut w)
    }

    pub fn encode_ids(&self, text: &str, pol: &SpecialPolicy) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(text.len() / 4 + 1);
        self.encode_ids_into(text, pol, &mut out)?;
        Ok(out)
    }

    /// Number of tokens of `text` without building the id list.
    pub fn count_tokens(&self, text: &str, pol: &SpecialPolicy) -> Result<usize> {
        let mut c = Count {
            n: 0,
            scratch: Vec::new(),
        };
        self.run(text, pol, &mut c)?;
        Ok(c.n)
    }

    /// A full [`Encoding`] (character offsets, word ids) of a text and optional pair
    /// (concatenated, the pair with type id 1; BPE adds no special tokens of its own).
    /// Stored truncation applies (with overflow windows) and, for this one encoding, padding.
    pub fn encode(&self, text: &str, pair: Option<&str>, pol: &SpecialPolicy) -> Result<Encoding> {
        let settings = self.settings.snapshot();
        let mut enc = self.encode_unpadded(text, pair, pol, settings.truncation.as_ref())?;
        if let Some(p) = &settings.padding {
            pad_encodings(std::slice::from_mut(&mut enc), p);
        }
        Ok(enc)
    }

    /// HF `Tokenizer.post_process`: stored truncation, A then B (type id 1), stored padding.
    pub fn post_process(&self, a: Encoding, b: Option<Encoding>) -> Result<Encoding> {
        let s = self.settings.snapshot();
        let plain = |a, b| Template::plain().apply(a, b, false);
        crate::postprocess::post_process((a, b), false, |_| 0, s.truncation.as_ref(), s.padding.as_ref(), plain)
    }

    /// HF `encode(words, pair_words, is_pretokenized=True)`: each word encoded as a text of its
    /// own, word ids = word index, offsets relative to each word; then [`Self::post_process`].
    pub fn encode_pretokenized(
        &self,
        a: &[&str],
        b: Option<&[&str]>,
        pol: &SpecialPolicy,
    ) -> Result<Encoding> {
        let ea = Encoding::from_words(a, |w| self.encode_one(w, 0, pol))?;
        let eb = b
            .map(|b| Encoding::from_words(b, |w| self.encode_one(w, 1, pol)))
            .transpose()?;
        self.post_process(ea, eb)
    }

    /// The bytes of one token id (special tokens: their text).
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        match self.added_by_id(id) {
            Some(a) => Some(a.content.as_bytes()),
            None => self.model.token_bytes(id),
        }
    }

    /// The id of the token whose bytes are exactly `bytes` (regular or special), as tiktoken's
    /// `encode_single_token`.
    pub fn single_token_id(&self, bytes: &[u8]) -> Option<u32> {
        if let Some(a) = self.added.iter().find(|a| a.content.as_bytes() == bytes) {
            return Some(a.id);
        }
        self.model.token_id(bytes)
    }

    fn encode_unpadded(
        &self,
        text: &str,
        pair: Option<&str>,
        pol: &SpecialPolicy,
        truncation: Option<&TruncationParams>,
    ) -> Result<Encoding> {
        let mut a = self.encode_one(text, 0, pol)?;
        let mut b = pair.map(|p| self.encode_one(p, 1, pol)).transpose()?;
        if let Some(t) = truncation {
            truncate_encodings(&mut a, b.as_mut(), t)?;
            if t.direction == crate::postprocess::Direction::Right {
                for e in std::iter::once(&mut a).chain(b.as_mut()) {
                    self.untrim_window_starts(e);
                }
            }
        }
        // BPE has no post-processor template: A, then B with its own type id 1. Those are the
        // type and sequence ids `Full` gave them, so without overflow windows B is appended in
        // place, not both copied into a new encoding.
        if a.overflowing.is_empty() && b.as_ref().is_none_or(|b| b.overflowing.is_empty()) {
            if let Some(b) = &b {
                a.merge_with(b, false);
            }
            return Ok(a);
        }
        Ok(Template::plain().apply(a, b, false))
    }

    /// HF trims offsets after truncation, so the first token of an overflow window counts as
    /// first: with a prefix space, its one leading space is kept (trimming already dropped it).
    /// (Right truncation: every overflow window starts after the text's first token.)
    fn untrim_window_starts(&self, e: &mut Encoding) {
        if !(self.trim_offsets && self.trim_prefix_space) {
            return;
        }
        for w in &mut e.overflowing {
            let (Some(&id), Some(off)) = (w.ids.first(), w.offsets.first_mut()) else {
                continue;
            };
            let tok = self.id_to_token.get(id as usize).map_or("", String::as_str);
            let is_space = |c: &char| *c == '\u{120}' || c.is_whitespace();
            if tok.chars().take_while(is_space).count() != 1 || off.0 == 0 {
                continue;
            }
            if off.0 < off.1 {
                off.0 -= 1;
            } else if tok.chars().count() == 1 {
                // A token that is one space: HF keeps its start and trims its end.
                off.0 -= 1;
                off.1 = off.0;
            }
        }
    }

    fn encode_one(&self, text: &str, seq: u32, pol: &SpecialPolicy) -> Result<Encoding> {
        self.encode_one_into(text, seq, pol, Encoding::with_capacity(text.len() / 4 + 1))
    }

    /// The tokens of `text` as sequence `seq`, appended to `out`.
    fn encode_one_into<O: TokenSink>(
        &self,
        text: &str,
        seq: u32,
        pol: &SpecialPolicy,
        out: O,
    ) -> Result<O> {
        let mut full = Full {
            text,
            trim: self
                .trim_offsets
                .then_some((self.trim_prefix_space, &self.id_to_token[..])),
            mark_specials: self.origin == Origin::Tiktoken,
            before: out.len(),
            enc: out,
            tmp: Vec::new(),
            word: 0,
            seq,
            cur_b: 0,
            cur_c: 0,
        };
        self.run(text, pol, &mut full)?;
        Ok(full.enc)
    }

    /// [`Self::encode`] as the compact records Python `Encoding`s hold, built directly (no seven
    /// vectors copied twice) unless truncation is stored; the same tokens.
    pub fn encode_compact(
        &self,
        text: &str,
        pair: Option<&str>,
        pol: &SpecialPolicy,
    ) -> Result<CompactEncoding> {
        let settings = self.settings.snapshot();
        let mut enc = self.compact_unpadded(text, pair, pol, settings.truncation.as_ref())?;
        if let Some(p) = &settings.padding {
            crate::postprocess::pad_compact(std::slice::from_mut(&mut enc), p);
        }
        Ok(enc)
    }

    /// HF `encode_batch` as compact records (see [`Self::encode_compact`]), in parallel; stored
    /// padding applies to the whole batch.
    pub fn encode_batch_compact(
        &self,
        inputs: &[(String, Option<String>)],
        pol: &SpecialPolicy,
    ) -> Result<Vec<CompactEncoding>> {
        let settings = self.settings.snapshot();
        let trunc = settings.truncation.as_ref();
        let cancel = Cancel::current();
        let mut encs = inputs
            .par_iter()
            .map(|(a, b)| cancel.enter(|| self.compact_unpadded(a, b.as_deref(), pol, trunc)))
            .collect::<Result<Vec<_>>>()?;
        if let Some(p) = &settings.padding {
            crate::postprocess::pad_compact(&mut encs, p);
        }
        Ok(encs)
    }

    fn compact_unpadded(
        &self,
        text: &str,
        pair: Option<&str>,
        pol: &SpecialPolicy,
        truncation: Option<&TruncationParams>,
    ) -> Result<CompactEncoding> {
        if truncation.is_some() {
            return self
                .encode_unpadded(text, pair, pol, truncation)
                .map(|e| CompactEncoding::from(&e));
        }
        // BPE's plain template: A (type id 0), then B (type id 1), nothing added.
        let out = CompactEncoding::with_capacity((text.len() + pair.map_or(0, str::len)) / 4 + 1);
        let mut out = self.encode_one_into(text, 0, pol, out)?;
        if let Some(p) = pair {
            out = self.encode_one_into(p, 1, pol, out)?;
        }
        Ok(out)
    }

    /// Encode many texts in parallel into one flat id buffer plus per-text lengths; the stored
    /// truncation applies when `truncate` is set.
    pub fn encode_batch_flat<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        pol: &SpecialPolicy,
        truncate: bool,
    ) -> Result<(Vec<u32>, Vec<i64>)> {
        let settings = self.settings.snapshot();
        let trunc = settings.truncation.as_ref().filter(|_| truncate);
        if texts.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let threads = rayon::current_num_threads().max(1);
        let chunk = texts.len().div_ceil(threads * 8).clamp(1, 4096);
        let cancel = Cancel::current();
        let work = |c: &[S]| -> Result<(Vec<u32>, Vec<i64>)> {
            cancel.check()?;
            let bytes: usize = c.iter().map(|t| t.as_ref().len()).sum();
            let mut ids = Vec::with_capacity(bytes / 4 + 16);
            let mut lens = Vec::with_capacity(c.len());
            for t in c {
                let before = ids.len();
                match trunc {
                    Some(tr) => self.encode_ids_truncated(t.as_ref(), pol, tr, &mut ids)?,
                    None => self.encode_ids_into(t.as_ref(), pol, &mut ids)?,
                }
                lens.push((ids.len() - before) as i64);
            }
            Ok((ids, lens))
        };
        let parts: Vec<Result<(Vec<u32>, Vec<i64>)>> = texts
            .par_chunks(chunk)
            .map(|c| cancel.enter(|| work(c)))
            .collect();
        Ok(crate::encoding::join_flat(parts.into_iter().collect::<Result<_>>()?))
    }

    /// Model-input arrays for a batch with explicit truncation and padding instead of the
    /// stored ones (`Tokenizer.__call__`, as transformers' fast tokenizers do per call).
    pub fn build_inputs(
        &self,
        inputs: &[(&str, Option<&str>)],
        pol: &SpecialPolicy,
        truncation: Option<TruncationParams>,
        padding: Option<&PaddingParams>,
        opt: crate::inputs::InputOptions,
    ) -> Result<crate::inputs::BatchArrays> {
        crate::inputs::from_encodings(inputs, padding, opt, |a, b| {
            self.encode_unpadded(a, b, pol, truncation.as_ref())
        })
    }

    // ------------------------------------------------------------------ decoding / vocabulary

    fn added_by_id(&self, id: u32) -> Option<&AddedToken> {
        let k = self.added_ids.binary_search_by_key(&id, |&(i, _)| i).ok()?;
        Some(&self.added[self.added_ids[k].1 as usize])
    }

    /// The bytes of `ids` concatenated (special tokens skipped if asked).
    pub fn decode_bytes(&self, ids: &[u32], skip_special_tokens: bool) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            if let Some(a) = self.added_by_id(id) {
                if !(skip_special_tokens && a.special) {
                    out.extend_from_slice(a.content.as_bytes());
                }
            } else if let Some(b) = self.model.token_bytes(id) {
                out.extend_from_slice(b);
            } else {
                return Err(Error::OutOfRange(format!(
                    "token id {id} is not in the vocabulary"
                )));
            }
        }
        Ok(out)
    }

    /// Decoded text; invalid UTF-8 (ids ending inside a character) becomes U+FFFD, like
    /// tiktoken's `decode(errors="replace")` and HF's ByteLevel decoder.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        let b = self.decode_bytes(ids, skip_special_tokens)?;
        Ok(match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// id -> token string (ByteLevel form for model tokens); "" for unused ids.
    pub fn id_to_token_table(&self) -> Arc<Vec<String>> {
        self.id_to_token.clone()
    }

    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        if self.added_by_id(id).is_some() || self.model.token_bytes(id).is_some() {
            self.id_to_token.get(id as usize).map(String::as_str)
        } else {
            None
        }
    }

    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        if let Some(a) = self.added.iter().find(|a| a.content == token) {
            return Some(a.id);
        }
        let id = self.model.token_id(&string_to_bytes(token))?;
        // only the canonical ByteLevel spelling names a model token
        (self.id_to_token.get(id as usize).map(String::as_str) == Some(token)).then_some(id)
    }

    /// token string -> id for every model and added token.
    pub fn vocab(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = self
            .model
            .tokens()
            .map(|(b, id)| (bytes_to_string(b), id))
            .collect();
        for a in &self.added {
            if self.model.token_bytes(a.id).is_none()
                || self.id_to_token[a.id as usize] != a.content
            {
                v.push((a.content.clone(), a.id));
            }
        }
        v
    }

    pub fn vocab_size(&self) -> usize {
        let extra = self
            .added
            .iter()
            .filter(|a| self.model.token_bytes(a.id).is_none())
            .count();
        self.model.len() + extra
    }

    pub fn added_tokens(&self) -> &[AddedToken] {
        &self.added
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> BpeTokenizer {
        // all 256 bytes, then a few tokens; ranks = ids
        let mut ranks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        for t in [
            "he", "ll", "hell", "hello", " w", " wo", "or", " wor", " world", "ld",
        ] {
            let id = ranks.len() as u32;
            ranks.push((t.as_bytes().to_vec(), id));
        }
        BpeTokenizer::from_ranks(
            ranks,
            "cl100k_base",
            vec![("<|endoftext|>".into(), 1000)],
            "toy",
        )
        .unwrap()
    }

    #[test]
    fn special_names_sharing_an_id() {
        let ranks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        let specials = vec![
            ("<|endofprompt|>".to_string(), 300),
            ("<|a|>".to_string(), 299),
            ("<|reserved_300|>".to_string(), 300),
        ];
        let t = BpeTokenizer::from_ranks(ranks.clone(), "cl100k_base", specials, "toy").unwrap();
        let all = t.policy(&SpecialSet::All, &SpecialSet::All).unwrap();
        let ids = t.encode_ids("x<|endofprompt|>y<|reserved_300|><|a|>", &all).unwrap();
        assert_eq!(ids, vec![b'x' as u32, 300, b'y' as u32, 300, 299]);
        // the name listed last decodes, in the text and in the token table
        assert_eq!(t.decode(&[300, 299], false).unwrap(), "<|reserved_300|><|a|>");
        assert_eq!(t.id_to_token(300), Some("<|reserved_300|>"));
        assert_eq!(t.token_to_id("<|endofprompt|>"), Some(300));
        // one name twice is an error
        let twice = vec![("<|a|>".to_string(), 300), ("<|a|>".to_string(), 301)];
        assert!(BpeTokenizer::from_ranks(ranks, "cl100k_base", twice, "toy").is_err());
    }

    #[test]
    fn encode_decode_and_specials() {
        let t = toy();
        let pol = t.default_policy().clone();
        let ids = t.encode_ids("hello world", &pol).unwrap();
        assert_eq!(t.decode(&ids, true).unwrap(), "hello world");
        assert_eq!(ids.len(), 2);
        assert_eq!(t.count_tokens("hello world", &pol).unwrap(), 2);
        // disallowed by default
        assert!(t.encode_ids("a<|endoftext|>b", &pol).is_err());
        // allowed: one id
        let all = t.policy(&SpecialSet::All, &SpecialSet::All).unwrap();
        let ids = t.encode_ids("a<|endoftext|>b", &all).unwrap();
        assert_eq!(ids, vec![b'a' as u32, 1000, b'b' as u32]);
        // neither: plain text
        let plain = t.policy(&SpecialSet::none(), &SpecialSet::none()).unwrap();
        let ids = t.encode_ids("<|endoftext|>", &plain).unwrap();
        assert!(ids.len() > 1 && !ids.contains(&1000));
        assert_eq!(t.decode(&ids, true).unwrap(), "<|endoftext|>");
        assert!(t
            .policy(&SpecialSet::Named(vec!["<nope>".into()]), &SpecialSet::All)
            .is_err());
        assert!(t.decode(&[5000], true).is_err());
    }

    #[test]
    fn offsets_are_char_offsets() {
        let t = toy();
        let pol = t.default_policy().clone();
        let e = t.encode("é hello", None, &pol).unwrap();
        // 'é' is two byte tokens, both covering char 0
        assert_eq!(e.offsets[0], (0, 1));
        assert_eq!(e.offsets[1], (0, 1));
        // " hello" is not a token: " " then "hello"
        assert_eq!(e.offsets[2..], [(1, 2), (2, 7)]);
        let e = t.encode("hello", Some("hello"), &pol).unwrap();
        assert_eq!(e.type_ids, vec![0, 1]);
    }

    #[test]
    fn hf_json_round_trip() {
        let t = toy();
        let v = t.to_hf_json();
        let t2 = BpeTokenizer::from_hf_json(&v, "x.json").unwrap();
        let pol = t2.policy(&SpecialSet::none(), &SpecialSet::none()).unwrap();
        for s in ["hello world", "hell or", "  x\n\n"] {
            assert_eq!(
                t.encode_ids(s, t.default_policy()).unwrap(),
                t2.encode_ids(s, &pol).unwrap()
            );
        }
        let e = BpeTokenizer::from_hf_str("{\"model\": 3}", "bad.json").unwrap_err();
        assert!(e.to_string().starts_with("bad.json"));
    }

    #[test]
    fn batch_flat() {
        let t = toy();
        let texts: Vec<String> = (0..1000).map(|i| format!("hello world {i}")).collect();
        let (ids, lens) = t
            .encode_batch_flat(&texts, t.default_policy(), true)
            .unwrap();
        assert_eq!(lens.iter().sum::<i64>() as usize, ids.len());
        let mut k = 0;
        for (s, &l) in texts.iter().zip(&lens) {
            assert_eq!(
                &ids[k..k + l as usize],
                &t.encode_ids(s, t.default_policy()).unwrap()[..]
            );
            k += l as usize;
        }
    }
}
