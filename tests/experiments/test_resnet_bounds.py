"""The resnet_bounds launcher: typed config checks, nested datasets, one tiny end-to-end run."""

import json
import re

import numpy as np
import pytest

from experiments import registry
from experiments.resnet_bounds import main
from experiments.resnet_bounds.config import get_config
from jaxml.utils.config import ConfigError
from jaxml.utils.metrics import read_metrics

SMOKE = registry.by_name("resnet_bounds").smoke_overrides


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("depths", (4, "x"), "--config.depths: expected a non-empty tuple of integers > 0"),
        ("depths", (0,), "--config.depths: expected a non-empty tuple of integers > 0, got (0,)"),
        ("depths", (), "--config.depths: expected a non-empty tuple"),
        ("train_sizes", (100, 5000), "--config.train_sizes: expected sizes <= 1437"),
        ("datasets", ("mnist",), "--config.datasets: expected a non-empty tuple of digits, moons"),
        ("delta", 1.0, "--config.delta: expected a value in (0.0, 1.0), got 1.0"),
        ("model.ode_solver", "midpoint", "--config.model.ode_solver: expected one of"),
    ],
)
def test_validate_rejects_bad_values(field, value, message):
    config = get_config("quick")
    config.update_from_flattened_dict({field: value})
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        main.validate(config)


def test_both_presets_validate_and_use_tuples():
    for preset in ("quick", "full"):
        config = get_config(preset)
        main.validate(config)
        for field in ("datasets", "depths", "train_sizes"):
            assert isinstance(config[field], tuple), field


def test_nested_subsets_and_dataset_shapes():
    config = get_config("quick")
    data = main.load_dataset("moons", config)
    assert data.train.x.shape == (config.moons_train, 2) and data.num_classes == 2
    assert data.test.x.shape == (config.moons_test, 2)
    again = main.load_dataset("moons", config)
    np.testing.assert_array_equal(data.train.x, again.train.x)  # Fixed order: nested S subsets.
    digits = main.load_dataset("digits", config)
    assert digits.num_classes == 10 and digits.train.x.shape[1] == 64


@pytest.mark.slow
def test_tiny_end_to_end_run(tmp_path):
    config = get_config("quick")
    config.update_from_flattened_dict(SMOKE)
    out = main.train_and_evaluate(config, tmp_path, False)
    records = json.loads((tmp_path / "results.json").read_text())
    assert [r["size"] for r in records] == [40, 80]  # Members setting-major.
    for r in records:
        assert r["paper"]["structure_term"] == 0.0
        assert np.isfinite(r["paper"]["log10_bound"]) and np.isfinite(r["bft"]["log10_bound"])
        assert r["gap_error"] == pytest.approx(r["test_error"] - r["train_error"])
    rows = read_metrics(tmp_path / "runs" / "moons" / "L2")
    assert rows[-1]["step"] == 10
    assert (tmp_path / main.FIGURE).stat().st_size > 1000
    assert "Claim" in (tmp_path / "summary.md").read_text()
    assert set(out["verdicts"]) == {"moons"}
