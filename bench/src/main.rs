//! `make bench` (scripts/bench.sh runs this after the release build, with the emulator and the
//! local stack up). Measures every function binary beside a hello-world Lambda, every endpoint
//! in-process and through the local stack, and imports of 100 to 5,000 addresses; prints one
//! table and writes it to docs/benchmarks.md. Benchmarks, not tests: nothing here fails a build.
//!
//!   inflow-bench run --lambda-dir DIR --out FILE [--runs 15] [--requests 150] [--stack HOST:PORT]
//!                    [--tls-endpoint https://127.0.0.1:PORT] [--only BIN,BIN] [--imports 100,1000]
//!                    [--phases init]   (init only: to compare builds quickly)
//!   inflow-bench load --base http://127.0.0.1:PORT --requests FILE --out FILE   (the load client)

mod load;
mod report;
mod runtime;
mod scenarios;
mod sqs_stub;
mod stats;
mod tls;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use inflow_tests::{Env, Function};
use report::{EndpointRow, FunctionRow, ImportRow, Report};
use stats::{median, ms, percentile};

/// Requests per endpoint measured in-process, and sent (not counted) before the load.
const IN_PROCESS: usize = 30;
const WARM_UP: usize = 5;

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
        _ => Err(
            "usage: inflow-bench run --lambda-dir DIR --out FILE [...] | inflow-bench load ..."
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

    // 2. Every endpoint in-process: calls counted with an SDK interceptor, handler time.
    // The relay's SQS, for imports, is a constant-time stub (see sqs_stub.rs): moto's ~10 ms a
    // call would swamp what is measured.
    let stub = sqs_stub::start().await?;
    eprintln!("bench: setting up the endpoints");
    let total = IN_PROCESS + WARM_UP + requests;
    let mut scenarios = Vec::new();
    for &function in Function::ALL
        .iter()
        .filter(|f| names.iter().any(|n| n == f.binary()))
    {
        scenarios.push(scenarios::build(function, total).await?);
    }
    for s in &scenarios {
        let (counted, ddb_calls) = s.env.counted();
        let (mut ddb, mut times, mut cpu, mut failures) = (Vec::new(), Vec::new(), Vec::new(), 0);
        let mut over_io = Vec::new();
        for req in &s.requests[..IN_PROCESS] {
            let request = req.call().request();
            ddb_calls.reset();
            let (started, cpu_before) = (Instant::now(), tls::cpu_ms());
            let res = s.function.call(&counted, request).await;
            let wall = ms(started.elapsed());
            let waited = ms(ddb_calls.waited());
            over_io.push(wall / waited.max(f64::EPSILON));
            times.push(wall);
            cpu.push(tls::cpu_ms() - cpu_before);
            ddb.push(ddb_calls.total() as f64);
            failures += usize::from(!res.status().is_success());
        }
        report.function_mut(s.function.binary()).endpoint = Some(EndpointRow::new(
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
    for _ in 0..IN_PROCESS {
        ddb_calls.reset();
        let started = Instant::now();
        inflow::auth::authenticate(&counted, &t.admin_key, chrono::Utc::now())
            .await
            .map_err(|e| format!("auth: {e}"))?;
        // Timed like the GetItem below: one conditional UpdateItem, the call every request makes.
        if ddb_calls.total() == 1 {
            updates.push(ms(started.elapsed()));
        }
        auth.push(ddb_calls.total() as f64);
    }
    report.auth_calls = (median(&auth), auth.iter().cloned().fold(0.0, f64::max));
    report.update_item_p50 = median(&updates);

    // 3. The emulator's own latency for one plain GetItem, in this run.
    let get_item = GetItem {
        env: &env,
        org_id: &t.org_id,
    };
    report.get_item_p50 = median(&get_item.times(200).await?);

    // 4. Through the local stack: cargo lambda watch's router -> the release binaries.
    if let Some(stack) = options.get("stack") {
        stack_phase(stack, &lambda_dir, &scenarios, &get_item, &mut report).await?;
    }

    // 5. Imports.
    for n in options
        .get("imports")
        .unwrap_or("100,1000,5000")
        .split(',')
        .filter_map(|n| n.parse().ok())
    {
        eprintln!("bench: import of {n} addresses");
        report.imports.push(import(&env, &stub, n).await?);
    }

    // 6. The first request's connection set-up, with and without TLS.
    if let Some(endpoint) = options.get("tls-endpoint") {
        report.tls = Some(tls::measure(endpoint, &env, runs).await?);
    }

    let text = report.render();
    std::fs::write(&out, text).map_err(|e| format!("{out}: {e}"))
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
                .ddb
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

/// GetItems timed on each side of an endpoint's load, so that its ratio compares numbers
/// measured within the same minute (a shared machine's speed drifts over a run).
const GET_ITEMS_BESIDE_LOAD: usize = 50;

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
    let dlq = env
        .queue_url(&format!("{}-dlq", env.names.webhook_queue))
        .await;
    let mut vars: Vec<(String, String)> = [
        ("TABLE_NAME", c.table_name.as_str()),
        ("WEBHOOK_QUEUE_URL", &env.queues.webhook_url),
        ("EMAIL_QUEUE_URL", &env.queues.email_url),
        ("APP_SECRET_ID", &c.app_secret_id),
        ("WEBHOOK_DLQ_URL", &dlq),
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

/// Starts each HTTP function (and hello) against `cargo lambda watch --only-lambda-apis` on
/// `stack`, then sends each endpoint's requests from a second process, one at a time.
async fn stack_phase(
    stack: &str,
    lambda_dir: &Path,
    scenarios: &[scenarios::Scenario],
    get_item: &GetItem<'_>,
    report: &mut Report,
) -> Result<(), String> {
    let mut processes = HashMap::new();
    let mut envs = vec![("hello", Vec::new())];
    for s in scenarios {
        envs.push((s.function.binary(), app_env(&s.env).await));
    }
    for (name, app_env) in envs {
        let log = std::fs::File::create(log_path(name))
            .map_err(|e| format!("{}: {e}", log_path(name).display()))?;
        let child = tokio::process::Command::new(lambda_dir.join(name).join("bootstrap"))
            .env_clear()
            .envs(launch_env(name, &app_env))
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://{stack}/.rt/{name}"),
            )
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{name}: {e}"))?;
        processes.insert(name.to_owned(), child);
    }
    let base = format!("http://{stack}");
    let hello = vec![
        scenarios::Req {
            method: "GET".into(),
            path: "/lambda-url/hello/".into(),
            params: vec![],
            headers: vec![],
            body: None
        };
        WARM_UP + report.requests
    ];
    let hello_pid = processes["hello"].id().unwrap_or(0);
    let cpu_before = runtime::cpu_ms(hello_pid).unwrap_or(f64::NAN);
    report.stack_overhead_p50 = load_through(&base, "hello", &hello).await?.0;
    report.hello_cpu_per_request =
        (runtime::cpu_ms(hello_pid).unwrap_or(f64::NAN) - cpu_before) / hello.len() as f64;
    for s in scenarios {
        let name = s.function.binary();
        eprintln!("bench: {name} through the local stack");
        let pid = processes[name].id().unwrap_or(0);
        let mut beside = get_item.times(GET_ITEMS_BESIDE_LOAD).await?;
        let cpu_before = runtime::cpu_ms(pid).unwrap_or(f64::NAN);
        let (p50, p99, sent, failures) =
            load_through(&base, name, &s.requests[IN_PROCESS..]).await?;
        let cpu = runtime::cpu_ms(pid).unwrap_or(f64::NAN) - cpu_before;
        beside.extend(get_item.times(GET_ITEMS_BESIDE_LOAD).await?);
        let row = report.function_mut(name);
        row.load_peak_kib = runtime::peak_kib(pid);
        if let Some(e) = row.endpoint.as_mut() {
            e.stack = Some(report::StackRow {
                p50,
                p99,
                failures,
                get_item_p50: median(&beside),
                in_function_p50: logged_p50(name),
                // The load client may stop early (a time limit); the warm-up ran here too.
                cpu_per_request: cpu / (sent + WARM_UP) as f64,
            });
        }
    }
    for (_, mut child) in processes {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    Ok(())
}

/// Where a function's log lines go while the stack phase runs it.
fn log_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("inflow-bench-{name}-log.json"))
}

/// The median of the latencies a function logged for its own requests ("request finished":
/// authentication through the reply, without the runtime's event decoding), after the warm-up.
fn logged_p50(name: &str) -> f64 {
    let text = std::fs::read_to_string(log_path(name)).unwrap_or_default();
    let latencies: Vec<f64> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "request finished")
        .filter_map(|line| line["fields"]["latency_ms"].as_f64())
        .skip(WARM_UP)
        .collect();
    median(&latencies)
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
    let relay = inflow::relay::Relay { queues: stubbed };
    env.relay_stream_with(&relay).await;
    sqs.reset();
    let (app, ddb) = env.counted();
    let (started, cpu_before) = (Instant::now(), tls::cpu_ms());
    let res = inflow_tests::Answer::from(Function::ImportInvitations.call(&app, request).await);
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
