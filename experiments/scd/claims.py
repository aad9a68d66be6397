"""The scd experiment's claims (Softly Constrained Denoisers, arXiv 2512.14980), from its records.

Apart from ``main.py`` so that the launcher stays short; ``records`` are the rows of
``results.json`` (one per task, method and constraint, with per-seed metric lists).
"""

from __future__ import annotations

import numpy as np

from jaxml.utils.claims import Claim, best_of, write_claims


def scd_claims(records: list[dict]) -> list[Claim]:
    """Per SCD row: with the correct constraint its mean |residual| is below the plain model's;
    with a misspecified one its W1 is below PIDM's and DPS's (seed means; rivals that ran)."""
    by = {(r["task"], r["method"], r["constraint"]): r for r in records}
    claims = []
    for r in (r for r in records if r["method"] == "soft"):
        task, spec = r["task"], r["constraint"]
        if r["misspecified"]:
            key, what, kind = "w1", "W1", "misspecified"
            rivals = {"PIDM": (task, "pidm", spec), "DPS": (task, "dps", spec)}
        else:
            key, what, kind = "residual_true", "mean |residual|", "correct"
            rivals = {"plain": (task, "plain", "-")}
        values = {"SCD": float(np.mean(r[key]))}
        values |= {name: float(np.mean(by[k][key])) for name, k in rivals.items() if k in by}
        if len(values) > 1:
            others = " and ".join(f"{name}'s" for name in values if name != "SCD")
            statement = f"{task}, {spec} ({kind}): SCD's {what} is below {others}"
            claims.append(best_of(statement, values, "SCD", strict=True))
    return claims


def write_scd_claims(workdir, records: list[dict]) -> list[Claim]:
    """Writes ``claims.json`` of :func:`scd_claims` into ``workdir``; returns the claims."""
    claims = scd_claims(records)
    write_claims(workdir, claims)
    return claims
