//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs` call these), kept in the core so
//! that `cargo test` replays the saved corpora and crashers on stable Rust
//! (`tests/fuzz_replay.rs`). Each function must return normally for *every* input: a loader
//! either builds a tokenizer or returns an error, never panics or allocates without bound, and
//! whatever it builds encodes and decodes consistently. A panic here is a bug.
use crate::bpe_tokenizer::{BpeTokenizer, SpecialSet};
use crate::encoding::Encoding;
use crate::io::{gpt2_files, hf_json, tiktoken, vocab_txt};
use crate::WordPieceTokenizer;

/// Texts to encode with a tokenizer built from fuzz input: fixed probes plus the input itself.
fn probe_texts(data: &[u8]) -> Vec<String> {
    vec![
        "Hello, world! Héllo wörld 123 東京 [CLS] <|endoftext|>  \t\n".to_string(),
        String::from_utf8_lossy(data).chars().take(256).collect(),
    ]
}

fn check_offsets(enc: &Encoding, text: &str) {
    let n = text.chars().count();
    assert_eq!(enc.ids.len(), enc.offsets.len());
    assert_eq!(enc.ids.len(), enc.type_ids.len());
    for &(a, b) in &enc.offsets {
        assert!(a <= b && b <= n, "offset ({a}, {b}) outside a text of {n} chars");
    }
}

fn exercise_wordpiece(t: &WordPieceTokenizer, data: &[u8]) {
    let vocab = t.vocab_size();
    for text in probe_texts(data) {
        for pair in [None, Some("and a pair")] {
            let Ok(enc) = t.encode(&text, pair, true) else { continue };
            check_offsets(&enc, &text);
            for &id in &enc.ids {
                assert!(
                    t.id_to_token(id).is_some() || (id as usize) < vocab,
                    "id {id} has no token"
                );
            }
            let _ = t.decode(&enc.ids, false);
            let _ = t.decode(&enc.ids, true);
        }
        if t.settings.truncation().is_some() || t.settings.padding().is_some() {
            continue;
        }
        if let Ok((ids, lens)) = t.encode_batch_flat(&[text.as_str()], false, false) {
            let plain = t.encode(&text, None, false).expect("encode after encode_batch_flat");
            assert_eq!(lens, vec![ids.len() as i64]);
            assert_eq!(ids, plain.ids, "encode_batch_flat differs from encode");
        }
    }
}

fn exercise_bpe(t: &BpeTokenizer, data: &[u8]) {
    let all = t
        .policy(&SpecialSet::All, &SpecialSet::none())
        .expect("the all-specials policy");
    for text in probe_texts(data) {
        let Ok(enc) = t.encode(&text, None, &all) else { continue };
        check_offsets(&enc, &text);
        let ids = t.encode_ids(&text, &all).expect("encode_ids after encode");
        t.decode_bytes(&ids, false).expect("decode of encoded ids");
        let _ = t.decode(&ids, true);
        let count = t.count_tokens(&text, &all).expect("count_tokens");
        assert_eq!(count, ids.len(), "count_tokens differs from encode_ids");
    }
}

/// `tokenizer.json` (either model).
pub fn tokenizer_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(root) = hf_json::parse_json(text, "fuzz.json") else { return };
    match hf_json::model_type(&root, "fuzz.json").as_deref() {
        Ok("WordPiece") => {
            if let Ok(t) = hf_json::wordpiece_from_json(&root, "fuzz.json") {
                exercise_wordpiece(&t, data);
            }
        }
        Ok("BPE") => {
            if let Ok(t) = BpeTokenizer::from_hf_json(&root, "fuzz.json") {
                exercise_bpe(&t, data);
            }
        }
        _ => {}
    }
}

/// BERT `vocab.txt`.
pub fn vocab_txt(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let opts = vocab_txt::BertVocabOptions {
        lowercase: data.first().is_some_and(|b| b & 1 == 0),
        strip_accents: None,
        handle_chinese_chars: true,
        unk_token: "[UNK]".into(),
        max_input_chars_per_word: 100,
    };
    if let Ok(t) = vocab_txt::bert_from_vocab_text(text, "vocab.txt", &opts) {
        exercise_wordpiece(&t, data);
    }
}

/// `.tiktoken` ranks (with one special token after the ranks).
pub fn tiktoken(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(ranks) = tiktoken::parse(text, "fuzz.tiktoken") else { return };
    let next = ranks.iter().map(|r| r.1).max().unwrap_or(0).saturating_add(1);
    let specials = vec![("<|endoftext|>".to_string(), next)];
    for pattern in ["cl100k_base", "gpt2"] {
        if let Ok(t) = BpeTokenizer::from_ranks(ranks.clone(), pattern, specials.clone(), "fuzz.tiktoken") {
            exercise_bpe(&t, data);
        }
    }
}

