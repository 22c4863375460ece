"""Tests of inflow_dev.gateway's API Gateway mapping, without processes: routes read from
template.yaml and matched as API Gateway matches them, payload-2.0 events built from raw requests,
responses mapped back, CORS answered from the template's settings, and the HTTP parser's
refusals. The same gateway is driven end to end by tools/inflow_dev/tests/stack/test_local_stack.py and the smoke test.

    .venv/bin/python -m pytest tools/inflow_dev/tests/test_gateway.py        (make test runs it)
"""
import argparse
import asyncio
import base64
import json
import unittest

from inflow_dev import ROOT, gateway, http1, template
CONTEXT = {"sourceIp": "192.0.2.7", "protocol": "HTTP/1.1", "requestId": "rid=", "domain": "127.0.0.1", "port": 9000}


def route(method, path, function="f"):
    return template.Route(method, path, function)


def event(method="GET", target="/x", headers=(), body=b"", routes=None):
    routes = routes or [route("ANY", "/{proxy+}")]
    path, _, query = target.partition("?")
    matched, params = gateway.choose_route(routes, method, path)
    return gateway.build_event(matched, params, method, path, query, list(headers), body, CONTEXT)


class Template(unittest.TestCase):
    def test_every_http_route_of_the_template_with_its_binary(self):
        loaded = template.load_template(ROOT / "template.yaml")
        functions, routes = loaded.functions, loaded.routes
        keys = {(r.method, r.path): r.function for r in routes}
        self.assertEqual(keys[("GET", "/admin/v1/flows/{flowId}")], "get-flow")
        self.assertEqual(keys[("POST", "/admin/v1/flows/{flowId}")], "cancel-flow")
        self.assertEqual(keys[("POST", "/v1/flows/assign")], "assign-flow")
        # Workers have no route but are functions (the Invoke API reaches them), with their Timeout.
        self.assertEqual(functions["sweeper"].timeout, 60)
        self.assertEqual(functions["get-flow"].timeout, 10)  # Globals
        self.assertEqual(functions["import-invitations"].memory, 1024)
        self.assertNotIn("relay", set(keys.values()))
        # Settings reach the functions as a deploy's defaults; resources are the local stack's.
        email = functions["email-worker"].environment
        self.assertEqual(email["BULK_EMAILS_PER_SECOND"], "10")
        self.assertEqual(email["EMAIL_WORKER_CONCURRENCY"], "2")
        self.assertEqual(email["ACCEPT_URL_HOSTS"], "")
        self.assertEqual(email["RUST_LOG"], "info")
        self.assertNotIn("TABLE_NAME", email)
        self.assertNotIn("EMAIL_QUEUE_URL", email)

    def test_cors_settings_are_the_if_branch_of_the_http_api(self):
        cors = template.load_template(ROOT / "template.yaml").cors
        for header in ("userhub-api-key", "authorization", "content-type", "idempotency-key", "x-request-id"):
            self.assertIn(header, cors["AllowHeaders"])
        for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after",
                       "x-request-id", "idempotent-replayed", "link"):
            self.assertIn(header, cors["ExposeHeaders"])
        self.assertIsNone(template.cors_settings({"Fn::If": ["C", {"Ref": "AWS::NoValue"}, {"Ref": "AWS::NoValue"}]}))
        self.assertEqual(template.cors_settings(True), {"AllowOrigins": ["*"]})


class Throttling(unittest.TestCase):
    def test_the_template_s_stage_and_route_throttles_are_read_with_their_parameters(self):
        t = template.load_template(ROOT / "template.yaml").throttles
        self.assertEqual(t.default, (500.0, 1000.0))
        public = t.routes["POST /accept"]
        self.assertEqual(public, t.routes["POST /user/v1/flows/{flowId}"])
        self.assertEqual(public, t.routes["GET /accept"])
        self.assertNotEqual(public, t.default)

    def test_a_token_bucket_takes_its_burst_then_its_rate(self):
        now = [0.0]
        bucket = gateway.TokenBucket(rate=10, burst=5, clock=lambda: now[0])
        self.assertEqual([bucket.take() for _ in range(6)], [True] * 5 + [False])
        now[0] += 0.25  # 2.5 tokens
        self.assertEqual([bucket.take() for _ in range(3)], [True, True, False])
        now[0] += 100
        self.assertEqual(sum(bucket.take() for _ in range(10)), 5, "never more than the burst")

    def test_each_route_has_its_own_bucket_and_the_account_one_is_shared(self):
        now = [0.0]
        t = gateway.Throttles((2, 2), {"POST /accept": (1, 1)}, clock=lambda: now[0])
        self.assertEqual([t.admit("POST /accept") for _ in range(2)], [True, False])
        self.assertEqual([t.admit("GET /x") for _ in range(3)], [True, True, False])
        self.assertEqual([t.admit("GET /y") for _ in range(2)], [True, True], "a route of its own")
        t.account = gateway.TokenBucket(1, 1, clock=lambda: now[0])
        self.assertEqual([t.admit("GET /z"), t.admit("GET /w")], [True, False], "the account's bucket")
        self.assertTrue(gateway.Throttles(None, {}).admit("GET /anything"), "no settings, no throttle")


