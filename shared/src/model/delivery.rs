//! A delivery: one event to one endpoint, with every attempt recorded.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::jobs::Lane;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub org_id: String,
    pub endpoint_id: String,
    pub url: String,
    pub event_id: String,
    pub event_type: String,
    /// The exact body every attempt sends (and signs).
    pub payload: String,
    pub status: DeliveryStatus,
    /// The last attempt claimed (0 before the first).
    pub attempt: u32,
    /// Attempts made before the current round (a replay starts a new round).
    #[serde(default)]
    pub round_start: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
    #[serde(default)]
    pub attempts: Vec<AttemptRecord>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The lane of the event it delivers: its attempts travel in that group.
    #[serde(default, skip_serializing_if = "Lane::is_interactive")]
    pub lane: Lane,
}

/// One delivery per (event, endpoint): its id is derived from both, so a job that SQS hands
/// out twice finds the same record.
pub fn delivery_id(event_id: &str, endpoint_id: &str) -> String {
    let digest = Sha256::digest(format!("{event_id}\0{endpoint_id}").as_bytes());
    format!("dlv_{}", &hex::encode(digest)[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_id_per_event_and_endpoint() {
        assert_eq!(delivery_id("evt_1", "whk_1"), delivery_id("evt_1", "whk_1"));
        assert_ne!(delivery_id("evt_1", "whk_1"), delivery_id("evt_1", "whk_2"));
        assert!(crate::ids::looks_like(
            crate::ids::Kind::Delivery,
            &delivery_id("a", "b")
        ));
    }
}
