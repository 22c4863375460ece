//! Invitation items: `INV#<id>` / `INV`, one item per invitation, each its own partition key
//! (an import's thousands of writes spread over the whole table; the accept page finds an
//! invitation from the id in its secret alone). Every read checks the organization, and every
//! write by id is conditional on it. Indexes, each sharded (`store::shards`):
//! - GSI1 `INVNUM#<org>#<flow>#<shard>` / `<number>`: a training flow's invitations by number
//!   (every state), the shard being the number's;
//! - GSI2 `EXPIRES#<shard>` / `<expiry>#<org>#<id>`: open invitations by expiry, for the sweeper;
//! - GSI3 `OPEN#<org>#<flow>#<shard>` / `<number>`: a training flow's open invitations by number,
//!   the invitations API's list (sparse: present only while open).

use super::Table;
use aws_sdk_dynamodb::types::{
    Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};

use super::{
    build_err, from_item, key, outbox, s, shards, to_item, transact, unless_condition_failed, Item,
    Updated, Written, GSI1, GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI3, GSI3PK, GSI3SK,
};
use crate::{
    error::Error,
    jobs::Outbox,
    model::{EmailCharge, Invitation, InvitationState, Organization, User},
};

/// The prefix of the sweeper's partitions of GSI2.
pub const EXPIRY_PARTITION: &str = "EXPIRES";

/// The index attributes an invitation that leaves the open states loses.
const OPEN_INDEXES: &str = "GSI2PK, GSI2SK, GSI3PK, GSI3SK";

fn inv_key(id: &str) -> Item {
    key(format!("INV#{id}"), "INV")
}

fn by_number_partition(org_id: &str, flow_id: &str, number: u64) -> String {
    format!("INVNUM#{org_id}#{flow_id}#{}", shards::of_number(number))
}

fn open_prefix(org_id: &str, flow_id: &str) -> String {
    format!("OPEN#{org_id}#{flow_id}")
}

fn number_sort_key(number: u64) -> String {
    format!("{number:012}")
}

fn expiry_sort_key(inv: &Invitation) -> String {
    format!(
        "{}#{}#{}",
        inv.expire_time.format("%Y-%m-%dT%H:%M:%SZ"),
        inv.org_id,
        inv.id
    )
}

/// The item for an invitation, with its index attributes and the jobs its write causes.
pub fn item(inv: &Invitation, jobs: &Outbox) -> Result<Item, Error> {
    let mut item = to_item(format!("INV#{}", inv.id), "INV".into(), inv)?;
    outbox::put_into(&mut item, jobs)?;
    let numbered = inv.flow_id.as_deref().zip(inv.number);
    if let Some((flow_id, number)) = numbered {
        let partition = by_number_partition(&inv.org_id, flow_id, number);
        item.insert(GSI1PK.into(), s(partition));
        item.insert(GSI1SK.into(), s(number_sort_key(number)));
    }
    if inv.state.is_open() {
        let shard = shards::of_id(&inv.id);
        item.insert(GSI2PK.into(), s(format!("{EXPIRY_PARTITION}#{shard}")));
        item.insert(GSI2SK.into(), s(expiry_sort_key(inv)));
        if let Some((flow_id, number)) = numbered {
            let shard = shards::of_number(number);
            let partition = format!("{}#{shard}", open_prefix(&inv.org_id, flow_id));
            item.insert(GSI3PK.into(), s(partition));
            item.insert(GSI3SK.into(), s(number_sort_key(number)));
        }
    }
    Ok(item)
}

/// The invitation `id` of `org_id` (another organization's is not found).
pub async fn get(table: &Table, org_id: &str, id: &str) -> Result<Option<Invitation>, Error> {
    let found: Option<Invitation> = super::get_as(table, inv_key(id), true).await?;
    Ok(found.filter(|inv| inv.org_id == org_id))
}

/// The invitation `id`, whatever its organization: for what holds only its secret (the hosted
/// accept page), where the secret is the proof.
pub async fn get_by_id(table: &Table, id: &str) -> Result<Option<Invitation>, Error> {
    super::get_as(table, inv_key(id), true).await
}

