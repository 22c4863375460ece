//! Making invitations: the invitations API's create-or-resend, and the flows API's
//! createJoinOrganization and createSignup.

use chrono::{DateTime, Utc};

use super::{
    created_jobs, derived_id, expiry, into_flow, lifecycle::FlowView, made_by, marked_secret,
    new_secret, resent, Secret, Terms, MAX_MESSAGE_CHARS, MAX_TTL_SECS,
};
use crate::{
    app::App,
    email_budget,
    error::{Error, Resource},
    idempotency::Mark,
    ids,
    jobs::Lane,
    model::{Caller, Flow, Invitation, InvitationKind, InvitationState, Role},
    store, validate,
};

/// The training flow named by an invitations path, if it belongs to the caller's organization.
pub async fn resolve_flow(
    app: &App,
    caller: &Caller,
    org_slug: &str,
    flow_slug: &str,
) -> Result<Flow, Error> {
    if org_slug != caller.org_slug {
        return Err(Error::not_found(Resource::Organization, org_slug));
    }
    if validate::slug("flow", flow_slug).is_err() {
        return Err(Error::not_found(Resource::Flow, flow_slug));
    }
    flow_by_slug(app, &caller.org_id, flow_slug)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Flow, flow_slug))
}

/// The organization's training flow with this slug, if any (one GetItem, whoever asks: the
/// caller checks whose organization it is).
pub async fn flow_by_slug(app: &App, org_id: &str, flow_slug: &str) -> Result<Option<Flow>, Error> {
    store::orgs::flow_by_slug(&app.table, org_id, flow_slug).await
}

/// An invitation as sent (the wire module checked the JSON types).
pub struct InviteInput {
    pub email: String,
    pub message: Option<String>,
}

/// An invitation, checked: a deliverable address and a message within bounds.
pub struct InviteRequest {
    email: String,
    message: Option<String>,
}

impl InviteRequest {
    pub fn validate(input: InviteInput) -> Result<Self, Error> {
        Ok(InviteRequest {
            email: validate::email("email", &input.email)?,
            message: input
                .message
                .map(|m| validate::text("message", &m, MAX_MESSAGE_CHARS))
                .transpose()?,
        })
    }
}

/// Invites `email` into a training flow, or re-sends its invitation (same record, fresh secret
/// and expiry, the old link dead) while it is pending, expired or canceled. Accepted → conflict.
/// With a `mark`, an invitation this request made or re-sent before (its first run died after
/// the write) is the answer, unchanged.
#[allow(clippy::too_many_arguments)]
pub async fn invite(
    app: &App,
    caller: &Caller,
    flow: &Flow,
    request: InviteRequest,
    request_id: &str,
    mark: Option<&Mark>,
    now: DateTime<Utc>,
) -> Result<Invitation, Error> {
    let InviteRequest { email, message } = request;
    let id = derived_id(&app.hasher, &caller.org_id, &flow.id, &email);
    let (org, found) = tokio::try_join!(
        store::orgs::get_org(&app.table, &caller.org_id),
        store::invitations::get(&app.table, &caller.org_id, &id)
    )?;
    let (ttl_secs, expire_time) = expiry(&org, None, None, now);
    let charge = email_budget::charge(&app.config, &caller.org_id, caller.tier, 1, now);
    // Concurrent invites of one email race on the record. The winner's write (and its email)
    // stands; a loser answers with the invitation as the winner left it.
    let secret = new_secret(&app.hasher, &id);
    let terms = Terms {
        secret: &secret,
        message,
        ttl_secs,
        expire_time,
        made_by: mark.map(|m| m.as_str().to_owned()),
        number_base: None,
        now,
    };
    let made = match found {
        Some(existing) if made_by(&existing, mark) => return Ok(existing),
        Some(existing) if existing.state == InvitationState::Completed => {
            return Err(already_accepted(&email))
        }
        None => {
            let number = store::counters::reserve(
                &app.table,
                &caller.org_id,
                &format!("inv#{}", flow.id),
                1,
            )
            .await?;
            let inv = into_flow(
                id.clone(),
                &caller.org_id,
                flow,
                number,
                email.clone(),
                None,
                terms,
            );
            let jobs = created_jobs(app, &inv, &secret, request_id, Lane::Interactive, now);
            store::invitations::insert(&app.table, &inv, &jobs, charge.as_ref())
                .await?
                .then_some(inv)
        }
        Some(existing) => {
            let previous = existing.secret_hash.clone();
            let inv = resent(existing, terms);
            let jobs = created_jobs(app, &inv, &secret, request_id, Lane::Interactive, now);
            store::invitations::replace_unaccepted(
                &app.table,
                &inv,
                &previous,
                &jobs,
                charge.as_ref(),
            )
            .await?
            .then_some(inv)
        }
    };
    match made {
        Some(inv) => Ok(inv),
        None => match store::invitations::get(&app.table, &caller.org_id, &id).await? {
            Some(inv) if inv.state == InvitationState::Completed => Err(already_accepted(&email)),
            Some(inv) => Ok(inv),
            None => Err(Error::unavailable(
                "the invitation changed during the request; retry",
            )),
        },
    }
}

