//! The load client, run as its own process (`inflow-bench load`): sends a fixed list of
//! requests one after another to loopback, and writes each one's status and latency. Bounded
//! by the list and by a time limit.
//!
//! Every [`PER_ADDRESS`] requests come from their own loopback address (127.0.1.1, 127.0.1.2,
//! …, over a keep-alive connection each), as a public page's visitors do: the gateway hands
//! the function the peer address as `sourceIp`, and the public routes' per-address window
//! (20 a minute) would otherwise refuse most of one address's load with 429.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

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
    let started = Instant::now();
    let mut samples = Vec::with_capacity(requests.len());
    let mut client = client_from(source_address(0))?;
    for (i, req) in requests.iter().enumerate() {
        if started.elapsed() > limit {
            break;
        }
        if i > 0 && i % PER_ADDRESS == 0 {
            client = client_from(source_address(i / PER_ADDRESS))?;
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

/// Requests sent from one loopback address: under the public routes' 20 a minute.
const PER_ADDRESS: usize = 10;

/// The `n`th client address, 127.0.1.1 upward (all of 127/8 is loopback on Linux).
fn source_address(n: usize) -> IpAddr {
    let n = n % (250 * 250);
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        1 + (n / 250) as u8,
        1 + (n % 250) as u8,
    ))
}

fn client_from(address: IpAddr) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(address)
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_distinct_loopback_addresses() {
        let all: std::collections::HashSet<IpAddr> = (0..1000).map(source_address).collect();
        assert_eq!(all.len(), 1000);
        assert!(all.iter().all(|a| a.is_loopback()));
    }
}
