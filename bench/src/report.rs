//! The one table `make bench` prints, with every target and whether it is met.

use std::path::Path;

use inflow_tests::Function;

use crate::{stats::median, tls::Tls};

pub const MAX_BINARY_MIB: f64 = 8.0;
pub const MAX_INIT_RATIO: f64 = 2.0;
pub const MAX_PEAK_MIB: f64 = 12.0;
pub const MAX_STACK_RATIO: f64 = 1.2;
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
    pub stack_overhead_p50: f64,
    /// hello world's CPU per request through the stack (ms).
    pub hello_cpu_per_request: f64,
    pub imports: Vec<ImportRow>,
    pub tls: Option<Tls>,
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
}

/// An endpoint's load through the local stack (ms).
pub struct StackRow {
    pub p50: f64,
    pub p99: f64,
    /// Answers that were not 2xx.
    pub failures: usize,
    /// The emulator's GetItem p50, measured just before and after that load.
    pub get_item_p50: f64,
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

/// The fewest DynamoDB round trips each endpoint's access pattern allows (README, "The
/// table"); import is for its 10-address requests. No request calls SQS: the HTTP functions
/// have no queue client (their jobs go out through the table and the relay).
fn budget(f: Function) -> f64 {
    match f {
        Function::AssignFlow => 3.0,
        Function::GetAssignment => 2.0,
        Function::StartAssignment => 2.0,
        Function::CompleteAssignment => 3.0,
        Function::CreateUserGroup => 3.0,
        Function::ListInvitations => 3.0,
        Function::CreateInvitation => 6.0,
        Function::ImportInvitations => 8.0,
        Function::GetInvitation => 3.0,
        Function::DeleteInvitation => 5.0,
        Function::GetFlow => 3.0,
        Function::CancelFlow => 4.0,
        Function::CreateJoinOrganizationFlow | Function::CreateSignupFlow => 6.0,
        Function::ConsumeFlow => 7.0,
        Function::ListWebhookDeliveries => 2.0,
        Function::ReplayWebhookDelivery => 2.0,
        Function::GetOrganization | Function::UpdateOrganization => 2.0,
        Function::CreateWebhookEndpoint | Function::DeleteWebhookEndpoint => 2.0,
        Function::ListWebhookEndpoints | Function::GetWebhookEndpoint => 2.0,
        Function::UpdateWebhookEndpoint | Function::RotateWebhookEndpointSecret => 3.0,
        Function::TestWebhookEndpoint => 2.0,
        // No key (no rate-limit call): the invitation, then the names the page shows.
        Function::AcceptPage => 2.0,
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
        }
    }

