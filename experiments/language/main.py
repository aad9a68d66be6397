"""ScoreG / TemporalG success and the emergent language's properties, for pairs and populations.

"From Grunts to Lexicons: Emergent Language from Cooperative Foraging" (Piriyajitakonkij et al.,
arXiv 2505.12872; ../shared/papers/foraging.md). Each run (``--config.run_names``) trains
``num_seeds`` vmapped seeds of a population (``jaxml.rl.population``: all pairs of a round in one
jitted IPPO step, the authors' agent from ``jaxml.models.foraging_agent``) through the runner
(chunks, checkpoints, resume), its last round's pairs evaluated on the unseen scores after every
chunk (``jaxml.rl.evaluate``). Then, for every seed's final population:

- success: every (slot 0, slot 1) pairing of members on the training and the unseen scores
  (argmax actions, ``cross_play_episodes`` each): the cross-play matrix; a run's success is its
  off-diagonal mean (distinct members, as trained; for N = 2 the trained pair in both orders);
- language (``collect_language``, team (0, 1), ``language_episodes`` unseen-score episodes, the
  speaker is the agent that sees the higher-scoring item, records saved as
  ``runs/<run>/records_seed<s>.npz``): topographic similarity, PosDis, BosDis, displacement
  probes of the target's score bin / row / column against chance, language similarity between
  members speaking in the same seat on the same episodes (interchangeability) and between the
  seeds' independently trained populations (arbitrariness), each beside its chance level;
- cultural transmission (``transmission.runs``, ``transmit``): member ``transmission.member``
  of each final population replaced by a fresh init trains the run's budget again, against the
  run itself from scratch (same keys); steps to ``transmission.threshold`` for both curves.

TemporalG runs (``RUNS[...].game``) use the unseen appearance times and probe the speaker's
(agent 0's) item's appearance time instead of the score bin.

  python -m experiments.language.main --preset=quick --workdir=results/quick/language
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.language.config import RUNS, SCOREG, TEMPORALG, get_config
from jaxml import envs, language
from jaxml.language import render
from jaxml.language._collect import episode_records, play_episodes, save_records
from jaxml.models import foraging_agent, stacked
from jaxml.rl import evaluate, population
from jaxml.utils import checks, runner
from jaxml.utils.claims import Claim, write_claims
from jaxml.utils.config import ConfigError, check_base, check_choices, check_positive
from jaxml.utils.trainer import member_metric, run_options, run_trainer

NAME = "language"
FIGURE = "language.png"
LANGUAGE_KEY = 7  # The unseen-score episodes every speaker is recorded on (same resets).
CROSS_PLAY_KEY = 11
GIF_KEY = 13  # The episode of episode.gif.


def game(config, name: str, split: str):
    """Run ``name``'s game on the ``"train"`` or ``"test"`` split (ScoreG: of the scores,
    TemporalG: of the appearance times), with the run's channel."""
    agent = config.runs[name].agent
    split_field = "score_split" if config.runs[name].game == SCOREG else "appearance_split"
    env = envs.make(
        config.runs[name].game, **{split_field: split}, **foraging_agent.env_kwargs(agent)
    )
    return foraging_agent.with_channel(env, agent)


def make_trainer(config: ml_collections.ConfigDict, name: str):
    run_config = config.runs[name].copy_and_resolve_references()
    try:
        env = game(config, name, "train")
        team = foraging_agent.make_team(run_config.agent, env)
        trainer = population.make_trainer(
            run_config, env, model=team, eval_env=game(config, name, "test")
        )
    except ValueError as error:
        raise ConfigError(f"--config.runs.{name}: {error}") from error
    return trainer, run_config


def check_transmission(config: ml_collections.ConfigDict) -> None:
    t = config.transmission
    if not isinstance(t.runs, tuple) or any(n not in config.run_names for n in t.runs):
        raise ConfigError(
            "--config.transmission.runs: expected a tuple of runs among run_names "
            f"{config.run_names}, got {t.runs}"
        )
    for name in t.runs:
        size = config.runs[name].population.size
        member = t.member
        if not isinstance(member, int) or isinstance(member, bool) or not 0 <= member < size:
            raise ConfigError(
                f"--config.transmission.member: expected an int in [0, {size}) (the size of "
                f"run {name}), got {member}"
            )
    checks.in_range(t.threshold, "--config.transmission.threshold", 0.0, 1.0, error=ConfigError)
    checks.positive_int(t.window, "--config.transmission.window", ConfigError)


