//! Sequential round trips (`inflow_tests::calls`, what `make bench` counts): a read that needs
//! neither the caller nor the client address's admission runs at once with that check, and
//! what it read reaches only whom the check lets through.

use futures::future::join_all;
use inflow::App;
use inflow_tests::{
    accept_page, calls, endpoints, endpoints::*, invitations, organization, Answer, Env, Function,
    Tenant,
};
use serde_json::json;

/// The stages of the DynamoDB calls `c` made through `function` (calls of one stage ran at
/// once, each sorted by name), and its answer.
async fn staged(
    app: &App,
    rec: &calls::Recorder,
    function: Function,
    c: inflow_tests::Call,
) -> (Vec<Vec<String>>, Answer) {
    rec.reset();
    let answer = Answer::from(function.call(app, c.request()).await);
    let mut stages = calls::stages(&rec.calls());
    for stage in &mut stages {
        stage.sort();
    }
    (stages, answer)
}

fn stages(of: &[&[&str]]) -> Vec<Vec<String>> {
    of.iter()
        .map(|s| s.iter().map(|op| (*op).to_owned()).collect())
        .collect()
}

async fn create(env: &Env, t: &Tenant, email: &str) {
    let c = invitations("POST", t, "").json(&json!({ "email": email }));
    let res = env.send(CREATE_INVITATION, c).await;
    assert_eq!(res.status, 201, "{}", res.raw);
}

#[tokio::test]
async fn invitations_endpoints_read_the_flow_beside_authentication_once_the_org_is_known() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let (app, rec) = env.recorded();
    // The key's first request of a minute opens its window (a second UpdateItem): made here,
    // by an endpoint that does not learn the organization, with the minute's rest to spare.
    inflow_tests::wait_for_window_with(15).await;
    assert_eq!(
        env.send(GET_ORGANIZATION, organization("GET", &t))
            .await
            .status,
        200
    );

    // A container that has not served this organization yet cannot key the flow's read: it
    // follows authentication (the key's UpdateItem → the flow's GetItem → the invitation).
    let (cold, res) = staged(&app, &rec, GET_INVITATION, invitations("GET", &t, "/1")).await;
    assert_eq!(res.status, 404, "{}", res.raw);
    assert_eq!(cold, stages(&[&["UpdateItem"], &["GetItem"], &["Query"]]));

    // Once it has, the flow is read at once with authentication: one round trip fewer each.
    let (created, res) = staged(
        &app,
        &rec,
        CREATE_INVITATION,
        invitations("POST", &t, "").json(&json!({"email": "a@example.com"})),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.raw);
    assert_eq!(
        created,
        stages(&[
            &["GetItem", "UpdateItem"],
            &["GetItem", "GetItem"],
            &["UpdateItem"],
            &["PutItem"],
        ]),
        "was 5: UpdateItem → GetItem → GetItem + GetItem → UpdateItem → PutItem"
    );
    let (got, res) = staged(&app, &rec, GET_INVITATION, invitations("GET", &t, "/1")).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(res.body["email"], "a@example.com");
    assert_eq!(got, stages(&[&["GetItem", "UpdateItem"], &["Query"]]));
    let (listed, res) = staged(&app, &rec, LIST_INVITATIONS, invitations("GET", &t, "")).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(listed.len(), 2, "{listed:?}");
    let (deleted, res) = staged(
        &app,
        &rec,
        DELETE_INVITATION,
        invitations("DELETE", &t, "/1"),
    )
    .await;
    assert_eq!(res.status, 204, "{}", res.raw);
    assert_eq!(
        deleted,
        stages(&[&["GetItem", "UpdateItem"], &["Query"], &["UpdateItem"]])
    );
    // An unknown flow of the organization is still not found.
    let unknown = invitations("GET", &t, "").param("flow", "no-such-flow");
    let (_, res) = staged(&app, &rec, LIST_INVITATIONS, unknown).await;
    assert_eq!(res.status, 404, "{}", res.raw);
    assert!(res.body["message"].is_string() && res.body["errors"].is_object());

    // Another organization's key on these paths: the flow read under this organization is
    // never used for it (404, as before).
    let stranger = env.tenant().await;
    let mut c = invitations("GET", &t, "/1");
    c.clear_header("authorization");
    let c = c.bearer(&stranger.admin_key);
    let (_, res) = staged(&app, &rec, GET_INVITATION, c).await;
    assert_eq!(res.status, 404, "{}", res.raw);
    assert!(res.body["message"].is_string() && res.body["errors"].is_object());
}

