//! The routes anyone may call: consume (its `pk_…` key sits in front-end code) and the hosted
//! accept page (no key). A flood from one client address is refused on that address's own
//! window and never spends the key's; a refused key is refused again without DynamoDB.

use futures::future::join_all;
use inflow_tests::{accept_page, call, consume, endpoints::*, Answer, Env, Tenant};
use serde_json::{json, Value};

/// An IPv6 address of a /64 no other run uses (counters are kept per minute in the emulator).
fn a_network() -> String {
    let r = inflow::ids::random(8).into_bytes();
    let word = |a: u8, b: u8| u16::from(a) << 8 | u16::from(b);
    format!("2001:db8:{:x}:{:x}", word(r[0], r[1]), word(r[2], r[3]))
}

async fn invite(env: &Env, t: &Tenant) -> Value {
    let c = call("POST", "/admin/v1/flows:createJoinOrganization")
        .bearer(&t.admin_key)
        .json(&json!({"email": format!("{}@example.com", inflow::ids::random(8).to_lowercase())}));
    let res = env.send(CREATE_JOIN_ORGANIZATION_FLOW, c).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    res.body
}

fn statuses(answers: &[Answer]) -> (usize, usize) {
    let limited = answers.iter().filter(|a| a.status == 429).count();
    (answers.len() - limited, limited)
}

#[tokio::test]
async fn a_flood_from_one_address_leaves_invitees_the_key_s_window() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let flow = invite(&env, &t).await;
    let flooder = a_network();
    inflow_tests::wait_for_window_with(20).await;

    let junk = "inv_AAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:consume";
    let flood = (0..30).map(|_| {
        env.send(
            CONSUME_FLOW,
            consume(&t, junk).from_address(&format!("{flooder}::1")),
        )
    });
    let answers = join_all(flood).await;
    assert_eq!(statuses(&answers), (20, 10), "20 an address, exactly");
    let refused = answers.iter().find(|a| a.status == 429).unwrap();
    assert_eq!(
        refused.body["code"], "RESOURCE_EXHAUSTED",
        "{}",
        refused.raw
    );
    assert_eq!(refused.header("x-ratelimit-limit"), Some("20"));
    assert!(refused.header("retry-after").is_some());
    // Another host of the same /64 is the same client.
    let neighbour = env
        .send(
            CONSUME_FLOW,
            consume(&t, junk).from_address(&format!("{flooder}::2")),
        )
        .await;
    assert_eq!(neighbour.status, 429);

    // The invitee, elsewhere, gets through; the key counted only what the address admitted.
    let secret = flow["secret"].as_str().unwrap();
    let accepted = env
        .send(
            CONSUME_FLOW,
            consume(&t, &format!("{secret}:consume")).from_address("203.0.113.77"),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.raw);
    assert_eq!(accepted.header("x-ratelimit-limit"), Some("100"));
    assert_eq!(accepted.header("x-ratelimit-remaining"), Some("79"));
}

/// Sends `c` twice through `function` on a counting app: the first asks the table, the second
/// nothing.
async fn refused_twice(
    env: &Env,
    function: inflow_tests::Function,
    c: impl Fn() -> inflow_tests::Call,
) {
    let (app, calls) = env.counted();
    let first = Answer::from(function.call(&app, c().request()).await);
    assert_eq!(first.status, 401, "{}", first.raw);
    let spent = calls.total();
    assert!(spent > 0, "the first try asks the table");
    let again = Answer::from(function.call(&app, c().request()).await);
    assert_eq!(again.status, 401);
    assert_eq!(calls.total(), spent, "the second asks nothing");
}

#[tokio::test]
async fn a_refused_key_is_refused_again_without_dynamodb() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let unknown = format!("sk_{}", inflow::ids::random(32));
    refused_twice(&env, GET_ASSIGNMENT, || {
        call("GET", "/v1/assignments/asgn_x")
            .bearer(&unknown)
            .param("id", "asgn_x")
    })
    .await;

    let unknown = format!("pk_{}", inflow::ids::random(32));
    let junk = "inv_AAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:consume";
    refused_twice(&env, CONSUME_FLOW, || {
        let mut c = consume(&t, junk);
        c.clear_header("userhub-api-key");
        c.header("userhub-api-key", &unknown)
    })
    .await;

    // A revoked key too.
    let revoked = env.tenant().await;
    inflow::operator::revoke_key(
        &env.app,
        &revoked.org_id,
        &revoked.admin_key_id,
        chrono::Utc::now(),
    )
    .await
    .expect("revoked");
    refused_twice(&env, GET_ASSIGNMENT, || {
        call("GET", "/v1/assignments/asgn_x")
            .bearer(&revoked.admin_key)
            .param("id", "asgn_x")
    })
    .await;
}

#[tokio::test]
async fn a_flood_of_the_accept_page_from_one_address_is_refused_with_a_page() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let flow = invite(&env, &t).await;
    let flooder = format!("{}::1", a_network());
    inflow_tests::wait_for_window_with(20).await;
    let junk = "inv_AAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let flood = (0..25).map(|_| env.send(ACCEPT_PAGE, accept_page(junk).from_address(&flooder)));
    let answers = join_all(flood).await;
    assert_eq!(statuses(&answers), (20, 5));
    let busy = answers.iter().find(|a| a.status == 429).unwrap();
    assert!(busy.raw.contains("data-state=\"busy\""), "{}", busy.raw);
    assert!(busy.header("retry-after").is_some());
    assert_eq!(busy.header("referrer-policy"), Some("no-referrer"));

    let secret = flow["secret"].as_str().unwrap();
    let page = env
        .send(
            ACCEPT_PAGE,
            accept_page(secret).from_address("203.0.113.79"),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.raw);
}

#[tokio::test]
async fn an_address_refused_in_its_window_is_refused_again_without_dynamodb() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let (app, calls) = env.counted();
    let flooder = format!("{}::1", a_network());
    inflow_tests::wait_for_window_with(20).await;
    let junk = "inv_AAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let page = || async {
        let c = accept_page(junk).from_address(&flooder);
        Answer::from(ACCEPT_PAGE.call(&app, c.request()).await)
    };
    for _ in 0..20 {
        assert_ne!(page().await.status, 429, "the window admits 20");
    }
    assert_eq!(
        page().await.status,
        429,
        "the 21st is refused by its window"
    );
    let spent = calls.total();
    for _ in 0..10 {
        let again = page().await;
        assert_eq!(again.status, 429);
        assert!(again.header("retry-after").is_some());
    }
    assert_eq!(calls.total(), spent, "refused again with no DynamoDB call");
    // Another address still asks the table, and gets in.
    let c = accept_page(junk).from_address("203.0.113.80");
    assert_ne!(
        Answer::from(ACCEPT_PAGE.call(&app, c.request()).await).status,
        429
    );
    assert!(calls.total() > spent);

    // Consume likewise, per publishable key.
    let junk = "inv_AAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:consume";
    let consumer = format!("{}::1", a_network());
    let once = || async {
        let c = consume(&t, junk).from_address(&consumer);
        Answer::from(CONSUME_FLOW.call(&app, c.request()).await)
    };
    for _ in 0..21 {
        once().await;
    }
    let spent = calls.total();
    for _ in 0..5 {
        assert_eq!(once().await.status, 429);
    }
    assert_eq!(
        calls.total(),
        spent,
        "consume refused again with no DynamoDB call"
    );
}
