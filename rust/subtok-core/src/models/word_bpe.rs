//! HF's `BPE` model over the characters of a pre-tokenized word: the model of every BPE family
//! that is not plain byte-level (SentencePiece-style BPE with `byte_fallback`, `CharBPE` with
//! `end_of_word_suffix`, `continuing_subword_prefix`, `unk_token` / `fuse_unk`,
//! `ignore_merges`). Byte-level vocabularies work too: their "characters" are the ByteLevel
//! symbols. Merges are applied lowest rank first, leftmost first on ties (HF's queue order),
//! and results are cached per thread.
use crate::error::{Error, Result};
use crate::models::bpe::{pack, slot_of, PACK};
use crate::models::vocab::Vocab;
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One token of a word: (id, start byte, end byte) in the word.
pub type Piece = (u32, u32, u32);

#[derive(Debug, Clone)]
pub struct WordBpe {
    vocab: Vocab,
    /// Tokens of at most [`PACK`] bytes by packed key (`ignore_merges` lookups without a
    /// pointer chase).
    short_vocab: FxHashMap<u128, u32>,
    /// (left, right) -> (rank, merged id)
    merges: FxHashMap<(u32, u32), (u32, u32)>,
    /// The merges as loaded (token strings), in rank order.
    pub merge_list: Vec<(String, String)>,
    pub unk_token: Option<String>,
    /// The id of `unk_token` when the vocabulary has it.
    unk: Option<u32>,
    pub continuing_subword_prefix: Option<String>,
    pub end_of_word_suffix: Option<String>,
    pub byte_fallback: bool,
    pub fuse_unk: bool,
    pub ignore_merges: bool,
    pub dropout: Option<f64>,
    /// `<0xXX>` token ids (byte fallback).
    byte_ids: Vec<Option<u32>>,
    /// Ids of one-character symbols (see [`CharIds`]).
    char_ids: CharIds,
    /// A character no merge can join to what precedes it (see [`boundary_char`]): words are
    /// merged piecewise between its occurrences, so long words (SentencePiece-style lines)
    /// cost what their pieces cost, and the pieces hit the cache.
    boundary: Option<char>,
    uid: usize,
}

/// For each character, the ids of its symbol as a word's first-and-middle character, after
/// the continuing-subword prefix, before the end-of-word suffix, and with both
/// (`NONE` when the vocabulary lacks it): the model's initial symbols without building strings.
#[derive(Debug, Clone)]
struct CharIds {
    ascii: Box<[[u32; 4]; 128]>,
    other: FxHashMap<char, [u32; 4]>,
}

const NONE: u32 = u32::MAX;

impl CharIds {
    fn new(vocab: &FxHashMap<String, u32>, prefix: &str, suffix: &str) -> Self {
        let mut ids = CharIds { ascii: Box::new([[NONE; 4]; 128]), other: FxHashMap::default() };
        for (t, &id) in vocab {
            for k in 0..4 {
                let mut rest = t.as_str();
                if k & 1 != 0 {
                    match rest.strip_prefix(prefix) {
                        Some(r) => rest = r,
                        None => continue,
                    }
                }
                if k & 2 != 0 {
                    match rest.strip_suffix(suffix) {
                        Some(r) => rest = r,
                        None => continue,
                    }
                }
                let mut cs = rest.chars();
                if let (Some(c), None) = (cs.next(), cs.next()) {
                    ids.slot(c)[k] = id;
                }
            }
        }
        ids
    }
    fn slot(&mut self, c: char) -> &mut [u32; 4] {
        if c.is_ascii() {
            &mut self.ascii[c as usize]
        } else {
            self.other.entry(c).or_insert([NONE; 4])
        }
    }
    #[inline]
    fn get(&self, c: char, k: usize) -> u32 {
        if c.is_ascii() {
            self.ascii[c as usize][k]
        } else {
            self.other.get(&c).map_or(NONE, |v| v[k])
        }
    }
}

/// `▁` when it is a boundary no merge crosses: it is a token, no merge's right side starts
/// with it, and symbols are plain characters (no prefix/suffix decorations). Then every
/// symbol starting at a `▁` starts with `▁` and is never a merge's right side, so BPE over the
/// whole word equals BPE over the parts that start at each `▁`.
fn boundary_char(vocab: &FxHashMap<String, u32>, merges: &[(String, String)], o: &BpeOptions) -> Option<char> {
    const C: char = '\u{2581}';
    let plain = o.continuing_subword_prefix.is_none() && o.end_of_word_suffix.is_none();
    (plain && vocab.contains_key("\u{2581}") && !merges.iter().any(|(_, b)| b.starts_with(C))).then_some(C)
}