def validate(config: ml_collections.ConfigDict) -> None:
    check_base(config)
    check_transmission(config)
    check_positive(config, ("total_timesteps", "num_chunks", "eval_episodes",
                            "cross_play_episodes", "language_episodes"))  # fmt: skip
    check_choices(config, "run_names", RUNS)
    check_choices(config, "cross_play_splits", ("train", "test"))
    if "test" not in config.cross_play_splits:
        raise ConfigError(
            "--config.cross_play_splits: expected 'test' among them, got "
            f"{config.cross_play_splits}"
        )
    for name in config.run_names:
        make_trainer(config, name)


def train(
    trainer, config, workdir: Path, resume: bool, name: str, settings=None
) -> tuple[dict, object]:
    """Runs the seeds; returns the curves (seed mean, 95% band) and the final states.

    With ``settings`` (one entry per seed, holding the seed's key: ``transmit``) the members are
    the settings, not ``num_seeds`` keys.
    """
    start = time.perf_counter()
    options = run_options(config)
    if settings is not None:
        options["num_seeds"] = 1
    run = run_trainer(
        trainer,
        workdir,
        num_chunks=config.num_chunks,
        eval_every_chunks=1,
        resume=resume,
        settings=settings,
        **options,
        description=name,
    )
    history = run.result.history
    steps = np.array([r["step"] for r in history])
    batch = trainer.sizes.batch_size * trainer.pairing.num_pairs  # All pairs of a round.
    rate = run.result.warm_steps_per_second
    out = {
        "env_steps": (steps * batch).tolist(),
        "env_steps_per_second": rate * batch * config.num_seeds if rate else None,
        "job_seconds": time.perf_counter() - start,
    }
    for metric in ("win_rate", "episode_return", "eval_success"):
        per_seed = member_metric(history, metric).astype(np.float64)  # [chunks, seeds]
        out[metric] = {
            "mean": per_seed.mean(axis=1).tolist(),
            "ci95": (1.96 * per_seed.std(axis=1) / math.sqrt(per_seed.shape[1])).tolist(),
            "final_per_seed": per_seed[-1].tolist(),
            "per_seed": per_seed.T.tolist(),  # [seeds, chunks]
        }
    return out, run.result.carry


def transmit(config, name: str, trainer, states, workdir: Path, resume: bool):
    """Cultural transmission: every seed's final population of run ``name`` (``states``) with
    member ``transmission.member`` replaced by a fresh init trains for the run's budget again.

    Seed ``s``'s newcomer population is ``population.newcomer_state(trainer.init(key_s),
    params_s)`` with ``key_s`` the key run ``name`` started seed ``s`` from, so the from-scratch
    baseline (run ``name`` itself) and the newcomer run differ only in the trained members'
    parameters. The fresh states are made by the run's own jitted ``vmap(init)`` and its chunk
    is the run's chunk, so both programs come from the compilation cache.
    """
    member = int(config.transmission.member)
    keys = runner.seed_keys(config.seed, config.num_seeds)  # run_trainer's keys of run `name`.
    fresh = jax.jit(jax.vmap(trainer.init))(keys)

    def init(_key, setting):
        fresh_state, params = setting
        return population.newcomer_state(fresh_state, params, member)

    newcomer = dataclasses.replace(trainer, init=init)
    return train(
        newcomer, config, workdir, resume, f"{name} newcomer", settings=(fresh, states.params)
    )


