//! `POST /api/user`, exactly as seed 002 shows it: creating a user group, rotating its token.

use inflow_tests::{call, endpoints::*, wait_for_window_with, Answer, Call, Env, Tenant};
use serde_json::{json, Value};

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
    k.sort();
    k
}

/// A request as the seed sends it: `Authorization: Token <key>`.
fn user_group(t: &Tenant, body: &Value) -> Call {
    call("POST", "/api/user")
        .header("authorization", &format!("Token {}", t.admin_key))
        .json(body)
}

fn new_group(name: &str, provided_id: &str) -> Value {
    json!({"name": name, "provided_id": provided_id, "current_token": ""})
}

fn rotation(token: &str) -> Value {
    json!({"current_token": token})
}

/// Creates a group and returns its `user_group` object.
async fn create(env: &Env, t: &Tenant, body: &Value) -> Value {
    let res = env.send(CREATE_USER_GROUP, user_group(t, body)).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    res.body["user_group"].clone()
}

fn token_of(group: &Value) -> String {
    group["token"]
        .as_str()
        .expect("token is a string")
        .to_owned()
}

/// Every failure is `{"success": 0, "message": "…"}` and nothing else.
fn assert_failure(res: &Answer, status: u16, what: &str) {
    assert_eq!(res.status, status, "{what}: {}", res.raw);
    assert_family_shape(res, what);
}

fn assert_family_shape(res: &Answer, what: &str) {
    assert!(
        (400..500).contains(&res.status),
        "{what}: status {} body {}",
        res.status,
        res.raw
    );
    assert_eq!(
        keys(&res.body),
        ["message", "success"],
        "{what}: {}",
        res.raw
    );
    assert_eq!(res.body["success"], json!(0), "{what}");
    assert!(
        res.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {}",
        res.raw
    );
}

async fn group_items(env: &Env) -> usize {
    let dump = env.items().await;
    dump.iter()
        .filter(|i| i["SK"].as_s().is_ok_and(|sk| sk.starts_with("UG#")))
        .count()
}

#[tokio::test]
async fn creates_with_the_seeds_success_body() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let body = json!({"name": "Example 1", "provided_id": "example_1", "current_token": ""});
    let res = env
        .send(
            CREATE_USER_GROUP,
            user_group(&t, &body).header("x-request-id", "req_ug_1"),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(keys(&res.body), ["success", "user_group"]);
    assert_eq!(res.body["success"], json!(1), "an integer, as in the seed");
    let g = &res.body["user_group"];
    assert_eq!(
        keys(g),
        ["environment", "name", "provided_id", "team_id", "token"]
    );
    assert!(g["team_id"].is_u64(), "team_id is an integer: {g}");
    assert_eq!(g["name"], "Example 1");
    assert_eq!(g["provided_id"], "example_1");
    assert_eq!(g["environment"], "Customer", "Customer by default");
    let token = token_of(g);
    assert!(token.starts_with("ugt_") && token.len() == 44, "{token}");
    assert!(
        token[4..].bytes().all(|b| b.is_ascii_alphanumeric()),
        "{token}"
    );
    assert_eq!(res.header("x-request-id"), Some("req_ug_1"));
    assert_eq!(
        res.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(res.header("x-ratelimit-limit"), Some("100"));
    assert_eq!(res.header("x-ratelimit-remaining"), Some("99"));
}

#[tokio::test]
async fn token_and_bearer_schemes_both_work_and_team_ids_count_up() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let first = create(&env, &t, &new_group("One", "one")).await;
    let bearer = call("POST", "/api/user")
        .bearer(&t.admin_key)
        .json(&new_group("Two", "two"));
    let res = env.send(CREATE_USER_GROUP, bearer).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    let second = &res.body["user_group"];
    assert_eq!(
        second["team_id"].as_u64().unwrap(),
        first["team_id"].as_u64().unwrap() + 1
    );
    assert_ne!(second["token"], first["token"]);
}

#[tokio::test]
async fn an_absent_empty_or_null_current_token_creates() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let bodies = [
        json!({"name": "A", "provided_id": "a", "current_token": ""}),
        json!({"name": "B", "provided_id": "b", "current_token": null}),
        json!({"name": "C", "provided_id": "c"}),
        json!({"name": "D", "provided_id": "d", "environment": "Testing", "current_token": ""}),
    ];
    for body in &bodies {
        create(&env, &t, body).await;
    }
    assert_eq!(group_items(&env).await, bodies.len());
}

