//! Metrics as CloudWatch Embedded Metric Format: one JSON line on stdout per observation.
//! CloudWatch Logs turns them into metrics (namespace `Inflow`), so a function makes no
//! metrics API call. Every metric has the `Function` dimension (the binary's name).

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

pub const NAMESPACE: &str = "Inflow";

static FUNCTION: OnceLock<&'static str> = OnceLock::new();

/// Names the function once per container (the `*_function!` macros pass the binary's name).
pub fn init(function: &'static str) {
    let _ = FUNCTION.set(function);
}

fn function() -> &'static str {
    FUNCTION.get().copied().unwrap_or("unknown")
}

/// The EMF line for one observation of `metric`, with extra dimensions.
pub fn line(metric: &str, value: u64, dimensions: &[(&str, &str)], timestamp_ms: i64) -> String {
    let mut names: Vec<&str> = vec!["Function"];
    names.extend(dimensions.iter().map(|(k, _)| *k));
    let mut body = Map::new();
    body.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [names],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        }),
    );
    body.insert("Function".into(), json!(function()));
    for (k, v) in dimensions {
        body.insert((*k).into(), json!(v));
    }
    body.insert(metric.into(), json!(value));
    Value::Object(body).to_string()
}

pub fn count(metric: &str, value: u64, dimensions: &[(&str, &str)]) {
    println!(
        "{}",
        line(
            metric,
            value,
            dimensions,
            chrono::Utc::now().timestamp_millis()
        )
    );
}

/// A request answered, by status (and rate-limited ones on their own).
pub fn request(status: u16) {
    count("Requests", 1, &[("Status", &status.to_string())]);
    if status == 429 {
        count("RateLimited", 1, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_embedded_metric_format() {
        let v: Value = serde_json::from_str(&line(
            "Requests",
            1,
            &[("Status", "200")],
            1_700_000_000_000,
        ))
        .unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Inflow");
        assert_eq!(directive["Dimensions"], json!([["Function", "Status"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Requests", "Unit": "Count"}])
        );
        // Every dimension and the metric itself are top-level members.
        assert_eq!(
            (v["Status"].as_str(), v["Requests"].as_u64()),
            (Some("200"), Some(1))
        );
        assert!(v["Function"].is_string());
    }
}
