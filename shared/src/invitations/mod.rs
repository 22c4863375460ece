//! Invitations: one record per invited email, seen through two APIs (seed 001's invitations of
//! a flow, seeds 003/004's invitation flows). Creating or re-sending one writes its email job
//! and `invitation.created` event with it.

pub mod addresses;
pub mod consume;
pub mod create;
pub mod import;
pub mod lifecycle;
pub mod tokens;

use chrono::{DateTime, Utc};

use crate::{
    app::App,
    idempotency::Mark,
    ids,
    jobs::{EmailJob, EventKind, EventNote, Job, Lane, Outbox},
    keys::Hasher,
    model::{Invitation, Organization},
};

/// How long an invitation lives when neither the request nor the organization says.
pub const DEFAULT_TTL_SECS: i64 = 30 * 24 * 60 * 60;
/// The longest lifetime a request may ask for.
pub const MAX_TTL_SECS: i64 = 365 * 24 * 60 * 60;
pub const MAX_MESSAGE_CHARS: usize = 2000;

/// The id of the invitation of `email` into a training flow. Derived (a keyed hash), so that
/// the record itself is the (flow, email) uniqueness claim and a resend finds it in one read.
pub fn derived_id(hasher: &Hasher, org_id: &str, flow_id: &str, email: &str) -> String {
    let digest = hasher.hash(
        "invitation-id",
        &format!("{org_id}\0{flow_id}\0{}", email.to_lowercase()),
    );
    format!("inv_{}", &digest[..24])
}

/// A flow secret: the invitation's id and 40 random characters. Only its keyed hash is stored;
/// the id in front lets consume find the record with one strongly consistent read.
pub struct Secret {
    pub plain: String,
    pub hash: String,
}

pub fn new_secret(hasher: &Hasher, invitation_id: &str) -> Secret {
    secret_of(hasher, format!("{invitation_id}.{}", ids::random(40)))
}

/// The secret an idempotent request gives the invitation it makes: the same on its retries, so
/// a retry's answer can show it again (see `idempotency::Mark`).
pub fn marked_secret(hasher: &Hasher, invitation_id: &str, mark: &Mark) -> Secret {
    secret_of(
        hasher,
        format!(
            "{invitation_id}.{}",
            mark.secret_chars(hasher, "flow-secret", 40)
        ),
    )
}

fn secret_of(hasher: &Hasher, plain: String) -> Secret {
    let hash = hash_secret(hasher, &plain);
    Secret { plain, hash }
}

/// Whether the request with `mark` made (or last re-sent) this invitation.
pub fn made_by(inv: &Invitation, mark: Option<&Mark>) -> bool {
    mark.is_some_and(|m| inv.made_by.as_deref() == Some(m.as_str()))
}

pub fn hash_secret(hasher: &Hasher, secret: &str) -> String {
    hasher.hash("flow-secret", secret)
}

