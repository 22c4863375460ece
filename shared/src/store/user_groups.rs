//! User groups: the group (`ORG#<org>` / `UG#<team id>`), its `provided_id` claim
//! (`ORG#<org>` / `UGPID#<environment>#<provided_id>`) and its token lookup
//! (`UGTOKEN#<hmac>` / `UGTOKEN`). The lookup carries a copy of the group, so a rotation finds
//! the group in one read; every change to a group is a rotation, which rewrites that copy.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};

use super::{
    build_err, from_item, key, n, org_pk, put_new, s, to_item, transact, Item, Table, Written,
};
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

pub enum Created {
    Yes,
    /// Another group of the organization has this provided_id in this environment.
    ProvidedIdTaken,
}

/// Writes the group, its provided_id claim and its token lookup in one transaction.
pub async fn create(table: &Table, g: &UserGroup, token_hash: &str) -> Result<Created, Error> {
    let mut record = to_item(org_pk(&g.org_id), format!("UG#{}", g.team_id), g)?;
    record.insert("token_hash".into(), s(token_hash));
    let mut claim = provided_id_key(g);
    claim.insert("team_id".into(), n(g.team_id));
    let items = vec![
        put_new(table, record)?,
        put_new(table, claim)?,
        put_new(table, token_item(g, token_hash)?)?,
    ];
    match transact(table, items).await? {
        Written::Yes => Ok(Created::Yes),
        Written::Refused(c) if c.get(1).is_some_and(|c| c.failed) => Ok(Created::ProvidedIdTaken),
        // A reused team id or a token hash collision: only a bug (or a restored counter) gets here.
        Written::Refused(_) => Err(Error::internal("user group id or token already in use")),
    }
}

/// The group a token belongs to, by the token's hash; read consistently so that a token that
/// was just rotated away is not found.
pub async fn find_by_token(table: &Table, token_hash: &str) -> Result<Option<UserGroup>, Error> {
    let out = table
        .ddb
        .get_item()
        .table_name(&table.name)
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
    table: &Table,
    g: &UserGroup,
    old_hash: &str,
    new_hash: &str,
) -> Result<Rotated, Error> {
    let retire = Delete::builder()
        .table_name(&table.name)
        .set_key(Some(token_key(old_hash)))
        .condition_expression("attribute_exists(PK) AND org_id = :org")
        .expression_attribute_values(":org", s(&g.org_id))
        .build()
        .map_err(build_err)?;
    let update = Update::builder()
        .table_name(&table.name)
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
    match transact(table, items).await? {
        Written::Yes => Ok(Rotated::Yes),
        Written::Refused(c) if c.get(1).is_some_and(|c| c.failed) => Err(Error::internal(
            "a new user group token collided with an existing one",
        )),
        Written::Refused(_) => Ok(Rotated::TokenReplaced),
    }
}
