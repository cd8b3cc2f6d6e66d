#!/usr/bin/env python3
"""Uploads to a team server (docs/team-server.md), measured on loopback.

    /usr/bin/python3 bench/upload_bench.py --sextant build-bench/src/cli/sextant \
        [--rows 100000] [--dim 768] [--clients 20] [--client-rows 20000]

1. One client uploads a run of ROWS inference samples at width DIM (`sextant
   sync`), against copying the same run folder on the same disk (`cp -r`, and
   `cp -r` + `sync`, which is what the upload's fsyncs pay for): the ratio.
2. CLIENTS clients upload CLIENT_ROWS samples each at once: every chunk PUT's
   latency (p50/p99), the server's peak RSS (VmHWM), and that every sample
   landed exactly once.

Needs the Python package on PYTHONPATH (build/python). Data goes under
$SEXTANT_BENCH_DATA (default /tmp/sextant-bench), never the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np

LABELS = ["negative", "neutral", "positive"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def make_run(root: pathlib.Path, project: str, run: str, rows: int, dim: int, seed: int):
    import sextant as dq

    rng = np.random.default_rng(seed)
    dq.init(task_type="text_classification", project_name=project, run_name=run, root=str(root))
    dq.set_labels_for_run(LABELS)
    ids = [f"s{i}" for i in range(rows)]
    dq.log_data_samples(ids=ids, texts=[f"production text number {i}" for i in range(rows)],
                        split="inference", inference_name="prod")
    dq.set_split("inference", "prod")
    for i in range(0, rows, 5000):
        n = min(5000, rows - i)
        dq.log_model_outputs(embs=rng.standard_normal((n, dim), dtype=np.float32),
                             logits=rng.standard_normal((n, 3), dtype=np.float32),
                             ids=ids[i:i + n])
    dq.flush()
    from sextant import _api
    _api._close_current()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, root):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "serve", "--root", str(root), "--port", str(self.port), "--workers", "1",
             "--static", str(root / "no-ui"), "--shutdown-grace", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert "Sextant console" in self.proc.stdout.readline()
        self.url = f"http://127.0.0.1:{self.port}"

    def peak_rss_mb(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.send_signal(signal.SIGKILL)  # the queued jobs are not what is measured
        self.proc.wait()


def sync(binary, root, url, project, run):
    t = time.perf_counter()
    p = subprocess.run([binary, "sync", "--root", str(root), "--url", url, "--project", project,
                        "--run", run, "--format", "json"], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"sync failed: {p.stderr}")
    (report,) = json.loads(p.stdout)
    return wall, report


def dir_bytes(path):
    return sum(f.stat().st_size for f in pathlib.Path(path).rglob("*") if f.is_file())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sextant", required=True)
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--client-rows", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    base = pathlib.Path(os.environ.get("SEXTANT_BENCH_DATA", "/tmp/sextant-bench")) / "upload"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    out = {"rows": a.rows, "dim": a.dim, "clients": a.clients, "client_rows": a.client_rows}

    # 1. One large upload against a copy of the same files.
    local = base / "local"
    log(f"logging {a.rows} x {a.dim}")
    make_run(local, "bench", "big", a.rows, a.dim, 1)
    run_dir = local / "bench" / "big"
    out["run_bytes"] = dir_bytes(run_dir)
    uploads, copies, copies_synced = [], [], []
    for k in range(a.repeats):
        dst = base / f"copy-{k}"
        t = time.perf_counter()
        subprocess.run(["cp", "-r", str(run_dir), str(dst)], check=True)
        copies.append(time.perf_counter() - t)
        shutil.rmtree(dst)
        t = time.perf_counter()
        subprocess.run(["cp", "-r", str(run_dir), str(dst)], check=True)
        subprocess.run(["sync"], check=True)
        copies_synced.append(time.perf_counter() - t)
        shutil.rmtree(dst)
        # A fresh server and a fresh upload state each time.
        server_root = base / f"server-{k}"
        srv = Server(a.sextant, server_root)
        con = __import__("sqlite3").connect(run_dir / "sextant.db")
        con.execute("DELETE FROM meta WHERE key='upload_state'")
        con.commit()
        con.close()
        try:
            wall, report = sync(a.sextant, local, srv.url, "bench", "big")
        finally:
            srv.stop()
        assert report["samples"] == a.rows
        uploads.append(wall)
        shutil.rmtree(server_root)
        log(f"upload {wall:.2f} s, cp {copies[-1]:.2f} s, cp+sync {copies_synced[-1]:.2f} s")
    out["upload_s"] = min(uploads)
    out["cp_s"] = min(copies)
    out["cp_sync_s"] = min(copies_synced)
    out["upload_over_cp"] = out["upload_s"] / out["cp_s"]
    out["upload_over_cp_sync"] = out["upload_s"] / out["cp_sync_s"]
    out["upload_mb_per_s"] = out["run_bytes"] / out["upload_s"] / 1e6

    # 2. Concurrent clients.
    many = base / "many"
    log(f"logging one run of {a.client_rows} x {a.dim}, copied for {a.clients} clients")
    make_run(many, "fleet", "c0", a.client_rows, a.dim, 2)
    for k in range(1, a.clients):
        shutil.copytree(many / "fleet" / "c0", many / "fleet" / f"c{k}")
    server_root = base / "server-many"
    srv = Server(a.sextant, server_root)
    try:
        t = time.perf_counter()
        procs = [subprocess.Popen([a.sextant, "sync", "--root", str(many), "--url", srv.url,
                                   "--project", "fleet", "--run", f"c{k}", "--format", "json"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for k in range(a.clients)]
        reports = []
        for p in procs:
            o, e = p.communicate()
            if p.returncode != 0:
                raise SystemExit(f"a client failed: {e}")
            reports.extend(json.loads(o))
        out["fleet_wall_s"] = time.perf_counter() - t
        lat = np.concatenate([np.asarray(r["chunk_seconds"]) for r in reports])
        out["chunks"] = int(lat.size)
        out["chunk_p50_ms"] = float(np.percentile(lat, 50) * 1000)
        out["chunk_p99_ms"] = float(np.percentile(lat, 99) * 1000)
        out["server_peak_rss_mb"] = srv.peak_rss_mb()
        req = urllib.request.Request(srv.url + "/api/runs")
        runs = json.loads(urllib.request.urlopen(req, timeout=60).read())["runs"]
        landed = {r["run"]: r for r in runs if r["project"] == "fleet"}
        out["runs_landed"] = len(landed)
        counts = []
        for r in landed.values():
            splits = r.get("splits") or []
            counts.append(sum(s.get("samples", 0) for s in splits) if isinstance(splits, list) else 0)
        out["samples_landed"] = int(sum(counts))
        out["samples_expected"] = a.clients * a.client_rows
    finally:
        srv.stop()
    try:
        import ctypes
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        out["openblas_core"] = lib.openblas_get_corename().decode()
    except OSError:
        pass
    print(json.dumps(out, indent=1))
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
