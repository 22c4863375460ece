//! Jobs for the workers. A request never calls a webhook or sends mail itself: it queues a job.
//! If the job cannot be queued the request fails (503) and reports no success; its retry with
//! the same `Idempotency-Key` runs again and queues it (see README, "No job lost").

use aws_sdk_sqs::types::MessageAttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{app::App, error::Error, ids};

/// One event, as the webhook worker will deliver it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub organization_id: String,
    /// The request that caused it, for tracing across the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub data: serde_json::Value,
}

impl Event {
    pub fn new(
        kind: &str,
        org_id: &str,
        request_id: &str,
        now: DateTime<Utc>,
        data: serde_json::Value,
    ) -> Self {
        Self {
            id: ids::new("evt"),
            kind: kind.to_owned(),
            created_at: now,
            organization_id: org_id.to_owned(),
            request_id: Some(request_id.to_owned()),
            data,
        }
    }

    /// An event whose id is fixed by what happened (e.g. an assignment's start), so that
    /// queueing it again after a failed attempt is delivered once.
    pub fn for_fact(
        kind: &str,
        fact: &str,
        org_id: &str,
        request_id: &str,
        now: DateTime<Utc>,
        data: serde_json::Value,
    ) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{kind}\0{fact}").as_bytes());
        Self {
            id: format!("evt_{}", &hex::encode(digest)[..24]),
            ..Self::new(kind, org_id, request_id, now, data)
        }
    }
}

/// An invitation email to send. The secret travels sealed: only the email worker opens it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EmailJob {
    pub invitation_id: String,
    pub org_id: String,
    pub secret_sealed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// SQS calls made, for callers that account for their cost.
pub type Calls = usize;

/// A message body we send at most. SQS takes 1 MiB (1,048,576 bytes) per message and per
/// SendMessageBatch call, message attributes included.
const MESSAGE_BYTES: usize = 1_000_000;

/// Events the webhook worker fans out from one message. A larger message (an import's events
/// go in as few messages as fit) is split by the worker into messages of this many, so the
/// request pays one SQS call per megabyte of events, and each worker run stays small.
pub const EVENTS_PER_FAN_OUT: usize = 50;

/// Queues many events: one event alone is a message of its own (as `publish` sends); more go
/// as JSON arrays of as many as fit in [`MESSAGE_BYTES`], so a large import costs few SQS calls.
pub async fn publish_all(app: &App, events: &[Event]) -> Result<Calls, Error> {
    let bodies = match events {
        [one] => vec![(one.request_id.clone(), serde_json::to_string(one))],
        many => pack(many, MESSAGE_BYTES)?,
    };
    send_batches(app, &app.config.webhook_queue_url, bodies).await
}

/// The worker's side of [`publish_all`]: a message of many events, again as messages of
/// [`EVENTS_PER_FAN_OUT`].
pub async fn split(app: &App, events: &[Event]) -> Result<Calls, Error> {
    let bodies = events
        .chunks(EVENTS_PER_FAN_OUT)
        .map(|chunk| (chunk[0].request_id.clone(), serde_json::to_string(chunk)))
        .collect();
    send_batches(app, &app.config.webhook_queue_url, bodies).await
}

/// JSON arrays of consecutive events, each at most `limit` bytes (an event larger than that
/// alone is an array of one, which SQS will refuse: events are far smaller).
fn pack(events: &[Event], limit: usize) -> Result<Vec<Body>, Error> {
    let mut bodies = Vec::new();
    let mut array = String::new();
    let mut request_id = None;
    for event in events {
        let json = serde_json::to_string(event).map_err(|e| Error::Internal(e.to_string()))?;
        if !array.is_empty() && array.len() + json.len() + 2 > limit {
            array.push(']');
            bodies.push((request_id.take(), Ok(std::mem::take(&mut array))));
        }
        if array.is_empty() {
            array.push('[');
            request_id = event.request_id.clone();
        } else {
            array.push(',');
        }
        array.push_str(&json);
    }
    if !array.is_empty() {
        array.push(']');
        bodies.push((request_id, Ok(array)));
    }
    Ok(bodies)
}

/// A message to send: the request id for its attribute, and its body.
type Body = (Option<String>, serde_json::Result<String>);

pub async fn queue_emails(app: &App, jobs: &[EmailJob]) -> Result<Calls, Error> {
    let bodies = jobs
        .iter()
        .map(|j| (j.request_id.clone(), serde_json::to_string(j)))
        .collect::<Vec<_>>();
    send_batches(app, &app.config.email_queue_url, bodies).await
}

