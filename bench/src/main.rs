//! `make bench` (scripts/bench.sh runs this after the release build, with the emulator up).
//! Measures every function binary beside a hello-world Lambda; every endpoint in-process, then
//! under a latency model (the emulator answers each AWS call in its operation's modelled time)
//! in-process and through the local stack (inflow_dev.gateway, as `make dev` serves); invitations
//! end to end and API-to-webhook latency; a capacity simulation (imports through the stack, the
//! write units each partition key takes); and imports of 100 to 5,000 addresses. Writes the
//! tables to docs/bench/benchmarks.md and the figures the cost model reads to a JSON file.
//! Benchmarks, not tests: nothing here fails a build.
//!
//!   inflow-bench run --lambda-dir DIR --out FILE [--model FILE.json] [--measurements FILE.json]
//!                    [--runs 15] [--requests 150] [--tls-endpoint https://127.0.0.1:PORT]
//!                    [--only BIN,BIN] [--imports 100,1000]
//!                    [--phases init|endpoints]   (stop after init, or after the in-process endpoints)
//!   inflow-bench load --base http://127.0.0.1:PORT --requests FILE --out FILE   (the load client)

mod calls;
mod emulator;
mod flows;
mod load;
mod report;
mod runtime;
mod scenarios;
mod sqs_stub;
mod stack;
mod stats;
mod tenants;
mod tls;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use inflow_tests::{endpoints::*, Env};
use report::{EndpointRow, FunctionRow, ImportRow, Report};
use stats::{median, ms, percentile};

/// Requests per endpoint measured in-process (twice: as fast as the emulator goes, then under
/// the latency model), and sent (not counted) before the load.
const IN_PROCESS: usize = 30;
const WARM_UP: usize = 5;
/// Invitations taken from creation to acceptance, and API-to-webhook samples.
const E2E_INVITATIONS: usize = 20;
const E2E_LATENCY_SAMPLES: usize = 15;
/// Tenants importing at once in the capacity simulation (the gateway's instances per function).
const TENANTS: usize = 4;

struct Options {
    args: HashMap<String, String>,
}

impl Options {
    fn parse() -> (String, Options) {
        let mut argv = std::env::args().skip(1);
        let command = argv.next().unwrap_or_default();
        let mut args = HashMap::new();
        while let Some(flag) = argv.next() {
            let value = argv.next().unwrap_or_default();
            args.insert(flag.trim_start_matches('-').to_owned(), value);
        }
        (command, Options { args })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.args.get(name).map(String::as_str)
    }

