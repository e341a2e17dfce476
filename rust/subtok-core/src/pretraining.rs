//! BERT pretraining instances (masked LM + next-sentence prediction), following the
//! semantics of Google's `create_pretraining_data.py` (see `bert-spec.md` §6).
//!
//! The corpus is given as already-tokenized sentences (flat ids + per-sentence lengths)
//! grouped into documents. Work is split into *tasks*: task `t` is document
//! `t % n_docs` (in the seeded shuffled order) during pass `t / n_docs`. Each task
//! draws from its own RNG stream derived from `(seed, t)`, so the output is identical
//! whatever the number of threads and however the task range is chunked.
use crate::cancel::{cancelled, Cancel};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// A small, fast, seedable PRNG (xoshiro256**, seeded through SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let s = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        Rng { s }
    }

    /// An independent stream for sub-task `stream` of a run seeded with `seed`.
    pub fn for_stream(seed: u64, stream: u64) -> Self {
        let mut x = seed ^ 0x5851_F42D_4C95_7F2D;
        let a = splitmix64(&mut x);
        let mut y = a ^ stream.wrapping_mul(0xD134_2543_DE82_EF95);
        Rng::new(splitmix64(&mut y))
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform float in [0, 1) with 53 random bits.
    pub fn random(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `[0, n)` without modulo bias (Lemire's method); `n > 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let mut m = (self.next_u64() as u128) * (n as u128);
        let mut lo = m as u64;
        if lo < n {
            let threshold = n.wrapping_neg() % n;
            while lo < threshold {
                m = (self.next_u64() as u128) * (n as u128);
                lo = m as u64;
            }
        }
        (m >> 64) as u64
    }

    /// Uniform integer in the closed range `[lo, hi]` (Python's `random.randint`); `lo <= hi`.
    pub fn randint(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below((hi - lo) as u64 + 1) as usize
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// Parameters of instance generation (names as in `create_pretraining_data.py`).
#[derive(Debug, Clone)]
pub struct PretrainingConfig {
    pub max_seq_length: usize,
    pub short_seq_prob: f64,
    pub masked_lm_prob: f64,
    pub max_predictions_per_seq: usize,
    pub whole_word_mask: bool,
    pub seed: u64,
    pub cls_id: u32,
    pub sep_id: u32,
    pub mask_id: u32,
    pub vocab_size: u32,
}

impl PretrainingConfig {
    pub fn validate(&self) -> Result<()> {
        if self.max_seq_length < 5 {
            return Err(Error::invalid(format!(
                "max_seq_length must be at least 5 ([CLS] A [SEP] B [SEP] with 2 tokens), got {}",
                self.max_seq_length
            )));
        }
        for (name, p) in [
            ("short_seq_prob", self.short_seq_prob),
            ("masked_lm_prob", self.masked_lm_prob),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::invalid(format!("{name} must be in [0, 1], got {p}")));
            }
        }
        if self.vocab_size == 0 {
            return Err(Error::invalid("vocab_size must be positive"));
        }
        for (name, id) in [
            ("cls", self.cls_id),
            ("sep", self.sep_id),
            ("mask", self.mask_id),
        ] {
            if id >= self.vocab_size {
                return Err(Error::OutOfRange(format!(
                    "{name} token id {id} is outside the vocabulary (size {})",
                    self.vocab_size
                )));
            }
        }
        Ok(())
    }
}

/// Tokenized documents: each a list of non-empty sentences, each a range of `ids`.
#[derive(Debug, Clone)]
pub struct Corpus {
    ids: Vec<u32>,
    /// Sentence `k` is `ids[sent_start[k]..sent_start[k + 1]]`.
    sent_start: Vec<usize>,
    /// Document `d` is sentences `doc_start[d]..doc_start[d + 1]`.
    doc_start: Vec<usize>,
    /// `true` for ids that continue a word (`##` pieces); empty when unused.
    is_subword: Vec<bool>,
}

impl Corpus {
    /// Builds the corpus from flat ids, per-sentence token counts and per-document sentence
    /// counts. Empty sentences and documents left empty are dropped (as Google's script does).
    pub fn new(
        ids: &[u32],
        sentence_lengths: &[i64],
        doc_sentence_counts: &[i64],
        is_subword: Vec<bool>,
    ) -> Result<Corpus> {
        let total_sentences: i64 = doc_sentence_counts.iter().try_fold(0i64, |acc, &c| {
            if c < 0 {
                Err(Error::invalid("negative document sentence count"))
            } else {
                Ok(acc + c)
            }
        })?;
        if total_sentences as usize != sentence_lengths.len() {
            return Err(Error::invalid(format!(
                "document sentence counts sum to {total_sentences} but {} sentence lengths were given",
                sentence_lengths.len()
            )));
        }
        let mut total_tokens: usize = 0;
        for &l in sentence_lengths {
            if l < 0 {
                return Err(Error::invalid("negative sentence length"));
            }
            total_tokens += l as usize;
        }
        if total_tokens != ids.len() {
            return Err(Error::invalid(format!(
                "sentence lengths sum to {total_tokens} but {} ids were given",
                ids.len()
            )));
        }
        let mut sent_start = vec![0usize];
        let mut doc_start = vec![0usize];
        let mut kept_ids = Vec::with_capacity(ids.len());
        let mut pos = 0usize;
        let mut k = 0usize;
        for &count in doc_sentence_counts {
            for _ in 0..count {
                let len = sentence_lengths[k] as usize;
                k += 1;
                if len > 0 {
                    kept_ids.extend_from_slice(&ids[pos..pos + len]);
                    sent_start.push(kept_ids.len());
                }
                pos += len;
            }
            if sent_start.len() - 1 > *doc_start.last().unwrap_or(&0) {
                doc_start.push(sent_start.len() - 1);
            }
        }
        if doc_start.len() < 2 {
            return Err(Error::invalid("the corpus has no non-empty sentence"));
        }
        Ok(Corpus {
            ids: kept_ids,
            sent_start,
            doc_start,
            is_subword,
        })
    }

    pub fn num_documents(&self) -> usize {
        self.doc_start.len() - 1
    }

    fn doc_len(&self, d: usize) -> usize {
        self.doc_start[d + 1] - self.doc_start[d]
    }

    /// Sentence `j` of document `d`.
    fn sentence(&self, d: usize, j: usize) -> &[u32] {
        let k = self.doc_start[d] + j;
        &self.ids[self.sent_start[k]..self.sent_start[k + 1]]
    }

    /// The document order used by every pass: a seeded shuffle of the documents.
    pub fn document_order(&self, seed: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.num_documents()).collect();
        Rng::new(seed).shuffle(&mut order);
        order
    }
}

