//! The one table `make bench` prints, with every target and whether it is met.

use std::path::Path;

use inflow_tests::Function;

use crate::{
    calls::Model,
    emulator::{Partition, Units},
    flows::{EndToEnd, WebhookLatency},
    stats::median,
    tls::Tls,
};

pub const MAX_BINARY_MIB: f64 = 8.0;
/// Init CPU ÷ hello world's init CPU (CPU, not wall: wall waits for the emulator).
pub const MAX_INIT_CPU_RATIO: f64 = 2.0;
pub const MAX_PEAK_MIB: f64 = 12.0;
/// Stack p50 under the latency model ≤ the modelled critical path + this (ms).
pub const STACK_SLACK_MS: f64 = 2.0;
/// Handler wall time ÷ its own I/O wait: what our code adds.
pub const MAX_OVER_IO: f64 = 1.1;
/// The constant `c` allowed in an import's ⌈n/25⌉ + c writes and its relay's ⌈n/10⌉ + c SQS
/// calls (per relay batch of records: its emails 10 a call, its events in one message).
pub const IMPORT_C: usize = 3;
/// "Well inside API Gateway's 29 s": a third of it.
pub const MAX_IMPORT_MS: f64 = 29_000.0 / 3.0;

pub struct Report {
    pub runs: usize,
    pub requests: usize,
    pub in_process: usize,
    pub arch: String,
    pub functions: Vec<FunctionRow>,
    /// DynamoDB calls of authentication + rate limit: (median, max).
    pub auth_calls: (f64, f64),
    pub get_item_p50: f64,
    /// The rate limit's conditional UpdateItem, which every request makes.
    pub update_item_p50: f64,
    pub secret_read_p50: f64,
    pub imports: Vec<ImportRow>,
    pub tls: Option<Tls>,
    pub model: Model,
    pub end_to_end: Option<EndToEnd>,
    pub webhook_latency: Option<WebhookLatency>,
    pub sweeper_idle: Option<crate::flows::Step>,
    pub capacity: Vec<CapacityRun>,
    pub fairness: Option<crate::tenants::Fairness>,
    pub fan_out: Option<crate::tenants::FanOut>,
}

/// An endpoint under the latency model, in-process (IN_PROCESS requests).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Modelled {
    /// Round trips waited for one after another (median).
    pub sequential: f64,
    /// Their modelled time (ms, median): the least the request can take in a region.
    pub critical_ms: f64,
    /// The same chain at the times its calls took (ms, median): above `critical_ms` by what
    /// the emulator took beyond the model.
    pub served_ms: f64,
    /// The handler's wall time under the model (ms, median).
    pub handler_p50: f64,
    /// The most common order of its calls ("A → B + C": B and C concurrent).
    pub shape: String,
    /// Calls of each operation per request (mean).
    pub ops: std::collections::HashMap<String, f64>,
    /// Capacity units per request (mean): reads, table writes, index writes.
    pub rcu: f64,
    pub wcu: f64,
    pub index_wcu: f64,
    /// Units per request by partition key pattern ("ORG#<org>", "GSI1 INVNUM#<org>#<flow>#<n>"):
    /// (read units, write units), means. docs/bench/capacity.md divides a partition's 1,000 WCU/s by them.
    pub keys: std::collections::BTreeMap<String, (f64, f64)>,
    pub failures: usize,
}

/// An endpoint's stack p50 above its critical path, taken apart (ms).
struct Split {
    /// The chain as the emulator served it, beyond the model's times.
    emulator: f64,
    /// The handler in-process under the model, beyond its chain as served.
    ours: f64,
    /// The function in the stack, beyond the handler in-process.
    rest: f64,
    /// The gateway: the client's latency beyond the function's.
    gateway: f64,
}

impl Split {
    fn of(s: &StackRow, m: &Modelled) -> Split {
        Split {
            emulator: m.served_ms - m.critical_ms,
            ours: m.handler_p50 - m.served_ms,
            rest: s.in_function_p50 - m.handler_p50,
            gateway: s.p50 - s.in_function_p50,
        }
    }
}

/// One run of the capacity simulation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CapacityRun {
    pub tenants: usize,
    pub addresses: usize,
    /// Wall time of the imports (s), and the time their DynamoDB calls spanned.
    pub seconds: f64,
    pub calls_span: f64,
    pub statuses: Vec<u16>,
    pub units: Units,
    /// The hottest partition keys by write units.
    pub partitions: Vec<Partition>,
    /// The most write units any one partition key took in any one second (of every key, not
    /// only the hottest by total).
    pub max_per_second: f64,
}

