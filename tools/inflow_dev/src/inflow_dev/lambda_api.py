"""The Lambda side of the local gateway: each function of template.yaml runs as real processes of
its binary, and this module is the AWS Lambda service they and their callers see.

- Functions (`Function`): one initialised instance per function before the gateway's port opens;
  under load more, up to --concurrency per function, with invocations beyond that waiting in the
  function's queue; instances idle for IDLE_SECONDS beyond the first are stopped; a new binary
  (any `cargo build`) replaces idle instances at once and busy ones after their invocation. A
  process that exits mid-invocation fails that invocation and is replaced on demand. Each
  instance gets the environment Lambda gives (AWS_LAMBDA_RUNTIME_API, _FUNCTION_NAME, _MEMORY_SIZE,
  …) over the gateway's own and the template's settings, and ends with the gateway
  (PR_SET_PDEATHSIG).
- The Lambda Runtime API (`Instance.serve_runtime`), `/2018-06-01/runtime/invocation/next`,
  `…/{id}/response`, `…/{id}/error` and `…/init/error`, on a loopback port of each instance's own,
  one invocation at a time as in Lambda, with its deadline (the function's Timeout) and trace id.
- The Lambda Invoke API (`invoke_api`), `POST /2015-03-31/functions/{name}/invocations`, which the
  gateway serves for every function (inflow_dev.sources feeds the relay, the workers and the
  sweeper through it): RequestResponse answers 200 with the function's payload (and
  `X-Amz-Function-Error: Unhandled` on a function error), Event answers 202 and runs it later;
  an unknown function is 404 ResourceNotFoundException, a payload over 6 MB is 413.
"""

import asyncio
import collections
import ctypes
import json
import os
import secrets
import signal
import sys
import time
import urllib.parse

from inflow_dev.http1 import HttpError, encode_response, message, read_request

ACCOUNT = "123456789012"  # moto's account
REGION = os.environ.get("AWS_REGION", "us-east-1")
INVOKE_PAYLOAD_QUOTA = 6 * 1024 * 1024  # Lambda: a synchronous invocation's request and response
IDLE_SECONDS = 60.0  # an instance beyond the first, idle this long, is stopped
RUNTIME = "/2018-06-01/runtime"
INVOKE_PREFIX = "/2015-03-31/functions/"


def log(message):
    print(f"gateway: {message}", flush=True)


def trace_id():
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"


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



async def invoke_api(functions, req, path):
    """The Invoke API's answer to `POST {INVOKE_PREFIX}{name}/invocations`, as
    (status, headers, body, function name); `functions` by name."""
    name = urllib.parse.unquote(path[len(INVOKE_PREFIX):-len("/invocations")]).split(":")[-1]
    fn = functions.get(name)
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
