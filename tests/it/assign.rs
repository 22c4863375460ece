//! `POST /v1/flows/assign`, exactly as seed 000 shows it.

use inflow_tests::{assign, assign_body, call, endpoints::*, on_assignment, Env};
use serde_json::{json, Value};

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn assigns_with_the_seeds_success_body() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let body = json!({
        "flowId": t.flow.id, "userEmail": "employee@company.com",
        "dueDate": "2030-11-25T23:59:59Z", "priority": "high",
        "notes": "Please complete this onboarding flow before the team meeting"
    });
    env.user(&t, "employee@company.com").create().await;
    let res = env
        .send(
            ASSIGN_FLOW,
            assign(&t, &body).header("x-request-id", "req_unique_id"),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(
        keys(&res.body),
        ["assignmentId", "details", "message", "success"]
    );
    assert_eq!(res.body["success"], json!(true));
    assert_eq!(res.body["message"], "Flow assigned successfully");
    assert!(res.body["assignmentId"]
        .as_str()
        .unwrap()
        .starts_with("asgn_"));
    let d = &res.body["details"];
    assert_eq!(
        keys(d),
        [
            "assignedAt",
            "assigneeEmail",
            "estimatedDuration",
            "flowName",
            "moduleCount"
        ]
    );
    assert_eq!(d["assigneeEmail"], "employee@company.com");
    assert_eq!(d["flowName"], "Customer Onboarding");
    assert_eq!(d["moduleCount"], json!(5));
    assert_eq!(d["estimatedDuration"], "2 hours");
    let assigned_at = d["assignedAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(assigned_at).is_ok() && assigned_at.ends_with('Z'),
        "{assigned_at}"
    );
    assert_eq!(res.header("x-request-id"), Some("req_unique_id"));
    assert_eq!(
        res.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(res.header("x-ratelimit-limit"), Some("100"));
    assert_eq!(res.header("x-ratelimit-remaining"), Some("99"));
    assert!(res.header("x-ratelimit-reset").is_some());
}

#[tokio::test]
async fn queues_a_flow_assigned_job_carrying_the_request_id() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let res = env
        .send(
            ASSIGN_FLOW,
            assign(&t, &assign_body(&t)).header("x-request-id", "trace-42"),
        )
        .await;
    assert_eq!(res.status, 200);
    let jobs = env.webhook_jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0];
    assert_eq!(job.kind, "flow.assigned");
    assert!(job.id.starts_with("evt_"));
    assert_eq!(job.organization_id, t.org_id);
    assert_eq!(job.request_id.as_deref(), Some("trace-42"));
    assert_eq!(job.data["assignmentId"], res.body["assignmentId"]);
    assert_eq!(job.data["userEmail"], "jane@example.com");
    assert_eq!(
        job.data["priority"], "medium",
        "priority defaults to medium"
    );
}

#[tokio::test]
async fn generates_a_request_id_when_absent() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let res = env.send(ASSIGN_FLOW, assign(&t, &assign_body(&t))).await;
    let id = res.header("x-request-id").expect("a request id");
    assert!(id.starts_with("req_"), "{id}");
    let other = env.send(ASSIGN_FLOW, assign(&t, &assign_body(&t))).await;
    assert_ne!(other.header("x-request-id"), Some(id));
}

#[tokio::test]
async fn unauthorized_shapes() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let expected = json!({"error": "unauthorized", "message": "Invalid or missing API key"});
    let body = assign_body(&t);
    let cases = [
        call("POST", "/v1/flows/assign").json(&body),
        call("POST", "/v1/flows/assign")
            .header("authorization", "Bearer")
            .json(&body),
        call("POST", "/v1/flows/assign")
            .header("authorization", &format!("Basic {}", t.admin_key))
            .json(&body),
        call("POST", "/v1/flows/assign")
            .header("authorization", &format!("Token {}", t.admin_key))
            .json(&body),
        call("POST", "/v1/flows/assign")
            .bearer("sk_doesnotexist")
            .json(&body),
        call("POST", "/v1/flows/assign")
            .bearer(&t.user_key)
            .json(&body),
    ];
    for case in cases {
        let res = env.send(ASSIGN_FLOW, case).await;
        assert_eq!((res.status, &res.body), (401, &expected));
        assert!(res.header("x-request-id").is_some());
    }
}

#[tokio::test]
async fn revoked_keys_stop_working_at_once() {
    let env = Env::new().await;
    let t = env.tenant().await;
    assert_eq!(
        env.send(ASSIGN_FLOW, assign(&t, &assign_body(&t)))
            .await
            .status,
        200
    );
    inflow::operator::revoke_key(&env.app, &t.org_id, &t.admin_key_id, chrono::Utc::now())
        .await
        .unwrap();
    let res = env.send(ASSIGN_FLOW, assign(&t, &assign_body(&t))).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.body["error"], "unauthorized");
}

#[tokio::test]
async fn not_found_shapes() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let res = env
        .send(
            ASSIGN_FLOW,
            assign(
                &t,
                &json!({"flowId": "flow_123abc", "userEmail": "jane@example.com"}),
            ),
        )
        .await;
    assert_eq!(
        (res.status, res.body),
        (
            404,
            json!({"error": "not_found", "message": "Flow with ID 'flow_123abc' does not exist"})
        )
    );
    let res = env
        .send(
            ASSIGN_FLOW,
            assign(
                &t,
                &json!({"flowId": "not-even-an-id", "userEmail": "jane@example.com"}),
            ),
        )
        .await;
    assert_eq!(res.status, 404);
    let res = env
        .send(
            ASSIGN_FLOW,
            assign(
                &t,
                &json!({"flowId": t.flow.id, "userEmail": "employee@company.com"}),
            ),
        )
        .await;
    assert_eq!(
        (res.status, res.body),
        (
            404,
            json!({"error": "not_found", "message": "User with email 'employee@company.com' does not exist in your organization"})
        )
    );
    assert!(env.webhook_jobs().await.is_empty());
}