#[tokio::test]
async fn names_and_ids_are_trimmed_and_may_be_unicode() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let g = create(&env, &t, &json!({"name": "  Équipe Zürich 東京 ", "provided_id": " équipe-1 ", "environment": "testing"})).await;
    assert_eq!(g["name"], "Équipe Zürich 東京");
    assert_eq!(g["provided_id"], "équipe-1");
    assert_eq!(
        g["environment"], "Testing",
        "answers use the seed's spelling"
    );
}

#[tokio::test]
async fn unauthorized_shapes() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let expected = json!({"success": 0, "message": "Invalid or missing API key"});
    let body = new_group("Example 1", "example_1");
    let cases = [
        call("POST", "/api/user").json(&body),
        call("POST", "/api/user")
            .header("authorization", "Token")
            .json(&body),
        call("POST", "/api/user")
            .header("authorization", &t.admin_key)
            .json(&body),
        call("POST", "/api/user")
            .header("authorization", &format!("Basic {}", t.admin_key))
            .json(&body),
        call("POST", "/api/user")
            .header("authorization", "Token sk_doesnotexist")
            .json(&body),
        call("POST", "/api/user")
            .header("authorization", &format!("Token {}", t.user_key))
            .json(&body),
        call("POST", "/api/user")
            .header("userhub-api-key", &t.user_key)
            .json(&body),
    ];
    for case in cases {
        let res = env.send(CREATE_USER_GROUP, case).await;
        assert_eq!((res.status, &res.body), (401, &expected));
        assert!(res.header("x-request-id").is_some());
    }
    inflow::operator::revoke_key(&env.app, &t.org_id, &t.admin_key_id, chrono::Utc::now())
        .await
        .unwrap();
    let res = env.send(CREATE_USER_GROUP, user_group(&t, &body)).await;
    assert_eq!((res.status, &res.body), (401, &expected), "a revoked key");
    assert_eq!(group_items(&env).await, 0);
}

#[tokio::test]
async fn provided_id_is_unique_per_organization_and_environment() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let other = env.tenant().await;
    create(&env, &t, &new_group("Example 1", "example_1")).await;

    let res = env
        .send(
            CREATE_USER_GROUP,
            user_group(&t, &new_group("Another name", "example_1")),
        )
        .await;
    assert_failure(&res, 409, "same provided_id, same environment");
    assert!(
        res.body["message"].as_str().unwrap().contains("example_1"),
        "{}",
        res.raw
    );
    let explicit = json!({"name": "X", "provided_id": "example_1", "environment": "customer"});
    assert_failure(
        &env.send(CREATE_USER_GROUP, user_group(&t, &explicit)).await,
        409,
        "Customer spelled in lowercase",
    );

    let testing =
        json!({"name": "Example 1 (test)", "provided_id": "example_1", "environment": "Testing"});
    assert_eq!(create(&env, &t, &testing).await["environment"], "Testing");
    let testing_again =
        json!({"name": "Another test", "provided_id": "example_1", "environment": "Testing"});
    assert_failure(
        &env.send(CREATE_USER_GROUP, user_group(&t, &testing_again))
            .await,
        409,
        "same provided_id, Testing again",
    );

    create(&env, &other, &new_group("Example 1", "example_1")).await;
    // provided_ids are compared exactly.
    create(&env, &t, &new_group("Example 1", "Example_1")).await;
    assert_eq!(
        group_items(&env).await,
        4,
        "refused duplicates wrote no group"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_provided_id_let_exactly_one_through() {
    let env = Env::new().await;
    let t = env.tenant().await;
    // Eight different groups (by name) wanting one provided_id: exactly one is made.
    let answers = futures::future::join_all((0..8).map(|i| {
        let body = new_group(&format!("Racer {i}"), "race");
        env.send(CREATE_USER_GROUP, user_group(&t, &body))
    }))
    .await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(group_items(&env).await, 1);
    // One request sent eight times at once (a client's retries): one group, one answer.
    let body = new_group("Retried", "race-2");
    let answers = futures::future::join_all(
        (0..8).map(|_| env.send(CREATE_USER_GROUP, user_group(&t, &body))),
    )
    .await;
    assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
    let tokens: std::collections::HashSet<&Value> =
        answers.iter().map(|a| &a.body["user_group"]).collect();
    assert_eq!(tokens.len(), 1, "the same group and token to all");
    assert_eq!(group_items(&env).await, 2);
}

#[tokio::test]
async fn rotation_issues_a_new_token_and_the_old_one_stops_working_at_once() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let created = create(
        &env,
        &t,
        &json!({"name": "Example 1", "provided_id": "example_1", "environment": "Testing"}),
    )
    .await;
    let old = token_of(&created);

    let res = env
        .send(CREATE_USER_GROUP, user_group(&t, &rotation(&old)))
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(keys(&res.body), ["success", "user_group"]);
    let rotated = &res.body["user_group"];
    let new = token_of(rotated);
    assert_ne!(new, old);
    assert!(new.starts_with("ugt_") && new.len() == 44);
    for field in ["team_id", "name", "provided_id", "environment"] {
        assert_eq!(rotated[field], created[field], "{field} is kept");
    }

    let again = env
        .send(CREATE_USER_GROUP, user_group(&t, &rotation(&old)))
        .await;
    assert_eq!(
        (again.status, &again.body),
        (
            404,
            &json!({"success": 0, "message": "current_token does not match any user group"})
        )
    );
    assert!(!again.raw.contains(&old), "the token is never echoed");

    let next = env
        .send(CREATE_USER_GROUP, user_group(&t, &rotation(&new)))
        .await;
    assert_eq!(
        next.status, 200,
        "the new token rotates in turn: {}",
        next.raw
    );
    assert_eq!(group_items(&env).await, 1, "rotation creates no group");
}

