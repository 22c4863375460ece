//! One steady request per endpoint: what it needs in the table first, and the requests to send
//! (each request its own resource where the endpoint changes state, so every one takes the
//! endpoint's usual path: a new assignment to start, a pending flow to cancel, ...).

use chrono::Utc;
use inflow::{
    model::delivery::{Delivery, DeliveryStatus},
    model::{Role, Tier},
    operator, store,
};
use inflow_tests::{endpoints::*, Env, Function, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A request, as the in-process call and as the HTTP request of the load client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Req {
    pub method: String,
    pub path: String,
    #[serde(skip)]
    pub params: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl Req {
    fn new(method: &str, path: impl Into<String>) -> Self {
        Req {
            method: method.into(),
            path: path.into(),
            params: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    fn param(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn bearer(self, key: &str) -> Self {
        self.header("authorization", &format!("Bearer {key}"))
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string());
        self.header("content-type", "application/json")
    }

    /// The API Gateway v2 event the function would get.
    pub fn call(&self) -> inflow_tests::Call {
        // A query in the path (the accept page's link) becomes the event's query parameters.
        let (path, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        let mut c = inflow_tests::call(&self.method, path);
        for (k, v) in query.split('&').filter_map(|pair| pair.split_once('=')) {
            c = c.query(k, v);
        }
        for (k, v) in &self.params {
            c = c.param(k, v);
        }
        for (k, v) in &self.headers {
            c = c.header(k, v);
        }
        match &self.body {
            Some(b) => c.raw(b.as_bytes()),
            None => c,
        }
    }
}

pub struct Scenario {
    pub function: Function,
    pub requests: Vec<Req>,
    /// Its own table, queues and secret: the emulator's TransactWriteItems copies the whole
    /// table and its Query scans it, so a shared table would make every endpoint pay for the
    /// others' items.
    pub env: Env,
}

type Setup<T> = Result<T, String>;

fn err(what: &str) -> impl Fn(inflow::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// `count` requests of `function`, with what they need created first.
pub async fn build(function: Function, count: usize) -> Setup<Scenario> {
    let own = Env::new().await;
    let env = &own;
    // On the enterprise tier (1000 a minute), so no run is rate limited.
    let t = env.tenant_with(Tier::Enterprise).await;
    let requests = match function.name {
        "assign-flow" => {
            let emails = users(env, &t, "assign", count).await?;
            emails
                .iter()
                .map(|e| {
                    Req::new("POST", "/v1/flows/assign")
                        .bearer(&t.admin_key)
                        .json(json!({"flowId": t.flow.id, "userEmail": e}))
                })
                .collect()
        }
        "get-assignment" => {
            let id = assignments(env, &t, "get", 1).await?.remove(0);
            vec![on_assignment("GET", "", &t, &id); count]
        }
        "start-assignment" | "complete-assignment" => {
            let step = if function == START_ASSIGNMENT {
                "/start"
            } else {
                "/complete"
            };
            let ids = assignments(env, &t, step.trim_start_matches('/'), count).await?;
            ids.iter()
                .map(|id| on_assignment("POST", step, &t, id).json(json!({})))
                .collect()
        }
        "create-user-group" => (0..count)
            .map(|i| {
                Req::new("POST", "/api/user")
                    .header("authorization", &format!("Token {}", t.admin_key))
                    .json(
                        json!({"name": format!("Group {i}"), "provided_id": format!("group_{i}")}),
                    )
            })
            .collect(),
        "list-invitations" => {
            import(env, &t, &addresses("listed", 10)).await?;
            vec![invitations("GET", &t, ""); count]
        }
        "get-invitation" => {
            import(env, &t, &addresses("got", 1)).await?;
            vec![invitations("GET", &t, "/1").param("id", "1"); count]
        }
        "delete-invitation" => {
            import(env, &t, &addresses("deleted", count)).await?;
            (1..=count)
                .map(|n| invitations("DELETE", &t, &format!("/{n}")).param("id", &n.to_string()))
                .collect()
        }
        "create-invitation" => (0..count)
            .map(|i| {
                invitations("POST", &t, "").json(json!({"email": format!("new{i}@bench.example")}))
            })
            .collect(),
        "import-invitations" => (0..count)
            .map(|i| {
                invitations("POST", &t, "/import")
                    .json(json!({"list": addresses(&format!("imp{i}-"), 10)}))
            })
            .collect(),
        "get-flow" => {
            let (id, _) = flows(env, &t, "got", 1).await?.remove(0);
            vec![admin_flow("GET", &t, &id); count]
        }
        "cancel-flow" => {
            let made = flows(env, &t, "canceled", count).await?;
            made.iter()
                .map(|(id, _)| admin_flow("POST", &t, &format!("{id}:cancel")))
                .collect()
        }
        "create-join-organization-flow" | "create-signup-flow" => {
            let (path, prefix) = match function.name {
                "create-signup-flow" => ("/admin/v1/flows:createSignup", "signup"),
                _ => ("/admin/v1/flows:createJoinOrganization", "join"),
            };
            (0..count)
                .map(|i| {
                    Req::new("POST", path)
                        .bearer(&t.admin_key)
                        .json(json!({"email": format!("{prefix}{i}@bench.example")}))
                })
                .collect()
        }
        "consume-flow" => {
            let made = flows(env, &t, "consumed", count).await?;
            made.iter()
                .map(|(_, secret)| {
                    let segment = format!("{secret}:consume");
                    Req::new("POST", format!("/user/v1/flows/{segment}"))
                        .header("userhub-api-key", &t.user_key)
                        .header("userhub-api-version", "2022-11-15")
                        .param("flowId", &segment)
                })
                .collect()
        }
        "list-webhook-deliveries" => {
            failed_deliveries(env, &t, 10).await?;
            vec![Req::new("GET", "/v1/webhooks/deliveries").bearer(&t.admin_key); count]
        }
        "replay-webhook-delivery" => {
            let ids = failed_deliveries(env, &t, count).await?;
            ids.iter()
                .map(|id| {
                    Req::new("POST", format!("/v1/webhooks/deliveries/{id}/replay"))
                        .bearer(&t.admin_key)
                        .param("deliveryId", id)
                })
                .collect()
        }
        "get-organization" => {
            vec![Req::new("GET", "/v1/organization").bearer(&t.admin_key); count]
        }
        "update-organization" => (0..count)
            .map(|i| {
                Req::new("PATCH", "/v1/organization")
                    .bearer(&t.admin_key)
                    .json(json!({"name": format!("Bench {i}"), "invitationTtl": "86400s"}))
            })
            .collect(),
        "create-webhook-endpoint" => {
            // An organization has at most 20 endpoints (3 a host): the requests are spread over
            // enough, each on a host of its own.
            let mut requests = Vec::with_capacity(count);
            while requests.len() < count {
                let other = env.tenant_with(Tier::Enterprise).await;
                let per = (inflow::webhooks::MAX_ENDPOINTS as usize).min(count - requests.len());
                requests.extend((0..per).map(|i| {
                    Req::new("POST", "/v1/webhooks/endpoints")
                        .bearer(&other.admin_key)
                        .json(json!({"url": format!("https://hooks{i}.bench.example/")}))
                }));
            }
            requests
        }
        "delete-webhook-endpoint" => {
            let mut requests = Vec::with_capacity(count);
            while requests.len() < count {
                let other = env.tenant_with(Tier::Enterprise).await;
                let per = (inflow::webhooks::MAX_ENDPOINTS as usize).min(count - requests.len());
                for id in webhook_endpoints(env, &other, per).await? {
                    requests.push(on_endpoint("DELETE", "", &other, &id));
                }
            }
            requests
        }
        "list-webhook-endpoints" => {
            webhook_endpoints(env, &t, 3).await?;
            vec![Req::new("GET", "/v1/webhooks/endpoints").bearer(&t.admin_key); count]
        }
        "get-webhook-endpoint"
        | "update-webhook-endpoint"
        | "rotate-webhook-endpoint-secret"
        | "test-webhook-endpoint" => {
            let id = webhook_endpoints(env, &t, 1).await?.remove(0);
            let req = match function.name {
                "get-webhook-endpoint" => on_endpoint("GET", "", &t, &id),
                "update-webhook-endpoint" => on_endpoint("PATCH", "", &t, &id)
                    .json(json!({"description": "bench", "disabled": false})),
                "rotate-webhook-endpoint-secret" => on_endpoint("POST", "/rotate-secret", &t, &id),
                _ => on_endpoint("POST", "/test", &t, &id),
            };
            vec![req; count]
        }
        "accept-page" => {
            // The page a link opens (the read path every visit takes).
            let (_, secret) = flows(env, &t, "page", 1).await?.remove(0);
            vec![Req::new("GET", format!("/accept?secret={secret}")); count]
        }
        other => panic!("{other}: an endpoint this list does not know yet"),
    };
    Ok(Scenario {
        function,
        requests,
        env: own,
    })
}

/// `n` distinct addresses, comma separated.
pub fn addresses(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{prefix}{i}@bench.example"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn on_assignment(method: &str, suffix: &str, t: &Tenant, id: &str) -> Req {
    Req::new(method, format!("/v1/assignments/{id}{suffix}"))
        .bearer(&t.admin_key)
        .param("assignmentId", id)
}

fn invitations(method: &str, t: &Tenant, suffix: &str) -> Req {
    Req::new(
        method,
        format!("/flows/{}/{}/invitations{suffix}", t.org_slug, t.flow.slug),
    )
    .bearer(&t.admin_key)
    .param("organization", &t.org_slug)
    .param("flow", &t.flow.slug)
}

fn on_endpoint(method: &str, suffix: &str, t: &Tenant, id: &str) -> Req {
    Req::new(method, format!("/v1/webhooks/endpoints/{id}{suffix}"))
        .bearer(&t.admin_key)
        .param("endpointId", id)
}

/// `n` webhook endpoints of the tenant (n ≤ 20); their ids.
async fn webhook_endpoints(env: &Env, t: &Tenant, n: usize) -> Setup<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let url = format!("https://hooks{i}.bench.example/");
        let (e, _) = operator::add_webhook(&env.app, &t.org_id, &url, None, Utc::now())
            .await
            .map_err(err("webhook endpoint"))?;
        ids.push(e.id);
    }
    Ok(ids)
}

fn admin_flow(method: &str, t: &Tenant, segment: &str) -> Req {
    Req::new(method, format!("/admin/v1/flows/{segment}"))
        .bearer(&t.admin_key)
        .param("flowId", segment)
}

/// Sends a setup request in-process and returns its JSON body, or why it failed.
async fn send(env: &Env, function: Function, req: Req) -> Setup<Value> {
    let answer = env.send(function, req.call()).await;
    if answer.status >= 300 {
        return Err(format!(
            "setup {}: {} {}",
            function.name, answer.status, answer.raw
        ));
    }
    Ok(answer.body)
}

async fn users(env: &Env, t: &Tenant, prefix: &str, n: usize) -> Setup<Vec<String>> {
    let mut emails = Vec::with_capacity(n);
    for i in 0..n {
        let email = format!("{prefix}{i}@bench.example");
        operator::create_user(&env.app, &t.org_id, &email, None, Role::Member, Utc::now())
            .await
            .map_err(err("create user"))?;
        emails.push(email);
    }
    Ok(emails)
}

async fn assignments(env: &Env, t: &Tenant, prefix: &str, n: usize) -> Setup<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    for email in users(env, t, prefix, n).await? {
        let req = Req::new("POST", "/v1/flows/assign")
            .bearer(&t.admin_key)
            .json(json!({"flowId": t.flow.id, "userEmail": email}));
        let body = send(env, ASSIGN_FLOW, req).await?;
        ids.push(body["assignmentId"].as_str().unwrap_or_default().to_owned());
    }
    Ok(ids)
}

async fn import(env: &Env, t: &Tenant, list: &str) -> Setup<Value> {
    send(env, IMPORT_INVITATIONS, import_request(t, list)).await
}

/// `n` pending join flows: (id, secret).
async fn flows(env: &Env, t: &Tenant, prefix: &str, n: usize) -> Setup<Vec<(String, String)>> {
    let mut made = Vec::with_capacity(n);
    for i in 0..n {
        let req = Req::new("POST", "/admin/v1/flows:createJoinOrganization")
            .bearer(&t.admin_key)
            .json(json!({"email": format!("{prefix}{i}@bench.example")}));
        let body = send(env, CREATE_JOIN_ORGANIZATION_FLOW, req).await?;
        made.push((
            body["id"].as_str().unwrap_or_default().to_owned(),
            body["secret"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    Ok(made)
}

/// `n` deliveries that failed for good (what the replay endpoint is for).
async fn failed_deliveries(env: &Env, t: &Tenant, n: usize) -> Setup<Vec<String>> {
    let now = Utc::now();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let event_id = format!("evt_bench{i:06}");
        let d = Delivery {
            id: inflow::model::delivery::delivery_id(&event_id, "whk_bench"),
            org_id: t.org_id.clone(),
            endpoint_id: "whk_bench".into(),
            url: "https://hooks.bench.example/in".into(),
            event_id,
            event_type: "flow.assigned".into(),
            payload: "{}".into(),
            status: DeliveryStatus::Failed,
            attempt: 8,
            round_start: 0,
            lease_until: None,
            attempts: Vec::new(),
            created_at: now,
            updated_at: now,
            next_attempt_at: None,
            lane: Default::default(),
        };
        store::deliveries::create_if_absent(&env.app.table, &d)
            .await
            .map_err(err("delivery"))?;
        ids.push(d.id);
    }
    Ok(ids)
}

/// `POST .../invitations/import` of `list` for tenant `t`.
pub fn import_request(t: &Tenant, list: &str) -> Req {
    invitations("POST", t, "/import").json(json!({"list": list}))
}