#[tokio::test]
async fn user_emails_match_case_insensitively() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let res = env
        .send(
            ASSIGN_FLOW,
            assign(
                &t,
                &json!({"flowId": t.flow.id, "userEmail": "Jane@Example.COM"}),
            ),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
}

#[tokio::test]
async fn content_type_must_be_json() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let text = assign_body(&t).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut c = call("POST", "/v1/flows/assign")
            .bearer(&t.admin_key)
            .raw(text.as_bytes());
        if let Some(ct) = content_type {
            c = c.header("content-type", ct);
        }
        let res = env.send(ASSIGN_FLOW, c).await;
        assert_eq!(res.status, 415, "{content_type:?}");
        assert_eq!(res.body["error"], "unsupported_media_type");
    }
    let ok = call("POST", "/v1/flows/assign")
        .bearer(&t.admin_key)
        .header("content-type", "application/json; charset=utf-8")
        .raw(text.as_bytes());
    assert_eq!(env.send(ASSIGN_FLOW, ok).await.status, 200);
}

#[tokio::test]
async fn invalid_input_names_the_field() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let f = &t.flow.id;
    let cases = [
        (json!({"userEmail": "jane@example.com"}), "flowId"),
        (json!({"flowId": f}), "userEmail"),
        (
            json!({"flowId": f, "userEmail": "not-an-email"}),
            "userEmail",
        ),
        (
            json!({"flowId": f, "userEmail": "jane@example.com", "dueDate": "next tuesday"}),
            "dueDate",
        ),
        (
            json!({"flowId": f, "userEmail": "jane@example.com", "dueDate": "2001-01-01T00:00:00Z"}),
            "dueDate",
        ),
        (
            json!({"flowId": f, "userEmail": "jane@example.com", "priority": "urgent"}),
            "priority",
        ),
        (
            json!({"flowId": f, "userEmail": "jane@example.com", "notes": "x".repeat(2001)}),
            "notes",
        ),
        (
            json!({"flowId": f, "userEmail": "jane@example.com", "priority": 3}),
            "priority",
        ),
    ];
    let before = env.items().await.len();
    for (body, field) in cases {
        let res = env.send(ASSIGN_FLOW, assign(&t, &body)).await;
        assert_eq!(res.status, 400, "{body}: {}", res.raw);
        assert_eq!(res.body["error"], "invalid_request");
        assert_eq!(res.body["field"], field);
        assert!(
            res.body["message"].as_str().unwrap().contains(field),
            "{}",
            res.raw
        );
    }
    assert_eq!(env.items().await.len(), before, "bad input changes nothing");
    assert!(env.webhook_jobs().await.is_empty());
}

#[tokio::test]
async fn reassigning_an_unfinished_flow_updates_the_same_assignment() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let first = env.send(ASSIGN_FLOW, assign(&t, &assign_body(&t))).await;
    let id = first.body["assignmentId"].as_str().unwrap().to_owned();
    let body = json!({"flowId": t.flow.id, "userEmail": "JANE@example.com", "priority": "low", "dueDate": "2030-01-01T00:00:00Z", "notes": "again"});
    let second = env.send(ASSIGN_FLOW, assign(&t, &body)).await;
    assert_eq!(second.body["assignmentId"].as_str(), Some(id.as_str()));
    let got = env
        .send(GET_ASSIGNMENT, on_assignment("GET", "", &t, &id))
        .await;
    assert_eq!(got.body["priority"], "low");
    assert_eq!(got.body["notes"], "again");
    assert_eq!(got.body["dueDate"], "2030-01-01T00:00:00Z");

    // Started still counts as unfinished.
    assert_eq!(
        env.send(START_ASSIGNMENT, on_assignment("POST", "/start", &t, &id))
            .await
            .status,
        200
    );
    let third = env.send(ASSIGN_FLOW, assign(&t, &assign_body(&t))).await;
    assert_eq!(third.body["assignmentId"].as_str(), Some(id.as_str()));
    let got = env
        .send(GET_ASSIGNMENT, on_assignment("GET", "", &t, &id))
        .await;
    assert_eq!(got.body["status"], "started", "re-assigning keeps progress");
    assert_eq!(got.body["dueDate"], Value::Null);

    // After completion, assigning again is recurring training: a new assignment.
    assert_eq!(
        env.send(
            COMPLETE_ASSIGNMENT,
            on_assignment("POST", "/complete", &t, &id)
        )
        .await
        .status,
        200
    );
    let fourth = env.send(ASSIGN_FLOW, assign(&t, &assign_body(&t))).await;
    assert_eq!(fourth.status, 200);
    assert_ne!(fourth.body["assignmentId"].as_str(), Some(id.as_str()));
}

#[tokio::test]
async fn concurrent_assigns_of_one_flow_make_one_assignment() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let calls = (0..10).map(|_| env.send(ASSIGN_FLOW, assign(&t, &assign_body(&t))));
    let answers = futures::future::join_all(calls).await;
    let mut ids: Vec<_> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, 200, "{}", a.raw);
            a.body["assignmentId"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
}
