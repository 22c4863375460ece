//! Per-key, per-minute limits counted in DynamoDB: exact under concurrency.

use inflow::model::Tier;
use inflow_tests::{assign, assign_body, endpoints::*, on_assignment, wait_for_window_with, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_130_concurrent_requests_on_a_standard_key_exactly_100_pass() {
    let env = Env::new().await;
    let t = env.tenant().await;
    // The tenant set-up made no authenticated request, so the key's window is empty.
    let id = "asgn_doesnotexistbutwellformed";
    wait_for_window_with(20).await;
    let calls = (0..130).map(|_| env.send(GET_ASSIGNMENT, on_assignment("GET", "", &t, id)));
    let answers = futures::future::join_all(calls).await;
    let passed = answers.iter().filter(|a| a.status == 404).count();
    let limited: Vec<_> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(
        (passed, limited.len()),
        (100, 30),
        "statuses: {:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let one = limited[0];
    assert_eq!(one.body["error"], "rate_limit_exceeded");
    let retry_after = one.body["retry_after"]
        .as_u64()
        .expect("retry_after is a number");
    assert!((1..=60).contains(&retry_after));
    assert_eq!(
        one.body["message"],
        format!("Too many requests. Please try again in {retry_after} seconds")
    );
    assert_eq!(
        one.header("retry-after"),
        Some(retry_after.to_string().as_str())
    );
    assert_eq!(one.header("x-ratelimit-limit"), Some("100"));
    assert_eq!(one.header("x-ratelimit-remaining"), Some("0"));
}

#[tokio::test]
async fn limits_are_per_key_and_follow_the_tier() {
    let env = Env::new().await;
    let standard = env.tenant().await;
    let enterprise = env.tenant_with(Tier::Enterprise).await;
    let res = env
        .send(ASSIGN_FLOW, assign(&enterprise, &assign_body(&enterprise)))
        .await;
    assert_eq!(res.header("x-ratelimit-limit"), Some("1000"));
    assert_eq!(res.header("x-ratelimit-remaining"), Some("999"));
    let res = env
        .send(ASSIGN_FLOW, assign(&standard, &assign_body(&standard)))
        .await;
    assert_eq!(res.header("x-ratelimit-remaining"), Some("99"));

    // Raising the tier raises the limit of existing keys at once.
    inflow::operator::set_tier(&env.app, &standard.org_id, Tier::Enterprise)
        .await
        .unwrap();
    let res = env
        .send(ASSIGN_FLOW, assign(&standard, &assign_body(&standard)))
        .await;
    assert_eq!(res.header("x-ratelimit-limit"), Some("1000"));
}
