"""Each error of the validation list (docs/api.md) raised as a Python exception
with the engine's message; a failed call loses nothing logged before it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sextant as dq
from sextant import _core
from conftest import LABELS, make_data


@pytest.fixture
def run(root):
    dq.init(task_type="text_classification", project_name="p", run_name="r", root=root)
    dq.set_labels_for_run(LABELS)
    d = make_data(20, "t", 0)
    dq.log_data_samples(texts=d["texts"], ids=d["ids"], labels=d["labels"], split="training")
    dq.set_split("training")
    dq.set_epoch(0)
    dq.log_model_outputs(embs=d["embs"][:10], logits=d["logits"][:10], ids=d["ids"][:10])
    return d


def _finish_keeps(d):
    """Whatever was logged before the failed call is still there."""
    dq.log_model_outputs(embs=d["embs"][10:], logits=d["logits"][10:], ids=d["ids"][10:],
                         split="training", epoch=0)
    dq.finish(compute_map=False)
    assert dq.get_dataframe("training")["id"].tolist() == d["ids"]


def test_exception_hierarchy():
    assert issubclass(dq.InvalidArgumentError, ValueError)
    assert issubclass(dq.InvalidArgumentError, dq.SextantError)
    assert issubclass(dq.AlreadyExistsError, ValueError)
    assert issubclass(dq.NotFoundError, LookupError)
    assert issubclass(dq.FailedPreconditionError, RuntimeError)
    assert issubclass(dq.SextantIOError, OSError)
    assert dq.InvalidArgumentError.__module__ == "sextant"


def test_unknown_split(run):
    with pytest.raises(dq.InvalidArgumentError, match="split"):
        dq.set_split("trainnig")
    with pytest.raises(ValueError, match="split"):
        dq.log_data_samples(texts=["a"], ids=["z"], labels=["positive"], split="holdout")
    _finish_keeps(run)


def test_inference_without_a_name(run):
    with pytest.raises(dq.InvalidArgumentError, match="inference_name"):
        dq.set_split("inference")
    with pytest.raises(ValueError, match="inference_name"):
        dq.log_data_samples(texts=["a"], ids=["z"], split="inference")
    _finish_keeps(run)


def test_labels_on_inference_data(run):
    with pytest.raises(dq.InvalidArgumentError, match="labels"):
        dq.log_data_samples(texts=["a"], ids=["z"], labels=["positive"], split="inference",
                            inference_name="prod")
    _finish_keeps(run)


@pytest.mark.parametrize("label", ["great", 7])
def test_label_outside_the_list(run, label):
    with pytest.raises(dq.InvalidArgumentError, match="labels") as e:
        dq.log_data_samples(texts=["a", "b"], ids=["n1", "n2"], labels=["positive", label],
                            split="validation")
    assert "n2" in str(e.value)
    _finish_keeps(run)


def test_inference_label_list_differs(run, root):
    dq.init(task_type="text_classification", project_name="p", run_name="r", root=root)
    with pytest.raises(dq.InvalidArgumentError, match="labels") as e:
        dq.set_labels_for_run(["positive", "neutral", "negative"])
    assert "negative" in str(e.value) and "positive" in str(e.value)
    dq.set_labels_for_run(LABELS)
    _finish_keeps(run)


def test_duplicate_ids(run):
    with pytest.raises(dq.AlreadyExistsError, match="ids") as e:
        dq.log_data_samples(texts=["a"], ids=["t00003"], labels=["positive"], split="training")
    assert isinstance(e.value, ValueError) and "t00003" in str(e.value)
    with pytest.raises(ValueError, match="ids"):
        dq.log_data_samples(texts=["a", "b"], ids=["d1", "d1"], labels=LABELS[:2], split="test")
    with pytest.raises(dq.SextantError, match="ids"):  # same split and epoch twice
        dq.log_model_outputs(embs=run["embs"][:2], logits=run["logits"][:2], ids=run["ids"][:2])
    _finish_keeps(run)


def test_outputs_for_ids_never_logged(run):
    with pytest.raises(dq.NotFoundError, match="ids") as e:
        dq.log_model_outputs(embs=run["embs"][:1], logits=run["logits"][:1], ids=["ghost"])
    assert "ghost" in str(e.value)
    _finish_keeps(run)


def test_data_never_given_outputs(run):
    with pytest.raises(dq.FailedPreconditionError) as e:
        dq.finish(compute_map=False)
    assert "t00010" in str(e.value)  # names the first ids without outputs
    _finish_keeps(run)  # the run stayed open: log the rest, finish again


def test_row_counts_differ(run):
    d = run
    with pytest.raises(dq.InvalidArgumentError, match="embeddings"):
        dq.log_model_outputs(embs=d["embs"][10:13], logits=d["logits"][10:12], ids=d["ids"][10:12])
    with pytest.raises(dq.InvalidArgumentError, match="logits"):
        dq.log_model_outputs(embs=d["embs"][10:12], logits=d["logits"][10:13], ids=d["ids"][10:12])
    with pytest.raises(dq.InvalidArgumentError, match="texts"):
        dq.log_data_samples(texts=["a"], ids=["x1", "x2"], labels=LABELS[:2], split="test")
    with pytest.raises(dq.InvalidArgumentError, match="labels"):
        dq.log_data_samples(texts=["a", "b"], ids=["x1", "x2"], labels=LABELS[:1], split="test")
    _finish_keeps(run)


def test_embedding_width_changes(run):
    d = run
    with pytest.raises(dq.InvalidArgumentError, match="embeddings") as e:
        dq.log_model_outputs(embs=np.zeros((2, 8)), logits=d["logits"][10:12], ids=d["ids"][10:12])
    assert "16" in str(e.value) and "8" in str(e.value)
    _finish_keeps(run)


def test_logit_width_differs_from_labels(run):
    d = run
    with pytest.raises(dq.InvalidArgumentError, match="logits"):
        dq.log_model_outputs(embs=d["embs"][10:12], logits=np.zeros((2, 2)), ids=d["ids"][10:12])
    with pytest.raises(dq.InvalidArgumentError, match="probs"):
        dq.log_model_outputs(embs=d["embs"][10:12], probs=np.full((2, 2), 0.5), ids=d["ids"][10:12])
    _finish_keeps(run)


@pytest.mark.parametrize("field,value", [("embs", np.nan), ("embs", np.inf), ("logits", -np.inf)])
def test_nan_or_infinite(run, field, value):
    d = run
    embs, logits = d["embs"][10:12].copy(), d["logits"][10:12].copy()
    (embs if field == "embs" else logits)[1, 2] = value
    with pytest.raises(dq.InvalidArgumentError,
                       match="embeddings" if field == "embs" else "logits") as e:
        dq.log_model_outputs(embs=torch.tensor(embs), logits=torch.tensor(logits), ids=d["ids"][10:12])
    assert d["ids"][11] in str(e.value)
    _finish_keeps(run)


def test_empty_batch(run):
    with pytest.raises(dq.InvalidArgumentError, match="ids"):
        dq.log_model_outputs(embs=np.zeros((0, 16)), logits=np.zeros((0, 3)), ids=[])
    with pytest.raises(dq.InvalidArgumentError, match="ids"):
        dq.log_data_samples(texts=[], ids=[], labels=[], split="test")
    _finish_keeps(run)


@pytest.mark.parametrize("probs", [[[0.5, 0.6, -0.1]], [[0.2, 0.2, 0.2]]])
def test_bad_probabilities(run, probs):
    d = run
    with pytest.raises(dq.InvalidArgumentError, match="probs") as e:
        dq.log_model_outputs(embs=d["embs"][10:11], probs=np.asarray(probs), ids=d["ids"][10:11],
                             split="training", epoch=1)
    assert d["ids"][10] in str(e.value)
    _finish_keeps(run)


def test_wrong_shapes_and_types_before_the_engine(run):
    d = run
    with pytest.raises(dq.InvalidArgumentError, match="embs"):
        dq.log_model_outputs(embs=np.zeros(16), logits=d["logits"][10:11], ids=d["ids"][10:11])
    with pytest.raises(dq.InvalidArgumentError, match="embs"):
        dq.log_model_outputs(embs=[[1.0, 2.0], [3.0]], logits=d["logits"][10:12], ids=d["ids"][10:12])
    with pytest.raises(dq.InvalidArgumentError, match="embs"):
        dq.log_model_outputs(embs=np.array([["a"]]), logits=d["logits"][10:11], ids=d["ids"][10:11])
    with pytest.raises(dq.InvalidArgumentError, match="text"):
        dq.log_dataset({"id": ["a"], "sentence": ["x"]}, split="test")
    with pytest.raises(dq.InvalidArgumentError, match="task_type"):
        dq.init(task_type="object_detection")
    _finish_keeps(run)


def test_calls_out_of_order(root):
    dq._api._close_current()
    with pytest.raises(dq.FailedPreconditionError, match="init"):
        dq.set_split("training")
    dq.init(task_type="text_classification", project_name="q", run_name="r", root=root)
    with pytest.raises(dq.FailedPreconditionError):  # no labels yet
        dq.log_data_samples(texts=["a"], ids=["a"], labels=["positive"], split="training")
    dq.set_labels_for_run(LABELS)
    with pytest.raises(dq.FailedPreconditionError):  # no split set
        dq.log_model_outputs(embs=np.zeros((1, 4)), logits=np.zeros((1, 3)), ids=["a"])
    with pytest.raises(ValueError):
        dq.set_epoch(-1)


def test_run_locked_by_another_writer(run, root):
    with pytest.raises(dq.FailedPreconditionError):
        _core.Client.init(str(root), "p", "r", "text_classification")
    _finish_keeps(run)


def test_reading_a_run_that_does_not_exist(root):
    with pytest.raises(dq.NotFoundError):
        dq.get_summary(project_name="nope", run_name="nope", root=root)


def test_processing_options_come_from_the_engine_table():
    specs = {s["name"]: s for s in dq.processing_option_specs()}
    assert specs["drift_k"]["short_name"] == "k" and specs["drift_k"]["default"] == "10"
    assert specs["nn_search"]["choices"] == ["auto", "exact", "approximate"]
    o = dq.processing_options(k=7, percentile=0.9, compute_map=False, nn_search="exact",
                              drift_reference=dq._core.DriftReference.validation)
    assert (o.drift_k, o.drift_percentile, o.compute_map) == (7, 0.9, False)
    assert o.nn_search == dq._core.NnSearch.exact
    assert o.drift_reference == dq._core.DriftReference.validation
    with pytest.raises(dq.InvalidArgumentError, match="drift_k: expected an integer"):
        dq.processing_options(drift_k="many")
    with pytest.raises(dq.InvalidArgumentError, match="nn_search: 'fast'; expected one of"):
        dq.processing_options(nn_search="fast")
    with pytest.raises(dq.InvalidArgumentError, match="bogus: not a processing option"):
        dq.processing_options(bogus=1)
