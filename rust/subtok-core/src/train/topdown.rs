//! Top-down WordPiece learning, after tensorflow-text's `bert_vocab_from_dataset`
//! (the learner published with BERT's vocabulary tools).
//!
//! For a count threshold `t` the learner runs a few passes. Each pass splits every word
//! at "start" positions — in the first pass every character position, later the piece
//! boundaries of a greedy longest-match segmentation with the previous pass's vocabulary —
//! and counts, for each start, the rest of the word from there (`##rest` after the first
//! position). The pieces counted at least `t` times, plus every character and `##`
//! character, form the next vocabulary. (tensorflow-text counts every substring from each
//! start and then subtracts the counts of all longer tokens from their prefixes; what is
//! left is exactly this count of whole remainders, which is what we compute directly.)
//! A binary search over `t` finds a vocabulary of at most `vocab_size` tokens, within
//! 5% of it when the search allows.
//!
//! Inputs follow tensorflow-text: words longer than 50 characters are dropped, and so are
//! words holding a character outside the `limit_alphabet` most frequent ones. The lower
//! end of the threshold search is `min_frequency` (tensorflow-text uses 10, which leaves
//! small corpora far below the requested size).
//!
//! Vocabulary order: specials, the characters by code point, then the learned tokens by
//! descending count (ties by string), `##` characters included.
use super::counts::{FxMap, FxSet};
use super::progress::Progress;
use super::wordpiece::kept_alphabet;
use super::{TrainConfig, Trained};
use crate::error::{Error, Result};

const MAX_TOKEN_CHARS: usize = 50;
const PASSES: usize = 4;
const SLACK: f64 = 0.05;

struct Word<'a> {
    text: &'a str,
    /// Byte offset of every character, plus `text.len()`.
    bounds: Vec<usize>,
    count: u64,
}

/// Longest-match-first split of `w` with `plain` (first piece) and `cont` (the others,
/// without their `##`); returns the byte offsets where pieces start, or `None` when a
/// position has no piece (never, while every character is in the vocabulary).
fn starts(w: &Word<'_>, plain: &FxSet<&str>, cont: &FxSet<&str>, out: &mut Vec<usize>) -> bool {
    out.clear();
    let n = w.bounds.len() - 1;
    let mut i = 0;
    while i < n {
        out.push(w.bounds[i]);
        let set = if i == 0 { plain } else { cont };
        let mut j = n;
        while j > i && !set.contains(&w.text[w.bounds[i]..w.bounds[j]]) {
            j -= 1;
        }
        if j == i {
            return false;
        }
        i = j;
    }
    true
}

