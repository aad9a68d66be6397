"""experiments/lorasa/memory.py on test_mappo's tiny environment: a compiled update gives
positive byte counts consistent with one another, the parameter bytes are 4 x the parameter
count and ordered PS < PS+id < LoRASA < NPS, and LoRASA's optimizer state holds no moments for
its frozen backbone."""

import jax
import pytest

from experiments.lorasa import memory
from jaxml.models import lora
from tests.rl.test_mappo import ToyMultiAgent, tiny_config


def _config(name):
    run = memory.RUNS[name]
    config = tiny_config("ippo")
    config.update(update_epochs=1, num_minibatches=1, agent_id=run.agent_id)
    config.parameter_sharing = run.parameter_sharing
    config.lora.update(rank=2, alpha=2.0)
    return config


def _check_row(row):
    assert set(memory.FIELDS) <= set(row)
    assert all(row[f] > 0 for f in ("params", "opt_state", "argument", "output", "temp"))
    assert row["alias"] == 0  # Not donated.
    assert row["params"] == 4 * row["num_params"]  # float32.
    assert row["peak"] == row["argument"] + row["output"] + row["temp"]
    # The train state is the update's argument, and it comes back as its output.
    assert row["argument"] >= row["params"] + row["opt_state"]
    assert row["output"] >= row["params"] + row["opt_state"]


def test_a_compiled_lorasa_update_gives_consistent_figures_that_grow_with_the_batch():
    small = memory.measure(*memory.build(_config("lorasa"), ToyMultiAgent()))
    _check_row(small)
    config = _config("lorasa")
    config.num_steps *= 4  # A rollout 4 x as long: more buffers, the same parameters.
    config.total_timesteps *= 4
    large = memory.measure(*memory.build(config, ToyMultiAgent()))
    assert large["params"] == small["params"] and large["temp"] > small["temp"]


@pytest.mark.slow
def test_every_mode_gives_consistent_positive_figures():
    for name in memory.MODES:
        _check_row(memory.measure(*memory.build(_config(name), ToyMultiAgent())))


def test_parameter_bytes_are_ordered_by_mode_and_the_frozen_backbone_has_no_moments():
    rows = {}
    for name in memory.MODES:
        _, state = memory.build(_config(name), ToyMultiAgent())
        rows[name] = {
            **memory.state_bytes(state),
            "adapters": lora.num_adapter_params(state.params),
        }
    ps, ps_id, nps, ours = (rows[n]["params"] for n in ("ps", "ps_id", "nps", "lorasa"))
    assert ps < ps_id < ours < nps
    assert ours - ps_id == 4 * rows["lorasa"]["adapters"] > 0
    # Adam's two moments per trained float: training everything would add 2 x 4 bytes per
    # adapter parameter to PS+id's state; with the backbone frozen LoRASA's state is smaller.
    assert rows["lorasa"]["opt_state"] < rows["ps_id"]["opt_state"] + 8 * rows["lorasa"]["adapters"]
    assert rows["nps"]["opt_state"] > rows["ps"]["opt_state"]


def test_tree_bytes_counts_abstract_and_concrete_leaves():
    tree = {"a": jax.numpy.zeros((3, 2)), "b": jax.ShapeDtypeStruct((5,), jax.numpy.int8)}
    assert memory.tree_bytes(tree) == 3 * 2 * 4 + 5
