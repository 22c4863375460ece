//! The request pipeline every HTTP function runs: request id, authentication with rate limit,
//! body checks, idempotency, the handler, and rendering in the endpoint's family shape.

use std::{future::Future, pin::Pin, time::Instant};

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;
use tracing::{field::Empty, Instrument};

use crate::{
    address_limit,
    app::App,
    auth::{self, Schemes},
    error::Error,
    idempotency::{self, Begin},
    ids,
    model::Caller,
    ratelimit::RateState,
    telemetry,
    wire::Family,
};

/// Larger bodies are refused before parsing (API Gateway itself allows 10 MB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy)]
pub enum Auth {
    /// An admin secret key (`sk_…`) in `Authorization`.
    Admin(Schemes),
    /// A publishable user key (`pk_…`) in `UserHub-Api-Key`: counted per client address
    /// ([`address_limit`]) before the key's own window.
    User,
    /// No key: the request itself carries its proof (the hosted accept page's flow secret).
    /// Served by [`serve_public`]: a per-client-address limit, no idempotency.
    None,
}

/// A handler's answer to one request, boxed so that every endpoint's handler has one type.
pub type Answer<'a> = Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>;

/// An endpoint's handler: the request, run through the pipeline with its endpoint's settings.
pub type Handler = for<'a> fn(&'a App, Request, &'a Endpoint) -> Answer<'a>;

/// One HTTP function, the one description of it: its name (its binary
/// `functions/src/bin/<name>.rs`, its function in template.yaml and openapi.yaml's
/// `x-inflow-function`, its sample `events/<name>.json`), the routes API Gateway sends it, how
/// the pipeline treats it, and its handler. Each family's are in `handlers::<family>::endpoints`.
#[derive(Clone, Copy)]
pub struct Endpoint {
    pub name: &'static str,
    /// (method, path) as template.yaml's HttpApi events name them.
    pub routes: &'static [(&'static str, &'static str)],
    pub family: Family,
    pub auth: Auth,
    /// A creating POST: honours `Idempotency-Key`.
    pub idempotent: bool,
    /// Requires `Content-Type: application/json`.
    pub json_body: bool,
    pub handler: Handler,
}

impl Endpoint {
    /// An endpoint with no body and no `Idempotency-Key`; the methods below add either.
    pub const fn new(
        name: &'static str,
        routes: &'static [(&'static str, &'static str)],
        family: Family,
        auth: Auth,
        handler: Handler,
    ) -> Endpoint {
        Endpoint {
            name,
            routes,
            family,
            auth,
            idempotent: false,
            json_body: false,
            handler,
        }
    }

    pub const fn json_body(self) -> Endpoint {
        Endpoint {
            json_body: true,
            ..self
        }
    }

    pub const fn idempotent(self) -> Endpoint {
        Endpoint {
            idempotent: true,
            ..self
        }
    }

    /// Runs one request, as the endpoint's binary does.
    pub fn call<'a>(&'a self, app: &'a App, req: Request) -> Answer<'a> {
        (self.handler)(app, req, self)
    }
}

/// Endpoints are the same endpoint when they have the same name (names are unique:
/// tests/it/routes.rs).
impl PartialEq for Endpoint {
    fn eq(&self, other: &Endpoint) -> bool {
        self.name == other.name
    }
}

impl Eq for Endpoint {}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// What a handler gets: the app, the authenticated caller and the request.
pub struct Ctx<'a> {
    pub app: &'a App,
    pub caller: Caller,
    pub request_id: String,
    pub now: DateTime<Utc>,
    pub req: Request,
    /// The request's mark when it holds an `Idempotency-Key` (see [`idempotency::Mark`]).
    pub mark: Option<idempotency::Mark>,
}

impl Ctx<'_> {
    pub fn path_param(&self, name: &str) -> Option<String> {
        self.req
            .path_parameters_ref()
            .and_then(|p| p.first(name))
            .map(str::to_owned)
    }

    pub fn body(&self) -> &[u8] {
        self.req.body().as_ref()
    }

    pub fn query(&self, name: &str) -> Option<String> {
        query_param(&self.req, name)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.req.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// The base of absolute URLs: the configured public URL, or the request's own scheme, host
    /// and stage (API Gateway's `$default` stage has no path prefix).
    pub fn base_url(&self) -> String {
        if let Some(base) = &self.app.config.public_base_url {
            return base.trim_end_matches('/').to_owned();
        }
        let context = match self.req.request_context_ref() {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => Some(ctx),
            _ => None,
        };
        let sane = |h: &&str| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic());
        let host = self
            .header("host")
            .filter(sane)
            .or_else(|| context.and_then(|c| c.domain_name.as_deref()).filter(sane))
            .unwrap_or("localhost");
        let scheme = match self.header("x-forwarded-proto") {
            Some("http") => "http",
            _ => "https",
        };
        let stage = context
            .and_then(|c| c.stage.clone())
            .filter(|s| s != "$default");
        match stage {
            Some(stage) => format!("{scheme}://{host}/{stage}"),
            None => format!("{scheme}://{host}"),
        }
    }
}