/// One training instance before padding.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// `[CLS] A [SEP] B [SEP]`.
    pub tokens: Vec<u32>,
    /// Number of tokens of A (so type ids are 0 for `0..len_a + 2`, 1 after).
    pub len_a: usize,
    /// Masked positions (ascending) and the original ids there.
    pub masked_positions: Vec<usize>,
    pub masked_labels: Vec<u32>,
    pub is_random_next: bool,
}

/// Google's `truncate_seq_pair` on windows `[lo, hi)` of two buffers.
fn truncate_pair(
    a: &mut (usize, usize),
    b: &mut (usize, usize),
    max_num_tokens: usize,
    rng: &mut Rng,
) {
    loop {
        let (la, lb) = (a.1 - a.0, b.1 - b.0);
        if la + lb <= max_num_tokens {
            break;
        }
        let t = if la > lb { &mut *a } else { &mut *b };
        if rng.random() < 0.5 {
            t.0 += 1;
        } else {
            t.1 -= 1;
        }
    }
}

/// Python's `round()` for non-negative values (ties to even).
fn round_half_even(x: f64) -> usize {
    x.round_ties_even().max(0.0) as usize
}

/// Google's `create_masked_lm_predictions`: returns the masked token list, positions and labels.
fn mask_instance(
    tokens: &mut [u32],
    len_a: usize,
    corpus: &Corpus,
    cfg: &PretrainingConfig,
    rng: &mut Rng,
) -> (Vec<usize>, Vec<u32>) {
    let n = tokens.len();
    let sep_a = len_a + 1;
    // Candidate groups as (start, end) ranges of consecutive positions.
    let mut groups: Vec<(usize, usize)> = Vec::with_capacity(n);
    let wwm = cfg.whole_word_mask && !corpus.is_subword.is_empty();
    for (i, &t) in tokens.iter().enumerate().take(n.saturating_sub(1)).skip(1) {
        if i == sep_a || t == cfg.cls_id || t == cfg.sep_id {
            continue;
        }
        let continues = wwm
            && corpus.is_subword.get(t as usize).copied().unwrap_or(false)
            && groups.last().is_some_and(|g| g.1 == i);
        match groups.last_mut() {
            Some(g) if continues => g.1 = i + 1,
            _ => groups.push((i, i + 1)),
        }
    }
    rng.shuffle(&mut groups);
    let num_to_predict = cfg
        .max_predictions_per_seq
        .min(round_half_even(n as f64 * cfg.masked_lm_prob).max(1));
    let mut picked: Vec<usize> = Vec::with_capacity(num_to_predict);
    for &(s, e) in &groups {
        if picked.len() >= num_to_predict {
            break;
        }
        if picked.len() + (e - s) > num_to_predict {
            continue;
        }
        picked.extend(s..e);
    }
    picked.sort_unstable();
    let labels: Vec<u32> = picked.iter().map(|&p| tokens[p]).collect();
    // Decide replacements in ascending position order.
    for &p in &picked {
        if rng.random() < 0.8 {
            tokens[p] = cfg.mask_id;
        } else if rng.random() < 0.5 {
            // keep the original token
        } else {
            tokens[p] = rng.below(cfg.vocab_size as u64) as u32;
        }
    }
    (picked, labels)
}