thread_local! {
    /// Results of long words (more than [`PACK`] bytes), per model.
    static CACHE: RefCell<(usize, FxHashMap<Box<str>, Box<[Piece]>>)> = RefCell::new((0, FxHashMap::default()));
    /// Results of short words: a direct-mapped table keyed by the packed word, per model.
    static SHORT: RefCell<(usize, Vec<Slot>)> = const { RefCell::new((0, Vec::new())) };
    /// The merge buffers, reused from word to word.
    static BUFS: RefCell<MergeBufs> = RefCell::new(MergeBufs::default());
}
const CACHE_MAX: usize = 200_000;
const SHORT_SLOTS: usize = 4096;
const SLOT_PIECES: usize = 6;
/// Words of at most this many symbols are merged by scanning pair ranks (no heap).
const SMALL: usize = 48;

/// One cached short word: its tokens' ids and end bytes (the tokens of a word are contiguous
/// from byte 0, so the ends give every span). `key` 0 is an empty slot.
#[derive(Clone, Copy, Default)]
struct Slot {
    key: u128,
    n: u8,
    ends: [u8; SLOT_PIECES],
    ids: [u32; SLOT_PIECES],
}

#[derive(Default)]
struct MergeBufs {
    syms: Vec<Sym>,
    heap: BinaryHeap<Reverse<(u32, u32, u32)>>,
    ranks: Vec<(u32, u32)>,
    tmp: String,
}

#[derive(Clone, Copy)]
struct Sym {
    id: u32,
    start: u32,
    len: u32,
    prev: i32,
    next: i32,
}

/// Options of [`WordBpe::new`] besides vocabulary and merges.
#[derive(Debug, Clone, Default)]
pub struct BpeOptions {
    pub unk_token: Option<String>,
    pub continuing_subword_prefix: Option<String>,
    pub end_of_word_suffix: Option<String>,
    pub byte_fallback: bool,
    pub fuse_unk: bool,
    pub ignore_merges: bool,
    pub dropout: Option<f64>,
}

