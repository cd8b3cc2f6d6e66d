#!/usr/bin/python3
"""Calibration of the drift reference on real data (docs/calibration.md). Run by hand, not in `make test`.

Reads the embeddings a finished run stored (<root>/<project>/<run>/results/gen-N/<split>/embeddings.npy),
for example the demo's:

    build-verdict/examples/demo/sextant_demo --root /tmp/calib/store --project demo --run sst2 \
        --production yelp=$D/sentiment_textfooler_samples/yelp.csv \
        --production amazon=$D/amazon_multidomain_sentiment/reviews.csv \
        --production imdb=$D/sentiment_textfooler_samples/imdb.csv \
        --production mr=$D/sentiment_textfooler_samples/mr.csv \
        --production uci=$D/sentiment_labelled_sentences_uci/production.csv
    /usr/bin/python3 bench/calibration.py --root /tmp/calib/store --project demo --run sst2 \
        --sextant build-verdict/src/cli/sextant

and computes, independently of the engine (python3-faiss exact inner product over unit rows, numpy, scipy),
for k in {1, 5, 10, 20, 50} and for both references:
  * the false-alarm rate on held-out in-distribution data: the validation split is cut in two random halves
    (repeated --repeats times); half A is the validation reference, half B the no-drift set, so B is never
    part of the reference it is tested against; also how often the dataset-level verdict (one-sided
    beta-binomial test, and the plain binomial test for comparison) calls B drifted at alpha = 0.01;
  * the AUROC of drift_score between half B and each shifted inference set, and the share of each shifted
    set flagged.
With --sextant it then runs `sextant finish` with the default options on the run and checks that the
engine's thresholds, per-sample distances, scores, flags and verdicts agree with this computation.
"""

import argparse
import json
import pathlib
import subprocess
import sys

import numpy as np

try:
    import faiss
except ImportError:  # brute force with numpy is fine at these sizes, only slower
    faiss = None
from scipy import special, stats

KS = [1, 5, 10, 20, 50]
KMAX = max(KS)
PERCENTILE = 95.0
ALPHA = 0.01


def latest_results(run_dir):
    gens = sorted((run_dir / "results").glob("gen-*"), key=lambda p: int(p.name.split("-")[1]))
    if not gens:
        sys.exit(f"{run_dir}: no results; finish the run first")
    return gens[-1]


def unit(x):
    x = np.asarray(x, dtype=np.float32).copy()
    n = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, n, out=x, where=n > 0)
    return x


def search(train, queries, k):
    """Cosine distances of the k nearest training rows, nearest first; and their row ids."""
    if faiss is not None:
        index = faiss.IndexFlatIP(train.shape[1])
        index.add(train)
        sim, ids = index.search(queries, k)
        return 1.0 - sim.astype(np.float64), ids
    out_d, out_i = [], []
    for s in range(0, len(queries), 2048):
        sim = queries[s:s + 2048] @ train.T
        ids = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        part = np.take_along_axis(sim, ids, axis=1)
        order = np.argsort(-part, axis=1)
        out_i.append(np.take_along_axis(ids, order, axis=1))
        out_d.append(1.0 - np.take_along_axis(part, order, axis=1).astype(np.float64))
    return np.vstack(out_d), np.vstack(out_i)


def loo_kcore(train):
    """N x KMAX: column k-1 is each training row's distance to its k-th nearest other row (the engine's rule:
    drop the row itself from its k+1 neighbours, or the farthest when duplicates hide it)."""
    d, ids = search(train, train, KMAX + 1)
    self_hit = ids == np.arange(len(train))[:, None]
    found = self_hit.any(axis=1)
    drop = np.where(found, self_hit.argmax(axis=1), KMAX)
    keep = np.ones_like(self_hit)
    keep[np.arange(len(train)), drop] = False
    return d[keep].reshape(len(train), KMAX)


