//! What happens after a request: invitations end to end (create → relay → email worker →
//! accept → relay → webhook worker) and webhook deliveries, every AWS call of every step counted
//! (DynamoDB units billed by the emulator's counter), under the latency model. In-process: the
//! relay, the workers and the handlers are the functions' own code; the event sources (stream
//! reads, SQS receives and deletes, which Lambda's event source mappings make) are the test
//! harness's, not counted as the functions' calls (the cost model adds what the mappings bill).

use std::time::{Duration, Instant};

use chrono::Utc;
use inflow::{model::Tier, operator, queue::Queues};
use inflow_tests::{endpoints::*, receiver::Receiver, Env};
use serde::Serialize;
use serde_json::json;

use crate::{
    calls::{self, Model, Recorder},
    emulator::{self, Units},
    scenarios::Req,
    stats::{median, ms},
    tls,
};

/// One step of the flow: an HTTP function's requests, or a worker's invocations.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Step {
    pub name: String,
    /// Lambda invocations (requests; relay or worker batches).
    pub invocations: usize,
    /// AWS calls by operation, all invocations together.
    pub calls: std::collections::BTreeMap<String, usize>,
    pub units: Units,
    /// Wall time and CPU time of all invocations together (ms), under the latency model.
    pub wall_ms: f64,
    pub cpu_ms: f64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct EndToEnd {
    pub invitations: usize,
    pub steps: Vec<Step>,
    /// Webhook deliveries made (events × subscribed endpoints).
    pub deliveries: usize,
    pub emails: usize,
    /// SQS messages the relay sent (each is received and deleted by an event source mapping).
    pub messages: usize,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct WebhookLatency {
    pub samples: usize,
    /// API request → receiver, in-process under the latency model, without the event source
    /// mappings' own latency (stream → relay, SQS → worker), which the report adds from the
    /// published figures.
    pub p50_ms: f64,
    /// Of which: the request itself, the relay, the worker (medians).
    pub request_ms: f64,
    pub relay_ms: f64,
    pub worker_ms: f64,
}

struct Counted {
    app: inflow::app::App,
    queues: Queues,
    ses: aws_sdk_sesv2::Client,
    rec: Recorder,
}

fn counted(env: &Env) -> Counted {
    let rec = Recorder::default();
    let ddb = aws_sdk_dynamodb::config::Builder::from(&env.sdk)
        .interceptor(rec.clone())
        .build();
    let sqs = aws_sdk_sqs::config::Builder::from(&env.sdk)
        .interceptor(rec.clone())
        .build();
    let ses = aws_sdk_sesv2::config::Builder::from(&env.sdk)
        .interceptor(rec.clone())
        .build();
    Counted {
        app: inflow::app::App {
            table: env
                .app
                .table
                .with_client(aws_sdk_dynamodb::Client::from_conf(ddb)),
            ..env.app.clone()
        },
        queues: Queues::new(
            aws_sdk_sqs::Client::from_conf(sqs),
            env.queues.webhook_url.clone(),
            env.queues.email_url.clone(),
        ),
        ses: aws_sdk_sesv2::Client::from_conf(ses),
        rec,
    }
}

fn webhook_worker(c: &Counted) -> Result<inflow::delivery::WebhookWorker, String> {
    inflow::delivery::WebhookWorker::new(
        c.app.clone(),
        c.queues.clone(),
        inflow::delivery::DeliveryConfig {
            schedule: vec![Duration::from_secs(1)],
            allow_private_targets: true,
            timeout: Duration::from_secs(5),
            in_flight: inflow::delivery::limits::IN_FLIGHT,
            per_host: inflow::delivery::limits::PER_HOST,
        },
    )
    .map_err(|e| format!("webhook worker: {e}"))
}

/// Runs `work` as one measured step: calls, units, wall and CPU.
async fn step<F, Fut>(name: &str, c: &Counted, work: F) -> Result<Step, String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<usize, String>>,
{
    c.rec.reset();
    emulator::capacity_reset().await?;
    let (started, cpu) = (Instant::now(), tls::cpu_ms());
    let invocations = work().await?;
    let (wall_ms, cpu_ms) = (ms(started.elapsed()), tls::cpu_ms() - cpu);
    let mut by_op = std::collections::BTreeMap::new();
    for call in c.rec.calls() {
        *by_op.entry(call.op).or_insert(0) += 1;
    }
    Ok(Step {
        name: name.into(),
        invocations,
        calls: by_op,
        units: Units::of(&emulator::billed().await?),
        wall_ms,
        cpu_ms,
    })
}

/// Takes what a queue holds (as an event source mapping would, uncounted), hands it to
/// `handle` in batches of up to 10, deletes what succeeded. Returns (batches, messages).
async fn drain_queue<F, Fut>(
    env: &Env,
    queue: &str,
    mut handle: F,
) -> Result<(usize, usize), String>
where
    F: FnMut(inflow::aws_lambda_events::event::sqs::SqsEvent) -> Fut,
    Fut: std::future::Future<Output = inflow::aws_lambda_events::event::sqs::SqsBatchResponse>,
{
    let (mut batches, mut messages) = (0, 0);
    let mut empty = 0;
    while empty < 2 {
        let got = env.receive(queue).await;
        if got.is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        let answer = handle(inflow_tests::sqs_event(&got)).await;
        batches += 1;
        messages += got.len();
        let failed: Vec<String> = answer
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        for m in &got {
            if failed.contains(&m.message_id.clone().unwrap_or_default()) {
                continue;
            }
            if let Some(handle) = m.receipt_handle() {
                env.sqs
                    .delete_message()
                    .queue_url(queue)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| format!("delete: {e}"))?;
            }
        }
        if batches > 10_000 {
            return Err(format!("{queue}: does not drain"));
        }
    }
    Ok((batches, messages))
}