pub async fn get_many(
    table: &Table,
    org_id: &str,
    ids: &[String],
) -> Result<Vec<Invitation>, Error> {
    let keys = ids.iter().map(|id| inv_key(id)).collect();
    let found: Vec<Invitation> = super::batch_get(table, keys)
        .await?
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    Ok(found
        .into_iter()
        .filter(|inv| inv.org_id == org_id)
        .collect())
}

/// Writes a new invitation with its jobs, and its email's `charge` to the daily budget in the
/// same write; `false` if one with this id exists already, [`EmailCharge::exceeded`] when the
/// budget has no room.
pub async fn insert(
    table: &Table,
    inv: &Invitation,
    jobs: &Outbox,
    charge: Option<&EmailCharge>,
) -> Result<bool, Error> {
    let put = Put::builder()
        .table_name(&table.name)
        .set_item(Some(item(inv, jobs)?))
        .condition_expression("attribute_not_exists(PK)");
    written_with_charge(table, put, charge).await
}

/// Replaces an invitation with its re-sent version (new secret and expiry) and its jobs, with
/// its email's charge, unless it was accepted or re-sent meanwhile; `false` then.
pub async fn replace_unaccepted(
    table: &Table,
    inv: &Invitation,
    previous_secret_hash: &str,
    jobs: &Outbox,
    charge: Option<&EmailCharge>,
) -> Result<bool, Error> {
    let put = Put::builder()
        .table_name(&table.name)
        .set_item(Some(item(inv, jobs)?))
        .condition_expression(
            "attribute_exists(PK) AND #state <> :completed AND secret_hash = :previous",
        )
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":completed", s(InvitationState::Completed.as_str()))
        .expression_attribute_values(":previous", s(previous_secret_hash));
    written_with_charge(table, put, charge).await
}

/// A conditional put, alone or in one transaction with a budget charge: `false` when the put's
/// own condition failed, the charge's refusal when the budget had no room.
async fn written_with_charge(
    table: &Table,
    put: aws_sdk_dynamodb::types::builders::PutBuilder,
    charge: Option<&EmailCharge>,
) -> Result<bool, Error> {
    let put = put.build().map_err(build_err)?;
    let Some(charge) = charge else {
        let result = table
            .ddb
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(put.expression_attribute_names().cloned())
            .set_expression_attribute_values(put.expression_attribute_values().cloned())
            .send()
            .await;
        return Ok(unless_condition_failed(result)?.is_some());
    };
    let writes = vec![
        TransactWriteItem::builder().put(put).build(),
        super::budgets::charge_write(table, charge)?,
    ];
    match transact(table, writes).await? {
        Written::Yes => Ok(true),
        Written::Refused(parts) if parts.get(1).is_some_and(|p| p.failed) => Err(charge.exceeded()),
        Written::Refused(_) => Ok(false),
    }
}

pub async fn put_all(table: &Table, items: Vec<Item>) -> Result<usize, Error> {
    super::batch_put(table, items).await
}

/// What canceling an invitation found.
pub enum Canceled {
    /// This request canceled it: its jobs are written with it.
    Now(Invitation),
    /// It was in none of the states asked for: the invitation as it is, or `None` if the
    /// organization has no such invitation.
    Refused(Option<Invitation>),
}

/// An invitation in one of the states `from` is canceled (cancel, delete), with its jobs.
pub async fn cancel(
    table: &Table,
    org_id: &str,
    id: &str,
    from: &[InvitationState],
    now: DateTime<Utc>,
    jobs: &Outbox,
) -> Result<Canceled, Error> {
    let names: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
    let mut update = table.ddb.update_item()
        .table_name(&table.name)
        .set_key(Some(inv_key(id)))
        .update_expression(format!(
            "SET #state = :to, state_reason = :reason, update_time = :now, {} REMOVE {OPEN_INDEXES}",
            outbox::SET
        ))
        .condition_expression(format!("org_id = :org AND #state IN ({})", names.join(", ")))
        .expression_attribute_values(":org", s(org_id))
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":to", s(InvitationState::Canceled.as_str()))
        .expression_attribute_values(":reason", s("CANCELED"))
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    for (name, state) in names.iter().zip(from) {
        update = update.expression_attribute_values(name, s(state.as_str()));
    }
    for (name, value) in outbox::values(jobs)? {
        update = update.expression_attribute_values(name, value);
    }
    Ok(match super::updated(update.send().await)? {
        Updated::Yes(item) => Canceled::Now(from_item(item)?),
        Updated::Refused(Some(item)) => {
            let found: Invitation = from_item(item)?;
            Canceled::Refused(Some(found).filter(|inv| inv.org_id == org_id))
        }
        Updated::Refused(None) => Canceled::Refused(None),
    })
}

