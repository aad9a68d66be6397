"""SAC, PPO and DQN against a fixed set-point controller on ``HVAC-v0`` in five cities: reward,
energy and comfort per city, the reward-weight sweep, the city x city transfer matrix and the
change in indoor and canyon air temperature.

"Reinforcement Learning Meets Urban Climate Modeling: RL-based HVAC control" (Yu et al., arXiv
2505.07045). Each algorithm trains every (home city, weight) task x ``num_seeds`` seeds as the
members of one ``run_trainer`` call (``grid.task_trainer``: one jitted program, chunks,
checkpoints, resume). The final policies are evaluated with ``jaxml.rl.evaluate`` in all five
cities at their own weight (``grid.evaluate_grid``: ``eval_episodes`` fresh episodes per city
with deterministic actions and the same keys for every controller), which gives the per-city
figures (the home city's row) and the transfer matrix (every row). The fixed controller (26 C
cooling, 15 C heating, 0.5 ACH) is evaluated the same way. Continuous-action algorithms run on
``HVAC-v0``, DQN on ``HVACDiscrete-v0`` (whose action 7 is the fixed controller's setting).

  python -m experiments.hvac.main --preset=quick --workdir=results/quick/hvac
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np
from scipy import stats

from experiments.hvac import grid
from experiments.hvac.config import ALGOS, get_config
from jaxml.data import weather
from jaxml.envs.hvac import HVAC
from jaxml.utils.claims import Claim, write_claims
from jaxml.utils.config import (
    ConfigError,
    check_base,
    check_choices,
    check_in_range,
    check_positive,
)
from jaxml.utils.trainer import member_grid, member_metric, run_options, run_trainer

NAME = "hvac"
FIGURE = "per_city.png"
FIGURES = (FIGURE, "weight_sweep.png", "transfer.png", "temperature_change.png")
LABELS = {"fixed": "fixed set points", "sac": "SAC", "ppo": "PPO", "dqn": "DQN"}
CITY_LABELS = {"london": "London", "newyork": "New York", "beijing": "Beijing",
               "hongkong": "Hong Kong", "singapore": "Singapore"}  # fmt: skip
HOT_CELSIUS = 20.0  # A city is "hot" when its ERA5 mean air temperature is above this.
EVAL_SALT = 0xE7A1  # The evaluation keys: fold_in(PRNGKey(seed), EVAL_SALT), then the city.


def validate(config: ml_collections.ConfigDict) -> None:
    """Raises ``ConfigError`` (a ValueError) naming the first bad ``--config.<field>``."""
    check_base(config)
    check_choices(config, "cities", weather.CITIES)
    check_choices(config, "algos", ALGOS)
    for field in ("sweep_algos",):
        if config[field]:
            check_choices(config, field, ALGOS)
    if not config.weights or not all(0.0 <= float(w) <= 1.0 for w in config.weights):
        raise ConfigError(f"--config.weights: expected a tuple of weights in [0, 1], got "
                          f"{config.weights!r}")  # fmt: skip
    check_in_range(config, "base_weight", 0.0, 1.0)
    check_positive(config, ("episode_steps", "eval_episode_steps", "eval_episodes",
                            "num_chunks"))  # fmt: skip
    for field in ("episode_steps", "eval_episode_steps", "eval_episodes", "num_chunks"):
        if not isinstance(config[field], int):
            raise ConfigError(f"--config.{field}: expected an integer, got {config[field]!r}")
    envs = make_envs(config)
    for algo in config.algos:
        try:
            grid.task_trainer(algo, config.trainers[algo], envs[env_key(algo, "train")])
        except ValueError as error:
            raise ConfigError(f"--config.trainers.{algo}: {error}") from error


def env_key(algo: str, use: str) -> str:
    return f"{use}_discrete" if algo == "dqn" else use


def make_envs(config: ml_collections.ConfigDict) -> dict[str, HVAC]:
    """Training (random starts, ``episode_steps``) and evaluation envs, continuous and discrete."""
    out = {}
    for use, steps in (("train", config.episode_steps), ("eval", config.eval_episode_steps)):
        for discrete in (False, True):
            out[f"{use}_discrete" if discrete else use] = HVAC(
                climates=tuple(config.cities), weight=float(config.base_weight),
                episode_steps=steps, random_start=True, discrete=discrete,
                density_class=config.density_class,
            )  # fmt: skip
    return out


def weights_of(config: ml_collections.ConfigDict, algo: str) -> tuple[float, ...]:
    return tuple(config.weights) if algo in config.sweep_algos else (float(config.base_weight),)


def all_weights(config: ml_collections.ConfigDict) -> tuple[float, ...]:
    """Every weight some algorithm trains at (the fixed controller is evaluated at each)."""
    ws = {float(config.base_weight)}
    for algo in config.algos:
        ws.update(weights_of(config, algo))
    return tuple(sorted(ws))


def eval_key(config: ml_collections.ConfigDict) -> jax.Array:
    return jax.random.fold_in(jax.random.PRNGKey(config.seed), EVAL_SALT)


def evaluate_fixed(config, envs) -> dict:
    """The fixed controller at every weight in every city: ``grid`` ``[W, C, K]``."""
    weights = np.asarray(all_weights(config), np.float32)
    targets = range(len(config.cities))
    out = grid.evaluate_grid(
        grid.fixed_policy(len(weights)), envs["eval"], weights, targets, eval_key(config),
        num_episodes=config.eval_episodes,
    )  # fmt: skip
    return {"weights": weights.tolist(), "grid": np.asarray(out).tolist()}


def train_algo(config, algo: str, envs, workdir: Path, resume: bool) -> dict:
    """Trains every (city, weight) x seed member of ``algo`` in one run; evaluates them all."""
    trained = grid.task_trainer(algo, config.trainers[algo], envs[env_key(algo, "train")])
    climates = list(range(len(config.cities)))
    settings = grid.settings(climates, weights_of(config, algo))
    options = {**run_options(config), "num_seeds": config.num_seeds}
    start, cpu = time.perf_counter(), time.process_time()
    run = run_trainer(
        trained.trainer, workdir / "runs" / algo, settings=settings,
        num_chunks=config.num_chunks, eval_every_chunks=config.num_chunks, resume=resume,
        **options, description=algo,
    )  # fmt: skip
    train_seconds, train_cpu = time.perf_counter() - start, time.process_time() - cpu
    _, member_settings = member_grid(config.seed, config.num_seeds, settings)
    policy = grid.trained_policy(algo, trained, run.result.carry)
    start, cpu = time.perf_counter(), time.process_time()
    out = grid.evaluate_grid(
        policy, envs[env_key(algo, "eval")], member_settings["weight"], climates,
        eval_key(config), num_episodes=config.eval_episodes,
    )  # fmt: skip
    out = np.asarray(out)
    eval_seconds, eval_cpu = time.perf_counter() - start, time.process_time() - cpu
    history = run.result.history
    sizes = getattr(trained.inner, "sizes", None)  # On-policy: B x T env steps per update.
    env_steps = run.num_steps * (sizes.batch_size if sizes else trained.inner.config.num_envs)
    return {
        "algo": algo,
        "climate": np.asarray(member_settings["climate"]).tolist(),
        "weight": np.asarray(member_settings["weight"]).tolist(),
        "seed": [config.seed + i % config.num_seeds for i in range(len(out))],
        "grid": out.tolist(),  # [M, C, K] per-step means, METRICS order.
        "env_steps_per_member": int(env_steps),
        "train_seconds": train_seconds,  # Compile included.
        "eval_seconds": eval_seconds,
        "train_cpu_seconds": train_cpu,  # Process CPU time (all threads): the load-free cost.
        "eval_cpu_seconds": eval_cpu,
        "warm_steps_per_second": run.result.warm_steps_per_second,
        "episode_return": member_metric(history, "episode_return").tolist(),  # [chunks, M]
    }


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    validate(config)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    envs = make_envs(config)
    start, cpu = time.perf_counter(), time.process_time()
    results = {"cities": list(config.cities), "metrics": list(grid.METRICS),
               "base_weight": float(config.base_weight), "fixed": evaluate_fixed(config, envs),
               "algos": {}}  # fmt: skip
    results["fixed_seconds"] = time.perf_counter() - start
    results["fixed_cpu_seconds"] = time.process_time() - cpu
    for algo in config.algos:
        results["algos"][algo] = train_algo(config, algo, envs, workdir, resume)
        (workdir / "results.json").write_text(json.dumps(results))
    tables = summarise(config, results)
    results["tables"] = tables
    (workdir / "results.json").write_text(json.dumps(results))
    plot(config, results, tables, workdir)
    write_summary(config, results, tables, workdir)
    write_claims(workdir, claims(config, results, tables))
    return results


# ---------------------------------------------------------------------------------- tables
def _metric(name: str) -> int:
    return grid.METRICS.index(name)


def fixed_at(results: dict, weight: float) -> np.ndarray:
    """``[C, K]`` the fixed controller's per-city means at ``weight``."""
    fixed = results["fixed"]
    i = int(np.argmin(np.abs(np.asarray(fixed["weights"]) - weight)))
    return np.asarray(fixed["grid"])[i]