fn invitation_request(t: &inflow_tests::Tenant, email: &str) -> Req {
    Req {
        method: "POST".into(),
        path: format!("/flows/{}/{}/invitations", t.org_slug, t.flow.slug),
        params: vec![
            ("organization".into(), t.org_slug.clone()),
            ("flow".into(), t.flow.slug.clone()),
        ],
        headers: vec![
            ("authorization".into(), format!("Bearer {}", t.admin_key)),
            ("content-type".into(), "application/json".into()),
        ],
        body: Some(json!({ "email": email }).to_string()),
    }
}

/// `n` invitations from creation to acceptance, with a webhook endpoint subscribed to every
/// event, under the latency model (set by the caller) with the capacity counter on.
pub async fn invitations(n: usize) -> Result<EndToEnd, String> {
    let env = Env::new().await;
    let t = env.tenant_with(Tier::Enterprise).await;
    let receiver = Receiver::start(vec![], 200).await;
    operator::add_webhook(&env.app, &t.org_id, &receiver.url, None, Utc::now())
        .await
        .map_err(|e| format!("webhook endpoint: {e}"))?;
    let c = counted(&env);
    // The set-up's own stream records first, uncounted.
    env.relay_stream().await;
    let relay = inflow::relay::Relay {
        queues: c.queues.clone(),
        dead_letters: None,
    };
    let email = inflow::email::EmailWorker {
        app: c.app.clone(),
        ses: c.ses.clone(),
        queues: c.queues.clone(),
        settings: inflow::email::MailConfig::new(
            "noreply@bench.example",
            Some("https://app.example.com/accept?secret={secret}"),
        )
        .map_err(|e| format!("email settings: {e}"))?,
    };
    let _ = aws_sdk_sesv2::Client::new(&env.sdk)
        .create_email_identity()
        .email_identity("bench.example")
        .send()
        .await;
    let hooks = webhook_worker(&c)?;
    let mut out = EndToEnd {
        invitations: n,
        ..EndToEnd::default()
    };
    let emails: Vec<String> = (0..n).map(|i| format!("e2e{i}@bench.example")).collect();

    out.steps.push(
        step("create-invitation", &c, || async {
            for e in &emails {
                let res = CREATE_INVITATION
                    .call(&c.app, invitation_request(&t, e).call().request())
                    .await;
                if !res.status().is_success() {
                    return Err(format!("create-invitation: {}", res.status()));
                }
            }
            Ok(emails.len())
        })
        .await?,
    );
    let relay_step = |label: &'static str| {
        let (relay, env, c) = (&relay, &env, &c);
        async move {
            step(label, c, || async {
                let pumped = env.relay_stream_with(relay).await;
                Ok(pumped.invocations)
            })
            .await
        }
    };
    let relayed = relay_step("relay (creations)").await?;
    out.messages += relayed.calls.get("SendMessageBatch").copied().unwrap_or(0)
        + relayed.calls.get("SendMessage").copied().unwrap_or(0);
    out.steps.push(relayed);

    // The email worker: each job's mail, and the secret it carries (the invitee's link).
    let mut secrets = Vec::new();
    let email_url = env.queues.email_url.clone();
    let mut sent = 0;
    out.steps.push(
        step("email-worker", &c, || async {
            let (batches, messages) = drain_queue(&env, &email_url, |event| {
                for r in &event.records {
                    if let Some(job) = r
                        .body
                        .as_deref()
                        .and_then(|b| serde_json::from_str::<inflow::jobs::EmailJob>(b).ok())
                    {
                        secrets.push(env.secret_in(&job));
                    }
                }
                inflow::email::handle(&email, event)
            })
            .await?;
            sent = messages;
            Ok(batches)
        })
        .await?,
    );
    out.emails = sent;
    let relayed = relay_step("relay (emails sent)").await?;
    out.messages += relayed.calls.values().sum::<usize>();
    out.steps.push(relayed);

    out.steps.push(
        step("consume-flow", &c, || async {
            for secret in &secrets {
                let segment = format!("{secret}:consume");
                let req = Req {
                    method: "POST".into(),
                    path: format!("/user/v1/flows/{segment}"),
                    params: vec![("flowId".into(), segment.clone())],
                    headers: vec![
                        ("userhub-api-key".into(), t.user_key.clone()),
                        ("userhub-api-version".into(), "2022-11-15".into()),
                    ],
                    body: None,
                };
                let res = CONSUME_FLOW.call(&c.app, req.call().request()).await;
                if !res.status().is_success() {
                    return Err(format!("consume-flow: {}", res.status()));
                }
            }
            Ok(secrets.len())
        })
        .await?,
    );
    let relayed = relay_step("relay (acceptances)").await?;
    out.messages += relayed.calls.values().sum::<usize>();
    out.steps.push(relayed);

    let webhook_url = env.queues.webhook_url.clone();
    out.steps.push(
        step("webhook-worker", &c, || async {
            let (batches, _) = drain_queue(&env, &webhook_url, |event| {
                inflow::delivery::handle(&hooks, event)
            })
            .await?;
            // A fan-out message may come back as attempt jobs: once more.
            let (more, _) = drain_queue(&env, &webhook_url, |event| {
                inflow::delivery::handle(&hooks, event)
            })
            .await?;
            Ok(batches + more)
        })
        .await?,
    );
    out.deliveries = receiver.received().len();
    Ok(out)
}