/// What accepting an invitation writes, in one transaction.
pub struct Acceptance<'a> {
    pub invitation: &'a Invitation,
    /// The invitee; written too when `new_user`.
    pub user: &'a User,
    pub new_user: bool,
    /// The organization a signup creates for its invitee.
    pub new_org: Option<&'a Organization>,
    pub now: DateTime<Utc>,
    /// `invitation.accepted`.
    pub jobs: &'a Outbox,
}

/// Marks an open, unexpired invitation consumed with its jobs, and writes what the acceptance
/// makes (organization, user, flow membership), all or nothing. `false`: a condition failed
/// (the invitation changed, or a concurrent accept made the user); the caller re-reads.
pub async fn accept(table: &Table, a: Acceptance<'_>) -> Result<bool, Error> {
    let mut writes = Vec::new();
    if let Some(org) = a.new_org {
        writes.extend(super::orgs::new_org_writes(table, org)?);
    }
    if a.new_user {
        writes.extend(super::orgs::new_user_writes(
            table,
            a.user,
            a.new_org.is_some(),
        )?);
    }
    if let Some(flow_id) = &a.invitation.flow_id {
        writes.push(super::orgs::flow_member_write(table, flow_id, a.user)?);
    }
    writes.push(consume_write(
        table,
        a.invitation,
        &a.user.id,
        a.new_org.map(|o| o.id.as_str()),
        a.now,
        a.jobs,
    )?);
    Ok(matches!(transact(table, writes).await?, Written::Yes))
}

/// The write that marks an open, unexpired invitation consumed, with its jobs.
fn consume_write(
    table: &Table,
    inv: &Invitation,
    user_id: &str,
    result_org_id: Option<&str>,
    now: DateTime<Utc>,
    jobs: &Outbox,
) -> Result<TransactWriteItem, Error> {
    let mut set = format!(
        "SET #state = :done, state_reason = :reason, user_id = :user, update_time = :now, {}",
        outbox::SET
    );
    let mut update = Update::builder()
        .table_name(&table.name)
        .set_key(Some(inv_key(&inv.id)))
        .condition_expression(
            "org_id = :owner AND #state IN (:pending, :started) AND expire_time > :now AND secret_hash = :secret",
        )
        .expression_attribute_values(":owner", s(&inv.org_id))
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":done", s(InvitationState::Completed.as_str()))
        .expression_attribute_values(":reason", s("CONSUMED"))
        .expression_attribute_values(":user", s(user_id))
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .expression_attribute_values(":pending", s(InvitationState::StartPending.as_str()))
        .expression_attribute_values(":started", s(InvitationState::Started.as_str()))
        .expression_attribute_values(":secret", s(&inv.secret_hash));
    for (name, value) in outbox::values(jobs)? {
        update = update.expression_attribute_values(name, value);
    }
    if let Some(org) = result_org_id {
        set.push_str(", result_org_id = :org");
        update = update.expression_attribute_values(":org", s(org));
    }
    let update = update
        .update_expression(format!("{set} REMOVE {OPEN_INDEXES}"))
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// What claiming an invitation's email found.
pub enum EmailClaim {
    /// This worker holds the email's lease: it sends, then marks the invitation started.
    Claimed(Box<Invitation>),
    /// Not claimable: the invitation as it is (sent already, re-sent, closed, or leased).
    Refused(Box<Invitation>),
    Gone,
}

