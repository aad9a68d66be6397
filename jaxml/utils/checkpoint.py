"""Checkpoints of a whole training carry with orbax.

orbax writes each step into a temporary directory and renames it when complete, so a process killed
during a save leaves the previous checkpoint as the latest one. In a ``--distributed`` job every
process calls the same methods: orbax writes each shard once (replicated arrays from one process),
process 0 commits the step, and the processes wait for each other around it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

CHECKPOINT_DIR = "checkpoints"


class Checkpointer:
    """Saves and restores a pytree carry (params, optimizer state, RNG keys, ...) by step."""

    def __init__(self, workdir: str | os.PathLike, *, max_to_keep: int = 2):
        self.directory = (Path(workdir) / CHECKPOINT_DIR).absolute()
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep,
                # Synchronous saves: the loop goes on only once the step is on disk, so the metric
                # rows written before it never run ahead of a checkpoint by more than one chunk.
                enable_async_checkpointing=False,
                create=True,
            ),
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, carry: Any) -> None:
        # Wrapped in a dict: StandardSave refuses a bare array, and a carry may be one.
        self._manager.save(step, args=ocp.args.StandardSave({"carry": carry}))
        self._manager.wait_until_finished()

    def restore(self, step: int, like: Any) -> Any:
        """Restores ``step`` into the structure, shapes, dtypes and shardings of ``like``."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        restored = self._manager.restore(step, args=ocp.args.StandardRestore({"carry": abstract}))
        return restored["carry"]

    def delete_all(self) -> None:
        for step in self._manager.all_steps():
            self._manager.delete(step)

    def close(self) -> None:
        self._manager.close()
