//! Test support: a private set of AWS resources in the local emulator per test, tenants to
//! call with, and requests built as API Gateway HTTP API v2 events, run through the real
//! handlers. Needs `AWS_ENDPOINT_URL` (set by `make test`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use inflow::{
    bootstrap::{self, Names},
    config::Config,
    jobs::Event,
    model::{Flow, Role, Tier, User},
    operator::{self, NewFlow, NewOrg},
    queue::Queues,
    relay::Relay,
    App,
};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

pub type Item = HashMap<String, AttributeValue>;

/// An HTTP function, as tests name it: its `inflow::handlers::endpoints` entry (`ASSIGN_FLOW`
/// for `assign-flow`), called in-process as its binary calls it ([`Function::call`]).
pub type Function = inflow::http::Endpoint;
pub use inflow::handlers::endpoints;

/// A test's own table, queues and secret, the app pointed at them, and the relay's event
/// source on the table's stream.
pub struct Env {
    pub app: App,
    pub sdk: aws_config::SdkConfig,
    pub names: Names,
    pub queues: Queues,
    pub sqs: aws_sdk_sqs::Client,
    pub relay_dlq_url: String,
    pub stream: stream::StreamSource,
}

/// An organization with keys, a user (jane@example.com) and a flow.
pub struct Tenant {
    pub org_id: String,
    pub org_slug: String,
    pub admin_key: String,
    pub admin_key_id: String,
    pub user_key: String,
    pub user: User,
    pub flow: Flow,
}

impl Env {
    pub async fn new() -> Env {
        assert!(
            std::env::var("AWS_ENDPOINT_URL").is_ok(),
            "AWS_ENDPOINT_URL is not set: run the integration tests with `make test`, which starts the emulator"
        );
        let sdk = aws_config::load_from_env().await;
        let names = Names::with_prefix(&format!("t{}", inflow::ids::random(12).to_lowercase()));
        let made = bootstrap::ensure_all(&sdk, &names)
            .await
            .expect("bootstrap the emulator");
        let config = Config {
            table_name: made.table.clone(),
            app_secret_id: made.secret_id,
            public_base_url: None,
            // Local mode, as `make dev` runs: tests' receivers listen on loopback.
            allow_private_targets: true,
            // The tests' organizations link to their own app's join page.
            accept_url_hosts: vec!["join.acme.example".into()],
            // No daily email budget unless a test sets one.
            email_budgets: Default::default(),
        };
        let app = App::new(config, &sdk).await.expect("build the app");
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let queues = Queues::new(sqs.clone(), made.webhook_queue_url, made.email_queue_url);
        let stream_arn = app
            .table
            .client()
            .describe_table()
            .table_name(&made.table)
            .send()
            .await
            .expect("describe the table")
            .table
            .and_then(|t| t.latest_stream_arn)
            .expect("the table has a stream");
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        let stream = stream::StreamSource::new(
            &endpoint,
            &stream_arn,
            stream::SourceSettings::from_template(),
        );
        Env {
            app,
            sdk,
            names,
            queues,
            sqs,
            relay_dlq_url: made.relay_dlq_url,
            stream,
        }
    }

    /// The relay on this test's queues, setting unreadable records aside in its DLQ.
    pub fn relay(&self) -> Relay {
        Relay {
            queues: self.queues.clone(),
            dead_letters: Some(self.relay_dlq_url.clone()),
        }
    }

    /// Runs the relay's event source over what the table's stream holds since the last run,
    /// as Lambda would (see [`stream`]); batches it gives up on go to the relay's DLQ.
    pub async fn relay_stream(&self) -> stream::Pumped {
        self.relay_stream_with(&self.relay()).await
    }

    pub async fn relay_stream_with(&self, relay: &Relay) -> stream::Pumped {
        self.relay_stream_under(self.stream.settings(), relay).await
    }

    /// As [`relay_stream_with`](Self::relay_stream_with), the event source set up otherwise.
    pub async fn relay_stream_under(
        &self,
        settings: &stream::SourceSettings,
        relay: &Relay,
    ) -> stream::Pumped {
        let pumped = self
            .stream
            .pump_with(settings, |event| async move {
                let event = serde_json::from_value(event).expect("a DynamoDB stream event");
                let answer = inflow::relay::handle_raw(relay, event).await;
                serde_json::to_value(answer).expect("a JSON answer")
            })
            .await;
        for info in &pumped.given_up {
            self.sqs
                .send_message()
                .queue_url(&self.relay_dlq_url)
                .message_body(info.to_string())
                .send()
                .await
                .expect("the relay DLQ takes it");
        }
        pumped
    }

