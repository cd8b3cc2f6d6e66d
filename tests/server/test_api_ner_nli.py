"""The API over NER and NLI runs (docs/ner-nli.md): span rows, their filters,
the span-level map and similar spans; NLI pairs and their two regex filters.
The runs are made with the real CLI (`sextant import --task ner|nli`)."""

import json
import subprocess

import numpy as np
import pytest

from conftest import sextant_binary

TAGS = "O,B-PER,I-PER,B-LOC,I-LOC"
WORDS = {"PER": ["Ann", "Bob", "Cleo", "Dan"], "LOC": ["Rome", "Oslo", "Lima", "Kyiv"]}
FILLER = ["met", "in", "near", "the", "a", "visited"]


def ner_split(rng, n, shift, labeled):
    """Sentences with one PER and one LOC entity; the model's tags are right about
    two times in three; production tokens sit elsewhere in embedding space."""
    rows, embs, logits = [], [], []
    for i in range(n):
        per = WORDS["PER"][rng.integers(4)]
        loc = WORDS["LOC"][rng.integers(4)]
        words = [per, FILLER[rng.integers(6)], FILLER[rng.integers(6)], loc]
        text = " ".join(words)
        offsets, at = [], 0
        for w in words:
            offsets.append([at, at + len(w)])
            at += len(w) + 1
        row = {"id": f"s{i}", "text": text, "text_token_indices": offsets}
        if labeled:
            row["gold_spans"] = [{"start": 0, "end": len(per), "label": "PER"},
                                 {"start": offsets[3][0], "end": offsets[3][1], "label": "LOC"}]
        rows.append(row)
        gold_tags = [1, 0, 0, 3]
        for t, tag in enumerate(gold_tags):
            pred = tag if rng.random() < 0.67 else int(rng.integers(5))
            e = rng.normal(size=8) * 0.3
            e[tag] += 2.0
            e[5 + t % 3] += shift
            lo = rng.normal(size=5) * 0.2
            lo[pred] += 3.0
            embs.append(e)
            logits.append(lo)
    return rows, np.array(embs, np.float32), np.array(logits, np.float32)


