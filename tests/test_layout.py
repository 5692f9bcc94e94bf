"""The house's layout, measured: small rooms, one-way imports, a sorted and documented API."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

import seqdata

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "seqdata"
MAX_MODULE_LINES, MAX_FUNCTION_LINES, MAX_CLASS_LINES = 500, 80, 300

# The floor of every seqdata module (by dotted-name prefix, longest match wins): a module may
# import only modules on its own floor or lower. Derived from the import graph of the split.
LAYERS = {
    "seqdata.errors": 0,
    "seqdata._checks": 1,
    "seqdata.npyfiles": 1,
    "seqdata.device": 1,
    "seqdata.outputs": 1,
    "seqdata.specials": 1,
    "seqdata.texts": 1,
    "seqdata.flat": 2,
    "seqdata.sentencepiece": 2,
    "seqdata.framing": 2,
    "seqdata.ragged": 2,
    "seqdata.stats": 2,
    "seqdata.tokenizers": 3,
    "seqdata.counts": 3,
    "seqdata.lookup": 3,
    "seqdata.vocab_file": 3,
    "seqdata.chunks": 4,
    "seqdata.hf": 3,
    "seqdata.readers": 3,
    "seqdata.vocab": 4,
    "seqdata.vocab_io": 4,
    "seqdata.collate": 3,
    "seqdata.samplers": 3,
    "seqdata.bucketing": 2,
    "seqdata.sources": 2,
    "seqdata.streaming": 4,
    "seqdata.encoding": 5,
    "seqdata.text_pipeline": 6,
    "seqdata.pipeline": 7,
    "seqdata.pipeline_io": 7,
    "seqdata.storage": 8,
    "seqdata.corpus": 8,
    "seqdata.prepare": 9,
    "seqdata.distributed": 8,
    "seqdata.metrics": 8,
    "seqdata.models": 9,
    "seqdata.lm": 10,
    "seqdata.checkpoint": 10,
    "seqdata.trainer": 10,
    "seqdata.runlog": 1,
    "seqdata.train": 11,
    "seqdata.translation": 11,
    "seqdata.decoding": 9,
    "seqdata.words": 3,
    "seqdata.plots": 11,
    "seqdata.tasks": 12,
    "seqdata.cli": 13,
    "seqdata.__main__": 14,
    "seqdata": 15,  # the package __init__: re-exports only
}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def floor(name: str) -> int | None:
    best = None
    for prefix in LAYERS:
        covers = name == prefix or (prefix != "seqdata" and name.startswith(prefix + "."))
        if covers and (best is None or len(prefix) > len(best)):
            best = prefix
    return None if best is None else LAYERS[best]


def imports(path: Path, module: str, top_only: bool) -> set[str]:
    """The seqdata modules ``path`` imports (at module level only with ``top_only``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_only else list(ast.walk(tree))
    if top_only:  # module-level `if TYPE_CHECKING:` blocks are not run
        nodes = [n for n in nodes if not isinstance(n, ast.If)]
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("seqdata"))
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                pkg = (
                    module.split(".")[: -node.level]
                    if path.name != "__init__.py"
                    else module.split(".")
                )
                base = ".".join([*pkg, node.module])
            if base.startswith("seqdata"):
                out.add(base)
    return {m for m in out if m != module}


def test_every_module_function_and_class_is_small():
    too_big = []
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_big.append(f"{name}: {len(text.splitlines())} lines > {MAX_MODULE_LINES}")
        for node in ast.walk(ast.parse(text)):
            size = (
                (node.end_lineno or node.lineno) - node.lineno + 1 if hasattr(node, "lineno") else 0
            )
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and size > MAX_FUNCTION_LINES
            ):
                too_big.append(
                    f"{name}.{node.name} (function): {size} lines > {MAX_FUNCTION_LINES}"
                )
            if isinstance(node, ast.ClassDef) and size > MAX_CLASS_LINES:
                too_big.append(f"{name}.{node.name} (class): {size} lines > {MAX_CLASS_LINES}")
    assert not too_big, "too big:\n" + "\n".join(too_big)


def test_every_module_has_a_floor_and_imports_only_downwards():
    wrong = []
    for name, path in modules().items():
        own = floor(name)
        if own is None:
            wrong.append(f"{name} is not in LAYERS: add it to LAYERS in tests/test_layout.py")
            continue
        for target in sorted(imports(path, name, top_only=False)):
            theirs = floor(target)
            if theirs is None:
                wrong.append(f"{name} imports {target}, which is not in LAYERS: add it")
            elif theirs > own and not name.startswith(target + "."):
                wrong.append(f"{name} (floor {own}) imports {target} (floor {theirs})")
    assert not wrong, "\n".join(wrong)


def test_module_level_imports_have_no_cycle():
    graph = {name: imports(path, name, top_only=True) for name, path in modules().items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph or nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycle = [*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for name in graph:
        if name not in state:
            visit(name, [name])


def test_all_is_sorted_and_every_name_is_in_the_api_reference():
    assert seqdata.__all__ == sorted(seqdata.__all__)
    spec = importlib.util.spec_from_file_location(
        "seqdata_docs_support", ROOT / "docs" / "_support.py"
    )
    assert spec is not None and spec.loader is not None
    support = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("seqdata_docs_support", support)
    spec.loader.exec_module(support)
    undocumented = [n for n in seqdata.__all__ if support.home_of(n, getattr(seqdata, n)) is None]
    assert not undocumented, f"not in the API reference: {undocumented}"
