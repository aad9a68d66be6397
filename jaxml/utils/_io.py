"""Small file helpers shared by the run's writers (metrics, config, claims)."""

from __future__ import annotations

import os
from pathlib import Path


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Writes ``text`` to ``path`` through ``<path>.tmp`` and a rename.

    A kill mid-write leaves the old file or none, never a torn one; a reader (another process of
    a ``--distributed`` job, a resumed run) sees one whole version.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
