//! The merge engine shared by BPE and WordPiece training, and byte-level BPE setup.
//!
//! Data: the unique words as symbol-id vectors with their `u64` counts, exact pair counts,
//! a pair -> words index (a superset: a word may no longer hold the pair; it is checked
//! when the pair is merged), and a lazy max-heap of candidate entries. An entry carries
//! the values its score was computed from; on pop it is compared with the current values
//! and re-pushed if stale, so the heap never needs random-access updates. When the heap
//! holds many stale entries it is rebuilt from the live pair counts.
//!
//! Merging a pair rewrites only the words that contain it (in parallel when there are
//! many), and updates pair counts by the exact difference between each word's old and
//! new pairs. Ties follow the rule in [`super`]: score, then count, then smallest
//! `(left id, right id)`; with the count score this is HF `BpeTrainer`'s rule.
use super::counts::{FxMap, FxSet};
use super::progress::Progress;
use super::{Score, TrainConfig, Trained};
use crate::error::{Error, Result};
use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[inline]
fn key(a: u32, b: u32) -> u64 {
    ((a as u64) << 32) | b as u64
}
#[inline]
fn unkey(k: u64) -> (u32, u32) {
    ((k >> 32) as u32, k as u32)
}

/// A heap entry: the pair and the values its score was computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    /// `Score::Gain` only: the bits of the non-negative f64 gain (their order is the
    /// numeric order); 0 for the other scores.
    gain: u64,
    count: u64,
    fa: u64,
    fb: u64,
    pair: u64,
}

impl Entry {
    /// count/(fa·fb) compared exactly (u128 cross products; f64 if those overflow).
    fn score_cmp(&self, o: &Self) -> Ordering {
        if self.fa == 1 && self.fb == 1 && o.fa == 1 && o.fb == 1 {
            return self.count.cmp(&o.count);
        }
        let da = self.fa as u128 * self.fb as u128;
        let db = o.fa as u128 * o.fb as u128;
        match (
            (self.count as u128).checked_mul(db),
            (o.count as u128).checked_mul(da),
        ) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => {
                let x = self.count as f64 / (self.fa as f64 * self.fb as f64);
                let y = o.count as f64 / (o.fa as f64 * o.fb as f64);
                x.partial_cmp(&y).unwrap_or(Ordering::Equal)
            }
        }
    }
}

impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        self.gain
            .cmp(&o.gain)
            .then_with(|| self.score_cmp(o))
            .then(self.count.cmp(&o.count))
            .then(o.pair.cmp(&self.pair))
    }
}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Merge the leftmost non-overlapping occurrences of `(a, b)` into `n`; `None` if absent.
/// Appends to `ch` the pair occurrences that disappear (-1) and appear (+1), computed
/// left to right on the partly merged word so that runs like `a b a b` come out exact.
#[inline]
fn merge_word(w: &[u32], a: u32, b: u32, n: u32, ch: &mut Vec<(u64, i8)>) -> Option<Vec<u32>> {
    let first = w.windows(2).position(|p| p[0] == a && p[1] == b)?;
    let mut out = Vec::with_capacity(w.len() - 1);
    out.extend_from_slice(&w[..first]);
    let mut i = first;
    while i < w.len() {
        if i + 1 < w.len() && w[i] == a && w[i + 1] == b {
            ch.push((key(a, b), -1));
            if let Some(&p) = out.last() {
                ch.push((key(p, a), -1));
                ch.push((key(p, n), 1));
            }
            if let Some(&x) = w.get(i + 2) {
                ch.push((key(b, x), -1));
                ch.push((key(n, x), 1));
            }
            out.push(n);
            i += 2;
        } else {
            out.push(w[i]);
            i += 1;
        }
    }
    Some(out)
}

