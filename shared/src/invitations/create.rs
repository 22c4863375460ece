//! Making invitations: the invitations API's create-or-resend, and the flows API's
//! createJoinOrganization and createSignup.

use chrono::{DateTime, Utc};

use super::{
    created_jobs, derived_id, expiry, into_flow, new_secret, resent, Secret, Terms,
    MAX_MESSAGE_CHARS, MAX_TTL_SECS,
};
use crate::{
    app::App,
    error::{Error, Resource},
    ids,
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
    store::orgs::flow_by_slug(&app.ddb, &app.config.table_name, &caller.org_id, flow_slug)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Flow, flow_slug))
}

/// Invites `email` into a training flow, or re-sends its invitation (same record, fresh secret
/// and expiry, the old link dead) while it is pending, expired or canceled. Accepted → conflict.
pub async fn invite(
    app: &App,
    caller: &Caller,
    flow: &Flow,
    email: &str,
    message: Option<&str>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Invitation, Error> {
    let email = validate::email("email", email)?;
    let message = message
        .map(|m| validate::text("message", m, MAX_MESSAGE_CHARS))
        .transpose()?;
    let org = store::orgs::get_org(&app.ddb, &app.config.table_name, &caller.org_id).await?;
    let id = derived_id(&app.hasher, &caller.org_id, &flow.id, &email);
    let (ttl_secs, expire_time) = expiry(&org, None, None, now);
    let table = &app.config.table_name;
    // Concurrent invites of one email race on the record. The winner's write (and its email)
    // stands; a loser answers with the invitation as the winner left it.
    let secret = new_secret(&app.hasher, &id);
    let made = match store::invitations::get(&app.ddb, table, &caller.org_id, &id).await? {
        None => {
            let number = store::counters::reserve(
                &app.ddb,
                table,
                &caller.org_id,
                &format!("inv#{}", flow.id),
                1,
            )
            .await?;
            let terms = Terms {
                secret: &secret,
                message: message.clone(),
                ttl_secs,
                expire_time,
                now,
            };
            let inv = into_flow(
                id.clone(),
                &caller.org_id,
                flow,
                number,
                email.clone(),
                None,
                terms,
            );
            let jobs = created_jobs(app, &inv, &secret, request_id, now);
            store::invitations::insert(&app.ddb, table, &inv, &jobs)
                .await?
                .then_some(inv)
        }
        Some(existing) if existing.state == InvitationState::Completed => {
            return Err(already_accepted(&email))
        }
        Some(existing) => {
            let previous = existing.secret_hash.clone();
            let terms = Terms {
                secret: &secret,
                message: message.clone(),
                ttl_secs,
                expire_time,
                now,
            };
            let inv = resent(existing, terms);
            let jobs = created_jobs(app, &inv, &secret, request_id, now);
            store::invitations::replace_unaccepted(&app.ddb, table, &inv, &previous, &jobs)
                .await?
                .then_some(inv)
        }
    };
    match made {
        Some(inv) => Ok(inv),
        None => match store::invitations::get(&app.ddb, table, &caller.org_id, &id).await? {
            Some(inv) if inv.state == InvitationState::Completed => Err(already_accepted(&email)),
            Some(inv) => Ok(inv),
            None => Err(Error::Unavailable(
                "the invitation changed during the request; retry".into(),
            )),
        },
    }
}

fn already_accepted(email: &str) -> Error {
    Error::Conflict {
        reason: "already_accepted",
        message: format!("{email} has already accepted an invitation to this flow"),
    }
}

/// What the flows API's create calls ask for.
#[derive(Debug, Default, Clone)]
pub struct FlowRequest {
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
    let secs: f64 = value
        .strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| Error::invalid("ttl", "must be a duration in seconds such as \"86400s\""))?;
    let secs = secs.round() as i64;
    if !(1..=MAX_TTL_SECS).contains(&secs) {
        return Err(Error::invalid(
            "ttl",
            format!("must be between 1s and {MAX_TTL_SECS}s"),
        ));
    }
    Ok(secs)
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

/// `POST /admin/v1/flows:createJoinOrganization` and `:createSignup`. Returns the invitation
/// and its secret (shown only in this response).
pub async fn create_flow(
    app: &App,
    caller: &Caller,
    req: FlowRequest,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<(Invitation, String), Error> {
    let kind = req
        .kind
        .ok_or_else(|| Error::Internal("flow kind not set".into()))?;
    let table = &app.config.table_name;
    if let Some(org_id) = &req.organization_id {
        if org_id != &caller.org_id {
            return Err(Error::not_found(Resource::Organization, org_id));
        }
    }
    if req.ttl.is_some() && req.expire_time.is_some() {
        return Err(Error::invalid("ttl", "give ttl or expireTime, not both"));
    }
    let ttl = req.ttl.as_deref().map(parse_ttl).transpose()?;
    let expire_at = req
        .expire_time
        .as_deref()
        .map(|t| parse_expire_time(t, now))
        .transpose()?;
    let display_name = req
        .display_name
        .as_deref()
        .map(|n| validate::name("displayName", n, 200))
        .transpose()?;
    let role = match (kind, req.role.as_deref()) {
        (InvitationKind::Signup, _) => None,
        (_, None) => Some(Role::Member),
        (_, Some(r)) => Some(
            Role::parse(r.trim_start_matches("role_"))
                .ok_or_else(|| Error::invalid("roleId", "must be OWNER, MEMBER or GUEST"))?,
        ),
    };
    let creator = match &req.creator_user_id {
        Some(id) => Some(
            store::orgs::get_user(&app.ddb, table, &caller.org_id, id)
                .await?
                .ok_or_else(|| Error::Invalid {
                    field: "creatorUserId".into(),
                    reason: "names no user of this organization".into(),
                })?,
        ),
        None => None,
    };
    let target = match (&req.user_id, kind) {
        (Some(id), InvitationKind::JoinOrganization) => Some(
            store::orgs::get_user(&app.ddb, table, &caller.org_id, id)
                .await?
                .ok_or_else(|| Error::not_found(Resource::User, id.clone()))?,
        ),
        _ => None,
    };
    let email = match (req.email.as_deref(), &target) {
        (Some(e), _) => validate::email("email", e)?,
        (None, Some(user)) => user.email.clone(),
        (None, None) => return Err(Error::invalid("email", "is required")),
    };
    let org = store::orgs::get_org(&app.ddb, table, &caller.org_id).await?;
    let (ttl_secs, expire_time) = expiry(&org, ttl, expire_at, now);
    let id = ids::new("inv");
    let secret: Secret = new_secret(&app.hasher, &id);
    let inv = Invitation {
        id,
        org_id: caller.org_id.clone(),
        kind,
        state: InvitationState::StartPending,
        state_reason: None,
        email,
        display_name,
        role,
        user_id: target.map(|u| u.id),
        creator_user_id: creator.map(|u| u.id),
        flow_id: None,
        flow_slug: None,
        number: None,
        message: None,
        create_organization: kind == InvitationKind::Signup && req.create_organization,
        secret_hash: secret.hash.clone(),
        ttl_secs,
        expire_time,
        start_time: None,
        create_time: now,
        update_time: now,
        result_org_id: None,
    };
    let jobs = created_jobs(app, &inv, &secret, request_id, now);
    if !store::invitations::insert(&app.ddb, table, &inv, &jobs).await? {
        return Err(Error::Internal("a new invitation id collided".into()));
    }
    Ok((inv, secret.plain))
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
