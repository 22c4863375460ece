//! The sweeper against the emulator: `flow.overdue` exactly once per missed deadline, never for
//! a completed assignment, and invitation flows expired in storage with one `invitation.expired`.

use aws_sdk_dynamodb::types::AttributeValue;
use inflow::{
    jobs::Event,
    model::InvitationState,
    sweeper::{self, Summary, Sweeper},
};
use inflow_tests::{admin_flow, assign, call, endpoints::*, on_assignment, Env, Tenant};
use serde_json::{json, Value};

fn sweeper_of(env: &Env) -> Sweeper {
    Sweeper {
        app: env.app.clone(),
    }
}

async fn sweep(s: &Sweeper) -> Summary {
    sweeper::handle(
        s,
        json!({"detail-type": "Scheduled Event", "source": "aws.events"}),
    )
    .await
    .expect("a sweep with no failures")
}

/// Assigns the tenant's flow to its user, due in `secs` seconds; the assignment id.
async fn assign_due_in(env: &Env, t: &Tenant, secs: i64) -> String {
    let due = chrono::Utc::now() + chrono::Duration::seconds(secs);
    let body = json!({"flowId": t.flow.id, "userEmail": t.user.email, "dueDate": due.to_rfc3339()});
    let res = env.send(ASSIGN_FLOW, assign(t, &body)).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    res.body["assignmentId"].as_str().unwrap().to_owned()
}

/// Sleeps until the due second is over (the index has second precision).
async fn wait_past(secs: f64) {
    tokio::time::sleep(std::time::Duration::from_secs_f64(secs)).await;
}

fn of_type<'a>(events: &'a [Event], kind: &str, field: &str, id: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.kind == kind && e.data[field] == id)
        .collect()
}

#[tokio::test]
async fn an_overdue_assignment_gets_exactly_one_flow_overdue() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let s = sweeper_of(&env);
    let id = assign_due_in(&env, &t, 2).await;
    let _ = env.webhook_jobs().await;
    assert_eq!(sweep(&s).await.overdue.found, 0, "not due yet");

    wait_past(3.2).await;
    let first = sweep(&s).await;
    assert_eq!(
        (
            first.overdue.found,
            first.overdue.done,
            first.overdue.failed
        ),
        (1, 1, 0),
        "{first:?}"
    );
    for _ in 0..3 {
        assert_eq!(
            sweep(&s).await.overdue.found,
            0,
            "handled items leave the index"
        );
    }
    // Overlapping runs (a schedule that fires twice) find nothing more either.
    let (a, b) = tokio::join!(sweep(&s), sweep(&s));
    assert_eq!(a.overdue.done + b.overdue.done, 0);
    let events = env.webhook_jobs().await;
    let overdue = of_type(&events, "flow.overdue", "assignmentId", &id);
    assert_eq!(overdue.len(), 1, "{events:?}");
    assert_eq!(overdue[0].organization_id, t.org_id);
    assert_eq!(
        overdue[0].request_id.as_deref(),
        Some(first.run_id.as_str())
    );
    assert!(overdue[0].data["overdueAt"].is_string());

    let got = env
        .send(GET_ASSIGNMENT, on_assignment("GET", "", &t, &id))
        .await;
    assert_eq!(
        (got.body["status"].as_str(), got.body["overdue"].as_bool()),
        (Some("overdue"), Some(true)),
        "{}",
        got.raw
    );

    // A crash between publishing and marking leaves the item in the index: the next run
    // publishes again, under the same event id, so the webhook worker delivers it once.
    let key = std::collections::HashMap::from([
        (
            "PK".to_owned(),
            AttributeValue::S(format!("ORG#{}", t.org_id)),
        ),
        ("SK".to_owned(), AttributeValue::S(format!("ASGN#{id}"))),
    ]);
    let item = env
        .app
        .table
        .client()
        .get_item()
        .table_name(&env.app.config.table_name)
        .set_key(Some(key.clone()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(!item.contains_key("GSI1PK") && item.contains_key("overdue_at"));
    let due = item["due_date"].as_s().unwrap().clone();
    let due = chrono::DateTime::parse_from_rfc3339(&due)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let sk = format!("{}#{}#{id}", due.format("%Y-%m-%dT%H:%M:%SZ"), t.org_id);
    env.app
        .table
        .client()
        .update_item()
        .table_name(&env.app.config.table_name)
        .set_key(Some(key))
        .update_expression("SET GSI1PK = :pk, GSI1SK = :sk REMOVE overdue_at")
        .expression_attribute_values(
            ":pk",
            AttributeValue::S(format!("DUE#{}", inflow::store::shards::of_id(&id))),
        )
        .expression_attribute_values(":sk", AttributeValue::S(sk))
        .send()
        .await
        .unwrap();
    assert_eq!(sweep(&s).await.overdue.done, 1);
    let again = env.webhook_jobs().await;
    let again = of_type(&again, "flow.overdue", "assignmentId", &id);
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].id, overdue[0].id,
        "a repeat carries the same event id"
    );
}

