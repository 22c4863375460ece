//! The sweeper, run every minute by a schedule: emits `flow.overdue` for unfinished assignments
//! whose due date passed, and expires open invitation flows whose expiry passed. It reads only
//! the two sparse index partitions (`DUE`, `EXPIRES`), never scans, and handles at most
//! [`BATCH`] of each per run; the rest wait for the next minute.
//!
//! Each item: publish its event first, then the conditional write that takes it out of its
//! partition. A crash in between leaves it there, so the next run publishes again, under the
//! same event id (derived from the item and its deadline), and the webhook worker delivers it
//! once. The other order could lose the event for good. A run that overlaps another, or a
//! schedule that fires twice, is harmless for the same reason: one write wins, the ids match.

use chrono::{DateTime, SecondsFormat, Utc};
use futures::{stream, StreamExt};
use serde::Serialize;

use crate::{
    app::App,
    assignments,
    error::Error,
    ids, invitations,
    jobs::{self, Event},
    model::{Assignment, Invitation, Progress},
    store::{
        self,
        sweeps::{Entry, Found},
    },
};

/// At most this many assignments and this many invitations per run.
pub const BATCH: usize = 500;
/// Items handled at once (each is a read, a queue send and a write).
const CONCURRENCY: usize = 16;

/// The sweeper's context, built once per container.
pub struct Sweeper {
    pub app: App,
}

impl Sweeper {
    pub async fn from_env() -> Result<Self, Error> {
        Ok(Self {
            app: App::from_env().await?,
        })
    }
}

/// What a run did; the handler's result, and a log line.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The run's id: the `requestId` of every event it published.
    pub run_id: String,
    pub overdue: Tally,
    pub expired: Tally,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    /// Entries found in the index partition.
    pub found: usize,
    /// Events published and records updated by this run.
    pub done: usize,
    /// Entries that needed nothing (finished or handled meanwhile, or a stale index entry).
    pub skipped: usize,
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
        failed = summary.failed(),
        "sweep done"
    );
    match summary.failed() {
        0 => Ok(summary),
        n => Err(Error::Unavailable(format!(
            "sweep {}: {n} item(s) failed; they are retried next run",
            summary.run_id
        ))),
    }
}

impl Summary {
    pub fn failed(&self) -> usize {
        self.overdue.failed + self.expired.failed
    }
}

/// One run: both partitions, each independently (one failing does not stop the other).
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Summary {
    let run_id = ids::new("sweep");
    let (overdue, expired) = tokio::join!(
        sweep_overdue(app, now, &run_id),
        sweep_expired(app, now, &run_id)
    );
    Summary {
        run_id,
        overdue,
        expired,
    }
}

/// What became of one entry.
enum Handled {
    Done,
    Skipped,
}

async fn sweep_overdue(app: &App, now: DateTime<Utc>, run_id: &str) -> Tally {
    let table = &app.config.table_name;
    match store::sweeps::due_assignments(&app.ddb, table, now, BATCH).await {
        Ok(found) => {
            tally(found, |f| async move {
                let id = f.record.id.clone();
                overdue_one(app, f, now, run_id).await.inspect_err(|err| {
                    tracing::warn!(assignment_id = %id, error = %err, "overdue: will retry next run")
                })
            })
            .await
        }
        Err(err) => {
            tracing::error!(error = %err, "overdue: cannot read the DUE partition");
            Tally {
                failed: 1,
                ..Tally::default()
            }
        }
    }
}

async fn sweep_expired(app: &App, now: DateTime<Utc>, run_id: &str) -> Tally {
    let table = &app.config.table_name;
    match store::sweeps::expired_invitations(&app.ddb, table, now, BATCH).await {
        Ok(found) => {
            tally(found, |f| async move {
                let id = f.record.id.clone();
                expire_one(app, f, now, run_id).await.inspect_err(|err| {
                    tracing::warn!(invitation_id = %id, error = %err, "expiry: will retry next run")
                })
            })
            .await
        }
        Err(err) => {
            tracing::error!(error = %err, "expiry: cannot read the EXPIRES partition");
            Tally {
                failed: 1,
                ..Tally::default()
            }
        }
    }
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
            .inspect_err(|err| tracing::error!(error = %err, "sweep: unreadable index entry"))
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
            Err(_) => tally.failed += 1,
        }
    }
    tally
}

