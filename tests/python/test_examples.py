"""The example workflow (examples/python) end to end on small data: train and
log, attach a shifted production set, print the results, as `make demo` does."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

import sextant as dq
from conftest import REPO

EXAMPLES = REPO / "examples" / "python"


def _run(script, *args, data):
    env = dict(os.environ, SEXTANT_DATA=str(data))
    out = subprocess.run([sys.executable, str(EXAMPLES / script), *args], env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _workflow(root, data, train_args=(), infer_args=()):
    common = ["--root", str(root), "--project", "demo", "--run", "sentiment"]
    train = _run("train.py", *common, "--epochs", "2", *train_args, data=data)
    infer = _run("infer.py", *common, *infer_args, data=data)
    shown = _run("show_results.py", *common, data=data)
    return train, infer, shown


def test_workflow_on_generated_data(tmp_path):
    root = tmp_path / "store"
    train, infer, shown = _workflow(root, tmp_path / "no-data", ["--max-train", "1500"],
                                    ["--max-rows", "300"])
    assert "generated movie reviews" in train
    assert "inference set restaurants: 300 samples logged" in infer
    assert "inference:restaurants" in shown and "drifted" in shown
    summary = dq.get_summary(project_name="demo", run_name="sentiment", root=root)
    assert summary["splits"]["training"]["last_epoch"] == 1
    validation = summary["splits"]["validation"]
    assert validation["accuracy"] > 0.8
    # The generated validation texts are not copies of training texts: the
    # threshold (95th percentile of validation distances) leaves about 5% out.
    assert 0.01 < validation["out_of_coverage"]["fraction"] < 0.15
    restaurants = summary["splits"]["inference:restaurants"]
    # A different domain: drift is found, but not everywhere.
    assert 0.3 < restaurants["drifted"]["fraction"] < 0.95
    # ... and a classifier tells it from the validation set.
    assert restaurants["domain_test"]["reference"] == "validation"
    assert restaurants["domain_test"]["shifted"] and restaurants["domain_test"]["auc"] > 0.7
    assert "domain classifier against validation" in shown


def test_workflow_on_sst2_sample(tmp_path):
    data = pathlib.Path(os.environ.get("SEXTANT_DATA") or REPO.parent / "shared" / "data")
    if not (data / "sst2" / "train.csv").is_file():
        pytest.skip(f"{data}/sst2 not found")
    root = tmp_path / "store"
    train, infer, shown = _workflow(root, data, ["--max-train", "3000"],
                                    ["--sets", "yelp", "--max-rows", "300"])
    assert "SST-2" in train
    summary = dq.get_summary(project_name="demo", run_name="sentiment", root=root)
    assert summary["splits"]["inference:yelp"]["samples"] == 300
    assert summary["splits"]["validation"]["samples"] == 6735
