//! The single-table mapping. Only this module knows key layouts; see docs/table.md for the
//! access patterns.
//!
//! | item               | PK                | SK                         | GSI1PK / GSI1SK              |
//! |--------------------|-------------------|----------------------------|------------------------------|
//! | organization       | `ORG#<org>`       | `ORG`                      |                              |
//! | org slug (unique)  | `ORGSLUG#<slug>`  | `ORGSLUG`                  |                              |
//! | user               | `ORG#<org>`       | `USER#<user>`              |                              |
//! | user email (unique)| `ORG#<org>`       | `EMAIL#<lowercase email>`  |                              |
//! | flow               | `ORG#<org>`       | `FLOW#<flow>`              |                              |
//! | flow slug (unique) | `ORG#<org>`       | `FLOWSLUG#<slug>`          |                              |
//! | assignment         | `ORG#<org>`       | `ASGN#<asgn>`              | `DUE#<shard>` / `<due>#<org>#<asgn>` while unfinished with a due date |
//! | active assignment  | `ORG#<org>`       | `ACTIVE#<flow>#<email>`    |                              |
//! | API key            | `KEY#<hmac>`      | `KEY`                      | `KEYS#<org>` / `<key id>`    |
//! | idempotency record | `IDEM#<org>#<k>`  | `IDEM`                     |                              |
//! | webhook endpoint   | `ORG#<org>`       | `WEBHOOK#<id>`             |                              |
//! | invitation         | `INV#<inv>`       | `INV`                      | `INVNUM#<org>#<flow>#<n mod 16>` / `<number>`; open: GSI2 `EXPIRES#<shard>` / `<expiry>#<org>#<inv>`, GSI3 `OPEN#<org>#<flow>#<n mod 16>` / `<number>` |
//! | flow member        | `ORG#<org>`       | `MEMBER#<flow>#<user>`     |                              |
//! | webhook delivery   | `ORG#<org>`       | `DLV#<id>`                 | `DLV#<org>#<status>` / `<updated>#<id>` |
//! | counter            | `ORG#<org>`       | `COUNTER#<name>`           |                              |
//! | email budget       | `ORG#<org>`       | `EMAILS#<utc day>`         |                              |
//! | user group         | `ORG#<org>`       | `UG#<team id>`             |                              |
//! | group provided_id (unique) | `ORG#<org>` | `UGPID#<environment>#<provided_id>` |                  |
//! | group token lookup | `UGTOKEN#<hmac>`  | `UGTOKEN`                  |                              |
//!
//! An item whose write causes jobs (events, emails, webhook attempts) carries them in its
//! `outbox_id` / `outbox_jobs` attributes, written by that same write (see [`outbox`]).

pub mod address_limits;
pub mod assignments;
pub mod budgets;
pub mod counters;
pub mod deliveries;
pub mod idempotency;
pub mod invitations;
pub mod keys;
pub mod orgs;
pub mod outbox;
pub mod schema;
pub mod shards;
pub mod sweeps;
mod table;
mod transact;
pub mod user_groups;
pub mod webhooks;

pub use table::Table;
pub(crate) use transact::{build_err, put_new, transact, Written};

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{de::DeserializeOwned, Serialize};

use crate::error::Error;

pub type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
pub const GSI3: &str = "GSI3";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
/// DynamoDB's TTL attribute: epoch seconds after which the item may be removed.
pub const TTL: &str = "ttl";

pub(crate) fn org_pk(org_id: &str) -> String {
    format!("ORG#{org_id}")
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A domain value as an item under the given keys.
pub(crate) fn to_item<T: Serialize>(pk: String, sk: String, value: &T) -> Result<Item, Error> {
    let mut item: Item = serde_dynamo::to_item(value)?;
    item.insert(PK.into(), s(pk));
    item.insert(SK.into(), s(sk));
    Ok(item)
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, Error> {
    Ok(serde_dynamo::from_item(item)?)
}

pub(crate) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(crate) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// What a conditional UpdateItem asking for `ALL_NEW`, and for `ALL_OLD` on a failed
/// condition, found.
pub(crate) enum Updated {
    /// The item as written.
    Yes(Item),
    /// The condition failed: the item as it is, or `None` if there is none.
    Refused(Option<Item>),
}

/// Reads a conditional UpdateItem's result as [`Updated`]; any failure but the condition's is
/// an error.
pub(crate) fn updated<R>(
    result: Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::update_item::UpdateItemError,
            R,
        >,
    >,
) -> Result<Updated, Error>
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    match result {
        Ok(out) => Ok(Updated::Yes(out.attributes.unwrap_or_default())),
        Err(err) => match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                Ok(Updated::Refused(failed.item().cloned()))
            }
            _ => Err(err.into()),
        },
    }
}

