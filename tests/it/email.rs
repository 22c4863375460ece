//! The email worker against the emulator: SES v2 sends (read back from moto's data endpoint),
//! the flow moving to STARTED, stale jobs, hostile names, redelivery, failures.
//! Tests share one emulator (and its sent mail), so each looks only at its own recipients.

use inflow::{
    aws_lambda_events::event::sqs::SqsEvent,
    email::{self, EmailWorker},
    invitations,
    jobs::EmailJob,
    model::{Invitation, InvitationKind, InvitationState, Organization, Tier},
};
use inflow_tests::{
    admin_flow, call, consume, endpoints::*, invitations as invitations_path, Env, Tenant,
};
use serde_json::{json, Value};

async fn worker_from(env: &Env, sender: &str, verify: bool) -> EmailWorker {
    env.email_worker_from(sender, verify).await
}

async fn worker(env: &Env) -> EmailWorker {
    env.email_worker().await
}

async fn mail_to(recipient: &str) -> Vec<Value> {
    inflow_tests::sent_mail_to(recipient).await
}

fn unique_email(tag: &str) -> String {
    format!(
        "{tag}-{}@example.com",
        inflow::ids::random(10).to_lowercase()
    )
}

fn event_of(jobs: &[EmailJob]) -> SqsEvent {
    inflow_tests::email_event(jobs)
}

async fn run(worker: &EmailWorker, jobs: &[EmailJob]) -> usize {
    email::handle(worker, event_of(jobs))
        .await
        .batch_item_failures
        .len()
}

async fn create_join(env: &Env, t: &Tenant, body: Value) -> Value {
    let c = call("POST", "/admin/v1/flows:createJoinOrganization")
        .bearer(&t.admin_key)
        .json(&body);
    let res = env.send(CREATE_JOIN_ORGANIZATION_FLOW, c).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    res.body
}

async fn flow_state(env: &Env, t: &Tenant, id: &str) -> Value {
    let res = env.send(GET_FLOW, admin_flow("GET", t, id)).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    res.body
}

#[tokio::test]
async fn an_invitation_email_carries_the_link_and_starts_the_flow() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let w = worker(&env).await;
    let to = unique_email("joe");
    let flow = create_join(&env, &t, json!({"email": to, "displayName": "Joe Smith"})).await;
    let jobs = env.email_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(env.secret_in(&jobs[0]), flow["secret"].as_str().unwrap());

    assert_eq!(run(&w, &jobs).await, 0);
    let mail = mail_to(&to).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    let m = &mail[0];
    assert_eq!(m["source"], inflow_tests::TEST_SENDER);
    assert_eq!(m["destinations"], json!({"ToAddresses": [to]}));
    assert_eq!(m["subject"], "Acme Inc invited you to join them");
    let body = m["body"].as_str().unwrap();
    let link = format!(
        "https://app.example.com/accept?secret={}",
        flow["secret"].as_str().unwrap()
    );
    assert!(body.contains(&format!("href=\"{link}\"")), "{body}");
    assert!(body.contains("Hi Joe Smith,"), "{body}");

    let got = flow_state(&env, &t, flow["id"].as_str().unwrap()).await;
    assert_eq!(got["state"], "STARTED", "{got}");
    assert!(got["startTime"].is_string(), "{got}");
    // The link works: consuming with its secret accepts the invitation.
    let res = env
        .send(
            CONSUME_FLOW,
            consume(&t, &format!("{}:consume", flow["secret"].as_str().unwrap())),
        )
        .await;
    assert_eq!(
        (res.status, res.body["state"].as_str()),
        (200, Some("COMPLETED")),
        "{}",
        res.raw
    );
}

