//! Importing an address list into a training flow. Its cost grows with batches, not entries:
//! users and invitations are read 100 keys a call and written 25 items a call (several calls at
//! once), each invitation with its email job and event; invitation numbers for the whole list
//! are reserved in one update.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{
    addresses, created_jobs, derived_id, expiry, into_flow, new_secret, resent, Secret, Terms,
    MAX_MESSAGE_CHARS,
};
use crate::{
    app::App,
    error::Error,
    model::{Caller, Flow, Invitation, InvitationState, User},
    store, validate,
};

#[derive(Debug, Default)]
pub struct Imported {
    /// Invitations made (or re-opened after expiry or cancelation) by this import.
    pub invitations: Vec<Invitation>,
    /// Existing users of the organization, added to the flow at once.
    pub added_users: Vec<User>,
    /// `(entry, reason)` for entries that became nothing.
    pub erroneous: Vec<(String, String)>,
}

pub async fn import(
    app: &App,
    caller: &Caller,
    flow: &Flow,
    list: &str,
    message: Option<&str>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Imported, Error> {
    let parsed = addresses::parse(list).map_err(|too_many| {
        Error::invalid(
            "list",
            format!(
                "has {} entries; at most {} are allowed",
                too_many.0,
                addresses::MAX_ENTRIES
            ),
        )
    })?;
    let message = message
        .map(|m| validate::text("message", m, MAX_MESSAGE_CHARS))
        .transpose()?;
    let table = &app.config.table_name;
    let mut result = Imported {
        erroneous: parsed.errors,
        ..Imported::default()
    };

    let emails: Vec<String> = parsed
        .addresses
        .iter()
        .map(|a| a.email.to_lowercase())
        .collect();
    let users: HashMap<String, User> =
        store::orgs::users_by_email(&app.ddb, table, &caller.org_id, &emails)
            .await?
            .into_iter()
            .map(|u| (u.email.to_lowercase(), u))
            .collect();
    let (members, invitees): (Vec<_>, Vec<_>) = parsed
        .addresses
        .into_iter()
        .partition(|a| users.contains_key(&a.email.to_lowercase()));
    result.added_users = members
        .iter()
        .filter_map(|a| users.get(&a.email.to_lowercase()).cloned())
        .collect();
    let member_items = result
        .added_users
        .iter()
        .map(|u| store::orgs::flow_member_item(&flow.id, u))
        .collect::<Result<Vec<_>, _>>()?;
    store::invitations::put_all(&app.ddb, table, member_items).await?;

    let ids: Vec<String> = invitees
        .iter()
        .map(|a| derived_id(&app.hasher, &caller.org_id, &flow.id, &a.email))
        .collect();
    let existing: HashMap<String, Invitation> =
        store::invitations::get_many(&app.ddb, table, &caller.org_id, &ids)
            .await?
            .into_iter()
            .map(|inv| (inv.id.clone(), inv))
            .collect();
    let org = store::orgs::get_org(&app.ddb, table, &caller.org_id).await?;
    let (ttl_secs, expire_time) = expiry(&org, None, None, now);
    let fresh_count = ids.iter().filter(|id| !existing.contains_key(*id)).count() as u64;
    let mut next_number = match fresh_count {
        0 => 0,
        n => {
            store::counters::reserve(
                &app.ddb,
                table,
                &caller.org_id,
                &format!("inv#{}", flow.id),
                n,
            )
            .await?
        }
    };

    let mut made: Vec<(Invitation, Secret)> = Vec::new();
    for (address, id) in invitees.into_iter().zip(ids) {
        let previous = existing.get(&id);
        if let Some(reason) = previous.and_then(|inv| skipped(inv, now)) {
            result.erroneous.push((address.email, reason.into()));
            continue;
        }
        let secret = new_secret(&app.hasher, &id);
        let terms = Terms {
            secret: &secret,
            message: message.clone(),
            ttl_secs,
            expire_time,
            now,
        };
        let inv = match previous {
            // Expired or canceled: the same record comes back, pending again.
            Some(inv) => resent(inv.clone(), terms),
            None => {
                let number = next_number;
                next_number += 1;
                into_flow(
                    id.clone(),
                    &caller.org_id,
                    flow,
                    number,
                    address.email,
                    address.name,
                    terms,
                )
            }
        };
        made.push((inv, secret));
    }
    let items = made
        .iter()
        .map(|(inv, secret)| {
            store::invitations::item(inv, &created_jobs(app, inv, secret, request_id, now))
        })
        .collect::<Result<Vec<_>, _>>()?;
    store::invitations::put_all(&app.ddb, table, items).await?;
    result.invitations = made.into_iter().map(|(inv, _)| inv).collect();
    Ok(result)
}

/// Why an import leaves out an address that already has an invitation to the flow, if it does.
fn skipped(inv: &Invitation, now: DateTime<Utc>) -> Option<&'static str> {
    if inv.state_at(now).is_open() {
        Some("Already invited")
    } else if inv.state == InvitationState::Completed {
        Some("Already accepted")
    } else {
        None
    }
}