def home_values(record: dict, weight: float, metric: int) -> np.ndarray:
    """``[C, seeds]`` each home city's members at ``weight``, evaluated in their home city."""
    g = np.asarray(record["grid"])
    climate, w = np.asarray(record["climate"]), np.asarray(record["weight"])
    rows = []
    for c in range(g.shape[1]):
        members = (climate == c) & np.isclose(w, weight)
        rows.append(g[members, c, metric])
    return np.stack(rows)


def summarise(config, results: dict) -> dict:
    """Every table of the summary, as plain lists (also written to results.json)."""
    base = float(config.base_weight)
    fixed = fixed_at(results, base)
    per_city = {"fixed": {m: fixed[:, _metric(m)].tolist() for m in grid.METRICS}}
    for algo, record in results["algos"].items():
        per_city[algo] = {}
        for m in grid.METRICS:
            v = home_values(record, base, _metric(m))
            per_city[algo][m] = v.mean(axis=1).tolist()
            per_city[algo][f"{m}_std"] = v.std(axis=1).tolist()
        for m, key in (("t_indoor", "d_indoor"), ("t_canyon", "d_canyon")):
            d = home_values(record, base, _metric(m)) - fixed[:, _metric(m)][:, None]
            per_city[algo][key] = d.mean(axis=1).tolist()
            per_city[algo][f"{key}_std"] = d.std(axis=1).tolist()
            per_city[algo][f"{key}_seeds"] = d.tolist()
        per_city[algo]["reward_seeds"] = home_values(record, base, 0).tolist()
    sweep = {}
    for algo in config.algos:
        if algo not in config.sweep_algos:
            continue
        record = results["algos"][algo]
        sweep[algo] = {
            str(w): home_values(record, float(w), 0).mean(axis=1).tolist() for w in config.weights
        }
    sweep["fixed"] = {str(w): fixed_at(results, float(w))[:, 0].tolist() for w in config.weights}
    transfer = {}
    for algo, record in results["algos"].items():
        g = np.asarray(record["grid"])
        members = np.isclose(np.asarray(record["weight"]), base)
        climates = np.asarray(record["climate"])[members]
        matrix = grid.transfer_matrix(g[members], climates, range(len(config.cities)))
        transfer[algo] = {
            "matrix": matrix.tolist(),
            "regret": grid.transfer_regret(matrix).tolist(),
        }
    return {"per_city": per_city, "sweep": sweep, "transfer": transfer}


