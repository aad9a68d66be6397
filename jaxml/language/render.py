"""A trained team's Foraging Games episode as a GIF with each agent's tokens drawn beside it.

"From Grunts to Lexicons" (Piriyajitakonkij et al. 2025, arXiv 2505.12872): the paper shows
episodes with the emitted tokens next to the agents; ``play_episode`` replays one episode with
the evaluator's argmax actions (the same reset and step order as ``play_episodes``, so a key
that ``play_episodes`` splits for episode ``e`` gives the same tokens here) and ``episode_frames``
draws it (matplotlib, off screen) for ``jaxml.envs.animate``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jumanji.wrappers import AutoResetWrapper
from matplotlib.patches import Circle, Rectangle

from jaxml.envs._render import animate
from jaxml.envs.foraging.viewer import AGENT_COLORS, ITEM_COLOR, grid_axes
from jaxml.language._collect import play_episode as play_one


def play_episode(policy: Any, params: Any, env: Any, key: jax.Array) -> dict[str, Any]:
    """One argmax episode of a team; jittable (``language.play_episode``, the loop that
    ``play_episodes`` runs, with the reset state put first).

    Args:
      policy: the trainer's ``mappo.Policy``.
      params: the team's ``[2, ...]`` agent-stacked parameters.
      env: a Foraging Game (an auto-reset wrapper is removed).
      key: the episode key (``play_episodes`` uses ``jax.random.split(key, E)[e]``).

    Returns:
      ``states`` (the state pytree stacked over ``T + 1`` steps: the reset, then each step's; a
      state after the end repeats the last one), ``actions`` ``[T, A]``, ``tokens`` ``[T, A, L]``
      (what the channel carried, ``extras["message_sent"]``) and ``live`` ``[T]`` bool (the step
      was taken before the episode ended).
    """
    if isinstance(env, AutoResetWrapper):
        env = env._env
    played = play_one(policy, params, env, key, deterministic=True)
    states = jax.tree.map(
        lambda s0, s: jnp.concatenate([s0[None], s]), played["start"], played["states"]
    )
    return {
        "states": states,
        "actions": played["actions"],
        "tokens": played["tokens"],
        "live": played["live"],
    }


def draw_frame(env: Any, state: Any, tokens: Any, pixels_per_cell: int = 48) -> np.ndarray:
    """[H, W, 3] uint8 picture of one unbatched state with ``tokens`` ``[A, L]`` beside the agents.

    Items show their scores (ScoreG, each in the colour of the agent that sees it) or appearance
    times (TemporalG); collected items are gone.
    """
    s = {k: np.asarray(v) for k, v in vars(state).items() if k != "key"}
    tokens = np.asarray(tokens)
    g = env.grid_size
    fig, canvas, ax = grid_axes(g, pixels_per_cell, 0.3, line_color="0.85")
    score_game = hasattr(env, "score_split")
    t = int(s["step_count"])
    for i, (row, col) in enumerate(s["item_pos"]):
        if s["item_collected"][i] or s["item_appear"][i] > t:
            continue
        seer = int(np.argmax(s["assigned"][:, i])) if s["assigned"][:, i].any() else None
        edge = AGENT_COLORS[seer % len(AGENT_COLORS)] if seer is not None else ITEM_COLOR
        ax.add_patch(Rectangle((col - 0.35, row - 0.35), 0.7, 0.7, facecolor=ITEM_COLOR,
                               edgecolor=edge, lw=2.5))  # fmt: skip
        label = str(s["item_score"][i]) if score_game else f"t{s['item_appear'][i]}"
        ax.text(col, row, label, ha="center", va="center", fontsize=9, weight="bold")
    for a, (row, col) in enumerate(s["agent_pos"]):
        color = AGENT_COLORS[a % len(AGENT_COLORS)]
        ax.add_patch(Circle((col, row), 0.28, color=color))
        ax.text(col, row, str(a), ha="center", va="center", color="white", weight="bold")
        # The agent's token(s) of this step, in a speech box above-right of it.
        said = " ".join(str(int(x)) for x in tokens[a])
        ax.text(col + 0.3, row - 0.3, said, ha="left", va="bottom", fontsize=9, color=color,
                bbox={"boxstyle": "round", "fc": "white", "ec": color})  # fmt: skip
    fig.suptitle(f"{type(env).__name__}  t={t}/{env.horizon}", fontsize=8)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def episode_frames(env: Any, episode: dict[str, Any], pixels_per_cell: int = 48) -> list:
    """One frame per step taken (``live``): the state after the step with the tokens it sent."""
    if isinstance(env, AutoResetWrapper):
        env = env._env
    live = np.asarray(episode["live"])
    frames = []
    for t in np.flatnonzero(live):
        state = jax.tree.map(lambda x, t=t: x[t + 1], episode["states"])
        frames.append(draw_frame(env, state, episode["tokens"][t], pixels_per_cell))
    return frames


def write_episode_gif(policy, params, env, key, path: str | Path, *, fps: float = 3.0) -> Path:
    """Plays ``play_episode`` and writes it as a GIF at ``path`` (one frame per step)."""
    episode = jax.jit(lambda p, k: play_episode(policy, p, env, k))(params, key)
    return animate(np.stack(episode_frames(env, episode)), path, fps=fps)