/// Google's `create_instances_from_document` for one task.
fn instances_from_document(
    corpus: &Corpus,
    order: &[usize],
    doc_index: usize,
    cfg: &PretrainingConfig,
    rng: &mut Rng,
    out: &mut Vec<Instance>,
) {
    let n_docs = order.len();
    let doc = order[doc_index];
    let doc_len = corpus.doc_len(doc);
    let max_num_tokens = cfg.max_seq_length - 3;
    let mut target = max_num_tokens;
    if rng.random() < cfg.short_seq_prob {
        target = rng.randint(2, max_num_tokens);
    }
    let mut chunk_start = 0usize; // first sentence index of the current chunk
    let mut current_length = 0usize;
    let mut i = 0usize;
    let mut a_buf: Vec<u32> = Vec::new();
    let mut b_buf: Vec<u32> = Vec::new();
    while i < doc_len {
        if cancelled() {
            return; // the caller reports the cancellation
        }
        current_length += corpus.sentence(doc, i).len();
        if i == doc_len - 1 || current_length >= target {
            let chunk_len = i + 1 - chunk_start;
            let a_end = if chunk_len >= 2 {
                rng.randint(1, chunk_len - 1)
            } else {
                1
            };
            a_buf.clear();
            for j in chunk_start..chunk_start + a_end {
                a_buf.extend_from_slice(corpus.sentence(doc, j));
            }
            b_buf.clear();
            let is_random_next = chunk_len == 1 || rng.random() < 0.5;
            if is_random_next {
                let target_b = target.saturating_sub(a_buf.len());
                let mut rd = 0usize;
                for _ in 0..10 {
                    rd = rng.randint(0, n_docs - 1);
                    if rd != doc_index {
                        break;
                    }
                }
                let rdoc = order[rd];
                let rlen = corpus.doc_len(rdoc);
                let start = rng.randint(0, rlen - 1);
                for j in start..rlen {
                    b_buf.extend_from_slice(corpus.sentence(rdoc, j));
                    if b_buf.len() >= target_b {
                        break;
                    }
                }
                // Put the unused sentences of the chunk back.
                i -= chunk_len - a_end;
            } else {
                for j in chunk_start + a_end..=i {
                    b_buf.extend_from_slice(corpus.sentence(doc, j));
                }
            }
            let mut wa = (0usize, a_buf.len());
            let mut wb = (0usize, b_buf.len());
            truncate_pair(&mut wa, &mut wb, max_num_tokens, rng);
            let len_a = wa.1 - wa.0;
            let mut tokens = Vec::with_capacity(len_a + (wb.1 - wb.0) + 3);
            tokens.push(cfg.cls_id);
            tokens.extend_from_slice(&a_buf[wa.0..wa.1]);
            tokens.push(cfg.sep_id);
            tokens.extend_from_slice(&b_buf[wb.0..wb.1]);
            tokens.push(cfg.sep_id);
            let (masked_positions, masked_labels) =
                mask_instance(&mut tokens, len_a, corpus, cfg, rng);
            out.push(Instance {
                tokens,
                len_a,
                masked_positions,
                masked_labels,
                is_random_next,
            });
            chunk_start = i + 1;
            current_length = 0;
        }
        i += 1;
    }
}

