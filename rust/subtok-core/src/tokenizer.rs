//! The BERT WordPiece pipeline: added tokens -> BertNormalizer -> BertPreTokenizer -> WordPiece
//! -> template -> truncation/padding, as HF tokenizers runs it.
//!
//! Normalization, pre-tokenization and matching are fused into one left-to-right pass over the
//! input: ASCII bytes go through a 128-entry class table, other characters through the Unicode
//! tables; a word is matched as soon as it ends, so nothing is materialized per word but a small
//! reusable buffer. Offsets are only tracked when the caller needs them (`Encoding`), not for
//! the flat id path.
use crate::added_vocab::{AddedToken, AddedVocab, Segment};
use crate::cancel::{cancelled, Cancel, CHECK_BYTES};
use crate::encoding::{CompactEncoding, Encoding, TokenSink};
use crate::error::{Error, Result};
use crate::models::WordPiece;
use crate::normalize::bert::{
    is_control, is_whitespace, normalize_aligned, BertNormalizer, CharClass,
};
use crate::postprocess::{
    pad_encodings, PaddingParams, SettingsCell, Template,
    TruncationParams,
};
use crate::pretokenize::bert::is_bert_punc;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

const A_DROP: u8 = 0;
const A_SPACE: u8 = 1;
const A_PUNCT: u8 = 2;
const A_WORD: u8 = 3;

/// HF's WordPiece decoder settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordPieceDecoder {
    pub prefix: String,
    pub cleanup: bool,
}

#[derive(Debug, Clone)]
pub struct WordPieceTokenizer {
    pub normalizer: Option<BertNormalizer>,
    pub model: WordPiece,
    pub added: AddedVocab,
    pub template: Option<Template>,
    /// Stored truncation and padding (changeable through `&self`; see [`SettingsCell`]).
    pub settings: SettingsCell,
    pub decoder: WordPieceDecoder,
    /// id -> token for the model vocab and the added tokens (shared with Python `Encoding`s).
    id_to_token: Arc<Vec<String>>,
    special_ids: Vec<bool>,
    ascii_class: [u8; 128],
    ascii_lower: [u8; 128],
    /// What the fused pass does with each BMP code point (see [`bmp_entry`]), so that most
    /// non-ASCII characters cost one table load: the normalizer's shared [`CharTable`] with
    /// this vocabulary's ids filled in.
    bmp: Box<[u32]>,
    /// Normalized forms of `K_LETTERS` entries (shared with the [`CharTable`]).
    multi: Arc<[Vec<char>]>,
}

const K_SHIFT: u32 = 29;
const K_COMPLEX: u32 = 0;
const K_DROP: u32 = 1;
const K_SPACE: u32 = 2;
/// A word of its own (punctuation, CJK ideograph); the low bits hold its token id.
const K_ALONE: u32 = 3;
/// A letter continuing the current word; the low bits hold the normalized character.
const K_LETTER: u32 = 4;
/// Several letters (e.g. a Hangul syllable decomposed into jamo); the low bits index `multi`.
const K_LETTERS: u32 = 5;
/// In a [`CharTable`] only: a word of its own whose id depends on the vocabulary; the low bits
/// hold the normalized character.
const K_PENDING: u32 = 6;
const LOW_MASK: u32 = (1 << K_SHIFT) - 1;

/// Receives the tokens of one sequence.
trait Sink {
    const OFFSETS: bool;
    fn push(&mut self, id: u32, start: usize, end: usize, word: u32);
    /// `true` once the sink wants no more tokens; the pass then stops early.
    #[inline(always)]
    fn full(&self) -> bool {
        false
    }
}

/// Keeps only the tokens `skip..end` of a sequence (counting all it is given), and is full at
/// `end` unless `count_all`: encoding a huge text under truncation stops once the kept tokens
/// are known, so memory stays proportional to what is kept.
struct Window<S: Sink> {
    inner: S,
    n: usize,
    skip: usize,
    end: usize,
    count_all: bool,
}
impl<S: Sink> Sink for Window<S> {
    const OFFSETS: bool = S::OFFSETS;
    #[inline(always)]
    fn push(&mut self, id: u32, start: usize, end: usize, word: u32) {
        if self.n >= self.skip && self.n < self.end {
            self.inner.push(id, start, end, word);
        }
        self.n += 1;
    }
    #[inline(always)]
    fn full(&self) -> bool {
        !self.count_all && self.n >= self.end
    }
}

/// Counts tokens only.
struct CountSink(usize);
impl Sink for CountSink {
    const OFFSETS: bool = false;
    #[inline(always)]
    fn push(&mut self, _: u32, _: usize, _: usize, _: u32) {
        self.0 += 1;
    }
}

/// Maps character offsets in a piece of normalized text back to the original text.
struct AlignedSink<'a, S: Sink> {
    inner: &'a mut S,
    /// Original character index (relative to `base`) of each character of the piece.
    align: &'a [u32],
    base: usize,
}
impl<S: Sink> Sink for AlignedSink<'_, S> {
    const OFFSETS: bool = S::OFFSETS;
    #[inline(always)]
    fn full(&self) -> bool {
        self.inner.full()
    }
    #[inline]
    fn push(&mut self, id: u32, start: usize, end: usize, word: u32) {
        let (s, e) = if S::OFFSETS {
            (
                self.base + self.align[start] as usize,
                self.base + self.align[end - 1] as usize + 1,
            )
        } else {
            (start, end)
        };
        self.inner.push(id, s, e, word);
    }
}

/// Appends tokens of sequence `seq` with type id `type_id` (to an `Encoding` or records).
struct EncSink<'a, O: TokenSink = Encoding> {
    enc: &'a mut O,
    type_id: u32,
    seq: u32,
}
impl<O: TokenSink> Sink for EncSink<'_, O> {
    const OFFSETS: bool = true;
    #[inline(always)]
    fn push(&mut self, id: u32, start: usize, end: usize, word: u32) {
        let (type_id, seq) = (self.type_id, Some(self.seq));
        self.enc.push_token(id, type_id, (start, end), false, Some(word), seq);
    }
}

