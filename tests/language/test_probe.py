"""Displacement probes on synthetic messages that do and do not carry the target (seeded)."""

import numpy as np
import pytest

from jaxml import language


def _data(seed, n=1200, num_classes=4, length=4, vocab=5, informative=True, skew=False):
    rng = np.random.default_rng(seed)
    p = np.array([0.55, 0.25, 0.12, 0.08]) if skew else None
    targets = rng.choice(num_classes, n, p=p)
    messages = rng.integers(0, vocab, (n, length))
    if informative:
        messages[:, 2] = targets  # position 2 names the target
    return messages, targets


@pytest.mark.parametrize("balance", ["undersample", "class_weight"])
def test_messages_that_carry_the_target_are_decoded(balance):
    messages, targets = _data(0)
    result = language.displacement_probe(messages, targets, 5, seed=0, balance=balance)
    assert result.accuracy > 0.97
    assert result.chance == pytest.approx(0.25, abs=0.01)
    assert result.num_classes == 4


@pytest.mark.parametrize("balance", ["undersample", "class_weight"])
def test_messages_that_do_not_carry_it_are_at_chance(balance):
    messages, targets = _data(1, informative=False)
    result = language.displacement_probe(messages, targets, 5, seed=1, balance=balance)
    assert abs(result.accuracy - result.chance) < 0.07


def test_zeroed_messages_are_at_chance_exactly():
    # The no-communication ablation: every token 0 leaves only the class prior to predict.
    messages, targets = _data(2)
    result = language.displacement_probe(np.zeros_like(messages), targets, 5, seed=2)
    assert result.accuracy == pytest.approx(result.chance, abs=1 / result.num_test + 1e-9)


def test_undersampling_balances_skewed_classes_and_splits_70_30():
    messages, targets = _data(3, skew=True)
    smallest = np.bincount(targets).min()
    result = language.displacement_probe(messages, targets, 5, seed=3)
    assert result.num_train + result.num_test == 4 * smallest
    assert result.num_test == pytest.approx(0.3 * 4 * smallest, abs=1)
    assert result.chance == pytest.approx(0.25, abs=0.01)  # a skewed set would give 0.55
    weighted = language.displacement_probe(messages, targets, 5, seed=3, balance="class_weight")
    assert weighted.num_train + weighted.num_test == len(targets)
    assert weighted.chance == 0.25


def test_the_seed_fixes_the_result():
    messages, targets = _data(4, informative=False)
    first = language.displacement_probe(messages, targets, 5, seed=7)
    assert first == language.displacement_probe(messages, targets, 5, seed=7)


def test_message_features_are_position_one_hots():
    features = np.asarray(language.message_features(np.array([[0, 2], [1, 1]]), 3))
    np.testing.assert_array_equal(features, [[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0]])


def test_score_bins():
    np.testing.assert_array_equal(language.score_bin(np.array([1, 25, 26, 250])), [0, 0, 1, 9])


def test_linear_probe_on_float_features():
    rng = np.random.default_rng(5)
    targets = rng.integers(0, 3, 600)
    features = rng.normal(size=(600, 2)) + 4.0 * np.eye(3)[targets][:, :2]
    result = language.linear_probe(features, targets, seed=0)
    assert result.accuracy > 0.9


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"targets": np.zeros(10, int)}, "targets: expected at least 2 classes"),
        (
            {"targets": np.arange(10) % 2 * 1.0},
            r"targets: expected an integer array of shape \[N\]",
        ),
        ({"targets": np.arange(9) % 2}, r"targets: expected one class per record, shape \[10\]"),
        ({"balance": "oversample"}, "balance: expected one of undersample, class_weight"),
        ({"test_fraction": 1.0}, r"test_fraction: expected a value in \(0.0, 1.0\)"),
        ({"vocab_size": 2}, "messages: expected tokens in"),
    ],
)
def test_bad_inputs_raise(kwargs, match):
    arguments = {
        "messages": np.arange(10)[:, None] % 3,
        "targets": np.arange(10) % 2,
        "vocab_size": 3,
        "seed": 0,
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        language.displacement_probe(**arguments)