/// Instances of tasks `task_start..task_end` (task `t` = pass `t / n_docs`, document `t % n_docs`
/// of `order`), in task order. Parallel over tasks; the result does not depend on the thread count.
pub fn create_instances(
    corpus: &Corpus,
    order: &[usize],
    cfg: &PretrainingConfig,
    task_start: usize,
    task_end: usize,
) -> Result<Vec<Instance>> {
    cfg.validate()?;
    let n_docs = order.len();
    if n_docs != corpus.num_documents() || order.iter().any(|&d| d >= n_docs) {
        return Err(Error::invalid("document order does not match the corpus"));
    }
    if task_start > task_end {
        return Err(Error::invalid("task_start > task_end"));
    }
    let cancel = Cancel::current();
    let per_task: Vec<Vec<Instance>> = (task_start..task_end)
        .into_par_iter()
        .map(|t| {
            let mut out = Vec::new();
            if !cancel.is_set() {
                let mut rng = Rng::for_stream(cfg.seed, t as u64);
                cancel.enter(|| {
                    instances_from_document(corpus, order, t % n_docs, cfg, &mut rng, &mut out)
                });
            }
            out
        })
        .collect();
    if cancel.is_set() {
        // Freeing the instances made so far can take longer than the caller should wait for
        // Ctrl-C to take effect: a background thread frees them.
        drop_in_background(per_task);
        return Err(Error::Cancelled);
    }
    Ok(per_task.into_iter().flatten().collect())
}

/// Drop `value` on a new thread (if none can be started, the failed spawn drops it here).
fn drop_in_background<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("subtok-free".into())
        .spawn(move || drop(value));
}

/// Padded, fixed-shape arrays (row-major) for a list of instances.
#[derive(Debug, Clone, Default)]
pub struct InstanceArrays {
    pub n: usize,
    pub input_ids: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    pub attention_mask: Vec<i64>,
    pub masked_lm_positions: Vec<i64>,
    pub masked_lm_ids: Vec<i64>,
    pub masked_lm_weights: Vec<f32>,
    pub next_sentence_labels: Vec<i64>,
}

/// The final order of a run's `n` instances (Google shuffles all instances at the end):
/// output row `r` is instance `perm[r]` of the task-ordered list.
pub fn instance_permutation(seed: u64, n: usize) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..n).collect();
    Rng::for_stream(seed, u64::MAX).shuffle(&mut perm);
    perm
}

/// Reorders instances by [`instance_permutation`].
pub fn shuffle_instances(instances: Vec<Instance>, seed: u64) -> Vec<Instance> {
    let perm = instance_permutation(seed, instances.len());
    let mut slots: Vec<Option<Instance>> = instances.into_iter().map(Some).collect();
    perm.iter().filter_map(|&p| slots[p].take()).collect()
}

/// The end of a run: [`shuffle_instances`] (when `shuffle_seed` is given), then [`to_arrays`].
/// Cancellable between and inside the steps, which on millions of instances take seconds; the
/// instances are freed on a background thread, so neither a result nor Ctrl-C waits for that.
pub fn finish_instances(
    instances: Vec<Instance>,
    shuffle_seed: Option<u64>,
    max_seq_length: usize,
    max_predictions: usize,
) -> Result<InstanceArrays> {
    let cancel = Cancel::current();
    let instances = match shuffle_seed {
        Some(seed) if !cancel.is_set() => shuffle_instances(instances, seed),
        _ => instances,
    };
    let arrays = if cancel.is_set() {
        Err(Error::Cancelled)
    } else {
        to_arrays(&instances, max_seq_length, max_predictions)
    };
    drop_in_background(instances);
    cancel.check()?;
    arrays
}