def write(base, name, rows, embs, logits):
    data = base / f"{name}.jsonl"
    with open(data, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    np.save(base / f"{name}_emb.npy", embs)
    np.save(base / f"{name}_logits.npy", logits)
    return data


@pytest.fixture(scope="module")
def task_runs(store):
    base = store["base"] / "tasks"
    base.mkdir(exist_ok=True)
    rng = np.random.default_rng(7)
    binary = str(sextant_binary())
    common = ["--root", str(store["root"]), "--project", "tasks"]
    for split, n, shift, labeled, extra in [("training", 160, 0.0, True, []),
                                             ("validation", 60, 0.0, True, []),
                                             ("inference", 60, 4.0, False, ["--inference-name", "wnut"])]:
        rows, embs, logits = ner_split(rng, n, shift, labeled)
        data = write(base, f"ner_{split}", rows, embs, logits)
        subprocess.run([binary, "import", *common, "--run", "ner", "--task", "ner",
                        "--tagging-schema", "BIO", "--labels", TAGS, "--split", split, *extra,
                        "--data", str(data), "--embeddings", str(base / f"ner_{split}_emb.npy"),
                        "--logits", str(base / f"ner_{split}_logits.npy"), "--k", "3",
                        *([] if split == "inference" else ["--no-finish"])],
                       check=True, capture_output=True)
    labels = ["entailment", "neutral", "contradiction"]
    for split, n, shift, extra in [("training", 120, 0.0, []),
                                   ("inference", 40, 3.0, ["--inference-name", "snli"])]:
        rows = [{"id": f"n{i}", "premise": f"A {['man', 'dog', 'child'][i % 3]} sleeps {i}",
                 "hypothesis": f"Something {['rests', 'runs', 'wakes'][i % 3]}",
                 **({"label": labels[i % 3]} if split == "training" else {})} for i in range(n)]
        embs = rng.normal(size=(n, 6)).astype(np.float32)
        embs[:, 0] += shift
        logits = rng.normal(size=(n, 3)).astype(np.float32)
        data = write(base, f"nli_{split}", rows, embs, logits)
        subprocess.run([binary, "import", *common, "--run", "nli", "--task", "nli",
                        "--labels", ",".join(labels), "--split", split, *extra, "--data", str(data),
                        "--embeddings", str(base / f"nli_{split}_emb.npy"),
                        "--logits", str(base / f"nli_{split}_logits.npy"), "--k", "3",
                        *([] if split == "inference" else ["--no-finish"])],
                       check=True, capture_output=True)
    return "/api/runs/tasks"


def test_ner_samples_carry_tokens_and_span_marks(server, task_runs):
    info = server.get(f"{task_runs}/ner")
    assert info["task"] == "named_entity_recognition"
    page = server.get(f"{task_runs}/ner/samples", {"split": "training", "limit": 3})
    s = page["samples"][0]
    assert s["tokens"][0] == [0, len(s["text"].split()[0])]
    assert {m["label"] for m in s["gold_spans"]} == {"PER", "LOC"}
    assert all(m["error_type"] in {"none", "wrong_tag", "span_shift", "missed_label"}
               for m in s["gold_spans"])
    prod = server.get(f"{task_runs}/ner/samples", {"split": "inference:wnut", "limit": 1})
    assert prod["samples"][0]["gold_spans"] is None
    one = server.get(f"{task_runs}/ner/samples/training/{s['id']}")
    assert one["pred_spans"] == s["pred_spans"]


def test_span_rows_page_filter_and_sort(server, task_runs):
    all_rows = server.get(f"{task_runs}/ner/spans", {"split": "training", "limit": 1000})
    assert all_rows["total"] == len(all_rows["spans"]) > 160
    first = all_rows["spans"][0]
    for key in ["sample_id", "span_row", "span_start", "span_end", "span_text", "gold", "pred",
                "error_type", "confidence", "dep", "drift_score", "is_drifted",
                "is_on_the_boundary", "x", "y"]:
        assert key in first
    ghosts = server.get(f"{task_runs}/ner/spans", {"split": "training", "error_type": "ghost_span",
                                                   "limit": 1000})
    assert 0 < ghosts["total"] < all_rows["total"]
    assert all(r["gold"] is None and r["pred"] for r in ghosts["spans"])
    per = server.get(f"{task_runs}/ner/spans", {"split": "training", "label": "PER", "limit": 1000})
    assert all("PER" in (r["gold"], r["pred"]) for r in per["spans"])
    rome = server.get(f"{task_runs}/ner/spans", {"split": "training", "text": "^rome$"})
    assert rome["total"] > 0 and all(r["span_text"] == "Rome" for r in rome["spans"])
    by_conf = server.get(f"{task_runs}/ner/spans", {"split": "training", "sort": "confidence",
                                                    "order": "desc", "limit": 20})
    confs = [r["confidence"] for r in by_conf["spans"]]
    assert confs == sorted(confs, reverse=True)
    drifted = server.get(f"{task_runs}/ner/spans", {"split": "inference:wnut", "drifted": "true",
                                                    "limit": 1000})
    prod_all = server.get(f"{task_runs}/ner/spans", {"split": "inference:wnut", "limit": 1000})
    assert drifted["total"] > prod_all["total"] / 2  # production was shifted
    assert all(r["error_type"] is None for r in prod_all["spans"])
    bad = server.get(f"{task_runs}/ner/spans", {"split": "training", "error_type": "typo"},
                     expect=400)
    assert "error_type" in bad["error"]["message"]


def test_selection_takes_the_samples_of_filtered_spans(server, task_runs):
    spans = server.get(f"{task_runs}/ner/spans", {"split": "inference:wnut", "drifted": "true",
                                                  "limit": 1000})["spans"]
    want = list(dict.fromkeys(r["sample_id"] for r in spans))  # each sample once, span order
    assert len(want) < len(spans)  # some drifted posts have several drifted spans
    server.post(f"{task_runs}/ner/selections", {"name": "to-label"}, expect=201)
    added = server.post(f"{task_runs}/ner/selections/to-label/add",
                        {"split": "inference:wnut", "span_filter": {"drifted": True, "limit": 5}})
    assert added["count"] == len(want)  # the page size of the span table does not apply
    items = server.get(f"{task_runs}/ner/selections/to-label")["items"]
    assert [i["id"] for i in items] == want and {i["split"] for i in items} == {"inference:wnut"}
    bad = server.post(f"{task_runs}/ner/selections/to-label/add",
                      {"split": "inference:wnut", "span_filter": {"drifted": "maybe"}}, expect=400)
    assert "drifted" in bad["error"]["message"]
    server.post(f"{task_runs}/ner/selections/to-label/add",
                {"split": "inference:wnut", "span_filter": ["drifted"]}, expect=400)


def test_span_map_and_similar_spans(server, task_runs):
    m = server.get(f"{task_runs}/ner/spans/map", {"splits": "training,inference:wnut"})
    assert m["points"] and {"split", "sample_id", "span_row", "x", "y", "pred"} <= set(m["points"][0])
    similar = server.get(f"{task_runs}/ner/spans/similar",
                         {"split": "inference:wnut", "span_row": 0, "k": 5, "in": "training"})
    assert len(similar["neighbors"]) == 5
    assert all(n["split"] == "training" for n in similar["neighbors"])
    d = [n["distance"] for n in similar["neighbors"]]
    assert d == sorted(d)
    missing = server.get(f"{task_runs}/ner/spans/similar",
                         {"split": "training", "span_row": 10**6}, expect=404)
    assert "span_row" in missing["error"]["message"]


def test_summary_has_span_f1_and_the_comparison(server, task_runs):
    summary = server.get(f"{task_runs}/ner/summary")
    spans = summary["splits"]["training"]["spans"]
    assert 0 < spans["f1"] < 1 and set(spans["per_class"]) == {"LOC", "PER"}
    comparison = summary["comparisons"]["inference:wnut"]["spans"]
    assert {t["type"] for t in comparison["types"]} == {"LOC", "PER"}
    assert comparison["drifted_fraction"]["inference"] > 0.5


def test_nli_pairs_and_their_filters(server, task_runs):
    page = server.get(f"{task_runs}/nli/samples", {"split": "training", "limit": 200})
    assert page["total"] == 120
    s = page["samples"][0]
    assert s["premise"].startswith("A man") and s["hypothesis"] == "Something rests"
    assert s["text"] == f"{s['premise']} [SEP] {s['hypothesis']}"
    runs = server.get(f"{task_runs}/nli/samples", {"split": "training", "hypothesis": "runs$"})
    assert runs["total"] == 40
    both = server.post(f"{task_runs}/nli/samples/query",
                       {"split": "training", "premise": "^A dog", "hypothesis": "runs"})
    assert both["total"] == 40
    none = server.get(f"{task_runs}/nli/samples", {"split": "training", "premise": "runs"})
    assert none["total"] == 0
    spans = server.get(f"{task_runs}/nli/spans", {"split": "training"}, expect=409)
    assert "named_entity_recognition" in spans["error"]["message"]


def test_exports_carry_the_pair_and_the_spans(server, task_runs, store):
    cli = [str(sextant_binary()), "export", "--root", str(store["root"]), "--project", "tasks"]
    out = store["base"] / "tasks" / "nli.csv"
    subprocess.run([*cli, "--run", "nli", "--split", "training", "--output", str(out), "--limit", "3"],
                   check=True, capture_output=True)
    header = out.read_text().splitlines()[0].split(",")
    assert "premise" in header and "hypothesis" in header
    out = store["base"] / "tasks" / "ner.jsonl"
    subprocess.run([*cli, "--run", "ner", "--split", "training", "--output", str(out), "--limit", "3"],
                   check=True, capture_output=True)
    row = json.loads(out.read_text().splitlines()[0])
    assert row["text_token_indices"] and row["gold_spans"] and "pred_spans" in row
    status, _, body = server.request("GET", f"{task_runs}/nli/export",
                                  {"split": "training", "format": "csv", "hypothesis": "runs$"})
    assert status == 200
    lines = body.decode().splitlines()
    # The shift pair after the drift pair, then the NLI fields.
    assert lines[0].split(",")[9:15] == ["drift_score", "is_drifted", "shift_score", "is_shifted",
                                         "premise", "hypothesis"] and len(lines) == 41
    status, _, body = server.request("GET", f"{task_runs}/ner/export",
                                  {"split": "training", "format": "jsonl"})
    first = json.loads(body.decode().splitlines()[0])
    assert first["tokens"] and first["pred_spans"] is not None
