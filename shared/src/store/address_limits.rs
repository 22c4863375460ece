//! Per-client-address request counters: `RATE#<scope>#<address>#<minute>` / `RATE`, one item per
//! window (so counting is one UpdateItem, never a read), gone a minute after it closes (TTL).

use super::Table;
use aws_sdk_dynamodb::types::ReturnValue;

use super::{get_n, key, n, unless_condition_failed, TTL};
use crate::error::Error;

/// Counts one request of `address` in `scope` during `window` (minutes since the epoch): the
/// count including it, or `None` when `limit` requests were counted already.
pub async fn count(
    table: &Table,
    scope: &str,
    address: &str,
    window: i64,
    limit: u32,
) -> Result<Option<u32>, Error> {
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(key(
            format!("RATE#{scope}#{address}#{window}"),
            "RATE",
        )))
        .update_expression("ADD rl_count :one SET #ttl = :ttl")
        .condition_expression("attribute_not_exists(rl_count) OR rl_count < :limit")
        .expression_attribute_names("#ttl", TTL)
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":limit", n(limit))
        .expression_attribute_values(":ttl", n((window + 2) * 60))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await;
    Ok(unless_condition_failed(result)?.map(|out| {
        let counted = out.attributes.as_ref().and_then(|a| get_n(a, "rl_count"));
        counted.unwrap_or(1) as u32
    }))
}
