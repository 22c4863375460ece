//! Tenants sharing one stack, in-process under the latency model: one organization's import
//! draining on the email lane while another invites one person (how long that person's email
//! takes, and how much of the import went out first), and the webhook worker's bounds under a
//! 5,000-address fan-out to 20 endpoints (the most deliveries it made at once, the most file
//! descriptors it held).

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use chrono::Utc;
use inflow::{jobs::Lane, model::Tier, operator};
use inflow_tests::{endpoints::*, receiver::Receiver, Env};
use serde::Serialize;
use serde_json::json;

use crate::stats::ms;

#[derive(Debug, Clone, Serialize, Default)]
pub struct Fairness {
    /// Addresses organization A imported just before B's one invitation.
    pub imported: usize,
    /// B's request → its email sent (ms), under the latency model.
    pub single_ms: f64,
    /// A's mails sent before B's.
    pub bulk_sent_before: usize,
    /// The bulk lane's pace (mails a second, all invocations) and the invocations at once.
    pub bulk_rate: f64,
    pub concurrency: usize,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct FanOut {
    pub addresses: usize,
    pub endpoints: usize,
    pub hosts: usize,
    /// Deliveries made in the time measured, of all the fan-out's (`wanted`).
    pub deliveries: usize,
    pub wanted: usize,
    pub seconds: f64,
    /// The most deliveries one worker instance made at once, and its bound.
    pub peak_in_flight: usize,
    pub in_flight_bound: usize,
    /// The most requests one receiving host was answering at once, and the per-host bound.
    pub peak_per_host: usize,
    pub per_host_bound: usize,
    /// The most file descriptors this process held above its count before the fan-out, and
    /// the function's limit.
    pub peak_fds: usize,
    pub fd_limit: usize,
}

/// The file descriptors this process holds, less the receivers' own sockets (the receivers
/// run in this process; in AWS they are elsewhere): a socket whose local port is a receiver's.
fn open_fds(receiver_ports: &[u16]) -> usize {
    let theirs = sockets_on(receiver_ports);
    std::fs::read_dir("/proc/self/fd").map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| {
                let target = std::fs::read_link(e.path()).unwrap_or_default();
                let target = target.to_string_lossy();
                let inode = target
                    .strip_prefix("socket:[")
                    .and_then(|t| t.strip_suffix(']'))
                    .and_then(|t| t.parse::<u64>().ok());
                !inode.is_some_and(|i| theirs.contains(&i))
            })
            .count()
    })
}

