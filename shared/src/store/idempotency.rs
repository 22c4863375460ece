//! Idempotency records: `IDEM#<org>#<key>` / `IDEM`, kept 24 hours by the table's TTL. A
//! record past its `ttl` is no record, whatever DynamoDB has not yet deleted (it deletes expired
//! items lazily, often days late): a key used again then starts a new *generation*, which the
//! request's mark carries, so nothing the old generation made passes for the new one's.

use super::Table;
use aws_sdk_dynamodb::{
    operation::put_item::PutItemError,
    primitives::Blob,
    types::{AttributeValue, ReturnValuesOnConditionCheckFailure},
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

/// A response kept for replay: its status, and its body compressed and sealed (opaque here).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub status: u16,
    pub blob: Vec<u8>,
}

/// The most of a blob one item holds: under DynamoDB's 400 KB item limit, with room for keys.
const PART_BYTES: usize = 350_000;
/// The largest blob kept: Lambda's response limit is 6 MB, so at most 18 parts.
pub const MAX_BLOB_BYTES: usize = 6 * 1024 * 1024;

fn part_sk(index: usize) -> String {
    format!("IDEM#PART#{index:02}")
}

#[derive(Debug, PartialEq)]
pub enum KeyClaim {
    /// This request owns the key now and must record or release it. `generation` names this
    /// use of the key: new for a key never used or expired, the abandoned run's when this one
    /// takes over its claim (the same request, whose first run died).
    Fresh {
        generation: String,
    },
    Replay(Stored),
    InFlight,
    Mismatch,
}

