//! Assigning flows to users and their progress: assigned → started → completed (overdue when
//! the due date passes first). Every step writes its `flow.*` event with the step itself.

use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    app::App,
    error::{Error, Resource},
    idempotency::Mark,
    ids,
    jobs::{EventKind, EventNote, Outbox},
    model::{Assignment, Caller, Priority, Progress},
    store::assignments::{self as table, Reassignment, Step},
    validate,
};

pub const MAX_NOTES_CHARS: usize = 2000;
/// A due date at most this many years ahead: a bound that keeps every date's year at four
/// digits, so index sort keys stay fixed-width and ordered (docs/choices.md).
pub const MAX_DUE_YEARS: i64 = 10;
const MAX_ID_LEN: usize = 128;

/// The assign request as sent, before validation.
#[derive(Debug, Default, Clone)]
pub struct AssignInput {
    pub flow_id: String,
    pub user_email: String,
    pub due_date: Option<String>,
    pub priority: Option<String>,
    pub notes: Option<String>,
}

/// A validated assign request.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignRequest {
    pub flow_id: String,
    pub user_email: String,
    pub due_date: Option<DateTime<Utc>>,
    pub priority: Priority,
    pub notes: Option<String>,
}

impl AssignRequest {
    pub fn validate(input: AssignInput, now: DateTime<Utc>) -> Result<Self, Error> {
        if input.flow_id.len() > MAX_ID_LEN {
            return Err(Error::invalid(
                "flowId",
                format!("must be at most {MAX_ID_LEN} characters"),
            ));
        }
        let user_email = validate::email("userEmail", &input.user_email)?;
        let due_date = input
            .due_date
            .as_deref()
            .map(|d| parse_due_date(d, now))
            .transpose()?;
        let priority = match input.priority.as_deref() {
            None => Priority::Medium,
            Some(p) => Priority::parse(p)
                .ok_or_else(|| Error::invalid("priority", "must be one of low, medium, high"))?,
        };
        let notes = input
            .notes
            .map(|n| validate::text("notes", &n, MAX_NOTES_CHARS))
            .transpose()?;
        // A flow id of another shape names no flow: 404, after every 400 above.
        ids::require(crate::ids::Kind::Flow, &input.flow_id)?;
        Ok(Self {
            flow_id: input.flow_id,
            user_email,
            due_date,
            priority,
            notes,
        })
    }
}

/// ISO 8601: a full date-time with offset, or a date (meaning the end of that day, UTC).
fn parse_due_date(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, Error> {
    let parsed = DateTime::parse_from_rfc3339(value.trim())
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(23, 59, 59))
                .map(|d| d.and_utc())
        })
        .ok_or_else(|| {
            Error::invalid(
                "dueDate",
                "must be an ISO 8601 date-time such as 2024-11-25T23:59:59Z",
            )
        })?;
    if parsed <= now {
        return Err(Error::invalid("dueDate", "must be in the future"));
    }
    if parsed > now + chrono::Duration::days(365 * MAX_DUE_YEARS) {
        return Err(Error::invalid(
            "dueDate",
            format!("must be within {MAX_DUE_YEARS} years"),
        ));
    }
    Ok(parsed)
}

/// Assigns a flow; re-assigning a flow the user has unfinished updates that assignment. With a
/// `mark` (an Idempotency-Key), what it writes carries the mark, and a new assignment's id comes
/// from it: a retry after the first run died finds that run's assignment and answers with it,
/// writing nothing and causing no second event.
pub async fn assign(
    app: &App,
    caller: &Caller,
    request: AssignRequest,
    request_id: &str,
    mark: Option<&Mark>,
    now: DateTime<Utc>,
) -> Result<Assignment, Error> {
    let terms = Reassignment {
        due_date: request.due_date,
        priority: request.priority,
        notes: request.notes.as_deref(),
        made_by: mark.map(Mark::as_str),
        now,
    };
    let jobs = Outbox::event(EventNote::new(
        EventKind::FlowAssigned,
        &caller.org_id,
        request_id,
        now,
    ));
    let made_id = mark.map(|m| m.id(&app.hasher, crate::ids::Kind::Assignment));
    // Concurrent assigns of the same flow to the same person race for the pointer; the loser
    // updates the winner's assignment. Three rounds settle any realistic race.
    for _ in 0..3 {
        let found = table::lookup_for_assign(
            &app.table,
            &caller.org_id,
            &request.flow_id,
            &request.user_email,
            made_id.as_deref(),
        )
        .await?;
        if let Some(made) = found.made.filter(|a| made_by(a, mark)) {
            return Ok(made);
        }
        let flow = found
            .flow
            .ok_or_else(|| Error::not_found(Resource::Flow, &request.flow_id))?;
        let user = found
            .user
            .ok_or_else(|| Error::not_found(Resource::User, &request.user_email))?;
        if let Some(active_id) = found.active_id {
            let reassigned =
                table::reassign(&app.table, &caller.org_id, &active_id, &terms, &jobs).await?;
            if let Some(updated) = reassigned {
                return Ok(updated);
            }
            // Completed meanwhile, or re-assigned by this request's first run.
            if mark.is_some() {
                let current = table::get(&app.table, &caller.org_id, &active_id).await?;
                if let Some(made) = current.filter(|a| made_by(a, mark)) {
                    return Ok(made);
                }
            }
        }
        let fresh = Assignment {
            id: made_id
                .clone()
                .unwrap_or_else(|| ids::new(crate::ids::Kind::Assignment)),
            org_id: caller.org_id.clone(),
            flow_id: flow.id,
            flow_name: flow.name,
            module_count: flow.module_count,
            estimated_duration: flow.estimated_duration,
            user_id: user.id,
            user_email: user.email,
            due_date: request.due_date,
            priority: request.priority,
            notes: request.notes.clone(),
            progress: Progress::Assigned,
            created_at: now,
            assigned_at: now,
            started_at: None,
            completed_at: None,
            overdue_at: None,
            made_by: mark.map(|m| m.as_str().to_owned()),
        };
        if table::insert(&app.table, &fresh, &jobs).await? {
            return Ok(fresh);
        }
    }
    Err(Error::unavailable("assignment contention"))
}

