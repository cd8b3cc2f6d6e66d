"""Exports for labeling tools and labels coming back (docs/labeling-tools.md):
the CLI's labelstudio/argilla exports, `sextant labels import` of each format,
its errors (nothing written), export-dataset, and dq.import_labels /
dq.get_labeled_dataset; the labeling loop example on generated data."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import sextant as dq
from conftest import REPO, make_data, small_run


def _cli(sextant_bin, *args, check=True):
    out = subprocess.run([str(sextant_bin), *args], capture_output=True, text=True)
    if check:
        assert out.returncode == 0, out.stderr
    return out


@pytest.fixture
def run(root):
    small_run(root, n_train=200, n_inf=60)
    dq.finish(compute_map=False)
    gold = dict(zip(*[make_data(60, "i", 3)[k] for k in ("ids", "labels")]))
    return ["--root", str(root), "--project", "p", "--run", "r"], gold


def _gold_of(root):
    df = dq.get_dataframe("inference", "prod", project_name="p", run_name="r", root=root)
    return dict(zip(df["id"], df["gold"]))


def test_export_import_round_trip_through_label_studio(root, sextant_bin, run, tmp_path):
    base, gold = run
    tasks_path = tmp_path / "tasks.json"
    _cli(sextant_bin, "export", *base, "--split", "inference", "--inference-name", "prod",
         "--sort", "margin", "--limit", "10", "--output", str(tasks_path))
    tasks = json.loads(tasks_path.read_text())
    assert isinstance(tasks, list) and len(tasks) == 10
    for t in tasks:
        assert t["data"]["text"] and t["data"]["split"] == "inference:prod"
        assert t["predictions"][0]["result"][0]["value"]["choices"][0] in \
            ("negative", "neutral", "positive")
        assert t["predictions"][0]["model_version"] == "sextant:p/r"
    # The labeler's work: an annotation per task, one of them cancelled.
    for i, t in enumerate(tasks):
        t["annotations"] = [{"was_cancelled": i == 0, "result": [
            {"from_name": "label", "to_name": "text", "type": "choices",
             "value": {"choices": [gold[t["data"]["sextant_id"]]]}}]}]
    done = tmp_path / "export.json"
    done.write_text(json.dumps(tasks))
    out = _cli(sextant_bin, "labels", "import", *base, "--inference-name", "prod",
               "--file", str(done))
    assert "imported 9 labels" in out.stderr and "1 tasks without an annotation" in out.stderr
    got = _gold_of(root)
    ids = [t["data"]["sextant_id"] for t in tasks]
    assert got[ids[0]] is None
    assert all(got[i] == gold[i] for i in ids[1:])
    assert sum(g is not None for g in got.values()) == 9
    # --misclassified now sees the imported labels.
    mis = _cli(sextant_bin, "samples", *base, "--split", "inference", "--inference-name", "prod",
               "--misclassified", "--format", "jsonl").stdout.splitlines()
    assert all(json.loads(line)["gold"] is not None for line in mis)

    # export-dataset: id,text,label of the labeled samples, loggable as training data.
    ds = tmp_path / "dataset.csv"
    _cli(sextant_bin, "labels", "export-dataset", *base, "--inference-name", "prod",
         "--output", str(ds))
    import pandas as pd
    df = pd.read_csv(ds)
    assert list(df.columns[:3]) == ["id", "text", "label"] and len(df) == 9
    assert all(df["label"] == [gold[i] for i in df["id"]])


def test_argilla_and_config_exports(root, sextant_bin, run, tmp_path):
    base, _ = run
    out = tmp_path / "records.jsonl"
    _cli(sextant_bin, "export", *base, "--split", "inference", "--inference-name", "prod",
         "--limit", "3", "--format", "argilla", "--output", str(out))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3
    assert set(records[0]) == {"id", "fields", "metadata", "suggestions", "vectors"}
    assert records[0]["suggestions"][0]["question_name"] == "label"
    cfg = _cli(sextant_bin, "samples", *base, "--split", "training", "--format",
               "labelstudio-config").stdout
    assert '<Choice value="neutral"/>' in cfg and 'toName="text"' in cfg
    bad = _cli(sextant_bin, "export", *base, "--split", "training", "--output",
               str(tmp_path / "x.txt"), check=False)
    assert bad.returncode == 2 and "--format" in bad.stderr


def test_suggest_exports_label_studio_tasks_with_reasons(root, sextant_bin, run, tmp_path):
    base, _ = run
    out = tmp_path / "suggested.json"
    _cli(sextant_bin, "suggest", *base, "--split", "inference", "--inference-name", "prod",
         "--budget", "5", "--format", "labelstudio", "--output", str(out))
    tasks = json.loads(out.read_text())
    assert len(tasks) == 5
    assert [t["data"]["rank"] for t in tasks] == [1, 2, 3, 4, 5]
    assert all(t["data"]["reasons"] and t["predictions"][0]["result"] for t in tasks)


def test_csv_jsonl_import_errors_write_nothing(root, sextant_bin, run, tmp_path):
    base, gold = run
    imp = ["labels", "import", *base, "--inference-name", "prod", "--file"]
    cases = {
        "unknown.csv": ("id,label\ni00001,negative\nzzz,negative\n", ["line 3", "'zzz'"]),
        "badlabel.csv": ("id,label\ni00001,great\n", ["line 2", "'great'", "[negative"]),
        "dup.jsonl": ('{"id": "i00001", "label": "negative"}\n'
                      '{"id": "i00001", "label": "positive"}\n', ["line 2", "twice"]),
        "empty.csv": ("id,label\n", ["no labels"]),
        "nocol.csv": ("id,class\ni00001,negative\n", ["'label'"]),
    }
    for name, (content, parts) in cases.items():
        path = tmp_path / name
        path.write_text(content)
        out = _cli(sextant_bin, *imp, str(path), check=False)
        assert out.returncode == 2, (name, out.stderr)
        assert name in out.stderr, (name, out.stderr)
        for part in parts:
            assert part in out.stderr, (name, part, out.stderr)
    assert all(g is None for g in _gold_of(root).values())
    # Training samples carry their labels from logging.
    path = tmp_path / "ok.csv"
    path.write_text("id,label\ni00001,negative\n")
    out = _cli(sextant_bin, "labels", "import", *base, "--split", "training",
               "--inference-name", "x", "--file", str(path), check=False)
    assert out.returncode != 0


def test_python_import_labels_and_labeled_dataset(root, run, tmp_path):
    _, gold = run
    ids = sorted(gold)[:5]
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps({"sextant_id": i, "label": gold[i]}) + "\n" for i in ids))
    report = dq.import_labels("inference", "prod", path, project_name="p", run_name="r",
                              root=root)
    assert report == {"imported": 5, "overwritten": 0, "skipped": 0, "labeled": 5}
    # A dict, overwriting one of them.
    flipped = "negative" if gold[ids[0]] != "negative" else "positive"
    report = dq.import_labels("inference", "prod", labels={ids[0]: flipped}, project_name="p",
                              run_name="r", root=root)
    assert report["overwritten"] == 1 and report["labeled"] == 5
    ds = dq.get_labeled_dataset("inference", "prod", project_name="p", run_name="r", root=root)
    assert list(ds.columns[:3]) == ["id", "text", "label"]
    assert dict(zip(ds["id"], ds["label"])) == {**{i: gold[i] for i in ids}, ids[0]: flipped}
    df = dq.get_dataframe("inference", "prod", project_name="p", run_name="r", root=root,
                          ids=[ids[0]])
    assert df["is_correct"].iloc[0] == (df["pred"].iloc[0] == flipped)
    with pytest.raises(dq.InvalidArgumentError, match="'nope'"):
        dq.import_labels("inference", "prod", labels={"nope": "negative"}, project_name="p",
                         run_name="r", root=root)


def test_label_loop_example_on_generated_data(tmp_path, sextant_bin):
    results = tmp_path / "loop.json"
    env = dict(os.environ, SEXTANT_DATA=str(tmp_path / "no-data"), SEXTANT_BIN=str(sextant_bin))
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "label_loop.py"), "--root",
         str(tmp_path / "store"), "--max-train", "1200", "--max-rows", "500", "--budget", "40",
         "--epochs", "2", "--results-json", str(results)],
        env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "accuracy on the held-out restaurants part" in out.stdout
    r = json.loads(results.read_text())
    assert r["imported"] == 40 and r["labels_agree_with_gold"] == 1.0
    assert r["labels_via"] == "Label Studio tasks and annotations"
    for key in ("accuracy_before", "accuracy_suggested", "accuracy_random"):
        assert 0.0 <= r[key] <= 1.0
    summary = dq.get_summary(project_name="loop", run_name="round1", root=tmp_path / "store")
    assert summary["splits"]["test"]["samples"] == r["heldout"]
    assert summary["splits"]["training"]["samples"] == 1200 + 40


def test_ner_export_carries_predicted_spans_and_import_is_refused(root, sextant_bin, tmp_path):
    from test_ner_nli import TAGS, TEXT, TOKENS, GOLD, token_outputs
    dq.init("ner", project_name="p", run_name="ner", root=root)
    dq.set_labels_for_run(TAGS)
    dq.set_tagging_schema("BIO")
    dq.log_dataset([{"id": "a", "text": TEXT, "text_token_indices": TOKENS, "gold_spans": GOLD},
                    {"id": "b", "text": "Rome", "text_token_indices": [(0, 4)],
                     "gold_spans": [{"start": 0, "end": 4, "label": "LOC"}]}], split="training")
    dq.log_dataset([{"id": "p", "text": TEXT, "text_token_indices": TOKENS}], split="inference",
                   inference_name="prod")
    embs, logits = token_outputs([[1, 2, 0, 3, 3, 4], [3]])
    dq.log_model_outputs(embs=embs, logits=logits, ids=["a", "b"], split="training", epoch=0)
    pe, pl = token_outputs([[1, 2, 0, 0, 0, 3]], shift=3.0)
    dq.log_model_outputs(embs=pe, logits=pl, ids=["p"], split="inference", inference_name="prod",
                         epoch=0)
    dq.finish(compute_map=False, drift_k=1)
    base = ["--root", str(root), "--project", "p", "--run", "ner"]
    out = tmp_path / "ner.json"
    _cli(sextant_bin, "export", *base, "--split", "inference", "--inference-name", "prod",
         "--output", str(out))
    result = json.loads(out.read_text())[0]["predictions"][0]["result"]
    # Predicted: "Ann Lee" PER (tokens 0-1) and "Rome" LOC (token 5).
    spans = sorted((r["value"]["start"], r["value"]["end"], r["value"]["text"],
                    r["value"]["labels"][0]) for r in result)
    assert spans == [(0, 7, "Ann Lee", "PER"), (19, 23, "Rome", "LOC")]
    assert all(r["type"] == "labels" and r["to_name"] == "text" for r in result)
    cfg = _cli(sextant_bin, "samples", *base, "--split", "training", "--format",
               "labelstudio-config").stdout
    assert '<Label value="PER"/>' in cfg and '<Label value="LOC"/>' in cfg
    labels = tmp_path / "l.csv"
    labels.write_text("id,label\np,PER\n")
    r = _cli(sextant_bin, "labels", "import", *base, "--inference-name", "prod", "--file",
             str(labels), check=False)
    assert r.returncode == 2 and "NER" in r.stderr and "not" in r.stderr
