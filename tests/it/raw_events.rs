//! Hostile input as API Gateway hands it over: raw HTTP API (payload 2.0) events go through the
//! runtime's event conversion (`inflow::gateway`, then lambda_http) into the function, as in
//! AWS, not only the handler. A query that cannot be part of a URI, a body that is not the
//! base64 it claims to be, or an unusable header gets the endpoint's own 400 in its family's
//! shape, before any other work; none reaches lambda_http's conversion as sent, which panics on
//! some of them. A decoded path (API Gateway's `rawPath`) is encoded for the conversion.

use inflow::lambda_runtime::{Context, LambdaEvent};
use inflow_tests::{endpoints::*, Env, Function, Tenant};
use serde_json::{json, Value};

fn event(
    t: &Tenant,
    method: &str,
    path: &str,
    query: &str,
    body: Option<&str>,
    base64: bool,
) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "host": "api.test.example",
            "authorization": format!("Bearer {}", t.admin_key),
            "userhub-api-key": t.user_key,
            "content-type": "application/json",
            "x-request-id": "raw-event-test",
        },
        "requestContext": {
            "accountId": "123456789012", "apiId": "test", "domainName": "api.test.example",
            "domainPrefix": "api", "requestId": "r", "routeKey": "$default", "stage": "$default",
            "time": "29/Nov/2026:10:00:00 +0000", "timeEpoch": 1795341600000i64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "curl/8"}
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// The function's answer to a raw event, as API Gateway reads it.
async fn answer(env: &Env, f: Function, raw: Value) -> Value {
    let app = env.app.clone();
    let handler = move |req| {
        let app = app.clone();
        async move { f.call(&app, req).await }
    };
    let answer = inflow::gateway::answer(handler, LambdaEvent::new(raw, Context::default()))
        .await
        .expect("an answer, not an invocation error");
    serde_json::to_value(answer).unwrap()
}

fn body_of(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

/// A function, its method and path, and what its family's 400 looks like.
type Case = (Function, &'static str, String, fn(&Value) -> bool);

#[tokio::test]
async fn a_query_a_uri_cannot_hold_is_the_families_400_not_a_panic() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let flows = format!("/flows/{}/{}/invitations", t.org_slug, t.flow.slug);
    let cases: Vec<Case> = vec![
        (
            GET_ASSIGNMENT,
            "GET",
            "/v1/assignments/asgn_x".into(),
            |b| b["error"] == "invalid_request" && b["field"] == "query",
        ),
        (LIST_INVITATIONS, "GET", flows.clone(), |b| {
            b["message"] == "Validation error" && b["errors"]["query"].is_array()
        }),
        (GET_FLOW, "GET", "/admin/v1/flows/inv_x".into(), |b| {
            b["code"] == "INVALID_ARGUMENT" && b["param"] == "query"
        }),
        (CREATE_USER_GROUP, "POST", "/api/user".into(), |b| {
            b["success"] == 0
        }),
    ];
    for query in ["q=\"quoted\"", "a=b c", "x=<script>", "y=%zz", "z=é"] {
        for (f, method, path, shaped) in &cases {
            let got = answer(&env, *f, event(&t, method, path, query, None, false)).await;
            assert_eq!(got["statusCode"], 400, "{f:?} ?{query}: {got}");
            let body = body_of(&got);
            assert!(shaped(&body), "{f:?} ?{query}: {body}");
            assert_eq!(got["headers"]["x-request-id"], "raw-event-test");
        }
    }
}

#[tokio::test]
async fn lambda_https_own_conversion_panics_on_such_a_query() {
    // Why the check exists: the same event, converted by lambda_http as it comes.
    let env = Env::new().await;
    let t = env.tenant().await;
    let raw = event(
        &t,
        "GET",
        "/v1/assignments/asgn_x",
        "q=\"quoted\"",
        None,
        false,
    );
    let converted =
        std::panic::catch_unwind(|| lambda_http::request::from_str(&raw.to_string()).map(|_| ()));
    assert!(
        converted.is_err(),
        "lambda_http no longer panics: the check may go"
    );
}

#[tokio::test]
async fn bodies_and_headers_the_check_cannot_pass_are_400s_that_change_nothing() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let before = env.items().await.len();
    let assign =
        |body: Option<&str>, base64| event(&t, "POST", "/v1/flows/assign", "", body, base64);
    let got = answer(&env, ASSIGN_FLOW, assign(Some("not base64 at all!"), true)).await;
    assert_eq!(
        (got["statusCode"].clone(), body_of(&got)["field"].clone()),
        (json!(400), json!("body"))
    );
    // A path as API Gateway hands it over, decoded: the function reads its parameters.
    let mut spaced = event(&t, "GET", "/v1/assignments/asgn x", "", None, false);
    spaced["pathParameters"] = json!({"assignmentId": "asgn x"});
    let got = answer(&env, GET_ASSIGNMENT, spaced.clone()).await;
    assert_eq!(got["statusCode"], 404, "{got}");
    spaced["headers"]["x-odd"] = json!("line\nbreak");
    let got = answer(&env, GET_ASSIGNMENT, spaced).await;
    assert_eq!(
        (got["statusCode"].clone(), body_of(&got)["field"].clone()),
        (json!(400), json!("headers"))
    );
    assert_eq!(env.items().await.len(), before, "nothing was written");
}

#[tokio::test]
async fn sound_events_pass_unchanged_latin1_headers_and_binary_bodies_included() {
    let env = Env::new().await;
    let t = env.tenant().await;
    use base64::Engine;
    // A body that is not UTF-8, as API Gateway hands it: base64. The function's own answer.
    let bytes = base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, b'{']);
    let got = answer(
        &env,
        ASSIGN_FLOW,
        event(&t, "POST", "/v1/flows/assign", "", Some(&bytes), true),
    )
    .await;
    assert_eq!(got["statusCode"], 400);
    assert_eq!(body_of(&got)["field"], "body", "{got}");
    // A Latin-1 byte in X-Request-ID is passed through; the function makes its own id.
    let mut raw = event(
        &t,
        "GET",
        "/v1/assignments/asgn_missing",
        "a=1&b=two",
        None,
        false,
    );
    raw["headers"]["x-request-id"] = json!("caf\u{e9}");
    let got = answer(&env, GET_ASSIGNMENT, raw).await;
    assert_eq!(got["statusCode"], 404, "{got}");
    assert_ne!(got["headers"]["x-request-id"], "caf\u{e9}");
}
