//! Events from the table: a state change and the jobs it causes are one write, and the relay
//! queues them from the table's stream. Each job survives each injected fault exactly once:
//! stream records handed over twice and out of order, a queue that fails and comes back, a
//! record the relay cannot read, a request that dies right after its write, an import cut off
//! half-way.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use aws_sdk_dynamodb::{operation::update_item::UpdateItemInput, types::AttributeValue};
use chrono::Utc;
use inflow::{
    aws_lambda_events::event::dynamodb::EventRecord,
    jobs::{EmailJob, EventKind},
    relay::{self, Ready},
};
use inflow_tests::{
    admin_flow, assign, call, consume, endpoints::*, invitations, on_assignment,
    receiver::Receiver, stream, Answer, Call, Env, Faults, Function, Tenant, FAST_BACKOFF,
};
use serde_json::{json, Value};

const IDLE: Duration = Duration::from_millis(1500);

async fn assigned(env: &Env, t: &Tenant, body: Value) -> String {
    let res = env.send(ASSIGN_FLOW, assign(t, &body)).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    res.body["assignmentId"].as_str().unwrap().to_owned()
}

fn create_join(t: &Tenant, body: Value) -> Call {
    call("POST", "/admin/v1/flows:createJoinOrganization")
        .bearer(&t.admin_key)
        .json(&body)
}

fn create_signup(t: &Tenant, body: Value) -> Call {
    call("POST", "/admin/v1/flows:createSignup")
        .bearer(&t.admin_key)
        .json(&body)
}

async fn sent(env: &Env, f: Function, c: Call, status: u16) -> Answer {
    let res = env.send(f, c).await;
    assert_eq!(res.status, status, "{f:?}: {}", res.raw);
    res
}

async fn subscribe(env: &Env, t: &Tenant, receiver: &Receiver) {
    env.webhook(t, &receiver.url).create().await;
}