/// A successful answer.
pub struct Reply {
    pub status: u16,
    pub body: Option<String>,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

pub const JSON: &str = "application/json; charset=utf-8";
pub const HTML: &str = "text/html; charset=utf-8";

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body.to_string()),
            content_type: JSON,
            headers: Vec::new(),
        }
    }

    /// A page (the hosted accept page).
    pub fn html(status: u16, body: String) -> Self {
        Self {
            status,
            body: Some(body),
            content_type: HTML,
            headers: Vec::new(),
        }
    }

    pub fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
            content_type: JSON,
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// A response before it becomes an HTTP response; also what idempotency stores.
struct Served {
    status: u16,
    body: Option<String>,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    error: Option<Error>,
}

impl Served {
    fn failure(family: Family, err: Error) -> Self {
        let mut headers = Vec::new();
        if let Error::QuotaExceeded { retry_after, .. } = &err {
            headers.push(("retry-after", retry_after.to_string()));
        }
        if let Error::RateLimited { retry_after, limit } = &err {
            headers.push(("retry-after", retry_after.to_string()));
            headers.extend(
                RateState {
                    limit: *limit,
                    remaining: 0,
                    reset_in: *retry_after,
                }
                .headers(),
            );
        }
        Self {
            status: err.status(),
            body: Some(family.error_body(&err).to_string()),
            content_type: JSON,
            headers,
            error: Some(err),
        }
    }

    fn success(reply: Reply) -> Self {
        Self {
            status: reply.status,
            body: reply.body,
            content_type: reply.content_type,
            headers: reply.headers,
            error: None,
        }
    }
}

/// Runs one request through the pipeline; always returns a response (only bugs reach the runtime).
pub async fn serve<'a, F, Fut>(
    app: &'a App,
    req: Request,
    endpoint: &Endpoint,
    handler: F,
) -> Response<Body>
where
    F: FnOnce(Ctx<'a>) -> Fut,
    Fut: Future<Output = Result<Reply, Error>>,
{
    serve_prefetched(
        app,
        req,
        endpoint,
        |_| std::future::ready(()),
        |ctx, ()| handler(ctx),
    )
    .await
}

/// [`serve`] for a handler whose first read needs no caller (a record found by its own key):
/// `prefetch` starts that read, and it runs at once with authentication, so the request waits
/// for one round trip where it waited for two. Its result reaches the handler only once the
/// key is authenticated (a refused key costs that read and learns nothing of it); the handler
/// still checks that what was found belongs to the caller.
pub async fn serve_prefetched<'a, P, PFut, T, F, Fut>(
    app: &'a App,
    req: Request,
    endpoint: &Endpoint,
    prefetch: P,
    handler: F,
) -> Response<Body>
where
    P: FnOnce(&Request) -> PFut,
    PFut: Future<Output = T>,
    F: FnOnce(Ctx<'a>, T) -> Fut,
    Fut: Future<Output = Result<Reply, Error>>,
{
    let request_id = request_id_of(&req);
    let id = request_id.clone();
    let span = request_span(&req, endpoint, &request_id);
    logged(
        span,
        request_id,
        run(app, req, endpoint, id, prefetch, handler),
    )
    .await
}

/// What an unauthenticated handler gets ([`Auth::None`]): no caller.
pub struct PublicCtx<'a> {
    pub app: &'a App,
    endpoint: &'static str,
    pub request_id: String,
    pub now: DateTime<Utc>,
    pub req: Request,
}

impl PublicCtx<'_> {
    pub fn query(&self, name: &str) -> Option<String> {
        query_param(&self.req, name)
    }

    /// Counts the request in its client address's window of this route ([`address_limit`]);
    /// a 429 once it is full.
    pub async fn admit(&self) -> Result<(), Error> {
        address_limit::admit(
            self.app,
            self.endpoint,
            &client_address(&self.req),
            self.now,
        )
        .await
    }
}

