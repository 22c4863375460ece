//! `events/relay.json` runs through the relay: a start's record, its `flow.started` queued
//! with its data rendered from the assignment as written (the old image's outbox is not sent
//! again).

use inflow::jobs::{Event, EventKind};
use inflow_tests::Env;

#[tokio::test]
async fn the_relay_sample_runs() {
    let env = Env::new().await;
    let event_id = inflow::ids::new(inflow::ids::Kind::Event);
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/relay.json"),
    )
    .unwrap()
    .replace("evt_placeholder", &event_id);
    let event = serde_json::from_str(&text).expect("a DynamoDB stream event");
    let response = inflow::relay::handle(&env.relay(), event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let bodies = env.drain(&env.queues.webhook_url).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let queued: Event = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(
        (queued.id.as_str(), queued.kind),
        (event_id.as_str(), EventKind::FlowStarted)
    );
    assert_eq!(queued.request_id.as_deref(), Some("req_start"));
    assert_eq!(queued.data["assignmentId"], "asgn_placeholder");
    assert_eq!(queued.data["startedAt"], "2026-11-22T11:00:00Z");
    assert!(env.drain(&env.queues.email_url).await.is_empty());
}
