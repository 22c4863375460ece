//! The relay: queues the jobs that writes recorded, from the table's stream.
//!
//! Its event source (template.yaml) hands it the stream records whose new image carries an
//! outbox. For each record whose write made a new outbox (`store::outbox::written`), it renders
//! the jobs (an event's `data` from the record as written; a replay's attempt from the delivery
//! as written) and queues them: events to the webhook queue, packed into messages of up to
//! 1 MB (the webhook worker splits them), attempts to the webhook queue, emails to the email
//! queue, ten messages a call.
//!
//! A record whose jobs SQS did not all take is reported failed, and Lambda retries from it
//! (ReportBatchItemFailures) for as long as the stream keeps it (the template's retry and age
//! limits are infinite); the records after it come again too. So a job may be queued more than
//! once, never less: the workers deliver each event once per endpoint and send each email once
//! (docs/api.md, "Jobs"). Each invocation's SQS calls retry with backoff first ([`BACKOFF`]), so an
//! outage costs a few invocations a minute, not a tight loop.
//!
//! A record the relay cannot read (an unparseable record, an outbox that does not decode, a
//! panic while rendering it) would fail every retry and hold its shard up for the stream's
//! 24 hours: it is set aside instead, described in the relay's dead-letter queue as a batch of
//! one (`inflowctl relay redrive` reads it again once the code can), and the shard moves on.

use aws_lambda_events::event::{
    dynamodb::{Event as StreamEvent, EventRecord},
    streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse},
};
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use crate::{
    error::Error,
    jobs::{AttemptJob, EmailJob, Event, EventKind, Job, Lane, Subject, TestNote},
    model::delivery::Delivery,
    queue::{Backoff, Message, Queues, MESSAGE_BYTES},
    store::outbox::{self, Image},
    wire::events,
};

/// The relay's context, built once per container: the queues, and nothing else (it reads no
/// table and no secret).
pub struct Relay {
    pub queues: Queues,
    /// The relay's dead-letter queue, where unreadable records are described; without it they
    /// are reported failed like any other (`inflowctl relay redrive` relays with none, so a
    /// record still unreadable stays in the queue it came from).
    pub dead_letters: Option<String>,
}

impl Relay {
    pub async fn from_env() -> Result<Self, Error> {
        let sdk = crate::app::sdk_config().await?;
        Ok(Self {
            queues: Queues::from_env_backing_off(&sdk, &BACKOFF)?,
            dead_letters: Some(crate::config::required(crate::config::vars::RELAY_DLQ_URL)?),
        })
    }
}

/// Waits of about 1, 2, 4 and 8 seconds between five attempts of each SQS call, well inside
/// the relay's 30 s timeout (a timeout is a function error, which would halve the batch for
/// nothing).
pub const BACKOFF: Backoff = Backoff {
    attempts: 5,
    initial: Duration::from_secs(1),
    max: Duration::from_secs(8),
    operation: Duration::from_secs(24),
};

/// A job ready for its queue.
#[derive(Debug, Clone, PartialEq)]
pub enum Ready {
    Event(Event, Lane),
    Email(EmailJob),
    Attempt(AttemptJob),
    /// A test event for one endpoint (its data is fixed; nothing to render).
    Test(TestNote),
}

/// A DynamoDB stream event as Lambda hands it over, each record parsed on its own, so that one
/// the relay cannot parse is set aside instead of failing the invocation.
#[derive(Debug, serde::Deserialize)]
pub struct RawEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<serde_json::Value>,
}

/// The Lambda handler: [`handle`] on the records as parsed.
pub async fn handle_raw(relay: &Relay, event: RawEvent) -> DynamoDbEventResponse {
    let records = event
        .records
        .into_iter()
        .map(|raw| {
            serde_json::from_value::<EventRecord>(raw.clone()).map_err(|err| Unreadable {
                sequence_number: raw["dynamodb"]["SequenceNumber"].as_str().map(Into::into),
                stream_arn: raw["eventSourceARN"].as_str().map(Into::into),
                keys: raw["dynamodb"]["Keys"].clone(),
                why: format!("not a DynamoDB stream record: {err}"),
            })
        })
        .collect();
    relay_records(relay, records).await
}

