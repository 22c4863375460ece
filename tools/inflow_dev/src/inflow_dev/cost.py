"""The cost model of `make bench`: what a deployed Inflow costs, from what the bench measured.

Reads
- docs/bench-measurements.json (written by the bench harness in the same run): each endpoint's
  AWS calls, DynamoDB read/write units billed by the emulator's counter (index writes included),
  its modelled critical path and CPU per request; invitations end to end and the sweeper's idle
  runs, step by step;
- docs/cost-inputs.toml: prices and quotas for one region, each with its source and date
  (UNVERIFIED where no source was found);
- template.yaml: each function's MemorySize and architecture, the secrets, alarms, schedules;
and writes docs/bench/cost.md: $ per million requests of each endpoint, $ per 1,000 invitations end to
end, $ per 1,000 webhook deliveries, the idle cost of a stack per month, and the hosted
alternatives' published prices beside it.

How a Lambda invocation's duration is modelled: the request's modelled critical path (its AWS
calls in the latency model's time, waited for one after another) plus its CPU time, stretched
where the function has less than one vCPU (Lambda gives 1 vCPU at 1,769 MB; below that, CPU
in proportion to memory). The CPU was measured on this machine's x86_64 core; arm64 Graviton
cores are taken as equal (an assumption, stated in the output). Free tiers are left out (they
are per account and may be used by other things); the output says what they would take off.

    .venv/bin/python -m inflow_dev.cost [--measurements F] [--inputs F] [--template F] [--out F]
"""

import argparse
import json
import math
import tomllib
from pathlib import Path

from inflow_dev import ROOT, template

FULL_VCPU_MB = 1769  # Lambda: one vCPU at 1,769 MB, CPU in proportion below it
HOURS_A_MONTH = 730
MINUTES_A_MONTH = HOURS_A_MONTH * 60

# The invitation end to end: which steps it is made of (bench/src/flows.rs names them).
HTTP_STEPS = {"create-invitation", "consume-flow"}


def template_facts(path):
    """Per binary: memory (MB) and architecture; and the stack's resources that cost when idle."""
    return template.function_facts(template.load(path))


class Prices:
    def __init__(self, inputs):
        self.i = inputs
        lam, ddb = inputs["lambda"], inputs["dynamodb"]
        self.lambda_request = lam["price_per_million_requests"] / 1e6
        self.gb_second = lam["price_per_gb_second"]
        self.api_request = inputs["api_gateway"]["http_api_price_per_million_requests"] / 1e6
        self.rru = ddb["on_demand_price_per_million_read_request_units"] / 1e6
        self.wru = ddb["on_demand_price_per_million_write_request_units"] / 1e6
        self.sqs_request = inputs["sqs"]["standard_price_per_million_requests"] / 1e6
        self.email = inputs["ses"]["price_per_1000_emails"] / 1000
        self.email_essentials = inputs["ses"]["essentials_plan_price_per_1000_emails"] / 1000

    def duration(self, ms, memory):
        """A Lambda invocation of `ms` (billed per 1 ms, rounded up) at `memory` MB."""
        return math.ceil(max(ms, 1)) / 1000 * memory / 1024 * self.gb_second

    def units(self, rcu, wcu):
        return rcu * self.rru + wcu * self.wru


def stretched_ms(io_ms, cpu_ms, memory):
    """An invocation's duration at `memory` MB: its I/O wait plus its CPU, slowed down where
    the function has less than a vCPU."""
    return io_ms + cpu_ms * max(1.0, FULL_VCPU_MB / memory)


def endpoint_costs(m, functions, p):
    rows = []
    for name, e in sorted(m["endpoints"].items()):
        mod = e.get("modelled") or {}
        stack = e.get("stack") or {}
        memory = functions.get(name, {}).get("memory", 512)
        cpu = stack.get("cpu_per_request") or e["handler_cpu_ms"]
        if not isinstance(cpu, (int, float)) or math.isnan(cpu):
            cpu = e["handler_cpu_ms"]
        ms = stretched_ms(mod.get("critical_ms", 0.0), cpu, memory)
        parts = {
            "API Gateway": p.api_request,
            "Lambda requests": p.lambda_request,
            "Lambda duration": p.duration(ms, memory),
            "DynamoDB": p.units(mod.get("rcu", 0.0), mod.get("wcu", 0.0) + mod.get("index_wcu", 0.0)),
        }
        rows.append({"name": name, "memory": memory, "ms": ms, "cpu": cpu, "mod": mod, "parts": parts,
                     "total": sum(parts.values())})
    return rows


