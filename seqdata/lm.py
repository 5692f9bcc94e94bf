"""Language-model data: a token stream folded into columns and cut into BPTT chunks.

The loops that train on the chunks, ``train_bptt`` and ``evaluate_bptt``, live with the
other training loops in ``seqdata.train``.

Truncated BPTT: backpropagate through a fixed number of steps only. The stream is
folded into ``batch_size`` columns (torch's word_language_model ``batchify``, but batch-first),
so row ``b`` of every chunk continues row ``b`` of the previous chunk; the hidden state is
carried from chunk to chunk and detached in between, cutting the graph (and the gradient)
at the chunk boundary.

>>> batcher = BPTTBatcher(list(range(10)), batch_size=2, bptt_len=2)
>>> batcher.data.tolist()                                  # (B, N): two streams of 5
[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
>>> [(x.tolist(), y.tolist()) for x, y in batcher]         # target = input shifted by one
[([[0, 1], [5, 6]], [[1, 2], [6, 7]]), ([[2, 3], [7, 8]], [[3, 4], [8, 9]])]
>>> len(batcher)
2
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from seqdata._checks import check_int, check_state_keys
from seqdata.errors import ConfigError, ShapeError, StateDictError

__all__ = ["BPTTBatcher"]


class BPTTBatcher:
    """Fold a 1-D id stream into ``(B, N)`` and iterate ``(x, y)`` chunks of ``(B, T)``.

    ``x = data[:, i : i+T]`` and ``y = data[:, i+1 : i+1+T]``; the last chunk may be shorter.
    The last ``len(ids) % batch_size`` ids do not fit a column and are left out (see
    ``num_dropped``), as in torch's ``batchify``.

    Like every stateful stage of seqdata, a fresh ``iter()`` starts the pass at chunk 0 (also
    after a ``break``); only `load_state_dict` (or unpickling a batcher taken mid-pass)
    makes the next ``iter()`` continue from the saved position. ``state_dict()`` records the
    chunks taken so far in the current pass.

    Args:
        ids: the token stream, a 1-D sequence / numpy array / tensor of integer ids.
        batch_size: number of columns ``B`` (parallel streams).
        bptt_len: chunk length ``T`` (steps of backpropagation).
    """

    def __init__(
        self, ids: Sequence[int] | np.ndarray | Tensor, batch_size: int, bptt_len: int
    ) -> None:
        batch_size = check_int("batch_size", batch_size)
        bptt_len = check_int("bptt_len", bptt_len)
        data = torch.as_tensor(np.asarray(ids) if not isinstance(ids, Tensor) else ids)
        if data.dim() != 1 or data.dtype.is_floating_point or data.dtype == torch.bool:
            raise ShapeError(
                f"ids should be a 1-D stream of integer ids, but got shape {tuple(data.shape)}, "
                f"dtype={data.dtype}"
            )
        per_column = data.numel() // batch_size  # N
        if per_column < 2:
            raise ConfigError(
                f"a stream of {data.numel()} ids is too short for batch_size={batch_size}: each "
                f"column needs at least 2 ids (an input and its target); use a smaller batch_size"
            )
        self.batch_size = batch_size
        self.bptt_len = bptt_len
        self.num_tokens = int(data.numel())
        self.num_dropped = self.num_tokens - per_column * batch_size
        self.data = data[: per_column * batch_size].long().view(batch_size, per_column)  # (B, N)
        self._position = 0
        self._resume = False

    def __len__(self) -> int:
        return math.ceil((self.data.shape[1] - 1) / self.bptt_len)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if not self._resume or self._position >= len(self):
            self._position = 0
        self._resume = False
        last = self.data.shape[1] - 1  # the final id is only ever a target
        while self._position < len(self):
            start = self._position * self.bptt_len
            stop = min(start + self.bptt_len, last)
            self._position += 1
            yield self.data[:, start:stop], self.data[:, start + 1 : stop + 1]  # (B, T) each
        self._position = 0

    def state_dict(self) -> dict[str, int]:
        """The position (chunks taken this pass) and the shape it is valid for."""
        return {
            "batch_size": self.batch_size,
            "bptt_len": self.bptt_len,
            "num_tokens": self.num_tokens,
            "position": self._position,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a position saved by `state_dict` from a batcher of the same stream.

        Raises:
            StateDictError: unknown or missing keys, a different shape, or a bad position.
        """
        expected = self.state_dict()
        config = {key: expected[key] for key in ("batch_size", "bptt_len", "num_tokens")}
        check_state_keys("BPTTBatcher", state, expected, config)
        position = state["position"]
        if isinstance(position, bool) or not isinstance(position, int):
            raise StateDictError(f"position should be an int, but got position={position!r}")
        if not 0 <= position <= len(self):
            raise StateDictError(
                f"position should be in [0, {len(self)}] (chunks per pass), but got "
                f"position={position}"
            )
        self._position = position
        self._resume = True

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._resume = True  # an unpickled batcher continues where the original was
