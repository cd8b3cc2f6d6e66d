#!/usr/bin/env python3
"""The per-sample shift score measured on real shifted sets (docs/calibration.md,
"Per-sample shift score"). Run by hand; not part of `make test`.

For each seed: SST-2 validation is cut at random into halves A and B; the C++
demo (examples/demo, trained on SST-2 train) logs A as the validation split and
B as the inference set "heldout" (the no-shift control) next to the shifted
sets; the engine finishes the run. Gold labels of the inference sets stay in
the data files: the demo logs inference samples without labels, and this
script reads them only to score the flagged and unflagged samples.

Per set it reports:
  * shift AUROC (engine): the AUC of the set's shift_score against the
    reference rows' out-of-fold scores under the same classifier
    (summary domain_test.shift_auc), and the engine's domain-test AUC;
  * the same measured independently here with scikit-learn's
    LinearDiscriminantAnalysis(solver='lsqr', shrinkage='auto'), 5-fold
    cross-fitted, and a transfer check: B (never seen by the classifier)
    scored by the A-vs-set model against the set's out-of-fold scores;
  * k-NN drift_score AUROC against heldout B's drift_score;
  * the flagged share (is_shifted) and the accuracy of flagged vs unflagged.

  bench/shift_study.py --data /work/shared/data --work /tmp/shift_study \
      --demo build/examples/demo/sextant_demo --sextant build/src/cli/sextant --seeds 1 2 3
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

SETS = {
    "amazon": "amazon_multidomain_sentiment/reviews.csv",
    "imdb": "sentiment_textfooler_samples/imdb.csv",
    "yelp": "sentiment_textfooler_samples/yelp.csv",
    "uci": "sentiment_labelled_sentences_uci/production.csv",
    "mr": "sentiment_textfooler_samples/mr.csv",
}
GOAL_SETS = ["amazon", "imdb", "yelp", "uci"]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label"])
        for r in rows:
            w.writerow([r["id"], r["text"], r["label"]])


def auroc(neg: np.ndarray, pos: np.ndarray) -> float:
    """Mann-Whitney AUC of pos above neg (ties one half)."""
    neg = np.asarray(neg, float)
    pos = np.asarray(pos, float)
    allv = np.concatenate([neg, pos])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    i = 0
    while i < len(allv):
        j = i
        while j < len(allv) and sorted_v[j] == sorted_v[i]:
            j += 1
        ranks[order[i:j]] = (i + 1 + j) / 2
        i = j
    rp = ranks[len(neg):].sum()
    return float((rp - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1
    return x / n


def sklearn_cross_fit(ref: np.ndarray, prod: np.ndarray, seed: int, extra: np.ndarray | None = None):
    """Out-of-fold P(production) with balanced priors for both sides (5 stratified
    folds), and, for `extra` rows, the mean over the fold models."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import StratifiedKFold

    x = unit(np.concatenate([ref, prod]).astype(np.float64))
    y = np.concatenate([np.zeros(len(ref)), np.ones(len(prod))])
    oof = np.zeros(len(y))
    extra_logit = np.zeros(0 if extra is None else len(extra))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    for train, test in folds.split(x, y):
        lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto", priors=[0.5, 0.5])
        lda.fit(x[train], y[train])
        oof[test] = lda.decision_function(x[test])
        if extra is not None:
            extra_logit += lda.decision_function(unit(extra.astype(np.float64))) / 5
    return oof[: len(ref)], oof[len(ref):], extra_logit


def run(cmd: list[str], **kw) -> str:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)
    return out.stdout


def samples(sextant: str, root: Path, run_name: str, split: str, name: str = "") -> list[dict]:
    cmd = [sextant, "samples", "--root", str(root), "--project", "shift", "--run", run_name,
           "--split", split, "--format", "jsonl"]
    if name:
        cmd += ["--inference-name", name]
    return [json.loads(line) for line in run(cmd).split("\n") if line.strip()]


def embeddings(root: Path, run_name: str, split_dir: str) -> np.ndarray:
    results = root / "shift" / run_name / "results"
    gens = sorted(results.glob("gen-*"), key=lambda p: int(p.name.split("-")[1]))
    arr = np.load(gens[-1] / split_dir / "embeddings.npy")
    return arr.astype(np.float32)


def words(text: str) -> int:
    return len(text.split())


