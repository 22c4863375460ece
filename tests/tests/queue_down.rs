//! No job lost: with the webhook queue unreachable a request reports no success, and its
//! retry with the same Idempotency-Key finishes the work.

use inflow::App;
use inflow_tests::{assign, assign_body, on_assignment, Answer, Env, Function, Function::*};

fn with_unreachable_queue(env: &Env) -> App {
    let sqs = aws_sdk_sqs::config::Builder::from(&env.sdk)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    App {
        sqs: aws_sdk_sqs::Client::from_conf(sqs),
        ..env.app.clone()
    }
}

async fn send(app: &App, f: Function, c: inflow_tests::Call) -> Answer {
    Answer::from(f.call(app, c.request()).await)
}

#[tokio::test]
async fn assign_fails_without_its_job_and_its_retry_completes() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let broken = with_unreachable_queue(&env);
    let call = assign(&t, &assign_body(&t)).header("idempotency-key", "retry-me");
    let failed = send(&broken, AssignFlow, call.clone()).await;
    assert_eq!(failed.status, 503, "{}", failed.raw);
    assert_eq!(failed.body["error"], "service_unavailable");
    assert!(env.webhook_jobs().await.is_empty());

    let retried = env.send(AssignFlow, call).await;
    assert_eq!(retried.status, 200, "{}", retried.raw);
    assert_eq!(
        retried.header("idempotent-replayed"),
        None,
        "the failure was not kept"
    );
    let jobs = env.webhook_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].data["assignmentId"], retried.body["assignmentId"]);
}

#[tokio::test]
async fn a_step_whose_event_was_not_queued_queues_it_on_retry() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let created = env.send(AssignFlow, assign(&t, &assign_body(&t))).await;
    let id = created.body["assignmentId"].as_str().unwrap().to_owned();
    env.webhook_jobs().await;
    let broken = with_unreachable_queue(&env);
    assert_eq!(
        send(
            &broken,
            StartAssignment,
            on_assignment("POST", "/start", &t, &id)
        )
        .await
        .status,
        503
    );
    assert!(env.webhook_jobs().await.is_empty());
    assert_eq!(
        env.send(StartAssignment, on_assignment("POST", "/start", &t, &id))
            .await
            .status,
        200
    );
    let jobs = env.webhook_jobs().await;
    assert_eq!(
        jobs.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(),
        ["flow.started"]
    );
}