def newcomer_similarity(config, name: str, trainer, before, after) -> dict:
    """Does the newcomer speak like the member it replaced? Per seed, the language similarity
    between member ``m`` (``transmission.member``) speaking in seat 0 of the trained population
    (``before``) and the newcomer speaking in seat 0 after its run (``after``), each with its
    population's next member in seat 1, on the same unseen-split episodes; beside it the chance
    level and the LS between different seeds' trained members ``m`` (independent languages)."""
    test_env = game(config, name, "test")
    vocab = int(config.runs[name].agent.vocab_size)
    length = test_env.horizon * int(config.runs[name].agent.message_length) + 2
    size = trainer.pairing.size
    m = int(config.transmission.member)
    partner = (m + 1) % size
    play = language_fn(trainer, test_env, config.language_episodes, speaker=0)
    teams = jnp.asarray([(m, partner), (size + m, size + partner)], jnp.int32)
    old, new = [], []
    for s in range(config.num_seeds):
        both = jax.tree.map(lambda a, b, s=s: jnp.concatenate([a[s], b[s]]), before.params,
                            after.params)  # fmt: skip
        out = play(both, teams)
        team = [
            episode_records(jax.tree.map(lambda x, k=k: x[k], out), test_env, length=length)
            for k in range(2)
        ]
        old.append(np.asarray(team[0].messages))
        new.append(np.asarray(team[1].messages))
    within = [float(language.language_similarity(a, b)) for a, b in zip(old, new, strict=True)]
    chance = [float(language.language_similarity_chance(a, b, vocab + 1))
              for a, b in zip(old, new, strict=True)]  # fmt: skip
    across = [float(language.language_similarity(old[a], old[b]))
              for a, b in itertools.combinations(range(config.num_seeds), 2)]  # fmt: skip
    return {
        "ls_newcomer_vs_replaced": within,
        "ls_chance": chance,
        "ls_across_seeds": float(np.mean(across)) if across else None,
    }


def threshold_steps(curves: dict, config) -> dict:
    """Env steps at which the unseen-score success curve (seed mean, and each seed) first
    reaches ``transmission.threshold`` (trailing mean of ``window`` evaluations); None: not
    reached."""
    t = config.transmission
    steps = np.asarray(curves["env_steps"], np.float64)
    success = curves["eval_success"]
    rows = np.asarray([success["mean"]] + success["per_seed"], np.float64)
    found = np.asarray(language.steps_to_threshold(rows, steps, float(t.threshold),
                                                   window=int(t.window)))  # fmt: skip
    values = [None if not np.isfinite(v) else int(v) for v in found]
    return {"seed_mean": values[0], "per_seed": values[1:]}


# The listener-unseen attribute each game's first probe decodes: (results field, label).
FIRST_PROBE = {SCOREG: ("probe_score", "score bin"), TEMPORALG: ("probe_time", "appearance time")}
GAME_LABEL = {SCOREG: "ScoreG", TEMPORALG: "TemporalG"}
# Messages-zeroed ablation -> the run with learned messages it is set beside.
ABLATIONS = {"zero": "pair", "temporal_zero": "temporal"}


def first_probe(name: str) -> tuple[str, str]:
    return FIRST_PROBE[RUNS[name].game]


def cross_play_fn(trainer, env, episodes: int):
    """``params -> [N, N]`` success of member i in slot 0 with member j in slot 1 (argmax
    actions, the same episodes for every pairing), jitted once per environment."""
    size = trainer.pairing.size
    pairs = jnp.array(list(itertools.product(range(size), repeat=2)), jnp.int32)

    def matrix(params):
        def one(pair):
            result = evaluate(
                trainer.policy, stacked.take(params, pair), jax.random.PRNGKey(CROSS_PLAY_KEY),
                env=env, num_episodes=episodes, max_steps=env.horizon,
            )  # fmt: skip
            return jnp.mean(result.outcomes["success"].astype(jnp.float32))

        return jnp.reshape(jax.vmap(one)(pairs), (size, size))

    return jax.jit(matrix)


def off_diagonal(matrix: np.ndarray) -> float:
    return float(language.cross_play_summary(jnp.asarray(matrix)).cross_play)


