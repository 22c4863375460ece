//! Least privilege: the IAM policy of each function in template.yaml grants what its code calls,
//! and nothing else.
//!
//! Every function (the 27 HTTP functions, the webhook and email workers, the sweeper) is driven
//! through its code paths (success, not found, refusals, a failed request holding an
//! Idempotency-Key, replays, re-sends, races, the workers' retries and dead letters) with clients
//! that record every AWS operation and what it touched (`CallCounter::touched`). The operations
//! become IAM actions on resources named by the template's logical ids and are compared, both
//! ways, with the function's policy statements: a call no statement allows fails the test, and
//! so does a statement no call needs (unless `ALLOWED_UNUSED` names it, with its reason).
//!
//! How calls become IAM actions (AWS's service authorization reference):
//! - TransactWriteItems is authorized per part: Put → `dynamodb:PutItem`, Update →
//!   `dynamodb:UpdateItem`, Delete → `dynamodb:DeleteItem`, ConditionCheck →
//!   `dynamodb:ConditionCheckItem` (a `dynamodb:TransactWriteItems` statement allows nothing).
//! - A Query on an index is authorized on `<table ARN>/index/<name>`, on the table otherwise;
//!   every other item operation is authorized on the table.
//! - SQS SendMessageBatch is `sqs:SendMessage` on the queue; SES v2 SendEmail is `ses:SendEmail`
//!   on the sender's identity.
//! - Every function reads the app secret once per container (`App::new`, from the `main` that
//!   `http_function!` / `event_function!` generate); that read is recorded at the HTTP layer.

use aws_sdk_dynamodb::types::AttributeValue;
use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use inflow::{
    email::{self, EmailWorker},
    sweeper::{self, Sweeper},
    App,
};
use inflow_tests::{
    accept_form, accept_page, admin_flow, assign, assign_body, call, consume, endpoints,
    endpoints::*, invitations, on_assignment, organization, receiver::Receiver, sqs_event, Answer,
    Call, CallCounter, Env, Function, Tenant,
};
use serde_json::{json, Value};
use serde_yaml::Value as Yaml;

/// An IAM action on a resource. Resources are named by the template's logical ids: `Table`,
/// `Table/index/GSI1`, `WebhookQueue`, `AppSecret`; an ARN pattern keeps its text with
/// `${AWS::Partition}`, `${AWS::Region}` and `${AWS::AccountId}` as `aws`, `region`, `account`.
type Permission = (String, String);

/// Statements a function may hold without the scenario calling them: (binary, action,
/// resource as in the template, why). Each entry must name a real statement that the scenario
/// does not reach, or the test fails, so this list cannot go stale. Empty today: every statement
/// is reached, the rare reads included (an unknown key's check reads the key item, because a
/// failed condition on a missing item returns no old item; a lost race re-reads what won).
const ALLOWED_UNUSED: &[(&str, &str, &str, &str)] = &[(
    "email-worker",
    "ses:SendEmail",
    "arn:aws:ses:region:account:identity/noreply@iam-tests.example.com",
    "SES authorizes a send on the verified identity, the sender's domain or its address; the \
     scenario's sender is verified by its domain",
)];

/// The template's parameters, as the scenarios set them.
const SENDER_EMAIL: &str = "noreply@iam-tests.example.com";
const SENDER_DOMAIN: &str = "iam-tests.example.com";

/// Names that look like actions but authorize no request: a batch or transaction is authorized
/// by the actions of its parts.
const NOT_IAM_ACTIONS: &[&str] = &[
    "dynamodb:TransactWriteItems",
    "dynamodb:TransactGetItems",
    "sqs:SendMessageBatch",
    "sqs:DeleteMessageBatch",
    "sqs:ChangeMessageVisibilityBatch",
];

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");

// The scenarios run side by side, each on a worker thread: the handlers' futures are deep, and
// debug builds need more stack than a test thread has.
#[test]
fn every_function_is_granted_exactly_what_its_code_calls() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(8)
        .thread_stack_size(32 << 20)
        .enable_all()
        .build()
        .expect("a runtime");
    let (used, differences) =
        runtime.block_on(async { tokio::spawn(compare()).await.expect("the scenarios ran") });
    println!(
        "{}",
        table(
            &["function", "AWS calls (IAM action on resource)", "", ""],
            &summary(&used)
        )
    );
    assert!(
        differences.is_empty(),
        "template.yaml's policies and the functions' calls differ:\n{}",
        table(
            &["function", "difference", "action", "resource"],
            &differences
        )
    );
}

/// What every function called, and every difference from its policy.
async fn compare() -> (BTreeMap<String, BTreeSet<Permission>>, Vec<[String; 4]>) {
    let granted = template_policies();
    let init = init_calls().await;
    let scenarios = futures::future::join_all(
        DRIVES
            .iter()
            .map(|(f, _)| run(*f))
            .chain([
                boxed(webhook_worker()),
                boxed(email_worker()),
                boxed(sweeper()),
                boxed(relay()),
            ])
            .map(tokio::spawn),
    )
    .await;
    let mut used: BTreeMap<String, BTreeSet<Permission>> = BTreeMap::new();
    for scenario in scenarios {
        let (binary, mut perms) = scenario.expect("a scenario ran");
        // Every function but the relay reads the app secret at start.
        if binary != "relay" {
            perms.extend(init.iter().cloned());
        }
        assert!(
            used.insert(binary.clone(), perms).is_none(),
            "two scenarios for {binary}"
        );
    }
    for f in inflow::handlers::all() {
        assert!(used.contains_key(f.name), "no scenario for {}", f.name);
    }

    let mut rows: Vec<[String; 4]> = Vec::new();
    for binary in granted.keys().chain(used.keys()).collect::<BTreeSet<_>>() {
        let (Some(grants), Some(calls)) = (granted.get(binary), used.get(binary)) else {
            let what = if granted.contains_key(binary) {
                "no scenario drives it"
            } else {
                "not a function in template.yaml"
            };
            rows.push([binary.clone(), what.into(), String::new(), String::new()]);
            continue;
        };
        for (action, resource) in calls {
            if !grants.iter().any(|grant| allows(grant, action, resource)) {
                rows.push([
                    binary.clone(),
                    "called, not granted".into(),
                    action.clone(),
                    resource.clone(),
                ]);
            }
        }
        for (action, resource) in grants {
            let needed = calls
                .iter()
                .any(|(a, r)| allows(&(action.clone(), resource.clone()), a, r));
            let allowed = ALLOWED_UNUSED.iter().any(|(b, a, r, _)| {
                *b == binary.as_str() && *a == action.as_str() && *r == resource.as_str()
            });
            match (needed, allowed) {
                (false, false) => {
                    let what = match NOT_IAM_ACTIONS
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(action))
                    {
                        true => "granted, authorizes nothing (not an IAM action)",
                        false => "granted, never called",
                    };
                    rows.push([
                        binary.clone(),
                        what.into(),
                        action.clone(),
                        resource.clone(),
                    ]);
                }
                (true, true) => rows.push([
                    binary.clone(),
                    "allowance not needed (called)".into(),
                    action.clone(),
                    resource.clone(),
                ]),
                _ => {}
            }
        }
    }
    for (binary, action, resource, _) in ALLOWED_UNUSED {
        if !granted
            .get(*binary)
            .is_some_and(|g| g.contains(&(action.to_string(), resource.to_string())))
        {
            rows.push([
                binary.to_string(),
                "allowance names no statement".into(),
                action.to_string(),
                resource.to_string(),
            ]);
        }
    }
    (used, rows)
}

/// One line per function: everything it called.
fn summary(used: &BTreeMap<String, BTreeSet<Permission>>) -> Vec<[String; 4]> {
    used.iter()
        .flat_map(|(binary, perms)| {
            perms
                .iter()
                .map(|(a, r)| [binary.clone(), a.clone(), r.clone(), String::new()])
        })
        .collect()
}