#[tokio::test]
async fn an_invitations_api_email_names_the_flow_and_the_message() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let w = worker(&env).await;
    let to = unique_email("ann");
    let res = env
        .send(
            CREATE_INVITATION,
            invitations_path("POST", &t, "")
                .json(&json!({"email": to, "message": "Welcome <b>aboard</b>!\nSee you Monday."})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.raw);
    let jobs = env.email_jobs().await;
    assert_eq!(run(&w, &jobs).await, 0);
    let mail = mail_to(&to).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(
        mail[0]["subject"],
        "Acme Inc invited you to Customer Onboarding"
    );
    let body = mail[0]["body"].as_str().unwrap();
    assert!(
        body.contains("Welcome &lt;b&gt;aboard&lt;/b&gt;!<br>\nSee you Monday."),
        "{body}"
    );
    assert!(body.contains(&env.secret_in(&jobs[0])), "{body}");
    // The invitations API still shows it pending; the flows API shows it STARTED.
    let id = res.body["invitation_flow_id"].as_str().unwrap();
    assert_eq!(flow_state(&env, &t, id).await["state"], "STARTED");
    assert_eq!(res.body["state"], "pending");
}

#[tokio::test]
async fn a_resend_or_cancel_before_sending_makes_the_job_stale() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let w = worker(&env).await;
    let to = unique_email("resent");
    let first = env
        .send(
            CREATE_INVITATION,
            invitations_path("POST", &t, "").json(&json!({"email": to})),
        )
        .await;
    let again = env
        .send(
            CREATE_INVITATION,
            invitations_path("POST", &t, "").json(&json!({"email": to})),
        )
        .await;
    assert_eq!((first.status, again.status), (201, 201));
    let jobs = env.email_jobs().await;
    assert_eq!(jobs.len(), 2);
    let (old, new) = (env.secret_in(&jobs[0]), env.secret_in(&jobs[1]));
    assert_ne!(old, new);

    // The first job's link is dead: it sends nothing, and succeeds (no redelivery).
    assert_eq!(run(&w, &jobs[..1]).await, 0);
    assert!(mail_to(&to).await.is_empty());
    let id = first.body["invitation_flow_id"].as_str().unwrap();
    assert_eq!(flow_state(&env, &t, id).await["state"], "START_PENDING");
    // The resend's job sends the live link.
    assert_eq!(run(&w, &jobs[1..]).await, 0);
    let mail = mail_to(&to).await;
    assert_eq!(mail.len(), 1);
    let body = mail[0]["body"].as_str().unwrap();
    assert!(body.contains(&new) && !body.contains(&old));
    assert_eq!(flow_state(&env, &t, id).await["state"], "STARTED");

    // Canceled before its email went out: nothing is sent.
    let to = unique_email("canceled");
    let flow = create_join(&env, &t, json!({"email": to})).await;
    let id = flow["id"].as_str().unwrap();
    let res = env
        .send(CANCEL_FLOW, admin_flow("POST", &t, &format!("{id}:cancel")))
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(run(&w, &env.email_jobs().await).await, 0);
    assert!(mail_to(&to).await.is_empty());
    assert_eq!(flow_state(&env, &t, id).await["state"], "CANCELED");
}

