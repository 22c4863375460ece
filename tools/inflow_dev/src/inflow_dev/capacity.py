"""The capacity model of `make bench`: how many requests a second one API key, one tenant and
the whole stack take before each limit bites, with the arithmetic, from what the bench measured.

Reads docs/bench-measurements.json (each endpoint's DynamoDB units per request by partition key
pattern, its modelled duration; the end-to-end steps; the capacity simulation's per-partition
write units), docs/cost-inputs.toml `[limits]` (DynamoDB, Lambda, SQS, SES, API Gateway quotas,
with sources) and template.yaml's parameters (the stage throttles, the workers' concurrency),
and writes docs/bench/capacity.md.

    .venv/bin/python -m inflow_dev.capacity [--measurements F] [--inputs F] [--template F] [--out F]
"""

import argparse
import json
import math
import tomllib
from pathlib import Path

from inflow_dev import ROOT, template



def constant(path, name, default):
    """A `const NAME: … = <number>;` of the Rust source (so the model follows the code)."""
    import re
    try:
        found = re.search(rf"const {name}: \w+ = (\d+);", (ROOT / path).read_text())
    except OSError:
        return default
    return int(found.group(1)) if found else default


SHARDS = constant("shared/src/store/shards.rs", "SHARDS", 16)
WRITES_IN_FLIGHT = constant("shared/src/store/mod.rs", "WRITES_IN_FLIGHT", 8)
KEY_LIMITS = {"standard": 100, "enterprise": 1000}  # requests per key per minute (PRODUCT.md, shared/src/ratelimit.rs)


def parameters(path):
    """The template's parameter defaults, and the import function's Timeout as `_import_timeout`."""
    doc = template.load(path)
    out = template.parameter_defaults(doc)
    for binary, _, res in template.functions_of(doc):
        if binary == "import-invitations":
            out["_import_timeout"] = (res.get("Properties") or {}).get("Timeout", 29)
    return out


def kind_of(pattern):
    """Whose partition a key pattern is: one per API key, per tenant, per tenant but sharded,
    one for every tenant (sharded), or one per record (an invitation, a delivery…)."""
    key = pattern.split(" ", 1)[-1]
    if key.startswith("KEY#"):
        return "key"
    if "<org>" in key and key.endswith("#<n>"):
        return "tenant, 16 shards"
    if "<org>" in key:
        return "tenant"
    if key.endswith("#<n>"):
        return "all tenants, 16 shards"
    return "record"


def fmt(x):
    if x == math.inf:
        return "∞"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:,.1f}"


