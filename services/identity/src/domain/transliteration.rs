//! Names as a machine readable zone writes them: ICAO Doc 9303 Part 3, Section 6
//! (transliteration of Latin-based national characters, and the Cyrillic and Greek tables),
//! and a coarser fold of the spellings that other transliteration habits produce.

/// ICAO 9303 Part 3, 6.A: Latin characters with diacritics, and the recommended spellings.
fn latin(c: char) -> Option<&'static str> {
    Some(match c {
        'À' | 'Á' | 'Â' | 'Ã' | 'Ā' | 'Ă' | 'Ą' => "A",
        'Ä' | 'Æ' => "AE",
        'Å' => "AA",
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'Ď' | 'Đ' | 'Ð' => "D",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => "E",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'Ĥ' | 'Ħ' => "H",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => "I",
        'Ĳ' => "IJ",
        'Ĵ' => "J",
        'Ķ' => "K",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => "L",
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' => "N",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ō' | 'Ŏ' => "O",
        'Ö' | 'Ø' | 'Œ' | 'Ő' => "OE",
        'Ŕ' | 'Ŗ' | 'Ř' => "R",
        'Ś' | 'Ŝ' | 'Ş' | 'Š' | 'Ș' => "S",
        'ẞ' => "SS",
        'Ţ' | 'Ť' | 'Ŧ' | 'Ț' => "T",
        'Þ' => "TH",
        'Ù' | 'Ú' | 'Û' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ų' => "U",
        'Ü' | 'Ű' => "UE",
        'Ŵ' => "W",
        'Ý' | 'Ŷ' | 'Ÿ' => "Y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        _ => return None,
    })
}

/// ICAO 9303 Part 3, 6.B: Cyrillic (Russian, Ukrainian, Belarusian, Serbian, Macedonian letters).
fn cyrillic(c: char) -> Option<&'static str> {
    Some(match c {
        'А' => "A",
        'Б' => "B",
        'В' => "V",
        'Г' | 'Ґ' | 'Ѓ' => "G",
        'Д' | 'Ђ' => "D",
        'Е' | 'Ё' | 'Э' => "E",
        'Є' => "IE",
        'Ж' => "ZH",
        'З' => "Z",
        'Ѕ' | 'Џ' => "DZ",
        'И' | 'І' | 'Ї' | 'Й' => "I",
        'Ј' => "J",
        'К' | 'Ќ' => "K",
        'Л' => "L",
        'Љ' => "LJ",
        'М' => "M",
        'Н' => "N",
        'Њ' => "NJ",
        'О' => "O",
        'П' => "P",
        'Р' => "R",
        'С' => "S",
        'Т' => "T",
        'Ћ' => "C",
        'У' | 'Ў' => "U",
        'Ф' => "F",
        'Х' => "KH",
        'Ц' => "TS",
        'Ч' => "CH",
        'Ш' => "SH",
        'Щ' => "SHCH",
        'Ъ' => "IE",
        'Ы' => "Y",
        'Ь' => "",
        'Ю' => "IU",
        'Я' => "IA",
        _ => return None,
    })
}

/// ICAO 9303 Part 3, 6.C: Greek.
fn greek(c: char) -> Option<&'static str> {
    Some(match c {
        'Α' | 'Ά' => "A",
        'Β' => "V",
        'Γ' => "G",
        'Δ' => "D",
        'Ε' | 'Έ' => "E",
        'Ζ' => "Z",
        'Η' | 'Ή' => "I",
        'Θ' => "TH",
        'Ι' | 'Ί' | 'Ϊ' => "I",
        'Κ' => "K",
        'Λ' => "L",
        'Μ' => "M",
        'Ν' => "N",
        'Ξ' => "X",
        'Ο' | 'Ό' => "O",
        'Π' => "P",
        'Ρ' => "R",
        'Σ' => "S",
        'Τ' => "T",
        'Υ' | 'Ύ' | 'Ϋ' => "Y",
        'Φ' => "F",
        'Χ' => "CH",
        'Ψ' => "PS",
        'Ω' | 'Ώ' => "O",
        _ => return None,
    })
}

