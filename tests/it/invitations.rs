//! Seed 001: invitations of a flow.

use aws_sdk_dynamodb::types::AttributeValue;
use inflow_tests::{admin_flow, consume, endpoints::*, invitations, Answer, Env, Tenant};
use serde_json::{json, Value};

async fn invite(env: &Env, t: &Tenant, email: &str) -> Answer {
    env.send(
        CREATE_INVITATION,
        invitations("POST", t, "")
            .json(&json!({"email": email, "message": "Please join our team's Flow."})),
    )
    .await
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

#[tokio::test]
async fn create_answers_201_with_the_seeds_fields_and_queues_the_email() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let res = invite(&env, &t, "person@example.com").await;
    assert_eq!(res.status, 201, "{}", res.raw);
    assert_eq!(
        keys(&res.body),
        ["email", "flow", "id", "invitation_flow_id", "state", "url"]
    );
    assert_eq!(res.body["id"], json!(1));
    assert_eq!(res.body["state"], "pending");
    assert_eq!(res.body["email"], "person@example.com");
    assert_eq!(res.body["flow"], t.flow.id.as_str());
    assert_eq!(
        res.body["url"],
        format!(
            "https://api.test.example/flows/{}/onboarding/invitations/1",
            t.org_slug
        )
    );
    let jobs = env.email_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].invitation_id,
        res.body["invitation_flow_id"].as_str().unwrap()
    );
    assert_eq!(jobs[0].request_id.as_deref(), res.header("x-request-id"));
    let events = env.webhook_jobs().await;
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["invitation.created"]
    );
    assert_eq!(
        invite(&env, &t, "other@example.com").await.body["id"],
        json!(2),
        "ids count per flow"
    );
}

#[tokio::test]
async fn resend_keeps_the_invitation_and_kills_the_old_link() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let first = invite(&env, &t, "person@example.com").await;
    let old_secret = env.secret_in(&env.email_jobs().await[0]);
    let again = invite(&env, &t, "Person@Example.com").await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(
        again.body["invitation_flow_id"],
        first.body["invitation_flow_id"]
    );
    let jobs = env.email_jobs().await;
    assert_eq!(jobs.len(), 1, "the email is sent again");
    let new_secret = env.secret_in(&jobs[0]);
    assert_ne!(old_secret, new_secret);
    assert_eq!(
        env.send(CONSUME_FLOW, consume(&t, &format!("{old_secret}:consume")))
            .await
            .status,
        404
    );
    assert_eq!(
        env.send(CONSUME_FLOW, consume(&t, &format!("{new_secret}:consume")))
            .await
            .status,
        200
    );
    // Accepted: no more resends.
    let res = invite(&env, &t, "person@example.com").await;
    assert_eq!(res.status, 409);
    assert!(
        res.body["message"].is_string() && res.body["errors"].is_object(),
        "{}",
        res.raw
    );
}

#[tokio::test]
async fn list_shows_pending_get_shows_accepted_too() {
    let env = Env::new().await;
    let t = env.tenant().await;
    invite(&env, &t, "a@example.com").await;
    invite(&env, &t, "b@example.com").await;
    let secret_a = env.secret_in(&env.email_jobs().await[0]);
    let consumed = env
        .send(CONSUME_FLOW, consume(&t, &format!("{secret_a}:consume")))
        .await;
    assert_eq!(consumed.status, 200, "{}", consumed.raw);
    let list = env.send(LIST_INVITATIONS, invitations("GET", &t, "")).await;
    assert_eq!(list.status, 200);
    let emails: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["b@example.com"]);
    let got = env.send(GET_INVITATION, invitations("GET", &t, "/1")).await;
    assert_eq!(
        (got.status, got.body["state"].as_str()),
        (200, Some("accepted"))
    );
    assert_eq!(got.body["email"], "a@example.com");
}

