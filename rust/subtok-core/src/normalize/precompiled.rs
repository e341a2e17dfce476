//! HF's `Precompiled` normalizer: SentencePiece's `precompiled_charsmap`, a double-array trie
//! over UTF-8 keys whose values index NUL-terminated replacements in a string blob.
//!
//! Layout of the charsmap: `u32` (little endian) byte size of the trie, the trie's `u32` units,
//! then the replacement blob. HF applies it grapheme by grapheme (extended clusters): a
//! grapheme shorter than 6 bytes is looked up whole first; otherwise, or when that finds
//! nothing, each of its characters is looked up alone. A lookup takes the *shortest* key that
//! prefixes the bytes (so a grapheme whose first character is a key is replaced entirely).
//! Offsets follow HF's change encoding of each replacement (see [`push_replacement`]).
use crate::error::{Error, Result};
use crate::normalize::normalized::Normalized;
use base64::Engine;
use unicode_segmentation::UnicodeSegmentation;

#[derive(Debug, Clone)]
pub struct Precompiled {
    units: Vec<u32>,
    blob: String,
    /// The replacement of each ASCII character looked up alone.
    ascii: Vec<Option<String>>,
    /// For each byte (0 past ASCII), the one ASCII character (not CR or LF, and itself unmapped)
    /// that replaces it, or 0 (see [`Self::apply_in_place`]).
    in_place: Vec<u8>,
}

