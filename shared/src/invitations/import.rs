//! Importing an address list into a training flow. Its cost grows with batches, not entries:
//! users and invitations are read 100 keys a call and written 25 items a call (several calls at
//! once), each invitation with its email job and event; invitation numbers for the whole list
//! are reserved in one update.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{
    addresses, created_jobs, derived_id, expiry, into_flow, made_by, new_secret, resent, Secret,
    Terms, MAX_MESSAGE_CHARS,
};
use crate::{
    app::App,
    email_budget,
    error::Error,
    idempotency::Mark,
    jobs::Lane,
    model::{Caller, Flow, Invitation, InvitationState, User},
    store, validate,
};

/// An import as sent (the wire module checked the JSON types).
pub struct ImportInput {
    pub list: String,
    pub message: Option<String>,
}

/// An import, checked: the list split into addresses and the entries that are none.
pub struct ImportRequest {
    list: addresses::Parsed,
    message: Option<String>,
}

impl ImportRequest {
    pub fn validate(input: ImportInput) -> Result<Self, Error> {
        let list = addresses::parse(&input.list).map_err(|too_many| {
            Error::invalid(
                "list",
                format!(
                    "has {} entries; at most {} are allowed",
                    too_many.0,
                    addresses::MAX_ENTRIES
                ),
            )
        })?;
        let message = input
            .message
            .map(|m| validate::text("message", &m, MAX_MESSAGE_CHARS))
            .transpose()?;
        Ok(ImportRequest { list, message })
    }
}

#[derive(Debug, Default)]
pub struct Imported {
    /// Invitations made (or re-opened after expiry or cancelation) by this import.
    pub invitations: Vec<Invitation>,
    /// Existing users of the organization, added to the flow at once.
    pub added_users: Vec<User>,
    /// `(entry, reason)` for entries that became nothing.
    pub erroneous: Vec<(String, String)>,
}

