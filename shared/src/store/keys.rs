//! API key items: `KEY#<hmac>` / `KEY`, with the rate-limit counter on the same item.

use super::{Table, Updated};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};

use super::{get_n, get_s, key, n, s, unless_condition_failed, Item, GSI1, GSI1PK, GSI1SK, PK, SK};
use crate::{
    error::{Error, Resource},
    keys::KeyKind,
    model::{Caller, Tier},
    ratelimit::{window_of, RateState},
};

fn key_pk(hash: &str) -> String {
    format!("KEY#{hash}")
}

fn keys_of_org(org_id: &str) -> String {
    format!("KEYS#{org_id}")
}

pub struct NewKey<'a> {
    pub hash: &'a str,
    pub key_id: &'a str,
    pub org_id: &'a str,
    pub org_slug: &'a str,
    pub kind: KeyKind,
    pub tier: Tier,
    pub now: DateTime<Utc>,
}

pub async fn put(table: &Table, k: NewKey<'_>) -> Result<(), Error> {
    let kind = match k.kind {
        KeyKind::Admin => "admin",
        KeyKind::User => "user",
    };
    let tier = match k.tier {
        Tier::Standard => "standard",
        Tier::Enterprise => "enterprise",
    };
    table
        .ddb
        .put_item()
        .table_name(&table.name)
        .set_item(Some(Item::from([
            (PK.into(), s(key_pk(k.hash))),
            (SK.into(), s("KEY")),
            (GSI1PK.into(), s(keys_of_org(k.org_id))),
            (GSI1SK.into(), s(k.key_id)),
            ("org_id".into(), s(k.org_id)),
            ("org_slug".into(), s(k.org_slug)),
            ("key_id".into(), s(k.key_id)),
            ("kind".into(), s(kind)),
            ("tier".into(), s(tier)),
            ("rl_limit".into(), n(k.tier.rate_limit())),
            ("rl_window".into(), n(0)),
            ("rl_count".into(), n(0)),
            ("created_at".into(), s(k.now.to_rfc3339())),
        ])))
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await?;
    Ok(())
}

/// Authenticates a key by its hash and counts the request against its window, in one
/// conditional UpdateItem in the common case (two on the first request of a minute).
/// The counter is exact under any concurrency: every increment is conditional on the count.
pub async fn authorize(
    table: &Table,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(Caller, RateState), Error> {
    let mut window = window_of(now);
    for _ in 0..5 {
        match count_in_window(table, hash, window).await? {
            Counted::Allowed(item) => return allowed(&item, now),
            Counted::Refused(None) => return Err(Error::Unauthenticated),
            Counted::Refused(Some(old)) => {
                if old.contains_key("revoked_at") {
                    return Err(Error::Unauthenticated);
                }
                let stored = get_n(&old, "rl_window").unwrap_or(0);
                if stored > window {
                    // Another container's clock is ahead: count toward its window.
                    window = stored;
                } else if stored == window {
                    let limit = get_n(&old, "rl_limit").unwrap_or(0);
                    return Err(Error::RateLimited {
                        retry_after: crate::ratelimit::seconds_to_reset(now),
                        limit: limit as u32,
                    });
                } else if let Some(item) = open_window(table, hash, window).await? {
                    return allowed(&item, now);
                }
            }
        }
    }
    Err(Error::unavailable("rate limit counter contention"))
}

enum Counted {
    Allowed(Item),
    /// The condition failed; the item as it was, if it exists.
    Refused(Option<Item>),
}

async fn count_in_window(table: &Table, hash: &str, window: i64) -> Result<Counted, Error> {
    let result = table.ddb.update_item()
        .table_name(&table.name)
        .set_key(Some(key(key_pk(hash), "KEY")))
        .update_expression("SET rl_count = rl_count + :one")
        .condition_expression(
            "attribute_exists(PK) AND attribute_not_exists(revoked_at) AND rl_window = :w AND rl_count < rl_limit",
        )
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":w", n(window))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    Ok(match super::updated(result)? {
        Updated::Yes(item) => Counted::Allowed(item),
        Updated::Refused(old) => Counted::Refused(old),
    })
}

/// Starts a new window with this request as its first; `None` if another request got there first.
async fn open_window(table: &Table, hash: &str, window: i64) -> Result<Option<Item>, Error> {
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(key(key_pk(hash), "KEY")))
        .update_expression("SET rl_window = :w, rl_count = :one")
        .condition_expression(
            "attribute_exists(PK) AND attribute_not_exists(revoked_at) AND rl_window < :w",
        )
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":w", n(window))
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    Ok(unless_condition_failed(result)?.map(|out| out.attributes.unwrap_or_default()))
}

