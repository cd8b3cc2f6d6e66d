"""End-to-end tests of the `sextant` CLI: the real binary, driven as a subprocess.

Generated data (numpy) goes through `sextant import` into a store under
tmp_path; every number the CLI reports is checked against an independent
numpy computation of the definitions in ALGORITHMS.md.
"""

import csv
import dataclasses
import json
import math
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import (LABELS, DataMaker, Sextant, brute_force_drift, cosine_distances,
                      softmax)

P = "proj"
ROW_KEYS = ["id", "split", "inference_name", "text", "gold", "pred", "confidence", "margin",
            "is_on_the_boundary", "dep", "drift_distance", "drift_score", "is_drifted",
            "shift_score", "is_shifted", "probs"]
N_TRAIN, N_VAL, N_PROD = 240, 90, 90


def with_arrays(files, tag, emb, logits):
    """The same data file with other arrays (the outputs of another epoch)."""
    folder = files.embeddings.parent
    e, z = folder / f"{tag}.emb.npy", folder / f"{tag}.logits.npy"
    np.save(e, np.asarray(emb, dtype=np.float32))
    np.save(z, np.asarray(logits, dtype=np.float32))
    return dataclasses.replace(files, embeddings=e, logits=z, emb=np.asarray(emb, np.float32),
                               logit=np.asarray(logits, np.float32))


@dataclasses.dataclass
class Flow:
    cli: Sextant
    train: dict      # epoch -> SplitFiles (same data file, different arrays)
    val: dict        # epoch -> SplitFiles
    prod: dict       # inference name -> SplitFiles
    import_logs: list


def build_flow(cli, dm, run, finish_args=None):
    """Logs training (2 epochs of one data file), validation (2 epochs, JSONL)
    and two inference sets; finishes with the last import, or with
    `sextant finish FINISH_ARGS` when given."""
    rng = np.random.default_rng(5)
    train1 = dm.write("train", N_TRAIN, seed=11, id_prefix="tr-")
    y_tr = np.array([LABELS.index(l) for l in train1.labels])
    _, _, z0 = dm.arrays(N_TRAIN, seed=12, classes=y_tr)
    train0 = with_arrays(train1, "train_e0", train1.emb + rng.normal(scale=0.7, size=train1.emb.shape),
                         z0)
    val1 = dm.write("val", N_VAL, seed=21, id_prefix="va-", fmt="jsonl")
    y_va = np.array([LABELS.index(l) for l in val1.labels])
    _, _, zv0 = dm.arrays(N_VAL, seed=22, classes=y_va)
    val0 = with_arrays(val1, "val_e0", val1.emb + rng.normal(scale=0.7, size=val1.emb.shape), zv0)
    prod = {"shifted": dm.write("shifted", N_PROD, seed=31, shift=3.0, labeled=False, id_prefix="ps-"),
            "same": dm.write("same", N_PROD, seed=41, shift=0.0, labeled=False, id_prefix="pn-")}
    logs = []
    logs.append(cli.import_split(P, run, train0, "training", epoch=0))
    # The same data file again, for epoch 1: only the outputs are new.
    logs.append(cli.import_split(P, run, train1, "training", epoch=1, labels=None))
    logs.append(cli.import_split(P, run, val0, "validation", epoch=0, labels=None))
    logs.append(cli.import_split(P, run, val1, "validation", epoch=1, labels=None))
    logs.append(cli.import_split(P, run, prod["shifted"], "inference", inference_name="shifted",
                                 labels=None))
    logs.append(cli.import_split(P, run, prod["same"], "inference", inference_name="same",
                                 finish=finish_args is None))
    if finish_args is not None:
        logs.append(cli("finish", *cli.run_args(P, run), *finish_args))
    return Flow(cli, {0: train0, 1: train1}, {0: val0, 1: val1}, prod, logs)


