"""The NER and NLI examples (examples/python/ner.py, nli.py) end to end on small
generated data, as `make demo-ner` and `make demo-nli` run them on the shared data:
train and log, attach production sets, finish, read the figures back."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

import sextant as dq
from conftest import REPO

EXAMPLES = REPO / "examples" / "python"
SHARED = pathlib.Path(os.environ.get("SEXTANT_DATA") or REPO.parent / "shared" / "data")


def _run(script, tmp_path, *args, data):
    root = tmp_path / "store"
    out_json = tmp_path / "figures.json"
    env = dict(os.environ, SEXTANT_DATA=str(data))
    out = subprocess.run([sys.executable, str(EXAMPLES / script), "--root", str(root),
                          "--project", "demo", "--results-json", str(out_json), *args],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return root, out.stdout, json.loads(out_json.read_text())


def _fraction(x):
    assert x is not None and 0.0 <= x <= 1.0, x
    return x


def test_ner_on_generated_data(tmp_path):
    root, printed, figures = _run("ner.py", tmp_path, "--run", "ner", "--epochs", "3",
                                  "--max-train", "500", "--max-eval", "120",
                                  data=tmp_path / "no-data")
    assert "generated news and social-media sentences" in printed
    assert "span rows drifted per inference set" in printed
    splits = figures["splits"]
    assert set(splits) == {"training", "validation", "test", "inference:news_test",
                           "inference:social"}
    for name, f in splits.items():
        assert f["span_rows"] > 0, name
    for name in ("validation", "test"):
        f = splits[name]
        assert 0.6 < f["f1"] <= 1.0, (name, f)
        assert 0.0 <= f["precision"] <= 1.0 and 0.0 <= f["recall"] <= 1.0
        _fraction(f["drifted"])  # out of coverage
    # Our own score and the engine's agree: the same strict decoding, the same spans.
    assert splits["test"]["f1"] == pytest.approx(figures["test_f1"], abs=1e-6)
    news, social = splits["inference:news_test"], splits["inference:social"]
    for f in (splits["validation"], splits["test"], news, social):
        # the share of drifted span rows: the summary's and the span table's agree
        assert f["summary_drift"] == pytest.approx(_fraction(f["drifted"]), abs=1e-9)
    # Social-media posts with unseen names and words: far more of them drift than
    # in-domain news. (Their few predicted spans sit on capitalised words that look
    # like training entities, so at span level the difference is smaller.)
    assert _fraction(social["sample_drift"]) > _fraction(news["sample_drift"]) + 0.3
    # The span table is what the figures were read from.
    spans = dq.get_span_dataframe("inference", "social", project_name="demo", run_name="ner",
                                  root=root)
    assert len(spans) == social["span_rows"]
    assert spans["gold"].isna().all() and spans["pred"].notna().all()
    labeled = dq.get_span_dataframe("validation", project_name="demo", run_name="ner", root=root)
    assert set(labeled["error_type"].dropna()) <= {"none", "wrong_tag", "span_shift",
                                                   "missed_label", "ghost_span"}


def test_nli_on_generated_data(tmp_path):
    root, printed, figures = _run("nli.py", tmp_path, "--run", "nli", "--epochs", "4",
                                  "--lr", "2e-3", "--max-train", "800", "--max-eval", "150",
                                  data=tmp_path / "no-data")
    assert "generated pairs" in printed
    assert "inference:finance" in printed and "of validation out of coverage" in printed
    splits = figures["splits"]
    assert set(splits) == {"training", "validation", "inference:finance"}
    assert splits["validation"]["accuracy"] > 0.8
    assert splits["validation"]["samples"] == 150
    validation, finance = splits["validation"], splits["inference:finance"]
    _fraction(validation["drifted"])  # out of coverage
    _fraction(finance["drifted"])
    # Pairs about company finances share no content word with the training pairs:
    # the model is much less sure of them. (Their embeddings, the hidden layer of
    # a classifier trained from scratch, carry little of the topic, so few of them
    # are out of coverage; see the README.)
    assert finance["mean_confidence"] < validation["mean_confidence"] - 0.15
    assert finance["on_the_boundary"] > validation["on_the_boundary"]
    df = dq.get_dataframe("inference", "finance", project_name="demo", run_name="nli", root=root)
    assert len(df) == 150


@pytest.mark.skipif(not (SHARED / "conll2003" / "train.jsonl").is_file(),
                    reason=f"{SHARED}/conll2003 not found")
def test_ner_on_conll_sample(tmp_path):
    _, printed, figures = _run("ner.py", tmp_path, "--run", "ner", "--epochs", "2",
                               "--max-train", "2000", "--max-eval", "200", data=SHARED)
    assert "CoNLL-2003" in printed
    splits = figures["splits"]
    assert {"inference:conll_test", "inference:wnut17"} <= set(splits)
    assert splits["validation"]["samples"] == 200
    assert splits["validation"]["f1"] > 0.3
    for name in ("inference:conll_test", "inference:wnut17"):
        assert splits[name]["span_rows"] > 0, figures
        _fraction(splits[name]["drifted"])
        assert splits[name]["domain_test"]["reference"] == "validation", figures
    assert "sentences: domain classifier against validation" in printed


@pytest.mark.skipif(not (SHARED / "mnli" / "train.jsonl").is_file(),
                    reason=f"{SHARED}/mnli not found")
def test_nli_on_mnli_sample(tmp_path):
    _, printed, figures = _run("nli.py", tmp_path, "--run", "nli", "--epochs", "1",
                               "--max-train", "2000", "--max-eval", "200", data=SHARED)
    assert "MNLI" in printed
    splits = figures["splits"]
    assert {"inference:mnli_matched", "inference:mnli_mismatched", "inference:snli"} <= set(splits)
    assert splits["inference:snli"]["samples"] == 200
    for name in ("inference:mnli_matched", "inference:mnli_mismatched", "inference:snli"):
        test = splits[name]["domain_test"]
        assert test["reference"] == "validation" and test["samples"] == 200, test
        assert 0.0 <= test["auc"] <= 1.0 and 0.0 <= test["p_value"] <= 1.0
    assert "domain classifier against validation" in printed
    assert 0.0 <= splits["validation"]["accuracy"] <= 1.0
