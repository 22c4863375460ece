//! Every file in `events/` runs through its function, so the samples never rot.

use inflow::model::Role;
use inflow_tests::{assign, assign_body, Answer, Env, Function};

#[tokio::test]
async fn every_sample_event_runs_through_its_function() {
    let env = Env::new().await;
    let t = env.tenant().await;
    inflow::orgs::create_user(
        &env.app,
        &t.org_id,
        "employee@company.com",
        None,
        Role::Member,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut ran = Vec::new();
    for path in files {
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let function = Function::from_binary(&name)
            .unwrap_or_else(|| panic!("events/{name}.json names no function"));
        // A fresh assignment each time, so start and complete both have something to do.
        let created = env
            .send(Function::AssignFlow, assign(&t, &assign_body(&t)))
            .await;
        let asgn = created.body["assignmentId"].as_str().unwrap();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("sk_test_placeholder", &t.admin_key)
            .replace("asgn_placeholder", asgn)
            .replace("flow_placeholder", &t.flow.id);
        let req = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("events/{name}.json: {e}"));
        let res = Answer::from(function.call(&env.app, req).await);
        assert!(
            (200..300).contains(&res.status),
            "events/{name}.json: {} {}",
            res.status,
            res.raw
        );
        ran.push(function);
    }
    for f in Function::ALL {
        assert!(ran.contains(f), "no sample in events/ for {}", f.binary());
    }
}