#[tokio::test]
async fn crlf_in_names_and_messages_adds_no_header() {
    let env = Env::new().await;
    let w = worker(&env).await;
    let now = chrono::Utc::now();
    let evil = unique_email("evil");
    // Written straight to the table: the API refuses control characters in names, but the
    // worker must be safe whatever the records hold.
    let org = Organization {
        id: inflow::ids::new(inflow::ids::Kind::Organization),
        slug: format!("crlf-{}", inflow::ids::random(8).to_lowercase()),
        name: format!("Acme\r\nBcc: {evil}\r\nX-Injected: 1"),
        email: None,
        tier: Tier::Standard,
        created_at: now,
        member_count: 0,
        user_token_secret_sealed: String::new(),
        invitation_ttl_secs: None,
        accept_url_template: None,
        updated_at: None,
    };
    inflow::store::orgs::create_org(&env.app.table, &org)
        .await
        .unwrap();
    let to = unique_email("victim");
    let id = inflow::ids::new(inflow::ids::Kind::Invitation);
    let secret = invitations::new_secret(&env.app.hasher, &id);
    let inv = Invitation {
        id: id.clone(),
        org_id: org.id.clone(),
        kind: InvitationKind::JoinOrganization,
        state: InvitationState::StartPending,
        state_reason: None,
        email: to.clone(),
        display_name: Some(format!("Joe\r\nCc: {evil}")),
        role: None,
        user_id: None,
        creator_user_id: None,
        flow_id: None,
        flow_slug: None,
        number: None,
        message: Some(format!("Hi!\r\nBcc: {evil}\r\n\r\n<script>x</script>")),
        create_organization: false,
        secret_hash: secret.hash.clone(),
        ttl_secs: 3600,
        expire_time: now + chrono::Duration::hours(1),
        start_time: None,
        create_time: now,
        update_time: now,
        result_org_id: None,
        made_by: None,
        number_base: None,
    };
    assert!(inflow::store::invitations::insert(
        &env.app.table,
        &inv,
        &inflow::jobs::Outbox::new(vec![]),
        None
    )
    .await
    .unwrap());
    let job = EmailJob {
        invitation_id: id,
        org_id: org.id.clone(),
        secret_sealed: env.app.sealer.seal(&secret.plain),
        request_id: None,
        deferrals: 0,
        lane: Default::default(),
    };

    assert_eq!(run(&w, &[job]).await, 0);
    let mail = mail_to(&to).await;
    assert_eq!(mail.len(), 1);
    let m = &mail[0];
    let subject = m["subject"].as_str().unwrap();
    assert!(
        !subject.contains('\r') && !subject.contains('\n'),
        "{subject:?}"
    );
    assert!(!subject.chars().any(char::is_control), "{subject:?}");
    assert_eq!(
        m["destinations"],
        json!({"ToAddresses": [to]}),
        "exactly the one address"
    );
    assert!(
        mail_to(&evil).await.is_empty(),
        "nothing went to the injected address"
    );
    let body = m["body"].as_str().unwrap();
    assert!(!body.contains("<script>"), "{body}");
}

#[tokio::test]
async fn the_same_message_twice_sends_once_and_never_regresses_the_state() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let w = worker(&env).await;
    let to = unique_email("twice");
    let flow = create_join(&env, &t, json!({"email": to})).await;
    let id = flow["id"].as_str().unwrap();
    let jobs = env.email_jobs().await;
    let event = event_of(&jobs);

    assert!(email::handle(&w, event.clone())
        .await
        .batch_item_failures
        .is_empty());
    let started = flow_state(&env, &t, id).await;
    assert_eq!(started["state"], "STARTED");
    // Delivered again (SQS is at-least-once): it finds the flow STARTED and sends nothing.
    assert!(email::handle(&w, event.clone())
        .await
        .batch_item_failures
        .is_empty());
    assert_eq!(mail_to(&to).await.len(), 1);
    let again = flow_state(&env, &t, id).await;
    assert_eq!(
        (&again["state"], &again["startTime"], &again["updateTime"]),
        (
            &started["state"],
            &started["startTime"],
            &started["updateTime"]
        )
    );

    // And after the invitee accepted, a late copy leaves it COMPLETED.
    let res = env
        .send(
            CONSUME_FLOW,
            consume(&t, &format!("{}:consume", flow["secret"].as_str().unwrap())),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert!(email::handle(&w, event)
        .await
        .batch_item_failures
        .is_empty());
    assert_eq!(flow_state(&env, &t, id).await["state"], "COMPLETED");
    assert_eq!(mail_to(&to).await.len(), 1);
}