    /// A new organization (standard tier) with its admin and user keys, a member and a flow.
    pub async fn tenant(&self) -> Tenant {
        self.org().create().await
    }

    pub async fn tenant_with(&self, tier: Tier) -> Tenant {
        self.org().tier(tier).create().await
    }

    /// A new organization, built: `env.org().tier(Tier::Enterprise).create().await`.
    pub fn org(&self) -> OrgBuilder<'_> {
        OrgBuilder {
            env: self,
            tier: Tier::Standard,
        }
    }

    /// A new user of `t`'s organization, built: `env.user(&t, "sam@example.com").create()`
    /// (no name, a member, unless `.name(…)` / `.role(…)` say otherwise).
    pub fn user<'a>(&'a self, t: &'a Tenant, email: &'a str) -> UserBuilder<'a> {
        UserBuilder {
            env: self,
            org_id: &t.org_id,
            email,
            name: None,
            role: Role::Member,
        }
    }

    /// A new webhook endpoint of `t`'s organization, made as the operator makes one (all
    /// events unless `.events(…)`); `.create()` gives it and its signing secret.
    pub fn webhook<'a>(&'a self, t: &'a Tenant, url: &'a str) -> WebhookBuilder<'a> {
        WebhookBuilder {
            env: self,
            org_id: &t.org_id,
            url,
            events: None,
        }
    }

    /// Sends a request the way AWS does: its API Gateway event through the runtime's event
    /// check and conversion (`inflow::gateway`) into the function, and the answer back as API
    /// Gateway reads it.
    pub async fn send(&self, function: Function, call: Call) -> Answer {
        let (app, function) = (&self.app, &function);
        let handler = move |req| function.call(app, req);
        let event = inflow::lambda_runtime::LambdaEvent::new(call.event(), Default::default());
        let answer = inflow::gateway::answer(handler, event)
            .await
            .expect("an answer, not an invocation error");
        Answer::from_gateway(serde_json::to_value(answer).expect("the answer as JSON"))
    }

    /// Every item in this test's table (tests may scan; request paths never do).
    /// Every item of the table but the per-address request counters (`RATE#…`): those are
    /// bookkeeping every call to a public route makes, as a key's own counter is.
    pub async fn items(&self) -> Vec<Item> {
        let mut items = Vec::new();
        let mut pages = self
            .app
            .table
            .client()
            .scan()
            .table_name(&self.app.config.table_name)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.expect("scan");
            let pk = item.get("PK").and_then(|v| v.as_s().ok());
            if !pk.is_some_and(|pk| pk.starts_with("RATE#")) {
                items.push(item);
            }
        }
        items
    }

    /// Every event waiting in the webhook queue (a message holds one event or an array), after
    /// relaying what the table's stream holds.
    pub async fn webhook_jobs(&self) -> Vec<Event> {
        self.relay_stream().await;
        let mut events = Vec::new();
        for body in self.drain(&self.queues.webhook_url).await {
            match serde_json::from_str::<Vec<Event>>(&body) {
                Ok(batch) => events.extend(batch),
                Err(_) => events
                    .push(serde_json::from_str(&body).expect("a webhook job is an event envelope")),
            }
        }
        events
    }

    /// Takes every job waiting in the email queue, after relaying what the stream holds.
    pub async fn email_jobs(&self) -> Vec<inflow::jobs::EmailJob> {
        self.relay_stream().await;
        self.drain(&self.queues.email_url)
            .await
            .into_iter()
            .map(|body| serde_json::from_str(&body).expect("an email job"))
            .collect()
    }

    /// The flow secret an email job carries (what the invitee's link holds).
    pub fn secret_in(&self, job: &inflow::jobs::EmailJob) -> String {
        self.app
            .sealer
            .open(&job.secret_sealed)
            .expect("a sealed secret")
    }

    pub async fn drain(&self, queue_url: &str) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return bodies;
            }
            for m in messages {
                if let Some(handle) = m.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("delete");
                }
                bodies.extend(m.body);
            }
        }
    }
}

