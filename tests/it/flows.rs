//! Seeds 003 and 004: invitation flows, and consuming them.

use inflow_tests::{admin_flow, call, consume, endpoints::*, invitations, Answer, Env, Tenant};
use serde_json::{json, Value};

async fn create_join(env: &Env, t: &Tenant, body: Value) -> Answer {
    let c = call("POST", "/admin/v1/flows:createJoinOrganization")
        .bearer(&t.admin_key)
        .json(&body);
    env.send(CREATE_JOIN_ORGANIZATION_FLOW, c).await
}

async fn create_signup(env: &Env, t: &Tenant, body: Value) -> Answer {
    let c = call("POST", "/admin/v1/flows:createSignup")
        .bearer(&t.admin_key)
        .json(&body);
    env.send(CREATE_SIGNUP_FLOW, c).await
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

fn seconds_between(a: &Value, b: &Value) -> i64 {
    let p = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    (p(b) - p(a)).num_seconds()
}

#[tokio::test]
async fn create_join_organization_returns_the_seeds_object_with_its_secret_once() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let res = create_join(&env, &t, json!({"organizationId": t.org_id, "email": "jane.new@example.com", "displayName": "Jane New", "roleId": "GUEST", "ttl": "86400s"})).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    let b = &res.body;
    for field in [
        "id",
        "state",
        "stateReason",
        "type",
        "organization",
        "user",
        "creator",
        "startTime",
        "expireTime",
        "ttl",
        "createTime",
        "updateTime",
        "joinOrganization",
        "secret",
    ] {
        assert!(b.get(field).is_some(), "missing {field}: {}", res.raw);
    }
    assert_eq!(
        (b["state"].as_str(), b["type"].as_str()),
        (Some("START_PENDING"), Some("JOIN_ORGANIZATION"))
    );
    assert_eq!(
        (
            &b["user"],
            &b["creator"],
            &b["startTime"],
            &b["stateReason"]
        ),
        (&Value::Null, &Value::Null, &Value::Null, &Value::Null)
    );
    assert_eq!(b["ttl"], "86400s");
    assert_eq!(seconds_between(&b["createTime"], &b["expireTime"]), 86400);
    assert!(b["createTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(b["organization"]["id"], t.org_id.as_str());
    assert_eq!(b["organization"]["displayName"], "Acme Inc");
    assert_eq!(b["organization"]["memberCount"], json!(1));
    assert_eq!(b["joinOrganization"]["email"], "jane.new@example.com");
    assert_eq!(b["joinOrganization"]["role"]["type"], "GUEST");
    let secret = b["secret"].as_str().unwrap();
    assert!(secret.starts_with(b["id"].as_str().unwrap()));

    let got = env
        .send(GET_FLOW, admin_flow("GET", &t, b["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.status, 200);
    assert!(
        got.body.get("secret").is_none(),
        "the secret is shown only on create"
    );
    let mut expected = b.clone();
    expected.as_object_mut().unwrap().remove("secret");
    assert_eq!(keys(&got.body), keys(&expected));
    assert!(
        !format!("{:?}", env.items().await).contains(secret),
        "the secret is stored hashed"
    );
    assert_eq!(env.email_jobs().await.len(), 1);
}

#[tokio::test]
async fn create_checks_its_input() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let other = env.tenant().await;
    let before = env.items().await.len();
    for (body, param) in [
        (
            json!({"email": "a@example.com", "ttl": "60s", "expireTime": "2099-01-01T00:00:00Z"}),
            "ttl",
        ),
        (json!({"email": "a@example.com", "ttl": "forever"}), "ttl"),
        (
            json!({"email": "a@example.com", "expireTime": "2001-01-01T00:00:00Z"}),
            "expireTime",
        ),
        (json!({"email": "nope"}), "email"),
        (json!({}), "email"),
        (
            json!({"email": "a@example.com", "roleId": "ADMIN"}),
            "roleId",
        ),
        (
            json!({"email": "a@example.com", "displayName": "x\r\nBcc: y"}),
            "displayName",
        ),
        (
            json!({"email": "a@example.com", "creatorUserId": "usr_nobody"}),
            "creatorUserId",
        ),
    ] {
        let res = create_join(&env, &t, body.clone()).await;
        assert_eq!(res.status, 400, "{body}: {}", res.raw);
        assert_eq!(
            keys(&res.body),
            ["code", "message", "metadata", "param", "reason"]
        );
        assert_eq!(
            (res.body["code"].as_str(), res.body["param"].as_str()),
            (Some("INVALID_ARGUMENT"), Some(param)),
            "{body}"
        );
    }
    let res = create_join(
        &env,
        &t,
        json!({"organizationId": other.org_id, "email": "a@example.com"}),
    )
    .await;
    assert_eq!(
        (res.status, res.body["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let after = env.items().await.len();
    assert_eq!(after, before, "nothing written");
}

#[tokio::test]
async fn flows_expire_after_30_days_by_default() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let res = create_join(&env, &t, json!({"email": "a@example.com"})).await;
    assert_eq!(res.body["ttl"], "2592000s");
    assert_eq!(
        seconds_between(&res.body["createTime"], &res.body["expireTime"]),
        30 * 86400
    );
}

#[tokio::test]
async fn consume_by_secret_makes_the_member_and_shows_accepted_in_the_invitations_api() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let created = env
        .send(
            CREATE_INVITATION,
            invitations("POST", &t, "").json(&json!({"email": "newbie@example.com"})),
        )
        .await;
    let secret = env.secret_in(&env.email_jobs().await[0]);
    let res = env
        .send(
            CONSUME_FLOW,
            consume(&t, &format!("{secret}:consume")).header("userhub-api-version", "2022-11-15"),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(res.body["state"], "COMPLETED");
    assert_eq!(res.body["id"], created.body["invitation_flow_id"]);
    assert_eq!(res.body["user"]["email"], "newbie@example.com");
    assert_eq!(res.body["organization"]["memberCount"], json!(2));
    assert_eq!(res.body["invitationId"], json!(1));
    let user_id = res.body["user"]["id"].as_str().unwrap().to_owned();
    assert!(user_id.starts_with("usr_"));
    let items = env.items().await;
    let member = format!("MEMBER#{}#{user_id}", t.flow.id);
    assert!(
        items.iter().any(|i| i["SK"].as_s().unwrap() == &member),
        "joined the flow it was invited to"
    );
    let got = env.send(GET_INVITATION, invitations("GET", &t, "/1")).await;
    assert_eq!(got.body["state"], "accepted");
    // Again, as the same invitee: unchanged.
    let again = env
        .send(CONSUME_FLOW, consume(&t, &format!("{secret}:consume")))
        .await;
    assert_eq!(
        (again.status, &again.body["user"]["id"]),
        (200, &json!(user_id))
    );
    let events: Vec<String> = env
        .webhook_jobs()
        .await
        .into_iter()
        .map(|e| e.kind.to_string())
        .collect();
    assert_eq!(
        events
            .iter()
            .filter(|k| *k == "invitation.accepted")
            .count(),
        1
    );
}

#[tokio::test]
async fn consume_by_id_needs_the_invitees_access_token() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let res = create_join(
        &env,
        &t,
        json!({"email": "jane@example.com", "roleId": "OWNER"}),
    )
    .await;
    let id = res.body["id"].as_str().unwrap().to_owned();
    let path = format!("{id}:consume");
    let missing = env.send(CONSUME_FLOW, consume(&t, &path)).await;
    assert_eq!(
        (missing.status, missing.body["code"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    let forged = env
        .send(
            CONSUME_FLOW,
            consume(&t, &path).header("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"),
        )
        .await;
    assert_eq!(forged.status, 401);
    let now = chrono::Utc::now();
    let someone = env.user(&t, "someone@example.com").create().await;
    let wrong = inflow::invitations::tokens::mint_for(&env.app, &t.org_id, &someone.id, 600, now)
        .await
        .unwrap();
    let res = env
        .send(
            CONSUME_FLOW,
            consume(&t, &path).header("authorization", &format!("Bearer {wrong}")),
        )
        .await;
    assert_eq!(
        (
            res.status,
            res.body["code"].as_str(),
            res.body["reason"].as_str()
        ),
        (400, Some("FAILED_PRECONDITION"), Some("NOT_INVITEE"))
    );
    let right = inflow::invitations::tokens::mint_for(&env.app, &t.org_id, &t.user.id, 600, now)
        .await
        .unwrap();
    let res = env
        .send(
            CONSUME_FLOW,
            consume(&t, &path).header("authorization", &format!("Bearer {right}")),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(
        res.body["user"]["id"],
        t.user.id.as_str(),
        "an existing user is not created twice"
    );
    // A token of another organization is not valid here.
    let other = env.tenant().await;
    let foreign =
        inflow::invitations::tokens::mint_for(&env.app, &other.org_id, &other.user.id, 600, now)
            .await
            .unwrap();
    let res = env
        .send(
            CONSUME_FLOW,
            consume(&t, &path).header("authorization", &format!("Bearer {foreign}")),
        )
        .await;
    assert_eq!(res.status, 401);
}

#[tokio::test]
async fn an_email_claim_names_an_invitee_without_an_account() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let res = create_join(&env, &t, json!({"email": "fresh@example.com"})).await;
    let id = res.body["id"].as_str().unwrap();
    let token = inflow::invitations::tokens::mint_for(
        &env.app,
        &t.org_id,
        "fresh@example.com",
        600,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let res = env
        .send(
            CONSUME_FLOW,
            consume(&t, &format!("{id}:consume"))
                .header("authorization", &format!("Bearer {token}")),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(res.body["user"]["email"], "fresh@example.com");
}

#[tokio::test]
async fn canceled_and_expired_flows_cannot_be_consumed() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let made = create_join(&env, &t, json!({"email": "a@example.com"})).await;
    let (id, secret) = (
        made.body["id"].as_str().unwrap().to_owned(),
        made.body["secret"].as_str().unwrap().to_owned(),
    );
    let canceled = env
        .send(CANCEL_FLOW, admin_flow("POST", &t, &format!("{id}:cancel")))
        .await;
    assert_eq!(
        (canceled.status, canceled.body["state"].as_str()),
        (200, Some("CANCELED"))
    );
    let res = env
        .send(CONSUME_FLOW, consume(&t, &format!("{secret}:consume")))
        .await;
    assert_eq!(
        (
            res.status,
            res.body["code"].as_str(),
            res.body["reason"].as_str()
        ),
        (400, Some("FAILED_PRECONDITION"), Some("FLOW_CANCELED"))
    );
    assert_eq!(
        env.send(CANCEL_FLOW, admin_flow("POST", &t, &format!("{id}:cancel")))
            .await
            .status,
        200,
        "cancel twice is fine"
    );

    let soon = create_join(&env, &t, json!({"email": "b@example.com", "ttl": "1s"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let got = env
        .send(
            GET_FLOW,
            admin_flow("GET", &t, soon.body["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        got.body["state"], "EXPIRED",
        "expired on read, before any sweeper"
    );
    let res = env
        .send(
            CONSUME_FLOW,
            consume(
                &t,
                &format!("{}:consume", soon.body["secret"].as_str().unwrap()),
            ),
        )
        .await;
    assert_eq!(res.body["reason"], "FLOW_EXPIRED");
    let res = env
        .send(
            CANCEL_FLOW,
            admin_flow(
                "POST",
                &t,
                &format!("{}:cancel", soon.body["id"].as_str().unwrap()),
            ),
        )
        .await;
    assert_eq!(res.body["code"], "FAILED_PRECONDITION");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_consumes_make_one_transition_one_user_one_membership() {
    let env = Env::new().await;
    let t = env.tenant().await;
    env.send(
        CREATE_INVITATION,
        invitations("POST", &t, "").json(&json!({"email": "racer@example.com"})),
    )
    .await;
    let secret = env.secret_in(&env.email_jobs().await[0]);
    env.webhook_jobs().await;
    let path = format!("{secret}:consume");
    let answers =
        futures::future::join_all((0..50).map(|_| env.send(CONSUME_FLOW, consume(&t, &path))))
            .await;
    let users: std::collections::HashSet<String> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, 200, "{}", a.raw);
            a.body["user"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(users.len(), 1);
    let items = env.items().await;
    let count = |prefix: &str| {
        items
            .iter()
            .filter(|i| i["SK"].as_s().unwrap().starts_with(prefix))
            .count()
    };
    assert_eq!(count("USER#"), 2, "jane and the one new user");
    assert_eq!(count("MEMBER#"), 1);
    let accepted = env
        .webhook_jobs()
        .await
        .into_iter()
        .filter(|e| e.kind == "invitation.accepted")
        .count();
    assert_eq!(accepted, 1, "exactly one transition");
}

#[tokio::test]
async fn signup_with_create_organization_makes_an_organization_with_its_owner() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let made = create_signup(
        &env,
        &t,
        json!({"email": "founder@example.com", "displayName": "Ada", "createOrganization": true}),
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.raw);
    assert_eq!(made.body["type"], "SIGNUP");
    assert_eq!(
        made.body["signup"],
        json!({"email": "founder@example.com", "displayName": "Ada", "createOrganization": true})
    );
    let res = env
        .send(
            CONSUME_FLOW,
            consume(
                &t,
                &format!("{}:consume", made.body["secret"].as_str().unwrap()),
            ),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_ne!(res.body["organization"]["id"], t.org_id.as_str());
    assert_eq!(res.body["organization"]["memberCount"], json!(1));
    assert_eq!(
        res.body["organization"]["displayName"],
        "Ada's organization"
    );
    assert_eq!(res.body["user"]["displayName"], "Ada");

    let plain = create_signup(&env, &t, json!({"email": "joiner@example.com"})).await;
    let res = env
        .send(
            CONSUME_FLOW,
            consume(
                &t,
                &format!("{}:consume", plain.body["secret"].as_str().unwrap()),
            ),
        )
        .await;
    assert_eq!(
        res.body["organization"]["id"],
        t.org_id.as_str(),
        "without createOrganization the user joins the inviting one"
    );
}

#[tokio::test]
async fn paths_are_split_and_decoded_like_userhubs_clients_send_them() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let made = create_join(&env, &t, json!({"email": "a@example.com"})).await;
    let secret = made.body["secret"].as_str().unwrap();
    let encoded = secret.replace('.', "%2E");
    let res = env
        .send(CONSUME_FLOW, consume(&t, &format!("{encoded}%3Aconsume")))
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    for bad in [
        format!("{secret}:cancel"),
        secret.to_owned(),
        format!("{secret}:"),
        ":consume".into(),
    ] {
        assert_eq!(
            env.send(CONSUME_FLOW, consume(&t, &bad)).await.status,
            404,
            "{bad}"
        );
    }
    // Neither a flow id nor a secret: no flow, whatever the token.
    assert_eq!(
        env.send(CONSUME_FLOW, consume(&t, "%zz:consume"))
            .await
            .status,
        404
    );
    let id = made.body["id"].as_str().unwrap();
    assert_eq!(
        env.send(
            CANCEL_FLOW,
            admin_flow("POST", &t, &format!("{id}:consume"))
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn other_organizations_get_404_and_keys_are_checked() {
    let env = Env::new().await;
    let owner = env.tenant().await;
    let stranger = env.tenant().await;
    let made = create_join(&env, &owner, json!({"email": "a@example.com"})).await;
    let (id, secret) = (
        made.body["id"].as_str().unwrap(),
        made.body["secret"].as_str().unwrap(),
    );
    assert_eq!(
        env.send(GET_FLOW, admin_flow("GET", &stranger, id))
            .await
            .status,
        404
    );
    assert_eq!(
        env.send(
            CANCEL_FLOW,
            admin_flow("POST", &stranger, &format!("{id}:cancel"))
        )
        .await
        .status,
        404
    );
    let res = env
        .send(
            CONSUME_FLOW,
            consume(&stranger, &format!("{secret}:consume")),
        )
        .await;
    assert_eq!(
        (res.status, res.body["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    // The user API takes the publishable key only; the admin API the secret key only.
    let with_admin_key = call("POST", &format!("/user/v1/flows/{secret}:consume"))
        .header("userhub-api-key", &owner.admin_key)
        .param("flowId", &format!("{secret}:consume"));
    assert_eq!(env.send(CONSUME_FLOW, with_admin_key).await.status, 401);
    let with_user_key = call("GET", &format!("/admin/v1/flows/{id}"))
        .bearer(&owner.user_key)
        .param("flowId", id);
    assert_eq!(env.send(GET_FLOW, with_user_key).await.status, 401);
    let got = env.send(GET_FLOW, admin_flow("GET", &owner, id)).await;
    assert_eq!(got.body["state"], "START_PENDING");
}

#[tokio::test]
async fn an_old_link_used_while_its_invitation_is_resent_does_not_consume() {
    use std::sync::{mpsc, Mutex};
    let env = Env::new().await;
    let t = env.tenant().await;
    let invite = || invitations("POST", &t, "").json(&json!({"email": "race@example.com"}));
    assert_eq!(env.send(CREATE_INVITATION, invite()).await.status, 201);
    let old = env.secret_in(&env.email_jobs().await[0]);
    // Consume reads the invitation, then pauses right before its write while the admin
    // re-sends it (a new secret); then its write goes ahead. The pause blocks a thread, so the
    // consume runs on a runtime and an HTTP client of its own.
    let (reached_tx, reached_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let pause = Mutex::new(Some((reached_tx, go_rx)));
    let faults = inflow_tests::Faults::new(move |op, _| {
        if op == "TransactWriteItems" {
            if let Some((reached, go)) = pause.lock().unwrap().take() {
                reached.send(()).unwrap();
                go.recv().unwrap();
            }
        }
        false
    });
    let request = consume(&t, &format!("{old}:consume")).request();
    let base = env.app.clone();
    let consuming = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let sdk = aws_config::load_from_env().await;
            let ddb = aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(faults)
                .build();
            let paused = inflow::App {
                table: base
                    .table
                    .with_client(aws_sdk_dynamodb::Client::from_conf(ddb)),
                ..base
            };
            Answer::from(CONSUME_FLOW.call(&paused, request).await)
        })
    });
    tokio::task::spawn_blocking(move || reached_rx.recv().unwrap())
        .await
        .unwrap();
    assert_eq!(
        env.send(CREATE_INVITATION, invite()).await.status,
        201,
        "re-sent"
    );
    go_tx.send(()).unwrap();
    let consumed = consuming.join().unwrap();
    assert_eq!(
        consumed.status, 404,
        "the old link is dead: {}",
        consumed.raw
    );
    let listed = env.send(LIST_INVITATIONS, invitations("GET", &t, "")).await;
    assert_eq!(listed.body[0]["state"], "pending");
}
