#!/usr/bin/env python3
r"""Label-free accuracy estimates on real runs (docs/performance-estimation.md).

Reads finished runs (the results arrays and sextant.db, docs/format.md), hides
nothing it does not have to: the inference sets' gold labels are not in the run;
they are joined by sample id from the source CSV / JSONL files only to score.

    # the study: every method computed here, in Python, from the runs' outputs
    /usr/bin/python3 bench/estimator_study.py study [--candidates] \
        --run sentiment=/work/runs/est_sent/demo/sentiment --run nli=/work/runs/est_nli/demo/nli \
        [--run ner=/work/runs/est_ner/demo/ner]
    # the same table from the C++ estimates that `finish` stored in the summaries
    /usr/bin/python3 bench/estimator_study.py summaries --run sentiment=... --run nli=...
    # log the Amazon and UCI domains of the sentiment demo as their own inference sets
    # (then finish), in a copy of the demo run
    /usr/bin/python3 bench/estimator_study.py log-domains --root R --project demo --run sentiment

Methods (accuracy of the predicted class):
  average_confidence  mean max-probability on the set
  cbpe_isotonic       NannyML's CBPE: confidence calibrated on validation by isotonic
                      regression, estimate = mean calibrated confidence
  cbpe_temperature    the same after temperature scaling fitted on validation (Guo et al. 2017)
  atc                 Garg et al. 2022: threshold t on validation confidence with the share
                      above t equal to validation accuracy; estimate = target share above t
  atc_ne              the same on negative entropy
  doc                 Guillory et al. 2021: validation accuracy - (mean validation confidence
                      - mean target confidence)
  iw_cbpe             the default (src/processing/performance_estimate.cc): cbpe_isotonic with
                      the validation rows weighted by the domain classifier's density ratio
                      p / (1 - p) of the set against validation; docs/performance-estimation.md
NER runs (span precision and F1, Python only) are studied from their span rows.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sqlite3
import sys
from typing import Any, Optional

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA = pathlib.Path(__import__("os").environ.get("SEXTANT_DATA", REPO.parent / "shared" / "data"))
Z90 = 1.6448536269514722

SENTIMENT_SOURCES = ["sentiment_textfooler_samples/yelp.csv", "sentiment_textfooler_samples/mr.csv",
                     "sentiment_textfooler_samples/imdb.csv",
                     "sentiment_labelled_sentences_uci/production.csv",
                     "amazon_multidomain_sentiment/reviews.csv"]
NLI_SOURCES = ["mnli/validation_matched_sample1000.jsonl",
               "mnli/validation_mismatched_sample1000.jsonl", "snli/test.jsonl"]
# Sets split by their domain column in the study (when logged as one set).
SPLIT_BY_DOMAIN = {"amazon", "uci"}


# ------------------------------------------------------------------ reading

def load_run(run_dir: pathlib.Path) -> dict[str, Any]:
    """{labels, summary, splits: {split: {ids, pred, confidence, gold, drift_distance,
    probs, emb}}} of the run's last finish."""
    import pandas as pd

    con = sqlite3.connect(f"file:{run_dir / 'sextant.db'}?mode=ro", uri=True)
    meta = dict(con.execute("select key, value from meta").fetchall())
    gen = meta["results_generation"]
    labels = json.loads(meta["labels"])
    run_summary = con.execute("select json from summaries where scope = 'run'").fetchone()
    splits = {}
    for (split,) in con.execute("select distinct split from results"):
        df = pd.read_sql_query(
            "select s.id, r.pred, r.confidence, r.entropy, r.gold, r.drift_distance "
            "from samples s join results r using (split, row) where split = ? order by row",
            con, params=(split,))
        folder = run_dir / "results" / f"gen-{gen}" / split.replace(":", "-")
        splits[split] = {"ids": df["id"].astype(str).to_numpy(), "pred": df["pred"].to_numpy(),
                         "confidence": df["confidence"].to_numpy(float),
                         "entropy": df["entropy"].to_numpy(float),
                         "gold": df["gold"].to_numpy(float),
                         "drift_distance": df["drift_distance"].to_numpy(float),
                         "probs": np.load(folder / "probs.npy").astype(np.float64),
                         "emb": np.load(folder / "embeddings.npy").astype(np.float32)}
    return {"labels": labels, "splits": splits,
            "summary": json.loads(run_summary[0]) if run_summary else None}


