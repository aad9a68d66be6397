"""The active-learning loop: train ensemble -> score pool -> acquire k -> repeat, per strategy.

From "Confidence-Aware Active Learning for Heteroscedastic Atmospheric Regression" (Jiang et al.,
arXiv 2602.11825). Every strategy starts from the same initial labelled set and, in each round,
trains its ensemble with the same keys (common random numbers), so curves differ only by what
was acquired. All strategies' ensembles of one round are trained by one jitted call (vmap over
strategies and members) on rows padded to the full pool, so nothing recompiles from round to round.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxml.al._acquisition import (
    DIVERSITY_STRATEGIES,
    STRATEGIES,
    group_mean,
    kcenter_greedy,
    kmeans_pp,
    point_scores,
    random_units,
    top_k,
)
from jaxml.al._ensemble import TrainSettings, make_member_trainer, predict_ensemble
from jaxml.al._losses import LOSSES, gaussian_nll, make_loss
from jaxml.al._models import TRUNKS, HeteroscedasticRegressor
from jaxml.utils import checks

TARGET_TRANSFORMS = ("identity", "logit")


class ActiveLearningData(NamedTuple):
    """A pool with an initial labelled part, and a test set.

    ``y`` and ``y_test`` are in the space the models fit (e.g. logit χ); ``y_test_raw`` is the test
    target in original units, where RMSE/MAE/R² are reported (``target_transform`` maps back).
    """

    x: np.ndarray  # [N, F] inputs of the initial set and the pool.
    y: np.ndarray  # [N] fitted-space targets (revealed only once a row is labelled).
    unit: np.ndarray  # [N] int id of the unit of labelling (a group / scenario); any ints.
    initial: np.ndarray  # [N] bool, labelled at round 0.
    x_test: np.ndarray  # [T, F]
    y_test: np.ndarray  # [T] fitted-space test targets.
    y_test_raw: np.ndarray  # [T] test targets in original units.
    target_transform: str = "identity"  # "identity" or "logit" (predictions -> sigmoid).


def default_config() -> ml_collections.ConfigDict:
    """Loop and ensemble settings; the defaults are the paper's (M = 6, AdamW 1e-4, λ = 0.1)."""
    c = ml_collections.ConfigDict()
    c.strategies = ("caal", "random", "total_variance", "epistemic", "bald", "coreset")
    c.num_rounds = 20
    c.acquire_per_round = 30  # Units (groups in group mode, points otherwise) per round.
    c.group_mode = True
    c.val_fraction = 0.2  # Share of labelled units held out for early stopping.
    c.alpha = 1.0  # CAAL exponent on normalised epistemic uncertainty.
    c.beta = 1.0  # CAAL exponent on 1 - normalised aleatoric uncertainty.
    c.ensemble = ml_collections.ConfigDict(
        {
            "num_members": 6,
            "trunk": "ft_transformer",
            "width": 128,  # MLP width or FT-Transformer d_model.
            "depth": 4,  # MLP layers or transformer blocks.
            "num_heads": 8,
            "ffn_width": 512,
            "loss": "caal",
            "lam": 0.1,
            "beta_nll": 0.5,
            "learning_rate": 1e-4,
            "weight_decay": 1e-4,
            "batch_size": 128,
            "max_epochs": 100,
            "patience": 10,
            "clip_norm": 1.0,
        }
    )
    return c


