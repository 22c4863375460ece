"""make invoke: an events/ sample through the running `make dev`, with real keys and ids.

    make invoke FN=get-assignment [EVENT=events/get-assignment.json]
    .venv/bin/python -m inflow_dev.invoke FN [EVENT]      (scripts/invoke.sh sets the environment)

The sample's placeholders are replaced by records of the demo organization that `make dev` seeded
(its keys are kept in .dev/seed-<emulator port>.json; without that file, or when the emulator no
longer knows its key, a new organization is seeded and kept there). Records a sample acts on are
made first, through the running API, as a client would: an assignment (asgn_placeholder), an
invitation (number_placeholder), an invitation flow (inv_placeholder, secret_placeholder), a
webhook endpoint (whk_placeholder, reused from one invoke to the next). A delivery to replay
(dlv_placeholder) must exist already: the organization's newest failed one is used.
The event then goes to the function through the Lambda Invoke API of the local gateway (as
`cargo lambda invoke` and `aws lambda invoke` send it), and the response is printed: the
function's answer, its JSON body parsed. Exit status 1 when the function failed or answered 4xx/5xx.
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from inflow_dev import ROOT
from inflow_dev.gateway import STATUS_PATH
from inflow_dev.template import load_template

BASE = f"http://127.0.0.1:{os.environ.get('API_PORT', '9000')}"
SEED = Path(os.environ.get("INVOKE_SEED") or ROOT / ".dev" / f"seed-{os.environ.get('MOTO_PORT', '4566')}.json")
# The sample's user (events/assign-flow.json assigns to this address): the seeded user stands in.
SAMPLE_EMAIL = "employee@company.com"
HOOK_URL = "https://hooks.example.com/make-invoke"


def http(method, path, key=None, body=None, scheme="Bearer"):
    """A call to the running API: (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if key:
        req.add_header("Authorization", f"{scheme} {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            status, raw = res.status, res.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def seeded():
    """The demo organization's keys and ids; a new one when there is none the emulator knows."""
    if SEED.is_file():
        seed = json.loads(SEED.read_text())
        if http("GET", "/v1/organization", seed["adminKey"])[0] == 200:
            return seed
        print(f"invoke: {SEED} names an organization the emulator no longer has; seeding a new one",
              file=sys.stderr)
    out = subprocess.run([str(ROOT / "scripts" / "seed.sh"), f"invoke-{int(time.time())}"],
                         check=True, capture_output=True, text=True).stdout
    seed = json.loads(out.strip().splitlines()[-1])
    save_seed(seed)
    return seed


def save_seed(seed):
    SEED.parent.mkdir(parents=True, exist_ok=True)
    SEED.write_text(json.dumps(seed))
    SEED.chmod(0o600)  # local keys, but keys


def need(status, body, what):
    if not 200 <= status < 300:
        sys.exit(f"invoke: could not make {what}: {status} {json.dumps(body)[:300]}")
    return body


def records(text, seed):
    """Placeholder -> value, making only the records the sample names."""
    sk = seed["adminKey"]
    values = {
        "sk_test_placeholder": sk,
        "pk_test_placeholder": seed["userKey"],
        "org_placeholder": seed["orgId"],
        "org-placeholder": seed["slug"],
        "flow_placeholder": seed["flowId"],
        SAMPLE_EMAIL: seed["userEmail"],
    }
    unique = f"invoke-{int(time.time() * 1000)}@example.com"
    if "asgn_placeholder" in text:
        body = need(*http("POST", "/v1/flows/assign", sk,
                          {"flowId": seed["flowId"], "userEmail": seed["userEmail"]}), "an assignment")
        values["asgn_placeholder"] = body["assignmentId"]
    if "number_placeholder" in text:
        body = need(*http("POST", f"/flows/{seed['slug']}/onboarding/invitations", sk,
                          {"email": unique}), "an invitation")
        values["number_placeholder"] = str(body["id"])
    if "inv_placeholder" in text or "secret_placeholder" in text:
        body = need(*http("POST", "/admin/v1/flows:createJoinOrganization", sk,
                          {"email": "flow-" + unique, "ttl": "3600s"}), "an invitation flow")
        values["inv_placeholder"], values["secret_placeholder"] = body["id"], body["secret"]
    if "whk_placeholder" in text:
        listed = need(*http("GET", "/v1/webhooks/endpoints", sk), "the endpoint list")
        mine = [e for e in listed.get("endpoints", []) if e.get("url") == HOOK_URL]
        if not mine:
            mine = [need(*http("POST", "/v1/webhooks/endpoints", sk,
                               {"url": HOOK_URL, "description": "make invoke"}), "a webhook endpoint")]
        values["whk_placeholder"] = mine[0]["id"]
    if "dlv_placeholder" in text:
        failed = need(*http("GET", "/v1/webhooks/deliveries?status=failed&limit=1", sk), "the deliveries")
        if not failed.get("deliveries"):
            sys.exit("invoke: the sample replays a failed webhook delivery, and this organization has none "
                     "(GET /v1/webhooks/deliveries?status=failed is empty)")
        values["dlv_placeholder"] = failed["deliveries"][0]["id"]
    return values


def invoke(function, event_text):
    req = urllib.request.Request(f"{BASE}/2015-03-31/functions/{function}/invocations",
                                 data=event_text.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=120) as res:
        return res.headers.get("x-amz-function-error"), res.read()


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: make invoke FN=<function> [EVENT=events/<sample>.json]")
    function = sys.argv[1]
    specs = load_template().functions
    by_logical_id = {spec.logical_id: name for name, spec in specs.items()}
    function = by_logical_id.get(function, function)
    if function not in specs:
        sys.exit(f"invoke: no function {function!r} in template.yaml; one of: {', '.join(sorted(specs))}")
    event = Path(sys.argv[2]) if len(sys.argv) == 3 else ROOT / "events" / f"{function}.json"
    if not event.is_file():
        sys.exit(f"invoke: no sample {event} (pass EVENT=path)")
    try:
        urllib.request.urlopen(BASE + STATUS_PATH, timeout=5).read()
    except OSError:
        sys.exit(f"invoke: nothing answers at {BASE}: start `make dev` first (or set API_PORT)")
    text = event.read_text()
    for placeholder, value in records(text, seeded()).items():
        text = text.replace(placeholder, value)
    error, raw = invoke(function, text)
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = raw.decode("utf-8", "replace")
    # An HTTP function's JSON body, parsed, so that the printout reads as the client would see it.
    if isinstance(answer, dict) and isinstance(answer.get("body"), str) and not answer.get("isBase64Encoded"):
        try:
            answer["body"] = json.loads(answer["body"])
        except ValueError:
            pass
    print(json.dumps(answer, indent=2))
    status = answer.get("statusCode", 200) if isinstance(answer, dict) else 200
    if error or not isinstance(status, int) or status >= 400:
        print(f"invoke: {function} {'failed: ' + error if error else f'answered {status}'}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