fn made_by(a: &Assignment, mark: Option<&Mark>) -> bool {
    mark.is_some_and(|m| a.made_by.as_deref() == Some(m.as_str()))
}

pub async fn get(app: &App, caller: &Caller, id: &str) -> Result<Assignment, Error> {
    ids::require(crate::ids::Kind::Assignment, id)?;
    table::get(&app.table, &caller.org_id, id)
        .await?
        .ok_or_else(|| Error::not_found(Resource::Assignment, id))
}

/// assigned → started. Starting a started assignment changes nothing and causes no event:
/// its `flow.started` was written with the start.
pub async fn start(
    app: &App,
    caller: &Caller,
    id: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Assignment, Error> {
    ids::require(crate::ids::Kind::Assignment, id)?;
    let jobs = step_event(EventKind::FlowStarted, &caller.org_id, id, request_id, now);
    match table::start(&app.table, &caller.org_id, id, now, &jobs).await? {
        Step::NotFound => Err(Error::not_found(Resource::Assignment, id)),
        Step::AlreadyThere(a) if a.progress == Progress::Completed => Err(Error::Conflict {
            reason: crate::error::Conflict::AlreadyCompleted,
            message: format!("Assignment '{id}' is already completed"),
        }),
        Step::Made(a) | Step::AlreadyThere(a) => Ok(a),
    }
}

/// → completed (from assigned or started). Completing again changes nothing; see [`start`].
pub async fn complete(
    app: &App,
    caller: &Caller,
    id: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Assignment, Error> {
    ids::require(crate::ids::Kind::Assignment, id)?;
    let jobs = step_event(
        EventKind::FlowCompleted,
        &caller.org_id,
        id,
        request_id,
        now,
    );
    match table::complete(&app.table, &caller.org_id, id, now, &jobs).await? {
        Step::NotFound => Err(Error::not_found(Resource::Assignment, id)),
        Step::Made(a) | Step::AlreadyThere(a) => Ok(a),
    }
}

/// A progress step's event: one per (step, assignment), whatever retries a client makes.
fn step_event(
    kind: EventKind,
    org_id: &str,
    id: &str,
    request_id: &str,
    now: DateTime<Utc>,
) -> Outbox {
    Outbox::event(EventNote::for_fact(kind, id, org_id, request_id, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    fn input() -> AssignInput {
        AssignInput {
            flow_id: "flow_1".into(),
            user_email: "a@b.co".into(),
            ..Default::default()
        }
    }

    fn field_of(result: Result<AssignRequest, Error>) -> String {
        match result {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let r = AssignRequest::validate(input(), now()).unwrap();
        assert_eq!(r.priority, Priority::Medium);
        assert_eq!(r.due_date, None);
    }

    #[test]
    fn due_dates() {
        let r = AssignRequest::validate(
            AssignInput {
                due_date: Some("2026-11-25T23:59:59Z".into()),
                ..input()
            },
            now(),
        )
        .unwrap();
        assert_eq!(
            r.due_date,
            Some(Utc.with_ymd_and_hms(2026, 11, 25, 23, 59, 59).unwrap())
        );
        let r = AssignRequest::validate(
            AssignInput {
                due_date: Some("2026-11-25".into()),
                ..input()
            },
            now(),
        )
        .unwrap();
        assert_eq!(
            r.due_date,
            Some(Utc.with_ymd_and_hms(2026, 11, 25, 23, 59, 59).unwrap())
        );
        let r = AssignRequest::validate(
            AssignInput {
                due_date: Some("2026-11-25T10:00:00+02:00".into()),
                ..input()
            },
            now(),
        )
        .unwrap();
        assert_eq!(
            r.due_date,
            Some(Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap())
        );
        for bad in [
            "2024-11-25T23:59:59Z",
            "tomorrow",
            "2026-13-01",
            "",
            "+10000-01-01",
            "+10000-01-01T00:00:00Z",
            "2037-01-01",
        ] {
            assert_eq!(
                field_of(AssignRequest::validate(
                    AssignInput {
                        due_date: Some(bad.into()),
                        ..input()
                    },
                    now()
                )),
                "dueDate",
                "{bad}"
            );
        }
    }

    #[test]
    fn other_fields() {
        assert_eq!(
            field_of(AssignRequest::validate(
                AssignInput {
                    priority: Some("urgent".into()),
                    ..input()
                },
                now()
            )),
            "priority"
        );
        assert_eq!(
            field_of(AssignRequest::validate(
                AssignInput {
                    user_email: "nope".into(),
                    ..input()
                },
                now()
            )),
            "userEmail"
        );
        let long = "n".repeat(MAX_NOTES_CHARS + 1);
        assert_eq!(
            field_of(AssignRequest::validate(
                AssignInput {
                    notes: Some(long),
                    ..input()
                },
                now()
            )),
            "notes"
        );
        assert_eq!(
            field_of(AssignRequest::validate(
                AssignInput {
                    flow_id: "f".repeat(200),
                    ..input()
                },
                now()
            )),
            "flowId"
        );
    }
}