pub struct FunctionRow {
    pub name: String,
    pub size: u64,
    pub init_ms: f64,
    pub init_cpu_ms: f64,
    pub peak_kib: f64,
    pub load_peak_kib: Option<u64>,
    pub endpoint: Option<EndpointRow>,
}

pub struct EndpointRow {
    pub ddb: (f64, f64),
    pub budget: f64,
    /// Handler time: (wall ms, CPU ms of this process), medians.
    pub handler_p50: (f64, f64),
    /// Handler wall time ÷ the time its own calls waited for the emulator, median.
    pub over_own_io: f64,
    pub failures: usize,
    pub stack: Option<StackRow>,
    pub modelled: Option<Modelled>,
}

/// An endpoint's load through the local stack (ms).
pub struct StackRow {
    pub p50: f64,
    pub p99: f64,
    /// Answers that were not 2xx.
    pub failures: usize,
    /// The p50 of the latency the function logged for those requests itself.
    pub in_function_p50: f64,
    /// The function process's CPU over that load, per request.
    pub cpu_per_request: f64,
}

pub struct ImportRow {
    pub n: usize,
    pub ms: f64,
    pub cpu_ms: f64,
    pub ddb: usize,
    pub writes: usize,
    /// The relay's SQS calls for the import's jobs (the request makes none).
    pub relay_sqs: usize,
    /// The relay's batches (invocations) for them.
    pub relay_batches: usize,
}

/// The fewest DynamoDB round trips each endpoint's access pattern allows (docs/table.md);
/// import is for its 10-address requests. No request calls SQS: the HTTP functions
/// have no queue client (their jobs go out through the table and the relay).
fn budget(f: Function) -> f64 {
    match f.name {
        "assign-flow" => 3.0,
        "get-assignment" => 2.0,
        "start-assignment" => 2.0,
        "complete-assignment" => 3.0,
        "create-user-group" => 3.0,
        // The key, the flow, then the 16 shards of the open-invitations index at once.
        "list-invitations" => 18.0,
        "create-invitation" => 6.0,
        "import-invitations" => 8.0,
        "get-invitation" => 3.0,
        "delete-invitation" => 5.0,
        "get-flow" => 3.0,
        "cancel-flow" => 4.0,
        "create-join-organization-flow" | "create-signup-flow" => 6.0,
        "consume-flow" => 7.0,
        "list-webhook-deliveries" => 2.0,
        "replay-webhook-delivery" => 2.0,
        "get-organization" | "update-organization" => 2.0,
        "create-webhook-endpoint" | "delete-webhook-endpoint" => 2.0,
        "list-webhook-endpoints" | "get-webhook-endpoint" => 2.0,
        "update-webhook-endpoint" | "rotate-webhook-endpoint-secret" => 2.0,
        "test-webhook-endpoint" => 2.0,
        // No key: the client address's limit, the invitation, then the names the page shows.
        "accept-page" => 3.0,
        other => panic!("{other}: an endpoint this list does not know yet"),
    }
}

impl EndpointRow {
    pub fn new(
        f: Function,
        ddb: &[f64],
        handler_p50: (f64, f64),
        over_own_io: f64,
        failures: usize,
    ) -> Self {
        let max = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
        EndpointRow {
            ddb: (median(ddb), max(ddb)),
            budget: budget(f),
            handler_p50,
            over_own_io,
            failures,
            stack: None,
            modelled: None,
        }
    }
}

impl Report {
    pub fn new(runs: usize, requests: usize, in_process: usize) -> Self {
        Report {
            runs,
            requests,
            in_process,
            arch: String::new(),
            functions: Vec::new(),
            auth_calls: (0.0, 0.0),
            get_item_p50: 0.0,
            update_item_p50: f64::NAN,
            secret_read_p50: 0.0,
            imports: Vec::new(),
            tls: None,
            model: Model::default(),
            end_to_end: None,
            webhook_latency: None,
            sweeper_idle: None,
            capacity: Vec::new(),
            fairness: None,
            fan_out: None,
        }
    }

    pub fn function_mut(&mut self, name: &str) -> &mut FunctionRow {
        self.functions
            .iter_mut()
            .find(|f| f.name == name)
            .expect("a measured binary")
    }

    fn hello(&self) -> &FunctionRow {
        self.functions
            .iter()
            .find(|f| f.name == "hello")
            .expect("hello is measured")
    }

