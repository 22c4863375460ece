//! Reading invitations and canceling them (the flows API's cancel, the invitations API's delete).

use chrono::{DateTime, Utc};

use super::event;
use crate::store::invitations::Canceled;
use crate::{
    app::App,
    error::{Error, Precondition, Resource},
    ids,
    jobs::EventKind,
    model::{Caller, Flow, Invitation, InvitationState, Organization, User},
    store,
};

/// An invitation with the records the flows API shows inside it.
#[derive(Debug, Clone)]
pub struct FlowView {
    pub invitation: Invitation,
    pub organization: Organization,
    pub user: Option<User>,
    pub creator: Option<User>,
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<Invitation, Error> {
    owned(caller, id, fetch(app, id).await)
}

/// The invitation `id` whatever its organization, read before the caller is known (see
/// `http::serve_prefetched`); [`owned`] then keeps it only for its own organization. No read
/// for an id that is not shaped like one of ours.
pub async fn fetch(app: &App, id: &str) -> Result<Option<Invitation>, Error> {
    if !ids::looks_like(crate::ids::Kind::Invitation, id) {
        return Ok(None);
    }
    store::invitations::get_by_id(&app.table, id).await
}

/// What [`fetch`] found, if it is the caller's: another organization's is not found.
pub fn owned(
    caller: &Caller,
    id: &str,
    found: Result<Option<Invitation>, Error>,
) -> Result<Invitation, Error> {
    found?
        .filter(|inv| inv.org_id == caller.org_id)
        .ok_or_else(|| Error::not_found(Resource::Invitation, id))
}

/// Loads the organization, invitee and creator for the flows API view, in one read.
pub async fn view(app: &App, invitation: Invitation) -> Result<FlowView, Error> {
    let parts = view_parts(app, &invitation).await?;
    assemble(invitation, parts)
}

/// What the flows API view shows besides the invitation: its organization and users. They do
/// not change with the invitation's state, so a handler that writes the invitation can read
/// them at once with its write (cancel does).
pub struct ViewParts {
    org: Option<Organization>,
    users: Vec<User>,
}

pub async fn view_parts(app: &App, invitation: &Invitation) -> Result<ViewParts, Error> {
    let org_id = invitation
        .result_org_id
        .clone()
        .unwrap_or_else(|| invitation.org_id.clone());
    let ids: Vec<&str> = [
        invitation.user_id.as_deref(),
        invitation.creator_user_id.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let (org, mut users) = store::orgs::org_with_users(&app.table, &org_id, &ids).await?;
    // A signup that made an organization: the creator lives in the inviting one.
    if invitation.result_org_id.is_some() {
        if let Some(creator) = &invitation.creator_user_id {
            let (_, more) =
                store::orgs::org_with_users(&app.table, &invitation.org_id, &[creator]).await?;
            users.extend(more);
        }
    }
    Ok(ViewParts { org, users })
}

/// What the hosted page names: the organization, the training flow and the inviter, in one
/// BatchGetItem.
pub async fn names(
    app: &App,
    inv: &Invitation,
) -> Result<(Organization, Option<Flow>, Option<User>), Error> {
    let (org, flow, inviter) = store::orgs::org_flow_and_user(
        &app.table,
        &inv.org_id,
        inv.flow_id.as_deref(),
        inv.creator_user_id.as_deref(),
    )
    .await?;
    let org = org.ok_or_else(|| Error::not_found(Resource::Organization, &inv.org_id))?;
    Ok((org, flow, inviter))
}

pub fn assemble(invitation: Invitation, parts: ViewParts) -> Result<FlowView, Error> {
    let ViewParts { org, users } = parts;
    let organization =
        org.ok_or_else(|| Error::internal("an invitation's organization is missing"))?;
    let find = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| users.iter().find(|u| &u.id == id).cloned())
    };
    Ok(FlowView {
        user: find(&invitation.user_id),
        creator: find(&invitation.creator_user_id),
        organization,
        invitation,
    })
}

