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

/// What an id names, and so its prefix: each kind's prefix is written here only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Organization,
    Key,
    User,
    /// A training flow.
    Flow,
    Assignment,
    Invitation,
    WebhookEndpoint,
    Delivery,
    Event,
    Outbox,
    Request,
    Sweep,
}

impl Kind {
    pub const fn prefix(self) -> &'static str {
        match self {
            Kind::Organization => "org",
            Kind::Key => "key",
            Kind::User => "usr",
            Kind::Flow => "flow",
            Kind::Assignment => "asgn",
            Kind::Invitation => "inv",
            Kind::WebhookEndpoint => "whk",
            Kind::Delivery => "dlv",
            Kind::Event => "evt",
            Kind::Outbox => "obx",
            Kind::Request => "req",
            Kind::Sweep => "sweep",
        }
    }

    /// What a request naming an id of this kind looks up; `None` for the ids no request names.
    fn resource(self) -> Option<Resource> {
        match self {
            Kind::Organization => Some(Resource::Organization),
            Kind::Key => Some(Resource::Key),
            Kind::User => Some(Resource::User),
            Kind::Flow => Some(Resource::Flow),
            Kind::Assignment => Some(Resource::Assignment),
            Kind::Invitation => Some(Resource::Invitation),
            Kind::WebhookEndpoint => Some(Resource::WebhookEndpoint),
            Kind::Delivery => Some(Resource::Delivery),
            Kind::Event | Kind::Outbox | Kind::Request | Kind::Sweep => None,
        }
    }
}

pub fn new(kind: Kind) -> String {
    format!("{}_{}", kind.prefix(), random(20))
}

/// `id` as a path or body names it: one not shaped like an id of `kind` names nothing, so it is
/// not found without a read.
pub fn require(kind: Kind, id: &str) -> Result<(), Error> {
    match kind.resource() {
        _ if looks_like(kind, id) => Ok(()),
        Some(resource) => Err(Error::not_found(resource, id)),
        None => Err(Error::invalid("id", "names nothing a request may look up")),
    }
}

/// Whether `id` could have been made by [`new`] for this kind; cheap rejection of junk ids.
pub fn looks_like(kind: Kind, id: &str) -> bool {
    id.strip_prefix(kind.prefix())
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
        let a = new(Kind::Assignment);
        assert!(looks_like(Kind::Assignment, &a), "{a}");
        assert_ne!(a, new(Kind::Assignment));
        assert!(!looks_like(Kind::Flow, &a));
        assert!(!looks_like(Kind::Assignment, "asgn_"));
        assert!(!looks_like(Kind::Assignment, "asgn_ab/cd"));
    }
}
