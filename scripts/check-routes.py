"""Route parity: template.yaml's HttpApi events (what AWS serves), the local router of Cargo.toml
([workspace.metadata.lambda.watch.router], what `make dev` and the tests serve) and openapi.yaml
(what we document) name exactly the same set of method + path pairs, each mapped to the same
binary, and every binary exists as functions/src/bin/<name>.rs.

    python3 scripts/check-routes.py [--root DIR]

--root reads the three files and functions/src/bin under DIR instead of the repository
(scripts/test_check_routes.py runs it on altered copies). Exit 0 when all agree, else 1, with one
line per route that is not in all three places or not mapped to an existing binary.
"""
import argparse
import sys
import tomllib
from pathlib import Path

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


class Loader(yaml.SafeLoader):
    pass


# CloudFormation short forms (!Ref, !GetAtt, !Sub, ...): keep the value, drop the tag.
Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def cargo_routes(root: Path) -> set:
    with open(root / "Cargo.toml", "rb") as f:
        router = tomllib.load(f)["workspace"]["metadata"]["lambda"]["watch"]["router"]
    routes = set()
    for path, targets in router.items():
        for t in targets if isinstance(targets, list) else [{"method": "ANY", "function": targets}]:
            routes.add((t.get("method", "ANY").upper(), path, t["function"]))
    return routes


def template_routes(root: Path) -> set:
    with open(root / "template.yaml") as f:
        resources = yaml.load(f, Loader=Loader)["Resources"]
    routes = set()
    for name, res in resources.items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        binary = (res.get("Metadata") or {}).get("BuildProperties", {}).get("Binary", name)
        for event in ((res.get("Properties") or {}).get("Events") or {}).values():
            if event["Type"] == "HttpApi":
                p = event["Properties"]
                routes.add((p.get("Method", "ANY").upper(), p["Path"], binary))
    return routes


def openapi_routes(root: Path) -> set:
    """Each operation names its binary in `x-inflow-function`."""
    with open(root / "openapi.yaml") as f:
        paths = yaml.safe_load(f).get("paths") or {}
    routes = set()
    for path, item in paths.items():
        for method in METHODS:
            if method in (item or {}):
                routes.add((method.upper(), path, item[method].get("x-inflow-function", "<no x-inflow-function>")))
    return routes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    root = parser.parse_args().root

    places = {
        "Cargo.toml router": cargo_routes(root),
        "template.yaml": template_routes(root),
        "openapi.yaml": openapi_routes(root),
    }
    binaries = {p.stem for p in (root / "functions" / "src" / "bin").glob("*.rs")}

    ok = True
    for route in sorted(set().union(*places.values())):
        method, path, binary = route
        missing = [name for name, routes in places.items() if route not in routes]
        if missing:
            ok = False
            found = [name for name in places if name not in missing]
            print(f"routes: {method} {path} -> {binary}: in {', '.join(found)}; not in {', '.join(missing)}")
        if binary not in binaries:
            ok = False
            print(f"routes: {method} {path} -> {binary}: no functions/src/bin/{binary}.rs")
    counts = ", ".join(f"{len(routes)} in {name}" for name, routes in places.items())
    print(f"routes: {counts}: {'same, every one a binary' if ok else 'DIFFERENT'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
