"""The local stack under load, hostile input and browsers: real requests through the local API
Gateway (inflow_dev.gateway) to the function binaries (target/debug) and the emulator.

- Bursts: 200 simultaneous requests with one standard key (100 a minute) on one route, then on
  several routes at once: every request is answered, exactly 100 pass and 100 get the family's
  429, several instances of a function served them, none crashed, and the stack answers normally
  right after.
- Hostile input, as API Gateway hands it over: non-UTF-8 bodies, Latin-1 header bytes, raw `"`,
  space and `<` in the query, huge and repeated headers. Every answer is the function's own 4xx
  in its family's shape (never a 500 from the front), except what API Gateway itself refuses
  (a 4xx `{"message"}`), and no function process crashes.
- CORS: preflights and cross-origin requests, with the allowed origins given to the gateway and
  the rest of the settings read from template.yaml.
- The gateway's own paths (the Invoke API, /_gateway/*) refuse browsers; malformed framing is a
  400, never a front error; a slowloris past the connection cap locks no new client out.

    MOTO_PORT=4640 scripts/test_local_stack.sh     (make test runs it; needs the built binaries)
"""
import collections
import http.client
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

from inflow_dev import ROOT, gateway, template

CTL = os.environ.get("INFLOWCTL") or ROOT / "target" / "debug" / "inflowctl"
ORIGINS = ["http://localhost:5173", "http://127.0.0.1:3000"]
STACK = {}



def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setUpModule():
    if "AWS_ENDPOINT_URL" not in os.environ:
        raise RuntimeError("AWS_ENDPOINT_URL is not set: run scripts/test_local_stack.sh MOTO_PORT")
    subprocess.run([CTL, "bootstrap"], check=True, capture_output=True)
    port = free_port()
    log = open(ROOT / ".dev" / f"local-stack-gateway-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "inflow_dev.gateway", "--port", str(port), "--access-log",
         "--cors-origins", ",".join(ORIGINS)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    STACK.update(port=port, proc=proc, log=log)
    wait_for_port(proc, port, log)


def wait_for_port(proc, port, log):
    for _ in range(240):
        if proc.poll() is not None:
            raise RuntimeError(f"the gateway exited ({proc.returncode}); see {log.name}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the gateway did not answer in 120 s")


def tearDownModule():
    proc = STACK.get("proc")
    if proc:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        STACK["log"].close()


def seed(tier="standard"):
    slug = f"ls-{time.time_ns() % 10**12}"
    out = subprocess.run([ROOT / "scripts" / "seed.sh", slug], check=True, capture_output=True, text=True)
    tenant = json.loads(out.stdout.strip().splitlines()[-1])
    if tier != "standard":
        subprocess.run([CTL, "org", "set-tier", "--org", tenant["orgId"], "--tier", tier], check=True, capture_output=True)
    return tenant


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lowercased name -> value (repeated ones joined with ", ")
        self.raw = body
        try:
            self.json = json.loads(body)
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"{self.status} {self.raw[:300]!r}"


def send(raw, timeout=60, source="127.0.0.1", port=None):
    """Sends raw request bytes (anything a client could put on the wire) from a loopback address
    and reads the answer."""
    with socket.create_connection(("127.0.0.1", port or STACK["port"]), timeout=timeout,
                                  source_address=(source, 0)) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        headers = {}
        for name, value in response.getheaders():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return Answer(response.status, headers, body)


def request(method, target, headers=(), body=b""):
    """A request as bytes: `target` and header values may hold any byte."""
    def b(v):
        return v if isinstance(v, bytes) else v.encode()
    lines = [b(method) + b" " + b(target) + b" HTTP/1.1", b"Host: 127.0.0.1:" + str(STACK["port"]).encode(),
             b"Connection: close"]
    lines += [b(n) + b": " + b(v) for n, v in headers]
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def with_host(raw, host):
    """`raw` with its Host header replaced."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = [line if not line.lower().startswith(b"host:") else b"Host: " + host for line in head.split(b"\r\n")]
    return b"\r\n".join(lines) + sep + body


def call(method, target, headers=(), body=b""):
    return send(request(method, target, headers, body))


def status():
    return call("GET", gateway.STATUS_PATH).json


def wait_for_window(seconds):
    """So that a burst stays in one rate-limit minute."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 1)


def burst(raws):
    """Sends every request at the same moment, each on its own connection."""
    answers = [None] * len(raws)
    ready = threading.Barrier(len(raws))

    def one(i):
        try:
            sock = socket.create_connection(("127.0.0.1", STACK["port"]), timeout=120)
        except OSError as err:
            ready.wait()
            answers[i] = err
            return
        with sock:
            ready.wait()
            try:
                sock.sendall(raws[i])
                response = http.client.HTTPResponse(sock)
                response.begin()
                answers[i] = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
            except OSError as err:
                answers[i] = err

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(raws))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def seed000_shape(a):
    return isinstance(a.json, dict) and isinstance(a.json.get("error"), str) and isinstance(a.json.get("message"), str)