struct IdSink<'a>(&'a mut Vec<u32>);
impl Sink for IdSink<'_> {
    const OFFSETS: bool = false;
    #[inline(always)]
    fn push(&mut self, id: u32, _: usize, _: usize, _: u32) {
        self.0.push(id);
    }
}

/// Reusable per-thread buffers.
#[derive(Default)]
struct Scratch {
    word: Vec<u8>,
    word_chars: usize,
    /// For each byte of `word`: the original character span it came from (offsets mode only).
    map: Vec<(u32, u32)>,
    pieces: Vec<(u32, u32, u32)>,
    norm: Vec<char>,
    segments: Vec<Segment>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// The class and normalized form of one input character under `normalizer`.
fn normalized_char(normalizer: Option<&BertNormalizer>, c: char, out: &mut Vec<char>) -> CharClass {
    out.clear();
    let class = match normalizer {
        Some(n) => n.classify(c),
        None if c.is_whitespace() => CharClass::Space,
        None => CharClass::Other,
    };
    if matches!(class, CharClass::Cjk | CharClass::Other) {
        match normalizer {
            Some(n) => n.normalize_char(c, |x| out.push(x)),
            None => out.push(c),
        }
    }
    class
}

/// Table entry for `c`: `kind << K_SHIFT | payload`, or `K_COMPLEX` for the general path. A
/// character that is a word of its own (punctuation, CJK) gets `alone(x)` of its normalized
/// form `x`.
fn bmp_entry(
    normalizer: Option<&BertNormalizer>,
    c: char,
    multi: &mut Vec<Vec<char>>,
    mut alone: impl FnMut(char) -> u32,
) -> u32 {
    let mut chars = Vec::new();
    let class = normalized_char(normalizer, c, &mut chars);
    match (class, chars.as_slice()) {
        (CharClass::Drop, _) | (CharClass::Other, []) => K_DROP << K_SHIFT,
        (CharClass::Space, _) => K_SPACE << K_SHIFT,
        (_, [x]) if x.is_whitespace() => K_SPACE << K_SHIFT,
        (_, [x]) if is_bert_punc(*x) || class == CharClass::Cjk => alone(*x),
        (CharClass::Other, [x]) => (K_LETTER << K_SHIFT) | *x as u32,
        (CharClass::Other, xs) if xs.iter().all(|&x| !x.is_whitespace() && !is_bert_punc(x)) => {
            multi.push(xs.to_vec());
            (K_LETTERS << K_SHIFT) | (multi.len() as u32 - 1)
        }
        _ => K_COMPLEX,
    }
}

/// The vocabulary-independent part of the BMP table: what the normalizer makes of each code
/// point. Computing it takes 65,536 normalizations, so it is built once per process for each
/// normalizer setting and shared; a tokenizer only fills in its ids ([`CharTable::resolve`]).
struct CharTable {
    /// [`bmp_entry`] of every BMP code point, with `K_PENDING | x` for the words of their own.
    bmp: Box<[u32]>,
    multi: Arc<[Vec<char>]>,
    /// The pending code points whose normalized form `x` is another character.
    aliases: Vec<(u32, char)>,
}

static CHAR_TABLES: Mutex<Vec<(Option<BertNormalizer>, Arc<CharTable>)>> = Mutex::new(Vec::new());

/// The shared [`CharTable`] of `normalizer` (built on first use, outside the lock).
fn char_table(normalizer: Option<BertNormalizer>) -> Arc<CharTable> {
    let find = |tables: &Vec<(Option<BertNormalizer>, Arc<CharTable>)>| {
        tables.iter().find(|(n, _)| *n == normalizer).map(|(_, t)| t.clone())
    };
    if let Some(t) = find(&CHAR_TABLES.lock().unwrap_or_else(|e| e.into_inner())) {
        return t;
    }
    let table = Arc::new(CharTable::build(normalizer.as_ref()));
    let mut tables = CHAR_TABLES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = find(&tables) {
        return t;
    }
    tables.push((normalizer, table.clone()));
    table
}

impl CharTable {
    fn build(normalizer: Option<&BertNormalizer>) -> CharTable {
        let mut multi = Vec::new();
        let mut aliases = Vec::new();
        let bmp = (0u32..0x10000)
            .map(|u| {
                char::from_u32(u).map_or(K_COMPLEX, |c| {
                    bmp_entry(normalizer, c, &mut multi, |x| {
                        if x != c {
                            aliases.push((u, x));
                        }
                        (K_PENDING << K_SHIFT) | x as u32
                    })
                })
            })
            .collect();
        CharTable {
            bmp,
            multi: Arc::from(multi),
            aliases,
        }
    }

