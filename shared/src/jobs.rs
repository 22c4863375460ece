//! The jobs a state change causes: webhook events, invitation emails and webhook attempts.
//!
//! A request never queues a job. It writes the jobs together with the state change, in the
//! same DynamoDB write, as the changed item's outbox ([`Outbox`], stored by `store::outbox`),
//! and the relay (`crate::relay`) reads them from the table's stream and queues them. So a
//! change that was written has its jobs, whatever fails afterwards, and a change that was not
//! written has none (docs/api.md, "Jobs").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids;

/// Every event type Inflow emits: the single list the webhook subscriptions, the relay and
/// the documentation read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "flow.assigned")]
    FlowAssigned,
    #[serde(rename = "flow.started")]
    FlowStarted,
    #[serde(rename = "flow.completed")]
    FlowCompleted,
    #[serde(rename = "flow.overdue")]
    FlowOverdue,
    #[serde(rename = "invitation.created")]
    InvitationCreated,
    #[serde(rename = "invitation.accepted")]
    InvitationAccepted,
    #[serde(rename = "invitation.canceled")]
    InvitationCanceled,
    #[serde(rename = "invitation.expired")]
    InvitationExpired,
}

/// What an event describes; its `data` is rendered from that record as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Assignment,
    Invitation,
}

impl EventKind {
    pub const ALL: &'static [EventKind] = &[
        EventKind::FlowAssigned,
        EventKind::FlowStarted,
        EventKind::FlowCompleted,
        EventKind::FlowOverdue,
        EventKind::InvitationCreated,
        EventKind::InvitationAccepted,
        EventKind::InvitationCanceled,
        EventKind::InvitationExpired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::FlowAssigned => "flow.assigned",
            EventKind::FlowStarted => "flow.started",
            EventKind::FlowCompleted => "flow.completed",
            EventKind::FlowOverdue => "flow.overdue",
            EventKind::InvitationCreated => "invitation.created",
            EventKind::InvitationAccepted => "invitation.accepted",
            EventKind::InvitationCanceled => "invitation.canceled",
            EventKind::InvitationExpired => "invitation.expired",
        }
    }

    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    pub fn subject(self) -> Subject {
        match self {
            EventKind::FlowAssigned
            | EventKind::FlowStarted
            | EventKind::FlowCompleted
            | EventKind::FlowOverdue => Subject::Assignment,
            EventKind::InvitationCreated
            | EventKind::InvitationAccepted
            | EventKind::InvitationCanceled
            | EventKind::InvitationExpired => Subject::Invitation,
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Which lane a job travels in. Each organization's jobs are their own message groups on the
/// shared queues (SQS fair queues: a group with a backlog does not hold up the others), and an
/// organization's bulk work (an import's emails and events, their deliveries and retries) is a
/// group apart from its interactive work, so one import holds up neither another organization's
/// nor its own single invitation (docs/bench/capacity.md, "Tenants").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    #[default]
    Interactive,
    Bulk,
}

impl Lane {
    pub fn is_interactive(&self) -> bool {
        *self == Lane::Interactive
    }

    /// The message group of an organization's jobs in this lane.
    pub fn group(self, org_id: &str) -> String {
        match self {
            Lane::Interactive => org_id.to_owned(),
            Lane::Bulk => format!("{org_id}{BULK_SUFFIX}"),
        }
    }

    /// The lane of a message group made by [`Lane::group`].
    pub fn of_group(group: &str) -> Lane {
        if group.ends_with(BULK_SUFFIX) {
            Lane::Bulk
        } else {
            Lane::Interactive
        }
    }
}

const BULK_SUFFIX: &str = ":bulk";

/// One event, as the webhook worker delivers it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub created_at: DateTime<Utc>,
    pub organization_id: String,
    /// The request that caused it, for tracing across the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub data: serde_json::Value,
}

/// An event as its write records it: all of it but `data`, which the relay renders from the
/// record as written, so that an event always describes the committed state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventNote {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub created_at: DateTime<Utc>,
    pub organization_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Bulk for an import's events (not part of the event delivered).
    #[serde(default, skip_serializing_if = "Lane::is_interactive")]
    pub lane: Lane,
}

