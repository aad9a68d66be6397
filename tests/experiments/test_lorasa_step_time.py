"""experiments/lorasa/step_time.py: the rounds interleave the modes and give seconds per update
(checked with a fake clock), the rows are the medians, the configs are the experiment's, and a
built LoRASA mode is phase 2, compiled and one update in (on a toy continuous environment)."""

import numpy as np
import pytest

from experiments.lorasa import step_time
from jaxml.models import lora
from tests.rl.test_mappo_continuous import TargetReaching, tiny_config


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _fake_step(name, cost, clock, log):
    def step(state):  # state: the number of updates so far.
        log.append(name)
        clock.now += cost
        return state + 1, {"loss": np.float32(0.0)}

    return step


def test_rounds_interleave_the_modes_and_give_seconds_per_update():
    clock, log = FakeClock(), []
    costs = {"ps": 1.0, "nps": 3.0}
    built = {n: (0, _fake_step(n, c, clock, log)) for n, c in costs.items()}
    times = step_time.time_interleaved(built, rounds=3, steps=2, clock=clock)
    assert log == ["ps", "ps", "nps", "nps"] * 3  # Round by round, not mode by mode.
    assert times == {"ps": [1.0] * 3, "nps": [3.0] * 3}  # Per update, not per round.
    assert built["ps"][0] == built["nps"][0] == 6  # The states advanced.
    with pytest.raises(ValueError, match="rounds"):
        step_time.time_interleaved(built, rounds=0, steps=1, clock=clock)


def test_rows_are_the_median_over_rounds():
    state = {"params": {"w": np.zeros((3, 4))}}
    built = {"ps": (type("S", (), state)(), None)}
    rows = step_time.rows(built, {"ps": [0.5, 0.1, 0.2]}, {"ps": 4000})
    (row,) = rows
    assert row["params"] == 12 and row["ms_per_update"] == pytest.approx(200.0)
    assert row["env_steps_per_second"] == pytest.approx(20_000.0)
    assert row["ms_per_round"] == pytest.approx([500.0, 100.0, 200.0])


def test_mode_configs_are_the_experiments():
    smax = step_time.mode_config("nps", "smax")
    assert (smax.num_envs, smax.num_steps, smax.parameter_sharing) == (64, 64, "independent")
    brax = step_time.mode_config("lorasa", "mabrax")
    assert (brax.num_envs, brax.num_steps, brax.update_epochs) == (40, 100, 3)
    assert brax.parameter_sharing == "lora" and brax.lora.rank == 8 and not brax.anneal_lr
    with pytest.raises(ValueError, match="env"):
        step_time.mode_config("ps", "hanabi")


def test_a_built_lorasa_mode_is_phase_two_after_one_warm_update():
    config = tiny_config("lora", agent_id=True)
    state, step = step_time.build(config, TargetReaching())
    assert int(state.update) == 1  # Compiled and run once.
    assert lora.num_adapter_params(state.params) > 0
    times = step_time.time_interleaved({"lorasa": (state, step)}, rounds=2, steps=1)
    assert len(times["lorasa"]) == 2 and min(times["lorasa"]) > 0
