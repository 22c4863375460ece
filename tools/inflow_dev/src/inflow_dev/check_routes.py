"""Route parity: template.yaml's HttpApi events (what AWS serves, and what `make dev` and the
tests serve: inflow_dev.gateway reads them from the template, with the reader used here) and
openapi.yaml (what we document) name exactly the same set of method + path pairs, each mapped to
the same binary, and every binary exists as functions/src/bin/<name>.rs.

    .venv/bin/python -m inflow_dev.check_routes [--root DIR]

--root reads both files and functions/src/bin under DIR instead of the repository
(tools/inflow_dev/tests/test_check_routes.py runs it on altered copies). Exit 0 when all agree, else 1, with one
line per route that is not in both places or not mapped to an existing binary.
"""
import argparse
import sys
from pathlib import Path

import yaml

from inflow_dev import ROOT
from inflow_dev.template import load_template  # the local front's own template reader

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def template_routes(root: Path) -> set:
    """The routes as the local front reads them."""
    routes = load_template(root / "template.yaml").routes
    return {(r.method, r.path, r.function) for r in routes}


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
    parser.add_argument("--root", type=Path, default=ROOT)
    root = parser.parse_args().root

    places = {
        "template.yaml": template_routes(root),
        "openapi.yaml": openapi_routes(root),
    }
    binaries = {p.stem for p in (root / "functions" / "src" / "bin").glob("*.rs")}

    ok = True
    # API Gateway refuses two routes with one route key; the local front would serve only one.
    listed = load_template(root / "template.yaml").routes
    keys = [r.key for r in listed]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        ok = False
        print(f"routes: {key}: more than one function in template.yaml")
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
