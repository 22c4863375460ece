//! The one way to write several items at once, and the one way to judge its refusal.

use std::time::Duration;

use aws_sdk_dynamodb::{
    error::BuildError,
    operation::transact_write_items::TransactWriteItemsError,
    types::{Put, TransactWriteItem},
};

use super::{Item, Table};
use crate::error::Error;

/// How a transaction ended, unless it failed outright.
pub(crate) enum Written {
    Yes,
    /// Cancelled by conditions: one entry per item, in order.
    Refused(Vec<Cancelled>),
}

/// One item's part in a refused transaction.
pub(crate) struct Cancelled {
    /// Its own condition failed (the others were only cancelled with it).
    pub failed: bool,
    /// The item as it was, when the write asked for it on a failed condition.
    pub old: Option<Item>,
}

/// Tries again a transaction DynamoDB cancelled only because it overlapped another on the
/// same items (`TransactionConflict`, no condition failed): the conditions then judge the
/// other's result. Enough for two or three racing requests; more means contention to report.
const ATTEMPTS: u32 = 3;

/// Sends `items` as one TransactWriteItems.
pub(crate) async fn transact(
    table: &Table,
    items: Vec<TransactWriteItem>,
) -> Result<Written, Error> {
    let mut attempt = 1;
    loop {
        let err = match table
            .ddb
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .send()
            .await
        {
            Ok(_) => return Ok(Written::Yes),
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(tce)) =
            err.as_service_error()
        else {
            return Err(err.into());
        };
        let reasons = tce.cancellation_reasons();
        let code = |c: &str| reasons.iter().any(|r| r.code() == Some(c));
        if code("ConditionalCheckFailed") {
            return Ok(Written::Refused(
                reasons
                    .iter()
                    .map(|r| Cancelled {
                        failed: r.code() == Some("ConditionalCheckFailed"),
                        old: r.item().filter(|i| !i.is_empty()).cloned(),
                    })
                    .collect(),
            ));
        }
        if !code("TransactionConflict") || attempt == ATTEMPTS {
            return Err(err.into());
        }
        tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
        attempt += 1;
    }
}

/// A Put that creates `item` only where nothing is yet.
pub(crate) fn put_new(table: &Table, item: Item) -> Result<TransactWriteItem, Error> {
    let put = Put::builder()
        .table_name(&table.name)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK)")
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A request the SDK refused to build: a missing required field, so a bug of ours. (Passed to
/// `map_err` by name, so its site is this line, not the caller's.)
pub(crate) fn build_err(e: BuildError) -> Error {
    Error::internal_from("building a DynamoDB request", e)
}