impl EventNote {
    pub fn new(kind: EventKind, org_id: &str, request_id: &str, now: DateTime<Utc>) -> Self {
        Self {
            id: ids::new(crate::ids::Kind::Event),
            kind,
            created_at: now,
            organization_id: org_id.to_owned(),
            request_id: Some(request_id.to_owned()),
            lane: Lane::Interactive,
        }
    }

    pub fn in_lane(self, lane: Lane) -> Self {
        Self { lane, ..self }
    }

    /// An event whose id is fixed by what happened (an assignment's start, a deadline missed):
    /// however often that fact is reported, it is one event.
    pub fn for_fact(
        kind: EventKind,
        fact: &str,
        org_id: &str,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{kind}\0{fact}").as_bytes());
        Self {
            id: format!("evt_{}", &hex::encode(digest)[..24]),
            ..Self::new(kind, org_id, request_id, now)
        }
    }

    pub fn with_data(self, data: serde_json::Value) -> Event {
        Event {
            id: self.id,
            kind: self.kind,
            created_at: self.created_at,
            organization_id: self.organization_id,
            request_id: self.request_id,
            data,
        }
    }
}

/// The type of the test event an endpoint's owner asks for
/// (`POST /v1/webhooks/endpoints/{id}/test`).
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// A test event, as its write records it (on the endpoint item). It is not an [`EventKind`]:
/// nothing subscribes to it, and it goes to the one endpoint it names, whatever that endpoint
/// subscribes to. Its `data` is fixed by the note, not rendered from a record; otherwise it
/// travels the normal delivery path (the relay queues it, the webhook worker delivers, signs,
/// retries and records it like any event).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TestNote {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub organization_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub endpoint_id: String,
}

impl TestNote {
    /// The event as delivered: the envelope of every event, with `type` `webhook.test`.
    pub fn envelope(&self) -> serde_json::Value {
        let mut event = serde_json::json!({
            "id": self.id,
            "type": TEST_EVENT_TYPE,
            "createdAt": self.created_at,
            "organizationId": self.organization_id,
            "data": {
                "endpointId": self.endpoint_id,
                "message": "A test event from Inflow: this endpoint receives and can verify our deliveries.",
            },
        });
        if let Some(request_id) = &self.request_id {
            event["requestId"] = serde_json::json!(request_id);
        }
        event
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
    /// Times SES throttled it and it went back to the queue to wait (`crate::email`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferrals: u32,
    /// Bulk for an import's emails: sent at the pace that leaves SES room for single invitations.
    #[serde(default, skip_serializing_if = "Lane::is_interactive")]
    pub lane: Lane,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A job for one attempt of one webhook delivery (the worker's retries, and replays).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AttemptJob {
    pub delivery_id: String,
    pub org_id: String,
    pub attempt: u32,
    /// Epoch seconds before which the attempt waits (SQS delays stop at 15 minutes).
    pub not_before: i64,
    /// The delivery's endpoint, read before the claim to honour its pause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    /// The lane of the event it delivers: its retries stay in its group.
    #[serde(default, skip_serializing_if = "Lane::is_interactive")]
    pub lane: Lane,
}

impl AttemptJob {
    /// Its message group.
    pub fn group(&self) -> String {
        self.lane.group(&self.org_id)
    }
}

impl EmailJob {
    /// Its message group.
    pub fn group(&self) -> String {
        self.lane.group(&self.org_id)
    }
}

/// One job of a write.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub enum Job {
    Event(EventNote),
    Email(EmailJob),
    /// The next attempt of the webhook delivery written (a replay); the relay makes its
    /// [`AttemptJob`] from the delivery as written.
    NextAttempt,
    /// A test event for one endpoint.
    Test(TestNote),
}

/// The jobs of one write. Its id is new for every write, so the relay can tell the jobs a write
/// made from the ones an item still carries from an earlier write.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Outbox {
    pub id: String,
    pub jobs: Vec<Job>,
}

