"""Pure bucketing policy: bucket keys, length groups, k-d cuts and token-budget bounds.

Functions of the length arrays only, with no state: the samplers in
`seqdata.samplers` call them once in ``__init__`` and only iterate afterwards.

>>> ks, _ = bucket_keys(np.array([3, 1, 3, 2]), None, 1)
>>> ks.tolist()
[3, 1, 3, 2]
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from seqdata.errors import ConfigError, InputTypeError

__all__ = [
    "as_lengths",
    "bucket_keys",
    "length_groups",
    "lengths_fingerprint",
    "partition_cells",
    "token_budget_bounds",
]


def as_lengths(name: str, lengths: Any) -> np.ndarray:
    """``lengths`` (a sequence, array or tensor) as a checked ``(N,)`` int64 array.

    Raises:
        InputTypeError: not 1-D integers.
        ConfigError: empty, or a negative length (its index named).
    """
    if hasattr(lengths, "detach"):  # a torch tensor
        lengths = lengths.detach().cpu().numpy()
    array = np.asarray(lengths)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise InputTypeError(
            f"{name} should be a 1-D array of integer lengths, but got shape {array.shape} and "
            f"dtype {array.dtype}"
        )
    if array.size == 0:
        raise ConfigError(f"{name} should hold at least one length, but got an empty array")
    array = array.astype(np.int64, copy=False)
    if int(array.min()) < 0:
        first = int(np.argmax(array < 0))
        raise ConfigError(f"{name} should be >= 0, but got {name}[{first}]={int(array[first])}")
    return array


def lengths_fingerprint(src_lengths: np.ndarray, tgt_lengths: np.ndarray | None) -> str:
    """A short hash of the length arrays: two corpora of the same size but other lengths differ.

    >>> lengths_fingerprint(np.array([1, 2]), None) == lengths_fingerprint(np.array([2, 1]), None)
    False
    """
    digest = hashlib.blake2b(digest_size=8)
    for lengths in (src_lengths, tgt_lengths):
        if lengths is not None:
            digest.update(np.ascontiguousarray(lengths, dtype=np.int64).tobytes())
        digest.update(b"|")
    return digest.hexdigest()


def bucket_keys(
    src_lengths: np.ndarray, tgt_lengths: np.ndarray | None, width: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The length-bucket key, with the **true** minimum lengths.

    ``((src_len - min_src + 1) // width, (tgt_len - min_tgt + 1) // width)``.

    >>> ks, kt = bucket_keys(np.array([7, 3, 12]), np.array([5, 9, 5]), 5)
    >>> ks.tolist(), kt.tolist()
    ([1, 0, 2], [0, 1, 0])
    """
    ks = (src_lengths - src_lengths.min() + 1) // width
    kt = None if tgt_lengths is None else (tgt_lengths - tgt_lengths.min() + 1) // width
    return ks, kt


