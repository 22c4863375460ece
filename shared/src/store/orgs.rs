//! Organizations, users and flows, each with its uniqueness item written in one transaction.

use super::Table;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::{build_err, from_item, key, org_pk, put_new, s, to_item, transact, Item, Written};
use crate::{
    error::{Error, Resource},
    model::{Flow, Organization, User},
};

fn email_sk(email: &str) -> String {
    format!("EMAIL#{}", email.to_lowercase())
}

/// Runs writes that claim uniqueness; `taken` names what was not unique when one fails.
async fn transact_unique(
    table: &Table,
    writes: Vec<TransactWriteItem>,
    taken: (&str, &str),
) -> Result<(), Error> {
    match transact(table, writes).await? {
        Written::Yes => Ok(()),
        Written::Refused(_) => Err(Error::Conflict {
            reason: crate::error::Conflict::AlreadyExists,
            message: format!("{} '{}' is already taken", taken.0, taken.1),
        }),
    }
}

/// The writes that create an organization and claim its slug.
pub(super) fn new_org_writes(
    table: &Table,
    org: &Organization,
) -> Result<Vec<TransactWriteItem>, Error> {
    let mut claim = key(format!("ORGSLUG#{}", org.slug), "ORGSLUG");
    claim.insert("org_id".into(), s(&org.id));
    Ok(vec![
        put_new(table, to_item(org_pk(&org.id), "ORG".into(), org)?)?,
        put_new(table, claim)?,
    ])
}

/// The writes that create a user, claim its email and count it as a member. The org item
/// must exist (or be created in the same transaction, with `org_is_new`).
pub(super) fn new_user_writes(
    table: &Table,
    user: &User,
    org_is_new: bool,
) -> Result<Vec<TransactWriteItem>, Error> {
    let record = to_item(org_pk(&user.org_id), format!("USER#{}", user.id), user)?;
    // The email item carries the whole user, so a lookup by email is one read.
    let claim = to_item(org_pk(&user.org_id), email_sk(&user.email), user)?;
    let mut writes = vec![put_new(table, record)?, put_new(table, claim)?];
    if !org_is_new {
        let count = Update::builder()
            .table_name(&table.name)
            .set_key(Some(key(org_pk(&user.org_id), "ORG")))
            .update_expression("ADD member_count :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":one", super::n(1))
            .build()
            .map_err(build_err)?;
        writes.push(TransactWriteItem::builder().update(count).build());
    }
    Ok(writes)
}

/// Adds a user to a training flow's members (idempotent).
pub(super) fn flow_member_write(
    table: &Table,
    flow_id: &str,
    user: &User,
) -> Result<TransactWriteItem, Error> {
    let put = Put::builder()
        .table_name(&table.name)
        .set_item(Some(flow_member_item(flow_id, user)?))
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

pub(crate) fn flow_member_item(flow_id: &str, user: &User) -> Result<Item, Error> {
    to_item(
        org_pk(&user.org_id),
        format!("MEMBER#{flow_id}#{}", user.id),
        user,
    )
}

pub async fn create_org(table: &Table, org: &Organization) -> Result<(), Error> {
    transact_unique(table, new_org_writes(table, org)?, ("slug", &org.slug)).await
}

pub async fn get_org(table: &Table, org_id: &str) -> Result<Organization, Error> {
    let out = table
        .ddb
        .get_item()
        .table_name(&table.name)
        .set_key(Some(key(org_pk(org_id), "ORG")))
        .send()
        .await?;
    match out.item {
        Some(item) => from_item(item),
        None => Err(Error::not_found(Resource::Organization, org_id)),
    }
}

pub async fn get_org_opt(table: &Table, org_id: &str) -> Result<Option<Organization>, Error> {
    super::get_as(table, key(org_pk(org_id), "ORG"), false).await
}

pub async fn set_org_tier(
    table: &Table,
    org_id: &str,
    tier: crate::model::Tier,
) -> Result<(), Error> {
    table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(key(org_pk(org_id), "ORG")))
        .update_expression("SET tier = :t")
        .condition_expression("attribute_exists(PK)")
        .expression_attribute_values(":t", s(serde_plain_tier(tier)))
        .send()
        .await?;
    Ok(())
}

fn serde_plain_tier(tier: crate::model::Tier) -> &'static str {
    match tier {
        crate::model::Tier::Standard => "standard",
        crate::model::Tier::Enterprise => "enterprise",
    }
}

pub async fn create_user(table: &Table, user: &User) -> Result<(), Error> {
    transact_unique(
        table,
        new_user_writes(table, user, false)?,
        ("email", &user.email),
    )
    .await
}

pub async fn user_by_email(
    table: &Table,
    org_id: &str,
    email: &str,
) -> Result<Option<User>, Error> {
    super::get_as(table, user_by_email_key(org_id, email), true).await
}

pub async fn get_user(table: &Table, org_id: &str, user_id: &str) -> Result<Option<User>, Error> {
    super::get_as(table, key(org_pk(org_id), format!("USER#{user_id}")), false).await
}

/// A flow by its slug: the slug claim carries the whole flow, so this is one read.
pub async fn flow_by_slug(table: &Table, org_id: &str, slug: &str) -> Result<Option<Flow>, Error> {
    super::get_as(
        table,
        key(org_pk(org_id), format!("FLOWSLUG#{slug}")),
        false,
    )
    .await
}

