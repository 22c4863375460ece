//! The webhook worker against a real HTTP receiver on loopback.

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, KeyInit, Mac};
use inflow_tests::{
    assign, assign_body, call, endpoints::*, on_assignment, receiver::Receiver, sqs_event, Env,
    Tenant,
};
use serde_json::{json, Value};
use sha2::Sha256;

const IDLE: Duration = Duration::from_millis(1500);

async fn subscribe(env: &Env, t: &Tenant, url: &str, events: Option<&str>) -> String {
    let (_, secret) = env.webhook(t, url).events(events).create().await;
    secret
}

async fn assign_once(env: &Env, t: &Tenant) -> String {
    let res = env.send(ASSIGN_FLOW, assign(t, &assign_body(t))).await;
    assert_eq!(res.status, 200);
    res.body["assignmentId"].as_str().unwrap().to_owned()
}

/// Verifies a delivery the way the Standard Webhooks specification describes, independently
/// of our signing code.
fn verifies(secret: &str, headers: &std::collections::HashMap<String, String>, body: &str) -> bool {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let signed = format!(
        "{}.{}.{}",
        headers["webhook-id"], headers["webhook-timestamp"], body
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    headers["webhook-signature"]
        .split(' ')
        .any(|sig| sig == format!("v1,{expected}"))
}

async fn failed_list(env: &Env, t: &Tenant) -> Value {
    let res = env
        .send(
            LIST_WEBHOOK_DELIVERIES,
            call("GET", "/v1/webhooks/deliveries")
                .bearer(&t.admin_key)
                .query("status", "failed"),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    res.body["deliveries"].clone()
}

#[tokio::test]
async fn a_delivery_is_signed_the_standard_webhooks_way() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    let secret = subscribe(&env, &t, &receiver.url, None).await;
    let asgn = assign_once(&env, &t).await;
    env.pump_webhooks(&env.webhook_worker(&[0], false).await, IDLE)
        .await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert!(verifies(&secret, &r.headers, &r.body), "{:?}", r.headers);
    assert_eq!(r.headers["content-type"], "application/json");
    let ts: i64 = r.headers["webhook-timestamp"].parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
    let event: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(event["type"], "flow.assigned");
    assert_eq!(event["id"], r.headers["webhook-id"].as_str());
    assert_eq!(event["organizationId"], t.org_id.as_str());
    assert_eq!(event["data"]["assignmentId"], asgn.as_str());
    assert!(event["createdAt"].is_string());
}

#[tokio::test]
async fn only_subscribed_endpoints_get_an_event() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let wants = Receiver::start(vec![], 200).await;
    let ignores = Receiver::start(vec![], 200).await;
    subscribe(&env, &t, &wants.url, Some("flow.assigned")).await;
    subscribe(&env, &t, &ignores.url, Some("flow.completed")).await;
    assign_once(&env, &t).await;
    env.pump_webhooks(&env.webhook_worker(&[0], false).await, IDLE)
        .await;
    assert_eq!((wants.received().len(), ignores.received().len()), (1, 0));
}

#[tokio::test]
async fn failures_are_retried_and_each_attempt_recorded() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![(500, vec![]), (500, vec![])], 200).await;
    subscribe(&env, &t, &receiver.url, None).await;
    assign_once(&env, &t).await;
    env.pump_webhooks(&env.webhook_worker(&[0, 0, 0], false).await, IDLE)
        .await;
    let got = receiver.received();
    assert_eq!(got.len(), 3, "500, 500, then 200");
    assert!(
        got.iter()
            .all(|r| r.headers["webhook-id"] == got[0].headers["webhook-id"]),
        "retries keep the message id"
    );
    let delivered = env
        .send(
            LIST_WEBHOOK_DELIVERIES,
            call("GET", "/v1/webhooks/deliveries")
                .bearer(&t.admin_key)
                .query("status", "delivered"),
        )
        .await;
    let d = &delivered.body["deliveries"][0];
    assert_eq!(d["status"], "delivered");
    let statuses: Vec<u64> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["responseStatus"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 500, 200]);
    assert!(d["attempts"][0]["latencyMs"].is_u64() && d["attempts"][0]["at"].is_string());
    assert_eq!(failed_list(&env, &t).await, serde_json::json!([]));
}

