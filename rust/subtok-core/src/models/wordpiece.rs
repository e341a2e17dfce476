//! The WordPiece model: greedy longest-match-first over a byte trie.
//!
//! Two tries share one node array: one rooted at `root` for word-initial pieces and one rooted
//! at `cont_root` for `##` continuation pieces (the prefix is stripped when building). Matching
//! walks forward from `start` as long as trie edges exist and remembers the last node that ends a
//! token, so each step costs at most `max_token_bytes` edge lookups and never hashes a substring.
use crate::error::{Error, Result};
use rustc_hash::FxHashMap;

const NO_TOKEN: u32 = u32::MAX;
const NO_NODE: u32 = u32::MAX;
/// Nodes with more children than this get a dense 256-entry table.
const DENSE_MIN: usize = 12;

#[derive(Debug, Clone)]
struct Node {
    token: u32,
    /// Either an index into `dense` (when `dense_idx != NO_NODE`) or a sparse edge range.
    dense_idx: u32,
    first_edge: u32,
    n_edges: u32,
}

#[derive(Debug, Clone)]
struct Trie {
    nodes: Vec<Node>,
    edge_bytes: Vec<u8>,
    edge_targets: Vec<u32>,
    dense: Vec<[u32; 256]>,
}

impl Trie {
    #[inline(always)]
    fn child(&self, node: u32, b: u8) -> u32 {
        let n = &self.nodes[node as usize];
        if n.dense_idx != NO_NODE {
            return self.dense[n.dense_idx as usize][b as usize];
        }
        let s = n.first_edge as usize;
        let e = s + n.n_edges as usize;
        let bytes = &self.edge_bytes[s..e];
        for (i, &eb) in bytes.iter().enumerate() {
            if eb == b {
                return self.edge_targets[s + i];
            }
            if eb > b {
                break;
            }
        }
        NO_NODE
    }

    /// Build from (key bytes, token id) pairs, for both roots at once. Each list is sorted (a
    /// repeated key keeps its later id, as `token_to_id` does), so the keys under a node form
    /// one contiguous range and its children consecutive sub-ranges: the flat arrays are written
    /// without a map per node. Nodes are laid out depth-first (a node's first child follows it),
    /// so walking one word mostly touches neighbouring nodes.
    fn build(words: &[(&[u8], u32)], conts: &[(&[u8], u32)]) -> (Trie, u32, u32) {
        fn sorted<'a>(list: &[(&'a [u8], u32)]) -> Vec<(&'a [u8], u32)> {
            let mut v = list.to_vec();
            // ids rise along each list, so the id breaks ties in list order
            v.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
            let mut out: Vec<(&[u8], u32)> = Vec::with_capacity(v.len());
            for (k, id) in v {
                match out.last_mut() {
                    Some(last) if last.0 == k => last.1 = id,
                    _ => out.push((k, id)),
                }
            }
            out
        }
        let empty = Node {
            token: NO_TOKEN,
            dense_idx: NO_NODE,
            first_edge: 0,
            n_edges: 0,
        };
        let lists = [sorted(words), sorted(conts)];
        let mut t = Trie {
            nodes: Vec::with_capacity(lists.iter().map(|l| l.len()).sum::<usize>() * 2 + 2),
            edge_bytes: vec![],
            edge_targets: vec![],
            dense: vec![],
        };
        /// Where a node's index goes once it is placed: a root, an edge, a dense table slot.
        #[derive(Clone, Copy)]
        enum Slot {
            Root,
            Edge(usize),
            Dense(usize, u8),
        }
        // (slot, the keys below the node, the length of the prefix they share); a stack, so
        // nodes are placed depth-first: the word root's tree, then the continuation root's.
        let mut stack: Vec<(Slot, &[(&[u8], u32)], usize)> =
            vec![(Slot::Root, &lists[1][..], 0), (Slot::Root, &lists[0][..], 0)];
        let mut roots = Vec::new();
        let mut kids: Vec<(u8, usize, usize)> = Vec::new();
        while let Some((slot, keys, depth)) = stack.pop() {
            let node = t.nodes.len() as u32;
            t.nodes.push(empty.clone());
            match slot {
                Slot::Root => roots.push(node),
                Slot::Edge(e) => t.edge_targets[e] = node,
                Slot::Dense(d, b) => t.dense[d][b as usize] = node,
            }
            let mut i = 0;
            if let Some(&(k, id)) = keys.first() {
                if k.len() == depth {
                    t.nodes[node as usize].token = id;
                    i = 1;
                }
            }
            kids.clear();
            while i < keys.len() {
                let (b, start) = (keys[i].0[depth], i);
                while i < keys.len() && keys[i].0[depth] == b {
                    i += 1;
                }
                kids.push((b, start, i));
            }
            let dense = kids.len() >= DENSE_MIN;
            let n = &mut t.nodes[node as usize];
            if dense {
                n.dense_idx = t.dense.len() as u32;
                t.dense.push([NO_NODE; 256]);
            } else {
                n.first_edge = t.edge_bytes.len() as u32;
                n.n_edges = kids.len() as u32;
            }
            let first_edge = t.edge_bytes.len();
            for &(b, _, _) in &kids {
                if !dense {
                    t.edge_bytes.push(b);
                    t.edge_targets.push(NO_NODE);
                }
            }
            // pushed last-first, so the first child is placed next
            for (j, &(b, s, e)) in kids.iter().enumerate().rev() {
                let slot = if dense {
                    Slot::Dense(t.dense.len() - 1, b)
                } else {
                    Slot::Edge(first_edge + j)
                };
                stack.push((slot, &keys[s..e], depth + 1));
            }
        }
        (t, roots[0], roots[1])
    }
}