/// Every record's jobs queued, the records that failed reported by their sequence numbers.
pub async fn handle(relay: &Relay, event: StreamEvent) -> DynamoDbEventResponse {
    relay_records(relay, event.records.into_iter().map(Ok).collect()).await
}

/// A record the relay cannot read: where it is on the stream, and why.
#[derive(Clone)]
struct Unreadable {
    sequence_number: Option<String>,
    stream_arn: Option<String>,
    keys: serde_json::Value,
    why: String,
}

impl Unreadable {
    fn of(record: &EventRecord, why: String) -> Self {
        Unreadable {
            sequence_number: record.change.sequence_number.clone(),
            stream_arn: record.event_source_arn.clone(),
            keys: serde_json::to_value(&record.change.keys).unwrap_or_default(),
            why,
        }
    }

    /// As the event source describes a batch it gave up on (`inflowctl relay redrive` reads
    /// either), a batch of this one record; the shard is left out, since Lambda's records do
    /// not name it.
    fn description(&self) -> serde_json::Value {
        serde_json::json!({
            "requestContext": {"condition": "UnreadableRecord", "reason": self.why},
            "record": {"keys": self.keys},
            "DDBStreamBatchInfo": {
                "startSequenceNumber": self.sequence_number,
                "endSequenceNumber": self.sequence_number,
                "batchSize": 1,
                "streamArn": self.stream_arn,
            },
        })
    }
}

async fn relay_records(
    relay: &Relay,
    records: Vec<Result<EventRecord, Unreadable>>,
) -> DynamoDbEventResponse {
    let mut failed = BTreeSet::new();
    let mut ready = Vec::new();
    let mut unreadable = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let jobs = record.as_ref().map_err(|u| u.why.clone()).and_then(|r| {
            // A panic while rendering is a bug about this record: it must not fail the others.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| jobs_of(r)))
                .map_err(|_| "the relay panicked reading it".to_owned())?
                .map_err(|err| err.chain().to_string())
        });
        match jobs {
            Ok(jobs) => ready.extend(jobs.into_iter().map(|job| (i, job))),
            Err(why) => unreadable.push((i, why)),
        }
    }
    for (i, why) in unreadable {
        let u = match &records[i] {
            Ok(record) => Unreadable::of(record, why),
            Err(u) => Unreadable { why, ..u.clone() },
        };
        if !set_aside(relay, &u).await {
            failed.insert(i);
        }
    }
    failed.extend(send(&relay.queues, ready).await);
    let mut response = DynamoDbEventResponse::default();
    for i in failed {
        let seq = match &records[i] {
            Ok(record) => record.change.sequence_number.clone(),
            Err(u) => u.sequence_number.clone(),
        };
        match seq {
            Some(seq) => {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(seq);
                response.batch_item_failures.push(failure);
            }
            None => tracing::error!("relay: a failed record has no sequence number"),
        }
    }
    crate::metrics::count(
        "RelayRecordsFailed",
        response.batch_item_failures.len() as u64,
        &[],
    );
    response
}

/// Describes an unreadable record in the dead-letter queue; whether it is set aside (else it
/// is reported failed and comes again). One without a place on the stream cannot be found
/// again by anyone: it is logged and let go.
async fn set_aside(relay: &Relay, u: &Unreadable) -> bool {
    tracing::error!(sequence_number = ?u.sequence_number, keys = %u.keys, why = %u.why, "relay: unreadable record");
    crate::metrics::count("RelayRecordsSetAside", 1, &[]);
    let Some(dlq) = &relay.dead_letters else {
        return false;
    };
    if u.sequence_number.is_none() || u.stream_arn.is_none() {
        return true;
    }
    let message = Message::new(u.description().to_string(), None);
    match relay.queues.send_one(dlq, message).await {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(error = %err.chain(), "relay: the dead-letter queue did not take an unreadable record; the stream will hand it over again");
            false
        }
    }
}

