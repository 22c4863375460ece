//! The hosted accept page (`GET` / `POST /accept`) against the emulator: what it shows, that a
//! form post accepts exactly once, a page per state with its status, its safety headers, and
//! the bounded cost of unauthenticated requests. (`tools/inflow_dev/tests/stack/browser_test.py` drives it in
//! Chromium through the local stack.)

use inflow::App;
use inflow_tests::{
    accept_form, accept_page, admin_flow, call, endpoints::*, invitations, organization, Answer,
    Env, Tenant,
};
use serde_json::{json, Value};

async fn page(app: &App, c: inflow_tests::Call) -> Answer {
    Answer::from(
        inflow_tests::endpoints::ACCEPT_PAGE
            .call(app, c.request())
            .await,
    )
}

/// A flows-API invitation; its body (with `id` and `secret`).
async fn invite(env: &Env, t: &Tenant, body: Value) -> Value {
    let c = call("POST", "/admin/v1/flows:createJoinOrganization")
        .bearer(&t.admin_key)
        .json(&body);
    let res = env.send(CREATE_JOIN_ORGANIZATION_FLOW, c).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    res.body
}

fn state(res: &Answer) -> &str {
    res.raw
        .split("data-state=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
}

fn assert_page(res: &Answer, status: u16, expected_state: &str) {
    assert_eq!(
        (res.status, state(res)),
        (status, expected_state),
        "{}",
        res.raw
    );
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(res.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let csp = res.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.starts_with("default-src 'none'") && csp.contains("form-action 'self'"),
        "{csp}"
    );
    assert!(res.header("x-request-id").is_some());
    assert!(res.header("set-cookie").is_none());
}

#[tokio::test]
async fn the_page_shows_the_invitation_and_a_form_post_accepts_it() {
    let env = Env::new().await;
    let t = env.tenant().await;
    // An invitations-API invitation: it names a training flow; its inviter is the organization.
    let to = "joiner@example.com";
    let res = env
        .send(
            CREATE_INVITATION,
            invitations("POST", &t, "").json(&json!({ "email": to })),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.raw);
    let jobs = env.email_jobs().await;
    let secret = env.secret_in(&jobs[0]);

    let shown = page(&env.app, accept_page(&secret)).await;
    assert_page(&shown, 200, "open");
    for expected in [
        "Join Acme Inc",
        "<dt>Training flow</dt><dd>Customer Onboarding</dd>",
        "<dt>Invited by</dt><dd>An administrator of Acme Inc</dd>",
        "<dt>Invitation for</dt><dd>joiner@example.com</dd>",
        "<dt>Expires</dt>",
        &format!("name=\"secret\" value=\"{secret}\""),
    ] {
        assert!(shown.raw.contains(expected), "{expected}\n{}", shown.raw);
    }

    let accepted = page(&env.app, accept_form(&secret)).await;
    assert_page(&accepted, 200, "accepted");
    assert!(
        accepted.raw.contains(
            "You are now a member of Acme Inc, in the training flow “Customer Onboarding”."
        ),
        "{}",
        accepted.raw
    );
    // Through the APIs: accepted (seed 001), COMPLETED (seed 003), one invitation.accepted.
    let got = env.send(GET_INVITATION, invitations("GET", &t, "/1")).await;
    assert_eq!(got.body["state"], "accepted", "{}", got.raw);
    let flow_id = got.body["invitation_flow_id"].as_str().unwrap();
    let flow = env.send(GET_FLOW, admin_flow("GET", &t, flow_id)).await;
    assert_eq!(flow.body["state"], "COMPLETED", "{}", flow.raw);
    assert_eq!(flow.body["user"]["email"], to);
    let accepted_events = env
        .webhook_jobs()
        .await
        .into_iter()
        .filter(|e| e.kind == "invitation.accepted")
        .count();
    assert_eq!(accepted_events, 1);

    // The link is used up: both the page and a second post say so.
    assert_page(
        &page(&env.app, accept_page(&secret)).await,
        409,
        "already-accepted",
    );
    assert_page(
        &page(&env.app, accept_form(&secret)).await,
        409,
        "already-accepted",
    );
}

#[tokio::test]
async fn expired_canceled_replaced_and_unknown_links_each_get_their_page() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let canceled = invite(&env, &t, json!({"email": "c@example.com"})).await;
    let res = env
        .send(
            CANCEL_FLOW,
            admin_flow(
                "POST",
                &t,
                &format!("{}:cancel", canceled["id"].as_str().unwrap()),
            ),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    let expiring = invite(&env, &t, json!({"email": "e@example.com", "ttl": "1s"})).await;
    env.email_jobs().await; // theirs: only the re-sent invitation's links are wanted below
                            // Re-sent: the first link dies, the new one works.
    let first = env
        .send(
            CREATE_INVITATION,
            invitations("POST", &t, "").json(&json!({"email": "r@example.com"})),
        )
        .await;
    assert_eq!(first.status, 201);
    let old = env.secret_in(&env.email_jobs().await[0]);
    env.send(
        CREATE_INVITATION,
        invitations("POST", &t, "").json(&json!({"email": "r@example.com"})),
    )
    .await;
    let new = env.secret_in(&env.email_jobs().await[0]);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;

    let secret = |v: &Value| v["secret"].as_str().unwrap().to_owned();
    let forged = format!(
        "{}.{}",
        inflow::ids::new(inflow::ids::Kind::Invitation),
        inflow::ids::random(40)
    );
    for (link, status, expected) in [
        (secret(&canceled), 410, "canceled"),
        (secret(&expiring), 410, "expired"),
        (old.clone(), 404, "unknown"),
        (forged, 404, "unknown"),
        ("nonsense".to_owned(), 404, "unknown"),
        (String::new(), 404, "unknown"),
    ] {
        assert_page(&page(&env.app, accept_page(&link)).await, status, expected);
        let posted = page(&env.app, accept_form(&link)).await;
        let (status, expected) = match link.is_empty() {
            true => (400, "incomplete"),
            false => (status, expected),
        };
        assert_page(&posted, status, expected);
    }
    assert_page(
        &page(&env.app, call("GET", "/accept")).await,
        404,
        "unknown",
    );
    assert_page(&page(&env.app, accept_page(&new)).await, 200, "open");
    // Nothing was accepted by any of those.
    let old_flow = env
        .send(
            GET_FLOW,
            admin_flow("GET", &t, canceled["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(old_flow.body["state"], "CANCELED");
    assert_page(&page(&env.app, accept_form(&new)).await, 200, "accepted");
}

#[tokio::test]
async fn an_unauthenticated_page_costs_no_call_for_a_malformed_link_and_one_read_to_refuse() {
    let env = Env::new().await;
    let (counted, calls) = env.counted();
    for junk in ["", "nonsense", "inv_x.short", "<script>", &"a".repeat(5000)] {
        calls.reset();
        page(&counted, accept_page(junk)).await;
        page(&counted, accept_form(junk)).await;
        assert_eq!(calls.total(), 0, "{junk:?}: {:?}", calls.touched());
    }
    let forged = format!(
        "{}.{}",
        inflow::ids::new(inflow::ids::Kind::Invitation),
        inflow::ids::random(40)
    );
    calls.reset();
    assert_page(&page(&counted, accept_page(&forged)).await, 404, "unknown");
    // The client address's window (one UpdateItem), then the read.
    assert_eq!(
        (
            calls.total(),
            calls.count("UpdateItem"),
            calls.count("GetItem")
        ),
        (2, 1, 1)
    );
    // A valid link: the invitation, then the names it shows in one batch.
    let t = env.tenant().await;
    let flow = invite(&env, &t, json!({"email": "a@example.com"})).await;
    calls.reset();
    let shown = page(&counted, accept_page(flow["secret"].as_str().unwrap())).await;
    assert_page(&shown, 200, "open");
    assert_eq!(
        (
            calls.count("GetItem"),
            calls.count("BatchGetItem"),
            calls.total()
        ),
        (1, 1, 3)
    );
}

#[tokio::test]
async fn names_are_escaped_and_the_secret_is_never_logged() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let hostile = "<script>alert(1)</script> & \"Co\"";
    let res = env
        .send(
            UPDATE_ORGANIZATION,
            organization("PATCH", &t).json(&json!({ "name": hostile })),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    let creator = env
        .user(&t, "eve@example.com")
        .name("<img src=x onerror=alert(1)>")
        .role(inflow::model::Role::Owner)
        .create()
        .await;
    let flow = invite(
        &env,
        &t,
        json!({"email": "a@example.com", "creatorUserId": creator.id, "displayName": "<b>A</b>"}),
    )
    .await;
    let secret = flow["secret"].as_str().unwrap();
    let (logs, guard) = inflow_tests::capture_logs();
    let shown = page(&env.app, accept_page(secret)).await;
    let accepted = page(&env.app, accept_form(secret)).await;
    drop(guard);
    for res in [&shown, &accepted] {
        assert!(
            !res.raw.contains("<script>") && !res.raw.contains("<img"),
            "{}",
            res.raw
        );
    }
    assert!(shown
        .raw
        .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"));
    assert!(shown
        .raw
        .contains("<dd>&lt;img src=x onerror=alert(1)&gt;</dd>"));
    assert_page(&accepted, 200, "accepted");
    let logged = logs.text();
    assert!(logged.contains("request finished"), "{logged}");
    assert!(!logged.contains(secret), "the secret was logged: {logged}");
}

#[tokio::test]
async fn fifty_simultaneous_posts_accept_once() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let flow = invite(&env, &t, json!({"email": "racer@example.com"})).await;
    let secret = flow["secret"].as_str().unwrap();
    let all = futures::future::join_all((0..50).map(|_| page(&env.app, accept_form(secret)))).await;
    // The winner, and any that read it open before it won, see it accepted; those that read
    // it completed are told it already was. Never anything else.
    assert!(
        all.iter().all(|r| matches!(
            (r.status, state(r)),
            (200, "accepted") | (409, "already-accepted")
        )),
        "{:?}",
        all.iter()
            .map(|r| (r.status, state(r).to_owned()))
            .collect::<Vec<_>>()
    );
    let accepted = env
        .webhook_jobs()
        .await
        .into_iter()
        .filter(|e| e.kind == "invitation.accepted")
        .count();
    assert_eq!(accepted, 1, "one transition");
}

#[tokio::test]
async fn a_link_read_before_a_resend_cannot_accept_after_it() {
    use inflow::invitations::consume::{self, By};
    let env = Env::new().await;
    let t = env.tenant().await;
    let resend = || invitations("POST", &t, "").json(&json!({"email": "slow@example.com"}));
    assert_eq!(env.send(CREATE_INVITATION, resend()).await.status, 201);
    let old = env.secret_in(&env.email_jobs().await[0]);
    // The page read the invitation with the old link; a resend lands before it accepts.
    let read = consume::by_secret(&env.app, &old).await.unwrap();
    assert_eq!(env.send(CREATE_INVITATION, resend()).await.status, 201);
    let now = chrono::Utc::now();
    let res = consume::consume_found(&env.app, read, By::Secret, "req_1", now).await;
    assert!(
        matches!(res, Err(inflow::Error::NotFound { .. })),
        "{res:?}"
    );
    let got = env.send(GET_INVITATION, invitations("GET", &t, "/1")).await;
    assert_eq!(got.body["state"], "pending", "{}", got.raw);
    // The new link accepts.
    let new = env.secret_in(&env.email_jobs().await[0]);
    assert_page(&page(&env.app, accept_form(&new)).await, 200, "accepted");
}
