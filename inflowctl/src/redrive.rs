//! `inflowctl relay redrive`: the jobs of the stream batches the relay's event source gave up
//! on, queued again. Each message of the relay's dead-letter queue describes one batch (shard
//! and sequence numbers, as Lambda's on-failure destination does; the relay describes a record
//! it could not read the same way, without the shard, which is then looked up); its records
//! are read again from the table's stream (which keeps them 24 hours), to the batch's last
//! record, and handed to the same relay code. A message is deleted once every job of its batch
//! is queued, or once the stream no longer holds its records; else it is left, visible again at
//! once, for the next run. Queueing a job twice is safe: the workers deliver each event once
//! per endpoint and send each email once.

use aws_sdk_dynamodbstreams::{
    error::ProvideErrorMetadata,
    types::{Record, ShardIteratorType},
};
use inflow::{
    aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord},
    queue::Queues,
    relay::{self, Relay},
    Error,
};
use serde::Serialize;
use serde_json::Value;

/// What one redrive did.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Redriven {
    /// Batches whose jobs are all queued (their messages deleted).
    pub batches: usize,
    /// Batches the stream no longer holds (trimmed after its 24 hours): nothing is left to
    /// queue, and their messages are deleted.
    pub gone: usize,
    /// Stream records read again (those in a batch's range, whether or not they carry jobs).
    pub records: usize,
    /// Batches left in the queue: a job still not queued, or records no longer on the stream.
    pub left: Vec<String>,
}

/// Empty pages in a row after which a read that has not reached its batch's end stops (the
/// batch is left for the next run): DynamoDB Streams may answer a few anywhere in a shard.
pub const MAX_EMPTY_PAGES: usize = 50;

/// A batch as the on-failure destination (or the relay) describes it.
struct Described {
    stream_arn: String,
    /// `None` for a record the relay set aside (Lambda's records do not name their shard).
    shard_id: Option<String>,
    start: String,
    end: String,
}

fn described(body: &str) -> Option<Described> {
    let info = serde_json::from_str::<Value>(body).ok()?["DDBStreamBatchInfo"].clone();
    let field = |name: &str| info[name].as_str().map(str::to_owned);
    Some(Described {
        stream_arn: field("streamArn")?,
        shard_id: field("shardId"),
        start: field("startSequenceNumber")?,
        end: field("endSequenceNumber")?,
    })
}

/// What reading a batch's records again found.
enum Read {
    /// Every record of the range, to its last.
    Whole(Vec<EventRecord>),
    /// The stream no longer holds the range.
    Gone,
}

/// Redrives every batch described in `dlq_url` through the relay on `queues`.
pub async fn redrive(
    sdk: &aws_config::SdkConfig,
    dlq_url: &str,
    queues: Queues,
) -> Result<Redriven, Error> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let streams = aws_sdk_dynamodbstreams::Client::new(sdk);
    // No dead-letter queue: a record still unreadable is reported failed, and its message stays.
    let relay = Relay {
        queues,
        dead_letters: None,
    };
    let mut done = Redriven::default();
    // The messages left, by id, with their latest receipt handles: made visible again at the
    // end, for the next run rather than after the visibility timeout.
    let mut held = std::collections::HashMap::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .send()
            .await
            .map_err(|e| unavailable("the relay's DLQ", e))?;
        let mut fresh = Vec::new();
        for message in out.messages.unwrap_or_default() {
            let id = message.message_id.clone().unwrap_or_default();
            let handle = message.receipt_handle.clone().unwrap_or_default();
            match held.get_mut(&id) {
                Some(latest) => *latest = handle,
                None => fresh.push((id, handle, message.body)),
            }
        }
        // Nothing but messages left before: the queue holds nothing new.
        if fresh.is_empty() {
            break;
        }
        for (id, handle, body) in fresh {
            let Some(batch) = body.as_deref().and_then(described) else {
                done.left
                    .push(format!("{id}: not a stream batch description"));
                held.insert(id, handle);
                continue;
            };
            match redrive_one(&streams, &relay, &batch).await {
                Ok(outcome) => {
                    sqs.delete_message()
                        .queue_url(dlq_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(|e| unavailable("the relay's DLQ", e))?;
                    match outcome {
                        Some(records) => {
                            done.batches += 1;
                            done.records += records;
                        }
                        None => done.gone += 1,
                    }
                }
                Err(err) => {
                    done.left.push(format!("{id}: {err}"));
                    held.insert(id, handle);
                }
            }
        }
    }
    for handle in held.into_values() {
        sqs.change_message_visibility()
            .queue_url(dlq_url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| unavailable("the relay's DLQ", e))?;
    }
    Ok(done)
}

