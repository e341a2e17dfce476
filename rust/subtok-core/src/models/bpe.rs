//! Byte-level BPE model: rank-based merges over bytes.
//!
//! One model serves tiktoken ranks (a pair's rank is the rank of the token it forms) and HF
//! merges lists (a pair's rank is its line in the list). Encoding a piece:
//! 1. whole-piece vocabulary lookup first (when the source semantics allow it: tiktoken always,
//!    HF when `ignore_merges` is set) - most pieces of ordinary text end here;
//! 2. pieces of at most 15 bytes: tiktoken's scan for the lowest-ranked adjacent pair, behind a
//!    small per-thread cache of recent results;
//! 3. up to 64 bytes: the same scan;
//! 4. longer pieces: exact BPE over a linked list with a (rank, position) min-heap, or rank
//!    buckets when the piece has few distinct pairs (runs of one character); pieces longer than
//!    8 KB are cut into overlapping 4.5 KB windows that are stitched where both windows agree
//!    (see [`BpeModel::merge_windowed`]), so a multi-megabyte piece costs time linear in its
//!    length with a working set that stays in cache.
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const NONE: u32 = u32::MAX;
/// A byte that has no token of its own (possible only in HF vocabularies without the full alphabet).
const MISSING: u32 = u32::MAX - 1;
/// Pieces up to this many bytes use the quadratic scan (fast for short inputs).
const SHORT: usize = 64;
/// Window and overlap sizes (bytes) for long pieces, see [`BpeModel::merge_windowed`].
const WIN: usize = 2048;
const OVER: usize = 256;

/// Pieces up to this many bytes are looked up by a packed `u128` key (no pointer chase, no memcmp).
pub(crate) const PACK: usize = 15;

/// The bytes of a piece of at most [`PACK`] bytes and its length in one `u128` (never 0 for a
/// non-empty piece).
#[inline(always)]
pub(crate) fn pack(b: &[u8]) -> u128 {
    let mut buf = [0u8; 16];
    buf[..b.len()].copy_from_slice(b);
    buf[15] = b.len() as u8;
    u128::from_le_bytes(buf)
}

/// Ids cached per packed piece (pieces that miss the vocabulary and need merges).
const CACHE_SLOTS: usize = 4096;
const CACHE_IDS: usize = 6;

#[derive(Clone, Copy)]
struct CacheEntry {
    key: u128,
    len: u8,
    ids: [u32; CACHE_IDS],
}

thread_local! {
    static CACHE: std::cell::RefCell<(usize, Vec<CacheEntry>)> = const { std::cell::RefCell::new((0, Vec::new())) };
}

#[inline(always)]
fn slot(k: u128) -> usize {
    slot_of(k, CACHE_SLOTS)
}

/// A slot of a direct-mapped cache of `slots` (a power of two) entries for packed key `k`.
#[inline(always)]
pub(crate) fn slot_of(k: u128, slots: usize) -> usize {
    let h = ((k as u64) ^ ((k >> 64) as u64).rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> (64 - slots.trailing_zeros())) as usize
}

#[inline(always)]
fn key(a: u32, b: u32) -> u64 {
    ((a as u64) << 32) | b as u64
}

#[derive(Debug, Clone)]
pub struct BpeModel {
    /// token bytes -> id
    vocab: FxHashMap<Box<[u8]>, u32>,
    /// packed token bytes -> id, for tokens of at most [`PACK`] bytes
    short: FxHashMap<u128, u32>,
    /// identifies this model in the thread-local merge cache
    uid: usize,
    /// id -> token bytes, flattened: bytes of id `i` are `flat[starts[i]..starts[i+1]]`.
    flat: Vec<u8>,
    starts: Vec<u32>,
    /// id -> present in the model
    present: Vec<bool>,
    byte_ids: [u32; 256],
    /// (left id, right id) -> (rank << 32 | merged id)
    pairs: FxHashMap<u64, u64>,
    /// The same for pairs of single bytes, indexed by `b1 * 256 + b2` (`u64::MAX`: no merge).
    byte_pairs: Vec<u64>,
    /// The merges as (left, right) pairs in rank order (what an HF `tokenizer.json` stores).
    merges: Vec<(u32, u32)>,
    /// Look whole pieces up in the vocabulary before merging.
    pub ignore_merges: bool,
    pub unk_id: Option<u32>,
}