#[tokio::test]
async fn the_accept_page_reads_the_invitation_beside_the_address_window() {
    let env = Env::new().await;
    let t = env.tenant().await;
    create(&env, &t, "b@example.com").await;
    let secret = env.secret_in(&env.email_jobs().await[0]);
    let (app, rec) = env.recorded();
    let (shown, res) = staged(&app, &rec, ACCEPT_PAGE, accept_page(&secret)).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(
        shown,
        stages(&[&["GetItem", "UpdateItem"], &["BatchGetItem"]]),
        "was 3: UpdateItem → GetItem → BatchGetItem"
    );

    // An address over its window gets the busy page, never the invitation it read.
    // An IPv6 /64 no other run uses (counters are kept per minute in the emulator).
    let r = inflow::ids::random(8).into_bytes();
    let flooder = format!("2001:db8:{:x}:{:x}::1", r[0], r[1]);
    let flooder = flooder.as_str();
    inflow_tests::wait_for_window_with(20).await;
    let flood = (0..20).map(|_| {
        env.send(
            ACCEPT_PAGE,
            accept_page("inv_AAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
                .from_address(flooder),
        )
    });
    join_all(flood).await;
    let (_, busy) = staged(
        &app,
        &rec,
        ACCEPT_PAGE,
        accept_page(&secret).from_address(flooder),
    )
    .await;
    assert_eq!(busy.status, 429, "{}", busy.raw);
    assert!(busy.raw.contains("data-state=\"busy\""), "{}", busy.raw);
    assert!(!busy.raw.contains("b@example.com"), "{}", busy.raw);
}

#[tokio::test]
async fn a_webhook_endpoint_is_changed_and_rotated_in_one_write_after_authentication() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let (app, rec) = env.recorded();
    inflow_tests::wait_for_window_with(15).await;
    let made = env
        .send(
            CREATE_WEBHOOK_ENDPOINT,
            endpoints("POST", &t, None, "").json(&json!({"url": "https://hooks.acme.example/a"})),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.raw);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let one_write = stages(&[&["UpdateItem"], &["UpdateItem"]]);

    let change = endpoints("PATCH", &t, Some(&id), "").json(&json!({"description": "Staging"}));
    let (changed, res) = staged(&app, &rec, UPDATE_WEBHOOK_ENDPOINT, change).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(res.body["description"], "Staging");
    assert_eq!(changed, one_write);

    let rotate = endpoints("POST", &t, Some(&id), "/rotate-secret");
    let (rotated, res) = staged(&app, &rec, ROTATE_WEBHOOK_ENDPOINT_SECRET, rotate).await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(rotated, one_write);

    // A missing endpoint is found missing by that write.
    let gone = "whk_nosuchendpoint";
    let change = endpoints("PATCH", &t, Some(gone), "").json(&json!({"description": "x"}));
    let (missing, res) = staged(&app, &rec, UPDATE_WEBHOOK_ENDPOINT, change).await;
    assert_eq!(res.status, 404, "{}", res.raw);
    assert_eq!(missing, one_write);
    let rotate = endpoints("POST", &t, Some(gone), "/rotate-secret");
    let (missing, res) = staged(&app, &rec, ROTATE_WEBHOOK_ENDPOINT_SECRET, rotate).await;
    assert_eq!(res.status, 404, "{}", res.raw);
    assert_eq!(missing, one_write);
}
