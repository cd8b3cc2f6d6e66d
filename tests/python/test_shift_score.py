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


def test_nli_pairs_and_ner_samples_get_the_score(root):
    """NLI: the pair's embedding; NER: the sample-level embedding (span rows keep k-NN drift)."""
    import numpy as np

    rng = np.random.default_rng(5)
    dq.init("nli", project_name="p", run_name="nli", root=root)
    dq.set_labels_for_run(["entailment", "neutral", "contradiction"])
    sizes = {"training": 60, "validation": 40, "inference": 40}
    for split, n in sizes.items():
        ids = [f"{split[0]}{i}" for i in range(n)]
        kw = {"inference_name": "snli"} if split == "inference" else {
            "labels": [i % 3 for i in range(n)]}
        dq.log_data_samples(premises=[f"premise {i}" for i in range(n)],
                            hypotheses=[f"hypothesis {i}" for i in range(n)], ids=ids, split=split,
                            **kw)
        embs = rng.normal(size=(n, 6)) + (np.array([0, 0, 0, 0, 4, 4]) if split == "inference" else 0)
        dq.log_model_outputs(embs=embs, logits=rng.normal(size=(n, 3)), ids=ids, split=split,
                             inference_name=kw.get("inference_name"), epoch=0)
    dq.finish(compute_map=False, drift_k=3)
    nli = dq.get_dataframe("inference", "snli", project_name="p", run_name="nli", root=root)
    assert nli["shift_score"].notna().all() and nli["is_shifted"].astype(bool).mean() > 0.5

    from test_ner_nli import TEXT, TOKENS, start_ner, token_outputs

    start_ner(root)
    for split, n, shift in [("training", 30, 0.0), ("validation", 20, 0.0), ("inference", 20, 3.0)]:
        ids = [f"{split[0]}{i}" for i in range(n)]
        rows = [{"id": i, "text": TEXT, "text_token_indices": TOKENS} for i in ids]
        name = "social" if split == "inference" else None
        if split != "inference":
            for r in rows:
                r["gold_spans"] = [{"start": 0, "end": 7, "label": "PER"}]
        dq.log_dataset(rows, split=split, inference_name=name)
        tags = [[1, 2, 0, 0, 0, 3 + (i % 2)] for i in range(n)]
        embs, logits = token_outputs(tags, shift=shift)
        embs = [e + rng.normal(scale=0.3, size=e.shape).astype(np.float32) for e in embs]
        dq.log_model_outputs(embs=embs, logits=logits, ids=ids, split=split, inference_name=name,
                             epoch=0)
    dq.finish(compute_map=False, drift_k=3)
    ner = dq.get_dataframe("inference", "social", project_name="p", run_name="ner", root=root)
    assert ner["shift_score"].notna().all() and ner["is_shifted"].astype(bool).mean() > 0.5
    val = dq.get_dataframe("validation", project_name="p", run_name="ner", root=root)
    assert val["shift_score"].isna().all()
