"""The per-sample shift score in the dataframe (docs/algorithms.md, "Per-sample shift score")."""

from __future__ import annotations

import pytest

import sextant as dq
from conftest import small_run


def test_shift_columns_filters_and_sort(root):
    small_run(root, n_train=200, n_val=80, n_inf=80)
    dq.finish(compute_map=False)
    df = dq.get_dataframe("inference", "prod")
    assert {"shift_score", "is_shifted"} <= set(df.columns)
    # Right after the drift columns, as in the exports.
    cols = list(df.columns)
    assert cols.index("shift_score") == cols.index("is_drifted") + 1
    assert cols.index("is_shifted") == cols.index("shift_score") + 1
    assert df["shift_score"].between(0, 1).all()
    test = dq.get_summary()["splits"]["inference:prod"]["domain_test"]
    # The production set was shifted: the classifier tells it from validation.
    assert test["shift_auc"] > 0.9
    flagged = df["is_shifted"].astype(bool)
    assert flagged.mean() == pytest.approx(test["shifted_share"])
    assert ((df["shift_score"] > test["shift_threshold"]) == flagged).all()

    shifted = dq.get_dataframe("inference", "prod", shifted=True)
    assert sorted(shifted["id"]) == sorted(df.loc[flagged, "id"])
    assert len(dq.get_dataframe("inference", "prod", shifted=False)) == int((~flagged).sum())
    band = dq.get_dataframe("inference", "prod", min_shift=0.2, max_shift=0.9)
    want = df[(df["shift_score"] >= 0.2) & (df["shift_score"] <= 0.9)]
    assert sorted(band["id"]) == sorted(want["id"])
    top = dq.get_dataframe("inference", "prod", sort_by="shift_score", descending=True, limit=10)
    assert top["shift_score"].is_monotonic_decreasing
    assert top["shift_score"].iloc[0] == pytest.approx(df["shift_score"].max())

    # Training and validation rows have none.
    for split in ("training", "validation"):
        other = dq.get_dataframe(split)
        assert other["shift_score"].isna().all() and other["is_shifted"].isna().all()
        assert len(dq.get_dataframe(split, min_shift=0.0)) == 0


def test_no_held_out_reference_means_no_shift_score(root):
    small_run(root, n_train=200, n_val=0, n_inf=60)
    dq.finish(compute_map=False)
    df = dq.get_dataframe("inference", "prod")
    assert df["shift_score"].isna().all() and df["is_shifted"].isna().all()
    assert "domain_test" not in dq.get_summary()["splits"]["inference:prod"]