#[tokio::test]
async fn a_completed_assignment_never_gets_flow_overdue() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let s = sweeper_of(&env);
    let id = assign_due_in(&env, &t, 2).await;
    let res = env
        .send(
            COMPLETE_ASSIGNMENT,
            on_assignment("POST", "/complete", &t, &id),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    wait_past(3.2).await;
    for _ in 0..3 {
        let summary = sweep(&s).await;
        assert_eq!(
            (summary.overdue.done, summary.overdue.failed),
            (0, 0),
            "{summary:?}"
        );
    }
    let events = env.webhook_jobs().await;
    assert!(
        of_type(&events, "flow.overdue", "assignmentId", &id).is_empty(),
        "{events:?}"
    );
    let got = env
        .send(GET_ASSIGNMENT, on_assignment("GET", "", &t, &id))
        .await;
    assert_eq!(got.body["status"], "completed");
}

#[tokio::test]
async fn a_new_due_date_before_the_sweep_stands() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let s = sweeper_of(&env);
    let id = assign_due_in(&env, &t, 2).await;
    wait_past(3.2).await;
    // Re-assigned with a later deadline before the sweeper came by: not overdue any more.
    assert_eq!(assign_due_in(&env, &t, 3600).await, id);
    let summary = sweep(&s).await;
    assert_eq!(summary.overdue.done, 0, "{summary:?}");
    assert!(of_type(
        &env.webhook_jobs().await,
        "flow.overdue",
        "assignmentId",
        &id
    )
    .is_empty());
    let got = env
        .send(GET_ASSIGNMENT, on_assignment("GET", "", &t, &id))
        .await;
    assert_eq!(got.body["status"], "assigned", "{}", got.raw);
}

async fn create_join(env: &Env, t: &Tenant, body: Value) -> Value {
    let c = call("POST", "/admin/v1/flows:createJoinOrganization")
        .bearer(&t.admin_key)
        .json(&body);
    let res = env.send(CREATE_JOIN_ORGANIZATION_FLOW, c).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    res.body
}

#[tokio::test]
async fn an_invitation_flow_with_a_one_second_ttl_expires_in_storage() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let s = sweeper_of(&env);
    let flow = create_join(
        &env,
        &t,
        json!({"email": "short-lived@example.com", "ttl": "1s"}),
    )
    .await;
    let id = flow["id"].as_str().unwrap();
    // One consumed before its expiry is left alone.
    let kept = create_join(&env, &t, json!({"email": "quick@example.com", "ttl": "1s"})).await;
    let res = env
        .send(
            inflow_tests::endpoints::CONSUME_FLOW,
            inflow_tests::consume(&t, &format!("{}:consume", kept["secret"].as_str().unwrap())),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    let _ = env.webhook_jobs().await;

    wait_past(2.2).await;
    let summary = sweep(&s).await;
    assert_eq!(
        (
            summary.expired.found,
            summary.expired.done,
            summary.expired.failed
        ),
        (1, 1, 0),
        "{summary:?}"
    );
    assert_eq!(sweep(&s).await.expired.found, 0);

    let stored = inflow::store::invitations::get(&env.app.table, &t.org_id, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.state, stored.state_reason.as_deref()),
        (InvitationState::Expired, Some("EXPIRED"))
    );
    let kept =
        inflow::store::invitations::get(&env.app.table, &t.org_id, kept["id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(kept.state, InvitationState::Completed);
    let events = env.webhook_jobs().await;
    let expired: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == "invitation.expired")
        .collect();
    assert_eq!(expired.len(), 1, "{events:?}");
    assert_eq!(expired[0].data["invitationId"], id);
    let got = env.send(GET_FLOW, admin_flow("GET", &t, id)).await;
    assert_eq!(got.body["state"], "EXPIRED", "{}", got.raw);
}

#[tokio::test]
async fn the_sweeper_sample_runs() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let s = sweeper_of(&env);
    let id = assign_due_in(&env, &t, 1).await;
    wait_past(2.2).await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/sweeper.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(event["detail-type"], "Scheduled Event");
    let summary = sweeper::handle(&s, event).await.expect("a sweep");
    assert_eq!(
        (
            summary.overdue.done,
            summary.overdue.failed,
            summary.expired.failed
        ),
        (1, 0, 0),
        "{summary:?}"
    );
    let out = serde_json::to_value(&summary).unwrap();
    assert!(
        out["runId"].is_string() && out["overdue"]["found"] == 1,
        "{out}"
    );
    assert_eq!(
        of_type(
            &env.webhook_jobs().await,
            "flow.overdue",
            "assignmentId",
            &id
        )
        .len(),
        1
    );
}