/// Writes instances into zero-padded arrays of widths `max_seq_length` and `max_predictions`
/// (rows are skipped once the calling thread's run is cancelled; the caller checks).
pub fn to_arrays(
    instances: &[Instance],
    max_seq_length: usize,
    max_predictions: usize,
) -> Result<InstanceArrays> {
    let n = instances.len();
    if instances
        .iter()
        .any(|x| x.tokens.len() > max_seq_length || x.masked_positions.len() > max_predictions)
    {
        return Err(Error::invalid("instance longer than the output arrays"));
    }
    let (l, p) = (max_seq_length, max_predictions);
    let cancel = Cancel::current();
    let mut a = InstanceArrays {
        n,
        input_ids: vec![0; n * l],
        token_type_ids: vec![0; n * l],
        attention_mask: vec![0; n * l],
        masked_lm_positions: vec![0; n * p],
        masked_lm_ids: vec![0; n * p],
        masked_lm_weights: vec![0.0; n * p],
        next_sentence_labels: instances.iter().map(|x| x.is_random_next as i64).collect(),
    };
    if l > 0 {
        a.input_ids
            .par_chunks_mut(l)
            .zip(a.token_type_ids.par_chunks_mut(l))
            .zip(a.attention_mask.par_chunks_mut(l))
            .zip(instances.par_iter())
            .for_each(|(((ids, types), att), inst)| {
                if cancel.is_set() {
                    return;
                }
                for (j, &t) in inst.tokens.iter().enumerate() {
                    ids[j] = t as i64;
                    att[j] = 1;
                }
                for t in types
                    .iter_mut()
                    .take(inst.tokens.len())
                    .skip(inst.len_a + 2)
                {
                    *t = 1;
                }
            });
    }
    if p > 0 {
        a.masked_lm_positions
            .par_chunks_mut(p)
            .zip(a.masked_lm_ids.par_chunks_mut(p))
            .zip(a.masked_lm_weights.par_chunks_mut(p))
            .zip(instances.par_iter())
            .for_each(|(((pos, ids), w), inst)| {
                if cancel.is_set() {
                    return;
                }
                for (j, (&q, &lab)) in inst
                    .masked_positions
                    .iter()
                    .zip(&inst.masked_labels)
                    .enumerate()
                {
                    pos[j] = q as i64;
                    ids[j] = lab as i64;
                    w[j] = 1.0;
                }
            });
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max_seq_length: usize, wwm: bool) -> PretrainingConfig {
        PretrainingConfig {
            max_seq_length,
            short_seq_prob: 0.1,
            masked_lm_prob: 0.15,
            max_predictions_per_seq: 20,
            whole_word_mask: wwm,
            seed: 7,
            cls_id: 1,
            sep_id: 2,
            mask_id: 3,
            vocab_size: 1000,
        }
    }

    /// Documents whose token ids encode (document, sentence, position) so contiguity is checkable:
    /// id = 100 + 100 * doc + 10 * sentence + position (ids < 1000, all >= 100).
    fn corpus(n_docs: usize, n_sent: usize, sent_len: usize) -> Corpus {
        let mut ids = Vec::new();
        let mut lens = Vec::new();
        let mut counts = Vec::new();
        for d in 0..n_docs {
            for s in 0..n_sent {
                for p in 0..sent_len {
                    ids.push((100 + 100 * d + 10 * s + p) as u32);
                }
                lens.push(sent_len as i64);
            }
            counts.push(n_sent as i64);
        }
        Corpus::new(&ids, &lens, &counts, vec![]).unwrap()
    }

    #[test]
    fn rng_ranges_and_uniformity() {
        let mut r = Rng::new(1);
        let mut hist = [0usize; 5];
        for _ in 0..50_000 {
            let x = r.randint(3, 7);
            assert!((3..=7).contains(&x));
            hist[x - 3] += 1;
            let f = r.random();
            assert!((0.0..1.0).contains(&f));
        }
        for h in hist {
            assert!((9_000..11_000).contains(&h), "{hist:?}");
        }
    }

    #[test]
    fn corpus_drops_empty_sentences_and_documents() {
        let c = Corpus::new(&[5, 6, 7], &[0, 2, 0, 1], &[1, 0, 2, 1], vec![]).unwrap();
        assert_eq!(c.num_documents(), 2);
        assert_eq!(c.sentence(0, 0), &[5, 6]);
        assert_eq!(c.sentence(1, 0), &[7]);
        assert!(Corpus::new(&[], &[0], &[1], vec![]).is_err());
        assert!(Corpus::new(&[5], &[2], &[1], vec![]).is_err());
        assert!(Corpus::new(&[5], &[1], &[2], vec![]).is_err());
    }

    #[test]
    fn layout_lengths_and_contiguity() {
        let c = corpus(6, 8, 5);
        let order = c.document_order(3);
        let cf = cfg(24, false);
        let inst = create_instances(&c, &order, &cf, 0, 6 * 3).unwrap();
        assert!(!inst.is_empty());
        for x in &inst {
            let n = x.tokens.len();
            assert!(n <= 24);
            assert_eq!(x.tokens[0], 1);
            assert_eq!(x.tokens[x.len_a + 1], 2);
            assert_eq!(x.tokens[n - 1], 2);
            assert!(x.len_a >= 1 && n - x.len_a - 3 >= 1);
            assert!(x.masked_positions.len() <= 20);
        }
        // Unmasked reconstruction: original ids at masked positions.
        for x in &inst {
            let mut t = x.tokens.clone();
            for (&p, &l) in x.masked_positions.iter().zip(&x.masked_labels) {
                t[p] = l;
            }
            let a = &t[1..x.len_a + 1];
            // consecutive ids within a document: each step is +1 in-sentence or to next sentence start
            for w in a.windows(2) {
                let (d0, d1) = (w[0] / 100, w[1] / 100);
                assert_eq!(d0, d1, "A spans documents");
                assert!(
                    w[1] == w[0] + 1 || (w[1] % 10 == 0 && w[1] / 10 == w[0] / 10 + 1),
                    "{a:?}"
                );
            }
        }
    }

    #[test]
    fn chunking_and_threads_do_not_change_output() {
        let c = corpus(5, 7, 4);
        let order = c.document_order(9);
        let cf = cfg(20, true);
        let all = create_instances(&c, &order, &cf, 0, 15).unwrap();
        let mut parts = create_instances(&c, &order, &cf, 0, 4).unwrap();
        parts.extend(create_instances(&c, &order, &cf, 4, 15).unwrap());
        assert_eq!(all, parts);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let one = pool.install(|| create_instances(&c, &order, &cf, 0, 15).unwrap());
        assert_eq!(all, one);
    }

    #[test]
    fn truncation_alternates_longer_side() {
        let mut rng = Rng::new(0);
        let mut a = (0, 10);
        let mut b = (0, 3);
        truncate_pair(&mut a, &mut b, 6, &mut rng);
        assert_eq!(a.1 - a.0, 3);
        assert_eq!(b.1 - b.0, 3);
        let mut a = (0, 4);
        let mut b = (0, 4);
        truncate_pair(&mut a, &mut b, 7, &mut rng);
        assert_eq!((a.1 - a.0, b.1 - b.0), (4, 3)); // tie -> B
    }

    #[test]
    fn shuffle_instances_follows_the_permutation() {
        let c = corpus(4, 5, 3);
        let order = c.document_order(1);
        let inst = create_instances(&c, &order, &cfg(16, false), 0, 8).unwrap();
        let perm = instance_permutation(5, inst.len());
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..inst.len()).collect::<Vec<_>>());
        assert_ne!(perm, sorted);
        let shuffled = shuffle_instances(inst.clone(), 5);
        for (r, &q) in perm.iter().enumerate() {
            assert_eq!(shuffled[r], inst[q]);
        }
        let arr = to_arrays(&shuffled, 16, 20).unwrap();
        assert_eq!(arr.input_ids.len(), 16 * inst.len());
        let x = &shuffled[0];
        assert_eq!(arr.input_ids[0], 1);
        assert_eq!(
            arr.attention_mask[..16].iter().sum::<i64>() as usize,
            x.tokens.len()
        );
        assert_eq!(
            arr.token_type_ids[..16].iter().sum::<i64>() as usize,
            x.tokens.len() - x.len_a - 2
        );
    }

    #[test]
    fn round_matches_python() {
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(3.5), 4);
        assert_eq!(round_half_even(0.45), 0);
    }

    #[test]
    fn bad_config_is_an_error() {
        let c = corpus(2, 2, 2);
        let order = c.document_order(0);
        let mut cf = cfg(4, false);
        assert!(create_instances(&c, &order, &cf, 0, 2).is_err());
        cf.max_seq_length = 10;
        cf.masked_lm_prob = 1.5;
        assert!(create_instances(&c, &order, &cf, 0, 2).is_err());
        cf.masked_lm_prob = 0.15;
        cf.mask_id = 5000;
        assert!(create_instances(&c, &order, &cf, 0, 2).is_err());
    }
}
