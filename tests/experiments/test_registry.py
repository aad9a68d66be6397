"""Every registered experiment runs end to end on a tiny budget; every launcher is registered."""

import importlib
import json
from pathlib import Path

import pytest

from experiments import registry
from jaxml.utils.claims import CLAIMS_FILE, read_claims
from jaxml.utils.cli import build_config
from jaxml.utils.metrics import read_metrics

EXPERIMENTS_DIR = Path(registry.__file__).parent
# Launchers that write claims.json (jaxml.utils.claims); the report's first table reads them.
CLAIMING = {"digits", "grng", "npg", "marl", "caal", "scd", "resnet_bounds"}


def test_every_launcher_is_registered():
    launchers = {p.parent.name for p in EXPERIMENTS_DIR.glob("*/main.py")}
    assert launchers == {e.name for e in registry.EXPERIMENTS}


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(ValueError, match="registered: digits"):
        registry.by_name("nope")


@pytest.mark.parametrize("experiment", registry.EXPERIMENTS, ids=lambda e: e.name)
def test_smoke(experiment, tmp_path):
    module = importlib.import_module(experiment.module)
    for preset in ("quick", "full"):  # Both presets must build and validate.
        module.validate(build_config(module.get_config, preset, {}))
    config = build_config(module.get_config, "quick", experiment.smoke_overrides)
    module.train_and_evaluate(config, tmp_path, False)
    # One metrics.jsonl per runner job: at the top, or one per sub-run (e.g. per optimizer).
    metric_files = sorted(tmp_path.rglob("metrics.jsonl"))
    assert metric_files
    for path in metric_files:
        rows = read_metrics(path)
        assert rows, path
        for key, value in rows[-1].items():
            values = value if isinstance(value, list) else [value]
            # Numbers, or a label naming the row's variant (e.g. CAAL's acquisition strategy).
            assert all(isinstance(v, int | float | str) for v in values), (path, key)
        json.dumps(rows)  # Rows are plain JSON.
    if "num_steps" in config:
        assert read_metrics(tmp_path)[-1]["step"] == config.num_steps
    assert (tmp_path / module.FIGURE).stat().st_size > 1000
    assert (tmp_path / "summary.md").read_text().strip()
    if experiment.name in CLAIMING or (tmp_path / CLAIMS_FILE).exists():
        claims = read_claims(tmp_path)  # Parses, and every claim is a statement, bool, evidence.
        assert claims, "the smoke run checks at least one claim"
