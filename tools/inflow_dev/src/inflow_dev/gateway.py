"""The local API Gateway of `make dev` and the tests: an HTTP API (payload format 2.0) in front of
the function binaries, read from template.yaml. The functions' processes, the Lambda Runtime API
they poll and the Invoke API are inflow_dev.lambda_api's; the wire format is inflow_dev.http1's;
template.yaml is read by inflow_dev.template.

    .venv/bin/python -m inflow_dev.gateway [--port 9000] [--concurrency 4] [--cors-origins '*'] [--rebuild]

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
  the template (inflow_dev.sources feeds the relay, the workers and the sweeper through it);
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
import json
import os
import pathlib
import resource
import secrets
import signal
import socket
import sys
import time
import urllib.parse

import yaml

from inflow_dev import ROOT
from inflow_dev.http1 import HttpError, encode_response, message, read_request
from inflow_dev.lambda_api import (
    ACCOUNT, INVOKE_PAYLOAD_QUOTA, INVOKE_PREFIX, IDLE_SECONDS, Function, _end_with_parent, invoke_api, log,
    trace_id,
)
from inflow_dev.template import load_template

HEADER_QUOTA = 10240  # HTTP API quota: request line and header values, in bytes
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


def _bool(value):
    return value is True or str(value).lower() == "true"


# ---------------------------------------------------------------------------------------------
# Throttling (the HttpApi's settings come from inflow_dev.template)


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


# ---------------------------------------------------------------------------------------------
# API Gateway's event and response mapping (pure functions; tests/test_gateway.py tests them)




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



# ---------------------------------------------------------------------------------------------
# The gateway


class Gateway:
    def __init__(self, args):
        self.listen = listen_addresses(args.host)
        self.host = self.listen[0]
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
            self.throttles = Throttles(loaded.throttles.default, loaded.throttles.routes)
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
        return await invoke_api(self.functions, req, path)

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
        self.server = await asyncio.start_server(self.serve_client, self.listen, self.port, backlog=1024,
                                                 limit=MAX_HEAD)
        cors = ("CORS off" if self.cors is None else f"CORS for {', '.join(self.cors.origins)}")
        where = " and ".join(f"http://{h if ':' not in h else f'[{h}]'}:{self.port}" for h in self.listen)
        log(f"ready on {where} ({cors}; reload: "
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


def listen_addresses(host):
    """Where the front listens: `host`, or for `localhost` both loopbacks, since clients resolve
    it to either (`cargo lambda invoke` calls [::1]:9000 by default); IPv4 alone on a machine
    without IPv6."""
    if host != "localhost":
        return [host]
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return ["127.0.0.1"]
    return ["127.0.0.1", "::1"]


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
    parser.add_argument("--host", default="localhost",
                        help="where to listen; localhost (the default): 127.0.0.1 and ::1 both")
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
