//! Structured JSON logs. Every line of an invocation carries its span's fields: Lambda's request
//! id (`function_request_id`), its X-Ray trace (`xray_trace_id`), whether it is the container's
//! first (`cold_start`) and the `service` (Powertools' names, so CloudWatch Logs Insights joins a
//! line to its invocation and trace), and for a request ours (request id, function,
//! organization). Secrets are never recorded as fields.

use std::sync::atomic::{AtomicBool, Ordering};

use std::future::Future;

use tracing::{Instrument, Span};

/// The `service` of every line.
pub const SERVICE: &str = "inflow";

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .try_init();
}

/// What Lambda says of one invocation.
pub struct Invocation<'a> {
    pub request_id: &'a str,
    pub xray_trace_id: Option<&'a str>,
    /// The container's first invocation.
    pub cold_start: bool,
}

static WARM: AtomicBool = AtomicBool::new(false);

impl<'a> Invocation<'a> {
    /// This invocation, counted: only the container's first is a cold start.
    pub fn of(context: &'a lambda_runtime::Context) -> Invocation<'a> {
        Invocation {
            request_id: &context.request_id,
            xray_trace_id: context.xray_trace_id.as_deref(),
            cold_start: !WARM.swap(true, Ordering::Relaxed),
        }
    }
}

/// The span of an event function's invocation (a worker's, the relay's, the sweeper's).
pub fn invocation_span(context: &lambda_runtime::Context) -> Span {
    let at = Invocation::of(context);
    tracing::info_span!(
        "invocation",
        function_request_id = at.request_id,
        xray_trace_id = at.xray_trace_id,
        cold_start = at.cold_start,
        service = SERVICE,
    )
}

/// Runs an event function's handler inside its invocation's span.
pub async fn within<F: Future>(context: &lambda_runtime::Context, work: F) -> F::Output {
    work.instrument(invocation_span(context)).await
}
