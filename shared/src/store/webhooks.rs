//! Webhook endpoints of an organization: `ORG#<org>` / `WEBHOOK#<id>`.

use super::{org_pk, to_item};
use crate::{error::Error, webhooks::Endpoint};

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