/// In-place variant of [`merge_word`]: returns the number of merges (0 = word unchanged).
#[inline]
fn merge_word_in_place(w: &mut Vec<u32>, a: u32, b: u32, n: u32, ch: &mut Vec<(u64, i8)>) -> usize {
    let Some(first) = w.windows(2).position(|p| p[0] == a && p[1] == b) else {
        return 0;
    };
    let len = w.len();
    let mut out = first; // write cursor; w[..out] is the merged prefix
    let mut i = first;
    let mut merged = 0;
    while i < len {
        if i + 1 < len && w[i] == a && w[i + 1] == b {
            ch.push((key(a, b), -1));
            if out > 0 {
                let p = w[out - 1];
                ch.push((key(p, a), -1));
                ch.push((key(p, n), 1));
            }
            if i + 2 < len {
                let x = w[i + 2];
                ch.push((key(b, x), -1));
                ch.push((key(n, x), 1));
            }
            w[out] = n;
            out += 1;
            i += 2;
            merged += 1;
        } else {
            w[out] = w[i];
            out += 1;
            i += 1;
        }
    }
    w.truncate(out);
    merged
}

/// Input to the merge loop.
pub(crate) struct MergeEngine {
    words: Vec<Vec<u32>>,
    counts: Vec<u64>,
    vocab: Vec<String>,
    ids: FxMap<String, u32>,
    /// WordPiece: the continuation prefix, dropped from the right part of a merge.
    prefix: Option<String>,
    /// Track symbol frequencies (likelihood and gain scores).
    likelihood: bool,
    /// `Score::Gain`: the corpus's initial number of symbols, N in count·ln(count·N/(fa·fb)).
    gain_n: Option<f64>,
    min_frequency: u64,
    pair_counts: FxMap<u64, u64>,
    pair_words: FxMap<u64, Vec<u32>>,
    tok_freq: Vec<u64>,
    partners: Vec<FxSet<u64>>,
    heap: BinaryHeap<Entry>,
    merges: Vec<(u32, u32)>,
    changes: Vec<(u32, u64, i8)>,
    push_buf: Vec<u64>,
    dec_buf: Vec<u64>,
    /// Merges touching at least this many words rewrite them in parallel.
    par_min: usize,
    /// Rebuild the heap when it holds more than 2x live pairs plus this many entries.
    rebuild_slack: usize,
}

const PAR_MIN_WORDS: usize = 16384;

type PairMaps = (FxMap<u64, u64>, FxMap<u64, Vec<u32>>);
type Rewrite = (u32, Vec<u32>, Vec<(u64, i8)>);
/// The final vocabulary and the merges (id pairs) in learned order.
pub(crate) type MergeResult = (Vec<String>, Vec<(u32, u32)>);