def render(m, inputs, params, out):
    lim = inputs["limits"]
    wcu, rcu = lim["dynamodb_partition_wcu_per_second"], lim["dynamodb_partition_rcu_per_second"]
    account_rps = lim["api_gateway_account_throttle_rps"]
    lambda_conc = lim["lambda_default_account_concurrency"]
    ses_rate = lim["ses_default_sending_rate_per_second"]
    api_rate, api_burst = params.get("ApiRateLimit", 500), params.get("ApiBurstLimit", 1000)
    public_rate = params.get("PublicRateLimit", 1000)
    hook_conc = params.get("WebhookWorkerMaxConcurrency", 10)
    mail_conc = params.get("EmailWorkerMaxConcurrency", 2)
    lines = []
    w = lines.append
    w("# Capacity model\n")
    w("Written by `make bench` (inflow_dev.capacity, from docs/bench-measurements.json of the same run, docs/cost-inputs.toml")
    w("`[limits]` and template.yaml's parameters); do not edit by hand. It answers: how many requests a second one API key,")
    w("one tenant and the whole stack take before each limit bites, which bites first, and what the design does about it.\n")
    w(f"- **Measured:** {m['date']}, commit {m['commit']}.")
    w(f"- **Limits:** a DynamoDB partition takes {wcu:,} write units and {rcu:,} read units a second (on-demand too); an")
    w(f"  account's Lambda concurrency is {lambda_conc:,} by default; API Gateway's account throttle is {account_rps:,} requests a")
    w(f"  second; SES sends {ses_rate} a second by default out of the sandbox (UNVERIFIED: AWS no longer states the number); SQS")
    w("  standard queues are \"nearly unlimited\" (sources in docs/cost-inputs.toml). This stack's own (template.yaml): the")
    w(f"  API stage takes {api_rate} requests a second on each route (burst {api_burst}), the routes without a secret key {public_rate:,} each;")
    w(f"  the webhook worker runs {hook_conc} invocations at once, the email worker {mail_conc}.")
    w("- **A partition key is taken as one partition**, the worst case: DynamoDB can split a hot key's items across")
    w("  partitions by sort key (\"split for heat\"), but never a single item, and not at once.\n")

    # One key.
    w("## One API key\n")
    w("Every request updates its key's item (`KEY#<hash>`: the rate-limit counter) once, a conditional UpdateItem of")
    w("1 write unit (the counter item is under 1 KB), refused requests too (a failed condition still costs the write).\n")
    w("| tier | per-key limit | its writes on `KEY#<hash>` | share of the partition's 1,000 WCU/s |")
    w("|---|--:|--:|--:|")
    for tier, per_min in KEY_LIMITS.items():
        w(f"| {tier} | {per_min:,}/min = {per_min / 60:.1f}/s | {per_min / 60:.1f} WCU/s | {per_min / 60 / wcu:.1%} |")
    w(f"\nThe key's own limit bites first, far below its partition. Refused requests still write: a client hammering one key")
    w(f"at the whole stage's {api_rate}/s puts {api_rate} WCU/s on that key's partition, still under {wcu:,}: no key can heat")
    w("its partition past the limit, and it heats only its own.\n")

    # Per endpoint: one tenant.
    w("## One tenant, per endpoint\n")
    w("Each endpoint's write units per request on each partition key pattern, measured by the emulator's counter under")
    w("the latency model (docs/bench/benchmarks.md), and the requests a second that take that partition to its limit:")
    w("1,000 WCU/s ÷ units per request (× 16 where the tenant's key is one of 16 shards; a pattern shared by every")
    w("tenant, `DUE#<n>` or `EXPIRES#<n>`, is the whole stack's, below). A record's own key (`INV#<inv>`) is written")
    w("once or twice per request and bounds nothing. The tenant's limit is the smallest, against the stage's "
      f"{api_rate}/s.\n")
    w("| endpoint | hottest tenant partition: WCU a request | tenant's req/s before it bites | all-tenant shards: WCU a request | whole stack's req/s before they bite | reads: hottest RCU a request |")
    w("|---|---|--:|---|--:|--:|")
    summary = []
    for name, e in sorted(m["endpoints"].items()):
        keys = (e.get("modelled") or {}).get("keys") or {}
        tenant_best, stack_best, read_best = (None, math.inf), (None, math.inf), (None, 0.0)
        for pattern, (r, wr) in keys.items():
            kind = kind_of(pattern)
            if r > read_best[1]:
                read_best = (pattern, r)
            if wr <= 0:
                continue
            if kind == "tenant":
                rate = wcu / wr
            elif kind == "tenant, 16 shards":
                rate = SHARDS * wcu / wr
            elif kind == "all tenants, 16 shards":
                rate = SHARDS * wcu / wr
                if rate < stack_best[1]:
                    stack_best = (pattern, rate, wr)
                continue
            else:
                continue
            if rate < tenant_best[1]:
                tenant_best = (pattern, rate, wr)
        t = f"`{tenant_best[0]}` {tenant_best[2]:.2f}" if tenant_best[0] else "–"
        s = f"`{stack_best[0]}` {stack_best[2]:.2f}" if stack_best[0] else "–"
        rd = f"`{read_best[0]}` {read_best[1]:.2f}" if read_best[0] else "–"
        w(f"| {name} | {t} | {fmt(tenant_best[1])} | {s} | {fmt(stack_best[1])} | {rd} |")
        summary.append((name, tenant_best, stack_best))
    binding = [x for x in summary if x[1][0] and x[1][1] < api_rate]
    w("")
    if binding:
        w("Endpoints whose tenant partition bites before the stage's rate: " + ", ".join(
            f"{n} at {fmt(t[1])}/s (`{t[0]}`)" for n, t, _ in sorted(binding, key=lambda x: x[1][1])) + ".")
    else:
        w(f"No endpoint's tenant partition bites before the stage's {api_rate} requests a second: one tenant can use the")
        w("whole stage.")
    w("Reads are never the limit: the hottest read is a few units a request against 3,000 RCU/s a partition.\n")

    # The whole stack.
    w("## The whole stack\n")
    ends = m["endpoints"]
    durations = {n: (e.get("stack") or {}).get("in_function_p50") or (e.get("modelled") or {}).get("handler_p50") or 0
                 for n, e in ends.items()}
    longest = max(durations.values() or [0])
    lambda_rps = lambda_conc / (longest / 1000) if longest else math.inf
    w("| limit | requests a second it allows | arithmetic |")
    w("|---|--:|---|")
    w(f"| the stage throttle (ApiRateLimit) | {api_rate:,} (burst {api_burst:,}) | each route's, template.yaml; 429 from API Gateway beyond it |")
    w(f"| routes without a secret key (PublicRateLimit) | {public_rate:,} | consume with a publishable key, the accept page: a cost ceiling (\"Tenants\" below) |")
    w(f"| API Gateway account throttle | {account_rps:,} | every API of the account and Region together |")
    w(f"| Lambda concurrency | {fmt(lambda_rps)} | {lambda_conc:,} ÷ the slowest endpoint's modelled duration, {longest:.1f} ms |")
    stack_rows = [x for x in summary if x[2][0]]
    if stack_rows:
        worst = min(stack_rows, key=lambda x: x[2][1])
        w(f"| the 16 shards every tenant shares | {fmt(worst[2][1])} | {worst[0]}: {worst[2][2]:.2f} WCU a request on "
          f"`{worst[2][0]}`, 16 × {wcu:,} ÷ that |")
    w(f"| the table | 40,000 WCU/s (default quota) | on-demand table quota, adjustable (cost-inputs.toml) |")
    w("")
    w(f"**The stage throttle bites first**, by design: {api_rate} requests a second is a setting (ApiRateLimit), far under")
    w(f"API Gateway's {account_rps:,}, Lambda's {fmt(lambda_rps)} and every partition's limit for every endpoint; raise it")
    w("with the account's quotas in view.\n")

    # After the request.
    e2e = m.get("end_to_end") or {}
    steps = {s["name"]: s for s in e2e.get("steps", [])}
    w("## After the request: email and webhooks\n")
    mail = steps.get("email-worker")
    if mail and mail["invocations"]:
        per_mail_ms = mail["wall_ms"] / max(e2e.get("emails", 1), 1)
        worker_rate = mail_conc * 1000 / per_mail_ms
        w(f"- **Email:** the email worker took {per_mail_ms:.0f} ms a mail under the latency model (SES's SendEmail is")
        w(f"  modelled at 50 ms); {mail_conc} at once send {worker_rate:.0f} a second, over SES's {ses_rate}: **SES's sending")
        w(f"  rate bites first**, and a throttled mail waits on its queue (30 s doubling to 15 min, 30 times) instead of")
        w(f"  failing. The biggest import, 5,000 addresses, is mailed in 5,000 ÷ {ses_rate} = {5000 / ses_rate / 60:.1f} minutes at")
        w("  the default quota; ask AWS for more before importing more.")
    hook = steps.get("webhook-worker")
    if hook and e2e.get("deliveries"):
        per = hook["wall_ms"] / e2e["deliveries"]
        wu = (hook["units"]["wcu"] + hook["units"]["index_wcu"]) / e2e["deliveries"]
        rate = hook_conc * 1000 / per
        w(f"- **Webhooks:** a delivery took {per:.1f} ms of the worker under the model with a receiver that answers at")
        w(f"  once, and {wu:.1f} write units (its delivery record, in the tenant's `ORG#<org>` partition, and its index")
        w(f"  entry). {hook_conc} invocations at once deliver about {rate:.0f} a second; a receiver that takes 100 ms cuts that")
        w(f"  to {hook_conc * 1000 / (per + 100):.0f}. At {rate:.0f} a second one tenant's deliveries write {rate * wu:.0f} WCU/s on its")
        if rate * wu > wcu:
            w(f"  partition ({rate * wu / wcu:.0%} of it): **for one tenant, its partition bites first**, at {wcu / wu:.0f}")
            w("  deliveries a second; DynamoDB throttles the worker's writes, the SDK retries them, and what still fails")
            w("  goes back to SQS (nothing is lost). Many tenants' deliveries spread over their own partitions, so for the")
            w("  stack the worker's concurrency is the limit, and it is a setting (WebhookWorkerMaxConcurrency).")
        else:
            w(f"  partition ({rate * wu / wcu:.0%} of it): the worker's concurrency, not the table, is the limit, and it is a")
            w("  setting (WebhookWorkerMaxConcurrency). SQS queues the rest; nothing is lost.")
    w("")

    # The simulation.
    w("## The check: imports through the local stack\n")
    runs = m.get("capacity") or []
    if runs:
        w("The bench sent imports through inflow_dev.gateway under the latency model (loopback, bounded: one request per")
        w("tenant), and the emulator's counter billed every write with its partition key. Hottest partitions:\n")
        w("| run | seconds | WCU table + index | hottest partition keys: WCU in all (most in one second) |")
        w("|---|--:|--:|---|")
        for r in runs:
            hot = "; ".join(f"`{p['key']}` {p['total']:.0f} ({p['peak_per_second']:.0f})" for p in r["partitions"][:5])
            w(f"| {r['tenants']} × {r['addresses']:,} | {r['seconds']:.2f} | {r['units']['wcu']:.0f} + "
              f"{r['units']['index_wcu']:.0f} | {hot} |")
        big = next((r for r in runs if r["tenants"] == 1), runs[0])
        top = big["partitions"][0] if big["partitions"] else None
        n = big["addresses"]
        w("")
        w(f"**Arithmetic for the biggest import** ({n:,} addresses, one tenant): each invitation is one item in its own")
        w(f"partition (`INV#<inv>`) and enters three indexes: GSI1 `INVNUM#<org>#<flow>#<n mod 16>`, GSI2 `EXPIRES#<shard>`")
        w(f"(shared by every tenant) and GSI3 `OPEN#<org>#<flow>#<n mod 16>`. So no index partition key takes more than")
        w(f"⌈{n:,} ÷ 16⌉ = {math.ceil(n / SHARDS)} writes (more when an item is over 1 KB), and no table key more than its")
        w("items' own writes, except the tenant's `ORG#<org>` (the number counter, once per import, and the members an")
        w("import adds for existing users).")
        if top:
            w(f"Measured: the hottest key took {top['total']:.0f} write units in all (`{top['key']}`).")
        peak = big.get("max_per_second")
        if peak is not None:
            w(f"**A {n:,}-address import put at most {peak:.0f} writes a second on any one partition key** in this run (the")
            w("emulator's counter, every key's busiest one-second window; 1,000 is a partition's limit). That is the")
            w("emulator's pace; AWS's is worked out below.")
        ok = sum(1 for s in big["statuses"] if s == 200)
        timeout = params.get("_import_timeout", 29)
        verdict = "within" if big["seconds"] < timeout and ok == len(big["statuses"]) else "NOT within"
        w(f"**Under the latency model** (every AWS call delayed by its operation's modelled time, docs/bench/benchmarks.md),")
        w(f"the {n:,}-address import answered {ok}/{len(big['statuses'])} 200 in **{big['seconds']:.1f} s** through the local")
        w(f"stack: {verdict} the function's {timeout} s Timeout and API Gateway's 30 s integration limit.")
        w("")
        batch_ms = (m.get("model") or {}).get("operations", {}).get("BatchWriteItem", 8.0)
        pace = WRITES_IN_FLIGHT * 25 / (batch_ms / 1000)
        per_shard = pace / SHARDS
        w(f"**How fast in AWS.** The import writes 25 items a BatchWriteItem, {WRITES_IN_FLIGHT} calls at once")
        w(f"(shared/src/store/mod.rs). At the model's {batch_ms:g} ms a call that is {WRITES_IN_FLIGHT} × 25 ÷ {batch_ms / 1000:g} =")
        w(f"{pace:,.0f} items a second, so each of the {SHARDS} shards of an index would take {pace:,.0f} ÷ {SHARDS} ≈ "
          f"{per_shard:,.0f} writes a second (an item under 1 KB is one write unit):")
        if per_shard > wcu:
            w(f"**over the {wcu:,} WCU/s of a partition**. Expect DynamoDB to throttle the index partitions of a")
            w(f"{n:,}-address import in AWS and to hand back unprocessed items; the import retries them (up to 8 attempts,")
            w(f"50 ms doubling), so it slows to about {SHARDS} × {wcu:,} = {SHARDS * wcu:,} invitations a second")
            w(f"(≈ {n / (SHARDS * wcu):.2f} s for {n:,}) rather than failing.")
            fits = max(1, math.floor(wcu * SHARDS * batch_ms / 1000 / 25))
            w(f"What would keep an import under the limit: at most {fits} calls at once instead of {WRITES_IN_FLIGHT}, or")
            w(f"{SHARDS * 2} shards; neither costs anything per request.")
        else:
            w(f"under the {wcu:,} WCU/s of a partition, so a single import is not throttled.")
        w("The local run is slower (the emulator applies one call at a time), so its per-second peaks above are the")
        w("emulator's pace, not AWS's; the counts per partition are the same.\n")
        many = next((r for r in runs if r["tenants"] > 1), None)
        if many:
            w(f"**Many tenants.** {many['tenants']} tenants importing {many['addresses']:,} each at once share only GSI2's")
            w(f"`EXPIRES#<n>` shards: {many['tenants']} × {many['addresses']:,} ÷ 16 = "
              f"{math.ceil(many['tenants'] * many['addresses'] / SHARDS)} writes a shard; their `INVNUM` and `OPEN` shards are")
            w("their own. N tenants importing at once put N × (their pace ÷ 16) on each `EXPIRES` shard: the one partition")
            w("family every tenant shares, which the stage throttle and each import's own pace bound.\n")

    w("## What bites first, and what the design does\n")
    w(f"1. **One key:** its rate limit ({KEY_LIMITS['standard']}/min standard, {KEY_LIMITS['enterprise']:,}/min enterprise), counted")
    w("   exactly in DynamoDB; its partition is never near its limit.")
    w(f"2. **One tenant and the whole stack:** the stage throttle, {api_rate} requests a second (a template parameter).")
    w("   Behind it, per tenant, the partitions in the table above; every index partition that takes many writes at once")
    w("   (`DUE`, `EXPIRES`, `INVNUM`, `OPEN`) is written 16-way, so no tenant can fill or heat it for the others.")
    w(f"3. **Email:** SES's {ses_rate} a second; mails queue and wait, never fail for it.")
    batch_ms = (m.get("model") or {}).get("operations", {}).get("BatchWriteItem", 8.0)
    per_shard = WRITES_IN_FLIGHT * 25 / (batch_ms / 1000) / SHARDS
    w(f"4. **Bulk imports in AWS:** the index partitions (about {per_shard:,.0f} writes a second a shard at full pace,")
    w(f"   against {wcu:,}); {'DynamoDB throttles and' if per_shard > wcu else 'if DynamoDB throttles,'} the import retries what was unprocessed.")
    w(f"5. **Webhooks:** the worker's concurrency ({hook_conc}), a setting; SQS holds the rest.\n")
    tenants(w, m, inputs, params)
    Path(out).write_text("\n".join(lines) + "\n")


