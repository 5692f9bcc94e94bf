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

    Safe to share between threads: a probe reads one consistent snapshot; `add` swaps in a
    new one (and adds to the dict in place, which only ever gains correct entries).
    """

    def __init__(self, forms: pa.Array, ids: np.ndarray) -> None:
        # (forms, their ids + a trailing -1 that the position -1 of a missing form picks)
        self._state = (as_large_strings(forms), _with_missing(ids))
        self._table: dict[str, int] | None = None  # the same mapping as a dict, built lazily
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._state[0])

    def probe(self, tokens: pa.Array) -> np.ndarray:
        """int32 ``(T,)``: each token's id, ``-1`` where it is not a form."""
        forms, ids = self._state
        if len(tokens) == 0:
            return np.zeros(0, dtype=np.int32)
        if len(tokens) >= _INDEX_IN_FACTOR * len(forms):
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
            known, known_ids = self._state
            room = limit - len(known)
            if room <= 0:
                return
            forms, ids = as_large_strings(forms).slice(0, room), ids[:room]
            fresh = pc.invert(pc.is_in(forms, value_set=known))  # another thread's, maybe
            forms, ids = forms.filter(fresh), ids[np.asarray(fresh)]
            if self._table is not None:
                self._table.update(zip(forms.to_pylist(), ids.tolist(), strict=True))
            self._state = (
                pa.concat_arrays([known, forms]),
                _with_missing(np.concatenate([known_ids[:-1], ids])),
            )

    def _dict(self) -> dict[str, int]:
        if self._table is None:
            with self._lock:
                if self._table is None:
                    forms, ids = self._state
                    self._table = dict(zip(forms.to_pylist(), ids[:-1].tolist(), strict=True))
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
