//! Per-organization counters (`ORG#<org>` / `COUNTER#<name>`) for the integer ids the seeds
//! show. One UpdateItem reserves a whole range, so an import of n invitations costs one call.

use super::Table;
use aws_sdk_dynamodb::types::ReturnValue;

use super::{get_n, key, n, org_pk};
use crate::error::Error;

/// Reserves `count` consecutive ids and returns the first (ids start at 1).
pub async fn reserve(table: &Table, org_id: &str, name: &str, count: u64) -> Result<u64, Error> {
    let out = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(key(org_pk(org_id), format!("COUNTER#{name}"))))
        .update_expression("ADD next_value :n")
        .expression_attribute_values(":n", n(count))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await?;
    let last = out
        .attributes
        .as_ref()
        .and_then(|a| get_n(a, "next_value"))
        .ok_or_else(|| Error::internal("counter update returned no value"))?;
    Ok(last as u64 - count + 1)
}
