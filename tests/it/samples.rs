//! Every file in `events/` runs through its function, so the samples never rot.

use inflow_tests::{assign, assign_body, call, endpoints::*, invitations, Answer, Env, Tenant};
use serde_json::json;

/// Fresh records for one sample, so every step has something to act on.
async fn placeholders(env: &Env, t: &Tenant, name: &str) -> Vec<(&'static str, String)> {
    let created = env.send(ASSIGN_FLOW, assign(t, &assign_body(t))).await;
    let email = format!("sample-{name}@example.com");
    let invited = env
        .send(
            CREATE_INVITATION,
            invitations("POST", t, "").json(&json!({"email": email})),
        )
        .await;
    let create = call("POST", "/admin/v1/flows:createJoinOrganization")
        .bearer(&t.admin_key)
        .json(&json!({"email": email}));
    let flow = env.send(CREATE_JOIN_ORGANIZATION_FLOW, create).await;
    vec![
        ("sk_test_placeholder", t.admin_key.clone()),
        ("pk_test_placeholder", t.user_key.clone()),
        (
            "asgn_placeholder",
            created.body["assignmentId"].as_str().unwrap().to_owned(),
        ),
        ("flow_placeholder", t.flow.id.clone()),
        ("org_placeholder", t.org_id.clone()),
        ("org-placeholder", t.org_slug.clone()),
        ("number_placeholder", invited.body["id"].to_string()),
        (
            "inv_placeholder",
            flow.body["id"].as_str().unwrap().to_owned(),
        ),
        (
            "secret_placeholder",
            flow.body["secret"].as_str().unwrap().to_owned(),
        ),
        ("dlv_placeholder", failed_delivery(env, t).await),
    ]
}

/// Samples of event-driven functions; each has its own test beside its worker's tests.
const WORKER_SAMPLES: &[&str] = &["email-worker", "relay", "sweeper", "webhook-worker"];

/// A delivery that failed, for the replay sample.
async fn failed_delivery(env: &Env, t: &Tenant) -> String {
    use inflow::model::delivery::{delivery_id, Delivery, DeliveryStatus};
    let event_id = inflow::ids::new(inflow::ids::Kind::Event);
    let now = chrono::Utc::now();
    let d = Delivery {
        id: delivery_id(&event_id, "whk_sample"),
        org_id: t.org_id.clone(),
        endpoint_id: "whk_sample".into(),
        url: "https://example.com/hook".into(),
        event_id,
        event_type: "flow.assigned".into(),
        payload: "{}".into(),
        status: DeliveryStatus::Failed,
        attempt: 1,
        round_start: 0,
        lease_until: None,
        attempts: Vec::new(),
        created_at: now,
        updated_at: now,
        next_attempt_at: None,
        lane: Default::default(),
    };
    inflow::store::deliveries::create_if_absent(&env.app.table, &d)
        .await
        .unwrap();
    d.id
}

#[tokio::test]
async fn every_sample_event_runs_through_its_function() {
    let env = Env::new().await;
    // Four requests per sample: more than a standard key's minute allows as samples grow.
    let t = env.tenant_with(inflow::model::Tier::Enterprise).await;
    env.user(&t, "employee@company.com").create().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut ran = Vec::new();
    for path in files {
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if WORKER_SAMPLES.contains(&name.as_str()) {
            continue;
        }
        let function = inflow::handlers::endpoint(&name)
            .copied()
            .unwrap_or_else(|| panic!("events/{name}.json names no function"));
        let mut text = std::fs::read_to_string(&path).unwrap();
        for (placeholder, value) in placeholders(&env, &t, &name).await {
            text = text.replace(placeholder, &value);
        }
        // Only where a sample names one: an organization has at most 20 endpoints, 3 a host.
        if text.contains("whk_placeholder") {
            let url = format!("https://{name}.hooks.acme.example/sample");
            let url = url.as_str();
            let (endpoint, _) = env.webhook(&t, url).create().await;
            text = text.replace("whk_placeholder", &endpoint.id);
        }
        let req = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("events/{name}.json: {e}"));
        let res = Answer::from(function.call(&env.app, req).await);
        assert!(
            (200..300).contains(&res.status),
            "events/{name}.json: {} {}\n{text}",
            res.status,
            res.raw
        );
        ran.push(function);
    }
    for f in inflow::handlers::all() {
        assert!(ran.contains(f), "no sample in events/ for {}", f.name);
    }
}
