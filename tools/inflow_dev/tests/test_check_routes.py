"""Tests of inflow_dev.check_routes itself: it passes on the repository as it is, and FAILS when a
route is added to only one of the two places (template.yaml, which the local front also serves
from, and openapi.yaml), when they disagree on a route's binary, when a route's binary does not
exist, or when template.yaml gives one route to two functions. Each case runs the checker on
altered copies in a temporary directory; the real files are never touched.

    .venv/bin/python -m pytest tools/inflow_dev/tests/test_check_routes.py        (make test runs it)
"""
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from inflow_dev import ROOT as REPO

CHECKER = ["-m", "inflow_dev.check_routes"]

NEW_PATH = "/v1/extra/{extraId}"


def template_route(binary: str, logical_id: str = "ExtraRouteFunction") -> tuple[str, str, str]:
    """Adds a function for `binary` with an HttpApi event GET NEW_PATH."""
    anchor = "Resources:\n"
    return anchor, anchor, (
        f"  {logical_id}:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Metadata:\n"
        "      BuildMethod: rust-cargolambda\n"
        "      BuildProperties:\n"
        f"        Binary: {binary}\n"
        "    Properties:\n"
        "      CodeUri: .\n"
        "      Events:\n"
        "        Extra:\n"
        "          Type: HttpApi\n"
        "          Properties:\n"
        "            ApiId: !Ref HttpApi\n"
        "            Method: GET\n"
        f"            Path: {NEW_PATH}\n"
    )


def openapi_route(binary: str) -> tuple[str, str, str]:
    """Adds the operation GET NEW_PATH, naming `binary`."""
    anchor = "paths:\n"
    return anchor, anchor, (
        f"  {NEW_PATH}:\n"
        "    get:\n"
        f"      x-inflow-function: {binary}\n"
        "      parameters:\n"
        "        - { name: extraId, in: path, required: true, schema: { type: string } }\n"
        "      responses:\n"
        '        "200": { description: ok }\n'
    )


FILES = {"template.yaml": template_route, "openapi.yaml": openapi_route}


class CheckRoutes(unittest.TestCase):
    def setUp(self):
        self.root = Path(tempfile.mkdtemp(prefix="check-routes-"))
        self.addCleanup(shutil.rmtree, self.root)
        for name in FILES:
            shutil.copy(REPO / name, self.root / name)
        bins = self.root / "functions" / "src" / "bin"
        bins.mkdir(parents=True)
        for src in (REPO / "functions" / "src" / "bin").glob("*.rs"):
            (bins / src.name).touch()

    def add_route(self, file: str, binary: str = "get-assignment"):
        anchor, keep, text = FILES[file](binary)
        path = self.root / file
        content = path.read_text()
        self.assertEqual(content.count(anchor), 1, f"{file}: expected one {anchor!r} to insert after")
        path.write_text(content.replace(anchor, keep + text))

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *CHECKER, "--root", str(self.root)], capture_output=True, text=True
        )

    def assert_fails_naming(self, *words: str):
        run = self.check()
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
        lines = [l for l in run.stdout.splitlines() if NEW_PATH in l]
        self.assertTrue(any(all(w in l for w in words) for l in lines), f"no line with {words}:\n{run.stdout}")

    def test_the_repository_passes(self):
        run = self.check()
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("same", run.stdout)

    def test_a_route_in_only_one_place_fails(self):
        for file in FILES:
            with self.subTest(only_in=file):
                self.setUp()
                self.add_route(file)
                others = [name.split(".")[0] for name in FILES if name != file]
                self.assert_fails_naming(f"GET {NEW_PATH}", "not in", *others)

    def test_a_route_in_both_places_passes(self):
        for file in FILES:
            self.add_route(file)
        run = self.check()
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        # One more than the repository has.
        repo = subprocess.run([sys.executable, *CHECKER], capture_output=True, text=True)
        count = int(repo.stdout.split(" in openapi.yaml")[0].rsplit(" ", 1)[-1])
        self.assertIn(f"{count + 1} in template.yaml, {count + 1} in openapi.yaml", run.stdout)

    def test_places_disagreeing_on_the_binary_fails(self):
        self.add_route("template.yaml", "get-assignment")
        self.add_route("openapi.yaml", "get-flow")
        self.assert_fails_naming("get-flow", "not in template")

    def test_one_route_for_two_functions_fails(self):
        for file in FILES:
            self.add_route(file)
        path = self.root / "template.yaml"
        anchor, keep, text = template_route("get-flow", "SecondExtraRouteFunction")
        path.write_text(path.read_text().replace(anchor, keep + text, 1))
        self.add_route("openapi.yaml", "get-flow")
        self.assert_fails_naming(f"GET {NEW_PATH}", "more than one function")

    def test_a_route_to_a_missing_binary_fails(self):
        for file in FILES:
            self.add_route(file, "no-such-function")
        self.assert_fails_naming("no functions/src/bin/no-such-function.rs")


if __name__ == "__main__":
    unittest.main(verbosity=2)
