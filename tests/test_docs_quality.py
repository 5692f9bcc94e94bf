"""Plain words in what a user reads: help texts, error messages and docstrings of ``seqdata/``.

A user has no "notes" and attended no "lecture": every string they can see says what the
thing is. The course material is cited only in the tutorials that teach it
(``docs/tutorials/``). And docstrings use the syntax the site renders (Markdown
cross-references or plain backticks), never Sphinx roles, which show up as literal text.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "seqdata"

JARGON = re.compile(r"\bthe (?:notes|lecture)\b|\bnotes'|\blecture's\b", re.IGNORECASE)
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj):`")


def strings(path: Path) -> Iterator[tuple[int, str]]:
    """Every string literal of a module (docstrings, help texts, messages) with its line."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def findings(pattern: re.Pattern[str]) -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, text in strings(path):
            for m in pattern.finditer(text):
                where = path.relative_to(ROOT)
                found.append(f"{where}:{line}: …{text[max(0, m.start() - 30) : m.end() + 30]!r}")
    return found


def test_the_scanner_finds_what_it_looks_for(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        '"""Doc: see :class:`Vocab`."""\n'
        'HELP = "the notes\' max_pad_len"\n'
        'def f():\n    raise ValueError(f"as in The Lecture, got {1}")\n',
        encoding="utf-8",
    )
    texts = [text for _, text in strings(module)]
    assert sum(bool(JARGON.search(t)) for t in texts) == 2
    assert sum(bool(ROLE.search(t)) for t in texts) == 1
    assert not JARGON.search("notes on the batch (a footnote)")


@pytest.mark.parametrize(
    ("what", "pattern"),
    [("course jargon", JARGON), ("Sphinx roles", ROLE)],
    ids=["no-notes-or-lecture", "no-sphinx-roles"],
)
def test_user_facing_strings_of_seqdata_are_plain(what: str, pattern: re.Pattern[str]) -> None:
    found = findings(pattern)
    assert not found, (
        f"{len(found)} user-facing strings in seqdata/ with {what}; say what the thing is "
        '("lengths within this many tokens share a bucket"), and write cross-references as '
        "[`Vocab`][seqdata.Vocab] or plain backticks:\n" + "\n".join(found)
    )


def test_reader_pages_outside_the_tutorials_are_plain() -> None:
    pages = [
        ROOT / "docs" / "index.md",
        ROOT / "docs" / "install.md",
        ROOT / "docs" / "quickstart.md",
    ]
    pages += sorted((ROOT / "docs" / "guide").glob("*.md"))
    found = [
        f"{p.relative_to(ROOT)}: {m[0]!r}"
        for p in pages
        for m in JARGON.finditer(p.read_text(encoding="utf-8"))
    ]
    assert not found, found
