"""dq.suggest_labels (docs/labeling.md): the engine's strategies through Python,
checked against the per-sample results, and the same picks from `sextant suggest`."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

import sextant as dq
from conftest import LABELS, log_split, make_data


@pytest.fixture
def run(root):
    dq.init(task_type="text_classification", project_name="p", run_name="r", root=root)
    dq.set_labels_for_run(LABELS)
    train = make_data(300, "t", 1)
    log_split("training", train)
    log_split("validation", make_data(100, "v", 2))
    d = make_data(120, "i", 3)
    d["texts"] = [f"production text {i}" for i in range(120)]  # none of training's
    # A new cluster far from training ("new*"), and a copy of training sample 0
    # with the set's lowest margin ("copy").
    rng = np.random.default_rng(5)
    d["embs"][:10] = rng.normal(size=(10, d["embs"].shape[1])) + 25.0
    d["ids"][:10] = [f"new{i}" for i in range(10)]
    d["logits"][:10] = [[6.0, 0.0, 0.0]] * 10  # confident there
    d["embs"][10] = train["embs"][0]
    d["ids"][10] = "copy"
    d["logits"][10] = [1.0, 1.0, -3.0]
    log_split("inference", d, inference_name="prod")
    dq.finish()
    return root


def test_columns_reasons_and_uncertainty_order(run):
    df = dq.suggest_labels("inference", "prod", budget=15, strategy="uncertainty",
                           project_name="p", run_name="r", root=run)
    for column in ["id", "rank", "score", "reasons", "text", "pred", "confidence", "margin",
                   "drift_score", "shift_score"]:
        assert column in df.columns
    assert len(df) == 15
    assert list(df["rank"]) == list(range(1, 16))
    assert all(isinstance(r, list) and r and r[0].startswith("uncertain: margin ")
               for r in df["reasons"])
    assert df.attrs["pool"] == 120 and df.attrs["excluded_duplicates"] == 1
    samples = dq.get_dataframe("inference", "prod", project_name="p", run_name="r", root=run)
    candidates = samples[samples["id"] != "copy"].sort_values(["margin", "id"], kind="stable")
    assert sorted(df["margin"]) == pytest.approx(sorted(candidates["margin"][:15]))
    assert "copy" not in set(df["id"])  # training already has it


def test_drift_and_default_reach_the_new_cluster(run):
    kw = dict(project_name="p", run_name="r", root=run)
    drift = dq.suggest_labels("inference:prod", budget=10, strategy="drift", **kw)
    assert set(drift["id"]) == {f"new{i}" for i in range(10)}
    default = dq.suggest_labels("inference", "prod", budget=20, **kw)
    assert any(i.startswith("new") for i in default["id"])
    uncertainty = dq.suggest_labels("inference", "prod", budget=20, strategy="uncertainty", **kw)
    assert not any(i.startswith("new") for i in uncertainty["id"])


def test_per_class_label_and_seed(run):
    kw = dict(project_name="p", run_name="r", root=run)
    only = dq.suggest_labels("inference", "prod", budget=5, label="neutral", **kw)
    assert set(only["pred"]) == {"neutral"}
    quotas = dq.suggest_labels("inference", "prod", budget=9, per_class=True,
                               strategy="uncertainty", **kw)
    assert set(quotas["pred"]) == set(LABELS)
    a = dq.suggest_labels("inference", "prod", budget=10, strategy="random", seed=3, **kw)
    b = dq.suggest_labels("inference", "prod", budget=10, strategy="random", seed=3, **kw)
    assert list(a["id"]) == list(b["id"])
    everything = dq.suggest_labels("inference", "prod", budget=10000, **kw)
    assert len(everything) == 119


def test_weights_override_the_default(run):
    kw = dict(project_name="p", run_name="r", root=run)
    # Uncertainty alone, with no diversity factor: the uncertainty strategy's picks.
    only_u = dq.suggest_labels("inference", "prod", budget=10, weights={
        "uncertainty": 1.0, "shift": 0.0, "novelty": 0.0, "coverage_cap": 1e-12}, **kw)
    u = dq.suggest_labels("inference", "prod", budget=10, strategy="uncertainty", **kw)
    assert list(only_u["id"]) == list(u["id"])
    with pytest.raises(dq.InvalidArgumentError, match="weights: unknown key 'entropy'"):
        dq.suggest_labels("inference", "prod", budget=5, weights={"entropy": 1.0}, **kw)
    with pytest.raises(dq.InvalidArgumentError, match="weights:"):
        dq.suggest_labels("inference", "prod", budget=5, weights={"uncertainty": -1.0}, **kw)


def test_errors_name_the_field(run):
    kw = dict(project_name="p", run_name="r", root=run)
    with pytest.raises(dq.InvalidArgumentError, match="strategy: 'entropy'"):
        dq.suggest_labels("inference", "prod", budget=5, strategy="entropy", **kw)
    with pytest.raises(dq.InvalidArgumentError, match="class: 'maybe'"):
        dq.suggest_labels("inference", "prod", budget=5, label="maybe", **kw)
    with pytest.raises(dq.InvalidArgumentError, match="inference_name"):
        dq.suggest_labels("inference", budget=5, **kw)


def test_cli_gives_the_same_picks_and_saves_a_selection(run, sextant_bin):
    df = dq.suggest_labels("inference", "prod", budget=12, project_name="p", run_name="r",
                           root=run)
    out = subprocess.run(
        [str(sextant_bin), "suggest", "--root", str(run), "--project", "p", "--run", "r",
         "--split", "inference", "--inference-name", "prod", "--budget", "12", "--format",
         "json", "--selection", "to-label"],
        check=True, capture_output=True, text=True)
    j = json.loads(out.stdout)
    assert [s["id"] for s in j["suggestions"]] == list(df["id"])
    assert [s["reasons"] for s in j["suggestions"]] == list(df["reasons"])
    assert "saved 12 suggestions in selection 'to-label'" in out.stderr
    csv = subprocess.run(
        [str(sextant_bin), "suggest", "--root", str(run), "--project", "p", "--run", "r",
         "--inference-name", "prod", "--budget", "3", "--format", "csv"],
        check=True, capture_output=True, text=True).stdout.splitlines()
    assert csv[0] == "rank,id,split,score,pred,confidence,margin,drift_score,shift_score,reasons,text"
    assert len(csv) == 4
    bad = subprocess.run(
        [str(sextant_bin), "suggest", "--root", str(run), "--project", "p", "--run", "r",
         "--inference-name", "prod", "--budget", "3", "--strategy", "nope"],
        capture_output=True, text=True)
    assert bad.returncode == 2
    assert "--strategy: 'nope' is not a strategy" in bad.stderr


def test_nli_suggestions_carry_the_pair(root):
    dq.init("nli", project_name="p", run_name="nli", root=root)
    dq.set_labels_for_run(["entailment", "neutral", "contradiction"])
    rng = np.random.default_rng(1)
    n = 30
    dq.log_data_samples(premises=[f"premise {i}" for i in range(n)],
                        hypotheses=[f"hypothesis {i}" for i in range(n)], ids=list(range(n)),
                        labels=[["entailment", "neutral", "contradiction"][i % 3] for i in range(n)],
                        split="training")
    dq.log_data_samples(premises=[f"new premise {i}" for i in range(10)],
                        hypotheses=[f"new hypothesis {i}" for i in range(10)],
                        ids=list(range(100, 110)), split="inference", inference_name="snli")
    dq.log_model_outputs(embs=rng.normal(size=(n, 8)), logits=rng.normal(size=(n, 3)),
                         ids=list(range(n)), split="training", epoch=0)
    dq.log_model_outputs(embs=rng.normal(size=(10, 8)), logits=rng.normal(size=(10, 3)),
                         ids=list(range(100, 110)), split="inference", inference_name="snli",
                         epoch=0)
    dq.finish(compute_map=False, drift_k=1)
    j = dq.suggest_labels("inference", "snli", budget=4, project_name="p", run_name="nli",
                          root=root, raw=True)
    assert len(j["suggestions"]) == 4
    for s in j["suggestions"]:
        assert s["premise"].startswith("new premise ")
        assert s["hypothesis"].startswith("new hypothesis ")


def test_ner_suggests_samples_by_their_weakest_span(root):
    """An NER sentence's confidence is its weakest predicted span's (issue 16; it was its
    least confident token's) and its pred the predicted entity types."""
    tags = ["O", "B-PER", "I-PER"]
    dq.init("ner", project_name="p", run_name="ner", root=root)
    dq.set_labels_for_run(tags)
    dq.set_tagging_schema("BIO")
    text, tokens = "Ann Lee met Bob", [(0, 3), (4, 7), (8, 11), (12, 15)]
    gold = [{"start": 0, "end": 7, "label": "PER"}]
    rng = np.random.default_rng(2)
    # Distinct texts: the same text as a training sample's is never suggested.
    dq.log_data_samples(texts=[f"{text} {i:03d}" for i in range(20)], ids=[f"t{i}" for i in range(20)],
                        text_token_indices=[tokens] * 20, gold_spans=[gold] * 20, split="training")
    dq.log_data_samples(texts=[f"{text} {i + 500}" for i in range(8)], ids=[f"p{i}" for i in range(8)],
                        text_token_indices=[tokens] * 8, split="inference", inference_name="prod")
    for split, prefix, n, name in [("training", "t", 20, None), ("inference", "p", 8, "prod")]:
        embs = [rng.normal(size=(4, 6)).astype(np.float32) for _ in range(n)]
        logits = []
        for i in range(n):
            lo = np.zeros((4, 3), dtype=np.float32)
            lo[:, 0] = 4.0
            lo[0, :] = [0.0, 4.0, 0.0]
            lo[1, :] = [0.0, 0.0, 4.0]
            if split == "inference":
                lo[1, :] = [1.0, 0.0, 1.2 + 0.2 * i]  # the PER span's second token: p0 the least sure
            logits.append(lo)
        dq.log_model_outputs(embs=embs, logits=logits, ids=[f"{prefix}{i}" for i in range(n)],
                             split=split, inference_name=name, epoch=0)
    dq.finish(compute_map=False, drift_k=1)
    df = dq.suggest_labels("inference", "prod", budget=3, strategy="uncertainty",
                           project_name="p", run_name="ner", root=root)
    assert list(df["id"]) == ["p0", "p1", "p2"]
    assert set(df["pred"]) == {"PER"}


def test_drift_takes_the_top_of_both_shift_tests_where_the_set_has_a_shift_score(run):
    """With the per-sample shift score (a domain test against validation), `drift`
    takes the samples ranked highest by either test, the shift score or the k-NN
    distance to training, and its reasons name the test (and the set's flag
    threshold for the shift score)."""
    kw = dict(project_name="p", run_name="r", root=run)
    samples = dq.get_dataframe("inference", "prod", **kw)
    if "shift_score" not in samples or samples["shift_score"].isna().all():
        pytest.skip("this build has no per-sample shift score")
    summary = dq.get_summary(split="inference", inference_name="prod", **kw)
    threshold = summary["domain_test"]["shift_threshold"]
    drift = dq.suggest_labels("inference", "prod", budget=10, strategy="drift", **kw)
    candidates = samples[samples["id"] != "copy"]
    by_shift = list(candidates.sort_values("shift_score", ascending=False, kind="stable")["id"])
    by_knn = list(candidates.sort_values("drift_distance", ascending=False, kind="stable")["id"])
    picked = set(drift["id"])
    assert set(by_shift[:5]) <= picked and set(by_knn[:5]) <= picked
    assert picked <= set(by_shift[:10]) | set(by_knn[:10])
    for _, row in drift.iterrows():
        first = row["reasons"][0]
        if row["id"] in by_shift[:5] and row["id"] not in by_knn[:10]:
            assert first == (f"shifted: shift score {row['shift_score']:.2f} "
                             f"(flag above {threshold:.2f})")
        if row["id"] in by_knn[:5] and row["id"] not in by_shift[:10]:
            assert first.startswith(f"drifted: drift score {row['drift_score']:.2f}")
    assert all(s["shift"] == pytest.approx(v) for s, v in zip(drift["scores"], drift["shift_score"]))
