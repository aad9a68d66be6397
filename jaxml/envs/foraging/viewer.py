"""RGB pictures of Foraging Games states, drawn with matplotlib off screen (no display needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

AGENT_COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple")
ITEM_COLOR = "goldenrod"


def grid_axes(
    grid_size: int, pixels_per_cell: int, title_inches: float, line_color: str = "0.8"
) -> tuple[Figure, FigureCanvasAgg, Any]:
    """An off-screen figure with a square axes of ``grid_size`` cells, row 0 at the top (the
    env's ``(row, col)``), cell lines drawn, and ``title_inches`` of room above it."""
    inches = (grid_size * pixels_per_cell + 40) / 100
    fig = Figure(figsize=(inches, inches + title_inches), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.96 * inches / (inches + title_inches)))
    ax.set_xlim(-0.5, grid_size - 0.5)
    ax.set_ylim(grid_size - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for k in range(grid_size + 1):
        ax.axhline(k - 0.5, color=line_color, lw=1)
        ax.axvline(k - 0.5, color=line_color, lw=1)
    return fig, canvas, ax


class ForagingViewer:
    """Draws one unbatched state: items (with score or appearance time), agents, their views.

    Collected items are gone; items that have not appeared yet are dashed outlines. Each agent's
    view window is a shaded square in its colour; the title gives ``t / T`` and the tokens each
    agent sent on the last step and received.

    Args:
      env: the ``ForagingGame`` whose states are drawn (for its grid, view size and horizon).
      pixels_per_cell: resolution of the picture.
    """

    def __init__(self, env: Any, pixels_per_cell: int = 64):
        self.env = env
        self.pixels_per_cell = pixels_per_cell

    def render(self, state: Any) -> np.ndarray:
        """[H, W, 3] uint8 RGB array of ``state``."""
        s = {k: np.asarray(v) for k, v in vars(state).items() if k != "key"}
        if s["agent_pos"].ndim != 2:
            raise ValueError(
                f"state: expected one unbatched state (agent_pos [A, 2]), got agent_pos "
                f"{s['agent_pos'].shape}; index the batch first"
            )
        g, radius = self.env.grid_size, self.env.view_size // 2
        fig, canvas, ax = grid_axes(g, self.pixels_per_cell, 0.5)
        score_game = hasattr(self.env, "score_split")
        t = int(s["step_count"])
        for i, (row, col) in enumerate(s["item_pos"]):
            if s["item_collected"][i]:
                continue
            shown = s["item_appear"][i] <= t
            ax.add_patch(
                Rectangle(
                    (col - 0.35, row - 0.35),
                    0.7,
                    0.7,
                    facecolor=ITEM_COLOR if shown else "none",
                    edgecolor=ITEM_COLOR,
                    linestyle="-" if shown else "--",
                    lw=2,
                )
            )
            label = str(s["item_score"][i]) if score_game else f"t{s['item_appear'][i]}"
            ax.text(col, row, label, ha="center", va="center", fontsize=10, weight="bold")
        for a, (row, col) in enumerate(s["agent_pos"]):
            color = AGENT_COLORS[a % len(AGENT_COLORS)]
            side = 2 * radius + 1
            ax.add_patch(
                Rectangle(
                    (col - radius - 0.5, row - radius - 0.5),
                    side,
                    side,
                    facecolor=color,
                    alpha=0.08,
                    edgecolor=color,
                    lw=1.5,
                )
            )
            ax.add_patch(Circle((col, row), 0.3, color=color))
            ax.text(col, row, str(a), ha="center", va="center", color="white", weight="bold")
        messages = "  ".join(
            f"a{a} sent {s['sent'][a].tolist()} got {s['inbox'][a].tolist()}"
            for a in range(len(s["sent"]))
        )
        fig.suptitle(f"{type(self.env).__name__}  t={t}/{self.env.horizon}\n{messages}", fontsize=8)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def close(self) -> None:
        """Nothing to release: every picture uses its own off-screen figure."""
