"""The docs stand on their own: no pointer outside the repository, every relative link resolves, and what the
README says the demo runs is what scripts/demo.sh runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_docs_refer_to_nothing_outside_the_repository() -> None:
    sources = [*DOCS, *ROOT.glob("src/binlake/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("scripts/*")]
    outside = re.compile(r"DESIGN\.md|\.\./shared|STYLE\.md")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources
        if path.name != "test_docs.py" and path.is_file()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if outside.search(line) and "fixtures" not in line
    ]
    assert found == []


def test_relative_links_resolve() -> None:
    broken = [
        f"{doc.relative_to(ROOT)}: {target}"
        for doc in DOCS
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text())
        if not (doc.parent / target).exists()
    ]
    assert broken == []


def test_readme_says_what_the_demo_runs() -> None:
    demo = (ROOT / "scripts" / "demo.sh").read_text()
    migration = re.search(r"--migration-type (\S+)", demo).group(1)
    readme = (ROOT / "README.md").read_text()
    said = re.search(r"endpoint, runs a (\S+) task", readme).group(1)
    assert said == migration
    assert (ROOT / "docs" / "contract.md").exists() and "docs/contract.md" in readme
