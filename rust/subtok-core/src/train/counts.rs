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
    /// A readable description, e.g. `normalizer Bert { lowercase: true }, pre_tokenizer "bert"`.
    pub fn describe(&self) -> String {
        format!(
            "normalizer {:?}, pre_tokenizer {:?}",
            self.normalizer,
            self.pre_tokenizer.name()
        )
    }

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
        let ranges: Vec<(&Path, u64, u64)> =
            paths.iter().map(|p| (p.as_ref(), 0, u64::MAX)).collect();
        self.add_file_ranges(&ranges, progress)
    }

    /// Count the lines of byte ranges `(path, start, end)` of files: a range holds the lines
    /// that *start* in `[start, end)`, so ranges that tile a file count every line exactly once
    /// (as [`add_files`](Self::add_files) on the whole file does). Used to count blocks of
    /// big files on different machines.
    pub fn add_file_ranges<P: AsRef<Path>>(
        &mut self,
        ranges: &[(P, u64, u64)],
        progress: &dyn Progress,
    ) -> Result<()> {
        let mut total = 0u64;
        for (p, start, end) in ranges {
            let p = p.as_ref();
            let md = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
            if md.is_dir() {
                return Err(Error::io(
                    p,
                    std::io::Error::other("is a directory, not a file"),
                ));
            }
            total += (*end).min(md.len()).saturating_sub(*start);
        }
        progress.start("count words", total);
        let done = AtomicU64::new(0);
        let failed: Mutex<Option<Error>> = Mutex::new(None);
        let stop = AtomicBool::new(false);
        let cfg = self.cfg;
        let mut files = Vec::with_capacity(ranges.len());
        for (p, start, end) in ranges {
            files.push(ChunkReader::open(p.as_ref(), *start, *end)?);
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
    /// The final word counts, with the settings that made them (consumes the counter).
    pub fn into_counts(self) -> WordCounts {
        let cfg = self.cfg;
        WordCounts {
            cfg,
            words: self.into_word_counts(),
        }
    }

    /// Add word counts made by [`into_counts`](Self::into_counts) (possibly elsewhere); they
    /// must have been counted with this counter's normalization and pre-tokenizer.
    pub fn add_counts(&mut self, counts: &WordCounts) -> Result<()> {
        counts.check_config(self.cfg)?;
        if self.verbatim.is_empty() {
            self.verbatim = counts.words.clone();
        } else {
            for (k, v) in &counts.words {
                bump(&mut self.verbatim, k, *v);
            }
        }
        Ok(())
    }
}

/// Final word counts (normalized and pre-tokenized words) plus the [`CountConfig`] that made
/// them: what a worker sends back when counting is spread over processes or machines.
/// Counts of disjoint parts of a corpus add up to the counts of the whole corpus, so training
/// on the merged counts gives the same tokenizer as training on the whole corpus at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WordCounts {
    pub cfg: CountConfig,
    pub words: FxMap<String, u64>,
}

const COUNTS_MAGIC: &[u8; 6] = b"STWC1\0";

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

impl WordCounts {
    pub fn new(cfg: CountConfig) -> Self {
        WordCounts {
            cfg,
            words: FxMap::default(),
        }
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Sum of all counts (saturating).
    pub fn total(&self) -> u64 {
        self.words.values().fold(0u64, |a, &c| a.saturating_add(c))
    }

    fn check_config(&self, cfg: CountConfig) -> Result<()> {
        if self.cfg != cfg {
            return Err(Error::invalid(format!(
                "word counts made with {} cannot be combined with {}",
                self.cfg.describe(),
                cfg.describe()
            )));
        }
        Ok(())
    }

    /// Add `other`'s counts into `self` (the larger map is kept, the smaller one folded in).
    pub fn merge(&mut self, other: WordCounts) -> Result<()> {
        other.check_config(self.cfg)?;
        let mine = std::mem::take(&mut self.words);
        self.words = merge_maps(mine, other.words);
        Ok(())
    }

    /// A compact, deterministic byte form: header, then `varint(len) word varint(count)` per
    /// word in byte order of the words.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut entries: Vec<(&String, &u64)> = self.words.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let size: usize = entries.iter().map(|(w, _)| w.len() + 4).sum();
        let mut out = Vec::with_capacity(size + 32);
        out.extend_from_slice(COUNTS_MAGIC);
        let (norm, lower) = match self.cfg.normalizer {
            Normalizer::None => (0u8, 0u8),
            Normalizer::Lowercase => (1, 1),
            Normalizer::Bert { lowercase } => (2, lowercase as u8),
        };
        out.extend_from_slice(&[norm, lower]);
        let name = self.cfg.pre_tokenizer.name().as_bytes();
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        put_varint(&mut out, entries.len() as u64);
        for (w, c) in entries {
            put_varint(&mut out, w.len() as u64);
            out.extend_from_slice(w.as_bytes());
            put_varint(&mut out, *c);
        }
        out
    }

