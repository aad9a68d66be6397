"""Episode GIFs for any environment with ``render(state) -> [H, W, 3] uint8``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from PIL import Image


def _unstack(states: Any) -> list[Any]:
    """A list of states from a list/tuple of states or one pytree stacked on a leading axis."""
    if isinstance(states, (list, tuple)):
        return list(states)
    leaves = jax.tree.leaves(states)
    if not leaves:
        raise ValueError("states: got an empty pytree; expected states or frames")
    return [jax.tree.map(lambda x, i=i: x[i], states) for i in range(leaves[0].shape[0])]


def animate(
    states: Sequence[Any] | Any,
    path: str | Path,
    render: Callable[[Any], np.ndarray] | None = None,
    *,
    fps: float = 4.0,
) -> Path:
    """Writes an episode as a looping GIF and returns its path.

    Args:
      states: a sequence of unbatched states, one state pytree stacked on a leading time axis
        (e.g. the states a ``lax.scan`` rollout returns), or [T, H, W, 3] uint8 frames.
      path: the ``.gif`` file to write (parent folders are created).
      render: turns one state into an [H, W, 3] uint8 array, typically ``env.render``; leave it
        out when ``states`` are frames already.
      fps: frames per second.

    Example::

      jaxml.envs.animate(states, "results/episode.gif", env.render)
    """
    items = _unstack(states)
    if not items:
        raise ValueError("states: got no states to animate")
    frames = [np.asarray(render(s) if render is not None else s) for s in items]
    for i, frame in enumerate(frames):
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            raise ValueError(
                f"states: frame {i} is {frame.dtype} {frame.shape}; expected uint8 [H, W, 3] "
                "(pass render=env.render to draw states)"
            )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(
        path,
        save_all=True,
        append_images=images[1:],
        duration=int(round(1000 / fps)),
        loop=0,
    )
    return path
