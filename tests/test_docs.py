"""The documentation works: tutorials run and print what they show, the reference is complete.

- the pages a user reads first (install, quickstart, ``docs/guide/*.md``) run like the
  tutorials, their ``$ seqdata …`` console blocks included, and the CLI guide shows every
  command with its generated ``--help``;
- the build fails (``--strict``) on a Sphinx role or reST ``::`` left unrendered in a page,
  and on a broken cross-reference (planted in the tests below);
- every tutorial page (``docs/tutorials/*.md``) runs top to bottom, each ```text block after a
  python block matches what that block printed, and the figures it shows get written
  (``docs/_support.py`` has the rules);
- every name of ``seqdata.__all__`` (and of ``seqdata.models``, ``seqdata.train`` and
  ``seqdata.lm``) is documented on an API page;
- with MkDocs installed (the ``docs`` extra), the site builds with ``--strict`` and its
  inventory lists every one of those names.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import re
import subprocess
import sys
import types
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXPORTING_MODULES = ["seqdata", "seqdata.models", "seqdata.train", "seqdata.lm"]


def _load_support() -> ModuleType:
    name = "seqdata_docs_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DOCS / "_support.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


support = _load_support()
PAGES = support.tutorial_pages()
GUIDES = support.guide_pages()


@pytest.fixture(scope="module", autouse=True)
def _figure_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tutorials store their figures where the site build of this module finds them."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQDATA_DOCS_CACHE", str(tmp_path_factory.mktemp("figures")))
        yield


def test_there_are_eight_tutorials_all_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert len(PAGES) == 8, [p.name for p in PAGES]
    missing = [p.name for p in PAGES if f"tutorials/{p.name}" not in nav]
    assert not missing, f"tutorial pages missing from the nav of mkdocs.yml: {missing}"


@pytest.fixture
def _one_torch_thread() -> Iterator[None]:
    """Small models run fastest on one thread, and a busy machine does not slow them down."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("_one_torch_thread")
@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_tutorial_runs_and_prints_what_it_shows(page: Path, tmp_path: Path) -> None:
    steps = support.steps(page.read_text(encoding="utf-8"))
    code = "".join(step.block.code for step in steps)
    assert steps, f"{page.name} has no ```python blocks"
    assert "assert " in code, f"{page.name} asserts nothing: end a claim in an assert"
    support.run_page(page, tmp_path)
    for name in support.generated_images(page):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    support.store_figures(page, tmp_path)


@pytest.mark.usefixtures("_one_torch_thread")
@pytest.mark.parametrize("page", GUIDES, ids=[p.stem for p in GUIDES])
def test_guide_runs_and_prints_what_it_shows(page: Path, tmp_path: Path) -> None:
    """The pages a user reads first: their python and ``$ seqdata …`` blocks run."""
    assert page.is_file(), f"{page} is missing"
    assert f"{page.relative_to(DOCS).as_posix()}" in (ROOT / "mkdocs.yml").read_text()
    support.run_page(page, tmp_path)
    for name in support.generated_images(page):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    support.store_figures(page, tmp_path)


def test_cli_guide_shows_every_command_with_an_example_and_its_help() -> None:
    from seqdata.cli import COMMANDS

    text = (DOCS / "guide" / "cli.md").read_text(encoding="utf-8")
    helps = {m["command"] for m in support.HELP_MARKER.finditer(text)}
    commands = set(re.findall(r"^\$ seqdata (\w+)", text, re.MULTILINE))
    for command in COMMANDS:
        assert command in helps or any(h.startswith(command + " ") for h in helps), command
    assert set(COMMANDS) - {"demo"} <= commands  # the demo takes minutes: described, not run
    assert support.cli_help("lm train").startswith("usage: seqdata lm train")
    filled = support.fill_help("a\n<!-- seqdata-help: stats -->\nb")
    assert "--bucket-width" in filled and "seqdata-help" not in filled


