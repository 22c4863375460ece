//! Hostile input on every endpoint: always a 4xx in seed 000's shape, never a 5xx, and
//! nothing written or queued.

use inflow_tests::{
    assign, call, endpoints::*, on_assignment, Answer, Call, Env, Function, Tenant,
};
use serde_json::json;

fn assert_family_shape(res: &Answer, what: &str) {
    assert!(
        (400..500).contains(&res.status),
        "{what}: status {} body {}",
        res.status,
        res.raw
    );
    let obj = res
        .body
        .as_object()
        .unwrap_or_else(|| panic!("{what}: body is not JSON: {:?}", res.raw));
    assert!(
        obj.get("error").is_some_and(|e| e.is_string()),
        "{what}: {}",
        res.raw
    );
    assert!(
        obj.get("message").is_some_and(|e| e.is_string()),
        "{what}: {}",
        res.raw
    );
}

fn bodies(t: &Tenant) -> Vec<(&'static str, Vec<u8>)> {
    let f = &t.flow.id;
    vec![
        ("empty", b"".to_vec()),
        ("malformed", b"{\"flowId\": ".to_vec()),
        ("not utf-8", b"{\"flowId\": \"\xff\xfe\"}".to_vec()),
        ("array", b"[1,2,3]".to_vec()),
        ("null", b"null".to_vec()),
        (
            "nulls",
            json!({"flowId": null, "userEmail": null})
                .to_string()
                .into_bytes(),
        ),
        (
            "wrong types",
            json!({"flowId": [f], "userEmail": {"a": 1}})
                .to_string()
                .into_bytes(),
        ),
        (
            "number id",
            json!({"flowId": 12, "userEmail": "jane@example.com"})
                .to_string()
                .into_bytes(),
        ),
        (
            "crlf email",
            json!({"flowId": f, "userEmail": "jane@example.com\r\nBcc: evil@x.y"})
                .to_string()
                .into_bytes(),
        ),
        (
            "unicode email",
            json!({"flowId": f, "userEmail": "ĵäñé@ëxample.com"})
                .to_string()
                .into_bytes(),
        ),
        (
            "crlf flow id",
            json!({"flowId": format!("{f}\r\nX: y"), "userEmail": "jane@example.com"})
                .to_string()
                .into_bytes(),
        ),
        (
            "unicode flow id",
            json!({"flowId": "flow_ŝŝŝ", "userEmail": "jane@example.com"})
                .to_string()
                .into_bytes(),
        ),
        (
            "huge flow id",
            json!({"flowId": "f".repeat(100_000), "userEmail": "jane@example.com"})
                .to_string()
                .into_bytes(),
        ),
        ("huge body", vec![b' '; 2 * 1024 * 1024]),
        (
            "deep nesting",
            format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        ),
        (
            "bad due date",
            json!({"flowId": f, "userEmail": "jane@example.com", "dueDate": "9999-99-99"})
                .to_string()
                .into_bytes(),
        ),
        (
            "due date type",
            json!({"flowId": f, "userEmail": "jane@example.com", "dueDate": 1732579199})
                .to_string()
                .into_bytes(),
        ),
        (
            "huge notes",
            json!({"flowId": f, "userEmail": "jane@example.com", "notes": "é".repeat(5000)})
                .to_string()
                .into_bytes(),
        ),
    ]
}

fn odd_ids() -> Vec<String> {
    vec![
        "".into(),
        "../../etc/passwd".into(),
        "asgn_%00".into(),
        "asgn_\u{202e}abc".into(),
        "asgn_ab#ORG#x".into(),
        format!("asgn_{}", "a".repeat(5000)),
        "ASGN_abc".into(),
        "asgn_abc\r\nx".into(),
    ]
}

async fn unchanged(env: &Env, before: usize) {
    assert_eq!(env.items().await.len(), before, "nothing written");
    assert!(env.webhook_jobs().await.is_empty(), "nothing queued");
}

#[tokio::test]
async fn assign_refuses_hostile_bodies() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let before = env.items().await.len();
    for (what, body) in bodies(&t) {
        let c = call("POST", "/v1/flows/assign")
            .bearer(&t.admin_key)
            .header("content-type", "application/json")
            .raw(&body);
        let res = env.send(ASSIGN_FLOW, c).await;
        assert_family_shape(&res, what);
    }
    unchanged(&env, before).await;
}

#[tokio::test]
async fn progress_endpoints_refuse_odd_ids_and_bodies() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let before = env.items().await.len();
    for function in [GET_ASSIGNMENT, START_ASSIGNMENT, COMPLETE_ASSIGNMENT] {
        let method = if function == GET_ASSIGNMENT {
            "GET"
        } else {
            "POST"
        };
        for id in odd_ids() {
            let res = env.send(function, on_assignment(method, "", &t, &id)).await;
            assert_eq!(res.status, 404, "{function:?} {id:?}");
            assert_family_shape(&res, &id);
        }
        for (what, body) in bodies(&t) {
            let res = env
                .send(
                    function,
                    on_assignment(method, "", &t, "asgn_nothere").raw(&body),
                )
                .await;
            assert_family_shape(&res, what);
        }
    }
    unchanged(&env, before).await;
}

#[tokio::test]
async fn hostile_headers_are_handled() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let before = env.items().await.len();
    let long_key = format!("sk_{}", "a".repeat(10_000));
    let cases: Vec<(Function, Call)> = vec![
        (
            ASSIGN_FLOW,
            call("POST", "/v1/flows/assign")
                .bearer(&long_key)
                .json(&json!({})),
        ),
        (
            ASSIGN_FLOW,
            call("POST", "/v1/flows/assign")
                .header("authorization", "Bearer sk_ünïcode")
                .json(&json!({})),
        ),
        (
            ASSIGN_FLOW,
            assign(&t, &json!({})).header("idempotency-key", ""),
        ),
        (
            GET_ASSIGNMENT,
            on_assignment("GET", "", &t, "asgn_x").header("x-request-id", &"r".repeat(5000)),
        ),
        (
            GET_ASSIGNMENT,
            call("GET", "/v1/assignments/asgn_x").header(
                "authorization",
                &format!("Bearer {}", t.admin_key.to_uppercase()),
            ),
        ),
    ];
    for (function, c) in cases {
        let res = env.send(function, c).await;
        assert_family_shape(&res, &format!("{function:?}"));
        let rid = res.header("x-request-id").unwrap();
        assert!(rid.len() <= 200, "an over-long request id is replaced");
    }
    unchanged(&env, before).await;
}
