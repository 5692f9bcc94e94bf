"""The documentation works: tutorials run and print what they show, the reference is complete.

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
import os
import subprocess
import sys
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


@pytest.fixture(scope="module", autouse=True)
def _figure_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tutorials store their figures where the site build of this module finds them."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQDATA_DOCS_CACHE", str(tmp_path_factory.mktemp("figures")))
        yield


def test_there_are_seven_tutorials_all_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert len(PAGES) == 7, [p.name for p in PAGES]
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
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f",
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
