"""Issue 16, point 10: a user's first run, whose training split has fewer than
k + 1 samples, finishes with every other result, and the summary and
`sextant report` say why drift is missing (docs/algorithms.md)."""

from __future__ import annotations

import subprocess

import numpy as np

import sextant as dq
from conftest import LABELS, log_split, make_data

REASON = "drift needs at least k + 1 = 11 training samples; training has 4"


def test_small_first_run_finishes_and_says_why_drift_is_missing(root, sextant_bin):
    dq.init(task_type="text_classification", project_name="p", run_name="first", root=root)
    dq.set_labels_for_run(LABELS)
    log_split("training", make_data(4, "t", 1))
    log_split("validation", make_data(8, "v", 2))
    log_split("inference", make_data(9, "i", 3), inference_name="prod")
    dq.finish()  # k = 10 by default: used to fail ("needs at least 11")

    run = dq.get_summary()
    assert run["parameters"]["drift_unavailable_reason"] == REASON
    assert run["splits"]["validation"]["drift_unavailable_reason"] == REASON
    assert run["splits"]["inference:prod"]["drift_unavailable_reason"] == REASON
    # Every other result: predictions, DEP, the comparison with validation.
    df = dq.get_dataframe("inference", "prod")
    assert len(df) == 9 and set(df["pred"]) <= set(LABELS)
    assert df["drift_score"].isna().all()
    assert dq.get_dataframe("training")["dep"].notna().all()
    assert run["comparisons"]["inference:prod"]["reference"] == "validation"

    report = subprocess.run([str(sextant_bin), "report", "--root", str(root), "--project", "p",
                             "--run", "first"], capture_output=True, text=True, check=True).stdout
    assert "Drift: not computed: " + REASON in report, report
    # The similarity index was built: similar samples work.
    sim = subprocess.run([str(sextant_bin), "similar", "--root", str(root), "--project", "p",
                          "--run", "first", "--split", "inference", "--inference-name", "prod",
                          "--id", "i00000", "--k", "3"], capture_output=True, text=True)
    assert sim.returncode == 0, sim.stderr


def test_small_ner_run_finishes_with_spans(root):
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    dq.init(task_type="named_entity_recognition", project_name="p", run_name="ner", root=root)
    dq.set_labels_for_run(tags)
    dq.set_tagging_schema("BIO")
    rng = np.random.default_rng(0)
    for split, name, n in [("training", None, 3), ("inference", "prod", 4)]:
        texts = ["Ann met Bob in Rome"] * n
        offsets = [[(0, 3), (4, 7), (8, 11), (12, 14), (15, 19)]] * n
        gold = [[{"start": 0, "end": 3, "label": "PER"}, {"start": 15, "end": 19, "label": "LOC"}]] * n
        ids = [f"{name or split}-{i}" for i in range(n)]
        dq.log_data_samples(texts=texts, ids=ids, text_token_indices=offsets,
                            gold_spans=None if split == "inference" else gold, split=split,
                            inference_name=name)
        dq.set_split(split, name)
        dq.set_epoch(0)
        logits = [rng.normal(size=(5, 5)).astype(np.float32) + 8 * np.eye(5, dtype=np.float32)[
            [1, 0, 1, 0, 3]] for _ in range(n)]
        embs = [rng.normal(size=(5, 8)).astype(np.float32) for _ in range(n)]
        dq.log_model_outputs(embs=embs, logits=logits, ids=ids)
    dq.finish(compute_map=False)
    run = dq.get_summary()
    assert run["parameters"]["drift_unavailable_reason"] == (
        "drift needs at least k + 1 = 11 training samples; training has 3")
    assert run["parameters"]["spans"]["drift_unavailable_reason"] == (
        "drift needs at least k + 1 = 11 training span rows; training has 9")
    assert run["splits"]["inference:prod"]["spans"]["pred_spans"] == 12
    # The sentence fields (issue 16, point 9) through the Python client.
    df = dq.get_dataframe("training")
    assert list(df["pred"]) == ["LOC, PER"] * 3  # the run's entity type order
    assert list(df["span_errors"]) == [1] * 3  # "Bob" is a ghost span
    assert list(df["pred_spans_count"]) == [3] * 3
    assert (df["confidence"] == df["min_span_confidence"]).all()
    prod = dq.get_dataframe("inference", "prod")
    assert prod["span_errors"].isna().all() and list(prod["pred_spans_count"]) == [3] * 4