def flowdock_shape(a):
    return isinstance(a.json, dict) and isinstance(a.json.get("message"), str) and isinstance(a.json.get("errors"), dict)


def userhub_shape(a):
    j = a.json
    return isinstance(j, dict) and isinstance(j.get("code"), str) and isinstance(j.get("message"), str) \
        and "reason" in j and "param" in j and isinstance(j.get("metadata"), dict)


class Bursts(unittest.TestCase):
    def crashes(self):
        return {name: f["crashes"] for name, f in status()["functions"].items()}

    def check_limited(self, answers, passing, seed000=lambda i: True):
        failures = [a for a in answers if not isinstance(a, Answer)]
        self.assertEqual(failures, [], "every request is answered")
        counts = collections.Counter(a.status for a in answers)
        limited = [a for a in answers if a.status == 429]
        self.assertEqual((sum(counts[s] for s in passing), len(limited)), (100, 100), f"statuses: {counts}")
        one = next(a for i, a in enumerate(answers) if a.status == 429 and seed000(i))
        self.assertEqual(one.json["error"], "rate_limit_exceeded")
        retry_after = one.json["retry_after"]
        self.assertTrue(1 <= retry_after <= 60)
        self.assertEqual(one.headers["retry-after"], str(retry_after))
        self.assertEqual(one.headers["x-ratelimit-limit"], "100")
        self.assertEqual(one.headers["x-ratelimit-remaining"], "0")

    def answers_normally(self):
        other = seed()
        a = call("GET", "/v1/assignments/asgn_afterburst", [("Authorization", f"Bearer {other['adminKey']}")])
        self.assertEqual((a.status, a.headers.get("x-ratelimit-remaining")), (404, "99"), a)
        self.assertTrue(seed000_shape(a))

    def test_200_simultaneous_requests_on_one_route_let_exactly_the_limit_through(self):
        t = seed()
        before = self.crashes()
        started = status()["functions"]["get-assignment"]["started"]
        raw = request("GET", "/v1/assignments/asgn_doesnotexistbutwellformed", [("Authorization", f"Bearer {t['adminKey']}")])
        wait_for_window(25)
        answers = burst([raw] * 200)
        self.check_limited(answers, passing=[404])
        self.assertTrue(all(seed000_shape(a) for a in answers))
        after = status()["functions"]
        self.assertGreater(after["get-assignment"]["started"], started, "more instances were started for the burst")
        self.assertEqual(self.crashes(), before, "no function process crashed")
        self.assertEqual(status()["front"]["errors"], 0)
        self.answers_normally()

    def test_200_simultaneous_requests_over_several_routes_share_one_limit(self):
        t = seed()
        before = self.crashes()
        auth = [("Authorization", f"Bearer {t['adminKey']}")]
        targets = [  # path, its status under the limit, its answer's shape, its family's error shape
            ("/v1/assignments/asgn_doesnotexistbutwellformed", 404, seed000_shape, seed000_shape),
            ("/admin/v1/flows/inv_doesnotexist", 404, userhub_shape, userhub_shape),
            (f"/flows/{t['slug']}/onboarding/invitations", 200, lambda a: isinstance(a.json, list), flowdock_shape),
            ("/v1/webhooks/deliveries", 200, lambda a: isinstance(a.json, dict), seed000_shape),
        ]
        raws = [request("GET", targets[i % 4][0], auth) for i in range(200)]
        wait_for_window(25)
        answers = burst(raws)
        self.check_limited(answers, passing=[200, 404], seed000=lambda i: i % 4 == 0)
        for i, a in enumerate(answers):
            path, ok_status, shape, error_shape = targets[i % 4]
            self.assertIn(a.status, (ok_status, 429), f"{path}: {a}")
            self.assertTrue((shape if a.status == ok_status else error_shape)(a), f"{path}: {a}")
        self.assertEqual(self.crashes(), before, "no function process crashed")
        self.answers_normally()


