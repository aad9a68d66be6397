import numpy as np
import pytest

from jaxml.data.text import ALPHABET, encode, load_char_corpus


def test_corpus_is_deterministic_real_text_and_split_at_the_end():
    a, b = load_char_corpus(20_000), load_char_corpus(20_000)
    np.testing.assert_array_equal(a.train, b.train)
    assert len(a.train) + len(a.test) == 20_000 and len(a.test) == 2_000
    text = "".join(ALPHABET[i] for i in a.train[:2000])
    assert text.count(" ") > 200 and "the" in text  # English prose, not noise.
    assert np.mean(a.train == ALPHABET.index("?")) < 0.01


def test_encode_maps_unknown_characters_to_question_mark():
    tokens = encode("a\né")
    assert [ALPHABET[i] for i in tokens] == ["a", "\n", "?"]


def test_bad_fraction_is_named():
    with pytest.raises(ValueError, match="test_fraction"):
        load_char_corpus(1000, test_fraction=0.0)