/// A request under construction.
#[derive(Clone)]
pub struct Call {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    source_ip: String,
}

pub fn call(method: &str, path: &str) -> Call {
    Call {
        method: method.into(),
        path: path.into(),
        headers: Vec::new(),
        body: None,
        params: Vec::new(),
        query: Vec::new(),
        source_ip: next_address(),
    }
}

/// A client address of its own for each call (198.18.0.0/15, the benchmarking range), so that
/// per-address limits bite only in tests that choose an address ([`Call::from_address`]).
fn next_address() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % (1 << 17);
    format!("198.{}.{}.{}", 18 + (n >> 16), (n >> 8) & 0xff, n & 0xff)
}

impl Call {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_lowercase(), value.to_owned()));
        self
    }

    pub fn bearer(self, key: &str) -> Self {
        self.header("authorization", &format!("Bearer {key}"))
    }

    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .raw(body.to_string().as_bytes())
    }

    pub fn raw(mut self, body: &[u8]) -> Self {
        self.body = Some(body.to_vec());
        self
    }

    /// Sets a path parameter (replacing one of the same name).
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.retain(|(k, _)| k != name);
        self.params.push((name.into(), value.into()));
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// The client address API Gateway reports (`requestContext.http.sourceIp`).
    pub fn from_address(mut self, ip: &str) -> Self {
        self.source_ip = ip.into();
        self
    }

    pub fn clear_header(&mut self, name: &str) {
        self.headers.retain(|(k, _)| k != name);
    }

    /// The request as API Gateway would hand it to the function (v2 payload), converted as
    /// lambda_http converts it.
    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.event().to_string())
            .expect("a valid API Gateway v2 event")
    }

    /// The event API Gateway would hand the function (HTTP API, payload format 2.0).
    pub fn event(&self) -> Value {
        use base64::Engine;
        let headers: serde_json::Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let params: serde_json::Map<String, Value> = self
            .params
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let query: serde_json::Map<String, Value> = self
            .query
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let raw_query = self
            .query
            .iter()
            .map(|(k, v)| {
                let encode = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                format!("{}={}", encode(k), encode(v))
            })
            .collect::<Vec<_>>()
            .join("&");
        let (body, base64) = match &self.body {
            None => (Value::Null, false),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => (json!(text), false),
                Err(_) => (
                    json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
                    true,
                ),
            },
        };
        // A client sends what a URL cannot hold percent-encoded (an escape it wrote, `%2E`, as
        // it wrote it); pathParameters are decoded, as API Gateway hands them over.
        let bytes = self.path.as_bytes();
        let escape = |i: usize| {
            bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        };
        let raw_path: String = bytes
            .iter()
            .enumerate()
            .map(|(i, &b)| match b {
                b'%' if escape(i) => "%".to_owned(),
                b'/' => "/".to_owned(),
                _ if b.is_ascii_graphic() && !b"\"<>`{}|\\^ #?%".contains(&b) => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": headers,
            "queryStringParameters": query,
            "pathParameters": params,
            "requestContext": {
                "accountId": "123456789012", "apiId": "test", "domainName": "api.test.example",
                "domainPrefix": "api", "requestId": "test", "routeKey": "$default", "stage": "$default",
                "time": "22/Nov/2026:10:00:00 +0000", "timeEpoch": 1795341600000i64,
                "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1", "sourceIp": self.source_ip, "userAgent": "tests"}
            },
            "body": body,
            "isBase64Encoded": base64,
        })
    }
}

/// A response, with its body parsed when it is JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub raw: String,
    pub body: Value,
}

impl From<Response<Body>> for Answer {
    fn from(res: Response<Body>) -> Self {
        let (parts, body) = res.into_parts();
        let raw = String::from_utf8_lossy(body.as_ref()).into_owned();
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            raw,
            body,
        }
    }
}

