"""One organization's bulk work does not hold up another's, through the local stack.

Organization A imports 5,000 addresses; then organization B invites one person, and A invites
one more person of its own. Both single emails are sent while most of A's import is still
waiting (an ordering, read from the emulator's sent mail: how many of A's import mails had gone
out when each single one did), and every one of A's 5,000 mails arrives, exactly once.

    .venv/bin/python tools/inflow_dev/tests/stack/test_tenants.py --base URL --emulator URL --a JSON --b JSON
(--a and --b: scripts/seed.sh's line for each organization; scripts/tenants.sh runs it.)
"""

import argparse
import collections
import json
import sys
import time
import urllib.error
import urllib.request

IMPORT_SIZE = 5000


def api(base, method, path, key, body):
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), method=method,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read()[:300]


def sent(emulator):
    """Recipients of the mail sent so far, in the order it was sent."""
    mail = json.load(urllib.request.urlopen(emulator + "/_inflow/sent-mail", timeout=60))
    return [to for m in mail for to in (m.get("destinations") or {}).get("ToAddresses", [])]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--a", required=True, type=json.loads)
    parser.add_argument("--b", required=True, type=json.loads)
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args()
    a, b = args.a, args.b
    tag = f"{time.time_ns() % 10**9}"
    imported = [f"imp-{tag}-{i}@example.com" for i in range(IMPORT_SIZE)]
    single_b, single_a = f"single-b-{tag}@example.com", f"single-a-{tag}@example.com"

    started = time.monotonic()
    status, body = api(args.base, "POST", f"/flows/{a['slug']}/onboarding/invitations/import", a["adminKey"],
                       {"list": "\n".join(imported)})
    assert status == 200 and len(body["invitations"]) == IMPORT_SIZE, (status, str(body)[:300])
    print(f"  A imported {IMPORT_SIZE} addresses in {time.monotonic() - started:.1f} s", flush=True)
    for org, email in ((b, single_b), (a, single_a)):
        status, body = api(args.base, "POST", f"/flows/{org['slug']}/onboarding/invitations", org["adminKey"],
                           {"email": email})
        assert status == 201, (status, body)

    imported_set = set(imported)
    before = {}  # single recipient -> A's import mails sent before it
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        order = sent(args.emulator)
        for single in (single_b, single_a):
            if single in order and single not in before:
                before[single] = sum(1 for to in order[:order.index(single)] if to in imported_set)
                print(f"  {single.split('-')[0]}-{single.split('-')[1]}'s email sent after "
                      f"{before[single]} of A's {IMPORT_SIZE} ({time.monotonic() - started:.1f} s)", flush=True)
        counts = collections.Counter(to for to in order if to in imported_set)
        if len(before) == 2 and len(counts) == IMPORT_SIZE:
            break
        time.sleep(1)
    else:
        print(f"FAIL: after {args.timeout:.0f} s: singles {before}, A's mails {len(counts)}", flush=True)
        return 1

    failures = []
    for single, n in before.items():
        if n >= IMPORT_SIZE // 2:
            failures.append(f"{single} waited for {n} of A's import mails")
    doubled = [to for to, n in counts.items() if n != 1]
    if doubled:
        failures.append(f"{len(doubled)} of A's addresses got more than one mail: {doubled[:3]}")
    print(f"  all {IMPORT_SIZE} of A's mails arrived once each in {time.monotonic() - started:.1f} s", flush=True)
    for f in failures:
        print(f"FAIL: {f}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
