//! Webhook deliveries as the v1 API shows them (`GET /v1/webhooks/deliveries`, replay).

use serde_json::{json, Value};

use super::{opt_time, time};
use crate::{
    error::Error,
    model::delivery::{Delivery, DeliveryStatus},
};

/// The most deliveries one list answers.
pub const MAX_LIMIT: i32 = 100;

/// `status` (default `failed`) and `limit` (default and most [`MAX_LIMIT`]) of a list.
pub fn parse_list(
    status: Option<&str>,
    limit: Option<&str>,
) -> Result<(DeliveryStatus, i32), Error> {
    let status = match status {
        None => DeliveryStatus::Failed,
        Some(s) => DeliveryStatus::parse(s)
            .ok_or_else(|| Error::invalid("status", "must be failed, pending or delivered"))?,
    };
    let limit = match limit {
        None => MAX_LIMIT,
        Some(l) => l
            .parse()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| Error::invalid("limit", "must be 1-100"))?,
    };
    Ok((status, limit))
}

pub fn delivery(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "eventId": d.event_id,
        "eventType": d.event_type,
        "endpointId": d.endpoint_id,
        "url": d.url,
        "status": d.status.as_str(),
        "attemptCount": d.attempts.len(),
        "attempts": d.attempts.iter().map(|a| json!({
            "attempt": a.attempt,
            "at": time(a.at),
            "latencyMs": a.latency_ms,
            "responseStatus": a.response_status,
            "error": a.error,
        })).collect::<Vec<_>>(),
        "createdAt": time(d.created_at),
        "updatedAt": time(d.updated_at),
        "nextAttemptAt": opt_time(d.next_attempt_at),
    })
}

pub fn list(found: &[Delivery]) -> Value {
    json!({"deliveries": found.iter().map(delivery).collect::<Vec<_>>()})
}

pub fn replayed(d: &Delivery) -> Value {
    json!({"delivery": delivery(d)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_defaults_to_failed_and_100() {
        assert_eq!(
            parse_list(None, None).unwrap(),
            (DeliveryStatus::Failed, 100)
        );
        assert_eq!(
            parse_list(Some("pending"), Some("5")).unwrap(),
            (DeliveryStatus::Pending, 5)
        );
        for (status, limit) in [
            (Some("lost"), None),
            (None, Some("0")),
            (None, Some("101")),
            (None, Some("x")),
        ] {
            assert!(parse_list(status, limit).is_err(), "{status:?} {limit:?}");
        }
    }
}