#[tokio::test]
async fn gone_ends_in_the_tenant_s_failed_deliveries_and_replay_delivers_it() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![(410, vec![])], 200).await;
    subscribe(&env, &t, &receiver.url, None).await;
    assign_once(&env, &t).await;
    let worker = env.webhook_worker(&[0, 0, 0], false).await;
    env.pump_webhooks(&worker, IDLE).await;
    assert_eq!(receiver.received().len(), 1, "410 is not retried");
    let dlq = env
        .queue_url(&format!("{}-dlq", env.names.webhook_queue))
        .await;
    assert!(
        env.drain(&dlq).await.is_empty(),
        "a receiver's 410 is the tenant's, never the operator's dead-letter queue (its alarm)"
    );
    let failed = failed_list(&env, &t).await;
    assert_eq!(failed.as_array().unwrap().len(), 1);
    let id = failed[0]["id"].as_str().unwrap();

    let replay = call("POST", &format!("/v1/webhooks/deliveries/{id}/replay"))
        .bearer(&t.admin_key)
        .param("deliveryId", id);
    let res = env.send(REPLAY_WEBHOOK_DELIVERY, replay.clone()).await;
    assert_eq!(
        (res.status, res.body["delivery"]["status"].as_str()),
        (202, Some("pending"))
    );
    assert_eq!(
        env.send(REPLAY_WEBHOOK_DELIVERY, replay).await.status,
        409,
        "already pending"
    );
    env.pump_webhooks(&worker, IDLE).await;
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(failed_list(&env, &t).await, serde_json::json!([]));
}

#[tokio::test]
async fn endless_failures_end_in_the_failed_deliveries_after_the_last_try() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 500).await;
    subscribe(&env, &t, &receiver.url, None).await;
    assign_once(&env, &t).await;
    env.pump_webhooks(&env.webhook_worker(&[0, 0], false).await, IDLE)
        .await;
    assert_eq!(receiver.received().len(), 3, "a first try and two retries");
    let failed = failed_list(&env, &t).await;
    assert_eq!(failed[0]["attemptCount"], 3);
    let dlq = env
        .queue_url(&format!("{}-dlq", env.names.webhook_queue))
        .await;
    assert!(
        env.drain(&dlq).await.is_empty(),
        "nothing for the operator's alarm"
    );
}

#[tokio::test]
async fn the_same_message_delivered_twice_makes_one_delivery() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    subscribe(&env, &t, &receiver.url, None).await;
    assign_once(&env, &t).await;
    let worker = env.webhook_worker(&[0], false).await;
    env.relay_stream().await;
    let messages = env.receive(&env.queues.webhook_url).await;
    assert_eq!(messages.len(), 1);
    // SQS hands the same message out twice, one after the other and at the same time.
    inflow::delivery::handle(&worker, sqs_event(&messages)).await;
    let (a, b) = tokio::join!(
        inflow::delivery::handle(&worker, sqs_event(&messages)),
        inflow::delivery::handle(&worker, sqs_event(&messages))
    );
    assert!(a.batch_item_failures.is_empty() && b.batch_item_failures.is_empty());
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![(429, vec![("retry-after", "2".into())])], 200).await;
    subscribe(&env, &t, &receiver.url, None).await;
    assign_once(&env, &t).await;
    env.pump_webhooks(
        &env.webhook_worker(&[0, 0], false).await,
        Duration::from_secs(4),
    )
    .await;
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    let first: i64 = got[0].headers["webhook-timestamp"].parse().unwrap();
    let second: i64 = got[1].headers["webhook-timestamp"].parse().unwrap();
    assert!(second - first >= 2, "waited {}s", second - first);
}

#[tokio::test]
async fn private_targets_are_refused_outside_local_mode() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    subscribe(&env, &t, &receiver.url, None).await;
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    subscribe(&env, &t, &by_name, None).await;
    assign_once(&env, &t).await;
    env.pump_webhooks(&env.webhook_worker(&[0, 0], true).await, IDLE)
        .await;
    assert!(
        receiver.received().is_empty(),
        "no request reached the loopback receiver"
    );
    let failed = failed_list(&env, &t).await;
    assert_eq!(failed.as_array().unwrap().len(), 2, "{failed}");
    for d in failed.as_array().unwrap() {
        assert_eq!(d["attemptCount"], 1, "refusals are not retried");
        assert!(d["attempts"][0]["responseStatus"].is_null());
    }
}

