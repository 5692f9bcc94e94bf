"""Token → id lookups built once per vocabulary and probed chunk after chunk.

Arrow's ``index_in`` builds a hash table of its value set on every call: against a vocabulary
of ``V`` tokens that is ``O(V)`` work per call, which dominates small inputs (a
``datasets.map`` batch of 1,000 texts against 100,000 ids spends most of its time there).
[`FormIds`][seqdata.lookup.FormIds] keeps one mapping two ways, both built once: the Arrow
value set, probed with one ``index_in`` when the input has at least ``2 V`` tokens, and a
Python dict for smaller inputs, probed once per *distinct* token of the input (Arrow's
``dictionary_encode`` finds them). Either way a call costs ``O(T)``, not ``O(V)``.

[`TokenLookup`][seqdata.lookup.TokenLookup] is what a vocabulary uses: exact lookup, or
lookup after Python's ``str.lower`` where each distinct cased form is lowered once and
remembered.

>>> import pyarrow as pa
>>> look = TokenLookup(pa.array(["<pad>", "<unk>", "cat"], pa.large_string()), unk=1)
>>> look.lookup(pa.array(["cat", "dog", "cat"], pa.large_string())).tolist()
[2, 1, 2]
"""

from __future__ import annotations

import threading

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from seqdata.flat import as_large_strings, lower_texts

__all__ = ["FormIds", "TokenLookup"]

_INDEX_IN_FACTOR = 2  # `index_in` for inputs of at least this many times the value set
_EXTRA_FORMS = 1 << 12  # forms remembered beyond twice the vocabulary (see TokenLookup)


class FormIds:
    """An exact string → id mapping, probed with whole Arrow arrays; new forms can be added.

    Args:
        forms: ``(F,)`` distinct ``large_string`` forms.
        ids: ``(F,)`` their ids.

    Adding ``n`` forms costs ``O(n)``: they go into the dict and join a list of Arrow chunks,
    which are concatenated into one value set only when a large input needs ``index_in``
    (a probe of ``2 F`` tokens or more, which pays ``O(F)`` anyway).

    Safe to share between threads: the dict only ever gains correct entries, and the Arrow
    value set is one snapshot, rebuilt under the lock after an `add`.
    """

    def __init__(self, forms: pa.Array, ids: np.ndarray) -> None:
        forms = as_large_strings(forms)
        self._chunks: list[tuple[pa.Array, np.ndarray]] = [(forms, ids.astype(np.int32))]
        self._size = len(forms)
        # (forms, their ids + a trailing -1 that the position -1 of a missing form picks)
        self._arrow: tuple[pa.Array, np.ndarray] | None = None
        self._table: dict[str, int] | None = None  # the same mapping as a dict, built lazily
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    def probe(self, tokens: pa.Array) -> np.ndarray:
        """int32 ``(T,)``: each token's id, ``-1`` where it is not a form."""
        if len(tokens) == 0:
            return np.zeros(0, dtype=np.int32)
        if len(tokens) >= _INDEX_IN_FACTOR * self._size:
            forms, ids = self._value_set()
            found = pc.fill_null(pc.index_in(tokens, value_set=forms), -1)
            return ids[np.asarray(found.to_numpy(zero_copy_only=False))]
        encoded = pc.dictionary_encode(tokens)  # the distinct tokens, and which each one is
        get = self._dict().get
        distinct = encoded.dictionary.to_pylist()
        distinct_ids = np.fromiter((get(t, -1) for t in distinct), np.int32, len(distinct))
        return distinct_ids[np.asarray(encoded.indices.to_numpy(zero_copy_only=False))]

    def add(self, forms: pa.Array, ids: np.ndarray, limit: int) -> None:
        """Add ``forms`` ``(N,)`` with ``ids`` ``(N,)``, while there are fewer than ``limit``."""
        with self._lock:
            room = limit - self._size
            if room <= 0:
                return
            table = self._build_dict()
            forms = as_large_strings(forms)
            fresh: dict[str, int] = {}  # form -> its first row; known ones skipped
            for row, form in enumerate(forms.to_pylist()):
                if len(fresh) == room:
                    break
                if form not in table:  # another thread may have added it
                    fresh.setdefault(form, row)
            if not fresh:
                return
            rows = np.fromiter(fresh.values(), np.int64, len(fresh))
            table.update(zip(fresh, ids[rows].tolist(), strict=True))
            self._chunks.append((forms.take(pa.array(rows)), ids[rows].astype(np.int32)))
            self._size += len(fresh)
            self._arrow = None

    def _value_set(self) -> tuple[pa.Array, np.ndarray]:
        """The Arrow value set and its ids (with the trailing ``-1``), one snapshot."""
        state = self._arrow
        if state is None:
            with self._lock:
                if self._arrow is None:
                    forms = pa.concat_arrays([chunk for chunk, _ in self._chunks])
                    ids = np.concatenate([chunk_ids for _, chunk_ids in self._chunks])
                    self._chunks = [(forms, ids)]
                    self._arrow = (forms, _with_missing(ids))
                state = self._arrow
        return state

    def _dict(self) -> dict[str, int]:
        table = self._table
        if table is None:
            with self._lock:
                table = self._build_dict()
        return table

    def _build_dict(self) -> dict[str, int]:
        """The dict, built from the chunks if it is not yet (call with the lock held)."""
        if self._table is None:
            table: dict[str, int] = {}
            for forms, ids in self._chunks:
                table.update(zip(forms.to_pylist(), ids.tolist(), strict=True))
            self._table = table
        return self._table


