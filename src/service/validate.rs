//! Input validation shared by the services: each check names the field at fault.

use crate::error::{ApiError, ApiResult};

/// Largest custom-fields document, serialized.
pub const MAX_CUSTOM_FIELDS_BYTES: usize = 16 * 1024;

/// Most characters of a note's subject, and of a message template's (which fills one).
pub const SUBJECT_MAX: usize = 300;

/// Most characters of a note's plain-text body, and of a message template's.
pub const BODY_MAX: usize = 100_000;

/// A note's or a template's subject: one line, at most [`SUBJECT_MAX`] characters; blank
/// becomes `None`.
pub fn subject(field: &str, value: Option<&str>) -> ApiResult<Option<String>> {
    optional(field, value, SUBJECT_MAX)
}

/// A note's or a template's plain-text body: at most [`BODY_MAX`] characters, lines kept; blank
/// becomes `None`.
pub fn body(field: &str, value: Option<&str>) -> ApiResult<Option<String>> {
    long_text(field, value, BODY_MAX)
}

/// A required name: trimmed, 1 to 200 characters.
pub fn name(field: &str, value: &str) -> ApiResult<String> {
    checked(field, value, 1, 200, Lines::Single)?
        .ok_or_else(|| ApiError::bad_input(field, "must not be empty"))
}

/// Optional free text: trimmed, empty becomes `None`, at most `max` characters.
pub fn optional(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => checked(field, v, 0, max, Lines::Single),
    }
}

/// Optional multi-line text (note and message bodies, templates, descriptions): as
/// [`optional`], but line breaks (`\n`, `\r\n`) and tabs are kept; other control characters
/// (and a lone `\r`) are still refused.
pub fn long_text(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) => checked(field, v, 0, max, Lines::Multi),
    }
}

/// The longest search text a list filter accepts, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

/// Refuses a search text longer than [`MAX_SEARCH_CHARS`] on `field`; the text itself is
/// matched as given.
pub fn search(field: &str, value: Option<&str>) -> ApiResult<()> {
    match value {
        Some(v) if v.chars().count() > MAX_SEARCH_CHARS => Err(ApiError::bad_input(
            field,
            format!("is longer than {MAX_SEARCH_CHARS} characters"),
        )),
        _ => Ok(()),
    }
}

/// Whether a text may span lines.
#[derive(Clone, Copy, PartialEq)]
enum Lines {
    Single,
    Multi,
}

fn checked(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    lines: Lines,
) -> ApiResult<Option<String>> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len < min {
        return Err(ApiError::bad_input(field, "must not be empty"));
    }
    if len > max {
        return Err(ApiError::bad_input(
            field,
            format!("is {len} characters long; the limit is {max}"),
        ));
    }
    let mut chars = trimmed.chars().peekable();
    while let Some(c) = chars.next() {
        if !c.is_control() {
            continue;
        }
        let allowed = lines == Lines::Multi
            && (c == '\n' || c == '\t' || (c == '\r' && chars.peek() == Some(&'\n')));
        if !allowed {
            let message = match lines {
                Lines::Single => "must be one line without control characters",
                Lines::Multi => {
                    "must not contain control characters other than line breaks and tabs"
                }
            };
            return Err(ApiError::bad_input(field, message));
        }
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

/// A point in time given by a caller (a schedule, a reminder, a filter bound): years 1 to 9999.
/// Outside them SQLite's text timestamps no longer sort in time order (a reminder for
/// `+10000-01-01` would fire at once) and PostgreSQL refuses the value; `None` passes.
pub fn timestamp(
    field: &str,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    use chrono::Datelike;
    match at {
        Some(at) if !(1..=9999).contains(&at.year()) => Err(ApiError::bad_input(
            field,
            format!("{at} is out of range: use a date between the years 1 and 9999"),
        )),
        at => Ok(at),
    }
}

/// An email address in the usual `local@domain.tld` form, lower-cased.
pub fn email(field: &str, value: &str) -> ApiResult<String> {
    let email = value.trim().to_lowercase();
    let bad = || ApiError::bad_input(field, format!("`{value}` is not a valid email address"));
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic));
    if local_ok && domain_ok {
        Ok(email)
    } else {
        Err(bad())
    }
}

/// A phone number normalised to E.164 (`+` and 7 to 15 digits). Spaces, dashes, dots and
/// parentheses are dropped; a leading `00` becomes `+`. A number without its country code is
/// refused, because the gateway cannot know which country was meant.
pub fn phone(field: &str, value: &str) -> ApiResult<String> {
    let trimmed = value.trim();
    let rest = if let Some(r) = trimmed.strip_prefix('+') {
        r
    } else if let Some(r) = trimmed.strip_prefix("00") {
        r
    } else {
        return Err(ApiError::bad_input(
            field,
            format!(
                "`{value}` has no country code: write it as +<country code> <number>, e.g. +1 415 555 0100"
            ),
        ));
    };
    let mut digits = String::with_capacity(16);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => {
                return Err(ApiError::bad_input(
                    field,
                    format!("`{value}` may hold only digits, spaces, dashes, dots and parentheses"),
                ));
            }
        }
    }
    if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(ApiError::bad_input(
            field,
            format!(
                "`{value}` is not a phone number: E.164 numbers have 7 to 15 digits after the country code's +"
            ),
        ));
    }
    Ok(format!("+{digits}"))
}

/// Custom fields: a JSON object of at most 16 KiB.
pub fn custom_fields(field: &str, value: serde_json::Value) -> ApiResult<serde_json::Value> {
    if !value.is_object() {
        return Err(ApiError::bad_input(field, "must be a JSON object"));
    }
    let size = serde_json::to_vec(&value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_CUSTOM_FIELDS_BYTES {
        return Err(ApiError::bad_input(
            field,
            format!("is {size} bytes; the limit is {MAX_CUSTOM_FIELDS_BYTES} bytes"),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            email("e", " Ana@Example.COM ").ok().as_deref(),
            Some("ana@example.com")
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.io",
            "a b@x.io",
            "ana@x",
            "ana@-x.io",
            "a..b@x.io",
        ] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones() {
        assert_eq!(
            phone("p", "+1 (415) 555-0100").ok().as_deref(),
            Some("+14155550100")
        );
        assert_eq!(
            phone("p", "0044 20 7946 0958").ok().as_deref(),
            Some("+442079460958")
        );
        for bad in ["415 555 0100", "+1 415 abc", "+12", "+1234567890123456", ""] {
            assert!(phone("p", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_fields() {
        assert!(name("n", "  ").is_err());
        assert!(name("n", &"x".repeat(201)).is_err());
        assert_eq!(name("n", " Ana ").ok().as_deref(), Some("Ana"));
        assert!(custom_fields("c", serde_json::json!([1])).is_err());
        let big = serde_json::json!({ "k": "x".repeat(17 * 1024) });
        assert!(custom_fields("c", big).is_err());
    }

    #[test]
    fn long_text_keeps_lines_and_tabs_only() {
        let kept = long_text("b", Some(" one\ntwo\r\n\tthree "), 100);
        assert_eq!(kept.ok().flatten().as_deref(), Some("one\ntwo\r\n\tthree"));
        for bad in ["a\u{0}b", "a\rb", "a\u{1b}[31mb", "a\u{7f}b"] {
            assert!(long_text("b", Some(bad), 100).is_err(), "{bad:?}");
        }
        assert!(optional("s", Some("one\ntwo"), 100).is_err());
        assert!(long_text("b", Some(&"x\n".repeat(60)), 100).is_err());
    }
}