def step_cost(step, functions, p, binary, sqs_requests=0.0):
    """A worker or HTTP step of the end-to-end flow, all its invocations together."""
    memory = functions.get(binary, {}).get("memory", 256)
    invocations = max(step["invocations"], 1)
    # Its wall time under the latency model holds its I/O waits and its CPU at full speed.
    per = step["wall_ms"] / invocations
    cpu = step["cpu_ms"] / invocations
    ms = stretched_ms(max(per - cpu, 0.0), cpu, memory)
    u = step["units"]
    ses = step["calls"].get("SendEmail", 0)
    sends = sum(n for op, n in step["calls"].items() if op.startswith("SendMessage") or op == "ChangeMessageVisibility")
    return {
        "Lambda": step["invocations"] * (p.lambda_request + p.duration(ms, memory)),
        "DynamoDB": p.units(u["rcu"], u["wcu"] + u["index_wcu"]),
        "SQS": (sends + sqs_requests) * p.sqs_request,
        "SES": ses * p.email,
        "API Gateway": step["invocations"] * p.api_request if step["name"] in HTTP_STEPS else 0.0,
        "_ms": ms,
        "_memory": memory,
    }


def binary_of(step_name):
    name = step_name.split(" ")[0]
    return name


def money(x, digits=4):
    return f"${x:,.{digits}f}"


