//! Webhook endpoints of an organization: `ORG#<org>` / `WEBHOOK#<id>`. The organization item
//! counts them (`webhook_endpoints`), kept by the same transaction that creates or deletes one,
//! so the limit per organization holds under any concurrency. An endpoint item carries the
//! outbox of its test events.

use aws_sdk_dynamodb::{
    operation::update_item::UpdateItemError,
    types::{
        Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
    },
};
use chrono::{DateTime, Utc};

use super::{
    cancelled_by_condition, from_item, key, n, org_pk, outbox, s, to_item, unless_condition_failed,
    Item,
};
use crate::{
    error::Error,
    jobs::{EventKind, Outbox},
    webhooks::{Endpoint, EndpointChange},
};

fn endpoint_key(org_id: &str, id: &str) -> Item {
    key(org_pk(org_id), format!("WEBHOOK#{id}"))
}

/// The attribute of the organization item that counts its endpoints.
const COUNT: &str = "webhook_endpoints";

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

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
pub async fn create(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    endpoint: &Endpoint,
    max: u32,
) -> Result<Created, Error> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(to_item(
            org_pk(&endpoint.org_id),
            format!("WEBHOOK#{}", endpoint.id),
            endpoint,
        )?))
        .condition_expression("attribute_not_exists(PK)")
        .build()
        .map_err(internal)?;
    let count = Update::builder()
        .table_name(table)
        .set_key(Some(key(org_pk(&endpoint.org_id), "ORG")))
        .update_expression(format!("ADD {COUNT} :one"))
        .condition_expression(format!(
            "attribute_exists(PK) AND (attribute_not_exists({COUNT}) OR {COUNT} < :max)"
        ))
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":max", n(max))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(internal)?;
    let result = ddb
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put).build())
        .transact_items(TransactWriteItem::builder().update(count).build())
        .send()
        .await;
    match result {
        Ok(_) => Ok(Created::Made),
        Err(err) => match cancelled_by_condition(&err).as_deref() {
            Some([true, ..]) => Ok(Created::Exists),
            Some([false, true]) => Ok(org_refusal(&err)),
            _ => Err(err.into()),
        },
    }
}

/// Why the organization's part of a create failed: it is missing, or at its limit.
fn org_refusal(
    err: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
    >,
) -> Created {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    let org_existed = match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(tce)) => tce
            .cancellation_reasons()
            .get(1)
            .and_then(|r| r.item())
            .is_some_and(|item| !item.is_empty()),
        _ => false,
    };
    if org_existed {
        Created::TooMany
    } else {
        Created::NoOrganization
    }
}

pub async fn get(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    id: &str,
) -> Result<Option<Endpoint>, Error> {
    super::get_as(ddb, table, endpoint_key(org_id, id), true).await
}

/// Every endpoint of an organization (a Query on its partition, every page).
pub async fn all(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
) -> Result<Vec<Endpoint>, Error> {
    let mut found = Vec::new();
    let mut start = None;
    loop {
        let out = ddb
            .query()
            .table_name(table)
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

/// The organization's enabled endpoints subscribed to an event type.
pub async fn subscribed(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    kind: EventKind,
) -> Result<Vec<Endpoint>, Error> {
    let all = all(ddb, table, org_id).await?;
    Ok(all.into_iter().filter(|e| e.subscribes_to(kind)).collect())
}

/// Applies a checked change; `None` when the endpoint does not exist.
pub async fn update(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    id: &str,
    change: &EndpointChange,
    now: DateTime<Utc>,
) -> Result<Option<Endpoint>, Error> {
    let mut set = vec!["updated_at = :now"];
    let mut remove = Vec::new();
    let mut update = ddb
        .update_item()
        .table_name(table)
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
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    id: &str,
    until: DateTime<Utc>,
) -> Result<(), Error> {
    let until = s(until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let result = ddb
        .update_item()
        .table_name(table)
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
pub async fn delete(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    id: &str,
) -> Result<bool, Error> {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(endpoint_key(org_id, id)))
        .condition_expression("attribute_exists(PK)")
        .build()
        .map_err(internal)?;
    let count = Update::builder()
        .table_name(table)
        .set_key(Some(key(org_pk(org_id), "ORG")))
        .update_expression(format!("ADD {COUNT} :minus"))
        .condition_expression("attribute_exists(PK)")
        .expression_attribute_values(":minus", n(-1))
        .build()
        .map_err(internal)?;
    let result = ddb
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().delete(delete).build())
        .transact_items(TransactWriteItem::builder().update(count).build())
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(err) if cancelled_by_condition(&err).is_some() => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// A new signing secret, the current one kept as the previous until `until`. With a `mark`
/// (an idempotent request), a request that rotated it already does not rotate it again:
/// `None` then, as when the endpoint does not exist.
#[allow(clippy::too_many_arguments)]
pub async fn rotate(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    id: &str,
    new_sealed: &str,
    until: DateTime<Utc>,
    mark: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Endpoint>, Error> {
    let mut update = ddb
        .update_item()
        .table_name(table)
        .set_key(Some(endpoint_key(org_id, id)))
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
    unless_condition_failed(update.send().await)?
        .map(|out| from_item(out.attributes.unwrap_or_default()))
        .transpose()
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
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    id: &str,
    jobs: &Outbox,
) -> Result<Tested, Error> {
    let mut update = ddb
        .update_item()
        .table_name(table)
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
    match update.send().await {
        Ok(_) => Ok(Tested::Written),
        Err(err) => match err.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                Ok(match failed.item() {
                    Some(_) => Tested::Disabled,
                    None => Tested::Missing,
                })
            }
            _ => Err(err.into()),
        },
    }
}
