//! Many tenants, one stack: one organization's bulk work (an import's emails and events) travels
//! in a lane and group of its own on the shared queues, so it holds up neither another
//! organization's single invitation nor its own (SQS fair queues, which the emulator honours).

use inflow::jobs::{EmailJob, Lane};
use inflow_tests::{call, endpoints::*, invitations, Env, Tenant};
use serde_json::json;

fn address_list(n: usize) -> String {
    let tag = inflow::ids::random(6).to_lowercase();
    (0..n)
        .map(|i| format!("bulk-{tag}-{i}@example.com"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn import(env: &Env, t: &Tenant, n: usize) {
    let res = env
        .send(
            IMPORT_INVITATIONS,
            invitations("POST", t, "/import").json(&json!({"list": address_list(n)})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", &res.raw[..res.raw.len().min(300)]);
    assert_eq!(res.body["invitations"].as_array().unwrap().len(), n);
}

async fn invite_one(env: &Env, t: &Tenant, email: &str) {
    let res = env
        .send(
            CREATE_INVITATION,
            invitations("POST", t, "").json(&json!({"email": email})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.raw);
}

/// One receive of up to ten messages: the bodies and their groups.
async fn receive(env: &Env, url: &str) -> Vec<(String, Option<String>)> {
    let out = env
        .sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await
        .expect("receive");
    out.messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let group = m
                .message_attributes
                .as_ref()
                .and_then(|a| a.get(inflow::queue::GROUP_ATTRIBUTE))
                .and_then(|a| a.string_value.clone());
            (m.body.unwrap_or_default(), group)
        })
        .collect()
}

#[tokio::test]
async fn a_single_invitation_s_email_is_received_before_another_tenant_s_import_backlog() {
    let env = Env::new().await;
    let (a, b) = (env.tenant().await, env.tenant().await);
    import(&env, &a, 300).await;
    invite_one(&env, &b, "single-b@example.com").await;
    invite_one(&env, &a, "single-a@example.com").await;
    env.relay_stream().await;

    let first: Vec<(EmailJob, Option<String>)> = receive(&env, &env.queues.email_url)
        .await
        .into_iter()
        .map(|(body, group)| (serde_json::from_str(&body).expect("an email job"), group))
        .collect();
    assert_eq!(first.len(), 10);
    let single = |org: &str| {
        first
            .iter()
            .find(|(job, _)| job.org_id == org && job.lane == Lane::Interactive)
    };
    let (b_job, b_group) = single(&b.org_id).expect("B's email among the first ten of 302");
    assert_eq!(b_group.as_deref(), Some(b.org_id.as_str()));
    assert_eq!(b_job.group(), b.org_id);
    let (_, a_group) = single(&a.org_id).expect("A's own single email too");
    assert_eq!(a_group.as_deref(), Some(a.org_id.as_str()));
    let bulk: Vec<_> = first
        .iter()
        .filter(|(job, _)| job.lane == Lane::Bulk)
        .collect();
    assert_eq!(bulk.len(), 8);
    for (job, group) in bulk {
        assert_eq!(job.org_id, a.org_id);
        assert_eq!(group.as_deref(), Some(Lane::Bulk.group(&a.org_id).as_str()));
    }
}

#[tokio::test]
async fn an_import_s_events_travel_in_its_bulk_group_and_a_single_event_in_its_own() {
    let env = Env::new().await;
    let (a, b) = (env.tenant().await, env.tenant().await);
    import(&env, &a, 60).await;
    let c = call("POST", "/admin/v1/flows:createJoinOrganization")
        .bearer(&b.admin_key)
        .json(&json!({"email": "single-b@example.com"}));
    assert_eq!(env.send(CREATE_JOIN_ORGANIZATION_FLOW, c).await.status, 200);
    env.relay_stream().await;
    let mut groups = Vec::new();
    loop {
        let got = receive(&env, &env.queues.webhook_url).await;
        if got.is_empty() {
            break;
        }
        groups.extend(got.into_iter().map(|(_, group)| group));
    }
    assert!(
        groups.contains(&Some(Lane::Bulk.group(&a.org_id))),
        "{groups:?}"
    );
    assert!(groups.contains(&Some(b.org_id.clone())), "{groups:?}");
    assert!(
        groups.iter().all(Option::is_some),
        "every message has its group"
    );
}

#[tokio::test]
async fn a_spent_daily_email_budget_is_a_clear_429_and_holds_no_other_tenant() {
    use inflow_tests::Answer;
    let env = Env::new().await;
    let (a, b) = (env.tenant().await, env.tenant().await);
    let mut app = env.app.clone();
    app.config.email_budgets = inflow::config::EmailBudgets {
        standard: Some(5),
        enterprise: Some(1000),
    };
    let send = |f: inflow_tests::Function, c: inflow_tests::Call| {
        let app = app.clone();
        async move { Answer::from(f.call(&app, c.request()).await) }
    };
    let import = |t: &Tenant, n: usize| {
        invitations("POST", t, "/import").json(&json!({"list": address_list(n)}))
    };
    let one = |t: &Tenant, email: &str| invitations("POST", t, "").json(&json!({"email": email}));

    assert_eq!(send(IMPORT_INVITATIONS, import(&a, 4)).await.status, 200);
    assert_eq!(
        send(CREATE_INVITATION, one(&a, "fifth@example.com"))
            .await
            .status,
        201
    );
    let before = env.items().await.len();
    let _ = env.email_jobs().await;

    let refused = send(CREATE_INVITATION, one(&a, "sixth@example.com")).await;
    assert_eq!(refused.status, 429, "{}", refused.raw);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("daily budget of 5 invitation emails"),
        "{}",
        refused.raw
    );
    assert_eq!(refused.body["errors"], json!({}), "Flowdock's shape");
    let retry_after = refused.body["retry_after"].as_u64().unwrap();
    assert!((1..=86_400).contains(&retry_after));
    assert_eq!(
        refused.header("retry-after"),
        Some(retry_after.to_string().as_str())
    );
    // A resend is an email too; an import asks for all of its emails at once.
    assert_eq!(
        send(CREATE_INVITATION, one(&a, "fifth@example.com"))
            .await
            .status,
        429
    );
    assert_eq!(send(IMPORT_INVITATIONS, import(&a, 2)).await.status, 429);
    let flows = call("POST", "/admin/v1/flows:createJoinOrganization")
        .bearer(&a.admin_key)
        .json(&json!({"email": "seventh@example.com"}));
    let refused = send(CREATE_JOIN_ORGANIZATION_FLOW, flows).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (429, Some("RESOURCE_EXHAUSTED")),
        "{}",
        refused.raw
    );
    assert_eq!(env.items().await.len(), before, "nothing written");
    assert!(env.email_jobs().await.is_empty(), "no email queued");

    // Another organization has its own budget.
    assert_eq!(send(IMPORT_INVITATIONS, import(&b, 5)).await.status, 200);
}
