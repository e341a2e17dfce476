//! Tokenizer training: byte-level BPE and WordPiece (HF-compatible count score by default;
//! likelihood, likelihood-gain and top-down learners as options).
//!
//! Pipeline: [`counts::WordCounter`] streams files / texts and counts words in parallel
//! (`u64`), then [`train`] builds the alphabet and runs the merge loop
//! ([`bpe::MergeEngine`]), and [`Trained`] renders an HF `tokenizer.json`
//! ([`json`]) plus `vocab.txt` or `vocab.json` + `merges.txt`.
//!
//! Vocabulary order: special tokens, then the alphabet (sorted by code point; for WordPiece
//! the plain characters, then the `##` continuation characters), then merged tokens in
//! the order they were learned.
//!
//! Tie rule (documented, independent of hashing and thread count): among candidate pairs
//! the one with the highest score wins (count for `Score::Count`; count/(freq(a)·freq(b))
//! for `Score::Likelihood`, compared exactly by cross-multiplication), then the higher pair
//! count, then the smallest `(left id, right id)`. For count scores this is HF's rule.
pub mod bpe;
pub mod counts;
pub mod json;
pub mod pretok;
pub mod progress;
pub mod topdown;
pub mod wordpiece;

use crate::error::{Error, Result};
pub use counts::{CountConfig, Normalizer, WordCounter};
pub use pretok::PreTokenizer;
pub use progress::{NoProgress, Progress, StderrBar};

/// Which model to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// Byte-level BPE (GPT-2 style): the alphabet is the 256 byte symbols.
    Bpe,
    /// WordPiece with `##` continuation pieces.
    WordPiece,
}

/// How candidate pairs are scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Score {
    /// Raw pair count (BPE; HF's `WordPieceTrainer`; the WordPiece default).
    Count,
    /// freq(ab) / (freq(a)·freq(b)) (the WordPiece criterion, bert-spec §4).
    Likelihood,
    /// The rise of the corpus log-likelihood under a unigram model when the pair merges:
    /// freq(ab)·ln(freq(ab)·N / (freq(a)·freq(b))), N the initial number of symbols. The
    /// likelihood criterion weighted by the pair's frequency, so rare pairs do not win.
    Gain,
    /// WordPiece only: the top-down learner of tensorflow-text's `bert_vocab_from_dataset`
    /// (substring counts with a frequency threshold found by binary search), no merge loop.
    TopDown,
}

impl Score {
    /// The name used by the Python API and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Score::Count => "count",
            Score::Likelihood => "likelihood",
            Score::Gain => "gain",
            Score::TopDown => "topdown",
        }
    }

    /// Parse a name given by [`Score::name`].
    pub fn parse(s: &str) -> Result<Score> {
        Ok(match s {
            "count" => Score::Count,
            "likelihood" => Score::Likelihood,
            "gain" => Score::Gain,
            "topdown" => Score::TopDown,
            _ => {
                return Err(Error::invalid(format!(
                    "score must be 'gain', 'count', 'likelihood' or 'topdown', got {s:?}"
                )))
            }
        })
    }
}

/// Training settings.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub model: ModelKind,
    pub vocab_size: usize,
    /// Pairs seen fewer times than this are never merged.
    pub min_frequency: u64,
    pub special_tokens: Vec<String>,
    /// WordPiece only: keep at most this many characters (the most frequent). Byte-level
    /// BPE always keeps its 256 byte symbols.
    pub limit_alphabet: Option<usize>,
    pub score: Score,
    pub lowercase: bool,
    pub pre_tokenizer: PreTokenizer,
    pub unk_token: String,
    pub continuing_subword_prefix: String,
    pub max_input_chars_per_word: usize,
}

impl TrainConfig {
    /// Defaults for a model: BPE = GPT-2 split, count score, no specials, cased;
    /// WordPiece = BERT pipeline, count score, `[PAD] [UNK] [CLS] [SEP] [MASK]`, uncased,
    /// limit_alphabet 1000.
    pub fn new(model: ModelKind) -> Self {
        match model {
            ModelKind::Bpe => TrainConfig {
                model,
                vocab_size: 30000,
                min_frequency: 2,
                special_tokens: Vec::new(),
                limit_alphabet: None,
                score: Score::Count,
                lowercase: false,
                pre_tokenizer: PreTokenizer::Gpt2,
                unk_token: "[UNK]".into(),
                continuing_subword_prefix: "##".into(),
                max_input_chars_per_word: 100,
            },
            ModelKind::WordPiece => TrainConfig {
                model,
                vocab_size: 30000,
                min_frequency: 2,
                special_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                limit_alphabet: Some(1000),
                // The best held-out compression of the learners (HF's WordPieceTrainer's
                // criterion); see python/subtok/training.py for the measured trade-off.
                score: Score::Count,
                lowercase: true,
                pre_tokenizer: PreTokenizer::Bert,
                unk_token: "[UNK]".into(),
                continuing_subword_prefix: "##".into(),
                max_input_chars_per_word: 100,
            },
        }
    }

