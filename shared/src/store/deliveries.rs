//! Webhook delivery records: `ORG#<org>` / `DLV#<id>`, one per (event, endpoint), listed by
//! status on GSI1 (`DLV#<org>#<status>` / `<updated>#<id>`). Each attempt is claimed with a
//! lease, so a job SQS delivers twice makes one attempt. A delivery whose next attempt is more
//! than SQS's 15-minute delay away (the retry schedule's long waits, a receiver's pause) is
//! parked: it waits in GSI2's sweep partition `WAKE#<shard>` / `<at>#<org>#<id>` until the
//! sweeper wakes it, with no message hopping through the queue meanwhile.

use super::{Table, Updated};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::{
    from_item, key, n, org_pk, outbox, s, to_item, unless_condition_failed, Item, GSI1, GSI1PK,
    GSI1SK, TTL,
};
use crate::{
    error::Error,
    jobs::Outbox,
    model::delivery::{AttemptRecord, Delivery, DeliveryStatus},
};

/// How long a delivery record is kept after it is made or replayed (the table's TTL removes it
/// then): its attempts stay listable for a month, well past the last retry (about 33 hours).
pub const RETENTION_DAYS: i64 = 30;

fn expires_at(from: DateTime<Utc>) -> i64 {
    (from + chrono::Duration::days(RETENTION_DAYS)).timestamp()
}

fn dlv_key(org_id: &str, id: &str) -> Item {
    key(org_pk(org_id), format!("DLV#{id}"))
}

fn status_partition(org_id: &str, status: DeliveryStatus) -> String {
    format!("DLV#{org_id}#{}", status.as_str())
}

fn status_sort_key(at: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", at.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
}

/// The prefix of the sweeper's partitions of parked deliveries (GSI2).
pub const WAKE_PARTITION: &str = "WAKE";

fn wake_partition(id: &str) -> String {
    format!("{WAKE_PARTITION}#{}", super::shards::of_id(id))
}

fn wake_sort_key(at: DateTime<Utc>, org_id: &str, id: &str) -> String {
    format!("{}#{org_id}#{id}", at.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// When a delivery's next attempt comes, as its outcome is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// None: it is settled.
    Never,
    /// Its attempt job is queued, delayed until then.
    Queued(DateTime<Utc>),
    /// Parked until then; the sweeper wakes it.
    Parked(DateTime<Utc>),
}

/// Writes a new delivery; `false` if it exists (the event was fanned out before).
pub async fn create_if_absent(table: &Table, d: &Delivery) -> Result<bool, Error> {
    let mut item = to_item(org_pk(&d.org_id), format!("DLV#{}", d.id), d)?;
    item.insert(GSI1PK.into(), s(status_partition(&d.org_id, d.status)));
    item.insert(GSI1SK.into(), s(status_sort_key(d.updated_at, &d.id)));
    item.insert(TTL.into(), n(expires_at(d.created_at)));
    let result = table
        .ddb
        .put_item()
        .table_name(&table.name)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await;
    Ok(unless_condition_failed(result)?.is_some())
}

pub async fn get(table: &Table, org_id: &str, id: &str) -> Result<Option<Delivery>, Error> {
    super::get_as(table, dlv_key(org_id, id), true).await
}

pub enum AttemptClaim {
    /// Boxed: a delivery with its attempts is large beside the other two.
    Claimed(Box<Delivery>),
    /// Already made (or the delivery is settled): nothing to do.
    Done,
    /// Another worker holds this attempt's lease right now.
    Busy,
}

/// Claims attempt `attempt` for `lease_secs`: the next attempt of a pending delivery, or one
/// whose previous holder's lease ran out (it crashed) without recording an outcome.
pub async fn claim(
    table: &Table,
    org_id: &str,
    id: &str,
    attempt: u32,
    now: DateTime<Utc>,
    lease_secs: i64,
) -> Result<AttemptClaim, Error> {
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(dlv_key(org_id, id)))
        .update_expression("SET attempt = :n, lease_until = :lease")
        .condition_expression(
            "#status = :pending AND (attempt = :prev OR (attempt = :n AND lease_until < :now))",
        )
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
        .expression_attribute_values(":n", n(attempt))
        .expression_attribute_values(":prev", n(attempt.saturating_sub(1)))
        .expression_attribute_values(":now", n(now.timestamp()))
        .expression_attribute_values(":lease", n(now.timestamp() + lease_secs))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(
            aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
        )
        .send()
        .await;
    let current: Delivery = match super::updated(result)? {
        Updated::Yes(item) => return Ok(AttemptClaim::Claimed(Box::new(from_item(item)?))),
        Updated::Refused(None) => return Ok(AttemptClaim::Done),
        Updated::Refused(Some(item)) => from_item(item)?,
    };
    let leased = current
        .lease_until
        .is_some_and(|until| until >= now.timestamp());
    Ok(
        if current.status == DeliveryStatus::Pending && current.attempt == attempt && leased {
            AttemptClaim::Busy
        } else {
            AttemptClaim::Done
        },
    )
}