    pub fn render(&self) -> String {
        let hello = self.hello();
        let mut out = String::new();
        let line = |out: &mut String, s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(&mut out, "# Benchmarks\n".into());
        line(&mut out, "Written by `make bench` (scripts/bench.sh); do not edit by hand. One run: every ratio below compares".into());
        line(&mut out, "numbers measured minutes apart on the same machine. The machine is shared and noisy: read medians and ratios.\n".into());
        line(
            &mut out,
            format!(
                "- **When / where:** {}; {}; commit {}.",
                chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
                machine(),
                commit()
            ),
        );
        line(&mut out, format!(
            "- **Binaries:** `cargo lambda build --release` ({}), the pinned `[profile.release]`; init = process start to its first \
             `GET …/runtime/invocation/next` on a fake Runtime API on loopback, with the real configuration and the app secret \
             read from the emulator (no latency model: init's wall time is the emulator's; its CPU is ours); peak = VmHWM; \
             medians of {} launches.",
            self.arch, self.runs
        ));
        let model = {
            let mut ops: Vec<_> = self.model.operations.iter().collect();
            ops.sort_by(|a, b| a.0.cmp(b.0));
            ops.iter()
                .map(|(op, ms)| format!("{op} {ms}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        line(&mut out, format!(
            "- **Latency model** (ms per call, same region, warm connection; docs/cost-inputs.toml `[latency]`, where each figure's \
             source is, some marked UNVERIFIED): {model}. The emulator answers each call no sooner than its operation's time \
             after it arrived (its own work counts toward it), outside its DynamoDB lock, so concurrent calls overlap as in AWS."
        ));
        line(&mut out, format!(
            "- **Endpoints:** calls recorded with an SDK interceptor (send and answer times of each). In-process, {n} requests \
             as fast as the emulator goes: handler time (wall / CPU) and \"handler ÷ its I/O wait\" (wall ÷ the time at least \
             one of its calls was in flight: what our code adds). Then {n} more under the latency model: *sequential* round \
             trips (the longest chain of calls each sent after the previous answered; the \"shape\" shows it, `+` joins \
             concurrent calls), the model's time for that chain (\"critical path\"), and the DynamoDB units the emulator's \
             counter billed (reads; table writes + index writes). Then {r} requests one at a time from a second process \
             through inflow_dev.gateway (the local API Gateway of `make dev`, one instance per function, release binaries) \
             under the model, after {w} not counted; \"in the function\" is the latency each function logs for itself; \
             CPU is the function process's over its load, per request.",
            n = self.in_process, r = self.requests, w = crate::WARM_UP
        ));
        line(&mut out, format!(
            "- **Baselines in this run:** hello world: init {:.2} ms wall, {:.2} ms CPU, peak {:.1} MiB; emulator p50s (no model): \
             GetItem {:.2} ms, the rate limit's conditional UpdateItem {:.2} ms, GetSecretValue {:.2} ms.\n",
            hello.init_ms, hello.init_cpu_ms, hello.peak_kib / 1024.0, self.get_item_p50, self.update_item_p50,
            self.secret_read_p50
        ));

        // Functions.
        line(&mut out, "## Functions\n".into());
        line(&mut out, "| function | binary MiB | init ms wall (CPU) | init CPU × hello | init wall × hello | peak MiB init / after load | missed targets |".into());
        line(&mut out, "|---|--:|--:|--:|--:|--:|---|".into());
        for f in &self.functions {
            let mut misses = Vec::new();
            let mib = f.size as f64 / (1024.0 * 1024.0);
            let cpu_ratio = f.init_cpu_ms / hello.init_cpu_ms;
            let wall_ratio = f.init_ms / hello.init_ms;
            let peak = f.peak_kib.max(f.load_peak_kib.unwrap_or(0) as f64) / 1024.0;
            if mib > MAX_BINARY_MIB {
                misses.push(format!("binary > {MAX_BINARY_MIB} MiB"));
            }
            if f.name != "hello" && cpu_ratio > MAX_INIT_CPU_RATIO {
                misses.push(format!("init CPU > {MAX_INIT_CPU_RATIO}×"));
            }
            if peak > MAX_PEAK_MIB {
                misses.push(format!("peak > {MAX_PEAK_MIB} MiB"));
            }
            let load_peak = f
                .load_peak_kib
                .map_or("–".into(), |k| format!("{:.1}", k as f64 / 1024.0));
            let name = if f.name == "hello" {
                "hello (yardstick)".to_string()
            } else {
                f.name.clone()
            };
            let size_cell = if f.name.contains(' ') {
                "″".to_string()
            } else {
                format!("{mib:.2}")
            };
            let misses = if f.name == "hello" {
                String::new()
            } else if misses.is_empty() {
                "none".into()
            } else {
                misses.join("; ")
            };
            line(&mut out, format!(
                "| {name} | {size_cell} | {:.2} ({:.2}) | {cpu_ratio:.2} | {wall_ratio:.2} | {:.1} / {load_peak} | {misses} |",
                f.init_ms, f.init_cpu_ms, f.peak_kib / 1024.0
            ));
        }
        line(&mut out, String::new());
        line(&mut out, self.init_summary());

        // Endpoints.
        line(&mut out, "## Endpoints\n".into());
        line(&mut out, "| endpoint | DynamoDB calls | sequential round trips | shape (under the model) | critical path ms (model) | in-process under the model: chain as served / handler ms | stack p50 / p99 ms (in the function; CPU a request) | p50 − critical path | handler ms wall / CPU (no model) | handler ÷ its I/O wait | RCU; WCU table + index | missed targets |".into());
        line(
            &mut out,
            "|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|---|".into(),
        );
        for f in &self.functions {
            let Some(e) = &f.endpoint else { continue };
            let mut misses = Vec::new();
            if e.ddb.0 > e.budget {
                misses.push(format!("DynamoDB > {}", e.budget));
            }
            if e.failures > 0 {
                misses.push(format!("{} non-2xx in-process", e.failures));
            }
            if e.over_own_io > MAX_OVER_IO {
                misses.push(format!("handler ÷ I/O > {MAX_OVER_IO}"));
            }
            let (mut seq, mut shape, mut critical, mut served, mut units) = (
                "–".to_string(),
                "–".to_string(),
                "–".to_string(),
                "–".to_string(),
                "–".to_string(),
            );
            if let Some(m) = &e.modelled {
                seq = format!("{:.0}", m.sequential);
                shape = m.shape.clone();
                critical = format!("{:.1}", m.critical_ms);
                served = format!("{:.1} / {:.1}", m.served_ms, m.handler_p50);
                if m.handler_p50 - m.served_ms > STACK_SLACK_MS {
                    misses.push(format!(
                        "handler > its chain as served + {STACK_SLACK_MS} ms"
                    ));
                }
                units = format!("{:.1}; {:.1} + {:.1}", m.rcu, m.wcu, m.index_wcu);
                if m.failures > 0 {
                    misses.push(format!("{} non-2xx under the model", m.failures));
                }
            }
            let (mut stack, mut over) = ("–".to_string(), "–".to_string());
            if let Some(s) = &e.stack {
                stack = format!(
                    "{:.1} / {:.1} ({:.1}; {:.2})",
                    s.p50, s.p99, s.in_function_p50, s.cpu_per_request
                );
                if let Some(m) = &e.modelled {
                    let d = s.p50 - m.critical_ms;
                    over = format!("{d:+.1}");
                    if d > STACK_SLACK_MS {
                        misses.push(format!("p50 > critical path + {STACK_SLACK_MS} ms"));
                    }
                }
                if s.failures > 0 {
                    misses.push(format!("{} non-2xx through the stack", s.failures));
                }
            }
            let misses = if misses.is_empty() {
                "none".into()
            } else {
                misses.join("; ")
            };
            line(&mut out, format!(
                "| {} | {} | {seq} | {shape} | {critical} | {served} | {stack} | {over} | {:.2} / {:.2} | {:.2} | {units} | {misses} |",
                f.name, range(e.ddb), e.handler_p50.0, e.handler_p50.1, e.over_own_io
            ));
        }
        let auth_miss = if self.auth_calls.0 > 1.0 {
            "DynamoDB > 1"
        } else {
            "none"
        };
        line(
            &mut out,
            format!(
                "| authentication + rate limit | {} | 1 | UpdateItem | | | | | | | | {auth_miss} |",
                range(self.auth_calls)
            ),
        );
        line(&mut out, String::new());
        line(&mut out, self.latency_goal_summary());
        line(&mut out, String::new());
        line(&mut out, format!(
            "Targets: binary ≤ {MAX_BINARY_MIB} MiB; init CPU ≤ {MAX_INIT_CPU_RATIO}× hello world's (every client the function uses built, \
             the app secret read); peak ≤ {MAX_PEAK_MIB} MiB; authentication + rate limit in 1 DynamoDB call; each endpoint at most \
             the round trips its access pattern needs (docs/table.md) and no SQS call; stack p50 under the latency model ≤ \
             its critical path + {STACK_SLACK_MS} ms (no call waits on another it does not need), and, what of it is our code's, the handler \
             in-process under the model ≤ its chain of calls as the emulator served them + {STACK_SLACK_MS} ms; handler ÷ its own I/O wait ≤ {MAX_OVER_IO}; \
             an import ≤ ⌈n/25⌉+{IMPORT_C} writes, its relay ≤ ⌈n/10⌉ + a call per batch + {IMPORT_C} SQS calls, and 5,000 addresses in \
             under {:.1} s. (Retired: \"stack p50 ÷ (calls × GetItem p50) ≤ 1.2\", which measured the emulator's uneven \
             operation costs more than our code.)\n",
            MAX_IMPORT_MS / 1000.0
        ));

        // Imports.
        line(
            &mut out,
            "## Imports (in-process, no latency model)\n".into(),
        );
        line(&mut out, "| addresses | DynamoDB calls (writes) | relay SQS calls (batches) | ms wall / CPU | missed targets |".into());
        line(&mut out, "|--:|--:|--:|--:|---|".into());
        for i in &self.imports {
            let writes_max = i.n.div_ceil(25) + IMPORT_C;
            let sqs_max = i.n.div_ceil(10) + i.relay_batches + IMPORT_C;
            let mut misses = Vec::new();
            if i.writes > writes_max {
                misses.push(format!("writes > ⌈n/25⌉+{IMPORT_C} = {writes_max}"));
            }
            if i.relay_sqs > sqs_max {
                misses.push(format!("relay SQS > ⌈n/10⌉+batches+{IMPORT_C} = {sqs_max}"));
            }
            if i.ms > MAX_IMPORT_MS {
                misses.push(format!("time > {:.1} s", MAX_IMPORT_MS / 1000.0));
            }
            let misses = if misses.is_empty() {
                "none".into()
            } else {
                misses.join("; ")
            };
            line(
                &mut out,
                format!(
                    "| {} | {} ({}) | {} ({}) | {:.0} / {:.0} | {misses} |",
                    i.n, i.ddb, i.writes, i.relay_sqs, i.relay_batches, i.ms, i.cpu_ms
                ),
            );
        }
        line(&mut out, String::new());

        // After the request.
        if let Some(e) = &self.end_to_end {
            line(&mut out, format!(
                "## Invitations end to end (in-process, under the latency model)\n\n{} invitations created, relayed, emailed, \
                 accepted and their events delivered to one webhook endpoint subscribed to everything: {} emails, {} deliveries, \
                 {} SQS messages sent by the relay. Per step, all invitations together (the cost model, docs/bench/cost.md, divides):\n",
                e.invitations, e.emails, e.deliveries, e.messages
            ));
            line(
                &mut out,
                "| step | invocations | calls | RCU; WCU table + index | ms wall / CPU |".into(),
            );
            line(&mut out, "|---|--:|---|--:|--:|".into());
            for s in e.steps.iter().chain(self.sweeper_idle.as_ref()) {
                let calls = s
                    .calls
                    .iter()
                    .map(|(op, n)| format!("{op} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                line(
                    &mut out,
                    format!(
                        "| {} | {} | {calls} | {:.1}; {:.1} + {:.1} | {:.0} / {:.0} |",
                        s.name,
                        s.invocations,
                        s.units.rcu,
                        s.units.wcu,
                        s.units.index_wcu,
                        s.wall_ms,
                        s.cpu_ms
                    ),
                );
            }
            line(&mut out, String::new());
        }
        if let Some(w) = &self.webhook_latency {
            let stream = 213.0;
            let sqs = 16.2;
            line(&mut out, format!(
                "## API request → webhook receiver\n\nMedian of {} `POST /v1/flows/assign` → `flow.assigned` at a loopback receiver, \
                 in-process under the latency model, each step started as soon as the previous one ended: **{:.1} ms** (the request \
                 {:.1}, the relay {:.1}, the webhook worker {:.1}). In AWS the event source mappings add their own latency between \
                 the steps: DynamoDB Streams → Lambda p50 {stream} ms and SQS → Lambda p50 {sqs} ms (docs/cost-inputs.toml, \
                 bitesizedserverless 2022), so the modelled request-to-webhook p50 is about **{:.0} ms** plus the receiver's own time.\n",
                w.samples, w.p50_ms, w.request_ms, w.relay_ms, w.worker_ms, w.p50_ms + stream + sqs
            ));
        }

        // Tenants.
        if self.fairness.is_some() || self.fan_out.is_some() {
            line(
                &mut out,
                "## Tenants (in-process, under the latency model)\n".into(),
            );
        }
        if let Some(f) = &self.fairness {
            line(&mut out, format!(
                "**One invitation beside another organization's import.** Organization A imported {} addresses; organization \
                 B then invited one person. With {} email worker invocations draining the shared queue and bulk mail paced to \
                 {} a second (the template's defaults), B's email was sent **{:.0} ms** after its request, after {} of A's \
                 {} mails (its job is a message group of its own: the queue hands it out with the first receive). A's whole \
                 import takes {:.0} s at that pace.\n",
                f.imported, f.concurrency, f.bulk_rate, f.single_ms, f.bulk_sent_before, f.imported,
                f.imported as f64 / f.bulk_rate
            ));
        }
        if let Some(o) = &self.fan_out {
            line(&mut out, format!(
                "**The webhook worker under a fan-out.** {} addresses imported into an organization with {} endpoints \
                 on {} hosts (three a host, the most allowed), each endpoint subscribed to `invitation.created`: one worker \
                 instance made {} of the {} deliveries in the {:.0} s measured, receivers answering in 5 ms, the emulator as \
                 fast as it goes (bounds, not latency, are measured). The most deliveries it made at once: **{}** (its bound {}); the most \
                 one host answered at once: **{}** (bound {} an instance); the most file descriptors it held above its \
                 count before, the receivers' own sockets left out: **{}** (a function may open {}; each delivery holds \
                 its connection and its record writes a DynamoDB one).\n",
                o.addresses, o.endpoints, o.hosts, o.deliveries, o.wanted, o.seconds, o.peak_in_flight, o.in_flight_bound,
                o.peak_per_host, o.per_host_bound, o.peak_fds, o.fd_limit
            ));
        }

        // Capacity.
        if !self.capacity.is_empty() {
            line(
                &mut out,
                "## Capacity simulation (through the stack, under the latency model)\n".into(),
            );
            line(&mut out, "Imports sent through inflow_dev.gateway at once (loopback, bounded), every DynamoDB call billed by the \
                 emulator's counter; the hottest partition keys by write units (table keys and index keys), in all and in their \
                 busiest second. docs/bench/capacity.md reads these against the 1,000 WCU/s a partition takes.\n".into());
            line(&mut out, "| run | seconds (calls span) | WCU table + index | most WCU in one second on any one key | hottest partitions: total WCU (peak WCU/s) |".into());
            line(&mut out, "|---|--:|--:|--:|---|".into());
            for c in &self.capacity {
                let hot = c
                    .partitions
                    .iter()
                    .take(6)
                    .map(|p| format!("`{}` {:.0} ({:.0})", p.key, p.total, p.peak_per_second))
                    .collect::<Vec<_>>()
                    .join("; ");
                let ok = c.statuses.iter().filter(|s| **s == 200).count();
                line(&mut out, format!(
                    "| {} tenant(s) × {} addresses ({ok}/{} answered 200) | {:.2} ({:.2}) | {:.0} + {:.0} | {:.0} | {hot} |",
                    c.tenants, c.addresses, c.statuses.len(), c.seconds, c.calls_span, c.units.wcu, c.units.index_wcu,
                    c.max_per_second
                ));
            }
            line(&mut out, String::new());
        }

        if let Some(t) = &self.tls {
            line(&mut out, "## First-request connection cost\n".into());
            line(&mut out, format!("A DynamoDB GetItem on a new connection vs a warm one; TLS through a local proxy in front of the \
                 emulator; medians of {} fresh clients; wall ms / CPU ms of this process (no latency model):\n", self.runs));
            line(
                &mut out,
                "| call | wall ms | CPU ms | CPU ms at 128 MB (÷ 128/1769 vCPU) |".into(),
            );
            line(&mut out, "|---|--:|--:|--:|".into());
            for (name, (wall, cpu)) in [
                ("warm connection", t.warm),
                ("new plain-HTTP connection", t.new_plain_connection),
                ("new TLS connection (TCP + handshake)", t.new_tls_connection),
                (
                    "new TLS connection to a host name (+ DNS lookup)",
                    t.new_tls_by_name,
                ),
            ] {
                line(
                    &mut out,
                    format!(
                        "| {name} | {wall:.2} | {cpu:.2} | {:.0} |",
                        cpu * 1769.0 / 128.0
                    ),
                );
            }
        }
        out
    }

    /// Init CPU ÷ hello world's across the functions (not the trust-store row), and where that
    /// CPU goes: the profile's findings (instruction counts, which a busy machine does not move).
    fn init_summary(&self) -> String {
        let hello = self.hello();
        let ratios: Vec<(String, f64, f64)> = self
            .functions
            .iter()
            .filter(|f| f.name != "hello" && !f.name.contains(' '))
            .map(|f| {
                (
                    f.name.clone(),
                    f.init_cpu_ms / hello.init_cpu_ms,
                    f.init_ms / hello.init_ms,
                )
            })
            .collect();
        if ratios.is_empty() {
            return String::new();
        }
        let cpu: Vec<f64> = ratios.iter().map(|r| r.1).collect();
        let wall: Vec<f64> = ratios.iter().map(|r| r.2).collect();
        let (lo, hi) = (
            cpu.iter().cloned().fold(f64::INFINITY, f64::min),
            cpu.iter().cloned().fold(0.0, f64::max),
        );
        let met = cpu.iter().filter(|r| **r <= MAX_INIT_CPU_RATIO).count();
        format!(
            "**Init CPU ÷ hello world's: {lo:.2}–{hi:.2}× (median {:.2}×); {met} of {} functions at or under the \
             {MAX_INIT_CPU_RATIO}× goal.** Wall time: {:.2}–{:.2}× hello's (median {:.2}×); init's wall time waits on the \
             emulator (the secret read and the DynamoDB connection, side by side), its CPU is ours. Every HTTP function \
             builds two clients, DynamoDB and Secrets Manager (`App::from_env`); only the relay and the two workers \
             build an SQS client, and only the email worker an SES client. Every function runs on tokio's \
             current-thread runtime (Lambda hands a container one event at a time; concurrent calls still overlap); \
             hello world keeps `#[tokio::main]`'s multi-thread runtime, as lambda_runtime's examples do. On tokio's \
             multi-thread runtime our functions measured 2.1× (get-invitation, 2026-11-30, three alternating runs of 21 \
             launches each: 2.12–2.18× with worker threads, 1.62–1.69× without; 0.5 MiB smaller and 0.7 MiB less \
             peak memory). The webhook worker's HTTPS client for deliveries trusts Mozilla's roots as webpki-roots \
             compiles them in; with the platform's store, which reqwest 0.13 parses at client build, it measured \
             3.86–3.88× (two alternating runs of 15 launches, 2026-11-30; 1.66–1.69× with the compiled-in roots).\n\n\
             **Where init's CPU goes** (callgrind instruction counts of the release binaries with the multi-thread \
             runtime, 2026-11-30; docs/bench/profiles.md \
             has the method and the symbolised profile): hello world 0.53 M instructions, get-invitation 3.86 M \
             (assign-flow was 4.61 M with its SQS client). Of the 3.86 M: 2.38 M in our binary (per the symbolised \
             profile: each SDK client parsing its partition table, 2 × 0.42 M; the five Amazon roots' PEM, ~0.65 M; SigV4 \
             signing of the two init requests, ~0.4 M; tokio, tracing and the configuration the rest), 0.86 M in libc \
             (malloc, and scanf of /proc for the CPU count) and 0.61 M in the dynamic loader (0.35 M more than hello's: \
             relocating a 7 MB position-independent binary). The CPU ratio is far below the 7× of instructions because \
             most of hello's CPU is the kernel's (exec, page faults, tokio's worker threads, which our functions no \
             longer start); the difference is our 3.3 M instructions and the page faults of a 7 MB binary.\n\n\
             **What cutting the rest would cost:** a non-PIE build (−0.35 M) gives up ASLR; one endpoint resolver \
             shared by both clients instead of the SDK's per-client partition table (−0.42 M) means maintaining \
             endpoint rules of our own; reading the secret without the Secrets Manager client (a hand-signed call, or \
             Lambda's secrets extension, which is a second process at init) trades 0.4–0.8 M for code we would own or \
             a slower cold start; moving the secret read into the first request only moves the cost. None is worth \
             its risk for under a millisecond of one cold start.\n",
            crate::stats::median(&cpu),
            cpu.len(),
            wall.iter().cloned().fold(f64::INFINITY, f64::min),
            wall.iter().cloned().fold(0.0, f64::max),
            crate::stats::median(&wall),
        )
    }

    /// Which endpoints meet "stack p50 ≤ critical path + STACK_SLACK_MS" and which do not, and
    /// where the time above the critical path goes, under the endpoints' table.
    fn latency_goal_summary(&self) -> String {
        let (mut meet, mut miss) = (Vec::new(), Vec::new());
        let (mut emulator, mut ours, mut gateway, mut rest) = (vec![], vec![], vec![], vec![]);
        let mut ours_meet = 0;
        for f in &self.functions {
            let Some(e) = &f.endpoint else { continue };
            let (Some(s), Some(m)) = (&e.stack, &e.modelled) else {
                continue;
            };
            let over = s.p50 - m.critical_ms;
            if over <= STACK_SLACK_MS {
                meet.push(f.name.clone());
            } else {
                miss.push(format!("{} ({over:+.1} ms)", f.name));
            }
            let split = Split::of(s, m);
            ours_meet += usize::from(split.ours <= STACK_SLACK_MS);
            emulator.push(split.emulator);
            ours.push(split.ours);
            gateway.push(split.gateway);
            rest.push(split.rest);
        }
        if meet.is_empty() && miss.is_empty() {
            return "The latency goal was not measured in this run (no stack phase).".into();
        }
        let missed = if miss.is_empty() {
            "none".to_string()
        } else {
            miss.join(", ")
        };
        let spread = |v: &[f64]| {
            let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            format!(
                "{lo:+.1} to {hi:+.1} ms (median {:+.1})",
                crate::stats::median(v)
            )
        };
        format!(
            "**Latency goal, stack p50 ≤ sequential round trips at the model's times + {STACK_SLACK_MS} ms:** met by {} of {} endpoints; \
             missed by {missed}.\n\n\
             **Where the time above the critical path goes**, per endpoint (medians, from the columns above): the emulator \
             serving the chain's calls slower than the model (chain as served − critical path) {}; our handler beyond its chain \
             as served, in-process under the model (handler − chain as served) {}; the function in the stack beyond that \
             (in the function − handler in-process: the two cores shared by the emulator, the gateway, the function and the \
             load client) {}; the local gateway (stack p50 − in the function) {}. Our handler's part is within \
             {STACK_SLACK_MS} ms for {ours_meet} of {} endpoints: the calls that can run at once do, and what is left of the \
             miss is the emulator's Python answering slower than AWS's figures on a shared 2-core machine.",
            meet.len(),
            meet.len() + miss.len(),
            spread(&emulator),
            spread(&ours),
            spread(&rest),
            spread(&gateway),
            meet.len() + miss.len(),
        )
    }

    /// Every measured figure the cost model (inflow_dev.cost) reads, as JSON.
    pub fn measurements(&self) -> String {
        let hello = self.hello();
        let endpoints: serde_json::Map<String, serde_json::Value> = self
            .functions
            .iter()
            .filter_map(|f| {
                let e = f.endpoint.as_ref()?;
                Some((
                    f.name.clone(),
                    serde_json::json!({
                        "ddb_calls": e.ddb.0,
                        "handler_ms": e.handler_p50.0,
                        "handler_cpu_ms": e.handler_p50.1,
                        "over_own_io": e.over_own_io,
                        "modelled": e.modelled,
                        "stack": e.stack.as_ref().map(|s| serde_json::json!({
                            "p50": s.p50, "p99": s.p99, "in_function_p50": s.in_function_p50,
                            "cpu_per_request": s.cpu_per_request,
                        })),
                    }),
                ))
            })
            .collect();
        let functions: serde_json::Map<String, serde_json::Value> = self
            .functions
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    serde_json::json!({
                        "binary_bytes": f.size, "init_ms": f.init_ms, "init_cpu_ms": f.init_cpu_ms,
                        "init_cpu_ratio": f.init_cpu_ms / hello.init_cpu_ms, "peak_kib": f.peak_kib,
                    }),
                )
            })
            .collect();
        let imports: Vec<serde_json::Value> = self
            .imports
            .iter()
            .map(|i| {
                serde_json::json!({"addresses": i.n, "ddb_calls": i.ddb, "writes": i.writes,
                    "relay_sqs_calls": i.relay_sqs, "relay_batches": i.relay_batches, "ms": i.ms, "cpu_ms": i.cpu_ms})
            })
            .collect();
        let doc = serde_json::json!({
            "written_by": "make bench (bench/src/main.rs); read by inflow_dev.cost",
            "date": chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            "commit": commit(),
            "machine": machine(),
            "arch": self.arch,
            "model": self.model,
            "functions": functions,
            "endpoints": endpoints,
            "end_to_end": self.end_to_end,
            "webhook_latency": self.webhook_latency,
            "sweeper_idle": self.sweeper_idle,
            "capacity": self.capacity,
            "imports": imports,
            "tenants": {"fairness": self.fairness, "fan_out": self.fan_out},
        });
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }
}

fn range((median, max): (f64, f64)) -> String {
    if max > median {
        format!("{median:.0} (max {max:.0})")
    } else {
        format!("{median:.0}")
    }
}

/// The architecture of an ELF binary, from its header.
pub fn arch_of(path: &Path) -> String {
    match std::fs::read(path)
        .ok()
        .and_then(|b| b.get(18..20).map(|m| u16::from_le_bytes([m[0], m[1]])))
    {
        Some(0x3E) => "x86_64".into(),
        Some(0xB7) => "arm64".into(),
        _ => "unknown arch".into(),
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores (nproc), {cpu}")
}

fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let head = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_default();
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head} (with uncommitted changes)")
    } else {
        head
    }
}
