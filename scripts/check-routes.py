"""Checks that template.yaml's HttpApi routes and binaries are exactly the local router's
([workspace.metadata.lambda.watch.router] in Cargo.toml), so `make dev` serves what AWS serves,
and that every function's `Binary:` is a functions/src/bin/<name>.rs (and every binary there is
deployed). Functions with other events (SQS, Schedule) are held only to the binary check."""
import pathlib
import sys
import tomllib

import yaml


class Loader(yaml.SafeLoader):
    pass


# CloudFormation short forms (!Ref, !GetAtt, !Sub, ...): keep the value, drop the tag.
Loader.add_multi_constructor("!", lambda loader, suffix, node: None)

with open("Cargo.toml", "rb") as f:
    router = tomllib.load(f)["workspace"]["metadata"]["lambda"]["watch"]["router"]
local = set()
for path, targets in router.items():
    for t in targets if isinstance(targets, list) else [{"method": "ANY", "function": targets}]:
        local.add((t.get("method", "ANY").upper(), path, t["function"]))

with open("template.yaml") as f:
    resources = yaml.load(f, Loader=Loader)["Resources"]
deployed = set()
binaries = set()
for name, res in resources.items():
    if res.get("Type") != "AWS::Serverless::Function":
        continue
    binary = res.get("Metadata", {}).get("BuildProperties", {}).get("Binary", name)
    binaries.add(binary)
    for event in (res["Properties"].get("Events") or {}).values():
        if event["Type"] == "HttpApi":
            p = event["Properties"]
            deployed.add((p.get("Method", "ANY").upper(), p["Path"], binary))

sources = {p.stem for p in pathlib.Path("functions/src/bin").glob("*.rs")}
for binary in sorted(binaries - sources):
    print(f"binaries: template.yaml builds {binary}, but functions/src/bin/{binary}.rs does not exist")
for binary in sorted(sources - binaries):
    print(f"binaries: functions/src/bin/{binary}.rs is not deployed by any function in template.yaml")
print(f"binaries: {len(binaries)} in template.yaml, {len(sources)} in functions/src/bin: "
      f"{'same' if binaries == sources else 'DIFFERENT'}")

ok = local == deployed and binaries == sources
for label, routes in (("only in Cargo.toml router", local - deployed), ("only in template.yaml", deployed - local)):
    for method, path, binary in sorted(routes):
        print(f"routes: {label}: {method} {path} -> {binary}")
print(f"routes: {len(local)} local, {len(deployed)} in template.yaml: {'same' if local == deployed else 'DIFFERENT'}")
sys.exit(0 if ok else 1)
