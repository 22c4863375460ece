//! The bench's hold on inflow_dev.emulator: its latency model (`/_inflow/delays`) and its
//! DynamoDB capacity counter (`/_inflow/capacity`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::calls::Model;

fn base() -> Result<String, String> {
    std::env::var("AWS_ENDPOINT_URL").map_err(|_| "AWS_ENDPOINT_URL is not set".to_string())
}

async fn post(path: &str, body: Value) -> Result<(), String> {
    let url = format!("{}{path}", base()?);
    let res = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("{url}: {}", res.status()));
    }
    Ok(())
}

/// Every AWS call now takes the model's time (pad mode: the emulator's own work included).
pub async fn set_delays(model: &Model) -> Result<(), String> {
    post(
        "/_inflow/delays",
        serde_json::to_value(model).map_err(|e| e.to_string())?,
    )
    .await
}

/// Calls answer as fast as the emulator can again.
pub async fn clear_delays() -> Result<(), String> {
    post("/_inflow/delays", json!({"operations": {}})).await
}

pub async fn capacity(enabled: bool) -> Result<(), String> {
    post(
        "/_inflow/capacity",
        json!({"enabled": enabled, "reset": true}),
    )
    .await
}

pub async fn capacity_reset() -> Result<(), String> {
    post("/_inflow/capacity", json!({"reset": true})).await
}

/// One DynamoDB call as the emulator billed it.
#[derive(Debug, Clone, Deserialize)]
pub struct Billed {
    pub t: f64,
    pub rcu: f64,
    pub wcu: f64,
    #[serde(default)]
    pub index_wcu: HashMap<String, f64>,
    /// [index ("" for the table), partition key, "r" | "w", units]
    #[serde(default)]
    pub partitions: Vec<(String, String, String, f64)>,
}

pub async fn billed() -> Result<Vec<Billed>, String> {
    #[derive(Deserialize)]
    struct Shown {
        calls: Vec<Billed>,
    }
    let url = format!("{}/_inflow/capacity", base()?);
    let text = reqwest::get(&url)
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .text()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let shown: Shown = serde_json::from_str(&text).map_err(|e| format!("{url}: {e}"))?;
    Ok(shown.calls)
}

/// Units added up: (read units, table write units, index write units).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Units {
    pub rcu: f64,
    pub wcu: f64,
    pub index_wcu: f64,
}

impl Units {
    pub fn of(calls: &[Billed]) -> Units {
        calls.iter().fold(Units::default(), |u, c| Units {
            rcu: u.rcu + c.rcu,
            wcu: u.wcu + c.wcu,
            index_wcu: u.index_wcu + c.index_wcu.values().sum::<f64>(),
        })
    }
}

/// Write units per partition key ("GSI1 DUE#3", "table INV#…"): the total, and the most in
/// any one second (windows from the first call).
#[derive(Debug, Clone, Serialize)]
pub struct Partition {
    pub key: String,
    pub total: f64,
    pub peak_per_second: f64,
}

/// Write units by partition, hottest (by total) first; and the time the calls spanned (s).
pub fn write_partitions(calls: &[Billed]) -> (Vec<Partition>, f64) {
    let start = calls.iter().map(|c| c.t).fold(f64::INFINITY, f64::min);
    let end = calls.iter().map(|c| c.t).fold(f64::NEG_INFINITY, f64::max);
    let mut by: BTreeMap<String, (f64, BTreeMap<i64, f64>)> = BTreeMap::new();
    for c in calls {
        let second = (c.t - start).floor() as i64;
        for (index, key, kind, units) in &c.partitions {
            if kind != "w" {
                continue;
            }
            let name = if index.is_empty() {
                format!("table {}", generic(key))
            } else {
                format!("{index} {key}")
            };
            let entry = by.entry(name).or_default();
            entry.0 += units;
            *entry.1.entry(second).or_default() += units;
        }
    }
    let mut out: Vec<Partition> = by
        .into_iter()
        .map(|(key, (total, seconds))| Partition {
            key,
            total,
            peak_per_second: seconds.values().cloned().fold(0.0, f64::max),
        })
        .collect();
    out.sort_by(|a, b| b.total.total_cmp(&a.total));
    (out, if end > start { end - start } else { 0.0 })
}

/// A table partition key as it is named in the report: ids kept (each is its own partition).
fn generic(key: &str) -> String {
    key.to_owned()
}

/// A partition key with its ids taken out: `ORG#org_3f…` → `ORG#<org>`, `DUE#7` → `DUE#<n>`,
/// `KEY#<64 hex>` → `KEY#<hash>`; what is left says which partition a write lands on for every
/// request alike.
pub fn key_pattern(key: &str) -> String {
    key.split('#')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                return part.to_owned();
            }
            if let Some((prefix, _)) = part.split_once('_') {
                if prefix.len() <= 5 && prefix.chars().all(|c| c.is_ascii_lowercase()) {
                    return format!("<{prefix}>");
                }
            }
            if !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()) {
                return "<n>".into();
            }
            if part.len() >= 16
                && part.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '-' || c == '=' || c == '/' || c == '+'
                })
            {
                return "<hash>".into();
            }
            part.to_owned()
        })
        .collect::<Vec<_>>()
        .join("#")
}

/// The units of `calls` by partition key pattern, table keys as they are, index keys with
/// their index's name in front: (pattern, read units, write units).
pub fn by_key_pattern(calls: &[Billed]) -> Vec<(String, f64, f64)> {
    let mut by: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for c in calls {
        for (index, key, kind, units) in &c.partitions {
            let name = if index.is_empty() {
                key_pattern(key)
            } else {
                format!("{index} {}", key_pattern(key))
            };
            let e = by.entry(name).or_default();
            if kind == "w" {
                e.1 += units;
            } else {
                e.0 += units;
            }
        }
    }
    by.into_iter().map(|(k, (r, w))| (k, r, w)).collect()
}

#[cfg(test)]
mod tests {
    use super::key_pattern;

    #[test]
    fn ids_are_taken_out_of_partition_keys() {
        assert_eq!(key_pattern("ORG#org_8f2k"), "ORG#<org>");
        assert_eq!(
            key_pattern("INVNUM#org_1#flow_2#7"),
            "INVNUM#<org>#<flow>#<n>"
        );
        assert_eq!(key_pattern("DUE#3"), "DUE#<n>");
        assert_eq!(
            key_pattern("KEY#9f86d081884c7d659a2feaa0c55ad015"),
            "KEY#<hash>"
        );
        assert_eq!(key_pattern("DLV#org_1#failed"), "DLV#<org>#failed");
    }
}