    /// This table for `model`: each pending character becomes the id `WordPiece::tokenize_word`
    /// gives it as a one-character word. That is the id of the vocabulary token equal to it
    /// (the last one when repeated), else the unknown token: no shorter token can match, since
    /// tokens are whole UTF-8 characters. So one pass over the vocabulary fills the table.
    fn resolve(&self, model: &WordPiece) -> Box<[u32]> {
        let alone = |id: u32| {
            if id <= LOW_MASK {
                (K_ALONE << K_SHIFT) | id
            } else {
                K_COMPLEX
            }
        };
        let unk = alone(model.unk_id);
        let pending = K_PENDING << K_SHIFT;
        let mut bmp: Box<[u32]> = self
            .bmp
            .iter()
            .map(|&e| if e >> K_SHIFT == K_PENDING { unk } else { e })
            .collect();
        if model.max_input_chars_per_word == 0 {
            return bmp; // every word is too long: unknown
        }
        for (id, t) in model.vocab().iter().enumerate() {
            let mut cs = t.chars();
            if let (Some(x), None) = (cs.next(), cs.next()) {
                if self.bmp.get(x as usize) == Some(&(pending | x as u32)) {
                    bmp[x as usize] = alone(id as u32);
                }
            }
        }
        for &(c, x) in &self.aliases {
            if let Some(id) = model.token_to_id(x.encode_utf8(&mut [0u8; 4])) {
                bmp[c as usize] = alone(id);
            }
        }
        bmp
    }
}

impl WordPieceTokenizer {
    pub fn new(
        normalizer: Option<BertNormalizer>,
        model: WordPiece,
        added_tokens: Vec<AddedToken>,
        template: Option<Template>,
        decoder: WordPieceDecoder,
    ) -> Result<Self> {
        let mut id_to_token = model.vocab().to_vec();
        for t in &added_tokens {
            let i = t.id as usize;
            if i >= id_to_token.len() {
                if i > id_to_token.len() + added_tokens.len() + 1_000_000 {
                    return Err(Error::invalid(format!(
                        "added token {:?} has an implausible id {}",
                        t.content, t.id
                    )));
                }
                id_to_token.resize(i + 1, String::new());
            }
            id_to_token[i] = t.content.clone();
        }
        let mut special_ids = vec![false; id_to_token.len()];
        for t in added_tokens.iter().filter(|t| t.special) {
            special_ids[t.id as usize] = true;
        }
        let normalize = |content: &str| {
            let (mut out, mut align) = (String::new(), Vec::new());
            normalize_aligned(normalizer.as_ref(), content, &mut out, &mut align);
            out
        };
        // As in HF, an added `normalized` token that is not a model token is shown (and decoded)
        // as its normalized text; `get_vocab` and `token_to_id` keep its content.
        for t in added_tokens.iter().filter(|t| t.normalized) {
            if model.vocab().get(t.id as usize).is_none_or(String::is_empty) {
                let n = normalize(&t.content);
                if !n.is_empty() {
                    id_to_token[t.id as usize] = n;
                }
            }
        }
        let added = AddedVocab::new(added_tokens, normalize)?;
        let mut ascii_class = [A_WORD; 128];
        let mut ascii_lower = [0u8; 128];
        for b in 0u8..128 {
            let c = b as char;
            let clean = normalizer.is_some_and(|n| n.clean_text);
            ascii_class[b as usize] = if clean && (b == 0 || is_control(c)) {
                A_DROP
            } else if is_whitespace(c) {
                A_SPACE
            } else if is_bert_punc(c) {
                A_PUNCT
            } else {
                A_WORD
            };
            ascii_lower[b as usize] = if normalizer.is_some_and(|n| n.lowercase) {
                b.to_ascii_lowercase()
            } else {
                b
            };
        }
        let mut tok = WordPieceTokenizer {
            normalizer,
            model,
            added,
            template,
            settings: SettingsCell::default(),
            decoder,
            id_to_token: Arc::new(id_to_token),
            special_ids,
            ascii_class,
            ascii_lower,
            bmp: Box::default(),
            multi: Arc::from(Vec::new()),
        };
        let table = char_table(normalizer);
        tok.bmp = table.resolve(&tok.model);
        tok.multi = table.multi.clone();
        Ok(tok)
    }

    /// The class and normalized form of one input character (the general path).
    fn normalized(&self, c: char, out: &mut Vec<char>) -> CharClass {
        normalized_char(self.normalizer.as_ref(), c, out)
    }

