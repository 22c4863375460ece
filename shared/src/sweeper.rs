//! The sweeper, run every minute by a schedule: emits `flow.overdue` for unfinished assignments
//! whose due date passed, expires open invitation flows whose expiry passed, and wakes parked
//! webhook deliveries whose next attempt has come (their attempt is queued by the relay, as a
//! replay's is). It reads only the three sparse index partitions (`DUE`, `EXPIRES`, `WAKE`),
//! never scans, and handles at most
//! [`BOUNDS`] of each per run; the rest wait for the next minute. Every tenant shares these
//! partitions, so each run takes at most a share of one organization's entries and skips the
//! rest of them, by key, to reach the others': one tenant's mass expiry (an import's
//! invitations all expiring together) delays no other tenant's (docs/bench/capacity.md, "Tenants").
//!
//! Each item is one conditional write that marks it, takes it out of its partition and carries
//! its event (`flow.overdue`, `invitation.expired`), so the mark and the event happen together
//! or not at all. The condition decides on the item itself, not on the index entry (indexes
//! lag): an assignment completed in time, or an invitation consumed, canceled or re-sent
//! meanwhile, fails it and is left alone. A run that overlaps another, or a schedule that
//! fires twice, is harmless: one write wins.

use chrono::{DateTime, SecondsFormat, Utc};
use futures::{stream, StreamExt};
use serde::Serialize;

use crate::{
    app::App,
    error::Error,
    ids,
    jobs::{EventKind, EventNote, Job, Outbox},
    model::{delivery::Delivery, Assignment, Invitation},
    store::{
        self,
        sweeps::{Bounds, Entry, Found},
    },
};

/// Per shard per run (16 shards): at most 100 entries of each partition, of which 25 of one
/// organization (so 400 of its overdue assignments and 400 of its expiries a run), read in at
/// most 20 queries.
pub const BOUNDS: Bounds = Bounds {
    per_shard: 100,
    per_org: 25,
    queries: 20,
};
/// Items handled at once (each is one conditional write).
const CONCURRENCY: usize = 16;

/// The sweeper's context, built once per container.
pub struct Sweeper {
    pub app: App,
}

impl Sweeper {
    /// No connection warm-up at init (`App::from_env`'s): a scheduled run has no client waiting.
    pub async fn from_env() -> Result<Self, Error> {
        let sdk = crate::app::sdk_config().await?;
        Ok(Self {
            app: App::new(crate::config::Config::from_env()?, &sdk).await?,
        })
    }
}

/// What a run did; the handler's result, and a log line.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The run's id: the `requestId` of every event it wrote.
    pub run_id: String,
    pub overdue: Tally,
    pub expired: Tally,
    pub woken: Tally,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    /// Entries found in the index partition.
    pub found: usize,
    /// Records marked (each with its event) by this run.
    pub done: usize,
    /// Entries that needed nothing (finished or handled meanwhile, or a stale index entry).
    pub skipped: usize,
    /// Entries the sweeper cannot act on (no record of its kind, a deadline the sort key
    /// misstates), taken out of the partition so they hold up nothing (metric `SweepQuarantined`).
    pub quarantined: usize,
    /// Entries that failed; they stay in the partition for the next run.
    pub failed: usize,
}

/// The Lambda handler. The scheduled event carries nothing we need: the time is read here.
/// A run where anything failed fails the invocation, so Lambda counts an error (the alarm) and
/// the schedule's retry, like the next run, picks up what is left.
pub async fn handle(sweeper: &Sweeper, _event: serde_json::Value) -> Result<Summary, Error> {
    let summary = sweep(&sweeper.app, Utc::now()).await;
    tracing::info!(
        run_id = %summary.run_id,
        overdue_found = summary.overdue.found,
        overdue_done = summary.overdue.done,
        expired_found = summary.expired.found,
        expired_done = summary.expired.done,
        woken_found = summary.woken.found,
        woken_done = summary.woken.done,
        failed = summary.failed(),
        "sweep done"
    );
    match summary.failed() {
        0 => Ok(summary),
        n => Err(Error::unavailable(format!(
            "sweep {}: {n} item(s) failed; they are retried next run",
            summary.run_id
        ))),
    }
}