fn table(header: &[&str; 4], rows: &[[String; 4]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 4]| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("  {}\n", text.join("  ").trim_end())
    };
    let mut out = line(*header);
    for row in rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3]]));
    }
    out
}

/// Whether a statement (action and resource patterns with `*`) allows an action on a resource.
fn allows((action, resource): &Permission, a: &str, r: &str) -> bool {
    glob(&action.to_lowercase(), &a.to_lowercase()) && glob(resource, r)
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| {
                    text.is_char_boundary(head.len() + i) && glob(rest, &text[head.len() + i..])
                })
        }
    }
}

// ----------------------------------------------------------------------------------------------
// The template's side.

/// Each function's binary and what its policy statements allow.
fn template_policies() -> BTreeMap<String, BTreeSet<Permission>> {
    let text = std::fs::read_to_string(TEMPLATE).expect("read template.yaml");
    let template: Yaml = serde_yaml::from_str(&text).expect("template.yaml is YAML");
    let mut policies = BTreeMap::new();
    for (id, resource) in template["Resources"].as_mapping().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap_or_default();
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} names no Metadata.BuildProperties.Binary"))
            .to_owned();
        let mut grants = BTreeSet::new();
        for policy in resource["Properties"]["Policies"]
            .as_sequence()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let statements = policy["Statement"].as_sequence().unwrap_or_else(|| {
                panic!("{id}: only inline `Statement` policies are checked, not {policy:?}")
            });
            for statement in statements {
                assert_eq!(
                    statement["Effect"].as_str(),
                    Some("Allow"),
                    "{id}: {statement:?}"
                );
                assert!(
                    statement.get("Condition").is_none()
                        && statement.get("NotAction").is_none()
                        && statement.get("NotResource").is_none(),
                    "{id}: {statement:?}"
                );
                for action in one_or_many(&statement["Action"]) {
                    let action = action
                        .as_str()
                        .unwrap_or_else(|| panic!("{id}: action {action:?}"))
                        .to_owned();
                    for resource in one_or_many(&statement["Resource"]) {
                        grants.insert((action.clone(), resolve(resource)));
                    }
                }
            }
        }
        assert!(
            policies.insert(binary.clone(), grants).is_none(),
            "two functions build {binary}"
        );
    }
    policies
}

fn one_or_many(value: &Yaml) -> Vec<&Yaml> {
    match value {
        Yaml::Sequence(items) => items.iter().collect(),
        Yaml::Null => panic!("a statement without Action or Resource"),
        one => vec![one],
    }
}

/// A resource as the logical id (or ARN pattern) it names.
fn resolve(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        // `!Sub [text, {variables}]`: the variables are template parameters the scenarios set.
        Yaml::Tagged(tagged)
            if tagged.tag.to_string().trim_start_matches('!') == "Sub"
                && tagged.value.is_sequence() =>
        {
            let text = tagged.value[0]
                .as_str()
                .unwrap_or_else(|| panic!("unsupported resource {value:?}"));
            substitute(text)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let text = tagged
                .value
                .as_str()
                .unwrap_or_else(|| panic!("unsupported resource {value:?}"));
            match tag.trim_start_matches('!') {
                "GetAtt" => text
                    .strip_suffix(".Arn")
                    .unwrap_or_else(|| panic!("not an ARN: {value:?}"))
                    .to_owned(),
                // A secret's Ref is its ARN.
                "Ref" => text.to_owned(),
                "Sub" => substitute(text),
                other => panic!("unsupported intrinsic {other} in a policy resource"),
            }
        }
        other => panic!("unsupported resource {other:?}"),
    }
}

fn substitute(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some((before, after)) = rest.split_once("${") {
        let (name, tail) = after.split_once('}').expect("a closed ${…}");
        out.push_str(before);
        out.push_str(match name {
            "AWS::Partition" => "aws",
            "AWS::Region" => "region",
            "AWS::AccountId" => "account",
            "SenderEmail" => SENDER_EMAIL,
            "SenderDomain" => SENDER_DOMAIN,
            other => other
                .strip_suffix(".Arn")
                .unwrap_or_else(|| panic!("unsupported ${{{other}}}")),
        });
        rest = tail;
    }
    out.push_str(rest);
    out
}

// ----------------------------------------------------------------------------------------------
// The code's side.

/// What a scenario's clients recorded, as IAM permissions.
fn permissions(
    env: &Env,
    dlq_url: Option<&str>,
    ddb: &CallCounter,
    sqs: Option<&CallCounter>,
    ses: Option<&CallCounter>,
) -> BTreeSet<Permission> {
    let mut perms = BTreeSet::new();
    for (op, detail) in ddb.touched() {
        let (action, resource) = match (op.as_str(), detail.as_str()) {
            ("TransactWriteItems", "Put") => ("PutItem", "Table".to_owned()),
            ("TransactWriteItems", "Update") => ("UpdateItem", "Table".to_owned()),
            ("TransactWriteItems", "Delete") => ("DeleteItem", "Table".to_owned()),
            ("TransactWriteItems", "ConditionCheck") => ("ConditionCheckItem", "Table".to_owned()),
            ("Query", "table") => ("Query", "Table".to_owned()),
            ("Query", index) => ("Query", format!("Table/{index}")),
            (op, _) => (op, "Table".to_owned()),
        };
        perms.insert((format!("dynamodb:{action}"), resource));
    }
    for (op, queue) in sqs.map(CallCounter::touched).unwrap_or_default() {
        let action = match op.as_str() {
            "SendMessageBatch" => "SendMessage",
            "DeleteMessageBatch" => "DeleteMessage",
            "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
            other => other,
        };
        let resource = if queue == env.queues.webhook_url {
            "WebhookQueue".to_owned()
        } else if queue == env.queues.email_url {
            "EmailQueue".to_owned()
        } else if Some(queue.as_str()) == dlq_url {
            "WebhookDLQ".to_owned()
        } else if queue == env.relay_dlq_url {
            "RelayDLQ".to_owned()
        } else {
            queue
        };
        perms.insert((format!("sqs:{action}"), resource));
    }
    for (op, sender) in ses.map(CallCounter::touched).unwrap_or_default() {
        let domain = sender.rsplit_once('@').map_or(sender.as_str(), |(_, d)| d);
        perms.insert((
            format!("ses:{op}"),
            format!("arn:aws:ses:region:account:identity/{domain}"),
        ));
    }
    perms
}

/// The calls `App::new` makes (every function's start), recorded at the HTTP layer so that a
/// call to any service shows.
async fn init_calls() -> BTreeSet<Permission> {
    let env = Env::new().await;
    let recorder = Recorder::default();
    let sdk = env.sdk.to_builder().http_client(recorder.clone()).build();
    App::new(env.app.config.clone(), &sdk)
        .await
        .expect("the app starts");
    let calls = recorder.calls.lock().unwrap().clone();
    assert!(!calls.is_empty(), "App::new made no call");
    calls
        .into_iter()
        .map(|(target, body)| {
            let (service, op) = target
                .split_once('.')
                .unwrap_or_else(|| panic!("an unexpected call at start: {target:?}"));
            assert_eq!(
                service, "secretsmanager",
                "an unexpected call at start: {target}"
            );
            let secret = body["SecretId"].as_str().unwrap_or_default();
            let resource = if secret == env.app.config.app_secret_id {
                "AppSecret".to_owned()
            } else {
                secret.to_owned()
            };
            (format!("secretsmanager:{op}"), resource)
        })
        .collect()
}

/// Forwards the SDK's requests to the emulator, keeping each one's `X-Amz-Target` and body.
#[derive(Debug, Clone, Default)]
struct Recorder {
    calls: Arc<Mutex<Vec<(String, Value)>>>,
    http: reqwest::Client,
}

