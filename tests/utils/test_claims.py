import json
import math
from unittest import mock

import numpy as np
import pytest

from jaxml.utils import claims as claims_lib
from jaxml.utils.claims import CLAIMS_FILE, Claim, best_of, read_claims, write_claims


def test_round_trip_keeps_order_and_turns_numpy_bools_into_bools(tmp_path):
    written = [
        Claim("a holds", np.float32(1.0) < 2.0, "1 < 2"),  # np.bool_, as comparisons give.
        Claim("b fails", False, "3 > 2"),
    ]
    write_claims(tmp_path, written)
    rows = json.loads((tmp_path / CLAIMS_FILE).read_text())
    assert rows == [
        {"statement": "a holds", "held": True, "evidence": "1 < 2"},
        {"statement": "b fails", "held": False, "evidence": "3 > 2"},
    ]
    assert read_claims(tmp_path) == [
        Claim("a holds", True, "1 < 2"),
        Claim("b fails", False, "3 > 2"),
    ]
    assert all(type(c.held) is bool for c in read_claims(tmp_path))


def test_no_claims_is_an_empty_list(tmp_path):
    write_claims(tmp_path, [])
    assert read_claims(tmp_path) == []


@pytest.mark.parametrize(
    ("claim", "match"),
    [
        (Claim("s", 0.9, "e"), "held must be a bool"),
        (Claim("s", None, "e"), "held must be a bool"),
        (Claim("", True, "e"), "statement must be a non-empty string"),
        (Claim("s", True, 3.0), "evidence must be a non-empty string"),
    ],
)
def test_bad_claims_are_refused_before_anything_is_written(tmp_path, claim, match):
    with pytest.raises(ValueError, match=match):
        write_claims(tmp_path, [Claim("fine", True, "e"), claim])
    assert not (tmp_path / CLAIMS_FILE).exists()


def test_only_process_zero_writes(tmp_path):
    with mock.patch.object(claims_lib, "is_primary", return_value=False):
        write_claims(tmp_path, [Claim("s", True, "e")])
    assert not (tmp_path / CLAIMS_FILE).exists()


def test_read_claims_missing_and_malformed(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_claims(tmp_path)
    path = tmp_path / CLAIMS_FILE
    for text, match in [
        ('[{"statement": "s", "held": true', "not JSON"),
        ('{"statement": "s"}', "expected a list"),
        ('[{"statement": "s", "held": true}]', "expected keys statement, held, evidence"),
        ('[{"statement": "s", "held": 1, "evidence": "e"}]', "held must be a bool"),
    ]:
        path.write_text(text)
        with pytest.raises(ValueError, match=match):
            read_claims(tmp_path)


def test_best_of_lowest_and_highest():
    values = {"caal": 0.3, "random": 0.2, "coreset": 0.1}
    claim = best_of("caal is best", values, "caal")
    assert claim == Claim("caal is best", False, "caal 0.3 ranks 3 of 3; best other: coreset 0.1")
    claim = best_of("caal is best", values, "caal", higher_is_better=True)
    assert claim == Claim("caal is best", True, "caal 0.3 ranks 1 of 3; best other: random 0.2")


def test_best_of_ties_hold_unless_strict():
    values = {"a": 1.0, "b": 1.0}
    assert best_of("s", values, "a").held
    assert not best_of("s", values, "a", strict=True).held
    assert best_of("s", values, "a").evidence.startswith("a 1 ranks 1 of 2")


def test_best_of_non_finite_values():
    # A diverged baseline is beaten by any finite subject; a diverged subject never holds.
    assert best_of("s", {"a": 1.0, "b": math.nan, "c": math.inf}, "a").held
    claim = best_of("s", {"a": math.nan, "b": 2.0}, "a")
    assert not claim.held
    assert claim.evidence == "a nan ranks 2 of 2; best other: b 2"


def test_best_of_needs_the_subject_and_another():
    with pytest.raises(ValueError, match="'a' and at least one other"):
        best_of("s", {"a": 1.0}, "a")
    with pytest.raises(ValueError, match="'a' and at least one other"):
        best_of("s", {"b": 1.0, "c": 2.0}, "a")
