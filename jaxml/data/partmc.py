"""PartMC-MOSAIC particle-resolved simulations: routine observations -> aerosol mixing-state index.

The data are those published with "Confidence-Aware Active Learning for Heteroscedastic Atmospheric
Regression" (Jiang et al., arXiv 2602.11825); provenance in ``jaxml/data/partmc/README.md``.
A scenario (one simulation run, 25 hourly rows) is the unit of labelling.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

DATA_DIR = Path(__file__).parent / "partmc"
LABELLED_CSV = DATA_DIR / "partmc_labeled.csv"  # 100 scenarios x 25 hours.
VALID_CSV = DATA_DIR / "partmc_valid.csv"  # 50 scenarios x 25 hours.

# The 18 inputs the paper uses, exactly as the CSV headers spell them.
FEATURES = (
    "O3 (ppb)",
    "CO (ppb)",
    "NO (ppb)",
    "NOx (ppb)",
    "ETH (ppb)",
    "TOL(ppb)",
    "XYL (ppb)",
    "ALD2 (ppb)",
    "AONE (ppb)",
    "PAR (ppb)",
    "OLET (ppb)",
    "Temperature(K)",
    "RH",
    "BC (ug/m3)",
    "OA (ug/m3)",
    "NH4 (ug/m3)",
    "NO3 (ug/m3)",
    "SO4 (ug/m3)",
)
TARGET = "Chi_a"
GROUP = "Scenario_ID"
LOGIT_EPS = 1e-6  # chi is clipped to [eps, 1 - eps] before the logit, as in the paper's code.


class PartMCTable(NamedTuple):
    x: np.ndarray  # [N, 18] float32 inputs in FEATURES order (raw units).
    chi: np.ndarray  # [N] float32 mixing-state index chi in [0, 1].
    group: np.ndarray  # [N] int64 scenario id (the unit of labelling).


def load_partmc_csv(path: str | os.PathLike) -> PartMCTable:
    """Reads a PartMC CSV; any file with the same columns works.

    Raises:
      ValueError: naming the file and the column when a needed column is missing or holds a
        value that is not a finite number.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"PartMC CSV {str(path)!r}: file not found")
    with path.open(newline="") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"PartMC CSV {str(path)!r}: file is empty") from None
        rows = list(reader)
    needed = (*FEATURES, TARGET, GROUP)
    for name in needed:
        if name not in header:
            raise ValueError(
                f"PartMC CSV {str(path)!r}: missing column {name!r}; needed columns: "
                f"{', '.join(needed)}"
            )
    if not rows:
        raise ValueError(f"PartMC CSV {str(path)!r}: no data rows")
    columns = {}
    for name in needed:
        j = header.index(name)
        values = np.empty(len(rows), np.float64)
        for i, row in enumerate(rows):
            try:
                values[i] = float(row[j])
            except (ValueError, IndexError):
                cell = row[j] if j < len(row) else "<missing>"
                raise ValueError(
                    f"PartMC CSV {str(path)!r}: column {name!r} holds non-numeric value "
                    f"{cell!r} on data row {i + 1}"
                ) from None
        if not np.all(np.isfinite(values)):
            raise ValueError(f"PartMC CSV {str(path)!r}: column {name!r} holds NaN or inf")
        columns[name] = values
    x = np.stack([columns[n] for n in FEATURES], axis=1).astype(np.float32)
    group = columns[GROUP]
    if not np.all(group == np.round(group)):
        raise ValueError(f"PartMC CSV {str(path)!r}: column {GROUP!r} must hold integer ids")
    return PartMCTable(x, columns[TARGET].astype(np.float32), group.astype(np.int64))


def chi_to_logit(chi: np.ndarray) -> np.ndarray:
    """The paper's target transform z = logit(clip(chi, eps, 1 - eps)) ("logit-normal" model)."""
    chi = np.clip(np.asarray(chi, np.float64), LOGIT_EPS, 1.0 - LOGIT_EPS)
    return np.log(chi / (1.0 - chi)).astype(np.float32)


def split_groups(group: np.ndarray, num_first: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Randomly splits the distinct ids of ``group`` into ``num_first`` and the rest.

    Returns boolean row masks ``(first [N], rest [N])``; the same seed gives the same split.
    """
    ids = np.unique(group)
    if not 0 < num_first < len(ids):
        raise ValueError(
            f"num_first={num_first}: must be in [1, {len(ids) - 1}] ({len(ids)} groups)"
        )
    chosen = np.random.default_rng(seed).permutation(ids)[:num_first]
    first = np.isin(group, chosen)
    return first, ~first