def render(m, inputs, functions, resources, out):
    p = Prices(inputs)
    lines = []
    w = lines.append
    w("# Cost model\n")
    w("Written by `make bench` (inflow_dev.cost, from docs/bench-measurements.json of the same run, docs/cost-inputs.toml")
    w("and template.yaml); do not edit by hand. Re-run it alone after changing a price:")
    w("`.venv/bin/python -m inflow_dev.cost`.\n")
    w(f"- **Measured:** {m['date']}, commit {m['commit']}, {m['machine']}.")
    w("- **Prices:** us-east-1, USD, from docs/cost-inputs.toml (researched 2026-11-29; sources and dates there; UNVERIFIED")
    w("  figures are marked there and below). Lambda arm64 "
      f"${inputs['lambda']['price_per_gb_second']}/GB-s + ${inputs['lambda']['price_per_million_requests']}/M requests; "
      f"HTTP API ${inputs['api_gateway']['http_api_price_per_million_requests']}/M; DynamoDB on-demand "
      f"${inputs['dynamodb']['on_demand_price_per_million_read_request_units']}/M RRU, "
      f"${inputs['dynamodb']['on_demand_price_per_million_write_request_units']}/M WRU; SQS "
      f"${inputs['sqs']['standard_price_per_million_requests']}/M; SES ${inputs['ses']['price_per_1000_emails']}/1,000 "
      f"(a la carte; ${inputs['ses']['essentials_plan_price_per_1000_emails']} on the Essentials plan new accounts get).")
    w("- **Free tiers left out** (they are per account; Lambda's 1M requests + 400,000 GB-s and SQS's 1M requests a month")
    w("  would take the first of each off).")
    w("- **Duration** of an invocation = its modelled critical path (its AWS calls at the latency model's times,")
    w(f"  docs/bench/benchmarks.md) + its CPU, stretched by {FULL_VCPU_MB}/MemorySize where a function has less than a vCPU;")
    w("  CPU measured on this machine's x86_64 core and taken as equal on arm64 (an assumption). MemorySize from template.yaml.")
    w("- **DynamoDB units** are what the emulator's counter billed for the measured requests: a write unit per KB of the")
    w("  larger of the item before and after, twice in a transaction, one more per KB for each index the item enters,")
    w("  changes in or leaves (two when its index key moves); a read unit per 4 KB, half for eventually consistent reads.\n")

    rows = endpoint_costs(m, functions, p)
    w("## Per million requests of each endpoint\n")
    w("| endpoint | memory MB | modelled duration ms | RCU; WCU (table + index) a request | API Gateway | Lambda | DynamoDB | **$ / million** |")
    w("|---|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        mod, parts = r["mod"], r["parts"]
        lam = parts["Lambda requests"] + parts["Lambda duration"]
        w(f"| {r['name']} | {r['memory']} | {r['ms']:.1f} | {mod.get('rcu', 0):.1f}; {mod.get('wcu', 0):.1f} + "
          f"{mod.get('index_wcu', 0):.1f} | {parts['API Gateway'] * 1e6:.2f} | {lam * 1e6:.2f} | "
          f"{parts['DynamoDB'] * 1e6:.2f} | **{r['total'] * 1e6:.2f}** |")
    totals = sorted(r["total"] for r in rows)
    if totals:
        w(f"\nEvery endpoint costs between {money(totals[0] * 1e6, 2)} and {money(totals[-1] * 1e6, 2)} per million "
          f"requests; API Gateway's ${inputs['api_gateway']['http_api_price_per_million_requests']:.2f} is the largest "
          "single part of most.\n")

    # Invitations end to end.
    e2e = m.get("end_to_end")
    per_invitation = per_delivery = None
    if e2e:
        n = e2e["invitations"]
        w("## Per 1,000 invitations, end to end\n")
        w(f"Measured on {n} invitations: created (HTTP), relayed from the table's stream to SQS, emailed by the email worker")
        w("(SES), relayed again, accepted (HTTP), relayed, and every event delivered by the webhook worker to one endpoint")
        w(f"subscribed to all events ({e2e['deliveries']} deliveries, {e2e['emails']} emails). Each SQS message the relay sends")
        w("is also received and deleted by Lambda's event source mapping: counted as 2 more SQS requests a message (a batch of")
        w("one; batches of 10 would cost less). The stream's reads by Lambda are free.\n")
        w("| step | invocations | modelled ms each (memory MB) | Lambda | DynamoDB | SQS | SES | API Gateway | total |")
        w("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        grand = {}
        delivery_total = 0.0
        for s in e2e["steps"]:
            name = s["name"]
            binary = "relay" if name.startswith("relay") else binary_of(name)
            c = step_cost(s, functions, p, binary)
            scale = 1000 / n
            cells = {k: v * scale for k, v in c.items() if not k.startswith("_")}
            for k, v in cells.items():
                grand[k] = grand.get(k, 0) + v
            total = sum(cells.values())
            if name == "webhook-worker":
                delivery_total += sum(c[k] for k in c if not k.startswith("_"))
            w(f"| {name} | {s['invocations']} | {c['_ms']:.1f} ({c['_memory']}) | {money(cells['Lambda'])} | "
              f"{money(cells['DynamoDB'])} | {money(cells['SQS'])} | {money(cells['SES'])} | "
              f"{money(cells['API Gateway'])} | {money(total)} |")
        # The event source mappings' receives and deletes: 2 requests a message sent.
        esm = 2 * e2e["messages"] * p.sqs_request * 1000 / n
        grand["SQS"] = grand.get("SQS", 0) + esm
        w(f"| event source mappings (receive + delete, {e2e['messages']} messages) | | | | | {money(esm)} | | | {money(esm)} |")
        per_invitation = sum(grand.values()) / 1000
        w(f"| **all, per 1,000 invitations** | | | {money(grand.get('Lambda', 0))} | {money(grand.get('DynamoDB', 0))} | "
          f"{money(grand.get('SQS', 0))} | {money(grand.get('SES', 0))} | {money(grand.get('API Gateway', 0))} | "
          f"**{money(per_invitation * 1000)}** |")
        ses_share = grand.get("SES", 0) / max(sum(grand.values()), 1e-12)
        w(f"\nSES is {ses_share:.0%} of it; on SES's Essentials plan (the default for accounts new since 2026-07-21) the "
          f"mail costs {money(p.email_essentials * 1000 * e2e['emails'] / n)} instead of "
          f"{money(p.email * 1000 * e2e['emails'] / n)} per 1,000 invitations.\n")

        # Webhook deliveries.
        if e2e["deliveries"]:
            per_delivery = delivery_total / e2e["deliveries"] + 2 * p.sqs_request + p.sqs_request / 10
            w("## Per 1,000 webhook deliveries\n")
            w(f"The webhook worker's invocations, DynamoDB units and calls for the {e2e['deliveries']} deliveries above, per")
            w("delivery, plus the event's SQS message (a tenth of a batch send by the relay; received and deleted by the")
            w("mapping: 2 requests): "
              f"**{money(per_delivery * 1000)} per 1,000 deliveries** ({money(per_delivery * 1e6, 2)} per million). The")
            w("receiver's own response time is billed Lambda time too: each 100 ms it takes adds "
              f"{money(p.duration(100, functions.get('webhook-worker', {}).get('memory', 256)) * 1000)} per 1,000 deliveries "
              f"at {functions.get('webhook-worker', {}).get('memory', 256)} MB.\n")

    # Idle cost.
    w("## Idle cost of a deployed stack, per month\n")
    w("| item | how many | $ / month | source |")
    w("|---|--:|--:|---|")
    idle = []
    secrets = resources.get("AWS::SecretsManager::Secret", 0)
    idle.append(("Secrets Manager secrets", secrets, secrets * inputs["secrets_manager"]["price_per_secret_month"],
                 "$0.40 a secret (cost-inputs.toml)"))
    alarms = resources.get("AWS::CloudWatch::Alarm", 0)
    idle.append(("CloudWatch alarms (standard)", alarms, alarms * inputs["cloudwatch"]["price_per_standard_alarm_month"],
                 "$0.10 an alarm; the account's first 10 are free"))
    sweep = m.get("sweeper_idle")
    if sweep:
        runs = MINUTES_A_MONTH  # rate(1 minute)
        c = step_cost(sweep, functions, p, "sweeper")
        per_run = sum(v for k, v in c.items() if not k.startswith("_")) / max(sweep["invocations"], 1)
        idle.append(("sweeper, every minute, nothing due (measured: "
                     f"{sum(sweep['calls'].values()) / max(sweep['invocations'], 1):.0f} calls, "
                     f"{sweep['units']['rcu'] / max(sweep['invocations'], 1):.1f} RCU a run)", runs, per_run * runs,
                     "measured run × 43,800 runs"))
    queues_with_mappings = sum(f["sqs_sources"] for f in functions.values())
    pollers = inputs.get("sqs", {}).get("esm_idle_pollers_per_queue", 5)
    poll_s = inputs.get("sqs", {}).get("esm_long_poll_seconds", 20)
    polls = queues_with_mappings * pollers * (3600 / poll_s) * HOURS_A_MONTH
    idle.append((f"SQS long polls by the {queues_with_mappings} queues' event source mappings", int(polls), polls * p.sqs_request,
                 f"UNVERIFIED: {pollers} pollers a queue, {poll_s} s long polls"))
    idle.append(("DynamoDB storage and PITR of a near-empty table", "< 25 GB", 0.0,
                 "first 25 GB free; PITR $0.20/GB-month"))
    idle.append(("Lambda, API Gateway, DynamoDB throughput", "–", 0.0, "billed per request only"))
    total_idle = 0.0
    for name, count, dollars, source in idle:
        total_idle += dollars
        w(f"| {name} | {count if isinstance(count, str) else f'{count:,}'} | {money(dollars, 2)} | {source} |")
    w(f"| **total** | | **{money(total_idle, 2)}** | without the free tiers (SQS's 1M requests a month would cover the polls) |\n")

    # The alternatives.
    alt = inputs.get("alternatives", {})
    w("## Beside the hosted alternatives\n")
    w("Published list prices as docs/cost-inputs.toml records them (vendor pages as transcribed on the dates given there;")
    w("UNVERIFIED where marked). They are not the same products: Clerk, WorkOS and Auth0 are identity platforms priced by")
    w("users or organizations, of which invitations are one feature; Svix prices webhook messages. Inflow's column is this")
    w("model: the idle cost plus the measured per-request costs, for the volumes in each row.\n")
    scenarios = [
        ("small", 1_000, 50, 10_000),
        ("medium", 10_000, 500, 500_000),
        ("large", 100_000, 5_000, 5_000_000),
    ]
    w("| a month | Inflow (this model) | Clerk Pro + B2B | Auth0 B2B Essentials | WorkOS | Svix (webhooks only) |")
    w("|---|--:|--:|--:|--:|--:|")
    c = alt.get("clerk", {})
    a0 = alt.get("auth0", {})
    wk = alt.get("workos", {})
    sv = alt.get("svix", {})
    for label, invitations, orgs, deliveries in scenarios:
        inflow = total_idle + (per_invitation or 0) * invitations + (per_delivery or 0) * deliveries
        clerk = (c.get("pro_price_per_month", 0) + c.get("b2b_addon_price_per_month", 0)
                 + max(0, orgs - c.get("b2b_included_organizations", 0)) * c.get("b2b_price_per_extra_organization_month", 0))
        auth0 = a0.get("b2b_essentials_price_per_month", 0)
        workos = 0.0
        svix_price = max(0, deliveries - sv.get("professional_included_messages_per_month", 0)) * sv.get("overage_price_per_message", 0)
        svix_free = deliveries <= sv.get("professional_included_messages_per_month", 0)
        svix = 0.0 if svix_free else sv.get("professional_price_per_month", 0) + svix_price
        w(f"| {label}: {invitations:,} invitations, {orgs:,} organizations, {deliveries:,} webhook deliveries | "
          f"{money(inflow, 2)} | {money(clerk, 0)} | from {money(auth0, 0)} (500 MAU) | {money(workos, 0)} + "
          f"{money(wk.get('sso_price_per_connection_month', 0), 0)} per SSO connection | "
          f"{'free tier' if svix_free else money(svix, 0)} |")
    w("\nSources (docs/cost-inputs.toml): Clerk Pro $25/month and $1 per organization after 100 (clerk.com/pricing as")
    w("transcribed 2026-09-20); the $100/month B2B add-on is UNVERIFIED for the current plan (an undated stored copy of")
    w("clerk.com/b2b-saas). Auth0 B2B Essentials from $150/month for 500 MAU (auth0.com/pricing as reconciled 2026-05-04; the")
    w("price per MAU above 500 is UNVERIFIED). WorkOS user management free up to 1M MAU, SSO $125 per connection per month")
    w("(workos.com/pricing as transcribed 2026-09-20). Svix free up to 50,000 messages, Professional from $490/month, then")
    w("$0.0001 a message (svix.com/pricing as transcribed 2026-09-20).\n")
    Path(out).write_text("\n".join(lines) + "\n")
    return {"endpoints": rows, "per_invitation": per_invitation, "per_delivery": per_delivery, "idle": total_idle}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measurements", default=str(ROOT / "docs/bench-measurements.json"))
    ap.add_argument("--inputs", default=str(ROOT / "docs/cost-inputs.toml"))
    ap.add_argument("--template", default=str(ROOT / "template.yaml"))
    ap.add_argument("--out", default=str(ROOT / "docs/bench/cost.md"))
    args = ap.parse_args()
    m = json.loads(Path(args.measurements).read_text())
    with open(args.inputs, "rb") as f:
        inputs = tomllib.load(f)
    functions, resources = template_facts(args.template)
    summary = render(m, inputs, functions, resources, args.out)
    print(f"cost: {args.out}: idle {money(summary['idle'], 2)}/month; "
          f"per 1,000 invitations {money((summary['per_invitation'] or 0) * 1000)}; "
          f"per 1,000 deliveries {money((summary['per_delivery'] or 0) * 1000)}")


if __name__ == "__main__":
    main()
