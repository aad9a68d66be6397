import numpy as np
import pytest

from jaxml.data.digits import NUM_CLASSES, NUM_FEATURES, load_digits_split


def test_split_shapes_ranges_and_determinism():
    data = load_digits_split(0.2, split_seed=0)
    assert data.train.x.shape[1] == data.test.x.shape[1] == NUM_FEATURES
    assert len(data.train.x) + len(data.test.x) == 1797
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int32
    assert 0.0 <= data.train.x.min() and data.train.x.max() <= 1.0
    again = load_digits_split(0.2, split_seed=0)
    np.testing.assert_array_equal(data.test.x, again.test.x)
    other = load_digits_split(0.2, split_seed=1)
    assert not np.array_equal(data.test.y, other.test.y)


def test_split_is_stratified():
    data = load_digits_split(0.2)
    train_freq = np.bincount(data.train.y, minlength=NUM_CLASSES) / len(data.train.y)
    test_freq = np.bincount(data.test.y, minlength=NUM_CLASSES) / len(data.test.y)
    np.testing.assert_allclose(train_freq, test_freq, atol=0.01)


def test_bad_fraction_names_the_argument():
    with pytest.raises(ValueError, match="test_fraction=1.0"):
        load_digits_split(1.0)