/// Cancels an open invitation (the flows API's cancel). Canceling a canceled one changes
/// nothing; an accepted or expired one cannot be canceled.
pub async fn cancel(
    app: &App,
    caller: &Caller,
    id: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Invitation, Error> {
    let current = get(app, caller, id).await?;
    cancel_found(app, caller, current, request_id, now).await
}

/// [`cancel`] of an invitation already read (and checked to be the caller's).
pub async fn cancel_found(
    app: &App,
    caller: &Caller,
    current: Invitation,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Invitation, Error> {
    let id = current.id.clone();
    let id = id.as_str();
    match current.state_at(now) {
        InvitationState::Canceled => return Ok(current),
        state if !state.is_open() => return Err(not_open(state)),
        _ => {}
    }
    let open = [InvitationState::StartPending, InvitationState::Started];
    match write_cancel(app, caller, id, &open, request_id, now).await? {
        Canceled::Now(inv) => Ok(inv),
        // It left the open states meanwhile: what it is now says why.
        Canceled::Refused(Some(inv)) => match inv.state_at(now) {
            InvitationState::Canceled => Ok(inv),
            state => Err(not_open(state)),
        },
        Canceled::Refused(None) => Err(Error::not_found(Resource::Invitation, id)),
    }
}

/// The cancel itself, with its `invitation.canceled` event.
async fn write_cancel(
    app: &App,
    caller: &Caller,
    id: &str,
    from: &[InvitationState],
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Canceled, Error> {
    let jobs = event(
        EventKind::InvitationCanceled,
        &caller.org_id,
        request_id,
        now,
    );
    store::invitations::cancel(&app.table, &caller.org_id, id, from, now, &jobs).await
}

/// Why an invitation that is not open cannot be used or changed.
pub fn not_open(state: InvitationState) -> Error {
    let (reason, what) = match state {
        InvitationState::Completed => (Precondition::FlowCompleted, "has already been consumed"),
        InvitationState::Canceled => (Precondition::FlowCanceled, "was canceled"),
        _ => (Precondition::FlowExpired, "has expired"),
    };
    Error::FailedPrecondition {
        reason,
        message: format!("The flow {what}."),
    }
}

/// A training flow's pending invitations in number order, one page: read from the sparse index
/// of open invitations, so a page costs one query per shard however many closed ones the flow
/// has. One whose expiry passed but that the sweeper has not closed yet is left out, so a page
/// may hold fewer than `limit`; the cursor goes on past it.
pub async fn list_pending(
    app: &App,
    caller: &Caller,
    flow: &Flow,
    after: u64,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<(Vec<Invitation>, Option<u64>), Error> {
    let (page, more) =
        store::invitations::open_by_flow(&app.table, &caller.org_id, &flow.id, after, limit)
            .await?;
    let next = page.last().and_then(|inv| inv.number).filter(|_| more);
    Ok((
        page.into_iter()
            .filter(|inv| inv.state_at(now).is_open())
            .collect(),
        next,
    ))
}

pub async fn by_number(
    app: &App,
    caller: &Caller,
    flow: &Flow,
    number: &str,
) -> Result<Invitation, Error> {
    let not_found = || Error::not_found(Resource::Invitation, number);
    let n: u64 = number.parse().map_err(|_| not_found())?;
    let inv = store::invitations::by_number(&app.table, &caller.org_id, &flow.id, n)
        .await?
        .ok_or_else(not_found)?;
    // Deleted (canceled) invitations are gone from this API.
    match inv.state {
        InvitationState::Canceled => Err(not_found()),
        _ => Ok(inv),
    }
}

/// The invitations API's delete: only pending invitations (expired ones are pending in this
/// API's terms); an accepted one is refused. Deleting a deleted one is not found.
pub async fn delete(
    app: &App,
    caller: &Caller,
    flow: &Flow,
    number: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let inv = by_number(app, caller, flow, number).await?;
    if inv.state == InvitationState::Completed {
        return Err(accepted_cannot_be_deleted());
    }
    let pending = [
        InvitationState::StartPending,
        InvitationState::Started,
        InvitationState::Expired,
    ];
    match write_cancel(app, caller, &inv.id, &pending, request_id, now).await? {
        Canceled::Now(_) => Ok(()),
        // Accepted or deleted meanwhile.
        Canceled::Refused(Some(now)) if now.state == InvitationState::Completed => {
            Err(accepted_cannot_be_deleted())
        }
        Canceled::Refused(_) => Err(Error::not_found(Resource::Invitation, number)),
    }
}

fn accepted_cannot_be_deleted() -> Error {
    Error::Conflict {
        reason: crate::error::Conflict::Accepted,
        message: "An accepted invitation cannot be deleted".into(),
    }
}
