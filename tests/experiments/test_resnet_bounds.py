"""The resnet_bounds launcher: config checks, margin/ramp losses, one tiny end-to-end run."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from experiments import registry
from experiments.resnet_bounds import main
from experiments.resnet_bounds.config import get_config
from jaxml.utils.config import ConfigError
from jaxml.utils.metrics import read_metrics

SMOKE = registry.by_name("resnet_bounds").smoke_overrides


def test_margins_and_ramp_against_a_loop():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((20, 5)).astype(np.float32)
    y = rng.integers(0, 5, 20).astype(np.int32)
    want = [logits[i, y[i]] - max(logits[i, k] for k in range(5) if k != y[i]) for i in range(20)]
    got = main.margins(jnp.asarray(logits), jnp.asarray(y))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    ramp = np.asarray(main.ramp_loss(got, 0.5))
    np.testing.assert_allclose(ramp, np.clip(1 - np.asarray(want) / 0.5, 0, 1), rtol=1e-6)
    assert np.all(ramp >= (np.asarray(want) <= 0))  # The ramp loss is above the 0-1 loss.


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("depths", "4,x", "depths"),
        ("depths", "0", "depths"),
        ("train_sizes", "100,5000", "exceeds"),
        ("datasets", "mnist", "datasets"),
        ("delta", 1.0, "delta"),
        ("model.ode_solver", "midpoint", "ode_solver"),
    ],
)
def test_validate_rejects_bad_values(field, value, match):
    config = get_config("quick")
    config.update_from_flattened_dict({field: value})
    with pytest.raises(ConfigError, match=match):
        main.validate(config)


def test_both_presets_validate():
    main.validate(get_config("quick"))
    main.validate(get_config("full"))


def test_nested_subsets_and_dataset_shapes():
    config = get_config("quick")
    data = main.load_dataset("moons", config)
    assert data.x_train.shape == (config.moons_train, 2) and data.num_classes == 2
    assert data.x_test.shape == (config.moons_test, 2)
    again = main.load_dataset("moons", config)
    np.testing.assert_array_equal(data.x_train, again.x_train)  # Fixed order: nested S subsets.


@pytest.mark.slow
def test_tiny_end_to_end_run(tmp_path):
    config = get_config("quick")
    config.update_from_flattened_dict(SMOKE)
    out = main.train_and_evaluate(config, tmp_path, False)
    records = json.loads((tmp_path / "results.json").read_text())
    assert {r["size"] for r in records} == {40, 80}
    for r in records:
        assert r["paper"]["structure_term"] == 0.0
        assert np.isfinite(r["paper"]["log10_bound"]) and np.isfinite(r["bft"]["log10_bound"])
        assert r["gap_error"] == pytest.approx(r["test_error"] - r["train_error"])
    rows = read_metrics(tmp_path / "runs" / "moons" / "L2")
    assert rows[-1]["step"] == 10
    assert (tmp_path / main.FIGURE).stat().st_size > 1000
    assert "Claim" in (tmp_path / "summary.md").read_text()
    assert set(out["verdicts"]) == {"moons"}
