//! Webhook endpoints of an organization: `ORG#<org>` / `WEBHOOK#<id>`. The organization item
//! counts them (`webhook_endpoints`), kept by the same transaction that creates or deletes one,
//! so the limit per organization holds under any concurrency. An endpoint item carries the
//! outbox of its test events.

use super::{Table, Updated};
use aws_sdk_dynamodb::types::{
    Delete, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use chrono::{DateTime, Utc};

use super::{
    build_err, from_item, key, n, org_pk, outbox, put_new, s, to_item, transact,
    unless_condition_failed, Item, Written,
};
use crate::{
    error::Error,
    jobs::Outbox,
    model::{EndpointChange, WebhookEndpoint},
};

fn endpoint_key(org_id: &str, id: &str) -> Item {
    key(org_pk(org_id), format!("WEBHOOK#{id}"))
}

/// The attribute of the organization item that counts its endpoints.
const COUNT: &str = "webhook_endpoints";

/// What creating an endpoint did.
pub enum Created {
    Made,
    /// An endpoint with this id exists (a retry of the request that made it).
    Exists,
    /// The organization has its limit of endpoints.
    TooMany,
    NoOrganization,
}

/// The endpoint and the organization's count, in one transaction: the count stays under `max`.
pub async fn create(table: &Table, endpoint: &WebhookEndpoint, max: u32) -> Result<Created, Error> {
    let put = put_new(
        table,
        to_item(
            org_pk(&endpoint.org_id),
            format!("WEBHOOK#{}", endpoint.id),
            endpoint,
        )?,
    )?;
    let count = Update::builder()
        .table_name(&table.name)
        .set_key(Some(key(org_pk(&endpoint.org_id), "ORG")))
        .update_expression(format!("ADD {COUNT} :one"))
        .condition_expression(format!(
            "attribute_exists(PK) AND (attribute_not_exists({COUNT}) OR {COUNT} < :max)"
        ))
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":max", n(max))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(build_err)?;
    let writes = vec![put, TransactWriteItem::builder().update(count).build()];
    Ok(match transact(table, writes).await? {
        Written::Yes => Created::Made,
        Written::Refused(c) if c.first().is_some_and(|c| c.failed) => Created::Exists,
        // The organization's condition failed: it is at its limit if it exists at all.
        Written::Refused(c) if c.get(1).is_some_and(|c| c.old.is_some()) => Created::TooMany,
        Written::Refused(_) => Created::NoOrganization,
    })
}

pub async fn get(table: &Table, org_id: &str, id: &str) -> Result<Option<WebhookEndpoint>, Error> {
    super::get_as(table, endpoint_key(org_id, id), true).await
}

/// Every endpoint of an organization (a Query on its partition, every page).
pub async fn all(table: &Table, org_id: &str) -> Result<Vec<WebhookEndpoint>, Error> {
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let out = table
            .ddb
            .query()
            .table_name(&table.name)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(org_pk(org_id)))
            .expression_attribute_values(":prefix", s("WEBHOOK#"))
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in out.items.unwrap_or_default() {
            found.push(from_item(item)?);
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            return Ok(found);
        }
    }
}

/// Applies a checked change; `None` when the endpoint does not exist.
pub async fn update(
    table: &Table,
    org_id: &str,
    id: &str,
    change: &EndpointChange,
    now: DateTime<Utc>,
) -> Result<Option<WebhookEndpoint>, Error> {
    let mut set = vec!["updated_at = :now"];
    let mut remove = Vec::new();
    let mut update = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(endpoint_key(org_id, id)))
        .condition_expression("attribute_exists(PK)")
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .return_values(ReturnValue::AllNew);
    if let Some(url) = &change.url {
        // Another receiver: what the old one asked no longer holds.
        remove.push("paused_until");
        set.push("#url = :url");
        update = update
            .expression_attribute_names("#url", "url")
            .expression_attribute_values(":url", s(url));
    }
    if let Some(events) = &change.events {
        set.push("events = :events");
        update = update.expression_attribute_values(
            ":events",
            aws_sdk_dynamodb::types::AttributeValue::L(events.iter().map(s).collect()),
        );
    }
    match &change.description {
        Some(Some(d)) => {
            set.push("description = :description");
            update = update.expression_attribute_values(":description", s(d));
        }
        Some(None) => remove.push("description"),
        None => {}
    }
    if let Some(disabled) = change.disabled {
        set.push("disabled = :disabled");
        update = update.expression_attribute_values(
            ":disabled",
            aws_sdk_dynamodb::types::AttributeValue::Bool(disabled),
        );
    }
    let mut expression = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    unless_condition_failed(update.update_expression(expression).send().await)?
        .map(|out| from_item(out.attributes.unwrap_or_default()))
        .transpose()
}