JUNK_SECRET = "inv_AAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


def flood(port, seconds, per_second, source="127.0.0.1"):
    """Junk `GET /accept` from one address at `per_second` for `seconds`, in the background;
    returns the thread and the statuses seen, with API Gateway's own refusals apart."""
    seen = collections.Counter()
    raw = request("GET", f"/accept?secret={JUNK_SECRET}")

    def one_sender(offset):
        start = time.monotonic() + offset
        n = 0
        while time.monotonic() - start < seconds:
            due = start + n * 4 / per_second
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                a = send(raw, timeout=10, source=source, port=port)
                gateway_refusal = a.status == 429 and (a.json or {}).get("message") == "Too Many Requests"
                seen["gateway-429" if gateway_refusal else a.status] += 1
            except OSError:
                seen["error"] += 1
            n += 1

    threads = [threading.Thread(target=one_sender, args=(i / per_second,)) for i in range(4)]
    for t in threads:
        t.start()
    return threads, seen


def invite_and_accept(port, admin_key, source):
    """Creates an invitation, then, from `source`, opens its page and accepts it; the answers."""
    made = send(request("POST", "/admin/v1/flows:createJoinOrganization",
                        [("Authorization", f"Bearer {admin_key}"), ("Content-Type", "application/json")],
                        json.dumps({"email": f"invitee-{time.time_ns()}@example.com"}).encode()), port=port)
    assert made.status == 200, made
    secret = made.json["secret"]
    shown = send(request("GET", f"/accept?secret={secret}"), source=source, port=port)
    form = f"secret={urllib.parse.quote(secret)}".encode()
    accepted = send(request("POST", "/accept", [("Content-Type", "application/x-www-form-urlencoded")], form),
                    source=source, port=port)
    flow = send(request("GET", f"/admin/v1/flows/{made.json['id']}", [("Authorization", f"Bearer {admin_key}")]),
                port=port)
    return shown, accepted, flow


