"""The shipped PartMC CSVs, the loader's errors and the logit target."""

import numpy as np
import pytest

from jaxml.data.partmc import (
    FEATURES,
    LABELLED_CSV,
    VALID_CSV,
    chi_to_logit,
    load_partmc_csv,
    split_groups,
)


def test_shipped_files_have_the_documented_shape():
    for path, groups in ((LABELLED_CSV, 100), (VALID_CSV, 50)):
        t = load_partmc_csv(path)
        assert t.x.shape == (groups * 25, 18) and t.x.dtype == np.float32
        ids, counts = np.unique(t.group, return_counts=True)
        assert len(ids) == groups and np.all(counts == 25)
        assert np.all((t.chi >= 0) & (t.chi <= 1))
    assert len(FEATURES) == 18


def test_labelled_target_matches_the_paper_summary():
    # The paper's data notes give chi mean 0.817 for PartMC_labeled.csv.
    assert abs(float(load_partmc_csv(LABELLED_CSV).chi.mean()) - 0.817) < 1e-3


def _write(tmp_path, header, rows):
    path = tmp_path / "f.csv"
    path.write_text("\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n")
    return path


def test_missing_column_is_named(tmp_path):
    header = ["Scenario_ID", *FEATURES[:-1], "Chi_a"]
    path = _write(tmp_path, header, [["1"] * len(header)])
    with pytest.raises(ValueError, match=r"missing column 'SO4 \(ug/m3\)'"):
        load_partmc_csv(path)


def test_non_numeric_column_is_named(tmp_path):
    header = ["Scenario_ID", *FEATURES, "Chi_a"]
    row = ["1"] * len(header)
    row[header.index("RH")] = "humid"
    path = _write(tmp_path, header, [["1"] * len(header), row])
    with pytest.raises(
        ValueError, match=r"column 'RH' holds non-numeric value 'humid' on data row 2"
    ):
        load_partmc_csv(path)
    with pytest.raises(ValueError, match="file not found"):
        load_partmc_csv(tmp_path / "nope.csv")


def test_logit_target_is_clipped_and_inverts():
    chi = np.array([0.0, 0.25, 0.5, 1.0])
    z = chi_to_logit(chi)
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(
        1 / (1 + np.exp(-z)), [1e-6, 0.25, 0.5, 1 - 1e-6], rtol=1e-5, atol=1e-7
    )


def test_split_groups_is_seeded_and_keeps_groups_whole():
    group = load_partmc_csv(LABELLED_CSV).group
    first, rest = split_groups(group, 20, seed=3)
    assert len(np.unique(group[first])) == 20 and not (first & rest).any()
    assert not set(group[first]) & set(group[rest])
    np.testing.assert_array_equal(first, split_groups(group, 20, seed=3)[0])
    assert not np.array_equal(first, split_groups(group, 20, seed=4)[0])
    with pytest.raises(ValueError, match="num_first=100"):
        split_groups(group, 100, seed=0)