@pytest.fixture(scope="module")
def flow(sextant_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("flow")
    cli = Sextant(sextant_bin, base / "store")
    dm = DataMaker(base / "data", seed=1)
    return build_flow(cli, dm, "r1")


@pytest.fixture(scope="module")
def flow_k3(sextant_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("flow_k3")
    cli = Sextant(sextant_bin, base / "store")
    dm = DataMaker(base / "data", seed=1)
    return build_flow(cli, dm, "r3", finish_args=["--k", "3"])


def all_rows(flow, run="r1"):
    cli = flow.cli
    return {
        "training": cli.samples(P, run, "training"),
        "validation": cli.samples(P, run, "validation"),
        "inference:shifted": cli.samples(P, run, "inference", inference_name="shifted"),
        "inference:same": cli.samples(P, run, "inference", inference_name="same"),
    }


# ---- 1. the CLI flow ------------------------------------------------------------------

def test_import_logs_each_epoch_once(flow):
    # The second import of the training file (epoch 1) logged outputs only:
    # the split keeps its 240 samples and gains an epoch (checked below).
    assert "finished" in flow.import_logs[-1].stderr
    runs = flow.cli.runs()
    [run] = [r for r in runs if r["project"] == P and r["run"] == "r1"]
    assert run["labels"] == LABELS
    assert run["finished"] is True
    splits = {s["split"]: s for s in run["splits"]}
    assert set(splits) == {"training", "validation", "inference:shifted", "inference:same"}
    assert splits["training"]["samples"] == N_TRAIN
    assert splits["training"]["epochs_logged"] == 2
    assert splits["validation"]["samples"] == N_VAL
    assert splits["validation"]["epochs_logged"] == 2
    assert splits["inference:shifted"]["samples"] == N_PROD
    assert splits["inference:same"]["samples"] == N_PROD
    assert all(s["embedding_dim"] == 16 and s["processed"] for s in splits.values())
    table = flow.cli("runs").stdout
    assert f"{P}/r1" in table and "inference:shifted" in table and "finished" in table


def test_summary(flow):
    s = flow.cli.summary(P, "r1")
    for key in ("splits", "comparisons", "parameters"):
        assert key in s, key
    params = s["parameters"]
    assert params["drift_k"] == 10
    assert params["drift_percentile"] == pytest.approx(0.95)
    assert isinstance(params["drift_threshold"], float)
    assert set(s["splits"]) == {"training", "validation", "inference:shifted", "inference:same"}
    assert set(s["comparisons"]) == {"inference:shifted", "inference:same"}
    assert s["splits"]["training"]["samples"] == N_TRAIN
    assert "out_of_coverage" in s["splits"]["validation"]
    assert "drifted" in s["splits"]["inference:shifted"]
    assert "drifted" not in s["splits"]["training"]
    # The shifted set drifts far more than the in-distribution one.
    shifted = s["splits"]["inference:shifted"]["drifted"]["fraction"]
    same = s["splits"]["inference:same"]["drifted"]["fraction"]
    assert shifted > 0.5 and same < 0.3, (shifted, same)
    assert s["comparisons"]["inference:shifted"]["drifted_fraction"]["inference"] == pytest.approx(shifted)
    # One split on its own.
    one = flow.cli.summary(P, "r1", "--split", "inference", "--inference-name", "shifted")
    assert one["samples"] == N_PROD
    assert one["drifted"]["fraction"] == pytest.approx(shifted)


def test_sample_rows_carry_every_field(flow):
    rows = all_rows(flow)
    for split, rs in rows.items():
        assert rs, split
        for r in rs:
            for k in ROW_KEYS:
                assert k in r, (split, k)
            assert set(r["probs"]) == set(LABELS)
            assert r["pred"] in LABELS
    for r in rows["training"]:
        assert r["split"] == "training" and r["inference_name"] is None
        assert r["gold"] in LABELS and r["dep"] is not None
        assert r["drift_distance"] is None and r["drift_score"] is None and r["is_drifted"] is None
        assert r["shift_score"] is None and r["is_shifted"] is None
    for r in rows["validation"]:
        assert r["shift_score"] is None and r["is_shifted"] is None
        assert r["split"] == "validation" and r["inference_name"] is None
        assert r["gold"] in LABELS and r["dep"] is not None
        assert r["drift_distance"] is not None and r["is_drifted"] is not None
    for name in ("shifted", "same"):
        for r in rows[f"inference:{name}"]:
            assert r["split"] == "inference" and r["inference_name"] == name
            assert r["gold"] is None and r["dep"] is None
            assert r["drift_distance"] is not None and r["drift_score"] is not None
            assert isinstance(r["is_drifted"], bool)
            # The per-sample shift score against validation (docs/algorithms.md).
            assert 0 <= r["shift_score"] <= 1 and isinstance(r["is_shifted"], bool)
    # The fields come in the documented order: the shift pair right after the drift pair.
    keys = list(rows["inference:same"][0])
    assert keys.index("shift_score") == keys.index("is_drifted") + 1
    assert keys.index("is_shifted") == keys.index("shift_score") + 1
    # Rows come in logging order with the logged texts.
    assert [r["id"] for r in rows["training"]] == flow.train[1].ids
    assert [r["text"] for r in rows["training"]] == flow.train[1].texts
    assert [r["gold"] for r in rows["training"]] == flow.train[1].labels
    assert [r["id"] for r in rows["inference:same"]] == flow.prod["same"].ids


def _ids(rows):
    return [r["id"] for r in rows]


@pytest.mark.parametrize("split,name", [("inference", "shifted"), ("validation", None),
                                        ("training", None)])
def test_sample_filters(flow, split, name):
    cli = flow.cli
    everything = cli.samples(P, "r1", split, inference_name=name)
    ids_all = _ids(everything)

    def q(*args):
        return cli.samples(P, "r1", split, *args, inference_name=name)

    def check(args, predicate, expect_some=True):
        got = q(*args)
        assert all(predicate(r) for r in got), args
        expected = [r["id"] for r in everything if predicate(r)]
        assert _ids(got) == expected, args
        if expect_some:
            assert got, f"no rows for {args}: the data should exercise this filter"
        return got

    if split != "training":
        check(["--drifted"], lambda r: r["is_drifted"] is True)
        check(["--not-drifted"], lambda r: r["is_drifted"] is False)
    if split == "inference":
        check(["--shifted", "true"], lambda r: r["is_shifted"] is True)
        # This set is far from validation: nearly all of it is flagged.
        check(["--shifted", "false"], lambda r: r["is_shifted"] is False, expect_some=False)
        check(["--min-shift", 0.3, "--max-shift", 0.99], lambda r: 0.3 <= r["shift_score"] <= 0.99,
              expect_some=False)
        check(["--max-shift", 0.999999], lambda r: r["shift_score"] <= 0.999999, expect_some=False)
        top = q("--sort", "shift_score:desc", "--limit", 5)
        assert [r["shift_score"] for r in top] == sorted((r["shift_score"] for r in everything),
                                                         reverse=True)[:5]
    else:
        # No shift score outside inference sets: the flag and bounds match nothing.
        assert q("--shifted", "false") == [] and q("--min-shift", 0) == []
    check(["--on-boundary"], lambda r: r["is_on_the_boundary"] is True)
    check(["--class", "positive"], lambda r: r["pred"] == "positive")
    check(["--on-boundary", "--class", "negative"],
          lambda r: r["is_on_the_boundary"] and r["pred"] == "negative")
    lo, hi = 0.5, 0.8
    got = q("--min-confidence", lo, "--max-confidence", hi)
    assert got and all(lo <= r["confidence"] <= hi for r in got)
    clear = [r["id"] for r in everything
             if lo + 1e-6 < r["confidence"] < hi - 1e-6]
    near = {r["id"] for r in everything
            if abs(r["confidence"] - lo) <= 1e-6 or abs(r["confidence"] - hi) <= 1e-6}
    assert [i for i in _ids(got) if i not in near] == clear
    check(["--min-confidence", 0.9], lambda r: r["confidence"] >= 0.9, expect_some=False)
    check(["--max-confidence", 0.45], lambda r: r["confidence"] <= 0.45, expect_some=False)
    check(["--text", "GREAT|Superb"], lambda r: re.search("great|superb", r["text"], re.I))
    check(["--text", r"row 1\d$"], lambda r: re.search(r"row 1\d$", r["text"]))
    if split != "inference":
        check(["--gold", "neutral"], lambda r: r["gold"] == "neutral")
        check(["--misclassified"], lambda r: r["gold"] != r["pred"])
        check(["--min-dep", 0.5], lambda r: r["dep"] >= 0.5)

    # Sorting: every row, ordered by the field; --limit keeps the first N.
    for field in ("confidence", "margin") + (("drift_score", "drift_distance")
                                             if split != "training" else ("dep",)):
        desc = q("--sort", f"{field}:desc")
        assert sorted(_ids(desc)) == sorted(ids_all)
        vals = [r[field] for r in desc]
        assert all(a >= b for a, b in zip(vals, vals[1:])), field
        asc = q("--sort", field)
        vals = [r[field] for r in asc]
        assert all(a <= b for a, b in zip(vals, vals[1:])), field
        top = q("--sort", f"{field}:desc", "--limit", 7)
        assert len(top) == 7
        assert [r[field] for r in top] == [r[field] for r in desc[:7]]
    assert len(q("--limit", 3)) == 3
    assert _ids(q("--limit", 3)) == ids_all[:3]
    assert _ids(q("--offset", 5, "--limit", 2)) == ids_all[5:7]

    # CSV: the same rows and values as JSONL.
    args = [*cli.run_args(P, "r1"), "--split", split,
            *(["--inference-name", name] if name else []), "--on-boundary"]
    rows_json = cli("samples", *args).jsonl()
    rows_csv = cli("samples", *args, "--format", "csv").csv()
    assert_csv_equals_json(rows_csv, rows_json)


def _csv_value(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def assert_csv_equals_json(rows_csv, rows_json):
    assert len(rows_csv) == len(rows_json)
    assert rows_csv
    for c, j in zip(rows_csv, rows_json):
        for key in ("id", "split", "inference_name", "text", "gold", "pred", "is_on_the_boundary",
                    "is_drifted"):
            assert c[key] == _csv_value(j[key]), key
        for key in ("confidence", "margin", "dep", "drift_distance", "drift_score"):
            if j[key] is None:
                assert c[key] == "", key
            else:
                assert float(c[key]) == pytest.approx(j[key], abs=1e-9), key
        for label in LABELS:
            assert float(c[f"prob_{label}"]) == pytest.approx(j["probs"][label], abs=1e-6)


def last_epoch_embeddings(flow):
    return {"training": flow.train[1].emb, "validation": flow.val[1].emb,
            "inference:shifted": flow.prod["shifted"].emb,
            "inference:same": flow.prod["same"].emb}


def last_epoch_ids(flow):
    return {"training": flow.train[1].ids, "validation": flow.val[1].ids,
            "inference:shifted": flow.prod["shifted"].ids, "inference:same": flow.prod["same"].ids}


@pytest.mark.parametrize("where", [None, "training", "training,inference:same"])
def test_similar(flow, where):
    cli = flow.cli
    embs, ids = last_epoch_embeddings(flow), last_epoch_ids(flow)
    query_id, query_split = flow.prod["shifted"].ids[4], "inference:shifted"
    q = embs[query_split][4:5]
    k = 6
    args = [*cli.run_args(P, "r1"), "--id", query_id, "--split", "inference",
            "--inference-name", "shifted", "--k", k]
    if where:
        args += ["--in", where]
    rows = cli("similar", *args).jsonl()
    assert len(rows) == k
    assert [r["rank"] for r in rows] == list(range(1, k + 1))
    dists = [r["distance"] for r in rows]
    assert dists == sorted(dists)
    assert all(not (r["id"] == query_id and r["split"] == query_split) for r in rows)
    allowed = where.split(",") if where else list(embs)
    assert all(r["split"] in allowed for r in rows)
    # Brute force over the allowed splits, the query itself excluded.
    cands = []
    for split in allowed:
        d = cosine_distances(q, embs[split])[0]
        cands += [(float(d[i]), split, ids[split][i]) for i in range(len(d))
                  if not (split == query_split and ids[split][i] == query_id)]
    cands.sort()
    assert [(r["split"], r["id"]) for r in rows] == [(s, i) for _, s, i in cands[:k]]
    np.testing.assert_allclose(dists, [d for d, _, _ in cands[:k]], atol=1e-4)
    # A training sample: it is never its own neighbour.
    rows = cli("similar", *cli.run_args(P, "r1"), "--id", "tr-3", "--split", "training",
               "--k", 3, "--in", "training").jsonl()
    assert len(rows) == 3 and all(r["id"] != "tr-3" for r in rows)


@pytest.mark.parametrize("ext", ["csv", "jsonl"])
def test_export(flow, tmp_path, ext):
    cli = flow.cli
    filters = ["--split", "inference", "--inference-name", "shifted", "--drifted",
               "--sort", "drift_score:desc"]
    out = tmp_path / f"selection.{ext}"
    r = cli("export", *cli.run_args(P, "r1"), *filters, "--output", out)
    assert out.is_file()
    want_json = cli("samples", *cli.run_args(P, "r1"), *filters).jsonl()
    assert want_json
    if ext == "jsonl":
        got = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
        assert got == want_json
    else:
        with open(out, newline="") as f:
            got = list(csv.DictReader(f))
        want_csv = cli("samples", *cli.run_args(P, "r1"), *filters, "--format", "csv").csv()
        assert got == want_csv
        assert_csv_equals_json(got, want_json)
    assert str(len(want_json)) in r.stderr


def test_export_top_n_with_columns(flow, tmp_path):
    """--sort, --limit and --columns: the table as the console shows it (GET .../export)."""
    cli = flow.cli
    filters = ["--split", "inference", "--inference-name", "shifted", "--sort", "confidence:desc",
               "--limit", 5]
    want = cli("samples", *cli.run_args(P, "r1"), *filters).jsonl()
    out = tmp_path / "top.csv"
    cli("export", *cli.run_args(P, "r1"), *filters, "--columns", "id,pred,confidence",
        "--output", out)
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["id", "pred", "confidence"]
    assert [r[0] for r in rows[1:]] == [w["id"] for w in want]
    assert [float(r[2]) for r in rows[1:]] == [w["confidence"] for w in want]
    out = tmp_path / "top.jsonl"
    cli("export", *cli.run_args(P, "r1"), *filters, "--columns", "confidence,id", "--output", out)
    got = [json.loads(l) for l in out.read_text().splitlines()]
    assert [list(g) for g in got] == [["confidence", "id"]] * len(want)
    r = cli("export", *cli.run_args(P, "r1"), *filters, "--columns", "id,colour",
            "--output", tmp_path / "bad.csv", check=False)
    assert r.rc != 0 and "--columns: unknown column 'colour'" in r.stderr, r.stderr


def test_help_on_every_command(sextant):
    top = sextant.raw("--help")
    assert top.rc == 0 and "import" in top.stdout
    listed = re.findall(r"^\s{2}([a-z][a-z_-]*)\s{2,}", top.stdout.split("SUBCOMMANDS")[-1], re.M)
    commands = set(listed) | {"import", "finish", "runs", "summary", "samples", "similar", "export"}
    assert {"import", "finish", "runs", "summary", "samples", "similar", "export"} <= set(listed), listed
    for cmd in sorted(commands):
        r = sextant.raw(cmd, "--help")
        assert r.rc == 0, (cmd, r.stderr)
        assert "--root" in r.stdout, cmd
        # They span every run of the root, or talk to a team server.
        if cmd not in ("runs", "serve", "keys", "login", "logout", "jobs"):
            assert "--project" in r.stdout and "--run" in r.stdout, cmd


# ---- 2. drift against a brute-force reference -----------------------------------------

@pytest.mark.parametrize("which,k", [("flow", 10), ("flow_k3", 3)])
def test_drift_equals_brute_force(request, which, k):
    f = request.getfixturevalue(which)
    run = "r1" if which == "flow" else "r3"
    rows = all_rows(f, run)
    embs = last_epoch_embeddings(f)
    queries = {s: embs[s] for s in ("validation", "inference:shifted", "inference:same")}
    sorted_ref, threshold, expected = brute_force_drift(embs["training"], queries, k)

    s = f.cli.summary(P, run)
    assert s["parameters"]["drift_k"] == k
    assert s["parameters"]["reference_size"] == N_TRAIN
    assert s["parameters"]["drift_threshold"] == pytest.approx(threshold, abs=1e-5)

    n_ref = len(sorted_ref)
    for split, (d, score, flag) in expected.items():
        got = rows[split]
        assert [r["id"] for r in got] == last_epoch_ids(f)[split]
        got_d = np.array([r["drift_distance"] for r in got])
        got_s = np.array([r["drift_score"] for r in got])
        got_f = np.array([r["is_drifted"] for r in got])
        np.testing.assert_allclose(got_d, d, atol=1e-4, rtol=0, err_msg=f"{split} k={k}")
        for i in range(len(d)):
            # Reference values within 1e-5 of the distance may fall either way.
            ambiguous = int(np.sum(np.abs(sorted_ref - d[i]) <= 1e-5))
            assert abs(got_s[i] - score[i]) <= ambiguous / n_ref + 1e-12, (split, i, got_s[i], score[i])
            if abs(d[i] - threshold) > 1e-5:
                assert got_f[i] == flag[i], (split, i, d[i], threshold)
        fraction = float(np.mean(flag))
        key = "out_of_coverage" if split == "validation" else "drifted"
        assert s["splits"][split][key]["fraction"] == pytest.approx(fraction, abs=2 / len(d))
        assert s["splits"][split][key]["threshold"] == pytest.approx(threshold, abs=1e-5)
        print(f"k={k} {split}: drifted {fraction:.3f} (threshold {threshold:.4f})")
    # By construction about 5% of the training reference lies above the threshold.
    assert np.mean(sorted_ref > threshold) == pytest.approx(0.05, abs=0.01)


# ---- 3. per-sample metrics against numpy ---------------------------------------------

def expected_metrics(logits_by_epoch, gold=None, boundary=0.5):
    last = softmax(logits_by_epoch[max(logits_by_epoch)])
    order = np.sort(last, axis=1)
    p1, p2 = order[:, -1], order[:, -2]
    out = {
        "pred": [LABELS[i] for i in np.argmax(last, axis=1)],
        "confidence": p1, "margin": p1 - p2, "certainty_ratio": p2 / p1,
        "is_on_the_boundary": (p2 / p1) >= boundary,
        "entropy": -np.sum(last * np.log(np.clip(last, 1e-300, None)), axis=1),
        "probs": last,
    }
    if gold is not None:
        g = np.array([LABELS.index(x) for x in gold])
        aums = []
        for e in sorted(logits_by_epoch):
            p = softmax(logits_by_epoch[e])
            pg = p[np.arange(len(g)), g]
            other = p.copy()
            other[np.arange(len(g)), g] = -np.inf
            aums.append(pg - other.max(axis=1))
        aum = np.mean(aums, axis=0)
        out["aum"] = aum
        out["dep"] = (1 - aum) / 2
        out["is_correct"] = [a == b for a, b in zip(out["pred"], gold)]
    return out


def test_per_sample_metrics(flow):
    rows = all_rows(flow)
    cases = {
        "training": ({e: flow.train[e].logit for e in (0, 1)}, flow.train[1].labels),
        "validation": ({e: flow.val[e].logit for e in (0, 1)}, flow.val[1].labels),
        "inference:shifted": ({0: flow.prod["shifted"].logit}, None),
        "inference:same": ({0: flow.prod["same"].logit}, None),
    }
    for split, (logits, gold) in cases.items():
        exp = expected_metrics(logits, gold)
        got = rows[split]
        assert [r["pred"] for r in got] == exp["pred"], split
        for field in ("confidence", "margin", "certainty_ratio", "entropy"):
            np.testing.assert_allclose([r[field] for r in got], exp[field], atol=1e-5,
                                       err_msg=f"{split} {field}")
        ratio = exp["certainty_ratio"]
        for r, flag, c in zip(got, exp["is_on_the_boundary"], ratio):
            if abs(c - 0.5) > 1e-5:
                assert r["is_on_the_boundary"] == bool(flag), (split, r["id"], c)
        probs = np.array([[r["probs"][l] for l in LABELS] for r in got])
        np.testing.assert_allclose(probs, exp["probs"], atol=1e-5, err_msg=split)
        assert all(r["epoch"] == max(logits) for r in got), split
        if gold is not None:
            np.testing.assert_allclose([r["aum"] for r in got], exp["aum"], atol=1e-5,
                                       err_msg=f"{split} aum")
            np.testing.assert_allclose([r["dep"] for r in got], exp["dep"], atol=1e-5,
                                       err_msg=f"{split} dep")
            assert [r["is_correct"] for r in got] == exp["is_correct"]
        else:
            assert all(r["aum"] is None and r["dep"] is None and r["is_correct"] is None
                       for r in got)
    # Both epochs matter: DEP from the last epoch alone would differ.
    last_only = expected_metrics({1: flow.train[1].logit}, flow.train[1].labels)["dep"]
    assert np.max(np.abs(np.array([r["dep"] for r in rows["training"]]) - last_only)) > 0.05


def test_summary_figures_match_rows(flow):
    rows = all_rows(flow)
    s = flow.cli.summary(P, "r1")
    for split, rs in rows.items():
        sp = s["splits"][split]
        assert sp["samples"] == len(rs)
        assert sp["on_the_boundary"]["count"] == sum(r["is_on_the_boundary"] for r in rs)
        for label in LABELS:
            assert sp["pred_distribution"][label]["count"] == sum(r["pred"] == label for r in rs)
        if split.startswith("inference"):
            assert sp["drifted"]["count"] == sum(r["is_drifted"] for r in rs)
        if split in ("training", "validation"):
            assert sp["accuracy"] == pytest.approx(np.mean([r["gold"] == r["pred"] for r in rs]))


# ---- 4. errors through the CLI --------------------------------------------------------

@pytest.fixture
def small_run(sextant, make_data):
    """A finished run: 60 training samples and one inference set."""
    train = make_data.write("train", 60, seed=1, id_prefix="t-")
    prod = make_data.write("prod", 30, seed=2, labeled=False, id_prefix="p-")
    sextant.import_split(P, "small", train, "training")
    sextant.import_split(P, "small", prod, "inference", inference_name="prod", finish=True)
    return train, prod


def snapshot(cli, run="small"):
    runs = [r for r in cli.runs() if r["run"] == run]
    for r in runs:
        r.pop("size_bytes")
    summary = cli.summary(P, run)
    summary["parameters"].pop("finished_at", None)
    rows = {s: cli.samples(P, run, *s.split(":", 1)[:1],
                           *(["--inference-name", s.split(":", 1)[1]] if ":" in s else []))
            for s in ("training", "inference:prod")}
    return runs, summary, rows


def assert_error(r, *needles):
    assert r.rc != 0, f"expected a failure: {r.args}\n{r.stdout}"
    assert "error" in r.stderr.lower()
    for n in needles:
        assert re.search(n, r.stderr), f"{n!r} not in stderr: {r.stderr}"


def test_error_bad_split(sextant, make_data, small_run):
    before = snapshot(sextant)
    data = make_data.write("more", 10, seed=3, id_prefix="m-")
    r = sextant.import_split(P, "small", data, "trainning", check=False)
    assert_error(r, "split", "trainning")
    r = sextant("samples", *sextant.run_args(P, "small"), "--split", "prod", check=False)
    assert_error(r, "split", "'prod'")
    assert snapshot(sextant) == before


def test_error_inference_without_name(sextant, make_data, small_run):
    before = snapshot(sextant)
    data = make_data.write("more", 10, seed=3, labeled=False, id_prefix="m-")
    r = sextant.import_split(P, "small", data, "inference", check=False)
    assert_error(r, "inference[_-]name")
    r = sextant("samples", *sextant.run_args(P, "small"), "--split", "inference", check=False)
    assert_error(r, "inference[_-]name")
    assert snapshot(sextant) == before


def test_error_row_count_mismatch(sextant, make_data, small_run):
    before = snapshot(sextant)
    base = make_data.write("more", 12, seed=3, labeled=False, id_prefix="m-")
    short_emb = with_arrays(base, "short_emb", base.emb[:-1], base.logit)
    r = sextant.import_split(P, "small", short_emb, "inference", inference_name="prod2", check=False)
    assert_error(r, "--embeddings", "11 rows", "12 rows")
    long_logits = with_arrays(base, "long_logits", base.emb, np.vstack([base.logit, base.logit[:1]]))
    r = sextant.import_split(P, "small", long_logits, "inference", inference_name="prod2", check=False)
    assert_error(r, "--logits", "13 rows")
    wide = with_arrays(base, "wide", base.emb, np.hstack([base.logit, base.logit[:, :1]]))
    r = sextant.import_split(P, "small", wide, "inference", inference_name="prod2", check=False)
    assert_error(r, "logits", "width 4")
    nan = base.emb.copy()
    nan[5, 2] = np.nan
    r = sextant.import_split(P, "small", with_arrays(base, "nan", nan, base.logit), "inference",
                             inference_name="prod2", check=False)
    assert_error(r, "--embeddings", "NaN", "m-5")
    narrow = with_arrays(base, "narrow", base.emb[:, :8], base.logit)
    r = sextant.import_split(P, "small", narrow, "inference", inference_name="prod2", check=False)
    assert_error(r, "embeddings", "width 8", "16")
    # A rejected file leaves nothing behind: no half-imported split.
    assert snapshot(sextant) == before
    # The corrected files go in.
    sextant.import_split(P, "small", base, "inference", inference_name="prod2", finish=True)
    assert sextant.summary(P, "small")["splits"]["inference:prod2"]["samples"] == 12


def test_error_label_not_in_list(sextant, make_data, small_run):
    before = snapshot(sextant)
    names = ["positive"] * 10
    names[6] = "mystery"
    data = make_data.write("val", 10, seed=3, id_prefix="v-", label_names=names)
    r = sextant.import_split(P, "small", data, "validation", check=False)
    assert_error(r, "label", "mystery", "v-6")
    assert snapshot(sextant) == before


def test_error_inference_labels_differ(sextant, make_data, small_run):
    before = snapshot(sextant)
    data = make_data.write("prod2", 10, seed=3, labeled=False, id_prefix="q-")
    for labels in (list(reversed(LABELS)), LABELS[:2], LABELS + ["other"]):
        r = sextant.import_split(P, "small", data, "inference", inference_name="prod2",
                                 labels=labels, check=False)
        assert_error(r, "labels")
    assert snapshot(sextant) == before
    # With the run's labels it goes in.
    sextant.import_split(P, "small", data, "inference", inference_name="prod2", labels=LABELS,
                         finish=True)
    assert sextant.summary(P, "small")["splits"]["inference:prod2"]["samples"] == 10


def test_error_reimport_with_other_samples(sextant, make_data, small_run):
    """A second import into a split that holds some, not all, of the file's ids,
    or holds them with another text or label, fails and changes nothing."""
    train, _ = small_run
    before = snapshot(sextant)
    # Half of the ids are already logged.
    ids = train.ids[:5] + [f"new-{i}" for i in range(5)]
    mixed = make_data.write("mixed", 10, seed=3, ids=ids, texts=train.texts[:5] + ["x"] * 5,
                            label_names=train.labels[:10])
    r = sextant.import_split(P, "small", mixed, "training", epoch=1, check=False)
    assert_error(r, "ids", "5 of the 10", "t-0", "new-0")
    # Same ids, another text.
    texts = list(train.texts)
    texts[7] = "a different text"
    other_text = make_data.write("other_text", 60, seed=1, ids=train.ids, texts=texts,
                                 label_names=train.labels)
    r = sextant.import_split(P, "small", other_text, "training", epoch=1, check=False)
    assert_error(r, "t-7", "different text")
    # Same ids and texts, another label.
    labels = list(train.labels)
    labels[9] = LABELS[(LABELS.index(labels[9]) + 1) % 3]
    other_label = make_data.write("other_label", 60, seed=1, ids=train.ids, texts=train.texts,
                                  label_names=labels)
    r = sextant.import_split(P, "small", other_label, "training", epoch=1, check=False)
    assert_error(r, "label", "t-9")
    # The same epoch again: its outputs are already there.
    r = sextant.import_split(P, "small", train, "training", epoch=0, check=False)
    assert_error(r, "already has outputs", "epoch 0")
    assert snapshot(sextant) == before
    # A whole new epoch of the same file goes in, and `finish` uses it.
    again = with_arrays(train, "train_e1", train.emb, train.logit[:, ::-1])
    sextant.import_split(P, "small", again, "training", epoch=1, finish=True)
    [run] = [r for r in sextant.runs() if r["run"] == "small"]
    [tr] = [s for s in run["splits"] if s["split"] == "training"]
    assert tr["samples"] == 60 and tr["epochs_logged"] == 2
    rows = sextant.samples(P, "small", "training")
    assert [r["epoch"] for r in rows] == [1] * 60
    assert [r["pred"] for r in rows] == [LABELS[i] for i in np.argmax(train.logit[:, ::-1], axis=1)]


# ---- 5. real data: the demo on SST-2 against Yelp and Amazon --------------------------

def _report(msg):
    print(msg)
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def test_real_data_drift(sextant_bin, tmp_path):
    data = pathlib.Path(os.environ.get("SEXTANT_DATA") or (pathlib.Path(__file__).resolve().parents[3]
                                                           / "shared" / "data"))
    if not (data / "sst2" / "train.csv").is_file():
        pytest.skip(f"real data absent: {data / 'sst2' / 'train.csv'} not found (set SEXTANT_DATA)")
    demo = os.environ.get("SEXTANT_DEMO_BIN", "")
    if not demo or not pathlib.Path(demo).is_file():
        pytest.skip("SEXTANT_DEMO_BIN is unset or missing (build with -DSEXTANT_BUILD_EXAMPLES=ON)")
    root = tmp_path / "store"
    env = dict(os.environ, SEXTANT_HOME=str(root))
    p = subprocess.run([demo, "--root", str(root), "--project", "demo", "--run", "sst2",
                        "--data", str(data)], capture_output=True, text=True, env=env, timeout=1800)
    assert p.returncode == 0, f"sextant_demo failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    _report("demo output:\n" + p.stdout)
    cli = Sextant(sextant_bin, root)
    s = cli.summary("demo", "sst2")
    val = s["splits"]["validation"]["out_of_coverage"]["fraction"]
    _report(f"SST-2 validation out-of-coverage: {100 * val:.1f}% "
            f"(nominal {100 * (1 - s['parameters']['drift_percentile']):.0f}%, "
            f"k={s['parameters']['drift_k']}, threshold {s['parameters']['drift_threshold']:.4f})")
    prods = {k: v for k, v in s["splits"].items() if k.startswith("inference:")}
    assert prods, "the demo logged no production set"
    params = s["parameters"]
    _report(f"reference: {params['reference']} ({params['reference_size']} samples); thresholds "
            f"{params['drift_thresholds']}")
    for name, sp in prods.items():
        v = sp["drift_verdict"]
        _report(f"{name}: drifted {100 * sp['drifted']['fraction']:.1f}% of {sp['samples']} "
                f"[{100 * v['ci_low']:.1f}%, {100 * v['ci_high']:.1f}%], p = 10^{v['log10_p_value']:.1f}")
    # SST-2 validation (6,735 held-out samples) is the reference by default: 5% by construction.
    assert params["reference"] == "validation"
    # The leave-one-out pass is skipped when the validation reference drives the flags.
    assert params["drift_thresholds"]["training_loo"] is None
    assert val < 0.12, f"validation out-of-coverage {val:.3f} is not near the nominal 5%"
    for name, sp in prods.items():
        frac = sp["drifted"]["fraction"]
        assert frac > 2 * val and frac > 0.15, f"{name}: drifted {frac:.3f} vs validation {val:.3f}"
        assert sp["drift_verdict"]["drifted"] is True and sp["drift_verdict"]["log10_p_value"] < -10


def test_import_probabilities(sextant, make_data, small_run):
    """--probs instead of --logits: used as given; bad rows are refused up front."""
    before = snapshot(sextant)
    base = make_data.write("probs", 20, seed=4, labeled=False, id_prefix="pr-")
    probs = softmax(base.logit).astype(np.float32)
    bad = probs.copy()
    bad[3] *= 0.5
    np.save(base.logits.parent / "bad_probs.npy", bad)
    args = [*sextant.run_args(P, "small"), "--split", "inference", "--inference-name", "probs",
            "--data", base.data, "--embeddings", base.embeddings]
    r = sextant("import", *args, "--probs", base.logits.parent / "bad_probs.npy", check=False)
    assert_error(r, "--probs", "pr-3", "sums to")
    assert snapshot(sextant) == before
    np.save(base.logits.parent / "probs.npy", probs)
    sextant("import", *args, "--probs", base.logits.parent / "probs.npy")
    rows = sextant.samples(P, "small", "inference", inference_name="probs")
    got = np.array([[r["probs"][l] for l in LABELS] for r in rows])
    np.testing.assert_allclose(got, probs, atol=1e-6)
    assert [r["pred"] for r in rows] == [LABELS[i] for i in np.argmax(probs, axis=1)]


# ---- 6. the dataset-level drift verdict and the choice of reference -------------------

def log_betabinom_sf(x, n, a, b):
    """ln P(X >= x), X ~ BetaBinomial(n, a, b): every term of the tail, log-gamma in Python."""
    if x <= 0:
        return 0.0
    lg = math.lgamma

    def log_pmf(j):
        return (lg(n + 1) - lg(j + 1) - lg(n - j + 1) + lg(j + a) + lg(n - j + b) - lg(n + a + b)
                - (lg(a) + lg(b) - lg(a + b)))

    terms = [log_pmf(j) for j in range(x, n + 1)]
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


def wilson(x, n, z=1.959963984540054):
    if n == 0:
        return 0.0, 1.0
    centre = (x + z * z / 2) / (n + z * z)
    half = z * math.sqrt(x * (n - x) / n + z * z / 4) / (n + z * z)
    return max(0.0, centre - half), min(1.0, centre + half)


def check_verdict(v, flags, M, m, alpha, nominal=0.05):
    n, x = len(flags), int(sum(flags))
    assert v["samples"] == n and v["count"] == x
    assert v["fraction"] == pytest.approx(x / n if n else 0.0)
    lo, hi = wilson(x, n)
    assert v["ci_low"] == pytest.approx(lo, abs=1e-12) and v["ci_high"] == pytest.approx(hi, abs=1e-12)
    log_p = log_betabinom_sf(x, n, m + 1, M - m)
    assert v["log10_p_value"] == pytest.approx(log_p / math.log(10), rel=1e-9, abs=1e-9)
    assert v["drifted"] == (log_p < math.log(alpha))


def test_drift_verdict_matches_rows(flow):
    """Overall and per predicted class: counts from the rows, Wilson interval and beta-binomial
    p-value recomputed here; validation (90 samples, below auto's 200) is scored, not the reference."""
    s = flow.cli.summary(P, "r1")
    p = s["parameters"]
    assert p["reference"] == "training_loo" and p["reference_requested"] == "auto"
    assert p["reference_size"] == N_TRAIN and p["reference_population"] == N_TRAIN
    sorted_ref, threshold, _ = brute_force_drift(last_epoch_embeddings(flow)["training"], {}, 10)
    M, m = p["reference_size"], p["reference_above_threshold"]
    assert m == int(np.sum(sorted_ref > threshold))
    assert p["reference_cdf_error"]["dkw_epsilon"] == pytest.approx(math.sqrt(math.log(40) / (2 * M)))
    alpha = p["drift_verdict"]["alpha"]
    assert alpha == 0.01
    rows = all_rows(flow)
    for split in ("validation", "inference:shifted", "inference:same"):
        v = s["splits"][split]["drift_verdict"]
        assert v["is_reference"] is False
        assert v["nominal"] == pytest.approx(0.05)
        assert v["expected"] == pytest.approx((m + 1) / (M + 1))
        check_verdict(v, [r["is_drifted"] for r in rows[split]], M, m, alpha)
        for label in LABELS:
            check_verdict(v["per_class"][label],
                          [r["is_drifted"] for r in rows[split] if r["pred"] == label], M, m,
                          alpha / len(LABELS))
    assert s["splits"]["inference:shifted"]["drift_verdict"]["drifted"] is True
    assert s["splits"]["inference:shifted"]["drift_verdict"]["p_value"] < 1e-10
    assert s["splits"]["inference:same"]["drift_verdict"]["drifted"] is False
    assert "drift_verdict" not in s["splits"]["training"]


def test_report_shows_the_performance_estimate(flow):
    # Each inference set's label-free accuracy estimate, as stored in its summary.
    s = flow.cli.summary(P, "r1")
    lines = flow.cli("report", *flow.cli.run_args(P, "r1")).stdout.splitlines()
    head = lines.index(next(l for l in lines if l.startswith("Estimated accuracy without labels")))
    assert "iw_cbpe" in lines[head], lines[head]
    shown = {l.split()[0]: l for l in lines[head + 1:head + 3]}
    for name in ("inference:shifted", "inference:same"):
        pe = s["splits"][name]["performance_estimate"]
        a = pe["accuracy"]
        assert a["low"] <= a["value"] <= a["high"], pe
        assert f"{100 * a['value']:.1f}% [{100 * a['low']:.1f}%, {100 * a['high']:.1f}%]" in shown[name]
        assert set(pe["baselines"]) == {"average_confidence", "cbpe_isotonic", "cbpe_temperature",
                                        "atc", "atc_ne", "doc"}


def test_report_shows_the_verdict(flow):
    r = flow.cli("report", *flow.cli.run_args(P, "r1"))
    lines = r.stdout.splitlines()
    shifted = [l for l in lines if l.startswith("inference:shifted") and "drift" in l]
    same = [l for l in lines if l.startswith("inference:same") and "drift" in l]
    assert len(shifted) == 1 and len(same) == 1, r.stdout
    assert re.search(r"drift detected \(p = [0-9.]+e-\d+, \d+\.\d% \[\d+\.\d%, \d+\.\d%\] vs 5\.0% nominal\)",
                     shifted[0]), shifted[0]
    assert "no drift detected (p = " in same[0], same[0]
    val = [l for l in lines if l.startswith("validation") and "coverage" in l]
    assert len(val) == 1, r.stdout
    assert any(l.startswith("ALERT inference:shifted: data drift") for l in lines), r.stdout
    assert not any(l.startswith("ALERT inference:same: data drift") for l in lines), r.stdout
    # The domain-classifier test: one line per inference set, against validation.
    head = lines.index(next(l for l in lines if l.startswith("Domain-classifier test")))
    assert "from validation" in lines[head] and "alpha 0.01" in lines[head], lines[head]
    domain = {l.split()[0]: l for l in lines[head + 1:head + 3]}
    assert domain["inference:shifted"].endswith(": shift"), domain
    assert domain["inference:same"].endswith(": no shift"), domain
    # The per-sample shift flags' share of each set.
    assert all(re.search(r", \d+\.\d% above the shift threshold: ", l) for l in domain.values()), domain


def test_reference_options(sextant, make_data):
    """--reference validation against numpy; --reference-sample-size and --seed; bad values."""
    train = make_data.write("train", 240, seed=1, id_prefix="t-")
    val = make_data.write("val", 250, seed=2, id_prefix="v-")
    prod = make_data.write("prod", 120, seed=3, labeled=False, id_prefix="p-", shift=1.0)
    sextant.import_split(P, "ref", train, "training")
    sextant.import_split(P, "ref", val, "validation", labels=None)
    sextant.import_split(P, "ref", prod, "inference", inference_name="prod", labels=None)

    # auto: 250 validation samples (>= 200) make the validation reference; the
    # leave-one-out threshold is computed next to it on request.
    sextant("finish", *sextant.run_args(P, "ref"), "--compare-references")
    s = sextant.summary(P, "ref")
    loo_sorted, loo_threshold, _ = brute_force_drift(train.emb, {}, 10)
    val_d = np.sort(cosine_distances(val.emb, train.emb), axis=1)[:, 9]
    val_threshold = float(np.percentile(val_d, 95))
    p = s["parameters"]
    assert p["reference"] == "validation" and p["reference_size"] == 250
    assert p["drift_threshold"] == pytest.approx(val_threshold, abs=1e-5)
    assert p["drift_thresholds"]["validation"] == pytest.approx(val_threshold, abs=1e-5)
    assert p["drift_thresholds"]["training_loo"] == pytest.approx(loo_threshold, abs=1e-5)
    assert s["splits"]["validation"]["drift_verdict"]["is_reference"] is True
    assert s["splits"]["validation"]["drift_verdict"]["p_value"] is None
    rows = sextant.samples(P, "ref", "inference", inference_name="prod")
    d = np.sort(cosine_distances(prod.emb, train.emb), axis=1)[:, 9]
    got = np.array([r["drift_score"] for r in rows])
    want = np.searchsorted(np.sort(val_d), d, side="right") / len(val_d)
    assert np.max(np.abs(got - want)) <= 2 / len(val_d)
    for r, dist in zip(rows, d):
        if abs(dist - val_threshold) > 1e-5:
            assert r["is_drifted"] == (dist > val_threshold)

    # training_loo, estimated from a seeded sample of 100 training samples.
    sextant("finish", *sextant.run_args(P, "ref"), "--reference", "training_loo",
            "--reference-sample-size", "100", "--seed", "3", "--alpha", "0.05")
    p = sextant.summary(P, "ref")["parameters"]
    assert p["reference"] == "training_loo" and p["reference_requested"] == "training_loo"
    assert p["reference_size"] == 100 and p["reference_population"] == 240 and p["reference_seed"] == 3
    assert p["drift_verdict"]["alpha"] == 0.05
    eps = p["reference_cdf_error"]["dkw_epsilon"]
    assert eps == pytest.approx(math.sqrt(math.log(40) / 200))
    rank = np.searchsorted(loo_sorted, p["drift_threshold"], side="right") / len(loo_sorted)
    assert abs(rank - 0.95) <= eps
    report = sextant("report", *sextant.run_args(P, "ref")).stdout
    assert "percentile of 100 training samples (leave-one-out), a random sample of 240" in report
    # The domain-classifier test is judged at the same alpha.
    assert sextant.summary(P, "ref")["splits"]["inference:prod"]["domain_test"]["alpha"] == 0.05
    assert "0.5 = indistinguishable; one-sided test at alpha 0.05" in report

    r = sextant("finish", *sextant.run_args(P, "ref"), "--reference", "held_out", check=False)
    assert r.rc == 2
    assert_error(r, "--reference", "held_out", "training_loo")
    r = sextant("finish", *sextant.run_args(P, "ref"), "--alpha", "1.5", check=False)
    assert r.rc == 2
    assert_error(r, "drift_alpha")


# ---- 5. damaged runs: check, repair, listing --------------------------------------------

def test_check_and_repair_name_the_damage(sextant, make_data, small_run):
    ok = sextant("check", check=False)
    assert ok.rc == 0, ok.stdout + ok.stderr
    assert f"{P}/small: ok" in ok.stdout
    # A stray write into the committed probabilities, and a run whose database has no tables.
    run_dir = sextant.root / P / "small"
    probs = next((run_dir / "results").glob("gen-*/training/probs.npy"))
    with open(probs, "r+b") as f:
        f.seek(200)
        f.write(b"\x00\x00\x80\x7f")
    broken = sextant.root / P / "broken"
    broken.mkdir()
    import sqlite3
    sqlite3.connect(broken / "sextant.db").close()

    r = sextant("check", check=False)
    assert r.rc == 1, r.stdout
    assert f"{P}/small: DAMAGED" in r.stdout and "probs.npy" in r.stdout and "checksum" in r.stdout
    assert f"{P}/broken: DAMAGED" in r.stdout
    js = json.loads(sextant("check", "--format", "json", check=False).stdout)
    assert {x["run"]: x["status"] for x in js} == {"broken": "damaged", "small": "damaged"}

    # The listing still lists both; the damaged run says why.
    listed = {x["run"]: x for x in sextant.runs()}
    assert listed["broken"]["status"] == "damaged" and "meta" in listed["broken"]["error"]
    assert listed["small"]["status"] == "ok"
    # Reading the damaged array names the file.
    r = sextant("samples", *sextant.run_args(P, "small"), "--split", "training", check=False)
    assert r.rc != 0 and "probs.npy" in r.stderr, r.stderr

    r = sextant("repair", *sextant.run_args(P, "small"), check=False)
    assert r.rc == 0, r.stdout + r.stderr
    assert "dropped: the results of generation" in r.stdout and "after repair: " in r.stdout
    sextant("finish", *sextant.run_args(P, "small"))
    assert sextant("check", "--project", P, "--run", "small", check=False).rc == 0
    r = sextant("repair", *sextant.run_args(P, "broken"), check=False)
    assert r.rc == 0 and "no tables" in r.stdout, r.stdout
    assert [x["run"] for x in sextant.runs()] == ["small"]


def test_stored_summaries_that_do_not_parse_are_named(sextant, make_data, small_run):
    import sqlite3
    db = sqlite3.connect(sextant.root / P / "small" / "sextant.db")
    db.execute("""UPDATE summaries SET json='{"labels": 5, "parameters": []}' WHERE scope='run'""")
    db.execute("UPDATE summaries SET json='{not json' WHERE scope='training'")
    db.commit()
    db.close()
    r = sextant("report", *sextant.run_args(P, "small"), check=False)
    assert_error(r, "run summary")
    r = sextant("summary", *sextant.run_args(P, "small"), "--split", "training", check=False)
    assert_error(r, "summaries", "training")