class Routing(unittest.TestCase):
    ROUTES = [
        route("GET", "/admin/v1/flows/{flowId}", "get-flow"),
        route("POST", "/admin/v1/flows/{flowId}", "cancel-flow"),
        route("POST", "/admin/v1/flows:createSignup", "create-signup-flow"),
        route("POST", "/flows/{organization}/{flow}/invitations/import", "import"),
        route("GET", "/flows/{organization}/{flow}/invitations/{id}", "get-invitation"),
        route("ANY", "/files/{path+}", "files"),
    ]

    def pick(self, method, path):
        r, params = gateway.choose_route(self.ROUTES, method, path)
        return (r.function, params) if r else None

    def test_method_and_path(self):
        self.assertEqual(self.pick("GET", "/admin/v1/flows/inv_1"), ("get-flow", {"flowId": "inv_1"}))
        self.assertEqual(self.pick("POST", "/admin/v1/flows/inv_1:cancel"), ("cancel-flow", {"flowId": "inv_1:cancel"}))
        self.assertEqual(self.pick("POST", "/admin/v1/flows:createSignup"), ("create-signup-flow", {}))
        self.assertIsNone(self.pick("DELETE", "/admin/v1/flows/inv_1"))
        self.assertIsNone(self.pick("GET", "/admin/v1/flows/"))
        self.assertIsNone(self.pick("GET", "/admin/v1/flows/a/b"))
        self.assertIsNone(self.pick("GET", "/admin/v1/flows/inv_1/"))

    def test_a_literal_segment_beats_a_parameter_and_a_greedy_one_takes_the_rest(self):
        self.assertEqual(self.pick("POST", "/flows/o/f/invitations/import")[0], "import")
        self.assertEqual(self.pick("GET", "/flows/o/f/invitations/import"), ("get-invitation", {
            "organization": "o", "flow": "f", "id": "import"}))
        self.assertEqual(self.pick("PUT", "/files/a/b/c"), ("files", {"path": "a/b/c"}))


