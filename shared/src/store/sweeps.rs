//! What the sweeper reads and writes: the sparse index partitions of things whose time has come
//! (GSI1 `DUE#<shard>`: unfinished assignments by due date; GSI2 `EXPIRES#<shard>`: open
//! invitations by expiry; GSI2 `WAKE#<shard>`: parked webhook deliveries by their next attempt),
//! every shard queried by sort key up to now (never a scan), and the conditional writes that
//! take an item out of its partition once it is handled.

use std::collections::HashMap;

use super::Table;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::{
    assignments::DUE_PARTITION, deliveries::WAKE_PARTITION, from_item, get_s,
    invitations::EXPIRY_PARTITION, outbox, s, Item, GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, PK,
    SK,
};
use crate::{
    error::Error,
    jobs::Outbox,
    model::{
        delivery::{Delivery, DeliveryStatus},
        Assignment, Invitation, InvitationState, Progress,
    },
};

/// A record found in a sweep partition, with what identifies its index entry: the conditional
/// write that handles it only succeeds while the entry is still this one (a re-assignment or a
/// resend in between moves it, and then the new deadline stands).
#[derive(Debug)]
pub struct Found<T> {
    /// The record, or why it cannot be read as one.
    pub record: Result<T, Error>,
    key: Item,
    index_sort_key: String,
    /// The index attributes that hold the entry.
    index: (&'static str, &'static str),
}

impl<T> Found<T> {
    /// The item's table key, for logs.
    pub fn describe(&self) -> String {
        format!(
            "{} / {}",
            get_s(&self.key, PK).unwrap_or_default(),
            get_s(&self.key, SK).unwrap_or_default()
        )
    }
}

/// The index sort keys of both partitions start with the time, `%Y-%m-%dT%H:%M:%SZ`; every key
/// below this bound is due at a second before `now`.
fn bound(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One entry of a partition, or why it has no table key (which DynamoDB never gives).
pub type Entry<T> = Result<Found<T>, Error>;

/// How much of a partition one run reads and hands over: per shard at most `per_shard`
/// entries, of which at most `per_org` of one organization's, in at most `queries` queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub per_shard: usize,
    pub per_org: usize,
    pub queries: usize,
}

/// Unfinished assignments whose due date passed: from every shard, oldest first, within
/// `bounds`.
pub async fn due_assignments(
    table: &Table,
    now: DateTime<Utc>,
    bounds: Bounds,
) -> Result<Vec<Entry<Assignment>>, Error> {
    let partition = Partition {
        index: GSI1,
        pk: GSI1PK,
        sk: GSI1SK,
        prefix: DUE_PARTITION,
    };
    every_shard(table, &partition, now, bounds).await
}

/// Open invitations whose expiry passed: from every shard, oldest first, within `bounds`.
pub async fn expired_invitations(
    table: &Table,
    now: DateTime<Utc>,
    bounds: Bounds,
) -> Result<Vec<Entry<Invitation>>, Error> {
    let partition = Partition {
        index: GSI2,
        pk: GSI2PK,
        sk: GSI2SK,
        prefix: EXPIRY_PARTITION,
    };
    every_shard(table, &partition, now, bounds).await
}

/// Parked webhook deliveries whose next attempt has come: from every shard, oldest first,
/// within `bounds`.
pub async fn parked_deliveries(
    table: &Table,
    now: DateTime<Utc>,
    bounds: Bounds,
) -> Result<Vec<Entry<Delivery>>, Error> {
    let partition = Partition {
        index: GSI2,
        pk: GSI2PK,
        sk: GSI2SK,
        prefix: WAKE_PARTITION,
    };
    every_shard(table, &partition, now, bounds).await
}

struct Partition {
    index: &'static str,
    pk: &'static str,
    sk: &'static str,
    /// The partition keys are `<prefix>#<shard>`.
    prefix: &'static str,
}