    fn number(&self, name: &str, default: usize) -> usize {
        self.get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
}

#[tokio::main]
async fn main() {
    let (command, options) = Options::parse();
    let result = match command.as_str() {
        "run" => run(&options).await,
        "load" => {
            let need = |k: &str| {
                options
                    .get(k)
                    .map(str::to_owned)
                    .ok_or(format!("--{k} is required"))
            };
            match (need("base"), need("requests"), need("out")) {
                (Ok(b), Ok(r), Ok(o)) => {
                    load::run(
                        &b,
                        &r,
                        &o,
                        Duration::from_secs(options.number("seconds", 60) as u64),
                    )
                    .await
                }
                (b, r, o) => Err([b.err(), r.err(), o.err()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ")),
            }
        }
        "tenants" => tenants_only(&options).await,
        _ => Err(
            "usage: inflow-bench run --lambda-dir DIR --out FILE [...] | inflow-bench load ... | \
             inflow-bench tenants [--model FILE.json] [--addresses 5000]"
                .into(),
        ),
    };
    if let Err(e) = result {
        eprintln!("inflow-bench: {e}");
        std::process::exit(1);
    }
}

async fn run(options: &Options) -> Result<(), String> {
    let lambda_dir = PathBuf::from(
        options
            .get("lambda-dir")
            .ok_or("--lambda-dir is required")?,
    );
    let out = options.get("out").ok_or("--out is required")?.to_owned();
    let runs = options.number("runs", 15);
    let requests = options.number("requests", 150);
    let env = Env::new().await;
    let app_env = app_env(&env).await;
    let mut report = Report::new(runs, requests, IN_PROCESS);

    // 1. Every binary: size, init and peak memory, interleaved so drift hits all alike.
    let mut names: Vec<String> = std::fs::read_dir("functions/src/bin")
        .map_err(|e| format!("functions/src/bin: {e}"))?
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".rs")
                .map(str::to_owned)
        })
        .collect();
    if let Some(only) = options.get("only") {
        names.retain(|n| only.split(',').any(|o| o == n));
    }
    names.sort();
    names.insert(0, "hello".into());
    let binary = |name: &str| lambda_dir.join(name).join("bootstrap");
    report.arch = report::arch_of(&binary("hello"));
    // Per binary: init ms, peak KiB, init CPU ms, one of each per launch.
    type Launches = (Vec<f64>, Vec<f64>, Vec<f64>);
    let mut launches: HashMap<String, Launches> = HashMap::new();
    eprintln!(
        "bench: init and memory, {runs} launches of {} binaries",
        names.len()
    );
    for round in 0..=runs {
        for name in &names {
            let env_vars = launch_env(name, &app_env);
            match runtime::launch(&binary(name), &env_vars).await {
                // Round 0 only warms the page cache.
                Ok(l) if round > 0 => {
                    let entry = launches.entry(name.clone()).or_default();
                    entry.0.push(ms(l.init));
                    entry.1.push(l.peak_kib as f64);
                    entry.2.push(l.cpu_ms);
                }
                Ok(_) => {}
                Err(e) => return Err(format!("{name}: {e}")),
            }
        }
    }
    // What a whole trust store would cost init (the SDK's default loads the system's): the
    // first function again, trusting a bundle of the system roots (shared/src/tls.rs).
    let full_store = options.get("full-trust-store").zip(names.get(1).cloned());
    if let Some((pem, name)) = &full_store {
        let mut vars = launch_env(name, &app_env);
        vars.push(("AWS_CA_BUNDLE".into(), pem.to_string()));
        let roots =
            std::fs::read_to_string(pem).map_or(0, |s| s.matches("BEGIN CERTIFICATE").count());
        let label = format!("{name} trusting {roots} roots, not Amazon's 5");
        for round in 0..=runs {
            let l = runtime::launch(&binary(name), &vars)
                .await
                .map_err(|e| format!("{label}: {e}"))?;
            if round > 0 {
                let entry = launches.entry(label.clone()).or_default();
                entry.0.push(ms(l.init));
                entry.1.push(l.peak_kib as f64);
                entry.2.push(l.cpu_ms);
            }
        }
        names.push(label);
    }
    for name in &names {
        let (inits, peaks, cpus) = &launches[name];
        report.functions.push(FunctionRow {
            name: name.clone(),
            size: std::fs::metadata(binary(name.split(' ').next().unwrap_or_default()))
                .map(|m| m.len())
                .unwrap_or(0),
            init_ms: median(inits),
            init_cpu_ms: median(cpus),
            peak_kib: median(peaks),
            load_peak_kib: None,
            endpoint: None,
        });
    }

