//! Consuming (accepting) an invitation flow. The state change, the user, the membership and
//! (for a signup) the new organization are one transaction, so concurrent consumes let exactly
//! one through; the others find it consumed and, being the same invitee, get it unchanged.

use chrono::{DateTime, Utc};

use super::{event, hash_secret, id_in_secret, lifecycle, tokens};
use crate::{
    app::App,
    error::{Error, Precondition, Resource},
    ids,
    jobs::EventKind,
    model::{Caller, Invitation, InvitationKind, InvitationState, Organization, Role, Tier, User},
    store,
};

/// How the caller proves it is the invitee.
pub enum Proof<'a> {
    /// The path held the flow secret: the secret is the proof.
    Secret(&'a str),
    /// The path held the flow id; the user access token names the invitee.
    Token {
        id: &'a str,
        bearer: Option<&'a str>,
    },
}

/// Reads the path segment: a flow secret, or a flow id (then the token is the proof). Anything
/// else names no flow: not found, before any key or token is looked at.
pub fn proof<'a>(id_or_secret: &'a str, bearer: Option<&'a str>) -> Result<Proof<'a>, Error> {
    if id_in_secret(id_or_secret).is_some() {
        Ok(Proof::Secret(id_or_secret))
    } else if ids::looks_like(crate::ids::Kind::Invitation, id_or_secret) {
        Ok(Proof::Token {
            id: id_or_secret,
            bearer,
        })
    } else {
        Err(Error::not_found(
            Resource::Invitation,
            "(flow id or secret)",
        ))
    }
}

pub async fn consume(
    app: &App,
    caller: &Caller,
    proof: Proof<'_>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Invitation, Error> {
    match proof {
        Proof::Secret(secret) => {
            let found = by_secret(app, secret).await;
            consume_secret_found(app, caller, found, request_id, now).await
        }
        Proof::Token { id, bearer } => {
            let bearer = bearer.ok_or(Error::Unauthenticated)?;
            let org = store::orgs::get_org(&app.table, &caller.org_id).await?;
            let claims = tokens::verify(&app.sealer.open(&org.user_token_secret_sealed)?, bearer)?;
            let inv = lifecycle::get(app, caller, id).await?;
            let invitee = check_invitee(app, caller, &inv, &claims).await?;
            consume_found(app, inv, By::Token(invitee), request_id, now).await
        }
    }
}

