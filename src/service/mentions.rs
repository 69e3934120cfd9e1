//! Finding the users a note mentions: `@` followed by a user's email or full name.
//!
//! The rules, case-insensitive and with any run of white space counting as one space:
//!
//! - a mention starts at an `@` that does not continue a word or an email address (`ana@x` is
//!   an address, not a mention of `x`);
//! - what follows must be a user's whole email (`@ana@demo.test`) or whole name
//!   (`@Ana Lima`), ending where the word ends (`@Ana Limas` mentions nobody called
//!   `Ana Lima`);
//! - the longest name or email that fits wins, so with users `Ana` and `Ana Lima`,
//!   `@Ana Lima` mentions the second and `@Ana, hi` the first;
//! - two users with the same name are both mentioned by it (mention by email to tell them
//!   apart);
//! - HTML is read as its text (tags and character references do not count).
//!
//! This module only reads text; who may be notified is decided elsewhere.

/// The most `@` signs of one note that are looked at: a bound on the work one write can ask
/// for, far above what people write.
pub const MAX_SITES: usize = 500;

/// A user who may be mentioned.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    /// The user's row id.
    pub id: i64,
    /// The display name.
    pub name: &'a str,
    /// The login email.
    pub email: &'a str,
}

/// The text lower-cased, with each run of white space as one space.
fn normalize(text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.extend(c.to_lowercase());
    }
    if space {
        out.push(' ');
    }
    out
}

/// A character that can sit inside a word or an email's local part.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '%' | '+' | '-')
}

/// Whether a match ending before `rest` ends at a word boundary: the next character does not
/// carry on the name or address (`.com` after `ana@demo.test` does; a full stop does not).
fn ends_at_boundary(rest: &[char]) -> bool {
    match rest {
        [] => true,
        [c, ..] if c.is_alphanumeric() || *c == '_' => false,
        ['.' | '-' | '@', next, ..] => !next.is_alphanumeric(),
        _ => true,
    }
}

/// The text of sanitised HTML: tags become spaces, character references their characters.
pub fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                out.push(' ');
                rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
            }
            '&' => {
                let decoded = rest.find(';').filter(|end| *end <= 10).and_then(|end| {
                    let name = &rest[1..end];
                    let c = match name {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        "nbsp" => Some(' '),
                        _ => name
                            .strip_prefix("#x")
                            .or_else(|| name.strip_prefix("#X"))
                            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                            .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                            .and_then(char::from_u32),
                    };
                    c.map(|c| (c, end))
                });
                match decoded {
                    Some((c, end)) => {
                        out.push(c);
                        rest = &rest[end + 1..];
                    }
                    None => {
                        out.push('&');
                        rest = &rest[1..];
                    }
                }
            }
            c => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// The users among `candidates` that `texts` mention, each once, in the order of their first
/// mention.
pub fn mentioned(texts: &[&str], candidates: &[Candidate<'_>]) -> Vec<i64> {
    // Every name and email a mention may spell, normalised like the text.
    let keys: Vec<(Vec<char>, i64)> = candidates
        .iter()
        .flat_map(|c| [(normalize(c.name.trim()), c.id), (normalize(c.email), c.id)])
        .filter(|(key, _)| !key.is_empty())
        .collect();
    let mut found: Vec<i64> = Vec::new();
    let mut sites = 0;
    for text in texts {
        let text = normalize(text);
        for at in 0..text.len() {
            if text[at] != '@' || (at > 0 && is_word(text[at - 1])) {
                continue;
            }
            sites += 1;
            if sites > MAX_SITES {
                return found;
            }
            let rest = &text[at + 1..];
            let fits = |key: &[char]| rest.starts_with(key) && ends_at_boundary(&rest[key.len()..]);
            let Some(longest) = keys
                .iter()
                .filter(|(key, _)| fits(key))
                .map(|(key, _)| key.len())
                .max()
            else {
                continue;
            };
            for (key, id) in &keys {
                if key.len() == longest && fits(key) && !found.contains(id) {
                    found.push(*id);
                }
            }
        }
    }
    found
}

/// Whether `text` holds anything that could be a mention (an `@` not inside a word), so that
/// a note without one costs no query.
pub fn may_mention(text: &str) -> bool {
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if c == '@' && !previous.is_some_and(is_word) {
            return true;
        }
        previous = Some(c);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEOPLE: [Candidate<'static>; 4] = [
        Candidate {
            id: 1,
            name: "Ana",
            email: "ana.short@demo.test",
        },
        Candidate {
            id: 2,
            name: "Ana Lima",
            email: "ana@demo.test",
        },
        Candidate {
            id: 3,
            name: "Ben  Member",
            email: "ben@demo.test",
        },
        Candidate {
            id: 4,
            name: "Zoë Ångström",
            email: "zoe@demo.test",
        },
    ];

    fn find(text: &str) -> Vec<i64> {
        mentioned(&[text], &PEOPLE)
    }

    #[test]
    fn names_and_emails_case_insensitive_longest_first() {
        assert_eq!(find("Thanks @ana lima!"), [2]);
        assert_eq!(find("@Ana, can you call?"), [1]);
        assert_eq!(find("cc @ANA@demo.test."), [2]);
        assert_eq!(find("@ben member and @Ana\tLima"), [3, 2]);
        assert_eq!(find("(@zoë ångström)"), [4]);
        assert_eq!(find("@Ana Lima @Ana Lima @ana@demo.test"), [2]);
    }

    #[test]
    fn partial_words_addresses_and_bare_words_are_not_mentions() {
        assert!(find("@Anabel").is_empty());
        assert_eq!(find("@Ana Limas"), [1], "Ana, then a word that is not Lima");
        assert!(find("write to lima@ana.test or bob@ana").is_empty());
        assert!(find("@ana@demo.test.com").is_empty());
        assert!(find("Ana Lima and Ben Member").is_empty());
        assert!(find("@").is_empty());
        assert!(find("@nobody here").is_empty());
    }

    #[test]
    fn html_is_read_as_text() {
        let html = r#"<p>Ask <span class="mention">@Ana&nbsp;Lima</span> &amp; <a href="mailto:ben@demo.test">@ben@demo.test</a></p>"#;
        assert_eq!(mentioned(&[&html_text(html)], &PEOPLE), [2, 3]);
        assert_eq!(
            html_text("a &lt;b&gt; &#64;c &#x41; &bogus; &"),
            "a <b> @c A &bogus; &"
        );
    }

    #[test]
    fn only_so_many_sites_are_read() {
        let text = "@x ".repeat(MAX_SITES) + "@Ana Lima";
        assert!(find(&text).is_empty());
        assert_eq!(find(&("@x ".repeat(MAX_SITES - 1) + "@Ana Lima")), [2]);
    }

    #[test]
    fn may_mention_is_cheap_and_right() {
        assert!(may_mention("hi @ana"));
        assert!(may_mention("@ana"));
        assert!(!may_mention("mail ana@demo.test"));
        assert!(!may_mention("nothing"));
    }
}