#[tokio::test]
async fn rotation_may_rename_but_not_change_provided_id_or_environment() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let created = create(&env, &t, &new_group("Old name", "example_1")).await;
    let token = token_of(&created);

    let mismatches = [
        json!({"current_token": token, "provided_id": "example_2"}),
        json!({"current_token": token, "environment": "Testing"}),
        json!({"current_token": token, "name": "  "}),
        json!({"current_token": token, "name": 5}),
    ];
    for body in &mismatches {
        let res = env.send(CREATE_USER_GROUP, user_group(&t, body)).await;
        assert_failure(&res, 400, &body.to_string());
    }
    // Refused requests left the token as it was.
    let body = json!({"current_token": token, "name": "New name", "provided_id": "example_1", "environment": "Customer"});
    let res = env.send(CREATE_USER_GROUP, user_group(&t, &body)).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(res.body["user_group"]["name"], "New name");
    assert_eq!(res.body["user_group"]["team_id"], created["team_id"]);

    // The new name sticks to the group: the next rotation shows it.
    let res = env
        .send(
            CREATE_USER_GROUP,
            user_group(&t, &rotation(&token_of(&res.body["user_group"]))),
        )
        .await;
    assert_eq!(res.body["user_group"]["name"], "New name");
    // And the provided_id stays claimed.
    assert_failure(
        &env.send(
            CREATE_USER_GROUP,
            user_group(&t, &new_group("Other", "example_1")),
        )
        .await,
        409,
        "still claimed",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_with_one_token_let_exactly_one_through() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let old = token_of(&create(&env, &t, &new_group("Example 1", "example_1")).await);
    let body = rotation(&old);
    let answers = futures::future::join_all(
        (0..10).map(|_| env.send(CREATE_USER_GROUP, user_group(&t, &body))),
    )
    .await;
    let winners: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(winners.len(), 1, "{statuses:?}");
    for loser in answers.iter().filter(|a| a.status != 200) {
        assert!(matches!(loser.status, 404 | 409), "{statuses:?}");
        assert_family_shape(loser, "a losing rotation");
    }
    let winner = token_of(&winners[0].body["user_group"]);
    assert_eq!(
        env.send(CREATE_USER_GROUP, user_group(&t, &rotation(&winner)))
            .await
            .status,
        200,
        "the winner's token is the live one"
    );
    let tokens = env
        .items()
        .await
        .iter()
        .filter(|i| i["SK"].as_s().is_ok_and(|sk| sk == "UGTOKEN"))
        .count();
    assert_eq!(tokens, 1, "one live token per group");
}

