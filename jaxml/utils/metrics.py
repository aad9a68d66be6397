"""Metric logging: one JSON object per line in ``metrics.jsonl``, mirrored to TensorBoard.

``metrics.jsonl`` is the record of a run: it holds only deterministic values (no wall-clock), so a
resumed run writes exactly the rows an uninterrupted run would. Throughput goes to TensorBoard only.
In a ``--distributed`` job every process computes the same rows; process 0 alone writes the files.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jaxml._distributed import is_primary
from jaxml.utils._io import write_text_atomically

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

    def __init__(
        self,
        workdir: str | os.PathLike,
        *,
        resume_step: int | None = None,
        tensorboard: bool = True,
    ):
        """Opens the log of a run that starts afresh, or that resumes after ``resume_step``.

        Rows after ``resume_step`` are dropped: the resumed run writes them again. A fresh run
        (``resume_step=None``) drops every row and the old TensorBoard events. Outside process 0
        nothing is written; ``rows`` is kept all the same.
        """
        self.path = Path(workdir) / METRICS_FILE
        self._primary = is_primary()
        # Every row of the run, resumed ones included: what the log holds once this writer is done.
        # Kept in memory so that processes other than 0 need not read a file process 0 is writing.
        self.rows = (
            []
            if resume_step is None
            else [r for r in read_metrics(self.path) if r["step"] <= resume_step]
        )
        self._tb = None
        if not self._primary:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The log keeps exactly the rows kept above; replaced atomically, so a kill loses nothing.
        write_text_atomically(self.path, "".join(json.dumps(r) + "\n" for r in self.rows))
        tb_dir = Path(workdir) / TENSORBOARD_DIR
        if resume_step is None and tb_dir.exists():
            shutil.rmtree(tb_dir)
        if tensorboard:
            from tensorboardX import SummaryWriter  # noqa: PLC0415 -- heavy import, only when used

            # Event files are named by the second; a unique suffix keeps a quick resume from
            # overwriting the file of the run it resumes.
            suffix = f".{os.getpid()}.{time.time_ns()}"
            self._tb = SummaryWriter(logdir=str(tb_dir), filename_suffix=suffix)

    def write(self, step: int, row: Mapping[str, Any], *, extra_scalars: Mapping[str, float] = ()):
        """Appends ``{"step": step, **row}``; ``extra_scalars`` go to TensorBoard only."""
        line = json.dumps({"step": int(step), **row})
        self.rows.append(json.loads(line))  # As read back from the file: tuples become lists.
        if not self._primary:
            return
        with self.path.open("a") as f:
            f.write(line + "\n")
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