def probe(messages, targets, vocab: int) -> dict:
    """Displacement probe accuracy and chance; NaN where too few records per class."""
    targets = np.asarray(targets)
    classes, counts = np.unique(targets, return_counts=True)
    keep = np.isin(targets, classes[counts >= 4])
    try:
        result = language.displacement_probe(
            np.asarray(messages)[keep], targets[keep], vocab, seed=0
        )
    except ValueError:
        return {"accuracy": float("nan"), "chance": float("nan")}
    return {"accuracy": result.accuracy, "chance": result.chance}


def language_fn(trainer, env, episodes: int, speaker="target"):
    """``(params, teams [K, 2]) -> play_episodes output [K, E, ...]``: every team on the same
    unseen-split episodes, jitted once. ``speaker``: ScoreG ``"target"`` (the agent that sees
    the higher-scoring item), TemporalG 0 (agent 0, about the item that appears in its view)."""

    def play(params, teams):
        def one(team):
            return play_episodes(
                trainer.policy, stacked.take(params, team), env,
                jax.random.PRNGKey(LANGUAGE_KEY), episodes, speaker=speaker,
            )  # fmt: skip

        return jax.vmap(one)(teams)

    return jax.jit(play)


def analyse(config, name: str, trainer, states, workdir: Path) -> dict:
    """Cross-play on both splits and every language property, per seed."""
    train_env, test_env = game(config, name, "train"), game(config, name, "test")
    vocab = int(config.runs[name].agent.vocab_size)
    length = test_env.horizon * int(config.runs[name].agent.message_length) + 2
    size = trainer.pairing.size
    splits = {"train": train_env, "test": test_env}
    xp = {k: cross_play_fn(trainer, splits[k], config.cross_play_episodes)
          for k in config.cross_play_splits}  # fmt: skip
    speaker = "target" if RUNS[name].game == SCOREG else 0
    play = language_fn(trainer, test_env, config.language_episodes, speaker)
    # Team (0, 1) first, then every pair of members in both seat orders.
    pairs = list(itertools.combinations(range(size), 2))
    teams = [(0, 1)] + [t for a, b in pairs for t in ((a, b), (b, a))]
    per_seed, team_messages = [], []
    for s in range(config.num_seeds):
        params = stacked.take(states.params, s)
        matrices = {k: np.asarray(fn(params)) for k, fn in xp.items()}
        nan = np.full((size, size), np.nan)
        train_matrix, test_matrix = matrices.get("train", nan), matrices["test"]
        out = play(params, jnp.asarray(teams, jnp.int32))
        team_records = [
            episode_records(jax.tree.map(lambda x, k=k: x[k], out), test_env, length=length)
            for k in range(len(teams))
        ]
        records = team_records[0]
        save_records(records, workdir / f"records_seed{s}.npz")
        team_messages.append(np.asarray(records.messages))
        meanings, messages = records.meanings, records.messages
        # ScoreG: the target's score bin; TemporalG: its appearance time (both unseen by the
        # listener), then the item's row and column.
        first = meanings[:, 0]
        if RUNS[name].game == SCOREG:
            first = language.score_bin(first)
        attributes = jnp.stack([first, meanings[:, 1], meanings[:, 2]], axis=1)
        within = []
        for k in range(len(pairs)):
            ra, rb = team_records[1 + 2 * k].messages, team_records[2 + 2 * k].messages
            within.append(
                (
                    float(language.language_similarity(ra, rb)),
                    float(language.language_similarity_chance(ra, rb, vocab + 1)),
                )  # fmt: skip
            )
        per_seed.append(
            {
                "train_cross_play": train_matrix.tolist(),
                "test_cross_play": test_matrix.tolist(),
                "train_success": off_diagonal(train_matrix),
                "test_success": off_diagonal(test_matrix),
                "record_success": float(np.mean(np.asarray(records.outcomes) > 0)),
                "topsim": float(language.topographic_similarity(attributes, messages)),
                "posdis": float(
                    language.positional_disentanglement(attributes, messages, vocab + 1)
                ),  # fmt: skip
                "bosdis": float(
                    language.bag_of_symbols_disentanglement(attributes, messages, vocab + 1)
                ),  # fmt: skip
                first_probe(name)[0]: probe(messages, first, vocab + 1),
                "probe_row": probe(messages, meanings[:, 1], vocab + 1),
                "probe_col": probe(messages, meanings[:, 2], vocab + 1),
                "ls_within": float(np.mean([w[0] for w in within])),
                "ls_within_chance": float(np.mean([w[1] for w in within])),
            }
        )
    across = [
        (
            float(language.language_similarity(team_messages[a], team_messages[b])),
            float(
                language.language_similarity_chance(team_messages[a], team_messages[b], vocab + 1)
            ),
        )  # fmt: skip
        for a, b in itertools.combinations(range(config.num_seeds), 2)
    ]
    return {
        "seeds": per_seed,
        "ls_across": float(np.mean([a[0] for a in across])) if across else float("nan"),
        "ls_across_chance": float(np.mean([a[1] for a in across])) if across else float("nan"),
    }