/// The invitation id a presented secret names, if it is shaped like one of ours.
pub fn id_in_secret(secret: &str) -> Option<&str> {
    let (id, rest) = secret.split_once('.')?;
    (ids::looks_like(crate::ids::Kind::Invitation, id)
        && rest.len() == 40
        && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then_some(id)
}

/// When an invitation made now expires: an explicit time, a ttl, or the organization's default.
pub fn expiry(
    org: &Organization,
    ttl_secs: Option<i64>,
    expire_time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> (i64, DateTime<Utc>) {
    match (expire_time, ttl_secs) {
        (Some(at), _) => ((at - now).num_seconds(), at),
        (None, Some(ttl)) => (ttl, now + chrono::Duration::seconds(ttl)),
        (None, None) => {
            let ttl = org.invitation_ttl_secs.unwrap_or(DEFAULT_TTL_SECS);
            (ttl, now + chrono::Duration::seconds(ttl))
        }
    }
}

/// The terms of one invitation into a training flow, new or re-sent.
pub struct Terms<'a> {
    pub secret: &'a Secret,
    pub message: Option<String>,
    pub ttl_secs: i64,
    pub expire_time: DateTime<Utc>,
    /// The mark of the idempotent request making it (`idempotency::Mark`).
    pub made_by: Option<String>,
    /// For an import: the first number it reserved.
    pub number_base: Option<u64>,
    pub now: DateTime<Utc>,
}

/// A new invitation of `email` into a training flow (the invitations API's kind).
pub fn into_flow(
    id: String,
    org_id: &str,
    flow: &crate::model::Flow,
    number: u64,
    email: String,
    name: Option<String>,
    terms: Terms<'_>,
) -> Invitation {
    use crate::model::{InvitationKind, InvitationState, Role};
    Invitation {
        id,
        org_id: org_id.to_owned(),
        kind: InvitationKind::JoinOrganization,
        state: InvitationState::StartPending,
        state_reason: None,
        email,
        display_name: name,
        role: Some(Role::Member),
        user_id: None,
        creator_user_id: None,
        flow_id: Some(flow.id.clone()),
        flow_slug: Some(flow.slug.clone()),
        number: Some(number),
        message: terms.message,
        create_organization: false,
        secret_hash: terms.secret.hash.clone(),
        ttl_secs: terms.ttl_secs,
        expire_time: terms.expire_time,
        start_time: None,
        create_time: terms.now,
        update_time: terms.now,
        result_org_id: None,
        made_by: terms.made_by,
        number_base: terms.number_base,
    }
}

/// The same invitation re-sent: pending again, with a fresh secret and expiry (the old link
/// dies); a new message replaces the old one.
pub fn resent(existing: Invitation, terms: Terms<'_>) -> Invitation {
    Invitation {
        state: crate::model::InvitationState::StartPending,
        state_reason: Some("RESENT".into()),
        message: terms.message.or(existing.message.clone()),
        secret_hash: terms.secret.hash.clone(),
        ttl_secs: terms.ttl_secs,
        expire_time: terms.expire_time,
        start_time: None,
        update_time: terms.now,
        made_by: terms.made_by,
        number_base: terms.number_base,
        ..existing
    }
}

/// The jobs of an invitation just made or re-sent: its email (carrying the secret sealed, for
/// the accept link) and its `invitation.created` event.
pub fn created_jobs(
    app: &App,
    inv: &Invitation,
    secret: &Secret,
    request_id: &str,
    lane: Lane,
    now: DateTime<Utc>,
) -> Outbox {
    Outbox::new(vec![
        Job::Email(EmailJob {
            invitation_id: inv.id.clone(),
            org_id: inv.org_id.clone(),
            secret_sealed: app.sealer.seal(&secret.plain),
            request_id: Some(request_id.to_owned()),
            deferrals: 0,
            lane,
        }),
        Job::Event(
            EventNote::new(EventKind::InvitationCreated, &inv.org_id, request_id, now)
                .in_lane(lane),
        ),
    ])
}

/// The jobs of an invitation's other state changes: the event alone.
pub fn event(kind: EventKind, org_id: &str, request_id: &str, now: DateTime<Utc>) -> Outbox {
    Outbox::event(EventNote::new(kind, org_id, request_id, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_per_flow_and_email() {
        let h = Hasher::from_secret(b"0123456789abcdef");
        let a = derived_id(&h, "org_1", "flow_1", "A@b.co");
        assert_eq!(a, derived_id(&h, "org_1", "flow_1", "a@B.CO"));
        assert_ne!(a, derived_id(&h, "org_1", "flow_2", "a@b.co"));
        assert_ne!(a, derived_id(&h, "org_2", "flow_1", "a@b.co"));
        assert!(ids::looks_like(crate::ids::Kind::Invitation, &a));
    }

    #[test]
    fn secrets_name_their_invitation() {
        let h = Hasher::from_secret(b"0123456789abcdef");
        let s = new_secret(&h, "inv_abc123");
        assert_eq!(id_in_secret(&s.plain), Some("inv_abc123"));
        assert_eq!(s.hash, hash_secret(&h, &s.plain));
        assert_ne!(s.plain, new_secret(&h, "inv_abc123").plain);
        for bad in [
            "inv_abc",
            "inv_abc.short",
            "x_abc.0123456789012345678901234567890123456789",
            "inv_a/b.0123456789012345678901234567890123456789",
        ] {
            assert_eq!(id_in_secret(bad), None, "{bad}");
        }
    }
}