#[tokio::test]
async fn another_organizations_token_is_not_found() {
    let env = Env::new().await;
    let owner = env.tenant().await;
    let stranger = env.tenant().await;
    let token = token_of(&create(&env, &owner, &new_group("Example 1", "example_1")).await);

    let res = env
        .send(CREATE_USER_GROUP, user_group(&stranger, &rotation(&token)))
        .await;
    let unknown = env
        .send(
            CREATE_USER_GROUP,
            user_group(&stranger, &rotation(&format!("ugt_{}", "a".repeat(40)))),
        )
        .await;
    assert_failure(&res, 404, "another organization's token");
    assert_eq!(
        res.body, unknown.body,
        "indistinguishable from a token that never existed"
    );

    let res = env
        .send(CREATE_USER_GROUP, user_group(&owner, &rotation(&token)))
        .await;
    assert_eq!(
        res.status, 200,
        "the owner's token still works: {}",
        res.raw
    );
}

#[tokio::test]
async fn unknown_and_malformed_tokens_are_not_found() {
    let env = Env::new().await;
    let t = env.tenant().await;
    for token in [
        "ugt_nope",
        "sk_abc",
        "ugt_ŝŝŝ",
        "ugt_abc\r\nx",
        "UGT_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &"u".repeat(100_000),
    ] {
        let res = env
            .send(CREATE_USER_GROUP, user_group(&t, &rotation(token)))
            .await;
        assert_failure(&res, 404, token.get(..20).unwrap_or(token));
    }
    assert_eq!(group_items(&env).await, 0);
}

#[tokio::test]
async fn an_idempotent_retry_replays_and_creates_nothing_new() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let body = new_group("Example 1", "example_1");
    let first = env
        .send(
            CREATE_USER_GROUP,
            user_group(&t, &body).header("idempotency-key", "ug-1"),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.raw);
    assert_eq!(first.header("idempotent-replayed"), None);
    let items = env.items().await.len();
    let second = env
        .send(
            CREATE_USER_GROUP,
            user_group(&t, &body).header("idempotency-key", "ug-1"),
        )
        .await;
    assert_eq!(second.status, 200);
    assert_eq!(second.raw, first.raw, "same body, byte for byte");
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(env.items().await.len(), items, "no second group");

    let other = env
        .send(
            CREATE_USER_GROUP,
            user_group(&t, &new_group("Example 2", "example_2")).header("idempotency-key", "ug-1"),
        )
        .await;
    assert_failure(&other, 422, "the same key with another body");

    // Without a key, the same create within its day is its answer again (a retry).
    let retried = env.send(CREATE_USER_GROUP, user_group(&t, &body)).await;
    assert_eq!(retried.status, 200, "{}", retried.raw);
    assert_eq!(retried.body["user_group"], first.body["user_group"]);
    assert_eq!(group_items(&env).await, 1);
}

/// What a retry of a lost answer gets without an Idempotency-Key (the seed's clients send none):
/// a create repeated with the same name, provided_id and environment within a day answers as
/// the first did, until the group's token is rotated. A rotation repeated without a key finds
/// its token gone (404): the old token stops working at once; a rotation's retry needs a key
/// (tested in outbox.rs, where the first run dies after its write).
#[tokio::test]
async fn a_retried_create_gets_its_first_answer_for_a_day() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let env = Env::new().await;
    let t = env.tenant().await;
    let body = new_group("Example 1", "retry_1");
    let first = create(&env, &t, &body).await;
    let again = create(&env, &t, &body).await;
    assert_eq!(again, first, "the same group and token");
    assert_failure(
        &env.send(
            CREATE_USER_GROUP,
            user_group(&t, &new_group("Other name", "retry_1")),
        )
        .await,
        409,
        "another name",
    );
    let testing = json!({"name": "Example 1", "provided_id": "retry_1", "environment": "Testing"});
    assert_ne!(create(&env, &t, &testing).await["token"], first["token"]);

    // Rotated: the create's answer is not given again (its token is dead), nor the rotation's.
    let old = token_of(&first);
    let rotated = env
        .send(CREATE_USER_GROUP, user_group(&t, &rotation(&old)))
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.raw);
    assert_failure(
        &env.send(CREATE_USER_GROUP, user_group(&t, &body)).await,
        409,
        "a create repeated after a rotation",
    );
    assert_failure(
        &env.send(CREATE_USER_GROUP, user_group(&t, &rotation(&old)))
            .await,
        404,
        "a rotation repeated without a key",
    );

    // A day later, a create's repeat is a duplicate again.
    let later = new_group("Example 2", "retry_2");
    create(&env, &t, &later).await;
    let items = env.items().await;
    let group = items
        .iter()
        .find(|i| {
            i["SK"].as_s().is_ok_and(|sk| sk.starts_with("UG#"))
                && i.get("provided_id").and_then(|v| v.as_s().ok()) == Some(&"retry_2".to_owned())
        })
        .expect("the group item");
    env.app
        .table
        .client()
        .update_item()
        .table_name(&env.app.config.table_name)
        .key("PK", group["PK"].clone())
        .key("SK", group["SK"].clone())
        .update_expression("SET created_token_until = :past")
        .expression_attribute_values(
            ":past",
            AttributeValue::N((chrono::Utc::now().timestamp() - 1).to_string()),
        )
        .send()
        .await
        .unwrap();
    assert_failure(
        &env.send(CREATE_USER_GROUP, user_group(&t, &later)).await,
        409,
        "a repeat after its day",
    );
}

