//! Inflow's domain crate. Every Lambda binary in `functions/` is a thin `main.rs` that builds
//! an [`App`] once per container and hands each event to one handler in [`handlers`].

pub mod accept_page;
pub mod address_limit;
pub mod app;
pub mod assignments;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod delivery;
pub mod email;
pub mod email_budget;
pub mod error;
pub mod gateway;
pub mod handlers;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod invitations;
pub mod jobs;
pub mod keys;
pub mod metrics;
pub mod model;
pub mod operator;
pub mod org_settings;
pub mod queue;
pub mod ratelimit;
pub mod refusals;
pub mod relay;
#[cfg(feature = "test-support")]
pub mod store;
#[cfg(not(feature = "test-support"))]
pub(crate) mod store;
pub mod sweeper;
pub mod telemetry;
pub mod tls;
pub mod user_groups;
pub mod validate;
pub mod views;
pub mod webhooks;
pub(crate) mod wire;
pub mod worker;

pub use app::App;
pub use config::Config;
pub use error::{Error, Result};

pub use lambda_http;

/// The `main` of an HTTP function: JSON logs, the [`App`] built once per container (clients and
/// the hashing key, before the first event), then every event, checked ([`gateway`]), through
/// its [`http::Endpoint`]'s handler.
///
/// Every function runs on tokio's current-thread runtime: Lambda hands a container one event at
/// a time and our work is waiting on AWS (concurrent calls still overlap on one thread), so
/// worker threads would only cost init CPU and memory (make bench: init CPU 2.1× hello world's
/// with them, 1.6× without).
#[macro_export]
macro_rules! http_function {
    ($endpoint:path) => {
        #[tokio::main(flavor = "current_thread")]
        async fn main() -> Result<(), $crate::lambda_http::Error> {
            static ENDPOINT: $crate::http::Endpoint = $endpoint;
            $crate::telemetry::init();
            $crate::metrics::init(env!("CARGO_BIN_NAME"));
            let app = $crate::App::from_env().await?;
            let app = &app;
            $crate::gateway::run(move |req| ENDPOINT.call(app, req)).await
        }
    };
}

pub use aws_lambda_events;
pub use lambda_runtime;

/// The `main` of an event-driven function (a queue worker, the sweeper): JSON logs, its context
/// built once per container by `$init`, then every event through `$handler(&context, payload)`.
/// With `deadline`, the handler also gets the invocation's deadline, to start only the work that can
/// finish before it. With `fallible`, the handler returns a `Result` and an `Err` fails the invocation (so Lambda
/// counts an error and the event source retries), recorded with the error's variant as its
/// `errorType` and its chain of causes as its message.
#[macro_export]
macro_rules! event_function {
    ($init:path, fallible $handler:path) => {
        #[tokio::main(flavor = "current_thread")]
        async fn main() -> Result<(), $crate::lambda_runtime::Error> {
            $crate::telemetry::init();
            $crate::metrics::init(env!("CARGO_BIN_NAME"));
            let context = $init().await?;
            let context = &context;
            $crate::lambda_runtime::run($crate::lambda_runtime::service_fn(
                move |event: $crate::lambda_runtime::LambdaEvent<_>| async move {
                    $crate::telemetry::within(&event.context, $handler(context, event.payload))
                        .await
                        .map_err($crate::lambda_runtime::Diagnostic::from)
                },
            ))
            .await
        }
    };
    ($init:path, deadline $handler:path) => {
        #[tokio::main(flavor = "current_thread")]
        async fn main() -> Result<(), $crate::lambda_runtime::Error> {
            $crate::telemetry::init();
            $crate::metrics::init(env!("CARGO_BIN_NAME"));
            let context = $init().await?;
            let context = &context;
            $crate::lambda_runtime::run($crate::lambda_runtime::service_fn(
                move |event: $crate::lambda_runtime::LambdaEvent<_>| async move {
                    let deadline = event.context.deadline();
                    let work = $handler(context, event.payload, deadline);
                    Ok::<_, $crate::lambda_runtime::Error>(
                        $crate::telemetry::within(&event.context, work).await,
                    )
                },
            ))
            .await
        }
    };
    ($init:path, $handler:path) => {
        #[tokio::main(flavor = "current_thread")]
        async fn main() -> Result<(), $crate::lambda_runtime::Error> {
            $crate::telemetry::init();
            $crate::metrics::init(env!("CARGO_BIN_NAME"));
            let context = $init().await?;
            let context = &context;
            $crate::lambda_runtime::run($crate::lambda_runtime::service_fn(
                move |event: $crate::lambda_runtime::LambdaEvent<_>| async move {
                    let work = $handler(context, event.payload);
                    Ok::<_, $crate::lambda_runtime::Error>(
                        $crate::telemetry::within(&event.context, work).await,
                    )
                },
            ))
            .await
        }
    };
}
