//! Input checks shared by the API families.

use crate::error::Error;

pub const MAX_EMAIL_LEN: usize = 254;

/// A syntactically valid address, returned trimmed.
pub fn email(field: &str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if value.len() > MAX_EMAIL_LEN
        || value.chars().any(char::is_control)
        || !email_address::EmailAddress::is_valid(value)
        || !bare_address(value)
        || !deliverable_domain(value)
    {
        return Err(Error::invalid(field, "is not a valid email address"));
    }
    Ok(value.to_owned())
}

/// A domain mail can go to: dotted, and not the reserved `.invalid` (RFC 2606; the seed's example
/// of a bad address is `test@example.invalid`).
/// `local@domain` only: the email crate also accepts `Name <local@domain>`, which is not an
/// address to store or key on.
fn bare_address(email: &str) -> bool {
    !email.contains(['<', '>', ' ', '"'])
}

fn deliverable_domain(email: &str) -> bool {
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2 && labels.iter().all(|l| !l.is_empty()) && labels.last() != Some(&"invalid")
}

/// Free text with a length limit in characters.
pub fn text(field: &str, value: &str, max_chars: usize) -> Result<String, Error> {
    if value.chars().count() > max_chars {
        return Err(Error::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// A label: a single-line, non-empty, bounded string without control or invisible formatting
/// characters (which could disguise one id as another, reverse what an invitee reads, or break a
/// dashboard's layout). Every name a person is shown is one: organization, flow, user and
/// display names, user groups' names and ids.
pub fn label(field: &str, value: &str, max_chars: usize) -> Result<String, Error> {
    if value
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err(Error::invalid(
            field,
            "must not contain control or invisible formatting characters",
        ));
    }
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max_chars {
        return Err(Error::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Bidirectional overrides and isolates, zero-width characters and the byte-order mark.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}')
}

/// A URL slug: lowercase letters, digits and single hyphens.
pub fn slug(field: &str, value: &str) -> Result<String, Error> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            field,
            "must be 1-64 lowercase letters, digits or hyphens",
        ))
    }
}

/// A protobuf-Duration JSON length (`"86400s"`, the only form UserHub's clients send) of
/// `secs` seconds (rounded to whole seconds) within `secs`' range.
pub fn duration(
    field: &str,
    value: &str,
    secs: std::ops::RangeInclusive<i64>,
) -> Result<i64, Error> {
    let parsed: f64 = value
        .strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| Error::invalid(field, "must be a duration in seconds such as \"86400s\""))?;
    let parsed = parsed.round() as i64;
    if !secs.contains(&parsed) {
        return Err(Error::invalid(
            field,
            format!("must be between {}s and {}s", secs.start(), secs.end()),
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("e", " a@b.co ").unwrap(), "a@b.co");
        for bad in [
            "",
            "nope",
            "a@",
            "a@example",
            "test@example.invalid",
            "a@b..c",
            "@b.c",
            "a@b.c\r\nBcc: x@y.z",
            &format!("{}@b.co", "a".repeat(260)),
        ] {
            assert!(email("e", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn texts_and_labels() {
        assert!(text("n", "héllo", 5).is_ok());
        assert!(text("n", "héllo!", 5).is_err());
        assert!(label("n", "Jane\r\nBcc: x", 50).is_err());
        assert!(label("n", "   ", 50).is_err());
        assert_eq!(label("n", " Jane ", 50).unwrap(), "Jane");
        for disguised in [
            "Acme\u{202E}cnI",
            "Ac\u{200B}me",
            "\u{2066}Acme\u{2069}",
            "\u{FEFF}Acme",
        ] {
            assert!(label("n", disguised, 50).is_err(), "{disguised:?}");
        }
        assert_eq!(
            label("n", "Zoë Ångström 山田", 50).unwrap(),
            "Zoë Ångström 山田"
        );
    }

    #[test]
    fn slugs() {
        assert!(slug("s", "my-flow-2").is_ok());
        for bad in ["", "My", "-a", "a-", "a_b", "a/b"] {
            assert!(slug("s", bad).is_err(), "{bad}");
        }
    }
}