fn already_accepted(email: &str) -> Error {
    Error::Conflict {
        reason: crate::error::Conflict::AlreadyAccepted,
        message: format!("{email} has already accepted an invitation to this flow"),
    }
}

/// What the flows API's create calls ask for.
#[derive(Debug, Default, Clone)]
pub struct FlowInput {
    pub kind: Option<InvitationKind>,
    pub organization_id: Option<String>,
    pub email: Option<String>,
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub creator_user_id: Option<String>,
    pub ttl: Option<String>,
    pub expire_time: Option<String>,
    pub create_organization: bool,
}

/// `"86400s"` (protobuf Duration JSON), the only form UserHub's clients send.
pub fn parse_ttl(value: &str) -> Result<i64, Error> {
    validate::duration("ttl", value, 1..=MAX_TTL_SECS)
}

fn parse_expire_time(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, Error> {
    let at = DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Error::invalid("expireTime", "must be an RFC 3339 time"))?;
    if at <= now || at > now + chrono::Duration::seconds(MAX_TTL_SECS) {
        return Err(Error::invalid(
            "expireTime",
            "must be in the future, within a year",
        ));
    }
    Ok(at)
}

/// A createJoinOrganization or createSignup request, checked (no read needed).
#[derive(Debug, Clone)]
pub struct FlowRequest {
    pub kind: InvitationKind,
    /// The invitee's address; `None` when it is the named user's.
    pub email: Option<String>,
    pub user_id: Option<String>,
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub creator_user_id: Option<String>,
    pub ttl_secs: Option<i64>,
    pub expire_at: Option<DateTime<Utc>>,
    pub create_organization: bool,
}

impl FlowRequest {
    /// Checks every field that needs no read; the organization, the creator and the named user
    /// are checked by [`create_flow`] against the table.
    pub fn validate(input: FlowInput, caller: &Caller, now: DateTime<Utc>) -> Result<Self, Error> {
        let kind = input
            .kind
            .ok_or_else(|| Error::internal("flow kind not set"))?;
        if let Some(org_id) = &input.organization_id {
            if org_id != &caller.org_id {
                return Err(Error::not_found(Resource::Organization, org_id));
            }
        }
        if input.ttl.is_some() && input.expire_time.is_some() {
            return Err(Error::invalid("ttl", "give ttl or expireTime, not both"));
        }
        let role = match (kind, input.role.as_deref()) {
            (InvitationKind::Signup, _) => None,
            (_, None) => Some(Role::Member),
            (_, Some(r)) => Some(
                Role::parse(r.trim_start_matches("role_"))
                    .ok_or_else(|| Error::invalid("roleId", "must be OWNER, MEMBER or GUEST"))?,
            ),
        };
        // A signup names no existing user: its invitee is new.
        let user_id = input
            .user_id
            .filter(|_| kind == InvitationKind::JoinOrganization);
        // Ids are judged by their shape before any read: one no user could have is no user.
        if let Some(id) = &user_id {
            ids::require(crate::ids::Kind::User, id)?;
        }
        if let Some(id) = &input.creator_user_id {
            if !ids::looks_like(crate::ids::Kind::User, id) {
                return Err(Error::invalid(
                    "creatorUserId",
                    "names no user of this organization",
                ));
            }
        }
        if input.email.is_none() && user_id.is_none() {
            return Err(Error::invalid("email", "is required"));
        }
        Ok(FlowRequest {
            kind,
            email: input
                .email
                .as_deref()
                .map(|e| validate::email("email", e))
                .transpose()?,
            user_id,
            display_name: input
                .display_name
                .as_deref()
                .map(|n| validate::label("displayName", n, 200))
                .transpose()?,
            role,
            creator_user_id: input.creator_user_id,
            ttl_secs: input.ttl.as_deref().map(parse_ttl).transpose()?,
            expire_at: input
                .expire_time
                .as_deref()
                .map(|t| parse_expire_time(t, now))
                .transpose()?,
            create_organization: kind == InvitationKind::Signup && input.create_organization,
        })
    }
}

