//! `Idempotency-Key` on creating POSTs.

use inflow_tests::{assign, assign_body, endpoints::*, invitations, Env};
use serde_json::json;

#[tokio::test]
async fn a_retry_replays_the_first_response_and_creates_nothing() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let first = env
        .send(
            ASSIGN_FLOW,
            assign(&t, &assign_body(&t)).header("idempotency-key", "k-1"),
        )
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("idempotent-replayed"), None);
    let items = env.items().await.len();
    let second = env
        .send(
            ASSIGN_FLOW,
            assign(&t, &assign_body(&t)).header("idempotency-key", "k-1"),
        )
        .await;
    assert_eq!(second.status, 200);
    assert_eq!(second.raw, first.raw, "same body, byte for byte");
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(env.items().await.len(), items, "no second record");
    assert_eq!(env.webhook_jobs().await.len(), 1, "no second job");
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let env = Env::new().await;
    let t = env.tenant().await;
    assert_eq!(
        env.send(
            ASSIGN_FLOW,
            assign(&t, &assign_body(&t)).header("idempotency-key", "k-2")
        )
        .await
        .status,
        200
    );
    let other = json!({"flowId": t.flow.id, "userEmail": t.user.email, "priority": "high"});
    let res = env
        .send(
            ASSIGN_FLOW,
            assign(&t, &other).header("idempotency-key", "k-2"),
        )
        .await;
    assert_eq!(res.status, 422);
    assert_eq!(res.body["error"], "idempotency_key_mismatch");
    assert_eq!(env.webhook_jobs().await.len(), 1);
}

#[tokio::test]
async fn a_retry_while_the_first_runs_gets_409() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let body = assign_body(&t).to_string();
    let fp = inflow::idempotency::fingerprint("POST", "/v1/flows/assign", body.as_bytes());
    // A first request that is still running holds the key.
    let claim = inflow::store::idempotency::claim(
        &env.app.table,
        &t.org_id,
        "k-3",
        &fp,
        chrono::Utc::now().timestamp(),
    )
    .await
    .unwrap();
    assert!(matches!(
        claim,
        inflow::store::idempotency::KeyClaim::Fresh { .. }
    ));
    let res = env
        .send(
            ASSIGN_FLOW,
            assign(&t, &assign_body(&t)).header("idempotency-key", "k-3"),
        )
        .await;
    assert_eq!(res.status, 409, "{}", res.raw);
    assert_eq!(res.body["error"], "idempotency_key_in_use");
    assert!(env.webhook_jobs().await.is_empty());
}

#[tokio::test]
async fn failures_are_not_kept_so_a_corrected_retry_runs() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let before = env.items().await.len();
    let bad = env
        .send(
            ASSIGN_FLOW,
            assign(&t, &json!({"flowId": t.flow.id})).header("idempotency-key", "k-4"),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        env.items().await.len(),
        before,
        "a failed request leaves no record"
    );
    let good = env
        .send(
            ASSIGN_FLOW,
            assign(&t, &assign_body(&t)).header("idempotency-key", "k-4"),
        )
        .await;
    assert_eq!(good.status, 200, "{}", good.raw);
}