mod recorder {
    use aws_smithy_runtime_api::client::{
        http::{
            HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings,
            SharedHttpConnector,
        },
        orchestrator::{HttpRequest, HttpResponse},
        result::ConnectorError,
        runtime_components::RuntimeComponents,
    };
    use aws_smithy_types::body::SdkBody;

    impl HttpClient for super::Recorder {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    impl HttpConnector for super::Recorder {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let target = request
                .headers()
                .get("x-amz-target")
                .unwrap_or_default()
                .to_owned();
            let body = request.body().bytes().unwrap_or_default().to_vec();
            self.calls
                .lock()
                .unwrap()
                .push((target, serde_json::from_slice(&body).unwrap_or_default()));
            let method =
                reqwest::Method::from_bytes(request.method().as_bytes()).expect("a method");
            let mut forward = self.http.request(method, request.uri());
            for (name, value) in request.headers() {
                if !name.eq_ignore_ascii_case("host")
                    && !name.eq_ignore_ascii_case("content-length")
                {
                    forward = forward.header(name, value);
                }
            }
            HttpConnectorFuture::new(async move {
                let res = forward
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| ConnectorError::io(e.into()))?;
                let status = res.status().as_u16();
                let headers = res.headers().clone();
                let bytes = res
                    .bytes()
                    .await
                    .map_err(|e| ConnectorError::io(e.into()))?;
                let mut out = HttpResponse::new(
                    status.try_into().expect("a status"),
                    SdkBody::from(bytes.to_vec()),
                );
                for (name, value) in &headers {
                    if let Ok(value) = value.to_str() {
                        out.headers_mut()
                            .insert(name.as_str().to_owned(), value.to_owned());
                    }
                }
                Ok(out)
            })
        }
    }
}

// ----------------------------------------------------------------------------------------------
// Scenarios. Each has its own table, queues and secret; setup goes through the uncounted app,
// only the function under test through the counted one.

type Scenario =
    std::pin::Pin<Box<dyn std::future::Future<Output = (String, BTreeSet<Permission>)> + Send>>;

fn boxed(
    f: impl std::future::Future<Output = (String, BTreeSet<Permission>)> + Send + 'static,
) -> Scenario {
    Box::pin(f)
}

fn run(f: Function) -> Scenario {
    Box::pin(async move {
        let env = Env::new().await;
        let t = env.tenant().await;
        // No queue client: an HTTP function's App has none to call SQS with.
        let (app, ddb) = env.counted();
        let c = Counted { env: &env, app, f };
        // A key nobody issued: refused after the key's read (the accept page takes no key).
        if f != ACCEPT_PAGE {
            let res = c.send(unknown_key(sample(&t, f))).await;
            assert_eq!(res.status, 401, "{f:?} with an unknown key: {}", res.raw);
        }
        drive(&c, &t).await;
        (f.name.to_owned(), permissions(&env, None, &ddb, None, None))
    })
}

/// The function under test, on the counted clients.
struct Counted<'a> {
    env: &'a Env,
    app: App,
    f: Function,
}

impl Counted<'_> {
    async fn send(&self, c: Call) -> Answer {
        Answer::from(self.f.call(&self.app, c.request()).await)
    }

    /// Sends and checks the status.
    async fn expect(&self, status: u16, c: Call) -> Answer {
        let res = self.send(c).await;
        assert_eq!(res.status, status, "{:?}: {}", self.f, res.raw);
        res
    }
}

fn unknown_key(mut c: Call) -> Call {
    c.clear_header("authorization");
    c.clear_header("userhub-api-key");
    c.bearer(&format!("sk_{}", inflow::ids::random(32))).header(
        "userhub-api-key",
        &format!("pk_{}", inflow::ids::random(32)),
    )
}

fn replayed(res: &Answer) -> bool {
    res.header("idempotent-replayed") == Some("true")
}

/// A well-formed request to the function (for the unknown-key call).
fn sample(t: &Tenant, f: Function) -> Call {
    match f.name {
        "assign-flow" => assign(t, &assign_body(t)),
        "get-assignment" => on_assignment(
            "GET",
            "",
            t,
            &inflow::ids::new(inflow::ids::Kind::Assignment),
        ),
        "start-assignment" => on_assignment(
            "POST",
            "/start",
            t,
            &inflow::ids::new(inflow::ids::Kind::Assignment),
        ),
        "complete-assignment" => on_assignment(
            "POST",
            "/complete",
            t,
            &inflow::ids::new(inflow::ids::Kind::Assignment),
        ),
        "create-user-group" => user_group(t, &json!({"name": "n", "provided_id": "p"})),
        "list-invitations" => invitations("GET", t, ""),
        "create-invitation" => invitations("POST", t, "").json(&json!({"email": "a@example.com"})),
        "import-invitations" => {
            invitations("POST", t, "/import").json(&json!({"list": "a@example.com"}))
        }
        "get-invitation" => invitations("GET", t, "/1"),
        "delete-invitation" => invitations("DELETE", t, "/1"),
        "get-flow" => admin_flow("GET", t, &inflow::ids::new(inflow::ids::Kind::Invitation)),
        "cancel-flow" => admin_flow(
            "POST",
            t,
            &format!("{}:cancel", inflow::ids::new(inflow::ids::Kind::Invitation)),
        ),
        "create-join-organization-flow" => create_join(t, json!({"email": "a@example.com"})),
        "create-signup-flow" => create_signup(t, json!({"email": "a@example.com"})),
        "consume-flow" => consume(
            t,
            &format!(
                "{}:consume",
                inflow::ids::new(inflow::ids::Kind::Invitation)
            ),
        ),
        "list-webhook-deliveries" => deliveries(t),
        "replay-webhook-delivery" => replay(t, &inflow::ids::new(inflow::ids::Kind::Delivery)),
        "get-organization" => organization("GET", t),
        "update-organization" => organization("PATCH", t).json(&json!({"name": "x"})),
        "create-webhook-endpoint" => {
            endpoints("POST", t, None, "").json(&json!({"url": "https://hooks.acme.example/x"}))
        }
        "list-webhook-endpoints" => endpoints("GET", t, None, ""),
        "get-webhook-endpoint" => endpoints(
            "GET",
            t,
            Some(&inflow::ids::new(inflow::ids::Kind::WebhookEndpoint)),
            "",
        ),
        "update-webhook-endpoint" => endpoints(
            "PATCH",
            t,
            Some(&inflow::ids::new(inflow::ids::Kind::WebhookEndpoint)),
            "",
        )
        .json(&json!({"disabled": true})),
        "delete-webhook-endpoint" => endpoints(
            "DELETE",
            t,
            Some(&inflow::ids::new(inflow::ids::Kind::WebhookEndpoint)),
            "",
        ),
        "rotate-webhook-endpoint-secret" => endpoints(
            "POST",
            t,
            Some(&inflow::ids::new(inflow::ids::Kind::WebhookEndpoint)),
            "/rotate-secret",
        ),
        "test-webhook-endpoint" => endpoints(
            "POST",
            t,
            Some(&inflow::ids::new(inflow::ids::Kind::WebhookEndpoint)),
            "/test",
        ),
        "accept-page" => accept_page("nonsense"),
        other => panic!("{other}: an endpoint this list does not know yet"),
    }
}

fn user_group(t: &Tenant, body: &Value) -> Call {
    call("POST", "/api/user")
        .header("authorization", &format!("Token {}", t.admin_key))
        .json(body)
}

fn create_join(t: &Tenant, body: Value) -> Call {
    call("POST", "/admin/v1/flows:createJoinOrganization")
        .bearer(&t.admin_key)
        .json(&body)
}

fn create_signup(t: &Tenant, body: Value) -> Call {
    call("POST", "/admin/v1/flows:createSignup")
        .bearer(&t.admin_key)
        .json(&body)
}