/// What the webhook queue holds now, left where it is.
async fn queued(env: &Env) -> i64 {
    let attributes = env
        .sqs
        .get_queue_attributes()
        .queue_url(&env.queues.webhook_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let count = |name| {
        attributes
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        + count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        + count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
}

/// Sweeps as if `ahead` had passed: what is parked until then wakes.
async fn sweep_ahead(env: &Env, ahead: chrono::Duration) -> inflow::sweeper::Summary {
    let later = chrono::Utc::now() + ahead;
    inflow::sweeper::sweep_within(&env.app, later, inflow::sweeper::BOUNDS).await
}

#[tokio::test]
async fn a_long_wait_parks_the_delivery_until_the_sweeper_wakes_it() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![(500, vec![])], 200).await;
    subscribe(&env, &t, &receiver.url, None).await;
    assign_once(&env, &t).await;
    // A two-hour wait after the first failure: nothing is queued; the delivery is parked.
    let worker = env.webhook_worker(&[7200, 0], false).await;
    env.pump_webhooks(&worker, IDLE).await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(queued(&env).await, 0, "no message hops through the queue");
    let pending = env
        .send(
            LIST_WEBHOOK_DELIVERIES,
            call("GET", "/v1/webhooks/deliveries")
                .bearer(&t.admin_key)
                .query("status", "pending"),
        )
        .await;
    let next = pending.body["deliveries"][0]["nextAttemptAt"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = chrono::DateTime::parse_from_rfc3339(&next).unwrap();
    assert!(
        (at.timestamp() - chrono::Utc::now().timestamp() - 7200).abs() < 30,
        "{next}"
    );
    // Not yet due: left parked.
    assert_eq!(
        sweep_ahead(&env, chrono::Duration::minutes(60))
            .await
            .woken
            .found,
        0
    );
    // Due: woken once, and delivered.
    let woken = sweep_ahead(&env, chrono::Duration::minutes(121)).await;
    assert_eq!((woken.woken.found, woken.woken.done), (1, 1), "{woken:?}");
    assert_eq!(
        sweep_ahead(&env, chrono::Duration::minutes(121))
            .await
            .woken
            .found,
        0
    );
    env.pump_webhooks(&worker, IDLE).await;
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(failed_list(&env, &t).await, json!([]));
}

#[tokio::test]
async fn a_day_long_pause_parks_its_receiver_s_deliveries_with_no_hops() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![(429, vec![("retry-after", "86400".into())])], 200).await;
    subscribe(&env, &t, &receiver.url, None).await;
    let worker = env.webhook_worker(&[0, 0, 0], false).await;
    assign_once(&env, &t).await;
    env.pump_webhooks(&worker, IDLE).await;
    assert_eq!(receiver.received().len(), 1, "the 429");
    // Another event while the endpoint is paused for a day: parked at once, unclaimed.
    let res = env
        .send(
            COMPLETE_ASSIGNMENT,
            on_assignment("POST", "/complete", &t, &assign_once(&env, &t).await),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    env.pump_webhooks(&worker, IDLE).await;
    assert_eq!(receiver.received().len(), 1, "nothing sent while paused");
    assert_eq!(
        queued(&env).await,
        0,
        "nothing hops through the queue for the day"
    );
    // A day later: the pause is over (its time moved into the past) and the sweeper wakes both.
    let endpoint = inflow::webhooks::list(&env.app, &t.org_id).await.unwrap()[0].clone();
    env.app
        .table
        .client()
        .update_item()
        .table_name(&env.app.config.table_name)
        .key(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#{}", t.org_id)),
        )
        .key(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("WEBHOOK#{}", endpoint.id)),
        )
        .update_expression("REMOVE paused_until")
        .send()
        .await
        .unwrap();
    let woken = sweep_ahead(&env, chrono::Duration::hours(25)).await;
    assert!(woken.woken.done >= 2, "{woken:?}");
    env.pump_webhooks(&worker, IDLE).await;
    let got = receiver.received();
    let mut ids: Vec<&str> = got
        .iter()
        .map(|r| r.headers["webhook-id"].as_str())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        got.len() - 1,
        "each event once after the pause: {ids:?}"
    );
}

#[tokio::test]
async fn listing_checks_its_parameters() {
    let env = Env::new().await;
    let t = env.tenant().await;
    for (k, v) in [("status", "lost"), ("limit", "0"), ("limit", "x")] {
        let res = env
            .send(
                LIST_WEBHOOK_DELIVERIES,
                call("GET", "/v1/webhooks/deliveries")
                    .bearer(&t.admin_key)
                    .query(k, v),
            )
            .await;
        assert_eq!(
            (res.status, res.body["error"].as_str()),
            (400, Some("invalid_request")),
            "{k}={v}"
        );
    }
    for id in ["dlv_nothere", "nope", "../x"] {
        let res = env
            .send(
                REPLAY_WEBHOOK_DELIVERY,
                call("POST", "/x")
                    .bearer(&t.admin_key)
                    .param("deliveryId", id),
            )
            .await;
        assert_eq!(res.status, 404, "{id}");
    }
    let other = env.tenant().await;
    assert_eq!(failed_list(&env, &other).await, serde_json::json!([]));
}