def tair_std(cities) -> np.ndarray:
    """ERA5 2011-2023 std of the air temperature (K) per city (``city_forcing_stats.csv``)."""
    return np.array([weather.load_city_stats(c).std["Tair"] for c in cities])


def tair_mean_celsius(cities) -> np.ndarray:
    return np.array([weather.load_city_stats(c).mean["Tair"] - weather.CELSIUS for c in cities])


# ---------------------------------------------------------------------------------- claims
def claims(config, results: dict, tables: dict) -> list[Claim]:
    cities = list(config.cities)
    names = [CITY_LABELS[c] for c in cities]
    per_city = tables["per_city"]
    algos = [a for a in ("sac", "ppo", "dqn") if a in results["algos"]]
    main = algos[0]
    label = LABELS[main]
    found = []
    # RL against the fixed set points at the base weight.
    ours, fixed = np.asarray(per_city[main]["reward"]), np.asarray(per_city["fixed"]["reward"])
    found.append(Claim(
        f"{label} reaches a higher evaluated reward than the fixed set points in every city "
        f"(w = {config.base_weight})",
        bool(np.all(ours > fixed)),
        "; ".join(f"{n} {o:.2f} vs {f:.2f}" for n, o, f in zip(names, ours, fixed, strict=True)),
    ))  # fmt: skip
    if len(algos) > 1:
        means = {LABELS[a]: float(np.mean(per_city[a]["reward"])) for a in algos}
        best = max(means, key=means.get)
        found.append(Claim(
            f"SAC (the paper's main method) has the highest city-mean reward of the RL methods "
            f"(w = {config.base_weight})",
            best == LABELS["sac"],
            ", ".join(f"{k} {v:.2f}" for k, v in means.items()),
        ))  # fmt: skip
    # Rewards and impacts differ by climate: one-way ANOVA over home cities, seeds as replicates.
    if config.num_seeds >= 2 and len(cities) >= 2:
        parts, ok = [], True
        for key, what in (("reward_seeds", "reward"), ("d_indoor_seeds", "dT_indoor"),
                          ("d_canyon_seeds", "dT_canyon")):  # fmt: skip
            groups = [np.asarray(g) for g in per_city[main][key]]
            p = float(stats.f_oneway(*groups).pvalue)
            p = 0.0 if math.isnan(p) and np.ptp([g.mean() for g in groups]) > 0 else p
            ok &= p < 0.01
            parts.append(f"{what}: range {np.ptp([g.mean() for g in groups]):.3g}, "
                         f"ANOVA p = {p:.2g}")  # fmt: skip
        found.append(Claim(
            f"{label}'s reward and its impacts on indoor and canyon air temperature differ by "
            "climate (one-way ANOVA over cities, seeds as replicates, p < 0.01 for each)",
            bool(ok), "; ".join(parts),
        ))  # fmt: skip
    # Hot-climate cities reach higher rewards across most weights.
    hot = tair_mean_celsius(cities) > HOT_CELSIUS
    sweep_algo = next((a for a in algos if a in tables["sweep"]), None)
    if hot.any() and (~hot).any() and sweep_algo is not None:
        sweep = tables["sweep"][sweep_algo]
        wins, parts = 0, []
        for w, rewards in sweep.items():
            r = np.asarray(rewards)
            h, o = r[hot].mean(), r[~hot].mean()
            wins += int(h > o)
            parts.append(f"w={w}: hot {h:.2f} vs others {o:.2f}")
        hot_names = ", ".join(n for n, is_hot in zip(names, hot, strict=True) if is_hot)
        found.append(Claim(
            f"hot-climate cities ({hot_names}; ERA5 mean above {HOT_CELSIUS:.0f} C) reach a "
            f"higher mean {LABELS[sweep_algo]} reward than the others at most weights",
            wins > len(sweep) / 2, f"{wins} of {len(sweep)} weights; " + "; ".join(parts),
        ))  # fmt: skip
    # Policies from cities with more variable air temperature transfer better.
    if len(cities) >= 3:
        regret = np.asarray(tables["transfer"][main]["regret"])
        spread = tair_std(cities)
        rho = float(stats.spearmanr(spread, regret).statistic)
        found.append(Claim(
            f"{label} policies from cities with more variable air temperature transfer better "
            "(Spearman rho > 0 between the ERA5 std of T_air and the mean transfer gain "
            "R[s->t] - R[t->t] over the other cities)",
            bool(rho > 0),
            f"rho = {rho:.2f}; " + "; ".join(
                f"{n} (std {s:.1f} K) {g:+.3f}" for n, s, g in zip(names, spread, regret,
                                                                  strict=True)),
        ))  # fmt: skip
    return found


