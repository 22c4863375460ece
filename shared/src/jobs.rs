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
    pub fn new(kind: &str, org_id: &str, request_id: &str, now: DateTime<Utc>, data: serde_json::Value) -> Self {
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
    pub fn for_fact(kind: &str, fact: &str, org_id: &str, request_id: &str, now: DateTime<Utc>, data: serde_json::Value) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{kind}\0{fact}").as_bytes());
        Self { id: format!("evt_{}", &hex::encode(digest)[..24]), ..Self::new(kind, org_id, request_id, now, data) }
    }
}

pub async fn publish(app: &App, event: &Event) -> Result<(), Error> {
    let body = serde_json::to_string(event).map_err(|e| Error::Internal(e.to_string()))?;
    let mut send = app.sqs.send_message().queue_url(&app.config.webhook_queue_url).message_body(body);
    if let Some(request_id) = &event.request_id {
        let attr = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(request_id)
            .build()
            .map_err(|e| Error::Internal(e.to_string()))?;
        send = send.message_attributes("request_id", attr);
    }
    send.send().await.map_err(|e| {
        Error::Unavailable(format!("webhook queue: {}", aws_sdk_sqs::error::DisplayErrorContext(&e)))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fact_events_have_stable_ids() {
        let now = Utc::now();
        let a = Event::for_fact("flow.started", "asgn_1", "org_1", "req_1", now, serde_json::json!({}));
        let b = Event::for_fact("flow.started", "asgn_1", "org_1", "req_2", now, serde_json::json!({}));
        let c = Event::for_fact("flow.completed", "asgn_1", "org_1", "req_1", now, serde_json::json!({}));
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert!(a.id.starts_with("evt_"));
    }

    #[test]
    fn envelope_has_the_documented_fields() {
        let e = Event::new("flow.assigned", "org_1", "req_1", Utc::now(), serde_json::json!({"a": 1}));
        let v = serde_json::to_value(&e).unwrap();
        for field in ["id", "type", "createdAt", "organizationId", "requestId", "data"] {
            assert!(v.get(field).is_some(), "{field}");
        }
    }
}
