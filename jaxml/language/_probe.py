"""Displacement probes: can a listener's missing information be decoded from a speaker's messages?

"From Grunts to Lexicons" (Piriyajitakonkij et al. 2025, arXiv 2505.12872) measures displacement
(talking about what the listener cannot see: an item out of its view, an item that appeared before
the freeze ended) by decoding it from the speaker's whole message sequence with a multinomial
logistic regression (scikit-learn, 70/30 train/test split, balanced classes) and comparing the
test accuracy with chance. Targets: ScoreG, the item's score bin ``(s − 1) // 25`` (``score_bin``)
and its row/column; TemporalG, the item's appearance time and position.

Balancing (the paper says "balanced classes" without the method), two choices:

- ``"undersample"`` (default): every class is cut, at random (seeded), to the size of the rarest
  class before the stratified split, so train and test sets are balanced; the accuracy is the
  plain test accuracy and chance is the test frequency of the most frequent class (``1/K`` up
  to the split's rounding).
- ``"class_weight"``: all records are kept, the fit weights classes by ``N / (K · N_k)``
  (scikit-learn's ``class_weight="balanced"``), and the accuracy is the balanced accuracy (the
  mean per-class recall) of the stratified test set, whose chance level is exactly ``1/K``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import sklearn.linear_model
import sklearn.metrics
import sklearn.model_selection

from jaxml.language import _validate
from jaxml.utils import checks

BALANCES = ("undersample", "class_weight")


class ProbeResult(NamedTuple):
    """Test accuracy of a linear probe beside its chance level."""

    accuracy: float  # test accuracy ("class_weight": balanced accuracy)
    chance: float  # accuracy of always predicting the most frequent test class
    num_classes: int  # K, the classes present in the targets
    num_train: int  # records the probe was fitted on
    num_test: int  # records it was scored on


def score_bin(scores: Any, *, bin_width: int = 25) -> jax.Array:
    """ScoreG's displacement target: ``(score − 1) // bin_width`` (scores 1..250 → 10 bins)."""
    bin_width = checks.positive_int(bin_width, "bin_width")
    return (jnp.asarray(scores, jnp.int32) - 1) // bin_width


def message_features(messages: Any, vocab_size: int) -> jax.Array:
    """``[N, L · vocab_size]`` one-hot of each position's token: the probe's view of a message
    sequence (position-aware, so it can read a token's meaning from where it is said)."""
    messages = _validate.int_array(messages, "messages", "N, L", min_size=(1, 1))
    vocab_size = _validate.tokens_below(messages, vocab_size)
    return jax.nn.one_hot(messages, vocab_size).reshape(messages.shape[0], -1)


def linear_probe(
    features: Any,
    targets: Any,
    *,
    seed: int,
    test_fraction: float = 0.3,
    balance: str = "undersample",
    max_iter: int = 1000,
) -> ProbeResult:
    """Fits a multinomial logistic regression from ``features`` to ``targets``; scores held out.

    Args:
      features: ``[N, F]`` numbers per record.
      targets: ``[N]`` integer class of each record (at least 2 classes, each at least twice).
      seed: seeds the undersampling and the stratified split.
      test_fraction: share of the (balanced) records held out for the test (0.3: a 70/30 split).
      balance: ``"undersample"`` or ``"class_weight"`` (module docstring).
      max_iter: L-BFGS iterations.

    Returns:
      ``ProbeResult``.
    """
    features = np.asarray(_validate.float_array(features, "features", "N, F"))
    targets_array = _validate.int_array(targets, "targets", "N")
    targets = np.asarray(targets_array)
    checks.expect(
        targets.shape[0] == features.shape[0],
        "targets",
        f"one class per record, shape [{features.shape[0]}]",
        f"shape {targets.shape}",
    )
    checks.choice(balance, "balance", BALANCES)
    checks.in_range(test_fraction, "test_fraction", 0.0, 1.0, closed=(False, False))
    max_iter = checks.positive_int(max_iter, "max_iter")
    classes, counts = np.unique(targets, return_counts=True)
    checks.expect(
        classes.size >= 2 and counts.min() >= 2,
        "targets",
        "at least 2 classes with at least 2 records each",
        dict(zip(classes.tolist(), counts.tolist(), strict=True)),
    )
    rng = np.random.default_rng(seed)
    keep = np.arange(targets.shape[0])
    if balance == "undersample":
        per_class = [np.flatnonzero(targets == c) for c in classes]
        size = counts.min()
        keep = np.sort(np.concatenate([rng.choice(i, size, replace=False) for i in per_class]))
    train, test = sklearn.model_selection.train_test_split(
        keep,
        test_size=test_fraction,
        stratify=targets[keep],
        random_state=int(rng.integers(2**31 - 1)),
    )
    checks.expect(
        np.unique(targets[train]).size == classes.size and test.size >= classes.size,
        "test_fraction",
        f"a split that leaves every one of the {classes.size} classes in train and test",
        test_fraction,
    )
    model = sklearn.linear_model.LogisticRegression(
        max_iter=max_iter, class_weight="balanced" if balance == "class_weight" else None
    )
    model.fit(features[train], targets[train])
    predicted = model.predict(features[test])
    if balance == "class_weight":
        accuracy = sklearn.metrics.balanced_accuracy_score(targets[test], predicted)
        chance = 1.0 / classes.size
    else:
        accuracy = sklearn.metrics.accuracy_score(targets[test], predicted)
        chance = np.max(np.unique(targets[test], return_counts=True)[1]) / test.size
    return ProbeResult(
        accuracy=float(accuracy),
        chance=float(chance),
        num_classes=int(classes.size),
        num_train=int(train.size),
        num_test=int(test.size),
    )


def displacement_probe(
    messages: Any, targets: Any, vocab_size: int, *, seed: int, **kwargs: Any
) -> ProbeResult:
    """Decodes ``targets`` from the speaker's message sequences (``message_features``).

    Args:
      messages: ``[N, L]`` integer tokens a speaker emitted over each episode.
      targets: ``[N]`` integer class the listener could not see (``score_bin``, a row, a column,
        an appearance time).
      vocab_size: number of token values (count the pad token, if any).
      seed: seeds the balancing and the split.
      **kwargs: ``test_fraction``, ``balance``, ``max_iter`` of ``linear_probe``.

    Returns:
      ``ProbeResult``; displacement shows as ``accuracy`` well above ``chance``.
    """
    return linear_probe(message_features(messages, vocab_size), targets, seed=seed, **kwargs)