fn query_param(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// Runs an unauthenticated request ([`Auth::None`]): body checks, then the handler, whose
/// failures `render_error` answers (a page, for the accept page); no key, no idempotency. The
/// handler counts the client address ([`PublicCtx::admit`]) before or with its first I/O, and
/// uses nothing it read unless the address was admitted.
pub async fn serve_public<'a, F, Fut>(
    app: &'a App,
    req: Request,
    endpoint: &Endpoint,
    render_error: fn(&Error) -> Reply,
    handler: F,
) -> Response<Body>
where
    F: FnOnce(PublicCtx<'a>) -> Fut,
    Fut: Future<Output = Result<Reply, Error>>,
{
    let request_id = request_id_of(&req);
    let span = request_span(&req, endpoint, &request_id);
    let ctx = PublicCtx {
        app,
        endpoint: endpoint.name,
        request_id: request_id.clone(),
        now: Utc::now(),
        req,
    };
    let work = async move {
        let checked =
            address_limit::refused_lately(endpoint.name, &client_address(&ctx.req), ctx.now)
                .and_then(|()| check_body(&ctx.req, endpoint));
        let result = match checked {
            Ok(()) => handler(ctx).await,
            Err(err) => Err(err),
        };
        match result {
            Ok(reply) => Served::success(reply),
            Err(err) => {
                let page = render_error(&err);
                Served {
                    error: Some(err),
                    ..Served::success(page)
                }
            }
        }
    };
    logged(span, request_id, work).await
}

/// The span of every line a request logs: ours (request id, function, organization once known)
/// and Lambda's invocation (`telemetry`).
fn request_span(req: &Request, endpoint: &Endpoint, request_id: &str) -> tracing::Span {
    let invocation = req.lambda_context_ref().map(telemetry::Invocation::of);
    let (function_request_id, xray_trace_id, cold_start) = match &invocation {
        Some(at) => (Some(at.request_id), at.xray_trace_id, Some(at.cold_start)),
        None => (None, None, None),
    };
    tracing::info_span!(
        "request",
        request_id,
        function = endpoint.name,
        org_id = Empty,
        function_request_id,
        xray_trace_id,
        cold_start,
        service = telemetry::SERVICE,
    )
}

/// Logs and counts a request's outcome, and answers it with its request id.
async fn logged(
    span: tracing::Span,
    request_id: String,
    work: impl Future<Output = Served>,
) -> Response<Body> {
    // On the heap: a handler's future is deep, and the runtime's thread stack is not.
    let work = Box::pin(work);
    async move {
        let started = Instant::now();
        let mut outcome = work.await;
        match &outcome.error {
            Some(err) if outcome.status >= 500 => {
                tracing::error!(status = outcome.status, kind = err.kind(), error = %err.chain(), "request failed")
            }
            _ => {}
        }
        tracing::info!(
            status = outcome.status,
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        );
        crate::metrics::request(outcome.status);
        outcome.headers.push(("x-request-id", request_id));
        into_response(outcome)
    }
    .instrument(span)
    .await
}

async fn run<'a, P, PFut, T, F, Fut>(
    app: &'a App,
    req: Request,
    endpoint: &Endpoint,
    request_id: String,
    prefetch: P,
    handler: F,
) -> Served
where
    P: FnOnce(&Request) -> PFut,
    PFut: Future<Output = T>,
    F: FnOnce(Ctx<'a>, T) -> Fut,
    Fut: Future<Output = Result<Reply, Error>>,
{
    let now = Utc::now();
    let family = endpoint.family;
    if let Some(err) = malformed(&req) {
        return Served::failure(family, err);
    }
    // Before the prefetch starts: a key, or a publishable key's client address, refused lately
    // costs no I/O at all, its read included.
    let hash = match presented_key_hash(app, &req, endpoint) {
        Ok(hash) => hash,
        Err(err) => return Served::failure(family, err),
    };
    let prefetched = prefetch(&req);
    let (authenticated, prefetched) =
        futures::join!(authenticate(app, &req, endpoint, &hash, now), prefetched);
    let (caller, rate) = match authenticated {
        Ok(found) => found,
        Err(err) => return Served::failure(family, err),
    };
    tracing::Span::current().record("org_id", caller.org_id.as_str());
    let mut outcome = match check_body(&req, endpoint) {
        Err(err) => Served::failure(family, err),
        Ok(()) => match idempotency::begin(app, &caller, endpoint.idempotent, presented(&req), now)
            .await
        {
            Err(err) => Served::failure(family, err),
            Ok(Begin::Replay(stored)) => Served {
                status: stored.status,
                body: Some(stored.body),
                content_type: JSON,
                headers: vec![(idempotency::REPLAYED_HEADER, "true".into())],
                error: None,
            },
            Ok(Begin::Proceed(held)) => {
                let org_id = caller.org_id.clone();
                let ctx = Ctx {
                    app,
                    caller,
                    request_id,
                    now,
                    req,
                    mark: held.as_ref().map(|h| h.mark.clone()),
                };
                let outcome = match handler(ctx, prefetched).await {
                    Ok(reply) => Served::success(reply),
                    Err(err) => Served::failure(family, err),
                };
                if let Some(held) = held {
                    let body = outcome.body.as_deref();
                    let finished =
                        idempotency::finish(app, &org_id, &held, outcome.status, body, now).await;
                    if let Err(err) = finished {
                        // The work is done; the client only loses replay protection for this key.
                        tracing::warn!(error = %err, "could not finish the idempotency record");
                    }
                }
                outcome
            }
        },
    };
    outcome.headers.extend(rate.headers());
    outcome
}

/// The hash of the key the request presents, unless there is none or this container refused
/// it lately ([`auth::refused_lately`]); no I/O.
fn presented_key_hash(app: &App, req: &Request, endpoint: &Endpoint) -> Result<String, Error> {
    let key = match endpoint.auth {
        Auth::Admin(schemes) => auth::presented_admin_key(req.headers(), schemes),
        Auth::User => auth::presented_user_key(req.headers()),
        Auth::None => {
            return Err(Error::internal(format!(
                "{} takes no key: it is served by serve_public",
                endpoint.name
            )))
        }
    };
    let hash = app.hasher.hash_api_key(key.ok_or(Error::Unauthenticated)?);
    if auth::refused_lately(&hash) {
        return Err(Error::Unauthenticated);
    }
    if let Auth::User = endpoint.auth {
        address_limit::refused_lately(&hash, &client_address(req), Utc::now())?;
    }
    Ok(hash)
}

/// Counts a publishable key's client address, then authenticates the key by its hash.
async fn authenticate(
    app: &App,
    req: &Request,
    endpoint: &Endpoint,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(Caller, RateState), Error> {
    if let Auth::User = endpoint.auth {
        address_limit::admit(app, hash, &client_address(req), now).await?;
    }
    auth::authenticate(app, hash, now).await
}

/// What the idempotency check reads of a request.
fn presented(req: &Request) -> idempotency::Presented<'_> {
    idempotency::Presented {
        key: req.headers().get(idempotency::HEADER).map(|v| v.as_bytes()),
        method: req.method().as_str(),
        path: req.uri().path(),
        body: req.body().as_ref(),
    }
}

/// The client address a request is counted under ([`address_limit`]): API Gateway's
/// `requestContext.http.sourceIp`, which a client cannot set.
fn client_address(req: &Request) -> String {
    let source = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
            ctx.http.source_ip.as_deref()
        }
        _ => None,
    };
    address_limit::client_address(source)
}