def one_seed(args, seed: int) -> dict:
    data = Path(args.data)
    work = Path(args.work) / f"seed{seed}"
    root = work / "store"
    run_name = f"s{seed}"
    validation = read_csv(data / "sst2" / "validation.csv")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(validation))
    half = len(validation) // 2
    a_rows = [validation[i] for i in sorted(perm[:half])]
    b_rows = [validation[i] for i in sorted(perm[half:])]
    (work / "data" / "sst2").mkdir(parents=True, exist_ok=True)
    train_link = work / "data" / "sst2" / "train.csv"
    if not train_link.exists():
        train_link.symlink_to((data / "sst2" / "train.csv").resolve())
    write_csv(work / "data" / "sst2" / "validation.csv", a_rows)
    write_csv(work / "heldout.csv", b_rows)
    if not (root / "shift" / run_name / "results").exists() or args.force:
        cmd = [args.demo, "--root", str(root), "--project", "shift", "--run", run_name,
               "--data", str(work / "data"), "--production", f"heldout={work / 'heldout.csv'}"]
        for name, rel in SETS.items():
            cmd += ["--production", f"{name}={data / rel}"]
        print(" ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True, stdout=sys.stderr)
    gold = {r["id"]: int(r["label"]) for r in b_rows}
    texts = {r["id"]: r["text"] for r in b_rows}
    for name, rel in SETS.items():
        for r in read_csv(data / rel):
            gold[r["id"]] = int(r["label"])
            texts[r["id"]] = r["text"]
    summary = json.loads(run([args.sextant, "summary", "--root", str(root), "--project", "shift",
                              "--run", run_name]))
    a = samples(args.sextant, root, run_name, "validation")
    a_emb = embeddings(root, run_name, "validation")
    a_text = [r["text"] for r in a]
    sets = {"heldout": samples(args.sextant, root, run_name, "inference", "heldout")}
    for name in SETS:
        sets[name] = samples(args.sextant, root, run_name, "inference", name)
    b = sets["heldout"]
    b_drift = np.array([r["drift_score"] for r in b], float)
    a_drift = np.array([r["drift_score"] for r in a], float)
    b_emb = embeddings(root, run_name, "inference-heldout")
    out = {}
    for name, rows in sets.items():
        dt = summary["splits"][f"inference:{name}"]["domain_test"]
        shift = np.array([r["shift_score"] for r in rows], float)
        flagged = np.array([bool(r["is_shifted"]) for r in rows])
        drifted = np.array([bool(r["is_drifted"]) for r in rows])
        drift = np.array([r["drift_score"] for r in rows], float)
        correct = np.array([r["pred"] == ("positive" if gold[r["id"]] == 1 else "negative")
                            for r in rows])
        emb = embeddings(root, run_name, f"inference-{name}")
        ref_oof, prod_oof, b_logit = sklearn_cross_fit(a_emb, emb, seed, None if name == "heldout"
                                                       else b_emb)
        res = {
            "n": len(rows),
            "engine_domain_auc": dt["auc"],
            "engine_shift_auc": dt["shift_auc"],
            "sklearn_auc": auroc(ref_oof, prod_oof),
            "sklearn_transfer_auc": None if name == "heldout" else auroc(b_logit, prod_oof),
            "knn_auc_vs_b": None if name == "heldout" else auroc(b_drift, drift),
            "knn_auc_vs_a": auroc(a_drift, drift),
            "shift_threshold": dt["shift_threshold"],
            "shifted_share": float(flagged.mean()),
            "summary_shifted_share": dt["shifted_share"],
            "drifted_share": float(drifted.mean()),
            "acc_all": float(correct.mean()),
            "acc_flagged": float(correct[flagged].mean()) if flagged.any() else None,
            "acc_unflagged": float(correct[~flagged].mean()) if (~flagged).any() else None,
            "acc_drifted": float(correct[drifted].mean()) if drifted.any() else None,
            "acc_not_drifted": float(correct[~drifted].mean()) if (~drifted).any() else None,
            "median_words": float(np.median([words(texts[r["id"]]) for r in rows])),
        }
        if name == "mr":
            # Length: MR holds full sentences, SST-2 validation mostly phrases.
            a_words = np.array([words(t) for t in a_text])
            mr_words = np.array([words(texts[r["id"]]) for r in rows])
            res["auc_words_alone"] = auroc(a_words, mr_words)
            res["a_median_words"] = float(np.median(a_words))
            for cut in (10, 15):
                keep_a = a_words >= cut
                keep_p = mr_words >= cut
                r_oof, p_oof, _ = sklearn_cross_fit(a_emb[keep_a], emb[keep_p], seed)
                res[f"sklearn_auc_len_ge_{cut}"] = auroc(r_oof, p_oof)
                res[f"n_a_len_ge_{cut}"] = int(keep_a.sum())
                res[f"n_mr_len_ge_{cut}"] = int(keep_p.sum())
                res[f"auc_words_len_ge_{cut}"] = auroc(a_words[keep_a], mr_words[keep_p])
        out[name] = res
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.environ.get("SEXTANT_DATA", "../shared/data"))
    p.add_argument("--work", default="/tmp/shift_study")
    p.add_argument("--demo", default="build/examples/demo/sextant_demo")
    p.add_argument("--sextant", default="build/src/cli/sextant")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--force", action="store_true", help="log and finish again")
    p.add_argument("--json", help="also write every figure to this file")
    args = p.parse_args()
    per_seed = {seed: one_seed(args, seed) for seed in args.seeds}
    names = ["heldout"] + list(SETS)

    def mean(name: str, key: str):
        vals = [per_seed[s][name][key] for s in args.seeds if per_seed[s][name].get(key) is not None]
        return (float(np.mean(vals)), float(np.std(vals))) if vals else (math.nan, 0.0)

    def fmt(v, pct=False):
        m, sd = v
        if math.isnan(m):
            return "-"
        return f"{100 * m:.1f}% ({100 * sd:.1f})" if pct else f"{m:.3f} ({sd:.3f})"

    print(f"seeds: {args.seeds}; mean (sd over seeds)\n")
    print("| set | n | shift AUROC (engine) | same, sklearn LDA | sklearn, B scored by the "
          "A-vs-set model | domain-test AUC (engine) | k-NN drift_score AUROC vs B (vs A) | "
          "flagged (is_shifted) | k-NN is_drifted | accuracy flagged / unflagged | "
          "k-NN drifted / not |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        r0 = per_seed[args.seeds[0]][name]
        acc = f"{fmt(mean(name, 'acc_flagged'), True)} / {fmt(mean(name, 'acc_unflagged'), True)}"
        knn_acc = (f"{fmt(mean(name, 'acc_drifted'), True)} / "
                   f"{fmt(mean(name, 'acc_not_drifted'), True)}")
        print(f"| {name} | {r0['n']} | {fmt(mean(name, 'engine_shift_auc'))} | "
              f"{fmt(mean(name, 'sklearn_auc'))} | {fmt(mean(name, 'sklearn_transfer_auc'))} | "
              f"{fmt(mean(name, 'engine_domain_auc'))} | {fmt(mean(name, 'knn_auc_vs_b'))} "
              f"({mean(name, 'knn_auc_vs_a')[0]:.3f}) | "
              f"{fmt(mean(name, 'shifted_share'), True)} | {fmt(mean(name, 'drifted_share'), True)} | "
              f"{acc} | {knn_acc} |")
    goal = [np.mean([per_seed[s][n]["engine_shift_auc"] for n in GOAL_SETS]) for s in args.seeds]
    knn = [np.mean([per_seed[s][n]["knn_auc_vs_b"] for n in GOAL_SETS]) for s in args.seeds]
    print(f"\nmean shift AUROC over {', '.join(GOAL_SETS)}: {np.mean(goal):.3f} "
          f"(per seed {', '.join(f'{g:.3f}' for g in goal)}); k-NN drift_score: {np.mean(knn):.3f}")
    hb = [per_seed[s]["heldout"]["shifted_share"] for s in args.seeds]
    print(f"heldout B flagged: {', '.join(f'{100 * h:.2f}%' for h in hb)}")
    mr = [per_seed[s]["mr"] for s in args.seeds]
    print("\nMR against SST-2 validation half A: median words MR "
          f"{np.mean([m['median_words'] for m in mr]):.0f}, A {np.mean([m['a_median_words'] for m in mr]):.0f}; "
          f"AUROC of the word count alone {np.mean([m['auc_words_alone'] for m in mr]):.3f}")
    for cut in (10, 15):
        print(f"  both sides cut to >= {cut} words (A {mr[0][f'n_a_len_ge_{cut}']}, MR "
              f"{mr[0][f'n_mr_len_ge_{cut}']} rows): sklearn LDA AUROC "
              f"{np.mean([m[f'sklearn_auc_len_ge_{cut}'] for m in mr]):.3f}, word count alone "
              f"{np.mean([m[f'auc_words_len_ge_{cut}'] for m in mr]):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({str(k): v for k, v in per_seed.items()}, indent=1))


if __name__ == "__main__":
    main()
