"""What the docs build and the docs tests share: running tutorials, listing the API pages.

Used by ``tests/test_docs.py`` (which runs every page and checks the API reference) and by
``docs/hooks.py`` (which generates the API pages and runs a page at build time when the
figures it shows are not cached yet). Needs neither MkDocs nor Markdown.

Conventions of a tutorial page:

- every fenced ```` ```python ```` block runs, in order, in one namespace, in a fresh working
  directory laid out like the repository root for what the pages read: a copy of
  ``docs/tutorials/data/`` and a link to ``examples/`` (a reader runs the code from the root
  of a clone);
- a ```` ```text ```` block right after a python block (blank lines between are fine) is that
  block's printed output; it is compared with what the block really printed, as a doctest
  would (``...`` matches anything, whitespace runs compare equal), except that a decimal
  number such as a loss may differ by 10% (0.05 absolute) and one in ``1e-05`` notation by a
  factor of 10 — training curves move a little between CPUs and torch builds, while the
  page's ``assert`` statements hold the real claims; put any prose between a python block
  and a ```` ```text ```` block to show an output that is not checked (a random sample);
- an image the page shows (``![alt](name.png)``) that is not a file under ``docs/`` must be
  written by the page's code into the working directory (the build then puts it in the site).
"""

from __future__ import annotations

import contextlib
import doctest
import hashlib
import importlib
import inspect
import io
import math
import os
import pkgutil
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
TUTORIALS = DOCS / "tutorials"
DATA = TUTORIALS / "data"
GUIDE = DOCS / "guide"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
_IMAGE = re.compile(r"!\[[^\]]*\]\((?P<src>[^)\s]+\.(?:png|svg|jpg))\)")
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
_NUMBER = r"[-+]?(?:\d+\.\d+|\d+(?:\.\d+)?[eE][-+]?\d+)"
_TOKEN = re.compile(rf"({_NUMBER}|\.\.\.)")


def _close(want: str, got: str) -> bool:
    """True if ``got`` is ``want`` up to whitespace, ``...`` and the tolerance on decimals."""
    pattern, numbers = [], []
    for k, part in enumerate(_TOKEN.split(" ".join(want.split()))):
        if k % 2 == 0:
            pattern.append(re.escape(part).replace("\\ ", r"\s+"))
        elif part == "...":
            pattern.append(".*?")
        else:
            pattern.append(f"({_NUMBER})")
            numbers.append(part)
    match = re.fullmatch("".join(pattern), " ".join(got.split()), re.DOTALL)
    if match is None:
        return False
    for w, g in zip(numbers, match.groups(), strict=True):
        if "e" in w.lower():
            a, b = abs(float(w)), abs(float(g))
            if (a == 0) != (b == 0) or (a and abs(math.log10(a) - math.log10(b)) > 1):
                return False
        elif not math.isclose(float(w), float(g), rel_tol=0.1, abs_tol=0.05):
            return False
    return True


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, its code (dedented), and its first code line (1-based)."""

    lang: str
    code: str
    line: int
    end: int


@dataclass(frozen=True)
class Step:
    """A python block and the output the page says it prints (``None``: not shown)."""

    block: Block
    expected: str | None


def fenced_blocks(text: str) -> Iterator[Block]:
    """Every fenced code block of a Markdown text, in order."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = m["indent"], m["fence"]
        lang = (m["info"].split() or [""])[0].strip("{}.").lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                break
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            j += 1
        yield Block(lang, "\n".join(body) + "\n", i + 2, j + 1)
        i = j + 1


def steps(text: str) -> list[Step]:
    """The page's python blocks, each with the ```text output that follows it, if any."""
    blocks = list(fenced_blocks(text))
    lines = text.splitlines()
    out: list[Step] = []
    for k, block in enumerate(blocks):
        if block.lang == "console":
            out.append(Step(block, None))
            continue
        if block.lang not in ("python", "py"):
            continue
        expected = None
        if k + 1 < len(blocks) and blocks[k + 1].lang == "text":
            between = lines[block.end : blocks[k + 1].line - 2]
            if all(not line.strip() for line in between):
                expected = blocks[k + 1].code
        out.append(Step(block, expected))
    return out