#[tokio::test]
async fn keys_are_scoped_to_the_organization() {
    let env = Env::new().await;
    let a = env.tenant().await;
    let b = env.tenant().await;
    let ra = env
        .send(
            ASSIGN_FLOW,
            assign(&a, &assign_body(&a)).header("idempotency-key", "shared"),
        )
        .await;
    let rb = env
        .send(
            ASSIGN_FLOW,
            assign(&b, &assign_body(&b)).header("idempotency-key", "shared"),
        )
        .await;
    assert_eq!((ra.status, rb.status), (200, 200));
    assert_ne!(ra.body["assignmentId"], rb.body["assignmentId"]);
    assert_eq!(rb.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn malformed_keys_are_a_400() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let long = "k".repeat(300);
    let res = env
        .send(
            ASSIGN_FLOW,
            assign(&t, &assign_body(&t)).header("idempotency-key", &long),
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.body["field"], "Idempotency-Key");
}

#[tokio::test]
async fn a_5000_address_import_replays_byte_for_byte() {
    let env = Env::new().await;
    let t = env.tenant_with(inflow::model::Tier::Enterprise).await;
    let list = (0..5000)
        .map(|i| format!("Person Number {i} <person.{i}@example.com>"))
        .collect::<Vec<_>>()
        .join("\n");
    let import = || {
        invitations("POST", &t, "/import")
            .json(&json!({ "list": list }))
            .header("idempotency-key", "import-5000")
    };
    let first = env.send(IMPORT_INVITATIONS, import()).await;
    assert_eq!(
        first.status,
        200,
        "{}",
        &first.raw[..first.raw.len().min(300)]
    );
    assert!(first.raw.len() > 1_000_000, "{} bytes", first.raw.len());
    let again = env.send(IMPORT_INVITATIONS, import()).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert!(again.raw == first.raw, "the same bytes");
}

/// A kept response the table cannot hold in one item goes into parts, and comes back whole.
#[tokio::test]
async fn a_kept_response_over_an_item_s_size_comes_back_whole() {
    use inflow::store::idempotency::{claim, record, KeyClaim, Stored};
    let env = Env::new().await;
    let t = env.tenant().await;
    let table = &env.app.table;
    let now = chrono::Utc::now().timestamp();
    assert!(matches!(
        claim(table, &t.org_id, "big", "fp", now).await.unwrap(),
        KeyClaim::Fresh { .. }
    ));
    let blob: Vec<u8> = (0..1_200_000u32).map(|i| (i % 251) as u8).collect();
    let stored = Stored { status: 200, blob };
    record(table, &t.org_id, "big", &stored, now).await.unwrap();
    assert_eq!(
        claim(table, &t.org_id, "big", "fp", now).await.unwrap(),
        KeyClaim::Replay(stored)
    );
}

/// Moves a key's record past its `ttl`, as 24 hours would; DynamoDB may keep the item for days.
async fn expire(env: &Env, org_id: &str, key: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    env.app
        .table
        .client()
        .update_item()
        .table_name(&env.app.config.table_name)
        .key("PK", AttributeValue::S(format!("IDEM#{org_id}#{key}")))
        .key("SK", AttributeValue::S("IDEM".into()))
        .update_expression("SET #ttl = :past")
        .expression_attribute_names("#ttl", "ttl")
        .expression_attribute_values(
            ":past",
            AttributeValue::N((chrono::Utc::now().timestamp() - 1).to_string()),
        )
        .send()
        .await
        .expect("the record is there");
}

/// Every idempotent route: the first use acts, a retry replays it, and once the key's record
/// has expired the same key with the same request acts again (a new generation of the key).
#[tokio::test]
async fn an_expired_key_is_spent_and_its_reuse_acts_again() {
    use inflow_tests::{call, endpoints, Call, Function};
    let env = Env::new().await;
    let t = env.tenant().await;
    let endpoint = env
        .send(
            CREATE_WEBHOOK_ENDPOINT,
            endpoints("POST", &t, None, "").json(&json!({"url": "https://hooks.acme.example/k"})),
        )
        .await;
    assert_eq!(endpoint.status, 201, "{}", endpoint.raw);
    let endpoint_id = endpoint.body["id"].as_str().unwrap().to_owned();
    // What shows a route acted: the field of its answer that a new action changes.
    let routes: Vec<(Function, Call, &str)> = vec![
        (
            CREATE_JOIN_ORGANIZATION_FLOW,
            call("POST", "/admin/v1/flows:createJoinOrganization")
                .bearer(&t.admin_key)
                .json(&json!({"email": "gen@example.com"})),
            "/secret",
        ),
        (
            CREATE_SIGNUP_FLOW,
            call("POST", "/admin/v1/flows:createSignup")
                .bearer(&t.admin_key)
                .json(&json!({"email": "gen-signup@example.com"})),
            "/secret",
        ),
        (
            CREATE_WEBHOOK_ENDPOINT,
            endpoints("POST", &t, None, "").json(&json!({"url": "https://hooks2.acme.example/g"})),
            "/id",
        ),
        (
            ROTATE_WEBHOOK_ENDPOINT_SECRET,
            endpoints("POST", &t, Some(&endpoint_id), "/rotate-secret"),
            "/secret",
        ),
        (
            TEST_WEBHOOK_ENDPOINT,
            endpoints("POST", &t, Some(&endpoint_id), "/test"),
            "/eventId",
        ),
        (
            ASSIGN_FLOW,
            assign(&t, &assign_body(&t)),
            "/details/assignedAt",
        ),
        (
            IMPORT_INVITATIONS,
            invitations("POST", &t, "/import").json(&json!({"list": "gen-import@example.com"})),
            "",
        ),
    ];
    for (i, (function, request, acted)) in routes.into_iter().enumerate() {
        let key = format!("gen-{i}");
        let keyed = || request.clone().header("idempotency-key", &key);
        let first = env.send(function, keyed()).await;
        assert!(
            (200..300).contains(&first.status),
            "{function:?}: {}",
            first.raw
        );
        let replay = env.send(function, keyed()).await;
        assert_eq!(
            replay.header("idempotent-replayed"),
            Some("true"),
            "{function:?}"
        );
        assert_eq!(replay.raw, first.raw, "{function:?}");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        expire(&env, &t.org_id, &key).await;
        let again = env.send(function, keyed()).await;
        assert!(
            (200..300).contains(&again.status),
            "{function:?}: {}",
            again.raw
        );
        assert_eq!(
            again.header("idempotent-replayed"),
            None,
            "{function:?}: not a replay"
        );
        assert_ne!(
            again.body.pointer(acted),
            first.body.pointer(acted),
            "{function:?}: acted again ({acted})"
        );
        // And the new use of the key is kept in turn.
        let replay = env.send(function, keyed()).await;
        assert_eq!(replay.raw, again.raw, "{function:?}");
    }
    // A resend through the invitations API: a fresh link, so a new email.
    let invite = || {
        invitations("POST", &t, "")
            .json(&json!({"email": "gen-invite@example.com"}))
            .header("idempotency-key", "gen-invite")
    };
    assert_eq!(env.send(CREATE_INVITATION, invite()).await.status, 201);
    let _ = env.email_jobs().await;
    assert_eq!(
        env.send(CREATE_INVITATION, invite())
            .await
            .header("idempotent-replayed"),
        Some("true")
    );
    assert!(env.email_jobs().await.is_empty(), "a replay sends nothing");
    expire(&env, &t.org_id, "gen-invite").await;
    let again = env.send(CREATE_INVITATION, invite()).await;
    assert_eq!(
        (again.status, again.header("idempotent-replayed")),
        (201, None)
    );
    assert_eq!(
        env.email_jobs().await.len(),
        1,
        "the reuse resent the invitation"
    );
}
