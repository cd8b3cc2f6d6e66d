"""Logging from several threads: every batch arrives once, nothing is lost."""

from __future__ import annotations

import threading

import numpy as np
import torch

import sextant as dq
from conftest import LABELS, make_data


def test_two_threads_log_outputs(root):
    dq.init(task_type="text_classification", project_name="p", run_name="r", root=root)
    dq.set_labels_for_run(LABELS)
    d = make_data(2000, "t", 0)
    dq.log_data_samples(texts=d["texts"], ids=d["ids"], labels=d["labels"], split="training")
    errors = []

    def worker(part):
        try:
            for b in range(part * 1000, part * 1000 + 1000, 25):
                dq.log_model_outputs(embs=torch.tensor(d["embs"][b:b + 25]),
                                     logits=d["logits"][b:b + 25], ids=d["ids"][b:b + 25],
                                     split="training", epoch=0)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(p,)) for p in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    dq.finish(compute_map=False)
    df = dq.get_dataframe("training", include_embs=True)
    assert sorted(df["id"]) == d["ids"]
    np.testing.assert_allclose(np.stack(df["emb"].to_list()), d["embs"].astype(np.float32))


def test_threads_logging_different_splits_and_data(root):
    dq.init(task_type="text_classification", project_name="p", run_name="r2", root=root)
    dq.set_labels_for_run(LABELS)
    splits = {"training": make_data(300, "t", 1), "validation": make_data(300, "v", 2)}
    errors = []

    def worker(split, d):
        try:
            dq.log_data_samples(texts=d["texts"], ids=d["ids"], labels=d["labels"], split=split)
            for b in range(0, 300, 30):
                dq.log_model_outputs(embs=d["embs"][b:b + 30], logits=d["logits"][b:b + 30],
                                     ids=d["ids"][b:b + 30], split=split, epoch=0)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=item) for item in splits.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    dq.finish(compute_map=False)
    for split, d in splits.items():
        assert dq.get_dataframe(split)["id"].tolist() == d["ids"]