/// Consume by flow secret, with what [`by_secret`] found (read beside authentication by the
/// consume endpoint). The flows API finds only its own organization's invitations.
pub async fn consume_secret_found(
    app: &App,
    caller: &Caller,
    found: Result<Invitation, Error>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Invitation, Error> {
    let inv = found?;
    if inv.org_id != caller.org_id {
        return Err(Error::not_found(Resource::Invitation, "(secret)"));
    }
    consume_found(app, inv, By::Secret, request_id, now).await
}

/// The invitation a flow secret opens, whatever its organization (the secret is the proof):
/// one strongly consistent read, none for a secret that is not shaped like one of ours. A
/// secret that does not match (forged, or replaced by a resend) is not found, unless it was
/// consumed with it: consuming again with the same secret is the same invitee.
pub async fn by_secret(app: &App, secret: &str) -> Result<Invitation, Error> {
    let not_found = || Error::not_found(Resource::Invitation, "(secret)");
    let id = id_in_secret(secret).ok_or_else(not_found)?;
    let inv = store::invitations::get_by_id(&app.table, id)
        .await?
        .ok_or_else(not_found)?;
    if inv.secret_hash != hash_secret(&app.hasher, secret) {
        return Err(not_found());
    }
    Ok(inv)
}

/// Who consumes an invitation, proven.
pub enum By {
    /// The holder of its secret ([`by_secret`] checked it).
    Secret,
    /// The invitee a user access token names, and that user when it exists.
    Token(Option<User>),
}

/// Consumes an invitation whose proof was checked: exactly once, whoever races (one
/// transaction, conditional on the state and on the secret read, so a resend or cancel in
/// between wins). A completed one is returned as it is; one no longer open is refused. After a
/// lost race the secret is checked again: a resend's new secret is not the one presented.
pub async fn consume_found(
    app: &App,
    invitation: Invitation,
    by: By,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Invitation, Error> {
    let presented = invitation.secret_hash.clone();
    let (secret_bound, invitee) = match by {
        By::Secret => (true, None),
        By::Token(user) => (false, user),
    };
    let mut current = invitation;
    for _ in 0..3 {
        if secret_bound && current.secret_hash != presented {
            return Err(Error::not_found(Resource::Invitation, "(secret)"));
        }
        match current.state_at(now) {
            InvitationState::Completed => return Ok(current),
            state if !state.is_open() => return Err(lifecycle::not_open(state)),
            _ => {}
        }
        if let Some(done) = try_consume(app, &current, invitee.clone(), request_id, now).await? {
            return Ok(done);
        }
        // Lost a race (a concurrent consume, cancel or resend): decide on what is there now.
        current = store::invitations::get(&app.table, &current.org_id, &current.id)
            .await?
            .ok_or_else(|| Error::not_found(Resource::Invitation, &current.id))?;
    }
    Err(Error::unavailable("consume contention"))
}

/// The user the token speaks for must be the invitee: the invitation's user, or a user (or
/// `email` claim) with the invitation's email. Returns that user when it exists.
async fn check_invitee(
    app: &App,
    caller: &Caller,
    inv: &Invitation,
    claims: &tokens::Claims,
) -> Result<Option<User>, Error> {
    let denied = || Error::FailedPrecondition {
        reason: Precondition::NotInvitee,
        message: "The access token's user is not the invitee of this flow.".into(),
    };
    let user = match ids::looks_like(crate::ids::Kind::User, &claims.sub) {
        true => store::orgs::get_user(&app.table, &caller.org_id, &claims.sub).await?,
        false => None,
    };
    let same_email = |email: &str| email.eq_ignore_ascii_case(&inv.email);
    let ok = match (&inv.user_id, &user) {
        (Some(target), _) => &claims.sub == target,
        (None, Some(user)) => same_email(&user.email),
        (None, None) => claims.email.as_deref().is_some_and(same_email),
    };
    if ok {
        Ok(user)
    } else {
        Err(denied())
    }
}

/// One attempt, with its `invitation.accepted` event; `None` when the transaction lost a race
/// (the caller re-reads and decides).
async fn try_consume(
    app: &App,
    inv: &Invitation,
    invitee: Option<User>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Invitation>, Error> {
    let new_org = (inv.kind == InvitationKind::Signup && inv.create_organization)
        .then(|| new_organization(app, inv, now));
    let home_org = new_org.as_ref().map_or(&inv.org_id, |o| &o.id);
    let existing = match (&invitee, &new_org) {
        (Some(user), None) => Some(user.clone()),
        (None, None) => store::orgs::user_by_email(&app.table, home_org, &inv.email).await?,
        (_, Some(_)) => None,
    };
    let new_user = existing.is_none();
    let user = match existing {
        Some(user) => user,
        None => {
            let role = match (&new_org, inv.role) {
                (Some(_), _) => Role::Owner,
                (None, Some(role)) => role,
                (None, None) => Role::Member,
            };
            let number = store::counters::reserve(&app.table, home_org, "user", 1).await?;
            User {
                id: ids::new(crate::ids::Kind::User),
                org_id: home_org.clone(),
                number,
                email: inv.email.clone(),
                name: inv.display_name.clone(),
                role,
                created_at: now,
            }
        }
    };
    let jobs = event(EventKind::InvitationAccepted, &inv.org_id, request_id, now);
    let acceptance = store::invitations::Acceptance {
        invitation: inv,
        user: &user,
        new_user,
        new_org: new_org.as_ref(),
        now,
        jobs: &jobs,
    };
    if !store::invitations::accept(&app.table, acceptance).await? {
        return Ok(None);
    }
    Ok(Some(Invitation {
        state: InvitationState::Completed,
        state_reason: Some("CONSUMED".into()),
        user_id: Some(user.id),
        result_org_id: new_org.map(|o| o.id),
        update_time: now,
        ..inv.clone()
    }))
}

fn new_organization(app: &App, inv: &Invitation, now: DateTime<Utc>) -> Organization {
    let owner = inv
        .display_name
        .clone()
        .unwrap_or_else(|| inv.email.clone());
    Organization {
        id: ids::new(crate::ids::Kind::Organization),
        slug: format!("org-{}", ids::random(12).to_lowercase()),
        name: format!("{owner}'s organization"),
        email: Some(inv.email.clone()),
        tier: Tier::Standard,
        created_at: now,
        member_count: 1,
        user_token_secret_sealed: app.sealer.seal(&ids::random(48)),
        invitation_ttl_secs: None,
        accept_url_template: None,
        updated_at: None,
    }
}