impl Summary {
    pub fn failed(&self) -> usize {
        self.overdue.failed + self.expired.failed + self.woken.failed
    }
}

/// One run: both partitions, each independently (one failing does not stop the other).
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Summary {
    sweep_within(app, now, BOUNDS).await
}

/// [`sweep`] within other bounds (tests).
pub async fn sweep_within(app: &App, now: DateTime<Utc>, bounds: Bounds) -> Summary {
    let run_id = ids::new(crate::ids::Kind::Sweep);
    let (overdue, expired, woken) = tokio::join!(
        sweep_overdue(app, now, &run_id, bounds),
        sweep_expired(app, now, &run_id, bounds),
        sweep_parked(app, now, bounds)
    );
    Summary {
        run_id,
        overdue,
        expired,
        woken,
    }
}

/// What became of one entry.
enum Handled {
    Done,
    Skipped,
    Quarantined,
}

async fn sweep_overdue(app: &App, now: DateTime<Utc>, run_id: &str, bounds: Bounds) -> Tally {
    match store::sweeps::due_assignments(&app.table, now, bounds).await {
        Ok(found) => {
            tally(found, |f| async move {
                let entry = f.describe();
                overdue_one(app, f, now, run_id).await.inspect_err(|err| {
                    tracing::warn!(entry = %entry, error = %err.chain(), "overdue: will retry next run")
                })
            })
            .await
        }
        Err(err) => {
            tracing::error!(error = %err.chain(), "overdue: cannot read the DUE partition");
            Tally {
                failed: 1,
                ..Tally::default()
            }
        }
    }
}

async fn sweep_expired(app: &App, now: DateTime<Utc>, run_id: &str, bounds: Bounds) -> Tally {
    match store::sweeps::expired_invitations(&app.table, now, bounds).await {
        Ok(found) => {
            tally(found, |f| async move {
                let entry = f.describe();
                expire_one(app, f, now, run_id).await.inspect_err(|err| {
                    tracing::warn!(entry = %entry, error = %err.chain(), "expiry: will retry next run")
                })
            })
            .await
        }
        Err(err) => {
            tracing::error!(error = %err.chain(), "expiry: cannot read the EXPIRES partition");
            Tally {
                failed: 1,
                ..Tally::default()
            }
        }
    }
}

async fn sweep_parked(app: &App, now: DateTime<Utc>, bounds: Bounds) -> Tally {
    match store::sweeps::parked_deliveries(&app.table, now, bounds).await {
        Ok(found) => {
            tally(found, |f| async move {
                let entry = f.describe();
                wake_one(app, f, now).await.inspect_err(|err| {
                    tracing::warn!(entry = %entry, error = %err.chain(), "wake: will retry next run")
                })
            })
            .await
        }
        Err(err) => {
            tracing::error!(error = %err.chain(), "wake: cannot read the WAKE partition");
            Tally {
                failed: 1,
                ..Tally::default()
            }
        }
    }
}

/// Wakes one parked delivery: its next attempt is written with it, for the relay to queue.
async fn wake_one(app: &App, found: Found<Delivery>, now: DateTime<Utc>) -> Result<Handled, Error> {
    let due = match &found.record {
        Ok(d) => d.next_attempt_at.is_some_and(|at| at <= now),
        Err(_) => false,
    };
    if !due {
        return quarantine(app, &found, now).await;
    }
    let jobs = Outbox::new(vec![Job::NextAttempt]);
    Ok(
        match store::sweeps::wake(&app.table, &found, &jobs).await? {
            true => Handled::Done,
            false => Handled::Skipped,
        },
    )
}

