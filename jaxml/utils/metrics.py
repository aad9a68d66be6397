"""Metric logging: one JSON object per line in ``metrics.jsonl``, mirrored to TensorBoard.

``metrics.jsonl`` is the record of a run: it holds only deterministic values (no wall-clock), so a
resumed run writes exactly the rows an uninterrupted run would. Throughput goes to TensorBoard only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a ``metrics.jsonl`` file; a torn last line (a kill mid-write) is skipped."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


class MetricsWriter:
    """Appends metric rows to ``<workdir>/metrics.jsonl`` and TensorBoard event files."""

    def __init__(self, workdir: str | os.PathLike, *, tensorboard: bool = True):
        self.path = Path(workdir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter  # noqa: PLC0415 -- heavy import, only when used

            self._tb = SummaryWriter(logdir=str(Path(workdir) / TENSORBOARD_DIR))

    def reset(self, last_step: int | None) -> None:
        """Keeps only rows with ``step <= last_step`` (all rows are dropped when it is None).

        Called on start-up: rows written after the last checkpoint are written again by the resumed
        run. The file is replaced atomically so a kill here loses nothing.
        """
        keep = (
            []
            if last_step is None
            else [r for r in read_metrics(self.path) if r["step"] <= last_step]
        )
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in keep))
        os.replace(tmp, self.path)

    def write(self, step: int, row: Mapping[str, Any], *, extra_scalars: Mapping[str, float] = ()):
        """Appends ``{"step": step, **row}``; ``extra_scalars`` go to TensorBoard only."""
        record = {"step": int(step), **row}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self._tb is not None:
            for name, value in {**row, **dict(extra_scalars)}.items():
                if isinstance(value, int | float):
                    self._tb.add_scalar(name, value, global_step=int(step))
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
