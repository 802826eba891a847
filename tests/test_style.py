"""ruff keeps the style, so no review has to; the docs name nothing a reader cannot follow."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    result = subprocess.run([ruff, "check", "hepwb", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_docs_prose_names_no_commit_or_issue_that_a_reader_cannot_follow():
    """README and docs/ date their measurements; a commit hash or an issue number means nothing to a student."""
    import re

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    hash_like = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b")
    found = [f"{page.name}:{n}: {match.group(0)}" for page in pages
             for n, line in enumerate(page.read_text().splitlines(), 1)
             for match in [*hash_like.finditer(line), *re.finditer(r"\b[Ii]ssues? #?\d+|\bcommit [0-9a-f]+", line)]]
    assert len(pages) > 10 and not found, found
