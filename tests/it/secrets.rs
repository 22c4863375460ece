//! Keys are stored only as keyed hashes, and never logged.

use inflow_tests::{assign, assign_body, endpoints::*, Env};

#[tokio::test]
async fn no_plaintext_key_or_secret_in_the_table() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let (_, webhook_secret) = env.webhook(&t, "https://example.com/hook").create().await;
    assert_eq!(
        env.send(ASSIGN_FLOW, assign(&t, &assign_body(&t)))
            .await
            .status,
        200
    );
    let dump = format!("{:?}", env.items().await);
    for secret in [
        t.admin_key.as_str(),
        t.user_key.as_str(),
        webhook_secret.as_str(),
    ] {
        assert!(!dump.contains(secret), "a secret is stored in plain text");
        // Not even the random part without its prefix.
        assert!(
            !dump.contains(&secret[6..]),
            "a secret is stored in plain text"
        );
    }
    assert!(
        dump.contains(&env.app.hasher.hash_api_key(&t.admin_key)),
        "the keyed hash is what is stored"
    );
}

#[tokio::test]
async fn logs_carry_the_request_id_and_never_a_key() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let (captured, _guard) = inflow_tests::capture_logs();

    let ok = env
        .send(
            ASSIGN_FLOW,
            assign(&t, &assign_body(&t)).header("x-request-id", "req-logged-1"),
        )
        .await;
    assert_eq!(ok.status, 200);
    let bad = env
        .send(
            ASSIGN_FLOW,
            assign(&t, &assign_body(&t))
                .header("authorization", "Bearer sk_wrongwrongwrong")
                .header("x-request-id", "req-logged-2"),
        )
        .await;
    assert_eq!(bad.status, 401);

    let logs = captured.text();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
        .collect();
    let finished: Vec<_> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request finished")
        .collect();
    assert_eq!(finished.len(), 2, "{logs}");
    assert_eq!(finished[0]["span"]["request_id"], "req-logged-1");
    assert_eq!(finished[0]["span"]["org_id"], t.org_id.as_str());
    assert_eq!(finished[0]["fields"]["status"], 200);
    assert_eq!(finished[1]["span"]["request_id"], "req-logged-2");
    for secret in [
        t.admin_key.as_str(),
        "sk_wrongwrongwrong",
        t.user_key.as_str(),
    ] {
        assert!(!logs.contains(secret), "a key was logged");
    }
}