/// A WordPiece vocabulary and its matcher.
#[derive(Debug, Clone)]
pub struct WordPiece {
    vocab: Vec<String>,
    token_to_id: FxHashMap<String, u32>,
    pub unk_token: String,
    pub unk_id: u32,
    pub continuing_subword_prefix: String,
    pub max_input_chars_per_word: usize,
    trie: Trie,
    root: u32,
    cont_root: u32,
    /// Word-initial tokens of at most 15 bytes, keyed by [`short_key`]: most words are whole
    /// vocabulary entries, and one integer-keyed probe finds them without walking the trie.
    short_words: FxHashMap<u128, u32>,
}

const SHORT_MAX: usize = 15;

/// Pack up to 15 bytes and the length into one integer key (no variable-length memcpy).
#[inline(always)]
fn short_key(b: &[u8]) -> u128 {
    let n = b.len();
    let (lo, rest) = if n >= 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        (u64::from_le_bytes(w), &b[8..])
    } else {
        (pack(b), &b[..0])
    };
    let hi = pack(rest) | ((n as u64) << 56);
    (lo as u128) | ((hi as u128) << 64)
}

#[inline(always)]
fn pack(b: &[u8]) -> u64 {
    let mut k = 0u64;
    for (i, &x) in b.iter().enumerate() {
        k |= (x as u64) << (8 * i);
    }
    k
}

impl WordPiece {
    /// Build from tokens in id order (`vocab[i]` has id `i`).
    pub fn new(
        vocab: Vec<String>,
        unk_token: &str,
        continuing_subword_prefix: &str,
        max_input_chars_per_word: usize,
    ) -> Result<Self> {
        let mut token_to_id = FxHashMap::default();
        token_to_id.reserve(vocab.len());
        for (i, t) in vocab.iter().enumerate() {
            // A repeated line keeps the later id, as HF's vocab readers do.
            token_to_id.insert(t.clone(), i as u32);
        }
        let unk_id = *token_to_id.get(unk_token).ok_or_else(|| {
            Error::invalid(format!("unk_token {unk_token:?} is not in the vocabulary"))
        })?;
        let mut words = Vec::new();
        let mut conts = Vec::new();
        for (i, t) in vocab.iter().enumerate() {
            if !continuing_subword_prefix.is_empty()
                && t.starts_with(continuing_subword_prefix)
                && t.len() > continuing_subword_prefix.len()
            {
                conts.push((&t.as_bytes()[continuing_subword_prefix.len()..], i as u32));
            }
            if !t.is_empty() {
                words.push((t.as_bytes(), i as u32));
            }
        }
        if continuing_subword_prefix.is_empty() {
            conts = words.clone();
        }
        let (trie, root, cont_root) = Trie::build(&words, &conts);
        let mut short_words = FxHashMap::default();
        for &(w, id) in &words {
            if w.len() <= SHORT_MAX {
                short_words.insert(short_key(w), id);
            }
        }
        Ok(WordPiece {
            vocab,
            token_to_id,
            unk_token: unk_token.to_string(),
            unk_id,
            continuing_subword_prefix: continuing_subword_prefix.to_string(),
            max_input_chars_per_word,
            trie,
            root,
            cont_root,
            short_words,
        })
    }

