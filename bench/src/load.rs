//! The load client, run as its own process (`inflow-bench load`): sends a fixed list of
//! requests one after another over one keep-alive connection to loopback, and writes each
//! one's status and latency. Bounded by the list and by a time limit.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::scenarios::Req;

#[derive(Debug, Serialize, Deserialize)]
pub struct Sample {
    pub status: u16,
    pub micros: u64,
}

pub async fn run(
    base: &str,
    requests_file: &str,
    out_file: &str,
    limit: Duration,
) -> Result<(), String> {
    let url = reqwest::Url::parse(base).map_err(|e| e.to_string())?;
    if url.host_str() != Some("127.0.0.1") {
        return Err(format!("the load client only calls 127.0.0.1, not {base}"));
    }
    let text = std::fs::read_to_string(requests_file).map_err(|e| e.to_string())?;
    let requests: Vec<Req> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut samples = Vec::with_capacity(requests.len());
    for req in &requests {
        if started.elapsed() > limit {
            break;
        }
        let method =
            reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut builder = client.request(
            method,
            format!("{}{}", base.trim_end_matches('/'), req.path),
        );
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let sent = Instant::now();
        let status = match builder.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let _ = res.bytes().await;
                status
            }
            Err(_) => 0,
        };
        samples.push(Sample {
            status,
            micros: sent.elapsed().as_micros() as u64,
        });
    }
    std::fs::write(
        out_file,
        serde_json::to_string(&samples).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())
}
