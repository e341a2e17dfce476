//! HF's `UnicodeScripts` pre-tokenizer: a new split wherever the script changes.
//!
//! The script of a character is its class in HF's table ([`scripts_table`], generated from HF
//! tokenizers itself: Unicode 9.0 scripts, Hiragana/Katakana/U+30FC folded into Han, and every
//! code point the table does not list, plus the space, `Any`). An `Any` character never starts
//! a split and does not change the current script: it joins the split before it, and is
//! dropped when nothing precedes it (a leading space, or a text of only `Any` characters).
use crate::pretokenize::scripts_table::SCRIPT_RANGES;

/// The classes of the Basic Multilingual Plane, one byte per code point (built on first use
/// from [`SCRIPT_RANGES`]), so most characters cost one load instead of a binary search.
fn bmp() -> &'static [u8] {
    static BMP: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BMP.get_or_init(|| {
        let mut t = vec![0u8; 0x10000];
        for &(lo, hi, k) in SCRIPT_RANGES.iter().filter(|r| r.0 < 0x10000) {
            t[lo as usize..=hi.min(0xFFFF) as usize].fill(k);
        }
        t[' ' as usize] = 0;
        t
    })
}

/// The script class of `c` (0 = `Any`).
#[inline]
pub fn script_class(c: char) -> u8 {
    let cp = c as u32;
    if cp < 0x10000 {
        return bmp()[cp as usize];
    }
    script_class_search(cp)
}

/// [`script_class`] by binary search in the ranges (every code point but the space).
fn script_class_search(cp: u32) -> u8 {
    if cp == ' ' as u32 {
        return 0;
    }
    let i = SCRIPT_RANGES.partition_point(|r| r.1 < cp);
    match SCRIPT_RANGES.get(i) {
        Some(&(lo, _, k)) if lo <= cp => k,
        _ => 0,
    }
}

/// Push the byte ranges of `text`'s script runs into `out`.
pub fn split(text: &str, out: &mut Vec<(usize, usize)>) {
    let mut last = 0u8;
    let mut start = None;
    for (i, c) in text.char_indices() {
        let k = script_class(c);
        if k != 0 && k != last {
            if let Some(s) = start {
                out.push((s, i));
            }
            start = Some(i);
            last = k;
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pretokenize::scripts_table::SCRIPT_NAMES;

    fn pieces(t: &str) -> Vec<&str> {
        let mut v = Vec::new();
        split(t, &mut v);
        v.into_iter().map(|(a, b)| &t[a..b]).collect()
    }

    #[test]
    fn splits_where_the_script_changes() {
        assert_eq!(pieces("どこで生れ。Yes"), ["どこで生れ", "。", "Yes"]);
        assert_eq!(pieces("Apples are りんご 林檎"), ["Apples are ", "りんご 林檎"]);
        assert_eq!(pieces("Hello, world"), ["Hello", ", ", "world"]);
        assert_eq!(pieces(" a"), ["a"]);
        assert!(pieces("   ").is_empty());
    }

    #[test]
    fn table_matches_the_ranges() {
        for cp in 0..0x10000u32 {
            if let Some(c) = char::from_u32(cp) {
                assert_eq!(script_class(c), script_class_search(cp), "U+{cp:04X}");
            }
        }
    }

    #[test]
    fn classes() {
        let name = |c| SCRIPT_NAMES[script_class(c) as usize];
        assert_eq!(name('a'), "Latin");
        assert_eq!(name('京'), "Han");
        assert_eq!(name('い'), "Han");
        assert_eq!(name('グ'), "Han");
        assert_eq!(name('ー'), "Han");
        assert_eq!(name('0'), "Common");
        assert_eq!(name(' '), "Any");
        assert_eq!(name('\u{10FFFF}'), "Any");
        assert!(SCRIPT_RANGES.windows(2).all(|w| w[0].1 < w[1].0));
    }
}