def auroc(neg, pos):
    """P(pos > neg) + P(pos == neg) / 2 (Mann-Whitney, ties counted half)."""
    ranks = stats.rankdata(np.concatenate([neg, pos]))
    r_pos = ranks[len(neg):].sum()
    return (r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def log_sf(count, n, log_pmf):
    """ln P(X >= count): every term of the tail summed (scipy's betabinom.sf is 1 - cdf, which
    cannot go below about 1e-12)."""
    if count <= 0:
        return 0.0
    j = np.arange(count, n + 1, dtype=np.float64)
    t = log_pmf(j)
    top = t.max()
    return float(top + np.log(np.exp(t - top).sum()))


def log_betabinom_sf(count, n, a, b):
    g = special.gammaln
    return log_sf(count, n, lambda j: g(n + 1) - g(j + 1) - g(n - j + 1) + g(j + a) + g(n - j + b)
                  - g(n + a + b) - (g(a) + g(b) - g(a + b)))


def log_binom_sf(count, n, p):
    g = special.gammaln
    return log_sf(count, n, lambda j: g(n + 1) - g(j + 1) - g(n - j + 1) + j * np.log(p)
                  + (n - j) * np.log1p(-p))


def null_p_values(count, n, ref_sorted, threshold):
    """The engine's verdict: ln P(X >= count) with X ~ BetaBinomial(n, m + 1, M - m); and with the
    plain Binomial(n, 5%)."""
    M = len(ref_sorted)
    m = int(np.sum(ref_sorted > threshold))
    return log_betabinom_sf(count, n, m + 1, M - m), log_binom_sf(count, n, 1 - PERCENTILE / 100)


def run_engine(sextant, root, project, run, extra=()):
    args = ["--root", str(root), "--project", project, "--run", run]
    subprocess.run([sextant, "finish", *args, *extra], check=True, capture_output=True, text=True)
    summary = json.loads(subprocess.run([sextant, "summary", *args], check=True, capture_output=True,
                                        text=True).stdout)
    return summary, args


def engine_rows(sextant, args, split, name=None):
    extra = ["--split", split] + (["--inference-name", name] if name else [])
    out = subprocess.run([sextant, "samples", *args, *extra], check=True, capture_output=True,
                         text=True).stdout
    # split("\n"), not splitlines(): texts may hold U+2028 and other characters splitlines() splits on.
    return [json.loads(line) for line in out.split("\n") if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--repeats", type=int, default=20, help="random halvings of validation (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sextant", help="the sextant binary: also check the engine's default configuration")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engine-only", action="store_true", help="skip the tables; only check the engine")
    a = ap.parse_args()
    if faiss is not None:
        faiss.omp_set_num_threads(a.threads)

    run_dir = pathlib.Path(a.root) / a.project / a.run
    res = latest_results(run_dir)
    emb = {p.name: unit(np.load(p / "embeddings.npy")) for p in sorted(res.iterdir())
           if (p / "embeddings.npy").is_file()}
    train, val = emb.pop("training"), emb.pop("validation")
    shifted = {k.split("-", 1)[1]: v for k, v in emb.items() if k.startswith("inference-")}
    names = sorted(shifted)
    print(f"# {run_dir}: training {len(train)}, validation {len(val)}, dim {train.shape[1]}; "
          + ", ".join(f"{n} {len(shifted[n])}" for n in names))

    loo = loo_kcore(train)
    val_d, _ = search(train, val, KMAX)
    shift_d = {n: search(train, shifted[n], KMAX)[0] for n in names}

    if not a.engine_only:
        tables(a, loo, val_d, shift_d, names)
    if not a.sextant:
        return 0
    return engine_checks(a, loo, val_d, shift_d, names)


def tables(a, loo, val_d, shift_d, names):
    rng = np.random.default_rng(a.seed)
    halves = []
    for _ in range(a.repeats):
        perm = rng.permutation(len(val_d))
        halves.append((perm[:len(val_d) // 2], perm[len(val_d) // 2:]))

    rows = []
    for k in KS:
        for ref_name in ("training_loo", "validation"):
            fa, p_bb, p_bin, thr_list = [], [], [], []
            au = {n: [] for n in names}
            flagged = {n: [] for n in names}
            verdict_p = {n: [] for n in names}
            for a_idx, b_idx in halves:
                ref = np.sort(loo[:, k - 1] if ref_name == "training_loo" else val_d[a_idx, k - 1])
                thr = float(np.percentile(ref, PERCENTILE))
                thr_list.append(thr)
                b = val_d[b_idx, k - 1]
                count = int(np.sum(b > thr))
                fa.append(count / len(b))
                pb, pn = null_p_values(count, len(b), ref, thr)
                p_bb.append(np.exp(pb))
                p_bin.append(np.exp(pn))
                score_b = np.searchsorted(ref, b, side="right") / len(ref)
                for n in names:
                    s = shift_d[n][:, k - 1]
                    au[n].append(auroc(score_b, np.searchsorted(ref, s, side="right") / len(ref)))
                    c = int(np.sum(s > thr))
                    flagged[n].append(c / len(s))
                    verdict_p[n].append(np.exp(null_p_values(c, len(s), ref, thr)[0]))
            rows.append(dict(k=k, ref=ref_name, thr=np.mean(thr_list), fa=np.mean(fa), fa_sd=np.std(fa),
                             fa_min=np.min(fa), fa_max=np.max(fa),
                             alarm_bb=np.mean(np.array(p_bb) < ALPHA), alarm_bin=np.mean(np.array(p_bin) < ALPHA),
                             auroc={n: np.mean(au[n]) for n in names},
                             flagged={n: np.mean(flagged[n]) for n in names},
                             detected={n: np.mean(np.array(verdict_p[n]) < ALPHA) for n in names}))

    half_n = len(val_d) - len(val_d) // 2
    print(f"\n## False alarms on held-out SST-2 validation (half B, {half_n} samples; {a.repeats} random halvings; "
          f"nominal {100 - PERCENTILE:.0f}%, alpha {ALPHA})\n")
    print("| k | reference | threshold | flagged share of B: mean (sd) [min, max] | verdict 'drift' on B, "
          "beta-binomial | same, plain binomial |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['k']} | {r['ref']} | {r['thr']:.4f} | {100 * r['fa']:.2f}% ({100 * r['fa_sd']:.2f}) "
              f"[{100 * r['fa_min']:.1f}, {100 * r['fa_max']:.1f}] | {100 * r['alarm_bb']:.0f}% | "
              f"{100 * r['alarm_bin']:.0f}% |")
    print("\n## Separation: AUROC of drift_score, held-out half B (negatives) against each shifted set\n")
    print("| k | reference | " + " | ".join(names) + " | mean |")
    print("|---|---|" + "---|" * (len(names) + 1))
    for r in rows:
        vals = [r["auroc"][n] for n in names]
        print(f"| {r['k']} | {r['ref']} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {np.mean(vals):.3f} |")
    print("\n## Detection: share of each shifted set above the threshold (and share of halvings whose verdict "
          "says drift)\n")
    print("| k | reference | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for r in rows:
        print(f"| {r['k']} | {r['ref']} | " + " | ".join(
            f"{100 * r['flagged'][n]:.1f}% ({100 * r['detected'][n]:.0f}%)" for n in names) + " |")


def engine_checks(a, loo, val_d, shift_d, names):
    # ---- the engine, checked against the same computation: the default configuration, and the
    # exact search when the defaults chose the approximate one (--nn-search exact)
    ok = True
    help_text = subprocess.run([a.sextant, "finish", "--help"], capture_output=True, text=True).stdout
    configs = [("defaults", [])]
    for label, extra in configs:
        summary, args = run_engine(a.sextant, a.root, a.project, a.run, extra)
        nn = (summary["parameters"].get("nn_search") or {}).get("used", "exact")
        ok &= check_engine(a, summary, args, label, nn, loo, val_d, shift_d, names)
        if nn != "exact" and "--nn-search" in help_text and label == "defaults":
            configs.append(("defaults with --nn-search exact", ["--nn-search", "exact"]))
    print("\nengine agrees with the independent computation" if ok else "\nENGINE DISAGREES")
    return 0 if ok else 1


def check_engine(a, summary, args, label, nn, loo, val_d, shift_d, names):
    p = summary["parameters"]
    k = p["drift_k"]
    exact = nn == "exact"
    print(f"\n## Engine ({label}): reference {p['reference']} (requested {p['reference_requested']}), "
          f"k {k}, percentile {p['drift_percentile']}, reference size {p['reference_size']}, "
          f"nearest-neighbour search {nn}\n")
    expect_ref = {"training_loo": np.sort(loo[:, k - 1]), "validation": np.sort(val_d[:, k - 1])}
    ok = True
    for name, want in expect_ref.items():
        thr = float(np.percentile(want, PERCENTILE))
        got = p["drift_thresholds"][name]
        agree = abs(got - thr) <= 1e-5
        if exact:  # an approximate search may miss true neighbours: reported, not required
            ok &= agree
        print(f"- threshold {name}: engine {got:.6f}, numpy {thr:.6f} ({100 * (got / thr - 1):+.2f}%)")
    ref = expect_ref[p["reference"]]
    thr = float(np.percentile(ref, PERCENTILE))
    M, m = p["reference_size"], p["reference_above_threshold"]
    for n in names:
        got = engine_rows(a.sextant, args, "inference", n)
        d = shift_d[n][:, k - 1]
        gd = np.array([r["drift_distance"] for r in got])
        gs = np.array([r["drift_score"] for r in got])
        gf = np.array([r["is_drifted"] for r in got])
        want_s = np.searchsorted(ref, d, side="right") / len(ref)
        clear = np.abs(d - thr) > 1e-5
        flag_agree = float(np.mean(gf[clear] == (d[clear] > thr)))
        v = summary["splits"][f"inference:{n}"]["drift_verdict"]
        # The engine's p-value from its own count, summed here term by term ...
        engine_log10 = log_betabinom_sf(v["count"], v["samples"], m + 1, M - m) / np.log(10)
        p_ok = abs(v["log10_p_value"] - engine_log10) <= 1e-8 * max(1.0, abs(engine_log10))
        # ... and the p-value of the independent count.
        want_log10 = null_p_values(int(np.sum(d > thr)), len(d), ref, thr)[0] / np.log(10)
        # Reference distances within 1e-5 of a sample's may rank either way (float32 in the engine).
        ambiguous = np.searchsorted(ref, d + 1e-5, side="right") - np.searchsorted(ref, d - 1e-5, side="left")
        if exact:
            set_ok = (np.max(np.abs(gd - d)) < 1e-4 and np.all(np.abs(gs - want_s) <= ambiguous / len(ref) + 1e-12)
                      and flag_agree == 1.0)
        else:
            set_ok = flag_agree >= 0.99
        ok &= bool(set_ok and p_ok)
        print(f"- {n}: distances max |diff| {np.max(np.abs(gd - d)):.1e}, scores max |diff| "
              f"{np.max(np.abs(gs - want_s)):.1e}, flags agree {100 * flag_agree:.2f}%; engine: drifted "
              f"{100 * v['fraction']:.1f}% [{100 * v['ci_low']:.1f}, {100 * v['ci_high']:.1f}], "
              f"log10 p {v['log10_p_value']:.2f} (summed here from the engine's count: {engine_log10:.2f}; "
              f"from the independent count: {want_log10:.2f}){'' if set_ok and p_ok else ' MISMATCH'}")
    return ok


if __name__ == "__main__":
    sys.exit(main())
