//! `events/webhook-worker.json` runs through the webhook worker.

use inflow_tests::{receiver::Receiver, Env};

#[tokio::test]
async fn the_webhook_worker_sample_runs() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    env.webhook(&t, &receiver.url).create().await;
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/webhook-worker.json"),
    )
    .unwrap()
    .replace("org_placeholder", &t.org_id)
    .replace(
        "evt_placeholder",
        &inflow::ids::new(inflow::ids::Kind::Event),
    );
    let event = serde_json::from_str(&text).expect("an SQS event");
    let worker = env.webhook_worker(&[0], false).await;
    let response = inflow::delivery::handle(&worker, event).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(receiver.received().len(), 1);
}
