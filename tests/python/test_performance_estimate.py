"""The label-free performance estimate in each inference split's summary
(docs/performance-estimation.md), read through the Python package."""

from __future__ import annotations

import numpy as np

import sextant as dq
from conftest import LABELS, log_split, make_data


def _noisy(d, seed, flip):
    """Logits that miss: a share `flip` of samples get another class's logit bump."""
    rng = np.random.default_rng(seed)
    wrong = rng.random(len(d["ids"])) < flip
    y = np.where(wrong, (d["label_idx"] + 1) % len(LABELS), d["label_idx"])
    d["logits"] = np.eye(len(LABELS))[y] * 1.5 + rng.normal(size=(len(y), len(LABELS))) * 0.7
    return d


def test_estimate_in_summary_covers_hidden_accuracy(root):
    dq.init(task_type="text_classification", project_name="p", run_name="r", root=root)
    dq.set_labels_for_run(LABELS)
    log_split("training", _noisy(make_data(400, "t", 1), 11, 0.2))
    log_split("validation", _noisy(make_data(400, "v", 2), 12, 0.2))
    prod = _noisy(make_data(300, "i", 3), 13, 0.2)  # same distribution: no shift
    log_split("inference", prod, inference_name="prod")
    dq.finish(compute_map=False)

    pe = dq.get_summary(split="inference", inference_name="prod")["performance_estimate"]
    assert pe["method"] == "iw_cbpe" and pe["reason"] is None
    acc = pe["accuracy"]
    assert acc["low"] <= acc["value"] <= acc["high"]
    df = dq.get_dataframe("inference", "prod")
    gold = np.array(LABELS)[prod["label_idx"]]  # the labels were never logged
    real = float((df["pred"].to_numpy() == gold).mean())
    assert acc["low"] <= real <= acc["high"], (real, acc)
    assert abs(acc["value"] - real) < 0.08
    assert set(pe["baselines"]) == {"average_confidence", "cbpe_isotonic", "cbpe_temperature",
                                    "atc", "atc_ne", "doc"}
    assert set(pe["per_class"]) == set(LABELS)
    for m in pe["per_class"].values():
        assert set(m) == {"precision", "recall", "f1"}
    # Labeled splits carry no estimate.
    assert "performance_estimate" not in dq.get_summary(split="validation")


def test_no_validation_gives_a_reason(root):
    dq.init(task_type="text_classification", project_name="p", run_name="r", root=root)
    dq.set_labels_for_run(LABELS)
    log_split("training", make_data(200, "t", 1))
    log_split("inference", make_data(50, "i", 3), inference_name="prod")
    dq.finish(compute_map=False)
    pe = dq.get_summary(split="inference", inference_name="prod")["performance_estimate"]
    assert pe["accuracy"] is None and "validation" in pe["reason"]
