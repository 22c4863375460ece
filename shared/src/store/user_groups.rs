//! User groups: the group (`ORG#<org>` / `UG#<team id>`), its `provided_id` claim
//! (`ORG#<org>` / `UGPID#<environment>#<provided_id>`) and its token lookup
//! (`UGTOKEN#<hmac>` / `UGTOKEN`). The lookup carries a copy of the group, so a rotation finds
//! the group in one read; every change to a group is a rotation, which rewrites that copy.
//!
//! Retries that lost an answer (`crate::user_groups`): the group keeps the token it was created
//! with sealed for a day (`created_token_sealed`, until `created_token_until`); a rotation made
//! under an Idempotency-Key leaves the rotated-away token's lookup as a marker naming that
//! request (`rotated_by`), gone by TTL a day later. Without a key, a rotated-away lookup is
//! deleted.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};

use super::{
    build_err, from_item, get_n, get_s, key, n, org_pk, put_new, s, to_item, transact, Item, Table,
    Written, TTL,
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

/// A new group's token: its keyed hash, and sealed until the end of the day its create's answer
/// may be given again.
pub struct Issued<'a> {
    pub hash: &'a str,
    pub sealed: &'a str,
    pub until: i64,
}

/// Writes the group, its provided_id claim and its token lookup in one transaction.
pub async fn create(table: &Table, g: &UserGroup, token: &Issued<'_>) -> Result<Created, Error> {
    let token_hash = token.hash;
    let mut record = to_item(org_pk(&g.org_id), format!("UG#{}", g.team_id), g)?;
    record.insert("token_hash".into(), s(token_hash));
    record.insert("created_token_sealed".into(), s(token.sealed));
    record.insert("created_token_until".into(), n(token.until));
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

/// What a token's lookup says.
pub enum Lookup {
    /// The group's token now.
    Current(UserGroup),
    /// Rotated away within the last day by the request `by` (under an Idempotency-Key): the group
    /// as the rotation left it.
    Rotated { group: UserGroup, by: String },
}

/// The group a token belongs to, by the token's hash; read consistently so that a token that
/// was just rotated away is seen so. A rotation marker past its day is no lookup.
pub async fn find_by_token(
    table: &Table,
    token_hash: &str,
    now_secs: i64,
) -> Result<Option<Lookup>, Error> {
    let out = table
        .ddb
        .get_item()
        .table_name(&table.name)
        .set_key(Some(token_key(token_hash)))
        .consistent_read(true)
        .send()
        .await?;
    let Some(item) = out.item else {
        return Ok(None);
    };
    let rotated_by = get_s(&item, "rotated_by").map(str::to_owned);
    let until = get_n(&item, TTL).unwrap_or(0);
    let group: UserGroup = from_item(item)?;
    Ok(match rotated_by {
        None => Some(Lookup::Current(group)),
        Some(by) if until > now_secs => Some(Lookup::Rotated { group, by }),
        Some(_) => None,
    })
}

/// A group found by its provided_id, with what a retry of its create needs.
pub struct Existing {
    pub group: UserGroup,
    /// The token it was created with, sealed, while its day lasts and it was not rotated since.
    pub created_token_sealed: Option<String>,
}

/// The organization's group of this provided_id in this environment.
pub async fn by_provided_id(
    table: &Table,
    g: &UserGroup,
    now_secs: i64,
) -> Result<Option<Existing>, Error> {
    let claim = table
        .ddb
        .get_item()
        .table_name(&table.name)
        .set_key(Some(provided_id_key(g)))
        .consistent_read(true)
        .send()
        .await?;
    let Some(team_id) = claim.item.as_ref().and_then(|i| get_n(i, "team_id")) else {
        return Ok(None);
    };
    let out = table
        .ddb
        .get_item()
        .table_name(&table.name)
        .set_key(Some(group_key(&g.org_id, team_id as u64)))
        .consistent_read(true)
        .send()
        .await?;
    let Some(item) = out.item else {
        return Ok(None);
    };
    let created_token_sealed = get_s(&item, "created_token_sealed")
        .filter(|_| get_n(&item, "created_token_until").is_some_and(|until| until > now_secs))
        .map(str::to_owned);
    Ok(Some(Existing {
        group: from_item(item)?,
        created_token_sealed,
    }))
}

/// The keyed hash of the group's token now.
pub async fn token_hash_of(
    table: &Table,
    org_id: &str,
    team_id: u64,
) -> Result<Option<String>, Error> {
    let out = table
        .ddb
        .get_item()
        .table_name(&table.name)
        .set_key(Some(group_key(org_id, team_id)))
        .consistent_read(true)
        .send()
        .await?;
    Ok(out
        .item
        .as_ref()
        .and_then(|i| get_s(i, "token_hash"))
        .map(str::to_owned))
}

pub enum Rotated {
    Yes,
    /// The old token was replaced by a concurrent rotation after it was read.
    TokenReplaced,
}

/// The request that rotated a token away (its Idempotency-Key's mark), kept on the old
/// lookup until `until`.
pub struct Marker<'a> {
    pub by: &'a str,
    pub until: i64,
}

/// Swaps the group's token in one transaction: the old lookup goes, or, under an
/// Idempotency-Key, becomes the rotation's marker (it must still be a current lookup); the new
/// one comes, and the group moves to the new hash (it must still hold the old one) and forgets
/// the token it was created with. `g` carries the group as it should be after the rotation (a
/// new name, `updated_at`).
pub async fn rotate(
    table: &Table,
    g: &UserGroup,
    old_hash: &str,
    new_hash: &str,
    marker: Option<Marker<'_>>,
) -> Result<Rotated, Error> {
    let current = "attribute_exists(PK) AND org_id = :org AND attribute_not_exists(rotated_by)";
    let retire = match marker {
        Some(Marker { by, until }) => {
            let mut marker = token_item(g, old_hash)?;
            marker.insert("rotated_by".into(), s(by));
            marker.insert(TTL.into(), n(until));
            let put = Put::builder()
                .table_name(&table.name)
                .set_item(Some(marker))
                .condition_expression(current)
                .expression_attribute_values(":org", s(&g.org_id))
                .build()
                .map_err(build_err)?;
            TransactWriteItem::builder().put(put).build()
        }
        None => {
            let delete = Delete::builder()
                .table_name(&table.name)
                .set_key(Some(token_key(old_hash)))
                .condition_expression(current)
                .expression_attribute_values(":org", s(&g.org_id))
                .build()
                .map_err(build_err)?;
            TransactWriteItem::builder().delete(delete).build()
        }
    };
    let update = Update::builder()
        .table_name(&table.name)
        .set_key(Some(group_key(&g.org_id, g.team_id)))
        .update_expression(
            "SET token_hash = :new, #name = :name, updated_at = :now \
             REMOVE created_token_sealed, created_token_until",
        )
        .condition_expression("token_hash = :old")
        .expression_attribute_names("#name", "name")
        .expression_attribute_values(":new", s(new_hash))
        .expression_attribute_values(":old", s(old_hash))
        .expression_attribute_values(":name", s(&g.name))
        .expression_attribute_values(":now", s(g.updated_at.to_rfc3339()))
        .build()
        .map_err(build_err)?;
    let items = vec![
        retire,
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
