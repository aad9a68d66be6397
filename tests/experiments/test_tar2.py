"""The TAR² launcher: presets validate, bad fields name the flag, and the claims follow their
pre-set thresholds on synthetic records (the run itself is the registry's smoke test)."""

import pytest

from experiments.tar2 import config as tar2_config
from experiments.tar2 import main
from jaxml.utils.cli import build_config
from jaxml.utils.config import ConfigError


def test_presets_share_the_budget_and_name_every_method():
    config = build_config(tar2_config.get_config, "quick", {"total_timesteps": 4000})
    assert config.ippo.total_timesteps == config.mappo.total_timesteps == 4000
    # Quick: TAR², AREL, sparse and the dense ceiling (STAS's network costs a quarter of the
    # run); full: every method.
    assert set(config.ippo.tar2.methods) == {"sparse", "dense", "tar2", "arel"}
    full = tar2_config.get_config("full")
    assert full.horizon == 50 and full.ippo.tar2.num_epochs == 200
    # The quick run is one IPPO job (make run's time); the full one adds MAPPO.
    assert tuple(config.algorithms) == ("ippo",)
    assert tuple(full.algorithms) == ("ippo", "mappo")
    for algorithm in full.algorithms:
        assert set(full[algorithm].tar2.methods) == set(tar2_config.LABELS)
    main.validate(config)


def test_bad_fields_name_the_flag():
    config = build_config(tar2_config.get_config, "quick", {"algorithms": ("qmix",)})
    with pytest.raises(ConfigError, match="algorithms"):
        main.validate(config)
    config = build_config(tar2_config.get_config, "quick", {"ippo.tar2.methods": ("tar3",)})
    with pytest.raises(ConfigError, match=r"--config\.ippo: config\.tar2\.methods"):
        main.make_trainer(config, "ippo", "3m")


def record(algorithm, method, eval_won, curve):
    def metric(final, mean):
        return {"mean": mean, "ci95": [0.0] * len(mean), "final_per_seed": final}

    return {
        "scenario": "3m",
        "algorithm": algorithm,
        "method": method,
        "env_steps": [1, 2],
        "job_seconds": 1.0,
        "win_rate": metric(curve[-1:] * 2, curve),
        "episode_return": metric([0.0, 0.0], [0.0, 0.0]),
        "eval_won": metric(eval_won, [sum(eval_won) / 2]),
        "eval_return": metric([0.0, 0.0], [0.0]),
    }


def test_claims_use_their_thresholds():
    records = [
        record("ippo", "tar2", [0.5, 0.3], [0.1, 0.4]),
        record("ippo", "arel", [0.4, 0.4], [0.1, 0.2]),  # Eval tie (0.4 vs 0.4): not higher.
        record("ippo", "stas", [0.1, 0.1], [0.3, 0.5]),  # Faster than TAR².
        record("mappo", "tar2", [0.5, 0.4], [0.2, 0.3]),  # 0.45: IPPO 0.40 is within 0.05.
    ]
    held = {c.statement: c.held for c in main.claims(records)}
    assert held["3m, IPPO: TAR² ends higher than AREL (evaluated win rate, seed mean)"] is False
    assert held["3m, IPPO: TAR² ends higher than STAS (evaluated win rate, seed mean)"] is True
    faster = "3m, IPPO: TAR² learns faster than {} (training win rate averaged over the chunks, "
    assert held[faster.format("AREL") + "seed mean)"] is True
    assert held[faster.format("STAS") + "seed mean)"] is False
    within = "3m: with TAR², IPPO does as well as MAPPO (evaluated win rate, seed mean, within "
    within += "0.05)"
    assert held[within] is True
    records[-1]["eval_won"]["final_per_seed"] = [0.6, 0.5]
    assert {c.statement: c.held for c in main.claims(records)}[within] is False


def test_lbf_claims_compare_the_team_return():
    """On LBF the claims read the (evaluated, training) team return, not the success rate."""

    def lbf_record(method, eval_return, curve):
        r = record("ippo", method, [1.0, 1.0], [1.0, 1.0])  # Success rates all equal.
        r.update(scenario="lbf", task="lbf")
        r["eval_return"] = {"mean": [0.0], "ci95": [0.0], "final_per_seed": eval_return}
        r["episode_return"] = {"mean": curve, "ci95": [0.0] * 2, "final_per_seed": curve[-1:] * 2}
        return r

    records = [
        lbf_record("tar2", [0.5, 0.3], [0.1, 0.4]),
        lbf_record("sparse", [0.2, 0.2], [0.3, 0.4]),
    ]
    held = {c.statement: c.held for c in main.claims(records)}
    assert held["lbf, IPPO: TAR² ends higher than sparse (evaluated team return, seed mean)"]
    faster = "lbf, IPPO: TAR² learns faster than sparse (training team return averaged over "
    assert held[faster + "the chunks, seed mean)"] is False
