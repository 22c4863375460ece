//! Public identifiers: a type prefix and 20 random base62 characters (~119 bits).

use rand::{distr::Alphanumeric, RngExt};

use crate::error::{Error, Resource};

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

/// `id` as a path or body names it: one not shaped like a `prefix` id names no `resource`, so
/// it is not found without a read.
pub fn require(prefix: &str, resource: Resource, id: &str) -> Result<(), Error> {
    if looks_like(prefix, id) {
        Ok(())
    } else {
        Err(Error::not_found(resource, id))
    }
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