/// The shards of a partition, queried at once.
async fn every_shard<T: serde::de::DeserializeOwned>(
    table: &Table,
    partition: &Partition,
    now: DateTime<Utc>,
    bounds: Bounds,
) -> Result<Vec<Entry<T>>, Error> {
    let queries = super::shards::all(partition.prefix)
        .map(|value| query_fairly(table, partition, value, now, bounds));
    Ok(futures::future::try_join_all(queries)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

/// The part of a sort key (`<time>#<org>#<id>`) that names its moment and organization.
fn group_of(sort_key: &str) -> Option<&str> {
    let mut at = sort_key.match_indices('#').map(|(i, _)| i);
    at.next()?;
    at.next().map(|end| &sort_key[..end])
}

/// The smallest sort key after every key of `group` (ids are letters, digits and `_`, all
/// below `~`).
fn after_group(group: &str) -> String {
    format!("{group}#~")
}

/// Queries one shard for sort keys below `now`, oldest first, within `bounds`. Once an
/// organization has its share of this run, the rest of its entries at that moment are skipped
/// by the key condition itself (the next query starts after them), so one tenant's thousands of
/// entries due together cost this run one query, not their reading, and every other tenant's
/// entries due then or later are reached in the same run.
async fn query_fairly<T: serde::de::DeserializeOwned>(
    table: &Table,
    partition: &Partition,
    value: String,
    now: DateTime<Utc>,
    bounds: Bounds,
) -> Result<Vec<Entry<T>>, Error> {
    let mut found = Vec::new();
    let mut per_org: HashMap<String, usize> = HashMap::new();
    // Where the reading resumes after a skip (`None`: from the partition's first key).
    let mut from: Option<String> = None;
    let mut start: Option<Item> = None;
    for _ in 0..bounds.queries {
        if found.len() >= bounds.per_shard {
            break;
        }
        let query = table
            .ddb
            .query()
            .table_name(&table.name)
            .index_name(partition.index)
            .expression_attribute_names("#pk", partition.pk)
            .expression_attribute_names("#sk", partition.sk)
            .expression_attribute_values(":pk", s(&value))
            .expression_attribute_values(":bound", s(bound(now)));
        let query = match &from {
            None => query.key_condition_expression("#pk = :pk AND #sk < :bound"),
            Some(from) => query
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :bound")
                .expression_attribute_values(":from", s(from)),
        };
        let out = query
            .set_exclusive_start_key(start.take())
            .limit(100)
            .send()
            .await?;
        let mut skipped_to = None;
        for item in out.items.unwrap_or_default() {
            let sort_key = get_s(&item, partition.sk).unwrap_or_default().to_owned();
            let group = group_of(&sort_key).unwrap_or(&sort_key);
            let org = group.split_once('#').map_or(group, |(_, org)| org);
            let taken = per_org.entry(org.to_owned()).or_default();
            if *taken >= bounds.per_org {
                skipped_to = Some(after_group(group));
                break;
            }
            *taken += 1;
            found.push(found_in(item, (partition.pk, partition.sk)));
            if found.len() >= bounds.per_shard {
                break;
            }
        }
        match (skipped_to, out.last_evaluated_key) {
            (Some(next), _) => from = Some(next),
            (None, Some(key)) if !key.is_empty() => start = Some(key),
            (None, _) => break,
        }
    }
    Ok(found)
}

fn found_in<T: serde::de::DeserializeOwned>(
    item: Item,
    index: (&'static str, &'static str),
) -> Result<Found<T>, Error> {
    let attr = |name: &str| -> Result<AttributeValue, Error> {
        item.get(name)
            .cloned()
            .ok_or_else(|| Error::internal(format!("index item without {name}")))
    };
    let key = Item::from([(PK.to_owned(), attr(PK)?), (SK.to_owned(), attr(SK)?)]);
    let index_sort_key = get_s(&item, index.1)
        .ok_or_else(|| Error::internal(format!("index item without {}", index.1)))?
        .to_owned();
    Ok(Found {
        record: from_item(item),
        key,
        index_sort_key,
        index,
    })
}

/// Takes an entry the sweeper cannot act on (no record of its kind, or a deadline its sort key
/// misstates) out of its partition, so that it never holds the partition's head: its index
/// attributes go, and `quarantined_at` / `quarantined_entry` say when and what it was. `false`
/// if the entry changed meanwhile.
pub async fn quarantine<T>(
    table: &Table,
    found: &Found<T>,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let (pk, sk) = found.index;
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(found.key.clone()))
        .update_expression("SET quarantined_at = :now, quarantined_entry = :entry REMOVE #pk, #sk")
        .condition_expression("#sk = :sk")
        .expression_attribute_names("#pk", pk)
        .expression_attribute_names("#sk", sk)
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .expression_attribute_values(":sk", s(&found.index_sort_key))
        .expression_attribute_values(":entry", s(&found.index_sort_key))
        .send()
        .await;
    Ok(super::unless_condition_failed(result)?.is_some())
}

/// Marks an assignment overdue, with its jobs, and takes it out of the `DUE` partition, unless
/// it was completed, marked already, or given a new due date meanwhile (the index may lag the
/// table: the condition decides on the item itself). `true`: this call marked it.
pub async fn mark_overdue(
    table: &Table,
    found: &Found<Assignment>,
    now: DateTime<Utc>,
    jobs: &Outbox,
) -> Result<bool, Error> {
    let [(n1, v1), (n2, v2)] = outbox::values(jobs)?;
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(found.key.clone()))
        .update_expression(format!(
            "SET overdue_at = :now, {} REMOVE GSI1PK, GSI1SK",
            outbox::SET
        ))
        .condition_expression(
            "progress <> :completed AND attribute_not_exists(overdue_at) AND GSI1SK = :sk",
        )
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .expression_attribute_values(":completed", s(Progress::Completed.as_str()))
        .expression_attribute_values(":sk", s(&found.index_sort_key))
        .expression_attribute_values(n1, v1)
        .expression_attribute_values(n2, v2)
        .send()
        .await;
    Ok(super::unless_condition_failed(result)?.is_some())
}