/// One threshold: the learned tokens `(is_continuation, text, count)` (characters excluded).
fn learn_with_threshold<'a>(
    words: &[Word<'a>],
    chars: &[&'a str],
    t: u64,
) -> Vec<(bool, &'a str, u64)> {
    let mut plain: FxSet<&str> = chars.iter().copied().collect();
    let mut cont: FxSet<&str> = plain.clone();
    let mut learned = Vec::new();
    let mut buf = Vec::new();
    for pass in 0..PASSES {
        let mut rest: FxMap<&str, u64> = FxMap::default();
        let mut whole: Vec<(&str, u64)> = Vec::new();
        for w in words {
            if pass == 0 {
                buf.clear();
                buf.extend_from_slice(&w.bounds[..w.bounds.len() - 1]);
            } else if !starts(w, &plain, &cont, &mut buf) {
                continue;
            }
            // Start 0: the remainder is the whole word, counted once per unique word.
            if w.count >= t {
                whole.push((w.text, w.count));
            }
            for &b in &buf[1..] {
                *rest.entry(&w.text[b..]).or_insert(0) += w.count;
            }
        }
        learned.clear();
        learned.extend(whole.iter().map(|&(s, c)| (false, s, c)));
        learned.extend(
            rest.iter()
                .filter(|(_, &c)| c >= t)
                .map(|(&s, &c)| (true, s, c)),
        );
        plain = chars.iter().copied().collect();
        cont = plain.clone();
        for &(is_cont, s, _) in &learned {
            if is_cont {
                cont.insert(s);
            } else {
                plain.insert(s);
            }
        }
    }
    learned
}

fn vocabulary(cfg: &TrainConfig, chars: &[&str], learned: &[(bool, &str, u64)]) -> Vec<String> {
    let prefix = &cfg.continuing_subword_prefix;
    let mut vocab = cfg.specials();
    let mut seen: FxSet<String> = vocab.iter().cloned().collect();
    let mut push = |s: String, vocab: &mut Vec<String>| {
        if seen.insert(s.clone()) {
            vocab.push(s);
        }
    };
    for c in chars {
        push(c.to_string(), &mut vocab);
    }
    // Learned tokens and the `##` characters (count 1 unless learned), by count then text.
    let mut items: FxMap<String, u64> = FxMap::default();
    for c in chars {
        items.insert(format!("{prefix}{c}"), 1);
    }
    for &(is_cont, s, c) in learned {
        let k = if is_cont {
            format!("{prefix}{s}")
        } else {
            s.to_string()
        };
        items.insert(k, c);
    }
    let mut items: Vec<(String, u64)> = items.into_iter().collect();
    items.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (s, _) in items {
        push(s, &mut vocab);
    }
    vocab
}

pub(crate) fn train_topdown<S: AsRef<str>>(
    words: Vec<(S, u64)>,
    cfg: &TrainConfig,
    progress: &dyn Progress,
) -> Result<Trained> {
    let words: Vec<(S, u64)> = words
        .into_iter()
        .filter(|(w, c)| {
            let w = w.as_ref();
            *c > 0
                && !w.is_empty()
                && w.chars().count() <= MAX_TOKEN_CHARS
                && !cfg.special_tokens.iter().any(|s| s == w)
        })
        .collect();
    // Alphabet: the `limit_alphabet` most frequent characters.
    let allowed: FxSet<char> = kept_alphabet(&words, cfg.limit_alphabet)
        .into_iter()
        .collect();
    let mut ws: Vec<Word<'_>> = words
        .iter()
        .filter(|(w, _)| w.as_ref().chars().all(|c| allowed.contains(&c)))
        .map(|(w, c)| {
            let text = w.as_ref();
            let mut bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            bounds.push(text.len());
            Word {
                text,
                bounds,
                count: *c,
            }
        })
        .collect();
    if ws.is_empty() {
        return Err(Error::invalid("empty corpus: no words to train on"));
    }
    ws.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.text.cmp(b.text)));
    // The characters of the kept words, as `&str` slices into them.
    let mut char_strs: FxMap<char, &str> = FxMap::default();
    for w in &ws {
        for (k, ch) in w.text.char_indices() {
            char_strs.entry(ch).or_insert(&w.text[k..k + ch.len_utf8()]);
        }
    }
    let mut chars: Vec<&str> = char_strs.into_values().collect();
    chars.sort_unstable();
    let base = cfg.specials().len() + 2 * chars.len();
    if cfg.vocab_size < base {
        return Err(Error::invalid(format!(
            "vocab_size {} is smaller than the special tokens plus the {}-symbol alphabet; \
             raise vocab_size or lower limit_alphabet",
            cfg.vocab_size, base
        )));
    }
    // Binary search on the threshold (tensorflow-text's `learn_binary_search`).
    let mut lo = cfg.min_frequency.max(1);
    let mut hi = ws.iter().map(|w| w.count).max().unwrap_or(1).max(lo);
    let steps = 64 - (hi - lo + 1).leading_zeros() as u64;
    progress.start("top-down search", steps.max(1));
    let target = cfg.vocab_size;
    let slack = (SLACK * target as f64) as usize;
    let mut best: Option<Vec<String>> = None;
    loop {
        let t = lo + (hi - lo) / 2;
        let vocab = vocabulary(cfg, &chars, &learn_with_threshold(&ws, &chars, t));
        progress.update(1);
        if progress.should_stop() {
            return Err(Error::invalid("training interrupted"));
        }
        let n = vocab.len();
        if n <= target && best.as_ref().is_none_or(|b| n > b.len()) {
            best = Some(vocab);
        }
        if (n <= target && target - n <= slack) || lo >= hi {
            break;
        }
        if n > target {
            lo = t + 1;
        } else {
            if t == lo {
                break;
            }
            hi = t - 1;
        }
    }
    progress.finish();
    // Every threshold gave too many tokens: keep the most frequent ones.
    let vocab = match best {
        Some(v) => v,
        None => {
            let mut v = vocabulary(cfg, &chars, &learn_with_threshold(&ws, &chars, hi));
            v.truncate(target);
            v
        }
    };
    Ok(Trained {
        config: cfg.clone(),
        n_special: cfg.specials().len(),
        vocab,
        merges: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{train, ModelKind, NoProgress, Score, TrainConfig};
    use super::{learn_with_threshold, Word};

    fn cfg(vocab: usize) -> TrainConfig {
        let mut c = TrainConfig::new(ModelKind::WordPiece);
        c.score = Score::TopDown;
        c.vocab_size = vocab;
        c
    }

    #[test]
    fn frequent_words_and_suffixes_are_learned() {
        // Frequent stems, rarer inflected forms: later passes split "walking" as walk ##ing,
        // so the shared suffix is counted (3 x 3) and learned while the rare words are not.
        let words = [
            ("walk", 40u64),
            ("talk", 40),
            ("jump", 40),
            ("walking", 3),
            ("talking", 3),
            ("jumping", 3),
            ("the", 100),
            ("zq", 1),
        ];
        let ws: Vec<Word<'_>> = words
            .iter()
            .map(|&(text, count)| Word {
                text,
                bounds: (0..=text.len()).collect(),
                count,
            })
            .collect();
        let chars: Vec<&str> = vec![
            "a", "e", "g", "h", "i", "j", "k", "l", "m", "n", "p", "q", "t", "u", "w", "z",
        ];
        let mut got = learn_with_threshold(&ws, &chars, 4);
        got.sort_unstable();
        let want = vec![
            (false, "jump", 40),
            (false, "talk", 40),
            (false, "the", 100),
            (false, "walk", 40),
            (true, "ing", 9),
        ];
        assert_eq!(got, want);
        // Threshold 3: the inflected words are frequent enough to be whole tokens.
        let got = learn_with_threshold(&ws, &chars, 3);
        assert!(got.contains(&(false, "walking", 3)) && !got.iter().any(|t| t.1 == "ing"));
        // Through train(): specials, characters by code point, then tokens by count.
        let t = train(&words, &cfg(200), &NoProgress).unwrap();
        assert_eq!(
            &t.vocab[..6],
            &["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"]
        );
        assert!(t.vocab.iter().any(|v| v == "##q") && !t.vocab.iter().any(|v| v == "zq"));
    }

    #[test]
    fn size_is_at_most_the_target() {
        let text = "the quick brown fox jumps over the lazy dog and the dog sleeps while foxes run";
        let words: Vec<(String, u64)> = text
            .split(' ')
            .enumerate()
            .map(|(i, w)| (w.to_string(), 2 + (i as u64 % 7)))
            .collect();
        let base = train(&words, &cfg(1000), &NoProgress).unwrap().vocab.len();
        for target in [base - 3, base, base + 50] {
            let t = train(&words, &cfg(target), &NoProgress).unwrap();
            assert!(t.vocab.len() <= target, "{} > {target}", t.vocab.len());
        }
    }
}
