"""benchmarks/_brax.py: the side-by-side driver of the brax-trainer benchmarks."""

import json

import pytest

from benchmarks import _brax


def test_side_by_side_prints_ratios_and_merges_the_json(tmp_path, capsys):
    ours = {"deterministic": [900.0, 1100.0], "stochastic": [800.0, 600.0], "steps_per_s": 6000}
    peers = {0: {"deterministic": 1000.0, "stochastic": 800.0, "steps_per_s": 2000},
             1: {"deterministic": 1000.0, "stochastic": 600.0, "steps_per_s": 4000}}  # fmt: skip
    out = tmp_path / "out.json"
    out.write_text(json.dumps({"other_env": {"kept": True}}))
    _brax.side_by_side("both", 2, "hopper", lambda: ours, peers.__getitem__, str(out), {"b": 1})
    record = json.loads(out.read_text())
    assert record["other_env"] == {"kept": True}
    rows = {r["name"]: r for r in record["hopper"]["rows"]}
    assert rows["hopper return (deterministic)"]["ratio"] == pytest.approx(1.0)
    assert rows["hopper return (stochastic)"]["ratio"] == pytest.approx(1.0)
    assert rows["hopper env steps/s (2 seeds)"]["ratio"] == pytest.approx(2.0)
    assert record["hopper"]["b"] == 1 and len(record["hopper"]["brax"]) == 2
    assert "hopper env steps/s (2 seeds)" in capsys.readouterr().out


def test_one_side_writes_nothing(tmp_path):
    out = tmp_path / "out.json"
    _brax.side_by_side("jaxml", 1, "hopper", lambda: {}, None, str(out), {})
    assert not out.exists()


def test_brax_runs_the_seeds_from_first_seed(tmp_path):
    asked = []
    peer = {"deterministic": 1.0, "stochastic": 1.0, "steps_per_s": 1}
    run_brax = lambda seed: asked.append(seed) or peer  # noqa: E731
    _brax.side_by_side("brax", 3, "hopper", None, run_brax, str(tmp_path / "o.json"), {}, 4)
    assert asked == [4, 5, 6]
