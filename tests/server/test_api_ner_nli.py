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


def _types(marks):
    return {m["label"] for m in marks or []}


def test_ner_sentence_fields_describe_the_spans(server, task_runs, store):
    """Issue 16, point 9: pred and confidence of an NER sentence come from its spans, not from
    its least confident token; span_errors, pred_spans_count, min_span_confidence."""
    page = server.get(f"{task_runs}/ner/samples", {"split": "training", "limit": 160})
    spans = server.get(f"{task_runs}/ner/spans", {"split": "training", "limit": 1000})["spans"]
    conf_of = {}
    for r in spans:
        if r["pred"] is not None:
            conf_of.setdefault(r["sample_id"], []).append(r["confidence"])
    for s in page["samples"]:
        rows = {m["span_row"]: m["error_type"] for m in s["gold_spans"] + s["pred_spans"]}
        errors = sum(e != "none" for e in rows.values())
        assert s["span_errors"] == errors, s
        assert s["pred_spans_count"] == len(s["pred_spans"])
        types = [t for t in ["LOC", "PER"] if t in _types(s["pred_spans"])]  # the run's order
        assert s["pred"] == (", ".join(types) if types else "O")
        if s["pred_spans"]:
            assert s["min_span_confidence"] == pytest.approx(min(conf_of[s["id"]]))
            assert s["confidence"] == pytest.approx(s["min_span_confidence"])
        else:
            assert s["min_span_confidence"] is None
    assert any(s["span_errors"] > 0 for s in page["samples"])
    prod = server.get(f"{task_runs}/ner/samples", {"split": "inference:wnut", "limit": 5})
    assert all(s["span_errors"] is None and s["pred_spans_count"] >= 0 for s in prod["samples"])
    # Sortable, descending: the sentences with the most span errors first.
    worst = server.get(f"{task_runs}/ner/samples", {"split": "training", "sort": "span_errors",
                                                    "order": "desc", "limit": 160})["samples"]
    errors = [s["span_errors"] for s in worst]
    assert errors == sorted(errors, reverse=True)
    low = server.get(f"{task_runs}/ner/samples", {"split": "training",
                                                  "sort": "min_span_confidence", "limit": 160})
    values = [s["min_span_confidence"] for s in low["samples"] if s["min_span_confidence"] is not None]
    assert values == sorted(values)
    # The same through the CLI.
    out = subprocess.run([str(sextant_binary()), "samples", "--root", str(store["root"]),
                          "--project", "tasks", "--run", "ner", "--split", "training",
                          "--sort", "span_errors:desc", "--limit", "1"],
                         check=True, capture_output=True, text=True).stdout
    row = json.loads(out.splitlines()[0])
    assert row["span_errors"] == errors[0] and "min_span_confidence" in row
    # And in exports.
    status, _, body = server.request("GET", f"{task_runs}/ner/export",
                                  {"split": "training", "format": "csv"})
    assert status == 200 and "span_errors" in body.decode().splitlines()[0].split(",")


def test_entity_type_filter_and_run_entity_types(server, task_runs):
    """Issue 16, point 9: the entity_type filter (predicted or gold span of those types)."""
    info = server.get(f"{task_runs}/ner")
    assert info["entity_types"] == ["LOC", "PER"]  # the run's order (sorted by the tag parser)
    assert "entity_types" not in server.get(f"{task_runs}/nli")
    everything = server.get(f"{task_runs}/ner/samples", {"split": "inference:wnut", "limit": 100})
    loc = server.get(f"{task_runs}/ner/samples", {"split": "inference:wnut", "entity_type": "LOC",
                                                  "limit": 100})
    want = [s["id"] for s in everything["samples"] if "LOC" in _types(s["pred_spans"])]
    assert [s["id"] for s in loc["samples"]] == want and 0 < len(want) < everything["total"]
    training = server.post(f"{task_runs}/ner/samples/query",
                           {"split": "training", "entity_type": ["LOC"], "limit": 200})
    assert all("LOC" in _types(s["pred_spans"]) | _types(s["gold_spans"])
               for s in training["samples"])
    assert training["total"] == 160  # every training sentence has a gold LOC
    bad = server.get(f"{task_runs}/ner/samples", {"split": "training", "entity_type": "ORG"},
                     expect=400)
    assert "entity_type" in bad["error"]["message"] and "ORG" in bad["error"]["message"]
    nli = server.get(f"{task_runs}/nli/samples", {"split": "training", "entity_type": "PER"},
                     expect=400)
    assert "entity_type" in nli["error"]["message"]


def test_insights_reference_validation_and_ner_alerts_by_entity_type(server, task_runs):
    """Issue 16, point 9: validation is the reference when the run has it; NER alerts are per
    entity type (no B-/I- tag alerts)."""
    out = server.get(f"{task_runs}/ner/insights", {"split": "inference:wnut"})
    assert out["reference"] == "validation"
    assert {e["entity_type"] for e in out["entity_types"]} == {"PER", "LOC"}
    for a in out["alerts"]:
        if a["kind"] in ("confidence_drop", "class_share_change"):
            assert a["entity_type"] in ("PER", "LOC") and "validation" in a["message"]
    summary = server.get(f"{task_runs}/ner/summary")
    assert summary["comparisons"]["inference:wnut"]["reference"] == "validation"
    # The NLI run has no validation split: training is the reference.
    assert server.get(f"{task_runs}/nli/insights", {"split": "inference:snli"})["reference"] == \
        "training"


def test_report_compares_with_validation_and_alerts_per_entity_type(task_runs, store):
    """Issue 16, point 9: `sextant report` compares with validation and its NER alerts name
    entity types, not B-/I- tags."""
    out = subprocess.run([str(sextant_binary()), "report", "--root", str(store["root"]),
                          "--project", "tasks", "--run", "ner"],
                         check=True, capture_output=True, text=True).stdout
    assert "inference:wnut next to validation" in out, out
    alerts = [line for line in out.splitlines() if line.startswith("ALERT")]
    assert not any("'B-" in a or "'I-" in a or "class 'O'" in a for a in alerts), alerts