def test_a_console_block_that_prints_something_else_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```console\n$ seqdata --version\nseqdata 0.0.0-not-this\n```\n")
    with pytest.raises(support.TutorialError, match="line 2"):
        support.run_page(page, tmp_path / "run")
    page.write_text("```console\n$ seqdata stats missing-folder\n```\n")
    with pytest.raises(support.TutorialError, match="status 2"):
        support.run_page(page, tmp_path / "run")


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("seqdata_docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "html",
    [
        "<p>Batches (:class: <code>LengthBatchSampler</code>) of ids.</p>",
        "<p>see :meth:`Vocab.load` for the format</p>",
        "<td>Read with :py:func:<code>read_pairs</code></td>",
        '<p>the :func:<a href="#x"><code>fit</code></a> loop</p>',
        "<p>Usage::</p><pre><code>seqdata demo</code></pre>",
    ],
)
def test_the_build_fails_on_an_unrendered_role(html: str, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install .[docs]")
    assert support.unrendered_markup(html)
    page = types.SimpleNamespace(file=types.SimpleNamespace(src_uri="api/planted.md"))
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.seqdata"):
        assert _hooks().on_post_page(html, page, {}) == html
    # mkdocs --strict aborts on any WARNING logged under the "mkdocs" logger
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "api/planted.md" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    "html",
    [
        "<p>A <code>:class:</code> role, shown as an example.</p>",
        "<pre><code>:class:`Vocab` in an old docstring</code></pre>",
        "<p>Ratio 3:1, at 12:30 and a dict {a: 1}.</p>",
        '<p>the <a href="../vocab/#seqdata.vocab.Vocab"><code>Vocab</code></a> class</p>',
    ],
)
def test_rendered_cross_references_and_code_are_not_roles(html: str) -> None:
    assert support.unrendered_markup(html) == []


def test_a_broken_cross_reference_fails_the_strict_build(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install .[docs]")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [`Nope`][seqdata.no_such_name].\n")
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: t\ndocs_dir: docs\nplugins: [autorefs]\nnav: [index.md]\n"
    )
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "seqdata.no_such_name" in result.stdout + result.stderr


def test_a_wrong_output_block_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nprint('loss', 2.50)\n```\n\n```text\nloss 2.5...\n```\n\n"
        "```python\nprint('shape', (2, 3))\n```\n```text\nshape (2, 4)\n```\n",
        encoding="utf-8",
    )
    with pytest.raises(support.TutorialError, match="line 10"):
        support.run_page(page, tmp_path / "run")


def test_numbers_in_outputs_are_compared_with_a_tolerance() -> None:
    assert support._close("train 2.71  valid 2.49", "train 2.80 valid 2.45")
    assert not support._close("train 2.71", "train 3.50")
    assert support._close("ratio 5e-17", "ratio 9e-18")
    assert not support._close("ratio 5e-17", "ratio 5e-15")
    assert not support._close("(10, 20)", "(10, 21)")  # integers are exact


@pytest.mark.parametrize("module_name", EXPORTING_MODULES)
def test_api_reference_documents_every_exported_name(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names, f"{module_name}.__all__ is empty"
    missing = [n for n in names if support.home_of(n, getattr(module, n)) is None]
    assert not missing, (
        f"{module_name}.__all__ names {missing}, but no API page documents them: each must be "
        "in the __all__ of a public module of seqdata (one API page per module)"
    )


def _inventory(site: Path) -> set[str]:
    """The object names of a Sphinx inventory (``objects.inv``) that mkdocstrings writes."""
    raw = (site / "objects.inv").read_bytes()
    body = zlib.decompress(raw.split(b"\n", 4)[4]).decode()
    return {line.split(" ", 1)[0] for line in body.splitlines() if line}


def test_site_builds_strict_and_documents_every_name(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install .[docs]")
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        # no --quiet: mkdocs 1.6 then drops warnings before --strict counts them
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
         str(ROOT / "mkdocs.yml"), "-d", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    inventory = _inventory(site)
    for module_name in EXPORTING_MODULES:
        module = importlib.import_module(module_name)
        homes = {n: support.home_of(n, getattr(module, n)) for n in module.__all__}
        missing = sorted(n for n, home in homes.items() if home not in inventory)
        assert not missing, f"{module_name}: not in the built API reference: {missing}"
    for page in PAGES:
        for name in support.generated_images(page):
            assert (site / "tutorials" / name).is_file(), f"{name} of {page.name} not in the site"
    index = (site / "api" / "index.html").read_text(encoding="utf-8")
    assert support.MARKER not in index and "seqdata.collate.Batch" in index


@pytest.mark.usefixtures("_one_torch_thread")
def test_readme_python_quickstart_prints_what_it_shows(tmp_path: Path) -> None:
    """README.md's Python blocks run like a tutorial: the printed output is compared with
    the ```text block after each (numbers within 10 %)."""
    support.run_page(ROOT / "README.md", tmp_path)