def validate_config(config: ml_collections.ConfigDict, prefix: str = "") -> None:
    """Raises ValueError ``--config.<prefix><field>: expected <accepted>, got <value>``.

    ``config.strategies`` is a tuple of distinct names from :data:`jaxml.al.STRATEGIES`.
    """

    def name(field: str) -> str:
        return f"--config.{prefix}{field}"

    strategies = checks.choices(config.strategies, name("strategies"), STRATEGIES)
    # A strategy listed twice would give two runs with the same rows and the same label.
    distinct = len(set(strategies)) == len(strategies)
    checks.expect(distinct, name("strategies"), "each strategy once", config.strategies)
    for field in ("num_rounds", "acquire_per_round"):
        checks.positive_int(config[field], name(field))
    checks.in_range(config.val_fraction, name("val_fraction"), 0.0, 1.0, closed=(False, False))
    for field in ("alpha", "beta"):
        ok = isinstance(config[field], int | float) and config[field] >= 0
        checks.expect(ok, name(field), "a number >= 0", config[field])
    e = config.ensemble
    for field in ("num_members", "width", "depth", "num_heads", "ffn_width", "batch_size"):
        checks.positive_int(e[field], name(f"ensemble.{field}"))
    for field in ("max_epochs", "patience", "learning_rate", "clip_norm"):
        checks.positive(e[field], name(f"ensemble.{field}"))
    two = e.num_members >= 2
    # Epistemic uncertainty is the variance across members: one member has none.
    checks.expect(two, name("ensemble.num_members"), "an integer >= 2", e.num_members)
    checks.choice(e.trunk, name("ensemble.trunk"), TRUNKS)
    checks.choice(e.loss, name("ensemble.loss"), LOSSES)
    if e.trunk == "ft_transformer":
        divisible = e.width % e.num_heads == 0
        expected = f"a multiple of ensemble.num_heads={e.num_heads}"
        checks.expect(divisible, name("ensemble.width"), expected, e.width)


def make_model(e: ml_collections.ConfigDict) -> HeteroscedasticRegressor:
    """The member a config describes (the Faithful and natural-NLL losses set model flags)."""
    return HeteroscedasticRegressor(
        trunk=e.trunk,
        width=e.width,
        depth=e.depth,
        num_heads=e.num_heads,
        ffn_width=e.ffn_width,
        detach_variance_features=e.loss == "faithful",
        natural_parameters=e.loss == "natural_nll",
    )


def train_settings(e: ml_collections.ConfigDict) -> TrainSettings:
    return TrainSettings(
        learning_rate=e.learning_rate,
        weight_decay=e.weight_decay,
        batch_size=e.batch_size,
        max_epochs=e.max_epochs,
        patience=e.patience,
        clip_norm=e.clip_norm,
    )


def regression_metrics(
    means: np.ndarray,
    variances: np.ndarray,
    y: np.ndarray,
    y_raw: np.ndarray,
    target_transform: str,
) -> dict[str, float]:
    """RMSE/MAE/R² in original units and Gaussian NLL (with ½ log 2π) in fitted space.

    ``means``/``variances`` are ``[M, T]`` fitted-space member predictions; the predictive
    distribution is ``N(Mean_m μ_m, Var_m μ_m + Mean_m σ²_m)``.
    """
    mean = means.mean(0)
    var = means.var(0) + variances.mean(0)
    pred = 1.0 / (1.0 + np.exp(-mean)) if target_transform == "logit" else mean
    err = pred - y_raw
    sst = np.sum((y_raw - y_raw.mean()) ** 2)
    nll = gaussian_nll(jnp.asarray(mean), jnp.asarray(var), jnp.asarray(y), include_constant=True)
    return {
        "test_rmse": float(np.sqrt(np.mean(err**2))),
        "test_mae": float(np.mean(np.abs(err))),
        "test_r2": float(1.0 - np.sum(err**2) / sst) if sst > 0 else float("nan"),
        "test_nll": float(nll),
    }


@functools.lru_cache(maxsize=8)
def _compiled(ensemble_items: tuple) -> tuple[HeteroscedasticRegressor, Callable, Callable]:
    """Jitted trainer (vmap over strategies, then members) and predictor for one ensemble config.

    Cached so that seeds and repeated calls with the same settings reuse the compiled functions.
    """
    e = ml_collections.ConfigDict(dict(ensemble_items))
    model = make_model(e)
    loss = make_loss(e.loss, lam=e.lam, beta=e.beta_nll)
    member = make_member_trainer(model, loss, train_settings(e))
    ensemble = jax.vmap(member, in_axes=(0, None, None, None, None, None))
    train_runs = jax.jit(jax.vmap(ensemble, in_axes=(None, None, 0, 0, 0, 0)))
    predict_runs = jax.jit(
        jax.vmap(lambda p, xx: predict_ensemble(model, p, xx), in_axes=(0, None))
    )
    return model, train_runs, predict_runs