#[tokio::test]
async fn an_entry_the_sweeper_cannot_act_on_is_quarantined_and_holds_up_nothing() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let s = sweeper_of(&env);
    let id = assign_due_in(&env, &t, 1).await;
    let shard = inflow::store::shards::of_id(&id);
    // In the assignment's DUE shard, at its head: something that is no assignment, and an
    // assignment whose entry states a deadline long past though its due date is years ahead
    // (as a due date of year +10000 once sorted before every real one).
    let junk = std::collections::HashMap::from([
        ("PK".to_owned(), AttributeValue::S("JUNK".into())),
        ("SK".to_owned(), AttributeValue::S("JUNK".into())),
        (
            "GSI1PK".to_owned(),
            AttributeValue::S(format!("DUE#{shard}")),
        ),
        (
            "GSI1SK".to_owned(),
            AttributeValue::S("2000-01-01T00:00:00Z#org_x#asgn_x".into()),
        ),
    ]);
    env.app
        .table
        .client()
        .put_item()
        .table_name(&env.app.config.table_name)
        .set_item(Some(junk))
        .send()
        .await
        .unwrap();
    let sam = env.user(&t, "sam@example.com").create().await;
    let due = chrono::Utc::now() + chrono::Duration::days(365);
    let body = json!({"flowId": t.flow.id, "userEmail": sam.email, "dueDate": due.to_rfc3339()});
    let res = env.send(ASSIGN_FLOW, assign(&t, &body)).await;
    let far = res.body["assignmentId"].as_str().unwrap().to_owned();
    let far_shard = inflow::store::shards::of_id(&far);
    env.app
        .table
        .client()
        .update_item()
        .table_name(&env.app.config.table_name)
        .key("PK", AttributeValue::S(format!("ORG#{}", t.org_id)))
        .key("SK", AttributeValue::S(format!("ASGN#{far}")))
        .update_expression("SET GSI1PK = :pk, GSI1SK = :sk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("DUE#{far_shard}")))
        .expression_attribute_values(
            ":sk",
            AttributeValue::S(format!("+10000-01-01T00:00:00Z#{}#{far}", t.org_id)),
        )
        .send()
        .await
        .unwrap();
    wait_past(2.2).await;
    let first = sweep(&s).await;
    assert_eq!(
        (first.overdue.done, first.overdue.quarantined),
        (1, 2),
        "{first:?}"
    );
    assert_eq!(
        of_type(
            &env.webhook_jobs().await,
            "flow.overdue",
            "assignmentId",
            &id
        )
        .len(),
        1
    );
    let quarantined: Vec<_> = env
        .items()
        .await
        .into_iter()
        .filter(|i| i.contains_key("quarantined_at"))
        .collect();
    assert_eq!(quarantined.len(), 2);
    assert!(quarantined.iter().all(|i| !i.contains_key("GSI1PK")));
    let again = sweep(&s).await;
    assert_eq!(
        (again.overdue.found, again.overdue.quarantined),
        (0, 0),
        "{again:?}"
    );
}

#[tokio::test]
async fn one_tenant_s_mass_expiry_holds_up_no_other_tenant_s() {
    use inflow::model::{Change, SettingsChange};
    use inflow::store::sweeps::Bounds;
    let env = Env::new().await;
    let (a, b) = (env.tenant().await, env.tenant().await);
    // A lifetime of one second, under the API's floor, set as only the table would take it.
    let short = SettingsChange {
        invitation_ttl_secs: Change::Set(1),
        ..SettingsChange::default()
    };
    inflow::store::orgs::update_settings(&env.app.table, &a.org_id, &short, chrono::Utc::now())
        .await
        .unwrap();
    let list: Vec<String> = (0..300).map(|i| format!("mass-{i}@example.com")).collect();
    let res = env
        .send(
            IMPORT_INVITATIONS,
            inflow_tests::invitations("POST", &a, "/import")
                .json(&json!({"list": list.join("\n")})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", &res.raw[..300.min(res.raw.len())]);
    // B's one invitation expires after all of A's.
    let lone = create_join(&env, &b, json!({"email": "lone@example.com", "ttl": "2s"})).await;
    wait_past(3.2).await;

    let bounds = Bounds {
        per_shard: 10,
        per_org: 3,
        queries: 20,
    };
    let first = sweeper::sweep_within(&env.app, chrono::Utc::now(), bounds).await;
    assert_eq!(first.failed(), 0, "{first:?}");
    let stored =
        inflow::store::invitations::get(&env.app.table, &b.org_id, lone["id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        stored.state,
        InvitationState::Expired,
        "B's expiry in the first run"
    );
    assert!(
        first.expired.done <= 16 * 3 + 1,
        "at most A's share: {first:?}"
    );
    // A's follow, a share a run, each once.
    let mut done = first.expired.done;
    for _ in 0..20 {
        let run = sweeper::sweep_within(&env.app, chrono::Utc::now(), bounds).await;
        done += run.expired.done;
        if run.expired.found == 0 {
            break;
        }
    }
    assert_eq!(done, 301);
    let expired: Vec<Event> = env
        .webhook_jobs()
        .await
        .into_iter()
        .filter(|e| e.kind == "invitation.expired")
        .collect();
    assert_eq!(expired.len(), 301, "one invitation.expired each");
}