fn deliveries(t: &Tenant) -> Call {
    call("GET", "/v1/webhooks/deliveries").bearer(&t.admin_key)
}

fn replay(t: &Tenant, id: &str) -> Call {
    call("POST", &format!("/v1/webhooks/deliveries/{id}/replay"))
        .bearer(&t.admin_key)
        .param("deliveryId", id)
}

async fn new_user(env: &Env, t: &Tenant, email: &str) -> inflow::model::User {
    env.user(t, email).name("Someone").create().await
}

/// A new endpoint of the tenant, made through the uncounted app; its id.
async fn new_endpoint(env: &Env, t: &Tenant) -> String {
    let body = json!({"url": "https://hooks.acme.example/hook"});
    let res = setup(
        env,
        CREATE_WEBHOOK_ENDPOINT,
        endpoints("POST", t, None, "").json(&body),
        201,
    )
    .await;
    res.body["id"].as_str().unwrap().to_owned()
}

/// Sets up through the uncounted app and checks the status.
async fn setup(env: &Env, f: Function, c: Call, status: u16) -> Answer {
    let res = env.send(f, c).await;
    assert_eq!(res.status, status, "setup {f:?}: {}", res.raw);
    res
}

async fn assigned(env: &Env, t: &Tenant, email: &str) -> String {
    let res = setup(
        env,
        ASSIGN_FLOW,
        assign(t, &json!({"flowId": t.flow.id, "userEmail": email})),
        200,
    )
    .await;
    res.body["assignmentId"].as_str().unwrap().to_owned()
}

/// The secret of the one email job waiting (an invitations-API invitation's link).
async fn only_secret(env: &Env) -> String {
    let jobs = env.email_jobs().await;
    assert_eq!(jobs.len(), 1, "one email job");
    env.secret_in(&jobs[0])
}

/// How each HTTP function is driven, after the unknown-key call `run` makes: one entry per
/// endpoint of `inflow::handlers::all()` (`drives_name_every_endpoint_once` checks it).
type Driver =
    for<'a> fn(&'a Counted<'a>, &'a Tenant) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A `Driver` of an `async fn(&Counted, &Tenant)`.
macro_rules! driver {
    ($drive:ident) => {
        |c, t| Box::pin($drive(c, t))
    };
}

const DRIVES: &[(Function, Driver)] = &[
    (ASSIGN_FLOW, driver!(drive_assign_flow)),
    (GET_ASSIGNMENT, driver!(drive_get_assignment)),
    (START_ASSIGNMENT, driver!(drive_start_assignment)),
    (COMPLETE_ASSIGNMENT, driver!(drive_complete_assignment)),
    (CREATE_USER_GROUP, driver!(drive_create_user_group)),
    (LIST_INVITATIONS, driver!(drive_list_invitations)),
    (CREATE_INVITATION, driver!(drive_create_invitation)),
    (IMPORT_INVITATIONS, driver!(drive_import_invitations)),
    (GET_INVITATION, driver!(drive_get_invitation)),
    (DELETE_INVITATION, driver!(drive_delete_invitation)),
    (GET_FLOW, driver!(drive_get_flow)),
    (CANCEL_FLOW, driver!(drive_cancel_flow)),
    (CREATE_JOIN_ORGANIZATION_FLOW, driver!(drive_create_flow)),
    (CREATE_SIGNUP_FLOW, driver!(drive_create_flow)),
    (CONSUME_FLOW, driver!(drive_consume_flow)),
    (
        LIST_WEBHOOK_DELIVERIES,
        driver!(drive_list_webhook_deliveries),
    ),
    (
        REPLAY_WEBHOOK_DELIVERY,
        driver!(drive_replay_webhook_delivery),
    ),
    (GET_ORGANIZATION, driver!(drive_get_organization)),
    (UPDATE_ORGANIZATION, driver!(drive_update_organization)),
    (
        CREATE_WEBHOOK_ENDPOINT,
        driver!(drive_create_webhook_endpoint),
    ),
    (
        LIST_WEBHOOK_ENDPOINTS,
        driver!(drive_list_webhook_endpoints),
    ),
    (GET_WEBHOOK_ENDPOINT, driver!(drive_get_webhook_endpoint)),
    (
        UPDATE_WEBHOOK_ENDPOINT,
        driver!(drive_update_webhook_endpoint),
    ),
    (
        DELETE_WEBHOOK_ENDPOINT,
        driver!(drive_delete_webhook_endpoint),
    ),
    (
        ROTATE_WEBHOOK_ENDPOINT_SECRET,
        driver!(drive_rotate_webhook_endpoint_secret),
    ),
    (TEST_WEBHOOK_ENDPOINT, driver!(drive_test_webhook_endpoint)),
    (ACCEPT_PAGE, driver!(drive_accept_page)),
];

/// The driver of `f` (the entry of `DRIVES` with its name).
fn driver(f: Function) -> Driver {
    match DRIVES.iter().find(|(e, _)| e.name == f.name) {
        Some((_, d)) => *d,
        None => panic!("{}: an endpoint this list does not know yet", f.name),
    }
}

async fn drive(c: &Counted<'_>, t: &Tenant) {
    driver(c.f)(c, t).await
}

#[test]
fn drives_name_every_endpoint_once() {
    for e in inflow::handlers::all() {
        let n = DRIVES.iter().filter(|(d, _)| d.name == e.name).count();
        assert_eq!(n, 1, "{}: {n} entries in DRIVES", e.name);
    }
    let all: BTreeSet<&str> = inflow::handlers::all().map(|e| e.name).collect();
    for (d, _) in DRIVES {
        assert!(
            all.contains(d.name),
            "{}: in DRIVES, not an endpoint",
            d.name
        );
    }
}