#[tokio::test]
async fn an_imports_events_travel_in_one_message_per_relay_batch_that_the_worker_splits() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    subscribe(&env, &t, &receiver.url, Some("invitation.created")).await;
    // One relay batch of records: one message of events, more than the worker fans out at once.
    let n = env.stream.settings().batch_size;
    assert!(n > inflow::delivery::EVENTS_PER_FAN_OUT);
    let list = (0..n)
        .map(|i| format!("p{i}@example.com"))
        .collect::<Vec<_>>()
        .join(",");
    let res = env
        .send(
            IMPORT_INVITATIONS,
            inflow_tests::invitations("POST", &t, "/import")
                .json(&serde_json::json!({"list": list})),
        )
        .await;
    assert_eq!(res.status, 200);
    let queue = env.queues.webhook_url.clone();
    env.relay_stream().await;
    let queued = env.receive(&queue).await;
    assert_eq!(queued.len(), 1, "{n} events fit one message");
    // The worker splits it, twice (SQS may deliver a message twice), then runs the parts.
    let worker = env.webhook_worker(&[0], false).await;
    for _ in 0..2 {
        let response = inflow::delivery::handle(&worker, sqs_event(&queued)).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert!(receiver.received().is_empty(), "split, not delivered");
    let handle = queued[0].receipt_handle().unwrap();
    env.sqs
        .delete_message()
        .queue_url(&queue)
        .receipt_handle(handle)
        .send()
        .await
        .unwrap();
    let parts = env.pump_webhooks(&worker, IDLE).await;
    assert!(parts >= 1, "the parts were queued");
    let ids: std::collections::HashSet<String> = receiver
        .received()
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert_eq!((receiver.received().len(), ids.len()), (n, n));
}

#[tokio::test]
async fn proxy_variables_do_not_route_deliveries() {
    // A proxy in the environment would carry deliveries past the address checks; the worker's
    // client ignores it. (It is set while the worker's client is built, where it is read;
    // nextest runs each test in a process of its own.)
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    subscribe(&env, &t, &receiver.url, None).await;
    assign_once(&env, &t).await;
    let settings = inflow::delivery::DeliveryConfig {
        schedule: vec![std::time::Duration::ZERO],
        allow_private_targets: true,
        timeout: std::time::Duration::from_secs(5),
        in_flight: inflow::delivery::limits::IN_FLIGHT,
        per_host: inflow::delivery::limits::PER_HOST,
    };
    let proxies = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];
    for name in proxies {
        std::env::set_var(name, "http://127.0.0.1:9");
    }
    let worker =
        inflow::delivery::WebhookWorker::new(env.app.clone(), env.queues.clone(), settings);
    for name in proxies {
        std::env::remove_var(name);
    }
    let worker = worker.unwrap();
    env.pump_webhooks(&worker, IDLE).await;
    assert_eq!(receiver.received().len(), 1, "delivered directly");
}

#[tokio::test]
async fn delivery_records_expire_a_month_after_they_are_made_or_replayed() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 410).await;
    subscribe(&env, &t, &receiver.url, None).await;
    assign_once(&env, &t).await;
    env.pump_webhooks(&env.webhook_worker(&[0], false).await, IDLE)
        .await;
    let month = inflow::store::deliveries::RETENTION_DAYS * 86_400;
    let ttl_of_delivery = |items: Vec<inflow_tests::Item>| {
        let d = items
            .into_iter()
            .find(|i| i["SK"].as_s().unwrap().starts_with("DLV#"))
            .expect("a delivery record");
        d["ttl"].as_n().unwrap().parse::<i64>().unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    let ttl = ttl_of_delivery(env.items().await);
    assert!(
        (now + month - 60..=now + month + 60).contains(&ttl),
        "{ttl}"
    );
    let failed = failed_list(&env, &t).await;
    let id = failed[0]["id"].as_str().unwrap();
    let replay = call("POST", &format!("/v1/webhooks/deliveries/{id}/replay"))
        .bearer(&t.admin_key)
        .param("deliveryId", id);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(env.send(REPLAY_WEBHOOK_DELIVERY, replay).await.status, 202);
    assert!(
        ttl_of_delivery(env.items().await) > ttl,
        "a replay keeps it a month more"
    );
}

