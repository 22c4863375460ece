"""Link check of the docs: every relative link in every Markdown file of the repository resolves.

    .venv/bin/python -m inflow_dev.check_links [ROOT]        (make test runs it; ROOT defaults to the repository)

Reads every *.md file under ROOT (README.md, docs/**, …; not target/, .venv*, node_modules, .dev,
.aws-sam or .git) and checks, outside code blocks and code spans:

- every link `[text](target)` and image `![alt](target)`, and every reference definition
  `[label]: target`, whose target is relative (not `http:`, `https:`, `mailto:` or another
  scheme): the file or directory must exist relative to the linking file, and a `#anchor` must be
  a heading of the target file as GitHub makes its id (lowercase; punctuation dropped except
  hyphens and underscores; each space a hyphen; `-1`, `-2`… on repeats) or an `id`/`name` of an
  HTML anchor in it. `(#anchor)` alone is the linking file's own;
- every bare relative reference to a Markdown file, such as `docs/api.md` or `../README.md`
  written as text or in backticks: it must exist relative to the linking file or to ROOT (prose
  names files from the repository's root).

Prints each broken one as `file:line: target` and exits 1 if there is any, else prints a count
and exits 0. tools/inflow_dev/tests/test_check_links.py runs it on broken files in a temporary directory.
"""
import argparse
import re
import sys
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from inflow_dev import ROOT

SKIP_DIRS = {"target", "node_modules", ".dev", ".git", ".aws-sam"}
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target) or ![alt](target), with an optional title; the target may be in <…>.
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
BARE = re.compile(r"(?<![\w/.#-])((?:\.\.?/)*(?:[\w.-]+/)*[\w.-]+\.md)(?:#([\w-]+))?(?![\w/-])")
HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
HTML_ID = re.compile(r"<a\s[^>]*?\b(?:id|name)\s*=\s*[\"']([^\"']+)[\"']", re.I)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def markdown_files(root: Path):
    for path in sorted(root.rglob("*.md")):
        rel = path.relative_to(root).parts
        if any(part in SKIP_DIRS or part.startswith(".venv") for part in rel[:-1]):
            continue
        if path.is_file():
            yield path


def prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        yield number, line


def slug(heading: str) -> str:
    """GitHub's id for a heading: its text, lowercased, without punctuation or symbols (but
    hyphens and underscores), each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    out = []
    for ch in text.strip().lower():
        if ch in " -_" or ch.isalnum() or unicodedata.category(ch).startswith("M"):
            out.append("-" if ch == " " else ch)
    return "".join(out)


_anchors: dict = {}


def anchors(path: Path) -> set:
    if path not in _anchors:
        found, seen = set(), {}
        previous = ""
        for _, line in prose_lines(path.read_text(encoding="utf-8", errors="replace")):
            m = HEADING.match(line)
            setext = SETEXT.match(line)
            text = None
            if m:
                text = m.group(2) or ""
            elif setext and previous.strip() and not previous.lstrip().startswith(("|", "-", "*", ">")):
                text = previous.strip()
            if text is not None:
                base = slug(text)
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
            found.update(HTML_ID.findall(line))
            previous = line
        _anchors[path] = found
    return _anchors[path]


def check_target(source: Path, target: str) -> bool:
    """Whether a relative link target from `source` resolves (file, and anchor if any)."""
    if target.startswith("<") and target.endswith(">"):
        target = target[1:-1]
    path_part, _, anchor = target.partition("#")
    path_part = unquote(path_part)
    dest = source if not path_part else (source.parent / path_part)
    if not dest.exists():
        return False
    if anchor:
        if dest.is_dir() or dest.suffix.lower() != ".md":
            return True  # an anchor into something that is not Markdown is not ours to check
        return unquote(anchor).lower() in anchors(dest.resolve()) or unquote(anchor) in anchors(dest.resolve())
    return True


def check_file(path: Path, root: Path) -> list:
    broken = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in prose_lines(text):
        # Links first (outside code spans), then bare references anywhere in the line but links.
        without_code = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        targets = [m.group(1) for m in INLINE.finditer(without_code)]
        d = DEFINITION.match(without_code)
        if d:
            targets.append(d.group(1))
        for target in targets:
            if SCHEME.match(target.strip("<>")):
                continue
            if not check_target(path, target):
                broken.append((number, target))
        rest = INLINE.sub(" ", line)
        if d:
            rest = rest.replace(d.group(0), " ")
        for m in BARE.finditer(rest):
            ref = m.group(1)
            if SCHEME.match(ref):
                continue
            if not ((path.parent / ref).exists() or (root / ref).exists()):
                broken.append((number, ref))
    return broken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", help="the directory to check (default: the repository)")
    parser.add_argument("--root", dest="root_option", help="the same, as an option")
    args = parser.parse_args()
    root = Path(args.root_option or args.root or ROOT).resolve()
    files = list(markdown_files(root))
    broken = 0
    for path in files:
        for number, target in check_file(path, root):
            print(f"{path.relative_to(root)}:{number}: {target}")
            broken += 1
    if broken:
        print(f"links: {broken} broken in {len(files)} Markdown files", file=sys.stderr)
        return 1
    print(f"links: every relative link in {len(files)} Markdown files resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