def seed_values(record: dict, field: str, sub: str | None = None) -> np.ndarray:
    values = [s[field] if sub is None else s[field][sub] for s in record["analysis"]["seeds"]]
    return np.asarray(values, np.float64)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    validate(config)
    workdir = Path(workdir)
    records, transmissions = [], []
    for name in config.run_names:
        trainer, _ = make_trainer(config, name)
        run_dir = workdir / "runs" / name
        curves, states = train(trainer, config, run_dir, resume, name)
        if name in config.transmission.runs:
            # Before the analysis: its traces would change the chunk's program (a cache miss).
            newcomer_dir = workdir / "runs" / f"{name}_newcomer"
            newcomer, newcomer_states = transmit(config, name, trainer, states, newcomer_dir,
                                                 resume)  # fmt: skip
            similarity = newcomer_similarity(config, name, trainer, states, newcomer_states)
            transmissions.append(
                {
                    "run": name,
                    "member": int(config.transmission.member),
                    "threshold": float(config.transmission.threshold),
                    "window": int(config.transmission.window),
                    "scratch": {**curves, "steps_to_threshold": threshold_steps(curves, config)},
                    "newcomer": {
                        **newcomer,
                        "steps_to_threshold": threshold_steps(newcomer, config),
                    },
                    "similarity": similarity,
                }
            )
        analysis = analyse(config, name, trainer, states, run_dir)
        if config.episode_gif and name == config.run_names[0]:
            team = stacked.take(stacked.take(states.params, 0), jnp.array([0, 1]))
            test_env, gif_key = game(config, name, "test"), jax.random.PRNGKey(GIF_KEY)
            gif = workdir / "episode.gif"
            render.write_episode_gif(trainer.policy, team, test_env, gif_key, gif)
        records.append({"run": name, **curves, "analysis": analysis})
        (workdir / "results.json").write_text(json.dumps(records, indent=1))
        (workdir / "transmission.json").write_text(json.dumps(transmissions, indent=1))
    plot(records, workdir / FIGURE, transmissions)
    write_summary(config, records, workdir, transmissions)
    write_claims(workdir, claims(records, transmissions))
    return {"records": records, "transmission": transmissions}


def _mean_std(values: np.ndarray, spec: str = ".3f") -> str:
    if not np.isfinite(values).any():
        return "—"
    return f"{np.nanmean(values):{spec}} ± {np.nanstd(values):{spec}}"


def _steps(value) -> str:
    return "not reached" if value is None else f"{value:,}"