/// One batch: its records read again, their jobs queued; the number of records, or `None` when
/// the stream no longer holds them.
async fn redrive_one(
    streams: &aws_sdk_dynamodbstreams::Client,
    relay: &Relay,
    batch: &Described,
) -> Result<Option<usize>, Error> {
    let records = match read_batch(streams, batch).await? {
        Read::Whole(records) => records,
        Read::Gone => return Ok(None),
    };
    let count = records.len();
    let mut event = Event::default();
    event.records = records;
    let answer = relay::handle(relay, event).await;
    match answer.batch_item_failures.len() {
        0 => Ok(Some(count)),
        n => Err(Error::unavailable(format!(
            "{n} record(s) still not queued"
        ))),
    }
}

/// The batch's records; for a record the relay described, in the shard that holds it.
async fn read_batch(
    streams: &aws_sdk_dynamodbstreams::Client,
    batch: &Described,
) -> Result<Read, Error> {
    if let Some(shard) = &batch.shard_id {
        return read_range(streams, batch, shard).await;
    }
    // Shards' ranges may overlap (one per partition): the one whose first record read is the
    // batch's own holds it.
    for shard in shards_holding(streams, &batch.stream_arn, &batch.start).await? {
        match read_range(streams, batch, &shard).await {
            Ok(Read::Whole(records))
                if records
                    .first()
                    .and_then(|r| r.change.sequence_number.as_deref())
                    == Some(batch.start.as_str()) =>
            {
                return Ok(Read::Whole(records))
            }
            Ok(Read::Gone) => return Ok(Read::Gone),
            _ => continue,
        }
    }
    Err(Error::unavailable(format!(
        "no shard of the stream holds record {}",
        batch.start
    )))
}

/// The shards whose sequence numbers may include `seq`, at most 100 of them.
async fn shards_holding(
    streams: &aws_sdk_dynamodbstreams::Client,
    stream_arn: &str,
    seq: &str,
) -> Result<Vec<String>, Error> {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let out = streams
            .describe_stream()
            .stream_arn(stream_arn)
            .set_exclusive_start_shard_id(after.clone())
            .send()
            .await
            .map_err(|e| unavailable("the table's stream", e))?;
        let Some(description) = out.stream_description else {
            break;
        };
        for shard in description.shards.unwrap_or_default() {
            let range = shard.sequence_number_range.as_ref();
            let starts = range.and_then(|r| r.starting_sequence_number.as_deref());
            let ends = range.and_then(|r| r.ending_sequence_number.as_deref());
            let holds =
                starts.is_none_or(|s| at_most(s, seq)) && ends.is_none_or(|e| at_most(seq, e));
            if let (true, Some(id)) = (holds, shard.shard_id) {
                found.push(id);
            }
        }
        after = description.last_evaluated_shard_id;
        if after.is_none() {
            break;
        }
    }
    Ok(found)
}