fn allowed(item: &Item, now: DateTime<Utc>) -> Result<(Caller, RateState), Error> {
    let field = |name: &str| {
        get_s(item, name)
            .map(str::to_owned)
            .ok_or_else(|| Error::internal(format!("key item lacks {name}")))
    };
    let tier = Tier::parse(&field("tier")?)
        .ok_or_else(|| Error::internal("key item has an unknown tier"))?;
    let caller = Caller {
        org_id: field("org_id")?,
        org_slug: field("org_slug")?,
        key_id: field("key_id")?,
        tier,
    };
    let limit = get_n(item, "rl_limit").unwrap_or(0) as u32;
    let used = get_n(item, "rl_count").unwrap_or(0) as u32;
    Ok((caller, RateState::after(limit, used, now)))
}

/// Revokes a key of an organization by its public id. Revoking twice is not an error.
pub async fn revoke(
    table: &Table,
    org_id: &str,
    key_id: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let found = table
        .ddb
        .query()
        .table_name(&table.name)
        .index_name(GSI1)
        .key_condition_expression("GSI1PK = :pk AND GSI1SK = :sk")
        .expression_attribute_values(":pk", s(keys_of_org(org_id)))
        .expression_attribute_values(":sk", s(key_id))
        .send()
        .await?;
    let pk = found
        .items()
        .first()
        .and_then(|item| item.get(PK).cloned())
        .ok_or_else(|| Error::not_found(Resource::Key, key_id))?;
    table
        .ddb
        .update_item()
        .table_name(&table.name)
        .key(PK, pk)
        .key(SK, s("KEY"))
        .update_expression("SET revoked_at = if_not_exists(revoked_at, :now)")
        .condition_expression("attribute_exists(PK)")
        .expression_attribute_values(":now", AttributeValue::S(now.to_rfc3339()))
        .send()
        .await?;
    Ok(())
}

/// A key as the table keeps it, for an operator's listing: never the key, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: String,
    pub kind: String,
    pub tier: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

fn record(item: &Item) -> KeyRecord {
    let text = |name: &str| get_s(item, name).unwrap_or_default().to_owned();
    KeyRecord {
        id: text("key_id"),
        kind: text("kind"),
        tier: text("tier"),
        created_at: text("created_at"),
        revoked_at: get_s(item, "revoked_at").map(str::to_owned),
    }
}

/// An organization's keys, oldest id first (ids sort by time): one query on GSI1 (`KEYS#<org>`),
/// paged (an operator's read: an organization has a handful of keys).
pub async fn of_org(table: &Table, org_id: &str) -> Result<Vec<KeyRecord>, Error> {
    let mut pages = table
        .ddb
        .query()
        .table_name(&table.name)
        .index_name(GSI1)
        .key_condition_expression("GSI1PK = :pk")
        .expression_attribute_values(":pk", s(keys_of_org(org_id)))
        .into_paginator()
        .items()
        .send();
    let mut keys = Vec::new();
    while let Some(item) = pages.next().await {
        keys.push(record(&item?));
    }
    Ok(keys)
}

/// Changes the tier (and so the limit) of every key of an organization.
pub async fn set_tier(table: &Table, org_id: &str, tier: Tier) -> Result<usize, Error> {
    let tier_name = match tier {
        Tier::Standard => "standard",
        Tier::Enterprise => "enterprise",
    };
    let mut updated = 0;
    let mut pages = table
        .ddb
        .query()
        .table_name(&table.name)
        .index_name(GSI1)
        .key_condition_expression("GSI1PK = :pk")
        .expression_attribute_values(":pk", s(keys_of_org(org_id)))
        .into_paginator()
        .items()
        .send();
    while let Some(item) = pages.next().await {
        let item = item?;
        let Some(pk) = item.get(PK).cloned() else {
            continue;
        };
        table
            .ddb
            .update_item()
            .table_name(&table.name)
            .key(PK, pk)
            .key(SK, s("KEY"))
            .update_expression("SET tier = :t, rl_limit = :l")
            .expression_attribute_values(":t", s(tier_name))
            .expression_attribute_values(":l", n(tier.rate_limit()))
            .send()
            .await?;
        updated += 1;
    }
    Ok(updated)
}