def gold_and_domain(labels: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Gold label index and domain by sample id, from every source file."""
    import pandas as pd

    gold: dict[str, int] = {}
    domain: dict[str, str] = {}
    for rel in SENTIMENT_SOURCES:
        path = DATA / rel
        if path.is_file():
            df = pd.read_csv(path, dtype={"id": str}, keep_default_na=False)
            gold.update(zip(df["id"], df["label"].astype(int)))
            if "domain" in df:
                domain.update(zip(df["id"], df["domain"].astype(str)))
    index = {name: i for i, name in enumerate(labels)}
    for rel in NLI_SOURCES:
        path = DATA / rel
        if path.is_file():
            df = pd.read_json(path, lines=True, dtype={"id": str})
            gold.update((i, index[l]) for i, l in zip(df["id"], df["label"]) if l in index)
    return gold, domain


# ------------------------------------------------------------------ methods

def isotonic(x: np.ndarray, y: np.ndarray, w: Optional[np.ndarray] = None):
    """Pool-adjacent-violators fit of y on x (non-decreasing); returns a predictor that
    interpolates linearly between the block means and clips outside (as the C++ code)."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order].astype(float)
    ws = np.ones_like(ys) if w is None else w[order].astype(float)
    # blocks of equal x first, then PAV
    bx, by, bw = [], [], []
    i = 0
    while i < len(xs):
        j = i
        while j < len(xs) and xs[j] == xs[i]:
            j += 1
        wsum = ws[i:j].sum()
        bx.append(xs[i])
        by.append((ys[i:j] * ws[i:j]).sum() / wsum if wsum > 0 else 0.0)
        bw.append(wsum)
        i = j
    vx, vy, vw, vn = [], [], [], []
    for x0, y0, w0 in zip(bx, by, bw):
        vx.append([x0]); vy.append(y0); vw.append(w0)
        while len(vy) > 1 and vy[-2] > vy[-1]:
            w1 = vw[-2] + vw[-1]
            y1 = (vy[-2] * vw[-2] + vy[-1] * vw[-1]) / w1 if w1 > 0 else vy[-1]
            x1 = vx[-2] + vx[-1]
            vx.pop(); vy.pop(); vw.pop()
            vx[-1], vy[-1], vw[-1] = x1, y1, w1
    # knots: each block's x range centre carries its mean
    kx = np.array([(b[0] + b[-1]) / 2 for b in vx])
    ky = np.array(vy)
    return lambda q: np.interp(q, kx, ky)


def softmax_t(probs: np.ndarray, t: float) -> np.ndarray:
    logp = np.log(np.clip(probs, 1e-12, 1)) / t
    logp -= logp.max(1, keepdims=True)
    e = np.exp(logp)
    return e / e.sum(1, keepdims=True)


def fit_temperature(probs: np.ndarray, gold: np.ndarray) -> float:
    """The temperature minimising validation NLL (golden-section search on log T)."""
    g = gold.astype(int)

    def nll(log_t: float) -> float:
        p = softmax_t(probs, math.exp(log_t))
        return -np.log(np.clip(p[np.arange(len(g)), g], 1e-12, 1)).mean()

    a, b = math.log(0.05), math.log(20.0)
    r = (math.sqrt(5) - 1) / 2
    c, d = b - r * (b - a), a + r * (b - a)
    for _ in range(60):
        if nll(c) < nll(d):
            b = d
        else:
            a = c
        c, d = b - r * (b - a), a + r * (b - a)
    return math.exp((a + b) / 2)


def atc_threshold(score: np.ndarray, correct: np.ndarray) -> float:
    """t with mean(score > t) = validation accuracy."""
    return float(np.quantile(score, 1 - correct.mean()))


class Estimators:
    """Every method, fitted on the validation split."""

    def __init__(self, val: dict[str, Any]):
        self.val = val
        self.correct = (val["pred"] == val["gold"]).astype(float)
        self.acc = self.correct.mean()
        self.conf = val["confidence"]
        self.iso = isotonic(self.conf, self.correct)
        self.temperature = fit_temperature(val["probs"], val["gold"])
        self.t_conf = atc_threshold(self.conf, self.correct)
        self.t_ne = atc_threshold(-val["entropy"], self.correct)

    def estimate(self, s: dict[str, Any], mask: np.ndarray) -> dict[str, tuple[float, float, float]]:
        conf = s["confidence"][mask]
        n = len(conf)
        nv = len(self.conf)
        out = {}

        def binom(p):  # 90% normal interval of a mean of n Bernoulli-like terms
            se = math.sqrt(max(p * (1 - p), 1e-12) / n)
            return (p, p - Z90 * se, p + Z90 * se)

        out["average_confidence"] = binom(conf.mean())
        cal = np.clip(self.iso(conf), 0, 1)
        # Poisson-binomial sampling variance plus the calibration's (validation size)
        var = (cal * (1 - cal)).sum() / n**2 + cal.mean() * (1 - cal.mean()) / nv
        p = cal.mean()
        out["cbpe_isotonic"] = (p, p - Z90 * math.sqrt(var), p + Z90 * math.sqrt(var))
        pt = softmax_t(s["probs"][mask], self.temperature)
        ct = pt[np.arange(n), s["pred"][mask].astype(int)]
        out["cbpe_temperature"] = binom(ct.mean())
        out["atc"] = binom(float((conf > self.t_conf).mean()))
        out["atc_ne"] = binom(float((-s["entropy"][mask] > self.t_ne).mean()))
        d = self.acc - (self.conf.mean() - conf.mean())
        se = math.sqrt(self.acc * (1 - self.acc) / nv + conf.var() / n + self.conf.var() / nv)
        out["doc"] = (d, d - Z90 * se, d + Z90 * se)
        # The default (src/processing/performance_estimate.cc): isotonic calibration on
        # validation weighted by the domain classifier's density ratio.
        w = domain_weights(self.val["emb"], s["emb"][mask])
        cal_w = np.clip(isotonic(self.conf, self.correct, w)(conf), 0, 1)
        v = cal_w.mean()
        ess = w.sum() ** 2 / (w ** 2).sum()
        var = (cal_w * (1 - cal_w)).sum() / n**2 + v * (1 - v) / ess
        shift = max(abs(v - out["cbpe_isotonic"][0]), abs(v - out["cbpe_temperature"][0]),
                    abs(v - d))
        half = Z90 * math.sqrt(var) + shift
        out["iw_cbpe"] = (v, v - half, v + half)
        self.last_weights = w
        return out


def unit_rows(e: np.ndarray) -> np.ndarray:
    return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)