impl Precompiled {
    /// Parse the base64 `precompiled_charsmap` of a `tokenizer.json`.
    pub fn from_base64(s: &str) -> Result<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| Error::invalid(format!("Precompiled: precompiled_charsmap is not base64 ({e})")))?;
        Self::from_bytes(&bytes)
    }

    /// Parse a raw charsmap.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let bad = |why: &str| Error::invalid(format!("Precompiled: cannot parse precompiled_charsmap ({why})"));
        let head: [u8; 4] = b.get(..4).and_then(|h| h.try_into().ok()).ok_or_else(|| bad("shorter than 4 bytes"))?;
        let n = u32::from_le_bytes(head) as usize / 4;
        let trie = b.get(4..4 + n * 4).ok_or_else(|| bad("the trie runs past the end"))?;
        if n == 0 {
            return Err(bad("the trie is empty"));
        }
        let units = trie.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let blob = std::str::from_utf8(&b[4 + n * 4..]).map_err(|_| bad("the replacements are not UTF-8"))?;
        Ok(Precompiled::new(units, blob.to_string()))
    }

    fn new(units: Vec<u32>, blob: String) -> Self {
        let mut p = Precompiled { units, blob, ascii: Vec::new(), in_place: Vec::new() };
        p.ascii = (0u8..128).map(|c| p.lookup(&[c]).map(str::to_string)).collect();
        let one = |r: &str| match r.as_bytes() {
            &[x] if x != 0 && x != b'\r' && x != b'\n' && p.ascii[x as usize].is_none() => x,
            _ => 0,
        };
        p.in_place = p
            .ascii
            .iter()
            .enumerate()
            .map(|(c, r)| match r {
                Some(r) if c as u8 != b'\r' && c as u8 != b'\n' => one(r),
                _ => 0,
            })
            .chain(std::iter::repeat_n(0, 128)) // bytes of other characters: never
            .collect();
        p
    }

    /// The replacement of the shortest key that is a prefix of `key` (bytes after a NUL are
    /// not looked at), or `None`. A damaged trie finds nothing instead of failing.
    fn lookup(&self, key: &[u8]) -> Option<&str> {
        let offset = |u: u32| ((u >> 10) << ((u & (1 << 9)) >> 6)) as usize;
        let mut pos = offset(*self.units.first()?);
        for &c in key.iter().take_while(|&&c| c != 0) {
            pos ^= c as usize;
            let u = *self.units.get(pos)?;
            if u & ((1 << 31) | 0xFF) != c as u32 {
                return None;
            }
            pos ^= offset(u);
            if (u >> 8) & 1 == 1 {
                let at = (*self.units.get(pos)? & 0x7FFF_FFFF) as usize;
                let rest = self.blob.get(at..)?;
                return Some(rest.split('\0').next().unwrap_or(""));
            }
        }
        None
    }

    /// Normalize `n` in place (HF `Precompiled.normalize`).
    ///
    /// The grapheme segmentation only runs where it can matter: between two ASCII characters
    /// (other than CR LF) there is always a grapheme boundary, so a character with ASCII on
    /// both sides is a grapheme of its own (one table lookup), and the rest is cut at those
    /// boundaries into chunks segmented on their own. The change list is only built from the
    /// first replacement on.
    pub fn apply(&self, n: &mut Normalized) {
        self.apply_in_place(n);
        let text = n.text.as_str();
        let b = text.as_bytes();
        let mut edit = Edit { text, dest: Vec::new(), done: 0 };
        let boundary = |j: usize| b[j - 1] < 0x80 && b[j] < 0x80 && !(b[j - 1] == b'\r' && b[j] == b'\n');
        let mut i = 0;
        while i < b.len() {
            if b[i] < 0x80 && (i + 1 == b.len() || boundary(i + 1)) {
                if let Some(r) = &self.ascii[b[i] as usize] {
                    edit.replace(i, i + 1, 1, r);
                }
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < b.len() && !boundary(j) {
                j += 1;
            }
            self.apply_chunk(i, &text[i..j], &mut edit);
            i = j;
        }
        if edit.done > 0 {
            let mut dest = edit.dest;
            dest.extend(text[edit.done..].chars().map(|c| (c, 0)));
            n.transform(dest, 0);
        }
    }

    /// The ASCII characters (graphemes of their own) whose replacement is one other ASCII
    /// character, itself unmapped: rewritten in place, since a one-for-one replacement keeps
    /// every span (case folding, mostly). The main pass then finds nothing to do for them.
    fn apply_in_place(&self, n: &mut Normalized) {
        let b = n.text.as_bytes();
        let boundary = |j: usize| b[j - 1] < 0x80 && b[j] < 0x80 && !(b[j - 1] == b'\r' && b[j] == b'\n');
        let hit = |i: usize| {
            self.in_place[b[i] as usize] != 0 && (i == 0 || boundary(i)) && (i + 1 == b.len() || boundary(i + 1))
        };
        if !(0..b.len()).any(hit) {
            return;
        }
        let mut bytes = std::mem::take(&mut n.text).into_bytes();
        for i in 0..bytes.len() {
            let b = &bytes;
            let boundary = |j: usize| b[j - 1] < 0x80 && b[j] < 0x80 && !(b[j - 1] == b'\r' && b[j] == b'\n');
            let ok = (i == 0 || boundary(i)) && (i + 1 == b.len() || boundary(i + 1));
            let r = self.in_place[b[i] as usize];
            if r != 0 && ok {
                bytes[i] = r;
            }
        }
        // ASCII replaced by ASCII: still UTF-8
        n.text = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    }

    /// HF's grapheme-by-grapheme lookups over `chunk` (at byte `at` of the text).
    fn apply_chunk(&self, at: usize, chunk: &str, edit: &mut Edit) {
        for (gi, g) in chunk.grapheme_indices(true) {
            let gs = at + gi;
            if g.len() < 6 {
                if let Some(r) = self.lookup(g.as_bytes()) {
                    edit.replace(gs, gs + g.len(), g.chars().count(), r);
                    continue;
                }
            }
            for (i, c) in g.char_indices() {
                if let Some(r) = self.lookup(&g.as_bytes()[i..i + c.len_utf8()]) {
                    edit.replace(gs + i, gs + i + c.len_utf8(), 1, r);
                }
            }
        }
    }
}

/// The change list of a rewrite, started lazily: characters before `done` are in `dest`.
struct Edit<'a> {
    text: &'a str,
    dest: Vec<(char, isize)>,
    /// Byte of `text` up to which `dest` is written (0: nothing replaced yet).
    done: usize,
}

impl Edit<'_> {
    /// Bytes `s..e` of the text (`old_chars` characters) become `new`.
    fn replace(&mut self, s: usize, e: usize, old_chars: usize, new: &str) {
        if self.dest.capacity() == 0 {
            self.dest.reserve(self.text.len());
        }
        self.dest.extend(self.text[self.done..s].chars().map(|c| (c, 0)));
        push_replacement(&mut self.dest, old_chars, new);
        self.done = e;
    }
}

