//! The words the dataset is written with: people's names, and a fixed vocabulary of 1,000
//! words for subjects and bodies whose frequencies fall off with rank (a few words are in
//! most notes, most are rare), so full-text searches range from selective to broad.

/// First names of staff and contacts.
pub const FIRST_NAMES: [&str; 40] = [
    "Ada", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira",
    "Luis", "Maya", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera",
    "Wim", "Xenia", "Yusuf", "Zoe", "Anton", "Bea", "Cyril", "Dana", "Emil", "Fleur", "Gil",
    "Hana", "Igor", "Jade", "Karl", "Lena", "Marco", "Nora",
];

/// Last names of staff and contacts (contact search draws fragments of them).
pub const LAST_NAMES: [&str; 60] = [
    "Adler",
    "Baptiste",
    "Castillo",
    "Dvorak",
    "Eriksen",
    "Fontaine",
    "Gallagher",
    "Hartmann",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quintero",
    "Rasmussen",
    "Schneider",
    "Takahashi",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zimmermann",
    "Almeida",
    "Brennan",
    "Costa",
    "Dubois",
    "Esposito",
    "Fischer",
    "Garcia",
    "Horvat",
    "Iqbal",
    "Jovanovic",
    "Keller",
    "Larsen",
    "Mendes",
    "Novak",
    "Olsen",
    "Popescu",
    "Rossi",
    "Silva",
    "Tanaka",
    "Urban",
    "Vogel",
    "Wagner",
    "Young",
    "Zeller",
    "Bauer",
    "Conti",
    "Duarte",
    "Engel",
    "Ferreira",
    "Greco",
    "Haas",
    "Ito",
    "Kruger",
    "Lopez",
];

/// Email domains of contacts.
pub const DOMAINS: [&str; 8] = [
    "example.com",
    "mail.test",
    "acme.test",
    "globex.test",
    "initech.test",
    "umbrella.test",
    "hooli.test",
    "stark.test",
];

/// Words that open the vocabulary (the most frequent ranks).
const COMMON: [&str; 40] = [
    "call",
    "meeting",
    "renewal",
    "contract",
    "invoice",
    "pricing",
    "demo",
    "support",
    "onboarding",
    "feedback",
    "proposal",
    "discount",
    "upgrade",
    "license",
    "billing",
    "shipment",
    "delivery",
    "order",
    "quote",
    "trial",
    "training",
    "workshop",
    "visit",
    "complaint",
    "refund",
    "warranty",
    "budget",
    "forecast",
    "integration",
    "migration",
    "security",
    "audit",
    "report",
    "review",
    "schedule",
    "deadline",
    "payment",
    "account",
    "project",
    "partner",
];

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ra", "ven", "tor", "sel", "dun", "bri", "cas", "fel", "gor", "hal", "jin",
    "mor", "nal", "pel", "qui", "rus", "sta", "tem", "vor", "wil", "zan",
];

/// How many words the vocabulary holds.
pub const VOCABULARY: usize = 1_000;

/// The word of rank `i` (`0..VOCABULARY`): the common words, then made-up words of two or
/// three syllables, all distinct.
pub fn word(i: usize) -> String {
    if i < COMMON.len() {
        return COMMON[i].to_owned();
    }
    let n = i - COMMON.len();
    let s = SYLLABLES.len();
    // Three syllables each ("kaloka"): distinct for the first 24^3 made-up words.
    format!(
        "{}{}{}",
        SYLLABLES[n % s],
        SYLLABLES[(n / s) % s],
        SYLLABLES[(n / (s * s)) % s]
    )
}

/// A word drawn by rank with a falling frequency: rank `r` is drawn with probability about
/// proportional to `1/sqrt(r)` (the top word is in about half of the notes of 25 words, the
/// rarest in about 1%).
pub fn frequent_word(rng: &mut crate::rng::Rng) -> String {
    let u = rng.unit();
    word(((u * u) * VOCABULARY as f64) as usize)
}

/// `min..max` words drawn by [`frequent_word`], joined by spaces, the first capitalised.
pub fn sentence(rng: &mut crate::rng::Rng, min: usize, max: usize) -> String {
    let n = min + rng.below(max - min);
    let mut text = String::new();
    for i in 0..n {
        let w = frequent_word(rng);
        if i == 0 {
            let mut chars = w.chars();
            if let Some(first) = chars.next() {
                text.extend(first.to_uppercase());
                text.push_str(chars.as_str());
            }
        } else {
            text.push(' ');
            text.push_str(&w);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn the_vocabulary_is_distinct_lowercase_words() {
        let words: HashSet<String> = (0..VOCABULARY).map(word).collect();
        assert_eq!(words.len(), VOCABULARY);
        assert!(
            words
                .iter()
                .all(|w| w.chars().all(|c| c.is_ascii_lowercase()))
        );
    }
}
