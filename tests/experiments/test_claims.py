"""The caal and scd claims come out either way, from rows shaped like their results.json."""

import pytest

from experiments.caal.claims import caal_claims, write_caal_claims
from experiments.scd.claims import scd_claims
from jaxml.utils.claims import read_claims


def al_rows(rmse_by_strategy: dict[str, tuple[float, float]]) -> list[dict]:
    """Two rounds (10 then 20 labelled) of one seed per strategy, RMSE (first, last)."""
    return [
        {"strategy": s, "seed": 0, "round": k, "n_labelled": 10 * (k + 1), "test_rmse": v}
        for s, values in rmse_by_strategy.items()
        for k, v in enumerate(values)
    ]


def test_caal_claim_per_benchmark_holds_only_where_caal_has_the_smallest_area(tmp_path):
    records = {
        "sine": al_rows({"caal": (0.5, 0.1), "random": (0.5, 0.3)}),  # Areas 0.3 < 0.4.
        "partmc": al_rows({"caal": (0.5, 0.3), "random": (0.3, 0.3)}),  # Areas 0.4 > 0.3.
    }
    claims = write_caal_claims(tmp_path, records, ("caal", "random"))
    assert [(c.statement.split(":")[0], c.held) for c in claims] == [
        ("sine", True),
        ("partmc", False),
    ]
    assert claims[1].evidence == "caal 0.4 ranks 2 of 2; best other: random 0.3"
    assert read_claims(tmp_path) == claims


@pytest.mark.parametrize("strategies", [("random", "coreset"), ("caal",)])
def test_no_caal_claim_without_caal_or_a_baseline(strategies):
    rows = al_rows({s: (0.5, 0.1) for s in strategies})
    assert caal_claims({"sine": rows}, strategies) == []


def scd_row(method, constraint, misspecified, w1, residual):
    return {
        "task": "circle",
        "method": method,
        "constraint": constraint,
        "misspecified": misspecified,
        "w1": [w1, w1],  # Two seeds.
        "residual_true": [residual, residual],
    }


def test_scd_claims_compare_residual_when_correct_and_w1_when_misspecified():
    records = [
        scd_row("plain", "-", False, 0.05, 0.02),
        scd_row("soft", "radius_1.0", False, 0.04, 0.001),
        scd_row("pidm", "radius_1.0", False, 0.06, 0.01),
        scd_row("soft", "radius_1.2", True, 0.20, 0.1),
        scd_row("pidm", "radius_1.2", True, 0.40, 0.1),
        scd_row("dps", "radius_1.2", True, 0.10, 0.1),  # DPS beats SCD here.
        scd_row("soft", "ellipse_1.2_0.8", True, 0.05, 0.1),  # Only PIDM ran: beaten.
        scd_row("pidm", "ellipse_1.2_0.8", True, 0.30, 0.1),
    ]
    claims = scd_claims(records)
    assert [(c.statement, c.held) for c in claims] == [
        ("circle, radius_1.0 (correct): SCD's mean |residual| is below plain's", True),
        ("circle, radius_1.2 (misspecified): SCD's W1 is below PIDM's and DPS's", False),
        ("circle, ellipse_1.2_0.8 (misspecified): SCD's W1 is below PIDM's", True),
    ]
    assert claims[1].evidence == "SCD 0.2 ranks 2 of 3; best other: DPS 0.1"


def test_scd_claims_need_a_rival():
    assert scd_claims([scd_row("soft", "radius_1.0", False, 0.04, 0.001)]) == []
