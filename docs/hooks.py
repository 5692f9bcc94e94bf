"""MkDocs hooks: the API pages, the index of ``seqdata.__all__``, and the tutorials' figures.

- One API page per public module of seqdata (``api/<module>.md``, a single ``::: seqdata.X``
  directive), generated at build time and appended to the "API reference" section of the nav,
  so a module that lands is documented without editing the docs.
- ``api/index.md`` holds the marker ``<!-- seqdata-all -->``; it becomes a table of every name
  in ``seqdata.__all__`` linked to where it is documented. A name that no module page
  documents is a warning, so ``mkdocs build --strict`` fails on it.
- Docstrings carry ``>>>`` examples outside of an ``Examples:`` section too (module
  docstrings, for one); Markdown would render them as nested block quotes, so a small
  Markdown extension fences every doctest as a ``pycon`` code block first.
- A guide asks for a command's ``--help`` with ``<!-- seqdata-help: train -->``; the text is
  generated from ``seqdata.cli.build_parser()`` at build time, so it cannot drift.
- A built page that still shows a Sphinx role (``:class:`X```) or a reST ``::`` marker is a
  warning, so ``mkdocs build --strict`` fails on it.
- A tutorial's (or guide's) figures are written by its own code. The build takes them from
  the cache that ``tests/test_docs.py`` fills (keyed by the page's code, data and seqdata's
  sources), and runs the page itself when they are not there.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from markdown import Extension, Markdown
from markdown.preprocessors import Preprocessor
from mkdocs.plugins import event_priority

log = logging.getLogger("mkdocs.hooks.seqdata")
_HERE = Path(__file__).resolve().parent


def _load_support() -> ModuleType:
    name = "seqdata_docs_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _HERE / "_support.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _summary(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ").replace("|", "\\|")


def _kind(obj: Any) -> str:
    if inspect.ismodule(obj):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "function"
    return "constant"


def all_table() -> str:
    """A Markdown table of ``seqdata.__all__``, each name linked to its documentation."""
    import seqdata

    support = _load_support()
    rows = ["| name | kind | documented in | summary |", "|---|---|---|---|"]
    for name in seqdata.__all__:
        obj = getattr(seqdata, name)
        home = support.home_of(name, obj)
        if home is None:
            log.warning(
                "seqdata.%s is in seqdata.__all__ but no API page documents it: add it to the "
                "__all__ of the public module that defines it",
                name,
            )
            rows.append(f"| `{name}` | {_kind(obj)} | — | {_summary(obj)} |")
            continue
        module = home if inspect.ismodule(obj) else home.rsplit(".", 1)[0]
        rows.append(
            f"| [`{name}`][{home}] | {_kind(obj)} | [`{module}`][{module}] | {_summary(obj)} |"
        )
    return "\n".join(rows)


_FENCE_START = ("```", "~~~")


class _DoctestFencer(Preprocessor):
    """Wrap each run of ``>>>`` lines and their output in a ```` ```pycon ```` fence."""

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        in_fence = ""
        i = 0
        while i < len(lines):
            line = lines[i]
            stripped = line.lstrip()
            if in_fence:
                if stripped.startswith(in_fence):
                    in_fence = ""
                out.append(line)
                i += 1
                continue
            if stripped.startswith(_FENCE_START):
                in_fence = stripped[:3]
                out.append(line)
                i += 1
                continue
            if not stripped.startswith(">>>"):
                out.append(line)
                i += 1
                continue
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
            while i < len(lines) and lines[i].strip():
                body = lines[i]
                out.append(body if body.startswith(indent) else indent + body.lstrip())
                i += 1
            out.append(f"{indent}```")
        return out


class DoctestFences(Extension):
    """Markdown extension: ``>>>`` examples become fenced ``pycon`` code blocks."""

    def extendMarkdown(self, md: Markdown) -> None:
        md.preprocessors.register(_DoctestFencer(md), "seqdata_doctest_fences", 29)


# --- mkdocs events -------------------------------------------------------------------------


@event_priority(100)  # before mkdocstrings reads the Markdown extensions
def on_config(config: Any) -> Any:
    """Fence doctests; append the generated module pages to the "API reference" nav section."""
    config.markdown_extensions.append(DoctestFences())
    support = _load_support()
    modules = support.api_modules()
    for entry in config["nav"] or []:
        if isinstance(entry, dict) and "API reference" in entry:
            section = entry["API reference"]
            section.extend({name: support.api_page_uri(name)} for name in modules)
    return config


def on_files(files: Any, config: Any) -> Any:
    """Add the generated API pages and the tutorials' figures to the site."""
    from mkdocs.structure.files import File

    support = _load_support()
    for module_name in support.api_modules():
        uri = support.api_page_uri(module_name)
        files.append(File.generated(config, uri, content=f"::: {module_name}\n"))

    for page in support.runnable_pages():
        images = support.generated_images(page)
        if not images:
            continue
        cache = support.figure_cache(page)
        if not all((cache / name).is_file() for name in images):
            log.info("running %s to draw %s", page.name, images)
            import torch

            torch.set_num_threads(1)  # the tutorials' models are tiny: one thread is fastest
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    support.run_page(page, Path(tmp))
                except Exception as err:  # a broken tutorial: say so, build the rest
                    log.warning("%s failed, so its figures are missing: %r", page.name, err)
                    continue
                support.store_figures(page, Path(tmp))
        folder = page.parent.relative_to(support.DOCS).as_posix()
        for name in images:
            uri = f"{folder}/{name}" if folder != "." else name
            files.append(File.generated(config, uri, abs_src_path=str(cache / name)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill in the ``seqdata.__all__`` table and the ``--help`` texts the page asks for."""
    support = _load_support()
    if support.MARKER in markdown:
        markdown = markdown.replace(support.MARKER, all_table())
    return str(support.fill_help(markdown))


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Warn (so ``--strict`` fails) on Sphinx roles or reST ``::`` left unrendered in a page."""
    found = _load_support().unrendered_markup(output)
    if found:
        shown = "; ".join(repr(f[:70]) for f in found[:5])
        log.warning(
            "%s shows %d piece(s) of unrendered Sphinx/reST markup (%s%s): write docstrings "
            "with Markdown cross-references ([`Vocab`][seqdata.Vocab]) or plain backticks",
            page.file.src_uri,
            len(found),
            shown,
            ", …" if len(found) > 5 else "",
        )
    return output