class Events(unittest.TestCase):
    def test_the_shape_of_payload_2_0(self):
        e = event("GET", "/admin/v1/flows/inv%201?b=2&a=1&a=%22x%22",
                  [("Host", "127.0.0.1:9000"), ("User-Agent", "curl/8"), ("X-Dup", "1"), ("x-dup", "2"),
                   ("Cookie", "a=1; b=2"), ("Cookie", "c=3")],
                  routes=[route("GET", "/admin/v1/flows/{flowId}", "get-flow")])
        self.assertEqual(e["version"], "2.0")
        self.assertEqual(e["routeKey"], "GET /admin/v1/flows/{flowId}")
        self.assertEqual(e["requestContext"]["routeKey"], "GET /admin/v1/flows/{flowId}")
        self.assertEqual(e["rawPath"], "/admin/v1/flows/inv 1")
        self.assertEqual(e["requestContext"]["http"], {
            "method": "GET", "path": "/admin/v1/flows/inv 1", "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.7", "userAgent": "curl/8"})
        self.assertEqual(e["requestContext"]["stage"], "$default")
        self.assertEqual(e["rawQueryString"], "b=2&a=1&a=%22x%22")
        self.assertEqual(e["queryStringParameters"], {"b": "2", "a": '1,"x"'})
        self.assertEqual(e["pathParameters"], {"flowId": "inv 1"})
        self.assertEqual(e["headers"]["x-dup"], "1,2")
        self.assertEqual(e["headers"]["host"], "127.0.0.1:9000")
        self.assertEqual(e["headers"]["x-forwarded-for"], "192.0.2.7")
        self.assertNotIn("cookie", e["headers"])
        self.assertEqual(e["cookies"], ["a=1", "b=2", "c=3"])
        self.assertFalse(e["isBase64Encoded"])
        self.assertNotIn("body", e)

    def test_the_raw_query_string_is_passed_as_sent(self):
        e = event("GET", '/x?q="a b"&lt=<&plus=a+b')
        self.assertEqual(e["rawQueryString"], 'q="a b"&lt=<&plus=a+b')
        self.assertEqual(e["queryStringParameters"], {"q": '"a b"', "lt": "<", "plus": "a b"})

    def test_absent_parts_are_absent(self):
        e = event("GET", "/x")
        self.assertEqual(e["rawQueryString"], "")
        for key in ("queryStringParameters", "cookies", "body"):
            self.assertNotIn(key, e)

    def test_text_bodies_as_text_and_others_in_base64(self):
        e = event("POST", "/x", [("Content-Type", "application/json")], b'{"a":"\xc3\xa9"}')
        self.assertEqual((e["body"], e["isBase64Encoded"]), ('{"a":"é"}', False))
        self.assertEqual(e["headers"]["content-length"], "10")
        for content_type, body in [("application/json", b'{"a":"\xff\xfe"}'), ("application/octet-stream", b"abc"),
                                   ("application/x-www-form-urlencoded", b"a=1"), (None, b"abc")]:
            headers = [("Content-Type", content_type)] if content_type else []
            e = event("POST", "/x", headers, body)
            self.assertTrue(e["isBase64Encoded"], content_type)
            self.assertEqual(base64.b64decode(e["body"]), body)
        e = event("POST", "/x", [("Content-Type", "text/plain; charset=utf-8")], b"hi")
        self.assertEqual((e["body"], e["isBase64Encoded"]), ("hi", False))

    def test_header_values_that_are_not_utf8_are_read_as_latin1(self):
        self.assertEqual(http1.decode_text(b"sk_\xe9"), "sk_é")
        self.assertEqual(http1.decode_text("sk_é".encode()), "sk_é")


