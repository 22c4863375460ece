//! `inflowctl relay redrive`: the jobs of the stream batches the relay's event source gave up
//! on, queued again. Each message of the relay's dead-letter queue describes one batch (shard
//! and sequence numbers, as Lambda's on-failure destination does); its records are read again
//! from the table's stream (which keeps them 24 hours) and handed to the same relay code. A
//! message is deleted once every job of its batch is queued. Queueing a job twice is safe: the
//! workers deliver each event once per endpoint and send each email once.

use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
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
    /// Stream records read again (those in a batch's range, whether or not they carry jobs).
    pub records: usize,
    /// Batches left in the queue: a job still not queued, or records no longer on the stream.
    pub left: Vec<String>,
}

/// A batch as the on-failure destination describes it.
struct Described {
    stream_arn: String,
    shard_id: String,
    start: String,
    end: String,
}

fn described(body: &str) -> Option<Described> {
    let info = serde_json::from_str::<Value>(body).ok()?["DDBStreamBatchInfo"].clone();
    let field = |name: &str| info[name].as_str().map(str::to_owned);
    Some(Described {
        stream_arn: field("streamArn")?,
        shard_id: field("shardId")?,
        start: field("startSequenceNumber")?,
        end: field("endSequenceNumber")?,
    })
}

/// Redrives every batch described in `dlq_url` through the relay on `queues`.
pub async fn redrive(
    sdk: &aws_config::SdkConfig,
    dlq_url: &str,
    queues: Queues,
) -> Result<Redriven, Error> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let streams = aws_sdk_dynamodbstreams::Client::new(sdk);
    let relay = Relay { queues };
    let mut done = Redriven::default();
    let mut seen = std::collections::HashSet::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .send()
            .await
            .map_err(|e| unavailable("the relay's DLQ", e))?;
        let messages = out.messages.unwrap_or_default();
        // A message seen before came back (its batch was left): the queue holds nothing new.
        if messages.is_empty() || messages.iter().all(|m| seen.contains(&m.message_id)) {
            return Ok(done);
        }
        for message in messages {
            seen.insert(message.message_id.clone());
            let id = message.message_id.clone().unwrap_or_default();
            let Some(batch) = message.body.as_deref().and_then(described) else {
                done.left
                    .push(format!("{id}: not a stream batch description"));
                continue;
            };
            match redrive_one(&streams, &relay, &batch).await {
                Ok(records) => {
                    if let Some(handle) = &message.receipt_handle {
                        sqs.delete_message()
                            .queue_url(dlq_url)
                            .receipt_handle(handle)
                            .send()
                            .await
                            .map_err(|e| unavailable("the relay's DLQ", e))?;
                    }
                    done.batches += 1;
                    done.records += records;
                }
                Err(err) => done.left.push(format!("{id}: {err}")),
            }
        }
    }
}

/// One batch: its records read again, their jobs queued; the number of records.
async fn redrive_one(
    streams: &aws_sdk_dynamodbstreams::Client,
    relay: &Relay,
    batch: &Described,
) -> Result<usize, Error> {
    let records = read_range(streams, batch).await?;
    let count = records.len();
    let mut event = Event::default();
    event.records = records;
    let answer = relay::handle(relay, event).await;
    match answer.batch_item_failures.len() {
        0 => Ok(count),
        n => Err(Error::unavailable(format!(
            "{n} record(s) still not queued"
        ))),
    }
}

/// The records of the shard from `start` to `end`, both included.
async fn read_range(
    streams: &aws_sdk_dynamodbstreams::Client,
    batch: &Described,
) -> Result<Vec<EventRecord>, Error> {
    let mut iterator = streams
        .get_shard_iterator()
        .stream_arn(&batch.stream_arn)
        .shard_id(&batch.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&batch.start)
        .send()
        .await
        .map_err(|e| unavailable("the table's stream", e))?
        .shard_iterator;
    let mut records = Vec::new();
    while let Some(current) = iterator {
        let out = streams
            .get_records()
            .shard_iterator(current)
            .send()
            .await
            .map_err(|e| unavailable("the table's stream", e))?;
        let page = out.records.unwrap_or_default();
        if page.is_empty() {
            break;
        }
        for record in page {
            let seq = record
                .dynamodb
                .as_ref()
                .and_then(|d| d.sequence_number.clone())
                .unwrap_or_default();
            if !at_most(&seq, &batch.end) {
                return Ok(records);
            }
            records.push(lambda_record(record, &batch.stream_arn));
        }
        iterator = out.next_shard_iterator;
    }
    Ok(records)
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
            (d.shard_id.as_str(), d.start.as_str(), d.end.as_str()),
            ("s", "1", "2")
        );
        assert!(described("{}").is_none());
        assert!(described("not json").is_none());
    }
}