/// The inodes of the TCP sockets whose local port is one of `ports` (/proc/net/tcp: the local
/// address is `HEXIP:HEXPORT`, the inode the tenth column).
fn sockets_on(ports: &[u16]) -> std::collections::HashSet<u64> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(|line| {
                    let cols: Vec<&str> = line.split_whitespace().collect();
                    let port = u16::from_str_radix(cols.get(1)?.rsplit(':').next()?, 16).ok()?;
                    let inode = cols.get(9)?.parse::<u64>().ok()?;
                    ports.contains(&port).then_some(inode)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn import(env: &Env, t: &inflow_tests::Tenant, n: usize, tag: &str) -> Result<(), String> {
    let list: Vec<String> = (0..n).map(|i| format!("{tag}{i}@bench.example")).collect();
    let req = inflow_tests::invitations("POST", t, "/import")
        .json(&json!({"list": list.join("\n")}))
        .request();
    let res = IMPORT_INVITATIONS.call(&env.app, req).await;
    if !res.status().is_success() {
        return Err(format!("import: {}", res.status()));
    }
    Ok(())
}

/// A imports `n` addresses; then B invites one person. `concurrency` email worker invocations
/// drain the email queue as the event source would, bulk mail paced to `bulk_rate`, until B's
/// email is sent.
pub async fn fairness(n: usize, bulk_rate: f64, concurrency: usize) -> Result<Fairness, String> {
    let env = Env::new().await;
    let (a, b) = (
        env.tenant_with(Tier::Enterprise).await,
        env.tenant_with(Tier::Enterprise).await,
    );
    let _ = aws_sdk_sesv2::Client::new(&env.sdk)
        .create_email_identity()
        .email_identity("bench.example")
        .send()
        .await;
    let mut settings = inflow::email::MailConfig::new(
        "noreply@bench.example",
        Some("https://app.example.com/accept?secret={secret}"),
    )
    .map_err(|e| format!("email settings: {e}"))?;
    settings.bulk_interval = Some(Duration::from_secs_f64(concurrency as f64 / bulk_rate));
    let worker = Arc::new(inflow::email::EmailWorker {
        app: env.app.clone(),
        ses: aws_sdk_sesv2::Client::new(&env.sdk),
        queues: env.queues.clone(),
        settings,
    });
    import(&env, &a, n, "bulk").await?;
    env.relay_stream().await;

    let started = Instant::now();
    let res = CREATE_INVITATION
        .call(
            &env.app,
            inflow_tests::invitations("POST", &b, "")
                .json(&json!({"email": "single@bench.example"}))
                .request(),
        )
        .await;
    if !res.status().is_success() {
        return Err(format!("create-invitation: {}", res.status()));
    }
    env.relay_stream().await;

    let done = Arc::new(AtomicBool::new(false));
    let bulk_sent = Arc::new(AtomicUsize::new(0));
    let single_at = Arc::new(std::sync::Mutex::new(None));
    let pollers = (0..concurrency).map(|_| {
        let (env, worker, done) = (&env, worker.clone(), done.clone());
        let (bulk_sent, single_at, b_org) =
            (bulk_sent.clone(), single_at.clone(), b.org_id.clone());
        async move {
            while !done.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(300) {
                let got = env.receive(&env.queues.email_url).await;
                if got.is_empty() {
                    continue;
                }
                let jobs: Vec<inflow::jobs::EmailJob> = got
                    .iter()
                    .filter_map(|m| m.body().and_then(|b| serde_json::from_str(b).ok()))
                    .collect();
                let before = bulk_sent.load(Ordering::Relaxed);
                inflow::email::handle(&worker, inflow_tests::sqs_event(&got)).await;
                if jobs.iter().any(|j| j.org_id == b_org) {
                    *single_at.lock().unwrap() = Some((started.elapsed(), before));
                    done.store(true, Ordering::Relaxed);
                }
                let bulk = jobs.iter().filter(|j| j.lane == Lane::Bulk).count();
                bulk_sent.fetch_add(bulk, Ordering::Relaxed);
                for m in &got {
                    if let Some(handle) = m.receipt_handle() {
                        let _ = env
                            .sqs
                            .delete_message()
                            .queue_url(&env.queues.email_url)
                            .receipt_handle(handle)
                            .send()
                            .await;
                    }
                }
            }
        }
    });
    futures::future::join_all(pollers).await;
    let (took, before) = single_at
        .lock()
        .unwrap()
        .ok_or("B's email was not sent within 300 s")?;
    Ok(Fairness {
        imported: n,
        single_ms: ms(took),
        bulk_sent_before: before,
        bulk_rate,
        concurrency,
    })
}

/// An import of `n` addresses fanned out to `endpoints` endpoints spread over loopback hosts
/// (127.0.0.1, .2, …: at most the three an organization may have on one host), delivered by one
/// worker instance with its production bounds, the receivers answering in `answer_ms`, for at
/// most `budget` (the emulator makes a delivery's three writes one after another, so all of a
/// 100,000-delivery fan-out would take it the better part of an hour; the bounds are reached in
/// the first invocation). What is measured is bounds (deliveries at once, descriptors held), not
/// latency: the caller runs it with the emulator as fast as it goes.
pub async fn fan_out(
    n: usize,
    endpoints: usize,
    answer_ms: u64,
    budget: Duration,
) -> Result<FanOut, String> {
    let env = Env::new().await;
    let t = env.tenant_with(Tier::Enterprise).await;
    let per_host = inflow::webhooks::MAX_ENDPOINTS_PER_HOST;
    let hosts = endpoints.div_ceil(per_host);
    let mut receivers = Vec::new();
    for h in 0..hosts {
        let ip = format!("127.0.0.{}", h + 1);
        receivers.push(
            Receiver::start_slow_at(&ip, vec![], 200, Duration::from_millis(answer_ms)).await,
        );
    }
    for e in 0..endpoints {
        let url = format!("{}?e={e}", receivers[e / per_host].url);
        operator::add_webhook(
            &env.app,
            &t.org_id,
            &url,
            Some("invitation.created"),
            Utc::now(),
        )
        .await
        .map_err(|err| format!("endpoint {url}: {err}"))?;
    }
    import(&env, &t, n, "fan").await?;
    env.relay_stream().await;
    let worker = inflow::delivery::WebhookWorker::new(
        env.app.clone(),
        env.queues.clone(),
        inflow::delivery::DeliveryConfig {
            schedule: vec![Duration::from_secs(1)],
            allow_private_targets: true,
            timeout: Duration::from_secs(10),
            in_flight: inflow::delivery::limits::IN_FLIGHT,
            per_host: inflow::delivery::limits::PER_HOST,
        },
    )
    .map_err(|e| format!("webhook worker: {e}"))?;
    let ports: Vec<u16> = receivers
        .iter()
        .filter_map(|r| r.url.rsplit(':').next()?.split('/').next()?.parse().ok())
        .collect();
    let baseline = open_fds(&ports);
    let peak_fds = Arc::new(AtomicUsize::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak_fds, sampling, ports) = (peak_fds.clone(), sampling.clone(), ports.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                let now = open_fds(&ports);
                peak_fds.fetch_max(now.saturating_sub(baseline), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let wanted = n * endpoints;
    let delivered = || receivers.iter().map(|r| r.received().len()).sum::<usize>();
    while delivered() < wanted && started.elapsed() < budget {
        let got = env.receive(&env.queues.webhook_url).await;
        if got.is_empty() {
            continue;
        }
        // One invocation at a time: one instance, as Lambda runs it.
        let deadline = std::time::SystemTime::now() + Duration::from_secs(30);
        let answer =
            inflow::delivery::handle_by(&worker, inflow_tests::sqs_event(&got), deadline).await;
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
                let _ = env
                    .sqs
                    .delete_message()
                    .queue_url(&env.queues.webhook_url)
                    .receipt_handle(handle)
                    .send()
                    .await;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    Ok(FanOut {
        addresses: n,
        endpoints,
        hosts,
        deliveries: delivered(),
        wanted,
        seconds,
        peak_in_flight: worker.peak_in_flight(),
        in_flight_bound: inflow::delivery::limits::IN_FLIGHT,
        peak_per_host: receivers.iter().map(Receiver::peak).max().unwrap_or(0),
        per_host_bound: inflow::delivery::limits::PER_HOST,
        peak_fds: peak_fds.load(Ordering::Relaxed),
        fd_limit: 1024,
    })
}
