"""The GRNG report (arXiv 2601.18420): per-task curves of each optimizer's best learning rate,
``summary.md`` (test loss and accuracy or perplexity per seed) and ``claims.json``: the paper's
claims (better generalization than every baseline; lower average gradient norm than AdamW and
Sophia, its Figure 1) checked per task, in the seed mean and seed by seed."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from jaxml.utils import claims as claims_lib
from jaxml.utils.claims import best_of
from jaxml.utils.plotting import plt

# The gradient-regularized methods, fixed and adaptive (docs/kfac_adaptive.md), and the baselines
# the paper compares them with (SGD, AdamW, Sophia, K-FAC; K-FAC in both forms here).
GRNG = ("ring", "reng", "rkalman", "ring_adaptive", "reng_adaptive")
BASELINES = ("sgd", "adamw", "sophia", "kfac", "kfac_adaptive")
LABELS = {"sgd": "SGD", "adamw": "AdamW", "sophia": "Sophia", "kfac": "K-FAC",
          "kfac_adaptive": "adaptive K-FAC", "ring": "RING", "reng": "RENG",
          "rkalman": "R-Kalman", "ring_adaptive": "adaptive RING",
          "reng_adaptive": "adaptive RENG"}  # fmt: skip


def plot_task(task_name: str, task_quality: str, records: list[dict], path: Path) -> None:
    """Train/test loss against steps and wall-clock, test accuracy or perplexity, gradient norm."""
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
    quality = f"test_{task_quality}"
    ran = [r for r in records if r["best_lr"] is not None]
    for r in ran:
        label = f"{r['optimizer']} (lr {r['best_lr']:g})"
        style = {"lw": 2.0} if r["optimizer"] in GRNG else {"lw": 1.0, "ls": "--"}
        axes[0, 0].plot(r["steps"], r["train_loss"], label=label, **style)
        axes[0, 1].plot(r["steps"], r["test_loss"], label=label, **style)
        axes[0, 2].plot(r["steps"], r[quality], label=label, **style)
        if r["ms_per_member_step"]:
            seconds = np.asarray(r["steps"]) * r["ms_per_member_step"] / 1e3
            axes[1, 0].plot(seconds, r["train_loss"], label=label, **style)
            axes[1, 1].plot(seconds, r["test_loss"], label=label, **style)
    axes[0, 0].set(xlabel="step", ylabel="train loss", yscale="log")
    axes[0, 1].set(xlabel="step", ylabel="test loss", yscale="log")
    axes[0, 2].set(xlabel="step", ylabel=f"test {task_quality}",
                   yscale="log" if task_quality == "perplexity" else "linear")  # fmt: skip
    axes[1, 0].set(xlabel="wall-clock per member (s)", ylabel="train loss", yscale="log")
    axes[1, 1].set(xlabel="wall-clock per member (s)", ylabel="test loss", yscale="log")
    names = [r["optimizer"] for r in ran]
    axes[1, 2].bar(names, [r["avg_grad_norm"] for r in ran],
                   color=["tab:red" if n in GRNG else "tab:gray" for n in names])  # fmt: skip
    axes[1, 2].set(ylabel="average gradient norm", yscale="log")
    axes[1, 2].tick_params(axis="x", rotation=45)
    axes[0, 0].legend(fontsize=7)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle(f"GRNG on {task_name}: best learning rate per optimizer, mean over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _fmt(x, spec=".4g"):
    return "—" if x is None else format(x, spec)


def _seeds_below(mine: list[float], other: list[float]) -> int:
    """On how many seeds ``mine`` is strictly below ``other`` (seed i of every optimizer has the
    same initial parameters and batches, so the comparison is paired)."""
    return sum(a < b for a, b in zip(mine, other, strict=True))


def _fmt_seeds(values: list[float]) -> str:
    return ", ".join(f"{v:.4f}" for v in values)


def claims(records: list[dict], quality: str) -> list[str]:
    """The paper's claims at our scale for each GRNG method, with the numbers: test loss against
    AdamW and the best baseline (mean and by seed), gradient norm against AdamW's, step time."""
    by = {r["optimizer"]: r for r in records if r["best_lr"] is not None}
    if "adamw" not in by:
        return ["AdamW did not run (or diverged at every lr): no claim can be checked."]
    adam = by["adamw"]
    baselines = [by[n] for n in BASELINES if n in by]
    best_base = min(baselines, key=lambda r: r["final_test_loss"])
    lines = []
    for name in GRNG:
        if name not in {r["optimizer"] for r in records}:
            continue
        if name not in by:
            lines.append(f"- {LABELS[name]}: diverged at every learning rate.")
            continue
        r = by[name]
        seeds = r["final_test_loss_per_seed"]
        n = len(seeds)
        loss_ok = r["final_test_loss"] <= adam["final_test_loss"]
        grad_ok = r["avg_grad_norm"] < adam["avg_grad_norm"]
        ratio = (
            r["ms_per_member_step"] / adam["ms_per_member_step"]
            if r["ms_per_member_step"] and adam["ms_per_member_step"]
            else math.nan
        )
        lines.append(
            f"- {LABELS[name]}: test loss {r['final_test_loss']:.4f} vs AdamW "
            f"{adam['final_test_loss']:.4f} ({'holds' if loss_ok else 'does NOT hold'}; lower on "
            f"{_seeds_below(seeds, adam['final_test_loss_per_seed'])} of {n} seeds); best "
            f"baseline {LABELS[best_base['optimizer']]} {best_base['final_test_loss']:.4f} (lower "
            f"on {_seeds_below(seeds, best_base['final_test_loss_per_seed'])} of {n} seeds); avg "
            f"grad norm {r['avg_grad_norm']:.4g} vs {adam['avg_grad_norm']:.4g} "
            f"({'lower' if grad_ok else 'NOT lower'}); step time {ratio:.2f}x AdamW's."
        )
    return lines


