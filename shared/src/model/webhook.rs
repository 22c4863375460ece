//! A webhook endpoint as stored: where an organization wants its events, and its sealed
//! signing secrets.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::jobs::EventKind;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub org_id: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A disabled endpoint gets no new deliveries, and its pending ones end failed.
    #[serde(default)]
    pub disabled: bool,
    /// The signing secret, sealed with the app secret (never stored in the clear).
    pub secret_sealed: String,
    /// The secret the last rotation replaced, sealed; it still signs until `previous_until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_sealed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// The mark of the idempotent request that created it (`idempotency::Mark`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_by: Option<String>,
    /// The mark of the idempotent request that last rotated its secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_by: Option<String>,
    /// The receiver asked to slow down (429 or 503) until then: no attempt is made to it
    /// meanwhile, whichever delivery it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<DateTime<Utc>>,
}

impl WebhookEndpoint {
    /// The sealed secrets that sign a delivery now: the current one, and the one a rotation
    /// replaced while its overlap lasts (Standard Webhooks allows several signatures).
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut secrets = vec![self.secret_sealed.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret_sealed, self.previous_until) {
            if until > now {
                secrets.push(previous);
            }
        }
        secrets
    }

    pub fn subscribes_to(&self, kind: EventKind) -> bool {
        !self.disabled && self.events.iter().any(|t| t == kind.as_str())
    }
}

/// What a `PATCH` changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    pub disabled: Option<bool>,
}

impl EndpointChange {
    pub fn is_empty(&self) -> bool {
        self.url.is_none()
            && self.events.is_none()
            && self.description.is_none()
            && self.disabled.is_none()
    }
}
