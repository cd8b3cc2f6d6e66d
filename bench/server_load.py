#!/usr/bin/env python3
"""Console server under concurrent load, with hostile clients alongside (issue 12).

Generates (once, fixed seeds) a run of N training samples (default 100,000) and
an inference set with synthetic clustered embeddings, imported with the real
`sextant import` (the C++ client) and finished with the map off, then starts
`sextant serve` on loopback and runs, for --duration seconds (default 60):

  * --clients keep-alive clients (default 50), each looping over a mix of
    filtered sample pages (70 %), similar-samples queries (20 %) and filtered
    CSV exports (10 %), recording every latency and every error;
  * --slow sockets (default 8) that send a request line and then one header
    line every 2 s and never finish (reconnecting when the server closes them);
  * --regex clients (default 4) that loop over pathological text searches
    (`.*zzz`, `^(\\w+\\s?)*$`, `(a+)+$`, `(x+x+)+y`) over every training text;

and samples the server's resident memory (VmRSS) every second. Prints errors,
p50/p99 per kind of request, and the RSS over time. Loopback only; bounded in
count (at most 200 clients) and time (at most 600 s). Never part of `make test`.

    bench/server_load.py [--n 100000] [--duration 60] [--clients 50] [--bin BUILD/src/cli/sextant]
"""

import argparse
import http.client
import os
import pathlib
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from server_bench import LABELS, generate, run  # noqa: E402

