//! What a request pays for a new connection: a DynamoDB GetItem on a fresh client over TLS
//! (bench/tls_proxy.py in front of the emulator) and over plain HTTP, against the same call on
//! a warm connection. Wall time and this process's CPU time (all threads, from schedstat).

use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use inflow_tests::Env;

use crate::stats::{median, ms};

/// Medians, each (wall ms, CPU ms).
pub struct Tls {
    /// A new TLS connection to a host name (a DNS lookup first), as to an AWS endpoint.
    pub new_tls_by_name: (f64, f64),
    /// A new TLS connection (TCP + handshake), to an IP address.
    pub new_tls_connection: (f64, f64),
    pub new_plain_connection: (f64, f64),
    pub warm: (f64, f64),
}

pub async fn measure(endpoint: &str, env: &Env, runs: usize) -> Result<Tls, String> {
    let port = endpoint
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    let by_name = format!("https://localhost:{port}");
    let by_ip = format!("https://127.0.0.1:{port}");
    let plain = std::env::var("AWS_ENDPOINT_URL").map_err(|_| "AWS_ENDPOINT_URL is not set")?;
    let (mut first, mut tls, mut http, mut warm) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        // A fresh SdkConfig has its own HTTP client and connection pool: the functions' client
        // (shared/src/tls.rs), trusting the bench CA through AWS_CA_BUNDLE.
        let sdk = inflow::app::sdk_config().await.map_err(|e| e.to_string())?;
        first.push(timed((&client(&sdk, &by_name), &by_name), env).await?);
        let ddb = client(&sdk, &by_ip);
        tls.push(timed((&ddb, &by_ip), env).await?);
        warm.push(timed((&ddb, &by_ip), env).await?);
        http.push(timed((&client(&sdk, &plain), &plain), env).await?);
    }
    let med = |v: &[(f64, f64)]| {
        (
            median(&v.iter().map(|x| x.0).collect::<Vec<_>>()),
            median(&v.iter().map(|x| x.1).collect::<Vec<_>>()),
        )
    };
    Ok(Tls {
        new_tls_by_name: med(&first),
        new_tls_connection: med(&tls),
        new_plain_connection: med(&http),
        warm: med(&warm),
    })
}

fn client(sdk: &aws_config::SdkConfig, endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build(),
    )
}

async fn timed(
    (ddb, endpoint): (&aws_sdk_dynamodb::Client, &str),
    env: &Env,
) -> Result<(f64, f64), String> {
    let (cpu, started) = (cpu_ms(), Instant::now());
    ddb.get_item()
        .table_name(&env.app.config.table_name)
        .key("PK", AttributeValue::S("BENCH#none".into()))
        .key("SK", AttributeValue::S("BENCH".into()))
        .send()
        .await
        .map_err(|e| {
            format!(
                "GetItem over {endpoint}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            )
        })?;
    Ok((ms(started.elapsed()), cpu_ms() - cpu))
}

/// CPU time of every thread of this process so far, from /proc/self/task/*/schedstat (ns).
pub fn cpu_ms() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let ns: u64 = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e6
}
