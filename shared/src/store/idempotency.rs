//! Idempotency records: `IDEM#<org>#<key>` / `IDEM`, kept 24 hours by the table's TTL.

use aws_sdk_dynamodb::{
    operation::put_item::PutItemError, types::ReturnValuesOnConditionCheckFailure,
};

use super::{get_n, get_s, key, n, s, Item, TTL};
use crate::error::Error;

/// How long a stored response answers retries.
pub const RETENTION_SECS: i64 = 24 * 60 * 60;
/// How long a claim blocks retries before it is presumed abandoned (a crashed container).
pub const LOCK_SECS: i64 = 60;

fn record_key(org_id: &str, idem_key: &str) -> Item {
    key(format!("IDEM#{org_id}#{idem_key}"), "IDEM")
}

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, PartialEq)]
pub enum Claim {
    /// This request owns the key now and must record or release it.
    Fresh,
    Replay(Stored),
    InFlight,
    Mismatch,
}

pub async fn claim(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    idem_key: &str,
    fingerprint: &str,
    now_secs: i64,
) -> Result<Claim, Error> {
    let mut item = record_key(org_id, idem_key);
    item.extend([
        ("fingerprint".to_string(), s(fingerprint)),
        ("phase".to_string(), s("pending")),
        ("locked_until".to_string(), n(now_secs + LOCK_SECS)),
        (TTL.to_string(), n(now_secs + RETENTION_SECS)),
    ]);
    let result = ddb
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(
            "attribute_not_exists(PK) OR #ttl < :now OR (phase = :pending AND locked_until < :now)",
        )
        .expression_attribute_names("#ttl", TTL)
        .expression_attribute_values(":now", n(now_secs))
        .expression_attribute_values(":pending", s("pending"))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    let old = match result {
        Ok(_) => return Ok(Claim::Fresh),
        Err(err) => match err.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(failed)) => match failed.item() {
                Some(item) => item.clone(),
                None => {
                    let out = ddb
                        .get_item()
                        .table_name(table)
                        .set_key(Some(record_key(org_id, idem_key)))
                        .consistent_read(true)
                        .send()
                        .await?;
                    // Gone between the two calls (released): the client may simply retry.
                    out.item.ok_or(Error::IdempotencyInFlight)?
                }
            },
            _ => return Err(err.into()),
        },
    };
    Ok(judge(&old, fingerprint))
}

fn judge(old: &Item, fingerprint: &str) -> Claim {
    if get_s(old, "fingerprint") != Some(fingerprint) {
        return Claim::Mismatch;
    }
    match (
        get_s(old, "phase"),
        get_n(old, "status"),
        get_s(old, "body"),
    ) {
        (Some("done"), Some(status), Some(body)) => Claim::Replay(Stored {
            status: status as u16,
            body: body.to_owned(),
        }),
        _ => Claim::InFlight,
    }
}

/// Keeps the response for replay.
pub async fn record(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    idem_key: &str,
    stored: &Stored,
) -> Result<(), Error> {
    ddb.update_item()
        .table_name(table)
        .set_key(Some(record_key(org_id, idem_key)))
        .update_expression("SET phase = :done, #status = :status, body = :body REMOVE locked_until")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":done", s("done"))
        .expression_attribute_values(":status", n(stored.status))
        .expression_attribute_values(":body", s(&stored.body))
        .send()
        .await?;
    Ok(())
}

/// Gives the key back (the request failed), so that a retry runs the request again.
pub async fn release(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    org_id: &str,
    idem_key: &str,
) -> Result<(), Error> {
    ddb.delete_item()
        .table_name(table)
        .set_key(Some(record_key(org_id, idem_key)))
        .condition_expression("phase = :pending")
        .expression_attribute_values(":pending", s("pending"))
        .send()
        .await
        .map(|_| ())
        .or_else(|err| match err.as_service_error() {
            Some(aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(_)) => Ok(()),
            _ => Err(err.into()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn old(fp: &str, phase: &str, done: Option<(u16, &str)>) -> Item {
        let mut item = Item::from([("fingerprint".into(), s(fp)), ("phase".into(), s(phase))]);
        if let Some((status, body)) = done {
            item.insert("status".into(), n(status));
            item.insert("body".into(), s(body));
        }
        item
    }

    #[test]
    fn judging_an_existing_record() {
        assert_eq!(judge(&old("a", "pending", None), "b"), Claim::Mismatch);
        assert_eq!(
            judge(&old("a", "done", Some((200, "{}"))), "b"),
            Claim::Mismatch
        );
        assert_eq!(judge(&old("a", "pending", None), "a"), Claim::InFlight);
        assert_eq!(
            judge(&old("a", "done", Some((201, "{\"x\":1}"))), "a"),
            Claim::Replay(Stored {
                status: 201,
                body: "{\"x\":1}".into()
            })
        );
    }
}