/// Messages waiting out a delay on `queue`, per SQS's own count.
async fn delayed_on(env: &Env, queue: &str) -> String {
    let attrs = env
        .sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .expect("queue attributes");
    attrs
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        })
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_throttled_email_waits_on_its_queue_and_goes_out_later() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let w = worker(&env).await;
    let to = unique_email("throttled");
    let flow = create_join(&env, &t, json!({"email": to})).await;
    let jobs = env.email_jobs().await;
    // SES says "not now" to every attempt the SDK makes (three).
    inflow_tests::inject_fault(json!({
        "match": {"path": "/v2/email/outbound-emails", "body_contains": to},
        "status": 429, "error": "TooManyRequestsException", "times": 3,
    }))
    .await;

    assert_eq!(run(&w, &jobs).await, 0, "a throttle is no failure");
    assert!(mail_to(&to).await.is_empty());
    let id = flow["id"].as_str().unwrap();
    assert_eq!(flow_state(&env, &t, id).await["state"], "START_PENDING");
    assert_eq!(
        delayed_on(&env, &env.queues.email_url).await,
        "1",
        "the job waits, delayed"
    );

    // Its time come, SES takes it.
    let again = EmailJob {
        deferrals: 1,
        ..jobs[0].clone()
    };
    assert_eq!(run(&w, &[again]).await, 0);
    assert_eq!(mail_to(&to).await.len(), 1);
    assert_eq!(flow_state(&env, &t, id).await["state"], "STARTED");
}

#[tokio::test]
async fn an_email_throttled_too_often_fails_like_any_error() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let w = worker(&env).await;
    let to = unique_email("starved");
    create_join(&env, &t, json!({"email": to})).await;
    let jobs = env.email_jobs().await;
    inflow_tests::inject_fault(json!({
        "match": {"path": "/v2/email/outbound-emails", "body_contains": to},
        "status": 429, "error": "TooManyRequestsException", "times": 3,
    }))
    .await;
    let last = EmailJob {
        deferrals: email::MAX_DEFERRALS,
        ..jobs[0].clone()
    };
    assert_eq!(
        run(&w, &[last]).await,
        1,
        "reported for redelivery, then the DLQ"
    );
    assert_eq!(delayed_on(&env, &env.queues.email_url).await, "0");
    assert!(mail_to(&to).await.is_empty());
}

#[tokio::test]
async fn failures_are_reported_per_message_for_redelivery() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let to = unique_email("refused");
    let flow = create_join(&env, &t, json!({"email": to})).await;
    let jobs = env.email_jobs().await;
    // A sender that is no SES identity: SES refuses the mail.
    let unverified = format!(
        "noreply@unverified-{}.example.com",
        inflow::ids::random(8).to_lowercase()
    );
    let w = worker_from(&env, &unverified, false).await;
    let mut event = event_of(&jobs);
    let mut garbage = event.records[0].clone();
    garbage.message_id = Some("garbage".into());
    garbage.body = Some("{not json".into());
    event.records.push(garbage);
    let failed: Vec<String> = email::handle(&w, event)
        .await
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed.contains(&"garbage".to_owned()));
    assert!(mail_to(&to).await.is_empty());
    assert_eq!(
        flow_state(&env, &t, flow["id"].as_str().unwrap()).await["state"],
        "START_PENDING"
    );
    // Redelivered once SES takes it: sent, and STARTED.
    let w = worker(&env).await;
    assert_eq!(run(&w, &jobs).await, 0);
    assert_eq!(mail_to(&to).await.len(), 1);
    assert_eq!(
        flow_state(&env, &t, flow["id"].as_str().unwrap()).await["state"],
        "STARTED"
    );
}

#[tokio::test]
async fn the_email_worker_sample_runs() {
    let env = Env::new().await;
    let t = env.tenant_with(Tier::Standard).await;
    let w = worker(&env).await;
    let to = unique_email("sample");
    let res = env
        .send(
            CREATE_INVITATION,
            invitations_path("POST", &t, "").json(&json!({"email": to})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.raw);
    let secret = env.secret_in(&env.email_jobs().await[0]);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/email-worker.json");
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("sealed_secret_placeholder", &env.app.sealer.seal(&secret))
        .replace(
            "inv_placeholder",
            res.body["invitation_flow_id"].as_str().unwrap(),
        )
        .replace("org_placeholder", &t.org_id);
    let event: SqsEvent = serde_json::from_str(&text).expect("an SQS event");
    assert!(email::handle(&w, event)
        .await
        .batch_item_failures
        .is_empty());
    assert_eq!(mail_to(&to).await.len(), 1);
}