def _fold_of_units(key: jax.Array, initial_units: np.ndarray, val_fraction: float) -> np.ndarray:
    """Validation fold per unit: a fixed share of the initial units (at least one) and the pool."""
    is_val = np.zeros(initial_units.shape, bool)
    for part, sub in ((initial_units, 0), (~initial_units, 1)):
        idx = np.flatnonzero(part)
        if idx.size == 0:
            continue
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, sub), idx.size))
        n_val = int(round(val_fraction * idx.size))
        if sub == 0:
            n_val = min(max(n_val, 1), idx.size - 1)
        is_val[idx[perm[:n_val]]] = True
    return is_val


def _acquire(
    strategy: str,
    key: jax.Array,
    means: jax.Array,
    variances: jax.Array,
    embeddings: jax.Array,
    unit: jax.Array,
    labelled_units: np.ndarray,
    k: int,
    alpha: float,
    beta: float,
) -> np.ndarray:
    """Unit indices ``[k]`` a strategy acquires.

    means/variances are ``[M, N]``, embeddings ``[M, N, D]``.
    """
    num_units = labelled_units.shape[0]
    candidates = jnp.asarray(~labelled_units)
    if strategy == "random":
        return np.asarray(random_units(key, candidates, k))
    if strategy in DIVERSITY_STRATEGIES:
        # Members' feature spaces are unrelated, so a point's vector is all members' features side
        # by side (squared distances add up over members).
        vec = jnp.transpose(embeddings, (1, 0, 2)).reshape(embeddings.shape[1], -1)
        if strategy == "badge":
            vec = vec * jnp.sqrt(means.var(0))[:, None]
        vec = group_mean(vec, unit, num_units)
        if strategy == "coreset":
            return np.asarray(kcenter_greedy(vec, jnp.asarray(labelled_units), candidates, k))
        return np.asarray(kmeans_pp(key, vec, candidates, k))
    pool_rows = ~jnp.asarray(labelled_units)[unit]
    scores = point_scores(strategy, means, variances, pool_rows, alpha=alpha, beta=beta)
    return np.asarray(top_k(group_mean(scores, unit, num_units), candidates, k))