pub async fn claim(
    table: &Table,
    org_id: &str,
    idem_key: &str,
    fingerprint: &str,
    now_secs: i64,
) -> Result<KeyClaim, Error> {
    let generation = crate::ids::random(16);
    let mut item = record_key(org_id, idem_key);
    item.extend([
        ("fingerprint".to_string(), s(fingerprint)),
        ("phase".to_string(), s("pending")),
        ("generation".to_string(), s(&generation)),
        ("locked_until".to_string(), n(now_secs + LOCK_SECS)),
        (TTL.to_string(), n(now_secs + RETENTION_SECS)),
    ]);
    let result = table
        .ddb
        .put_item()
        .table_name(&table.name)
        .set_item(Some(item))
        // Absent, expired, or given back by a failed run of another request (a corrected retry).
        .condition_expression(
            "attribute_not_exists(PK) OR #ttl < :now OR (phase = :released AND fingerprint <> :fp)",
        )
        .expression_attribute_names("#ttl", TTL)
        .expression_attribute_values(":now", n(now_secs))
        .expression_attribute_values(":released", s("released"))
        .expression_attribute_values(":fp", s(fingerprint))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    let old = match result {
        Ok(_) => return Ok(KeyClaim::Fresh { generation }),
        Err(err) => match err.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(failed)) => match failed.item() {
                Some(item) => item.clone(),
                None => {
                    let out = table
                        .ddb
                        .get_item()
                        .table_name(&table.name)
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
    match judge(&old, fingerprint) {
        Judged::Mismatch => Ok(KeyClaim::Mismatch),
        Judged::InFlight if abandoned(&old, now_secs) || released(&old) => {
            take_over(table, org_id, idem_key, &old, now_secs).await
        }
        Judged::InFlight => Ok(KeyClaim::InFlight),
        Judged::Done {
            status,
            blob: Some(blob),
            ..
        } => Ok(KeyClaim::Replay(Stored { status, blob })),
        Judged::Done { status, parts, .. } => {
            let blob = read_parts(table, org_id, idem_key, parts).await?;
            Ok(KeyClaim::Replay(Stored { status, blob }))
        }
    }
}

#[derive(Debug, PartialEq)]
enum Judged {
    Mismatch,
    InFlight,
    /// Kept: in the record itself, or in `parts` items beside it.
    Done {
        status: u16,
        blob: Option<Vec<u8>>,
        parts: usize,
    },
}

/// A pending claim whose lock ran out: its run died before keeping or giving back the key.
fn abandoned(old: &Item, now_secs: i64) -> bool {
    get_s(old, "phase") == Some("pending")
        && get_n(old, "locked_until").is_some_and(|until| until < now_secs)
}

/// A claim a failed run gave back (of this request: another's is claimed afresh).
fn released(old: &Item) -> bool {
    get_s(old, "phase") == Some("released")
}

/// Takes over the claim of an earlier run of the same request, one that died or failed,
/// keeping its generation (so this run recognises what that one made: a failure half-way
/// through an import leaves its first half written). Another run taking it over first: in
/// flight.
async fn take_over(
    table: &Table,
    org_id: &str,
    idem_key: &str,
    old: &Item,
    now_secs: i64,
) -> Result<KeyClaim, Error> {
    let generation = get_s(old, "generation").unwrap_or_default().to_owned();
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(record_key(org_id, idem_key)))
        .update_expression("SET phase = :pending, locked_until = :lock")
        .condition_expression(
            "((phase = :pending AND locked_until < :now) OR phase = :released) AND #ttl >= :now \
             AND (generation = :generation OR attribute_not_exists(generation))",
        )
        .expression_attribute_names("#ttl", TTL)
        .expression_attribute_values(":pending", s("pending"))
        .expression_attribute_values(":released", s("released"))
        .expression_attribute_values(":now", n(now_secs))
        .expression_attribute_values(":lock", n(now_secs + LOCK_SECS))
        .expression_attribute_values(":generation", s(&generation))
        .send()
        .await;
    Ok(match super::unless_condition_failed(result)? {
        Some(_) => KeyClaim::Fresh { generation },
        None => KeyClaim::InFlight,
    })
}

fn judge(old: &Item, fingerprint: &str) -> Judged {
    if get_s(old, "fingerprint") != Some(fingerprint) {
        return Judged::Mismatch;
    }
    let blob = old
        .get("body")
        .and_then(|v| v.as_b().ok())
        .map(|b| b.as_ref().to_vec());
    let parts = get_n(old, "parts").unwrap_or(0);
    match (get_s(old, "phase"), get_n(old, "status")) {
        (Some("done"), Some(status)) if blob.is_some() || parts > 0 => Judged::Done {
            status: status as u16,
            blob,
            parts: parts as usize,
        },
        _ => Judged::InFlight,
    }
}

/// The parts of a kept blob, read at once (at most 18 GetItems, which every function that
/// keeps responses may already call).
async fn read_parts(
    table: &Table,
    org_id: &str,
    idem_key: &str,
    parts: usize,
) -> Result<Vec<u8>, Error> {
    let pk = format!("IDEM#{org_id}#{idem_key}");
    let reads = (0..parts.min(MAX_BLOB_BYTES / PART_BYTES + 1)).map(|i| {
        table
            .ddb
            .get_item()
            .table_name(&table.name)
            .set_key(Some(key(pk.clone(), part_sk(i))))
            .consistent_read(true)
            .send()
    });
    let mut blob = Vec::new();
    for (i, out) in futures::future::try_join_all(reads)
        .await?
        .into_iter()
        .enumerate()
    {
        let data = out
            .item
            .as_ref()
            .and_then(|item| item.get("data")?.as_b().ok());
        let data = data.ok_or_else(|| {
            Error::internal(format!(
                "part {i} of a kept response (of {parts}) is missing"
            ))
        })?;
        blob.extend_from_slice(data.as_ref());
    }
    Ok(blob)
}

/// Keeps the response for replay: in the record when it fits, else in parts written first,
/// so that a record marked done always has all of its parts.
pub async fn record(
    table: &Table,
    org_id: &str,
    idem_key: &str,
    stored: &Stored,
    now_secs: i64,
) -> Result<(), Error> {
    if stored.blob.len() > MAX_BLOB_BYTES {
        return Err(Error::internal(format!(
            "a {} byte response is over the {MAX_BLOB_BYTES} bytes an idempotency record keeps",
            stored.blob.len()
        )));
    }
    let pieces: Vec<&[u8]> = stored.blob.chunks(PART_BYTES).collect();
    let update = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(record_key(org_id, idem_key)))
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":done", s("done"))
        .expression_attribute_values(":status", n(stored.status));
    let update = if pieces.len() <= 1 {
        update
            .update_expression(
                "SET phase = :done, #status = :status, body = :body REMOVE locked_until",
            )
            .expression_attribute_values(":body", AttributeValue::B(Blob::new(stored.blob.clone())))
    } else {
        let pk = format!("IDEM#{org_id}#{idem_key}");
        let puts = pieces.iter().enumerate().map(|(i, piece)| {
            let mut item = key(pk.clone(), part_sk(i));
            item.insert("data".into(), AttributeValue::B(Blob::new(piece.to_vec())));
            item.insert(TTL.into(), n(now_secs + RETENTION_SECS));
            table
                .ddb
                .put_item()
                .table_name(&table.name)
                .set_item(Some(item))
                .send()
        });
        futures::future::try_join_all(puts).await?;
        update
            .update_expression(
                "SET phase = :done, #status = :status, parts = :parts REMOVE locked_until",
            )
            .expression_attribute_values(":parts", n(pieces.len()))
    };
    update.send().await?;
    Ok(())
}