/// GPT-2 `vocab.json` + `merges.txt`, split at the first NUL byte of the input.
pub fn gpt2_files(data: &[u8]) {
    let cut = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (Ok(v), Ok(m)) = (
        std::str::from_utf8(&data[..cut]),
        std::str::from_utf8(data.get(cut + 1..).unwrap_or(&[])),
    ) else {
        return;
    };
    let (Ok(v), Ok(m)) = (
        gpt2_files::parse_vocab(v, "vocab.json"),
        gpt2_files::parse_merges(m, "merges.txt"),
    ) else {
        return;
    };
    if let Ok(t) = BpeTokenizer::from_gpt2_parts(v, m, "vocab.json / merges.txt") {
        exercise_bpe(&t, data);
    }
}

/// A small byte-level BPE: the 256 bytes plus merges of common English pieces, and one special.
fn toy_bpe(pattern: &str) -> BpeTokenizer {
    let mut ranks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
    for piece in [
        "th", "he", "the", " t", " th", " the", "in", "ing", "er", " a", "an", "and", " and", "é",
        "  ", "   ", "12", "123", "\r\n",
    ] {
        let id = ranks.len() as u32;
        ranks.push((piece.as_bytes().to_vec(), id));
    }
    let special = vec![("<|endoftext|>".to_string(), ranks.len() as u32)];
    BpeTokenizer::from_ranks(ranks, pattern, special, "toy").expect("the toy BPE")
}

/// BPE encode -> decode: lossless for any text, specials allowed or not; count = len(ids).
pub fn roundtrip_bpe(data: &[u8]) {
    use std::sync::OnceLock;
    static TOKS: OnceLock<Vec<BpeTokenizer>> = OnceLock::new();
    let toks = TOKS.get_or_init(|| vec![toy_bpe("cl100k_base"), toy_bpe("o200k_base"), toy_bpe("gpt2")]);
    let text = String::from_utf8_lossy(data);
    let t = &toks[data.first().map_or(0, |b| *b as usize % toks.len())];
    let all = t.policy(&SpecialSet::All, &SpecialSet::none()).expect("policy");
    let plain = t.policy(&SpecialSet::none(), &SpecialSet::none()).expect("policy");
    for pol in [&all, &plain] {
        let ids = t.encode_ids(&text, pol).expect("encode_ids");
        assert_eq!(t.decode_bytes(&ids, false).expect("decode"), text.as_bytes());
        assert_eq!(t.count_tokens(&text, pol).expect("count"), ids.len());
        let enc = t.encode(&text, None, pol).expect("encode");
        assert_eq!(enc.ids, ids);
        check_offsets(&enc, &text);
    }
}

/// WordPiece encode -> decode on a small BERT vocabulary: offsets inside the text, ids in the
/// vocabulary, encode_batch_flat = encode, and decoding the ids of text made only of vocabulary
/// words gives the normalized words back.
pub fn roundtrip_wordpiece(data: &[u8]) {
    use std::sync::OnceLock;
    static TOK: OnceLock<WordPieceTokenizer> = OnceLock::new();
    let t = TOK.get_or_init(|| {
        let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for w in ["the", "cat", "sat", "on", "mat", "un", "##aff", "##able", "!", ",", ".", "a", "##a", "é", "東"] {
            vocab.push(w.to_string());
        }
        let opts = vocab_txt::BertVocabOptions {
            lowercase: true,
            strip_accents: None,
            handle_chinese_chars: true,
            unk_token: "[UNK]".into(),
            max_input_chars_per_word: 100,
        };
        vocab_txt::bert_from_vocab_text(&vocab.join("\n"), "toy", &opts).expect("the toy WordPiece")
    });
    exercise_wordpiece(t, data);
    // Words drawn from the vocabulary round-trip through decode.
    let words = ["the", "cat", "sat", "on", "mat", "unaffable", "!", "a", "東"];
    let text: Vec<&str> = data.iter().take(64).map(|b| words[*b as usize % words.len()]).collect();
    let text = text.join(" ");
    let enc = t.encode(&text, None, false).expect("encode");
    assert!(!enc.ids.contains(&1), "[UNK] for in-vocabulary text {text:?}");
    let back = t.decode(&enc.ids, true).expect("decode");
    let again = t.encode(&back, None, false).expect("encode");
    assert_eq!(again.ids, enc.ids, "{text:?} -> {back:?}");
}

/// Run `f` on `data`; the entry point used by the replay test and the fuzz targets alike.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "tokenizer_json" => tokenizer_json(data),
        "vocab_txt" => vocab_txt(data),
        "tiktoken" => tiktoken(data),
        "gpt2_files" => gpt2_files(data),
        "roundtrip_bpe" => roundtrip_bpe(data),
        "roundtrip_wordpiece" => roundtrip_wordpiece(data),
        other => panic!("unknown fuzz target {other}"),
    }
}

/// The fuzz target names (`fuzz/fuzz_targets/<name>.rs`, `fuzz/corpus/<name>/`).
pub const TARGETS: &[&str] = &[
    "tokenizer_json",
    "vocab_txt",
    "tiktoken",
    "gpt2_files",
    "roundtrip_bpe",
    "roundtrip_wordpiece",
];
