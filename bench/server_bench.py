#!/usr/bin/env python3
"""Console server latency at scale: the real `sextant serve` over loopback.

Generates a run of N training samples (default 1,000,000) plus an inference set
with `sextant import` of generated CSV and .npy files (fixed seeds), finishes it
with the map off (`--no-map`; the 2-D map of a million samples is a separate
benchmark), then drives the server over loopback with one keep-alive
connection:

  * page:    filtered, sorted pages of 50 samples (GET .../samples, random
             filters: predicted class, confidence range, DEP range,
             misclassified, on the boundary; sorted by confidence, DEP, margin
             or entropy; random offsets within the first 2,000 matches);
  * similar: similar samples of a random sample (GET .../similar, k = 10, in
             training; and k = 10 among the inference set).

and prints p50/p95/p99 in milliseconds next to the targets (page p95 < 100 ms,
similar p99 < 50 ms), and, as the reference, the same pages answered by the
query layer's SQLite path (`sextant samples`, process start included) for a
few queries.

    bench/server_bench.py [--n 1000000] [--dim 32] [--queries 400] [--data DIR] [--bin BUILD/src/cli/sextant]

Cold opens (--cold, instead of the latencies above): a freshly started server,
timed from its first answer (GET /api/runs): the first page of 50 of each split
(as the console asks it: sort by row), a first filtered and sorted page, the
map and a first text search (which needs the split's table in memory); with the server's
defaults (tables preloaded in the background) and, with --no-preload-too, with
--preload-samples 0 (every page from the store). --ner-root ROOT also opens the
first run under ROOT (e.g. the NER demo run) the same way. --serve-args passes
more arguments to `sextant serve` (main's binary has no --preload-samples).

    bench/server_bench.py --cold [--n 1000000] [--ner-root /work/runs/est_ner] [--after-s 20] [--bin ...]

Data and the run are generated once into --data (default
$SEXTANT_BENCH_DATA/server, else /tmp/sextant-bench/server) and reused.
"""

import argparse
import csv
import http.client
import json
import os
import pathlib
import random
import subprocess
import sys
import time
import urllib.parse

import numpy as np

LABELS = ["negative", "neutral", "positive"]
WORDS = ["great", "awful", "plain", "lovely", "dull", "fun", "boring", "usual", "superb", "broken"]


def generate(folder, name, n, dim, seed, labeled, shift=0.0):
    data = folder / f"{name}.csv"
    if data.exists():
        return
    rng = np.random.default_rng(seed)
    c = len(LABELS)
    centres = np.random.default_rng(0).normal(size=(c, dim)) * 3.0
    y = rng.integers(0, c, size=n)
    emb = (centres[y] + rng.normal(size=(n, dim)) + shift).astype(np.float32)
    logits = rng.normal(size=(n, c)).astype(np.float32)
    logits[np.arange(n), y] += rng.uniform(0, 3, size=n).astype(np.float32)
    np.save(folder / f"{name}.emb.npy", emb)
    np.save(folder / f"{name}.logits.npy", logits)
    words = np.array(WORDS)
    w1 = words[rng.integers(0, len(WORDS), size=n)]
    w2 = words[rng.integers(0, len(WORDS), size=n)]
    tmp = data.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "text", "label"] if labeled else ["id", "text"])
        for i in range(n):
            text = f"review {i}: a {w1[i]} and {w2[i]} product"
            out.writerow([f"{name}-{i}", text, LABELS[y[i]]] if labeled else [f"{name}-{i}", text])
    tmp.rename(data)


def run(cmd, **kw):
    t = time.perf_counter()
    subprocess.run([str(c) for c in cmd], check=True, **kw)
    return time.perf_counter() - t


def percentiles(ms):
    a = np.array(ms)
    return {p: float(np.percentile(a, p)) for p in (50, 95, 99)} | {"max": float(a.max())}