#[tokio::test]
async fn a_receiver_that_asks_to_slow_down_gets_nothing_until_it_said() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let slow = Receiver::start(vec![(429, vec![("retry-after", "3".into())])], 200).await;
    let other = Receiver::start(vec![], 200).await;
    subscribe(&env, &t, &slow.url, None).await;
    subscribe(&env, &t, &other.url, None).await;
    let worker = env.webhook_worker(&[0, 0], false).await;
    let id = assign_once(&env, &t).await;
    env.pump_webhooks(&worker, Duration::from_millis(300)).await;
    assert_eq!((slow.received().len(), other.received().len()), (1, 1));

    // Another event while the slow receiver's pause lasts: only the other receiver gets it.
    let started = env
        .send(START_ASSIGNMENT, on_assignment("POST", "/start", &t, &id))
        .await;
    assert_eq!(started.status, 200, "{}", started.raw);
    env.pump_webhooks(&worker, Duration::from_millis(300)).await;
    assert_eq!((slow.received().len(), other.received().len()), (1, 2));

    // Once it is over, both of the slow receiver's events arrive, no sooner than it said.
    env.pump_webhooks(&worker, Duration::from_secs(4)).await;
    let got = slow.received();
    assert_eq!(got.len(), 3, "the first retried, the second made");
    let at = |i: usize| got[i].headers["webhook-timestamp"].parse::<i64>().unwrap();
    assert!(
        at(1) - at(0) >= 3 && at(2) - at(0) >= 3,
        "{} {} {}",
        at(0),
        at(1),
        at(2)
    );
    let kinds: Vec<Value> = got
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["type"].clone())
        .collect();
    assert!(kinds.contains(&json!("flow.started")), "{kinds:?}");
    let attempts = env
        .send(
            LIST_WEBHOOK_DELIVERIES,
            call("GET", "/v1/webhooks/deliveries")
                .bearer(&t.admin_key)
                .query("status", "delivered"),
        )
        .await;
    let counts: Vec<(Value, Value)> = attempts.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["url"].clone(), d["attemptCount"].clone()))
        .collect();
    assert!(
        counts.contains(&(json!(slow.url), json!(1))),
        "the paused delivery's wait was no attempt: {counts:?}"
    );
}

/// A worker whose instance has at most `in_flight` deliveries in hand at once (their writes
/// and requests), of which `per_host` requests to one host.
fn bounded_worker(env: &Env, in_flight: usize, per_host: usize) -> inflow::delivery::WebhookWorker {
    let settings = inflow::delivery::DeliveryConfig {
        schedule: vec![Duration::ZERO],
        allow_private_targets: true,
        timeout: Duration::from_secs(1),
        in_flight,
        per_host,
    };
    inflow::delivery::WebhookWorker::new(env.app.clone(), env.queues.clone(), settings).unwrap()
}

#[tokio::test]
async fn deliveries_to_one_host_are_bounded_and_what_cannot_start_in_time_is_handed_back() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start_slow(vec![], 200, Duration::from_millis(150)).await;
    subscribe(&env, &t, &format!("{}?a", receiver.url), None).await;
    subscribe(&env, &t, &format!("{}?b", receiver.url), None).await;
    let list: Vec<String> = (0..15)
        .map(|i| format!("bounded-{i}@example.com"))
        .collect();
    let res = env
        .send(
            IMPORT_INVITATIONS,
            inflow_tests::invitations("POST", &t, "/import")
                .json(&json!({"list": list.join("\n")})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    let worker = bounded_worker(&env, 3, 2);

    // One invocation with about half a second to start attempts in: it makes what it can, two
    // at a time, and hands the rest back to the queue unclaimed.
    env.relay_stream().await;
    let messages = env.receive(&env.queues.webhook_url).await;
    assert!(!messages.is_empty());
    let deadline = std::time::SystemTime::now() + Duration::from_millis(3500);
    let answer = inflow::delivery::handle_by(&worker, sqs_event(&messages), deadline).await;
    assert!(answer.batch_item_failures.is_empty());
    let made = receiver.received().len();
    assert!(
        (1..30).contains(&made),
        "{made} of 30 in the first invocation"
    );
    for m in &messages {
        env.sqs
            .delete_message()
            .queue_url(&env.queues.webhook_url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }
    // The rest, handed back, arrive through the next invocations: each exactly once.
    env.pump_webhooks(&worker, IDLE).await;
    let got = receiver.received();
    assert_eq!(got.len(), 30, "15 events to 2 endpoints");
    let mut per_event = std::collections::HashMap::new();
    for r in &got {
        *per_event
            .entry(r.headers["webhook-id"].clone())
            .or_insert(0) += 1;
    }
    assert_eq!(per_event.len(), 15);
    assert!(
        per_event.values().all(|n| *n == 2),
        "each event once to each endpoint"
    );
    assert_eq!(receiver.peak(), 2, "never more than 2 at once to the host");
    assert_eq!(
        worker.peak_in_flight(),
        3,
        "never more than 3 deliveries in hand"
    );
}