def run_active_learning(
    config: ml_collections.ConfigDict,
    data: ActiveLearningData,
    key: jax.Array,
    *,
    seed: int = 0,
    writer=None,
    return_labelled: bool = False,
) -> list[dict] | tuple[list[dict], np.ndarray]:
    """Runs every strategy of ``config.strategies`` for ``config.num_rounds`` acquisition rounds.

    Round 0 evaluates the ensemble trained on the initial set; each later round first acquires
    ``config.acquire_per_round`` units, then retrains from scratch and evaluates on the test set.

    Args:
      config: :func:`default_config`-shaped settings.
      data: the pool, initial set and test set.
      key: PRNG key; the same key gives the same rows.
      seed: written into each row (the caller's seed label).
      writer: optional ``jaxml.utils.metrics.MetricsWriter``; one row per strategy per round is
        appended with ``step = round``.
      return_labelled: also return the final labelled rows, ``[S, N]`` bool in strategy order.

    Returns:
      The rows: ``strategy, seed, round, n_labelled, n_labelled_units, n_train, test_rmse,
      test_mae, test_r2, test_nll, val_mse, epochs``.
    """
    validate_config(config)
    checks.choice(data.target_transform, "data.target_transform", TARGET_TRANSFORMS)
    strategies = tuple(config.strategies)
    e = config.ensemble
    x = np.asarray(data.x, np.float32)
    y = np.asarray(data.y, np.float32)
    n = x.shape[0]
    if y.shape != (n,) or data.unit.shape != (n,) or data.initial.shape != (n,):
        raise ValueError(f"data: y, unit and initial must have shape ({n},)")
    if config.group_mode:
        unit_ids, unit = np.unique(np.asarray(data.unit), return_inverse=True)
    else:
        unit_ids, unit = np.arange(n), np.arange(n)
    num_units = unit_ids.shape[0]
    initial_units = np.zeros(num_units, bool)
    initial_units[unit[np.asarray(data.initial, bool)]] = True
    if not np.array_equal(initial_units[unit], np.asarray(data.initial, bool)):
        raise ValueError("data.initial: a group is partly labelled; label whole groups")
    k = int(config.acquire_per_round)
    need = k * int(config.num_rounds)
    if need > int((~initial_units).sum()):
        raise ValueError(
            f"--config.num_rounds x --config.acquire_per_round = {need} units, but the pool "
            f"holds only {int((~initial_units).sum())}"
        )
    if initial_units.sum() < 2:
        raise ValueError("data.initial: needs at least two units (one for validation)")

    # Inputs are standardised with statistics of the whole pool: inputs are not labels.
    x_loc, x_scale = x.mean(0), x.std(0) + 1e-8
    xs = jnp.asarray((x - x_loc) / x_scale)
    xs_test = jnp.asarray((np.asarray(data.x_test, np.float32) - x_loc) / x_scale)

    fold_key, train_key, acq_key = jax.random.split(key, 3)
    is_val_row = _fold_of_units(fold_key, initial_units, config.val_fraction)[unit]

    model, train_runs, predict_runs = _compiled(tuple(sorted(e.to_dict().items())))

    num_runs = len(strategies)
    labelled = np.tile(initial_units, (num_runs, 1))  # [S, U]
    unit_j = jnp.asarray(unit)
    rows = []
    for rnd in range(int(config.num_rounds) + 1):
        row_mask = labelled[:, unit]  # [S, N]
        train_w = (row_mask & ~is_val_row).astype(np.float32)
        val_w = (row_mask & is_val_row).astype(np.float32)
        n_train = train_w.sum(1)
        loc = (train_w * y).sum(1) / n_train
        scale = np.sqrt((train_w * (y - loc[:, None]) ** 2).sum(1) / n_train) + 1e-6
        y_std = ((y - loc[:, None]) / scale[:, None]).astype(np.float32)
        steps = np.maximum(1, np.ceil(n_train / e.batch_size)).astype(np.int32)
        keys = jax.random.split(jax.random.fold_in(train_key, rnd), e.num_members)
        fit = train_runs(keys, xs, jnp.asarray(y_std), train_w, val_w, steps)
        pool_pred = predict_runs(fit.params, xs)
        test_pred = predict_runs(fit.params, xs_test)
        loc_b, scale_b = loc[:, None, None], scale[:, None, None]
        for s, strategy in enumerate(strategies):
            metrics = regression_metrics(
                np.asarray(test_pred.mean[s]) * scale[s] + loc[s],
                np.asarray(test_pred.variance[s]) * scale[s] ** 2,
                np.asarray(data.y_test, np.float64),
                np.asarray(data.y_test_raw, np.float64),
                data.target_transform,
            )
            row = {
                "strategy": strategy,
                "seed": int(seed),
                "round": rnd,
                "n_labelled": int(row_mask[s].sum()),
                "n_labelled_units": int(labelled[s].sum()),
                "n_train": int(n_train[s]),
                **metrics,
                "val_mse": float(np.mean(fit.best_val_mse[s])),
                "epochs": float(np.mean(fit.epochs[s])),
            }
            rows.append(row)
            if writer is not None:
                writer.write(rnd, row)
        if rnd == config.num_rounds:
            break
        means = jnp.asarray(pool_pred.mean * scale_b + loc_b)  # [S, M, N] fitted space
        variances = jnp.asarray(pool_pred.variance * scale_b**2)
        for s, strategy in enumerate(strategies):
            chosen = _acquire(
                strategy,
                jax.random.fold_in(jax.random.fold_in(acq_key, rnd), s),
                means[s],
                variances[s],
                pool_pred.embedding[s],
                unit_j,
                labelled[s],
                k,
                config.alpha,
                config.beta,
            )
            if labelled[s, chosen].any() or len(set(chosen.tolist())) != k:
                raise RuntimeError(f"strategy {strategy!r} picked a labelled or repeated unit")
            labelled[s, chosen] = True
    if return_labelled:
        return rows, labelled[:, unit]
    return rows
