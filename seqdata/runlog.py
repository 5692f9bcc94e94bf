"""What a training run tells its user: log lines, periodic progress, a metrics file.

- [`setup_logging`][seqdata.runlog.setup_logging]: the ``seqdata`` logger writes plain lines
  on stdout (and, with ``log_file``, time-stamped lines to that file);
- [`ProgressLine`][seqdata.runlog.ProgressLine]: a line every few seconds while training —
  samples/s, the running loss, the ETA — readable in a job log or under ``nohup``, where a
  progress bar stays silent;
- [`MetricsLog`][seqdata.runlog.MetricsLog]: ``metrics.jsonl`` in the run folder, one JSON
  object per progress line and per epoch, for plotting tools.

>>> format_duration(3725)
'1h02m05s'
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["LOGGER", "MetricsLog", "ProgressLine", "format_duration", "setup_logging"]

LOGGER = "seqdata"
"""The name of the logger every command logs through."""


def setup_logging(log_file: str | os.PathLike[str] | None = None) -> logging.Logger:
    """The ``seqdata`` logger: message-only lines on stdout, and time-stamped ones in a file.

    Calling it again replaces the handlers it added before (one line per message, always).
    """
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if getattr(handler, "_seqdata", False):
            logger.removeHandler(handler)
            handler.close()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(logging.Formatter("%(message)s"))
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(log_file, encoding="utf-8")
        file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        handlers.append(file)
    for handler in handlers:
        handler._seqdata = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    return logger


def format_duration(seconds: float) -> str:
    """``75`` → ``'1m15s'``; hours when it takes hours."""
    if not math.isfinite(seconds):
        return "?"
    s = round(max(seconds, 0.0))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m:02d}m{s:02d}s"
    return f"{m}m{s:02d}s" if m else f"{s}s"


class MetricsLog:
    """Append JSON objects, one a line, to ``path`` (written at once: a killed run keeps them).

    A line that a killed run left half-written is cut off before the first new record, so
    the file stays one JSON object a line for every reader (a resumed run appends to it).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._checked = False

    def write(self, record: Mapping[str, Any]) -> None:
        """One JSON line (non-finite floats are written as ``null``)."""
        clean = {
            k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in record.items()
        }
        if not self._checked:
            self._cut_partial_line()
            self._checked = True
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(clean, sort_keys=True) + "\n")

    def _cut_partial_line(self) -> None:
        """Truncate the file after its last newline, if it does not end with one."""
        try:
            with self.path.open("rb+") as f:
                end = pos = f.seek(0, os.SEEK_END)
                while pos > 0:  # back from the end, a block at a time
                    start = max(pos - 4096, 0)
                    f.seek(start)
                    block = f.read(pos - start)
                    if pos == end and block.endswith(b"\n"):
                        return
                    cut = block.rfind(b"\n")
                    if cut >= 0:
                        f.truncate(start + cut + 1)
                        return
                    pos = start
                f.truncate(0)  # no newline at all: the one line is partial
        except FileNotFoundError:
            return

    def read(self) -> list[dict[str, Any]]:
        """Every record written so far."""
        if not self.path.is_file():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


class ProgressLine:
    """``Trainer``'s ``on_log`` hook: one progress line, and one metrics record.

    Args:
        total_steps: the steps of the whole run (for the ETA).
        epochs: the run's epochs (shown as ``epoch e/E``).
        metrics: where the record goes, or ``None``.
        show: log the line (``False``: only the metrics record).
    """

    def __init__(
        self, total_steps: int, epochs: int, metrics: MetricsLog | None, *, show: bool = True
    ) -> None:
        self.total_steps, self.epochs, self.metrics, self.show = total_steps, epochs, metrics, show
        self._start = time.perf_counter()
        self._first_step: int | None = None
        self.logger = logging.getLogger(LOGGER)

    def __call__(self, trainer: Any) -> None:
        p = trainer.progress
        if self._first_step is None:
            self._first_step = p.step - p.position
            self._start = time.perf_counter() - p.seconds
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        steps_per_s = (p.step - self._first_step) / elapsed
        left = max(self.total_steps - p.step, 0)
        eta = left / steps_per_s if steps_per_s > 0 else float("inf")
        samples_per_s = p.samples / max(p.seconds, 1e-9)
        loss = trainer.running_loss
        lr = trainer.optimizer.param_groups[0]["lr"] if trainer.optimizer is not None else None
        if self.show:
            self.logger.info(
                f"epoch {p.epoch + 1}/{self.epochs} step {p.step}/{self.total_steps}: "
                f"loss {loss:.4f}, {samples_per_s:,.0f} samples/s, ETA {format_duration(eta)}"
            )
        if self.metrics is not None:
            self.metrics.write(
                {
                    "kind": "progress",
                    "epoch": p.epoch + 1,
                    "step": p.step,
                    "train_loss": loss,
                    "samples_per_s": samples_per_s,
                    "lr": lr,
                    "eta_s": eta if math.isfinite(eta) else None,
                    "time": time.time(),
                }
            )