/// What the event check found it could not pass on as sent (`crate::gateway`), as a 400
/// naming the part; nothing else is read or written for such a request.
fn malformed(req: &Request) -> Option<Error> {
    let what = req
        .headers()
        .get(crate::gateway::MALFORMED)?
        .to_str()
        .ok()?;
    let part = what.split(',').next().unwrap_or(what);
    let reason = match part {
        "body" => "is not valid base64",
        "headers" => "holds a header name or value HTTP does not allow",
        _ => "holds characters a URL cannot; percent-encode them",
    };
    Some(Error::invalid(part, reason))
}

fn check_body(req: &Request, endpoint: &Endpoint) -> Result<(), Error> {
    if req.body().len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    if endpoint.json_body && !is_json(req) {
        return Err(Error::UnsupportedMediaType);
    }
    Ok(())
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// The caller's `X-Request-ID` when it is a sane header value, else a new one.
fn request_id_of(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| ids::new(crate::ids::Kind::Request))
}

fn into_response(outcome: Served) -> Response<Body> {
    let mut builder = Response::builder().status(outcome.status);
    if outcome.body.is_some() {
        builder = builder.header(http::header::CONTENT_TYPE, outcome.content_type);
    }
    for (name, value) in outcome.headers {
        builder = builder.header(name, value);
    }
    let body = outcome.body.map(Body::Text).unwrap_or(Body::Empty);
    builder.body(body).unwrap_or_else(|_| {
        // Only reachable through a bug in a header value we made; still answer.
        let mut fallback = Response::new(Body::Empty);
        *fallback.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}