/// SendMessageBatch, 10 messages and [`MESSAGE_BYTES`] a call. Any entry SQS did not take
/// fails the whole request, so no success is reported without its jobs.
async fn send_batches(app: &App, queue_url: &str, bodies: Vec<Body>) -> Result<Calls, Error> {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    let mut calls = 0;
    for chunk in batches(&bodies, MESSAGE_BYTES) {
        let mut entries = Vec::with_capacity(chunk.len());
        for (i, (request_id, body)) in chunk.iter().enumerate() {
            let body = body.as_ref().map_err(|e| Error::Internal(e.to_string()))?;
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body);
            if let Some(request_id) = request_id {
                entry = entry.message_attributes("request_id", request_id_attribute(request_id)?);
            }
            entries.push(entry.build().map_err(|e| Error::Internal(e.to_string()))?);
        }
        calls += 1;
        let out = app
            .sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                Error::Unavailable(format!(
                    "queue: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                ))
            })?;
        if !out.failed.is_empty() {
            return Err(Error::Unavailable(format!(
                "queue refused {} job(s)",
                out.failed.len()
            )));
        }
        crate::metrics::count(
            "JobsQueued",
            chunk.len() as u64,
            &[("Queue", queue_kind(app, queue_url))],
        );
    }
    Ok(calls)
}

/// Consecutive runs of at most 10 bodies and at most `limit` bytes (a body alone may be more).
fn batches(bodies: &[Body], limit: usize) -> Vec<&[Body]> {
    let size = |(_, body): &Body| body.as_ref().map_or(0, String::len);
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, body) in bodies.iter().enumerate() {
        if i > start && (i - start == 10 || bytes + size(body) > limit) {
            runs.push(&bodies[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size(body);
    }
    if start < bodies.len() {
        runs.push(&bodies[start..]);
    }
    runs
}

fn request_id_attribute(request_id: &str) -> Result<MessageAttributeValue, Error> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(request_id)
        .build()
        .map_err(|e| Error::Internal(e.to_string()))
}

pub async fn publish(app: &App, event: &Event) -> Result<(), Error> {
    let body = serde_json::to_string(event).map_err(|e| Error::Internal(e.to_string()))?;
    let mut send = app
        .sqs
        .send_message()
        .queue_url(&app.config.webhook_queue_url)
        .message_body(body);
    if let Some(request_id) = &event.request_id {
        send = send.message_attributes("request_id", request_id_attribute(request_id)?);
    }
    send.send().await.map_err(|e| {
        Error::Unavailable(format!(
            "webhook queue: {}",
            aws_sdk_sqs::error::DisplayErrorContext(&e)
        ))
    })?;
    crate::metrics::count("JobsQueued", 1, &[("Queue", "webhook")]);
    Ok(())
}

fn queue_kind(app: &App, queue_url: &str) -> &'static str {
    if queue_url == app.config.email_queue_url {
        "email"
    } else {
        "webhook"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let data = serde_json::json!({"invitationId": format!("inv_{i}")});
                Event::new("invitation.created", "org_1", "req_1", Utc::now(), data)
            })
            .collect()
    }

    #[test]
    fn packed_events_are_every_event_in_order_in_arrays_under_the_limit() {
        let all = events(1000);
        let one = serde_json::to_string(&all[0]).unwrap().len();
        let limit = one * 300;
        let bodies = pack(&all, limit).unwrap();
        assert_eq!(bodies.len(), 4, "about 300 a message");
        let mut back = Vec::new();
        for (request_id, body) in bodies {
            let body = body.unwrap();
            assert!(body.len() <= limit, "{} > {limit}", body.len());
            assert_eq!(request_id.as_deref(), Some("req_1"));
            back.extend(serde_json::from_str::<Vec<Event>>(&body).unwrap());
        }
        assert_eq!(back, all);
    }

    #[test]
    fn batches_hold_at_most_ten_messages_and_the_byte_limit() {
        let body = |n: usize| (None, Ok("x".repeat(n)));
        let sizes = |bodies: &[Body], limit| -> Vec<usize> {
            batches(bodies, limit).iter().map(|b| b.len()).collect()
        };
        let small: Vec<Body> = (0..25).map(|_| body(10)).collect();
        assert_eq!(sizes(&small, 1000), vec![10, 10, 5]);
        let big: Vec<Body> = (0..5).map(|_| body(400)).collect();
        assert_eq!(sizes(&big, 1000), vec![2, 2, 1]);
        let huge = vec![body(5000), body(10)];
        assert_eq!(sizes(&huge, 1000), vec![1, 1], "too big alone: SQS says so");
        assert!(batches(&[], 1000).is_empty());
    }

    #[test]
    fn fact_events_have_stable_ids() {
        let now = Utc::now();
        let a = Event::for_fact(
            "flow.started",
            "asgn_1",
            "org_1",
            "req_1",
            now,
            serde_json::json!({}),
        );
        let b = Event::for_fact(
            "flow.started",
            "asgn_1",
            "org_1",
            "req_2",
            now,
            serde_json::json!({}),
        );
        let c = Event::for_fact(
            "flow.completed",
            "asgn_1",
            "org_1",
            "req_1",
            now,
            serde_json::json!({}),
        );
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert!(a.id.starts_with("evt_"));
    }

    #[test]
    fn envelope_has_the_documented_fields() {
        let e = Event::new(
            "flow.assigned",
            "org_1",
            "req_1",
            Utc::now(),
            serde_json::json!({"a": 1}),
        );
        let v = serde_json::to_value(&e).unwrap();
        for field in [
            "id",
            "type",
            "createdAt",
            "organizationId",
            "requestId",
            "data",
        ] {
            assert!(v.get(field).is_some(), "{field}");
        }
    }
}
