//! Assignments, and the pointer that finds the unfinished assignment of a flow for an email.

use super::{Table, Updated};
use aws_sdk_dynamodb::types::{Delete, ReturnValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::{
    build_err, from_item, get_s, key, org_pk,
    orgs::{flow_key, user_by_email_key},
    outbox, put_new, s, to_item, transact, unless_condition_failed, Item, Written, GSI1PK, GSI1SK,
    SK,
};
use crate::{
    error::Error,
    jobs::Outbox,
    model::{Assignment, Flow, Priority, Progress, User},
};

/// The prefix of the sparse index partitions the sweeper reads: unfinished assignments by due
/// date, `DUE#<shard>`.
pub const DUE_PARTITION: &str = "DUE";

fn due_partition(id: &str) -> String {
    format!("{DUE_PARTITION}#{}", super::shards::of_id(id))
}

fn asgn_key(org_id: &str, id: &str) -> Item {
    key(org_pk(org_id), format!("ASGN#{id}"))
}

fn active_key(org_id: &str, flow_id: &str, email: &str) -> Item {
    key(
        org_pk(org_id),
        format!("ACTIVE#{flow_id}#{}", email.to_lowercase()),
    )
}

fn due_sort_key(due: DateTime<Utc>, org_id: &str, id: &str) -> String {
    format!("{}#{org_id}#{id}", due.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// What an assign needs to know, read in one BatchGetItem.
pub struct AssignLookup {
    pub flow: Option<Flow>,
    pub user: Option<User>,
    pub active_id: Option<String>,
    /// The assignment with the id the request would give a new one, if it exists.
    pub made: Option<Assignment>,
}

pub async fn lookup_for_assign(
    table: &Table,
    org_id: &str,
    flow_id: &str,
    email: &str,
    made_id: Option<&str>,
) -> Result<AssignLookup, Error> {
    let mut wanted = vec![
        flow_key(org_id, flow_id),
        user_by_email_key(org_id, email),
        active_key(org_id, flow_id, email),
    ];
    wanted.extend(made_id.map(|id| asgn_key(org_id, id)));
    let found = super::batch_get(table, wanted).await?;
    let mut lookup = AssignLookup {
        flow: None,
        user: None,
        active_id: None,
        made: None,
    };
    for item in found {
        let sk = get_s(&item, SK).unwrap_or_default().to_owned();
        if sk.starts_with("FLOW#") {
            lookup.flow = Some(from_item(item)?);
        } else if sk.starts_with("EMAIL#") {
            lookup.user = Some(from_item(item)?);
        } else if sk.starts_with("ACTIVE#") {
            lookup.active_id = get_s(&item, "assignment_id").map(str::to_owned);
        } else if sk.starts_with("ASGN#") {
            lookup.made = Some(from_item(item)?);
        }
    }
    Ok(lookup)
}

/// Writes a new assignment with its jobs and claims its (flow, email) pointer. `false`: another
/// unfinished assignment holds the pointer (a concurrent assign won), so the caller should
/// update that one.
pub async fn insert(table: &Table, a: &Assignment, jobs: &Outbox) -> Result<bool, Error> {
    let mut item = to_item(org_pk(&a.org_id), format!("ASGN#{}", a.id), a)?;
    outbox::put_into(&mut item, jobs)?;
    if let Some(due) = a.due_date {
        item.insert(GSI1PK.into(), s(due_partition(&a.id)));
        item.insert(GSI1SK.into(), s(due_sort_key(due, &a.org_id, &a.id)));
    }
    let mut pointer = active_key(&a.org_id, &a.flow_id, &a.user_email);
    pointer.insert("assignment_id".into(), s(&a.id));
    let written = transact(table, vec![put_new(table, item)?, put_new(table, pointer)?]).await?;
    Ok(matches!(written, Written::Yes))
}

/// The new terms of a re-assignment.
pub struct Reassignment<'a> {
    pub due_date: Option<DateTime<Utc>>,
    pub priority: Priority,
    pub notes: Option<&'a str>,
    /// The mark of the idempotent request re-assigning it.
    pub made_by: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// Updates an unfinished assignment in place, with its jobs; `None` if it was completed
/// meanwhile, or re-assigned already by the request with the mark `terms.made_by`.
pub async fn reassign(
    table: &Table,
    org_id: &str,
    id: &str,
    terms: &Reassignment<'_>,
    jobs: &Outbox,
) -> Result<Option<Assignment>, Error> {
    let mut set = vec!["priority = :p", "assigned_at = :now", outbox::SET];
    // A new deadline may be missed anew, so the overdue mark is cleared.
    let mut remove = vec!["overdue_at"];
    let mut update = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(asgn_key(org_id, id)))
        .expression_attribute_values(":p", s(terms.priority.as_str()))
        .expression_attribute_values(":now", s(terms.now.to_rfc3339()))
        .expression_attribute_values(":done", s(Progress::Completed.as_str()));
    for (name, value) in outbox::values(jobs)? {
        update = update.expression_attribute_values(name, value);
    }
    match terms.due_date {
        Some(due) => {
            set.extend(["due_date = :d", "GSI1PK = :gpk", "GSI1SK = :gsk"]);
            update = update
                .expression_attribute_values(":d", s(due.to_rfc3339()))
                .expression_attribute_values(":gpk", s(due_partition(id)))
                .expression_attribute_values(":gsk", s(due_sort_key(due, org_id, id)));
        }
        None => remove.extend(["due_date", "GSI1PK", "GSI1SK"]),
    }
    match terms.notes {
        Some(notes) => {
            set.push("notes = :n");
            update = update.expression_attribute_values(":n", s(notes));
        }
        None => remove.push("notes"),
    }
    let mut condition = "attribute_exists(PK) AND progress <> :done".to_owned();
    match terms.made_by {
        Some(mark) => {
            set.push("made_by = :mark");
            condition.push_str(" AND (attribute_not_exists(made_by) OR made_by <> :mark)");
            update = update.expression_attribute_values(":mark", s(mark));
        }
        None => remove.push("made_by"),
    }
    let result = update
        .update_expression(format!(
            "SET {} REMOVE {}",
            set.join(", "),
            remove.join(", ")
        ))
        .condition_expression(condition)
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    unless_condition_failed(result)?
        .map(|out| from_item(out.attributes.unwrap_or_default()))
        .transpose()
}

pub async fn get(table: &Table, org_id: &str, id: &str) -> Result<Option<Assignment>, Error> {
    super::get_as(table, asgn_key(org_id, id), true).await
}

/// The result of asking for a progress step.
pub enum Step {
    /// This call made the step.
    Made(Assignment),
    /// The assignment was already there (or further on, for start): nothing changed.
    AlreadyThere(Assignment),
    NotFound,
}

/// assigned → started, with its jobs, in one conditional UpdateItem.
pub async fn start(
    table: &Table,
    org_id: &str,
    id: &str,
    now: DateTime<Utc>,
    jobs: &Outbox,
) -> Result<Step, Error> {
    let [(n1, v1), (n2, v2)] = outbox::values(jobs)?;
    let result = table
        .ddb
        .update_item()
        .table_name(&table.name)
        .set_key(Some(asgn_key(org_id, id)))
        .update_expression(format!(
            "SET progress = :started, started_at = :now, {}",
            outbox::SET
        ))
        .condition_expression("progress = :assigned")
        .expression_attribute_values(n1, v1)
        .expression_attribute_values(n2, v2)
        .expression_attribute_values(":started", s(Progress::Started.as_str()))
        .expression_attribute_values(":assigned", s(Progress::Assigned.as_str()))
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(
            aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
        )
        .send()
        .await;
    Ok(match super::updated(result)? {
        Updated::Yes(item) => Step::Made(from_item(item)?),
        Updated::Refused(Some(item)) => Step::AlreadyThere(from_item(item)?),
        Updated::Refused(None) => Step::NotFound,
    })
}

/// → completed, with its jobs, releasing the (flow, email) pointer in the same transaction so
/// that the next assign of this flow creates a new assignment.
pub async fn complete(
    table: &Table,
    org_id: &str,
    id: &str,
    now: DateTime<Utc>,
    jobs: &Outbox,
) -> Result<Step, Error> {
    let Some(current) = get(table, org_id, id).await? else {
        return Ok(Step::NotFound);
    };
    if current.progress == Progress::Completed {
        return Ok(Step::AlreadyThere(current));
    }
    let [(n1, v1), (n2, v2)] = outbox::values(jobs)?;
    let update = Update::builder()
        .table_name(&table.name)
        .set_key(Some(asgn_key(org_id, id)))
        .update_expression(format!(
            "SET progress = :done, completed_at = :now, started_at = if_not_exists(started_at, :now), {} REMOVE GSI1PK, GSI1SK",
            outbox::SET
        ))
        .condition_expression("attribute_exists(PK) AND progress <> :done")
        .expression_attribute_values(":done", s(Progress::Completed.as_str()))
        .expression_attribute_values(":now", s(now.to_rfc3339()))
        .expression_attribute_values(n1, v1)
        .expression_attribute_values(n2, v2)
        .build()
        .map_err(build_err)?;
    let release = Delete::builder()
        .table_name(&table.name)
        .set_key(Some(active_key(
            org_id,
            &current.flow_id,
            &current.user_email,
        )))
        .condition_expression("attribute_not_exists(PK) OR assignment_id = :id")
        .expression_attribute_values(":id", s(id))
        .build()
        .map_err(build_err)?;
    let writes = vec![
        TransactWriteItem::builder().update(update).build(),
        TransactWriteItem::builder().delete(release).build(),
    ];
    match transact(table, writes).await? {
        Written::Yes => {
            let mut done = current;
            done.started_at = done.started_at.or(Some(now));
            done.progress = Progress::Completed;
            done.completed_at = Some(now);
            Ok(Step::Made(done))
        }
        // Completed by a concurrent call: report what is there now.
        Written::Refused(_) => Ok(match get(table, org_id, id).await? {
            Some(a) => Step::AlreadyThere(a),
            None => Step::NotFound,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn due_sort_keys_order_by_time() {
        let early = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let late = Utc.with_ymd_and_hms(2026, 10, 2, 3, 4, 5).unwrap();
        assert!(due_sort_key(early, "org_b", "asgn_z") < due_sort_key(late, "org_a", "asgn_a"));
        assert_eq!(
            due_sort_key(early, "org_a", "asgn_a"),
            "2026-01-02T03:04:05Z#org_a#asgn_a"
        );
    }

    #[test]
    fn pointer_keys_ignore_email_case() {
        assert_eq!(
            active_key("o", "f", "Jane@Example.com"),
            active_key("o", "f", "jane@example.com")
        );
    }
}