impl Outbox {
    pub fn new(jobs: Vec<Job>) -> Self {
        Self {
            id: ids::new(crate::ids::Kind::Outbox),
            jobs,
        }
    }

    pub fn event(note: EventNote) -> Self {
        Self::new(vec![Job::Event(note)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_their_wire_names() {
        for kind in EventKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
            assert_eq!(EventKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(EventKind::parse("flow.nope"), None);
        assert_eq!(EventKind::FlowOverdue.subject(), Subject::Assignment);
        assert_eq!(EventKind::InvitationExpired.subject(), Subject::Invitation);
    }

    #[test]
    fn lanes_are_message_groups_per_organization() {
        assert_eq!(Lane::Interactive.group("org_1"), "org_1");
        assert_eq!(Lane::Bulk.group("org_1"), "org_1:bulk");
        for lane in [Lane::Interactive, Lane::Bulk] {
            assert_eq!(Lane::of_group(&lane.group("org_1")), lane);
        }
        let note = EventNote::new(EventKind::InvitationCreated, "o", "r", Utc::now());
        assert!(!serde_json::to_string(&note).unwrap().contains("lane"));
        let bulk = note.in_lane(Lane::Bulk);
        let back: EventNote = serde_json::from_str(&serde_json::to_string(&bulk).unwrap()).unwrap();
        assert_eq!(back.lane, Lane::Bulk);
        let delivered = serde_json::to_value(bulk.with_data(serde_json::json!({}))).unwrap();
        assert!(
            delivered.get("lane").is_none(),
            "the lane is not part of the event"
        );
    }

    #[test]
    fn fact_events_have_stable_ids() {
        let now = Utc::now();
        let a = EventNote::for_fact(EventKind::FlowStarted, "asgn_1", "org_1", "req_1", now);
        let b = EventNote::for_fact(EventKind::FlowStarted, "asgn_1", "org_1", "req_2", now);
        let c = EventNote::for_fact(EventKind::FlowCompleted, "asgn_1", "org_1", "req_1", now);
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert!(a.id.starts_with("evt_"));
    }

    #[test]
    fn envelope_has_the_documented_fields() {
        let note = EventNote::new(EventKind::FlowAssigned, "org_1", "req_1", Utc::now());
        let v = serde_json::to_value(note.with_data(serde_json::json!({"a": 1}))).unwrap();
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
        assert_eq!(v["type"], "flow.assigned");
    }

    #[test]
    fn a_test_event_has_the_envelope_of_every_event() {
        let note = TestNote {
            id: "evt_1".into(),
            created_at: Utc::now(),
            organization_id: "org_1".into(),
            request_id: Some("req_1".into()),
            endpoint_id: "whk_1".into(),
        };
        let envelope = note.envelope();
        let other = EventNote::new(EventKind::FlowAssigned, "org_1", "req_1", Utc::now())
            .with_data(serde_json::json!({}));
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&envelope), keys(&serde_json::to_value(other).unwrap()));
        assert_eq!(envelope["type"], TEST_EVENT_TYPE);
        assert_eq!(envelope["data"]["endpointId"], "whk_1");
        assert_eq!(envelope["requestId"], "req_1");
    }

    #[test]
    fn outboxes_round_trip_and_have_fresh_ids() {
        let now = Utc::now();
        let outbox = Outbox::new(vec![
            Job::Event(EventNote::new(EventKind::InvitationCreated, "o", "r", now)),
            Job::Email(EmailJob {
                invitation_id: "inv_1".into(),
                org_id: "o".into(),
                secret_sealed: "sealed".into(),
                request_id: None,
                deferrals: 0,
                lane: Lane::Bulk,
            }),
            Job::NextAttempt,
            Job::Test(TestNote {
                id: "evt_1".into(),
                created_at: now,
                organization_id: "o".into(),
                request_id: Some("r".into()),
                endpoint_id: "whk_1".into(),
            }),
        ]);
        let json = serde_json::to_string(&outbox).unwrap();
        assert_eq!(serde_json::from_str::<Outbox>(&json).unwrap(), outbox);
        assert_ne!(Outbox::new(vec![]).id, Outbox::new(vec![]).id);
    }
}