    fn calls(&self) -> f64 {
        self.ddb.0
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
            stack_overhead_p50: f64::NAN,
            hello_cpu_per_request: f64::NAN,
            imports: Vec::new(),
            tls: None,
        }
    }

    pub fn function_mut(&mut self, name: &str) -> &mut FunctionRow {
        self.functions
            .iter_mut()
            .find(|f| f.name == name)
            .expect("a measured binary")
    }

    pub fn render(&self) -> String {
        let hello = self
            .functions
            .iter()
            .find(|f| f.name == "hello")
            .expect("hello is measured");
        let mut out = String::new();
        let line = |out: &mut String, s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(&mut out, "# Benchmarks\n".into());
        line(&mut out, "Written by `make bench` (scripts/bench.sh); do not edit by hand. One run, so every ratio below".into());
        line(
            &mut out,
            "compares numbers measured minutes apart on the same machine.\n".into(),
        );
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
             read from the emulator; peak = VmHWM; medians of {} launches.",
            self.arch, self.runs
        ));
        line(&mut out, format!(
            "- **Endpoints:** DynamoDB calls counted with an SDK interceptor (no request calls SQS: the HTTP functions have no queue client), and handler time (wall, and CPU of \
             our code + the SDK) measured in-process over {} requests (medians; \"max\" is the first request of a \
             rate-limit minute); \"handler ÷ its I/O wait\" divides each request's wall time by the time its own calls \
             waited for their responses (the same interceptor times them), so it is what our code adds to its I/O \
             whatever each operation costs the emulator; then {} requests, one at a time from a second process, through `cargo lambda watch` \
             (the router of Cargo.toml) to the release binaries, after {} not counted (\"in the function\" is the latency \
             each function logs for its own requests: authentication through the reply, without the runtime's \
             event decoding or the router; \"the binary's CPU a request\" is the function process's CPU over its load, \
             all threads, divided by the requests); each endpoint's ratio \
             divides its p50 by the calls times the p50 of {} GetItems timed just before and after its load, so that \
             both sides come from the same minute of a shared machine.",
            self.in_process, self.requests, crate::WARM_UP, 2 * crate::GET_ITEMS_BESIDE_LOAD
        ));
        line(&mut out, "- **SQS** is a constant-time stub on loopback for the relay of imports' jobs (moto's SQS costs \
             ~10 ms per SendMessageBatch on an empty queue and slows down linearly with queue depth, over 1 s at 2,000 \
             messages); DynamoDB and Secrets Manager are the emulator. **Imports:** one request each, in-process; then \
             the relay over the import's stream records, its SQS calls counted.".into());
        line(&mut out, format!(
            "- **Baselines in this run:** hello world: init {:.2} ms, peak {:.1} MiB; emulator p50s: GetItem {:.2} ms, \
             one authentication, i.e. the rate limit's conditional UpdateItem that every request makes, {:.2} ms, \
             GetSecretValue {:.2} ms (init waits for one: the column \"× hello w/o secret\" takes it out); \
             the local stack alone (hello through watch) p50 {:.2} ms, hello's CPU {:.3} ms a request.\n",
            hello.init_ms, hello.peak_kib / 1024.0, self.get_item_p50, self.update_item_p50, self.secret_read_p50,
            self.stack_overhead_p50, self.hello_cpu_per_request
        ));

        line(&mut out, "| function | binary MiB | init ms (CPU) | × hello | × hello w/o secret | peak MiB init / load | DynamoDB calls | SQS calls | handler p50 ms wall / CPU | handler ÷ its I/O wait | stack p50 / p99 ms (p50 in the function; the binary's CPU a request) | p50 ÷ (calls × GetItem beside it) | missed targets |".into());
        line(
            &mut out,
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|".into(),
        );
        for f in &self.functions {
            let mut misses = Vec::new();
            let mib = f.size as f64 / (1024.0 * 1024.0);
            let ratio = f.init_ms / hello.init_ms;
            let peak = f.peak_kib.max(f.load_peak_kib.unwrap_or(0) as f64) / 1024.0;
            if mib > MAX_BINARY_MIB {
                misses.push(format!("binary > {MAX_BINARY_MIB} MiB"));
            }
            if f.name != "hello" && ratio > MAX_INIT_RATIO {
                misses.push(format!("init > {MAX_INIT_RATIO}×"));
            }
            if peak > MAX_PEAK_MIB {
                misses.push(format!("peak > {MAX_PEAK_MIB} MiB"));
            }
            let load_peak = f
                .load_peak_kib
                .map_or("–".into(), |k| format!("{:.1}", k as f64 / 1024.0));
            let sqs = "–";
            let (mut ddb, mut handler, mut own_io, mut stack, mut stack_ratio) = (
                "–".to_string(),
                "–".to_string(),
                "–".to_string(),
                "–".to_string(),
                "–".to_string(),
            );
            if let Some(e) = &f.endpoint {
                ddb = range(e.ddb);
                handler = format!("{:.2} / {:.2}", e.handler_p50.0, e.handler_p50.1);
                own_io = format!("{:.2}", e.over_own_io);
                if e.ddb.0 > e.budget {
                    misses.push(format!("DynamoDB > {}", e.budget));
                }
                if e.failures > 0 {
                    misses.push(format!("{} non-2xx in-process", e.failures));
                }
                if let Some(s) = &e.stack {
                    let r = s.p50 / (e.calls() * s.get_item_p50);
                    stack = format!(
                        "{:.2} / {:.2} ({:.2}; {:.2})",
                        s.p50, s.p99, s.in_function_p50, s.cpu_per_request
                    );
                    stack_ratio = format!("{r:.2}");
                    if r > MAX_STACK_RATIO {
                        misses.push(format!("ratio > {MAX_STACK_RATIO}"));
                    }
                    if s.failures > 0 {
                        misses.push(format!("{} non-2xx through the stack", s.failures));
                    }
                }
            }
            let without_secret = if f.name == "hello" {
                1.0
            } else {
                (f.init_ms - self.secret_read_p50) / hello.init_ms
            };
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
                "| {name} | {size_cell} | {:.2} ({:.2}) | {ratio:.2} | {without_secret:.2} | {:.1} / {load_peak} | {ddb} | {sqs} | {handler} | {own_io} | {stack} | {stack_ratio} | {misses} |",
                f.init_ms,
                f.init_cpu_ms,
                f.peak_kib / 1024.0
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
                "| authentication + rate limit | | | | | | {} | 0 | | | | | {auth_miss} |",
                range(self.auth_calls)
            ),
        );
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
            line(&mut out, format!(
                "| import of {} addresses | | | | | | {} ({} writes) | {} by the relay ({} batches) | {:.0} / {:.0} | | | | {misses} |",
                i.n, i.ddb, i.writes, i.relay_sqs, i.relay_batches, i.ms, i.cpu_ms
            ));
        }
        line(&mut out, String::new());
        line(&mut out, format!(
            "Targets: binary ≤ {MAX_BINARY_MIB} MiB; init ≤ {MAX_INIT_RATIO}× hello world (every client built, secret read); \
             peak ≤ {MAX_PEAK_MIB} MiB (the larger of init and after the load); authentication + rate limit in 1 DynamoDB call; \
             each endpoint at most the round trips its access pattern needs (README, \"The table\"; assign ≤ 3) and no SQS call; \
             stack p50 ÷ (calls × GetItem p50) ≤ {MAX_STACK_RATIO}; an import ≤ ⌈n/25⌉+{IMPORT_C} writes, its relay ≤ ⌈n/10⌉ + a call per batch + {IMPORT_C} SQS calls, \
             and 5,000 addresses in under {:.1} s.",
            MAX_IMPORT_MS / 1000.0
        ));
        if let Some(t) = &self.tls {
            line(&mut out, String::new());
            line(&mut out, "First-request connection cost (a DynamoDB GetItem on a new connection vs a warm one; TLS through a local".into());
            line(&mut out, format!("proxy in front of the emulator; medians of {} fresh clients; wall ms / CPU ms of this process):\n", self.runs));
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