def transmission_claims(transmissions: list[dict]) -> list[Claim]:
    found = []
    for t in transmissions:
        ours, scratch = (t[k]["steps_to_threshold"] for k in ("newcomer", "scratch"))
        a, b = ours["seed_mean"], scratch["seed_mean"]
        held = a is not None and (b is None or a < b)
        final = {k: np.asarray(t[k]["eval_success"]["final_per_seed"]) for k in ("newcomer",
                 "scratch")}  # fmt: skip
        found.append(
            Claim(
                f"{RUNS[t['run']].label}: cultural transmission, a newcomer (member "
                f"{t['member']} re-initialised) among the trained members reaches "
                f"{t['threshold']} unseen-score success (evaluator, trailing mean of "
                f"{t['window']} evaluations, seed mean) in fewer env steps than the population "
                "trained from scratch with the same keys and budget",
                bool(held),
                f"steps to {t['threshold']}: newcomer {_steps(a)}, from scratch {_steps(b)} "
                f"(per seed: {[_steps(v) for v in ours['per_seed']]} vs "
                f"{[_steps(v) for v in scratch['per_seed']]}); final unseen-score success "
                f"newcomer {_mean_std(final['newcomer'])}, from scratch "
                f"{_mean_std(final['scratch'])}",
            )
        )
        sim = t.get("similarity")
        if sim and sim["ls_across_seeds"] is not None:
            ls = np.asarray(sim["ls_newcomer_vs_replaced"])
            found.append(
                Claim(
                    f"{RUNS[t['run']].label}: the newcomer speaks like the member it replaced "
                    "(LS between them, seat 0, same episodes, above the LS between different "
                    "seeds' trained members)",
                    bool(ls.mean() > sim["ls_across_seeds"]),
                    f"LS newcomer vs replaced {_mean_std(ls)} (chance "
                    f"{np.mean(sim['ls_chance']):.3f}), across seeds "
                    f"{sim['ls_across_seeds']:.3f}",
                )
            )
    return found


def claims(records: list[dict], transmissions: list[dict] = ()) -> list[Claim]:
    by_run = {r["run"]: r for r in records}
    found = []
    for ablation, learned in ABLATIONS.items():
        if learned not in by_run or ablation not in by_run:
            continue
        ours, zero = (seed_values(by_run[n], "test_success") for n in (learned, ablation))
        margin = ours.std() + zero.std()
        unseen = "scores" if RUNS[learned].game == SCOREG else "appearance times"
        found.append(
            Claim(
                f"{GAME_LABEL[RUNS[learned].game]}: with messages, success on unseen {unseen} "
                "exceeds the messages-zeroed ablation by more than the two runs' seed stds "
                "together",
                bool(ours.mean() - zero.mean() > margin),
                f"unseen-split success: messages {_mean_std(ours)}, zeroed {_mean_std(zero)} "
                f"(seeds: {ours.round(3).tolist()} vs {zero.round(3).tolist()})",
            )
        )
    if "pair" in by_run:
        ours = seed_values(by_run["pair"], "test_success")
        found.append(
            Claim(
                "ScoreG: success on unseen scores >= 0.9 (the paper's full-scale figure)",
                bool(ours.mean() >= 0.9),
                f"unseen-score success {_mean_std(ours)} after "
                f"{by_run['pair']['env_steps'][-1]:,} env steps (paper: 3e8)",
            )
        )
    for name, r in by_run.items():
        if RUNS[name].messages == "zero":
            continue
        field, what = first_probe(name)
        acc = seed_values(r, field, "accuracy")
        chance = seed_values(r, field, "chance")
        found.append(
            Claim(
                f"{RUNS[name].label}: the speaker's messages carry the target's {what} "
                "(displacement probe >= chance + 0.05)",
                bool(np.nanmean(acc - chance) >= 0.05),
                f"probe accuracy {_mean_std(acc)} vs chance {_mean_std(chance)}",
            )
        )
        if not math.isnan(r["analysis"]["ls_across"]):
            ls, ls_chance = r["analysis"]["ls_across"], r["analysis"]["ls_across_chance"]
            within = seed_values(r, "ls_within")
            found.append(
                Claim(
                    f"{RUNS[name].label}: languages are arbitrary and shared (LS within a "
                    "population above LS across independently trained seeds)",
                    bool(np.mean(within) > ls),
                    f"LS within {_mean_std(within)}, across seeds {ls:.3f} "
                    f"(chance {ls_chance:.3f})",
                )
            )
        topsim = seed_values(r, "topsim")
        found.append(
            Claim(
                f"{RUNS[name].label}: compositional structure (topographic similarity > 0.1)",
                bool(np.mean(topsim) > 0.1),
                f"TopSim {_mean_std(topsim)}, PosDis {_mean_std(seed_values(r, 'posdis'))}, "
                f"BosDis {_mean_std(seed_values(r, 'bosdis'))}",
            )
        )
    return found + transmission_claims(list(transmissions))


