//! Daily email budgets: `ORG#<org>` / `EMAILS#<day>`, one counter item per organization and UTC
//! day (`sent`), gone two days after (TTL). A charge is one conditional `ADD`: alone (an import,
//! before its writes) or as part of the transaction that writes the invitation.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::{build_err, key, n, org_pk, unless_condition_failed, Item, Table, TTL};
use crate::{error::Error, model::EmailCharge};

fn budget_key(c: &EmailCharge) -> Item {
    key(org_pk(&c.org_id), format!("EMAILS#{}", c.day))
}

const ADD: &str = "ADD sent :n SET #ttl = if_not_exists(#ttl, :ttl)";
/// There is room for the charge: at most `limit - count` sent before it.
const ROOM: &str = "attribute_not_exists(sent) OR sent <= :room";

fn values(c: &EmailCharge) -> [(&'static str, aws_sdk_dynamodb::types::AttributeValue); 3] {
    let expires = chrono::Utc::now().timestamp() + c.renews_in as i64 + 2 * 86_400;
    [
        (":n", n(c.count)),
        (":ttl", n(expires)),
        (":room", n(c.limit.saturating_sub(c.count))),
    ]
}

/// The charge as a part of a transaction; its condition fails when the budget has no room.
pub(crate) fn charge_write(table: &Table, c: &EmailCharge) -> Result<TransactWriteItem, Error> {
    let mut update = Update::builder()
        .table_name(&table.name)
        .set_key(Some(budget_key(c)))
        .update_expression(ADD)
        .condition_expression(ROOM)
        .expression_attribute_names("#ttl", TTL);
    for (name, value) in values(c) {
        update = update.expression_attribute_values(name, value);
    }
    Ok(TransactWriteItem::builder()
        .update(update.build().map_err(build_err)?)
        .build())
}

/// Charges the budget on its own; `false` when it has no room for the charge.
pub async fn spend(table: &Table, c: &EmailCharge) -> Result<bool, Error> {
    let mut update = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(budget_key(c)))
        .update_expression(ADD)
        .condition_expression(ROOM)
        .expression_attribute_names("#ttl", TTL);
    for (name, value) in values(c) {
        update = update.expression_attribute_values(name, value);
    }
    Ok(unless_condition_failed(update.send().await)?.is_some())
}

/// Gives back a charge whose emails were not written after all.
pub async fn refund(table: &Table, c: &EmailCharge) -> Result<(), Error> {
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(budget_key(c)))
        .update_expression("ADD sent :minus")
        .condition_expression("attribute_exists(sent)")
        .expression_attribute_values(":minus", n(-(c.count as i64)))
        .send()
        .await;
    unless_condition_failed(result).map(|_| ())
}