impl MergeEngine {
    /// `vocab` holds the specials and the alphabet; `words` are symbol ids into it.
    pub(crate) fn new(
        vocab: Vec<String>,
        words: Vec<Vec<u32>>,
        counts: Vec<u64>,
        prefix: Option<String>,
        score: Score,
        min_frequency: u64,
    ) -> Self {
        let ids = vocab
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i as u32))
            .collect();
        let likelihood = matches!(score, Score::Likelihood | Score::Gain);
        MergeEngine {
            tok_freq: if likelihood {
                vec![0; vocab.len()]
            } else {
                Vec::new()
            },
            partners: if likelihood {
                vec![FxSet::default(); vocab.len()]
            } else {
                Vec::new()
            },
            words,
            counts,
            vocab,
            ids,
            prefix,
            likelihood,
            gain_n: (score == Score::Gain).then_some(0.0),
            min_frequency: min_frequency.max(1),
            pair_counts: FxMap::default(),
            pair_words: FxMap::default(),
            heap: BinaryHeap::new(),
            merges: Vec::new(),
            changes: Vec::new(),
            push_buf: Vec::new(),
            dec_buf: Vec::new(),
            par_min: PAR_MIN_WORDS,
            rebuild_slack: 16384,
        }
    }

    fn entry(&self, k: u64) -> Option<Entry> {
        let count = *self.pair_counts.get(&k)?;
        if count < self.min_frequency {
            return None;
        }
        let (a, b) = unkey(k);
        let (fa, fb) = if self.likelihood {
            (
                self.tok_freq[a as usize].max(1),
                self.tok_freq[b as usize].max(1),
            )
        } else {
            (1, 1)
        };
        let gain = match self.gain_n {
            // The rise of the corpus log-likelihood under a unigram model when a and b merge
            // (count · PMI): frequent pairs of parts that co-occur more than chance win.
            Some(n) => {
                let c = count as f64;
                let g = c * (c * n / (fa as f64 * fb as f64)).ln();
                if g > 0.0 {
                    g.to_bits()
                } else {
                    0
                }
            }
            None => 0,
        };
        Some(Entry {
            gain,
            count,
            fa,
            fb,
            pair: k,
        })
    }

    fn add_partner(&mut self, k: u64) {
        if self.likelihood {
            let (a, b) = unkey(k);
            self.partners[a as usize].insert(k);
            self.partners[b as usize].insert(k);
        }
    }
    fn drop_partner(&mut self, k: u64) {
        if self.likelihood {
            let (a, b) = unkey(k);
            self.partners[a as usize].remove(&k);
            self.partners[b as usize].remove(&k);
        }
    }

    fn count_pairs(&mut self, progress: &dyn Progress) {
        progress.start("count pairs", self.words.len() as u64);
        if self.likelihood {
            for (w, &c) in self.words.iter().zip(&self.counts) {
                for &s in w {
                    let f = &mut self.tok_freq[s as usize];
                    *f = f.saturating_add(c);
                }
            }
            if self.gain_n.is_some() {
                self.gain_n = Some(self.tok_freq.iter().map(|&f| f as f64).sum());
            }
        }
        // Words of one symbol never take part in a merge.
        let mut keep_w = Vec::with_capacity(self.words.len());
        let mut keep_c = Vec::with_capacity(self.words.len());
        for (w, c) in std::mem::take(&mut self.words)
            .into_iter()
            .zip(std::mem::take(&mut self.counts))
        {
            if w.len() >= 2 {
                keep_w.push(w);
                keep_c.push(c);
            }
        }
        self.words = keep_w;
        self.counts = keep_c;
        // Per-chunk maps in parallel, merged in chunk order (deterministic).
        // One chunk per thread: every chunk map is alive until the merge, so more chunks
        // would only raise the memory peak.
        let chunk = self
            .words
            .len()
            .div_ceil(rayon::current_num_threads())
            .max(4096);
        let parts: Vec<PairMaps> = self
            .words
            .par_chunks(chunk)
            .enumerate()
            .map(|(ci, ws)| {
                let mut pc: FxMap<u64, u64> = FxMap::default();
                let mut pw: FxMap<u64, Vec<u32>> = FxMap::default();
                for (j, w) in ws.iter().enumerate() {
                    let wi = (ci * chunk + j) as u32;
                    let c = self.counts[wi as usize];
                    for p in w.windows(2) {
                        let k = key(p[0], p[1]);
                        let e = pc.entry(k).or_insert(0);
                        *e = e.saturating_add(c);
                        let v = pw.entry(k).or_default();
                        if v.last() != Some(&wi) {
                            v.push(wi);
                        }
                    }
                }
                (pc, pw)
            })
            .collect();
        for (pc, pw) in parts {
            if self.pair_counts.is_empty() {
                self.pair_counts = pc;
                self.pair_words = pw;
                continue;
            }
            for (k, c) in pc {
                let e = self.pair_counts.entry(k).or_insert(0);
                *e = e.saturating_add(c);
            }
            for (k, v) in pw {
                self.pair_words.entry(k).or_default().extend(v);
            }
        }
        let keys: Vec<u64> = self.pair_counts.keys().copied().collect();
        for &k in &keys {
            self.add_partner(k);
        }
        self.rebuild_heap();
        progress.update(self.words.len() as u64);
        progress.finish();
    }

    fn rebuild_heap(&mut self) {
        // Reuse the heap's buffer: no second copy alive at the peak.
        let mut v = std::mem::take(&mut self.heap).into_vec();
        v.clear();
        v.extend(self.pair_counts.keys().filter_map(|&k| self.entry(k)));
        self.heap = BinaryHeap::from(v);
    }

    /// The string of the token made by merging `a` and `b`.
    fn merged_string(&self, a: u32, b: u32) -> String {
        let sa = &self.vocab[a as usize];
        let sb = &self.vocab[b as usize];
        let tail = match &self.prefix {
            Some(p) => sb.strip_prefix(p.as_str()).unwrap_or(sb),
            None => sb,
        };
        let mut s = String::with_capacity(sa.len() + tail.len());
        s.push_str(sa);
        s.push_str(tail);
        s
    }

    /// Run merges until the vocabulary has `vocab_size` tokens or no pair qualifies.
    pub(crate) fn run(mut self, vocab_size: usize, progress: &dyn Progress) -> Result<MergeResult> {
        self.count_pairs(progress);
        let start_len = self.vocab.len();
        progress.start("merge", vocab_size.saturating_sub(start_len) as u64);
        let mut steps = 0u64;
        while self.vocab.len() < vocab_size {
            let Some(top) = self.heap.pop() else { break };
            let Some(cur) = self.entry(top.pair) else {
                continue;
            };
            if cur != top {
                self.heap.push(cur);
                continue;
            }
            let (a, b) = unkey(top.pair);
            let s = self.merged_string(a, b);
            let n = match self.ids.get(&s) {
                Some(&id) => id,
                None => {
                    let id = self.vocab.len() as u32;
                    self.ids.insert(s.clone(), id);
                    self.vocab.push(s);
                    if self.likelihood {
                        self.tok_freq.push(0);
                        self.partners.push(FxSet::default());
                    }
                    id
                }
            };
            self.merges.push((a, b));
            self.apply(a, b, n);
            steps += 1;
            if steps.is_multiple_of(64) {
                progress.update((self.vocab.len() - start_len) as u64);
                if progress.should_stop() {
                    return Err(Error::invalid("training interrupted"));
                }
            }
            if self.heap.len() > 2 * self.pair_counts.len() + self.rebuild_slack {
                self.rebuild_heap();
            }
        }
        progress.update((self.vocab.len() - start_len) as u64);
        progress.finish();
        Ok((self.vocab, self.merges))
    }

    fn apply(&mut self, a: u32, b: u32, n: u32) {
        let k_ab = key(a, b);
        let mut pos = self.pair_words.remove(&k_ab).unwrap_or_default();
        pos.sort_unstable();
        pos.dedup();
        // (word index, pair key, +1 | -1) for every pair occurrence that changes.
        let mut changes = std::mem::take(&mut self.changes);
        changes.clear();
        // Weighted number of merged occurrences (each consumes one `a` and one `b`).
        let mut occ: u128 = 0;
        if pos.len() >= self.par_min {
            let words = &self.words;
            let results: Vec<Rewrite> = pos
                .par_iter()
                .filter_map(|&w| {
                    let mut ch = Vec::new();
                    merge_word(&words[w as usize], a, b, n, &mut ch).map(|nw| (w, nw, ch))
                })
                .collect();
            for (w, nw, ch) in results {
                let merged = self.words[w as usize].len() - nw.len();
                occ += merged as u128 * self.counts[w as usize] as u128;
                self.words[w as usize] = nw;
                changes.extend(ch.into_iter().map(|(k, d)| (w, k, d)));
            }
        } else {
            let mut ch = Vec::new();
            for &w in &pos {
                ch.clear();
                let merged = merge_word_in_place(&mut self.words[w as usize], a, b, n, &mut ch);
                if merged > 0 {
                    occ += merged as u128 * self.counts[w as usize] as u128;
                    changes.extend(ch.iter().map(|&(k, d)| (w, k, d)));
                }
            }
        }
        let mut push = std::mem::take(&mut self.push_buf);
        let mut dec = std::mem::take(&mut self.dec_buf);
        push.clear();
        dec.clear();
        for &(w, k, d) in &changes {
            let c = self.counts[w as usize];
            if d > 0 {
                let e = self.pair_counts.entry(k).or_insert(0);
                let was = *e;
                *e = e.saturating_add(c);
                if was == 0 && self.likelihood {
                    let (x, y) = unkey(k);
                    self.partners[x as usize].insert(k);
                    self.partners[y as usize].insert(k);
                }
                let v = self.pair_words.entry(k).or_default();
                if v.last() != Some(&w) {
                    v.push(w);
                }
                push.push(k);
            } else {
                if let Some(e) = self.pair_counts.get_mut(&k) {
                    *e = e.saturating_sub(c);
                    if *e == 0 {
                        dec.push(k);
                    }
                }
            }
        }
        self.changes = changes;
        for &k in &dec {
            if self.pair_counts.get(&k) == Some(&0) {
                self.pair_counts.remove(&k);
                if k != k_ab {
                    self.pair_words.remove(&k);
                }
                self.drop_partner(k);
            }
        }
        if self.likelihood {
            let occ = u64::try_from(occ).unwrap_or(u64::MAX);
            let tf = &mut self.tok_freq;
            tf[a as usize] = tf[a as usize].saturating_sub(occ);
            tf[b as usize] = tf[b as usize].saturating_sub(occ);
            tf[n as usize] = tf[n as usize].saturating_add(occ);
            // freq(a) and freq(b) fell, so every pair with a or b now scores higher.
            for t in [a, b] {
                push.extend(self.partners[t as usize].iter().copied());
            }
        }
        push.sort_unstable();
        push.dedup();
        for &k in &push {
            if let Some(e) = self.entry(k) {
                self.heap.push(e);
            }
        }
        self.push_buf = push;
        self.dec_buf = dec;
    }
}