def domain_weights(reference: np.ndarray, target: np.ndarray, folds: int = 5) -> np.ndarray:
    """p / (1 - p) of each reference row, p the cross-fitted probability of the target side
    (shrunk LDA on unit rows, as drift/domain_classifier.cc), capped at its 99th percentile,
    mean 1."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import cross_val_predict

    x = np.r_[unit_rows(reference), unit_rows(target)]
    y = np.r_[np.zeros(len(reference)), np.ones(len(target))]
    p = cross_val_predict(LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"), x, y,
                          cv=folds, method="predict_proba")[:len(reference), 1]
    p = np.clip(p, 1e-3, 1 - 1e-3)
    w = p / (1 - p)
    w = np.minimum(w, np.quantile(w, 0.99))
    return w / w.mean()


# ------------------------------------------------------------------ study

def sets_of(run: dict[str, Any], domain: dict[str, str]):
    """(set name, split, mask): each inference split, and the domains of SPLIT_BY_DOMAIN sets."""
    for split in sorted(run["splits"]):
        if not split.startswith("inference:"):
            continue
        s = run["splits"][split]
        name = split.split(":", 1)[1]
        yield name, split, np.ones(len(s["ids"]), bool)
        # (unless the run holds the domains as sets of their own: log-domains)
        if name in SPLIT_BY_DOMAIN and not any(k.startswith(f"inference:{name}_")
                                               for k in run["splits"]):
            doms = np.array([domain.get(i, "") for i in s["ids"]])
            for d in sorted(set(doms)):
                if d:
                    yield f"{name}/{d}", split, doms == d


def score(run: dict[str, Any], gold: dict[str, int], split: str, mask: np.ndarray) -> float:
    s = run["splits"][split]
    g = np.array([gold.get(i, -1) for i in s["ids"][mask]])
    if (g < 0).any():
        raise SystemExit(f"{split}: {(g < 0).sum()} samples have no gold label in the sources")
    return float((s["pred"][mask] == g).mean())


def print_table(rows: list[dict[str, Any]], methods: list[str]) -> None:
    head = f"| run | set | n | accuracy | " + " | ".join(methods) + " |"
    print(head)
    print("|" + "---|" * (4 + len(methods)))
    for r in rows:
        cells = []
        for m in methods:
            v, lo, hi = r["est"][m]
            err = 100 * (v - r["acc"])
            mark = "" if lo is None or lo <= r["acc"] <= hi else "*"
            cells.append(f"{err:+.1f}{mark}")
        print(f"| {r['run']} | {r['set']} | {r['n']} | {100 * r['acc']:.1f} | " + " | ".join(cells) + " |")
    mae = [np.mean([abs(r["est"][m][0] - r["acc"]) for r in rows]) * 100 for m in methods]
    cov, width = [], []
    for m in methods:
        if any(r["est"][m][1] is None for r in rows):
            cov.append("-")
            width.append("-")
            continue
        inside = [r["est"][m][1] <= r["acc"] <= r["est"][m][2] for r in rows]
        cov.append(f"{100 * np.mean(inside):.0f}")
        width.append(f"{100 * np.mean([r['est'][m][2] - r['est'][m][1] for r in rows]):.1f}")
    print("| **MAE (points)** | | | | " + " | ".join(f"**{x:.2f}**" for x in mae) + " |")
    print("| **90% interval covers (% of sets)** | | | | " + " | ".join(cov) + " |")
    print("| **mean interval width (points)** | | | | " + " | ".join(width) + " |")
    print("\nerror = estimate - real accuracy, in points; * = the 90% interval missed it")


NER_GOLD = {"conll_test": ("conll2003/test.jsonl", "tags"),
            "wnut17": ("wnut17/test.jsonl", "tags_conll_mapped")}


def bio_spans(tags: list[str]) -> set[tuple[int, int, str]]:
    """(token_begin, token_end, type) of BIO tags, strict: an I-X continues only a span of X
    (an I-X after anything else opens one, as conlleval does)."""
    spans, begin, kind = set(), None, None
    for i, t in enumerate(list(tags) + ["O"]):
        prefix, _, typ = t.partition("-")
        if begin is not None and not (prefix == "I" and typ == kind):
            spans.add((begin, i, kind))
            begin, kind = None, None
        if prefix == "B" or (prefix == "I" and begin is None):
            begin, kind = i, typ
    return spans


def ner_study(run_name: str, run_dir: pathlib.Path) -> list[dict[str, Any]]:
    """Span precision and F1 of each NER inference set, estimated from the span rows'
    confidence calibrated on validation span rows (Python only: the engine gives NER
    runs a null estimate). F1 = 2 P / (1 + G/P), with G/P (gold spans per predicted
    span) taken from validation."""
    import pandas as pd

    con = sqlite3.connect(f"file:{run_dir / 'sextant.db'}?mode=ro", uri=True)
    meta = dict(con.execute("select key, value from meta").fetchall())
    gen = meta["results_generation"]
    summary = json.loads(con.execute("select json from summaries where scope = 'run'").fetchone()[0])
    types = summary["entity_types"]
    spans = pd.read_sql_query(
        "select r.split, r.span_row, r.token_begin, r.token_end, r.gold, r.pred, r.confidence, "
        "s.id from span_results r join samples s on s.split = r.split and s.row = r.sample_row "
        "order by r.split, r.span_row", con)
    val = spans[spans["split"] == "validation"]
    vp = val[val["pred"].notna()]
    correct = (vp["gold"] == vp["pred"]).to_numpy(float)
    conf_v = vp["confidence"].to_numpy(float)
    ratio = float(val["gold"].notna().sum()) / max(len(vp), 1)  # gold spans per predicted span
    iso = isotonic(conf_v, correct)
    emb_v = np.load(run_dir / "results" / f"gen-{gen}" / "validation" / "spans" / "embeddings.npy")
    emb_v = emb_v[vp["span_row"].to_numpy()].astype(np.float32)
    rows = []
    for name, (rel, field) in NER_GOLD.items():
        split = f"inference:{name}"
        tgt = spans[(spans["split"] == split) & spans["pred"].notna()]
        if not len(tgt) or not (DATA / rel).is_file():
            continue
        gold = set()
        with open(DATA / rel, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                gold |= {(r["id"], b, e, t) for b, e, t in bio_spans(r[field])}
        pred = {(i, int(b), int(e), types[int(p)]) for i, b, e, p in
                zip(tgt["id"], tgt["token_begin"], tgt["token_end"], tgt["pred"])}
        ids = set(tgt["id"]) | {g[0] for g in gold}
        tp = len(pred & gold)
        real_p = tp / len(pred)
        real_f1 = 2 * tp / (len(pred) + len(gold))
        conf = tgt["confidence"].to_numpy(float)
        folder = run_dir / "results" / f"gen-{gen}" / split.replace(":", "-") / "spans"
        emb_t = np.load(folder / "embeddings.npy")[tgt["span_row"].to_numpy()].astype(np.float32)
        w = domain_weights(emb_v, emb_t)
        est_p = {"average_confidence": conf.mean(), "cbpe_isotonic": np.clip(iso(conf), 0, 1).mean(),
                 "iw_cbpe": np.clip(isotonic(conf_v, correct, w)(conf), 0, 1).mean()}
        rows.append({"run": run_name, "set": name, "spans": len(pred), "gold_spans": len(gold),
                     "precision": real_p, "f1": real_f1, "est_precision": est_p,
                     "est_f1": {k: 2 * v / (1 + ratio) for k, v in est_p.items()},
                     "sentences": len(ids)})
    return rows


def print_ner(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    methods = list(rows[0]["est_precision"])
    print("\nNER span precision and F1 (error = estimate - real, points; F1 = 2P / (1 + G/P), "
          "G/P from validation)")
    print("| run | set | predicted spans | gold spans | precision | F1 | "
          + " | ".join(f"{m} P / F1" for m in methods) + " |")
    print("|" + "---|" * (6 + len(methods)))
    for r in rows:
        cells = [f"{100 * (r['est_precision'][m] - r['precision']):+.1f} / "
                 f"{100 * (r['est_f1'][m] - r['f1']):+.1f}" for m in methods]
        print(f"| {r['run']} | {r['set']} | {r['spans']} | {r['gold_spans']} | "
              f"{100 * r['precision']:.1f} | {100 * r['f1']:.1f} | " + " | ".join(cells) + " |")


def parse_runs(specs: list[str]) -> list[tuple[str, pathlib.Path]]:
    out = []
    for spec in specs:
        name, _, path = spec.partition("=")
        out.append((name, pathlib.Path(path)))
    return out


def cmd_study(args) -> int:
    rows = []
    methods = None
    ner_rows = []
    for run_name, path in parse_runs(args.run):
        if is_ner(path):
            ner_rows += ner_study(run_name, path)
            continue
        run = load_run(path)
        gold, domain = gold_and_domain(run["labels"])
        val = run["splits"].get("validation")
        if val is None:
            print(f"{run_name}: no validation split", file=sys.stderr)
            continue
        est = Estimators(val)
        extra = make_extra(run, est) if args.candidates else None
        for name, split, mask in sets_of(run, domain):
            e = est.estimate(run["splits"][split], mask)
            if extra:
                e.update(extra(split, mask))
            methods = methods or list(e)
            rows.append({"run": run_name, "set": name, "n": int(mask.sum()),
                         "acc": score(run, gold, split, mask), "est": e})
    if rows:
        print_table(rows, methods)
    print_ner(ner_rows)
    return 0


def is_ner(run_dir: pathlib.Path) -> bool:
    con = sqlite3.connect(f"file:{run_dir / 'sextant.db'}?mode=ro", uri=True)
    return dict(con.execute("select key, value from meta").fetchall()).get(
        "task_type") == "named_entity_recognition"


def cmd_summaries(args) -> int:
    rows = []
    per_class = []
    methods = None
    for run_name, path in parse_runs(args.run):
        run = load_run(path)
        gold, domain = gold_and_domain(run["labels"])
        splits = (run["summary"] or {}).get("splits", {})
        for split in sorted(splits):
            if not split.startswith("inference:"):
                continue
            pe = splits[split].get("performance_estimate")
            if not pe or pe.get("accuracy") is None:
                print(f"{run_name} {split}: no estimate ({(pe or {}).get('reason')})",
                      file=sys.stderr)
                continue
            s = run["splits"][split]
            acc = score(run, gold, split, np.ones(len(s["ids"]), bool))
            a = pe["accuracy"]
            e = {pe["method"]: (a["value"], a["low"], a["high"])}
            for name, b in pe.get("baselines", {}).items():
                e[name] = (b["value"], b.get("low"), b.get("high")) if isinstance(b, dict) \
                    else (b, None, None)
            methods = methods or list(e)
            rows.append({"run": run_name, "set": split.split(":", 1)[1], "n": len(s["ids"]),
                         "acc": acc, "est": e})
            g = np.array([gold[i] for i in s["ids"]])
            for k, label in enumerate(run["labels"]):
                tp = float(((s["pred"] == k) & (g == k)).sum())
                fp = float(((s["pred"] == k) & (g != k)).sum())
                fn = float(((s["pred"] != k) & (g == k)).sum())
                real = {"precision": tp / (tp + fp) if tp + fp else None,
                        "recall": tp / (tp + fn) if tp + fn else None,
                        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None}
                for metric, value in real.items():
                    est_m = pe["per_class"].get(label, {}).get(metric, {})
                    if value is None or est_m.get("value") is None:
                        continue
                    per_class.append((metric, abs(est_m["value"] - value),
                                      est_m["low"] <= value <= est_m["high"],
                                      est_m["high"] - est_m["low"]))
    if not rows:
        print("no estimates found", file=sys.stderr)
        return 1
    print_table(rows, methods)
    print("\nper class (the default):")
    for metric in ("precision", "recall", "f1"):
        m = [(e, c, w) for name, e, c, w in per_class if name == metric]
        if m:
            print(f"  {metric}: mean absolute error {100 * np.mean([x[0] for x in m]):.2f} points "
                  f"over {len(m)} class-sets, 90% interval covers "
                  f"{100 * np.mean([x[1] for x in m]):.0f}%, mean width "
                  f"{100 * np.mean([x[2] for x in m]):.1f} points")
    return 0


def cmd_log_domains(args) -> int:
    """Logs each domain of the Amazon and UCI sets as an inference set of its own
    (amazon_books, ..., uci_amazon_cell_phones, ...) with the saved demo model, then finishes."""
    sys.path.insert(0, str(REPO / "examples" / "python"))
    import torch
    import sentiment  # noqa: E402

    import sextant as dq

    torch.set_num_threads(1)
    dq.init(task_type="text_classification", project_name=args.project, run_name=args.run,
            root=args.root)
    root = pathlib.Path(dq.current_run()[0])
    model, tokenizer, labels = sentiment.load(root / args.project / f"{args.run}.model.pt")
    model.eval()
    monitored = sentiment.MonitoredModel(model)
    dq.set_labels_for_run(labels)
    for base, df in sentiment.production_sets(["amazon", "uci"]).items():
        for dom, part in df.groupby("domain"):
            name = f"{base}_{dom}"
            part = part.reset_index(drop=True)
            dataset = sentiment.SentimentDataset(part, tokenizer, split="inference",
                                                 inference_name=name)
            loader = torch.utils.data.DataLoader(dataset, batch_size=64,
                                                 collate_fn=sentiment.collate)
            dq.set_split("inference", name)
            with torch.no_grad():
                for ids, x, mask, _ in loader:
                    monitored(x, mask, ids)
            print(f"inference set {name}: {len(dataset)} samples logged")
    report = dq.finish()
    print(f"finished {report['samples']} samples in {report['seconds']:.1f} s")
    return 0


def make_extra(run, est):
    """Candidates that were tried and not chosen (docs/performance-estimation.md)."""
    from sklearn.linear_model import LogisticRegression

    val = run["splits"]["validation"]
    v_unit = unit_rows(val["emb"])

    def features(s, mask):
        c = np.clip(s["confidence"][mask], 1e-6, 1 - 1e-6)
        lc = np.log(c / (1 - c))
        en = np.log(np.linalg.norm(s["emb"][mask], axis=1) + 1e-6)
        return np.c_[lc, en, lc * en]

    fv = features(val, np.ones(len(est.correct), bool))

    def extra(split, mask):
        s = run["splits"][split]
        w = est.last_weights  # of this set: estimate() ran just before
        out = {}
        iw_acc = float((w * est.correct).sum() / w.sum())
        out["iw_accuracy"] = (iw_acc, None, None)
        # local accuracy of the 50 nearest validation samples (cosine)
        e = unit_rows(s["emb"][mask])
        local = []
        for i in range(0, len(e), 2000):
            sim = e[i:i + 2000] @ v_unit.T
            idx = np.argpartition(-sim, 50, axis=1)[:, :50]
            local.append(est.correct[idx].mean(1))
        out["knn50_validation_accuracy"] = (float(np.concatenate(local).mean()), None, None)
        lr = LogisticRegression(C=1, max_iter=2000).fit(fv, est.correct, sample_weight=w)
        out["iw_logistic_conf_norm"] = (float(lr.predict_proba(features(s, mask))[:, 1].mean()),
                                        None, None)
        return out

    return extra


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("study", "summaries"):
        q = sub.add_parser(name)
        q.add_argument("--run", action="append", required=True, help="NAME=RUN_DIR")
        q.add_argument("--candidates", action="store_true",
                       help="study: also the estimators that were tried and not chosen")
    q = sub.add_parser("log-domains")
    q.add_argument("--root", required=True)
    q.add_argument("--project", default="demo")
    q.add_argument("--run", default="sentiment")
    args = p.parse_args(argv)
    return {"study": cmd_study, "summaries": cmd_summaries, "log-domains": cmd_log_domains}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