    pub fn id_to_token_table(&self) -> &[String] {
        &self.id_to_token[..]
    }
    /// [`Self::id_to_token_table`] shared, not copied.
    pub fn shared_id_to_token(&self) -> Arc<Vec<String>> {
        self.id_to_token.clone()
    }
    pub fn vocab_size(&self) -> usize {
        self.id_to_token.len()
    }
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.added
            .tokens()
            .iter()
            .find(|t| t.content == token)
            .map(|t| t.id)
            .or_else(|| self.model.token_to_id(token))
    }
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.id_to_token
            .get(id as usize)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }
    pub fn added_tokens(&self) -> &[AddedToken] {
        self.added.tokens()
    }
    pub fn get_vocab(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = self
            .id_to_token
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.is_empty())
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        // Tokens that appear twice (a repeated vocab line) map to their last id, like HF.
        v.retain(|(t, i)| self.token_to_id(t) == Some(*i));
        for t in self.added.tokens() {
            if self.id_to_token[t.id as usize] != t.content {
                v.push((t.content.clone(), t.id));
            }
        }
        v
    }

    /// Number of special tokens the template adds (0 without a template).
    pub fn num_special_tokens_to_add(&self, is_pair: bool) -> usize {
        self.template
            .as_ref()
            .map_or(0, |t| t.added_tokens(is_pair))
    }

    // ------------------------------------------------------------------ the fused pass

    #[inline(always)]
    fn flush<S: Sink>(&self, sc: &mut Scratch, base: usize, sink: &mut S, word_idx: &mut u32) {
        if sc.word.is_empty() {
            return;
        }
        sc.pieces.clear();
        self.model
            .tokenize_word(&sc.word, sc.word_chars, &mut sc.pieces);
        for &(id, bs, be) in sc.pieces.iter() {
            if S::OFFSETS {
                let s = sc.map[bs as usize].0 as usize + base;
                let e = sc.map[be as usize - 1].1 as usize + base;
                sink.push(id, s, e, *word_idx);
            } else {
                sink.push(id, 0, 0, *word_idx);
            }
        }
        *word_idx += 1;
        sc.word.clear();
        sc.map.clear();
        sc.word_chars = 0;
    }

    #[inline(always)]
    fn push_char<S: Sink>(&self, sc: &mut Scratch, c: char, cpos: u32) {
        let mut buf = [0u8; 4];
        let s = c.encode_utf8(&mut buf);
        sc.word.extend_from_slice(s.as_bytes());
        if S::OFFSETS {
            for _ in 0..s.len() {
                sc.map.push((cpos, cpos + 1));
            }
        }
        sc.word_chars += 1;
    }

    /// Normalize, pre-tokenize and match one stretch of plain text (no added tokens in it).
    /// `base` is the character offset of `text` in the whole input.
    fn encode_plain<S: Sink>(
        &self,
        text: &str,
        base: usize,
        sc: &mut Scratch,
        sink: &mut S,
        word_idx: &mut u32,
    ) {
        let bytes = text.as_bytes();
        let mut i = 0usize;
        let mut cpos: u32 = 0;
        // Cancellation and a full sink are checked between chunks of CHECK_BYTES, not per byte.
        'chunks: while i < bytes.len() {
            if i > 0 && (cancelled() || sink.full()) {
                return; // on cancellation the caller reports `Error::Cancelled`
            }
            let stop = bytes.len().min(i + CHECK_BYTES);
            while i < stop {
                let b = bytes[i];
                if b < 0x80 {
                    match self.ascii_class[b as usize] {
                        A_WORD => {
                            sc.word.push(self.ascii_lower[b as usize]);
                            if S::OFFSETS {
                                sc.map.push((cpos, cpos + 1));
                            }
                            sc.word_chars += 1;
                        }
                        A_SPACE => self.flush(sc, base, sink, word_idx),
                        A_PUNCT => {
                            self.flush(sc, base, sink, word_idx);
                            self.push_char::<S>(sc, b as char, cpos);
                            self.flush(sc, base, sink, word_idx);
                        }
                        _ => {}
                    }
                    i += 1;
                    cpos += 1;
                    continue;
                }
                let c = match text[i..].chars().next() {
                    Some(c) => c,
                    None => break 'chunks,
                };
                i += c.len_utf8();
                self.non_ascii(c, cpos, base, sc, sink, word_idx);
                cpos += 1;
            }
        }
        self.flush(sc, base, sink, word_idx);
    }

    #[inline(always)]
    fn non_ascii<S: Sink>(
        &self,
        c: char,
        cpos: u32,
        base: usize,
        sc: &mut Scratch,
        sink: &mut S,
        word_idx: &mut u32,
    ) {
        let entry = self.bmp.get(c as usize).copied().unwrap_or(K_COMPLEX);
        let payload = entry & LOW_MASK;
        match entry >> K_SHIFT {
            K_DROP => {}
            K_SPACE => self.flush(sc, base, sink, word_idx),
            K_ALONE => {
                self.flush(sc, base, sink, word_idx);
                let at = base + cpos as usize;
                sink.push(payload, at, at + 1, *word_idx);
                *word_idx += 1;
            }
            K_LETTER => {
                // Valid by construction: the payload came from a `char`.
                let x = char::from_u32(payload).unwrap_or(char::REPLACEMENT_CHARACTER);
                self.push_char::<S>(sc, x, cpos);
            }
            K_LETTERS => {
                for &x in &self.multi[payload as usize] {
                    self.push_char::<S>(sc, x, cpos);
                }
            }
            _ => self.non_ascii_general(c, cpos, base, sc, sink, word_idx),
        }
    }

    #[inline(never)]
    fn non_ascii_general<S: Sink>(
        &self,
        c: char,
        cpos: u32,
        base: usize,
        sc: &mut Scratch,
        sink: &mut S,
        word_idx: &mut u32,
    ) {
        let mut chars = std::mem::take(&mut sc.norm);
        let class = self.normalized(c, &mut chars);
        match class {
            CharClass::Drop => {}
            CharClass::Space => self.flush(sc, base, sink, word_idx),
            CharClass::Cjk | CharClass::Other => {
                if class == CharClass::Cjk {
                    self.flush(sc, base, sink, word_idx);
                }
                for &x in &chars {
                    if x.is_whitespace() {
                        self.flush(sc, base, sink, word_idx);
                    } else if is_bert_punc(x) {
                        self.flush(sc, base, sink, word_idx);
                        self.push_char::<S>(sc, x, cpos);
                        self.flush(sc, base, sink, word_idx);
                    } else {
                        self.push_char::<S>(sc, x, cpos);
                    }
                }
                if class == CharClass::Cjk {
                    self.flush(sc, base, sink, word_idx);
                }
            }
        }
        sc.norm = chars;
    }

    /// One whole input: split out added tokens, then run the fused pass on the text between.
    fn encode_text<S: Sink>(&self, text: &str, sc: &mut Scratch, sink: &mut S) {
        let mut word_idx = 0u32;
        if self.added.is_empty() {
            self.encode_plain(text, 0, sc, sink, &mut word_idx);
            return;
        }
        let mut segments = std::mem::take(&mut sc.segments);
        self.added.split(text, &mut segments);
        let normalized = self.added.has_normalized();
        let count = S::OFFSETS || normalized; // character offsets are needed
        let mut char_at = 0usize; // char offset of byte `byte_at`
        let mut byte_at = 0usize;
        for seg in &segments {
            if sink.full() {
                break;
            }
            let (s, e) = match *seg {
                Segment::Text { start, end } | Segment::Added { start, end, .. } => (start, end),
            };
            if count {
                char_at += count_chars(&text.as_bytes()[byte_at..s]);
            }
            let start_char = char_at;
            let n_chars = if count {
                count_chars(&text.as_bytes()[s..e])
            } else {
                0
            };
            match *seg {
                Segment::Text { .. } if normalized => {
                    self.encode_normalized(&text[s..e], start_char, sc, sink, &mut word_idx)
                }
                Segment::Text { .. } => {
                    self.encode_plain(&text[s..e], start_char, sc, sink, &mut word_idx)
                }
                Segment::Added { id, .. } => {
                    sink.push(id, start_char, start_char + n_chars, word_idx);
                    word_idx += 1;
                }
            }
            char_at = start_char + n_chars;
            byte_at = e;
        }
        sc.segments = segments;
    }

    /// Plain text when some added tokens are `normalized: true` (HF's order): normalize it, split
    /// out those tokens by their normalized content, and run the fused pass on the normalized
    /// text between them (BERT normalization is idempotent, so its output is unchanged), mapping
    /// offsets back to `text` through the alignment. `base` is `text`'s character offset.
    #[inline(never)]
    fn encode_normalized<S: Sink>(
        &self,
        text: &str,
        base: usize,
        sc: &mut Scratch,
        sink: &mut S,
        word_idx: &mut u32,
    ) {
        let (mut norm, mut align) = (String::new(), Vec::new());
        normalize_aligned(self.normalizer.as_ref(), text, &mut norm, &mut align);
        let mut segments = Vec::new();
        self.added.split_normalized(&norm, &mut segments);
        let (mut char_at, mut byte_at) = (0usize, 0usize);
        for seg in segments {
            let (s, e) = match seg {
                Segment::Text { start, end } | Segment::Added { start, end, .. } => (start, end),
            };
            char_at += count_chars(&norm.as_bytes()[byte_at..s]);
            let n = count_chars(&norm.as_bytes()[s..e]);
            let piece_align = &align[char_at..char_at + n];
            match seg {
                Segment::Text { .. } => {
                    let mut remap = AlignedSink {
                        inner: &mut *sink,
                        align: piece_align,
                        base,
                    };
                    self.encode_plain(&norm[s..e], 0, sc, &mut remap, word_idx);
                }
                Segment::Added { id, .. } => {
                    let (first, last) = (piece_align[0] as usize, piece_align[n - 1] as usize);
                    sink.push(id, base + first, base + last + 1, *word_idx);
                    *word_idx += 1;
                }
            }
            char_at += n;
            byte_at = e;
        }
    }

    /// Encode one sequence without special tokens, truncation or padding
    /// (type id = sequence index, as HF does before post-processing).
    pub fn encode_raw(&self, text: &str, seq: u32) -> Encoding {
        let mut enc = Encoding::with_capacity(text.len() / 4 + 4);
        self.encode_into(text, seq, seq, &mut enc);
        enc
    }

    fn encode_into(&self, text: &str, seq: u32, type_id: u32, enc: &mut Encoding) {
        self.run(text, &mut EncSink { enc, type_id, seq });
    }

    /// Run the pass over `text` into `sink` with this thread's scratch buffers.
    fn run<S: Sink>(&self, text: &str, sink: &mut S) {
        SCRATCH.with(|sc| {
            let mut sc = sc.borrow_mut();
            self.encode_text(text, &mut sc, sink);
            // An early stop (full sink, cancellation) can leave a word behind.
            sc.word.clear();
            sc.map.clear();
            sc.word_chars = 0;
        })
    }

    /// Encode `text` keeping only its tokens `skip..skip + limit`; returns how many tokens it
    /// saw (all of them when `count_all`, else at most `skip + limit`).
    #[allow(clippy::too_many_arguments)]
    fn encode_window_into(
        &self,
        text: &str,
        seq: u32,
        type_id: u32,
        skip: usize,
        limit: usize,
        count_all: bool,
        enc: &mut Encoding,
    ) -> usize {
        let mut w = Window {
            inner: EncSink { enc, type_id, seq },
            n: 0,
            skip,
            end: skip.saturating_add(limit),
            count_all,
        };
        self.run(text, &mut w);
        w.n
    }

    /// Number of tokens of `text` (no special tokens), without storing them.
    pub fn count_tokens(&self, text: &str) -> usize {
        let mut c = CountSink(0);
        self.run(text, &mut c);
        c.0
    }

    /// The tokens of `text` that truncation to `max` tokens from `direction` keeps, plus one
    /// more when there are more (so callers can tell "cut" from "fits"); memory O(`max`).
    /// Returns the encoding and the full token count when it was computed (direction left).
    fn encode_kept(
        &self,
        text: &str,
        seq: u32,
        max: usize,
        direction: crate::postprocess::Direction,
    ) -> (Encoding, Option<usize>) {
        let cap = max.saturating_add(1);
        let mut e = Encoding::with_capacity((text.len() / 4).min(cap) + 4);
        match direction {
            crate::postprocess::Direction::Right => {
                self.encode_window_into(text, seq, seq, 0, cap, false, &mut e);
                (e, None)
            }
            crate::postprocess::Direction::Left => {
                let total = self.count_tokens(text);
                let skip = total.saturating_sub(cap);
                self.encode_window_into(text, seq, seq, skip, cap, false, &mut e);
                (e, Some(total))
            }
        }
    }

    /// Truncation without overflow windows, encoding only what it keeps: each sequence is
    /// encoded up to one token past the budget, which decides every strategy the same way the
    /// full lengths do, except a `longest_first` pair whose two sequences both exceed it (the
    /// longer one gets the odd token): then their full lengths are counted. `None` when
    /// `only_first`/`only_second` would need the full other sequence (the caller then encodes
    /// everything).
    fn truncated_no_overflow(
        &self,
        a: &str,
        b: Option<&str>,
        add_special_tokens: bool,
        t: TruncationParams,
    ) -> Result<Option<Encoding>> {
        use crate::postprocess::TruncationStrategy as St;
        let Some(budget) = self.budget(Some(t), b.is_some(), add_special_tokens)? else {
            return Ok(None);
        };
        let max = budget.max_length;
        let (mut ea, full_a) = self.encode_kept(a, 0, max, t.direction);
        let mut kb = b.map(|b| self.encode_kept(b, 1, max, t.direction));
        if let Some((eb, full_b)) = kb.as_mut() {
            let (hit_a, hit_b) = (ea.len() > max, eb.len() > max);
            let other_hit = match t.strategy {
                St::LongestFirst => false,
                St::OnlyFirst => hit_b,
                St::OnlySecond => hit_a,
            };
            if other_hit {
                return Ok(None);
            }
            if t.strategy == St::LongestFirst && hit_a && hit_b {
                let la = full_a.unwrap_or_else(|| self.count_tokens(a));
                let lb = full_b.unwrap_or_else(|| b.map_or(0, |b| self.count_tokens(b)));
                // Both capped at max + 1; shorten the shorter one's copy by one token (it keeps
                // at most max / 2 + 1 <= max anyway) so that the comparison matches.
                let shorter = match la.cmp(&lb) {
                    std::cmp::Ordering::Greater => Some(&mut *eb),
                    std::cmp::Ordering::Less => Some(&mut ea),
                    std::cmp::Ordering::Equal => None,
                };
                if let Some(e) = shorter {
                    crate::postprocess::truncation::truncate_one(e, max, 0, t.direction)?;
                    e.overflowing.clear();
                }
            }
        }
        let mut enc =
            self.post_process_with(ea, kb.map(|k| k.0), add_special_tokens, Some(t), None)?;
        enc.overflowing.clear();
        Ok(Some(enc))
    }

    /// Encode and post-process in one go, writing the template's special tokens and the
    /// sequences straight into one `Encoding`. Only when truncation has to cut something does it
    /// fall back to the general path (encode, truncate with overflow windows, apply the template).
    fn encode_one(
        &self,
        a: &str,
        b: Option<&str>,
        add_special_tokens: bool,
        truncation: Option<TruncationParams>,
    ) -> Result<Encoding> {
        let mut enc = Encoding::with_capacity((a.len() + b.map_or(0, |b| b.len())) / 3 + 8);
        self.encode_one_into(a, b, add_special_tokens, truncation, true, &mut enc)?;
        Ok(enc)
    }

    /// [`Self::encode_one`] into a reused `Encoding` (cleared first).
    ///
    /// With `overflow == false` the caller needs no overflow windows: under truncation each
    /// sequence is then encoded only up to what truncation keeps (bounded memory on huge texts).
    pub fn encode_one_into(
        &self,
        a: &str,
        b: Option<&str>,
        add_special_tokens: bool,
        truncation: Option<TruncationParams>,
        overflow: bool,
        enc: &mut Encoding,
    ) -> Result<()> {
        enc.clear();
        self.fill_template(a, b, add_special_tokens, enc, |x, seq, type_id, enc| {
            match truncation {
                Some(t) if !overflow => {
                    let cap = t.max_length.saturating_add(1);
                    self.encode_window_into(x, seq, type_id, 0, cap, false, enc);
                }
                _ => self.encode_into(x, seq, type_id, enc),
            }
        });
        if let Some(t) = truncation {
            if enc.len() > t.max_length {
                if !overflow {
                    if let Some(e) = self.truncated_no_overflow(a, b, add_special_tokens, t)? {
                        *enc = e;
                        return Ok(());
                    }
                }
                let ea = self.encode_raw(a, 0);
                let eb = b.map(|b| self.encode_raw(b, 1));
                *enc = self.post_process_with(ea, eb, add_special_tokens, truncation, None)?;
            }
        }
        Ok(())
    }

    /// The template's special tokens (when `add_special_tokens`) and its sequences, in order,
    /// appended to `out`; `encode(text, seq, type_id, out)` encodes each sequence.
    fn fill_template<O: TokenSink>(
        &self,
        a: &str,
        b: Option<&str>,
        add_special_tokens: bool,
        out: &mut O,
        mut encode: impl FnMut(&str, u32, u32, &mut O),
    ) {
        use crate::postprocess::Piece;
        let template = self.template.as_ref().unwrap_or_else(|| Template::plain());
        let pieces: &[Piece] = if b.is_some() {
            &template.pair
        } else {
            &template.single
        };
        for p in pieces {
            match p {
                Piece::Special { ids, type_id, .. } => {
                    if add_special_tokens {
                        for &id in ids {
                            out.push_special(id, *type_id);
                        }
                    }
                }
                Piece::Sequence { seq, type_id } => {
                    if let Some(x) = if *seq == 0 { Some(a) } else { b } {
                        encode(x, *seq as u32, *type_id, out);
                    }
                }
            }
        }
    }

    /// [`Self::encode`] as the compact records Python `Encoding`s hold, built directly (no seven
    /// vectors packed afterwards) unless truncation is stored; the same tokens.
    pub fn encode_compact(
        &self,
        a: &str,
        b: Option<&str>,
        add_special_tokens: bool,
    ) -> Result<CompactEncoding> {
        let settings = self.settings.snapshot();
        if settings.truncation.is_some() {
            return self.encode(a, b, add_special_tokens).map(|e| CompactEncoding::from(&e));
        }
        let mut enc = CompactEncoding::with_capacity((a.len() + b.map_or(0, str::len)) / 3 + 8);
        self.fill_template(a, b, add_special_tokens, &mut enc, |x, seq, type_id, out| {
            self.run(x, &mut EncSink { enc: out, type_id, seq })
        });
        Cancel::current().check()?;
        if let Some(p) = &settings.padding {
            crate::postprocess::pad_compact(std::slice::from_mut(&mut enc), p);
        }
        Ok(enc)
    }

    /// Model-input arrays for a batch (`Tokenizer.__call__`). Without overflow windows, each
    /// thread encodes into one reused `Encoding` and appends compact rows, and the padded arrays
    /// are written once at the end; with overflow, whole encodings are kept.
    pub fn build_inputs(
        &self,
        inputs: &[(&str, Option<&str>)],
        add_special_tokens: bool,
        truncation: Option<TruncationParams>,
        padding: Option<&PaddingParams>,
        opt: crate::inputs::InputOptions,
    ) -> Result<crate::inputs::BatchArrays> {
        use crate::inputs::{assemble, to_arrays, CompactRows, ROWS_PER_CHUNK};
        if opt.return_overflowing_tokens {
            let encs = self.encode_batch_with(inputs, add_special_tokens, truncation, padding)?;
            return to_arrays(&encs, opt);
        }
        let cancel = Cancel::current();
        let parts = inputs
            .par_chunks(ROWS_PER_CHUNK)
            .map(|group| {
                cancel.enter(|| {
                    let mut rows = CompactRows::new(opt);
                    let mut enc = Encoding::default();
                    for (a, b) in group {
                        cancel.check()?;
                        self.encode_one_into(a, *b, add_special_tokens, truncation, false, &mut enc)?;
                        rows.push(&enc);
                    }
                    Ok(rows)
                })
            })
            .collect::<Result<Vec<_>>>()?;
        cancel.check()?;
        assemble(&parts, padding, opt)
    }

    /// Ids only, appended to `out` (no special tokens, no truncation).
    pub fn encode_ids_into(&self, text: &str, out: &mut Vec<u32>) {
        self.run(text, &mut IdSink(out));
    }

    /// Ids of `text` truncated as `t` says (no overflow), appended to `out`; only the kept ids
    /// are ever stored (a left cut counts the tokens first).
    pub fn encode_ids_truncated(&self, text: &str, t: &TruncationParams, out: &mut Vec<u32>) {
        let skip = match t.direction {
            crate::postprocess::Direction::Right => 0,
            crate::postprocess::Direction::Left => {
                self.count_tokens(text).saturating_sub(t.max_length)
            }
        };
        let mut w = Window {
            inner: IdSink(out),
            n: 0,
            skip,
            end: skip.saturating_add(t.max_length),
            count_all: false,
        };
        self.run(text, &mut w);
    }

    // ------------------------------------------------------------------ post-processing

    /// Truncation settings with `max_length` reduced by the special tokens the template adds.
    fn budget(
        &self,
        t: Option<TruncationParams>,
        is_pair: bool,
        add_special_tokens: bool,
    ) -> Result<Option<TruncationParams>> {
        let count = |pair| self.num_special_tokens_to_add(pair);
        t.map(|t| crate::postprocess::special_budget(&t, is_pair, add_special_tokens, count)).transpose()
    }

    /// Truncate (with overflow windows) and apply the template; padding when given.
    fn post_process_with(
        &self,
        a: Encoding,
        b: Option<Encoding>,
        add_special_tokens: bool,
        truncation: Option<TruncationParams>,
        padding: Option<&PaddingParams>,
    ) -> Result<Encoding> {
        let t = self.template.as_ref().unwrap_or_else(|| Template::plain());
        let count = |pair| t.added_tokens(pair);
        let apply = |a, b| t.apply(a, b, add_special_tokens);
        crate::postprocess::post_process((a, b), add_special_tokens, count, truncation.as_ref(), padding, apply)
    }

    /// HF `Tokenizer.post_process`: stored truncation, the template, stored padding.
    pub fn post_process(
        &self,
        a: Encoding,
        b: Option<Encoding>,
        add_special_tokens: bool,
    ) -> Result<Encoding> {
        let settings = self.settings.snapshot();
        self.post_process_with(a, b, add_special_tokens, settings.truncation, settings.padding.as_ref())
    }

    /// HF `encode(words, pair_words, is_pretokenized=True)`: each word encoded on its own (the
    /// pre-tokenizer may still split it), word ids = word index, offsets relative to each word.
    pub fn encode_pretokenized(
        &self,
        a: &[&str],
        b: Option<&[&str]>,
        add_special_tokens: bool,
    ) -> Result<Encoding> {
        let words = |ws: &[&str], seq: u32| {
            Encoding::from_words(ws, |w| Ok::<_, Error>(self.encode_raw(w, seq)))
        };
        let ea = words(a, 0)?;
        let eb = b.map(|b| words(b, 1)).transpose()?;
        self.post_process(ea, eb, add_special_tokens)
    }

    /// HF `Tokenizer.encode`: stored truncation and padding apply.
    pub fn encode(&self, a: &str, b: Option<&str>, add_special_tokens: bool) -> Result<Encoding> {
        let settings = self.settings.snapshot();
        let mut enc = self.encode_one(a, b, add_special_tokens, settings.truncation)?;
        Cancel::current().check()?;
        if let Some(p) = &settings.padding {
            pad_encodings(std::slice::from_mut(&mut enc), p);
        }
        Ok(enc)
    }

    /// Encodings of a batch with explicit truncation and padding instead of the stored ones
    /// (what transformers' `__call__` does per call), in parallel, then padded together.
    pub fn encode_batch_with(
        &self,
        inputs: &[(&str, Option<&str>)],
        add_special_tokens: bool,
        truncation: Option<TruncationParams>,
        padding: Option<&PaddingParams>,
    ) -> Result<Vec<Encoding>> {
        let cancel = Cancel::current();
        let mut encs = inputs
            .par_iter()
            .with_min_len(64)
            .map(|(a, b)| {
                cancel.check()?;
                cancel.enter(|| self.encode_one(a, *b, add_special_tokens, truncation))
            })
            .collect::<Result<Vec<_>>>()?;
        cancel.check()?;
        if let Some(p) = padding {
            pad_encodings(&mut encs, p);
        }
        Ok(encs)
    }

    /// [`Self::encode_batch`] into compact encodings: each thread encodes into one reused
    /// `Encoding` and packs it, so a text costs one allocation.
    pub fn encode_batch_compact(
        &self,
        inputs: &[(&str, Option<&str>)],
        add_special_tokens: bool,
    ) -> Result<Vec<crate::encoding::CompactEncoding>> {
        let settings = self.settings.snapshot();
        let cancel = Cancel::current();
        let mut out = inputs
            .par_iter()
            .with_min_len(64)
            .map_init(Encoding::default, |enc, (a, b)| {
                cancel.check()?;
                cancel.enter(|| {
                    let t = settings.truncation;
                    self.encode_one_into(a, *b, add_special_tokens, t, true, enc)
                })?;
                Ok(crate::encoding::CompactEncoding::from(&*enc))
            })
            .collect::<Result<Vec<_>>>()?;
        cancel.check()?;
        if let Some(p) = &settings.padding {
            crate::postprocess::pad_compact(&mut out, p);
        }
        Ok(out)
    }

    /// Flat ids of many texts plus their lengths. The stored truncation applies (without
    /// overflow windows) when `truncate` is set; padding never does.
    pub fn encode_batch_flat(
        &self,
        texts: &[&str],
        add_special_tokens: bool,
        truncate: bool,
    ) -> Result<(Vec<u32>, Vec<i64>)> {
        let trunc = if truncate {
            self.budget(self.settings.truncation(), false, add_special_tokens)?
        } else {
            None
        };
        let (cls, sep) = if add_special_tokens {
            self.single_affixes()
        } else {
            (vec![], vec![])
        };
        let chunk = (texts.len() / (rayon::current_num_threads() * 8)).clamp(16, 4096);
        let cancel = Cancel::current();
        let parts: Vec<(Vec<u32>, Vec<i64>)> = texts
            .par_chunks(chunk)
            .map(|group| {
                let bytes: usize = group.iter().map(|t| t.len()).sum();
                let mut ids = Vec::with_capacity(bytes / 3 + group.len() * 3);
                let mut lens = Vec::with_capacity(group.len());
                for t in group {
                    if cancel.is_set() {
                        break;
                    }
                    let start = ids.len();
                    ids.extend_from_slice(&cls);
                    cancel.enter(|| match &trunc {
                        Some(tr) => self.encode_ids_truncated(t, tr, &mut ids),
                        None => self.encode_ids_into(t, &mut ids),
                    });
                    ids.extend_from_slice(&sep);
                    lens.push((ids.len() - start) as i64);
                }
                (ids, lens)
            })
            .collect();
        cancel.check()?;
        Ok(crate::encoding::join_flat(parts))
    }

    /// The special ids the single-sequence template puts before and after the sequence.
    fn single_affixes(&self) -> (Vec<u32>, Vec<u32>) {
        use crate::postprocess::Piece;
        let Some(t) = &self.template else {
            return (vec![], vec![]);
        };
        let (mut pre, mut post, mut seen) = (vec![], vec![], false);
        for p in &t.single {
            match p {
                Piece::Special { ids, .. } => {
                    (if seen { &mut post } else { &mut pre }).extend_from_slice(ids)
                }
                Piece::Sequence { .. } => seen = true,
            }
        }
        (pre, post)
    }

    // ------------------------------------------------------------------ decoding

    pub fn is_special_id(&self, id: u32) -> bool {
        self.special_ids.get(id as usize).copied().unwrap_or(false)
    }

    /// HF's WordPiece decoder: `##` pieces glue to the previous token, others get a space;
    /// `cleanup` undoes tokenization spaces before punctuation and in contractions.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        let mut out = String::new();
        let mut first = true;
        for &id in ids {
            let tok = self.id_to_token(id).ok_or_else(|| {
                Error::OutOfRange(format!(
                    "token id {id} is out of range (vocab size {})",
                    self.vocab_size()
                ))
            })?;
            if skip_special_tokens && self.is_special_id(id) {
                continue;
            }
            let piece = if !first
                && !self.decoder.prefix.is_empty()
                && tok.starts_with(&self.decoder.prefix)
            {
                tok[self.decoder.prefix.len()..].to_string()
            } else if !first {
                format!(" {tok}")
            } else {
                tok.to_string()
            };
            first = false;
            if self.decoder.cleanup {
                out.push_str(&cleanup(&piece));
            } else {
                out.push_str(&piece);
            }
        }
        Ok(out)
    }
}