/// Append `new`, the replacement of `old_chars` characters, in HF's change encoding: each new
/// character replaces an old one (0); extra new characters at the end are insertions (1); when
/// there are fewer, the last character pushed so far (possibly an earlier one's) also removes
/// the missing count, and nothing does when none was pushed yet (HF behaves the same).
fn push_replacement(dest: &mut Vec<(char, isize)>, old_chars: usize, new: &str) {
    let start = dest.len();
    dest.extend(new.chars().map(|c| (c, 0)));
    let diff = (dest.len() - start) as isize - old_chars as isize;
    if diff > 0 {
        let n = dest.len();
        dest[n - diff as usize..].iter_mut().for_each(|x| x.1 = 1);
    } else if diff < 0 {
        if let Some(last) = dest.last_mut() {
            last.1 += diff;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-key trie built by hand: "a" -> "x", "bc" -> "yz" (blob "x\0yz\0").
    fn tiny() -> Precompiled {
        // unit: label in bits 0-7 (+bit 31), has_leaf bit 8, offset in bits 10.. (bit 9: <<8)
        let unit = |label: u32, leaf: bool, off: u32| label | (u32::from(leaf) << 8) | (off << 10);
        let mut units = vec![0u32; 256];
        units[0] = unit(0, false, 1); // root: children at 1 ^ c
        units[1 ^ b'a' as usize] = unit(b'a' as u32, true, 2); // leaf value at (1^a)^2
        units[(1 ^ b'a' as usize) ^ 2] = 0; // value 0 -> "x"
        let b = 1 ^ b'b' as usize;
        units[b] = unit(b'b' as u32, false, 4);
        let c = b ^ 4 ^ b'c' as usize;
        units[c] = unit(b'c' as u32, true, 8);
        units[c ^ 8] = 2; // value 2 -> "yz"
        Precompiled::new(units, "x\0yz\0".into())
    }

    #[test]
    fn lookup_takes_the_shortest_prefix() {
        let p = tiny();
        assert_eq!(p.lookup(b"a"), Some("x"));
        assert_eq!(p.lookup(b"abc"), Some("x"));
        assert_eq!(p.lookup(b"bc"), Some("yz"));
        assert_eq!(p.lookup(b"b"), None);
        assert_eq!(p.lookup(b"c"), None);
    }

    #[test]
    fn apply_replaces_whole_graphemes_and_keeps_offsets() {
        let p = tiny();
        // "a" + U+0301 is one grapheme whose prefix "a" is a key: the accent goes too
        let mut n = Normalized::new("qa\u{301}bca", 0);
        p.apply(&mut n);
        assert_eq!(n.text, "qxbcx");
        assert_eq!(n.original(1, 2), (1, 2));
        assert_eq!(n.original(2, 3), (4, 5));
        assert_eq!(n.original(4, 5), (6, 7));
    }

    /// HF's plain algorithm: every grapheme of the whole text, eager change list.
    fn reference(p: &Precompiled, n: &mut Normalized) {
        let mut dest = Vec::new();
        for g in n.text.clone().graphemes(true) {
            if g.len() < 6 {
                if let Some(r) = p.lookup(g.as_bytes()) {
                    push_replacement(&mut dest, g.chars().count(), r);
                    continue;
                }
            }
            for (i, c) in g.char_indices() {
                match p.lookup(&g.as_bytes()[i..i + c.len_utf8()]) {
                    Some(r) => push_replacement(&mut dest, 1, r),
                    None => dest.push((c, 0)),
                }
            }
        }
        n.transform(dest, 0);
    }

    #[test]
    fn ascii_shortcut_matches_whole_text_graphemes() {
        let p = tiny();
        for t in ["qa\u{301}bca", "a\r\nb", "\r\na", "ab\u{600}a", "\u{1F1EB}\u{1F1F7}a\u{1F1EB}", "xyz", "", "é a\u{301}\u{301}a", "a\u{200D}a"] {
            let (mut fast, mut slow) = (Normalized::new(t, 2), Normalized::new(t, 2));
            p.apply(&mut fast);
            reference(&p, &mut slow);
            assert_eq!(fast, slow, "{t:?}");
        }
    }

    #[test]
    fn changes_encode_insertions_and_removals() {
        let mut d = vec![('q', 0)];
        push_replacement(&mut d, 1, "fi");
        assert_eq!(d, [('q', 0), ('f', 0), ('i', 1)]);
        push_replacement(&mut d, 2, "");
        assert_eq!(d.last(), Some(&('i', -1)));
        let mut e = Vec::new();
        push_replacement(&mut e, 1, "");
        assert!(e.is_empty());
    }

    #[test]
    fn bad_charsmaps_are_errors() {
        assert!(Precompiled::from_bytes(b"").is_err());
        assert!(Precompiled::from_bytes(&[8, 0, 0, 0, 1]).is_err());
        assert!(Precompiled::from_bytes(&[0, 0, 0, 0]).is_err());
        assert!(Precompiled::from_bytes(&[4, 0, 0, 0, 0, 0, 0, 0, 0xff]).is_err());
        assert!(Precompiled::from_base64("***").is_err());
    }
}