/// Runs `one` over the readable entries, a few at a time, and counts the outcomes.
async fn tally<T, F, Fut>(found: Vec<Entry<T>>, one: F) -> Tally
where
    F: Fn(Found<T>) -> Fut,
    Fut: std::future::Future<Output = Result<Handled, Error>>,
{
    let mut tally = Tally {
        found: found.len(),
        ..Tally::default()
    };
    let readable = found.into_iter().filter_map(|entry| {
        entry
            .inspect_err(
                |err| tracing::error!(error = %err.chain(), "sweep: unreadable index entry"),
            )
            .ok()
    });
    let readable: Vec<Found<T>> = readable.collect();
    tally.failed = tally.found - readable.len();
    let outcomes: Vec<_> = stream::iter(readable)
        .map(one)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome {
            Ok(Handled::Done) => tally.done += 1,
            Ok(Handled::Skipped) => tally.skipped += 1,
            Ok(Handled::Quarantined) => tally.quarantined += 1,
            Err(_) => tally.failed += 1,
        }
    }
    if tally.quarantined > 0 {
        crate::metrics::count("SweepQuarantined", tally.quarantined as u64, &[]);
    }
    tally
}

/// Marks one assignment overdue, with its `flow.overdue`.
async fn overdue_one(
    app: &App,
    found: Found<Assignment>,
    now: DateTime<Utc>,
    run_id: &str,
) -> Result<Handled, Error> {
    let due = match &found.record {
        Ok(a) => a.due_date.filter(|due| *due <= now),
        Err(_) => None,
    };
    let (Ok(a), Some(due)) = (&found.record, due) else {
        return quarantine(app, &found, now).await;
    };
    let fact = deadline_fact(&a.id, due);
    let jobs = Outbox::event(EventNote::for_fact(
        EventKind::FlowOverdue,
        &fact,
        &a.org_id,
        run_id,
        now,
    ));
    Ok(
        match store::sweeps::mark_overdue(&app.table, &found, now, &jobs).await? {
            true => Handled::Done,
            false => Handled::Skipped,
        },
    )
}

/// Expires one invitation, with its `invitation.expired`.
async fn expire_one(
    app: &App,
    found: Found<Invitation>,
    now: DateTime<Utc>,
    run_id: &str,
) -> Result<Handled, Error> {
    let inv = match &found.record {
        Ok(inv) if inv.expire_time <= now => inv,
        _ => return quarantine(app, &found, now).await,
    };
    let fact = deadline_fact(&inv.id, inv.expire_time);
    let jobs = Outbox::event(EventNote::for_fact(
        EventKind::InvitationExpired,
        &fact,
        &inv.org_id,
        run_id,
        now,
    ));
    Ok(
        match store::sweeps::expire_invitation(&app.table, &found, now, &jobs).await? {
            true => Handled::Done,
            false => Handled::Skipped,
        },
    )
}

/// An entry the sweeper cannot act on leaves its partition (see `store::sweeps::quarantine`).
async fn quarantine<T>(app: &App, found: &Found<T>, now: DateTime<Utc>) -> Result<Handled, Error> {
    let why = match &found.record {
        Err(err) => err.to_string(),
        Ok(_) => "its deadline is not the one its index entry states".into(),
    };
    tracing::warn!(entry = %found.describe(), why = %why, "sweep: entry quarantined");
    Ok(
        match store::sweeps::quarantine(&app.table, found, now).await? {
            true => Handled::Quarantined,
            false => Handled::Skipped,
        },
    )
}

/// The fact an event reports: this record missed this deadline. A record given a new deadline
/// (re-assigned, re-sent) can miss that one too, and that is a new event.
fn deadline_fact(id: &str, deadline: DateTime<Utc>) -> String {
    format!(
        "{id}@{}",
        deadline.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn deadline_facts_name_the_record_and_the_deadline() {
        let due = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        assert_eq!(deadline_fact("asgn_1", due), "asgn_1@2026-11-22T12:00:00Z");
        let overdue = |deadline, run| {
            EventNote::for_fact(
                EventKind::FlowOverdue,
                &deadline_fact("asgn_1", deadline),
                "o",
                run,
                due,
            )
        };
        let (a, b) = (overdue(due, "r1"), overdue(due, "r2"));
        let c = overdue(due + chrono::Duration::days(1), "r1");
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
    }
}
