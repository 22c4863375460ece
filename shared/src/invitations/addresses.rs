//! The import's address list: entries separated by line breaks or top-level commas, each
//! `person@example.com`, `"Joe Smith" <person@example.com>` or `Joe Smith <person@example.com>`.
//! The grammar of one entry is RFC 5322's, parsed by `mailparse`.

use std::collections::HashSet;

use crate::validate;

pub const MAX_ENTRIES: usize = 5000;
const MAX_ENTRY_CHARS: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub email: String,
    pub name: Option<String>,
}

/// What became of each entry, in list order; duplicates (case-insensitive) count once.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub addresses: Vec<Address>,
    /// `(entry as given, reason)`
    pub errors: Vec<(String, String)>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct TooManyEntries(pub usize);

pub fn parse(list: &str) -> Result<Parsed, TooManyEntries> {
    let entries: Vec<&str> = split(list)
        .into_iter()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.len() > MAX_ENTRIES {
        return Err(TooManyEntries(entries.len()));
    }
    let mut parsed = Parsed::default();
    let mut seen = HashSet::new();
    for entry in entries {
        match parse_entry(entry) {
            Ok(address) => {
                if seen.insert(address.email.to_lowercase()) {
                    parsed.addresses.push(address);
                }
            }
            Err(reason) => parsed.errors.push((entry.to_owned(), reason.to_owned())),
        }
    }
    Ok(parsed)
}

/// Splits on line breaks, and on commas outside quotes and angle brackets.
fn split(list: &str) -> Vec<&str> {
    let mut entries = Vec::new();
    let (mut start, mut quoted, mut angled, mut escaped) = (0, false, false, false);
    for (i, c) in list.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angled = true,
            '>' if !quoted => angled = false,
            '\n' | '\r' => {
                // A line break always ends an entry, even inside an unbalanced quote.
                entries.push(&list[start..i]);
                start = i + 1;
                quoted = false;
                angled = false;
            }
            ',' if !quoted && !angled => {
                entries.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    entries.push(&list[start..]);
    entries
}

fn parse_entry(entry: &str) -> Result<Address, &'static str> {
    if entry.chars().count() > MAX_ENTRY_CHARS {
        return Err("Entry too long");
    }
    if entry.chars().any(char::is_control) {
        return Err("Invalid email");
    }
    let list = mailparse::addrparse(entry).map_err(|_| "Invalid email")?;
    let single = match list.iter().collect::<Vec<_>>().as_slice() {
        [mailparse::MailAddr::Single(single)] => single.clone(),
        _ => return Err("Invalid email"),
    };
    let email = validate::email("email", &single.addr).map_err(|_| "Invalid email")?;
    let name = match single.display_name.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => {
            Some(validate::label("name", name, MAX_ENTRY_CHARS).map_err(|_| "Invalid name")?)
        }
    };
    Ok(Address { email, name })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn emails(p: &Parsed) -> Vec<&str> {
        p.addresses.iter().map(|a| a.email.as_str()).collect()
    }

    #[test]
    fn the_seeds_example() {
        let p = parse("someone@example.com, \"Joe Smith\" <person@example.com>").unwrap();
        assert_eq!(emails(&p), ["someone@example.com", "person@example.com"]);
        assert_eq!(p.addresses[1].name.as_deref(), Some("Joe Smith"));
        assert!(p.errors.is_empty());
    }

    #[test]
    fn unquoted_names_line_breaks_and_commas_in_quotes() {
        let p = parse(
            "Joe Smith <joe@example.com>\n\"Smith, Ann\" <ann@example.com>\r\nbob@example.com,,\n",
        )
        .unwrap();
        assert_eq!(
            emails(&p),
            ["joe@example.com", "ann@example.com", "bob@example.com"]
        );
        assert_eq!(p.addresses[0].name.as_deref(), Some("Joe Smith"));
        assert_eq!(p.addresses[1].name.as_deref(), Some("Smith, Ann"));
    }

    #[test]
    fn a_name_with_invisible_characters_is_an_erroneous_entry() {
        let p = parse("\"Bank\u{202E}moc.evil\" <a@example.com>, b@example.com").unwrap();
        assert_eq!(emails(&p), ["b@example.com"]);
        assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
        assert_eq!(p.errors[0].1, "Invalid name");
    }

    #[test]
    fn duplicates_count_once_case_insensitively() {
        let p = parse("a@example.com, A@Example.com, \"A\" <a@EXAMPLE.com>").unwrap();
        assert_eq!(emails(&p), ["a@example.com"]);
    }

    #[test]
    fn bad_entries_are_reported_with_a_reason() {
        let p = parse("test@example.invalid, nope, \"Joe\" <>, ok@example.com, <a@b.co> <c@d.co>")
            .unwrap();
        assert_eq!(emails(&p), ["ok@example.com"]);
        let bad: Vec<&str> = p.errors.iter().map(|(e, _)| e.as_str()).collect();
        assert_eq!(
            bad,
            [
                "test@example.invalid",
                "nope",
                "\"Joe\" <>",
                "<a@b.co> <c@d.co>"
            ]
        );
        assert!(p.errors.iter().all(|(_, reason)| reason == "Invalid email"));
    }

    #[test]
    fn too_many_entries() {
        let list = (0..=MAX_ENTRIES)
            .map(|i| format!("u{i}@example.com"))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(parse(&list), Err(TooManyEntries(MAX_ENTRIES + 1)));
        let list = (0..MAX_ENTRIES)
            .map(|i| format!("u{i}@example.com"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(parse(&list).unwrap().addresses.len(), MAX_ENTRIES);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_input_yields_addresses_or_per_entry_errors(list in "\\PC{0,300}") {
            let p = parse(&list).unwrap();
            for a in &p.addresses {
                prop_assert!(validate::email("e", &a.email).is_ok());
            }
        }

        #[test]
        fn structured_input_never_panics(list in "([a-zA-Z\" <>@.,\\n\\\\]|[a-z]{1,5}@[a-z]{1,5}\\.[a-z]{2,3}){0,60}") {
            let p = parse(&list).unwrap();
            let mut seen = HashSet::new();
            for a in &p.addresses {
                prop_assert!(seen.insert(a.email.to_lowercase()), "duplicates count once");
            }
        }

        #[test]
        fn valid_lists_round_trip(names in proptest::collection::vec("[a-z]{1,8}", 1..40)) {
            let list = names.iter().enumerate().map(|(i, n)| format!("\"{n} X\" <{n}{i}@example.com>")).collect::<Vec<_>>().join(",\n");
            let p = parse(&list).unwrap();
            prop_assert_eq!(p.addresses.len(), names.len());
            prop_assert!(p.errors.is_empty());
        }
    }
}
