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

/// Deliveries in flight at once per instance, and per host within them.
pub const IN_FLIGHT: usize = 64;
pub const PER_HOST: usize = 8;

pub struct Limits {
    in_flight: Arc<Semaphore>,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// The right to make one delivery; dropped, it frees its places.
pub struct Permit<'a> {
    _host: OwnedSemaphorePermit,
    _in_flight: OwnedSemaphorePermit,
    limits: &'a Limits,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limits.now.fetch_sub(1, Ordering::Relaxed);
    }
}

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

    /// A place for one delivery to `host`, waiting no later than `until`; `None` when none
    /// frees up by then.
    pub async fn acquire(&self, host: &str, until: Instant) -> Option<Permit<'_>> {
        let host_places = self.host(host);
        let places = async {
            // The host's place first: waiting for a busy host holds none of the others'.
            let host = host_places.acquire_owned().await.ok()?;
            let in_flight = self.in_flight.clone().acquire_owned().await.ok()?;
            Some((host, in_flight))
        };
        let (host, in_flight) = tokio::time::timeout_at(until, places).await.ok()??;
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        Some(Permit {
            _host: host,
            _in_flight: in_flight,
            limits: self,
        })
    }

    /// The most deliveries this instance made at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn host(&self, host: &str) -> Arc<Semaphore> {
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
    async fn places_are_bounded_per_host_and_in_all() {
        let limits = Limits::new(3, 2);
        let later = Instant::now() + Duration::from_secs(5);
        let soon = || Instant::now() + Duration::from_millis(20);
        let a1 = limits.acquire("a.example", later).await.unwrap();
        let _a2 = limits.acquire("A.example", later).await.unwrap();
        assert!(
            limits.acquire("a.example", soon()).await.is_none(),
            "2 a host"
        );
        let _b1 = limits.acquire("b.example", later).await.unwrap();
        assert!(
            limits.acquire("c.example", soon()).await.is_none(),
            "3 in all"
        );
        drop(a1);
        assert!(limits.acquire("c.example", soon()).await.is_some());
        assert_eq!(limits.peak(), 3);
    }

    #[tokio::test]
    async fn a_place_freed_in_time_is_taken() {
        let limits = Limits::new(1, 1);
        let held = limits
            .acquire("a.example", Instant::now() + Duration::from_secs(1))
            .await
            .unwrap();
        let freed = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(held);
        };
        let (_, got) = tokio::join!(
            freed,
            limits.acquire("a.example", Instant::now() + Duration::from_secs(1))
        );
        assert!(got.is_some());
    }
}