/// Wakes a parked delivery: out of the `WAKE` partition, with its jobs (its next attempt), unless
/// it was settled or parked anew meanwhile. `true`: this call woke it.
pub async fn wake(table: &Table, found: &Found<Delivery>, jobs: &Outbox) -> Result<bool, Error> {
    let [(n1, v1), (n2, v2)] = outbox::values(jobs)?;
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(found.key.clone()))
        .update_expression(format!("SET {} REMOVE GSI2PK, GSI2SK", outbox::SET))
        .condition_expression("#status = :pending AND GSI2SK = :sk")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
        .expression_attribute_values(":sk", s(&found.index_sort_key))
        .expression_attribute_values(n1, v1)
        .expression_attribute_values(n2, v2)
        .send()
        .await;
    Ok(super::unless_condition_failed(result)?.is_some())
}

/// Moves an open invitation to EXPIRED, with its jobs, and out of the `EXPIRES` partition,
/// unless it was consumed, canceled or re-sent (a new expiry) meanwhile. `true`: this call
/// expired it.
pub async fn expire_invitation(
    table: &Table,
    found: &Found<Invitation>,
    now: DateTime<Utc>,
    jobs: &Outbox,
) -> Result<bool, Error> {
    let [(n1, v1), (n2, v2)] = outbox::values(jobs)?;
    let result = table.ddb.update_item()
        .table_name(&table.name)
        .set_key(Some(found.key.clone()))
        .update_expression(format!(
            "SET #state = :expired, state_reason = :reason, update_time = :now, {} REMOVE GSI2PK, GSI2SK, GSI3PK, GSI3SK",
            outbox::SET
        ))
        .condition_expression("#state IN (:pending, :started) AND GSI2SK = :sk")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":expired", s(InvitationState::Expired.as_str()))
        .expression_attribute_values(":reason", s("EXPIRED"))
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .expression_attribute_values(":pending", s(InvitationState::StartPending.as_str()))
        .expression_attribute_values(":started", s(InvitationState::Started.as_str()))
        .expression_attribute_values(":sk", s(&found.index_sort_key))
        .expression_attribute_values(n1, v1)
        .expression_attribute_values(n2, v2)
        .send()
        .await;
    Ok(super::unless_condition_failed(result)?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn groups_are_a_moment_and_an_organization() {
        let key = "2026-11-22T12:00:00Z#org_a#inv_b";
        assert_eq!(group_of(key), Some("2026-11-22T12:00:00Z#org_a"));
        let next = after_group("2026-11-22T12:00:00Z#org_a");
        assert!(next.as_str() > key);
        assert!(next.as_str() < "2026-11-22T12:00:00Z#org_b#inv_a");
        assert!(next.as_str() < "2026-11-22T12:00:01Z#org_a#inv_a");
        assert_eq!(group_of("nogroup"), None);
    }

    #[test]
    fn the_bound_admits_only_earlier_seconds() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 1).unwrap();
        let b = bound(now);
        assert!("2026-11-22T12:00:00Z#org_a#asgn_a" < b.as_str());
        assert!("2026-11-22T12:00:01Z#org_a#asgn_a" > b.as_str());
        assert!("2026-11-22T12:00:02Z#org_a#asgn_a" > b.as_str());
    }
}