impl Answer {
    /// An HTTP function's answer as API Gateway reads it (payload format 2.0).
    pub fn from_gateway(answer: Value) -> Self {
        use base64::Engine;
        let mut headers = http::HeaderMap::new();
        for (name, value) in answer["headers"].as_object().into_iter().flatten() {
            if let (Ok(name), Some(Ok(value))) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(http::HeaderValue::from_str),
            ) {
                headers.append(name, value);
            }
        }
        let text = answer["body"].as_str().unwrap_or_default();
        let raw = if answer["isBase64Encoded"] == true {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("a base64 body");
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            text.to_owned()
        };
        Answer {
            status: answer["statusCode"].as_u64().expect("a status") as u16,
            headers,
            body: serde_json::from_str(&raw).unwrap_or(Value::Null),
            raw,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The JSON body of an assign request for this tenant.
pub fn assign_body(t: &Tenant) -> Value {
    json!({"flowId": t.flow.id, "userEmail": t.user.email})
}

pub fn assign(t: &Tenant, body: &Value) -> Call {
    call("POST", "/v1/flows/assign")
        .bearer(&t.admin_key)
        .json(body)
}

pub fn on_assignment(method: &str, suffix: &str, t: &Tenant, id: &str) -> Call {
    call(method, &format!("/v1/assignments/{id}{suffix}"))
        .bearer(&t.admin_key)
        .param("assignmentId", id)
}

/// `/flows/{org}/{flow}/invitations{suffix}`, with its path parameters.
pub fn invitations(method: &str, t: &Tenant, suffix: &str) -> Call {
    let mut c = call(
        method,
        &format!("/flows/{}/{}/invitations{suffix}", t.org_slug, t.flow.slug),
    )
    .bearer(&t.admin_key)
    .param("organization", &t.org_slug)
    .param("flow", &t.flow.slug);
    if let Some(id) = suffix.strip_prefix('/').filter(|s| *s != "import") {
        c = c.param("id", id);
    }
    c
}

/// `/admin/v1/flows/{segment}` with the admin key.
pub fn admin_flow(method: &str, t: &Tenant, segment: &str) -> Call {
    call(method, &format!("/admin/v1/flows/{segment}"))
        .bearer(&t.admin_key)
        .param("flowId", segment)
}

/// `GET` or `PATCH /v1/organization` with the admin key.
pub fn organization(method: &str, t: &Tenant) -> Call {
    call(method, "/v1/organization").bearer(&t.admin_key)
}

/// `/v1/webhooks/endpoints{suffix}` with the admin key; `id` is the `{endpointId}` of the
/// paths under one endpoint.
pub fn endpoints(method: &str, t: &Tenant, id: Option<&str>, suffix: &str) -> Call {
    match id {
        None => call(method, "/v1/webhooks/endpoints").bearer(&t.admin_key),
        Some(id) => call(method, &format!("/v1/webhooks/endpoints/{id}{suffix}"))
            .bearer(&t.admin_key)
            .param("endpointId", id),
    }
}

/// `GET /accept?secret=…`, as a browser opens the email's link (no key).
pub fn accept_page(secret: &str) -> Call {
    call("GET", "/accept").query("secret", secret)
}

/// `POST /accept` with the form the page posts (no key).
pub fn accept_form(secret: &str) -> Call {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("secret", secret)
        .finish();
    call("POST", "/accept")
        .header("content-type", "application/x-www-form-urlencoded")
        .raw(body.as_bytes())
}

/// `POST /user/v1/flows/{segment}` with the user key.
pub fn consume(t: &Tenant, segment: &str) -> Call {
    call("POST", &format!("/user/v1/flows/{segment}"))
        .header("userhub-api-key", &t.user_key)
        .param("flowId", segment)
}

/// Waits until a minute has at least `secs` seconds left, so a test's burst stays in one
/// rate-limit window.
pub async fn wait_for_window_with(secs: i64) {
    let left = 60 - chrono::Utc::now().timestamp().rem_euclid(60);
    if left < secs {
        tokio::time::sleep(std::time::Duration::from_secs(left as u64 + 1)).await;
    }
}

/// Counts the AWS calls (round trips, retries included) a client makes, by operation, keeps
/// what each operation touched (see [`CallCounter::touched`]), and adds up the time between
/// sending each request and receiving its response (see [`CallCounter::waited`]).
#[derive(Debug, Clone, Default)]
pub struct CallCounter(
    std::sync::Arc<std::sync::Mutex<HashMap<String, usize>>>,
    std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<(String, String)>>>,
    std::sync::Arc<std::sync::Mutex<std::time::Duration>>,
);

/// When the current attempt's request went out (kept in the attempt's config bag).
#[derive(Debug, Clone)]
struct SentAt(std::time::Instant);

impl aws_smithy_types::config_bag::Storable for SentAt {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl CallCounter {
    pub fn count(&self, operation: &str) -> usize {
        self.0.lock().unwrap().get(operation).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.0.lock().unwrap().values().sum()
    }

    pub fn reset(&self) {
        self.0.lock().unwrap().clear();
        self.1.lock().unwrap().clear();
        *self.2.lock().unwrap() = std::time::Duration::ZERO;
    }

    /// The time spent waiting for responses (transmit to response, summed over the calls, so
    /// concurrent calls count twice): what the emulator and the network took.
    pub fn waited(&self) -> std::time::Duration {
        *self.2.lock().unwrap()
    }

    /// Every operation made, with what IAM authorizes it on: one entry per kind of part of a
    /// TransactWriteItems (`Put`, `Update`, `Delete`, `ConditionCheck`), `index/<name>` or
    /// `table` for a Query, the queue URL of an SQS send, the sender of an SES email; else "".
    pub fn touched(&self) -> std::collections::BTreeSet<(String, String)> {
        self.1.lock().unwrap().clone()
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        cfg.interceptor_state()
            .store_put(SentAt(std::time::Instant::now()));
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(SentAt(at)) = cfg.load::<SentAt>() {
            *self.2.lock().unwrap() += at.elapsed();
        }
        Ok(())
    }

    // Once per operation (not per attempt), when the operation's metadata is known.
    fn read_before_serialization(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        use aws_sdk_dynamodb::operation::{
            query::QueryInput, transact_write_items::TransactWriteItemsInput,
        };
        use aws_sdk_sqs::operation::{
            send_message::SendMessageInput, send_message_batch::SendMessageBatchInput,
        };
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        let input = context.input();
        let details: Vec<String> = if let Some(t) = input.downcast_ref::<TransactWriteItemsInput>()
        {
            let kind = |i: &aws_sdk_dynamodb::types::TransactWriteItem| match (
                i.put(),
                i.update(),
                i.delete(),
            ) {
                (Some(_), _, _) => "Put",
                (_, Some(_), _) => "Update",
                (_, _, Some(_)) => "Delete",
                _ => "ConditionCheck",
            };
            t.transact_items()
                .iter()
                .map(|i| kind(i).to_owned())
                .collect()
        } else if let Some(q) = input.downcast_ref::<QueryInput>() {
            vec![q
                .index_name()
                .map_or("table".to_owned(), |i| format!("index/{i}"))]
        } else if let Some(m) = input.downcast_ref::<SendMessageInput>() {
            vec![m.queue_url().unwrap_or_default().to_owned()]
        } else if let Some(m) = input.downcast_ref::<SendMessageBatchInput>() {
            vec![m.queue_url().unwrap_or_default().to_owned()]
        } else if let Some(m) =
            input.downcast_ref::<aws_sdk_sesv2::operation::send_email::SendEmailInput>()
        {
            vec![m.from_email_address().unwrap_or_default().to_owned()]
        } else {
            vec![String::new()]
        };
        self.1
            .lock()
            .unwrap()
            .extend(details.into_iter().map(|d| (operation.clone(), d)));
        Ok(())
    }
}

impl Env {
    /// The same app, with every DynamoDB call counted.
    pub fn counted(&self) -> (App, CallCounter) {
        let ddb_calls = CallCounter::default();
        let ddb = aws_sdk_dynamodb::config::Builder::from(&self.sdk)
            .interceptor(ddb_calls.clone())
            .build();
        let app = App {
            table: self
                .app
                .table
                .with_client(aws_sdk_dynamodb::Client::from_conf(ddb)),
            ..self.app.clone()
        };
        (app, ddb_calls)
    }

    /// The same app, with every DynamoDB call recorded with its times ([`calls::Recorder`]):
    /// what [`calls::sequential`] reads a request's chain of round trips from.
    pub fn recorded(&self) -> (App, calls::Recorder) {
        let rec = calls::Recorder::default();
        let ddb = aws_sdk_dynamodb::config::Builder::from(&self.sdk)
            .interceptor(rec.clone())
            .build();
        let app = App {
            table: self
                .app
                .table
                .with_client(aws_sdk_dynamodb::Client::from_conf(ddb)),
            ..self.app.clone()
        };
        (app, rec)
    }

    /// These queues, with every SQS call counted.
    pub fn counted_queues(&self) -> (Queues, CallCounter) {
        let calls = CallCounter::default();
        let sqs = aws_sdk_sqs::config::Builder::from(&self.sdk)
            .interceptor(calls.clone())
            .build();
        let queues = Queues::new(
            aws_sdk_sqs::Client::from_conf(sqs),
            self.queues.webhook_url.clone(),
            self.queues.email_url.clone(),
        );
        (queues, calls)
    }
}

pub mod calls;
pub mod receiver;
pub mod stream;
pub mod template;

impl Env {
    /// The webhook worker on this test's queues, retrying at once (`waits` between attempts)
    /// and, unless `strict`, allowed to call loopback receivers (local mode).
    pub async fn webhook_worker(
        &self,
        waits: &[u64],
        strict: bool,
    ) -> inflow::delivery::WebhookWorker {
        let settings = inflow::delivery::DeliveryConfig {
            schedule: waits
                .iter()
                .map(|s| std::time::Duration::from_secs(*s))
                .collect(),
            allow_private_targets: !strict,
            timeout: std::time::Duration::from_secs(5),
            in_flight: inflow::delivery::limits::IN_FLIGHT,
            per_host: inflow::delivery::limits::PER_HOST,
        };
        let app = self.app.clone();
        inflow::delivery::WebhookWorker::new(app, self.queues.clone(), settings).expect("a worker")
    }

    pub async fn queue_url(&self, name: &str) -> String {
        self.sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .expect("queue url")
            .queue_url
            .unwrap_or_default()
    }

    /// Relays the stream, then feeds the webhook queue to the worker, as the SQS event source
    /// would, until it stays empty for `idle` (delayed retries included). Returns the number of
    /// batches handled.
    pub async fn pump_webhooks(
        &self,
        worker: &inflow::delivery::WebhookWorker,
        idle: std::time::Duration,
    ) -> usize {
        let queue = self.queues.webhook_url.clone();
        let mut batches = 0;
        let mut quiet_since = std::time::Instant::now();
        // Quiet for `idle` and for two polls in a row: on a loaded machine one poll of the emulator
        // can itself take longer than `idle` (a longer wait would outlast receivers' pauses).
        let mut empty_polls = 0;
        while quiet_since.elapsed() < idle || empty_polls < 2 {
            if self.relay_stream().await.records > 0 {
                quiet_since = std::time::Instant::now();
                empty_polls = 0;
            }
            let messages = self.receive(&queue).await;
            if messages.is_empty() {
                empty_polls += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
            empty_polls = 0;
            quiet_since = std::time::Instant::now();
            let response = inflow::delivery::handle(worker, sqs_event(&messages)).await;
            batches += 1;
            let failed: Vec<String> = response
                .batch_item_failures
                .iter()
                .map(|f| f.item_identifier.clone())
                .collect();
            for m in &messages {
                if !failed.contains(&m.message_id.clone().unwrap_or_default()) {
                    if let Some(handle) = m.receipt_handle() {
                        self.sqs
                            .delete_message()
                            .queue_url(&queue)
                            .receipt_handle(handle)
                            .send()
                            .await
                            .expect("delete");
                    }
                }
            }
        }
        batches
    }

    /// Up to 10 messages, leaving them in flight (as Lambda's poller does).
    pub async fn receive(&self, queue: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive");
        out.messages.unwrap_or_default()
    }
}

/// SQS messages as the Lambda event the worker gets.
pub fn sqs_event(
    messages: &[aws_sdk_sqs::types::Message],
) -> inflow::aws_lambda_events::event::sqs::SqsEvent {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("an SQS event")
}

/// JSON log lines written on this thread while the guard lives (for tests of what is logged).
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the JSON logs (the functions' format) of this thread until the guard drops.
pub fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

/// A dependency that fails the calls a test picks: an SDK interceptor that refuses those
/// operations before they are sent (the caller sees a failed call, as when the service or the
/// network fails), and lets every other call through to the emulator.
#[derive(Clone)]
pub struct Faults(std::sync::Arc<FaultRule>);

/// The relay's retries ([`inflow::relay::BACKOFF`]) at test speed: the same attempts, waits of
/// milliseconds.
pub const FAST_BACKOFF: inflow::queue::Backoff = inflow::queue::Backoff {
    attempts: inflow::relay::BACKOFF.attempts,
    initial: std::time::Duration::from_millis(1),
    max: std::time::Duration::from_millis(4),
    operation: std::time::Duration::from_secs(10),
};

type FaultRule = dyn Fn(&str, &aws_smithy_runtime_api::client::interceptors::context::Input) -> bool
    + Send
    + Sync;

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Faults")
    }
}

impl Faults {
    /// `fails(operation, input)`: whether this call fails.
    pub fn new(
        fails: impl Fn(&str, &aws_smithy_runtime_api::client::interceptors::context::Input) -> bool
            + Send
            + Sync
            + 'static,
    ) -> Self {
        Faults(std::sync::Arc::new(fails))
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for Faults {
    fn name(&self) -> &'static str {
        "Faults"
    }

    fn read_before_serialization(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let operation = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        if (self.0)(&operation, context.input()) {
            return Err(format!("injected fault: {operation}").into());
        }
        Ok(())
    }
}

impl Env {
    /// The same app, its DynamoDB calls failing where `faults` says.
    pub fn with_faults(&self, faults: Faults) -> App {
        let ddb = aws_sdk_dynamodb::config::Builder::from(&self.sdk)
            .interceptor(faults)
            .build();
        App {
            table: self
                .app
                .table
                .with_client(aws_sdk_dynamodb::Client::from_conf(ddb)),
            ..self.app.clone()
        }
    }

    /// The relay on queues whose SQS calls fail where `faults` says, its SQS client retrying
    /// as the relay's does but with waits of a few milliseconds.
    pub fn relay_with_faults(&self, faults: Faults) -> Relay {
        let sqs = inflow::queue::config_with(&self.sdk, &FAST_BACKOFF)
            .interceptor(faults)
            .build();
        Relay {
            queues: Queues::new(
                aws_sdk_sqs::Client::from_conf(sqs),
                self.queues.webhook_url.clone(),
                self.queues.email_url.clone(),
            ),
            dead_letters: Some(self.relay_dlq_url.clone()),
        }
    }

    /// Every stream record the relay's filter passes, from the stream's start (for tests that
    /// hand the relay records again, or in another order).
    pub async fn outbox_records(&self) -> Vec<Value> {
        let settings = self.stream.settings();
        self.stream
            .records_after(None)
            .await
            .into_iter()
            .filter(|r| settings.filters.iter().any(|p| stream::matches(p, r)))
            .collect()
    }

    /// Hands these records to the relay as one DynamoDB stream event.
    pub async fn relay_records(
        &self,
        records: &[Value],
    ) -> inflow::aws_lambda_events::event::streams::DynamoDbEventResponse {
        let event =
            serde_json::from_value(json!({ "Records": records })).expect("a DynamoDB stream event");
        inflow::relay::handle_raw(&self.relay(), event).await
    }
}

/// The sender of the tests' invitation emails; its domain is made an SES identity.
pub const TEST_SENDER: &str = "noreply@inflow-tests.example.com";

impl Env {
    /// The email worker on this test's app, sending from [`TEST_SENDER`].
    pub async fn email_worker(&self) -> inflow::email::EmailWorker {
        self.email_worker_from(TEST_SENDER, true).await
    }

    /// The email worker sending from `sender`, whose domain is made an SES identity first when
    /// `verify` (moto refuses mail from unverified senders; identities are account-wide).
    pub async fn email_worker_from(
        &self,
        sender: &str,
        verify: bool,
    ) -> inflow::email::EmailWorker {
        let ses = aws_sdk_sesv2::Client::new(&self.sdk);
        if verify {
            let domain = sender.rsplit_once('@').expect("an address").1;
            let _ = ses
                .create_email_identity()
                .email_identity(domain)
                .send()
                .await;
        }
        inflow::email::EmailWorker {
            app: self.app.clone(),
            ses,
            queues: self.queues.clone(),
            settings: inflow::email::MailConfig::new(
                sender,
                Some("https://app.example.com/accept?secret={secret}"),
            )
            .expect("email settings"),
        }
    }
}

/// Every mail the emulator has sent to `recipient`, from inflow_dev.emulator's sent-mail
/// endpoint (moto's own /moto-api/data.json has it under `ses` → `Message`, but dumps every
/// model and fails once the suite's DynamoDB items are in memory). Tests share one emulator
/// and its sent mail, so each looks only at its own recipients.
pub async fn sent_mail_to(recipient: &str) -> Vec<Value> {
    let base = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let res = reqwest::get(format!("{base}/_inflow/sent-mail"))
        .await
        .expect("the emulator answers");
    assert!(res.status().is_success(), "sent mail: {}", res.status());
    let messages: Vec<Value> =
        serde_json::from_str(&res.text().await.expect("a body")).expect("a JSON list");
    messages
        .into_iter()
        .filter(|m| {
            m["destinations"]
                .as_object()
                .into_iter()
                .flat_map(|d| d.values())
                .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                .any(|a| a.as_str().is_some_and(|a| a.contains(recipient)))
        })
        .collect()
}

/// Registers a fault the emulator then answers in place of a service (inflow_dev.emulator,
/// `Faults`): a rule must match something the test owns, since tests share the emulator.
pub async fn inject_fault(rule: Value) {
    let base = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let res = reqwest::Client::new()
        .post(format!("{base}/_inflow/faults"))
        .body(rule.to_string())
        .send()
        .await
        .expect("the emulator answers");
    assert!(res.status().is_success(), "fault rule: {}", res.status());
}

/// The SQS event Lambda would hand the email worker for these jobs.
pub fn email_event(
    jobs: &[inflow::jobs::EmailJob],
) -> inflow::aws_lambda_events::event::sqs::SqsEvent {
    let records: Vec<Value> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            json!({
                "messageId": format!("msg-{i}-{}", inflow::ids::random(6)),
                "receiptHandle": "handle",
                "body": serde_json::to_string(job).expect("a job as JSON"),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:inflow-email",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("an SQS event")
}

/// A string attribute value (for tests that write to the table directly).
pub fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// See [`Env::org`].
pub struct OrgBuilder<'a> {
    env: &'a Env,
    tier: Tier,
}

impl OrgBuilder<'_> {
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }

    /// The organization "Acme Inc" with its admin and user keys, the member jane@example.com
    /// and the flow "onboarding".
    pub async fn create(self) -> Tenant {
        let app = &self.env.app;
        let now = chrono::Utc::now();
        let slug = format!("org-{}", inflow::ids::random(8).to_lowercase());
        let new = NewOrg {
            name: "Acme Inc",
            slug: &slug,
            email: Some("admin@acme.example"),
            tier: self.tier,
        };
        let (org, admin, user_key) = operator::create_org(app, new, now)
            .await
            .expect("create org");
        let user = operator::create_user(
            app,
            &org.id,
            "jane@example.com",
            Some("Jane Doe"),
            Role::Member,
            now,
        )
        .await
        .expect("create user");
        let flow = NewFlow {
            slug: "onboarding",
            name: "Customer Onboarding",
            module_count: 5,
            estimated_duration: "2 hours",
        };
        let flow = operator::create_flow(app, &org.id, flow, now)
            .await
            .expect("create flow");
        Tenant {
            org_slug: org.slug,
            org_id: org.id,
            admin_key: admin.key.expose().to_owned(),
            admin_key_id: admin.id,
            user_key: user_key.key.expose().to_owned(),
            user,
            flow,
        }
    }
}

/// See [`Env::user`].
pub struct UserBuilder<'a> {
    env: &'a Env,
    org_id: &'a str,
    email: &'a str,
    name: Option<&'a str>,
    role: Role,
}

impl<'a> UserBuilder<'a> {
    pub fn name(mut self, name: &'a str) -> Self {
        self.name = Some(name);
        self
    }

    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    pub async fn create(self) -> User {
        operator::create_user(
            &self.env.app,
            self.org_id,
            self.email,
            self.name,
            self.role,
            chrono::Utc::now(),
        )
        .await
        .expect("create user")
    }
}

/// See [`Env::webhook`].
pub struct WebhookBuilder<'a> {
    env: &'a Env,
    org_id: &'a str,
    url: &'a str,
    events: Option<&'a str>,
}

impl<'a> WebhookBuilder<'a> {
    /// The events it subscribes to, as `POST /v1/webhooks/endpoints` names them.
    pub fn events(mut self, events: Option<&'a str>) -> Self {
        self.events = events;
        self
    }

    pub async fn create(self) -> (inflow::model::WebhookEndpoint, String) {
        operator::add_webhook(
            &self.env.app,
            self.org_id,
            self.url,
            self.events,
            chrono::Utc::now(),
        )
        .await
        .expect("add webhook")
    }
}
