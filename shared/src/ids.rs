//! Public identifiers: a type prefix and 20 random base62 characters (~119 bits).

use rand::{distr::Alphanumeric, RngExt};

pub fn random(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub fn new(prefix: &str) -> String {
    format!("{prefix}_{}", random(20))
}

/// Whether `id` could have been made by [`new`] with this prefix; cheap rejection of junk ids.
pub fn looks_like(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_have_their_prefix_and_are_unique() {
        let a = new("asgn");
        assert!(looks_like("asgn", &a), "{a}");
        assert_ne!(a, new("asgn"));
        assert!(!looks_like("flow", &a));
        assert!(!looks_like("asgn", "asgn_"));
        assert!(!looks_like("asgn", "asgn_ab/cd"));
    }
}