pub(crate) fn cleanup(s: &str) -> String {
    s.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" do not", " don't")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}

/// Number of code points in UTF-8 bytes.
#[inline]
pub fn count_chars(b: &[u8]) -> usize {
    b.iter().filter(|&&x| (x as i8) >= -0x40).count()
}

#[cfg(test)]
mod char_table_tests {
    use super::*;

    /// The table as every tokenizer built it before [`CharTable`]: each word of its own
    /// tokenized on its own.
    fn reference(normalizer: Option<&BertNormalizer>, model: &WordPiece) -> (Vec<u32>, Vec<Vec<char>>) {
        let mut multi = Vec::new();
        let bmp = (0u32..0x10000)
            .map(|u| {
                char::from_u32(u).map_or(K_COMPLEX, |c| {
                    bmp_entry(normalizer, c, &mut multi, |x| {
                        let mut piece = Vec::new();
                        model.tokenize_word(x.to_string().as_bytes(), 1, &mut piece);
                        match piece.as_slice() {
                            [(id, _, _)] if *id <= LOW_MASK => (K_ALONE << K_SHIFT) | id,
                            _ => K_COMPLEX,
                        }
                    })
                })
            })
            .collect();
        (bmp, multi)
    }

    #[test]
    fn shared_table_gives_each_vocabulary_the_ids_tokenize_word_gives() {
        // "!" twice (the later id wins), a CJK compatibility ideograph whose NFD form is in the
        // vocabulary (U+F900 -> U+8C48), a two-character token, continuation pieces.
        let vocab: Vec<String> = ["[UNK]", "!", "東", "京", "a", "!", "##!", "東京", "\u{8c48}", "", "é", "e", "。"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let plain = BertNormalizer {
            clean_text: false,
            handle_chinese_chars: false,
            strip_accents: Some(false),
            lowercase: false,
        };
        for normalizer in [None, Some(BertNormalizer::default()), Some(plain)] {
            for max_chars in [0, 1, 100] {
                let model = WordPiece::new(vocab.clone(), "[UNK]", "##", max_chars).unwrap();
                let (want, want_multi) = reference(normalizer.as_ref(), &model);
                let table = char_table(normalizer);
                assert_eq!(&*table.resolve(&model), &want[..], "{normalizer:?} {max_chars}");
                assert_eq!(&*table.multi, &want_multi[..]);
            }
        }
        let model = WordPiece::new(vocab, "[UNK]", "##", 100).unwrap();
        let resolved = char_table(Some(BertNormalizer::default())).resolve(&model);
        assert_eq!(resolved['!' as usize], (K_ALONE << K_SHIFT) | 5);
        assert_eq!(resolved[0xF900], (K_ALONE << K_SHIFT) | 8);
    }
}
