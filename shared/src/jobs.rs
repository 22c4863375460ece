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

/// Events in one webhook message at most: well under SQS's 256 KB with our envelopes.
pub const EVENTS_PER_MESSAGE: usize = 50;

/// Queues many events: one event alone is a message of its own (as `publish` sends); more go
/// as JSON arrays of up to [`EVENTS_PER_MESSAGE`], so a large import costs few SQS calls.
pub async fn publish_all(app: &App, events: &[Event]) -> Result<Calls, Error> {
    let bodies = match events {
        [one] => vec![(one.request_id.clone(), serde_json::to_string(one))],
        many => many
            .chunks(EVENTS_PER_MESSAGE)
            .map(|chunk| (chunk[0].request_id.clone(), serde_json::to_string(chunk)))
            .collect(),
    };
    send_batches(app, &app.config.webhook_queue_url, bodies).await
}

pub async fn queue_emails(app: &App, jobs: &[EmailJob]) -> Result<Calls, Error> {
    let bodies = jobs
        .iter()
        .map(|j| (j.request_id.clone(), serde_json::to_string(j)))
        .collect::<Vec<_>>();
    send_batches(app, &app.config.email_queue_url, bodies).await
}

/// SendMessageBatch, 10 a call. Any entry SQS did not take fails the whole request, so no
/// success is reported without its jobs.
async fn send_batches(
    app: &App,
    queue_url: &str,
    bodies: Vec<(Option<String>, serde_json::Result<String>)>,
) -> Result<Calls, Error> {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    let mut calls = 0;
    for chunk in bodies.chunks(10) {
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
        crate::metrics::count("JobsQueued", chunk.len() as u64, &[("Queue", queue_kind(app, queue_url))]);
    }
    Ok(calls)
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