/// (webhook-id, event type) of every delivery a receiver got.
fn deliveries(receiver: &Receiver) -> Vec<(String, String)> {
    receiver
        .received()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            (
                r.headers["webhook-id"].clone(),
                body["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn counts<'a>(kinds: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for kind in kinds {
        *counts.entry(kind.to_owned()).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn each_event_type_reaches_each_endpoint_once_from_duplicated_and_reordered_records() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receivers = [
        Receiver::start(vec![], 200).await,
        Receiver::start(vec![], 200).await,
    ];
    for r in &receivers {
        subscribe(&env, &t, r).await;
    }
    // Each step is sent twice, as a client retries after a lost response: the second changes
    // nothing and writes no event.
    let id = assigned(
        &env,
        &t,
        json!({"flowId": t.flow.id, "userEmail": t.user.email}),
    )
    .await;
    for (f, step) in [
        (START_ASSIGNMENT, "/start"),
        (START_ASSIGNMENT, "/start"),
        (COMPLETE_ASSIGNMENT, "/complete"),
        (COMPLETE_ASSIGNMENT, "/complete"),
    ] {
        sent(&env, f, on_assignment("POST", step, &t, &id), 200).await;
    }
    let sam = env.user(&t, "sam@example.com").create().await;
    let due = (Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    assigned(
        &env,
        &t,
        json!({"flowId": t.flow.id, "userEmail": sam.email, "dueDate": due}),
    )
    .await;
    let joined = sent(
        &env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(&t, json!({"email": "joiner@example.com"})),
        200,
    )
    .await;
    let secret = joined.body["secret"].as_str().unwrap();
    for _ in 0..2 {
        sent(
            &env,
            CONSUME_FLOW,
            consume(&t, &format!("{secret}:consume")),
            200,
        )
        .await;
    }
    let canceled = sent(
        &env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(&t, json!({"email": "canceled@example.com"})),
        200,
    )
    .await;
    let cancel = format!("{}:cancel", canceled.body["id"].as_str().unwrap());
    for _ in 0..2 {
        sent(&env, CANCEL_FLOW, admin_flow("POST", &t, &cancel), 200).await;
    }
    let invited = sent(
        &env,
        CREATE_INVITATION,
        invitations("POST", &t, "").json(&json!({"email": "deleted@example.com"})),
        201,
    )
    .await;
    let number = invited.body["id"].to_string();
    sent(
        &env,
        DELETE_INVITATION,
        invitations("DELETE", &t, &format!("/{number}")),
        204,
    )
    .await;
    sent(
        &env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(&t, json!({"email": "expires@example.com", "ttl": "1s"})),
        200,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let swept = inflow::sweeper::sweep(&env.app, Utc::now()).await;
    assert_eq!(
        (swept.overdue.done, swept.expired.done),
        (1, 1),
        "{swept:?}"
    );

    // The event source hands everything over; then every record again, in reverse order, and
    // then twice more in one batch.
    assert!(env.relay_stream().await.given_up.is_empty());
    let mut records = env.outbox_records().await;
    records.reverse();
    assert!(env
        .relay_records(&records)
        .await
        .batch_item_failures
        .is_empty());
    let twice: Vec<Value> = records.iter().chain(&records).cloned().collect();
    assert!(env
        .relay_records(&twice)
        .await
        .batch_item_failures
        .is_empty());
    env.pump_webhooks(&env.webhook_worker(&[0], false).await, IDLE)
        .await;

    let expected: BTreeMap<String, usize> = [
        ("flow.assigned", 2),
        ("flow.started", 1),
        ("flow.completed", 1),
        ("flow.overdue", 1),
        ("invitation.created", 4),
        ("invitation.accepted", 1),
        ("invitation.canceled", 2),
        ("invitation.expired", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    assert_eq!(
        expected.len(),
        EventKind::ALL.len(),
        "every event type is here"
    );
    for r in &receivers {
        let got = deliveries(r);
        let ids: HashSet<&String> = got.iter().map(|(id, _)| id).collect();
        assert_eq!(ids.len(), got.len(), "each event once: {got:?}");
        assert_eq!(counts(got.iter().map(|(_, k)| k.as_str())), expected);
    }
}

#[tokio::test]
async fn each_invitation_is_emailed_once_from_duplicated_records() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let tag = inflow::ids::random(8).to_lowercase();
    let address = |name: &str| format!("{name}-{tag}@example.com");
    sent(
        &env,
        CREATE_INVITATION,
        invitations("POST", &t, "").json(&json!({"email": address("one")})),
        201,
    )
    .await;
    let list = format!("{}, {}", address("two"), address("three"));
    sent(
        &env,
        IMPORT_INVITATIONS,
        invitations("POST", &t, "/import").json(&json!({"list": list})),
        200,
    )
    .await;
    sent(
        &env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(&t, json!({"email": address("four")})),
        200,
    )
    .await;
    sent(
        &env,
        CREATE_SIGNUP_FLOW,
        create_signup(&t, json!({"email": address("five")})),
        200,
    )
    .await;
    env.relay_stream().await;
    let records = env.outbox_records().await;
    let twice: Vec<Value> = records.iter().chain(&records).cloned().collect();
    assert!(env
        .relay_records(&twice)
        .await
        .batch_item_failures
        .is_empty());
    let jobs: Vec<EmailJob> = env
        .drain(&env.queues.email_url)
        .await
        .iter()
        .map(|body| serde_json::from_str(body).unwrap())
        .collect();
    assert_eq!(jobs.len(), 15, "three copies of each of five jobs");

    // SQS hands the copies to three workers at once; a copy that finds another sending comes
    // back later (here: at once, after the three are done).
    let worker = env.email_worker().await;
    let thirds: Vec<Vec<EmailJob>> = (0..3)
        .map(|i| jobs.iter().skip(i).step_by(3).cloned().collect())
        .collect();
    let answers = futures::future::join_all(
        thirds
            .iter()
            .map(|jobs| inflow::email::handle(&worker, inflow_tests::email_event(jobs))),
    )
    .await;
    let failed: HashSet<String> = answers
        .iter()
        .flat_map(|a| {
            a.batch_item_failures
                .iter()
                .map(|f| f.item_identifier.clone())
        })
        .collect();
    let again: Vec<EmailJob> = thirds
        .iter()
        .flat_map(|jobs| {
            let event = inflow_tests::email_event(jobs);
            event
                .records
                .into_iter()
                .zip(jobs.iter().cloned())
                .filter(|(m, _)| failed.contains(m.message_id.as_deref().unwrap_or_default()))
                .map(|(_, job)| job)
                .collect::<Vec<_>>()
        })
        .collect();
    let answer = inflow::email::handle(&worker, inflow_tests::email_event(&again)).await;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    for name in ["one", "two", "three", "four", "five"] {
        assert_eq!(
            inflow_tests::sent_mail_to(&address(name)).await.len(),
            1,
            "{name}: one mail"
        );
    }
}

#[tokio::test]
async fn a_queue_that_fails_then_comes_back_loses_no_job_and_doubles_none() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    subscribe(&env, &t, &receiver).await;
    assigned(
        &env,
        &t,
        json!({"flowId": t.flow.id, "userEmail": t.user.email}),
    )
    .await;
    sent(
        &env,
        CREATE_INVITATION,
        invitations("POST", &t, "").json(&json!({"email": "queued@example.com"})),
        201,
    )
    .await;
    let down = env.relay_with_faults(Faults::new(|op, _| op == "SendMessageBatch"));
    let up = env.relay();
    let invocations = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    // SQS refuses every job for the first two invocations, then takes them.
    let pumped = env
        .stream
        .pump(|event| {
            let relay = match invocations.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => &down,
                _ => &up,
            };
            let failures = &failures;
            async move {
                let event = serde_json::from_value(event).unwrap();
                let answer = relay::handle(relay, event).await;
                failures.fetch_add(answer.batch_item_failures.len(), Ordering::SeqCst);
                serde_json::to_value(answer).unwrap()
            }
        })
        .await;
    assert_eq!(pumped.invocations, 3);
    assert!(pumped.given_up.is_empty());
    assert_eq!(
        failures.load(Ordering::SeqCst),
        2 * pumped.records,
        "while the queue was down, every record was reported failed"
    );
    env.pump_webhooks(&env.webhook_worker(&[0], false).await, IDLE)
        .await;
    assert_eq!(
        counts(deliveries(&receiver).iter().map(|(_, k)| k.as_str())),
        counts(["flow.assigned", "invitation.created"].into_iter())
    );
    assert_eq!(env.email_jobs().await.len(), 1);
}

/// SQS down for longer than the relay's event source used to wait (10 retries or an hour)
/// before it gave a batch up for a person to redrive: the event source now retries for as long
/// as the stream keeps the record, each invocation's calls retrying with backoff first, and
/// when SQS is back every job is queued once and nothing is left for anyone to run.
#[tokio::test]
async fn an_sqs_outage_longer_than_the_old_give_up_loses_nothing_and_needs_nobody() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    subscribe(&env, &t, &receiver).await;
    // Set up first: the outage below is for the jobs of the two writes after it.
    env.relay_stream().await;
    assigned(
        &env,
        &t,
        json!({"flowId": t.flow.id, "userEmail": t.user.email}),
    )
    .await;
    sent(
        &env,
        CREATE_INVITATION,
        invitations("POST", &t, "").json(&json!({"email": "outage@example.com"})),
        201,
    )
    .await;
    // Each invocation makes two calls (events, the email), each tried `attempts` times; the
    // emulator answers 503 to every one of them for `down_for` invocations.
    let attempts = FAST_BACKOFF.attempts as usize;
    let down_for = 12;
    assert!(
        down_for > 1 + 10,
        "longer than the old first try and 10 retries"
    );
    inflow_tests::inject_fault(json!({
        "match": {"target": "AmazonSQS.SendMessageBatch", "body_contains": env.names.table},
        "status": 503,
        "error": "ServiceUnavailable",
        "times": down_for * 2 * attempts,
    }))
    .await;
    // The relay's own waits end before its timeout would (a timeout is a function error).
    let timeout = inflow_tests::template::function_timeout("RelayFunction").unwrap();
    assert!(inflow::relay::BACKOFF.operation.as_secs_f64() < timeout - 4.0);
    let relay = env.relay_with_faults(Faults::new(|_, _| false));
    let pumped = env.relay_stream_with(&relay).await;
    assert_eq!(
        pumped.invocations,
        down_for + 1,
        "every call was tried {attempts} times in each invocation, until SQS came back"
    );
    assert!(pumped.given_up.is_empty(), "{:?}", pumped.given_up);
    assert!(
        env.drain(&env.relay_dlq_url).await.is_empty(),
        "nothing was left for a person"
    );
    env.pump_webhooks(&env.webhook_worker(&[0], false).await, IDLE)
        .await;
    assert_eq!(
        counts(deliveries(&receiver).iter().map(|(_, k)| k.as_str())),
        counts(["flow.assigned", "invitation.created"].into_iter())
    );
    assert_eq!(env.email_jobs().await.len(), 1);
}

/// A write whose outbox nobody can read (a bug that wrote it).
async fn write_poison(env: &Env, t: &Tenant) {
    env.app
        .table
        .client()
        .put_item()
        .table_name(&env.app.config.table_name)
        .item("PK", AttributeValue::S(format!("ORG#{}", t.org_id)))
        .item("SK", AttributeValue::S("POISON#1".into()))
        .item("outbox_id", AttributeValue::S("obx_poison".into()))
        .item("outbox_jobs", AttributeValue::S("not the jobs".into()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreadable_record_is_set_aside_at_once_and_the_rest_go_through() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    subscribe(&env, &t, &receiver).await;
    assigned(
        &env,
        &t,
        json!({"flowId": t.flow.id, "userEmail": t.user.email}),
    )
    .await;
    // Between two good writes.
    write_poison(&env, &t).await;
    let sam = env.user(&t, "sam@example.com").create().await;
    assigned(
        &env,
        &t,
        json!({"flowId": t.flow.id, "userEmail": sam.email}),
    )
    .await;

    let pumped = env.relay_stream().await;
    assert_eq!(pumped.invocations, 1, "no retry: the shard is not held up");
    assert!(pumped.given_up.is_empty());
    let poison = env
        .outbox_records()
        .await
        .into_iter()
        .find(|r| r["dynamodb"]["Keys"]["SK"]["S"] == "POISON#1")
        .unwrap();
    let described = env.drain(&env.relay_dlq_url).await;
    assert_eq!(described.len(), 1, "set aside in the relay's DLQ");
    let info: Value = serde_json::from_str(&described[0]).unwrap();
    assert_eq!(
        info["DDBStreamBatchInfo"]["startSequenceNumber"],
        poison["dynamodb"]["SequenceNumber"]
    );
    assert_eq!(info["record"]["keys"]["SK"]["S"], "POISON#1");

    env.pump_webhooks(&env.webhook_worker(&[0], false).await, IDLE)
        .await;
    let got = deliveries(&receiver);
    assert_eq!(
        counts(got.iter().map(|(_, k)| k.as_str())),
        counts(["flow.assigned", "flow.assigned"].into_iter()),
        "both good records went through, each once: {got:?}"
    );

    // A record that is not even a stream record: set aside too, reported done.
    let mut garbled = poison.clone();
    garbled["dynamodb"]["NewImage"]["outbox_id"] = json!({"NOT_A_TYPE": 1});
    let answer = env.relay_records(&[garbled]).await;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    let described = env.drain(&env.relay_dlq_url).await;
    assert_eq!(described.len(), 1);
    assert!(described[0].contains("not a DynamoDB stream record"));
}

/// The relay's event source as an operator may set it: giving a batch up after two retries.
fn giving_up_after_two(env: &Env) -> inflow_tests::stream::SourceSettings {
    inflow_tests::stream::SourceSettings {
        max_retries: Some(2),
        ..env.stream.settings().clone()
    }
}

/// Two jobs' records given up on while the queue was down (finite retries set), described in
/// the relay's DLQ.
async fn given_up_while_down(env: &Env, t: &Tenant) -> stream::Pumped {
    assigned(
        env,
        t,
        json!({"flowId": t.flow.id, "userEmail": t.user.email}),
    )
    .await;
    sent(
        env,
        CREATE_INVITATION,
        invitations("POST", t, "").json(&json!({"email": "redriven@example.com"})),
        201,
    )
    .await;
    let down = env.relay_with_faults(Faults::new(|op, _| op == "SendMessageBatch"));
    let pumped = env
        .relay_stream_under(&giving_up_after_two(env), &down)
        .await;
    assert_eq!(pumped.given_up.len(), 1);
    assert!(env.drain(&env.queues.webhook_url).await.is_empty());
    pumped
}

async fn redrive(env: &Env) -> inflowctl::redrive::Redriven {
    inflowctl::redrive::redrive(&env.sdk, &env.relay_dlq_url, env.queues.clone())
        .await
        .unwrap()
}

#[tokio::test]
async fn batches_given_up_while_the_queue_was_down_are_redriven_once() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    subscribe(&env, &t, &receiver).await;
    env.relay_stream().await;
    let pumped = given_up_while_down(&env, &t).await;

    // The queue is back: the operator redrives what was given up. The stream answers empty
    // pages before the batch's records (DynamoDB Streams may, anywhere in a shard).
    inflow_tests::inject_fault(json!({
        "match": {"target": "DynamoDBStreams_20120810.GetRecords", "body_contains": env.names.table},
        "empty_page": true,
        "times": 3,
    }))
    .await;
    let done = redrive(&env).await;
    // The range read again holds the records the filter passed and the writes between them.
    assert!(
        done.batches == 1 && done.records >= pumped.records,
        "{done:?}"
    );
    assert!(done.left.is_empty(), "{done:?}");
    let again = redrive(&env).await;
    assert_eq!(
        again,
        inflowctl::redrive::Redriven::default(),
        "nothing left"
    );
    env.pump_webhooks(&env.webhook_worker(&[0], false).await, IDLE)
        .await;
    assert_eq!(
        counts(deliveries(&receiver).iter().map(|(_, k)| k.as_str())),
        counts(["flow.assigned", "invitation.created"].into_iter())
    );
    assert_eq!(env.email_jobs().await.len(), 1);
}

/// A redrive deletes a batch's message only when every record it names was relayed or is gone
/// from the stream: a stream that keeps answering empty pages before the batch's end leaves it
/// for the next run; a batch trimmed from the stream (past its 24 hours) is gone, its message
/// deleted; a record still unreadable stays.
#[tokio::test]
async fn a_redrive_deletes_a_message_only_when_its_records_were_relayed_or_are_gone() {
    let env = Env::new().await;
    let t = env.tenant().await;
    env.relay_stream().await;
    given_up_while_down(&env, &t).await;

    inflow_tests::inject_fault(json!({
        "match": {"target": "DynamoDBStreams_20120810.GetRecords", "body_contains": env.names.table},
        "empty_page": true,
        "times": inflowctl::redrive::MAX_EMPTY_PAGES,
    }))
    .await;
    let stalled = redrive(&env).await;
    assert_eq!((stalled.batches, stalled.left.len()), (0, 1), "{stalled:?}");
    assert_eq!(env.email_jobs().await.len(), 0, "nothing relayed");

    inflow_tests::inject_fault(json!({
        "match": {"target": "DynamoDBStreams_20120810.GetShardIterator", "body_contains": env.names.table},
        "status": 400,
        "error": "TrimmedDataAccessException",
        "times": 1,
    }))
    .await;
    let trimmed = redrive(&env).await;
    assert_eq!((trimmed.gone, trimmed.left.len()), (1, 0), "{trimmed:?}");
    assert_eq!(redrive(&env).await, inflowctl::redrive::Redriven::default());

    // An unreadable record set aside by the relay is read again, and still unreadable: it stays.
    write_poison(&env, &t).await;
    env.relay_stream().await;
    let left = redrive(&env).await;
    assert_eq!((left.batches, left.left.len()), (0, 1), "{left:?}");
    assert!(left.left[0].contains("not queued"), "{left:?}");
}

/// The call that keeps an idempotent response fails: the request's function dies right after
/// its write, before its answer is kept (the client never sees the answer either).
fn dies_after_its_write() -> Faults {
    Faults::new(|op, input| {
        op == "UpdateItem"
            && input
                .downcast_ref::<UpdateItemInput>()
                .and_then(|i| i.key())
                .and_then(|k| k.get("PK"))
                .and_then(|pk| pk.as_s().ok())
                .is_some_and(|pk| pk.starts_with("IDEM#"))
    })
}

/// A minute later: the claims of requests that died may be taken over.
async fn claims_abandoned(env: &Env) {
    for item in env.items().await {
        let pk = item["PK"].as_s().unwrap();
        if pk.starts_with("IDEM#") {
            env.app
                .table
                .client()
                .update_item()
                .table_name(&env.app.config.table_name)
                .key("PK", item["PK"].clone())
                .key("SK", item["SK"].clone())
                .update_expression("SET locked_until = :past")
                .expression_attribute_values(":past", AttributeValue::N("0".into()))
                .send()
                .await
                .unwrap();
        }
    }
}

/// Sends `c` with a key through a function that dies after its write, then retries it once the
/// claim may be taken over; both answers.
async fn died_then_retried(env: &Env, f: Function, c: Call) -> (Answer, Answer) {
    let c = c.header("idempotency-key", &inflow::ids::new(inflow::ids::Kind::Key));
    let dying = env.with_faults(dies_after_its_write());
    let first = Answer::from(f.call(&dying, c.request()).await);
    claims_abandoned(env).await;
    let retry = env.send(f, c).await;
    assert_eq!(retry.header("idempotent-replayed"), None, "it ran again");
    (first, retry)
}

#[tokio::test]
async fn a_creating_request_that_died_after_its_write_is_answered_the_same_by_its_retry_with_nothing_made_twice(
) {
    let env = Env::new().await;
    let t = env.tenant().await;
    let tag = inflow::ids::random(8).to_lowercase();
    let address = |name: &str| format!("{name}-{tag}@example.com");
    let sam = env.user(&t, &address("sam")).create().await;
    // Re-assigning: the first assign stands, the dying one re-assigns it.
    assigned(
        &env,
        &t,
        json!({"flowId": t.flow.id, "userEmail": t.user.email}),
    )
    .await;
    let requests = [
        (
            ASSIGN_FLOW,
            assign(&t, &json!({"flowId": t.flow.id, "userEmail": t.user.email, "priority": "high"})),
        ),
        (
            ASSIGN_FLOW,
            assign(&t, &json!({"flowId": t.flow.id, "userEmail": sam.email})),
        ),
        (
            CREATE_INVITATION,
            invitations("POST", &t, "").json(&json!({"email": address("one")})),
        ),
        (
            IMPORT_INVITATIONS,
            invitations("POST", &t, "/import")
                .json(&json!({"list": format!("{}, {}, {}", address("two"), address("three"), sam.email)})),
        ),
        (
            CREATE_JOIN_ORGANIZATION_FLOW,
            create_join(&t, json!({"email": address("four")})),
        ),
        (
            CREATE_SIGNUP_FLOW,
            create_signup(&t, json!({"email": address("five"), "createOrganization": true})),
        ),
    ];
    for (f, c) in requests {
        let (first, retry) = died_then_retried(&env, f, c).await;
        assert!(first.status < 300, "{f:?}: {}", first.raw);
        assert_eq!(
            (retry.status, &retry.raw),
            (first.status, &first.raw),
            "{f:?}: the retry answers as the first run did"
        );
    }
    let events = env.webhook_jobs().await;
    assert_eq!(
        counts(events.iter().map(|e| e.kind.as_str())),
        counts(
            [
                ["flow.assigned"; 3].as_slice(),
                ["invitation.created"; 5].as_slice()
            ]
            .concat()
            .into_iter()
        ),
        "one event per write"
    );
    let emails = env.email_jobs().await;
    let invited: HashSet<&str> = emails.iter().map(|j| j.invitation_id.as_str()).collect();
    assert_eq!(
        (emails.len(), invited.len()),
        (5, 5),
        "one email per invitation"
    );
    let items = env.items().await;
    let kinds = |prefix: &str| {
        items
            .iter()
            .filter(|i| {
                [&i["PK"], &i["SK"]]
                    .iter()
                    .any(|k| k.as_s().unwrap().starts_with(prefix))
            })
            .count()
    };
    assert_eq!(
        (kinds("ASGN#"), kinds("INV#")),
        (2, 5),
        "nothing made twice"
    );
}

fn user_group(t: &Tenant, body: Value) -> Call {
    call("POST", "/api/user")
        .header("authorization", &format!("Token {}", t.admin_key))
        .json(&body)
}

/// `POST /api/user` under an Idempotency-Key, dying after its write: the create's retry answers
/// the same group and token, and so does the rotation's (its token derived from the request's
/// mark, found by the marker the rotation left on the old token), with one group and one live
/// token. The retry of a rotation whose token was rotated again since finds nothing (404).
#[tokio::test]
async fn a_user_group_create_or_rotation_that_died_after_its_write_is_answered_the_same_by_its_retry(
) {
    let env = Env::new().await;
    let t = env.tenant().await;
    let create = user_group(
        &t,
        json!({"name": "Example 1", "provided_id": "died_1", "current_token": ""}),
    );
    let (first, retry) = died_then_retried(&env, CREATE_USER_GROUP, create).await;
    assert_eq!(first.status, 200, "{}", first.raw);
    assert_eq!((retry.status, &retry.raw), (200, &first.raw), "the create");
    let token = first.body["user_group"]["token"].as_str().unwrap();

    let rotate = user_group(&t, json!({"current_token": token}));
    let (first, retry) = died_then_retried(&env, CREATE_USER_GROUP, rotate.clone()).await;
    assert_eq!(first.status, 200, "{}", first.raw);
    assert_eq!(
        (retry.status, &retry.raw),
        (200, &first.raw),
        "the rotation"
    );
    let live = |items: &[inflow_tests::Item]| {
        items
            .iter()
            .filter(|i| i["SK"].as_s().is_ok_and(|sk| sk == "UGTOKEN"))
            .filter(|i| !i.contains_key("rotated_by"))
            .count()
    };
    let items = env.items().await;
    let groups = items
        .iter()
        .filter(|i| i["SK"].as_s().is_ok_and(|sk| sk.starts_with("UG#")))
        .count();
    assert_eq!((groups, live(&items)), (1, 1), "one group, one live token");

    // A rotation that died, then its token rotated again (without a key) before its retry:
    // the retry has no answer left to give.
    let new = first.body["user_group"]["token"].as_str().unwrap();
    let rotate = user_group(&t, json!({"current_token": new})).header("idempotency-key", "late");
    let dying = env.with_faults(dies_after_its_write());
    let died = Answer::from(CREATE_USER_GROUP.call(&dying, rotate.request()).await);
    let newer = died.body["user_group"]["token"].as_str().unwrap();
    let again = env
        .send(
            CREATE_USER_GROUP,
            user_group(&t, json!({"current_token": newer})),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.raw);
    claims_abandoned(&env).await;
    let late = env.send(CREATE_USER_GROUP, rotate).await;
    assert_eq!(late.status, 404, "{}", late.raw);
}

/// The jobs of a tenant's writes on the stream, as the relay renders them.
async fn jobs_on_the_stream(env: &Env, org_id: &str) -> Vec<Ready> {
    let pk = format!("ORG#{org_id}");
    env.outbox_records()
        .await
        .into_iter()
        .filter(|r| {
            let image = &r["dynamodb"]["NewImage"];
            image["org_id"]["S"] == org_id || image["PK"]["S"] == pk.as_str()
        })
        .flat_map(|r| {
            let record: EventRecord = serde_json::from_value(r).unwrap();
            relay::jobs_of(&record).unwrap()
        })
        .collect()
}

/// An import's answer without what differs between two tenants (their ids and slugs).
fn shape_of(answer: &Value) -> Value {
    let invitations: Vec<Value> = answer["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| json!([i["id"], i["state"], i["email"]]))
        .collect();
    json!({
        "invitations": invitations,
        "added_users": answer["added_users"],
        "erroneous_emails": answer["erroneous_emails"],
    })
}

#[tokio::test]
async fn a_5000_address_import_cut_off_half_way_is_finished_by_its_retry_as_if_uncut() {
    let env = Env::new().await;
    let (whole, cut) = (
        env.tenant_with(inflow::model::Tier::Enterprise).await,
        env.tenant_with(inflow::model::Tier::Enterprise).await,
    );
    let list = (0..5000)
        .map(|i| format!("p{i}@example.com"))
        .collect::<Vec<_>>()
        .join("\n");
    let import = |t: &Tenant| {
        invitations("POST", t, "/import")
            .json(&json!({"list": list}))
            .header("idempotency-key", "import-5000")
    };
    let uncut = sent(&env, IMPORT_INVITATIONS, import(&whole), 200).await;

    // The writes stop after half the batches: the function dies (here: fails) half-way.
    let writes = Arc::new(AtomicUsize::new(0));
    let counted = writes.clone();
    let half_way = Faults::new(move |op, _| {
        op == "BatchWriteItem" && counted.fetch_add(1, Ordering::SeqCst) >= 100
    });
    let first = Answer::from(
        IMPORT_INVITATIONS
            .call(&env.with_faults(half_way), import(&cut).request())
            .await,
    );
    assert_eq!(
        first.status,
        503,
        "{}",
        &first.raw[..first.raw.len().min(300)]
    );
    let written = jobs_on_the_stream(&env, &cut.org_id).await.len() / 2;
    assert!(
        (1..5000).contains(&written),
        "{written} written before the cut"
    );

    let retried = sent(&env, IMPORT_INVITATIONS, import(&cut), 200).await;
    assert_eq!(shape_of(&retried.body), shape_of(&uncut.body));
    let jobs = jobs_on_the_stream(&env, &cut.org_id).await;
    let mut emails = HashSet::new();
    let mut created = HashMap::new();
    for job in &jobs {
        match job {
            Ready::Email(e) => {
                assert!(emails.insert(e.invitation_id.clone()), "one email each");
            }
            Ready::Event(e, _) => {
                *created
                    .entry(e.data["invitationId"].to_string())
                    .or_insert(0) += 1;
                assert_eq!(e.kind, EventKind::InvitationCreated);
            }
            Ready::Attempt(_) | Ready::Test(_) => panic!("no attempts or tests here"),
        }
    }
    assert_eq!(emails.len(), 5000);
    assert_eq!(created.len(), 5000);
    assert!(
        created.values().all(|n| *n == 1),
        "one invitation.created each"
    );
}