def write_summary(config, results: dict, workdir: Path) -> None:
    lines = [
        f"Equal budgets per task, {config.num_seeds} vmapped seeds, a learning-rate grid per "
        "optimizer (best final validation loss kept). GRNG hyper-parameters are our choices "
        f"(rho {config.rho}, damping {config.damping}, inverses every "
        f"{config.inverse_update_every} steps). Step times are per (lr, seed) member of the "
        "vmapped job on this machine; `benchmarks/optim_step.py` times one model at a time.",
        "",
    ]
    for task_name, records in results.items():
        quality = "perplexity" if task_name == "charlm" else "accuracy"
        lines += [
            f"### {task_name}",
            "",
            f"| optimizer | best lr | diverged lrs | test loss (seeds) | test {quality} (seeds) "
            "| avg grad norm | ms/step |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in records:
            loss_seeds = r.get("final_test_loss_per_seed")
            quality_seeds = r.get("final_quality_per_seed")
            lines.append(
                f"| {r['optimizer']} | {_fmt(r['best_lr'], 'g')} | "
                f"{', '.join(f'{x:g}' for x in r['diverged_lrs']) or '—'} | "
                f"{_fmt(r.get('final_test_loss'))}"
                f"{f' ({_fmt_seeds(loss_seeds)})' if loss_seeds else ''} | "
                f"{_fmt(r.get('final_quality'))}"
                f"{f' ({_fmt_seeds(quality_seeds)})' if quality_seeds else ''} | "
                f"{_fmt(r.get('avg_grad_norm'))} | {_fmt(r.get('ms_per_member_step'), '.2f')} |"
            )
        lines += ["", "Claims at this scale:", *claims(records, quality), "",
                  f"![{task_name}]({task_name}_curves.png)", ""]  # fmt: skip
    (workdir / "summary.md").write_text("\n".join(lines))


def _value(by: dict, name: str, key: str) -> float:
    # An optimizer that diverged at every learning rate is nan here: it never wins.
    return by[name][key] if by[name]["best_lr"] is not None else math.nan


def task_claims(task_name: str, records: list[dict]) -> list[claims_lib.Claim]:
    """The paper's claims on one task for each GRNG method that ran, against the baselines that ran.

    1. Generalization over AdamW, seed by seed: its final test loss is below AdamW's on every seed.
    2. Generalization over all baselines (the abstract's claim): its seed-mean final test loss is
       strictly the lowest among it and every baseline (SGD, AdamW, Sophia, K-FAC both forms).
    3. Figure 1: its average gradient norm (seed mean) is below AdamW's and Sophia's.
    """
    by = {r["optimizer"]: r for r in records}
    if "adamw" not in by:
        return []
    adam = by["adamw"]
    found = []
    for name in (n for n in GRNG if n in by):
        label, r = LABELS[name], by[name]
        ran = r["best_lr"] is not None and adam["best_lr"] is not None
        mine = r.get("final_test_loss_per_seed", []) if ran else []
        theirs = adam.get("final_test_loss_per_seed", []) if ran else []
        below = _seeds_below(mine, theirs) if mine else 0
        n = len(theirs) or len(mine)
        evidence = (
            f"{label} {_fmt_seeds(mine)} vs AdamW {_fmt_seeds(theirs)}: lower on {below} of {n}"
            if ran
            else f"{label if r['best_lr'] is None else 'AdamW'} diverged at every learning rate"
        )
        found.append(claims_lib.Claim(
            f"{task_name}: {label}'s test loss is below AdamW's on every seed",
            bool(ran and mine and below == len(mine)), evidence))  # fmt: skip
        values = {LABELS[b]: _value(by, b, "final_test_loss") for b in BASELINES if b in by}
        values[label] = _value(by, name, "final_test_loss")
        found.append(best_of(f"{task_name}: {label}'s mean test loss is below every baseline's",
                             values, label, strict=True))  # fmt: skip
        if "sophia" in by:
            pairs = ((name, label), ("adamw", "AdamW"), ("sophia", "Sophia"))
            values = {lab: _value(by, b, "avg_grad_norm") for b, lab in pairs}
            found.append(best_of(
                f"{task_name}: {label}'s average gradient norm is below AdamW's and Sophia's",
                values, label, strict=True))  # fmt: skip
    return found


def write_claims(results: dict, workdir: Path) -> None:
    """The paper's claims per task (:func:`task_claims`) in ``claims.json``."""
    found = [c for task_name, records in results.items()
             for c in task_claims(task_name, records)]  # fmt: skip
    claims_lib.write_claims(workdir, found)
