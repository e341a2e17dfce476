//! GPT-2's reversible byte <-> printable-character mapping (the "ByteLevel" alphabet of HF tokenizers).
//!
//! Printable Latin-1 bytes map to themselves; the other 68 bytes map to U+0100.. in byte order.
use std::sync::OnceLock;

struct Tables {
    to_char: [char; 256],
    /// Indexed by code point for chars < 0x200; `u16::MAX` when the char is not in the alphabet.
    to_byte: [u16; 0x200],
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut to_char = ['\0'; 256];
        let mut to_byte = [u16::MAX; 0x200];
        let mut extra = 0u32;
        for b in 0..256u32 {
            let printable = (0x21..=0x7E).contains(&b)
                || (0xA1..=0xAC).contains(&b)
                || (0xAE..=0xFF).contains(&b);
            let cp = if printable {
                b
            } else {
                extra += 1;
                0xFF + extra
            };
            // cp < 0x200 always, and is a valid scalar value.
            let ch = char::from_u32(cp).unwrap_or('\0');
            to_char[b as usize] = ch;
            to_byte[cp as usize] = b as u16;
        }
        Tables { to_char, to_byte }
    })
}

/// The alphabet character for one byte.
#[inline]
pub fn byte_to_char(b: u8) -> char {
    tables().to_char[b as usize]
}

/// The byte for one alphabet character, `None` if `c` is not in the alphabet.
#[inline]
pub fn char_to_byte(c: char) -> Option<u8> {
    let cp = c as usize;
    if cp < 0x200 {
        let v = tables().to_byte[cp];
        if v != u16::MAX {
            return Some(v as u8);
        }
    }
    None
}

/// Bytes -> their ByteLevel string (how HF stores byte-level BPE tokens).
pub fn bytes_to_string(bytes: &[u8]) -> String {
    let t = tables();
    bytes.iter().map(|&b| t.to_char[b as usize]).collect()
}

/// A ByteLevel token string -> bytes. Characters outside the alphabet (e.g. in added tokens)
/// contribute their UTF-8 encoding unchanged.
pub fn string_to_bytes(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        match char_to_byte(c) {
            Some(b) => out.push(b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
}

/// True if every character of `s` is in the ByteLevel alphabet.
pub fn is_byte_level(s: &str) -> bool {
    s.chars().all(|c| char_to_byte(c).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bijection_and_known_values() {
        let mut seen = std::collections::HashSet::new();
        for b in 0..=255u8 {
            let c = byte_to_char(b);
            assert!(seen.insert(c));
            assert_eq!(char_to_byte(c), Some(b));
        }
        // GPT-2: space -> 'Ġ' (U+0120), newline -> 'Ċ' (U+010A), 'a' -> 'a'.
        assert_eq!(byte_to_char(b' '), '\u{120}');
        assert_eq!(byte_to_char(b'\n'), '\u{10A}');
        assert_eq!(byte_to_char(b'a'), 'a');
        assert_eq!(
            string_to_bytes(&bytes_to_string("héllo wörld".as_bytes())),
            "héllo wörld".as_bytes()
        );
        assert_eq!(char_to_byte('中'), None);
    }
}