/// The output of a conditional write, or `None` when its condition failed (a lost race or a
/// state that does not allow it); any other failure is an error.
pub(crate) fn unless_condition_failed<T, E, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<Option<T>, Error>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(out) => Ok(Some(out)),
        Err(err)
            if err.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// One item by key, as a domain value.
pub(crate) async fn get_as<T: DeserializeOwned>(
    table: &Table,
    key: Item,
    consistent: bool,
) -> Result<Option<T>, Error> {
    let out = table
        .ddb
        .get_item()
        .table_name(&table.name)
        .set_key(Some(key))
        .consistent_read(consistent)
        .send()
        .await?;
    out.item.map(from_item).transpose()
}

/// BatchWriteItem calls in flight at once: enough to write 5,000 items (200 calls) in a few
/// round trips' time, few enough to stay far below a partition's write rate.
const WRITES_IN_FLIGHT: usize = 8;

/// Writes items with BatchWriteItem, 25 per call and [`WRITES_IN_FLIGHT`] calls at once, asking
/// again for any left unprocessed. Returns the number of calls made.
pub(crate) async fn batch_put(table: &Table, items: Vec<Item>) -> Result<usize, Error> {
    use futures::{stream, StreamExt, TryStreamExt};
    let calls: Vec<_> = items
        .chunks(25)
        .map(|chunk| put_chunk(table, chunk))
        .collect();
    stream::iter(calls)
        .buffer_unordered(WRITES_IN_FLIGHT)
        .try_fold(0, |calls, made| async move { Ok(calls + made) })
        .await
}

/// One BatchWriteItem of at most 25 items, and its retries of what was left unprocessed.
async fn put_chunk(table: &Table, chunk: &[Item]) -> Result<usize, Error> {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    let mut requests = chunk
        .iter()
        .map(|item| {
            let put = PutRequest::builder()
                .set_item(Some(item.clone()))
                .build()
                .map_err(build_err)?;
            Ok(WriteRequest::builder().put_request(put).build())
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let mut calls = 0;
    for attempt in 0..8 {
        if requests.is_empty() {
            break;
        }
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
        }
        calls += 1;
        let out = table
            .ddb
            .batch_write_item()
            .request_items(&table.name, requests)
            .send()
            .await?;
        requests = out
            .unprocessed_items
            .and_then(|mut u| u.remove(&table.name))
            .unwrap_or_default();
    }
    if !requests.is_empty() {
        return Err(Error::unavailable("DynamoDB left writes unprocessed"));
    }
    Ok(calls)
}

/// Reads items by key with BatchGetItem, 100 per call (strongly consistent).
pub(crate) async fn batch_get(table: &Table, keys: Vec<Item>) -> Result<Vec<Item>, Error> {
    use aws_sdk_dynamodb::types::KeysAndAttributes;
    let mut found = Vec::new();
    for chunk in keys.chunks(100) {
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(build_err)?,
        );
        for attempt in 0..8 {
            let Some(request) = pending.take() else { break };
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
            }
            let out = table
                .ddb
                .batch_get_item()
                .request_items(&table.name, request)
                .send()
                .await?;
            found.extend(
                out.responses
                    .and_then(|mut r| r.remove(&table.name))
                    .unwrap_or_default(),
            );
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&table.name))
                .filter(|k| !k.keys().is_empty());
        }
        if pending.is_some() {
            return Err(Error::unavailable("DynamoDB left keys unprocessed"));
        }
    }
    Ok(found)
}
