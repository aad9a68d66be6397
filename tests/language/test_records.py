"""Padding episodes' token sequences to one length with the pad token."""

import numpy as np
import pytest

from jaxml import language


def test_pads_to_the_mode_length_plus_two_with_the_pad_token():
    tokens = np.array([[1, 2, 3, 0, 0], [3, 3, 0, 0, 0], [1, 0, 2, 2, 1], [2, 1, 0, 0, 0]])
    lengths = np.array([3, 2, 5, 2])  # mode 2 -> length 4; the 5-step episode is cut
    padded = np.asarray(language.pad_messages(tokens, lengths, 4))
    np.testing.assert_array_equal(padded, [[1, 2, 3, 4], [3, 3, 4, 4], [1, 0, 2, 2], [2, 1, 4, 4]])


def test_explicit_length_longer_than_the_episodes():
    padded = np.asarray(language.pad_messages(np.array([[1, 2]]), np.array([1]), 3, length=4))
    np.testing.assert_array_equal(padded, [[1, 3, 3, 3]])


def test_ties_in_the_mode_take_the_shorter_length():
    lengths = np.array([1, 1, 3, 3])
    assert language.pad_messages(np.zeros((4, 3), int), lengths, 2).shape == (4, 3)


def test_padded_messages_feed_the_metrics_with_vocab_plus_one():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 6, 50)
    tokens = rng.integers(0, 4, (50, 6))
    padded = language.pad_messages(tokens, lengths, 4)
    meanings = rng.integers(0, 3, (50, 2))
    assert 0.0 <= float(language.positional_disentanglement(meanings, padded, 5)) <= 1.0
    with pytest.raises(ValueError, match="messages: expected tokens in"):
        language.positional_disentanglement(meanings, padded, 4)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"lengths: expected values in \[0, 2\]"):
        language.pad_messages(np.zeros((2, 2), int), np.array([1, 3]), 4)
    with pytest.raises(ValueError, match="tokens: expected tokens in"):
        language.pad_messages(np.full((2, 2), 4), np.array([1, 1]), 4)
    # Tokens after an episode's end are not read.
    language.pad_messages(np.array([[1, 9]]), np.array([1]), 4)