    // What init waits for the emulator: one GetSecretValue, measured here.
    let secrets = aws_sdk_secretsmanager::Client::new(&env.sdk);
    let mut reads = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        inflow::keys::load_app_secret(&secrets, &env.app.config.app_secret_id)
            .await
            .map_err(|e| e.to_string())?;
        reads.push(ms(started.elapsed()));
    }
    report.secret_read_p50 = median(&reads);

    if options.get("phases") == Some("init") {
        return std::fs::write(&out, report.render()).map_err(|e| format!("{out}: {e}"));
    }

    // 2. Every endpoint in-process: calls recorded with an SDK interceptor, handler time, and
    // the handler's wall time over its own I/O wait (concurrent calls counted once), with the
    // emulator as fast as it goes.
    let stub = sqs_stub::start().await?;
    eprintln!("bench: setting up the endpoints");
    let total = 2 * IN_PROCESS + WARM_UP + requests;
    let mut scenarios = Vec::new();
    for &function in inflow::handlers::all().filter(|f| names.iter().any(|n| n == f.name)) {
        scenarios.push(scenarios::build(function, total).await?);
    }
    for s in &scenarios {
        let (app, rec) = s.env.recorded();
        let (mut ddb, mut times, mut cpu, mut failures) = (Vec::new(), Vec::new(), Vec::new(), 0);
        let mut over_io = Vec::new();
        for req in &s.requests[..IN_PROCESS] {
            let request = req.call().request();
            rec.reset();
            let (started, cpu_before) = (Instant::now(), tls::cpu_ms());
            let res = s.function.call(&app, request).await;
            let wall = ms(started.elapsed());
            let calls = rec.calls();
            over_io.push(wall / calls::io_wait_ms(&calls).max(f64::EPSILON));
            times.push(wall);
            cpu.push(tls::cpu_ms() - cpu_before);
            ddb.push(calls.len() as f64);
            failures += usize::from(!res.status().is_success());
        }
        report.function_mut(s.function.name).endpoint = Some(EndpointRow::new(
            s.function,
            &ddb,
            (median(&times), median(&cpu)),
            median(&over_io),
            failures,
        ));
    }

    // Authentication with the rate limit, alone.
    let (counted, ddb_calls) = env.counted();
    let t = env.tenant_with(inflow::model::Tier::Enterprise).await;
    let (mut auth, mut updates) = (Vec::new(), Vec::new());
    // authenticate takes the key's hash (the caller hashes it once, for the refused-key memory).
    let hash = counted.hasher.hash_api_key(&t.admin_key);
    for _ in 0..IN_PROCESS {
        ddb_calls.reset();
        let started = Instant::now();
        inflow::auth::authenticate(&counted, &hash, chrono::Utc::now())
            .await
            .map_err(|e| format!("auth: {e}"))?;
        if ddb_calls.total() == 1 {
            updates.push(ms(started.elapsed()));
        }
        auth.push(ddb_calls.total() as f64);
    }
    report.auth_calls = (median(&auth), auth.iter().cloned().fold(0.0, f64::max));
    report.update_item_p50 = median(&updates);

    // The emulator's own latency for one plain GetItem, in this run (a baseline, no target).
    let get_item = GetItem {
        env: &env,
        org_id: &t.org_id,
    };
    report.get_item_p50 = median(&get_item.times(200).await?);

    // 3. The latency model: every AWS call now takes its operation's time in a region (the
    // emulator pads each answer to it), and the capacity counter bills every DynamoDB call.
    let model = match options.get("model") {
        Some(path) => serde_json::from_str::<calls::Model>(
            &std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
        )
        .map_err(|e| format!("{path}: {e}"))?,
        None => calls::Model::default(),
    };
    report.model = model.clone();
    emulator::set_delays(&model).await?;
    emulator::capacity(true).await?;
    eprintln!("bench: endpoints under the latency model");
    for s in &scenarios {
        let (app, rec) = s.env.recorded();
        let mut m = report::Modelled::default();
        let (mut seq, mut critical, mut served, mut wall, mut rcu, mut wcu, mut iwcu) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        let mut shapes: HashMap<String, usize> = HashMap::new();
        let mut ops: HashMap<String, Vec<f64>> = HashMap::new();
        // Units by partition key pattern (`ORG#<org>`, `GSI1 DUE#<n>`): (read, write).
        let mut keys: HashMap<String, (f64, f64)> = HashMap::new();
        for req in &s.requests[IN_PROCESS..2 * IN_PROCESS] {
            let request = req.call().request();
            rec.reset();
            emulator::capacity_reset().await?;
            let started = Instant::now();
            let res = s.function.call(&app, request).await;
            wall.push(ms(started.elapsed()));
            m.failures += usize::from(!res.status().is_success());
            let calls = rec.calls();
            seq.push(calls::sequential(&calls) as f64);
            critical.push(calls::critical_ms(&calls, &model));
            served.push(calls::served_ms(&calls));
            *shapes.entry(calls::shape(&calls)).or_default() += 1;
            let mut by_op: HashMap<String, f64> = HashMap::new();
            for c in &calls {
                *by_op.entry(c.op.clone()).or_default() += 1.0;
            }
            for (op, n) in by_op {
                ops.entry(op).or_default().push(n);
            }
            let billed = emulator::billed().await?;
            for (key, r, w) in emulator::by_key_pattern(&billed) {
                let e = keys.entry(key).or_insert((0.0, 0.0));
                e.0 += r;
                e.1 += w;
            }
            let units = emulator::Units::of(&billed);
            rcu.push(units.rcu);
            wcu.push(units.wcu);
            iwcu.push(units.index_wcu);
        }
        let n = (IN_PROCESS) as f64;
        m.sequential = median(&seq);
        m.critical_ms = median(&critical);
        m.served_ms = median(&served);
        m.handler_p50 = median(&wall);
        m.shape = shapes
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(s, _)| s)
            .unwrap_or_default();
        // Mean calls of each operation a request (the cost model multiplies them out).
        m.ops = ops
            .into_iter()
            .map(|(op, v)| (op, v.iter().sum::<f64>() / n))
            .collect();
        m.keys = keys
            .into_iter()
            .map(|(k, (r, w))| (k, (r / n, w / n)))
            .collect();
        m.rcu = rcu.iter().sum::<f64>() / n;
        m.wcu = wcu.iter().sum::<f64>() / n;
        m.index_wcu = iwcu.iter().sum::<f64>() / n;
        if let Some(e) = report.function_mut(s.function.name).endpoint.as_mut() {
            e.modelled = Some(m);
        }
    }

    if options.get("phases") == Some("endpoints") {
        emulator::capacity(false).await?;
        emulator::clear_delays().await?;
        return std::fs::write(&out, report.render()).map_err(|e| format!("{out}: {e}"));
    }

    // 4. Through the local stack, as `make dev` serves it (inflow_dev.gateway), under the model.
    let bins = stack::bin_dir(&lambda_dir)?;
    stack_phase(&bins, &scenarios, &mut report).await?;

    // 5. After the request: invitations end to end and webhook delivery, under the model.
    eprintln!("bench: invitations end to end");
    report.end_to_end = Some(flows::invitations(E2E_INVITATIONS).await?);
    eprintln!("bench: API request to webhook receiver");
    report.webhook_latency = Some(flows::webhook_latency(E2E_LATENCY_SAMPLES, &model).await?);
    report.sweeper_idle = Some(flows::sweeper_idle(10).await?);

    tenants_phase(&mut report, TENANT_ADDRESSES, Some(&model)).await?;

    // 6. Capacity: the biggest import, and several tenants importing at once, through the
    // stack under the model, with the write units each partition key took.
    if let Some(s) = scenarios.iter().find(|s| s.function == IMPORT_INVITATIONS) {
        eprintln!("bench: capacity simulation (imports through the stack)");
        report.capacity = capacity_phase(&bins, s).await?;
    }
    emulator::capacity(false).await?;
    emulator::clear_delays().await?;

    // 7. Imports, in-process, as fast as the emulator goes.
    for n in options
        .get("imports")
        .unwrap_or("100,1000,5000")
        .split(',')
        .filter_map(|n| n.parse().ok())
    {
        eprintln!("bench: import of {n} addresses");
        report.imports.push(import(&env, &stub, n).await?);
    }

    // 8. The first request's connection set-up, with and without TLS.
    if let Some(endpoint) = options.get("tls-endpoint") {
        report.tls = Some(tls::measure(endpoint, &env, runs).await?);
    }

    if let Some(path) = options.get("measurements") {
        std::fs::write(path, report.measurements()).map_err(|e| format!("{path}: {e}"))?;
    }
    let text = report.render();
    std::fs::write(&out, text).map_err(|e| format!("{out}: {e}"))
}

