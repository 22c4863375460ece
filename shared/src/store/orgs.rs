//! Organizations, users and flows, each with its uniqueness item written in one transaction.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::{cancelled_by_condition, from_item, key, org_pk, s, to_item, Item};
use crate::{
    error::{Error, Resource},
    model::{Flow, Organization, User},
};

fn email_sk(email: &str) -> String {
    format!("EMAIL#{}", email.to_lowercase())
}

fn put(table: &str, item: Item) -> Result<TransactWriteItem, Error> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK)")
        .build()
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Writes a record and its uniqueness claim together; `taken` names what was not unique.
async fn put_unique(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    record: Item,
    claim: Item,
    taken: (&str, &str),
) -> Result<(), Error> {
    let result = ddb
        .transact_write_items()
        .transact_items(put(table, record)?)
        .transact_items(put(table, claim)?)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(err) => match cancelled_by_condition(&err) {
            Some(_) => Err(Error::Conflict {
                reason: "already_exists",
                message: format!("{} '{}' is already taken", taken.0, taken.1),
            }),
            None => Err(err.into()),
        },
    }
}

pub async fn create_org(ddb: &aws_sdk_dynamodb::Client, table: &str, org: &Organization) -> Result<(), Error> {
    let record = to_item(org_pk(&org.id), "ORG".into(), org)?;
    let mut claim = key(format!("ORGSLUG#{}", org.slug), "ORGSLUG");
    claim.insert("org_id".into(), s(&org.id));
    put_unique(ddb, table, record, claim, ("slug", &org.slug)).await
}

pub async fn get_org(ddb: &aws_sdk_dynamodb::Client, table: &str, org_id: &str) -> Result<Organization, Error> {
    let out = ddb.get_item().table_name(table).set_key(Some(key(org_pk(org_id), "ORG"))).send().await?;
    match out.item {
        Some(item) => from_item(item),
        None => Err(Error::not_found(Resource::Organization, org_id)),
    }
}

pub async fn set_org_tier(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    tier: crate::model::Tier,
) -> Result<(), Error> {
    ddb.update_item()
        .table_name(table)
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

pub async fn create_user(ddb: &aws_sdk_dynamodb::Client, table: &str, user: &User) -> Result<(), Error> {
    let record = to_item(org_pk(&user.org_id), format!("USER#{}", user.id), user)?;
    // The email item carries the whole user, so a lookup by email is one read.
    let claim = to_item(org_pk(&user.org_id), email_sk(&user.email), user)?;
    put_unique(ddb, table, record, claim, ("email", &user.email)).await
}

pub async fn create_flow(ddb: &aws_sdk_dynamodb::Client, table: &str, flow: &Flow) -> Result<(), Error> {
    let record = to_item(org_pk(&flow.org_id), format!("FLOW#{}", flow.id), flow)?;
    let mut claim = key(org_pk(&flow.org_id), format!("FLOWSLUG#{}", flow.slug));
    claim.insert("flow_id".into(), s(&flow.id));
    put_unique(ddb, table, record, claim, ("slug", &flow.slug)).await
}

pub(crate) fn flow_key(org_id: &str, flow_id: &str) -> Item {
    key(org_pk(org_id), format!("FLOW#{flow_id}"))
}

pub(crate) fn user_by_email_key(org_id: &str, email: &str) -> Item {
    key(org_pk(org_id), email_sk(email))
}
