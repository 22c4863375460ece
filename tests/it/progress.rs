//! Assignment progress, its events, and tenant isolation.

use inflow_tests::{assign, assign_body, call, endpoints::*, on_assignment, Env, Tenant};
use serde_json::{json, Value};

async fn assigned(env: &Env, t: &Tenant, body: &Value) -> String {
    let res = env.send(ASSIGN_FLOW, assign(t, body)).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    res.body["assignmentId"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn assigned_then_started_then_completed_each_with_its_event() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let id = assigned(
        &env,
        &t,
        &json!({"flowId": t.flow.id, "userEmail": t.user.email, "dueDate": "2030-05-01T12:00:00Z"}),
    )
    .await;
    let got = env
        .send(GET_ASSIGNMENT, on_assignment("GET", "", &t, &id))
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["status"], "assigned");
    assert_eq!(got.body["overdue"], false);
    assert_eq!(got.body["startedAt"], Value::Null);
    assert_eq!(got.body["details"]["flowName"], "Customer Onboarding");

    let started = env
        .send(START_ASSIGNMENT, on_assignment("POST", "/start", &t, &id))
        .await;
    assert_eq!(
        (started.status, &started.body["status"]),
        (200, &json!("started"))
    );
    assert!(started.body["startedAt"].is_string());
    let completed = env
        .send(
            COMPLETE_ASSIGNMENT,
            on_assignment("POST", "/complete", &t, &id),
        )
        .await;
    assert_eq!(
        (completed.status, &completed.body["status"]),
        (200, &json!("completed"))
    );
    assert!(completed.body["completedAt"].is_string());

    let kinds: Vec<String> = env
        .webhook_jobs()
        .await
        .into_iter()
        .map(|e| e.kind.to_string())
        .collect();
    assert_eq!(kinds, ["flow.assigned", "flow.started", "flow.completed"]);
}

#[tokio::test]
async fn repeating_a_step_changes_nothing_and_writes_no_second_event() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let id = assigned(&env, &t, &assign_body(&t)).await;
    let a = env
        .send(START_ASSIGNMENT, on_assignment("POST", "/start", &t, &id))
        .await;
    let b = env
        .send(START_ASSIGNMENT, on_assignment("POST", "/start", &t, &id))
        .await;
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(a.body["startedAt"], b.body["startedAt"]);
    let jobs = env.webhook_jobs().await;
    let started: Vec<_> = jobs.iter().filter(|e| e.kind == "flow.started").collect();
    assert_eq!(
        started.len(),
        1,
        "the event was written with the step, once"
    );

    env.send(
        COMPLETE_ASSIGNMENT,
        on_assignment("POST", "/complete", &t, &id),
    )
    .await;
    let again = env
        .send(START_ASSIGNMENT, on_assignment("POST", "/start", &t, &id))
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["error"], "conflict");
}

#[tokio::test]
async fn completing_straight_from_assigned_is_allowed() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let id = assigned(&env, &t, &assign_body(&t)).await;
    let done = env
        .send(
            COMPLETE_ASSIGNMENT,
            on_assignment("POST", "/complete", &t, &id),
        )
        .await;
    assert_eq!(done.status, 200);
    assert!(done.body["startedAt"].is_string());
}

#[tokio::test]
async fn another_organizations_key_gets_404_for_everything() {
    let env = Env::new().await;
    let owner = env.tenant().await;
    let stranger = env.tenant().await;
    let id = assigned(&env, &owner, &assign_body(&owner)).await;
    for (function, suffix, method) in [
        (GET_ASSIGNMENT, "", "GET"),
        (START_ASSIGNMENT, "/start", "POST"),
        (COMPLETE_ASSIGNMENT, "/complete", "POST"),
    ] {
        let res = env
            .send(function, on_assignment(method, suffix, &stranger, &id))
            .await;
        assert_eq!(res.status, 404, "{function:?}");
        assert_eq!(
            res.body,
            json!({"error": "not_found", "message": format!("Assignment with ID '{id}' does not exist")})
        );
    }
    // The owner's flow does not exist for the stranger either.
    let res = env
        .send(
            ASSIGN_FLOW,
            assign(
                &stranger,
                &json!({"flowId": owner.flow.id, "userEmail": "jane@example.com"}),
            ),
        )
        .await;
    assert_eq!(res.status, 404);
    assert_eq!(
        res.body["message"],
        format!("Flow with ID '{}' does not exist", owner.flow.id)
    );
    let got = env
        .send(GET_ASSIGNMENT, on_assignment("GET", "", &owner, &id))
        .await;
    assert_eq!(
        got.body["status"], "assigned",
        "nothing the stranger did changed it"
    );
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let env = Env::new().await;
    let t = env.tenant().await;
    for id in ["asgn_nope", "nope", "asgn_../../x", "flow_abc"] {
        let res = env
            .send(GET_ASSIGNMENT, on_assignment("GET", "", &t, id))
            .await;
        assert_eq!(res.status, 404, "{id}");
    }
    let res = env
        .send(
            GET_ASSIGNMENT,
            call("GET", "/v1/assignments/").bearer(&t.admin_key),
        )
        .await;
    assert_eq!(res.status, 404);
}
