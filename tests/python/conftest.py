"""Fixtures for the Python package's tests: a store root under tmp_path, small
generated data, and the `sextant` binary (CTest sets $SEXTANT_BIN)."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

import sextant as dq
from sextant import _api

REPO = pathlib.Path(__file__).resolve().parents[2]
LABELS = ["negative", "neutral", "positive"]


@pytest.fixture(autouse=True)
def _close_run():
    yield
    _api._close_current()


@pytest.fixture
def root(tmp_path):
    return tmp_path / "store"


@pytest.fixture(scope="session")
def sextant_bin():
    path = os.environ.get("SEXTANT_BIN")
    if path:
        return pathlib.Path(path)
    for c in ["build/src/cli/sextant"]:
        if (REPO / c).is_file():
            return REPO / c
    pytest.skip("the sextant binary was not found; run through CTest")


def make_data(n, prefix="s", seed=0, dim=16, labels=LABELS):
    """n samples whose embeddings cluster by class, with logits that agree."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(labels), size=n)
    centers = np.random.default_rng(1234).normal(size=(len(labels), dim)) * 3
    embs = centers[y] + rng.normal(size=(n, dim))
    logits = np.eye(len(labels))[y] * 2 + rng.normal(size=(n, len(labels))) * 0.5
    return {
        "ids": [f"{prefix}{i:05d}" for i in range(n)],
        "texts": [f"text {labels[c]} number {i}" for i, c in enumerate(y)],
        "labels": [labels[c] for c in y],
        "label_idx": y,
        "embs": embs,
        "logits": logits,
    }


def log_split(split, d, inference_name=None, epochs=(0,), batch=64):
    if split == "inference":
        dq.log_data_samples(texts=d["texts"], ids=d["ids"], split=split,
                            inference_name=inference_name)
    else:
        dq.log_data_samples(texts=d["texts"], ids=d["ids"], labels=d["labels"], split=split)
    for epoch in epochs:
        dq.set_split(split, inference_name)
        dq.set_epoch(epoch)
        for b in range(0, len(d["ids"]), batch):
            dq.log_model_outputs(embs=d["embs"][b:b + batch], logits=d["logits"][b:b + batch],
                                 ids=d["ids"][b:b + batch])


def small_run(root, project="p", run="r", n_train=300, n_val=0, n_inf=100, epochs=(0,)):
    dq.init(task_type="text_classification", project_name=project, run_name=run, root=root)
    dq.set_labels_for_run(LABELS)
    log_split("training", make_data(n_train, "t", 1), epochs=epochs)
    if n_val:
        log_split("validation", make_data(n_val, "v", 2))
    if n_inf:
        d = make_data(n_inf, "i", 3)
        d["embs"] = d["embs"] + 4.0  # shifted
        log_split("inference", d, inference_name="prod")