/// API request → webhook receiver, `samples` times: an assignment (`flow.assigned`), relayed,
/// then delivered by the webhook worker, each step as soon as the previous one is done.
pub async fn webhook_latency(samples: usize, _model: &Model) -> Result<WebhookLatency, String> {
    let env = Env::new().await;
    let t = env.tenant_with(Tier::Enterprise).await;
    let receiver = Receiver::start(vec![], 200).await;
    operator::add_webhook(&env.app, &t.org_id, &receiver.url, None, Utc::now())
        .await
        .map_err(|e| format!("webhook endpoint: {e}"))?;
    let mut users = Vec::new();
    for i in 0..samples {
        let email = format!("latency{i}@bench.example");
        operator::create_user(
            &env.app,
            &t.org_id,
            &email,
            None,
            inflow::model::Role::Member,
            Utc::now(),
        )
        .await
        .map_err(|e| format!("user: {e}"))?;
        users.push(email);
    }
    env.relay_stream().await;
    let _ = env.drain(&env.queues.webhook_url).await;
    let c = counted(&env);
    let relay = inflow::relay::Relay {
        queues: c.queues.clone(),
        dead_letters: None,
    };
    let hooks = webhook_worker(&c)?;
    let (mut totals, mut requests, mut relays, mut workers) = (vec![], vec![], vec![], vec![]);
    for email in &users {
        let before = receiver.received().len();
        let started = Instant::now();
        let req = Req {
            method: "POST".into(),
            path: "/v1/flows/assign".into(),
            params: vec![],
            headers: vec![
                ("authorization".into(), format!("Bearer {}", t.admin_key)),
                ("content-type".into(), "application/json".into()),
            ],
            body: Some(json!({"flowId": t.flow.id, "userEmail": email}).to_string()),
        };
        let res = ASSIGN_FLOW.call(&c.app, req.call().request()).await;
        if !res.status().is_success() {
            return Err(format!("assign-flow: {}", res.status()));
        }
        let answered = Instant::now();
        env.relay_stream_with(&relay).await;
        let relayed = Instant::now();
        let mut worked = Duration::ZERO;
        for _ in 0..50 {
            let got = env.receive(&env.queues.webhook_url).await;
            if !got.is_empty() {
                let t0 = Instant::now();
                inflow::delivery::handle(&hooks, inflow_tests::sqs_event(&got)).await;
                worked += t0.elapsed();
                for m in &got {
                    if let Some(h) = m.receipt_handle() {
                        let _ = env
                            .sqs
                            .delete_message()
                            .queue_url(&env.queues.webhook_url)
                            .receipt_handle(h)
                            .send()
                            .await;
                    }
                }
            }
            if receiver.received().len() > before {
                break;
            }
        }
        if receiver.received().len() == before {
            return Err("webhook latency: no delivery arrived".into());
        }
        // What the harness itself spent receiving from the queue is not the system's: the
        // total is the request, the relay and the worker's own handling.
        let request = ms(answered - started);
        let relay_ms = ms(relayed - answered);
        requests.push(request);
        relays.push(relay_ms);
        workers.push(ms(worked));
        totals.push(request + relay_ms + ms(worked));
    }
    let _ = calls::sequential(&[]);
    Ok(WebhookLatency {
        samples,
        p50_ms: median(&totals),
        request_ms: median(&requests),
        relay_ms: median(&relays),
        worker_ms: median(&workers),
    })
}

/// One run of the sweeper over a table with nothing due (what it costs every minute of an
/// idle month), `runs` times: the step adds them up.
pub async fn sweeper_idle(runs: usize) -> Result<Step, String> {
    let env = Env::new().await;
    let _ = env.tenant_with(Tier::Standard).await;
    let c = counted(&env);
    step("sweeper (idle)", &c, || async {
        for _ in 0..runs {
            let summary = inflow::sweeper::sweep(&c.app, Utc::now()).await;
            if summary.failed() > 0 {
                return Err("sweeper: a sweep failed".into());
            }
        }
        Ok(runs)
    })
    .await
}
