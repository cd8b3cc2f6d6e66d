#!/usr/bin/env python3
"""Live ingest rate and scoring lag: the real `sextant serve` over loopback.

Makes a finished training run of --train samples (default 20,000) at width 768
(clustered synthetic embeddings, fixed seeds; finished with the map and the
similarity index off), starts `sextant serve` over it, then --senders
processes POST base64 float32 batches of --batch samples to
/api/runs/p/r/live as fast as the server takes them (closed loop; a 503 waits
its Retry-After) for --seconds. Afterwards it waits until every accepted sample
is scored and stored, and prints JSON:

  * accepted_per_s:   samples the server accepted per second while sending;
  * sustained_per_s:  samples accepted / time from the first request to the
                      last sample stored (what the server keeps up with);
  * scoring lag:      time from accepted to scored, p50/p99/max, from the
                      server's live_results table (scored_at - accepted_at);
  * refused_503:      requests refused with 503 (the buffer was full).

    bench/live_bench.py [--train 20000] [--dim 768] [--seconds 60] [--senders 2]
                        [--batch 500] [--data DIR] [--bin BUILD/src/cli/sextant]

Needs the Python package (PYTHONPATH=BUILD/python) to make the training run.
"""

import argparse
import base64
import json
import multiprocessing as mp
import os
import pathlib
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np


def make_run(root, n, dim):
    import sextant as dq
    labels = [f"c{i}" for i in range(10)]
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(50, dim)).astype(np.float32)
    dq.init(project_name="p", run_name="r", root=str(root))
    dq.set_labels_for_run(labels)
    ids = [f"t{i}" for i in range(n)]
    y = rng.integers(0, 50, size=n)
    dq.log_data_samples(texts=[f"text {i}" for i in range(n)], ids=ids,
                        labels=[labels[c % 10] for c in y], split="training")
    dq.set_split("training")
    dq.set_epoch(0)
    for b in range(0, n, 2000):
        e = centers[y[b:b + 2000]] + rng.normal(size=(len(y[b:b + 2000]), dim)).astype(np.float32)
        logits = np.eye(10, dtype=np.float32)[y[b:b + 2000] % 10] * 3
        dq.log_model_outputs(embs=e, logits=logits, ids=ids[b:b + 2000])
    dq.finish(compute_map=False, build_similarity_index=False, domain_test=False)


def sender(args):
    url, name, worker, seconds, batch, dim, out = args
    rng = np.random.default_rng(100 + worker)
    centers = np.random.default_rng(1).normal(size=(50, dim)).astype(np.float32)
    # A few distinct payloads, reused with new ids (encoding is not what is measured).
    payloads = []
    for _ in range(4):
        y = rng.integers(0, 50, size=batch)
        e = (centers[y] + rng.normal(size=(batch, dim))).astype("<f4")
        e[: batch // 10] += 3 * rng.normal(size=(batch // 10, dim)).astype("<f4")  # some drift
        logits = (np.eye(10, dtype="<f4")[y % 10] * 3 + rng.normal(size=(batch, 10))).astype("<f4")
        payloads.append((base64.b64encode(e.tobytes()).decode(),
                         base64.b64encode(logits.tobytes()).decode()))
    texts = [f"production text {i}" for i in range(batch)]
    sent = refused = 0
    k = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        e64, l64 = payloads[k % len(payloads)]
        body = json.dumps({
            "inference_name": name, "ids": [f"w{worker}-{k}-{i}" for i in range(batch)],
            "texts": texts,
            "embeddings": {"dtype": "float32", "shape": [batch, dim], "b64": e64},
            "logits": {"dtype": "float32", "shape": [batch, 10], "b64": l64}}).encode()
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                r.read()
            sent += batch
            k += 1
        except urllib.error.HTTPError as e:
            e.read()
            if e.code != 503:
                raise
            refused += 1
            time.sleep(float(e.headers.get("Retry-After", "1")) / 4)
    out.put((sent, refused))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--senders", type=int, default=2)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--data", default=os.path.join(os.environ.get(
        "SEXTANT_BENCH_DATA", "/tmp/sextant-bench"), "live"))
    ap.add_argument("--bin", default="build-bench/src/cli/sextant")
    ap.add_argument("--serve-arg", action="append", default=[],
                    help="passed to sextant serve (e.g. --serve-arg=--live-approximate)")
    a = ap.parse_args()

    root = pathlib.Path(a.data) / f"root-{a.train}-{a.dim}"
    if not (root / "p" / "r" / "sextant.db").exists():
        t = time.monotonic()
        make_run(root, a.train, a.dim)
        print(f"training run made and finished in {time.monotonic() - t:.1f} s", file=sys.stderr)
    db_path = root / "p" / "r" / "sextant.db"
    tag = time.strftime("%Y%m%d%H%M%S")  # fresh sets on every run of the benchmark
    live_name, warm_name = "live" + tag, "warmup" + tag

    proc = subprocess.Popen([a.bin, "serve", "--root", str(root), "--port", "0", *a.serve_arg],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = proc.stdout.readline().split()[2].rstrip("/")
    url = base + "/api/runs/p/r/live"
    try:
        # The reference is loaded on the first batch (once per results generation); its
        # time is reported apart and not counted in the rate.
        t = time.monotonic()
        warm = json.dumps({"inference_name": warm_name, "ids": ["x"], "texts": ["x"],
                           "embeddings": [[0.5] * a.dim], "logits": [[0.0] * 10]}).encode()
        urllib.request.urlopen(urllib.request.Request(url, data=warm, method="POST",
                                                      headers={"Content-Type": "application/json"}))
        while True:
            s = json.loads(urllib.request.urlopen(url).read())
            if any(x["name"] == warm_name and x["samples_ingested"] == 1 for x in s["sets"]):
                break
            time.sleep(0.05)
        reference_s = time.monotonic() - t

        out = mp.Queue()
        t0 = time.monotonic()
        procs = [mp.Process(target=sender, args=((url, live_name, w, a.seconds, a.batch, a.dim, out),))
                 for w in range(a.senders)]
        for p in procs:
            p.start()
        results = [out.get() for _ in procs]
        for p in procs:
            p.join()
        t_send = time.monotonic() - t0
        accepted = sum(r[0] for r in results)
        refused = sum(r[1] for r in results)
        while True:
            s = json.loads(urllib.request.urlopen(url).read())
            live = next(x for x in s["sets"] if x["name"] == live_name)
            if live["samples_ingested"] >= accepted:
                break
            time.sleep(0.05)
        t_all = time.monotonic() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    with sqlite3.connect(db_path) as db:
        lags = np.array([r[0] for r in db.execute(
            "SELECT scored_at - accepted_at FROM live_results WHERE split = ?",
            ("inference:" + live_name,))])
        drifted = db.execute("SELECT AVG(drifted) FROM live_results WHERE split = ?",
                             ("inference:" + live_name,)).fetchone()[0]
    print(json.dumps({
        "serve_args": a.serve_arg, "train": a.train, "dim": a.dim, "senders": a.senders, "batch": a.batch,
        "seconds_sending": round(t_send, 1), "reference_load_s": round(reference_s, 2),
        "accepted": accepted, "accepted_per_s": round(accepted / t_send),
        "sustained_per_s": round(accepted / t_all), "refused_503": refused,
        "stored_rows": int(lags.size),
        "lag_p50_s": round(float(np.percentile(lags, 50)), 3),
        "lag_p99_s": round(float(np.percentile(lags, 99)), 3),
        "lag_max_s": round(float(lags.max()), 3), "drifted_share": drifted,
        "cores": os.cpu_count(), "load": os.getloadavg()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