/// The jobs a stream record's write made: none for a record that carries an older outbox along.
pub fn jobs_of(record: &EventRecord) -> Result<Vec<Ready>, Error> {
    if !matches!(record.event_name.as_str(), "INSERT" | "MODIFY") {
        return Ok(Vec::new());
    }
    let image = &record.change.new_image;
    let Some(written) = outbox::written(image, &record.change.old_image)? else {
        return Ok(Vec::new());
    };
    written
        .jobs
        .into_iter()
        .map(|job| {
            Ok(match job {
                Job::Event(note) => {
                    let data = render(note.kind, image)?;
                    let lane = note.lane;
                    Ready::Event(note.with_data(data), lane)
                }
                Job::Email(email) => Ready::Email(email),
                Job::Test(note) => Ready::Test(note),
                Job::NextAttempt => {
                    let d: Delivery = outbox::decode(image)?;
                    Ready::Attempt(AttemptJob {
                        delivery_id: d.id,
                        org_id: d.org_id,
                        attempt: d.attempt + 1,
                        not_before: 0,
                        endpoint_id: Some(d.endpoint_id),
                        lane: d.lane,
                    })
                }
            })
        })
        .collect()
}

/// An event's `data`, from the record it describes as written.
fn render(kind: EventKind, image: &Image) -> Result<serde_json::Value, Error> {
    Ok(match kind.subject() {
        Subject::Assignment => events::assignment_data(kind, &outbox::decode(image)?),
        Subject::Invitation => events::invitation_data(&outbox::decode(image)?),
    })
}

/// A message, and the records whose jobs it carries.
struct Outgoing {
    message: Message,
    records: Vec<usize>,
}

/// Queues the jobs; returns the records any of whose jobs SQS did not take. Each job goes in
/// its organization's group of its lane ([`Lane::group`]).
async fn send(queues: &Queues, ready: Vec<(usize, Ready)>) -> BTreeSet<usize> {
    let mut events: BTreeMap<String, Vec<(usize, Event)>> = BTreeMap::new();
    let mut webhook = Vec::new();
    let mut email = Vec::new();
    for (record, job) in ready {
        let one = |body: Result<String, serde_json::Error>, request_id, group| {
            body.map(|body| Outgoing {
                message: Message::new(body, request_id).in_group(Some(group)),
                records: vec![record],
            })
        };
        match job {
            Ready::Event(event, lane) => events
                .entry(lane.group(&event.organization_id))
                .or_default()
                .push((record, event)),
            Ready::Attempt(attempt) => {
                let group = attempt.group();
                webhook.push(one(serde_json::to_string(&attempt), None, group))
            }
            Ready::Test(note) => {
                let request_id = note.request_id.clone();
                let group = Lane::Interactive.group(&note.organization_id);
                webhook.push(one(serde_json::to_string(&note), request_id, group))
            }
            Ready::Email(job) => {
                let request_id = job.request_id.clone();
                let group = job.group();
                email.push(one(serde_json::to_string(&job), request_id, group))
            }
        }
    }
    for (group, events) in events {
        webhook.extend(pack(&events, MESSAGE_BYTES).into_iter().map(|packed| {
            packed.map(|o| Outgoing {
                message: o.message.in_group(Some(group.clone())),
                ..o
            })
        }));
    }
    let (webhook_failed, email_failed) = tokio::join!(
        send_to(queues, &queues.webhook_url, webhook),
        send_to(queues, &queues.email_url, email)
    );
    webhook_failed.into_iter().chain(email_failed).collect()
}