impl WordBpe {
    pub fn new(vocab: Vec<(String, u32)>, merges: Vec<(String, String)>, o: BpeOptions) -> Result<Self> {
        let vocab = Vocab::new(vocab)?;
        let map = vocab.map();
        let prefix_len = o.continuing_subword_prefix.as_ref().map_or(0, String::len);
        let mut mm = FxHashMap::default();
        mm.reserve(merges.len());
        for (rank, (a, b)) in merges.iter().enumerate() {
            let get = |t: &str| {
                map.get(t).copied().ok_or_else(|| {
                    Error::invalid(format!("model.merges[{rank}]: token {t:?} is not in the vocabulary"))
                })
            };
            let (ia, ib) = (get(a)?, get(b)?);
            let new = format!("{a}{}", b.get(prefix_len..).unwrap_or(""));
            let inew = get(&new)?;
            mm.entry((ia, ib)).or_insert((rank as u32, inew));
        }
        let byte_ids = (0..=255u8).map(|b| map.get(&format!("<0x{b:02X}>")).copied()).collect();
        let char_ids = CharIds::new(
            map,
            o.continuing_subword_prefix.as_deref().unwrap_or(""),
            o.end_of_word_suffix.as_deref().unwrap_or(""),
        );
        let boundary = boundary_char(map, &merges, &o);
        let short_vocab = map.iter().filter(|(t, _)| t.len() <= PACK).map(|(t, &id)| (pack(t.as_bytes()), id)).collect();
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        let unk = o.unk_token.as_ref().and_then(|u| map.get(u).copied());
        Ok(WordBpe {
            vocab,
            short_vocab,
            merges: mm,
            merge_list: merges,
            unk,
            unk_token: o.unk_token,
            continuing_subword_prefix: o.continuing_subword_prefix,
            end_of_word_suffix: o.end_of_word_suffix,
            byte_fallback: o.byte_fallback,
            fuse_unk: o.fuse_unk,
            ignore_merges: o.ignore_merges,
            dropout: o.dropout,
            byte_ids,
            char_ids,
            boundary,
            uid: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Tokens of one word, appended to `out` as (id, start byte, end byte).
    pub fn tokenize(&self, word: &str, out: &mut Vec<Piece>) -> Result<()> {
        if word.is_empty() {
            return Ok(());
        }
        if self.ignore_merges {
            let id = if word.len() <= PACK {
                self.short_vocab.get(&pack(word.as_bytes()))
            } else {
                self.vocab.map().get(word)
            };
            if let Some(&id) = id {
                out.push((id, 0, word.len() as u32));
                return Ok(());
            }
        }
        let Some(b) = self.boundary else {
            return self.tokenize_cached(word, out);
        };
        // merge piecewise between boundaries; a dropped character takes no room, so each part
        // starts where the previous part's symbols ended
        let mut start = 0;
        let mut at = 0u32;
        let mut parts = word.match_indices(b).map(|m| m.0).chain(std::iter::once(word.len()));
        while start < word.len() {
            let end = parts.find(|&e| e > start).unwrap_or(word.len());
            let from = out.len();
            self.tokenize_cached(&word[start..end], out)?;
            for p in &mut out[from..] {
                p.1 += at;
                p.2 += at;
            }
            at = out.last().map_or(at, |p| p.2);
            start = end;
        }
        Ok(())
    }

    /// BPE over `word` (no `ignore_merges` shortcut), through the per-thread caches: short
    /// words in the direct-mapped table, the others (and short ones whose tokens do not fit
    /// a slot) in the map.
    fn tokenize_cached(&self, word: &str, out: &mut Vec<Piece>) -> Result<()> {
        let short = (word.len() <= PACK).then(|| pack(word.as_bytes()));
        if short.is_some_and(|key| self.short_get(key, out)) {
            return Ok(());
        }
        let hit = CACHE.with(|c| {
            let c = c.borrow();
            if c.0 != self.uid {
                return false;
            }
            match c.1.get(word) {
                Some(p) => {
                    out.extend_from_slice(p);
                    true
                }
                None => false,
            }
        });
        if hit {
            return Ok(());
        }
        let from = out.len();
        self.merge_word(word, out)?;
        let stored = short.is_some_and(|key| self.short_put(key, &out[from..]));
        if !stored && word.len() < 256 {
            CACHE.with(|c| {
                let mut c = c.borrow_mut();
                if c.0 != self.uid || c.1.len() >= CACHE_MAX {
                    c.1.clear();
                    c.0 = self.uid;
                }
                c.1.insert(word.into(), out[from..].into());
            });
        }
        Ok(())
    }

    /// Append the cached tokens of the short word packed as `key`, if its slot holds it.
    fn short_get(&self, key: u128, out: &mut Vec<Piece>) -> bool {
        SHORT.with(|c| {
            let c = c.borrow();
            match c.1.get(slot_of(key, SHORT_SLOTS)) {
                Some(s) if c.0 == self.uid && s.key == key => {
                    let mut start = 0;
                    for k in 0..s.n as usize {
                        let end = s.ends[k] as u32;
                        out.push((s.ids[k], start, end));
                        start = end;
                    }
                    true
                }
                _ => false,
            }
        })
    }

    /// Cache the tokens of the short word packed as `key` in its slot; `false` when they do
    /// not fit one (too many, or not contiguous from byte 0).
    fn short_put(&self, key: u128, got: &[Piece]) -> bool {
        let contiguous = got.iter().scan(0, |end, p| Some(std::mem::replace(end, p.2) == p.1)).all(|x| x);
        if got.len() > SLOT_PIECES || !contiguous {
            return false;
        }
        let mut s = Slot { key, n: got.len() as u8, ..Slot::default() };
        for (k, p) in got.iter().enumerate() {
            s.ids[k] = p.0;
            s.ends[k] = p.2 as u8;
        }
        SHORT.with(|c| {
            let mut c = c.borrow_mut();
            if c.0 != self.uid {
                c.1.clear();
                c.1.resize(SHORT_SLOTS, Slot::default());
                c.0 = self.uid;
            }
            c.1[slot_of(key, SHORT_SLOTS)] = s;
        });
        true
    }

    fn unk_id(&self) -> Result<Option<u32>> {
        if self.unk.is_some() {
            return Ok(self.unk);
        }
        match &self.unk_token {
            None => Ok(None),
            Some(u) => self.vocab.token_to_id(u).map(Some).ok_or_else(|| {
                Error::invalid(format!("unk_token {u:?} is not in the vocabulary"))
            }),
        }
    }

    fn merge_word(&self, w: &str, out: &mut Vec<Piece>) -> Result<()> {
        BUFS.with(|b| match b.try_borrow_mut() {
            Ok(mut b) => self.merge_word_with(w, out, &mut b),
            Err(_) => self.merge_word_with(w, out, &mut MergeBufs::default()),
        })
    }

    fn merge_word_with(&self, w: &str, out: &mut Vec<Piece>, bufs: &mut MergeBufs) -> Result<()> {
        let MergeBufs { syms, heap, ranks, tmp } = bufs;
        syms.clear();
        let mut at = 0u32;
        let add = |syms: &mut Vec<Sym>, id: u32, len: u32, at: &mut u32| {
            let n = syms.len() as i32;
            syms.push(Sym { id, start: *at, len, prev: n - 1, next: n + 1 });
            *at += len;
        };
        let mut unk: Option<(u32, u32)> = None;
        let mut chars = w.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let end = chars.peek().map_or(w.len(), |x| x.0);
            let (first, last) = (i == 0, end == w.len());
            let byte_len = (end - i) as u32;
            let k = usize::from(!first && self.continuing_subword_prefix.is_some())
                | (usize::from(last && self.end_of_word_suffix.is_some()) << 1);
            let id = self.char_ids.get(c, k);
            if id != NONE {
                if let Some((uid, ulen)) = unk.take() {
                    add(syms, uid, ulen, &mut at);
                }
                add(syms, id, byte_len, &mut at);
                continue;
            }
            let s: &str = if k != 0 {
                tmp.clear();
                if k & 1 != 0 {
                    tmp.push_str(self.continuing_subword_prefix.as_deref().unwrap_or(""));
                }
                tmp.push(c);
                if k & 2 != 0 {
                    tmp.push_str(self.end_of_word_suffix.as_deref().unwrap_or(""));
                }
                &*tmp
            } else {
                &w[i..end]
            };
            if self.byte_fallback {
                let ids: Option<Vec<u32>> = s.bytes().map(|b| self.byte_ids[b as usize]).collect();
                if let Some(ids) = ids {
                    // HF adds byte tokens without flushing a pending unk, one byte each.
                    for id in ids {
                        add(syms, id, 1, &mut at);
                    }
                    continue;
                }
            }
            if let Some(uid) = self.unk_id()? {
                unk = match (unk, self.fuse_unk) {
                    (Some((u, l)), true) => Some((u, l + byte_len)),
                    (Some((u, l)), false) => {
                        add(syms, u, l, &mut at);
                        Some((uid, byte_len))
                    }
                    (None, _) => Some((uid, byte_len)),
                };
            }
            // HF: a dropped character takes no room (later offsets are cumulative lengths)
        }
        if let Some((u, l)) = unk {
            add(syms, u, l, &mut at);
        }
        if let Some(last) = syms.last_mut() {
            last.next = -1;
        }
        self.merge_all(syms, (heap, ranks));
        out.extend(
            syms.iter()
                .filter(|s| s.len > 0)
                .map(|s| (s.id, s.start, s.start + s.len)),
        );
        Ok(())
    }

    /// The (rank, merged id) of the pair `a b`, rank `u32::MAX` when they do not merge.
    #[inline]
    fn pair(&self, a: u32, b: u32) -> (u32, u32) {
        self.merges.get(&(a, b)).copied().unwrap_or((u32::MAX, 0))
    }

    /// Apply the merges to `syms` (lowest rank first, leftmost on ties). Few symbols: a scan
    /// of the pair ranks (merged symbols are removed); many: a heap over a linked list.
    fn merge_all(&self, syms: &mut Vec<Sym>, bufs: (&mut BinaryHeap<Reverse<(u32, u32, u32)>>, &mut Vec<(u32, u32)>)) {
        if syms.len() < 2 {
            return;
        }
        if syms.len() > SMALL {
            return self.merge_heap(syms, bufs.0);
        }
        let ranks = bufs.1;
        ranks.clear();
        ranks.extend(syms.windows(2).map(|w| self.pair(w[0].id, w[1].id)));
        loop {
            let mut best = (u32::MAX, 0);
            for (i, r) in ranks.iter().enumerate() {
                if r.0 < best.0 {
                    best = (r.0, i);
                }
            }
            if best.0 == u32::MAX {
                break;
            }
            let i = best.1;
            syms[i].id = ranks[i].1;
            syms[i].len += syms[i + 1].len;
            syms.remove(i + 1);
            ranks.remove(i);
            if i > 0 {
                ranks[i - 1] = self.pair(syms[i - 1].id, syms[i].id);
            }
            if i < ranks.len() {
                ranks[i] = self.pair(syms[i].id, syms[i + 1].id);
            }
        }
    }

    fn merge_heap(&self, syms: &mut [Sym], heap: &mut BinaryHeap<Reverse<(u32, u32, u32)>>) {
        heap.clear();
        for i in 0..syms.len() - 1 {
            if let Some(&(rank, new)) = self.merges.get(&(syms[i].id, syms[i + 1].id)) {
                heap.push(Reverse((rank, i as u32, new)));
            }
        }
        while let Some(Reverse((_, pos, new))) = heap.pop() {
            let pos = pos as usize;
            let cur = syms[pos];
            if cur.len == 0 || cur.next < 0 {
                continue;
            }
            let np = cur.next as usize;
            let right = syms[np];
            if self.merges.get(&(cur.id, right.id)).is_none_or(|m| m.1 != new) {
                continue;
            }
            syms[pos].id = new;
            syms[pos].len += right.len;
            syms[pos].next = right.next;
            syms[np].len = 0;
            if right.next >= 0 && (right.next as usize) < syms.len() {
                syms[right.next as usize].prev = pos as i32;
            }
            let cur = syms[pos];
            if cur.prev >= 0 {
                let p = cur.prev as usize;
                if let Some(&(rank, n)) = self.merges.get(&(syms[p].id, cur.id)) {
                    heap.push(Reverse((rank, p as u32, n)));
                }
            }
            if cur.next >= 0 && (cur.next as usize) < syms.len() {
                if let Some(&(rank, n)) = self.merges.get(&(cur.id, syms[cur.next as usize].id)) {
                    heap.push(Reverse((rank, pos as u32, n)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(o: BpeOptions) -> WordBpe {
        let v = ["a", "b", "ab", "<unk>", "c", "abc", "<0x63>", "<0x64>", "##b", "a##b"];
        let vocab = v.iter().enumerate().map(|(i, t)| (t.to_string(), i as u32)).collect();
        WordBpe::new(vocab, vec![("a".into(), "b".into()), ("ab".into(), "c".into())], o).unwrap()
    }

    fn toks(m: &WordBpe, w: &str) -> Vec<Piece> {
        let mut out = vec![];
        m.tokenize(w, &mut out).unwrap();
        out
    }

    #[test]
    fn rank_scan_equals_the_heap() {
        // every merge of two tokens over "abc" up to length 4, ranked in a scrambled order
        let mut vocab: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let mut merges = Vec::new();
        for len in 2..=4 {
            let cur = vocab.clone();
            for x in &cur {
                for y in &cur {
                    let t = format!("{x}{y}");
                    if t.len() == len && !vocab.contains(&t) && (x.len() * 7 + y.len() * 3 + t.len()) % 4 != 0 {
                        vocab.push(t);
                        merges.push((x.clone(), y.clone()));
                    }
                }
            }
        }
        let n = merges.len();
        let merges: Vec<_> = (0..n).map(|i| merges[(i * 7919) % n].clone()).collect();
        let v = vocab.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let m = WordBpe::new(v, merges, BpeOptions::default()).unwrap();
        let mut seed = 12345u64;
        for _ in 0..2000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = 2 + (seed >> 59) as usize;
            let w: String = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ["a", "b", "c"][(seed >> 62) as usize % 3]
                })
                .collect();
            let syms: Vec<Sym> = (0..len)
                .map(|i| Sym {
                    id: m.vocab().token_to_id(&w[i..i + 1]).unwrap(),
                    start: i as u32,
                    len: 1,
                    prev: i as i32 - 1,
                    next: if i + 1 == len { -1 } else { i as i32 + 1 },
                })
                .collect();
            let (mut a, mut b) = (syms.clone(), syms);
            m.merge_all(&mut a, (&mut BinaryHeap::new(), &mut Vec::new()));
            m.merge_heap(&mut b, &mut BinaryHeap::new());
            let live = |v: &[Sym]| v.iter().filter(|s| s.len > 0).map(|s| (s.id, s.start, s.len)).collect::<Vec<_>>();
            assert_eq!(live(&a), live(&b), "{w}");
        }
    }

    #[test]
    fn merges_unk_and_byte_fallback() {
        let m = model(BpeOptions { unk_token: Some("<unk>".into()), ..Default::default() });
        assert_eq!(toks(&m, "abc"), [(5, 0, 3)]);
        assert_eq!(toks(&m, "abxx"), [(2, 0, 2), (3, 2, 3), (3, 3, 4)]);
        let fused = model(BpeOptions { unk_token: Some("<unk>".into()), fuse_unk: true, ..Default::default() });
        assert_eq!(toks(&fused, "abxx"), [(2, 0, 2), (3, 2, 4)]);
        let bf = model(BpeOptions { byte_fallback: true, ..Default::default() });
        assert_eq!(toks(&bf, "dab"), [(7, 0, 1), (2, 1, 3)]);
        // no unk token, no byte: the character is dropped and takes no room (as in HF)
        assert_eq!(toks(&bf, "xa"), [(0, 0, 1)]);
    }
}