PATTERNS = [".*zzz", r"^(\w+\s?)*$", "(a+)+$", "(x+x+)+y"]


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def pct(values, p):
    return float(np.percentile(np.array(values), p)) if values else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--n-inference", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--slow", type=int, default=8)
    ap.add_argument("--regex", type=int, default=4)
    ap.add_argument("--duration", type=float, default=60)
    default_data = pathlib.Path(os.environ.get("SEXTANT_BENCH_DATA", "/tmp/sextant-bench")) / "server"
    ap.add_argument("--data", type=pathlib.Path, default=default_data)
    ap.add_argument("--bin", type=pathlib.Path,
                    default=pathlib.Path(__file__).resolve().parents[1] / "build/src/cli/sextant")
    args = ap.parse_args()
    if not (1 <= args.clients <= 200 and 0 <= args.slow <= 50 and 0 <= args.regex <= 50):
        ap.error("at most 200 clients, 50 slow sockets and 50 regex clients")
    if not 1 <= args.duration <= 600:
        ap.error("--duration: between 1 and 600 s")

    folder = args.data / f"n{args.n}-d{args.dim}"
    folder.mkdir(parents=True, exist_ok=True)
    root = folder / "store"
    project, run_name = "bench", "server"
    sextant = args.bin
    generate(folder, "train", args.n, args.dim, 1, True)
    generate(folder, "prod", args.n_inference, args.dim, 2, False, shift=0.5)
    done = root / project / run_name / "results"
    if not done.exists() or not any(done.iterdir()):
        common = ["--root", root, "--project", project, "--run", run_name]
        run([sextant, "import", *common, "--split", "training", "--data", folder / "train.csv",
             "--embeddings", folder / "train.emb.npy", "--logits", folder / "train.logits.npy",
             "--labels", ",".join(LABELS), "--no-finish"])
        run([sextant, "import", *common, "--split", "inference", "--inference-name", "prod",
             "--data", folder / "prod.csv", "--embeddings", folder / "prod.emb.npy",
             "--logits", folder / "prod.logits.npy", "--no-finish"])
        run([sextant, "finish", *common, "--no-map"])

    proc = subprocess.Popen([str(sextant), "serve", "--root", str(root), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        url = urllib.parse.urlparse(proc.stdout.readline().split()[2])
        host, port = url.hostname, url.port
        base = f"/api/runs/{project}/{run_name}"
        warm = http.client.HTTPConnection(host, port, timeout=600)
        t0 = time.perf_counter()
        for split in ("training", "inference:prod"):
            warm.request("GET", f"{base}/samples?split={urllib.parse.quote(split)}&limit=1")
            warm.getresponse().read()
        warm.request("GET", f"{base}/similar?split=training&id=train-0&k=10")
        warm.getresponse().read()
        for s in ("confidence", "dep", "margin", "entropy"):
            for o in ("asc", "desc"):
                warm.request("GET", f"{base}/samples?split=training&sort={s}&order={o}&limit=1")
                warm.getresponse().read()
        warm.close()
        print(f"server up, run opened and sort orders warmed in {time.perf_counter() - t0:.1f} s; "
              f"RSS {rss_mb(proc.pid):.0f} MB", flush=True)

        stop_at = time.monotonic() + args.duration
        lock = threading.Lock()
        lat = {"page": [], "similar": [], "export": [], "regex": []}
        errors = {}
        regex_status = {}
        slow_reconnects = [0]

        def record(kind, ms, status, detail=""):
            with lock:
                if status == 200 or (kind == "regex" and status == 400):
                    lat[kind].append(ms)
                if kind == "regex":
                    regex_status[status] = regex_status.get(status, 0) + 1
                if status != 200 and not (kind == "regex" and status == 400):
                    key = f"{kind}: {status} {detail}"[:160]
                    errors[key] = errors.get(key, 0) + 1

        def client(seed):
            rng = random.Random(seed)
            conn = http.client.HTTPConnection(host, port, timeout=120)
            while time.monotonic() < stop_at:
                r = rng.random()
                if r < 0.7:
                    kind = "page"
                    p = {"split": "training", "limit": 50, "offset": rng.randrange(0, 2000, 50),
                         "sort": rng.choice(["confidence", "dep", "margin", "entropy"]),
                         "order": rng.choice(["asc", "desc"]),
                         "pred": rng.choice(LABELS),
                         "min_confidence": round(rng.uniform(0.3, 0.7), 2)}
                    path = f"{base}/samples?{urllib.parse.urlencode(p)}"
                elif r < 0.9:
                    kind = "similar"
                    path = f"{base}/similar?split=training&id=train-{rng.randrange(args.n)}&k=10"
                else:
                    kind = "export"
                    p = {"split": "inference:prod", "format": "csv", "pred": rng.choice(LABELS),
                         "min_confidence": 0.9}
                    path = f"{base}/export?{urllib.parse.urlencode(p)}"
                t = time.perf_counter()
                try:
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    body = resp.read()
                    record(kind, (time.perf_counter() - t) * 1000, resp.status, body[:100])
                except (OSError, http.client.HTTPException) as e:
                    record(kind, 0, "exception", repr(e))
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=120)
            conn.close()

        def regex_client(seed):
            rng = random.Random(seed)
            conn = http.client.HTTPConnection(host, port, timeout=120)
            while time.monotonic() < stop_at:
                q = urllib.parse.urlencode({"split": "training", "text": rng.choice(PATTERNS),
                                            "limit": 50})
                t = time.perf_counter()
                try:
                    conn.request("GET", f"{base}/samples?{q}")
                    resp = conn.getresponse()
                    body = resp.read()
                    record("regex", (time.perf_counter() - t) * 1000, resp.status, body[:100])
                except (OSError, http.client.HTTPException) as e:
                    record("regex", 0, "exception", repr(e))
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=120)
            conn.close()

        def slow_socket(i):
            s = None
            n = 0
            while time.monotonic() < stop_at:
                try:
                    if s is None:
                        s = socket.create_connection((host, port), timeout=10)
                        s.sendall(f"GET {base}/samples?split=training HTTP/1.1\r\n"
                                  f"Host: 127.0.0.1:{port}\r\n".encode())
                    s.sendall(f"X-Slow-{n}: {i}\r\n".encode())
                    n += 1
                except OSError:
                    with lock:
                        slow_reconnects[0] += 1
                    if s is not None:
                        s.close()
                    s = None
                    continue
                time.sleep(min(2.0, max(0.0, stop_at - time.monotonic())))
            if s is not None:
                s.close()

        rss = []

        def sample_rss():
            start = time.monotonic()
            while time.monotonic() < stop_at:
                rss.append((time.monotonic() - start, rss_mb(proc.pid)))
                time.sleep(1.0)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        threads += [threading.Thread(target=regex_client, args=(1000 + i,)) for i in range(args.regex)]
        threads += [threading.Thread(target=slow_socket, args=(i,)) for i in range(args.slow)]
        threads.append(threading.Thread(target=sample_rss))
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.duration + 300)
        wall = time.monotonic() - started

        total = sum(len(v) for k, v in lat.items() if k != "regex")
        print(f"\n{args.clients} clients + {args.regex} regex clients + {args.slow} slow-header sockets, "
              f"{wall:.0f} s, {args.n} training samples; {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f}")
        print(f"answered: {total} requests ({total / wall:.0f}/s); errors: {sum(errors.values())}")
        for k, v in sorted(errors.items()):
            print(f"  {v} x {k}")
        print(f"{'kind':8} {'count':>7} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
        for kind, v in lat.items():
            print(f"{kind:8} {len(v):7d} {pct(v, 50):9.1f} {pct(v, 99):9.1f} "
                  f"{(max(v) if v else float('nan')):9.1f}")
        print(f"regex answers by status: {regex_status}")
        print(f"slow sockets closed by the server and reopened: {slow_reconnects[0]}")
        marks = [r for r in rss if int(r[0]) % 10 == 0]
        print("server RSS (MB) over time: " + ", ".join(f"{t:.0f} s: {m:.0f}" for t, m in marks))
        if rss:
            print(f"server RSS max {max(m for _, m in rss):.0f} MB")
    finally:
        proc.terminate()
        try:
            code = proc.wait(timeout=30)
            print(f"server exit code after SIGTERM: {code}")
        except subprocess.TimeoutExpired:
            proc.kill()
            print("server did not stop within 30 s of SIGTERM")


if __name__ == "__main__":
    main()