def length_groups(
    src_keys: np.ndarray, tgt_keys: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """Dense group ids of the ``(src_key, tgt_key)`` pairs, numbered in key order.

    Returns ``(group, num_groups)`` with ``group`` of shape ``(N,)``, ``uint16`` when there
    are at most 65,536 groups (the per-epoch stable argsort of ``uint16`` is a radix sort),
    else ``int32``.

    >>> group, count = length_groups(np.array([3, 1, 3, 2]), np.array([0, 5, 0, 1]))
    >>> group.tolist(), count
    ([2, 0, 2, 1], 3)
    """
    n = len(src_keys)
    combined = src_keys
    if tgt_keys is not None:
        combined = src_keys * (int(tgt_keys.max()) + 1) + tgt_keys
    top = int(combined.max()) + 1
    if top <= max(4 * n, 1 << 20):  # dense key range: counting instead of sorting
        present = np.bincount(combined, minlength=top) > 0
        inverse = (np.cumsum(present) - 1)[combined]
        count = int(present.sum())
    else:
        uniq, inverse = np.unique(combined, return_inverse=True)
        count = len(uniq)
    dtype = np.uint16 if count <= 1 << 16 else np.int32
    return inverse.astype(dtype), count


def _insert_cuts(
    cell: np.ndarray, count: np.ndarray, bounds: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add boundaries after ``targets`` examples (cumulative), cutting runs where needed."""
    csum = np.zeros(len(count) + 1, dtype=np.int64)
    np.cumsum(count, out=csum[1:])
    e = np.searchsorted(csum, targets)  # csum[e] >= target
    exact = csum[e] == targets
    cut = e[~exact] - 1  # run `cut` straddles its target: split it in two
    left = targets[~exact] - csum[cut]
    rest = count[cut] - left
    count = count.copy()
    count[cut] = left
    ins = cut + 1  # ascending, distinct (one cut per segment)
    shift = np.concatenate([bounds, e[exact]])
    shift = shift + np.searchsorted(ins, shift, side="right")
    cell = np.insert(cell, ins, cell[cut])
    count = np.insert(count, ins, rest)
    new = ins + np.arange(len(ins))
    return cell, count, np.unique(np.concatenate([shift, new]))


def partition_cells(
    cell_src: np.ndarray,
    cell_tgt: np.ndarray | None,
    counts: np.ndarray,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut weighted length cells into batches of exactly ``batch_size`` tight on both sides.

    A k-d partition: every segment (initially all cells) holding more than ``batch_size``
    examples is sorted along the side where its padding waste (``size·max − sum``) is larger
    and cut in two at a multiple of ``batch_size`` near its middle; a cell may be cut between
    the two halves. It ends when every segment holds ``batch_size`` examples, so a batch is a
    small box in the ``(src_len, tgt_len)`` plane — unlike a lexicographic sort, whose
    batches are tight on the source but can span a wide range of target lengths (e.g.
    misaligned pairs at the end of every source length's run). All work is on cells, not
    examples: about ``log2(N / batch_size)`` vectorized passes.

    Args:
        cell_src, cell_tgt: ``(G,)`` the (longest) lengths of each cell; ``cell_tgt=None``
            partitions on the source alone (a sort).
        counts: ``(G,)`` examples per cell; ``counts.sum()`` a multiple of ``batch_size``.

    Returns:
        ``(cells, runs)``: consecutive runs of ``runs[i]`` examples of cell ``cells[i]``;
        every ``batch_size`` consecutive examples form one batch.

    >>> cells, runs = partition_cells(np.array([2, 2, 9, 9]), np.array([2, 9, 2, 9]),
    ...                               np.array([2, 2, 2, 2]), 2)
    >>> list(zip(cells.tolist(), runs.tolist()))
    [(0, 2), (1, 2), (2, 2), (3, 2)]
    """
    cell = np.flatnonzero(counts > 0)
    count = counts[cell].astype(np.int64)
    if cell_tgt is None:
        order = np.argsort(cell_src[cell], kind="stable")
        return cell[order], count[order]
    bounds = np.array([0, len(cell)], dtype=np.int64)
    while True:
        starts, lens = bounds[:-1], np.diff(bounds)
        csum = np.zeros(len(count) + 1, dtype=np.int64)
        np.cumsum(count, out=csum[1:])
        sizes = csum[bounds[1:]] - csum[starts]
        split = sizes > batch_size
        if not split.any():
            return cell, count
        src, tgt = cell_src[cell], cell_tgt[cell]
        waste_s = sizes * np.maximum.reduceat(src, starts) - np.add.reduceat(src * count, starts)
        waste_t = sizes * np.maximum.reduceat(tgt, starts) - np.add.reduceat(tgt * count, starts)
        on_src = np.repeat(waste_s >= waste_t, lens)
        segment = np.repeat(np.arange(len(lens)), lens)
        perm = np.lexsort((np.where(on_src, tgt, src), np.where(on_src, src, tgt), segment))
        cell, count = cell[perm], count[perm]
        half = batch_size * np.maximum(1, sizes[split] // batch_size // 2)
        cell, count, bounds = _insert_cuts(cell, count, bounds, csum[starts[split]] + half)


def token_budget_bounds(
    src_lengths: np.ndarray,
    tgt_lengths: np.ndarray | None,
    max_tokens: int,
    *,
    batch_size_multiple: int = 1,
    max_batch_size: int | None = None,
) -> np.ndarray:
    """Greedy cuts of an (already length-ordered) sequence into token-budget batches.

    A batch ``[a, b)`` is extended while ``(b - a) * max(lengths[a:b]) <= max_tokens`` on
    each side; its size is then rounded down to a multiple of ``batch_size_multiple`` (when
    at least that many fit) and capped by ``max_batch_size``. An example longer than the
    budget on its own gets a batch of one. One numpy pass per *batch*, none per example.

    Returns:
        ``(num_batches + 1,)`` int64 boundaries, from 0 to ``N``.

    >>> token_budget_bounds(np.array([1, 2, 2, 3, 5, 9]), None, 6).tolist()
    [0, 3, 4, 5, 6]
    """
    n = len(src_lengths)
    longest = src_lengths if tgt_lengths is None else np.maximum(src_lengths, tgt_lengths)
    cap = n if max_batch_size is None else max_batch_size
    bounds = [0]
    i = 0
    while i < n:
        # the batch's longest is at least longest[i], so no more than
        # max_tokens // longest[i] examples fit: one window per batch suffices
        window = min(n - i, cap, max_tokens // max(1, int(longest[i])))
        size = 1
        if window > 1:
            count = np.arange(1, window + 1, dtype=np.int64)
            ok = count * np.maximum.accumulate(src_lengths[i : i + window]) <= max_tokens
            if tgt_lengths is not None:
                ok &= count * np.maximum.accumulate(tgt_lengths[i : i + window]) <= max_tokens
            size = window if ok[-1] else max(1, int(np.argmin(ok)))
            if batch_size_multiple > 1 and size >= batch_size_multiple:
                size -= size % batch_size_multiple
        i += size
        bounds.append(i)
    return np.asarray(bounds, dtype=np.int64)