#[tokio::test]
async fn lists_are_paginated_with_a_link_header() {
    let env = Env::new().await;
    let t = env.tenant().await;
    for e in ["a@example.com", "b@example.com", "c@example.com"] {
        invite(&env, &t, e).await;
    }
    let page = env
        .send(
            LIST_INVITATIONS,
            invitations("GET", &t, "").query("limit", "2"),
        )
        .await;
    assert_eq!(page.body.as_array().unwrap().len(), 2);
    let link = page.header("link").expect("a next link");
    assert!(
        link.ends_with("; rel=\"next\"") && link.contains("after=2"),
        "{link}"
    );
    let rest = env
        .send(
            LIST_INVITATIONS,
            invitations("GET", &t, "")
                .query("limit", "2")
                .query("after", "2"),
        )
        .await;
    assert_eq!(rest.body.as_array().unwrap().len(), 1);
    assert_eq!(rest.body[0]["id"], json!(3));
    assert!(rest.header("link").is_none());
    let bad = env
        .send(
            LIST_INVITATIONS,
            invitations("GET", &t, "").query("limit", "0"),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["errors"]["limit"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn delete_cancels_a_pending_invitation_and_refuses_an_accepted_one() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let created = invite(&env, &t, "a@example.com").await;
    let res = env
        .send(DELETE_INVITATION, invitations("DELETE", &t, "/1"))
        .await;
    assert_eq!(res.status, 204);
    assert!(res.raw.is_empty(), "no body: {:?}", res.raw);
    assert_eq!(
        env.send(GET_INVITATION, invitations("GET", &t, "/1"))
            .await
            .status,
        404
    );
    // The same record in the flows API is canceled.
    let id = created.body["invitation_flow_id"].as_str().unwrap();
    let flow = env.send(GET_FLOW, admin_flow("GET", &t, id)).await;
    assert_eq!(flow.body["state"], "CANCELED");
    assert_eq!(
        env.send(DELETE_INVITATION, invitations("DELETE", &t, "/1"))
            .await
            .status,
        404
    );

    invite(&env, &t, "b@example.com").await;
    env.email_jobs().await;
    let again = invite(&env, &t, "b@example.com").await;
    let secret = env.secret_in(&env.email_jobs().await[0]);
    env.send(CONSUME_FLOW, consume(&t, &format!("{secret}:consume")))
        .await;
    let number = again.body["id"].to_string();
    let res = env
        .send(
            DELETE_INVITATION,
            invitations("DELETE", &t, &format!("/{number}")),
        )
        .await;
    assert_eq!(res.status, 409);
    assert_eq!(
        res.body["message"],
        "An accepted invitation cannot be deleted"
    );

    // What a cancel that lost its race to the accept finds, in the same call: the invitation as
    // it is now, for its own organization only.
    use inflow::{model::InvitationState, store::invitations::Canceled};
    let accepted = again.body["invitation_flow_id"].as_str().unwrap();
    let open = [InvitationState::StartPending, InvitationState::Started];
    let cancel = |org: String, id: String| {
        let env = &env;
        async move {
            let jobs = inflow::jobs::Outbox::new(Vec::new());
            inflow::store::invitations::cancel(
                &env.app.table,
                &org,
                &id,
                &open,
                chrono::Utc::now(),
                &jobs,
            )
            .await
            .unwrap()
        }
    };
    match cancel(t.org_id.clone(), accepted.to_owned()).await {
        Canceled::Refused(Some(inv)) => assert_eq!(inv.state, InvitationState::Completed),
        _ => panic!("an accepted invitation is not canceled, and is shown as it is"),
    }
    let other = env.tenant().await;
    assert!(matches!(
        cancel(other.org_id.clone(), accepted.to_owned()).await,
        Canceled::Refused(None)
    ));
    assert!(matches!(
        cancel(t.org_id.clone(), "flow_nosuchinvitation".into()).await,
        Canceled::Refused(None)
    ));
}

#[tokio::test]
async fn twenty_concurrent_creates_of_one_email_make_one_invitation() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let calls = (0..20).map(|_| invite(&env, &t, "same@example.com"));
    let answers = futures::future::join_all(calls).await;
    let mut ids: Vec<String> = answers
        .iter()
        .map(|a| {
            assert_eq!(a.status, 201, "{}", a.raw);
            a.body["invitation_flow_id"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 1);
    let list = env.send(LIST_INVITATIONS, invitations("GET", &t, "")).await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    let invitation_items = env
        .items()
        .await
        .into_iter()
        .filter(|i| i["PK"].as_s().unwrap().starts_with("INV#"))
        .count();
    assert_eq!(invitation_items, 1);
}

#[tokio::test]
async fn validation_errors_have_flowdocks_shape_and_change_nothing() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let before = env.items().await.len();
    for (body, field) in [
        (json!({"email": "nope"}), "email"),
        (json!({}), "email"),
        (json!({"email": "a@example.com", "message": 5}), "message"),
        (
            json!({"email": "a@example.com", "message": "m".repeat(2001)}),
            "message",
        ),
        (json!({"email": "test@example.invalid"}), "email"),
    ] {
        let res = env
            .send(CREATE_INVITATION, invitations("POST", &t, "").json(&body))
            .await;
        assert_eq!(res.status, 400, "{body}");
        assert_eq!(res.body["message"], "Validation error");
        assert!(res.body["errors"][field][0].is_string(), "{}", res.raw);
    }
    assert_eq!(env.items().await.len(), before);
    assert!(env.email_jobs().await.is_empty());
}

#[tokio::test]
async fn other_organizations_and_unknown_paths_get_404() {
    let env = Env::new().await;
    let owner = env.tenant().await;
    let stranger = env.tenant().await;
    invite(&env, &owner, "a@example.com").await;
    // The stranger's key on the owner's paths.
    let as_stranger = |c: inflow_tests::Call| {
        c.header("authorization", &format!("Bearer {}", stranger.admin_key))
    };
    for (f, c) in [
        (LIST_INVITATIONS, invitations("GET", &owner, "")),
        (GET_INVITATION, invitations("GET", &owner, "/1")),
        (DELETE_INVITATION, invitations("DELETE", &owner, "/1")),
        (
            CREATE_INVITATION,
            invitations("POST", &owner, "").json(&json!({"email": "x@example.com"})),
        ),
        (
            IMPORT_INVITATIONS,
            invitations("POST", &owner, "/import").json(&json!({"list": "x@example.com"})),
        ),
    ] {
        let mut c = c;
        c.clear_header("authorization");
        let res = env.send(f, as_stranger(c)).await;
        assert_eq!(res.status, 404, "{f:?}: {}", res.raw);
        assert!(res.body["message"].is_string() && res.body["errors"].is_object());
    }
    let unknown_flow = invitations("GET", &owner, "").param("flow", "no-such-flow");
    assert_eq!(env.send(LIST_INVITATIONS, unknown_flow).await.status, 404);
    assert_eq!(
        env.send(GET_INVITATION, invitations("GET", &owner, "/99"))
            .await
            .status,
        404
    );
    assert_eq!(
        env.send(GET_INVITATION, invitations("GET", &owner, "/x1"))
            .await
            .status,
        404
    );
    assert_eq!(
        env.send(GET_INVITATION, invitations("GET", &owner, ""))
            .await
            .status,
        404
    );
    let list = env
        .send(LIST_INVITATIONS, invitations("GET", &owner, ""))
        .await;
    assert_eq!(
        list.body.as_array().unwrap().len(),
        1,
        "nothing the stranger did changed it"
    );
}

#[tokio::test]
async fn import_invites_adds_existing_users_and_reports_bad_entries() {
    let env = Env::new().await;
    let t = env.tenant().await;
    env.user(&t, "tide@nodeta.fi").name("Steve").create().await;
    let list = "someone@example.com, \"Joe Smith\" <person@example.com>\nTIDE@nodeta.fi\ntest@example.invalid, Someone@Example.com";
    let res = env
        .send(
            IMPORT_INVITATIONS,
            invitations("POST", &t, "/import").json(&json!({"list": list, "message": "Welcome"})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(
        keys(&res.body),
        ["added_users", "erroneous_emails", "invitations"]
    );
    let invited: Vec<&str> = res.body["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(invited, ["someone@example.com", "person@example.com"]);
    assert_eq!(res.body["invitations"][0]["state"], "pending");
    let added = &res.body["added_users"][0];
    assert_eq!(res.body["added_users"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            added["email"].as_str(),
            added["name"].as_str(),
            added["nick"].as_str()
        ),
        (Some("tide@nodeta.fi"), Some("Steve"), Some("Steve"))
    );
    assert!(added["id"].is_u64() && added["avatar"].is_string() && added["status"].is_null());
    assert_eq!(added["disabled"], false);
    assert!(added["last_activity"].is_i64() && added["last_ping"].is_i64());
    assert_eq!(
        res.body["erroneous_emails"],
        json!([{"test@example.invalid": "Invalid email"}])
    );
    assert_eq!(env.email_jobs().await.len(), 2);
    // Importing again: open invitations are reported, not re-sent.
    let again = env
        .send(
            IMPORT_INVITATIONS,
            invitations("POST", &t, "/import").json(&json!({"list": "someone@example.com"})),
        )
        .await;
    assert_eq!(again.body["invitations"], json!([]));
    assert_eq!(
        again.body["erroneous_emails"],
        json!([{"someone@example.com": "Already invited"}])
    );
}

#[tokio::test]
async fn import_adds_an_accepted_address_as_its_user_and_invites_a_canceled_one_again() {
    let env = Env::new().await;
    let t = env.tenant().await;
    invite(&env, &t, "accepted@example.com").await;
    let secret = env.secret_in(&env.email_jobs().await[0]);
    let accepted = env
        .send(CONSUME_FLOW, consume(&t, &format!("{secret}:consume")))
        .await;
    assert!(accepted.status < 300, "{}", accepted.raw);
    let canceled = invite(&env, &t, "canceled@example.com").await;
    let number = canceled.body["id"].to_string();
    let deleted = env
        .send(
            DELETE_INVITATION,
            invitations("DELETE", &t, &format!("/{number}")),
        )
        .await;
    assert_eq!(deleted.status, 204);
    env.email_jobs().await;

    let list = "accepted@example.com, canceled@example.com";
    let res = env
        .send(
            IMPORT_INVITATIONS,
            invitations("POST", &t, "/import").json(&json!({"list": list})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(res.body["erroneous_emails"], json!([]));
    // Accepting made the user: an import adds users, it does not invite them.
    let added = res.body["added_users"].as_array().unwrap();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["email"], "accepted@example.com");
    let invited = res.body["invitations"].as_array().unwrap();
    assert_eq!(invited.len(), 1);
    // The canceled invitation itself comes back, pending, under its number.
    assert_eq!(invited[0]["email"], "canceled@example.com");
    assert_eq!(invited[0]["state"], "pending");
    assert_eq!(invited[0]["id"].to_string(), number);
    let jobs = env.email_jobs().await;
    assert_eq!(jobs.len(), 1, "one mail, to the canceled address");

    // With the user gone (its email item deleted), the accepted invitation still keeps the
    // address out.
    env.app
        .table
        .client()
        .delete_item()
        .table_name(&env.app.config.table_name)
        .key("PK", AttributeValue::S(format!("ORG#{}", t.org_id)))
        .key("SK", AttributeValue::S("EMAIL#accepted@example.com".into()))
        .send()
        .await
        .unwrap();
    let res = env
        .send(
            IMPORT_INVITATIONS,
            invitations("POST", &t, "/import").json(&json!({"list": "accepted@example.com"})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.raw);
    assert_eq!(
        res.body["erroneous_emails"],
        json!([{"accepted@example.com": "Already accepted"}])
    );
    assert_eq!(res.body["invitations"], json!([]));
    assert!(env.email_jobs().await.is_empty());
}

#[tokio::test]
async fn import_of_1000_addresses_costs_batches_not_entries() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let (app, ddb) = env.counted();
    // The first request of a minute opens the key's rate-limit window (one more update).
    env.send(LIST_INVITATIONS, invitations("GET", &t, "")).await;
    let list = (0..1000)
        .map(|i| format!("\"Person {i}\" <p{i}@example.com>"))
        .collect::<Vec<_>>()
        .join(",\n");
    let req = invitations("POST", &t, "/import")
        .json(&json!({"list": list}))
        .request();
    let res = Answer::from(IMPORT_INVITATIONS.call(&app, req).await);
    assert_eq!(res.status, 200, "{}", &res.raw[..res.raw.len().min(500)]);
    assert_eq!(res.body["invitations"].as_array().unwrap().len(), 1000);
    let numbers: std::collections::HashSet<u64> = res.body["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers.len(), 1000, "each has its own number");
    assert_eq!(
        ddb.count("BatchWriteItem"),
        40,
        "1000 invitations, 25 a call"
    );
    assert_eq!(
        ddb.count("BatchGetItem"),
        20,
        "users and invitations, 100 keys a call"
    );
    assert_eq!(
        ddb.count("UpdateItem"),
        2,
        "rate limit, and one counter reservation for all numbers"
    );
    assert!(ddb.total() <= 1000 / 25 + 1000 / 100 * 2 + 5, "{:?}", ddb);
    // The relay queues the jobs: per batch of stream records, the emails 10 a call and the
    // events packed into one message.
    let (queues, sqs) = env.counted_queues();
    let relayed = env
        .relay_stream_with(&inflow::relay::Relay {
            queues,
            dead_letters: None,
        })
        .await;
    let batch = env.stream.settings().batch_size;
    assert_eq!(relayed.invocations, 1000_usize.div_ceil(batch));
    assert_eq!(
        sqs.count("SendMessageBatch"),
        relayed.invocations * (batch.div_ceil(10) + 1),
        "per batch: its emails, 10 a call, and its events in one message"
    );
    assert_eq!(sqs.total(), sqs.count("SendMessageBatch"));
    assert_eq!(env.email_jobs().await.len(), 1000);
}

#[tokio::test]
async fn more_than_5000_entries_is_a_clear_400() {
    let env = Env::new().await;
    let t = env.tenant().await;
    let list = (0..5001)
        .map(|i| format!("p{i}@example.com"))
        .collect::<Vec<_>>()
        .join("\n");
    let res = env
        .send(
            IMPORT_INVITATIONS,
            invitations("POST", &t, "/import").json(&json!({"list": list})),
        )
        .await;
    assert_eq!(res.status, 400);
    assert!(
        res.body["errors"]["list"][0]
            .as_str()
            .unwrap()
            .contains("5000"),
        "{}",
        res.raw
    );
}
