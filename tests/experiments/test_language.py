"""The language launcher: both presets validate, bad fields are one-line ConfigErrors naming the
flag, and (slow) a tiny run writes the tables, figure, claims and the saved language records."""

import json

import numpy as np
import pytest
from PIL import Image

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


def test_transmission_fields_are_checked():
    config = build_config(language_config.get_config, "quick", {"transmission.runs": ("pop3",)})
    with pytest.raises(ConfigError, match=r"--config\.transmission\.runs: expected a tuple of"):
        main.validate(config)
    config = build_config(language_config.get_config, "quick", {"transmission.member": 2})
    with pytest.raises(ConfigError, match=r"--config\.transmission\.member: expected an int in"):
        main.validate(config)
    config = build_config(language_config.get_config, "quick", {"transmission.threshold": 1.5})
    with pytest.raises(ConfigError, match=r"--config\.transmission\.threshold"):
        main.validate(config)
    full = build_config(language_config.get_config, "full", {})
    assert full.transmission.runs == ("pop3",) and full.transmission.threshold == 0.8


def _curves(per_seed, steps):
    per_seed = np.asarray(per_seed, float)
    return {"env_steps": steps, "eval_success": {"mean": per_seed.mean(0).tolist(),
                                                 "per_seed": per_seed.tolist()}}  # fmt: skip


def test_steps_to_threshold_first_crossing_and_not_reached():
    config = build_config(language_config.get_config, "quick", {"transmission.window": 1})
    steps = [100, 200, 300, 400]
    # Seed 0 first reaches 0.1 at 200 (and again later), seed 1 never; their mean at 300.
    found = main.threshold_steps(_curves([[0.0, 0.1, 0.3, 0.05], [0.0, 0.0, 0.05, 0.08]], steps),
                                 config)  # fmt: skip
    assert found == {"seed_mean": 300, "per_seed": [200, None]}
    config.transmission.window = 2  # Trailing means: seed 0 [0, .05, .2, .175].
    found = main.threshold_steps(_curves([[0.0, 0.1, 0.3, 0.05]], steps), config)
    assert found == {"seed_mean": 300, "per_seed": [300]}


def test_transmission_claim_reads_not_reached_honestly():
    def record(newcomer, scratch):
        def side(v):
            return {"steps_to_threshold": {"seed_mean": v, "per_seed": [v]},
                    "eval_success": {"final_per_seed": [0.1]}}  # fmt: skip

        return {"run": "pair", "member": 0, "threshold": 0.1, "window": 2,
                "newcomer": side(newcomer), "scratch": side(scratch)}  # fmt: skip

    held = [c.held for c in main.transmission_claims(
        [record(100, 200), record(200, 100), record(100, None), record(None, None),
         record(None, 100)])]  # fmt: skip
    assert held == [True, False, True, False, False]
    (claim,) = main.transmission_claims([record(None, None)])
    assert "newcomer not reached, from scratch not reached" in claim.evidence


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
    # Cultural transmission: the pair's newcomer run, same budget and evaluation points.
    (transmission,) = json.loads((tmp_path / "transmission.json").read_text())
    assert transmission["run"] == "pair" and any("cultural transmission" in s for s in statements)
    newcomer, scratch = transmission["newcomer"], transmission["scratch"]
    assert newcomer["env_steps"] == scratch["env_steps"] == results[0]["env_steps"]
    assert set(newcomer["steps_to_threshold"]) == {"seed_mean", "per_seed"}
    similarity = transmission["similarity"]  # One seed: no across-seeds reference, no claim.
    assert len(similarity["ls_newcomer_vs_replaced"]) == 1 and similarity["ls_across_seeds"] is None
    assert 0.0 <= similarity["ls_newcomer_vs_replaced"][0] <= 1.0
    summary = (tmp_path / "summary.md").read_text()
    assert "TopSim" in summary and "LS within" in summary and (tmp_path / main.FIGURE).exists()
    with Image.open(tmp_path / "episode.gif") as gif:  # The first run's team, one frame a step.
        assert 1 <= gif.n_frames <= main.game(config, "pair", "test").horizon


def test_temporal_runs_play_temporalg_on_the_appearance_split():
    full = build_config(language_config.get_config, "full", {})
    assert {"temporal", "temporal_zero", "temporal_pop3"} <= set(full.run_names)
    config = build_config(language_config.get_config, "quick", {})
    assert config.run_names == ("pair", "zero")  # Quick stays ScoreG (time limit, README).
    test_env = main.game(config, "temporal", "test")
    assert type(test_env).__name__ == "ForagingTemporalG" and test_env.appearance_split == "test"
    assert main.game(config, "pair", "test").score_split == "test"
    assert type(main.game(config, "temporal_zero", "train")).__name__ == "ZeroMessages"
    assert main.first_probe("temporal") == ("probe_time", "appearance time")
