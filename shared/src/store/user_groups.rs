//! User groups: the group (`ORG#<org>` / `UG#<team id>`), its `provided_id` claim
//! (`ORG#<org>` / `UGPID#<environment>#<provided_id>`) and its token lookup
//! (`UGTOKEN#<hmac>` / `UGTOKEN`). The lookup carries a copy of the group, so a rotation finds
//! the group in one read; every change to a group is a rotation, which rewrites that copy.

use std::time::Duration;

use aws_sdk_dynamodb::{
    operation::transact_write_items::TransactWriteItemsError,
    types::{Delete, Put, TransactWriteItem, Update},
};

use super::{from_item, key, n, org_pk, s, to_item, Item};
use crate::{error::Error, model::UserGroup};

const TOKEN_SK: &str = "UGTOKEN";

fn group_key(org_id: &str, team_id: u64) -> Item {
    key(org_pk(org_id), format!("UG#{team_id}"))
}

/// The environment is one of two fixed words without `#`, so the key is unambiguous whatever
/// the provided_id contains.
fn provided_id_key(g: &UserGroup) -> Item {
    key(
        org_pk(&g.org_id),
        format!("UGPID#{}#{}", g.environment.as_str(), g.provided_id),
    )
}

fn token_key(token_hash: &str) -> Item {
    key(format!("UGTOKEN#{token_hash}"), TOKEN_SK)
}

/// The lookup item of a token: the group's copy under the token hash's key.
fn token_item(g: &UserGroup, token_hash: &str) -> Result<Item, Error> {
    to_item(format!("UGTOKEN#{token_hash}"), TOKEN_SK.into(), g)
}

fn build_err(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, Error> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK)")
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

pub enum Created {
    Yes,
    /// Another group of the organization has this provided_id in this environment.
    ProvidedIdTaken,
}

/// Writes the group, its provided_id claim and its token lookup in one transaction.
pub async fn create(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    g: &UserGroup,
    token_hash: &str,
) -> Result<Created, Error> {
    let mut record = to_item(org_pk(&g.org_id), format!("UG#{}", g.team_id), g)?;
    record.insert("token_hash".into(), s(token_hash));
    let mut claim = provided_id_key(g);
    claim.insert("team_id".into(), n(g.team_id));
    let items = vec![
        put_new(table, record)?,
        put_new(table, claim)?,
        put_new(table, token_item(g, token_hash)?)?,
    ];
    match transact(ddb, items).await? {
        Written::Yes => Ok(Created::Yes),
        Written::Refused(failed) if failed.get(1) == Some(&true) => Ok(Created::ProvidedIdTaken),
        // A reused team id or a token hash collision: only a bug (or a restored counter) gets here.
        Written::Refused(_) => Err(Error::Internal(
            "user group id or token already in use".into(),
        )),
    }
}

/// The group a token belongs to, by the token's hash; read consistently so that a token that
/// was just rotated away is not found.
pub async fn find_by_token(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    token_hash: &str,
) -> Result<Option<UserGroup>, Error> {
    let out = ddb
        .get_item()
        .table_name(table)
        .set_key(Some(token_key(token_hash)))
        .consistent_read(true)
        .send()
        .await?;
    out.item.map(from_item).transpose()
}

pub enum Rotated {
    Yes,
    /// The old token was replaced by a concurrent rotation after it was read.
    TokenReplaced,
}

/// Swaps the group's token in one transaction: the old lookup goes (it must still exist), the
/// new one comes, and the group moves to the new hash (it must still hold the old one). `g`
/// carries the group as it should be after the rotation (a new name, `updated_at`).
pub async fn rotate(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    g: &UserGroup,
    old_hash: &str,
    new_hash: &str,
) -> Result<Rotated, Error> {
    let retire = Delete::builder()
        .table_name(table)
        .set_key(Some(token_key(old_hash)))
        .condition_expression("attribute_exists(PK) AND org_id = :org")
        .expression_attribute_values(":org", s(&g.org_id))
        .build()
        .map_err(build_err)?;
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(group_key(&g.org_id, g.team_id)))
        .update_expression("SET token_hash = :new, #name = :name, updated_at = :now")
        .condition_expression("token_hash = :old")
        .expression_attribute_names("#name", "name")
        .expression_attribute_values(":new", s(new_hash))
        .expression_attribute_values(":old", s(old_hash))
        .expression_attribute_values(":name", s(&g.name))
        .expression_attribute_values(":now", s(g.updated_at.to_rfc3339()))
        .build()
        .map_err(build_err)?;
    let items = vec![
        TransactWriteItem::builder().delete(retire).build(),
        put_new(table, token_item(g, new_hash)?)?,
        TransactWriteItem::builder().update(update).build(),
    ];
    match transact(ddb, items).await? {
        Written::Yes => Ok(Rotated::Yes),
        Written::Refused(failed) if failed.get(1) == Some(&true) => Err(Error::Internal(
            "a new user group token collided with an existing one".into(),
        )),
        Written::Refused(_) => Ok(Rotated::TokenReplaced),
    }
}

enum Written {
    Yes,
    /// Cancelled by conditions: for each item in order, whether its condition failed.
    Refused(Vec<bool>),
}

/// Sends a transaction. DynamoDB may also cancel one that merely overlapped another
/// transaction on the same items (`TransactionConflict`, no condition failed); that is tried
/// again, since the conditions then judge the other transaction's result.
async fn transact(
    ddb: &aws_sdk_dynamodb::Client,
    items: Vec<TransactWriteItem>,
) -> Result<Written, Error> {
    const ATTEMPTS: u32 = 3;
    for attempt in 1..=ATTEMPTS {
        let err = match ddb
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .send()
            .await
        {
            Ok(_) => return Ok(Written::Yes),
            Err(err) => err,
        };
        let codes = cancellation_codes(&err);
        let failed: Vec<bool> = codes
            .iter()
            .map(|c| c.as_deref() == Some("ConditionalCheckFailed"))
            .collect();
        if failed.contains(&true) {
            return Ok(Written::Refused(failed));
        }
        let overlapped = codes
            .iter()
            .any(|c| c.as_deref() == Some("TransactionConflict"));
        if !overlapped || attempt == ATTEMPTS {
            return Err(err.into());
        }
        tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
    }
    Err(Error::Unavailable("transaction conflict".into()))
}

fn cancellation_codes(
    err: &aws_sdk_dynamodb::error::SdkError<
        TransactWriteItemsError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
) -> Vec<Option<String>> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(tce)) => tce
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}
