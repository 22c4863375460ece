//! Webhook endpoints of an organization: `ORG#<org>` / `WEBHOOK#<id>`.

use super::{from_item, key, org_pk, s, to_item};
use crate::{error::Error, jobs::EventKind, webhooks::Endpoint};

pub async fn put(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    endpoint: &Endpoint,
) -> Result<(), Error> {
    ddb.put_item()
        .table_name(table)
        .set_item(Some(to_item(
            org_pk(&endpoint.org_id),
            format!("WEBHOOK#{}", endpoint.id),
            endpoint,
        )?))
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await?;
    Ok(())
}

pub async fn get(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    id: &str,
) -> Result<Option<Endpoint>, Error> {
    super::get_as(
        ddb,
        table,
        key(org_pk(org_id), format!("WEBHOOK#{id}")),
        false,
    )
    .await
}

/// The organization's endpoints subscribed to an event type (one Query on its partition).
pub async fn subscribed(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    kind: EventKind,
) -> Result<Vec<Endpoint>, Error> {
    let out = ddb
        .query()
        .table_name(table)
        .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
        .expression_attribute_values(":pk", s(org_pk(org_id)))
        .expression_attribute_values(":prefix", s("WEBHOOK#"))
        .send()
        .await?;
    let endpoints: Vec<Endpoint> = out
        .items
        .unwrap_or_default()
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    Ok(endpoints
        .into_iter()
        .filter(|e| e.events.iter().any(|t| t == kind.as_str()))
        .collect())
}