/// `POST /admin/v1/flows:createJoinOrganization` and `:createSignup`. Returns the invitation,
/// with the records the flows API shows in it, and its secret (shown only in this response).
/// One read (the organization, the creator and the invitee at once), one write. With a `mark`, the id and the secret come from it, so a
/// retry after the first run died finds that run's invitation and answers with it again.
pub async fn create_flow(
    app: &App,
    caller: &Caller,
    new: FlowRequest,
    request_id: &str,
    mark: Option<&Mark>,
    now: DateTime<Utc>,
) -> Result<(FlowView, String), Error> {
    let named: Vec<&str> = [new.creator_user_id.as_deref(), new.user_id.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let (org, users) = store::orgs::org_with_users(&app.table, &caller.org_id, &named).await?;
    let org = org.ok_or_else(|| Error::not_found(Resource::Organization, &caller.org_id))?;
    let user = |id: &Option<String>| {
        id.as_ref()
            .map(|id| {
                users
                    .iter()
                    .find(|u| &u.id == id)
                    .cloned()
                    .ok_or(id.clone())
            })
            .transpose()
    };
    let creator = user(&new.creator_user_id).map_err(|_| Error::Invalid {
        field: "creatorUserId".into(),
        reason: "names no user of this organization".into(),
    })?;
    let target = user(&new.user_id).map_err(|id| Error::not_found(Resource::User, id))?;
    let email = match (new.email, &target) {
        (Some(e), _) => e,
        (None, Some(user)) => user.email.clone(),
        (None, None) => return Err(Error::invalid("email", "is required")),
    };
    let (ttl_secs, expire_time) = expiry(&org, new.ttl_secs, new.expire_at, now);
    let id = match mark {
        Some(m) => m.id(&app.hasher, crate::ids::Kind::Invitation),
        None => ids::new(crate::ids::Kind::Invitation),
    };
    let secret: Secret = match mark {
        Some(m) => marked_secret(&app.hasher, &id, m),
        None => new_secret(&app.hasher, &id),
    };
    let inv = Invitation {
        id,
        org_id: caller.org_id.clone(),
        kind: new.kind,
        state: InvitationState::StartPending,
        state_reason: None,
        email,
        display_name: new.display_name,
        role: new.role,
        user_id: target.as_ref().map(|u| u.id.clone()),
        creator_user_id: creator.as_ref().map(|u| u.id.clone()),
        flow_id: None,
        flow_slug: None,
        number: None,
        message: None,
        create_organization: new.create_organization,
        secret_hash: secret.hash.clone(),
        ttl_secs,
        expire_time,
        start_time: None,
        create_time: now,
        update_time: now,
        result_org_id: None,
        made_by: mark.map(|m| m.as_str().to_owned()),
        number_base: None,
    };
    let jobs = created_jobs(app, &inv, &secret, request_id, Lane::Interactive, now);
    let view = |invitation| FlowView {
        invitation,
        organization: org,
        user: target,
        creator,
    };
    let charge = email_budget::charge(&app.config, &caller.org_id, caller.tier, 1, now);
    if store::invitations::insert(&app.table, &inv, &jobs, charge.as_ref()).await? {
        return Ok((view(inv), secret.plain));
    }
    // The id exists: made by this request's first run (then its answer again), or a collision.
    match store::invitations::get(&app.table, &caller.org_id, &inv.id).await? {
        Some(made) if made_by(&made, mark) => Ok((view(made), secret.plain)),
        _ => Err(Error::internal("a new invitation id collided")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_protobuf_durations() {
        assert_eq!(parse_ttl("86400s").unwrap(), 86400);
        assert_eq!(parse_ttl("1.5s").unwrap(), 2);
        for bad in [
            "86400",
            "0s",
            "-5s",
            "s",
            "1e400s",
            "NaNs",
            "99999999999s",
            "1d",
        ] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expire_times_must_be_future_and_bounded() {
        let now = Utc::now();
        assert!(parse_expire_time("2001-01-01T00:00:00Z", now).is_err());
        assert!(parse_expire_time("tomorrow", now).is_err());
        let soon = (now + chrono::Duration::hours(1)).to_rfc3339();
        assert!(parse_expire_time(&soon, now).is_ok());
    }
}
