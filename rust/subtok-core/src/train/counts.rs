//! Parallel word counting with `u64` counts.
//!
//! Files are streamed in ~1 MiB chunks cut at line ends and counted on all rayon threads,
//! so memory grows with the number of unique words, never with the corpus size. Each
//! thread folds into its own map; maps are merged at the end. Results never depend on
//! the thread count (counts are sums; nothing downstream depends on map order).
use super::pretok::{self, PreTokenizer};
use super::progress::Progress;
use crate::error::{Error, Result};
use rayon::prelude::*;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// A small, fast, seedless hasher (FxHash). Seedless matters only for speed here:
/// no result depends on map iteration order.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
impl FxHasher {
    #[inline]
    fn add(&mut self, x: u64) {
        self.hash = (self.hash.rotate_left(5) ^ x).wrapping_mul(SEED);
    }
}
impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        let r = chunks.remainder();
        if !r.is_empty() {
            let mut b = [0u8; 8];
            b[..r.len()].copy_from_slice(r);
            self.add(u64::from_le_bytes(b) ^ ((r.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64)
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64)
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i)
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64)
    }
    #[inline]
    fn finish(&self) -> u64 {
        // The product's high bits are well mixed, its low bits are not (they depend only on
        // the key's low bits, e.g. the right id of a pair key); hashbrown indexes buckets with
        // the low bits, so rotate the mixed bits down.
        self.hash.rotate_left(26)
    }
}
pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub type FxSet<K> = std::collections::HashSet<K, BuildHasherDefault<FxHasher>>;

/// The text normalization applied before splitting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalizer {
    /// Text is used as is (byte-level BPE).
    None,
    /// Per-character `to_lowercase` (HF `Lowercase`).
    Lowercase,
    /// HF `BertNormalizer` (clean text, CJK padding, and if `lowercase`: strip accents + lowercase).
    Bert { lowercase: bool },
}

/// How raw text becomes words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountConfig {
    pub normalizer: Normalizer,
    pub pre_tokenizer: PreTokenizer,
}

impl CountConfig {
    /// Count the words of one text into `map`. With `per_line`, each line (with its ending)
    /// is split on its own, as HF does when it trains from files.
    pub fn count_text(&self, text: &str, per_line: bool, map: &mut FxMap<String, u64>) {
        match self.normalizer {
            // Whitespace never changes under the BERT normalizer except by being mapped to
            // a space, so we count raw whitespace-free chunks now and normalize + split
            // each unique chunk once in `finish`.
            Normalizer::Bert { .. } => {
                for chunk in text.split(pretok::is_bert_separator) {
                    if !chunk.is_empty() {
                        bump(map, chunk, 1);
                    }
                }
            }
            Normalizer::Lowercase => {
                let lower: String = text.chars().flat_map(char::to_lowercase).collect();
                self.split_into(&lower, per_line, map);
            }
            Normalizer::None => self.split_into(text, per_line, map),
        }
    }

    fn split_into(&self, text: &str, per_line: bool, map: &mut FxMap<String, u64>) {
        let line_sensitive = matches!(
            self.pre_tokenizer,
            PreTokenizer::Gpt2 | PreTokenizer::Cl100k
        );
        if per_line && line_sensitive {
            for line in text.split_inclusive('\n') {
                self.pre_tokenizer.split(line, &mut |w| bump(map, w, 1));
            }
        } else {
            self.pre_tokenizer.split(text, &mut |w| bump(map, w, 1));
        }
    }

    /// Turn the counts gathered by [`count_text`](Self::count_text) into word counts
    /// (only the BERT normalizer defers work to here).
    fn finish(&self, raw: FxMap<String, u64>) -> FxMap<String, u64> {
        let Normalizer::Bert { lowercase } = self.normalizer else {
            return raw;
        };
        let pt = self.pre_tokenizer;
        let entries: Vec<(String, u64)> = raw.into_iter().collect();
        entries
            .par_iter()
            .fold(FxMap::default, |mut m, (chunk, c)| {
                let mut s = String::with_capacity(chunk.len() + 8);
                pretok::bert_normalize(chunk, lowercase, &mut s);
                pt.split(&s, &mut |w| bump(&mut m, w, *c));
                m
            })
            .reduce(FxMap::default, merge_maps)
    }
}

#[inline]
fn bump(map: &mut FxMap<String, u64>, w: &str, c: u64) {
    if let Some(v) = map.get_mut(w) {
        *v = v.saturating_add(c);
    } else {
        map.insert(w.to_owned(), c);
    }
}

fn merge_maps(a: FxMap<String, u64>, b: FxMap<String, u64>) -> FxMap<String, u64> {
    let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    for (k, v) in small {
        let e = big.entry(k).or_insert(0);
        *e = e.saturating_add(v);
    }
    big
}

/// Accumulates word counts from files, texts and ready word counts.
pub struct WordCounter {
    cfg: CountConfig,
    raw: FxMap<String, u64>,
    verbatim: FxMap<String, u64>,
}

const CHUNK: usize = 1 << 20;

impl WordCounter {
    pub fn new(cfg: CountConfig) -> Self {
        WordCounter {
            cfg,
            raw: FxMap::default(),
            verbatim: FxMap::default(),
        }
    }