    pub fn vocab(&self) -> &[String] {
        &self.vocab
    }
    pub fn token_to_id(&self, t: &str) -> Option<u32> {
        self.token_to_id.get(t).copied()
    }
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.vocab.get(id as usize).map(|s| s.as_str())
    }

    /// Longest vocab match of `word[start..]` (as a continuation piece when `start > 0`).
    /// Returns (token id, end byte) or `None`.
    #[inline(always)]
    fn longest_match(&self, word: &[u8], start: usize) -> Option<(u32, usize)> {
        let mut node = if start == 0 {
            self.root
        } else {
            self.cont_root
        };
        let mut best: Option<(u32, usize)> = None;
        let mut i = start;
        while i < word.len() {
            node = self.trie.child(node, word[i]);
            if node == NO_NODE {
                break;
            }
            i += 1;
            let tok = self.trie.nodes[node as usize].token;
            if tok != NO_TOKEN {
                best = Some((tok, i));
            }
        }
        best
    }

    /// Tokenize one normalized word (UTF-8 bytes, `n_chars` code points). Calls
    /// `emit(id, start_byte, end_byte)` for each piece, or once with the unk id spanning the
    /// whole word when the word is too long or some position has no match.
    #[inline]
    pub fn tokenize_word(&self, word: &[u8], n_chars: usize, pieces: &mut Vec<(u32, u32, u32)>) {
        if n_chars > self.max_input_chars_per_word {
            pieces.push((self.unk_id, 0, word.len() as u32));
            return;
        }
        if word.len() <= SHORT_MAX {
            if let Some(&id) = self.short_words.get(&short_key(word)) {
                pieces.push((id, 0, word.len() as u32));
                return;
            }
        }
        let mark = pieces.len();
        let mut start = 0usize;
        while start < word.len() {
            match self.longest_match(word, start) {
                Some((id, end)) => {
                    pieces.push((id, start as u32, end as u32));
                    start = end;
                }
                None => {
                    pieces.truncate(mark);
                    pieces.push((self.unk_id, 0, word.len() as u32));
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wp() -> WordPiece {
        let v = [
            "[UNK]", "un", "##aff", "##able", "aff", "##a", "a", "##b", "é", "##é",
        ];
        WordPiece::new(
            v.iter().map(|s| s.to_string()).collect(),
            "[UNK]",
            "##",
            100,
        )
        .unwrap()
    }

    fn ids(w: &WordPiece, s: &str) -> Vec<u32> {
        let mut p = vec![];
        w.tokenize_word(s.as_bytes(), s.chars().count(), &mut p);
        p.iter().map(|x| x.0).collect()
    }

    #[test]
    fn greedy_longest_match() {
        let w = wp();
        assert_eq!(ids(&w, "unaffable"), vec![1, 2, 3]);
        assert_eq!(ids(&w, "aff"), vec![4]);
        assert_eq!(ids(&w, "ab"), vec![6, 7]);
        assert_eq!(ids(&w, "éé"), vec![8, 9]);
    }

    #[test]
    fn no_match_gives_single_unk() {
        let w = wp();
        assert_eq!(ids(&w, "unx"), vec![0]);
        assert_eq!(ids(&w, "z"), vec![0]);
    }

    #[test]
    fn too_long_word_is_unk() {
        let w = WordPiece::new(
            vec!["[UNK]".into(), "a".into(), "##a".into()],
            "[UNK]",
            "##",
            3,
        )
        .unwrap();
        assert_eq!(ids(&w, "aaa"), vec![1, 2, 2]);
        assert_eq!(ids(&w, "aaaa"), vec![0]);
    }

    #[test]
    fn duplicate_tokens_keep_the_later_id() {
        let w = WordPiece::new(
            vec!["[UNK]".into(), "a".into(), "a".into()],
            "[UNK]",
            "##",
            100,
        )
        .unwrap();
        assert_eq!(ids(&w, "a"), vec![2]);
        assert_eq!(w.token_to_id("a"), Some(2));
    }

    /// Greedy longest-match-first with substring lookups (HF's algorithm), for comparison.
    fn naive(w: &WordPiece, word: &str) -> Vec<u32> {
        let mut out = vec![];
        let mut start = 0;
        while start < word.len() {
            let found = (start + 1..=word.len()).rev().find_map(|end| {
                let sub = word.get(start..end)?;
                let key = if start > 0 { format!("##{sub}") } else { sub.to_string() };
                w.token_to_id(&key).map(|id| (id, end))
            });
            match found {
                Some((id, end)) => {
                    out.push(id);
                    start = end;
                }
                None => return vec![w.unk_id],
            }
        }
        out
    }

    #[test]
    fn trie_matches_the_substring_lookup_greedy() {
        // Pseudo-random tokens over a small alphabet (dense nodes at the roots, sparse below,
        // repeated tokens, tokens that are prefixes of others, multi-byte characters).
        let alphabet: Vec<char> = "abcdefghijklmnopé東".chars().collect();
        let mut state = 12345u64;
        let mut next = |n: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        let mut vocab = vec!["[UNK]".to_string()];
        for _ in 0..3000 {
            let len = 1 + next(5);
            let tok: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            vocab.push(if next(2) == 0 { format!("##{tok}") } else { tok });
        }
        let w = WordPiece::new(vocab, "[UNK]", "##", 100).unwrap();
        for _ in 0..3000 {
            let len = 1 + next(12);
            let word: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            assert_eq!(ids(&w, &word), naive(&w, &word), "{word}");
        }
    }

    #[test]
    fn missing_unk_is_an_error() {
        assert!(WordPiece::new(vec!["a".into()], "[UNK]", "##", 100).is_err());
    }
}
