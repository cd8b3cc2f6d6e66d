"""Every argument type of the logging API, and the dq-shaped workflow on small data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import sextant as dq
from conftest import LABELS, make_data, small_run


def test_workflow_in_dataquality_shape(root):
    small_run(root, n_train=300, n_val=60, n_inf=80, epochs=(0, 1))
    report = dq.finish(compute_map=False)
    assert report["samples"] == 440
    assert sorted(report["splits"]) == ["inference:prod", "training", "validation"]
    summary = dq.get_summary()
    assert summary["labels"] == LABELS
    assert summary["splits"]["training"]["samples"] == 300
    assert summary["splits"]["training"]["last_epoch"] == 1
    inf = summary["splits"]["inference:prod"]
    assert inf["drifted"]["fraction"] > 0.5  # the production set was shifted
    df = dq.get_dataframe("inference", "prod")
    assert len(df) == 80
    assert set(df["split"]) == {"inference"} and set(df["inference_name"]) == {"prod"}
    assert df["is_drifted"].astype(bool).mean() == pytest.approx(inf["drifted"]["fraction"])
    train = dq.get_dataframe("training", include_probs=True, include_embs=True)
    assert train["prob"].iloc[0].shape == (3,)
    assert train["emb"].iloc[0].shape == (16,)
    assert (train["gold"] == train["pred"]).mean() > 0.9


def test_finish_closes_and_inference_job_attaches(root):
    small_run(root, n_inf=0)
    dq.finish(compute_map=False)
    with pytest.raises(dq.FailedPreconditionError):
        dq.set_split("training")
    # a separate inference job: same run, same labels, an inference name
    dq.init(task_type="text_classification", project_name="p", run_name="r", root=root)
    dq.set_labels_for_run(LABELS)
    d = make_data(50, "prod", 5)
    dq.log_dataset(pd.DataFrame({"id": d["ids"], "text": d["texts"]}), split="inference",
                   inference_name="prod_1")
    dq.set_split("inference", "prod_1")
    dq.log_model_outputs(embs=d["embs"], logits=d["logits"], ids=d["ids"])
    dq.finish(compute_map=False)
    assert len(dq.get_dataframe("inference", "prod_1")) == 50
    runs = dq.list_runs(root)
    assert [(r["project"], r["run"], r["finished"]) for r in runs] == [("p", "r", True)]


def test_list_runs_shows_a_damaged_run_next_to_sound_ones(root):
    d = make_data(20)
    _init(root)
    dq.log_data_samples(texts=d["texts"], labels=d["labels"], ids=d["ids"], split="training")
    broken = root / "p" / "broken"
    broken.mkdir(parents=True)
    import sqlite3
    sqlite3.connect(broken / "sextant.db").close()  # a database without tables
    runs = {r["run"]: r for r in dq.list_runs(root)}
    assert runs["broken"]["status"] == "damaged" and "meta" in runs["broken"]["error"]
    assert runs["r"]["status"] == "ok" and runs["r"]["error"] is None
    reader = dq.open_run("p", "r", root=root)
    assert reader.generation == 0 and reader.committed_generation() == 0
    # Another run of the store is created and logged as usual.
    dq.init(task_type="text_classification", project_name="p", run_name="other", root=root)


def _init(root):
    dq.init(task_type="text_classification", project_name="p", run_name="r", root=root)
    dq.set_labels_for_run(LABELS)


@pytest.mark.parametrize("kind", ["dataframe", "dict", "rows", "generator"])
def test_log_dataset_accepts(root, kind):
    _init(root)
    d = make_data(40, "x", 0)
    cols = {"id": d["ids"], "text": d["texts"], "label": d["labels"],
            "source": ["web"] * 20 + ["app"] * 20}
    if kind == "dataframe":
        data = pd.DataFrame(cols)
    elif kind == "dict":
        data = cols
    else:
        rows = [dict(zip(cols, values)) for values in zip(*cols.values())]
        data = rows if kind == "rows" else (r for r in rows)
    dq.log_dataset(data, split="training", meta=["source"])
    dq.log_model_outputs(embs=d["embs"], logits=d["logits"], ids=d["ids"], split="training", epoch=0)
    dq.finish(compute_map=False)
    df = dq.get_dataframe("training")
    assert df["id"].tolist() == d["ids"]
    assert df["gold"].tolist() == d["labels"]
    assert df["source"].tolist() == cols["source"]


def test_log_dataset_column_names_and_int_labels(root):
    _init(root)
    d = make_data(30, "c", 0)
    df = pd.DataFrame({"sid": np.arange(30), "sentence": d["texts"], "y": d["label_idx"]})
    dq.log_dataset(df, text="sentence", id="sid", label="y", split="train")
    dq.set_split("training")
    dq.set_epoch(0)
    # ids as a tensor of ints match the DataFrame's integer ids
    dq.log_model_outputs(embs=d["embs"], logits=d["logits"], ids=torch.arange(30))
    dq.finish(compute_map=False)
    out = dq.get_dataframe("training")
    assert out["id"].tolist() == [str(i) for i in range(30)]
    assert out["gold"].tolist() == d["labels"]


def test_log_data_samples_with_indices_and_meta(root):
    _init(root)
    d = make_data(20, "m", 0)
    dq.log_data_samples(texts=d["texts"], ids=d["ids"], labels=np.asarray(d["label_idx"]),
                        split="training", meta={"lang": ["en"] * 20, "score": list(range(20))})
    dq.log_model_outputs(embs=d["embs"].tolist(), logits=d["logits"].tolist(), ids=d["ids"],
                         split="training", epoch=0)
    dq.finish(compute_map=False)
    out = dq.get_dataframe("training")
    assert out["gold"].tolist() == d["labels"]
    assert out["lang"].tolist() == ["en"] * 20
    assert out["score"].tolist() == [str(i) for i in range(20)]


ARRAY_KINDS = ["numpy32", "numpy64", "numpy16", "list", "torch32", "torch64", "torch16",
               "bfloat16", "torch_grad", "torch_noncontiguous", "torch_row_slice", "cuda"]


def _convert(a, kind):
    if kind == "numpy32":
        return a.astype(np.float32)
    if kind == "numpy64":
        return a.astype(np.float64)
    if kind == "numpy16":
        return a.astype(np.float16)
    if kind == "list":
        return a.tolist()
    t = torch.tensor(a, dtype=torch.float32)
    if kind == "torch32":
        return t
    if kind == "torch64":
        return t.double()
    if kind == "torch16":
        return t.half()
    if kind == "bfloat16":
        return t.bfloat16()
    if kind == "torch_grad":
        w = torch.ones(1, requires_grad=True)
        return t * w
    if kind == "torch_noncontiguous":
        return torch.tensor(a.T.copy(), dtype=torch.float32).T
    if kind == "torch_row_slice":  # contiguous, read in place from an offset into its storage
        padded = np.concatenate([np.full((2, a.shape[1]), 7.0), a, np.full((3, a.shape[1]), 9.0)])
        return torch.tensor(padded, dtype=torch.float32)[2:2 + len(a)]
    if kind == "cuda":
        if not torch.cuda.is_available():
            pytest.skip("no CUDA device")
        return t.cuda()
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ARRAY_KINDS)
def test_log_model_outputs_accepts(root, kind):
    _init(root)
    d = make_data(24, "a", 0)
    dq.log_data_samples(texts=d["texts"], ids=d["ids"], labels=d["labels"], split="training")
    dq.set_split("training")
    dq.set_epoch(0)
    dq.log_model_outputs(embs=_convert(d["embs"], kind), logits=_convert(d["logits"], kind),
                         ids=d["ids"])
    dq.finish(compute_map=False)
    out = dq.get_dataframe("training", include_embs=True)
    tol = 1e-2 if kind in ("numpy16", "torch16", "bfloat16") else 1e-6
    got = np.stack(out["emb"].to_list())
    np.testing.assert_allclose(got, d["embs"].astype(np.float32), rtol=tol, atol=tol * 10)


def test_cpu_float32_tensors_are_read_in_place(root):
    # The forward-pass path: the engine reads such a tensor through its data
    # pointer, here one at an offset into its storage, with autograd on.
    from sextant import _convert as convert

    _init(root)
    d = make_data(24, "a", 0)
    dq.log_data_samples(texts=d["texts"], ids=d["ids"], labels=d["labels"], split="training")
    w = torch.ones(1, requires_grad=True)
    embs = _convert(d["embs"], "torch_row_slice") * w
    logits = _convert(d["logits"], "torch_row_slice")
    convert.to_matrix(torch.zeros(1, 1), "x")  # the first tensor a process sees is converted
    assert convert.to_matrix(embs, "embs") is embs and convert.to_matrix(logits, "logits") is logits
    dq.log_model_outputs(embs=embs, logits=logits, ids=d["ids"], split="training", epoch=0)
    dq.finish(compute_map=False)
    out = dq.get_dataframe("training", include_embs=True, include_probs=True)
    np.testing.assert_array_equal(np.stack(out["emb"].to_list()), d["embs"].astype(np.float32))


@pytest.mark.parametrize("ids_kind", ["list_str", "list_int", "numpy_int", "torch_int", "tuple_mixed",
                                      "list_numpy_int", "list_float_int", "list_bytes"])
def test_ids_types(root, ids_kind):
    _init(root)
    d = make_data(10, "", 0)
    int_ids = list(range(100, 110))
    dq.log_data_samples(texts=d["texts"], ids=int_ids, labels=d["labels"], split="test")
    ids = {"list_str": [str(i) for i in int_ids], "list_int": int_ids,
           "numpy_int": np.asarray(int_ids), "torch_int": torch.tensor(int_ids),
           "tuple_mixed": tuple(str(i) if i % 2 else i for i in int_ids),
           "list_numpy_int": [np.int64(i) for i in int_ids],
           "list_float_int": [float(i) for i in int_ids],  # ids read through a column with NaN
           "list_bytes": [str(i).encode() for i in int_ids]}[ids_kind]
    dq.log_model_outputs(embs=d["embs"], logits=d["logits"], ids=ids, split="test", epoch=0)
    dq.finish(compute_map=False)
    assert dq.get_dataframe("test")["id"].tolist() == [str(i) for i in int_ids]


def test_ids_beyond_int64(root):
    _init(root)
    d = make_data(4, "", 0)
    big = [2**70 + i for i in range(3)] + [-(2**63)]
    dq.log_data_samples(texts=d["texts"], ids=[str(i) for i in big], labels=d["labels"],
                        split="test")
    dq.log_model_outputs(embs=d["embs"], logits=d["logits"], ids=big, split="test", epoch=0)
    dq.finish(compute_map=False)
    assert dq.get_dataframe("test")["id"].tolist() == [str(i) for i in big]


def test_probs_instead_of_logits(root):
    _init(root)
    d = make_data(30, "p", 0)
    probs = torch.softmax(torch.tensor(d["logits"]), dim=1)
    dq.log_data_samples(texts=d["texts"], ids=d["ids"], labels=d["labels"], split="test")
    dq.log_model_outputs(embs=d["embs"], probs=probs, ids=d["ids"], split="test", epoch=0)
    dq.finish(compute_map=False)
    out = dq.get_dataframe("test", include_probs=True)
    np.testing.assert_allclose(np.stack(out["prob"].to_list()), probs.numpy(), atol=1e-5)


def test_get_dataframe_filters(root):
    small_run(root, n_train=200, n_inf=60)
    dq.finish(compute_map=False)
    full = dq.get_dataframe("inference", "prod")
    drifted = dq.get_dataframe("inference", "prod", drifted=True)
    assert len(drifted) == int(full["is_drifted"].astype(bool).sum())
    pos = dq.get_dataframe("training", pred_class="positive")
    assert set(pos["pred"]) == {"positive"}
    wrong = dq.get_dataframe("training", misclassified=True)
    assert (wrong["gold"] != wrong["pred"]).all()
    top = dq.get_dataframe("training", sort_by="confidence", descending=True, limit=5)
    assert len(top) == 5 and top["confidence"].is_monotonic_decreasing
    some = dq.get_dataframe("training", ids=["t00001", "t00003"])
    assert some["id"].tolist() == ["t00001", "t00003"]
    with pytest.raises(ValueError):
        dq.get_dataframe("training", sort_by="nope")


def test_login_without_a_server_configured_stays_embedded(monkeypatch, root):
    monkeypatch.delenv("SEXTANT_CONSOLE_URL", raising=False)
    assert dq.login(root=root) == {"url": None, "embedded": True}
    assert not (root / ".login.json").exists()


def test_max_pending_bytes_bounds_unflushed_outputs(root):
    # A small bound makes log_model_outputs wait for the writer; everything still arrives.
    dq.init(task_type="text_classification", project_name="p", run_name="r", root=root,
            max_pending_bytes=1 << 20)
    dq.set_labels_for_run(LABELS)
    d = make_data(4000, "train", 1, dim=512)  # 8 MiB of embeddings
    dq.log_data_samples(texts=d["texts"], ids=d["ids"], labels=d["labels"], split="training")
    dq.set_split("training")
    for start in range(0, 4000, 100):
        sl = slice(start, start + 100)
        dq.log_model_outputs(embs=d["embs"][sl], logits=d["logits"][sl], ids=d["ids"][sl])
    dq.flush()
    dq.finish(compute_map=False)
    assert len(dq.get_dataframe("training")) == 4000