/// `flow.overdue` for one assignment, then the mark. The index entry may lag the table (GSIs
/// are eventually consistent), so the assignment is read again first: one completed before its
/// due date must never be reported overdue.
async fn overdue_one(
    app: &App,
    found: Found<Assignment>,
    now: DateTime<Utc>,
    run_id: &str,
) -> Result<Handled, Error> {
    let table = &app.config.table_name;
    let a = &found.record;
    let Some(current) = store::assignments::get(&app.ddb, table, &a.org_id, &a.id).await? else {
        return Ok(Handled::Skipped);
    };
    let Some(due) = current.due_date.filter(|due| *due < now) else {
        return Ok(Handled::Skipped);
    };
    if current.progress == Progress::Completed || current.overdue_at.is_some() {
        return Ok(Handled::Skipped);
    }
    let event = Event::for_fact(
        "flow.overdue",
        &deadline_fact(&current.id, due),
        &current.org_id,
        run_id,
        now,
        overdue_data(&current, now),
    );
    jobs::publish(app, &event).await?;
    // False when completed, re-assigned or marked since the read: the event stands (the due
    // date did pass unfinished), and the write that won keeps the record right.
    store::sweeps::mark_overdue(&app.ddb, table, &found, now).await?;
    Ok(Handled::Done)
}

/// `invitation.expired` for one invitation, then EXPIRED. Read again first, as above: one
/// consumed, canceled or re-sent meanwhile is left alone.
async fn expire_one(
    app: &App,
    found: Found<Invitation>,
    now: DateTime<Utc>,
    run_id: &str,
) -> Result<Handled, Error> {
    let table = &app.config.table_name;
    let inv = &found.record;
    let Some(current) = store::invitations::get(&app.ddb, table, &inv.org_id, &inv.id).await?
    else {
        return Ok(Handled::Skipped);
    };
    if !current.state.is_open() || current.expire_time > now {
        return Ok(Handled::Skipped);
    }
    let event = Event::for_fact(
        "invitation.expired",
        &deadline_fact(&current.id, current.expire_time),
        &current.org_id,
        run_id,
        now,
        invitations::event_data(&current),
    );
    jobs::publish(app, &event).await?;
    store::sweeps::expire_invitation(&app.ddb, table, &found, now).await?;
    Ok(Handled::Done)
}

/// The fact an event reports: this record missed this deadline. A record given a new deadline
/// (re-assigned, re-sent) can miss that one too, and that is a new event.
fn deadline_fact(id: &str, deadline: DateTime<Utc>) -> String {
    format!(
        "{id}@{}",
        deadline.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

fn overdue_data(a: &Assignment, now: DateTime<Utc>) -> serde_json::Value {
    let mut data = assignments::event_data(a);
    if let Some(map) = data.as_object_mut() {
        map.insert("overdueAt".into(), crate::wire::time(now).into());
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn deadline_facts_name_the_record_and_the_deadline() {
        let due = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        assert_eq!(deadline_fact("asgn_1", due), "asgn_1@2026-11-22T12:00:00Z");
        let a = Event::for_fact(
            "flow.overdue",
            &deadline_fact("asgn_1", due),
            "o",
            "r1",
            due,
            serde_json::json!({}),
        );
        let b = Event::for_fact(
            "flow.overdue",
            &deadline_fact("asgn_1", due),
            "o",
            "r2",
            due,
            serde_json::json!({}),
        );
        let later = due + chrono::Duration::days(1);
        let c = Event::for_fact(
            "flow.overdue",
            &deadline_fact("asgn_1", later),
            "o",
            "r1",
            due,
            serde_json::json!({}),
        );
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
    }
}
