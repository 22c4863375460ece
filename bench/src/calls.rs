//! The AWS calls a request makes, each with when it went out and when its answer came back
//! (an SDK interceptor on the bench's clients only), and what follows from those times:
//! how many of them a request waits for one after another (its *sequential* round trips, the
//! critical path), what that path costs under a latency model, and how long at least one call
//! was in flight (the request's own I/O wait, concurrent calls counted once).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        interceptors::{
            context::{
                BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
                FinalizerInterceptorContextRef,
            },
            Intercept,
        },
        orchestrator::Metadata,
        runtime_components::RuntimeComponents,
    },
};
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

#[derive(Debug, Clone)]
pub struct Call {
    pub op: String,
    pub start: Instant,
    pub end: Option<Instant>,
}

/// Records every attempt of every call of the clients it is attached to.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Call>>>);

/// The index of the current attempt's entry (kept in the attempt's config bag).
#[derive(Debug, Clone)]
struct Slot(usize);

impl Storable for Slot {
    type Storer = StoreReplace<Self>;
}

impl Recorder {
    pub fn reset(&self) {
        self.0.lock().unwrap().clear();
    }

    pub fn calls(&self) -> Vec<Call> {
        self.0.lock().unwrap().clone()
    }

    fn finish(&self, cfg: &ConfigBag) {
        if let Some(Slot(i)) = cfg.load::<Slot>() {
            if let Some(call) = self.0.lock().unwrap().get_mut(*i) {
                call.end.get_or_insert_with(Instant::now);
            }
        }
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "bench::Recorder"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        let mut calls = self.0.lock().unwrap();
        calls.push(Call {
            op,
            start: Instant::now(),
            end: None,
        });
        let slot = Slot(calls.len() - 1);
        drop(calls);
        cfg.interceptor_state().store_put(slot);
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.finish(cfg);
        Ok(())
    }

    // A transmit that failed (no response): the attempt ends here.
    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.finish(cfg);
        Ok(())
    }
}

/// Per-operation latencies of the model, in ms (scripts/latency_model.py writes them from
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

fn span(c: &Call) -> (Instant, Instant) {
    (c.start, c.end.unwrap_or(c.start))
}

/// The calls in stages: a call's stage is one more than the latest stage among the calls that
/// had answered before it went out. Calls of one stage overlapped (ran concurrently).
pub fn stages(calls: &[Call]) -> Vec<Vec<String>> {
    let mut order: Vec<&Call> = calls.iter().collect();
    order.sort_by_key(|c| c.start);
    let mut stage_of: Vec<usize> = Vec::with_capacity(order.len());
    for (i, c) in order.iter().enumerate() {
        let stage = (0..i)
            .filter(|&j| span(order[j]).1 <= c.start)
            .map(|j| stage_of[j] + 1)
            .max()
            .unwrap_or(0);
        stage_of.push(stage);
    }
    let mut out: Vec<Vec<String>> = vec![Vec::new(); stage_of.iter().max().map_or(0, |m| m + 1)];
    for (c, s) in order.iter().zip(&stage_of) {
        out[*s].push(c.op.clone());
    }
    out
}

/// The longest chain of calls each of which went out after the previous one answered: the
/// round trips the request waited for one after another.
pub fn sequential(calls: &[Call]) -> usize {
    stages(calls).len()
}

/// The most any such chain costs under `model` (ms): what the request waits for its calls in
/// a region where each takes the model's time.
pub fn critical_ms(calls: &[Call], model: &Model) -> f64 {
    let mut order: Vec<&Call> = calls.iter().collect();
    order.sort_by_key(|c| span(c).1);
    let mut best: Vec<f64> = Vec::with_capacity(order.len());
    for (i, c) in order.iter().enumerate() {
        let before = (0..i)
            .filter(|&j| span(order[j]).1 <= c.start)
            .map(|j| best[j])
            .fold(0.0, f64::max);
        best.push(before + model.ms(&c.op));
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

/// "UpdateItem → GetItem + Query → TransactWriteItems": the stages, concurrent calls joined.
pub fn shape(calls: &[Call]) -> String {
    stages(calls)
        .iter()
        .map(|s| s.join(" + "))
        .collect::<Vec<_>>()
        .join(" → ")
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
        assert!((io_wait_ms(&calls) - 28.0).abs() < 0.01);
    }
}