/// Addresses of the tenants phase's import and fan-out.
const TENANT_ADDRESSES: usize = 5000;

/// Tenants: an import's mail and another organization's single invitation on the shared email
/// lane, at the template's bulk pace; the webhook worker's bounds under a fan-out to 20
/// endpoints.
async fn tenants_phase(
    report: &mut Report,
    addresses: usize,
    model: Option<&calls::Model>,
) -> Result<(), String> {
    if let Some(model) = model {
        emulator::set_delays(model).await?;
    }
    let bulk_rate = inflow_tests::template::parameter("BulkEmailRate").unwrap_or(10.0);
    let email_concurrency =
        inflow_tests::template::parameter("EmailWorkerMaxConcurrency").unwrap_or(2.0) as usize;
    eprintln!("bench: tenants: a {addresses}-address import's mail beside one invitation");
    report.fairness = Some(tenants::fairness(addresses, bulk_rate, email_concurrency).await?);
    // Bounds, not latency: as fast as the emulator goes, two minutes of the 100,000 deliveries.
    emulator::clear_delays().await?;
    eprintln!("bench: tenants: a {addresses}-address fan-out to 20 endpoints");
    let fan_out = tenants::fan_out(addresses, 20, 5, Duration::from_secs(120)).await;
    if let Some(model) = model {
        emulator::set_delays(model).await?;
    }
    report.fan_out = Some(fan_out?);
    Ok(())
}

