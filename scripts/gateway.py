"""The local API Gateway of `make dev` and the tests: an HTTP API (payload format 2.0) in front of
the function binaries, with the Lambda Runtime API that runs them, read from template.yaml.

    .venv/bin/python scripts/gateway.py [--port 9000] [--concurrency 4] [--cors-origins '*'] [--rebuild]

What it does (docs/local-stack.md, "The local front"):

- Routes: every `HttpApi` event of every `AWS::Serverless::Function` in template.yaml (method,
  path, the binary of `Metadata.BuildProperties.Binary`), matched as API Gateway matches them:
  the method (or ANY) and the most specific path (a literal segment beats `{param}`, which beats
  `{greedy+}`). No route: 404 `{"message":"Not Found"}`. template.yaml is re-read when it changes.
- Events: the request as API Gateway's HTTP API hands it to a Lambda function (payload format
  2.0): `rawPath` and `pathParameters` percent-decoded (as HTTP APIs deliver them),
  `rawQueryString` exactly as sent (raw `"`, `<`, spaces and all), `queryStringParameters`
  decoded with repeated names joined by commas, header names lowercased and repeated headers
  joined by commas with their values passed through (bytes that are not UTF-8 are read as
  Latin-1), cookies in `cookies`, `requestContext` with `http.method/path/protocol/sourceIp/
  userAgent`, `routeKey` `METHOD /path/{param}`, stage `$default`, and the body as text when its
  Content-Type is textual and it is UTF-8, else base64 with `isBase64Encoded: true`.
- Responses: a payload-2.0 response is mapped back as API Gateway maps it (statusCode, headers,
  multiValueHeaders, cookies as Set-Cookie, base64 bodies decoded; a JSON answer without
  statusCode is a 200 application/json of that JSON); a function error, crash or timeout is
  500 `{"message":"Internal Server Error"}`; no answer within 30 s (the integration timeout) is
  503 `{"message":"Service Unavailable"}`. API Gateway's quotas: request line and header values
  over 10,240 bytes get 431, bodies over 10 MB 413, malformed requests 400 (framing included: a
  Content-Length or chunk size that is not plain ASCII digits, a Transfer-Encoding other than
  chunked), all as `{"message": …}`.
- Clients: a request must arrive whole within 10 s of its first byte (else 408), a connection
  waits 60 s at most for its next request, and an answer not taken within 10 s drops the
  connection. At most 512 connections at once: the 513th closes the one that has waited longest
  for its request, and is refused (503) only while all 512 await a function. So slow or silent
  clients (slowloris) hold nothing for long and lock nobody out.
- Concurrency: each function runs as real processes of its binary (target/debug by default),
  each polling its own Lambda Runtime API endpoint served here, one invocation at a time as in
  Lambda. One instance per function is started (and initialised) before the port opens; under
  load more are started, up to --concurrency per function, and invocations beyond that wait in
  the function's queue; instances idle for a minute beyond the first are stopped. A process that
  exits mid-invocation fails that invocation (500) and is replaced on demand.
- Reload: when a function's binary changes (any `cargo build`), its idle instances are replaced at
  once and busy ones after their invocation. With --rebuild, the sources (functions/, shared/,
  Cargo.toml, Cargo.lock) are watched and `cargo build --workspace --bins` runs on a change.
- CORS: the HttpApi's `CorsConfiguration` of template.yaml (allowed and exposed headers, methods,
  max age, credentials) answered as API Gateway answers it: preflights (OPTIONS with Origin and
  Access-Control-Request-Method) get 204 with the CORS headers, other requests from an allowed
  origin get Access-Control-Allow-Origin and -Expose-Headers, and the functions' own CORS headers
  are dropped. The allowed origins are --cors-origins (default: CORS_ALLOW_ORIGINS, else `*`);
  `none` turns CORS off, as a deployed stack without CorsAllowOrigins has it.
- The Lambda Invoke API, `POST /2015-03-31/functions/{name}/invocations`, for every function of
  the template (scripts/local_workers.py feeds the relay, the workers and the sweeper through it);
  a function error answers 200 with `X-Amz-Function-Error: Unhandled`, as Lambda does.
  It and `/_gateway/*` answer a browser's request (one with Origin or Sec-Fetch-* headers) 403,
  preflights included, so no web page open beside `make dev` can invoke a function.
- `GET /_gateway/status`: per function, its instances and the invocations, errors, crashes and
  timeouts counted so far, and the requests the front itself failed (local only; tests read it).

Linux only (it reads /proc nowhere, but asks the kernel to end each function with the gateway,
PR_SET_PDEATHSIG). Stops, with every process it started, on SIGINT or SIGTERM.
"""

import argparse
import asyncio
import base64
import collections
import ctypes
import http
import json
import os
import pathlib
import resource
import secrets
import signal
import sys
import time
import urllib.parse

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"  # moto's account
REGION = os.environ.get("AWS_REGION", "us-east-1")

HEADER_QUOTA = 10240  # HTTP API quota: request line and header values, in bytes
PAYLOAD_QUOTA = 10 * 1024 * 1024  # HTTP API quota: the body
INVOKE_PAYLOAD_QUOTA = 6 * 1024 * 1024  # Lambda: a synchronous invocation's request and response
INTEGRATION_TIMEOUT = 30.0  # HTTP API: the longest an integration may take
MAX_HEAD = 64 * 1024  # what is read of a request head before it is refused
# A client's time: a request must arrive whole (head and body) within READ_SECONDS of its first
# byte (else 408), a connection may wait CLIENT_IDLE_SECONDS for its next request, and an answer must be
# taken within READ_SECONDS. So a slow or silent client holds a connection for a bounded time.
READ_SECONDS = 10.0
CLIENT_IDLE_SECONDS = 60.0
# The most client connections at once. A new one beyond it closes the one that has waited longest
# for its request (idle, or still sending it); only when every connection awaits a function's
# answer is the new one refused (503). So a flood of slow connections cannot lock others out.
MAX_CONNECTIONS = 512
IDLE_SECONDS = 60.0  # an instance beyond the first, idle this long, is stopped
RUNTIME = "/2018-06-01/runtime"
INVOKE_PREFIX = "/2015-03-31/functions/"
GATEWAY_PREFIX = "/_gateway/"
STATUS_PATH = GATEWAY_PREFIX + "status"