async fn send_to(
    queues: &Queues,
    url: &str,
    outgoing: Vec<Result<Outgoing, serde_json::Error>>,
) -> BTreeSet<usize> {
    let mut failed = BTreeSet::new();
    let mut sendable = Vec::new();
    for item in outgoing {
        match item {
            Ok(o) => sendable.push(o),
            Err(err) => tracing::error!(error = %err, "relay: a job could not be written as JSON"),
        }
    }
    let messages: Vec<Message> = sendable.iter().map(|o| o.message.clone()).collect();
    for (o, result) in sendable.iter().zip(queues.send(url, &messages).await) {
        if let Err(err) = result {
            tracing::warn!(error = %err.chain(), records = ?o.records, "relay: not queued; the stream will hand it over again");
            failed.extend(&o.records);
        }
    }
    failed
}

/// Events as messages: one event alone is a message of its own; more go as JSON arrays of as
/// many consecutive events as fit in `limit` bytes (an import's events cost few SQS calls).
fn pack(events: &[(usize, Event)], limit: usize) -> Vec<Result<Outgoing, serde_json::Error>> {
    if let [(record, event)] = events {
        return vec![serde_json::to_string(event).map(|body| Outgoing {
            message: Message::new(body, event.request_id.clone()),
            records: vec![*record],
        })];
    }
    fn close(
        out: &mut Vec<Result<Outgoing, serde_json::Error>>,
        array: &mut String,
        current: &mut Option<Outgoing>,
    ) {
        if let Some(mut o) = current.take() {
            array.push(']');
            o.message.body = std::mem::take(array);
            out.push(Ok(o));
        }
    }
    let mut out = Vec::new();
    let mut array = String::new();
    let mut current: Option<Outgoing> = None;
    for (record, event) in events {
        let json = match serde_json::to_string(event) {
            Ok(json) => json,
            Err(err) => {
                out.push(Err(err));
                continue;
            }
        };
        if current.is_some() && array.len() + json.len() + 2 > limit {
            close(&mut out, &mut array, &mut current);
        }
        let o = current.get_or_insert_with(|| Outgoing {
            message: Message::new(String::new(), event.request_id.clone()),
            records: Vec::new(),
        });
        array.push(if array.is_empty() { '[' } else { ',' });
        array.push_str(&json);
        o.records.push(*record);
    }
    close(&mut out, &mut array, &mut current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::EventNote;

    fn events(n: usize) -> Vec<(usize, Event)> {
        (0..n)
            .map(|i| {
                let note = EventNote::new(
                    EventKind::InvitationCreated,
                    "org_1",
                    "req_1",
                    chrono::Utc::now(),
                );
                (
                    i,
                    note.with_data(serde_json::json!({"invitationId": format!("inv_{i}")})),
                )
            })
            .collect()
    }

    #[test]
    fn packed_events_are_every_event_in_order_in_arrays_under_the_limit() {
        let all = events(1000);
        let one = serde_json::to_string(&all[0].1).unwrap().len();
        let limit = one * 300;
        let packed: Vec<Outgoing> = pack(&all, limit).into_iter().map(Result::unwrap).collect();
        assert_eq!(packed.len(), 4, "about 300 a message");
        let mut back = Vec::new();
        let mut records = Vec::new();
        for o in packed {
            assert!(
                o.message.body.len() <= limit,
                "{} > {limit}",
                o.message.body.len()
            );
            assert_eq!(o.message.request_id.as_deref(), Some("req_1"));
            back.extend(serde_json::from_str::<Vec<Event>>(&o.message.body).unwrap());
            records.extend(o.records);
        }
        assert_eq!(back, all.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>());
        assert_eq!(records, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn one_event_is_a_message_of_its_own() {
        let one = events(1);
        let packed: Vec<Outgoing> = pack(&one, MESSAGE_BYTES)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(packed.len(), 1);
        assert_eq!(
            serde_json::from_str::<Event>(&packed[0].message.body).unwrap(),
            one[0].1
        );
        assert!(pack(&[], MESSAGE_BYTES).is_empty());
    }
}