#[tokio::test]
async fn content_type_must_be_json() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let text = new_group("Example 1", "example_1").to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut c = call("POST", "/api/user")
            .header("authorization", &format!("Token {}", t.admin_key))
            .raw(text.as_bytes());
        if let Some(ct) = content_type {
            c = c.header("content-type", ct);
        }
        assert_failure(
            &env.send(CREATE_USER_GROUP, c).await,
            415,
            &format!("{content_type:?}"),
        );
    }
    let ok = call("POST", "/api/user")
        .header("authorization", &format!("Token {}", t.admin_key))
        .header("content-type", "application/json; charset=utf-8")
        .raw(text.as_bytes());
    assert_eq!(env.send(CREATE_USER_GROUP, ok).await.status, 200);
}

fn hostile_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let body = |v: Value| v.to_string().into_bytes();
    vec![
        ("empty", b"".to_vec()),
        ("malformed", b"{\"name\": ".to_vec()),
        (
            "not utf-8",
            b"{\"name\": \"\xff\xfe\", \"provided_id\": \"p\"}".to_vec(),
        ),
        ("array", b"[1,2,3]".to_vec()),
        ("null", b"null".to_vec()),
        ("string", b"\"name\"".to_vec()),
        ("no fields", body(json!({}))),
        ("only the seed's token", body(json!({"current_token": ""}))),
        (
            "nulls",
            body(json!({"name": null, "provided_id": null, "current_token": null})),
        ),
        (
            "wrong types",
            body(json!({"name": ["n"], "provided_id": {"a": 1}})),
        ),
        ("number id", body(json!({"name": "n", "provided_id": 12}))),
        ("bool name", body(json!({"name": true, "provided_id": "p"}))),
        (
            "token type",
            body(json!({"name": "n", "provided_id": "p", "current_token": 0})),
        ),
        (
            "environment type",
            body(json!({"name": "n", "provided_id": "p", "environment": ["Testing"]})),
        ),
        (
            "unknown environment",
            body(json!({"name": "n", "provided_id": "p", "environment": "Production"})),
        ),
        (
            "blank name",
            body(json!({"name": " \t ", "provided_id": "p"})),
        ),
        (
            "crlf name",
            body(json!({"name": "Evil\r\nX-Injected: 1", "provided_id": "p"})),
        ),
        (
            "crlf provided_id",
            body(json!({"name": "n", "provided_id": "p\r\nq"})),
        ),
        (
            "nul provided_id",
            body(json!({"name": "n", "provided_id": "p\u{0}"})),
        ),
        (
            "bidi provided_id",
            body(json!({"name": "n", "provided_id": "abc\u{202E}fed"})),
        ),
        (
            "zero-width name",
            body(json!({"name": "Ad\u{200B}min", "provided_id": "p"})),
        ),
        (
            "huge name",
            body(json!({"name": "n".repeat(100_000), "provided_id": "p"})),
        ),
        (
            "huge provided_id",
            body(json!({"name": "n", "provided_id": "é".repeat(129)})),
        ),
        ("huge body", vec![b' '; 2 * 1024 * 1024]),
        (
            "deep nesting",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        ),
        ("crlf token", body(json!({"current_token": "ugt_abc\r\nx"}))),
        (
            "unicode token",
            body(json!({"current_token": "ugt_ŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝŝ"})),
        ),
    ]
}