class Server:
    """`sextant serve` on a free port, timed from its first answer."""

    def __init__(self, sextant, root, extra=()):
        self.proc = subprocess.Popen([str(sextant), "serve", "--root", str(root), "--port", "0",
                                      *extra], stdout=subprocess.PIPE, text=True)
        url = urllib.parse.urlparse(self.proc.stdout.readline().split()[2])
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
        while True:  # the first answer
            try:
                self.runs = self.get("/api/runs")[1]["runs"]
                break
            except (ConnectionRefusedError, http.client.HTTPException):
                time.sleep(0.01)

    def get(self, path, params=None, check=True):
        q = "?" + urllib.parse.urlencode(params, doseq=True) if params else ""
        t0 = time.perf_counter()
        self.conn.request("GET", path + q)
        r = self.conn.getresponse()
        body = r.read()
        ms = (time.perf_counter() - t0) * 1000
        if check and r.status != 200:
            raise RuntimeError(f"{path}{q}: {r.status} {body[:300]!r}")
        return ms, json.loads(body)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def cold_open(sextant, root, label, extra=(), run=None, text="a", wait_s=0):
    """One fresh server: the first page of each split of `run` (the first run by
    default), then a filtered and sorted first page of the first split, the map
    and a first text search of the first split. Returns rows (label, what, ms)."""
    t0 = time.perf_counter()
    server = Server(sextant, root, extra)
    rows = [(label, "server start to first answer (GET /api/runs)",
             (time.perf_counter() - t0) * 1000)]
    if wait_s:
        time.sleep(wait_s)  # the preload's time
        server.conn.close()  # past the server's keep-alive timeout: a new connection
    try:
        info = run or server.runs[0]
        base = f"/api/runs/{info['project']}/{info['run']}"
        splits = [s["split"] for s in info["splits"] if s.get("processed", True)]
        for split in splits:
            ms, body = server.get(base + "/samples", {"split": split, "offset": 0, "limit": 50,
                                                      "sort": "row", "order": "asc"})
            rows.append((label, f"first page of 50, {split} ({body['total']} samples)", ms))
        labels = info["labels"]
        ms, body = server.get(base + "/samples", {"split": splits[0], "pred": labels[-1],
                                                  "sort": "confidence", "order": "desc",
                                                  "limit": 50})
        rows.append((label, f"then filtered page: {splits[0]}, pred={labels[-1]}, by confidence",
                     ms))
        ms, body = server.get(base + "/map", {"splits": ",".join(splits), "max_points": 50000},
                              check=False)
        rows.append((label, "then the map of every split (needs the tables)"
                     + ("" if "splits" in body else " [no map: 409]"), ms))
        ms, body = server.get(base + "/samples", {"split": splits[0], "text": text, "limit": 50})
        rows.append((label, f"then first text search, {splits[0]} (needs the table)", ms))
    finally:
        server.stop()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--n-inference", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--queries", type=int, default=400)
    default_data = pathlib.Path(os.environ.get("SEXTANT_BENCH_DATA", "/tmp/sextant-bench")) / "server"
    ap.add_argument("--data", type=pathlib.Path, default=default_data)
    ap.add_argument("--bin", type=pathlib.Path,
                    default=pathlib.Path(__file__).resolve().parents[1] / "build/src/cli/sextant")
    ap.add_argument("--cold", action="store_true", help="time cold opens instead (see above)")
    ap.add_argument("--ner-root", type=pathlib.Path, help="--cold: also open the first run under this root")
    ap.add_argument("--no-preload-too", action="store_true",
                    help="--cold: also with --preload-samples 0")
    ap.add_argument("--serve-args", default="", help="more arguments to `sextant serve`")
    ap.add_argument("--after-s", type=float, default=0,
                    help="--cold: also the same requests this many seconds after the first answer")
    args = ap.parse_args()

    folder = args.data / f"n{args.n}-d{args.dim}"
    folder.mkdir(parents=True, exist_ok=True)
    root = folder / "store"
    project, run_name = "bench", "server"
    sextant = args.bin
    t = time.perf_counter()
    generate(folder, "train", args.n, args.dim, 1, True)
    generate(folder, "prod", args.n_inference, args.dim, 2, False, shift=0.5)
    print(f"data: {args.n} training + {args.n_inference} inference samples, d={args.dim} "
          f"({time.perf_counter() - t:.1f} s)", flush=True)

    done = root / project / run_name / "results"
    if not done.exists() or not any(done.iterdir()):
        common = ["--root", root, "--project", project, "--run", run_name]
        secs = run([sextant, "import", *common, "--split", "training", "--data", folder / "train.csv",
                    "--embeddings", folder / "train.emb.npy", "--logits", folder / "train.logits.npy",
                    "--labels", ",".join(LABELS), "--no-finish"])
        secs += run([sextant, "import", *common, "--split", "inference", "--inference-name", "prod",
                     "--data", folder / "prod.csv", "--embeddings", folder / "prod.emb.npy",
                     "--logits", folder / "prod.logits.npy", "--no-finish"])
        print(f"import: {secs:.1f} s", flush=True)
        secs = run([sextant, "finish", *common, "--no-map"])
        print(f"finish (--no-map): {secs:.1f} s", flush=True)

    if args.cold:
        extra = args.serve_args.split()
        rows = cold_open(sextant, root, f"{args.n} samples", extra)
        if args.no_preload_too:
            rows += cold_open(sextant, root, f"{args.n} samples, --preload-samples 0",
                              extra + ["--preload-samples", "0"])
        if args.after_s:
            rows += cold_open(sextant, root, f"{args.n} samples, {args.after_s:g} s later", extra,
                              wait_s=args.after_s)
        if args.ner_root:
            rows += cold_open(sextant, args.ner_root, "NER run", extra)
            if args.after_s:
                rows += cold_open(sextant, args.ner_root, f"NER run, {args.after_s:g} s later",
                                  extra, wait_s=args.after_s)
        print(f"\n{'server':36s} {'request':64s} {'ms':>9s}")
        for label, what, ms in rows:
            print(f"{label:36s} {what:64s} {ms:9.1f}")
        return 0

    proc = subprocess.Popen([str(sextant), "serve", "--root", str(root), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        url = urllib.parse.urlparse(proc.stdout.readline().split()[2])
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)

        def get(path, params):
            q = urllib.parse.urlencode(params, doseq=True)
            t0 = time.perf_counter()
            conn.request("GET", f"{path}?{q}")
            r = conn.getresponse()
            body = r.read()
            ms = (time.perf_counter() - t0) * 1000
            if r.status != 200:
                raise RuntimeError(f"{path}?{q}: {r.status} {body[:300]!r}")
            return ms, json.loads(body)

        base = f"/api/runs/{project}/{run_name}"
        ms, _ = get(base + "/samples", {"split": "training", "limit": 1})
        print(f"first request (opens the run, loads {args.n} samples' results): {ms / 1000:.1f} s")
        ms, _ = get(base + "/similar", {"split": "training", "id": "train-0", "k": 10})
        print(f"first similar (reads the similarity index): {ms / 1000:.1f} s")
        ms, _ = get(base + "/samples", {"split": "inference:prod", "limit": 1})

        rng = random.Random(7)
        sorts = ["confidence", "dep", "margin", "entropy", "drift_score"]

        def page_params():
            p = {"split": "training", "limit": 50, "sort": rng.choice(sorts[:4]),
                 "order": rng.choice(["asc", "desc"]), "offset": rng.randrange(0, 2000, 50)}
            choice = rng.randrange(5)
            if choice == 0:
                p.update(pred=rng.choice(LABELS), min_confidence=round(rng.uniform(0.3, 0.6), 2))
            elif choice == 1:
                p.update(misclassified="true", gold=rng.choice(LABELS))
            elif choice == 2:
                p.update(min_dep=round(rng.uniform(0.2, 0.5), 2), max_dep=0.9, on_boundary="false")
            elif choice == 3:
                p.update(on_boundary="true", pred=",".join(rng.sample(LABELS, 2)))
            else:
                p.update(max_confidence=round(rng.uniform(0.5, 0.9), 2))
            return p

        # Each sort order is built on its first use; warm them as the console would.
        for s in sorts[:4]:
            for o in ("asc", "desc"):
                get(base + "/samples", {"split": "training", "sort": s, "order": o, "limit": 1})
        page_ms, totals = [], []
        for _ in range(args.queries):
            ms, body = get(base + "/samples", page_params())
            page_ms.append(ms)
            totals.append(body["total"])
        drift_ms = []
        for _ in range(args.queries // 4):
            ms, _ = get(base + "/samples", {"split": "inference:prod", "drifted": "true",
                                            "sort": "drift_score", "order": "desc", "limit": 50,
                                            "offset": rng.randrange(0, 1000, 50)})
            drift_ms.append(ms)
        sim_ms, sim_server_ms = [], []
        for i in range(args.queries):
            if i % 2 == 0:
                params = {"split": "training", "id": f"train-{rng.randrange(args.n)}", "k": 10,
                          "in": "training"}
            else:
                params = {"split": "inference:prod", "id": f"prod-{rng.randrange(args.n_inference)}",
                          "k": 10}
            ms, body = get(base + "/similar", params)
            sim_ms.append(ms)
            sim_server_ms.append(body["took_ms"])

        # The reference: the query layer's SQLite path for the same kind of page.
        ref_ms = []
        for _ in range(5):
            p = page_params()
            cmd = [sextant, "samples", "--root", root, "--project", project, "--run", run_name,
                   "--split", "training", "--sort", f"{p['sort']}:{p['order']}", "--limit", "50"]
            if "pred" in p and "," not in p["pred"]:
                cmd += ["--class", p["pred"]]
            if "min_confidence" in p:
                cmd += ["--min-confidence", p["min_confidence"]]
            ref_ms.append(run(cmd, stdout=subprocess.DEVNULL) * 1000)

        pp, dp, sp, ss = percentiles(page_ms), percentiles(drift_ms), percentiles(sim_ms), percentiles(sim_server_ms)
        print()
        print(f"{'operation':44s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}  target")
        print(f"{'page of 50, filtered + sorted (training)':44s} {len(page_ms):5d} {pp[50]:8.2f} {pp[95]:8.2f} {pp[99]:8.2f} {pp['max']:8.2f}  p95 < 100: {'ok' if pp[95] < 100 else 'MISSED'}")
        print(f"{'page of 50, drifted by drift_score (prod)':44s} {len(drift_ms):5d} {dp[50]:8.2f} {dp[95]:8.2f} {dp[99]:8.2f} {dp['max']:8.2f}")
        print(f"{'similar, k=10 (round trip)':44s} {len(sim_ms):5d} {sp[50]:8.2f} {sp[95]:8.2f} {sp[99]:8.2f} {sp['max']:8.2f}  p99 < 50: {'ok' if sp[99] < 50 else 'MISSED'}")
        print(f"{'similar, k=10 (took_ms, in the server)':44s} {len(sim_server_ms):5d} {ss[50]:8.2f} {ss[95]:8.2f} {ss[99]:8.2f} {ss['max']:8.2f}")
        ref = float(np.median(ref_ms))
        print(f"{'reference: `sextant samples` (SQLite path)':44s} {len(ref_ms):5d} {ref:8.0f}"
              f"   ratio page p50 / reference: 1/{ref / max(pp[50], 1e-9):.0f}")
        print(f"matches per filtered page query: median {int(np.median(totals))}")
        return 0 if pp[95] < 100 and sp[99] < 50 else 1
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    sys.exit(main())