/// `inflow-bench tenants`: the tenants phase alone, under the model if one is given; prints
/// its section of the report.
async fn tenants_only(options: &Options) -> Result<(), String> {
    let mut report = Report::new(0, 0, 0);
    let model = match options.get("model") {
        Some(path) => Some(
            serde_json::from_str::<calls::Model>(
                &std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
            )
            .map_err(|e| format!("{path}: {e}"))?,
        ),
        None => None,
    };
    let addresses = options.number("addresses", TENANT_ADDRESSES);
    let result = tenants_phase(&mut report, addresses, model.as_ref()).await;
    emulator::clear_delays().await?;
    result?;
    println!(
        "{}",
        serde_json::json!({"fairness": report.fairness, "fan_out": report.fan_out})
    );
    Ok(())
}

/// One plain GetItem of an organization, the yardstick of the stack ratio.
struct GetItem<'a> {
    env: &'a Env,
    org_id: &'a str,
}

impl GetItem<'_> {
    /// The wall time of each of `n` GetItems, one at a time, in ms.
    async fn times(&self, n: usize) -> Result<Vec<f64>, String> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            self.env
                .app
                .table
                .client()
                .get_item()
                .table_name(&self.env.app.config.table_name)
                .key("PK", AttributeValue::S(format!("ORG#{}", self.org_id)))
                .key("SK", AttributeValue::S("ORG".into()))
                .send()
                .await
                .map_err(|e| format!("GetItem: {e}"))?;
            times.push(ms(started.elapsed()));
        }
        Ok(times)
    }
}

/// An SQS client of `env`'s that sends to the stub, its calls counted by `counter`.
fn stub_sqs(env: &Env, stub: &str, counter: &inflow_tests::CallCounter) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(&env.sdk)
        .endpoint_url(stub)
        .interceptor(counter.clone())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// The configuration every function reads, pointing at this run's private resources.