async fn drive_assign_flow(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let in_future = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let body = assign_body(t);
    let first = c
        .expect(200, assign(t, &body).header("idempotency-key", "iam-1"))
        .await;
    let again = c
        .expect(200, assign(t, &body).header("idempotency-key", "iam-1"))
        .await;
    assert!(replayed(&again) && again.raw == first.raw);
    // A failed request gives its key back.
    c.expect(
        400,
        assign(t, &json!({"flowId": t.flow.id})).header("idempotency-key", "iam-2"),
    )
    .await;
    // Re-assigning updates the unfinished assignment.
    let re = json!({"flowId": t.flow.id, "userEmail": t.user.email, "dueDate": in_future, "priority": "high"});
    let re = c.expect(200, assign(t, &re)).await;
    assert_eq!(re.body["assignmentId"], first.body["assignmentId"]);
    c.expect(
        404,
        assign(
            t,
            &json!({"flowId": inflow::ids::new(inflow::ids::Kind::Flow), "userEmail": t.user.email}),
        ),
    )
    .await;
    c.expect(
        404,
        assign(
            t,
            &json!({"flowId": t.flow.id, "userEmail": "nobody@example.com"}),
        ),
    )
    .await;
    // Concurrent first assigns race for the pointer; the losers update the winner's.
    new_user(env, t, "racer@example.com").await;
    let body = json!({"flowId": t.flow.id, "userEmail": "racer@example.com"});
    let all = futures::future::join_all((0..5).map(|_| c.send(assign(t, &body)))).await;
    let ids: BTreeSet<String> = all
        .iter()
        .map(|a| {
            a.body["assignmentId"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{all:?}");
}

async fn drive_get_assignment(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let id = assigned(env, t, &t.user.email).await;
    c.expect(200, on_assignment("GET", "", t, &id)).await;
    c.expect(
        404,
        on_assignment(
            "GET",
            "",
            t,
            &inflow::ids::new(inflow::ids::Kind::Assignment),
        ),
    )
    .await;
    c.expect(404, on_assignment("GET", "", t, "junk")).await;
}

async fn drive_start_assignment(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let id = assigned(env, t, &t.user.email).await;
    c.expect(200, on_assignment("POST", "/start", t, &id)).await;
    c.expect(200, on_assignment("POST", "/start", t, &id)).await;
    new_user(env, t, "done@example.com").await;
    let done = assigned(env, t, "done@example.com").await;
    setup(
        env,
        COMPLETE_ASSIGNMENT,
        on_assignment("POST", "/complete", t, &done),
        200,
    )
    .await;
    c.expect(409, on_assignment("POST", "/start", t, &done))
        .await;
    c.expect(
        404,
        on_assignment(
            "POST",
            "/start",
            t,
            &inflow::ids::new(inflow::ids::Kind::Assignment),
        ),
    )
    .await;
}

async fn drive_complete_assignment(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let id = assigned(env, t, &t.user.email).await;
    c.expect(200, on_assignment("POST", "/complete", t, &id))
        .await;
    c.expect(200, on_assignment("POST", "/complete", t, &id))
        .await;
    c.expect(
        404,
        on_assignment(
            "POST",
            "/complete",
            t,
            &inflow::ids::new(inflow::ids::Kind::Assignment),
        ),
    )
    .await;
    new_user(env, t, "racer@example.com").await;
    let raced = assigned(env, t, "racer@example.com").await;
    let all = futures::future::join_all(
        (0..4).map(|_| c.send(on_assignment("POST", "/complete", t, &raced))),
    )
    .await;
    assert!(all.iter().all(|a| a.status == 200), "{all:?}");
}

async fn drive_create_user_group(c: &Counted<'_>, t: &Tenant) {
    let body = json!({"name": "Team", "provided_id": "team-1", "current_token": ""});
    let first = c
        .expect(200, user_group(t, &body).header("idempotency-key", "iam-1"))
        .await;
    assert!(replayed(
        &c.expect(200, user_group(t, &body).header("idempotency-key", "iam-1"))
            .await
    ));
    c.expect(
        400,
        user_group(t, &json!({"name": "", "provided_id": "x"})).header("idempotency-key", "iam-2"),
    )
    .await;
    c.expect(
        409,
        user_group(t, &json!({"name": "Other", "provided_id": "team-1"})),
    )
    .await;
    let token = first.body["user_group"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotated = c
        .expect(200, user_group(t, &json!({"current_token": token})))
        .await;
    c.expect(404, user_group(t, &json!({"current_token": token})))
        .await;
    // Concurrent rotations of one token: one wins.
    let token = rotated.body["user_group"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let all = futures::future::join_all(
        (0..4).map(|_| c.send(user_group(t, &json!({"current_token": token})))),
    )
    .await;
    assert!(
        all.iter().any(|a| a.status == 200)
            && all.iter().all(|a| [200, 404, 409].contains(&a.status)),
        "{all:?}"
    );
}

async fn drive_list_invitations(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    for e in ["a@example.com", "b@example.com", "c@example.com"] {
        setup(
            env,
            CREATE_INVITATION,
            invitations("POST", t, "").json(&json!({"email": e})),
            201,
        )
        .await;
    }
    let page = c
        .expect(200, invitations("GET", t, "").query("limit", "2"))
        .await;
    assert!(page.header("link").is_some());
    c.expect(
        200,
        invitations("GET", t, "")
            .query("limit", "2")
            .query("after", "2"),
    )
    .await;
    c.expect(400, invitations("GET", t, "").query("limit", "0"))
        .await;
    c.expect(404, invitations("GET", t, "").param("flow", "no-such-flow"))
        .await;
}

async fn drive_create_invitation(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let body = json!({"email": "a@example.com", "message": "Welcome"});
    let first = c
        .expect(
            201,
            invitations("POST", t, "")
                .json(&body)
                .header("idempotency-key", "iam-1"),
        )
        .await;
    assert!(replayed(
        &c.expect(
            201,
            invitations("POST", t, "")
                .json(&body)
                .header("idempotency-key", "iam-1")
        )
        .await
    ));
    c.expect(
        400,
        invitations("POST", t, "")
            .json(&json!({"email": "nope"}))
            .header("idempotency-key", "iam-2"),
    )
    .await;
    // A resend: the same record, a new secret.
    let again = c
        .expect(
            201,
            invitations("POST", t, "").json(&json!({"email": "a@example.com"})),
        )
        .await;
    assert_eq!(again.body["id"], first.body["id"]);
    // Accepted (by the resend's link; the first one is dead).
    let mut accepted = false;
    for job in env.email_jobs().await {
        let res = env
            .send(
                CONSUME_FLOW,
                consume(t, &format!("{}:consume", env.secret_in(&job))),
            )
            .await;
        accepted |= res.status == 200;
    }
    assert!(accepted);
    c.expect(
        409,
        invitations("POST", t, "").json(&json!({"email": "a@example.com"})),
    )
    .await;
    c.expect(
        404,
        invitations("POST", t, "")
            .param("flow", "no-such-flow")
            .json(&json!({"email": "b@example.com"})),
    )
    .await;
    // Concurrent invites of one email: one writes, the others read what it wrote.
    let all =
        futures::future::join_all((0..5).map(|_| {
            c.send(invitations("POST", t, "").json(&json!({"email": "same@example.com"})))
        }))
        .await;
    assert!(all.iter().all(|a| a.status == 201), "{all:?}");
}

async fn drive_import_invitations(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    new_user(env, t, "member@example.com").await;
    let list =
        "member@example.com, new1@example.com, \"New Two\" <new2@example.com>\nbad@example.invalid";
    let body = json!({"list": list, "message": "Welcome"});
    let first = c
        .expect(
            200,
            invitations("POST", t, "/import")
                .json(&body)
                .header("idempotency-key", "iam-1"),
        )
        .await;
    assert_eq!(
        first.body["invitations"].as_array().map(Vec::len),
        Some(2),
        "{}",
        first.raw
    );
    assert!(replayed(
        &c.expect(
            200,
            invitations("POST", t, "/import")
                .json(&body)
                .header("idempotency-key", "iam-1")
        )
        .await
    ));
    // The biggest import's answer is kept in parts beside its record, read back by a
    // Query when it is replayed.
    let big: Vec<String> = (0..5000).map(|i| format!("p{i}@example.com")).collect();
    let big = json!({"list": big.join("\n")});
    c.expect(
        200,
        invitations("POST", t, "/import")
            .json(&big)
            .header("idempotency-key", "iam-big"),
    )
    .await;
    assert!(replayed(
        &c.expect(
            200,
            invitations("POST", t, "/import")
                .json(&big)
                .header("idempotency-key", "iam-big")
        )
        .await
    ));
    let long = json!({"list": "x@example.com", "message": "m".repeat(2001)});
    c.expect(
        400,
        invitations("POST", t, "/import")
            .json(&long)
            .header("idempotency-key", "iam-2"),
    )
    .await;
    let again = c
        .expect(
            200,
            invitations("POST", t, "/import").json(&json!({"list": "new1@example.com"})),
        )
        .await;
    assert_eq!(again.body["invitations"], json!([]));
    c.expect(
        404,
        invitations("POST", t, "/import")
            .param("flow", "no-such-flow")
            .json(&json!({"list": "a@example.com"})),
    )
    .await;
}

async fn drive_get_invitation(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    setup(
        env,
        CREATE_INVITATION,
        invitations("POST", t, "").json(&json!({"email": "a@example.com"})),
        201,
    )
    .await;
    c.expect(200, invitations("GET", t, "/1")).await;
    c.expect(404, invitations("GET", t, "/99")).await;
    c.expect(404, invitations("GET", t, "/x1")).await;
    c.expect(
        404,
        invitations("GET", t, "/1").param("flow", "no-such-flow"),
    )
    .await;
}

async fn drive_delete_invitation(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    setup(
        env,
        CREATE_INVITATION,
        invitations("POST", t, "").json(&json!({"email": "a@example.com"})),
        201,
    )
    .await;
    env.email_jobs().await;
    setup(
        env,
        CREATE_INVITATION,
        invitations("POST", t, "").json(&json!({"email": "b@example.com"})),
        201,
    )
    .await;
    let secret = only_secret(env).await;
    setup(
        env,
        CONSUME_FLOW,
        consume(t, &format!("{secret}:consume")),
        200,
    )
    .await;
    c.expect(204, invitations("DELETE", t, "/1")).await;
    c.expect(404, invitations("DELETE", t, "/1")).await;
    c.expect(409, invitations("DELETE", t, "/2")).await;
    c.expect(404, invitations("DELETE", t, "/99")).await;
}

async fn drive_get_flow(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let join = setup(
        env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(
            t,
            json!({"email": "j@example.com", "creatorUserId": t.user.id}),
        ),
        200,
    )
    .await;
    c.expect(200, admin_flow("GET", t, join.body["id"].as_str().unwrap()))
        .await;
    // A consumed signup that made an organization: the creator is read from the inviting one.
    let body = json!({"email": "founder@example.com", "createOrganization": true, "creatorUserId": t.user.id});
    let signup = setup(env, CREATE_SIGNUP_FLOW, create_signup(t, body), 200).await;
    setup(
        env,
        CONSUME_FLOW,
        consume(
            t,
            &format!("{}:consume", signup.body["secret"].as_str().unwrap()),
        ),
        200,
    )
    .await;
    let got = c
        .expect(
            200,
            admin_flow("GET", t, signup.body["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(got.body["creator"]["id"], t.user.id.as_str(), "{}", got.raw);
    c.expect(
        404,
        admin_flow("GET", t, &inflow::ids::new(inflow::ids::Kind::Invitation)),
    )
    .await;
}

async fn drive_cancel_flow(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let open = setup(
        env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(t, json!({"email": "a@example.com"})),
        200,
    )
    .await;
    let id = open.body["id"].as_str().unwrap();
    c.expect(200, admin_flow("POST", t, &format!("{id}:cancel")))
        .await;
    c.expect(200, admin_flow("POST", t, &format!("{id}:cancel")))
        .await;
    let done = setup(
        env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(t, json!({"email": "b@example.com"})),
        200,
    )
    .await;
    setup(
        env,
        CONSUME_FLOW,
        consume(
            t,
            &format!("{}:consume", done.body["secret"].as_str().unwrap()),
        ),
        200,
    )
    .await;
    c.expect(
        400,
        admin_flow(
            "POST",
            t,
            &format!("{}:cancel", done.body["id"].as_str().unwrap()),
        ),
    )
    .await;
    c.expect(
        404,
        admin_flow(
            "POST",
            t,
            &format!("{}:cancel", inflow::ids::new(inflow::ids::Kind::Invitation)),
        ),
    )
    .await;
    // Concurrent cancels: the losers find it canceled.
    let raced = setup(
        env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(t, json!({"email": "c@example.com"})),
        200,
    )
    .await;
    let path = format!("{}:cancel", raced.body["id"].as_str().unwrap());
    let all = futures::future::join_all((0..4).map(|_| c.send(admin_flow("POST", t, &path)))).await;
    assert!(all.iter().all(|a| a.status == 200), "{all:?}");
}

/// `create-join-organization-flow` and `create-signup-flow`: one scenario, its requests made by the function under test.
async fn drive_create_flow(c: &Counted<'_>, t: &Tenant) {
    let make = |body: Value| {
        if c.f == CREATE_SIGNUP_FLOW {
            create_signup(t, body)
        } else {
            create_join(t, body)
        }
    };
    let body =
        json!({"email": "a@example.com", "creatorUserId": t.user.id, "createOrganization": true});
    let body = if c.f == CREATE_SIGNUP_FLOW {
        body
    } else {
        json!({"userId": t.user.id, "creatorUserId": t.user.id, "roleId": "GUEST"})
    };
    let first = c
        .expect(200, make(body.clone()).header("idempotency-key", "iam-1"))
        .await;
    let again = c
        .expect(200, make(body).header("idempotency-key", "iam-1"))
        .await;
    assert!(replayed(&again) && again.raw == first.raw);
    c.expect(
        400,
        make(json!({"email": "nope"})).header("idempotency-key", "iam-2"),
    )
    .await;
    c.expect(
        400,
        make(json!({"email": "a@example.com", "creatorUserId": inflow::ids::new(inflow::ids::Kind::User)})),
    )
    .await;
    c.expect(
        404,
        make(json!({"email": "a@example.com", "organizationId": inflow::ids::new(inflow::ids::Kind::Organization)})),
    )
    .await;
    if c.f == CREATE_JOIN_ORGANIZATION_FLOW {
        c.expect(
            404,
            make(json!({"userId": inflow::ids::new(inflow::ids::Kind::User)})),
        )
        .await;
    }
}

async fn drive_consume_flow(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    // An invitations-API invitation by its link's secret: a new user joins the flow.
    setup(
        env,
        CREATE_INVITATION,
        invitations("POST", t, "").json(&json!({"email": "newbie@example.com"})),
        201,
    )
    .await;
    let secret = only_secret(env).await;
    c.expect(200, consume(t, &format!("{secret}:consume")))
        .await;
    c.expect(200, consume(t, &format!("{secret}:consume")))
        .await;
    // A signup that makes an organization, and one that joins the inviting one.
    let signup = setup(
        env,
        CREATE_SIGNUP_FLOW,
        create_signup(
            t,
            json!({"email": "f@example.com", "createOrganization": true}),
        ),
        200,
    )
    .await;
    c.expect(
        200,
        consume(
            t,
            &format!("{}:consume", signup.body["secret"].as_str().unwrap()),
        ),
    )
    .await;
    let plain = setup(
        env,
        CREATE_SIGNUP_FLOW,
        create_signup(t, json!({"email": "g@example.com"})),
        200,
    )
    .await;
    c.expect(
        200,
        consume(
            t,
            &format!("{}:consume", plain.body["secret"].as_str().unwrap()),
        ),
    )
    .await;
    // By id, with the invitee's access token (an existing user).
    let by_id = setup(
        env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(t, json!({"email": t.user.email, "roleId": "OWNER"})),
        200,
    )
    .await;
    let path = format!("{}:consume", by_id.body["id"].as_str().unwrap());
    c.expect(401, consume(t, &path)).await;
    let token = inflow::invitations::tokens::mint_for(
        &env.app,
        &t.org_id,
        &t.user.id,
        600,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    c.expect(
        200,
        consume(t, &path).header("authorization", &format!("Bearer {token}")),
    )
    .await;
    // Canceled, and unknown.
    let canceled = setup(
        env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(t, json!({"email": "c@example.com"})),
        200,
    )
    .await;
    setup(
        env,
        CANCEL_FLOW,
        admin_flow(
            "POST",
            t,
            &format!("{}:cancel", canceled.body["id"].as_str().unwrap()),
        ),
        200,
    )
    .await;
    c.expect(
        400,
        consume(
            t,
            &format!("{}:consume", canceled.body["secret"].as_str().unwrap()),
        ),
    )
    .await;
    let forged = format!(
        "{}.{}:consume",
        inflow::ids::new(inflow::ids::Kind::Invitation),
        inflow::ids::random(40)
    );
    c.expect(404, consume(t, &forged)).await;
    // Concurrent consumes: one transition, the others read it.
    let raced = setup(
        env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(t, json!({"email": "racer@example.com"})),
        200,
    )
    .await;
    let path = format!("{}:consume", raced.body["secret"].as_str().unwrap());
    let all = futures::future::join_all((0..5).map(|_| c.send(consume(t, &path)))).await;
    assert!(all.iter().all(|a| a.status == 200), "{all:?}");
}

async fn drive_list_webhook_deliveries(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    failed_delivery(env, t).await;
    let res = c.expect(200, deliveries(t).query("status", "failed")).await;
    assert_eq!(
        res.body["deliveries"].as_array().map(Vec::len),
        Some(1),
        "{}",
        res.raw
    );
    c.expect(
        200,
        deliveries(t).query("status", "pending").query("limit", "5"),
    )
    .await;
    c.expect(400, deliveries(t).query("status", "lost")).await;
}

async fn drive_get_organization(c: &Counted<'_>, t: &Tenant) {
    c.expect(200, organization("GET", t)).await;
}

async fn drive_update_organization(c: &Counted<'_>, t: &Tenant) {
    let body = json!({"name": "Acme Corp", "acceptUrlTemplate": "https://join.acme.example/{secret}", "invitationTtl": "3600s"});
    c.expect(200, organization("PATCH", t).json(&body)).await;
    let reset = json!({"acceptUrlTemplate": null, "invitationTtl": null});
    c.expect(200, organization("PATCH", t).json(&reset)).await;
    // Nothing to change: a read.
    c.expect(200, organization("PATCH", t).json(&json!({})))
        .await;
    c.expect(
        400,
        organization("PATCH", t).json(&json!({"invitationTtl": "forever"})),
    )
    .await;
}

async fn drive_create_webhook_endpoint(c: &Counted<'_>, t: &Tenant) {
    let body = json!({"url": "https://hooks.acme.example/a", "events": ["flow.assigned"]});
    let first = c
        .expect(
            201,
            endpoints("POST", t, None, "")
                .json(&body)
                .header("idempotency-key", "iam-1"),
        )
        .await;
    let again = c
        .expect(
            201,
            endpoints("POST", t, None, "")
                .json(&body)
                .header("idempotency-key", "iam-1"),
        )
        .await;
    assert!(replayed(&again) && again.raw == first.raw);
    c.expect(
        400,
        endpoints("POST", t, None, "")
            .json(&json!({"url": "https://hooks.acme.example/a", "events": ["nope"]}))
            .header("idempotency-key", "iam-2"),
    )
    .await;
    // Up to the organization's limit, then 409.
    for i in 1..inflow::webhooks::MAX_ENDPOINTS {
        let url = format!("https://hooks{i}.acme.example/");
        c.expect(
            201,
            endpoints("POST", t, None, "").json(&json!({ "url": url })),
        )
        .await;
    }
    c.expect(409, endpoints("POST", t, None, "").json(&body))
        .await;
}

async fn drive_list_webhook_endpoints(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    new_endpoint(env, t).await;
    new_endpoint(env, t).await;
    let res = c.expect(200, endpoints("GET", t, None, "")).await;
    assert_eq!(res.body["endpoints"].as_array().map(Vec::len), Some(2));
}

async fn drive_get_webhook_endpoint(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let id = new_endpoint(env, t).await;
    c.expect(200, endpoints("GET", t, Some(&id), "")).await;
    c.expect(
        404,
        endpoints(
            "GET",
            t,
            Some(&inflow::ids::new(inflow::ids::Kind::WebhookEndpoint)),
            "",
        ),
    )
    .await;
    c.expect(404, endpoints("GET", t, Some("junk"), "")).await;
}

async fn drive_update_webhook_endpoint(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let id = new_endpoint(env, t).await;
    let change = json!({"events": ["flow.completed"], "description": "d", "disabled": true});
    c.expect(200, endpoints("PATCH", t, Some(&id), "").json(&change))
        .await;
    c.expect(200, endpoints("PATCH", t, Some(&id), "").json(&json!({})))
        .await;
    c.expect(
        400,
        endpoints("PATCH", t, Some(&id), "").json(&json!({"url": "ftp://x"})),
    )
    .await;
    c.expect(
        404,
        endpoints(
            "PATCH",
            t,
            Some(&inflow::ids::new(inflow::ids::Kind::WebhookEndpoint)),
            "",
        )
        .json(&json!({"disabled": false})),
    )
    .await;
}

async fn drive_delete_webhook_endpoint(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let id = new_endpoint(env, t).await;
    c.expect(204, endpoints("DELETE", t, Some(&id), "")).await;
    c.expect(404, endpoints("DELETE", t, Some(&id), "")).await;
}

async fn drive_rotate_webhook_endpoint_secret(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let id = new_endpoint(env, t).await;
    let rotate =
        || endpoints("POST", t, Some(&id), "/rotate-secret").header("idempotency-key", "iam-1");
    let first = c.expect(200, rotate()).await;
    let again = c.expect(200, rotate()).await;
    assert!(replayed(&again) && again.raw == first.raw);
    c.expect(200, endpoints("POST", t, Some(&id), "/rotate-secret"))
        .await;
    c.expect(
        404,
        endpoints(
            "POST",
            t,
            Some(&inflow::ids::new(inflow::ids::Kind::WebhookEndpoint)),
            "/rotate-secret",
        )
        .header("idempotency-key", "iam-2"),
    )
    .await;
}

async fn drive_test_webhook_endpoint(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let id = new_endpoint(env, t).await;
    c.expect(
        202,
        endpoints("POST", t, Some(&id), "/test").header("idempotency-key", "iam-1"),
    )
    .await;
    c.expect(202, endpoints("POST", t, Some(&id), "/test"))
        .await;
    setup(
        env,
        UPDATE_WEBHOOK_ENDPOINT,
        endpoints("PATCH", t, Some(&id), "").json(&json!({"disabled": true})),
        200,
    )
    .await;
    c.expect(
        409,
        endpoints("POST", t, Some(&id), "/test").header("idempotency-key", "iam-2"),
    )
    .await;
    c.expect(
        404,
        endpoints(
            "POST",
            t,
            Some(&inflow::ids::new(inflow::ids::Kind::WebhookEndpoint)),
            "/test",
        ),
    )
    .await;
}

async fn drive_accept_page(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    // An invitations-API invitation (its flow), as the email links to it: shown, accepted
    // (a new user joins the flow), then used up.
    setup(
        env,
        CREATE_INVITATION,
        invitations("POST", t, "").json(&json!({"email": "newbie@example.com"})),
        201,
    )
    .await;
    let secret = only_secret(env).await;
    c.expect(200, accept_page(&secret)).await;
    c.expect(200, accept_form(&secret)).await;
    c.expect(409, accept_form(&secret)).await;
    // An existing user accepts a flows-API invitation from its creator.
    let flow = setup(
        env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(
            t,
            json!({"email": t.user.email, "creatorUserId": t.user.id}),
        ),
        200,
    )
    .await;
    let secret = flow.body["secret"].as_str().unwrap();
    c.expect(200, accept_page(secret)).await;
    c.expect(200, accept_form(secret)).await;
    let forged = format!(
        "{}.{}",
        inflow::ids::new(inflow::ids::Kind::Invitation),
        inflow::ids::random(40)
    );
    c.expect(404, accept_page(&forged)).await;
    c.expect(400, accept_form("")).await;
}

async fn drive_replay_webhook_delivery(c: &Counted<'_>, t: &Tenant) {
    let env = c.env;
    let id = failed_delivery(env, t).await;
    c.expect(202, replay(t, &id)).await;
    c.expect(409, replay(t, &id)).await;
    c.expect(
        404,
        replay(t, &inflow::ids::new(inflow::ids::Kind::Delivery)),
    )
    .await;
    c.expect(404, replay(t, "junk")).await;
}

/// A delivery that failed for good (the receiver answered 410); its id.
async fn failed_delivery(env: &Env, t: &Tenant) -> String {
    let receiver = Receiver::start(vec![], 410).await;
    env.webhook(t, &receiver.url).create().await;
    assigned(env, t, &t.user.email).await;
    env.pump_webhooks(
        &env.webhook_worker(&[0], false).await,
        Duration::from_millis(1500),
    )
    .await;
    let res = setup(
        env,
        LIST_WEBHOOK_DELIVERIES,
        deliveries(t).query("status", "failed"),
        200,
    )
    .await;
    res.body["deliveries"][0]["id"]
        .as_str()
        .expect("a failed delivery")
        .to_owned()
}

/// The webhook worker: fan-out (endpoints by Query on the table), delivery records, a retry to
/// its own queue, a dead letter, a repeated message.
async fn webhook_worker() -> (String, BTreeSet<Permission>) {
    let env = Env::new().await;
    let t = env.tenant().await;
    let flaky = Receiver::start(vec![(500, vec![])], 200).await;
    let gone = Receiver::start(vec![], 410).await;
    for r in [&flaky, &gone] {
        env.webhook(&t, &r.url).create().await;
    }
    let (app, ddb) = env.counted();
    let (queues, sqs) = env.counted_queues();
    let dlq = env
        .queue_url(&format!("{}-dlq", env.names.webhook_queue))
        .await;
    let settings = inflow::delivery::DeliveryConfig {
        schedule: vec![Duration::ZERO, Duration::ZERO],
        allow_private_targets: true,
        timeout: Duration::from_secs(5),
        in_flight: inflow::delivery::limits::IN_FLIGHT,
        per_host: inflow::delivery::limits::PER_HOST,
    };
    let worker = inflow::delivery::WebhookWorker::new(app, queues, settings).expect("a worker");
    assigned(&env, &t, &t.user.email).await;
    let queue = env.queues.webhook_url.clone();
    env.relay_stream().await;
    let first = env.receive(&queue).await;
    assert_eq!(first.len(), 1);
    // Handled twice, as SQS may deliver it: the second finds the attempts claimed.
    inflow::delivery::handle(&worker, sqs_event(&first)).await;
    inflow::delivery::handle(&worker, sqs_event(&first)).await;
    let handle = first[0].receipt_handle().unwrap();
    env.sqs
        .delete_message()
        .queue_url(&queue)
        .receipt_handle(handle)
        .send()
        .await
        .unwrap();
    env.pump_webhooks(&worker, Duration::from_millis(1500))
        .await;
    assert_eq!((flaky.received().len(), gone.received().len()), (2, 1));
    assert!(
        env.drain(&dlq).await.is_empty(),
        "the 410 ended in the tenant's failed deliveries, not the operator's dead-letter queue"
    );
    (
        "webhook-worker".into(),
        permissions(&env, Some(&dlq), &ddb, Some(&sqs), None),
    )
}

/// The email worker: an invitations-API invitation (its flow), a flows-API one (its inviter),
/// SES, the STARTED mark, then the same jobs again (stale).
async fn email_worker() -> (String, BTreeSet<Permission>) {
    let env = Env::new().await;
    let t = env.tenant().await;
    let domain = SENDER_DOMAIN;
    let _ = aws_sdk_sesv2::Client::new(&env.sdk)
        .create_email_identity()
        .email_identity(domain)
        .send()
        .await;
    let (app, ddb) = env.counted();
    let ses_calls = CallCounter::default();
    let ses = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(&env.sdk)
            .interceptor(ses_calls.clone())
            .build(),
    );
    let settings = email::MailConfig::new(&format!("noreply@{domain}"), None).expect("settings");
    let (queues, sqs) = env.counted_queues();
    let worker = EmailWorker {
        app,
        ses,
        queues,
        settings,
    };
    // SES throttles one mail through the SDK's three attempts: its job goes back to its queue,
    // delayed. (The address is this run's own: the rule matches nothing else.)
    let throttled = format!(
        "throttled-{}@example.com",
        inflow::ids::random(10).to_lowercase()
    );
    inflow_tests::inject_fault(json!({
        "match": {"path": "/v2/email/outbound-emails", "body_contains": throttled},
        "status": 429, "error": "TooManyRequestsException", "times": 3,
    }))
    .await;
    setup(
        &env,
        CREATE_INVITATION,
        invitations("POST", &t, "").json(&json!({ "email": throttled })),
        201,
    )
    .await;
    setup(
        &env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(
            &t,
            json!({"email": "b@example.com", "creatorUserId": t.user.id}),
        ),
        200,
    )
    .await;
    let queue = env.queues.email_url.clone();
    env.relay_stream().await;
    let messages = env.receive(&queue).await;
    assert_eq!(messages.len(), 2);
    for _ in 0..2 {
        let res = email::handle(&worker, sqs_event(&messages)).await;
        assert!(res.batch_item_failures.is_empty());
    }
    assert!(
        sqs.touched().iter().any(|(_, q)| *q == queue),
        "a throttled job went back to its queue"
    );
    assert_eq!(
        ses_calls.count("SendEmail"),
        5,
        "sent once each, and the one throttled three times"
    );
    (
        "email-worker".into(),
        permissions(&env, None, &ddb, Some(&sqs), Some(&ses_calls)),
    )
}

/// The sweeper: an overdue assignment (GSI1) and an expired invitation flow (GSI2).
async fn sweeper() -> (String, BTreeSet<Permission>) {
    let env = Env::new().await;
    let t = env.tenant().await;
    let due = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    setup(
        &env,
        ASSIGN_FLOW,
        assign(
            &t,
            &json!({"flowId": t.flow.id, "userEmail": t.user.email, "dueDate": due}),
        ),
        200,
    )
    .await;
    setup(
        &env,
        CREATE_JOIN_ORGANIZATION_FLOW,
        create_join(&t, json!({"email": "a@example.com", "ttl": "1s"})),
        200,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (app, ddb) = env.counted();
    let s = Sweeper { app };
    let summary = sweeper::handle(&s, json!({})).await.expect("a sweep");
    assert_eq!(
        (summary.overdue.done, summary.expired.done),
        (1, 1),
        "{summary:?}"
    );
    ("sweeper".into(), permissions(&env, None, &ddb, None, None))
}

/// The relay: events, emails and a replay's attempt from the table's stream to their queues;
/// it reads no table and no secret (the stream's own permissions are the event source's).
async fn relay() -> (String, BTreeSet<Permission>) {
    let env = Env::new().await;
    let t = env.tenant().await;
    let id = failed_delivery(&env, &t).await;
    setup(
        &env,
        CREATE_INVITATION,
        invitations("POST", &t, "").json(&json!({"email": "a@example.com"})),
        201,
    )
    .await;
    setup(&env, REPLAY_WEBHOOK_DELIVERY, replay(&t, &id), 202).await;
    // A record it cannot read, which it sets aside in its dead-letter queue.
    env.app
        .table
        .client()
        .put_item()
        .table_name(&env.app.config.table_name)
        .item("PK", AttributeValue::S(format!("ORG#{}", t.org_id)))
        .item("SK", AttributeValue::S("POISON#1".into()))
        .item("outbox_id", AttributeValue::S("obx_poison".into()))
        .item("outbox_jobs", AttributeValue::S("not the jobs".into()))
        .send()
        .await
        .unwrap();
    let (queues, sqs) = env.counted_queues();
    let relayed = env
        .relay_stream_with(&inflow::relay::Relay {
            queues,
            dead_letters: Some(env.relay_dlq_url.clone()),
        })
        .await;
    assert!(relayed.given_up.is_empty());
    let ops = sqs.touched();
    for queue in [
        &env.queues.webhook_url,
        &env.queues.email_url,
        &env.relay_dlq_url,
    ] {
        assert!(
            ops.iter().any(|(_, q)| q == queue),
            "the relay sent to {queue}: {ops:?}"
        );
    }
    (
        "relay".into(),
        permissions(&env, None, &CallCounter::default(), Some(&sqs), None),
    )
}