/// Forgets a claim whose request was refused (it wrote nothing): the key is as if never used.
pub async fn forget(table: &Table, org_id: &str, idem_key: &str) -> Result<(), Error> {
    let result = table
        .ddb
        .delete_item()
        .table_name(&table.name)
        .set_key(Some(record_key(org_id, idem_key)))
        .condition_expression("phase = :pending")
        .expression_attribute_values(":pending", s("pending"))
        .send()
        .await;
    super::unless_condition_failed(result).map(|_| ())
}

/// Gives the key back (the request failed), so that a retry runs the request again: a retry of
/// the same request takes this use of the key over (its generation: it finishes what this run
/// began), another request (a corrected body) claims it afresh.
pub async fn release(table: &Table, org_id: &str, idem_key: &str) -> Result<(), Error> {
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(record_key(org_id, idem_key)))
        .update_expression("SET phase = :released REMOVE locked_until")
        .condition_expression("phase = :pending")
        .expression_attribute_values(":pending", s("pending"))
        .expression_attribute_values(":released", s("released"))
        .send()
        .await;
    super::unless_condition_failed(result).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn old(fp: &str, phase: &str, status: Option<u16>, body: Option<&[u8]>, parts: usize) -> Item {
        let mut item = Item::from([("fingerprint".into(), s(fp)), ("phase".into(), s(phase))]);
        if let Some(status) = status {
            item.insert("status".into(), n(status));
        }
        if let Some(body) = body {
            item.insert("body".into(), AttributeValue::B(Blob::new(body)));
        }
        if parts > 0 {
            item.insert("parts".into(), n(parts));
        }
        item
    }

    #[test]
    fn an_abandoned_claim_is_a_pending_one_whose_lock_ran_out() {
        let mut pending = old("a", "pending", None, None, 0);
        pending.insert("locked_until".into(), n(100));
        assert!(abandoned(&pending, 101));
        assert!(!abandoned(&pending, 100));
        let mut done = old("a", "done", Some(200), Some(b"x"), 0);
        done.insert("locked_until".into(), n(100));
        assert!(!abandoned(&done, 101));
    }

    #[test]
    fn judging_an_existing_record() {
        let pending = old("a", "pending", None, None, 0);
        assert_eq!(judge(&pending, "b"), Judged::Mismatch);
        assert_eq!(judge(&pending, "a"), Judged::InFlight);
        let inline = old("a", "done", Some(201), Some(b"xyz"), 0);
        assert_eq!(judge(&inline, "b"), Judged::Mismatch);
        assert_eq!(
            judge(&inline, "a"),
            Judged::Done {
                status: 201,
                blob: Some(b"xyz".to_vec()),
                parts: 0
            }
        );
        assert_eq!(
            judge(&old("a", "done", Some(200), None, 3), "a"),
            Judged::Done {
                status: 200,
                blob: None,
                parts: 3
            }
        );
        // Done without its body is no answer to replay.
        assert_eq!(
            judge(&old("a", "done", Some(200), None, 0), "a"),
            Judged::InFlight
        );
    }
}