/// The records of the shard from `start` to `end`, both included: read until the record `end`
/// (or one past it) or the end of a closed shard, through the empty pages DynamoDB Streams may
/// answer before either ([`MAX_EMPTY_PAGES`] in a row at most).
async fn read_range(
    streams: &aws_sdk_dynamodbstreams::Client,
    batch: &Described,
    shard_id: &str,
) -> Result<Read, Error> {
    let iterator = streams
        .get_shard_iterator()
        .stream_arn(&batch.stream_arn)
        .shard_id(shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&batch.start)
        .send()
        .await;
    let mut iterator = match iterator {
        Ok(out) => out.shard_iterator,
        Err(e) if trimmed(&e) => return Ok(Read::Gone),
        Err(e) => return Err(unavailable("the table's stream", e)),
    };
    let mut records = Vec::new();
    let mut empty = 0;
    while let Some(current) = iterator {
        let out = match streams.get_records().shard_iterator(current).send().await {
            Ok(out) => out,
            Err(e) if trimmed(&e) => return Ok(Read::Gone),
            Err(e) => return Err(unavailable("the table's stream", e)),
        };
        let page = out.records.unwrap_or_default();
        empty = if page.is_empty() { empty + 1 } else { 0 };
        if empty >= MAX_EMPTY_PAGES {
            return Err(Error::unavailable(format!(
                "the stream answered {MAX_EMPTY_PAGES} empty pages in a row before record {}",
                batch.end
            )));
        }
        for record in page {
            let seq = record
                .dynamodb
                .as_ref()
                .and_then(|d| d.sequence_number.clone())
                .unwrap_or_default();
            if !at_most(&seq, &batch.end) {
                return Ok(Read::Whole(records));
            }
            records.push(lambda_record(record, &batch.stream_arn));
            if seq == batch.end {
                return Ok(Read::Whole(records));
            }
        }
        iterator = out.next_shard_iterator;
    }
    // A closed shard ended: it holds nothing more of the range.
    Ok(Read::Whole(records))
}

/// Whether the stream trimmed what was asked for (records past its 24 hours).
fn trimmed(err: &impl ProvideErrorMetadata) -> bool {
    err.code() == Some("TrimmedDataAccessException")
}

/// Sequence numbers are decimal strings of up to 40 digits.
fn at_most(seq: &str, end: &str) -> bool {
    (seq.len(), seq) <= (end.len(), end)
}

/// A stream record as Lambda hands it to the relay.
fn lambda_record(record: Record, stream_arn: &str) -> EventRecord {
    let mut out = EventRecord::default();
    out.event_id = record.event_id.unwrap_or_default();
    out.event_name = record
        .event_name
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    out.aws_region = record.aws_region.unwrap_or_default();
    out.event_source_arn = Some(stream_arn.to_owned());
    if let Some(d) = record.dynamodb {
        let mut change = StreamRecord::default();
        change.keys = d.keys.unwrap_or_default().into();
        change.new_image = d.new_image.unwrap_or_default().into();
        change.old_image = d.old_image.unwrap_or_default().into();
        change.sequence_number = d.sequence_number;
        out.change = change;
    }
    out
}

#[track_caller]
fn unavailable(what: &str, err: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Unavailable {
        what: what.to_owned(),
        at: std::panic::Location::caller(),
        source: Some(Box::new(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_as_numbers() {
        assert!(at_most("9", "10"));
        assert!(at_most("10", "10"));
        assert!(!at_most("11", "10"));
        assert!(!at_most("100", "99"));
    }

    #[test]
    fn only_stream_batch_descriptions_are_read() {
        let body = r#"{"requestContext":{},"DDBStreamBatchInfo":{"shardId":"s","startSequenceNumber":"1","endSequenceNumber":"2","streamArn":"arn"}}"#;
        let d = described(body).unwrap();
        assert_eq!(
            (d.shard_id.as_deref(), d.start.as_str(), d.end.as_str()),
            (Some("s"), "1", "2")
        );
        // The relay's description of a record it could not read names no shard.
        let set_aside = r#"{"DDBStreamBatchInfo":{"startSequenceNumber":"7","endSequenceNumber":"7","streamArn":"arn"}}"#;
        assert_eq!(described(set_aside).unwrap().shard_id, None);
        assert!(described("{}").is_none());
        assert!(described("not json").is_none());
    }
}
