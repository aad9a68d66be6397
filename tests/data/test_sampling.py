"""jaxml.data.sampling: samplers and nested subsets against loops and their defining properties."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.data.digits import Split
from jaxml.data.sampling import (
    nested_order,
    prefix_mask,
    sample_rows,
    sample_windows,
    spaced_windows,
)


def test_sample_rows_draws_the_same_rows_of_every_array_below_num_rows():
    x = jnp.arange(40.0).reshape(20, 2)
    y = jnp.arange(20)
    draw = jax.jit(lambda key, n: sample_rows(key, (x, y), 64, n))
    bx, by = draw(jax.random.PRNGKey(0), jnp.int32(7))
    assert bx.shape == (64, 2) and by.shape == (64,)
    np.testing.assert_array_equal(bx, np.asarray(x)[np.asarray(by)])  # Rows stay paired.
    assert int(by.max()) < 7 and len(np.unique(by)) > 3
    # Default: the whole array, and the indices are jax.random.randint's.
    _, every = sample_rows(jax.random.PRNGKey(1), (x, y), 500)
    np.testing.assert_array_equal(every, jax.random.randint(jax.random.PRNGKey(1), (500,), 0, 20))


def test_sample_rows_rejects_unequal_leading_sizes():
    with pytest.raises(ValueError, match="arrays"):
        sample_rows(jax.random.PRNGKey(0), (jnp.zeros(3), jnp.zeros(4)), 2)


def test_sample_windows_are_shifted_slices_of_the_stream():
    tokens = jnp.arange(100) * 3
    inputs, targets = sample_windows(jax.random.PRNGKey(2), tokens, 16, 8)
    assert inputs.shape == targets.shape == (16, 8)
    for row_in, row_out in zip(np.asarray(inputs), np.asarray(targets), strict=True):
        start = row_in[0] // 3
        np.testing.assert_array_equal(row_in, np.asarray(tokens)[start : start + 8])
        np.testing.assert_array_equal(row_out, np.asarray(tokens)[start + 1 : start + 9])


def test_spaced_windows_cover_the_stream_evenly():
    tokens = np.arange(50, dtype=np.int32)
    inputs, targets = spaced_windows(tokens, 5, 9)
    starts = [0, 10, 20, 30, 40]  # linspace(0, 50 - 9 - 1, 5).
    for i, s in enumerate(starts):
        np.testing.assert_array_equal(inputs[i], tokens[s : s + 9])
        np.testing.assert_array_equal(targets[i], tokens[s + 1 : s + 10])
    with pytest.raises(ValueError, match="tokens"):
        spaced_windows(tokens[:5], 2, 8)


def test_nested_order_is_a_fixed_permutation_with_pairs_kept():
    split = Split(np.arange(30, dtype=np.float32).reshape(10, 3), np.arange(10, dtype=np.int32))
    a, b = nested_order(split, 3), nested_order(split, 3)
    np.testing.assert_array_equal(a.x, b.x)
    assert sorted(a.y.tolist()) == list(range(10)) and a.y.tolist() != list(range(10))
    np.testing.assert_array_equal(a.x, split.x[a.y])


def test_prefix_mask_with_a_traced_size():
    mask = jax.jit(lambda s: prefix_mask(6, s))(jnp.int32(4))
    np.testing.assert_array_equal(mask, [1, 1, 1, 1, 0, 0])
    assert mask.dtype == jnp.float32
