//! Hostile input on the invitations and flows endpoints: a 4xx in the family's own shape,
//! never a 5xx, and nothing written or queued.

use inflow_tests::{
    admin_flow, call, consume, endpoints::*, invitations, Answer, Call, Env, Function, Tenant,
};
use serde_json::json;

fn flowdock_shape(res: &Answer) -> bool {
    res.body["message"].is_string() && res.body["errors"].is_object()
}

fn userhub_shape(res: &Answer) -> bool {
    let b = &res.body;
    b["code"].is_string()
        && b["message"].is_string()
        && b.get("reason").is_some()
        && b.get("param").is_some()
        && b["metadata"].is_object()
}

fn hostile_bodies() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("malformed", b"{\"email\": ".to_vec()),
        ("not utf-8", b"{\"email\": \"\xff\xfe@x.com\"}".to_vec()),
        ("array", b"[]".to_vec()),
        ("nulls", json!({"email": null, "list": null, "ttl": null}).to_string().into_bytes()),
        ("wrong types", json!({"email": ["a@b.co"], "list": 5, "message": {}, "createOrganization": "yes", "ttl": 5}).to_string().into_bytes()),
        ("crlf", json!({"email": "a@b.co\r\nBcc: x@y.co", "list": "\r\n\r\n", "displayName": "A\r\nB"}).to_string().into_bytes()),
        ("huge", vec![b' '; 2 * 1024 * 1024]),
        ("deep", format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes()),
        ("unicode", json!({"email": "üñí\u{202e}cödé", "list": "\u{202e}evil@example.com", "displayName": "\u{0000}"}).to_string().into_bytes()),
    ]
}

fn odd_segments() -> Vec<String> {
    vec![
        "".into(),
        "../../x".into(),
        "%00".into(),
        "inv_\u{202e}".into(),
        "a".repeat(5000),
        "inv_x#ORG#y".into(),
        "%".into(),
        "::".into(),
    ]
}

async fn assert_unchanged(env: &Env, before: usize) {
    assert_eq!(env.items().await.len(), before, "nothing written");
    assert!(env.webhook_jobs().await.is_empty(), "no event queued");
    assert!(env.email_jobs().await.is_empty(), "no email queued");
}

fn with_body(c: Call, body: &[u8]) -> Call {
    c.header("content-type", "application/json").raw(body)
}

#[tokio::test]
async fn invitations_endpoints_refuse_hostile_input() {
    let env = Env::new().await;
    let t: Tenant = env.tenant_with(inflow::model::Tier::Enterprise).await;
    let before = env.items().await.len();
    type Make = fn(&Tenant) -> Call;
    let creating: [(Function, Make); 2] = [
        (CREATE_INVITATION, |t| invitations("POST", t, "")),
        (IMPORT_INVITATIONS, |t| invitations("POST", t, "/import")),
    ];
    for (f, make) in creating {
        for (what, body) in hostile_bodies() {
            let res = env.send(f, with_body(make(&t), &body)).await;
            // An import whose entries are all bad answers with the seed's own report of them.
            let reported = f == IMPORT_INVITATIONS
                && res.status == 200
                && res.body["invitations"] == json!([]);
            assert!(
                reported || (400..500).contains(&res.status) && flowdock_shape(&res),
                "{f:?} {what}: {} {}",
                res.status,
                res.raw
            );
        }
    }
    for segment in odd_segments() {
        for (f, method) in [(GET_INVITATION, "GET"), (DELETE_INVITATION, "DELETE")] {
            let res = env
                .send(f, invitations(method, &t, "/1").param("id", &segment))
                .await;
            assert_eq!(res.status, 404, "{f:?} {segment:?}");
            assert!(flowdock_shape(&res));
        }
        for param in ["organization", "flow"] {
            let res = env
                .send(
                    LIST_INVITATIONS,
                    invitations("GET", &t, "").param(param, &segment),
                )
                .await;
            assert_eq!(res.status, 404, "{param} {segment:?}: {}", res.raw);
        }
    }
    for (name, value) in [
        ("limit", "-1"),
        ("limit", "1e9"),
        ("after", "x"),
        ("after", "-5"),
        ("limit", ""),
    ] {
        let res = env
            .send(
                LIST_INVITATIONS,
                invitations("GET", &t, "").query(name, value),
            )
            .await;
        assert_eq!(res.status, 400, "{name}={value}");
        assert!(flowdock_shape(&res));
    }
    assert_unchanged(&env, before).await;
}

