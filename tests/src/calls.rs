//! The AWS calls a request makes, each with when it went out and when its answer came back
//! ([`Recorder`], an SDK interceptor: `Env::recorded`), and the order that follows from those
//! times: how many of them a request waits for one after another (its *sequential* round
//! trips). `make bench` (bench/src/calls.rs) adds what that path costs under its latency model.

use std::{
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
        "inflow_tests::Recorder"
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

/// When a call went out, and when its answer came back (when it went out, if none came).
pub fn span(c: &Call) -> (Instant, Instant) {
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

/// "UpdateItem → GetItem + Query → TransactWriteItems": the stages, concurrent calls joined.
pub fn shape(calls: &[Call]) -> String {
    stages(calls)
        .iter()
        .map(|s| s.join(" + "))
        .collect::<Vec<_>>()
        .join(" → ")
}