    /// Check option values; errors are `InvalidArgument` with a readable message.
    pub fn validate(&self) -> Result<()> {
        if self.vocab_size == 0 || self.vocab_size > u32::MAX as usize {
            return Err(Error::invalid(format!(
                "vocab_size must be between 1 and {}, got {}",
                u32::MAX,
                self.vocab_size
            )));
        }
        if let Some(s) = self.special_tokens.iter().find(|s| s.is_empty()) {
            return Err(Error::invalid(format!(
                "special tokens must be non-empty strings, got {s:?}"
            )));
        }
        if self.limit_alphabet == Some(0) {
            return Err(Error::invalid("limit_alphabet must be positive"));
        }
        if self.model == ModelKind::Bpe && self.score == Score::TopDown {
            return Err(Error::invalid(
                "score 'topdown' is a WordPiece learner; use 'count' (or 'gain') for bpe",
            ));
        }
        if self.model == ModelKind::WordPiece {
            if !matches!(
                self.pre_tokenizer,
                PreTokenizer::Bert | PreTokenizer::Whitespace
            ) {
                return Err(Error::invalid(format!(
                    "pre_tokenizer {:?} is not available for wordpiece (use 'bert' or 'whitespace')",
                    self.pre_tokenizer.name()
                )));
            }
            if !self.special_tokens.contains(&self.unk_token) {
                return Err(Error::invalid(format!(
                    "wordpiece needs its unk_token {:?} among the special tokens",
                    self.unk_token
                )));
            }
            if self.continuing_subword_prefix.is_empty() {
                return Err(Error::invalid(
                    "continuing_subword_prefix must not be empty",
                ));
            }
        }
        Ok(())
    }

    /// How the counting phase must normalize and split text for this model.
    pub fn count_config(&self) -> CountConfig {
        let normalizer = match self.model {
            ModelKind::WordPiece => Normalizer::Bert {
                lowercase: self.lowercase,
            },
            ModelKind::Bpe if self.lowercase => Normalizer::Lowercase,
            ModelKind::Bpe => Normalizer::None,
        };
        CountConfig {
            normalizer,
            pre_tokenizer: self.pre_tokenizer,
        }
    }

    /// Special tokens without duplicates, first occurrence kept.
    pub(crate) fn specials(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.special_tokens {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        out
    }
}

/// A trained model: the vocabulary in id order and the merges (as id pairs) in the order
/// they were learned.
#[derive(Clone, Debug)]
pub struct Trained {
    pub config: TrainConfig,
    pub vocab: Vec<String>,
    pub merges: Vec<(u32, u32)>,
    /// Number of special tokens at the start of `vocab`.
    pub n_special: usize,
}

/// Train on word counts (e.g. from [`WordCounter::word_counts`]).
pub fn train<S: AsRef<str>>(
    words: &[(S, u64)],
    cfg: &TrainConfig,
    progress: &dyn Progress,
) -> Result<Trained> {
    train_words(
        words.iter().map(|(w, c)| (w.as_ref(), *c)).collect(),
        cfg,
        progress,
    )
}

/// Train on owned word counts; each word's text is freed as soon as it is turned into symbols.
pub fn train_words<W: AsRef<str>>(
    words: Vec<(W, u64)>,
    cfg: &TrainConfig,
    progress: &dyn Progress,
) -> Result<Trained> {
    cfg.validate()?;
    if words.iter().all(|(w, c)| *c == 0 || w.as_ref().is_empty()) {
        return Err(Error::invalid("empty corpus: no words to train on"));
    }
    match cfg.model {
        ModelKind::Bpe => bpe::train_byte_level(words, cfg, progress),
        ModelKind::WordPiece if cfg.score == Score::TopDown => {
            topdown::train_topdown(words, cfg, progress)
        }
        ModelKind::WordPiece => wordpiece::train_wordpiece(words, cfg, progress),
    }
}

/// Train on everything a counter gathered, consuming it (no copy of the counts).
pub fn train_counter(
    counter: WordCounter,
    cfg: &TrainConfig,
    progress: &dyn Progress,
) -> Result<Trained> {
    cfg.validate()?;
    let words: Vec<(String, u64)> = counter.into_word_counts().into_iter().collect();
    train_words(words, cfg, progress)
}