pub async fn create_flow(table: &Table, flow: &Flow) -> Result<(), Error> {
    let record = to_item(org_pk(&flow.org_id), format!("FLOW#{}", flow.id), flow)?;
    let claim = to_item(
        org_pk(&flow.org_id),
        format!("FLOWSLUG#{}", flow.slug),
        flow,
    )?;
    transact_unique(
        table,
        vec![put_new(table, record)?, put_new(table, claim)?],
        ("slug", &flow.slug),
    )
    .await
}

pub(crate) fn flow_key(org_id: &str, flow_id: &str) -> Item {
    key(org_pk(org_id), format!("FLOW#{flow_id}"))
}

pub(crate) fn user_by_email_key(org_id: &str, email: &str) -> Item {
    key(org_pk(org_id), email_sk(email))
}

/// An organization and some of its users, in one BatchGetItem.
pub async fn org_with_users(
    table: &Table,
    org_id: &str,
    user_ids: &[&str],
) -> Result<(Option<Organization>, Vec<User>), Error> {
    let mut keys = vec![key(org_pk(org_id), "ORG")];
    keys.extend(
        user_ids
            .iter()
            .map(|id| key(org_pk(org_id), format!("USER#{id}"))),
    );
    keys.dedup();
    let (mut org, mut users) = (None, Vec::new());
    for item in super::batch_get(table, keys).await? {
        if super::get_s(&item, super::SK) == Some("ORG") {
            org = Some(from_item(item)?);
        } else {
            users.push(from_item(item)?);
        }
    }
    Ok((org, users))
}

/// Users of an organization by email (lowercase), in BatchGetItem calls of 100.
pub async fn users_by_email(
    table: &Table,
    org_id: &str,
    emails: &[String],
) -> Result<Vec<User>, Error> {
    let keys = emails
        .iter()
        .map(|e| user_by_email_key(org_id, e))
        .collect();
    super::batch_get(table, keys)
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// Writes an organization's settings (one conditional UpdateItem) and returns it as written;
/// a cleared setting is removed, so its default applies again.
pub async fn update_settings(
    table: &Table,
    org_id: &str,
    change: &crate::model::SettingsChange,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Organization, Error> {
    use crate::model::Change;
    use aws_sdk_dynamodb::types::ReturnValue;
    let mut set = vec!["updated_at = :now"];
    let mut remove = Vec::new();
    let mut update = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(key(org_pk(org_id), "ORG")))
        .condition_expression("attribute_exists(PK)")
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .return_values(ReturnValue::AllNew);
    if let Some(name) = &change.name {
        set.push("#name = :name");
        update = update
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(name));
    }
    match &change.accept_url_template {
        Change::Set(t) => {
            set.push("accept_url_template = :template");
            update = update.expression_attribute_values(":template", s(t));
        }
        Change::Clear => remove.push("accept_url_template"),
        Change::Keep => {}
    }
    match change.invitation_ttl_secs {
        Change::Set(ttl) => {
            set.push("invitation_ttl_secs = :ttl");
            update = update.expression_attribute_values(":ttl", super::n(ttl));
        }
        Change::Clear => remove.push("invitation_ttl_secs"),
        Change::Keep => {}
    }
    let mut expression = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    match super::unless_condition_failed(update.update_expression(expression).send().await)? {
        Some(out) => from_item(out.attributes.unwrap_or_default()),
        None => Err(Error::not_found(Resource::Organization, org_id)),
    }
}

/// An organization with one of its training flows and one of its users, each optional, in one
/// BatchGetItem (what the hosted accept page names).
pub async fn org_flow_and_user(
    table: &Table,
    org_id: &str,
    flow_id: Option<&str>,
    user_id: Option<&str>,
) -> Result<(Option<Organization>, Option<Flow>, Option<User>), Error> {
    let mut keys = vec![key(org_pk(org_id), "ORG")];
    keys.extend(flow_id.map(|id| flow_key(org_id, id)));
    keys.extend(user_id.map(|id| key(org_pk(org_id), format!("USER#{id}"))));
    let (mut org, mut flow, mut user) = (None, None, None);
    for item in super::batch_get(table, keys).await? {
        match super::get_s(&item, super::SK) {
            Some("ORG") => org = Some(from_item(item)?),
            Some(sk) if sk.starts_with("FLOW#") => flow = Some(from_item(item)?),
            _ => user = Some(from_item(item)?),
        }
    }
    Ok((org, flow, user))
}

/// Every organization: a Scan of the table filtered to the organization items. An operator's
/// occasional read, whose cost grows with the whole table (no request path scans; no index
/// lists organizations, and none is kept for this).
pub async fn all(table: &Table) -> Result<Vec<Organization>, Error> {
    let mut pages = table
        .ddb
        .scan()
        .table_name(&table.name)
        .filter_expression("SK = :org AND begins_with(PK, :prefix)")
        .expression_attribute_values(":org", s("ORG"))
        .expression_attribute_values(":prefix", s(org_pk("")))
        .into_paginator()
        .items()
        .send();
    let mut found = Vec::new();
    while let Some(item) = pages.next().await {
        found.push(from_item(item?)?);
    }
    Ok(found)
}