class TokenLookup:
    """Ids of tokens against a vocabulary's ``value_set`` (its tokens in id order).

    Without ``fixed_set`` the lookup is exact. With it, the tokens are looked up as Python's
    ``str.lower`` would make them: ``fixed_set`` is ``value_set`` with the tokens that
    ``str.lower`` changes made unmatchable, so a token found there is its own lowercase;
    each other form (a capitalised or an unknown word) is lowered
    ([`lower_texts`][seqdata.flat.lower_texts]) once, looked up in ``value_set``, and
    remembered with its id (up to ``limit`` forms), so later chunks find it directly.

    Args:
        value_set: ``(V,)`` the vocabulary's tokens (plus any suffix the tokens carry).
        unk: the id of a token not in the vocabulary.
        fixed_set: see above; None for the exact lookup.
        limit: the most forms known, the vocabulary's included (default ``2 V + 4096``: a
            probe costs time in proportion to them, and the frequent cased forms come first).
    """

    def __init__(
        self,
        value_set: pa.Array,
        unk: int,
        fixed_set: pa.Array | None = None,
        limit: int | None = None,
    ) -> None:
        positions = np.arange(len(value_set), dtype=np.int32)
        self.unk = unk
        self.limit = 2 * len(value_set) + _EXTRA_FORMS if limit is None else limit
        self._values = FormIds(value_set, positions)
        self._known = None if fixed_set is None else FormIds(fixed_set, positions)

    def lookup(self, tokens: pa.Array) -> np.ndarray:
        """int32 ``(T,)``: the id of each ``large_string`` token (``unk`` when unknown)."""
        if self._known is None:
            ids = self._values.probe(tokens)
            ids[ids < 0] = self.unk
            return ids
        ids = self._known.probe(tokens)
        missing = np.flatnonzero(ids < 0)
        if len(missing):
            new = pc.dictionary_encode(tokens.take(pa.array(missing)))
            lowered = lower_texts(pl.Series(pl.from_arrow(new.dictionary)))
            new_ids = self._values.probe(as_large_strings(lowered))
            new_ids[new_ids < 0] = self.unk
            ids[missing] = new_ids[np.asarray(new.indices.to_numpy(zero_copy_only=False))]
            self._known.add(new.dictionary, new_ids, self.limit)
        return ids


def _with_missing(ids: np.ndarray) -> np.ndarray:
    """int32 ``ids`` and a trailing ``-1``, the id that a missing form's position ``-1`` picks."""
    out = np.empty(len(ids) + 1, dtype=np.int32)
    out[:-1], out[-1] = ids, -1
    return out