# ---------------------------------------------------------------------------------- figures
def plot(config, results: dict, tables: dict, workdir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [CITY_LABELS[c] for c in config.cities]
    per_city = tables["per_city"]
    controllers = ["fixed"] + [a for a in ("sac", "ppo", "dqn") if a in results["algos"]]
    x = np.arange(len(names))
    width = 0.8 / len(controllers)

    def bars(ax, keys, metric, title, ylabel, delta=False):
        for i, name in enumerate(keys):
            vals = np.asarray(per_city[name][metric])
            err = per_city[name].get(f"{metric}_std")
            ax.bar(x + (i - (len(keys) - 1) / 2) * width, vals, width, yerr=err,
                   label=LABELS[name], capsize=2)  # fmt: skip
        ax.set_xticks(x, names, rotation=20)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(ylabel)
        if delta:
            ax.axhline(0.0, color="k", lw=0.8)

    w = config.base_weight
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    bars(axes[0], controllers, "reward", f"mean reward per step (w = {w})", "reward")
    bars(axes[1], controllers, "energy", "electricity P_ac + P_heat", "W m$^{-2}$")
    bars(axes[2], controllers, "comfort", "comfort term |T-24| + |T-18|", "K")
    axes[0].legend(fontsize=8)
    fig.suptitle("Evaluated final policies in their home city (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(workdir / FIGURES[0], dpi=90)
    plt.close(fig)

    sweep = tables["sweep"]
    algos = [a for a in sweep if a != "fixed"]
    fig, axes = plt.subplots(1, max(1, len(algos)), figsize=(6 * max(1, len(algos)), 4),
                             squeeze=False)  # fmt: skip
    for ax, algo in zip(axes[0], algos or ["fixed"], strict=False):
        ws = [float(k) for k in sweep[algo]]
        for c, name in enumerate(names):
            line = ax.plot(ws, [sweep[algo][k][c] for k in sweep[algo]], "o-", label=name)
            ax.plot(ws, [sweep["fixed"][k][c] for k in sweep["fixed"]], "--",
                    color=line[0].get_color(), lw=0.8)  # fmt: skip
        ax.set_xlabel("reward weight w (energy)")
        ax.set_ylabel("mean reward per step")
        ax.set_title(f"{LABELS[algo]} (solid) vs fixed set points (dashed)", fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(workdir / FIGURES[1], dpi=90)
    plt.close(fig)

    transfer = tables["transfer"]
    fig, axes = plt.subplots(1, len(transfer), figsize=(5 * len(transfer), 4.3), squeeze=False)
    for ax, (algo, t) in zip(axes[0], transfer.items(), strict=True):
        m = np.asarray(t["matrix"])
        im = ax.imshow(m, cmap="viridis")
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="w")  # fmt: skip
        ax.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xlabel("evaluated in")
        ax.set_ylabel("trained in")
        ax.set_title(f"{LABELS[algo]}: mean reward per step (w = {w})", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(workdir / FIGURES[2], dpi=90)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    rl_algos = controllers[1:]
    bars(axes[0], rl_algos, "d_indoor", "indoor air: policy - fixed", "K", delta=True)
    bars(axes[1], rl_algos, "d_canyon", "canyon air: policy - fixed", "K", delta=True)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Change in mean air temperature against the fixed set points (w = {w})")
    fig.tight_layout()
    fig.savefig(workdir / FIGURES[3], dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------------------------- summary
def write_summary(config, results: dict, tables: dict, workdir: Path) -> None:
    names = [CITY_LABELS[c] for c in config.cities]
    per_city = tables["per_city"]
    controllers = ["fixed"] + [a for a in ("sac", "ppo", "dqn") if a in results["algos"]]
    w = config.base_weight
    lines = [
        f"HVAC-v0 in {len(names)} cities, {config.num_seeds} seeds, training episodes of "
        f"{config.episode_steps} steps (30 min) from random starts; the final policies "
        f"evaluated with `jaxml.rl.evaluate` (deterministic actions) on {config.eval_episodes} "
        f"episodes of {config.eval_episode_steps} steps per city, the same episodes (keys) for "
        "every controller. Per-step means; ± is the std over seeds.",
        "",
        "| algorithm | env steps per member | members | train s (CPU s), compile included | "
        "eval s (CPU s) |",
        "| --- | --- | --- | --- | --- |",
        f"| fixed set points | — | {len(results['fixed']['weights'])} weights | — | "
        f"{results['fixed_seconds']:.0f} ({results['fixed_cpu_seconds']:.0f}) |",
    ]
    for algo, r in results["algos"].items():
        lines.append(f"| {LABELS[algo]} | {r['env_steps_per_member']:,} | {len(r['grid'])} | "
                     f"{r['train_seconds']:.0f} ({r['train_cpu_seconds']:.0f}) | "
                     f"{r['eval_seconds']:.0f} ({r['eval_cpu_seconds']:.0f}) |")  # fmt: skip
    lines += ["", f"Home city, w = {w}:", ""]
    header = "| city | " + " | ".join(
        f"{LABELS[c]} reward / energy / comfort" for c in controllers) + " |"  # fmt: skip
    lines += [header, "|" + " --- |" * (len(controllers) + 1)]
    for i, n in enumerate(names):
        cells = []
        for c in controllers:
            p = per_city[c]
            cells.append(f"{p['reward'][i]:.2f} / {p['energy'][i]:.2f} / {p['comfort'][i]:.2f}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "Change against the fixed set points (K), home city, w = "
              f"{w}: indoor / canyon air", "",
              "| city | fixed T_in / T_canyon / T_air (C) | "
              + " | ".join(f"{LABELS[a]} dT_in / dT_canyon" for a in controllers[1:]) + " |",
              "|" + " --- |" * (len(controllers) + 1)]  # fmt: skip
    for i, n in enumerate(names):
        f = per_city["fixed"]
        cells = [f"{f['t_indoor'][i]:.2f} / {f['t_canyon'][i]:.2f} / {f['t_air'][i]:.2f}"]
        for a in controllers[1:]:
            p = per_city[a]
            cells.append(f"{p['d_indoor'][i]:+.2f} ± {p['d_indoor_std'][i]:.2f} / "
                         f"{p['d_canyon'][i]:+.3f} ± {p['d_canyon_std'][i]:.3f}")  # fmt: skip
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    for algo, sweep in tables["sweep"].items():
        lines += ["", f"Weight sweep, {LABELS[algo]} (home city, mean reward per step):", "",
                  "| city | " + " | ".join(f"w = {k}" for k in sweep) + " |",
                  "|" + " --- |" * (len(sweep) + 1)]  # fmt: skip
        for i, n in enumerate(names):
            lines.append(f"| {n} | " + " | ".join(f"{v[i]:.2f}" for v in sweep.values()) + " |")
    for algo, t in tables["transfer"].items():
        m = np.asarray(t["matrix"])
        lines += ["", f"Transfer, {LABELS[algo]}, w = {w} (rows: trained in; columns: evaluated "
                  "in; mean reward per step; last column: mean gain R[s->t] - R[t->t] over the "
                  "other cities):", "",
                  "| trained in | " + " | ".join(names) + " | transfer gain |",
                  "|" + " --- |" * (len(names) + 2)]  # fmt: skip
        for i, n in enumerate(names):
            lines.append(f"| {n} | " + " | ".join(f"{v:.2f}" for v in m[i]) +
                         f" | {t['regret'][i]:+.3f} |")  # fmt: skip
    lines += [""] + [f"![{f}]({f})" for f in FIGURES] + [""]
    (workdir / "summary.md").write_text("\n".join(lines))


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)