impl BpeModel {
    fn build(vocab_list: Vec<(Vec<u8>, u32)>) -> std::result::Result<BpeModel, String> {
        let max_id = vocab_list
            .iter()
            .map(|(_, i)| *i)
            .max()
            .map(|m| m as usize + 1)
            .unwrap_or(0);
        if max_id > (u32::MAX - 2) as usize {
            return Err("token id too large".into());
        }
        let mut by_id: Vec<Option<&[u8]>> = vec![None; max_id];
        let mut vocab = FxHashMap::default();
        vocab.reserve(vocab_list.len());
        for (bytes, id) in &vocab_list {
            if bytes.is_empty() {
                return Err(format!("empty token for id {id}"));
            }
            if by_id[*id as usize].is_some() {
                return Err(format!("id {id} is used by two tokens"));
            }
            if vocab
                .insert(bytes.clone().into_boxed_slice(), *id)
                .is_some()
            {
                return Err(format!(
                    "token {:?} appears twice",
                    String::from_utf8_lossy(bytes)
                ));
            }
            by_id[*id as usize] = Some(bytes.as_slice());
        }
        let mut flat = Vec::new();
        let mut starts = Vec::with_capacity(max_id + 1);
        let mut present = Vec::with_capacity(max_id);
        for b in &by_id {
            starts.push(flat.len() as u32);
            present.push(b.is_some());
            if let Some(b) = b {
                flat.extend_from_slice(b);
            }
        }
        starts.push(flat.len() as u32);
        let mut byte_ids = [MISSING; 256];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            if let Some(&id) = vocab.get(&[b as u8][..]) {
                *slot = id;
            }
        }
        let short = vocab
            .iter()
            .filter(|(k, _)| k.len() <= PACK)
            .map(|(k, &v)| (pack(k), v))
            .collect();
        static NEXT_UID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        let uid = NEXT_UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(BpeModel {
            vocab,
            short,
            uid,
            flat,
            starts,
            present,
            byte_ids,
            pairs: FxHashMap::default(),
            byte_pairs: Vec::new(),
            merges: Vec::new(),
            ignore_merges: true,
            unk_id: None,
        })
    }

    /// From tiktoken mergeable ranks (token bytes, rank = id). A pair merges with the rank of
    /// the token it forms, exactly like tiktoken.
    pub fn from_ranks(ranks: Vec<(Vec<u8>, u32)>) -> std::result::Result<BpeModel, String> {
        let mut m = BpeModel::build(ranks)?;
        let mut pairs: FxHashMap<u64, u64> = FxHashMap::default();
        let mut merges: Vec<(u32, u32, u32)> = Vec::new();
        for id in 0..m.present.len() as u32 {
            if !m.present[id as usize] {
                continue;
            }
            let tok = m.token_bytes(id).unwrap_or(&[]);
            for cut in 1..tok.len() {
                if let (Some(&a), Some(&b)) = (m.vocab.get(&tok[..cut]), m.vocab.get(&tok[cut..])) {
                    pairs.insert(key(a, b), ((id as u64) << 32) | id as u64);
                    merges.push((id, a, b));
                }
            }
        }
        merges.sort_unstable();
        m.merges = merges.into_iter().map(|(_, a, b)| (a, b)).collect();
        m.pairs = pairs;
        m.ignore_merges = true;
        m.fill_byte_pairs();
        Ok(m)
    }

    /// From an HF vocabulary and merges list (as bytes). The rank of a pair is its index.
    pub fn from_merges(
        vocab: Vec<(Vec<u8>, u32)>,
        merges: Vec<(Vec<u8>, Vec<u8>)>,
        ignore_merges: bool,
    ) -> std::result::Result<BpeModel, String> {
        let mut m = BpeModel::build(vocab)?;
        let mut pairs: FxHashMap<u64, u64> = FxHashMap::default();
        pairs.reserve(merges.len());
        let mut list = Vec::with_capacity(merges.len());
        for (rank, (a, b)) in merges.iter().enumerate() {
            let name = |x: &[u8]| crate::pretokenize::bytelevel::bytes_to_string(x);
            let ia = *m.vocab.get(&a[..]).ok_or_else(|| {
                format!("merge {rank}: token {:?} is not in the vocabulary", name(a))
            })?;
            let ib = *m.vocab.get(&b[..]).ok_or_else(|| {
                format!("merge {rank}: token {:?} is not in the vocabulary", name(b))
            })?;
            let mut ab = a.clone();
            ab.extend_from_slice(b);
            let iab = *m.vocab.get(&ab[..]).ok_or_else(|| {
                format!(
                    "merge {rank}: merged token {:?} is not in the vocabulary",
                    name(&ab)
                )
            })?;
            // HF keeps the first occurrence of a duplicated merge.
            pairs
                .entry(key(ia, ib))
                .or_insert(((rank as u64) << 32) | iab as u64);
            list.push((ia, ib));
        }
        m.pairs = pairs;
        m.merges = list;
        m.ignore_merges = ignore_merges;
        m.fill_byte_pairs();
        Ok(m)
    }

    fn fill_byte_pairs(&mut self) {
        let mut t = vec![u64::MAX; 65536];
        for a in 0..256usize {
            for b in 0..256usize {
                if let Some((r, id)) = self.pair(self.byte_ids[a], self.byte_ids[b]) {
                    t[a * 256 + b] = ((r as u64) << 32) | id as u64;
                }
            }
        }
        self.byte_pairs = t;
    }

    /// The merge of two adjacent bytes, from the table.
    #[inline(always)]
    fn byte_pair(&self, a: u8, b: u8) -> Option<(u32, u32)> {
        let v = *self.byte_pairs.get(a as usize * 256 + b as usize)?;
        (v != u64::MAX).then_some(((v >> 32) as u32, v as u32))
    }

    /// Number of ids slots (max id + 1).
    pub fn id_capacity(&self) -> usize {
        self.present.len()
    }

    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        let i = id as usize;
        if *self.present.get(i)? {
            Some(&self.flat[self.starts[i] as usize..self.starts[i + 1] as usize])
        } else {
            None
        }
    }

    pub fn token_id(&self, bytes: &[u8]) -> Option<u32> {
        if bytes.len() <= PACK {
            return self.short.get(&pack(bytes)).copied();
        }
        self.vocab.get(bytes).copied()
    }

    /// (bytes, id) for every token, in id order.
    pub fn tokens(&self) -> impl Iterator<Item = (&[u8], u32)> + '_ {
        (0..self.present.len() as u32).filter_map(move |id| self.token_bytes(id).map(|b| (b, id)))
    }

    pub fn merges(&self) -> &[(u32, u32)] {
        &self.merges
    }

    #[inline(always)]
    fn pair(&self, a: u32, b: u32) -> Option<(u32, u32)> {
        if a >= MISSING || b >= MISSING {
            return None;
        }
        self.pairs
            .get(&key(a, b))
            .map(|&v| ((v >> 32) as u32, v as u32))
    }

    #[inline(always)]
    fn push_id(&self, id: u32, out: &mut Vec<u32>) {
        if id == MISSING {
            if let Some(u) = self.unk_id {
                out.push(u);
            }
        } else {
            out.push(id);
        }
    }

    /// Append the ids of one piece to `out`.
    #[inline]
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        let n = piece.len();
        if n == 1 {
            self.push_id(self.byte_ids[piece[0] as usize], out);
        } else if n <= PACK {
            let k = pack(piece);
            if self.ignore_merges {
                if let Some(&id) = self.short.get(&k) {
                    out.push(id);
                    return;
                }
            }
            self.merge_cached(k, piece, out);
        } else if n > 0 {
            if self.ignore_merges {
                if let Some(&id) = self.vocab.get(piece) {
                    out.push(id);
                    return;
                }
            }
            if n <= SHORT {
                self.merge_short(piece, out)
            } else {
                self.merge_long(piece, out)
            }
        }
    }

    /// [`merge_short`] behind a small direct-mapped per-thread cache keyed by the packed piece.
    fn merge_cached(&self, k: u128, piece: &[u8], out: &mut Vec<u32>) {
        CACHE.with(|c| {
            let Ok(mut c) = c.try_borrow_mut() else {
                return self.merge_short(piece, out);
            };
            if c.0 != self.uid {
                let empty = CacheEntry {
                    key: 0,
                    len: 0,
                    ids: [0; CACHE_IDS],
                };
                c.1.clear();
                c.1.resize(CACHE_SLOTS, empty);
                c.0 = self.uid;
            }
            let e = &mut c.1[slot(k)];
            if e.key == k && e.len > 0 {
                out.extend_from_slice(&e.ids[..e.len as usize]);
                return;
            }
            let before = out.len();
            self.merge_short(piece, out);
            let got = &out[before..];
            if got.len() <= CACHE_IDS && !got.is_empty() {
                e.key = k;
                e.len = got.len() as u8;
                e.ids[..got.len()].copy_from_slice(got);
            }
        })
    }

    /// Number of ids [`encode_piece`] would append; `scratch` is reused between calls.
    #[inline]
    pub fn count_piece(&self, piece: &[u8], scratch: &mut Vec<u32>) -> usize {
        if piece.len() == 1 {
            return (self.byte_ids[piece[0] as usize] != MISSING || self.unk_id.is_some()) as usize;
        }
        scratch.clear();
        self.encode_piece(piece, scratch);
        scratch.len()
    }

    /// tiktoken's algorithm: repeatedly merge the lowest-ranked adjacent pair (leftmost on ties).
    /// Quadratic, but only used for pieces of at most [`SHORT`] bytes.
    fn merge_short(&self, piece: &[u8], out: &mut Vec<u32>) {
        let n = piece.len();
        let mut ids = [0u32; SHORT];
        let mut ranks = [NONE; SHORT];
        let mut news = [0u32; SHORT];
        for (k, &b) in piece.iter().enumerate() {
            ids[k] = self.byte_ids[b as usize];
        }
        for k in 0..n - 1 {
            if let Some((r, t)) = self.byte_pair(piece[k], piece[k + 1]) {
                ranks[k] = r;
                news[k] = t;
            }
        }
        let mut len = n;
        loop {
            let mut best = NONE;
            let mut at = 0;
            for (k, &r) in ranks[..len - 1].iter().enumerate() {
                if r < best {
                    best = r;
                    at = k;
                }
            }
            if best == NONE {
                break;
            }
            ids[at] = news[at];
            ids.copy_within(at + 2..len, at + 1);
            ranks.copy_within(at + 2..len, at + 1);
            news.copy_within(at + 2..len, at + 1);
            len -= 1;
            ranks[len - 1] = NONE;
            for k in [at.wrapping_sub(1), at] {
                if k < len - 1 {
                    match self.pair(ids[k], ids[k + 1]) {
                        Some((r, t)) => {
                            ranks[k] = r;
                            news[k] = t;
                        }
                        None => ranks[k] = NONE,
                    }
                }
            }
            if len == 1 {
                break;
            }
        }
        for &id in &ids[..len] {
            self.push_id(id, out);
        }
    }

    /// Same result as [`merge_short`] in time linear in the piece length (up to the rank lookups).
    ///
    /// Symbols live in a doubly linked list over byte positions. Candidate pairs are kept in
    /// buckets by rank; the lowest non-empty rank is taken from a small heap of distinct ranks.
    /// A bucket is processed left to right; merges of the same rank created to the left of the
    /// cursor go on a stack that is always ordered, so the leftmost-lowest rule is kept without
    /// a per-pair heap. A merge that creates a lower-ranked pair (possible with tiktoken ranks)
    /// puts the rest of the bucket back and the loop resumes from the lower rank.
    fn merge_long(&self, piece: &[u8], out: &mut Vec<u32>) {
        let mut toks = Vec::new();
        if piece.len() <= 2 * WIN || !self.merge_windowed(piece, &mut toks) {
            toks.clear();
            self.merge_global(piece, 0, &mut toks);
        }
        for &(_, id) in &toks {
            self.push_id(id, out);
        }
    }

    /// BPE of a long piece from overlapping windows that fit in cache.
    ///
    /// Each window of `WIN + OVER` bytes is encoded exactly on its own. Two neighbouring windows
    /// overlap by `OVER` bytes (twice the longest cl100k token); they are stitched at a token
    /// both produce (same position, same id): the first window's tokens up to and including it,
    /// then the second window's tokens after it. The BPE encoding of a text is the one
    /// tokenization in which every adjacent token pair is itself BPE-encoded as that pair (the
    /// characterization behind the rust-gems `bpe` crate); both windows' encodings have that
    /// property, and the pair across the stitch is a pair of the second window, so the stitched
    /// result is the BPE encoding of the whole piece. If no agreement is found, returns false and the caller runs
    /// [`merge_global`] on the whole piece.
    fn merge_windowed(&self, piece: &[u8], toks: &mut Vec<(u32, u32)>) -> bool {
        let n = piece.len();
        let mut a: Vec<(u32, u32)> = Vec::new();
        let mut b: Vec<(u32, u32)> = Vec::new();
        let mut e_a = (WIN + OVER).min(n);
        self.merge_global(&piece[..e_a], 0, &mut a);
        let mut from = 0usize;
        loop {
            if e_a == n {
                toks.extend_from_slice(&a[from..]);
                return true;
            }
            let s_b = e_a - OVER;
            let e_b = (s_b + WIN + OVER).min(n);
            b.clear();
            self.merge_global(&piece[s_b..e_b], s_b as u32, &mut b);
            let mut i = a.partition_point(|t| (t.0 as usize) < s_b).max(from);
            let mut j = 0;
            let mut found = None;
            while i < a.len() && j < b.len() {
                let (pa, pb) = (a[i].0, b[j].0);
                if pa < pb {
                    i += 1;
                } else if pb < pa {
                    j += 1;
                } else {
                    if a[i] == b[j] {
                        found = Some((i + 1, j + 1));
                        break;
                    }
                    i += 1;
                    j += 1;
                }
            }
            let Some((ia, jb)) = found else { return false };
            toks.extend_from_slice(&a[from..ia]);
            std::mem::swap(&mut a, &mut b);
            from = jb;
            e_a = e_b;
        }
    }

    /// Exact BPE of `piece` over the whole piece; appends (offset + start, id) per token.
    ///
    /// Symbols live in a doubly linked list over byte positions; candidate pairs sit in a binary
    /// min-heap keyed by (rank, position), so the lowest rank merges first and ties go to the
    /// leftmost pair, exactly as in tiktoken. Entries made stale by a neighbouring merge are
    /// recognized when popped (the pair now at that position has another rank) and dropped.
    /// O(n log n) for a piece of n bytes; [`merge_windowed`] keeps n at most a few KB.
    fn merge_global(&self, piece: &[u8], offset: u32, out: &mut Vec<(u32, u32)>) {
        // Few distinct adjacent byte pairs (a run of one character, of spaces...): rank buckets.
        let n = piece.len();
        let changes = piece.windows(3).filter(|w| w[0] != w[2]).count();
        if changes * 8 < n {
            return self.merge_buckets(piece, offset, out);
        }
        self.merge_heap(piece, offset, out)
    }

    fn merge_heap(&self, piece: &[u8], offset: u32, out: &mut Vec<(u32, u32)>) {
        /// A symbol of the linked list plus the merge candidate of the pair starting at it:
        /// `rank` is NONE when that pair does not merge. Kept current on every merge, so a popped
        /// heap entry is validated by comparing ranks, without a hash lookup.
        #[derive(Clone, Copy)]
        struct Sym {
            id: u32,
            prev: u32,
            next: u32,
            rank: u32,
            new_id: u32,
        }
        let n = piece.len();
        if n == 0 {
            return;
        }
        let mut sy: Vec<Sym> = piece
            .iter()
            .enumerate()
            .map(|(k, &b)| Sym {
                id: self.byte_ids[b as usize],
                prev: (k as u32).wrapping_sub(1),
                next: k as u32 + 1,
                rank: NONE,
                new_id: 0,
            })
            .collect();
        sy[0].prev = NONE;
        sy[n - 1].next = NONE;
        let mut heap: Vec<Reverse<u64>> = Vec::with_capacity(n);
        for k in 0..n - 1 {
            if let Some((r, t)) = self.byte_pair(piece[k], piece[k + 1]) {
                sy[k].rank = r;
                sy[k].new_id = t;
                heap.push(Reverse(((r as u64) << 32) | k as u64));
            }
        }
        let mut heap = BinaryHeap::from(heap);
        while let Some(Reverse(key)) = heap.pop() {
            let r = (key >> 32) as u32;
            let p = (key as u32) as usize;
            let s = sy[p];
            if s.rank != r || s.id == NONE || s.next == NONE {
                continue;
            }
            let q = s.next as usize;
            let qn = sy[q].next;
            let new_id = s.new_id;
            sy[q].id = NONE;
            sy[q].rank = NONE;
            sy[p].id = new_id;
            sy[p].next = qn;
            sy[p].rank = NONE;
            if qn != NONE {
                sy[qn as usize].prev = p as u32;
                if let Some((rr, t)) = self.pair(new_id, sy[qn as usize].id) {
                    sy[p].rank = rr;
                    sy[p].new_id = t;
                    heap.push(Reverse(((rr as u64) << 32) | p as u64));
                }
            }
            let pp = s.prev;
            if pp != NONE {
                let ppu = pp as usize;
                match self.pair(sy[ppu].id, new_id) {
                    Some((rl, t)) => {
                        sy[ppu].rank = rl;
                        sy[ppu].new_id = t;
                        heap.push(Reverse(((rl as u64) << 32) | pp as u64));
                    }
                    None => sy[ppu].rank = NONE,
                }
            }
        }
        let mut k = 0u32;
        while k != NONE {
            out.push((offset + k, sy[k as usize].id));
            k = sy[k as usize].next;
        }
    }

    /// Exact BPE for pieces with few distinct pair ranks (runs of one character, spaces...).
    ///
    /// Candidate pairs are kept in buckets by rank; the lowest non-empty rank comes from a small
    /// heap of distinct ranks. A bucket is processed left to right; merges of the same rank made
    /// to the left of the cursor go on a stack that stays ordered, so the leftmost-lowest rule
    /// holds without a per-pair heap. A merge that creates a lower-ranked pair (possible with
    /// tiktoken ranks) puts the rest of the bucket back and the loop resumes from the lower rank.
    fn merge_buckets(&self, piece: &[u8], offset: u32, out: &mut Vec<(u32, u32)>) {
        #[derive(Clone, Copy)]
        struct Sym {
            id: u32,
            prev: u32,
            next: u32,
        }
        /// Rank buckets: a vector of position lists, found through a map with a two-entry cache.
        struct Buckets {
            lists: Vec<Vec<u32>>,
            index: FxHashMap<u32, u32>,
            hot: [(u32, u32); 2],
            heap: BinaryHeap<Reverse<u32>>,
        }
        impl Buckets {
            #[inline(always)]
            fn add(&mut self, r: u32, pos: u32) {
                let i = if self.hot[0].0 == r {
                    self.hot[0].1
                } else if self.hot[1].0 == r {
                    self.hot.swap(0, 1);
                    self.hot[0].1
                } else {
                    let next = self.lists.len() as u32;
                    let i = *self.index.entry(r).or_insert(next);
                    if i == next {
                        self.lists.push(Vec::new());
                    }
                    self.hot[1] = self.hot[0];
                    self.hot[0] = (r, i);
                    i
                };
                let v = &mut self.lists[i as usize];
                if v.is_empty() {
                    self.heap.push(Reverse(r));
                }
                v.push(pos);
            }
        }
        let n = piece.len();
        let mut sy: Vec<Sym> = piece
            .iter()
            .enumerate()
            .map(|(k, &b)| Sym {
                id: self.byte_ids[b as usize],
                prev: (k as u32).wrapping_sub(1),
                next: k as u32 + 1,
            })
            .collect();
        sy[0].prev = NONE;
        sy[n - 1].next = NONE;
        let mut bk = Buckets {
            lists: Vec::new(),
            index: FxHashMap::default(),
            hot: [(NONE, 0), (NONE, 0)],
            heap: BinaryHeap::new(),
        };
        for k in 0..n - 1 {
            if let Some((r, _)) = self.byte_pair(piece[k], piece[k + 1]) {
                bk.add(r, k as u32);
            }
        }
        let mut stack: Vec<u32> = Vec::new();
        let mut list: Vec<u32> = Vec::new();
        while let Some(Reverse(r)) = bk.heap.pop() {
            let Some(&bi) = bk.index.get(&r) else {
                continue;
            };
            if bk.lists[bi as usize].is_empty() {
                continue;
            }
            // swap the bucket out, keeping the (empty, cleared) previous list's allocation
            list.clear();
            std::mem::swap(&mut list, &mut bk.lists[bi as usize]);
            if !list.is_sorted() {
                list.sort_unstable();
            }
            list.dedup();
            stack.clear();
            let mut idx = 0;
            loop {
                let pos = if let Some(p) = stack.pop() {
                    p
                } else if idx < list.len() {
                    idx += 1;
                    list[idx - 1]
                } else {
                    break;
                };
                let p = pos as usize;
                let Sym {
                    id: left, next: q, ..
                } = sy[p];
                if left == NONE || q == NONE {
                    continue;
                }
                let Some((rank, new_id)) = self.pair(left, sy[q as usize].id) else {
                    continue;
                };
                if rank != r {
                    continue;
                }
                // merge p and q
                let qn = sy[q as usize].next;
                sy[p].id = new_id;
                sy[p].next = qn;
                sy[q as usize].id = NONE;
                if qn != NONE {
                    sy[qn as usize].prev = pos;
                }
                let mut lower = false;
                // right pair first so that the left one ends on top of the stack
                if qn != NONE {
                    if let Some((rr, _)) = self.pair(new_id, sy[qn as usize].id) {
                        if rr == r {
                            stack.push(pos);
                        } else {
                            lower |= rr < r;
                            bk.add(rr, pos);
                        }
                    }
                }
                let pp = sy[p].prev;
                if pp != NONE {
                    if let Some((rl, _)) = self.pair(sy[pp as usize].id, new_id) {
                        if rl == r {
                            stack.push(pp);
                        } else {
                            lower |= rl < r;
                            bk.add(rl, pp);
                        }
                    }
                }
                if lower {
                    let rest: Vec<u32> =
                        stack.drain(..).chain(list[idx..].iter().copied()).collect();
                    for pos in rest {
                        bk.add(r, pos);
                    }
                    break;
                }
            }
        }
        let mut k = 0u32;
        while k != NONE {
            out.push((offset + k, sy[k as usize].id));
            k = sy[k as usize].next;
        }
    }

    /// Reference implementation for tests: the quadratic scan on any length.
    #[cfg(test)]
    fn merge_naive(&self, piece: &[u8]) -> Vec<u32> {
        let mut ids: Vec<u32> = piece.iter().map(|&b| self.byte_ids[b as usize]).collect();
        loop {
            let mut best: Option<(u32, usize, u32)> = None;
            for k in 0..ids.len().saturating_sub(1) {
                if let Some((r, t)) = self.pair(ids[k], ids[k + 1]) {
                    if best.map_or(true, |(br, _, _)| r < br) {
                        best = Some((r, k, t));
                    }
                }
            }
            match best {
                Some((_, k, t)) => {
                    ids[k] = t;
                    ids.remove(k + 1);
                }
                None => break,
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small BPE trained by hand-written rules: all bytes, then merges over a toy alphabet.
    fn toy(ignore: bool) -> BpeModel {
        let mut vocab: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        let merges: Vec<(&str, &str)> = vec![
            ("a", "a"),
            ("b", "a"),
            ("aa", "aa"),
            ("a", "b"),
            ("ab", "a"),
            ("ba", "aa"),
            ("aaaa", "a"),
            ("c", "c"),
            ("cc", "c"),
            ("b", "b"),
            ("bb", "aa"),
            ("a", "c"),
            ("ac", "b"),
            ("ccc", "ccc"),
        ];
        let mut list = Vec::new();
        for (a, b) in merges {
            let ab = format!("{a}{b}");
            if !vocab.iter().any(|(t, _)| t == ab.as_bytes()) {
                let id = vocab.len() as u32;
                vocab.push((ab.into_bytes(), id));
            }
            list.push((a.as_bytes().to_vec(), b.as_bytes().to_vec()));
        }
        BpeModel::from_merges(vocab, list, ignore).unwrap()
    }

    fn rand_text(seed: &mut u64, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                alphabet[(*seed % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    #[test]
    fn long_equals_naive_and_short() {
        let m = toy(false);
        let mut seed = 12345u64;
        for len in [2usize, 3, 5, 17, 64, 65, 200, 1000, 5000, 9000, 12000] {
            for alphabet in [&b"ab"[..], b"abc", b"a", b"c", b"abcd "] {
                let t = rand_text(&mut seed, len, alphabet);
                let want = m.merge_naive(&t);
                let mut got = Vec::new();
                m.merge_long(&t, &mut got);
                assert_eq!(got, want, "long, len {len}");
                for (name, f) in [
                    (
                        "heap",
                        BpeModel::merge_heap as fn(&BpeModel, &[u8], u32, &mut Vec<(u32, u32)>),
                    ),
                    ("buckets", BpeModel::merge_buckets),
                ] {
                    let mut toks = Vec::new();
                    f(&m, &t, 0, &mut toks);
                    assert_eq!(
                        toks.iter().map(|t| t.1).collect::<Vec<_>>(),
                        want,
                        "{name}, len {len}"
                    );
                }
                if len <= SHORT {
                    let mut got = Vec::new();
                    m.merge_short(&t, &mut got);
                    assert_eq!(got, want, "short, len {len}");
                }
            }
        }
    }

    #[test]
    fn windowed_equals_global() {
        let m = toy(false);
        let mut seed = 4242u64;
        let mut stitched = 0;
        for len in [8193usize, 10000, 30000] {
            for alphabet in [&b"ab"[..], b"abc", b"a", b"abcd ", b"c", b"bc"] {
                let t = rand_text(&mut seed, len, alphabet);
                let mut w = Vec::new();
                let ok = m.merge_windowed(&t, &mut w);
                let mut g = Vec::new();
                m.merge_global(&t, 0, &mut g);
                if ok {
                    stitched += 1;
                    assert_eq!(
                        w,
                        g,
                        "len {len} alphabet {:?}",
                        std::str::from_utf8(alphabet)
                    );
                }
            }
        }
        eprintln!("stitched {stitched} of 18");
        assert!(stitched >= 12, "stitched only {stitched}");
    }

    #[test]
    fn cached_encode_piece_equals_naive() {
        let (m1, m2) = (toy(false), toy(true));
        let mut seed = 7u64;
        for round in 0..4000 {
            let len = 2 + (round % 14);
            let t = rand_text(&mut seed, len, b"abc");
            for m in [&m1, &m2] {
                let mut got = Vec::new();
                m.encode_piece(&t, &mut got);
                let want = if m.ignore_merges {
                    m.token_id(&t)
                        .map(|i| vec![i])
                        .unwrap_or_else(|| m.merge_naive(&t))
                } else {
                    m.merge_naive(&t)
                };
                assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn tiktoken_ranks_lower_rank_after_merge() {
        // "xyz" has a lower rank than "yz": after y+z merges, x+yz must merge next even though
        // its rank is lower than the one just processed.
        let mut ranks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        for (t, r) in [("xyz", 256u32), ("yz", 257), ("xy", 258), ("zz", 259)] {
            ranks.push((t.as_bytes().to_vec(), r));
        }
        let m = BpeModel::from_ranks(ranks).unwrap();
        let t: Vec<u8> = b"yzxyzzyz".iter().cycle().take(3000).copied().collect();
        let mut got = Vec::new();
        m.merge_long(&t, &mut got);
        assert_eq!(got, m.merge_naive(&t));
        for f in [
            BpeModel::merge_heap as fn(&BpeModel, &[u8], u32, &mut Vec<(u32, u32)>),
            BpeModel::merge_buckets,
        ] {
            let mut toks = Vec::new();
            f(&m, &t, 0, &mut toks);
            assert_eq!(toks.iter().map(|t| t.1).collect::<Vec<_>>(), got);
        }
        let mut seed = 99u64;
        for _ in 0..50 {
            let t = rand_text(&mut seed, 500, b"xyz");
            let mut got = Vec::new();
            m.merge_long(&t, &mut got);
            assert_eq!(got, m.merge_naive(&t));
        }
    }

    #[test]
    fn whole_piece_lookup_only_when_allowed() {
        // merges: b+c first, then a+b; "abc" exists via (ab, c) but "a bc" never merges.
        let vocab: Vec<(Vec<u8>, u32)> = vec![
            (b"a".to_vec(), 0),
            (b"b".to_vec(), 1),
            (b"c".to_vec(), 2),
            (b"bc".to_vec(), 3),
            (b"ab".to_vec(), 4),
            (b"abc".to_vec(), 5),
        ];
        let merges = vec![
            (b"b".to_vec(), b"c".to_vec()),
            (b"a".to_vec(), b"b".to_vec()),
            (b"ab".to_vec(), b"c".to_vec()),
        ];
        let m = BpeModel::from_merges(vocab.clone(), merges.clone(), false).unwrap();
        let mut out = Vec::new();
        m.encode_piece(b"abc", &mut out);
        assert_eq!(out, vec![0, 3]);
        let m = BpeModel::from_merges(vocab, merges, true).unwrap();
        out.clear();
        m.encode_piece(b"abc", &mut out);
        assert_eq!(out, vec![5]);
    }

    #[test]
    fn bad_merges_are_errors() {
        let vocab: Vec<(Vec<u8>, u32)> = vec![(b"a".to_vec(), 0), (b"b".to_vec(), 1)];
        assert!(
            BpeModel::from_merges(vocab.clone(), vec![(b"a".to_vec(), b"b".to_vec())], false)
                .is_err()
        );
        assert!(
            BpeModel::from_merges(vec![(b"a".to_vec(), 0), (b"a".to_vec(), 1)], vec![], false)
                .is_err()
        );
    }
}
