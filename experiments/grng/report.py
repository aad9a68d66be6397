"""The GRNG report (arXiv 2601.18420): per-task curves of each optimizer's best learning rate and
``summary.md`` with the paper's three claims checked against AdamW at this scale."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from jaxml.utils import claims as claims_lib
from jaxml.utils.claims import best_of
from jaxml.utils.plotting import plt

GRNG = ("ring", "reng", "rkalman")


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


def claims(records: list[dict], quality: str) -> list[str]:
    """The paper's three claims at our scale, each against AdamW, with the numbers."""
    by = {r["optimizer"]: r for r in records if r["best_lr"] is not None}
    if "adamw" not in by:
        return ["AdamW did not run (or diverged at every lr): no claim can be checked."]
    adam = by["adamw"]
    lines = []
    for name in GRNG:
        if name not in by:
            lines.append(f"- {name}: diverged at every learning rate or not run.")
            continue
        r = by[name]
        loss_ok = r["final_test_loss"] <= adam["final_test_loss"]
        grad_ok = r["avg_grad_norm"] < adam["avg_grad_norm"]
        ratio = (
            r["ms_per_member_step"] / adam["ms_per_member_step"]
            if r["ms_per_member_step"] and adam["ms_per_member_step"]
            else math.nan
        )
        time_note = (
            f"step time {ratio:.2f}x AdamW's ({'<=' if ratio <= 1.5 else '>'} 1.5x)"
            if name != "reng"
            else f"step time {ratio:.2f}x AdamW's (no target for RENG)"
        )
        lines.append(
            f"- {name}: test loss {r['final_test_loss']:.4f} vs AdamW "
            f"{adam['final_test_loss']:.4f} "
            f"({'holds' if loss_ok else 'does NOT hold'}); avg grad norm {r['avg_grad_norm']:.4g} "
            f"vs {adam['avg_grad_norm']:.4g} ({'lower' if grad_ok else 'NOT lower'}); {time_note}."
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
            f"| optimizer | best lr | diverged lrs | test loss | test {quality} | "
            "avg grad norm | ms/step |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in records:
            lines.append(
                f"| {r['optimizer']} | {_fmt(r['best_lr'], 'g')} | "
                f"{', '.join(f'{x:g}' for x in r['diverged_lrs']) or '—'} | "
                f"{_fmt(r.get('final_test_loss'))} | {_fmt(r.get('final_quality'))} | "
                f"{_fmt(r.get('avg_grad_norm'))} | {_fmt(r.get('ms_per_member_step'), '.2f')} |"
            )
        lines += ["", "Claims at this scale:", *claims(records, quality), "",
                  f"![{task_name}]({task_name}_curves.png)", ""]  # fmt: skip
    (workdir / "summary.md").write_text("\n".join(lines))


def write_claims(results: dict, workdir: Path) -> None:
    """The paper's claims against AdamW, per task at each optimizer's best learning rate."""
    found = []
    pairs = (("reng", "RENG", "final_test_loss", "test loss"),
             ("ring", "RING", "final_test_loss", "test loss"),
             ("rkalman", "R-Kalman", "avg_grad_norm", "average gradient norm"))  # fmt: skip
    for task_name, records in results.items():
        by = {r["optimizer"]: r for r in records}
        for name, label, key, what in pairs:
            if name in by and "adamw" in by:
                # An optimizer that diverged at every learning rate is nan here: it never wins.
                values = {lab: by[n][key] if by[n]["best_lr"] is not None else math.nan
                          for n, lab in ((name, label), ("adamw", "AdamW"))}  # fmt: skip
                statement = f"{task_name}: {label}'s {what} is below AdamW's"
                found.append(best_of(statement, values, label, strict=True))
    claims_lib.write_claims(workdir, found)
