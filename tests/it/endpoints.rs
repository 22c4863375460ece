//! Webhook endpoints over the API (`/v1/webhooks/endpoints…`) with the organization's admin
//! key: managing them, and what the worker then delivers to them (real HTTP receivers).

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, KeyInit, Mac};
use inflow::App;
use inflow_tests::{
    assign, assign_body, call, endpoints, endpoints::*, receiver::Receiver, Answer, Env, Tenant,
};
use serde_json::{json, Value};
use sha2::Sha256;

const IDLE: Duration = Duration::from_millis(1500);

async fn create(env: &Env, t: &Tenant, body: Value) -> Value {
    let res = env
        .send(
            CREATE_WEBHOOK_ENDPOINT,
            endpoints("POST", t, None, "").json(&body),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.raw);
    res.body
}

/// The signatures of a delivery that verify with `secret` (Standard Webhooks: several
/// space-separated `v1,` signatures may stand in one header).
fn verified_by(
    secret: &str,
    headers: &std::collections::HashMap<String, String>,
    body: &str,
) -> usize {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let signed = format!(
        "{}.{}.{}",
        headers["webhook-id"], headers["webhook-timestamp"], body
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    headers["webhook-signature"]
        .split(' ')
        .filter(|sig| *sig == expected)
        .count()
}

async fn assign_once(env: &Env, t: &Tenant) {
    let res = env.send(ASSIGN_FLOW, assign(t, &assign_body(t))).await;
    assert_eq!(res.status, 200, "{}", res.raw);
}

async fn pump(env: &Env) {
    env.pump_webhooks(&env.webhook_worker(&[0], false).await, IDLE)
        .await;
}

#[tokio::test]
async fn an_organization_manages_its_endpoints() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let (logs, guard) = inflow_tests::capture_logs();
    let made = create(
        &env,
        &t,
        json!({"url": "https://hooks.acme.example/a", "events": ["flow.assigned", "flow.completed"], "description": "Production"}),
    )
    .await;
    drop(guard);
    let secret = made["secret"].as_str().unwrap();
    assert!(logs.text().contains("request finished"));
    assert!(
        !logs.text().contains(secret),
        "the signing secret was logged"
    );
    let id = made["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("whk_"), "{made}");
    assert!(made["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(made["url"], "https://hooks.acme.example/a");
    assert_eq!(made["events"], json!(["flow.assigned", "flow.completed"]));
    assert_eq!(made["description"], "Production");
    assert_eq!(made["disabled"], false);
    assert!(made["createdAt"].is_string() && made["updatedAt"].is_string());
    // Every event type when none are named.
    let all = create(&env, &t, json!({"url": "https://hooks.acme.example/b"})).await;
    assert_eq!(
        all["events"].as_array().unwrap().len(),
        inflow::jobs::EventKind::ALL.len()
    );

    let got = env
        .send(GET_WEBHOOK_ENDPOINT, endpoints("GET", &t, Some(&id), ""))
        .await;
    assert_eq!(got.status, 200, "{}", got.raw);
    assert!(got.body.get("secret").is_none(), "the secret is shown once");
    let mut expected = made.clone();
    expected.as_object_mut().unwrap().remove("secret");
    assert_eq!(got.body, expected);

    let listed = env
        .send(LIST_WEBHOOK_ENDPOINTS, endpoints("GET", &t, None, ""))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.raw);
    let ids: Vec<&str> = listed.body["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), all["id"].as_str().unwrap()]);

    let change = json!({"url": "https://hooks.acme.example/c", "events": ["flow.overdue"], "description": null, "disabled": true});
    let patched = env
        .send(
            UPDATE_WEBHOOK_ENDPOINT,
            endpoints("PATCH", &t, Some(&id), "").json(&change),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.raw);
    assert_eq!(patched.body["url"], "https://hooks.acme.example/c");
    assert_eq!(patched.body["events"], json!(["flow.overdue"]));
    assert_eq!(patched.body["description"], Value::Null);
    assert_eq!(patched.body["disabled"], true);

    let gone = env
        .send(
            DELETE_WEBHOOK_ENDPOINT,
            endpoints("DELETE", &t, Some(&id), ""),
        )
        .await;
    assert_eq!((gone.status, gone.raw.as_str()), (204, ""));
    for f in [GET_WEBHOOK_ENDPOINT, DELETE_WEBHOOK_ENDPOINT] {
        let method = if f == GET_WEBHOOK_ENDPOINT {
            "GET"
        } else {
            "DELETE"
        };
        let res = env.send(f, endpoints(method, &t, Some(&id), "")).await;
        assert_eq!(
            (res.status, res.body["error"].as_str()),
            (404, Some("not_found")),
            "{}",
            res.raw
        );
    }
    let listed = env
        .send(LIST_WEBHOOK_ENDPOINTS, endpoints("GET", &t, None, ""))
        .await;
    assert_eq!(listed.body["endpoints"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn deliveries_follow_the_endpoints_settings() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    let made = create(
        &env,
        &t,
        json!({"url": receiver.url, "events": ["flow.assigned"]}),
    )
    .await;
    let id = made["id"].as_str().unwrap();
    let secret = made["secret"].as_str().unwrap();
    assign_once(&env, &t).await;
    pump(&env).await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(verified_by(secret, &got[0].headers, &got[0].body), 1);

    // Disabled: nothing more arrives.
    let disable = endpoints("PATCH", &t, Some(id), "").json(&json!({"disabled": true}));
    assert_eq!(env.send(UPDATE_WEBHOOK_ENDPOINT, disable).await.status, 200);
    assign_once(&env, &t).await;
    pump(&env).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "a disabled endpoint gets nothing"
    );

    // Enabled again, subscribed to another type: only that type arrives.
    let change = json!({"disabled": false, "events": ["flow.completed"]});
    let res = env
        .send(
            UPDATE_WEBHOOK_ENDPOINT,
            endpoints("PATCH", &t, Some(id), "").json(&change),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assign_once(&env, &t).await;
    pump(&env).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "not subscribed to flow.assigned"
    );
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_for_its_overlap() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let receiver = Receiver::start(vec![], 200).await;
    let made = create(&env, &t, json!({"url": receiver.url})).await;
    let id = made["id"].as_str().unwrap();
    let old = made["secret"].as_str().unwrap();
    let rotated = env
        .send(
            ROTATE_WEBHOOK_ENDPOINT_SECRET,
            endpoints("POST", &t, Some(id), "/rotate-secret"),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.raw);
    let new = rotated.body["secret"].as_str().unwrap();
    assert!(new.starts_with("whsec_") && new != old);
    let until = chrono::DateTime::parse_from_rfc3339(
        rotated.body["previousSecretExpiresAt"].as_str().unwrap(),
    )
    .unwrap();
    let overlap = until.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(overlap > chrono::Duration::hours(23) && overlap <= chrono::Duration::hours(24));

    assign_once(&env, &t).await;
    pump(&env).await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let (headers, body) = (&got[0].headers, &got[0].body);
    assert_eq!(headers["webhook-signature"].split(' ').count(), 2);
    assert_eq!(verified_by(new, headers, body), 1, "{headers:?}");
    assert_eq!(verified_by(old, headers, body), 1, "{headers:?}");

    // Once the overlap is over (moved into the past here), only the new secret signs.
    env.app
        .table
        .client()
        .update_item()
        .table_name(&env.app.config.table_name)
        .key("PK", inflow_tests::s(&format!("ORG#{}", t.org_id)))
        .key("SK", inflow_tests::s(&format!("WEBHOOK#{id}")))
        .update_expression("SET previous_until = :past")
        .expression_attribute_values(":past", inflow_tests::s("2020-01-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    assign_once(&env, &t).await;
    pump(&env).await;
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    let (headers, body) = (&got[1].headers, &got[1].body);
    assert_eq!(headers["webhook-signature"].split(' ').count(), 1);
    assert_eq!(verified_by(new, headers, body), 1);
    assert_eq!(verified_by(old, headers, body), 0);
}

#[tokio::test]
async fn a_test_event_goes_to_that_endpoint_alone_through_the_delivery_path() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let tested = Receiver::start(vec![(503, vec![])], 200).await;
    let other = Receiver::start(vec![], 200).await;
    // Subscribed to something else entirely: a test event goes to it anyway.
    let made = create(
        &env,
        &t,
        json!({"url": tested.url, "events": ["flow.overdue"]}),
    )
    .await;
    create(&env, &t, json!({"url": other.url})).await;
    let id = made["id"].as_str().unwrap();
    let res = env
        .send(
            TEST_WEBHOOK_ENDPOINT,
            endpoints("POST", &t, Some(id), "/test").header("x-request-id", "req-test-1"),
        )
        .await;
    assert_eq!(res.status, 202, "{}", res.raw);
    let event_id = res.body["eventId"].as_str().unwrap().to_owned();
    env.pump_webhooks(&env.webhook_worker(&[0, 0], false).await, IDLE)
        .await;
    assert!(other.received().is_empty(), "only the endpoint tested");
    let got = tested.received();
    assert_eq!(got.len(), 2, "a 503, then retried like any delivery");
    let event: Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(event["type"], "webhook.test");
    assert_eq!(event["id"], event_id.as_str());
    assert_eq!(got[1].headers["webhook-id"], event_id);
    assert_eq!(event["organizationId"], t.org_id.as_str());
    assert_eq!(event["requestId"], "req-test-1");
    assert_eq!(event["data"]["endpointId"], id);
    assert_eq!(
        verified_by(
            made["secret"].as_str().unwrap(),
            &got[1].headers,
            &got[1].body
        ),
        1
    );
    let delivered = env
        .send(
            LIST_WEBHOOK_DELIVERIES,
            call("GET", "/v1/webhooks/deliveries")
                .bearer(&t.admin_key)
                .query("status", "delivered"),
        )
        .await;
    let d = &delivered.body["deliveries"][0];
    assert_eq!(
        (
            d["eventType"].as_str(),
            d["eventId"].as_str(),
            d["attemptCount"].as_u64()
        ),
        (Some("webhook.test"), Some(event_id.as_str()), Some(2))
    );

    // A disabled endpoint takes no test event.
    let disable = endpoints("PATCH", &t, Some(id), "").json(&json!({"disabled": true}));
    env.send(UPDATE_WEBHOOK_ENDPOINT, disable).await;
    let res = env
        .send(
            TEST_WEBHOOK_ENDPOINT,
            endpoints("POST", &t, Some(id), "/test"),
        )
        .await;
    assert_eq!(
        (res.status, res.body["error"].as_str()),
        (409, Some("conflict"))
    );
}

#[tokio::test]
async fn refused_urls_and_bad_input_are_a_400_that_changes_nothing() {
    let env = Env::new().await;
    let t = env.tenant().await;
    // Deployed mode: the delivery rules apply when a URL is set.
    let mut strict = env.app.clone();
    strict.config.allow_private_targets = false;
    let strict: &App = &strict;
    let send = |f: inflow_tests::Function, c: inflow_tests::Call| async move {
        Answer::from(f.call(strict, c.request()).await)
    };
    let made = create(&env, &t, json!({"url": "https://hooks.acme.example/a"})).await;
    let id = made["id"].as_str().unwrap();
    for (body, field) in [
        (json!({"url": "http://127.0.0.1:8080/hook"}), "url"),
        (json!({"url": "http://localhost:8080/hook"}), "url"),
        (
            json!({"url": "https://169.254.169.254/latest/meta-data"}),
            "url",
        ),
        (json!({"url": "http://[::1]/hook"}), "url"),
        (json!({"url": "https://10.1.2.3/hook"}), "url"),
        (json!({"url": "ftp://hooks.acme.example/a"}), "url"),
        (
            json!({"url": "https://user:pw@hooks.acme.example/a"}),
            "url",
        ),
        (json!({"url": "not a url"}), "url"),
        (json!({}), "url"),
        (
            json!({"url": "https://hooks.acme.example/a", "events": ["flow.nope"]}),
            "events",
        ),
        (
            json!({"url": "https://hooks.acme.example/a", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://hooks.acme.example/a", "events": ["webhook.test"]}),
            "events",
        ),
        (
            json!({"url": "https://hooks.acme.example/a", "events": "flow.assigned"}),
            "events",
        ),
        (
            json!({"url": "https://hooks.acme.example/a", "description": "a\nb"}),
            "description",
        ),
    ] {
        let res = send(
            CREATE_WEBHOOK_ENDPOINT,
            endpoints("POST", &t, None, "").json(&body),
        )
        .await;
        assert_eq!(res.status, 400, "{body}: {}", res.raw);
        assert_eq!(
            (res.body["error"].as_str(), res.body["field"].as_str()),
            (Some("invalid_request"), Some(field)),
            "{body}: {}",
            res.raw
        );
        if body.get("url").is_some_and(Value::is_string) && field == "url" {
            let res = send(
                UPDATE_WEBHOOK_ENDPOINT,
                endpoints("PATCH", &t, Some(id), "").json(&json!({"url": body["url"]})),
            )
            .await;
            assert_eq!(res.status, 400, "PATCH {body}: {}", res.raw);
        }
    }
    let res = send(
        UPDATE_WEBHOOK_ENDPOINT,
        endpoints("PATCH", &t, Some(id), "").json(&json!({"disabled": "no"})),
    )
    .await;
    assert_eq!(res.body["field"], "disabled", "{}", res.raw);
    let listed = env
        .send(LIST_WEBHOOK_ENDPOINTS, endpoints("GET", &t, None, ""))
        .await;
    let mut expected = made.clone();
    expected.as_object_mut().unwrap().remove("secret");
    assert_eq!(
        listed.body["endpoints"],
        json!([expected]),
        "nothing changed"
    );
}

#[tokio::test]
async fn another_organizations_endpoint_is_not_found() {
    let env = Env::new().await;
    let a = env.tenant().await;
    let b = env.tenant().await;
    let made = create(&env, &a, json!({"url": "https://hooks.acme.example/a"})).await;
    let id = made["id"].as_str().unwrap();
    for (f, method, suffix) in [
        (GET_WEBHOOK_ENDPOINT, "GET", ""),
        (UPDATE_WEBHOOK_ENDPOINT, "PATCH", ""),
        (DELETE_WEBHOOK_ENDPOINT, "DELETE", ""),
        (ROTATE_WEBHOOK_ENDPOINT_SECRET, "POST", "/rotate-secret"),
        (TEST_WEBHOOK_ENDPOINT, "POST", "/test"),
    ] {
        let c = endpoints(method, &b, Some(id), suffix).json(&json!({"disabled": true}));
        let res = env.send(f, c).await;
        assert_eq!(res.status, 404, "{f:?}: {}", res.raw);
    }
    let listed = env
        .send(LIST_WEBHOOK_ENDPOINTS, endpoints("GET", &b, None, ""))
        .await;
    assert_eq!(listed.body["endpoints"], json!([]));
    let still = env
        .send(GET_WEBHOOK_ENDPOINT, endpoints("GET", &a, Some(id), ""))
        .await;
    assert_eq!(still.body["disabled"], false);
    // No key, no access.
    let res = env
        .send(
            LIST_WEBHOOK_ENDPOINTS,
            call("GET", "/v1/webhooks/endpoints"),
        )
        .await;
    assert_eq!(res.status, 401);
}

#[tokio::test]
async fn an_organization_has_at_most_its_limit_of_endpoints_under_concurrency() {
    let env = Env::new().await;
    let t = env.tenant_with(inflow::model::Tier::Enterprise).await;
    let max = inflow::webhooks::MAX_ENDPOINTS as usize;
    let all = futures::future::join_all((0..max + 5).map(|i| {
        let body = json!({ "url": format!("https://hooks{i}.acme.example/") });
        env.send(
            CREATE_WEBHOOK_ENDPOINT,
            endpoints("POST", &t, None, "").json(&body),
        )
    }))
    .await;
    let made = all.iter().filter(|a| a.status == 201).count();
    let refused = all.iter().filter(|a| a.status == 409).count();
    assert_eq!((made, refused), (max, 5), "{all:?}");
    let listed = env
        .send(LIST_WEBHOOK_ENDPOINTS, endpoints("GET", &t, None, ""))
        .await;
    assert_eq!(listed.body["endpoints"].as_array().unwrap().len(), max);
    // Deleting one makes room for one.
    let id = listed.body["endpoints"][0]["id"].as_str().unwrap();
    env.send(
        DELETE_WEBHOOK_ENDPOINT,
        endpoints("DELETE", &t, Some(id), ""),
    )
    .await;
    create(&env, &t, json!({"url": "https://hooks.acme.example/again"})).await;
}

#[tokio::test]
async fn an_organization_has_at_most_three_endpoints_on_one_host() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let max = inflow::webhooks::MAX_ENDPOINTS_PER_HOST;
    for i in 0..max {
        create(
            &env,
            &t,
            json!({"url": format!("https://victim.example/{i}")}),
        )
        .await;
    }
    let refused = env
        .send(
            CREATE_WEBHOOK_ENDPOINT,
            endpoints("POST", &t, None, "").json(&json!({"url": "https://VICTIM.example:8443/x"})),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.raw);
    assert_eq!(refused.body["error"], "conflict");
    assert!(refused.body["message"]
        .as_str()
        .unwrap()
        .contains("at most 3 webhook endpoints on one host"));
    // Moving another endpoint there is refused too; moving one away makes room.
    let other = create(&env, &t, json!({"url": "https://elsewhere.example/"})).await;
    let other_id = other["id"].as_str().unwrap();
    let moved = env
        .send(
            UPDATE_WEBHOOK_ENDPOINT,
            endpoints("PATCH", &t, Some(other_id), "")
                .json(&json!({"url": "https://victim.example/3"})),
        )
        .await;
    assert_eq!(moved.status, 409, "{}", moved.raw);
    let listed = env
        .send(LIST_WEBHOOK_ENDPOINTS, endpoints("GET", &t, None, ""))
        .await;
    let first = listed.body["endpoints"][0]["id"].as_str().unwrap();
    let away = env
        .send(
            UPDATE_WEBHOOK_ENDPOINT,
            endpoints("PATCH", &t, Some(first), "").json(&json!({"url": "https://new.example/"})),
        )
        .await;
    assert_eq!(away.status, 200, "{}", away.raw);
    let moved = env
        .send(
            UPDATE_WEBHOOK_ENDPOINT,
            endpoints("PATCH", &t, Some(other_id), "")
                .json(&json!({"url": "https://victim.example/3"})),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.raw);
    // An endpoint's own URL change on its host is no new place.
    let same = env
        .send(
            UPDATE_WEBHOOK_ENDPOINT,
            endpoints("PATCH", &t, Some(other_id), "")
                .json(&json!({"url": "https://victim.example/4"})),
        )
        .await;
    assert_eq!(same.status, 200, "{}", same.raw);
}