    pub fn config(&self) -> CountConfig {
        self.cfg
    }

    /// Count a batch of texts in parallel; each text is one sequence (as HF
    /// `train_from_iterator` treats it).
    pub fn add_texts<S: AsRef<str> + Sync>(&mut self, texts: &[S]) {
        let cfg = self.cfg;
        let m = texts
            .par_iter()
            .fold(FxMap::default, |mut m, t| {
                cfg.count_text(t.as_ref(), false, &mut m);
                m
            })
            .reduce(FxMap::default, merge_maps);
        let raw = std::mem::take(&mut self.raw);
        self.raw = merge_maps(raw, m);
    }

    /// Add ready word counts, used verbatim (no normalization or splitting).
    pub fn add_word(&mut self, word: &str, count: u64) {
        if !word.is_empty() && count > 0 {
            bump(&mut self.verbatim, word, count);
        }
    }

    /// Stream and count files on all threads, line by line as HF does. Fails with the
    /// file's name if it is missing, unreadable or not UTF-8.
    pub fn add_files<P: AsRef<Path>>(
        &mut self,
        paths: &[P],
        progress: &dyn Progress,
    ) -> Result<()> {
        let mut total = 0u64;
        for p in paths {
            let p = p.as_ref();
            let md = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
            if md.is_dir() {
                return Err(Error::io(
                    p,
                    std::io::Error::other("is a directory, not a file"),
                ));
            }
            total += md.len();
        }
        progress.start("count words", total);
        let done = AtomicU64::new(0);
        let failed: Mutex<Option<Error>> = Mutex::new(None);
        let stop = AtomicBool::new(false);
        let cfg = self.cfg;
        let mut files = Vec::with_capacity(paths.len());
        for p in paths {
            let p = p.as_ref().to_path_buf();
            let f = std::fs::File::open(&p).map_err(|e| Error::io(&p, e))?;
            files.push(ChunkReader {
                r: BufReader::with_capacity(1 << 16, f),
                path: p,
                offset: 0,
                done: false,
            });
        }
        let chunks = files.into_iter().flatten();
        let m = chunks
            .take_while(|_| !stop.load(Ordering::Relaxed))
            .par_bridge()
            .fold(FxMap::default, |mut m, chunk| {
                match chunk {
                    Ok(text) => {
                        cfg.count_text(&text, true, &mut m);
                        let d = done.fetch_add(text.len() as u64, Ordering::Relaxed)
                            + text.len() as u64;
                        progress.update(d);
                        if progress.should_stop() {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        let mut f = failed.lock().unwrap_or_else(|p| p.into_inner());
                        if f.is_none() {
                            *f = Some(e);
                        }
                    }
                }
                m
            })
            .reduce(FxMap::default, merge_maps);
        if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        if progress.should_stop() {
            return Err(Error::invalid("training interrupted"));
        }
        progress.update(total);
        let raw = std::mem::take(&mut self.raw);
        self.raw = merge_maps(raw, m);
        Ok(())
    }

    /// Number of distinct keys gathered so far (before BERT normalization).
    pub fn len(&self) -> usize {
        self.raw.len() + self.verbatim.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Final word counts (normalized and split), unordered.
    pub fn word_counts(&self) -> FxMap<String, u64> {
        let mut m = self.cfg.finish(self.raw.clone());
        for (k, v) in &self.verbatim {
            bump(&mut m, k, *v);
        }
        m
    }

    /// Like [`word_counts`](Self::word_counts) but consumes the counter (no copy).
    pub fn into_word_counts(self) -> FxMap<String, u64> {
        let mut m = self.cfg.finish(self.raw);
        for (k, v) in self.verbatim {
            bump(&mut m, &k, v);
        }
        m
    }
}

/// Reads a file as UTF-8 chunks of about [`CHUNK`] bytes that end at a line end.
struct ChunkReader {
    r: BufReader<std::fs::File>,
    path: PathBuf,
    offset: u64,
    done: bool,
}

impl Iterator for ChunkReader {
    type Item = Result<String>;
    fn next(&mut self) -> Option<Result<String>> {
        if self.done {
            return None;
        }
        let mut buf = Vec::with_capacity(CHUNK + 1024);
        let res = (&mut self.r)
            .take(CHUNK as u64)
            .read_to_end(&mut buf)
            .and_then(|n| {
                if n < CHUNK {
                    self.done = true;
                    Ok(())
                } else {
                    self.r.read_until(b'\n', &mut buf).map(|_| ())
                }
            });
        if let Err(e) = res {
            self.done = true;
            return Some(Err(Error::io(&self.path, e)));
        }
        if buf.is_empty() {
            self.done = true;
            return None;
        }
        let start = self.offset;
        self.offset += buf.len() as u64;
        match String::from_utf8(buf) {
            Ok(s) => Some(Ok(s)),
            Err(e) => {
                self.done = true;
                let at = start + e.utf8_error().valid_up_to() as u64;
                Some(Err(Error::malformed(
                    self.path.display().to_string(),
                    format!("not valid UTF-8 (byte offset {at})"),
                )))
            }
        }
    }
}
