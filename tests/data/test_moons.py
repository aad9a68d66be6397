"""make_moons split: shapes, dtypes, determinism, and the same points as scikit-learn's call."""

import numpy as np
import pytest
from sklearn.datasets import make_moons

from jaxml.data.moons import NUM_CLASSES, load_moons_split


def test_split_is_scikit_learns_points_cut_in_two():
    data = load_moons_split(30, 20, noise=0.1, split_seed=4)
    x, y = make_moons(50, noise=0.1, random_state=4)
    np.testing.assert_array_equal(np.concatenate([data.train.x, data.test.x]), x.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([data.train.y, data.test.y]), y)
    assert data.train.x.shape == (30, 2) and data.test.x.shape == (20, 2)
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int32
    assert set(np.unique(data.train.y)) <= set(range(NUM_CLASSES))


def test_same_seed_same_points_other_seed_other_points():
    a, b = load_moons_split(10, 5, split_seed=0), load_moons_split(10, 5, split_seed=0)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    assert not np.array_equal(a.train.x, load_moons_split(10, 5, split_seed=1).train.x)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"num_train": 0}, "num_train"), ({"num_test": -1}, "num_test"), ({"noise": -0.1}, "noise")],
)
def test_bad_arguments_name_themselves(kwargs, match):
    args = {"num_train": 10, "num_test": 5, **kwargs}
    with pytest.raises(ValueError, match=match):
        load_moons_split(**args)