async fn app_env(env: &Env) -> Vec<(String, String)> {
    let c = &env.app.config;
    let mut vars: Vec<(String, String)> = [
        ("TABLE_NAME", c.table_name.as_str()),
        ("WEBHOOK_QUEUE_URL", &env.queues.webhook_url),
        ("EMAIL_QUEUE_URL", &env.queues.email_url),
        ("APP_SECRET_ID", &c.app_secret_id),
        ("SENDER_EMAIL", "noreply@bench.example"),
        ("RUST_LOG", "info"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for k in [
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
    ] {
        if let Ok(v) = std::env::var(k) {
            vars.push((k.to_owned(), v));
        }
    }
    vars
}

fn launch_env(name: &str, app_env: &[(String, String)]) -> Vec<(String, String)> {
    let mut vars = runtime::lambda_env(name);
    if name != "hello" {
        vars.extend_from_slice(app_env);
    }
    vars
}

/// The environment the gateway (and so every function) gets for a scenario's resources.
async fn gateway_env(env: &Env) -> Vec<(String, String)> {
    let mut vars = app_env(env).await;
    vars.push(("ALLOW_PRIVATE_WEBHOOK_TARGETS".into(), "true".into()));
    vars.push(("RUST_LOG".into(), "info".into()));
    vars
}

/// Each endpoint through inflow_dev.gateway (one gateway per scenario, one instance of each
/// function), its requests sent one at a time from a second process.
async fn stack_phase(
    bins: &Path,
    scenarios: &[scenarios::Scenario],
    report: &mut Report,
) -> Result<(), String> {
    for s in scenarios {
        let name = s.function.name;
        eprintln!("bench: {name} through the local stack");
        let log = std::env::temp_dir().join(format!("inflow-bench-{name}-gateway.log"));
        let gateway = stack::Gateway::start(bins, &gateway_env(&s.env).await, 1, log).await?;
        let pids = gateway.pids(name).await;
        let pid = pids.first().copied().unwrap_or(0);
        let cpu_before = runtime::cpu_ms(pid).unwrap_or(f64::NAN);
        let result = load_through(&gateway.base, name, &s.requests[2 * IN_PROCESS..]).await;
        let cpu = runtime::cpu_ms(pid).unwrap_or(f64::NAN) - cpu_before;
        let peak = runtime::peak_kib(pid);
        let logged: Vec<f64> = gateway
            .logged_latencies(name)
            .into_iter()
            .skip(WARM_UP)
            .collect();
        gateway.stop().await;
        let (p50, p99, sent, failures) = result?;
        let row = report.function_mut(name);
        row.load_peak_kib = peak;
        if let Some(e) = row.endpoint.as_mut() {
            e.stack = Some(report::StackRow {
                p50,
                p99,
                failures,
                in_function_p50: median(&logged),
                cpu_per_request: cpu / (sent + WARM_UP) as f64,
            });
        }
    }
    Ok(())
}

/// Invitations of one 5,000-address import, and of TENANTS tenants importing at once, through
/// the stack under the latency model: the write units each partition key took, in all and in
/// its busiest second.
async fn capacity_phase(
    bins: &Path,
    s: &scenarios::Scenario,
) -> Result<Vec<report::CapacityRun>, String> {
    let mut runs = Vec::new();
    let log = std::env::temp_dir().join("inflow-bench-capacity-gateway.log");
    let gateway = stack::Gateway::start(bins, &gateway_env(&s.env).await, TENANTS, log).await?;
    for (tenants, per) in [(1usize, 5000usize), (TENANTS, 1000)] {
        let mut lists = Vec::new();
        for i in 0..tenants {
            let t = s.env.tenant_with(inflow::model::Tier::Enterprise).await;
            let list = scenarios::addresses(&format!("cap{tenants}-{i}-"), per);
            lists.push(scenarios::import_request(&t, &list));
        }
        emulator::capacity_reset().await?;
        let started = Instant::now();
        let sent = futures_join(&gateway.base, lists).await?;
        let seconds = started.elapsed().as_secs_f64();
        let billed = emulator::billed().await?;
        let (partitions, span) = emulator::write_partitions(&billed);
        let units = emulator::Units::of(&billed);
        let max_per_second = partitions
            .iter()
            .map(|p| p.peak_per_second)
            .fold(0.0, f64::max);
        runs.push(report::CapacityRun {
            tenants,
            addresses: per,
            seconds,
            calls_span: span,
            statuses: sent,
            units,
            partitions: partitions.into_iter().take(12).collect(),
            max_per_second,
        });
    }
    gateway.stop().await;
    Ok(runs)
}

/// Sends each request at once (one connection each) and returns their statuses.
async fn futures_join(base: &str, requests: Vec<scenarios::Req>) -> Result<Vec<u16>, String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let mut handles = Vec::new();
    for req in requests {
        let client = client.clone();
        let url = format!("{base}{}", req.path);
        handles.push(tokio::spawn(async move {
            let mut b = client.post(url);
            for (k, v) in &req.headers {
                b = b.header(k, v);
            }
            if let Some(body) = req.body {
                b = b.body(body);
            }
            b.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// Runs the load client on `requests` (the first WARM_UP are not counted):
/// (p50 ms, p99 ms, requests counted, non-2xx answers).
async fn load_through(
    base: &str,
    name: &str,
    requests: &[scenarios::Req],
) -> Result<(f64, f64, usize, usize), String> {
    let dir = std::env::temp_dir();
    let (input, output) = (
        dir.join(format!("inflow-bench-{name}-requests.json")),
        dir.join(format!("inflow-bench-{name}-samples.json")),
    );
    std::fs::write(
        &input,
        serde_json::to_string(requests).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let status = tokio::process::Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .args(["load", "--base", base, "--seconds", "60"])
        .arg("--requests")
        .arg(&input)
        .arg("--out")
        .arg(&output)
        .status()
        .await
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("load client for {name}: {status}"));
    }
    let samples: Vec<load::Sample> =
        serde_json::from_str(&std::fs::read_to_string(&output).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let counted: Vec<&load::Sample> = samples.iter().skip(WARM_UP).collect();
    let times: Vec<f64> = counted.iter().map(|s| s.micros as f64 / 1000.0).collect();
    let failures = counted
        .iter()
        .filter(|s| !(200..300).contains(&s.status))
        .count();
    Ok((
        percentile(&times, 50.0),
        percentile(&times, 99.0),
        counted.len(),
        failures,
    ))
}

async fn import(env: &Env, sqs_stub: &str, n: usize) -> Result<ImportRow, String> {
    let t = env.tenant_with(inflow::model::Tier::Enterprise).await;
    let request = scenarios::import_request(&t, &scenarios::addresses(&format!("bulk{n}-"), n))
        .call()
        .request();
    // What the stream holds before the import is relayed first, to the stub, uncounted.
    let sqs = inflow_tests::CallCounter::default();
    let stubbed = inflow::queue::Queues::new(
        stub_sqs(env, sqs_stub, &sqs),
        env.queues.webhook_url.clone(),
        env.queues.email_url.clone(),
    );
    let relay = inflow::relay::Relay {
        queues: stubbed,
        dead_letters: None,
    };
    env.relay_stream_with(&relay).await;
    sqs.reset();
    let (app, ddb) = env.counted();
    let (started, cpu_before) = (Instant::now(), tls::cpu_ms());
    let res = inflow_tests::Answer::from(IMPORT_INVITATIONS.call(&app, request).await);
    let (elapsed, cpu) = (ms(started.elapsed()), tls::cpu_ms() - cpu_before);
    let made = res.body["invitations"].as_array().map_or(0, Vec::len);
    if res.status != 200 || made != n {
        return Err(format!(
            "import of {n}: {} with {made} invitations: {}",
            res.status,
            &res.raw[..res.raw.len().min(300)]
        ));
    }
    let writes = [
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
    ]
    .iter()
    .map(|op| ddb.count(op))
    .sum();
    let relayed = env.relay_stream_with(&relay).await;
    Ok(ImportRow {
        n,
        ms: elapsed,
        cpu_ms: cpu,
        ddb: ddb.total(),
        writes,
        relay_sqs: sqs.total(),
        relay_batches: relayed.invocations,
    })
}
