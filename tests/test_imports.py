"""What loads what: the package and the text stages start without torch.

``import seqdata`` resolves its public names on first use, and ``seqdata prepare`` (read,
tokenize, index, store) never imports torch, which costs ~2 s a process on 2 cores: the
subprocesses below check ``sys.modules`` after the real thing ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import seqdata
import seqdata.cli


def python(code: str, cwd: Path | None = None) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_text_stages_import_without_torch() -> None:
    got = python(
        "import json, sys, seqdata\n"
        "before = 'torch' in sys.modules\n"
        "pipe = seqdata.PairPipeline.build(['a b'], ['x'])\n"
        "ids = pipe.encode_pair('a b', 'x')\n"
        "vocab = seqdata.Vocab(['a'])\n"
        "print(json.dumps({'before': before, 'after': 'torch' in sys.modules, 'ids': ids}))"
    )
    assert got == {"before": False, "after": False, "ids": [[4, 5], [2, 4, 3]]}


def test_a_model_name_loads_torch_when_used() -> None:
    got = python(
        "import json, sys, seqdata\n"
        "collate = seqdata.PadCollate\n"
        "import torch\n"
        "print(json.dumps({'torch': 'torch' in sys.modules,"
        " 'same': collate is __import__('seqdata.collate').collate.PadCollate}))"
    )
    assert got == {"torch": True, "same": True}


@pytest.mark.slow
def test_prepare_with_a_valid_split_never_imports_torch(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("a b c\nd e\nb c\n", encoding="utf-8")
    (tmp_path / "t.txt").write_text("x y\nz\ny\n", encoding="utf-8")
    (tmp_path / "vs.txt").write_text("a d\n", encoding="utf-8")
    (tmp_path / "vt.txt").write_text("x\n", encoding="utf-8")
    got = python(
        "import json, sys\n"
        "from seqdata.cli import main\n"
        "code = main(['prepare', '--src', 's.txt', '--tgt', 't.txt', '--valid-src', 'vs.txt',"
        " '--valid-tgt', 'vt.txt', '--out', 'data', '--quiet'])\n"
        "print(json.dumps({'code': code, 'torch': 'torch' in sys.modules}))",
        cwd=tmp_path,
    )
    assert got == {"code": 0, "torch": False}
    summary = json.loads((tmp_path / "data" / "valid" / "summary.json").read_text("utf-8"))
    assert summary["pairs"] == 1
    assert summary["lengths"]["src"]["max"] == 2  # read back from the store's offsets
    corpus = seqdata.ParallelCorpus.load(tmp_path / "data" / "valid")
    assert corpus.src_lengths.tolist() == [2]


def test_the_top_level_help_lists_every_command_without_loading_them() -> None:
    got = python(
        "import contextlib, io, json, re, sys\n"
        "from seqdata.cli import COMMANDS, main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "listed = [c for c in COMMANDS if re.search(rf'^ +{c}\\b', out.getvalue(), re.M)]\n"
        "loaded = [c for c in COMMANDS if f'seqdata.cli.{c}' in sys.modules]\n"
        "print(json.dumps({'listed': listed, 'loaded': loaded, 'torch': 'torch' in sys.modules}))"
    )
    assert got == {"listed": list(seqdata.cli.COMMANDS), "loaded": [], "torch": False}


def test_every_public_name_resolves_and_a_wrong_one_is_an_attribute_error() -> None:
    assert sorted(seqdata._EXPORTS) == seqdata.__all__  # one list, two spellings
    for name, module in seqdata._EXPORTS.items():
        assert getattr(seqdata, name) is getattr(sys.modules[module], name)
    assert set(seqdata.__all__) <= set(dir(seqdata))
    with pytest.raises(AttributeError, match="no attribute 'Vocabulary'"):
        _ = seqdata.Vocabulary  # type: ignore[attr-defined]