def code_digest(path: Path) -> str:
    """A key for a page's generated figures: its code, its data and seqdata's sources."""
    digest = hashlib.sha256()
    for step in steps(path.read_text(encoding="utf-8")):
        digest.update(step.block.code.encode())
    sources = sorted(DATA.rglob("*")) + sorted((ROOT / "seqdata").rglob("*.py"))
    for source in sources:
        if source.is_file():
            digest.update(source.name.encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def generated_images(path: Path) -> list[str]:
    """The images a page shows that its code must write (they are not files under docs/)."""
    text = path.read_text(encoding="utf-8")
    names = []
    for m in _IMAGE.finditer(text):
        src = m["src"]
        if "://" not in src and not (path.parent / src).exists() and src not in names:
            names.append(src)
    return names


class TutorialError(AssertionError):
    """A tutorial block failed or printed something other than the page shows."""


def run_page(path: Path, workdir: Path) -> dict[str, object]:
    """Execute every python block of ``path`` in ``workdir``; return the namespace.

    Raises:
        TutorialError: a block's output differs from the page's ```text block, or an image
            the page shows was not written.
        Exception: whatever a block raised (the traceback points at the Markdown lines).
    """
    text = path.read_text(encoding="utf-8")
    workdir.mkdir(parents=True, exist_ok=True)
    if DATA.is_dir():
        shutil.copytree(DATA, workdir / DATA.relative_to(ROOT), dirs_exist_ok=True)
    examples = ROOT / "examples"
    if examples.is_dir() and not (workdir / "examples").exists():
        (workdir / "examples").symlink_to(examples, target_is_directory=True)
    namespace: dict[str, object] = {"__name__": "__tutorial__"}
    checker = doctest.OutputChecker()
    old_cwd = Path.cwd()
    os.chdir(workdir)
    try:
        for step in steps(text):
            block = step.block
            if block.lang == "console":
                _run_console(path, block, checker)
                continue
            code = compile("\n" * (block.line - 1) + block.code, str(path), "exec")
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(code, namespace)
            got = buffer.getvalue()
            if step.expected is not None and not (
                checker.check_output(step.expected, got, _FLAGS) or _close(step.expected, got)
            ):
                raise TutorialError(
                    f"{path.name}, block at line {block.line}: the page shows an output that "
                    f"the code does not print.\n--- shown ---\n{step.expected}--- printed ---\n"
                    f"{got}"
                )
        missing = [name for name in generated_images(path) if not (workdir / name).is_file()]
        if missing:
            raise TutorialError(
                f"{path.name} shows {missing}, but its code did not write them into the "
                "working directory"
            )
    finally:
        os.chdir(old_cwd)
    return namespace


def figure_cache(path: Path) -> Path:
    """Where the build finds the figures of ``path`` made by a run of the same code."""
    base = Path(os.environ.get("SEQDATA_DOCS_CACHE", Path.home() / ".cache" / "seqdata-docs"))
    return base / f"{path.stem}-{code_digest(path)}"


def store_figures(path: Path, workdir: Path) -> Path:
    """Copy the figures a run of ``path`` wrote in ``workdir`` into the figure cache."""
    cache = figure_cache(path)
    cache.mkdir(parents=True, exist_ok=True)
    for name in generated_images(path):
        target = cache / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(workdir / name, target)
    return cache


def tutorial_pages() -> list[Path]:
    """Every tutorial page, in reading order."""
    return sorted(TUTORIALS.glob("*.md"))


def guide_pages() -> list[Path]:
    """The pages a user reads first (install, quickstart, the guides), in name order."""
    return [DOCS / "install.md", DOCS / "quickstart.md", *sorted(GUIDE.glob("*.md"))]


def runnable_pages() -> list[Path]:
    """Every page whose code blocks run as tests: the guides, then the tutorials."""
    return [*guide_pages(), *tutorial_pages()]


#: The place in ``docs/api/index.md`` where the build puts the table of ``seqdata.__all__``.
MARKER = "<!-- seqdata-all -->"


# --- the API reference ----------------------------------------------------------------------


def api_modules() -> list[str]:
    """The public modules of seqdata, each documented on its own page (``seqdata.collate``…)."""
    import seqdata

    return sorted(
        f"seqdata.{info.name}"
        for info in pkgutil.iter_modules(seqdata.__path__)
        if not info.name.startswith("_")
    )


def api_page_uri(module_name: str) -> str:
    """``seqdata.collate`` → ``api/collate.md``."""
    return f"api/{module_name.split('.', 1)[1]}.md"


def public_names(module_name: str) -> list[str]:
    """The names a module's page documents: its ``__all__``, else its public attributes."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module_name
        ]
    return list(names)


def home_of(name: str, obj: Any) -> str | None:
    """Where ``obj`` (exported as ``name``) is documented: ``seqdata.<module>.<name>``.

    A module is its own page; ``None`` when no API page documents it.
    """
    modules = api_modules()
    if inspect.ismodule(obj):
        return obj.__name__ if obj.__name__ in modules else None
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if name in public_names(module_name) and getattr(module, name, None) is obj:
            return f"{module_name}.{name}"
    return None


# --- console blocks: `$ seqdata …` runs in-process, its output compared -----------------------


def _console_commands(block: Block) -> list[tuple[int, str, str]]:
    """``(line, command, shown output)`` for each ``$ `` line of a console block."""
    out: list[tuple[int, str, str]] = []
    lines = block.code.replace("\\\n", " ").splitlines()  # a `\` at the end continues a line
    for k, line in enumerate(lines):
        if line.startswith("$ "):
            out.append((block.line + k, line[2:].strip(), ""))
        elif out:
            number, command, shown = out[-1]
            out[-1] = (number, command, shown + line + "\n")
    return out


def _run_command(argv: list[str]) -> tuple[int, str]:
    """Run ``seqdata …`` (in this process) or ``ls DIR``; return its status and output."""
    if argv[:1] == ["ls"]:
        folder = Path(argv[1] if len(argv) > 1 else ".")
        return 0, "".join(f"{p.name}\n" for p in sorted(folder.iterdir()))
    if argv[:1] != ["seqdata"]:
        raise TutorialError(f"a console block runs `seqdata …` and `ls`, not {argv[0]!r}")
    from seqdata.cli import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        try:
            status = main(argv[1:])
        except SystemExit as exit_:  # --help and argparse's usage errors
            status = int(exit_.code or 0)
    return status, buffer.getvalue()


def _run_console(path: Path, block: Block, checker: doctest.OutputChecker) -> None:
    """Run each ``$ seqdata …`` line of a console block; compare what it printed."""
    import shlex

    for line, command, shown in _console_commands(block):
        status, got = _run_command(shlex.split(command))
        if status != 0 and "error:" not in shown:
            raise TutorialError(
                f"{path.name}, line {line}: `{command}` exited with status {status}:\n{got}"
            )
        if shown.strip() and not (checker.check_output(shown, got, _FLAGS) or _close(shown, got)):
            raise TutorialError(
                f"{path.name}, line {line}: `{command}` does not print what the page shows."
                f"\n--- shown ---\n{shown}--- printed ---\n{got}"
            )


# --- generated text: `--help`, and the check for roles that did not render ------------------

#: A guide asks for a command's ``--help`` text with ``<!-- seqdata-help: train -->`` on a
#: line of its own.
HELP_MARKER = re.compile(r"^<!-- seqdata-help: (?P<command>[a-z ]+?) -->$", re.MULTILINE)


def cli_help(command: str, width: int = 88) -> str:
    """The ``--help`` text of ``seqdata COMMAND`` (``"lm train"`` for a subcommand)."""
    import argparse

    from seqdata.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)  # argparse wraps to the terminal's width
    try:
        parser = build_parser()
        for name in command.split():
            actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            if not actions or name not in actions[0].choices:
                raise KeyError(f"no command {command!r} in seqdata's parser")
            parser = actions[0].choices[name]
        return parser.format_help()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def fill_help(markdown: str) -> str:
    """Replace every ``<!-- seqdata-help: CMD -->`` with a text block of that ``--help``."""
    return HELP_MARKER.sub(lambda m: f"```text\n{cli_help(m['command'])}```", markdown)


_ROLE = re.compile(
    r"(?<![\w`])(?::py)?:(?:class|func|meth|attr|mod|data|exc|obj|const|ref|term|py):"
    r"(?=\s*(?:`|<code|<a ))"
)
_PRE = re.compile(r"<pre\b.*?</pre>", re.DOTALL)
_RST_LITERAL = re.compile(r"(?<!:)::</p>")


def unrendered_markup(html: str) -> list[str]:
    """Sphinx roles (``:class:`X```) and reST ``::`` markers left as text in a built page.

    Code blocks are skipped, and a role inside inline code is not followed by a name, so a
    page may show a role as an example.
    """
    text = _PRE.sub("", html)
    found = []
    for m in _ROLE.finditer(text):
        found.append(re.sub(r"<[^>]+>", "", text[m.start() : m.end() + 60]).split("\n")[0])
    found.extend(f"a reST '::' marker: …{text[max(0, m.start() - 40) : m.start() + 2]}"
                 for m in _RST_LITERAL.finditer(text))  # fmt: skip
    return found
