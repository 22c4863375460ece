//! The events the code delivers validate against openapi.yaml's `webhooks:` section: every event
//! type is caused through the real paths (requests, the sweeper, a test event), relayed from the
//! table's stream, delivered by the webhook worker to a real receiver, and each delivery (body and
//! signature headers) is checked by inflow_dev.validate_events against the document.

use std::{io::Write, process::Command, time::Duration};

use inflow::sweeper::{self, Sweeper};
use inflow_tests::{
    admin_flow, assign, call, consume, endpoints, endpoints::*, on_assignment, receiver::Receiver,
    Env,
};
use serde_json::{json, Value};

#[tokio::test]
async fn every_event_the_code_delivers_validates_against_the_openapi_document() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    let made = env
        .send(
            CREATE_WEBHOOK_ENDPOINT,
            endpoints("POST", &t, None, "").json(&json!({ "url": receiver.url })),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.raw);
    let ok = |res: inflow_tests::Answer| {
        assert!((200..300).contains(&res.status), "{}", res.raw);
        res.body
    };

    // flow.assigned, flow.started, flow.completed; then one left to go overdue.
    let a = ok(env
        .send(
            ASSIGN_FLOW,
            assign(&t, &json!({"flowId": t.flow.id, "userEmail": t.user.email})),
        )
        .await);
    let id = a["assignmentId"].as_str().unwrap();
    ok(env
        .send(START_ASSIGNMENT, on_assignment("POST", "/start", &t, id))
        .await);
    ok(env
        .send(
            COMPLETE_ASSIGNMENT,
            on_assignment("POST", "/complete", &t, id),
        )
        .await);
    env.user(&t, "late@example.com").create().await;
    let due = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    ok(env
        .send(
            ASSIGN_FLOW,
            assign(
                &t,
                &json!({"flowId": t.flow.id, "userEmail": "late@example.com", "dueDate": due}),
            ),
        )
        .await);

    // invitation.created (both APIs), .accepted, .canceled, and one left to expire.
    let create = |body: Value| {
        call("POST", "/admin/v1/flows:createJoinOrganization")
            .bearer(&t.admin_key)
            .json(&body)
    };
    ok(env
        .send(
            CREATE_INVITATION,
            inflow_tests::invitations("POST", &t, "")
                .json(&json!({"email": "invited@example.com"})),
        )
        .await);
    let accepted = ok(env
        .send(
            CREATE_JOIN_ORGANIZATION_FLOW,
            create(json!({"email": "a@example.com"})),
        )
        .await);
    let secret = accepted["secret"].as_str().unwrap();
    ok(env
        .send(CONSUME_FLOW, consume(&t, &format!("{secret}:consume")))
        .await);
    let canceled = ok(env
        .send(
            CREATE_JOIN_ORGANIZATION_FLOW,
            create(json!({"email": "c@example.com"})),
        )
        .await);
    let path = format!("{}:cancel", canceled["id"].as_str().unwrap());
    ok(env.send(CANCEL_FLOW, admin_flow("POST", &t, &path)).await);
    ok(env
        .send(
            CREATE_SIGNUP_FLOW,
            call("POST", "/admin/v1/flows:createSignup")
                .bearer(&t.admin_key)
                .json(&json!({"email": "e@example.com", "ttl": "1s"})),
        )
        .await);

    // webhook.test.
    let endpoint = made.body["id"].as_str().unwrap();
    ok(env
        .send(
            TEST_WEBHOOK_ENDPOINT,
            endpoints("POST", &t, Some(endpoint), "/test"),
        )
        .await);

    // flow.overdue and invitation.expired, from the sweeper once their times passed.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let swept = sweeper::handle(
        &Sweeper {
            app: env.app.clone(),
        },
        json!({}),
    )
    .await
    .expect("a sweep");
    assert_eq!(
        (swept.overdue.done, swept.expired.done),
        (1, 1),
        "{swept:?}"
    );

    env.pump_webhooks(
        &env.webhook_worker(&[0], false).await,
        Duration::from_millis(1500),
    )
    .await;
    let deliveries = receiver.received();
    let mut lines = String::new();
    for d in &deliveries {
        lines.push_str(&json!({"headers": d.headers, "body": d.body}).to_string());
        lines.push('\n');
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut child = Command::new(format!("{root}/.venv/bin/python"))
        .args(["-m", "inflow_dev.validate_events", "--all"])
        .current_dir(root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the project's venv (scripts/tools.sh) runs inflow_dev.validate_events");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    // Every kind, each at least once: 2 flow.assigned, 4 invitation.created, 13 in all.
    assert_eq!(deliveries.len(), 13, "{report}");
}