/// Takes the lease on an invitation's email for `lease_secs`, while it is START_PENDING with
/// this secret and no other worker holds a live lease: two copies of one email job (a stream
/// record relayed twice) never send twice at once.
pub async fn claim_email(
    table: &Table,
    org_id: &str,
    id: &str,
    secret_hash: &str,
    now: DateTime<Utc>,
    lease_secs: i64,
) -> Result<EmailClaim, Error> {
    let result = table.ddb.update_item()
        .table_name(&table.name)
        .set_key(Some(inv_key(id)))
        .update_expression("SET email_lease_until = :until")
        .condition_expression(
            "org_id = :org AND #state = :pending AND secret_hash = :secret AND (attribute_not_exists(email_lease_until) OR email_lease_until < :now)",
        )
        .expression_attribute_values(":org", s(org_id))
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":pending", s(InvitationState::StartPending.as_str()))
        .expression_attribute_values(":secret", s(secret_hash))
        .expression_attribute_values(":now", super::n(now.timestamp()))
        .expression_attribute_values(":until", super::n(now.timestamp() + lease_secs))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    Ok(match super::updated(result)? {
        Updated::Yes(item) => EmailClaim::Claimed(Box::new(from_item(item)?)),
        Updated::Refused(Some(item)) => EmailClaim::Refused(Box::new(from_item(item)?)),
        Updated::Refused(None) => EmailClaim::Gone,
    })
}

/// Gives an email's lease back (its send failed), so that the job's next delivery may send.
pub async fn release_email(
    table: &Table,
    org_id: &str,
    id: &str,
    lease_until: i64,
) -> Result<(), Error> {
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(inv_key(id)))
        .update_expression("REMOVE email_lease_until")
        .condition_expression("org_id = :org AND email_lease_until = :until")
        .expression_attribute_values(":org", s(org_id))
        .expression_attribute_values(":until", super::n(lease_until))
        .send()
        .await;
    unless_condition_failed(result).map(drop)
}

/// START_PENDING → STARTED once its email went out, releasing the email's lease, unless a
/// resend replaced the secret or the invitation left START_PENDING meanwhile (those win).
pub async fn mark_started(
    table: &Table,
    org_id: &str,
    id: &str,
    secret_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(inv_key(id)))
        .update_expression(
            "SET #state = :started, start_time = :now, update_time = :now REMOVE email_lease_until",
        )
        .condition_expression("org_id = :org AND #state = :pending AND secret_hash = :secret")
        .expression_attribute_values(":org", s(org_id))
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":started", s(InvitationState::Started.as_str()))
        .expression_attribute_values(":pending", s(InvitationState::StartPending.as_str()))
        .expression_attribute_values(":secret", s(secret_hash))
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .send()
        .await;
    Ok(unless_condition_failed(result)?.is_some())
}

/// A page of a training flow's open invitations in number order, after `after`: at most
/// `limit`, read from every shard of its `OPEN` partition at once (one query each), and whether
/// more follow.
pub async fn open_by_flow(
    table: &Table,
    org_id: &str,
    flow_id: &str,
    after: u64,
    limit: usize,
) -> Result<(Vec<Invitation>, bool), Error> {
    let prefix = open_prefix(org_id, flow_id);
    let queries = shards::all(&prefix).map(|partition| async move {
        table
            .ddb
            .query()
            .table_name(&table.name)
            .index_name(GSI3)
            .key_condition_expression("GSI3PK = :pk AND GSI3SK > :after")
            .expression_attribute_values(":pk", s(partition))
            .expression_attribute_values(":after", s(number_sort_key(after)))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
    });
    let mut found: Vec<Invitation> = Vec::new();
    let mut more = false;
    for out in futures::future::try_join_all(queries).await? {
        more |= out.last_evaluated_key.is_some();
        for item in out.items.unwrap_or_default() {
            found.push(from_item(item)?);
        }
    }
    found.sort_by_key(|inv| inv.number);
    more |= found.len() > limit;
    found.truncate(limit);
    Ok((found, more))
}

/// A training flow's invitation by its number.
pub async fn by_number(
    table: &Table,
    org_id: &str,
    flow_id: &str,
    number: u64,
) -> Result<Option<Invitation>, Error> {
    let out = table
        .ddb
        .query()
        .table_name(&table.name)
        .index_name(GSI1)
        .key_condition_expression("GSI1PK = :pk AND GSI1SK = :n")
        .expression_attribute_values(":pk", s(by_number_partition(org_id, flow_id, number)))
        .expression_attribute_values(":n", s(number_sort_key(number)))
        .send()
        .await?;
    out.items
        .unwrap_or_default()
        .into_iter()
        .next()
        .map(from_item)
        .transpose()
}