class Responses(unittest.TestCase):
    def test_a_payload_2_0_response(self):
        status, headers, body = gateway.map_response(json.dumps({
            "statusCode": 201, "headers": {"content-type": "application/json", "x-a": "1"},
            "multiValueHeaders": {"x-b": ["1", "2"]}, "cookies": ["s=1; Secure", "t=2"],
            "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}).encode())
        self.assertEqual(status, 201)
        self.assertEqual(body, b"\x00\x01")
        self.assertEqual(headers, [("content-type", "application/json"), ("x-a", "1"), ("x-b", "1"), ("x-b", "2"),
                                   ("set-cookie", "s=1; Secure"), ("set-cookie", "t=2")])

    def test_json_without_status_code_is_a_200_of_that_json(self):
        self.assertEqual(gateway.map_response(b'{"a":1}'), (200, [("content-type", "application/json")], b'{"a":1}'))
        self.assertEqual(gateway.map_response(b'"hi"')[0], 200)

    def test_no_content_type_is_text_plain(self):
        self.assertIn(("content-type", "text/plain; charset=utf-8"),
                      gateway.map_response(b'{"statusCode":200,"body":"x"}')[1])
        self.assertEqual(gateway.map_response(b'{"statusCode":204}'), (204, [], b""))

    def test_what_api_gateway_answers_500_to(self):
        for payload in (b"not json", b'{"statusCode":"x"}', b'{"statusCode":700}',
                        b'{"statusCode":200,"body":"%%","isBase64Encoded":true}', b'{"statusCode":200,"body":5}'):
            with self.assertRaises(gateway.BadResponse, msg=payload):
                gateway.map_response(payload)


class CorsAnswers(unittest.TestCase):
    SETTINGS = {"AllowMethods": ["GET", "POST"], "AllowHeaders": ["authorization", "userhub-api-key"],
                "ExposeHeaders": ["x-request-id", "link"], "MaxAge": 600, "AllowCredentials": False}

    def test_any_origin(self):
        cors = gateway.Cors(self.SETTINGS, ["*"])
        self.assertEqual(dict(cors.preflight("http://localhost:5173")), {
            "access-control-allow-origin": "*", "access-control-allow-methods": "GET,POST",
            "access-control-allow-headers": "authorization,userhub-api-key", "access-control-max-age": "600"})
        headers = cors.actual("http://a.example", [("x-request-id", "r"), ("Access-Control-Allow-Origin", "evil")])
        self.assertEqual(headers, [("x-request-id", "r"), ("access-control-allow-origin", "*"),
                                   ("access-control-expose-headers", "x-request-id,link")])

    def test_listed_origins(self):
        cors = gateway.Cors(self.SETTINGS, ["http://localhost:5173"])
        self.assertEqual(dict(cors.preflight("http://localhost:5173"))["access-control-allow-origin"], "http://localhost:5173")
        self.assertIn(("vary", "origin"), cors.preflight("http://localhost:5173"))
        self.assertEqual(cors.preflight("http://evil.example"), [])
        self.assertEqual(cors.actual("http://evil.example", [("access-control-allow-origin", "*")]), [])
        self.assertEqual(cors.actual(None, [("a", "b")]), [("a", "b")])


class Wire(unittest.TestCase):
    def parse(self, raw, quota=gateway.HEADER_QUOTA):
        async def go():
            reader = asyncio.StreamReader(limit=gateway.MAX_HEAD)
            reader.feed_data(raw)
            reader.feed_eof()

            class Writer:
                def write(self, data):
                    pass
            return await http1.read_request(reader, Writer(), quota=quota)
        return asyncio.run(go())

    def test_raw_spaces_quotes_and_latin1_are_taken(self):
        req = self.parse(b'GET /x?a b"<> HTTP/1.1\r\nHost: h\r\nX-A: \xe9\r\n\r\n')
        self.assertEqual((req.method, req.target, req.version), ("GET", '/x?a b"<>', "HTTP/1.1"))
        self.assertEqual(req.header("x-a"), "é")

    def test_bodies_by_length_and_chunked(self):
        self.assertEqual(self.parse(b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").body, b"abc")
        chunked = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
        self.assertEqual(self.parse(chunked).body, b"abcde")

    def test_refusals(self):
        for raw, status in [
            (b"GET /x\r\n\r\n", 400),
            (b"GET /x HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
            (b"GET /x HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400),
            (b"GET /x HTTP/1.1\r\n folded\r\n\r\n", 400),
            (b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"POST /x HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413),
            (b"GET /x HTTP/1.1\r\nX: " + b"a" * 11000 + b"\r\n\r\n", 431),
            (b"GET /x HTTP/1.1\r\n" + b"X: a\r\n" * 20000 + b"\r\n", 431),
        ]:
            with self.subTest(raw=raw[:40]):
                with self.assertRaises(http1.HttpError) as caught:
                    self.parse(raw)
                self.assertEqual(caught.exception.status, status)

    def test_malformed_framing_is_a_client_error(self):
        # Each was a front error (ValueError, or a negative read) before: "²" passes isdigit(),
        # int(…, 16) takes "-5" and "0x10".
        bodies = b"\r\nabc\r\n0\r\n\r\n"
        for raw in [
            b"POST /x HTTP/1.1\r\nContent-Length: \xc2\xb2\r\n\r\nab",
            b"POST /x HTTP/1.1\r\nContent-Length: \xd9\xa1\xd9\xa2\r\n\r\nab",
            b"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc",
            b"POST /x HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\nabc",
            b"POST /x HTTP/1.1\r\nContent-Length: \r\n\r\n",
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5" + bodies,
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x3" + bodies,
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0_3" + bodies,
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 40 + bodies,
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3" + bodies,
            b"POST /x HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n3" + bodies,
        ]:
            with self.subTest(raw=raw):
                with self.assertRaises(http1.HttpError) as caught:
                    self.parse(raw)
                self.assertEqual(caught.exception.status, 400)
        self.assertEqual(self.parse(b"POST /x HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc").body, b"abc")

    def test_hosts(self):
        for host in ("127.0.0.1:9000", "localhost", "[::1]:9000", "api.example.com"):
            self.assertTrue(gateway.valid_host(host), host)
        for host in ("a b", "a:b", "é.example", "", "x/y"):
            self.assertFalse(gateway.valid_host(host), host)


class Clients(unittest.TestCase):
    """The gateway's serving loop, on a real socket with short clocks and a cap of 3: silent,
    slow and unread clients are dropped, and a full house makes room for a new client."""

    def setUp(self):
        self.saved = (gateway.READ_SECONDS, gateway.CLIENT_IDLE_SECONDS)
        gateway.READ_SECONDS, gateway.CLIENT_IDLE_SECONDS = 0.3, 0.6

    def tearDown(self):
        gateway.READ_SECONDS, gateway.CLIENT_IDLE_SECONDS = self.saved

    def serve(self, scenario):
        async def go():
            gw = gateway.Gateway(argparse.Namespace(
                host="127.0.0.1", port=0, template="template.yaml", bin_dir=".", concurrency=1,
                cors_origins="none", quiet=True, access_log=False, rebuild=False))
            gw.connections.cap = 3

            async def handle(req, source_ip):
                return 200, [("content-type", "text/plain")], b"ok", "f"
            gw.handle = handle
            server = await asyncio.start_server(gw.serve_client, "127.0.0.1", 0, limit=gateway.MAX_HEAD)
            port = server.sockets[0].getsockname()[1]
            clients = []

            async def connect():
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                clients.append(writer)
                return reader, writer
            try:
                return await scenario(gw, connect)
            finally:
                for writer in clients:
                    writer.close()
                server.close()
                for writer in list(gw.connections.open):
                    writer.transport.abort()
                await asyncio.sleep(0.05)  # so each connection's task ends before the loop does
        return asyncio.run(go())

    def test_a_request_that_does_not_arrive_in_time_gets_408(self):
        async def scenario(gw, connect):
            reader, writer = await connect()
            writer.write(b"GET /x HTTP/1.1\r\nHost: h\r\n")  # and never the blank line
            answer = await asyncio.wait_for(reader.read(), 5)
            return answer, gw.front
        answer, front = self.serve(scenario)
        self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer)
        self.assertEqual((front["timeouts"], front["errors"]), (1, 0))

    def test_a_silent_or_idle_connection_is_closed(self):
        async def scenario(gw, connect):
            silent, _ = await connect()
            kept, writer = await connect()
            writer.write(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            first = await kept.readuntil(b"ok")
            return first, await asyncio.wait_for(silent.read(), 5), await asyncio.wait_for(kept.read(), 5)
        first, silent, kept = self.serve(scenario)
        self.assertTrue(first.startswith(b"HTTP/1.1 200 "), first)
        self.assertEqual((silent, kept), (b"", b""))

    def test_a_full_house_drops_the_longest_waiting_client_for_a_new_one(self):
        async def scenario(gw, connect):
            slow = [await connect() for _ in range(3)]
            for _, writer in slow:
                writer.write(b"GET /x HTTP/1.1\r\n")
                await asyncio.sleep(0.01)
            reader, writer = await connect()
            writer.write(b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            answer = await asyncio.wait_for(reader.readuntil(b"ok"), 5)
            dropped = await asyncio.wait_for(slow[0][0].read(), 5)
            return answer, dropped, len(gw.connections.open)
        answer, dropped, open_now = self.serve(scenario)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)
        self.assertEqual(dropped, b"", "the longest-waiting client was closed without an answer")
        self.assertLessEqual(open_now, 3)

    def test_a_full_house_of_busy_connections_refuses_with_503(self):
        async def scenario(gw, connect):
            held = [await connect() for _ in range(3)]
            await asyncio.sleep(0.05)
            self.assertEqual(len(gw.connections.open), len(held))
            for w in list(gw.connections.open):
                gw.connections.mark(w, "busy")
            reader, _ = await connect()
            return await asyncio.wait_for(reader.read(), 5), gw.front["refused"]
        answer, refused = self.serve(scenario)
        self.assertTrue(answer.startswith(b"HTTP/1.1 503 "), answer)
        self.assertEqual(refused, 1)


class Browsers(unittest.TestCase):
    def request(self, headers):
        return http1.Request("POST", "/2015-03-31/functions/relay/invocations", "HTTP/1.1",
                               headers, b"{}", b"")

    def test_a_browser_is_known_by_origin_or_sec_fetch_headers(self):
        for headers in ([("Origin", "http://evil.example")], [("Origin", "null")],
                        [("Sec-Fetch-Site", "cross-site")], [("sec-fetch-mode", "no-cors")]):
            self.assertTrue(gateway.from_browser(self.request(headers)), headers)
        # What the workers, curl and `cargo lambda invoke` send.
        for headers in ([], [("Content-Type", "application/json"), ("User-Agent", "cargo-lambda")]):
            self.assertFalse(gateway.from_browser(self.request(headers)), headers)


if __name__ == "__main__":
    unittest.main(verbosity=2)
