"""NER and NLI through the Python package (docs/ner-nli.md): every argument
form, every bad input as a ValueError naming the field and the sample, and
the results read back (span rows, span F1, pairs) equal to the CLI's."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch

import sextant as dq

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
TEXT = "Ann Lee met Bob in Rome"
TOKENS = [(0, 3), (4, 7), (8, 11), (12, 15), (16, 18), (19, 23)]
GOLD = [{"start": 0, "end": 7, "label": "PER"}, {"start": 12, "end": 15, "label": "PER"},
        {"start": 19, "end": 23, "label": "LOC"}]


def token_outputs(tags_per_sample, width=4, shift=0.0):
    """Per-sample token embeddings and logits whose argmax is the given tag."""
    embs, logits = [], []
    for tags in tags_per_sample:
        e = np.zeros((len(tags), width), dtype=np.float32) + shift
        lo = np.zeros((len(tags), len(TAGS)), dtype=np.float32)
        for t, tag in enumerate(tags):
            e[t, tag % width] += 1.0
            e[t, (t + 1) % width] += 0.1
            lo[t, tag] = 4.0
        embs.append(e)
        logits.append(lo)
    return embs, logits


def start_ner(root, run="ner"):
    dq.init("ner", project_name="p", run_name=run, root=root)
    dq.set_labels_for_run(TAGS)
    dq.set_tagging_schema("BIO")


def test_ner_every_bad_input_is_a_value_error(root):
    dq.init("ner", project_name="p", run_name="ner", root=root)
    dq.set_labels_for_run(TAGS)
    with pytest.raises(dq.FailedPreconditionError, match="tagging_schema"):
        dq.log_data_samples(texts=[TEXT], ids=["a"], text_token_indices=[TOKENS], gold_spans=[GOLD],
                            split="training")
    with pytest.raises(ValueError, match="tagging_schema: unknown schema 'IOB2'"):
        dq.set_tagging_schema("IOB2")
    dq.set_tagging_schema("bio")
    cases = [
        ([{"start": 19, "end": 30, "label": "LOC"}], "gold_spans: sample id 'a'"),
        ([{"start": 4, "end": 4, "label": "PER"}], "gold_spans: sample id 'a'"),
        ([{"start": 1, "end": 7, "label": "PER"}], "token"),
        ([{"start": 0, "end": 3, "label": "ORG"}], "unknown label"),
        ([{"start": 0, "end": 7, "label": "PER"}, {"start": 4, "end": 11, "label": "PER"}],
         "overlaps"),
    ]
    for spans, message in cases:
        with pytest.raises(ValueError, match=message):
            dq.log_data_samples(texts=[TEXT], ids=["a"], text_token_indices=[TOKENS],
                                gold_spans=[spans], split="training")
    with pytest.raises(ValueError, match="text_token_indices: sample id 'a'.*token 1"):
        dq.log_data_samples(texts=[TEXT], ids=["a"], text_token_indices=[[(4, 7), (0, 3)]],
                            gold_spans=[[]], split="training")
    with pytest.raises(ValueError, match="gold_spans: inference data takes no gold spans"):
        dq.log_data_samples(texts=[TEXT], ids=["a"], text_token_indices=[TOKENS],
                            gold_spans=[GOLD], split="inference", inference_name="prod")
    with pytest.raises(ValueError, match="gold_spans: sample 0 has"):
        dq.log_data_samples(texts=[TEXT], ids=["a"], text_token_indices=[TOKENS],
                            gold_spans=[[{"start": 0}]], split="training")
    # None of it was logged: the id is free, and outputs must match its 6 tokens.
    dq.log_data_samples(texts=[TEXT], ids=["a"], text_token_indices=[TOKENS], gold_spans=[GOLD],
                        split="training")
    embs, logits = token_outputs([[1, 2, 0, 1, 0, 3, 0]])
    with pytest.raises(ValueError, match="sample id 'a'.*7 token rows.*6 tokens"):
        dq.log_model_outputs(embs=embs, logits=logits, ids=["a"], split="training", epoch=0)
    with pytest.raises(ValueError, match="4 padded token rows"):
        dq.log_model_outputs(embs=np.stack(embs)[:, :4], logits=np.stack(logits)[:, :4],
                             ids=["a"], split="training", epoch=0)
    with pytest.raises(ValueError, match=r"embs: NER outputs are a \[batch, tokens, width\]"):
        dq.log_model_outputs(embs=embs[0], logits=logits[0], ids=["a"], split="training", epoch=0)


@pytest.mark.parametrize("form", ["padded numpy", "padded torch with grad", "list of numpy",
                                  "list of torch float64"])
def test_ner_outputs_in_every_form_give_the_same_spans(root, form):
    start_ner(root, run=form.replace(" ", "_"))
    ids = ["a", "b"]
    dq.log_data_samples(texts=[TEXT, "Rome"], ids=ids, text_token_indices=[TOKENS, [(0, 4)]],
                        gold_spans=[GOLD, [{"start": 0, "end": 4, "label": "LOC"}]],
                        split="training")
    embs, logits = token_outputs([[1, 2, 0, 3, 3, 4], [3]])
    if form.startswith("padded"):
        pe = np.zeros((2, 6, 4), np.float32)
        pl = np.zeros((2, 6, len(TAGS)), np.float32)
        for i in range(2):
            pe[i, : len(embs[i])] = embs[i]
            pl[i, : len(logits[i])] = logits[i]
        if "torch" in form:
            pe = torch.tensor(pe, requires_grad=True)
            pl = torch.tensor(pl, requires_grad=True)
        e, lo = pe, pl
    elif "torch" in form:
        e = [torch.tensor(x, dtype=torch.float64) for x in embs]
        lo = [torch.tensor(x, dtype=torch.float64) for x in logits]
    else:
        e, lo = embs, logits
    dq.set_split("training")
    dq.set_epoch(0)
    dq.log_model_outputs(embs=e, logits=lo, ids=ids)
    dq.finish(compute_map=False, drift_k=1)
    spans = dq.get_span_dataframe("training", project_name="p", run_name=form.replace(" ", "_"),
                                  root=root)
    got = list(zip(spans.sample_id, spans.span_text, spans.gold, spans.pred, spans.error_type))
    assert got == [("a", "Ann Lee", "PER", "PER", "none"), ("a", "Bob", "PER", "LOC", "wrong_tag"),
                   ("a", "in Rome", None, "LOC", "span_shift"),
                   ("a", "Rome", "LOC", None, "span_shift"), ("b", "Rome", "LOC", "LOC", "none")]
    summary = dq.get_summary(project_name="p", run_name=form.replace(" ", "_"), root=root)
    s = summary["splits"]["training"]["spans"]
    assert (s["gold"], s["pred"], s["correct"]) == (4, 4, 2)
    assert s["f1"] == pytest.approx(0.5)


def test_ner_log_dataset_and_read_back_equal_the_cli(root, sextant_bin):
    start_ner(root)
    df = pd.DataFrame({"id": ["a", "b"], "text": [TEXT, "Rome"],
                       "text_token_indices": [TOKENS, [(0, 4)]],
                       "gold_spans": [GOLD, [{"start": 0, "end": 4, "label": "LOC"}]],
                       "source": ["x", "y"]})
    dq.log_dataset(df, split="training", meta=["source"])
    prod = [{"id": "p", "text": TEXT, "text_token_indices": TOKENS}]
    dq.log_dataset(prod, split="inference", inference_name="prod")
    embs, logits = token_outputs([[1, 2, 0, 3, 3, 4], [3]])
    dq.log_model_outputs(embs=embs, logits=logits, ids=["a", "b"], split="training", epoch=0)
    pe, pl = token_outputs([[1, 2, 0, 0, 0, 3]], shift=3.0)
    dq.log_model_outputs(embs=pe, logits=pl, ids=["p"], split="inference", inference_name="prod",
                         epoch=0)
    dq.finish(compute_map=False, drift_k=1)
    for split, name in [("training", None), ("inference", "prod")]:
        frame = dq.get_span_dataframe(split, name, project_name="p", run_name="ner", root=root)
        args = [str(sextant_bin), "spans", "--root", str(root), "--project", "p", "--run", "ner",
                "--split", split]
        if name:
            args += ["--inference-name", name]
        lines = subprocess.run(args, check=True, capture_output=True, text=True).stdout.splitlines()
        cli = [json.loads(line) for line in lines]
        assert len(cli) == len(frame)
        for row, c in zip(frame.to_dict("records"), cli):
            for key in ["sample_id", "span_row", "span_start", "span_end", "span_text", "gold",
                        "pred", "error_type", "is_drifted", "is_on_the_boundary"]:
                assert row[key] == c[key], (key, row, c)
            assert row["confidence"] == pytest.approx(c["confidence"])
    near = dq.get_similar_spans("inference", 0, "prod", k=3, search_in=["training"],
                                project_name="p", run_name="ner", root=root)
    assert len(near) == 3 and set(near.split) == {"training"}
    assert list(near.distance) == sorted(near.distance)
    samples = dq.get_dataframe("training", project_name="p", run_name="ner", root=root)
    assert samples.loc[0, "text_token_indices"] == TOKENS
    assert [m["label"] for m in samples.loc[0, "gold_spans"]] == ["PER", "PER", "LOC"]
    assert samples.loc[0, "source"] == "x"


def test_nli_pairs_in_every_form(root):
    dq.init("nli", project_name="p", run_name="nli", root=root)
    dq.set_labels_for_run(["entailment", "neutral", "contradiction"])
    dq.log_data_samples(premises=["A man sleeps.", "Two dogs run."],
                        hypotheses=["A person rests.", "Animals move."], ids=[1, 2],
                        labels=["entailment", "contradiction"], split="training")
    dq.log_dataset(pd.DataFrame({"id": [3], "premise": ["It rains."], "hypothesis": ["It is wet."],
                                 "label": ["entailment"]}), split="validation")
    dq.log_dataset([{"id": 4, "text": "A cat naps [SEP] A cat is awake"}], split="inference",
                   inference_name="snli")
    with pytest.raises(ValueError, match=r"texts: sample id '5' \(row 0\) has no '\[SEP\]'"):
        dq.log_data_samples(texts=["no separator"], ids=[5], split="inference",
                            inference_name="snli")
    with pytest.raises(ValueError, match="hypotheses: 1 values for 2 ids"):
        dq.log_data_samples(premises=["a", "b"], hypotheses=["c"], ids=[6, 7], labels=[0, 0],
                            split="training")
    with pytest.raises(ValueError, match="text_token_indices: only named_entity_recognition"):
        dq.log_data_samples(texts=["a [SEP] b"], ids=[8], text_token_indices=[[(0, 1)]],
                            split="inference", inference_name="snli")
    rng = np.random.default_rng(0)
    for split, ids, name in [("training", [1, 2], None), ("validation", [3], None),
                             ("inference", [4], "snli")]:
        dq.log_model_outputs(embs=rng.normal(size=(len(ids), 4)), logits=rng.normal(size=(len(ids), 3)),
                             ids=ids, split=split, inference_name=name, epoch=0)
    dq.finish(compute_map=False, drift_k=1)
    frame = dq.get_dataframe("inference", "snli", project_name="p", run_name="nli", root=root)
    assert list(frame.premise) == ["A cat naps"]
    assert list(frame.hypothesis) == ["A cat is awake"]
    assert list(frame.text) == ["A cat naps [SEP] A cat is awake"]
    val = dq.get_dataframe("validation", project_name="p", run_name="nli", root=root)
    assert list(val.premise) == ["It rains."] and list(val.gold) == ["entailment"]
