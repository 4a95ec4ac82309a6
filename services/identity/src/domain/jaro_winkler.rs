//! Jaro-Winkler similarity (Winkler 1990, "String Comparator Metrics and Enhanced Decision
//! Rules in the Fellegi-Sunter Model of Record Linkage") of the A-Z words that folded names are
//! made of, computed as `strsim::jaro_winkler` computes it: the same greedy matching inside the
//! window, the same transposition count and the same floating-point arithmetic, so the scores
//! are equal to the bit. Screening scores hundreds of word pairs a traveller; bit masks on the
//! stack instead of allocated flags over decoded chars make each comparison a few dozen
//! instructions.

use std::num::NonZeroU64;

/// Longest word the bit masks hold; longer words (no real name part) take strsim's path.
const MAX_LETTERS: usize = 64;

fn low_bits(count: usize) -> u64 {
    if count >= 64 {
        u64::MAX
    } else {
        (1u64 << count) - 1
    }
}

fn all_capital_letters(word: &[u8]) -> bool {
    word.iter().all(u8::is_ascii_uppercase)
}

/// Jaro similarity of two words of A-Z, at most 64 letters each.
fn jaro(a: &[u8], b: &[u8]) -> f64 {
    let (a_len, b_len) = (a.len(), b.len());
    if a_len == 0 && b_len == 0 {
        return 1.0;
    } else if a_len == 0 || b_len == 0 {
        return 0.0;
    }
    let search_range = (a_len.max(b_len) / 2).saturating_sub(1);
    // Where each letter stands in b, one bit a position.
    let mut positions = [0u64; 32];
    for (j, &letter) in b.iter().enumerate() {
        positions[usize::from(letter & 31)] |= 1 << j;
    }
    let (mut a_flags, mut b_flags) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &letter) in a.iter().enumerate() {
        let low = i.saturating_sub(search_range);
        let high = b_len.min(i + search_range + 1);
        if low >= high {
            continue;
        }
        let window = low_bits(high) & !low_bits(low);
        // The first unmatched equal letter in the window, as strsim's scan from the left finds.
        let free = positions[usize::from(letter & 31)] & window & !b_flags;
        if free != 0 {
            b_flags |= free & free.wrapping_neg();
            a_flags |= 1 << i;
            matches += 1;
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let (mut a_rest, mut b_rest) = (a_flags, b_flags);
    while a_rest != 0 {
        let i = a_rest.trailing_zeros() as usize;
        let j = b_rest.trailing_zeros() as usize;
        a_rest &= a_rest - 1;
        b_rest &= b_rest - 1;
        if a[i] != b[j] {
            transpositions += 1;
        }
    }
    transpositions /= 2;
    ((matches as f64 / a_len as f64)
        + (matches as f64 / b_len as f64)
        + ((matches - transpositions) as f64 / matches as f64))
        / 3.0
}

/// Jaro-Winkler of two words given as UTF-8 bytes, equal to `strsim::jaro_winkler(a, b)`
/// (0 for bytes that are not UTF-8, which no name is).
pub fn jaro_winkler(a_bytes: &[u8], b_bytes: &[u8]) -> f64 {
    if a_bytes.len() > MAX_LETTERS
        || b_bytes.len() > MAX_LETTERS
        || !all_capital_letters(a_bytes)
        || !all_capital_letters(b_bytes)
    {
        return match (std::str::from_utf8(a_bytes), std::str::from_utf8(b_bytes)) {
            (Ok(a), Ok(b)) => strsim::jaro_winkler(a, b),
            _ => 0.0,
        };
    }
    let sim = jaro(a_bytes, b_bytes);
    if sim > 0.7 {
        let prefix_length = a_bytes
            .iter()
            .take(4)
            .zip(b_bytes)
            .take_while(|(x, y)| x == y)
            .count();
        sim + 0.1 * prefix_length as f64 * (1.0 - sim)
    } else {
        sim
    }
}

/// An upper bound of `jaro_winkler(a, b)`, a fraction of its cost: every match pairs a letter
/// of one word with the same letter of the other, so there are at most as many matches as
/// letters of either word that occur in the other, and no transpositions at best.
pub fn jaro_winkler_bound(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty()
        || b.is_empty()
        || a.len() > MAX_LETTERS
        || b.len() > MAX_LETTERS
        || !all_capital_letters(a)
        || !all_capital_letters(b)
    {
        return 1.0;
    }
    let letters = |word: &[u8]| word.iter().fold(0u32, |set, c| set | 1 << (c & 31));
    let (in_a, in_b) = (letters(a), letters(b));
    let shared = |word: &[u8], set: u32| word.iter().filter(|c| set & 1 << (*c & 31) != 0).count();
    let matches = shared(a, in_b).min(shared(b, in_a));
    if matches == 0 {
        return 0.0;
    }
    let matches = matches as f64;
    let jaro = (matches / a.len() as f64 + matches / b.len() as f64 + 1.0) / 3.0;
    let prefix_length = a.iter().take(4).zip(b).take_while(|(x, y)| x == y).count();
    jaro + 0.1 * prefix_length as f64 * (1.0 - jaro)
}

/// A word reduced to what `sketch_bound` reads: the set of its letters (bits 0-25), its
/// length (bits 26-31) and its first four letters (five bits each from bit 32, 0 past the
/// end). Eight bytes instead of the word, so that a screening can reject most candidates
/// from a dense array of sketches without reading their records. Never zero (a word has a
/// letter), so that an absent word costs no space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LetterSketch(NonZeroU64);

/// Longest word a sketch holds: what the six bits of the length field count.
const MAX_SKETCHED_LETTERS: usize = 63;
const LENGTH_SHIFT: u32 = 26;
const LETTER_BITS: u64 = (1 << LENGTH_SHIFT) - 1;
const PREFIX_SHIFT: u32 = 32;
/// Bits of one letter of the prefix: A is 1, so that 0 marks a word's end.
const PREFIX_LETTER_BITS: u32 = 5;
const PREFIX_BITS: u64 = (1 << (4 * PREFIX_LETTER_BITS)) - 1;

impl LetterSketch {
    /// The sketch of a word of 1 to 63 letters A-Z; None for any other word, which the
    /// bound cannot speak for.
    pub fn of(word: &[u8]) -> Option<Self> {
        if word.len() > MAX_SKETCHED_LETTERS || !all_capital_letters(word) {
            return None;
        }
        let letters = word
            .iter()
            .fold(0u64, |set, &letter| set | letter_bit(letter));
        let prefix = word.iter().take(4).rev().fold(0u64, |prefix, &letter| {
            prefix << PREFIX_LETTER_BITS | u64::from(letter - b'A' + 1)
        });
        NonZeroU64::new(letters | (word.len() as u64) << LENGTH_SHIFT | prefix << PREFIX_SHIFT)
            .map(Self)
    }

    fn letters(self) -> u64 {
        self.0.get() & LETTER_BITS
    }

    pub fn length(self) -> u32 {
        (self.0.get() >> LENGTH_SHIFT) as u32 & 63
    }

    fn prefix(self) -> u64 {
        self.0.get() >> PREFIX_SHIFT & PREFIX_BITS
    }
}

/// A letter A-Z as a sketch's letter set has it; no bit for any other byte.
fn letter_bit(letter: u8) -> u64 {
    if letter.is_ascii_uppercase() {
        1 << (letter - b'A')
    } else {
        0
    }
}

/// 1/n for the lengths of words and names that bounds divide by: a bound multiplies instead,
/// since a division costs as much as the rest of it and a screening bounds thousands of pairs.
const RECIPROCALS: [f64; 256] = {
    let mut reciprocals = [0.0; 256];
    let mut n = 1;
    while n < reciprocals.len() {
        reciprocals[n] = 1.0 / n as f64;
        n += 1;
    }
    reciprocals
};

/// 1/n as the table has it, for n below 256 (every sketched length).
pub fn reciprocal(n: u32) -> f64 {
    RECIPROCALS
        .get(n as usize)
        .copied()
        .unwrap_or(1.0 / f64::from(n))
}

/// An upper bound of `jaro_winkler(a, b)` and `jaro_winkler(b, a)` from the words' sketches:
/// each letter of a that b lacks (counted once, though it may occur more often) leaves at
/// most the rest of a's letters to match, and the other way round; there are no
/// transpositions at best; the common prefix is read off the sketches. Multiplying by
/// reciprocals may round differently from dividing, by far less than the slack callers add
/// to a bound.
pub fn sketch_bound(a: LetterSketch, b: LetterSketch) -> f64 {
    let (a_letters, b_letters) = (a.letters(), b.letters());
    let matches = (a.length() - (a_letters & !b_letters).count_ones())
        .min(b.length() - (b_letters & !a_letters).count_ones());
    if matches == 0 {
        return 0.0;
    }
    let matches = f64::from(matches);
    let jaro = (matches * reciprocal(a.length()) + matches * reciprocal(b.length()) + 1.0) / 3.0;
    // Equal letters up to the first that differs; a shorter word's end differs from a letter.
    let prefix_length = ((a.prefix() ^ b.prefix()).trailing_zeros() / PREFIX_LETTER_BITS)
        .min(a.length())
        .min(b.length())
        .min(4);
    jaro + 0.1 * f64::from(prefix_length) * (1.0 - jaro)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn winkler_1990_examples_score_as_strsim_scores_them() {
        for (a, b) in [
            ("MARTHA", "MARHTA"),
            ("DWAYNE", "DUANE"),
            ("DIXON", "DICKSONX"),
            ("SHEVCHENKO", "SEVCENKO"),
            ("", ""),
            ("A", ""),
            ("A", "A"),
        ] {
            assert_eq!(
                jaro_winkler(a.as_bytes(), b.as_bytes()).to_bits(),
                strsim::jaro_winkler(a, b).to_bits(),
                "{a} {b}"
            );
        }
        assert!((jaro_winkler(b"MARTHA", b"MARHTA") - 0.961).abs() < 0.001);
    }

    #[test]
    fn only_words_of_63_letters_a_z_at_most_have_a_sketch() {
        let sketch = |word: &[u8]| LetterSketch::of(word).unwrap();
        assert_eq!(sketch(b"ANNA").length(), 4);
        assert_eq!(sketch(&[b'Z'; 63]).length(), 63);
        for word in [&b""[..], &[b'A'; 64], b"M\xc3\xbcLLER", b"O'NEIL"] {
            assert_eq!(LetterSketch::of(word), None);
        }
        // Equal words score 1, and so do their sketches, prefix and all.
        assert_eq!(sketch_bound(sketch(b"ANA"), sketch(b"ANA")), 1.0);
        assert_eq!(sketch_bound(sketch(b"SMIT"), sketch(b"SMIT")), 1.0);
        assert_eq!(sketch_bound(sketch(b"AN"), sketch(b"BOT")), 0.0);
    }

    #[test]
    fn words_beyond_the_masks_take_strsims_path() {
        let long = "A".repeat(70);
        let other = format!("{}B", "A".repeat(69));
        assert_eq!(
            jaro_winkler(long.as_bytes(), other.as_bytes()).to_bits(),
            strsim::jaro_winkler(&long, &other).to_bits()
        );
        assert_eq!(
            jaro_winkler("müller".as_bytes(), b"MULLER").to_bits(),
            strsim::jaro_winkler("müller", "MULLER").to_bits()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        #[test]
        fn equal_to_strsim_to_the_bit(a in "[A-E]{0,12}", b in "[A-H]{0,14}", c in "[A-E]{50,64}") {
            prop_assert_eq!(jaro_winkler(a.as_bytes(), b.as_bytes()).to_bits(), strsim::jaro_winkler(&a, &b).to_bits());
            prop_assert_eq!(jaro_winkler(b.as_bytes(), a.as_bytes()).to_bits(), strsim::jaro_winkler(&b, &a).to_bits());
            prop_assert_eq!(jaro_winkler(c.as_bytes(), b.as_bytes()).to_bits(), strsim::jaro_winkler(&c, &b).to_bits());
            prop_assert_eq!(jaro_winkler(a.as_bytes(), c.as_bytes()).to_bits(), strsim::jaro_winkler(&a, &c).to_bits());
            prop_assert!(jaro_winkler_bound(a.as_bytes(), b.as_bytes()) + 1e-9 >= jaro_winkler(a.as_bytes(), b.as_bytes()));
            prop_assert!(jaro_winkler_bound(b.as_bytes(), a.as_bytes()) + 1e-9 >= jaro_winkler(b.as_bytes(), a.as_bytes()));
            prop_assert!(jaro_winkler_bound(c.as_bytes(), b.as_bytes()) + 1e-9 >= jaro_winkler(c.as_bytes(), b.as_bytes()));
        }

        #[test]
        fn the_sketch_bound_is_never_below_the_score(a in "[A-H]{1,12}", b in "[A-J]{1,14}") {
            let (a, b) = (a.as_bytes(), b.as_bytes());
            let (sketch_a, sketch_b) = (LetterSketch::of(a).unwrap(), LetterSketch::of(b).unwrap());
            let bound = sketch_bound(sketch_a, sketch_b);
            prop_assert!(bound + 1e-9 >= jaro_winkler(a, b), "{bound}");
            prop_assert!(bound + 1e-9 >= jaro_winkler(b, a), "{bound}");
            prop_assert!(sketch_bound(sketch_b, sketch_a) + 1e-9 >= jaro_winkler(a, b));
        }
    }
}
