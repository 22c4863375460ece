//! What the AWS calls a request made (recorded by `inflow_tests::calls::Recorder`, on the
//! bench's clients only) cost under a latency model: its *sequential* round trips (the critical
//! path, `inflow_tests::calls::sequential`) at the model's times, and how long at least one
//! call was in flight (the request's own I/O wait, concurrent calls counted once).

use std::{collections::HashMap, time::Instant};

pub use inflow_tests::calls::{sequential, shape, span, Call, Recorder};

/// Per-operation latencies of the model, in ms (inflow_dev.latency_model writes them from
/// docs/cost-inputs.toml; the emulator takes the same JSON).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct Model {
    pub operations: HashMap<String, f64>,
    #[serde(default)]
    pub default: f64,
    #[serde(default = "pad")]
    pub mode: String,
}

fn pad() -> String {
    "pad".into()
}

impl Model {
    pub fn ms(&self, op: &str) -> f64 {
        self.operations.get(op).copied().unwrap_or(self.default)
    }
}

/// The most any such chain costs under `model` (ms): what the request waits for its calls in
/// a region where each takes the model's time.
pub fn critical_ms(calls: &[Call], model: &Model) -> f64 {
    longest_chain_ms(calls, |c| model.ms(&c.op))
}

/// The same chain at the times the calls took (ms): what the request waited for its calls as
/// the emulator served them. Above [`critical_ms`] by what the emulator took beyond the model.
pub fn served_ms(calls: &[Call]) -> f64 {
    longest_chain_ms(calls, |c| {
        let (start, end) = span(c);
        (end - start).as_secs_f64() * 1000.0
    })
}

/// The costliest chain of calls each sent after the previous one answered, each call costing
/// `cost(call)`.
fn longest_chain_ms(calls: &[Call], cost: impl Fn(&Call) -> f64) -> f64 {
    let mut order: Vec<&Call> = calls.iter().collect();
    order.sort_by_key(|c| span(c).1);
    let mut best: Vec<f64> = Vec::with_capacity(order.len());
    for (i, c) in order.iter().enumerate() {
        let before = (0..i)
            .filter(|&j| span(order[j]).1 <= c.start)
            .map(|j| best[j])
            .fold(0.0, f64::max);
        best.push(before + cost(c));
    }
    best.into_iter().fold(0.0, f64::max)
}

/// How long at least one call was in flight (ms): the request's I/O wait, concurrent calls
/// counted once.
pub fn io_wait_ms(calls: &[Call]) -> f64 {
    let mut spans: Vec<(Instant, Instant)> = calls.iter().map(span).collect();
    spans.sort();
    let mut total = 0.0;
    let mut current: Option<(Instant, Instant)> = None;
    for (s, e) in spans {
        match current {
            Some((cs, ce)) if s <= ce => current = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += (ce - cs).as_secs_f64();
                current = Some((s, e));
            }
            None => current = Some((s, e)),
        }
    }
    if let Some((cs, ce)) = current {
        total += (ce - cs).as_secs_f64();
    }
    total * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(base: Instant, op: &str, from: u64, to: u64) -> Call {
        Call {
            op: op.into(),
            start: base + Duration::from_millis(from),
            end: Some(base + Duration::from_millis(to)),
        }
    }

    #[test]
    fn overlapping_calls_are_one_stage() {
        let b = Instant::now();
        let calls = vec![
            at(b, "UpdateItem", 0, 5),
            at(b, "GetItem", 6, 10),
            at(b, "Query", 6, 11),
            at(b, "TransactWriteItems", 12, 30),
        ];
        assert_eq!(sequential(&calls), 3);
        assert_eq!(
            shape(&calls),
            "UpdateItem → GetItem + Query → TransactWriteItems"
        );
        let model = Model {
            operations: [
                ("UpdateItem", 5.0),
                ("GetItem", 4.0),
                ("Query", 5.0),
                ("TransactWriteItems", 20.0),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            ..Model::default()
        };
        assert_eq!(critical_ms(&calls, &model), 30.0);
        // As served: 5 + 5 (the longer of GetItem 4 and Query 5) + 18.
        assert!((served_ms(&calls) - 28.0).abs() < 0.01);
        assert!((io_wait_ms(&calls) - 28.0).abs() < 0.01);
    }
}