    /// Read the form written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let bad = || Error::invalid("not valid subtok word counts data");
        if b.len() < COUNTS_MAGIC.len() + 3 || &b[..COUNTS_MAGIC.len()] != COUNTS_MAGIC {
            return Err(bad());
        }
        let mut pos = COUNTS_MAGIC.len();
        let normalizer = match (b[pos], b[pos + 1]) {
            (0, 0) => Normalizer::None,
            (1, 1) => Normalizer::Lowercase,
            (2, l @ (0 | 1)) => Normalizer::Bert { lowercase: l == 1 },
            _ => return Err(bad()),
        };
        pos += 2;
        let nl = b[pos] as usize;
        pos += 1;
        let name = b.get(pos..pos + nl).ok_or_else(bad)?;
        pos += nl;
        let pre_tokenizer = std::str::from_utf8(name)
            .ok()
            .and_then(PreTokenizer::parse)
            .ok_or_else(bad)?;
        let n = get_varint(b, &mut pos).ok_or_else(bad)? as usize;
        let mut words = FxMap::default();
        words.reserve(n.min(b.len()));
        for _ in 0..n {
            let len = get_varint(b, &mut pos).ok_or_else(bad)? as usize;
            let end = pos.checked_add(len).ok_or_else(bad)?;
            let w = std::str::from_utf8(b.get(pos..end).ok_or_else(bad)?).map_err(|_| bad())?;
            pos = end;
            let c = get_varint(b, &mut pos).ok_or_else(bad)?;
            words.insert(w.to_owned(), c);
        }
        if pos != b.len() || words.len() != n {
            return Err(bad());
        }
        Ok(WordCounts {
            cfg: CountConfig {
                normalizer,
                pre_tokenizer,
            },
            words,
        })
    }
}

/// Reads the lines starting in a byte range of a file as UTF-8 chunks of about [`CHUNK`]
/// bytes that end at a line end.
struct ChunkReader {
    r: BufReader<std::fs::File>,
    path: PathBuf,
    offset: u64,
    end: u64,
    done: bool,
}

impl ChunkReader {
    /// Positioned at the first line that starts at or after `start`.
    fn open(path: &Path, start: u64, end: u64) -> Result<Self> {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut r = BufReader::with_capacity(1 << 16, f);
        let mut offset = 0;
        if start > 0 {
            use std::io::{Seek, SeekFrom};
            // The byte before `start` decides: a '\n' there means a line starts at `start`;
            // otherwise the line in progress belongs to the previous range.
            r.seek(SeekFrom::Start(start - 1))
                .map_err(|e| Error::io(path, e))?;
            let mut skipped = Vec::new();
            let n = r
                .read_until(b'\n', &mut skipped)
                .map_err(|e| Error::io(path, e))?;
            offset = start - 1 + n as u64;
        }
        Ok(ChunkReader {
            r,
            path: path.to_path_buf(),
            offset,
            end,
            done: false,
        })
    }
}

impl Iterator for ChunkReader {
    type Item = Result<String>;
    fn next(&mut self) -> Option<Result<String>> {
        if self.done || self.offset >= self.end {
            return None;
        }
        let limit = (CHUNK as u64).min(self.end - self.offset);
        let mut buf = Vec::with_capacity(CHUNK + 1024);
        let res = (&mut self.r)
            .take(limit)
            .read_to_end(&mut buf)
            .and_then(|n| {
                if (n as u64) < limit {
                    self.done = true;
                    Ok(())
                } else if buf.last() == Some(&b'\n') {
                    Ok(())
                } else {
                    // finish the line in progress (it started inside the range)
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

#[cfg(test)]
mod tests {
    use super::super::NoProgress;
    use super::*;

    fn cfg(pt: PreTokenizer, normalizer: Normalizer) -> CountConfig {
        CountConfig {
            normalizer,
            pre_tokenizer: pt,
        }
    }

    #[test]
    fn ranges_that_tile_a_file_count_it_exactly_once() {
        let dir = std::env::temp_dir().join(format!("subtok-ranges-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.txt");
        let text = "Hello world's  end!!\n\nsecond line here\r\nx\n\n\nÉté 世界 ٣٤ last";
        std::fs::write(&path, text).unwrap();
        for c in [
            cfg(PreTokenizer::Gpt2, Normalizer::None),
            cfg(PreTokenizer::Bert, Normalizer::Bert { lowercase: true }),
        ] {
            let mut whole = WordCounter::new(c);
            whole.add_files(&[&path], &NoProgress).unwrap();
            let whole = whole.into_counts();
            let n = text.len() as u64;
            for step in [1u64, 2, 3, 7, 20, 1000] {
                let mut total = WordCounts::new(c);
                let mut start = 0;
                while start < n {
                    let mut part = WordCounter::new(c);
                    part.add_file_ranges(&[(&path, start, start + step)], &NoProgress)
                        .unwrap();
                    total.merge(part.into_counts()).unwrap();
                    start += step;
                }
                assert_eq!(total, whole, "step {step}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn word_counts_bytes_round_trip_and_merge() {
        let c = cfg(PreTokenizer::Bert, Normalizer::Bert { lowercase: false });
        let mut a = WordCounter::new(c);
        a.add_texts(&["Hello hello, world", "naïve café 中文"]);
        let a = a.into_counts();
        let bytes = a.to_bytes();
        assert_eq!(WordCounts::from_bytes(&bytes).unwrap(), a);
        assert_eq!(a.to_bytes(), bytes, "deterministic");
        assert!(WordCounts::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(WordCounts::from_bytes(b"junk").is_err());
        let mut m = a.clone();
        m.merge(a.clone()).unwrap();
        assert_eq!(m.total(), 2 * a.total());
        assert_eq!(m.words["hello"], 2);
        let other = WordCounts::new(cfg(PreTokenizer::Gpt2, Normalizer::None));
        assert!(m.merge(other).is_err());
    }
}