def code_number(path, pattern, default):
    """A number the Rust source states, found by `pattern` (one group)."""
    import re
    try:
        found = re.search(pattern, (ROOT / path).read_text())
    except OSError:
        return default
    return int(found.group(1).replace("_", "")) if found else default


def tenants(w, m, inputs, params):
    """What one organization can take of what every organization shares, and what a flood of a
    public route costs, from template.yaml's parameters, the code's bounds and the price list."""
    per_address = constant("shared/src/address_limit.rs", "PER_ADDRESS_PER_MINUTE", 20)
    per_org = code_number("shared/src/sweeper.rs", r"per_org: (\d+)", 25)
    per_shard = code_number("shared/src/sweeper.rs", r"per_shard: (\d+)", 100)
    in_flight = constant("shared/src/delivery/limits.rs", "IN_FLIGHT", 64)
    per_host = constant("shared/src/delivery/limits.rs", "PER_HOST", 8)
    endpoints_per_host = constant("shared/src/webhooks.rs", "MAX_ENDPOINTS_PER_HOST", 3)
    max_endpoints = constant("shared/src/webhooks.rs", "MAX_ENDPOINTS", 20)
    ttl_floor = constant("shared/src/org_settings.rs", "MIN_INVITATION_TTL_SECS", 3600)
    ses_rate = inputs["limits"]["ses_default_sending_rate_per_second"]
    bulk_rate = params.get("BulkEmailRate", 10)
    hook_conc = params.get("WebhookWorkerMaxConcurrency", 10)
    public_rate = params.get("PublicRateLimit", 1000)
    standard = params.get("EmailDailyBudgetStandard")
    enterprise = params.get("EmailDailyBudgetEnterprise")
    w("## Tenants\n")
    w("Every organization shares the stack's queues, SES identity and quota, sweeper and API stage. What one")
    w("organization can take of each, at most, and what keeps the others' work moving (template.yaml's parameters")
    w("and the code's bounds, as of this commit):\n")
    w("| shared | one organization at most | how |")
    w("|---|---|---|")
    w("| job queues (webhook, email) | no place ahead of anyone | each organization's jobs are a message group of their own (SQS fair queues), its bulk work (an import's emails, events, deliveries and retries) a group apart: a backlog holds up neither another organization's single invitation nor its own; `make test` shows it through the local stack with 5,000 addresses |")
    w(f"| SES sending rate ({ses_rate}/s by default) | bulk mail, all tenants' together, {bulk_rate}/s (BulkEmailRate) | the bulk lane is paced; the rest of the rate is the single invitations' |")
    if standard is not None:
        w(f"| SES daily quota | {standard:,} invitation emails a UTC day (standard), {enterprise:,} (enterprise) | EmailDailyBudgetStandard / EmailDailyBudgetEnterprise, charged in the invitation's own write; past it the request answers 429 with the time it renews |")
    w(f"| the sweeper's minute | {per_org} entries a shard of each partition a run: {per_org * SHARDS:,} expiries, {per_org * SHARDS:,} overdue assignments and {per_org * SHARDS:,} woken deliveries a minute | its other entries due then are skipped by key; a run handles at most {per_shard * SHARDS:,} of each partition |")
    w(f"| invitation lifetimes | at least {ttl_floor // 3600} hour as the organization's default (invitationTtl) | an import cannot be a mass expiry seconds later |")
    w(f"| the webhook worker | {in_flight} deliveries at once an instance, {per_host} to one host; {endpoints_per_host} endpoints on one host ({max_endpoints} in all) | with {hook_conc} instances: at most {hook_conc * per_host} connections to one host at once, and one import's events reach one host at most {endpoints_per_host} times each; a receiver's pause or a long retry wait is parked in the table, not re-queued |")
    w(f"| a public route (`/accept`, consume) | {per_address} requests a minute from one client address | refused past that from the container's memory, with no DynamoDB call; the route's own throttle (PublicRateLimit, {public_rate:,}/s) is a cost ceiling above any flood, so other addresses get through |")
    w("| the operator's alarms | nothing | a receiver's 410 or failure ends in the tenant's failed deliveries (not the DLQ); an oversized field is a 400 |")
    w("")
    lam, api, ddb = inputs["lambda"], inputs["api_gateway"], inputs["dynamodb"]
    per_hour = 1000 * 3600
    api_cost = per_hour / 1e6 * api["http_api_price_per_million_requests"]
    req_cost = per_hour / 1e6 * lam["price_per_million_requests"]
    duration_ms = 2
    dur_cost = per_hour * duration_ms / 1000 * 0.5 * lam["price_per_gb_second"]
    write_cost = per_hour / 1e6 * ddb["on_demand_price_per_million_write_request_units"]
    one = api_cost + req_cost + dur_cost
    w("### What a flood costs\n")
    w(f"A flood of 1,000 requests a second on a public route for an hour is {per_hour / 1e6:.1f} million requests, all")
    w("answered (API Gateway lets them through up to PublicRateLimit, and each function refuses the flooding address on")
    w("its own window):\n")
    w("| part | per hour | arithmetic |")
    w("|---|--:|---|")
    w(f"| API Gateway (HTTP API) | ${api_cost:.2f} | 3.6 M × ${api['http_api_price_per_million_requests']:.2f} per million |")
    w(f"| Lambda requests | ${req_cost:.2f} | 3.6 M × ${lam['price_per_million_requests']:.2f} per million |")
    w(f"| Lambda duration | ${dur_cost:.2f} | 3.6 M × {duration_ms} ms at 512 MB × ${lam['price_per_gb_second']} per GB-s (a refusal from memory; billed per ms) |")
    w(f"| DynamoDB, one address | ≈ $0 | one write per container and minute: the rest are refused from memory |")
    w(f"| DynamoDB, every request from a new address | ${write_cost:.2f} | 3.6 M × ${ddb['on_demand_price_per_million_write_request_units']} per million writes (its window's counter) |")
    w("")
    w(f"**About ${one:.2f} an hour from one address, ${one + write_cost:.2f} from a botnet of fresh addresses**; the")
    w(f"ceiling is PublicRateLimit's: beyond {public_rate:,} a second API Gateway answers 429 to everyone on that route,")
    w("which bounds the bill and is the one lock-out a flood can still cause. A stack that expects floods above it")
    w("puts CloudFront with an AWS WAF rate-based rule (per client address) in front of the HTTP API: HTTP APIs take")
    w("no WAF directly, and WAF's own price (a web ACL, a rule and $0.60 per million requests) is then part of the bill.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measurements", default=str(ROOT / "docs/bench-measurements.json"))
    ap.add_argument("--inputs", default=str(ROOT / "docs/cost-inputs.toml"))
    ap.add_argument("--template", default=str(ROOT / "template.yaml"))
    ap.add_argument("--out", default=str(ROOT / "docs/bench/capacity.md"))
    args = ap.parse_args()
    m = json.loads(Path(args.measurements).read_text())
    with open(args.inputs, "rb") as f:
        inputs = tomllib.load(f)
    render(m, inputs, parameters(args.template), args.out)
    print(f"capacity: {args.out}")


if __name__ == "__main__":
    main()