/// Imports a list. With a `mark` (an Idempotency-Key), what it writes carries the mark, and a
/// retry after the first run died counts the invitations that run wrote as made (not "Already
/// invited"), writes the rest, and answers as an uninterrupted run would have: each address's
/// number is the import's first reserved number plus the address's place in the list (so
/// numbers of addresses that became no new invitation are left unused), and that first number
/// travels on every invitation the import writes.
#[allow(clippy::too_many_arguments)]
pub async fn import(
    app: &App,
    caller: &Caller,
    flow: &Flow,
    request: ImportRequest,
    request_id: &str,
    mark: Option<&Mark>,
    now: DateTime<Utc>,
) -> Result<Imported, Error> {
    let ImportRequest {
        list: parsed,
        message,
    } = request;
    let mut result = Imported {
        erroneous: parsed.errors,
        ..Imported::default()
    };
    let addresses = parsed.addresses;
    let emails: Vec<String> = addresses.iter().map(|a| a.email.to_lowercase()).collect();
    let ids: Vec<String> = addresses
        .iter()
        .map(|a| derived_id(&app.hasher, &caller.org_id, &flow.id, &a.email))
        .collect();
    // Users, invitations and the organization are independent reads: at once.
    let (users, existing, org) = tokio::try_join!(
        store::orgs::users_by_email(&app.table, &caller.org_id, &emails),
        store::invitations::get_many(&app.table, &caller.org_id, &ids),
        store::orgs::get_org(&app.table, &caller.org_id),
    )?;
    let users: HashMap<String, User> = users
        .into_iter()
        .map(|u| (u.email.to_lowercase(), u))
        .collect();
    let existing: HashMap<String, Invitation> = existing
        .into_iter()
        .map(|inv| (inv.id.clone(), inv))
        .collect();
    let (ttl_secs, expire_time) = expiry(&org, None, None, now);

    // What becomes of each address, decided before anything is written.
    let plan: Vec<Plan> = addresses
        .iter()
        .zip(&ids)
        .map(|(address, id)| {
            if users.contains_key(&address.email.to_lowercase()) {
                return Plan::Member;
            }
            match existing.get(id) {
                Some(inv) if made_by(inv, mark) => Plan::Made,
                Some(inv) => match skipped(inv, now) {
                    Some(reason) => Plan::Skipped(reason),
                    None => Plan::Resend,
                },
                None => Plan::New,
            }
        })
        .collect();
    let emails = plan
        .iter()
        .filter(|p| matches!(p, Plan::New | Plan::Resend))
        .count() as u64;
    let needs_number = plan.iter().any(|p| matches!(p, Plan::New));
    let previous_base = existing
        .values()
        .filter(|inv| made_by(inv, mark))
        .find_map(|inv| inv.number_base);
    // The numbers and the emails' charge to the daily budget, at once: independent writes.
    let charge = (emails > 0)
        .then(|| email_budget::charge(&app.config, &caller.org_id, caller.tier, emails, now))
        .flatten();
    let reserve = async {
        match previous_base {
            Some(base) => Ok(Some(base)),
            None if needs_number => store::counters::reserve(
                &app.table,
                &caller.org_id,
                &format!("inv#{}", flow.id),
                addresses.len() as u64,
            )
            .await
            .map(Some),
            None => Ok(None),
        }
    };
    let spend = async {
        match &charge {
            Some(c) => store::budgets::spend(&app.table, c).await,
            None => Ok(true),
        }
    };
    let (first_number, charged) = tokio::try_join!(reserve, spend)?;
    if let (false, Some(c)) = (charged, &charge) {
        return Err(c.exceeded());
    }

    let mut members = Vec::new();
    let mut made: Vec<(Invitation, Option<Secret>)> = Vec::new();
    for (place, ((address, id), plan)) in addresses.into_iter().zip(ids).zip(plan).enumerate() {
        let previous = existing.get(&id);
        match plan {
            Plan::Member => {
                if let Some(user) = users.get(&address.email.to_lowercase()) {
                    members.push(store::orgs::flow_member_item(&flow.id, user)?);
                    result.added_users.push(user.clone());
                }
                continue;
            }
            Plan::Made => {
                // Written by this request's first run: made, and not written again.
                if let Some(inv) = previous {
                    made.push((inv.clone(), None));
                }
                continue;
            }
            Plan::Skipped(reason) => {
                result.erroneous.push((address.email, reason.into()));
                continue;
            }
            Plan::New | Plan::Resend => {}
        }
        let secret = new_secret(&app.hasher, &id);
        let terms = Terms {
            secret: &secret,
            message: message.clone(),
            ttl_secs,
            expire_time,
            made_by: mark.map(|m| m.as_str().to_owned()),
            number_base: first_number,
            now,
        };
        let inv = match (previous, first_number) {
            // Expired or canceled: the same record comes back, pending again.
            (Some(inv), _) => resent(inv.clone(), terms),
            (None, Some(base)) => {
                let number = base + place as u64;
                into_flow(
                    id,
                    &caller.org_id,
                    flow,
                    number,
                    address.email,
                    address.name,
                    terms,
                )
            }
            (None, None) => return Err(Error::internal("an import's numbers were not reserved")),
        };
        made.push((inv, Some(secret)));
    }
    let mut items = members;
    for (inv, secret) in &made {
        if let Some(secret) = secret {
            let jobs = created_jobs(app, inv, secret, request_id, Lane::Bulk, now);
            items.push(store::invitations::item(inv, &jobs)?);
        }
    }
    if let Err(err) = store::invitations::put_all(&app.table, items).await {
        if let Some(c) = &charge {
            if let Err(refund) = store::budgets::refund(&app.table, c).await {
                tracing::warn!(error = %refund.chain(), "an import's email charge was not given back");
            }
        }
        return Err(err);
    }
    result.invitations = made.into_iter().map(|(inv, _)| inv).collect();
    Ok(result)
}

/// What an import does with one address.
enum Plan {
    /// A user of the organization already: added to the flow.
    Member,
    /// Written by this request's first run.
    Made,
    /// An invitation that stays as it is, for this reason.
    Skipped(&'static str),
    /// An expired or canceled invitation, sent again.
    Resend,
    New,
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