/// A name in the zone's alphabet: upper case A-Z, words separated by single spaces. Characters
/// with no transliteration (digits, punctuation, other scripts) separate words, as the filler
/// `<` does in a zone (Part 3, 6: hyphens, apostrophes and commas become fillers).
pub fn to_mrz_alphabet(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let push_separator = |out: &mut String| {
        if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    };
    // 'ß' upper-cases to "SS", as ICAO writes it; 'ς' to 'Σ'.
    let upper: Vec<char> = name.chars().flat_map(char::to_uppercase).collect();
    let mut index = 0;
    while let Some(&c) = upper.get(index) {
        index += 1;
        if c.is_ascii_uppercase() {
            out.push(c);
        } else if c == 'Ο' && matches!(upper.get(index), Some('Υ' | 'Ύ')) {
            // The Greek digraph ΟΥ is one sound, written OU (ELOT 743, which the table follows).
            out.push_str("OU");
            index += 1;
        } else if let Some(text) = latin(c).or_else(|| cyrillic(c)).or_else(|| greek(c)) {
            out.push_str(text);
        } else {
            push_separator(&mut out);
        }
    }
    out.trim_end().to_owned()
}

/// Spellings that other transliteration habits use for the same letter, folded to one form so
/// that MUELLER and MULLER, IURII and YURIY, KHARITONOV and HARITONOV compare equal. Longest
/// patterns first; a fold is only ever used for comparing, never shown.
const FOLDS: &[(&str, &str)] = &[
    ("SHCH", "SH"),
    ("SCH", "SH"),
    ("AE", "A"),
    ("OE", "O"),
    ("UE", "U"),
    ("KH", "H"),
    ("PH", "F"),
    ("TH", "T"),
    ("TS", "C"),
    ("TZ", "C"),
    ("CK", "K"),
    ("ZH", "Z"),
    ("Y", "I"),
    ("J", "I"),
    ("W", "V"),
    ("Q", "K"),
];

/// Folds one word of A-Z letters and collapses doubled letters (AA, LL, SS).
pub fn fold(word: &str) -> String {
    let bytes = word.as_bytes();
    let mut folded = String::with_capacity(word.len());
    let mut i = 0;
    'outer: while i < bytes.len() {
        for (pattern, replacement) in FOLDS {
            if bytes[i..].starts_with(pattern.as_bytes()) {
                folded.push_str(replacement);
                i += pattern.len();
                continue 'outer;
            }
        }
        folded.push(char::from(bytes[i]));
        i += 1;
    }
    let mut collapsed = String::with_capacity(folded.len());
    for c in folded.chars() {
        if !collapsed.ends_with(c) {
            collapsed.push(c);
        }
    }
    collapsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icao_9303_part_3_latin_national_characters() {
        assert_eq!(to_mrz_alphabet("Müller"), "MUELLER");
        assert_eq!(to_mrz_alphabet("Jörg Straße"), "JOERG STRASSE");
        assert_eq!(to_mrz_alphabet("Åsa Ørsted"), "AASA OERSTED");
        assert_eq!(to_mrz_alphabet("Gülen Ärmel"), "GUELEN AERMEL");
        assert_eq!(
            to_mrz_alphabet("Łukasz Wąsowicz-Żak"),
            "LUKASZ WASOWICZ ZAK"
        );
        assert_eq!(to_mrz_alphabet("O'Brien"), "O BRIEN");
    }

    #[test]
    fn icao_9303_part_3_cyrillic() {
        assert_eq!(to_mrz_alphabet("Юрий Шевченко"), "IURII SHEVCHENKO");
        assert_eq!(to_mrz_alphabet("Жанна Харитонова"), "ZHANNA KHARITONOVA");
        assert_eq!(to_mrz_alphabet("Щукин Яков"), "SHCHUKIN IAKOV");
        assert_eq!(to_mrz_alphabet("Đoković Ђорђе"), "DOKOVIC DORDE");
    }

    #[test]
    fn icao_9303_part_3_greek() {
        assert_eq!(
            to_mrz_alphabet("Γεώργιος Παπαδόπουλος"),
            "GEORGIOS PAPADOPOULOS"
        );
        assert_eq!(
            to_mrz_alphabet("Χρήστος Θεοδωρίδης"),
            "CHRISTOS THEODORIDIS"
        );
        assert_eq!(to_mrz_alphabet("Ψαρράς"), "PSARRAS");
    }

    #[test]
    fn other_common_spellings_fold_to_the_icao_one() {
        assert_eq!(fold("MUELLER"), fold("MULLER"));
        assert_eq!(fold("IURII"), fold("YURIY"));
        assert_eq!(fold("KHARITONOVA"), fold("HARITONOVA"));
        assert_eq!(fold("SHCHUKIN"), fold("SCHUKIN"));
        assert_eq!(fold("TSVETKOV"), fold("CVETKOV"));
        assert_eq!(fold("CHRISTOS"), "CHRISTOS");
        assert_eq!(fold("AASA"), fold("ASA"));
    }
}
