"""The language launcher: both presets validate, bad fields are one-line ConfigErrors naming the
flag, and (slow) a tiny run writes the tables, figure, claims and the saved language records."""

import json

import numpy as np
import pytest

from experiments import registry
from experiments.language import config as language_config
from experiments.language import main
from jaxml.language import load_records
from jaxml.utils.claims import read_claims
from jaxml.utils.cli import build_config
from jaxml.utils.config import ConfigError


def test_runs_differ_only_in_size_and_channel():
    config = build_config(language_config.get_config, "quick", {})
    assert (
        config.runs.zero.agent.messages == "zero" and config.runs.pair.agent.messages == "learned"
    )
    assert [config.runs[n].population.size for n in ("pair", "pop3", "pop6")] == [2, 3, 6]
    assert config.runs.pop6.head_ent_coefs == (0.01, 0.002) and config.runs.pop6.clip_eps == 0.1
    full = build_config(language_config.get_config, "full", {})
    assert (
        full.runs.pair.agent.grid_hidden == (256, 256, 128, 16) and full.runs.pair.rnn_size == 128
    )
    assert full.runs.pop15.population.size == 15


def test_bad_fields_name_the_flag():
    overrides = {"runs.pop6.num_envs": 50, "run_names": ("pair", "pop6")}
    config = build_config(language_config.get_config, "quick", overrides)
    with pytest.raises(ConfigError, match=r"--config\.runs\.pop6: config\.num_envs"):
        main.validate(config)
    config = build_config(language_config.get_config, "quick", {"runs.pair.agent.messages": "x"})
    with pytest.raises(ConfigError, match=r"--config\.runs\.pair: agent\.messages"):
        main.validate(config)
    config = build_config(language_config.get_config, "quick", {"run_names": ("pair", "pop99")})
    with pytest.raises(ConfigError, match="run_names"):
        main.validate(config)


@pytest.mark.slow
def test_tiny_run_writes_tables_claims_and_records(tmp_path):
    overrides = dict(registry.by_name("language").smoke_overrides)
    overrides.update({"run_names": ("pair", "zero"), "runs.zero.num_envs": 8,
                      "runs.zero.num_steps": 8})  # fmt: skip
    config = build_config(language_config.get_config, "quick", overrides)
    main.train_and_evaluate(config, tmp_path, False)
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["run"] for r in results] == ["pair", "zero"]
    seeds = results[0]["analysis"]["seeds"]
    assert np.asarray(seeds[0]["test_cross_play"]).shape == (2, 2)
    records = load_records(tmp_path / "runs" / "zero" / "records_seed0.npz")
    assert records.messages.shape == (40, 12) and records.meanings.shape == (40, 3)
    horizon_tokens = np.asarray(records.messages)[:, :10]
    lengths = np.asarray(records.lengths)
    # The zeroed channel: every token said within the episode is 0, the rest is padding (V=4).
    for row, n in zip(horizon_tokens, lengths, strict=True):
        assert (row[:n] == 0).all() and (row[n:] == 4).all()
    statements = [c.statement for c in read_claims(tmp_path)]
    assert any("messages-zeroed" in s for s in statements)
    summary = (tmp_path / "summary.md").read_text()
    assert "TopSim" in summary and "LS within" in summary and (tmp_path / main.FIGURE).exists()