# Content types API Gateway hands over as text (when the body is UTF-8); others are base64.
TEXT_TYPES = ("application/json", "application/javascript", "application/xml")
TEXT_SUFFIXES = ("+json", "+xml")
# Not handed to the function: they describe the connection to the front, not the request.
HOP_BY_HOP = {
    "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect",
    "proxy-connection",
}
TCHAR = set(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def log(message):
    print(f"gateway: {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# template.yaml


class TemplateLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


# CloudFormation short forms: `!Ref X` is {"Ref": "X"}, `!If [...]` is {"Fn::If": [...]}, ...
TemplateLoader.add_multi_constructor("!", _intrinsic)


class Route:
    def __init__(self, method, path, function):
        self.method = method.upper()
        self.path = path
        self.function = function
        self.segments = path.strip("/").split("/") if path.strip("/") else []

    @property
    def key(self):
        return f"{self.method} {self.path}"

    def match(self, segments):
        """The raw (still percent-encoded) path parameters, with the match's specificity, or None."""
        params, rank = {}, []
        for i, pattern in enumerate(self.segments):
            if pattern.startswith("{") and pattern.endswith("+}"):
                rest = segments[i:]
                if not rest or rest == [""]:
                    return None
                params[pattern[1:-2]] = "/".join(rest)
                rank.append(0)
                return params, rank
            if i >= len(segments):
                return None
            if pattern.startswith("{") and pattern.endswith("}"):
                if segments[i] == "":
                    return None
                params[pattern[1:-1]] = segments[i]
                rank.append(1)
            elif pattern == segments[i]:
                rank.append(2)
            else:
                return None
        if len(segments) != len(self.segments):
            return None
        return params, rank


class FunctionSpec:
    def __init__(self, name, logical_id, timeout, memory, environment=None):
        self.name = name
        self.logical_id = logical_id
        self.timeout = timeout
        self.memory = memory
        # The template's environment variables that are settings, not resources: literals and
        # parameters (their defaults). The local stack's own environment wins over them.
        self.environment = environment or {}


def _bool(value):
    return value is True or str(value).lower() == "true"


class Template:
    """What the local stack takes from template.yaml: the functions by binary name, the HTTP
    routes, the HttpApi's CORS settings (or None) and its throttles."""

    def __init__(self, functions, routes, cors, throttles):
        self.functions = functions
        self.routes = routes
        self.cors = cors
        self.throttles = throttles


def load_template(path):
    with open(path) as f:
        template = yaml.load(f, Loader=TemplateLoader)
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    parameters = template.get("Parameters") or {}
    functions, routes = {}, []
    cors = None
    throttles = Throttles({}, {})
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == "AWS::Serverless::HttpApi":
            cors = cors_settings(props.get("CorsConfiguration"))
            throttles = throttle_settings(props, parameters)
        if kind != "AWS::Serverless::Function":
            continue
        name = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary", logical_id)
        timeout = props.get("Timeout", globals_.get("Timeout", 3))
        memory = props.get("MemorySize", globals_.get("MemorySize", 128))
        variables = {**((globals_.get("Environment") or {}).get("Variables") or {}),
                     **((props.get("Environment") or {}).get("Variables") or {})}
        functions[name] = FunctionSpec(
            name, logical_id, float(timeout) if isinstance(timeout, (int, float)) else 3.0,
            int(memory) if isinstance(memory, int) else 128,
            settings_of(variables, parameters),
        )
        for event in (props.get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                p = event.get("Properties") or {}
                routes.append(Route(p.get("Method", "ANY"), p.get("Path", "/"), name))
    return Template(functions, routes, cors, throttles)


def settings_of(variables, parameters):
    """The environment variables whose value a deploy without overrides knows without creating
    anything: a literal, or a parameter's default (a resource's name or URL is the local
    stack's own, from its environment)."""
    settings = {}
    for name, value in variables.items():
        if isinstance(value, dict) and "Ref" in value:
            parameter = parameters.get(value["Ref"])
            if parameter is None or "Default" not in parameter:
                continue
            value = parameter["Default"]
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            settings[name] = str(value)
    return settings


def parameter_value(value, parameters):
    """A number written directly or as `!Ref` to a parameter (its default: what a deploy without
    overrides gets)."""
    if isinstance(value, dict) and "Ref" in value:
        value = (parameters.get(value["Ref"]) or {}).get("Default")
    return float(value) if isinstance(value, (int, float, str)) and str(value).strip() else None


def throttle_settings(props, parameters):
    """The HttpApi's DefaultRouteSettings and RouteSettings as (rate, burst) pairs."""
    def pair(settings):
        settings = settings or {}
        rate = parameter_value(settings.get("ThrottlingRateLimit"), parameters)
        burst = parameter_value(settings.get("ThrottlingBurstLimit"), parameters)
        return (rate, burst) if rate is not None and burst is not None else None

    per_route = {key: pair(s) for key, s in (props.get("RouteSettings") or {}).items()}
    return Throttles(pair(props.get("DefaultRouteSettings")),
                     {k: v for k, v in per_route.items() if v is not None})


class TokenBucket:
    """API Gateway's throttle: `burst` tokens at most, refilled at `rate` a second, one a request."""

    def __init__(self, rate, burst, clock=time.monotonic):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.clock = clock
        self.at = clock()

    def take(self):
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Throttles:
    """The throttles API Gateway applies before any function runs: the account's (10,000 a
    second, burst 5,000, every route of every API of the account and Region) and each route's
    own bucket: its RouteSettings, else the stage's DefaultRouteSettings (which, in an HTTP API,
    each route gets for itself). Over either: 429 `{"message":"Too Many Requests"}`."""

    ACCOUNT = (10000.0, 5000.0)

    def __init__(self, default, routes, clock=time.monotonic):
        self.default = default
        self.routes = routes
        self.clock = clock
        self.account = TokenBucket(*self.ACCOUNT, clock=clock)
        self.buckets = {}

    def admit(self, route_key):
        settings = self.routes.get(route_key, self.default)
        if settings is not None:
            bucket = self.buckets.get(route_key)
            if bucket is None or (bucket.rate, bucket.burst) != settings:
                bucket = self.buckets[route_key] = TokenBucket(*settings, clock=self.clock)
            if not bucket.take():
                return False
        return self.account.take()

    def renew(self, other):
        """Takes another reading of the template's settings, keeping the buckets' state."""
        self.default, self.routes = other.default, other.routes


def cors_settings(config):
    """The HttpApi's CorsConfiguration: True, a mapping, or `!If [cond, mapping, AWS::NoValue]`
    (the origins are the deployment's; locally they are --cors-origins)."""
    if config is None or config is False:
        return None
    if config is True:
        return {"AllowOrigins": ["*"]}
    if isinstance(config, dict) and "Fn::If" in config:
        branches = [b for b in config["Fn::If"][1:] if isinstance(b, dict) and "Ref" not in b]
        return branches[0] if branches else None
    return config if isinstance(config, dict) else None


# ---------------------------------------------------------------------------------------------
# API Gateway's event and response mapping (pure functions; scripts/test_gateway.py tests them)


def decode_text(raw):
    """Bytes from the wire as text: UTF-8 when they are, else Latin-1 (one character a byte)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def percent_decode(text, plus=False):
    """`text` percent-decoded (and `+` as space in a query), or as it is when the result would
    not be UTF-8."""
    try:
        if plus:
            return urllib.parse.unquote_plus(text, errors="strict")
        return urllib.parse.unquote(text, errors="strict")
    except UnicodeDecodeError:
        return text


def query_parameters(raw_query):
    params = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name, value = percent_decode(name, plus=True), percent_decode(value, plus=True)
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


def is_text(content_type):
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in TEXT_TYPES or media.endswith(TEXT_SUFFIXES)


def request_id():
    return base64.b64encode(secrets.token_bytes(11)).decode()


def trace_id():
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"


def build_event(route, params, method, raw_path, raw_query, header_pairs, body, context):
    """The payload-2.0 event of a request. `header_pairs` are (name, value) as received;
    `context` holds sourceIp, protocol, requestId, domain and port."""
    headers, cookies = {}, []
    for name, value in header_pairs:
        name = name.lower()
        if name in HOP_BY_HOP or name == "content-length":
            continue
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    source_ip = context["sourceIp"]
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
    headers["x-forwarded-port"] = str(context["port"])
    headers["x-forwarded-proto"] = "http"
    headers["x-amzn-trace-id"] = context.get("traceId") or trace_id()
    if body:
        headers["content-length"] = str(len(body))
    domain = context["domain"]
    now = time.time()
    event = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": percent_decode(raw_path),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": method,
                "path": percent_decode(raw_path),
                "protocol": context["protocol"],
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": context["requestId"],
            "routeKey": route.key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    query = query_parameters(raw_query)
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = {k: percent_decode(v) for k, v in params.items()}
    if body:
        text = None
        if is_text(headers.get("content-type")):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


class BadResponse(Exception):
    pass


def map_response(payload):
    """A function's payload-2.0 answer as (status, [(name, value)], body bytes), as API Gateway
    maps it. Raises BadResponse for what API Gateway answers 500 to."""
    try:
        answer = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadResponse(f"not JSON: {err}") from None
    if not isinstance(answer, dict) or "statusCode" not in answer:
        return 200, [("content-type", "application/json")], payload
    status = answer["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise BadResponse(f"statusCode {status!r}")
    headers = []
    single = answer.get("headers") or {}
    multi = answer.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise BadResponse("headers are not objects")
    for name, value in single.items():
        headers.append((str(name), str(value)))
    for name, values in multi.items():
        for value in values if isinstance(values, list) else [values]:
            if (str(name), str(value)) not in headers:
                headers.append((str(name), str(value)))
    for cookie in answer.get("cookies") or []:
        headers.append(("set-cookie", str(cookie)))
    headers = [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP | {"content-length"}]
    body = answer.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise BadResponse("body is not a string")
    elif _bool(answer.get("isBase64Encoded", False)):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            raise BadResponse("body is not base64") from None
    else:
        data = body.encode("utf-8")
    if status not in (204, 304) and not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("content-type", "text/plain; charset=utf-8"))
    return status, headers, data


class Cors:
    """The HttpApi's CORS configuration with the local allowed origins."""

    def __init__(self, settings, origins):
        settings = settings or {}

        def listed(key):
            value = settings.get(key) or []
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]

        self.origins = origins
        self.allow_methods = listed("AllowMethods")
        self.allow_headers = listed("AllowHeaders")
        self.expose_headers = listed("ExposeHeaders")
        max_age = settings.get("MaxAge")
        self.max_age = max_age if isinstance(max_age, int) else None
        self.credentials = _bool(settings.get("AllowCredentials", False))

    def allowed(self, origin):
        if origin is None:
            return None
        if "*" in self.origins:
            return "*"
        wanted = origin.rstrip("/").lower()
        return origin if any(o.rstrip("/").lower() == wanted for o in self.origins) else None

    def preflight(self, origin):
        """The headers of API Gateway's 204 answer to a preflight."""
        allowed = self.allowed(origin)
        if allowed is None:
            return []
        headers = [("access-control-allow-origin", allowed)]
        if self.credentials:
            headers.append(("access-control-allow-credentials", "true"))
        if self.allow_methods:
            headers.append(("access-control-allow-methods", ",".join(self.allow_methods)))
        if self.allow_headers:
            headers.append(("access-control-allow-headers", ",".join(self.allow_headers)))
        if self.max_age is not None:
            headers.append(("access-control-max-age", str(self.max_age)))
        if allowed != "*":
            headers.append(("vary", "origin"))
        return headers

    def actual(self, origin, headers):
        """A function's response headers as API Gateway sends them on: its own CORS headers
        dropped, the configured ones added for an allowed origin."""
        headers = [(n, v) for n, v in headers if not n.lower().startswith("access-control-")]
        allowed = self.allowed(origin)
        if allowed is None:
            return headers
        headers.append(("access-control-allow-origin", allowed))
        if self.credentials:
            headers.append(("access-control-allow-credentials", "true"))
        if self.expose_headers:
            headers.append(("access-control-expose-headers", ",".join(self.expose_headers)))
        if allowed != "*":
            headers.append(("vary", "origin"))
        return headers


def choose_route(routes, method, raw_path):
    segments = raw_path.strip("/").split("/") if raw_path.strip("/") else []
    if raw_path.endswith("/") and raw_path != "/":
        segments.append("")
    best = None
    for route in routes:
        if route.method not in (method, "ANY"):
            continue
        matched = route.match(segments)
        if matched is None:
            continue
        params, rank = matched
        score = (rank, route.method == method)
        if best is None or score > best[0]:
            best = (score, route, params)
    return (best[1], best[2]) if best else (None, None)


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 on the wire (the front and the Runtime API share it)


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Connections:
    """The open client connections, oldest first, each `waiting` (for its request) or `busy`
    (its request is being answered)."""

    def __init__(self, cap=MAX_CONNECTIONS):
        self.cap = cap
        self.open = {}  # writer -> "waiting" | "busy", in the order they last started waiting

    def admit(self, writer):
        """True if the connection may be served, after closing the longest-waiting one if full."""
        if len(self.open) >= self.cap:
            oldest = next((w for w, state in self.open.items() if state == "waiting"), None)
            if oldest is None:
                return False
            self.open.pop(oldest)
            oldest.transport.abort()
        self.open[writer] = "waiting"
        return True

    def mark(self, writer, state):
        if writer in self.open:
            self.open.pop(writer)
            self.open[writer] = state

    def forget(self, writer):
        self.open.pop(writer, None)


class Request:
    def __init__(self, method, target, version, headers, body, request_line):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # [(name, value)], names as sent
        self.body = body
        self.request_line = request_line

    def header(self, name):
        name = name.lower()
        values = [v for n, v in self.headers if n.lower() == name]
        return ",".join(values) if values else None

    @property
    def keep_alive(self):
        connection = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


async def read_request(reader, writer, quota=None, body_limit=PAYLOAD_QUOTA, first=b""):
    """The next request on a connection (whose first byte, if already read, is `first`), or None
    at its end. Raises HttpError for what cannot be taken (the connection is then closed)."""
    try:
        head = first + await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if (first + err.partial).strip():
            raise HttpError(400, "Bad Request") from None
        return None
    except asyncio.LimitOverrunError:
        raise HttpError(431, "Request Header Fields Too Large") from None
    lines = head[:-4].lstrip(b"\r\n").split(b"\r\n")
    request_line = lines[0]
    words = request_line.split(b" ")
    if len(words) < 3 or not words[-1].startswith(b"HTTP/1.") or not words[0]:
        raise HttpError(400, "Bad Request")
    method = words[0].decode("latin-1")
    if any(c not in TCHAR for c in words[0]):
        raise HttpError(400, "Bad Request")
    # Everything between the method and the version, raw spaces included (API Gateway passes them).
    target = decode_text(b" ".join(words[1:-1]))
    version = words[-1].decode("latin-1")
    headers = []
    size = len(request_line)
    for line in lines[1:]:
        if not line or line[:1] in (b" ", b"\t"):
            raise HttpError(400, "Bad Request")
        name, sep, value = line.partition(b":")
        if not sep or not name or any(c not in TCHAR for c in name):
            raise HttpError(400, "Bad Request")
        value = value.strip(b" \t")
        if any((c < 0x20 and c != 0x09) or c == 0x7F for c in value):
            raise HttpError(400, "Bad Request")
        size += len(value)
        headers.append((name.decode("latin-1"), decode_text(value)))
    if quota is not None and size > quota:
        raise HttpError(431, "Request Header Fields Too Large")
    request = Request(method, target, version, headers, b"", request_line)
    coding = request.header("transfer-encoding")
    chunked = coding is not None
    if chunked and coding.strip().lower() != "chunked":  # the only coding taken: no gzip, no lists
        raise HttpError(400, "Bad Request")
    length = request.header("content-length")
    if chunked and length is not None:
        raise HttpError(400, "Bad Request")
    if length is not None:
        values = {v.strip(" \t") for v in length.split(",")}
        # ASCII digits only: str.isdigit() and int() also take "²" or "١٢".
        if len(values) != 1 or not all(v and all(c in "0123456789" for c in v) for v in values):
            raise HttpError(400, "Bad Request")
        length = int(values.pop())
        if length > body_limit:
            raise HttpError(413, "Request Entity Too Large")
    if (request.header("expect") or "").lower() == "100-continue" and (chunked or length):
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if chunked:
        request.body = await read_chunked(reader, body_limit)
    elif length:
        try:
            request.body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return None
    return request


async def read_chunked(reader, limit):
    body = bytearray()
    try:
        while True:
            line = await reader.readuntil(b"\r\n")
            size_text = line.split(b";", 1)[0].strip(b" \t\r\n")
            # Hex digits only: int(…, 16) also takes "-5", "0x10" and "1_0".
            if not size_text or len(size_text) > 16 or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
                raise HttpError(400, "Bad Request")
            size = int(size_text, 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return bytes(body)
            if len(body) + size > limit:
                raise HttpError(413, "Request Entity Too Large")
            body += await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise HttpError(400, "Bad Request")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise HttpError(400, "Bad Request") from None


def _header_bytes(text):
    text = str(text).replace("\r", " ").replace("\n", " ")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def encode_response(status, headers, body, keep_alive=True, head=False):
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}".encode()]
    for name, value in headers:
        lines.append(_header_bytes(name) + b": " + _header_bytes(value))
    lines.append(b"content-length: " + str(len(body)).encode())
    lines.append(b"connection: " + (b"keep-alive" if keep_alive else b"close"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head else body)


def message(status, text, extra=()):
    body = json.dumps({"message": text}, separators=(",", ":")).encode()
    return status, [("content-type", "application/json"), *extra], body


# ---------------------------------------------------------------------------------------------
# Functions: processes of a binary, each with its own Lambda Runtime API endpoint


def _end_with_parent():
    """In the child: SIGTERM when the gateway dies, however it dies (Linux prctl)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Invocation:
    def __init__(self, payload, function):
        self.id = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
        self.payload = payload
        self.future = asyncio.get_running_loop().create_future()
        self.cancelled = False
        self.deadline_ms = 0
        self.function = function

    def finish(self, ok, payload, kind=None):
        if not self.future.done():
            self.future.set_result((ok, payload, kind))


class Instance:
    def __init__(self, function, number):
        self.function = function
        self.number = number
        self.generation = function.generation
        self.proc = None
        self.server = None
        self.current = None
        self.waiter = None
        self.idle_since = time.monotonic()
        self.ready = False
        self.stopping = False
        self.dead = False
        self.timer = None

    @property
    def label(self):
        return f"{self.function.name}#{self.number}"

    async def start(self, binary):
        self.server = await asyncio.start_server(self.serve_runtime, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        spec = self.function.spec
        env = {**spec.environment, **os.environ}
        env.update({
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{secrets.token_hex(16)}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "_HANDLER": "bootstrap",
        })
        self.proc = await asyncio.create_subprocess_exec(
            str(binary), env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_end_with_parent,
        )
        loop = asyncio.get_running_loop()
        loop.create_task(self.pump_output())
        loop.create_task(self.watch_exit())

    async def pump_output(self):
        quiet = self.function.gateway.quiet
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            if not quiet:
                sys.stdout.write(f"{self.function.name}: {line.decode('utf-8', 'replace').rstrip()}\n")
                sys.stdout.flush()

    async def watch_exit(self):
        code = await self.proc.wait()
        self.dead = True
        fn = self.function
        fn.instances.discard(self)
        if not self.ready:
            fn.starting = max(0, fn.starting - 1)
            # As in Lambda, the invocation that waited for this init gets its failure.
            while fn.pending and not fn.instances:
                inv = fn.pending.popleft()
                if not inv.cancelled:
                    inv.finish(False, json.dumps({
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"{fn.name}: the process exited during init ({code})",
                    }).encode(), "crash")
                    break
        if self.waiter in fn.waiters:
            fn.waiters.remove(self.waiter)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
        if self.timer:
            self.timer.cancel()
        self.server.close()
        if not self.stopping:
            fn.stats["crashes"] += 1
            log(f"{self.label} exited ({code}){' during an invocation' if self.current else ''}")
        if self.current is not None:
            inv, self.current = self.current, None
            kind = "timeout" if self.stopping == "timeout" else "crash"
            error = {"errorType": "Runtime.ExitError" if kind == "crash" else "Sandbox.Timedout",
                     "errorMessage": f"{fn.name}: the process exited ({code})" if kind == "crash"
                     else f"Task timed out after {fn.spec.timeout:.2f} seconds"}
            inv.finish(False, json.dumps(error).encode(), kind)
        fn.scale()

    def stop(self, reason=True):
        if self.stopping or self.proc is None or self.proc.returncode is not None:
            return
        self.stopping = reason
        try:
            self.proc.terminate()
        except ProcessLookupError:
            return
        asyncio.get_running_loop().call_later(2.0, self._kill)

    def _kill(self):
        if self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass

    def timed_out(self):
        self.function.stats["timeouts"] += 1
        log(f"{self.label}: invocation timed out after {self.function.spec.timeout:g} s; stopping the instance")
        self.stop("timeout")

    async def next_invocation(self):
        fn = self.function
        if not self.ready:
            self.ready = True
            fn.starting = max(0, fn.starting - 1)
            fn.ready_event.set()
        while True:
            if self.generation != fn.generation or self.stopping or self.dead:
                self.stop()
                raise ConnectionResetError("instance retired")
            self.idle_since = time.monotonic()
            self.waiter = asyncio.get_running_loop().create_future()
            fn.waiters.append(self.waiter)
            fn.dispatch()
            try:
                inv = await self.waiter
            finally:
                self.waiter = None
            if inv is None:  # retired while idle
                continue
            return inv

    async def serve_runtime(self, reader, writer):
        try:
            while True:
                try:
                    req = await read_request(reader, writer, body_limit=INVOKE_PAYLOAD_QUOTA + 1024 * 1024)
                except HttpError as err:
                    writer.write(encode_response(*message(err.status, err.message), keep_alive=False))
                    break
                if req is None:
                    break
                path = req.target.split("?", 1)[0]
                if req.method == "GET" and path == f"{RUNTIME}/invocation/next":
                    inv = await self.next_invocation()
                    self.current = inv
                    spec = self.function.spec
                    inv.deadline_ms = int((time.time() + spec.timeout) * 1000)
                    headers = [
                        ("content-type", "application/json"),
                        ("lambda-runtime-aws-request-id", inv.id),
                        ("lambda-runtime-deadline-ms", str(inv.deadline_ms)),
                        ("lambda-runtime-invoked-function-arn", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{spec.name}"),
                        ("lambda-runtime-trace-id", f"{trace_id()};Parent={secrets.token_hex(8)};Sampled=0"),
                    ]
                    try:
                        writer.write(encode_response(200, headers, inv.payload))
                        await writer.drain()
                    except ConnectionError:
                        self.current = None
                        self.function.requeue(inv)
                        break
                    self.timer = asyncio.get_running_loop().call_later(spec.timeout, self.timed_out)
                    continue
                parts = path[len(RUNTIME):].strip("/").split("/")
                if req.method == "POST" and len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    inv = self.current
                    if inv is not None and inv.id == parts[1]:
                        if self.timer:
                            self.timer.cancel()
                            self.timer = None
                        self.current = None
                        ok = parts[2] == "response"
                        if ok and len(req.body) > INVOKE_PAYLOAD_QUOTA:
                            ok, req.body = False, json.dumps({
                                "errorType": "Function.ResponseSizeTooLarge",
                                "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                            }).encode()
                        if not ok:
                            self.function.stats["errors"] += 1
                        inv.finish(ok, req.body, None if ok else "function")
                        writer.write(encode_response(202, [("content-type", "application/json")], b'{"status":"OK"}'))
                    else:
                        writer.write(encode_response(*message(400, "Invalid request ID")))
                    await writer.drain()
                    continue
                if req.method == "POST" and path == f"{RUNTIME}/init/error":
                    log(f"{self.label}: init error: {req.body[:500].decode('utf-8', 'replace')}")
                    self.function.stats["init_errors"] += 1
                    writer.write(encode_response(202, [("content-type", "application/json")], b'{"status":"OK"}'))
                    await writer.drain()
                    continue
                writer.write(encode_response(*message(404, "Not Found")))
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


class Function:
    def __init__(self, gateway, spec):
        self.gateway = gateway
        self.spec = spec
        self.name = spec.name
        self.instances = set()
        self.pending = collections.deque()
        self.waiters = collections.deque()
        self.starting = 0
        self.generation = 0
        self.numbers = 0
        self.binary_sig = self.signature()
        self.ready_event = asyncio.Event()
        self.removed = False
        self.stats = collections.Counter(invocations=0, errors=0, crashes=0, timeouts=0,
                                         init_errors=0, started=0)

    @property
    def binary(self):
        return self.gateway.bin_dir / self.name

    def signature(self):
        try:
            st = self.binary.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def spawn(self):
        if self.gateway.stopping or self.removed:
            return
        if not self.binary.is_file():
            log(f"{self.name}: no binary at {self.binary} (run `cargo build --workspace`)")
            while self.pending and not self.instances and not self.starting:
                self.pending.popleft().finish(False, json.dumps({
                    "errorType": "Runtime.InvalidEntrypoint", "errorMessage": f"no binary {self.binary}",
                }).encode(), "crash")
            return
        self.numbers += 1
        instance = Instance(self, self.numbers)
        self.instances.add(instance)
        self.starting += 1
        self.stats["started"] += 1

        async def go():
            try:
                await instance.start(self.binary)
            except OSError as err:
                log(f"{instance.label}: cannot start: {err}")
                self.instances.discard(instance)
                self.starting = max(0, self.starting - 1)
                if instance.server:
                    instance.server.close()

        asyncio.get_running_loop().create_task(go())

    def scale(self):
        """Starts instances for waiting invocations, up to the concurrency limit."""
        if self.gateway.stopping or self.removed:
            return
        wanted = len(self.pending) - self.starting
        room = self.gateway.concurrency - len(self.instances)
        for _ in range(max(0, min(wanted, room))):
            self.spawn()

    def dispatch(self):
        while self.pending and self.waiters:
            inv = self.pending.popleft()
            if inv.cancelled:
                continue
            waiter = self.waiters.popleft()
            if waiter.done():
                self.pending.appendleft(inv)
                continue
            waiter.set_result(inv)

    def requeue(self, inv):
        self.pending.appendleft(inv)
        self.dispatch()
        self.scale()

    async def invoke(self, payload, wait=None):
        """(ok, payload, kind): kind is None, 'function', 'crash', 'timeout' or 'integration'."""
        inv = Invocation(payload, self)
        self.stats["invocations"] += 1
        self.pending.append(inv)
        self.dispatch()
        self.scale()
        try:
            return await asyncio.wait_for(asyncio.shield(inv.future), wait)
        except asyncio.TimeoutError:
            inv.cancelled = True
            return False, b'{"errorType":"Integration.Timeout"}', "integration"

    def retire_idle(self, older_than=None):
        """Stops idle instances: those of an older binary, or idle too long beyond the first."""
        now = time.monotonic()
        for instance in list(self.instances):
            if instance.waiter is None or instance.stopping:
                continue
            stale = instance.generation != self.generation
            idle = older_than is not None and now - instance.idle_since > older_than and len(self.instances) > 1
            if stale or idle:
                if instance.waiter in self.waiters:
                    self.waiters.remove(instance.waiter)
                instance.stop()
                if not instance.waiter.done():
                    instance.waiter.set_result(None)

    def status(self):
        return {
            "instances": len(self.instances),
            "busy": sum(1 for i in self.instances if i.current is not None),
            "queued": sum(1 for i in self.pending if not i.cancelled),
            "pids": sorted(i.proc.pid for i in self.instances if i.proc is not None),
            **self.stats,
        }


# ---------------------------------------------------------------------------------------------
# The gateway


class Gateway:
    def __init__(self, args):
        self.host = args.host
        self.port = args.port
        self.template = pathlib.Path(args.template)
        self.bin_dir = pathlib.Path(args.bin_dir)
        self.concurrency = max(1, args.concurrency)
        self.cors_origins = [o.strip() for o in args.cors_origins.split(",") if o.strip()]
        if [o.lower() for o in self.cors_origins] in ([], ["none"]):
            self.cors_origins = []
        self.quiet = args.quiet
        self.access_log = args.access_log
        self.rebuild = args.rebuild
        self.functions = {}
        self.routes = []
        self.cors = None
        self.stopping = False
        self.front = collections.Counter(requests=0, errors=0, throttled=0, timeouts=0, refused=0)
        self.connections = Connections()
        self.throttles = None
        self.template_sig = None
        self.server = None

    # -- configuration ------------------------------------------------------------------------

    def load(self):
        loaded = load_template(self.template)
        specs, routes, cors = loaded.functions, loaded.routes, loaded.cors
        if self.throttles is None:
            self.throttles = loaded.throttles
        else:
            self.throttles.renew(loaded.throttles)
        self.template_sig = self.template.stat().st_mtime_ns
        for name, spec in specs.items():
            if name in self.functions:
                self.functions[name].spec = spec
            else:
                self.functions[name] = Function(self, spec)
        for name in set(self.functions) - set(specs):
            fn = self.functions.pop(name)
            fn.removed = True
            for instance in list(fn.instances):
                instance.stop()
        self.routes = routes
        self.cors = Cors(cors, self.cors_origins) if cors is not None and self.cors_origins else None
        return specs

    async def warm(self, timeout=120):
        """One initialised instance per function."""
        for fn in self.functions.values():
            if not fn.instances:
                fn.spawn()
        waits = [asyncio.wait_for(fn.ready_event.wait(), timeout) for fn in self.functions.values()]
        results = await asyncio.gather(*waits, return_exceptions=True)
        slow = [fn.name for fn, r in zip(self.functions.values(), results) if isinstance(r, Exception)]
        if slow:
            log(f"not initialised within {timeout} s: {', '.join(slow)}")

    # -- background ---------------------------------------------------------------------------

    async def housekeeping(self):
        sources = self.source_files() if self.rebuild else None
        last_sources = self.sources_sig(sources) if sources is not None else None
        building = None
        while not self.stopping:
            await asyncio.sleep(1.0)
            try:
                sig = self.template.stat().st_mtime_ns
                if sig != self.template_sig:
                    self.load()
                    log(f"template.yaml changed: {len(self.routes)} routes, {len(self.functions)} functions")
                    await self.warm(timeout=60)
            except (OSError, yaml.YAMLError) as err:
                log(f"template.yaml: {err}")
            for fn in self.functions.values():
                sig = fn.signature()
                if sig is not None and sig != fn.binary_sig:
                    await asyncio.sleep(0.3)  # let the linker finish
                    if fn.signature() != sig:
                        continue
                    fn.binary_sig = sig
                    fn.generation += 1
                    fn.retire_idle()
                    if not fn.pending:
                        fn.spawn()
                    log(f"{fn.name}: new binary; instances replaced")
                fn.retire_idle(older_than=IDLE_SECONDS)
            if sources is not None and (building is None or building.done()):
                sources = self.source_files()
                now = self.sources_sig(sources)
                if now != last_sources:
                    last_sources = now
                    building = asyncio.get_running_loop().create_task(self.build())

    def source_files(self):
        files = [ROOT / "Cargo.toml", ROOT / "Cargo.lock"]
        for folder in ("functions", "shared"):
            files.extend(p for p in (ROOT / folder).rglob("*") if p.is_file())
        return files

    @staticmethod
    def sources_sig(files):
        sig = []
        for path in files:
            try:
                sig.append((str(path), path.stat().st_mtime_ns))
            except OSError:
                pass
        return tuple(sig)

    async def build(self):
        # The whole workspace, as make dev built it: a build of one package would unify the
        # dependencies' features differently, and every build after it would start over.
        log("sources changed: cargo build --workspace --bins")
        proc = await asyncio.create_subprocess_exec(
            "cargo", "build", "--workspace", "--bins", cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, preexec_fn=_end_with_parent,
        )
        out, _ = await proc.communicate()
        if proc.returncode == 0:
            log("build done; changed binaries are being swapped in")
        else:
            sys.stdout.write(out.decode("utf-8", "replace")[-4000:])
            log("build FAILED; the last built binaries keep serving")

    # -- the front ----------------------------------------------------------------------------

    async def serve_client(self, reader, writer):
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        if not self.connections.admit(writer):
            self.front["refused"] += 1
            writer.write(encode_response(*message(503, "Service Unavailable"), keep_alive=False))
            await self.send(writer)
            writer.close()
            return
        try:
            while True:
                self.connections.mark(writer, "waiting")
                first = b""
                try:
                    first = await asyncio.wait_for(reader.read(1), CLIENT_IDLE_SECONDS)
                    if not first:
                        break
                    req = await asyncio.wait_for(
                        read_request(reader, writer, quota=HEADER_QUOTA, first=first), READ_SECONDS)
                except TimeoutError:
                    if first:
                        self.front["timeouts"] += 1
                        writer.write(encode_response(*message(408, "Request Timeout"), keep_alive=False))
                        await self.send(writer)
                    break
                except HttpError as err:
                    writer.write(encode_response(*message(err.status, err.message), keep_alive=False))
                    await self.send(writer)
                    break
                except (ConnectionError, asyncio.IncompleteReadError):
                    raise
                except Exception as err:  # a bug of the front's parser: counted, and shown
                    self.front["errors"] += 1
                    log(f"front error reading a request: {type(err).__name__}: {err}")
                    writer.write(encode_response(*message(400, "Bad Request"), keep_alive=False))
                    await self.send(writer)
                    break
                if req is None:
                    break
                self.connections.mark(writer, "busy")
                self.front["requests"] += 1
                started = time.monotonic()
                try:
                    status, headers, body, target = await self.handle(req, peer[0])
                except Exception as err:  # a bug of the front: counted, and shown
                    self.front["errors"] += 1
                    log(f"front error on {req.method} {req.target[:200]}: {type(err).__name__}: {err}")
                    status, headers, body = message(500, "Internal Server Error")
                    target = "-"
                if self.access_log:
                    log(f"{req.method} {req.target[:120]} -> {target} {status} {1000 * (time.monotonic() - started):.1f} ms")
                keep = req.keep_alive
                writer.write(encode_response(status, headers, body, keep_alive=keep, head=req.method == "HEAD"))
                if not await self.send(writer) or not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.connections.forget(writer)
            try:
                writer.close()
            except RuntimeError:
                pass

    @staticmethod
    async def send(writer):
        """Whether the client took what was written within READ_SECONDS (else it is dropped)."""
        try:
            await asyncio.wait_for(writer.drain(), READ_SECONDS)
            return True
        except TimeoutError:
            writer.transport.abort()
            return False

    async def handle(self, req, source_ip):
        path, _, raw_query = req.target.partition("?")
        rid = request_id()
        extra = [("apigw-requestid", rid), ("date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))]
        if (path.startswith(INVOKE_PREFIX) or path.startswith(GATEWAY_PREFIX)) and from_browser(req):
            return (*message(403, "Forbidden", extra), "-")
        if req.method == "POST" and path.startswith(INVOKE_PREFIX) and path.endswith("/invocations"):
            return await self.invoke_api(req, path)
        if req.method == "GET" and path == STATUS_PATH:
            body = json.dumps({
                "functions": {n: f.status() for n, f in sorted(self.functions.items())},
                "front": dict(self.front),
                "connections": len(self.connections.open),
            }, indent=1).encode()
            return 200, [("content-type", "application/json")], body, "status"
        origin = req.header("origin")
        if (self.cors is not None and req.method == "OPTIONS" and origin is not None
                and req.header("access-control-request-method") is not None):
            return 204, [*self.cors.preflight(origin), *extra], b"", "preflight"
        if not path.startswith("/"):
            return (*message(400, "Bad Request", extra), "-")
        host = req.header("host") or f"{self.host}:{self.port}"
        if not valid_host(host):
            return (*message(400, "Bad Request", extra), "-")
        route, params = choose_route(self.routes, req.method, path)
        if route is None:
            return (*message(404, "Not Found", extra), "-")
        if not self.throttles.admit(route.key):
            self.front["throttled"] += 1
            return (*message(429, "Too Many Requests", extra), route.function)
        fn = self.functions.get(route.function)
        if fn is None:
            return (*message(500, "Internal Server Error", extra), route.function)
        context = {
            "sourceIp": source_ip, "protocol": req.version, "requestId": rid,
            "domain": host.rsplit(":", 1)[0] if not host.endswith("]") else host, "port": self.port,
        }
        event = build_event(route, params, req.method, path, raw_query, req.headers, req.body, context)
        payload = json.dumps(event).encode()
        if len(payload) > INVOKE_PAYLOAD_QUOTA:
            return (*message(413, "Request Entity Too Large", extra), route.function)
        ok, answer, kind = await fn.invoke(payload, wait=INTEGRATION_TIMEOUT)
        if kind == "integration":
            return (*message(503, "Service Unavailable", extra), route.function)
        if not ok:
            return (*message(500, "Internal Server Error", extra), route.function)
        try:
            status, headers, body = map_response(answer)
        except BadResponse as err:
            log(f"{route.function}: answer API Gateway cannot map ({err}): {answer[:300]!r}")
            fn.stats["errors"] += 1
            return (*message(500, "Internal Server Error", extra), route.function)
        if self.cors is not None:
            headers = self.cors.actual(origin, headers)
        return status, [*headers, *extra], body, route.function

    async def invoke_api(self, req, path):
        name = urllib.parse.unquote(path[len(INVOKE_PREFIX):-len("/invocations")]).split(":")[-1]
        fn = self.functions.get(name)
        if fn is None:
            body = json.dumps({"Type": "User", "message": f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"}).encode()
            return 404, [("content-type", "application/json"), ("x-amzn-errortype", "ResourceNotFoundException")], body, name
        payload = req.body or b"{}"
        if len(payload) > INVOKE_PAYLOAD_QUOTA:
            return 413, [("content-type", "application/json")], b'{"Type":"User","message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}', name
        if (req.header("x-amz-invocation-type") or "").lower() == "event":
            asyncio.get_running_loop().create_task(fn.invoke(payload))
            return 202, [], b"", name
        ok, answer, kind = await fn.invoke(payload)
        headers = [("content-type", "application/json"), ("x-amz-executed-version", "$LATEST")]
        if not ok:
            headers.append(("x-amz-function-error", "Unhandled"))
        return 200, headers, answer, name

    # -- life ---------------------------------------------------------------------------------

    async def run(self):
        specs = self.load()
        missing = [n for n in specs if not (self.bin_dir / n).is_file()]
        if missing:
            log(f"no binary in {self.bin_dir} for: {', '.join(missing)} (run `cargo build --workspace`)")
        log(f"{len(self.routes)} routes of {len(specs)} functions from {self.template.name}; "
            f"starting one instance of each (up to {self.concurrency} under load)")
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        raise_descriptor_limit()
        await self.warm()
        self.server = await asyncio.start_server(self.serve_client, self.host, self.port, backlog=1024,
                                                 limit=MAX_HEAD)
        cors = ("CORS off" if self.cors is None else f"CORS for {', '.join(self.cors.origins)}")
        log(f"ready on http://{self.host}:{self.port} ({cors}; reload: "
            f"{'rebuilds on source changes' if self.rebuild else 'swaps in rebuilt binaries'})")
        keeper = loop.create_task(self.housekeeping())
        await stopped.wait()
        self.stopping = True
        keeper.cancel()
        self.server.close()
        instances = [i for fn in self.functions.values() for i in fn.instances]
        for instance in instances:
            instance.stop()
        deadline = time.monotonic() + 3
        while any(i.proc and i.proc.returncode is None for i in instances) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        log("stopped")


def from_browser(req):
    """Whether a browser sent the request: every browser sends Origin on a POST (cross-site or
    not, a form's included) and current ones Sec-Fetch-*; the workers, the tests, curl and
    `cargo lambda invoke` send neither. So no web page can reach the Invoke API (a forged stream
    record would get a webhook signed with a real secret) or the gateway's own paths."""
    return req.header("origin") is not None or any(
        name.lower().startswith("sec-fetch-") for name, _ in req.headers)


def raise_descriptor_limit():
    """Room for MAX_CONNECTIONS clients beside the functions' pipes and runtime connections
    (macOS starts shells at 256 descriptors, many Linux setups at 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = MAX_CONNECTIONS + 1024
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))


def valid_host(host):
    name, _, port = host.rpartition(":") if not host.endswith("]") and ":" in host else (host, "", "")
    if port and not port.isdigit():
        return False
    if name.startswith("[") and name.endswith("]"):
        return all(c in "0123456789abcdefABCDEF:." for c in name[1:-1])
    return bool(name) and all(c.isascii() and (c.isalnum() or c in "-.") for c in name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("API_PORT", 9000)))
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser.add_argument("--bin-dir", default=str(target / "debug"), help="where the function binaries are")
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("LOCAL_CONCURRENCY", 4)),
                        help="most instances of one function at once (default 4, or LOCAL_CONCURRENCY)")
    parser.add_argument("--cors-origins", default=os.environ.get("CORS_ALLOW_ORIGINS", "*"),
                        help="allowed browser origins, comma-separated; '*' (default) any, 'none' CORS off")
    parser.add_argument("--rebuild", action="store_true", help="cargo build the functions when their sources change")
    parser.add_argument("--quiet", action="store_true", help="do not print the functions' own log lines")
    parser.add_argument("--access-log", action="store_true", help="one line per request")
    args = parser.parse_args()
    asyncio.run(Gateway(args).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