/// Records attempt `attempt`'s outcome and the delivery's new status, releasing the lease.
pub async fn record(
    table: &Table,
    d: &Delivery,
    attempt: &AttemptRecord,
    status: DeliveryStatus,
    next: Next,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let entry: AttributeValue = serde_dynamo::to_attribute_value(attempt)?;
    let mut update = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(dlv_key(&d.org_id, &d.id)))
        .condition_expression("attempt = :n")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":n", n(attempt.attempt))
        .expression_attribute_values(":entry", AttributeValue::L(vec![entry]))
        .expression_attribute_values(":empty", AttributeValue::L(vec![]))
        .expression_attribute_values(":status", s(status.as_str()))
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .expression_attribute_values(":gpk", s(status_partition(&d.org_id, status)))
        .expression_attribute_values(":gsk", s(status_sort_key(now, &d.id)));
    let set = "SET attempts = list_append(if_not_exists(attempts, :empty), :entry), #status = :status, updated_at = :now, GSI1PK = :gpk, GSI1SK = :gsk";
    update = match next {
        Next::Queued(at) => update
            .update_expression(format!("{set}, next_attempt_at = :next REMOVE lease_until"))
            .expression_attribute_values(":next", s(at.to_rfc3339())),
        Next::Parked(at) => update
            .update_expression(format!(
                "{set}, next_attempt_at = :next, GSI2PK = :wpk, GSI2SK = :wsk REMOVE lease_until"
            ))
            .expression_attribute_values(":next", s(at.to_rfc3339()))
            .expression_attribute_values(":wpk", s(wake_partition(&d.id)))
            .expression_attribute_values(":wsk", s(wake_sort_key(at, &d.org_id, &d.id))),
        Next::Never => {
            update.update_expression(format!("{set} REMOVE lease_until, next_attempt_at"))
        }
    };
    update.send().await?;
    Ok(())
}

/// Parks a pending delivery's next attempt (`attempt`, not yet claimed) until `at`: a pause of
/// its receiver's longer than SQS can delay a message. `false` if the attempt was made or the
/// delivery settled meanwhile.
pub async fn park(
    table: &Table,
    org_id: &str,
    id: &str,
    attempt: u32,
    at: DateTime<Utc>,
) -> Result<bool, Error> {
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(dlv_key(org_id, id)))
        .update_expression("SET next_attempt_at = :next, GSI2PK = :wpk, GSI2SK = :wsk")
        .condition_expression("#status = :pending AND attempt = :prev")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
        .expression_attribute_values(":prev", n(attempt.saturating_sub(1)))
        .expression_attribute_values(":next", s(at.to_rfc3339()))
        .expression_attribute_values(":wpk", s(wake_partition(id)))
        .expression_attribute_values(":wsk", s(wake_sort_key(at, org_id, id)))
        .send()
        .await;
    Ok(unless_condition_failed(result)?.is_some())
}

/// Puts a settled delivery back to pending for a replay, with its jobs (its next attempt); the
/// retry schedule starts over. `None` if it is pending already (or gone).
pub async fn reopen(
    table: &Table,
    org_id: &str,
    id: &str,
    now: DateTime<Utc>,
    jobs: &Outbox,
) -> Result<Option<Delivery>, Error> {
    let [(n1, v1), (n2, v2)] = outbox::values(jobs)?;
    let result = table.ddb.update_item()
        .table_name(&table.name)
        .set_key(Some(dlv_key(org_id, id)))
        .update_expression(format!("SET #status = :pending, round_start = attempt, updated_at = :now, GSI1PK = :gpk, GSI1SK = :gsk, #ttl = :ttl, {} REMOVE next_attempt_at", outbox::SET))
        .expression_attribute_names("#ttl", TTL)
        .expression_attribute_values(":ttl", n(expires_at(now)))
        .expression_attribute_values(n1, v1)
        .expression_attribute_values(n2, v2)
        .condition_expression("attribute_exists(PK) AND #status <> :pending")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .expression_attribute_values(":gpk", s(status_partition(org_id, DeliveryStatus::Pending)))
        .expression_attribute_values(":gsk", s(status_sort_key(now, id)))
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    unless_condition_failed(result)?
        .map(|out| from_item(out.attributes.unwrap_or_default()))
        .transpose()
}

/// An organization's deliveries in one status, most recently updated first.
pub async fn by_status(
    table: &Table,
    org_id: &str,
    status: DeliveryStatus,
    limit: i32,
) -> Result<Vec<Delivery>, Error> {
    let out = table
        .ddb
        .query()
        .table_name(&table.name)
        .index_name(GSI1)
        .key_condition_expression("GSI1PK = :pk")
        .expression_attribute_values(":pk", s(status_partition(org_id, status)))
        .scan_index_forward(false)
        .limit(limit)
        .send()
        .await?;
    out.items
        .unwrap_or_default()
        .into_iter()
        .map(from_item)
        .collect()
}
