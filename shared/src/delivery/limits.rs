//! How many deliveries one worker instance makes at once: in all, and to any one host. A
//! fan-out of thousands of events to many endpoints then never opens more connections than
//! these, far under the function's 1,024 file descriptors, and no tenant's endpoints can point
//! the whole worker at one host. An attempt that cannot start in time for its invocation's
//! deadline is handed back to the queue unclaimed (see `WebhookWorker`), so an invocation's
//! work is bounded too.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};

/// Deliveries in hand at once per instance (each with its record's writes and its request),
/// and requests to one host at once within them.
pub const IN_FLIGHT: usize = 64;
pub const PER_HOST: usize = 8;

pub struct Limits {
    in_flight: Arc<Semaphore>,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// The right to do one delivery's I/O (its record's writes, a hand-back, its request);
/// dropped, it frees its place.
pub struct Place<'a> {
    _permit: OwnedSemaphorePermit,
    limits: &'a Limits,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.limits.now.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The right to send one request to a host.
pub struct HostPlace(#[allow(dead_code)] OwnedSemaphorePermit);

impl Limits {
    pub fn new(in_flight: usize, per_host: usize) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(in_flight.max(1))),
            per_host: per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// A place among the instance's deliveries, in turn. Every call to DynamoDB, SQS or a
    /// receiver a delivery makes is made holding one, so an invocation of thousands of
    /// deliveries holds at most [`IN_FLIGHT`] connections of each kind.
    pub async fn place(&self) -> Place<'_> {
        let permit = self
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        Place {
            _permit: permit,
            limits: self,
        }
    }

    /// A place among the requests to `host`, waiting no later than `until`; `None` when none
    /// frees up by then. Taken before [`Limits::place`]: waiting for a busy host holds none of
    /// the instance's places.
    pub async fn host(&self, host: &str, until: Instant) -> Option<HostPlace> {
        let places = self.host_places(host);
        tokio::time::timeout_at(until, places.acquire_owned())
            .await
            .ok()?
            .ok()
            .map(HostPlace)
    }

    /// The most deliveries this instance had in hand at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn host_places(&self, host: &str) -> Arc<Semaphore> {
        let mut hosts = self
            .hosts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if hosts.len() >= 4096 {
            // Forget the hosts no delivery holds a place of.
            let per_host = self.per_host;
            hosts.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < per_host);
        }
        hosts
            .entry(host.to_ascii_lowercase())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone()
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(IN_FLIGHT, PER_HOST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn places_are_bounded_in_all_and_per_host() {
        let limits = Limits::new(2, 1);
        let later = Instant::now() + Duration::from_secs(5);
        let soon = || Instant::now() + Duration::from_millis(20);
        let a = limits.host("a.example", later).await.unwrap();
        assert!(limits.host("A.example", soon()).await.is_none(), "1 a host");
        assert!(limits.host("b.example", soon()).await.is_some());
        drop(a);
        assert!(limits.host("a.example", soon()).await.is_some());
        let (p1, p2) = (limits.place().await, limits.place().await);
        let third = tokio::time::timeout(Duration::from_millis(20), limits.place()).await;
        assert!(third.is_err(), "2 in all");
        drop(p1);
        let _p3 = limits.place().await;
        drop(p2);
        assert_eq!(limits.peak(), 2);
    }
}