#[tokio::test]
async fn hostile_bodies_get_a_4xx_in_shape_and_write_nothing() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let before = env.items().await.len();
    for (what, body) in hostile_bodies() {
        let c = call("POST", "/api/user")
            .header("authorization", &format!("Token {}", t.admin_key))
            .header("content-type", "application/json")
            .raw(&body);
        let res = env.send(CREATE_USER_GROUP, c).await;
        assert_family_shape(&res, what);
    }
    assert_eq!(env.items().await.len(), before, "nothing written");
}

#[tokio::test]
async fn hostile_headers_get_a_4xx_in_shape() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let before = env.items().await.len();
    let body = new_group("Example 1", "example_1");
    let cases = [
        call("POST", "/api/user")
            .header("authorization", &format!("Token sk_{}", "a".repeat(10_000)))
            .json(&body),
        call("POST", "/api/user")
            .header("authorization", "Token sk_ünïcode")
            .json(&body),
        call("POST", "/api/user")
            .header(
                "authorization",
                &format!("Token {}", t.admin_key.to_uppercase()),
            )
            .json(&body),
        user_group(&t, &body).header("idempotency-key", ""),
        user_group(&t, &body).header("idempotency-key", &"k".repeat(300)),
    ];
    for c in cases {
        let res = env.send(CREATE_USER_GROUP, c).await;
        assert_family_shape(&res, "hostile header");
    }
    assert_eq!(env.items().await.len(), before, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_the_rate_limit_is_429_in_shape() {
    let env = Env::new().await;
    let t = env.tenant().await;
    wait_for_window_with(20).await;
    // Unknown tokens cost no writes, so the burst only counts requests.
    let body = rotation(&format!("ugt_{}", "b".repeat(40)));
    let answers = futures::future::join_all(
        (0..105).map(|_| env.send(CREATE_USER_GROUP, user_group(&t, &body))),
    )
    .await;
    let limited: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(
        limited.len(),
        5,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert_family_shape(limited[0], "rate limited");
    assert!(limited[0].header("retry-after").is_some());
}

#[tokio::test]
async fn no_plaintext_token_in_the_table() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let first = token_of(&create(&env, &t, &new_group("Example 1", "example_1")).await);
    let res = env
        .send(CREATE_USER_GROUP, user_group(&t, &rotation(&first)))
        .await;
    let second = token_of(&res.body["user_group"]);
    let dump = format!("{:?}", env.items().await);
    for token in [&first, &second] {
        assert!(
            !dump.contains(token.as_str()),
            "a token is stored in plain text"
        );
        assert!(
            !dump.contains(&token[4..]),
            "a token is stored in plain text"
        );
    }
    assert!(
        dump.contains(&env.app.hasher.hash("user-group-token", &second)),
        "the keyed hash is what is stored"
    );
    assert!(
        !dump.contains(&env.app.hasher.hash("user-group-token", &first)),
        "the old hash is gone"
    );
}

/// The idempotency pipeline keeps a successful response's body for replay; for this endpoint
/// that body holds the issued token. Fails until the pipeline seals stored bodies.
#[tokio::test]
async fn no_plaintext_token_in_the_table_with_an_idempotency_key() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let res = env
        .send(
            CREATE_USER_GROUP,
            user_group(&t, &new_group("Example 1", "example_1"))
                .header("idempotency-key", "ug-secret"),
        )
        .await;
    let token = token_of(&res.body["user_group"]);
    assert!(
        !format!("{:?}", env.items().await).contains(&token[4..]),
        "a token is stored in plain text"
    );
}

#[tokio::test]
async fn logs_never_carry_a_token() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let (captured, _guard) = inflow_tests::capture_logs();

    let first = token_of(&create(&env, &t, &new_group("Example 1", "example_1")).await);
    let res = env
        .send(CREATE_USER_GROUP, user_group(&t, &rotation(&first)))
        .await;
    let second = token_of(&res.body["user_group"]);
    env.send(CREATE_USER_GROUP, user_group(&t, &rotation(&first)))
        .await;

    let logs = captured.text();
    assert!(logs.contains("user group token rotated"), "{logs}");
    for token in [&first, &second] {
        assert!(!logs.contains(&token[4..]), "a token was logged");
    }
}
