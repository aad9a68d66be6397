"""The scd experiment's figures and ``summary.md`` (Softly Constrained Denoisers, arXiv 2512.14980).

``records`` are the rows of ``results.json`` (one per task, method and constraint, with per-seed
metric lists); ``extras[task]`` holds the ``reference`` numbers of the data, the seed-0
``samples`` of every model and the task's ``constraints`` (name -> theta).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxml import diffusion
from jaxml.utils.plotting import plt

FIGURE = "samples.png"
DARCY_FIGURE = "darcy_samples.png"
LABELS = {"plain": "plain", "soft": "SCD (soft)", "pidm": "PIDM (loss reg.)", "dps": "DPS guid."}


def mean_std(values) -> str:
    v = np.asarray(values, np.float64)
    return f"{v.mean():.4f} ± {v.std():.4f}" if v.size > 1 else f"{v.mean():.4f}"


def write_figures(config, records, extras, workdir: Path) -> None:
    """``samples.png`` (the circle, or Darcy alone) and ``darcy_samples.png`` (with the circle)."""
    if "circle" in extras:
        plot_circle(config, records, extras["circle"], workdir / FIGURE)
    if "darcy" in extras:
        path = workdir / (DARCY_FIGURE if "circle" in extras else FIGURE)
        plot_darcy(config, records, extras["darcy"], path)


def plot_circle(config, records, extra, path: Path) -> None:
    constraints = extra["constraints"]
    specs_ = list(constraints)
    methods = [m for m in diffusion.METHODS if m in config.methods]
    cols = ["data", *methods, "hist"]
    fig, axes = plt.subplots(
        len(specs_), len(cols), figsize=(2.6 * len(cols), 2.6 * len(specs_)), squeeze=False
    )
    store = extra["samples"]
    theta = np.linspace(0, 2 * np.pi, 200)
    for row, spec in enumerate(specs_):
        a, b = (float(v) for v in constraints[spec])
        residual_fn = lambda x, a=a, b=b: diffusion.ellipse_residual(x, (a, b))  # noqa: E731
        for col, name in enumerate(cols):
            ax = axes[row, col]
            if name == "hist":
                for m in methods:
                    x = store.get((m, None if m == "plain" else spec))
                    if x is not None:
                        r = np.linalg.norm(x, axis=1) - config.circle.radius
                        ax.hist(r, bins=50, range=(-0.5, 0.5), histtype="step", label=LABELS[m])
                ax.set_title("||x|| - r_data", fontsize=8)
                if row == 0:
                    ax.legend(fontsize=6)
                continue
            x = (
                store["data"]
                if name == "data"
                else store.get((name, None if name == "plain" else spec))
            )
            if x is None:
                ax.axis("off")
                continue
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.5)
            # The contour of the constraint given to the methods (dashed) and the true circle.
            grid = np.linspace(-1.6, 1.6, 101)
            gx, gy = np.meshgrid(grid, grid)
            pts = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], 1), jnp.float32)
            level = np.asarray(jax.vmap(residual_fn)(pts))[:, 0].reshape(gx.shape)
            ax.contour(
                gx, gy, level, levels=[0.0], colors="tab:red", linestyles="--", linewidths=0.8
            )
            ax.plot(config.circle.radius * np.cos(theta), config.circle.radius * np.sin(theta),
                    color="k", lw=0.4)  # fmt: skip
            ax.set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), aspect="equal", xticks=[], yticks=[])
            title = "data" if name == "data" else LABELS[name]
            ax.set_title(f"{title} | {spec}" if name != "plain" else "plain", fontsize=8)
    fig.suptitle("circle toy, seed 0 samples (red dashed: constraint given; black: data circle)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_darcy(config, records, extra, path: Path) -> None:
    store = extra["samples"]
    keys = ["data"] + [k for k in store if k != "data"]
    fig, axes = plt.subplots(2, len(keys), figsize=(2.2 * len(keys), 4.4), squeeze=False)
    for col, k in enumerate(keys):
        x = store[k][0]
        for row in range(2):
            axes[row, col].imshow(x[..., row].T, origin="lower", cmap="viridis")
            axes[row, col].set(xticks=[], yticks=[])
        title = "data" if k == "data" else f"{LABELS[k[0]]}\n{k[1] or ''}"
        axes[0, col].set_title(title, fontsize=7)
    axes[0, 0].set_ylabel("log K (normalised)")
    axes[1, 0].set_ylabel("p (normalised)")
    fig.suptitle("Darcy flow, one sample per model (seed 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def claim_lines(records: list[dict]) -> list[str]:
    """The paper's two claims, checked on this run's numbers (seed means)."""
    by = {(r["method"], r["constraint"]): r for r in records}
    mean = lambda r, k: float(np.mean(r[k]))  # noqa: E731
    plain = by.get(("plain", "-"))
    out = ["", "Claims checked on these numbers (seed means):", ""]
    for (method, spec), r in by.items():
        if method != "soft":
            continue
        pidm, dps = by.get(("pidm", spec)), by.get(("dps", spec))
        if not r["misspecified"] and plain is not None:
            factor = mean(plain, "residual_true") / max(mean(r, "residual_true"), 1e-12)
            out.append(
                f"- {spec} (correct): SCD residual {factor:.1f}x smaller than plain; W1 "
                f"{mean(r, 'w1'):.4f} vs plain {mean(plain, 'w1'):.4f}."
            )
        elif r["misspecified"]:
            others = {"PIDM": pidm, "DPS": dps, "plain": plain}
            beats = [
                n for n, o in others.items() if o is not None and mean(r, "w1") < mean(o, "w1")
            ]
            loses = [n for n, o in others.items() if o is not None and n not in beats]
            out.append(
                f"- {spec} (misspecified): SCD W1 {mean(r, 'w1'):.4f} is lower than "
                f"{', '.join(beats) or 'none'}; not lower than {', '.join(loses) or 'none'}."
            )
    return out


def write_summary(config, records, extras, workdir: Path, seconds: float) -> None:
    lines = [
        "Softly constrained denoisers (arXiv 2512.14980) vs plain EDM, PIDM-style loss "
        "regularisation and DPS-style guidance. Mean ± std over seeds "
        f"({config.num_seeds} circle, {config.darcy.num_seeds} Darcy). W1: exact optimal "
        "assignment between equal-size sample sets; residual_true: mean |c_true| of the samples "
        "(physical units); residual_given: mean |c| of the constraint given to the method; "
        "diversity: mean pairwise distance.",
        "",
        f"SCD gamma: {config.soft.gamma_mode} (init {config.soft.gamma_init}, max "
        f"{config.soft.gamma_max}, stop_gradient={config.soft.stop_gradient}); "
        f"DPS weighting {config.dps_weighting}; PIDM penalty weighting "
        f"{config.pidm_sigma_weighting}.",
        "",
    ]
    for task, extra in extras.items():
        ref = extra["reference"]
        cfg = config[task]
        lines += [
            f"## {task}",
            "",
            f"{cfg.num_steps} training steps per model, {cfg.num_eval} samples per seed, Heun "
            f"{config.sampler.num_steps} steps. PIDM weight {cfg.pidm_weight}, DPS scale "
            f"{cfg.dps_scale}. Reference: W1(data, fresh data) = {ref['w1_data_vs_data']:.4f}, "
            f"residual of data = {ref['residual_true_data']:.4g}, data diversity = "
            f"{ref['diversity_data']:.4f}.",
            "",
            "| method | constraint | misspec. | W1 | sliced W1 | residual_true | residual_given "
            "| diversity | all finite |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in (r for r in records if r["task"] == task):
            given = mean_std(r["residual_given"]) if "residual_given" in r else "—"
            lines.append(
                f"| {LABELS[r['method']]} | {r['constraint']} | "
                f"{'yes' if r['misspecified'] else 'no'} | {mean_std(r['w1'])} | "
                f"{mean_std(r['sliced_w1'])} | {mean_std(r['residual_true'])} | {given} | "
                f"{mean_std(r['diversity'])} | {all(r['finite'])} |"
            )
        lines += claim_lines([r for r in records if r["task"] == task])
        gammas = [r for r in records if r["task"] == task and "gamma" in r]
        if gammas:
            lines += ["", "Learned/scheduled gamma(sigma) of SCD (seed mean) at the end:", ""]
            for r in gammas:
                g = ", ".join(f"σ={k}: {v:.3f}" for k, v in r["gamma"].items())
                lines.append(f"- {r['constraint']}: {g}")
        lines.append("")
    if "darcy" in extras:
        lines += [
            f"Darcy models are small U-Nets trained for {config.darcy.num_steps} steps: in the "
            "quick preset they are under-trained, so the Darcy rows check the pipeline and compare "
            "methods at equal (small) budget only.",
            "",
        ]
    lines += [f"Total wall time: {seconds:.1f} s.", "", f"![samples]({FIGURE})", ""]
    if "darcy" in extras and "circle" in extras:
        lines += [f"![darcy]({DARCY_FIGURE})", ""]
    (workdir / "summary.md").write_text("\n".join(lines))