def plot(records: list[dict], path: Path, transmissions: list[dict] = ()) -> None:
    """Training success and unseen-score success vs env steps; language properties per run;
    the cross-play matrix of the largest population (seed 0, unseen scores); with
    ``transmissions``, the newcomer's and the from-scratch unseen-score curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 4 + bool(transmissions)
    fig, axes = plt.subplots(1, panels, figsize=(5.25 * panels, 4.2))
    for ax, metric, title in (
        (axes[0], "win_rate", "training success (training scores)"),
        (axes[1], "eval_success", "evaluated success (unseen scores)"),
    ):
        for r in records:
            x, m = np.asarray(r["env_steps"]), np.asarray(r[metric]["mean"])
            c = np.asarray(r[metric]["ci95"])
            ax.plot(x, m, label=RUNS[r["run"]].label)
            ax.fill_between(x, m - c, m + c, alpha=0.2)
        ax.set(title=title, xlabel="environment steps", ylim=(-0.02, 1.02))
    axes[0].legend(fontsize=8)
    fields = (
        ("topsim", None, "TopSim"),
        ("posdis", None, "PosDis"),
        ("bosdis", None, "BosDis"),
        (None, "accuracy", "probe"),  # The run's first probe: score bin / appearance time.
        ("ls_within", None, "LS within"),
    )
    width = 0.8 / len(records)
    for k, r in enumerate(records):
        values = [np.nanmean(seed_values(r, f or first_probe(r["run"])[0], s))
                  for f, s, _ in fields]  # fmt: skip
        axes[2].bar(np.arange(len(fields)) + k * width, values, width, label=RUNS[r["run"]].label)
    chance = np.nanmean([np.nanmean(seed_values(r, first_probe(r["run"])[0], "chance"))
                         for r in records])  # fmt: skip
    axes[2].axhline(chance, color="gray", ls="--", lw=1, label="probe chance")
    axes[2].set_xticks(np.arange(len(fields)) + 0.4 - width / 2, [f[2] for f in fields])
    axes[2].set(title="language properties (seed mean, unseen scores)")
    axes[2].legend(fontsize=7)
    largest = max(records, key=lambda r: RUNS[r["run"]].size)
    matrix = np.asarray(largest["analysis"]["seeds"][0]["test_cross_play"])
    image = axes[3].imshow(matrix, vmin=0, vmax=1, cmap="viridis")
    axes[3].set(title=f"cross-play success, {RUNS[largest['run']].label}, seed 0",
                xlabel="slot-1 member", ylabel="slot-0 member")  # fmt: skip
    fig.colorbar(image, ax=axes[3])
    if transmissions:
        ax = axes[4]
        for t in transmissions:
            for kind, style in (("newcomer", "-"), ("scratch", "--")):
                curve = t[kind]
                x = np.asarray(curve["env_steps"])
                m = np.asarray(curve["eval_success"]["mean"])
                c = np.asarray(curve["eval_success"]["ci95"])
                label = f"{RUNS[t['run']].label}, {'newcomer' if kind == 'newcomer' else 'scratch'}"
                ax.plot(x, m, style, label=label)
                ax.fill_between(x, m - c, m + c, alpha=0.15)
            ax.axhline(t["threshold"], color="gray", ls=":", lw=1)
        ax.set(title="newcomer vs scratch (unseen split; dotted: threshold)",
               xlabel="environment steps", ylim=(-0.02, 1.02))  # fmt: skip
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_summary(config, records: list[dict], workdir: Path, transmissions=()) -> None:
    lines = [
        "IPPO-LSTM populations on ScoreG (unseen split: scores) and TemporalG (unseen split: "
        f"appearance times), {config.total_timesteps:,} env steps per run, "
        f"mean ± std over {config.num_seeds} vmapped seeds. Success: every pairing of distinct "
        f"members ({config.cross_play_episodes} argmax episodes each, `jaxml.rl.evaluate`); "
        f"language: team (0, 1) on {config.language_episodes} unseen-split episodes, the "
        "speaker is ScoreG's agent that sees the higher-scoring item, TemporalG's agent 0 "
        "(pad token V counted in the vocabulary).",
        "",
        "| run | training success (last chunk) | success, training split | success, unseen "
        "split | self-play (never trained) | env steps/s | job s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in records:
        selfplay = [np.mean(np.diag(np.asarray(s["test_cross_play"])))
                    for s in r["analysis"]["seeds"]]  # fmt: skip
        speed = r["env_steps_per_second"]
        lines.append(
            f"| {RUNS[r['run']].label} | {_mean_std(np.asarray(r['win_rate']['final_per_seed']))}"
            f" | {_mean_std(seed_values(r, 'train_success'))} | "
            f"{_mean_std(seed_values(r, 'test_success'))} | {_mean_std(np.asarray(selfplay))} | "
            f"{'—' if speed is None else f'{speed:,.0f}'} | {r['job_seconds']:.0f} |"
        )
    lines += [
        "",
        "| run | TopSim | PosDis | BosDis | probe score bin / appearance time (chance) | "
        "probe row (chance) | "
        "probe column (chance) | LS within (chance) | LS across seeds (chance) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def with_chance(r, field):
        return (f"{_mean_std(seed_values(r, field, 'accuracy'))} "
                f"({np.nanmean(seed_values(r, field, 'chance')):.3f})")  # fmt: skip

    for r in records:
        a = r["analysis"]
        lines.append(
            f"| {RUNS[r['run']].label} | {_mean_std(seed_values(r, 'topsim'))} | "
            f"{_mean_std(seed_values(r, 'posdis'))} | {_mean_std(seed_values(r, 'bosdis'))} | "
            f"{with_chance(r, first_probe(r['run'])[0])} | {with_chance(r, 'probe_row')} | "
            f"{with_chance(r, 'probe_col')} | {_mean_std(seed_values(r, 'ls_within'))} "
            f"({np.mean(seed_values(r, 'ls_within_chance')):.3f}) | {a['ls_across']:.3f} "
            f"({a['ls_across_chance']:.3f}) |"
        )
    if transmissions:
        lines += [
            "",
            "Cultural transmission: member `member` of each seed's final population replaced by a "
            "fresh init, then the run's budget again; from scratch = the run itself (same keys). "
            "Steps to threshold: first evaluation whose trailing mean (window) of unseen-score "
            "success reaches the threshold.",
            "",
            "| run | member | threshold (window) | curve | steps to threshold, seed mean | "
            "per seed | final unseen-score success | final training success |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for t in transmissions:
            for kind in ("newcomer", "scratch"):
                c = t[kind]
                st = c["steps_to_threshold"]
                lines.append(
                    f"| {RUNS[t['run']].label} | {t['member']} | {t['threshold']} ({t['window']})"
                    f" | {'newcomer' if kind == 'newcomer' else 'from scratch'} | "
                    f"{_steps(st['seed_mean'])} | {', '.join(_steps(v) for v in st['per_seed'])}"
                    f" | {_mean_std(np.asarray(c['eval_success']['final_per_seed']))} | "
                    f"{_mean_std(np.asarray(c['win_rate']['final_per_seed']))} |"
                )
        lines += [
            "",
            "| run | LS newcomer vs replaced member (seat 0, per seed) | chance | LS across "
            "seeds' trained members |",
            "| --- | --- | --- | --- |",
        ]
        for t in transmissions:
            sim = t["similarity"]
            across = sim["ls_across_seeds"]
            lines.append(
                f"| {RUNS[t['run']].label} | "
                f"{', '.join(f'{v:.3f}' for v in sim['ls_newcomer_vs_replaced'])} | "
                f"{np.mean(sim['ls_chance']):.3f} | "
                f"{'—' if across is None else f'{across:.3f}'} |"
            )
    lines += ["", f"![language]({FIGURE})", ""]
    (workdir / "summary.md").write_text("\n".join(lines))


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)
