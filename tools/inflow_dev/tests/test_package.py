"""The package itself: its declared dependencies are pinned at the versions
scripts/requirements-dev.txt installs (tools.sh installs from that file, then the package with
--no-deps, so a drift would go unnoticed), and no module edits sys.path (they import each other
as inflow_dev.<module>)."""

import re
import tomllib
import unittest

from inflow_dev import ROOT

PACKAGE = ROOT / "tools" / "inflow_dev"


def pins(lines):
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[re.sub(r"[-_.]+", "-", name.split("[", 1)[0]).lower()] = version.strip()
    return out


class Package(unittest.TestCase):
    def test_dependencies_are_the_requirements_pins(self):
        declared = pins(tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]["dependencies"])
        required = pins((ROOT / "scripts" / "requirements-dev.txt").read_text().splitlines())
        self.assertTrue(declared)
        for name, version in declared.items():
            self.assertEqual(required.get(name), version, f"{name} in pyproject.toml and requirements-dev.txt")

    def test_no_module_edits_sys_path(self):
        files = [*PACKAGE.rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
        offenders = [str(p.relative_to(ROOT)) for p in files
                     if "sys.path." + "insert" in p.read_text() or "sys.path." + "append" in p.read_text()]
        self.assertEqual(offenders, [])


if __name__ == "__main__":
    unittest.main()
