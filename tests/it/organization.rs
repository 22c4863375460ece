//! `GET` / `PATCH /v1/organization`: an organization's own settings with its admin key, and
//! new invitations and emails following them at once.

use inflow::App;
use inflow_tests::{call, endpoints::*, organization, Env, Tenant};
use serde_json::{json, Value};

async fn settings(env: &Env, t: &Tenant) -> Value {
    let res = env.send(GET_ORGANIZATION, organization("GET", t)).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    res.body
}

async fn patch(env: &Env, t: &Tenant, body: Value) -> inflow_tests::Answer {
    env.send(UPDATE_ORGANIZATION, organization("PATCH", t).json(&body))
        .await
}

/// A flows-API invitation of `email`; its body.
async fn invite(env: &Env, t: &Tenant, email: &str) -> Value {
    let c = call("POST", "/admin/v1/flows:createJoinOrganization")
        .bearer(&t.admin_key)
        .json(&json!({ "email": email }));
    let res = env.send(CREATE_JOIN_ORGANIZATION_FLOW, c).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    res.body
}

#[tokio::test]
async fn an_organization_reads_and_changes_its_settings() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let before = settings(&env, &t).await;
    assert_eq!(before["id"], t.org_id.as_str());
    assert_eq!(before["slug"], t.org_slug.as_str());
    assert_eq!(before["name"], "Acme Inc");
    assert_eq!(before["tier"], "standard");
    assert_eq!(
        (&before["acceptUrlTemplate"], &before["invitationTtl"]),
        (&Value::Null, &Value::Null),
        "defaults: {before}"
    );
    assert_eq!(before["updatedAt"], Value::Null);

    let res = patch(
        &env,
        &t,
        json!({"name": "Acme Corp", "acceptUrlTemplate": "https://join.acme.example/i?s={secret}", "invitationTtl": "7200s"}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(res.body["name"], "Acme Corp");
    assert_eq!(
        res.body["acceptUrlTemplate"],
        "https://join.acme.example/i?s={secret}"
    );
    assert_eq!(res.body["invitationTtl"], "7200s");
    assert!(res.body["updatedAt"].is_string());
    assert_eq!(settings(&env, &t).await, res.body);

    // Only what is named changes; null resets to the default.
    let res = patch(&env, &t, json!({"acceptUrlTemplate": null})).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(res.body["acceptUrlTemplate"], Value::Null);
    assert_eq!(
        (
            res.body["name"].as_str(),
            res.body["invitationTtl"].as_str()
        ),
        (Some("Acme Corp"), Some("7200s"))
    );
    // An empty change changes nothing.
    let res = patch(&env, &t, json!({})).await;
    assert_eq!((res.status, &res.body), (200, &settings(&env, &t).await));
}

#[tokio::test]
async fn new_invitations_and_emails_follow_the_settings_at_once() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let worker = env.email_worker().await;
    let res = patch(
        &env,
        &t,
        json!({"acceptUrlTemplate": "https://join.acme.example/i/{secret}", "invitationTtl": "3600s"}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    let to = format!("org-{}@example.com", inflow::ids::random(8).to_lowercase());
    let flow = invite(&env, &t, &to).await;
    assert_eq!(flow["ttl"], "3600s");
    let jobs = env.email_jobs().await;
    let failed = inflow::email::handle(&worker, inflow_tests::email_event(&jobs)).await;
    assert!(failed.batch_item_failures.is_empty());
    let mail = inflow_tests::sent_mail_to(&to).await;
    let link = format!(
        "https://join.acme.example/i/{}",
        flow["secret"].as_str().unwrap()
    );
    assert!(
        mail[0]["body"].as_str().unwrap().contains(&link),
        "{mail:?}"
    );

    // The operator narrows the hosts it allows: the template stays set, but the next email
    // links to the stack's own page.
    let mut narrowed = env.email_worker().await;
    narrowed.app.config.accept_url_hosts.clear();
    let to = format!("org-{}@example.com", inflow::ids::random(8).to_lowercase());
    let flow = invite(&env, &t, &to).await;
    let jobs = env.email_jobs().await;
    inflow::email::handle(&narrowed, inflow_tests::email_event(&jobs)).await;
    let mail = inflow_tests::sent_mail_to(&to).await;
    let body = mail[0]["body"].as_str().unwrap();
    assert!(!body.contains("join.acme.example"), "{body}");
    assert!(
        body.contains(&format!(
            "https://app.example.com/accept?secret={}",
            flow["secret"].as_str().unwrap()
        )),
        "{body}"
    );

    // Reset: the worker's own template (the stack's default) and 30 days again.
    patch(
        &env,
        &t,
        json!({"acceptUrlTemplate": null, "invitationTtl": null}),
    )
    .await;
    let to = format!("org-{}@example.com", inflow::ids::random(8).to_lowercase());
    let flow = invite(&env, &t, &to).await;
    assert_eq!(flow["ttl"], "2592000s");
    let jobs = env.email_jobs().await;
    inflow::email::handle(&worker, inflow_tests::email_event(&jobs)).await;
    let mail = inflow_tests::sent_mail_to(&to).await;
    let link = format!(
        "https://app.example.com/accept?secret={}",
        flow["secret"].as_str().unwrap()
    );
    assert!(
        mail[0]["body"].as_str().unwrap().contains(&link),
        "{mail:?}"
    );
}

#[tokio::test]
async fn bad_settings_are_a_400_naming_the_field_and_change_nothing() {
    let env = Env::new().await;
    let t = env.tenant().await;
    // Deployed mode: no http templates, not even to loopback.
    let mut strict = env.app.clone();
    strict.config.allow_private_targets = false;
    let strict: &App = &strict;
    let before = settings(&env, &t).await;
    for (body, field) in [
        (
            json!({"acceptUrlTemplate": "https://join.acme.example/i"}),
            "acceptUrlTemplate",
        ),
        (
            json!({"acceptUrlTemplate": "http://join.acme.example/{secret}"}),
            "acceptUrlTemplate",
        ),
        (
            json!({"acceptUrlTemplate": "http://127.0.0.1:9000/accept?secret={secret}"}),
            "acceptUrlTemplate",
        ),
        (json!({"acceptUrlTemplate": 42}), "acceptUrlTemplate"),
        (
            json!({"acceptUrlTemplate": "https://phish.example.net/{secret}"}),
            "acceptUrlTemplate",
        ),
        (json!({"invitationTtl": "60s"}), "invitationTtl"),
        (json!({"name": "Acme\u{202E}cnI"}), "name"),
        (json!({"invitationTtl": "86400"}), "invitationTtl"),
        (json!({"invitationTtl": "31536001s"}), "invitationTtl"),
        (json!({"invitationTtl": 86400}), "invitationTtl"),
        (json!({"name": null}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"name": "Acme\r\nBcc: x@y.z"}), "name"),
        (json!([]), "body"),
    ] {
        let req = organization("PATCH", &t).json(&body).request();
        let res = inflow_tests::Answer::from(
            inflow_tests::endpoints::UPDATE_ORGANIZATION
                .call(strict, req)
                .await,
        );
        assert_eq!(res.status, 400, "{body}: {}", res.raw);
        assert_eq!(res.body["error"], "invalid_request", "{body}");
        assert_eq!(res.body["field"], field, "{body}: {}", res.raw);
    }
    let res = env
        .send(
            UPDATE_ORGANIZATION,
            organization("PATCH", &t).raw(b"name=x"),
        )
        .await;
    assert_eq!(res.status, 415, "{}", res.raw);
    let res = env
        .send(
            UPDATE_ORGANIZATION,
            call("PATCH", "/v1/organization").json(&json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (res.status, res.body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(settings(&env, &t).await, before);
    // Local mode (make dev) may point at its own hosted page.
    let res = patch(
        &env,
        &t,
        json!({"acceptUrlTemplate": "http://127.0.0.1:9000/accept?secret={secret}"}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.raw);
}

#[tokio::test]
async fn a_key_changes_only_its_own_organization() {
    let env = Env::new().await;
    let a = env.tenant().await;
    let b = env.tenant().await;
    let res = patch(&env, &a, json!({"name": "Only A"})).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(settings(&env, &b).await["name"], "Acme Inc");
    assert_eq!(settings(&env, &a).await["id"], a.org_id.as_str());
}

/// A failed AWS call is a 503 whose logged detail names the call and the line of ours it failed
/// at, so an operator can tell a throttled table from a lost network and find the code.
#[tokio::test]
async fn a_failed_call_says_which_call_and_where() {
    use inflow_tests::Faults;
    let env = Env::new().await;
    let t = env.tenant().await;
    let down = env.with_faults(Faults::new(|op, _| op == "GetItem"));
    let err = inflow::store::orgs::get_org(&down.table, &t.org_id)
        .await
        .expect_err("GetItem fails");
    assert_eq!(err.status(), 503);
    let detail = err.to_string();
    assert!(detail.contains("dynamodb::get_item failed"), "{detail}");
    assert!(detail.contains("store/orgs.rs:"), "{detail}");
    // The SDK's error stays the source, so the logged chain goes down to its cause.
    assert!(std::error::Error::source(&err).is_some(), "{err:?}");
    let chain = err.chain().to_string();
    assert!(
        chain.starts_with(&detail) && chain.len() > detail.len(),
        "{chain}"
    );
    assert_eq!(err.kind(), "Unavailable");
    let lambda = inflow::lambda_runtime::Diagnostic::from(err);
    assert_eq!(lambda.error_type, "Unavailable");
    assert_eq!(lambda.error_message, chain);
}