/// Pauses attempts to the endpoint until `until` (whole seconds, so that the stored times
/// compare as text), unless it is paused longer already or gone.
pub async fn pause(
    table: &Table,
    org_id: &str,
    id: &str,
    until: DateTime<Utc>,
) -> Result<(), Error> {
    let until = s(until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let result = table.ddb.update_item()
        .table_name(&table.name)
        .set_key(Some(endpoint_key(org_id, id)))
        .update_expression("SET paused_until = :until")
        .condition_expression(
            "attribute_exists(PK) AND (attribute_not_exists(paused_until) OR paused_until < :until)",
        )
        .expression_attribute_values(":until", until)
        .send()
        .await;
    unless_condition_failed(result).map(|_| ())
}

/// Removes the endpoint and counts it off its organization, in one transaction; `false` when
/// there was no such endpoint.
pub async fn delete(table: &Table, org_id: &str, id: &str) -> Result<bool, Error> {
    let delete = Delete::builder()
        .table_name(&table.name)
        .set_key(Some(endpoint_key(org_id, id)))
        .condition_expression("attribute_exists(PK)")
        .build()
        .map_err(build_err)?;
    let count = Update::builder()
        .table_name(&table.name)
        .set_key(Some(key(org_pk(org_id), "ORG")))
        .update_expression(format!("ADD {COUNT} :minus"))
        .condition_expression("attribute_exists(PK)")
        .expression_attribute_values(":minus", n(-1))
        .build()
        .map_err(build_err)?;
    let writes = vec![
        TransactWriteItem::builder().delete(delete).build(),
        TransactWriteItem::builder().update(count).build(),
    ];
    Ok(matches!(transact(table, writes).await?, Written::Yes))
}

/// A new signing secret, the current one kept as the previous until `until`. With a `mark`
/// (an idempotent request), a request that rotated it already does not rotate it again:
/// `None` then, as when the endpoint does not exist.
#[allow(clippy::too_many_arguments)]
pub async fn rotate(
    table: &Table,
    org_id: &str,
    id: &str,
    new_sealed: &str,
    until: DateTime<Utc>,
    mark: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Rotated, Error> {
    let mut update = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(endpoint_key(org_id, id)))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .expression_attribute_values(":new", s(new_sealed))
        .expression_attribute_values(":until", s(until.to_rfc3339()))
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .return_values(ReturnValue::AllNew);
    let set = "SET previous_secret_sealed = secret_sealed, previous_until = :until, secret_sealed = :new, updated_at = :now";
    update = match mark {
        Some(mark) => update
            .update_expression(format!("{set}, rotated_by = :mark"))
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(rotated_by) OR rotated_by <> :mark)",
            )
            .expression_attribute_values(":mark", s(mark)),
        None => update
            .update_expression(format!("{set} REMOVE rotated_by"))
            .condition_expression("attribute_exists(PK)"),
    };
    Ok(match super::updated(update.send().await)? {
        Updated::Yes(item) => Rotated::Now(from_item(item)?),
        // Only a request's mark can refuse an endpoint that exists: its first run rotated it.
        Updated::Refused(Some(item)) => Rotated::Already(from_item(item)?),
        Updated::Refused(None) => Rotated::Missing,
    })
}

/// What rotating an endpoint's secret found.
pub enum Rotated {
    Now(WebhookEndpoint),
    /// This request's first run rotated it: the endpoint as that run left it.
    Already(WebhookEndpoint),
    Missing,
}

/// What writing a test event found.
pub enum Tested {
    Written,
    Disabled,
    Missing,
}

/// Writes a test event as the endpoint's outbox (one conditional UpdateItem), unless the
/// endpoint is missing or disabled.
pub async fn write_test(
    table: &Table,
    org_id: &str,
    id: &str,
    jobs: &Outbox,
) -> Result<Tested, Error> {
    let mut update = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(endpoint_key(org_id, id)))
        .update_expression(format!("SET {}", outbox::SET))
        .condition_expression(
            "attribute_exists(PK) AND (attribute_not_exists(disabled) OR disabled = :no)",
        )
        .expression_attribute_values(":no", aws_sdk_dynamodb::types::AttributeValue::Bool(false))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    for (name, value) in outbox::values(jobs)? {
        update = update.expression_attribute_values(name, value);
    }
    Ok(match super::updated(update.send().await)? {
        Updated::Yes(_) => Tested::Written,
        Updated::Refused(Some(_)) => Tested::Disabled,
        Updated::Refused(None) => Tested::Missing,
    })
}