class Floods(unittest.TestCase):
    """One client address flooding the public accept page cannot lock out invitees elsewhere:
    the gateway applies template.yaml's throttles (PublicRateLimit is a cost ceiling above the
    flood), and the function refuses the flooding address on its own window, from memory."""

    def test_an_invitee_on_another_address_accepts_during_a_flood(self):
        t = seed()
        wait_for_window(10)
        threads, seen = flood(STACK["port"], seconds=5, per_second=100)
        time.sleep(1.5)
        shown, accepted, flow = invite_and_accept(STACK["port"], t["adminKey"], source="127.0.0.2")
        for thread in threads:
            thread.join()
        self.assertEqual((shown.status, accepted.status), (200, 200), (shown, accepted))
        self.assertIn(b'data-state="accepted"', accepted.raw)
        self.assertEqual(flow.json["state"], "COMPLETED", flow)
        self.assertGreater(sum(seen.values()), 350, f"about 100 a second for 5 s: {seen}")
        self.assertEqual(seen["gateway-429"], 0, f"the gateway's ceiling is above the flood: {seen}")
        self.assertGreater(seen[429], seen[200], f"the flood is refused by its own window: {seen}")
        self.assertEqual(status()["front"]["errors"], 0)

    def test_with_a_ceiling_below_the_flood_the_gateway_itself_locks_invitees_out(self):
        """What the old PublicRateLimit of 50 a second did: the route's one bucket, empty."""
        text = (ROOT / "template.yaml").read_text()
        old = "  PublicRateLimit:\n    Type: Number\n    Default: "
        self.assertIn(old, text)
        start = text.index(old) + len(old)
        end = text.index("\n", start)
        low = ROOT / ".dev" / f"template-low-ceiling-{os.getpid()}.yaml"
        low.write_text(text[:start] + "50" + text[end:])
        port = free_port()
        log = open(ROOT / ".dev" / f"local-stack-low-ceiling-{port}.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "inflow_dev.gateway", "--port", str(port), "--template", str(low)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for_port(proc, port, log)
            t = seed()
            wait_for_window(10)
            threads, seen = flood(port, seconds=4, per_second=100)
            time.sleep(1.5)
            invitee = collections.Counter()
            for _ in range(10):
                a = send(request("GET", f"/accept?secret={JUNK_SECRET}"), source="127.0.0.2", port=port)
                invitee["gateway-429" if a.status == 429 and a.json == {"message": "Too Many Requests"}
                        else a.status] += 1
                time.sleep(0.1)
            for thread in threads:
                thread.join()
            self.assertGreater(seen["gateway-429"], 0, seen)
            self.assertGreater(invitee["gateway-429"], 0, f"the invitee is refused too: {invitee} (flood: {seen})")
            del t
        finally:
            proc.terminate()
            proc.wait(10)
            log.close()
            low.unlink(missing_ok=True)


class Crashes(unittest.TestCase):
    def test_a_function_process_that_dies_is_replaced_and_the_next_request_answered(self):
        t = seed("enterprise")
        auth = [("Authorization", f"Bearer {t['adminKey']}")]
        self.assertEqual(call("GET", "/admin/v1/flows/inv_before", auth).status, 404)
        before = status()["functions"]["get-flow"]
        for pid in before["pids"]:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while set(status()["functions"]["get-flow"]["pids"]) & set(before["pids"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        a = call("GET", "/admin/v1/flows/inv_after", auth)
        self.assertEqual(a.status, 404, a)
        self.assertTrue(userhub_shape(a))
        after = status()["functions"]["get-flow"]
        self.assertEqual(after["crashes"], before["crashes"] + len(before["pids"]))
        self.assertFalse(set(after["pids"]) & set(before["pids"]))


class Hostile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = seed("enterprise")  # 1000 a minute: no 429 here

    def cases(self):
        t = self.t
        sk = t["adminKey"].encode()
        pk = t["userKey"].encode()
        auth = [("Authorization", b"Bearer " + sk)]
        json_type = [("Content-Type", "application/json")]
        invitations = f"/flows/{t['slug']}/onboarding/invitations"
        not_utf8 = b'{"flowId": "\xff\xfe", "userEmail": "jane@example.com", "email": "\xe9@x.com"}'
        return [
            # (name, request, the expected status or None for any 4xx, the family's shape)
            ("non-UTF-8 body, seed 000", request("POST", "/v1/flows/assign", auth + json_type, not_utf8), 400, seed000_shape),
            ("non-UTF-8 body, seed 001", request("POST", invitations, auth + json_type, not_utf8), 400, flowdock_shape),
            ("non-UTF-8 body, seeds 003/004", request("POST", "/admin/v1/flows:createJoinOrganization", auth + json_type, not_utf8), 400, userhub_shape),
            ("binary body", request("POST", "/v1/flows/assign", auth + [("Content-Type", "application/octet-stream")], b"\x00\x01\x02"), 415, seed000_shape),
            ("Latin-1 byte in Authorization", request("GET", "/v1/assignments/asgn_x", [("Authorization", b"Bearer " + sk + b"\xe9")]), 401, seed000_shape),
            ("Latin-1 byte in Token", request("POST", "/api/user", [("Authorization", b"Token \xe9" + sk)] + json_type, b'{"name":"a","provided_id":"b"}'), 401,
             lambda a: isinstance(a.json, dict) and a.json.get("success") == 0),
            ("Latin-1 byte in UserHub-Api-Key", request("POST", "/user/v1/flows/inv_x:consume", [("UserHub-Api-Key", pk + b"\xe9")]), 401, userhub_shape),
            ("Latin-1 byte in X-Request-ID", request("GET", "/v1/assignments/asgn_x", auth + [("X-Request-ID", b"req-\xe9")]), 404, seed000_shape),
            ('raw " in the query', request("GET", invitations + '?limit="5"', auth), 400, flowdock_shape),
            ("raw space in the query", request("GET", invitations + "?after=1 2", auth), 400, flowdock_shape),
            ("raw < in the query", request("GET", "/v1/webhooks/deliveries?status=<failed>", auth), 400, seed000_shape),
            ("huge Authorization (within API Gateway's quota)", request("GET", "/v1/assignments/asgn_x", [("Authorization", "Bearer sk_" + "a" * 9000)]), 401, seed000_shape),
            ("huge X-Request-ID", request("GET", "/v1/assignments/asgn_x", auth + [("X-Request-ID", "r" * 5000)]), 404, seed000_shape),
            ("many headers", request("GET", "/admin/v1/flows/inv_x", auth + [(f"X-Extra-{i}", "v") for i in range(200)]), 404, userhub_shape),
            ("percent-encoded odd id", request("GET", "/admin/v1/flows/%00%22%3C%20%FF", auth), 404, userhub_shape),
            # Hosts lambda_http cannot parse (it panicked on them): the function answers as for any.
            ("Host with a port over 65535", with_host(request("GET", "/v1/organization", auth), b"127.0.0.1:99999"),
             200, lambda a: isinstance(a.json, dict) and "id" in a.json),
            ("Host with an IPv4 octet over 255", with_host(request("GET", "/v1/organization", auth), b"256.1.1.1"),
             200, lambda a: isinstance(a.json, dict) and "id" in a.json),
        ]

    def test_every_answer_is_the_functions_own_4xx_and_nothing_crashes(self):
        before = status()
        for name, raw, want, shape in self.cases():
            errors_before = sum(f["errors"] for f in status()["functions"].values())
            a = send(raw)
            with self.subTest(name):
                self.assertEqual(a.status, want, f"{name}: {a}")
                self.assertTrue(shape(a), f"{name}: not the family's shape: {a}")
                self.assertTrue(a.headers.get("x-request-id"), f"{name}: the function answered")
                if name == "huge X-Request-ID":
                    self.assertLessEqual(len(a.headers["x-request-id"]), 200)
                if name == "Latin-1 byte in X-Request-ID":
                    self.assertTrue(a.headers["x-request-id"].startswith("req_"), "an unreadable id is replaced")
        after = status()
        self.assertEqual({n: f["crashes"] for n, f in after["functions"].items()},
                         {n: f["crashes"] for n, f in before["functions"].items()}, "no function process crashed")
        self.assertEqual(after["front"]["errors"], 0, "the front never failed")

    def test_repeated_headers_reach_the_function_joined_with_commas(self):
        a = call("GET", "/v1/assignments/asgn_x", [("Authorization", f"Bearer {self.t['adminKey']}"),
                                                   ("X-Request-ID", "first"), ("X-Request-ID", "second")])
        self.assertEqual((a.status, a.headers.get("x-request-id")), (404, "first,second"))

    def test_what_api_gateway_refuses_itself_is_a_4xx_of_its_own(self):
        for name, raw, want in [
            ("header values over the 10,240-byte quota", request("GET", "/v1/assignments/asgn_x", [("X-Big", "a" * 12000)]), 431),
            ("a control byte in a header", request("GET", "/v1/assignments/asgn_x", [("X-Bad", b"a\x01b")]), 400),
            ("a body over 10 MB", b"POST /v1/flows/assign HTTP/1.1\r\nHost: x\r\nContent-Length: 10485761\r\n\r\n", 413),
            ("no route", request("GET", "/v2/nothing"), 404),
            ("an unrouted method", request("PUT", "/v1/flows/assign"), 404),
            # Framing: each was a front error before (ValueError, or a read of -5 bytes).
            ("a Content-Length of a Unicode digit", b"POST /v1/flows/assign HTTP/1.1\r\nHost: x\r\nContent-Length: \xc2\xb2\r\n\r\nab", 400),
            ("a negative chunk size", b"POST /v1/flows/assign HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n", 400),
            ("a chunk size in Python's hex", b"POST /v1/flows/assign HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", 400),
            ("a coding other than chunked", b"POST /v1/flows/assign HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ]:
            with self.subTest(name):
                a = send(raw)
                self.assertEqual(a.status, want, f"{name}: {a}")
                self.assertEqual(set(a.json), {"message"}, f"{name}: {a}")
        self.assertEqual(status()["front"]["errors"], 0)


class GatewayOwnPaths(unittest.TestCase):
    """The Lambda Invoke API and /_gateway/* serve the workers, the tests and `cargo lambda
    invoke`, never a web page: a page open beside `make dev` could otherwise post a forged
    stream record to the relay and have a webhook signed with a real secret."""

    INVOKE = "/2015-03-31/functions/relay/invocations"

    def invocations(self):
        return status()["functions"]["relay"]["invocations"]

    def test_a_browser_request_is_refused_and_invokes_nothing(self):
        before = self.invocations()
        record = json.dumps({"Records": []})
        for name, method, target, headers in [
            ("a form's simple cross-site POST", "POST", self.INVOKE,
             [("Origin", "http://evil.example"), ("Content-Type", "text/plain")]),
            ("a no-cors fetch from a sandboxed page", "POST", self.INVOKE,
             [("Origin", "null"), ("Sec-Fetch-Mode", "no-cors"), ("Sec-Fetch-Site", "cross-site")]),
            ("a same-site fetch after DNS rebinding", "POST", self.INVOKE,
             [("Sec-Fetch-Site", "same-origin"), ("Sec-Fetch-Mode", "cors")]),
            ("a preflight", "OPTIONS", self.INVOKE,
             [("Origin", "http://localhost:5173"), ("Access-Control-Request-Method", "POST")]),
            ("the status page from a page", "GET", gateway.STATUS_PATH, [("Origin", "http://evil.example")]),
        ]:
            with self.subTest(name):
                a = call(method, target, headers, record.encode() if method == "POST" else b"")
                self.assertEqual((a.status, a.json), (403, {"message": "Forbidden"}), f"{name}: {a}")
                self.assertNotIn("access-control-allow-origin", a.headers, name)
        self.assertEqual(self.invocations(), before, "no forged request reached the relay")

    def test_a_non_browser_client_invokes_as_before(self):
        before = self.invocations()
        a = call("POST", self.INVOKE, [("Content-Type", "application/json")], json.dumps({"Records": []}).encode())
        self.assertEqual(a.status, 200, a)
        self.assertNotIn("x-amz-function-error", a.headers, a)
        self.assertEqual(self.invocations(), before + 1)


class Logs(unittest.TestCase):
    """A request's log lines join up with its Lambda invocation and trace: Powertools' field
    names beside ours, on the line the function itself wrote."""

    def test_a_request_logs_its_lambda_request_id_trace_cold_start_and_service(self):
        t = seed()
        rid = f"log-{time.time_ns()}"
        for _ in range(2):
            a = call("GET", "/v1/organization", [("Authorization", f"Bearer {t['adminKey']}"), ("X-Request-ID", rid)])
            self.assertEqual(a.status, 200, a)
        spans = []
        deadline = time.monotonic() + 10
        while len(spans) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            spans = []
            for line in pathlib.Path(STACK["log"].name).read_text(errors="replace").splitlines():
                prefix, _, rest = line.partition(": ")
                if prefix == "get-organization" and rid in rest and "request finished" in rest:
                    spans.append(json.loads(rest)["span"])
        self.assertEqual(len(spans), 2, "both requests' lines")
        for span in spans:
            self.assertEqual(span["request_id"], rid)
            self.assertEqual(span["service"], "inflow")
            self.assertIsInstance(span["cold_start"], bool)
            self.assertRegex(span["function_request_id"], r"^[0-9a-f-]{36}$")
            self.assertTrue(span["xray_trace_id"].startswith("Root=1-"), span)
        self.assertNotEqual(spans[0]["function_request_id"], spans[1]["function_request_id"])


class CargoLambdaInvoke(unittest.TestCase):
    """`cargo lambda invoke` with its default address ([::1]) reaches the gateway's Invoke API:
    the gateway listens on both loopbacks, as `localhost` may mean either."""

    def test_cargo_lambda_invoke_with_its_defaults_runs_the_function(self):
        out = subprocess.run(
            [ROOT / ".venv" / "bin" / "cargo-lambda", "lambda", "invoke", "--invoke-port", str(STACK["port"]),
             "--data-file", "events/get-organization.json", "get-organization"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        # The sample's key is a placeholder: the function itself answers 401 in its own shape.
        answer = json.loads(out.stdout)
        self.assertEqual(answer["statusCode"], 401, out.stdout)


class SlowClients(unittest.TestCase):
    """Slowloris through the real gateway: more connections than its cap, each sending its head
    a byte a second or nothing at all. Each new client still gets in at once, the slow ones are
    answered 408 within the read timeout, and nothing counts as a front error."""

    def test_slow_and_silent_clients_hold_nothing_for_long_and_lock_nobody_out(self):
        port = STACK["port"]
        before = status()["front"]
        slow = []
        try:
            for i in range(gateway.MAX_CONNECTIONS + 40):
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                if i % 2:
                    sock.sendall(b"GET /v1/organization HTTP/1.1\r\nHost: x\r\n")
                slow.append(sock)
            started = time.monotonic()
            a = call("GET", "/v1/assignments/asgn_x")  # a new client, past the cap
            self.assertEqual(a.status, 401, a)
            self.assertLess(time.monotonic() - started, gateway.READ_SECONDS,
                            "the new client did not wait for the slow ones to time out")
            deadline = time.monotonic() + gateway.READ_SECONDS + 5
            while time.monotonic() < deadline:  # dribble: a header byte a second
                for sock in slow[1::2]:
                    try:
                        sock.sendall(b"X")
                    except OSError:
                        pass
                time.sleep(1)
            answers = collections.Counter()
            for sock in slow[1::2]:
                sock.settimeout(5)
                try:
                    answers[sock.recv(64).split(b"\r\n")[0]] += 1
                except OSError:
                    answers[b"reset"] += 1
        finally:
            for sock in slow:
                sock.close()
        after = status()
        self.assertEqual(set(answers) - {b"HTTP/1.1 408 Request Timeout", b"", b"reset"}, set(), answers)
        self.assertGreater(answers[b"HTTP/1.1 408 Request Timeout"], 0, answers)
        self.assertGreater(after["front"]["timeouts"], before["timeouts"])
        self.assertEqual(after["front"]["errors"], 0)
        self.assertLess(after["connections"], 10, "the slow connections are gone")


class Browsers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = seed("enterprise")
        cls.settings = template.load_template(ROOT / "template.yaml").cors

    def preflight(self, origin, path="/user/v1/flows/x:consume", method="POST",
                  headers="userhub-api-key,content-type,idempotency-key,x-request-id,authorization"):
        return call("OPTIONS", path, [("Origin", origin), ("Access-Control-Request-Method", method),
                                      ("Access-Control-Request-Headers", headers)])

    def test_a_preflight_from_an_allowed_origin(self):
        for origin in ORIGINS:
            a = self.preflight(origin)
            self.assertEqual((a.status, a.raw), (204, b""))
            self.assertEqual(a.headers["access-control-allow-origin"], origin)
            self.assertEqual(a.headers["vary"], "origin")
            allowed = a.headers["access-control-allow-headers"].split(",")
            for header in ("userhub-api-key", "authorization", "content-type", "idempotency-key", "x-request-id"):
                self.assertIn(header, allowed)
            self.assertEqual(allowed, self.settings["AllowHeaders"], "as template.yaml says")
            self.assertIn("POST", a.headers["access-control-allow-methods"].split(","))
            self.assertEqual(a.headers["access-control-max-age"], str(self.settings["MaxAge"]))
        # API Gateway answers preflights for any path, routed or not.
        self.assertEqual(self.preflight(ORIGINS[0], path="/v2/unrouted", method="GET").status, 204)

    def test_a_preflight_from_another_origin_gets_no_cors_headers(self):
        a = self.preflight("http://evil.example")
        self.assertEqual(a.status, 204)
        self.assertFalse([h for h in a.headers if h.startswith("access-control-")], a.headers)

    def test_options_without_a_preflight_is_just_an_unrouted_request(self):
        a = call("OPTIONS", "/user/v1/flows/x:consume", [("Origin", ORIGINS[0])])
        self.assertEqual(a.status, 404)

    def test_a_cross_origin_consume_with_a_publishable_key(self):
        made = call("POST", "/admin/v1/flows:createJoinOrganization",
                    [("Authorization", f"Bearer {self.t['adminKey']}"), ("Content-Type", "application/json")],
                    json.dumps({"email": "browser@example.com"}).encode())
        self.assertEqual(made.status, 200, made)
        a = call("POST", f"/user/v1/flows/{made.json['secret']}:consume",
                 [("Origin", ORIGINS[0]), ("UserHub-Api-Key", self.t["userKey"]), ("X-Request-ID", "browser-1")])
        self.assertEqual((a.status, a.json["state"]), (200, "COMPLETED"), a)
        self.assertEqual(a.headers["access-control-allow-origin"], ORIGINS[0])
        exposed = a.headers["access-control-expose-headers"].split(",")
        for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after",
                       "x-request-id", "idempotent-replayed", "link"):
            self.assertIn(header, exposed)
        # What is exposed is there to read.
        self.assertEqual(a.headers["x-request-id"], "browser-1")
        self.assertEqual(a.headers["x-ratelimit-limit"], "1000")

    def test_a_request_from_another_origin_is_answered_without_cors_headers(self):
        a = call("GET", "/v1/assignments/asgn_x", [("Origin", "http://evil.example"),
                                                   ("Authorization", f"Bearer {self.t['adminKey']}")])
        self.assertEqual(a.status, 404)
        self.assertFalse([h for h in a.headers if h.startswith("access-control-")], a.headers)


if __name__ == "__main__":
    result = unittest.main(verbosity=2, exit=False).result
    if result.wasSuccessful() and STACK.get("log"):
        pathlib.Path(STACK["log"].name).unlink(missing_ok=True)
    sys.exit(0 if result.wasSuccessful() else 1)