#[tokio::test]
async fn flows_endpoints_refuse_hostile_input() {
    let env = Env::new().await;
    let t = env.tenant_with(inflow::model::Tier::Enterprise).await;
    let before = env.items().await.len();
    let creating: [(Function, &str); 2] = [
        (
            CREATE_JOIN_ORGANIZATION_FLOW,
            "/admin/v1/flows:createJoinOrganization",
        ),
        (CREATE_SIGNUP_FLOW, "/admin/v1/flows:createSignup"),
    ];
    for (f, path) in creating {
        for (what, body) in hostile_bodies() {
            let res = env
                .send(f, with_body(call("POST", path).bearer(&t.admin_key), &body))
                .await;
            assert!(
                (400..500).contains(&res.status) && userhub_shape(&res),
                "{f:?} {what}: {} {}",
                res.status,
                res.raw
            );
        }
    }
    for segment in odd_segments() {
        let res = env.send(GET_FLOW, admin_flow("GET", &t, &segment)).await;
        assert_eq!(res.status, 404, "get {segment:?}: {}", res.raw);
        assert!(userhub_shape(&res));
        let res = env
            .send(
                CANCEL_FLOW,
                admin_flow("POST", &t, &format!("{segment}:cancel")),
            )
            .await;
        assert_eq!(res.status, 404, "cancel {segment:?}: {}", res.raw);
        let res = env
            .send(
                CONSUME_FLOW,
                consume(&t, &format!("{segment}.{}:consume", "a".repeat(40))),
            )
            .await;
        assert!(
            (400..500).contains(&res.status) && userhub_shape(&res),
            "consume {segment:?}: {}",
            res.raw
        );
    }
    let with_hostile_token = consume(&t, "inv_abc:consume")
        .header("authorization", &format!("Bearer {}", "x.".repeat(3000)));
    let res = env.send(CONSUME_FLOW, with_hostile_token).await;
    assert_eq!(res.status, 401);
    assert_unchanged(&env, before).await;
}

/// Every field of the flows API's creates, oversized one at a time beside valid others: a 400
/// (a tenant's oversized field is its own mistake, never a 5xx that pages the operator).
#[tokio::test]
async fn an_oversized_field_of_a_flow_create_is_a_400() {
    let env = Env::new().await;
    let t = env.tenant_with(inflow::model::Tier::Enterprise).await;
    let before = env.items().await.len();
    let long = |prefix: &str| format!("{prefix}{}", "a".repeat(2000));
    let fields = [
        ("creatorUserId", long("usr_")),
        ("userId", long("usr_")),
        ("displayName", long("")),
        ("roleId", long("role_")),
        ("organizationId", long("org_")),
        ("email", format!("{}@example.com", "a".repeat(2000))),
        ("ttl", format!("{}s", "9".repeat(2000))),
        ("expireTime", long("2030-01-01T00:00:00Z")),
    ];
    for (f, path) in [
        (
            CREATE_JOIN_ORGANIZATION_FLOW,
            "/admin/v1/flows:createJoinOrganization",
        ),
        (CREATE_SIGNUP_FLOW, "/admin/v1/flows:createSignup"),
    ] {
        for (field, value) in &fields {
            if f == CREATE_SIGNUP_FLOW && ["userId", "roleId"].contains(field) {
                continue; // a signup names no existing user nor role: not read
            }
            let mut body = json!({"email": "ok@example.com"});
            body[field] = json!(value);
            let res = env
                .send(f, call("POST", path).bearer(&t.admin_key).json(&body))
                .await;
            assert!(
                (400..500).contains(&res.status) && userhub_shape(&res),
                "{f:?} {field}: {} {}",
                res.status,
                &res.raw[..res.raw.len().min(300)]
            );
        }
    }
    assert_unchanged(&env, before).await;
}
