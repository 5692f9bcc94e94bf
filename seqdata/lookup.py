"""Token → id lookups built once per vocabulary and probed chunk after chunk.

Arrow's ``index_in`` builds a hash table of its value set on every call: against a vocabulary
of ``V`` tokens that is ``O(V)`` work per call, which dominates small inputs (a
``datasets.map`` batch of 1,000 texts against 100,000 ids spends most of its time there),
and a Python dict costs a Python call per token. [`FormIds`][seqdata.lookup.FormIds] keeps
one mapping two ways, each built on first use: the Arrow value set, probed with one
``index_in`` when the input has at least ``2 V`` tokens (the fastest probe of a large
input), and for smaller inputs a polars
[`Categories`](https://docs.pola.rs/api/python/stable/reference/api/polars.datatypes.Categories.html)
mapping, a native hash table that lives as long as the lookup: one ``cast`` to its
``Categorical`` type gives every token's slot, and one numpy ``take`` turns slots into ids.
Either way a call costs ``O(T)``, not ``O(V)``.

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
import uuid
from typing import Any, NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from seqdata.flat import as_large_strings, lower_texts

__all__ = ["FormIds", "TokenLookup"]

_INDEX_IN_FACTOR = 2  # `index_in` for inputs of at least this many times the forms
_SPARE = 1 << 18  # unknown tokens a polars mapping may hold (beyond 2x its forms) before a rebuild
_EXTRA_FORMS = 1 << 12  # forms remembered beyond twice the vocabulary (see TokenLookup)


class _Mapping(NamedTuple):
    """One polars mapping: its ``Categorical`` type, a Series that keeps the mapping alive
    (polars frees a mapping that no data uses), and slot → id (``-1``: not a form; the last
    entry is always ``-1``, for every slot at or past it)."""

    dtype: pl.Categorical
    keep: pl.Series
    table: np.ndarray


class FormIds:
    """An exact string → id mapping, probed with whole Arrow arrays; new forms can be added.

    Args:
        forms: ``(F,)`` ``large_string`` forms (a form listed twice keeps its first id).
        ids: ``(F,)`` their ids.

    A probe of ``T`` tokens costs ``O(T)``; adding ``n`` forms costs ``O(n)`` (amortised):
    they join the polars mapping, if built, and a list of Arrow chunks, which are joined into
    one value set only when a large input needs ``index_in`` (which pays ``O(F)`` anyway).
    Every distinct token that a small probe meets takes a slot in the polars mapping; past
    ``2 F + 2**18`` slots the mapping is rebuilt from the forms alone, so memory stays
    bounded on any input.

    Safe to share between threads: slots only ever gain correct ids, and a rebuild or an
    `add` happens under the lock and swaps in the new state at once. Pickles as its forms and
    ids (a polars mapping belongs to one process).
    """

    def __init__(self, forms: pa.Array, ids: np.ndarray) -> None:
        self._chunks: list[tuple[pa.Array, np.ndarray]] = [
            (as_large_strings(forms), np.asarray(ids, dtype=np.int32))
        ]
        self._size = len(forms)
        self._lock = threading.Lock()
        # (the forms, their ids + a trailing -1 that the position -1 of a missing form picks)
        self._arrow: tuple[pa.Array, np.ndarray] | None = None
        self._mapping: _Mapping | None = None  # the polars mapping, built on first use

    def __len__(self) -> int:
        return self._size

    def __reduce__(self) -> tuple[Any, ...]:
        with self._lock:
            forms, ids = self._joined()
        return (type(self), (forms, ids))

    def probe(self, tokens: pa.Array) -> np.ndarray:
        """int32 ``(T,)``: each token's id, ``-1`` where it is not a form."""
        if len(tokens) == 0:
            return np.zeros(0, dtype=np.int32)
        if len(tokens) >= _INDEX_IN_FACTOR * self._size:
            forms, ids = self._value_set()
            found = pc.fill_null(pc.index_in(tokens, value_set=forms), -1)
            return ids[np.asarray(found.to_numpy(zero_copy_only=False))]
        mapping = self._mapping
        if mapping is None:
            mapping = self._rebuild(None)
        slots = _slots(mapping.dtype, tokens)
        table = mapping.table
        found = table[np.minimum(slots, len(table) - 1)]
        if int(slots.max()) > 2 * self._size + _SPARE:
            self._rebuild(mapping)
        return found

    def add(self, forms: pa.Array, ids: np.ndarray, limit: int) -> None:
        """Add ``forms`` ``(N,)`` with ``ids`` ``(N,)``, while there are fewer than ``limit``.

        A form known already keeps its id; of one listed twice, the first is added."""
        with self._lock:
            room = limit - self._size
            if room <= 0 or len(forms) == 0:
                return
            forms = as_large_strings(forms)
            mapping = self._mapping if self._mapping is not None else self._start()
            slots, rows = np.unique(_slots(mapping.dtype, forms), return_index=True)
            order = np.argsort(rows, kind="stable")  # in the order the forms come
            slots, rows = slots[order], rows[order]
            table = mapping.table
            fresh = np.flatnonzero(table[np.minimum(slots, len(table) - 1)] < 0)[:room]
            if not len(fresh):
                self._mapping = mapping
                return
            slots, rows = slots[fresh], rows[fresh]
            top = int(slots.max())
            if top >= len(table) - 1:  # grow geometrically: an add stays O(n) amortised
                grown = np.full(max(top + 2, 2 * len(table)), -1, dtype=np.int32)
                grown[: len(table)] = table
                table = grown
            new_ids = np.asarray(ids, dtype=np.int32)[rows]
            table[slots] = new_ids
            self._chunks.append((forms.take(pa.array(rows)), new_ids))
            self._size += len(rows)
            self._mapping = mapping._replace(table=table)
            self._arrow = None

    def _value_set(self) -> tuple[pa.Array, np.ndarray]:
        """The Arrow value set and its ids (with the trailing ``-1``), one snapshot."""
        state = self._arrow
        if state is None:
            with self._lock:
                if self._arrow is None:
                    forms, ids = self._joined()
                    with_missing = np.full(len(ids) + 1, -1, dtype=np.int32)
                    with_missing[:-1] = ids
                    self._arrow = (forms, with_missing)
                state = self._arrow
        return state

    def _rebuild(self, stale: _Mapping | None) -> _Mapping:
        """A fresh polars mapping, unless another thread replaced ``stale`` meanwhile."""
        with self._lock:
            mapping = self._mapping
            if mapping is stale or mapping is None:
                mapping = self._mapping = self._start()
            return mapping

    def _start(self) -> _Mapping:
        """A new polars mapping of the forms (call with the lock held)."""
        dtype = pl.Categorical(pl.Categories(uuid.uuid4().hex, "seqdata.lookup"))
        forms, ids = self._joined()
        keep = pl.Series(pl.from_arrow(forms)).cast(dtype)
        slots, rows = np.unique(keep.to_physical().to_numpy(), return_index=True)
        table = np.full(int(slots.max()) + 2 if len(slots) else 1, -1, dtype=np.int32)
        table[slots] = ids[rows]
        return _Mapping(dtype, keep, table)

    def _joined(self) -> tuple[pa.Array, np.ndarray]:
        """All forms and their ids, as one chunk (call with the lock held)."""
        if len(self._chunks) > 1:
            forms = pa.concat_arrays([chunk for chunk, _ in self._chunks])
            self._chunks = [(forms, np.concatenate([ids for _, ids in self._chunks]))]
        return self._chunks[0]


def _slots(dtype: pl.Categorical, strings: pa.Array) -> np.ndarray:
    """uint32 ``(N,)``: each string's slot in the mapping of ``dtype`` (new ones get one)."""
    return pl.Series(pl.from_arrow(strings)).cast(dtype).to_physical().to_numpy()


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