/// GPT-2's byte -> printable char table (bytes 33-126, 161-172, 174-255 map to themselves,
/// the rest to U+0100 upwards in order).
pub fn bytes_to_unicode() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..256u32 {
        let keep = (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        let c = if keep {
            b
        } else {
            n += 1;
            255 + n
        };
        out[b as usize] = char::from_u32(c).unwrap_or('\0');
    }
    out
}

/// Byte-level BPE: specials, the 256 byte symbols sorted by code point, then merges.
pub(crate) fn train_byte_level<S: AsRef<str>>(
    words: Vec<(S, u64)>,
    cfg: &TrainConfig,
    progress: &dyn Progress,
) -> Result<Trained> {
    let specials = cfg.specials();
    let n_special = specials.len();
    let mut vocab = specials;
    let table = bytes_to_unicode();
    let mut by_char: Vec<(char, u8)> = table
        .iter()
        .enumerate()
        .map(|(b, &c)| (c, b as u8))
        .collect();
    by_char.sort_unstable();
    let mut byte_id = [0u32; 256];
    for (c, b) in by_char {
        let s = c.to_string();
        byte_id[b as usize] = match vocab.iter().position(|v| *v == s) {
            Some(i) => i as u32,
            None => {
                vocab.push(s);
                (vocab.len() - 1) as u32
            }
        };
    }
    if cfg.vocab_size < vocab.len() {
        return Err(Error::invalid(format!(
            "vocab_size {} is smaller than the {} special tokens plus the 256-symbol byte alphabet",
            cfg.vocab_size, n_special
        )));
    }
    let (ws, cs): (Vec<Vec<u32>>, Vec<u64>) = words
        .into_iter()
        .filter(|(w, c)| *c > 0 && !w.as_ref().is_empty())
        .map(|(w, c)| (w.as_ref().bytes().map(|b| byte_id[b as usize]).collect(), c))
        .unzip();
    let engine = MergeEngine::new(vocab, ws, cs, None, cfg.score, cfg.min_frequency);
    let (vocab, merges) = engine.run(cfg.vocab_size, progress)?;
    Ok(Trained {
        config: cfg.clone(),
        vocab,
        merges,
        n_special,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{train, ModelKind, NoProgress, TrainConfig};
    use super::*;

    #[test]
    fn byte_table_is_gpt2() {
        let t = bytes_to_unicode();
        assert_eq!(t[b'a' as usize], 'a');
        assert_eq!(t[b' ' as usize], '\u{120}');
        assert_eq!(t[b'\n' as usize], '\u{10a}');
        assert_eq!(t[0], '\u{100}');
    }

    #[test]
    fn in_place_merge_equals_copying_merge() {
        let cases: [&[u32]; 6] = [
            &[1, 2, 1, 2],
            &[1, 1, 1],
            &[1, 1, 1, 1],
            &[3, 1, 2, 3, 1, 2, 2],
            &[2, 1],
            &[1],
        ];
        for w in cases {
            for (a, b) in [(1, 2), (1, 1), (2, 3), (2, 1)] {
                let (mut c1, mut c2) = (Vec::new(), Vec::new());
                let copy = merge_word(w, a, b, 9, &mut c1);
                let mut v = w.to_vec();
                let m = merge_word_in_place(&mut v, a, b, 9, &mut c2);
                assert_eq!(copy.clone().unwrap_or_else(|| w.to_vec()), v);
                assert_eq!(m, w.len() - v.len());
                assert_eq!(c1, c2);
            }
        }
    }

    #[test]
    fn merge_word_is_leftmost_non_overlapping() {
        let mut ch = Vec::new();
        assert_eq!(merge_word(&[1, 1, 1], 1, 1, 9, &mut ch), Some(vec![9, 1]));
        assert_eq!(
            merge_word(&[1, 1, 1, 1], 1, 1, 9, &mut ch),
            Some(vec![9, 9])
        );
        assert_eq!(merge_word(&[1, 2], 2, 1, 9, &mut ch), None);
        // Net changes of "a b a b" -> "n n": (a,b) -2, (b,a) -1, (n,n) +1, (n,a) 0.
        let mut ch = Vec::new();
        merge_word(&[1, 2, 1, 2], 1, 2, 9, &mut ch);
        let mut net = std::collections::BTreeMap::new();
        for (k, d) in ch {
            *net.entry(unkey(k)).or_insert(0i32) += d as i32;
        }
        net.retain(|_, v| *v != 0);
        assert_eq!(
            net.into_iter().collect::<Vec<_>>(),
            vec![((1, 2), -2), ((2, 1), -1), ((9, 9), 1)]
        );
    }

    fn small_cfg(vocab: usize) -> TrainConfig {
        let mut c = TrainConfig::new(ModelKind::Bpe);
        c.vocab_size = vocab;
        c.min_frequency = 1;
        c
    }

    #[test]
    fn bpe_merges_most_frequent_then_smallest_ids() {
        // "ab" x5, "cd" x5 (tie: smaller ids "a","b" first), "ef" x1.
        let words = vec![("ab", 5u64), ("cd", 5), ("ef", 1)];
        let t = train(&words, &small_cfg(256 + 3), &NoProgress).unwrap();
        assert_eq!(&t.vocab[256..], ["ab", "cd", "ef"]);
        let t = train(&words, &small_cfg(256 + 1), &NoProgress).unwrap();
        assert_eq!(&t.vocab[256..], ["ab"]);
    }

    #[test]
    fn pair_counts_stay_exact_with_repeats() {
        // "aaaa": (a,a) merges twice per word -> "aa aa", then (aa,aa).
        let words = vec![("aaaa", 3u64)];
        let t = train(&words, &small_cfg(256 + 2), &NoProgress).unwrap();
        assert_eq!(&t.vocab[256..], ["aa", "aaaa"]);
    }

    #[test]
    fn min_frequency_stops_training() {
        let words = vec![("ab", 1u64)];
        let mut c = small_cfg(300);
        c.min_frequency = 2;
        let t = train(&words, &c, &NoProgress).unwrap();
        assert_eq!(t.vocab.len(), 256);
    }

    #[test]
    fn bad_input() {
        let words: Vec<(&str, u64)> = vec![];
        assert!(train(&words, &small_cfg(300), &NoProgress).is_err());
        assert!(train(&[("ab", 2u64)], &small_cfg(100), &NoProgress).is_err());
    }

    /// Naive trainer: recount everything each step. Same tie rule, no shared bookkeeping.
    fn naive(
        vocab0: &[String],
        words0: &[Vec<u32>],
        counts: &[u64],
        prefix: Option<&str>,
        score: Score,
        min_f: u64,
        vocab_size: usize,
    ) -> Vec<String> {
        let likelihood = score != Score::Count;
        let mut vocab = vocab0.to_vec();
        let mut words = words0.to_vec();
        let n0: f64 = words
            .iter()
            .zip(counts)
            .map(|(w, &c)| (w.len() as u64 * c) as f64)
            .sum();
        while vocab.len() < vocab_size {
            let mut pc: std::collections::BTreeMap<(u32, u32), u64> = Default::default();
            let mut tf = vec![0u64; vocab.len()];
            for (w, &c) in words.iter().zip(counts) {
                for &s in w {
                    tf[s as usize] += c;
                }
                for p in w.windows(2) {
                    *pc.entry((p[0], p[1])).or_default() += c;
                }
            }
            let mut best: Option<Entry> = None;
            for (&(a, b), &c) in &pc {
                if c < min_f.max(1) {
                    continue;
                }
                let (fa, fb) = if likelihood {
                    (tf[a as usize], tf[b as usize])
                } else {
                    (1, 1)
                };
                let g = c as f64 * (c as f64 * n0 / (fa as f64 * fb as f64)).ln();
                let e = Entry {
                    gain: if score == Score::Gain && g > 0.0 {
                        g.to_bits()
                    } else {
                        0
                    },
                    count: c,
                    fa,
                    fb,
                    pair: key(a, b),
                };
                if best.map_or(true, |x| e > x) {
                    best = Some(e);
                }
            }
            let Some(e) = best else { break };
            let (a, b) = unkey(e.pair);
            let sb = &vocab[b as usize];
            let tail = match prefix {
                Some(p) => sb.strip_prefix(p).unwrap_or(sb),
                None => sb,
            };
            let s = format!("{}{}", vocab[a as usize], tail);
            let n = match vocab.iter().position(|v| *v == s) {
                Some(i) => i as u32,
                None => {
                    vocab.push(s);
                    (vocab.len() - 1) as u32
                }
            };
            for w in words.iter_mut() {
                let mut ch = Vec::new();
                if let Some(nw) = merge_word(w, a, b, n, &mut ch) {
                    *w = nw;
                }
            }
        }
        vocab
    }

    #[test]
    fn engine_equals_naive_on_random_corpora() {
        // xorshift: deterministic pseudo-random corpora over tiny alphabets, so repeats,
        // overlapping runs and tokens reachable by two different merges are all common.
        let mut state = 0x2545F4914F6CDD1Du64;
        let mut rnd = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for case in 0..600 {
            let n_alpha = 2 + rnd(3) as usize;
            let wp = case % 2 == 1;
            let mut vocab: Vec<String> = (0..n_alpha)
                .map(|i| ((b'a' + i as u8) as char).to_string())
                .collect();
            if wp {
                for i in 0..n_alpha {
                    vocab.push(format!("##{}", (b'a' + i as u8) as char));
                }
            }
            let n_words = 1 + rnd(40) as usize;
            let mut words = Vec::new();
            let mut counts = Vec::new();
            for _ in 0..n_words {
                let len = 1 + rnd(9) as usize;
                let w: Vec<u32> = (0..len)
                    .map(|i| {
                        let c = rnd(n_alpha as u64) as u32;
                        if wp && i > 0 {
                            c + n_alpha as u32
                        } else {
                            c
                        }
                    })
                    .collect();
                words.push(w);
                counts.push(1 + rnd(6));
            }
            let score = [Score::Count, Score::Likelihood, Score::Gain][(case / 2) % 3];
            let min_f = 1 + rnd(3);
            let target = vocab.len() + 1 + rnd(30) as usize;
            let prefix = if wp { Some("##") } else { None };
            let want = naive(&vocab, &words, &counts, prefix, score, min_f, target);
            let mut eng = MergeEngine::new(
                vocab.clone(),
                words.clone(),
                counts.clone(),
                prefix.map(String::from),
                score,
                min_f,
            );
            if case % 3 == 0 {
                eng.par_min = 1; // exercise the parallel rewrite path too
            }
            if case % 5 == 0 {
                eng.rebuild_slack = 0; // and frequent heap rebuilds
            }
            let (got, _) = eng.run(target, &super::super::NoProgress).unwrap();
            assert_eq!(
                got, want,
                "case {case}: score={score:?} wp={wp} min_f={min_f}"
            );
        }
    }
}
