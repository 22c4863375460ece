"""Tests of inflow_dev.check_links itself: it passes on the repository as it is, passes on good
links in a temporary directory, and FAILS (exit 1, naming `file:line: target`) on a link to a
file that does not exist, on an anchor that is no heading of its target, and on a bare reference
to a missing Markdown file. Every case writes its own files in a temporary directory.

    .venv/bin/python -m pytest tools/inflow_dev/tests/test_check_links.py        (make test runs it)
"""
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path



CHECKER = ["-m", "inflow_dev.check_links"]

TOPIC = """# A topic

## Jobs, and "no job lost"

Text.

## Flow assignment (seed 000), `Authorization: Bearer sk_…`

```sh
# not a heading
```
"""


class CheckLinks(unittest.TestCase):
    def setUp(self):
        self.root = Path(tempfile.mkdtemp(prefix="check-links-"))
        self.addCleanup(shutil.rmtree, self.root)
        (self.root / "docs").mkdir()
        (self.root / "docs" / "topic.md").write_text(TOPIC)
        # What the checker must skip.
        (self.root / "target").mkdir()
        (self.root / "target" / "x.md").write_text("[gone](nowhere.md)\n")

    def write_readme(self, *lines: str):
        (self.root / "README.md").write_text("# Front door\n\n" + "\n".join(lines) + "\n")

    def check(self, root: Path | None = None) -> subprocess.CompletedProcess:
        args = [sys.executable, *CHECKER] + ([str(root)] if root else [])
        return subprocess.run(args, capture_output=True, text=True)

    def test_the_repository_passes(self):
        run = self.check()
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)

    def test_good_links_pass(self):
        self.write_readme(
            "[topic](docs/topic.md), [jobs](docs/topic.md#jobs-and-no-job-lost),",
            "[flow](docs/topic.md#flow-assignment-seed-000-authorization-bearer-sk_), [top](#front-door),",
            "[site](https://example.com/missing.md), [mail](mailto:a@example.com), and `docs/topic.md`.",
            "",
            "```",
            "[not a link](missing.md)",
            "```",
        )
        run = self.check(self.root)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)

    def test_a_link_to_a_missing_file_fails(self):
        self.write_readme("See [the table](docs/table.md).")
        run = self.check(self.root)
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
        self.assertIn("README.md:3: docs/table.md", run.stdout)

    def test_a_missing_anchor_fails(self):
        self.write_readme("[ok](docs/topic.md#jobs-and-no-job-lost)", "[gone](docs/topic.md#not-a-heading)")
        run = self.check(self.root)
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
        self.assertEqual(run.stdout.strip(), "README.md:4: docs/topic.md#not-a-heading")

    def test_a_missing_anchor_in_the_same_file_fails(self):
        (self.root / "docs" / "topic.md").write_text(TOPIC + "\nBack to [jobs](#jobs) again.\n")
        self.write_readme()
        run = self.check(self.root)
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
        self.assertIn("docs/topic.md:13: #jobs", run.stdout)

    def test_a_bare_reference_to_a_missing_file_fails(self):
        self.write_readme("The figures are in docs/bench/cost.md.")
        run = self.check(self.root)
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
        self.assertIn("README.md:3: docs/bench/cost.md", run.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
