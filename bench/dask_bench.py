#!/usr/bin/env python3
"""Distributed finish on Dask against the single-machine finish, on the same run.

Logs once (and reuses) a run of generated clustered embeddings: N training
samples (default 1,000,000), a validation split (default 20,000) and Q
inference samples (default 100,000) of which a part (default 30 %) is shifted
off the training clusters, width 64 (the drift search's cost is linear in the
width and a real model's 768 would make the logging, not the finish, the long
part at this size; the cost model in docs/scaling.md scales it). Logged with
the Python API from numpy arrays (no text files to parse: the fastest way in).

Then finishes a fresh copy of the logged run, each in a child process:

  local        the single-machine finish (threads = --cores)
  dask-1x2     a LocalCluster of 1 worker process x 2 threads
  dask-2x1     a LocalCluster of 2 worker processes x 1 thread

and reports, for each: FinishReport stage_seconds and total, shard tasks and
bytes (written for the workers / received from them), the overhead against
`local` in %, the driver's peak RSS (the child's own getrusage), the child's
peak RSS as wait4() reports it (with the worker processes it reaped), per
worker: peak RSS, bytes read and written (/proc/self/io rchar/wchar, which
covers the shared-path shard files), bytes sent to other workers (Dask's
transfer_outgoing_bytes_total); and the OpenBLAS kernel of the driver and of
each worker (openblas_get_corename of the libopenblas the process loaded).

    bench/dask_bench.py [--n 1000000] [--q 100000] [--validation 20000] [--dim 64]
                        [--modes local,dask-1x2,dask-2x1] [--data DIR] [--out DIR]

Data under --data (default $SEXTANT_BENCH_DATA/dask, else /tmp/sextant-bench/dask),
never the repository. Writes dask_bench.json and dask_bench.md into --out
(default: the data folder). The distributed modes need sextant.finish_run(...,
dask=client) (issue 17); without it they are reported as missing, not failed.
"""

import argparse
import ctypes
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import time

import numpy as np

LABELS = ["negative", "neutral", "positive"]
PROJECT, RUN = "bench", "dask"
CHUNK = 100_000  # rows generated and logged per batch (bounds the logging process's memory)


def openblas_kernel():
    """openblas_get_corename() of the libopenblas this process loaded, or None."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libopenblas" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return None


def proc_io():
    out = {}
    try:
        with open("/proc/self/io") as f:
            for line in f:
                key, value = line.split(":")
                out[key] = int(value)
    except OSError:
        pass
    return out


# ---------------------------------------------------------------- data


def chunk_rows(kind, start, rows, dim, shift_fraction):
    """Rows [start, start + rows) of a split, the same whatever the chunking
    around them (one generator per CHUNK-aligned block)."""
    seed = {"training": 1, "validation": 2, "inference": 3}[kind]
    centres = np.random.default_rng(0).normal(size=(len(LABELS), dim)) * 3.0
    direction = np.random.default_rng(5).normal(size=dim)
    direction *= 2.0 / np.linalg.norm(direction)
    rng = np.random.default_rng([seed, start])
    y = rng.integers(0, len(LABELS), size=rows)
    emb = centres[y] + rng.normal(size=(rows, dim))
    if kind == "inference":  # the shifted part of production
        shifted = rng.random(rows) < shift_fraction
        emb[shifted] += direction
    logits = rng.normal(size=(rows, len(LABELS))).astype(np.float32)
    logits[np.arange(rows), y] += rng.uniform(0, 3, size=rows).astype(np.float32)
    return y, emb.astype(np.float32), logits


def log_run(root, n, v, q, dim, shift_fraction):
    """Child process: logs the run under root with the Python API."""
    import sextant
    sextant.init("text_classification", project_name=PROJECT, run_name=RUN, root=str(root))
    sextant.set_labels_for_run(LABELS)
    first_id = 0
    for split, rows in (("training", n), ("validation", v), ("inference", q)):
        name = "prod" if split == "inference" else None
        for start in range(0, rows, CHUNK):
            count = min(CHUNK, rows - start)
            y, emb, logits = chunk_rows(split, start, count, dim, shift_fraction)
            ids = np.arange(first_id + start, first_id + start + count, dtype=np.int64)
            texts = [f"sample {i}" for i in ids.tolist()]
            sextant.log_data_samples(ids=ids, texts=texts,
                                     labels=None if split == "inference" else y,
                                     split=split, inference_name=name)
            sextant.log_model_outputs(embs=emb, ids=ids, logits=logits, split=split,
                                      inference_name=name, epoch=0)
        first_id += rows
    sextant.flush()
    sextant._api._close_current()


# ---------------------------------------------------------------- one finish (child)


def finish_child(args):
    """Child process: one finish of the run under args.root; prints a JSON report."""
    import sextant
    options = json.loads(args.options)
    workers = []
    t0 = time.perf_counter()
    if args.mode == "local":
        sextant.init("text_classification", project_name=PROJECT, run_name=RUN, root=args.root)
        report = sextant.finish(**options)
    else:
        from distributed import Client, LocalCluster
        nw, nt = (int(x) for x in args.mode.removeprefix("dask-").split("x"))
        cluster = LocalCluster(n_workers=nw, threads_per_worker=nt, processes=True,
                               dashboard_address=None, memory_limit=0)
        client = Client(cluster)

        def worker_state(dask_worker=None):
            return {"maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                    "io": proc_io(), "openblas": openblas_kernel(),
                    "sent": getattr(dask_worker, "transfer_outgoing_bytes_total", None)}

        before = client.run(worker_state)
        if not hasattr(sextant, "finish_run"):
            print(json.dumps({"mode": args.mode, "missing": "sextant.finish_run (issue 17's dask "
                              "path) is not in this build"}))
            client.close()
            cluster.close()
            return 0
        t0 = time.perf_counter()
        report = sextant.finish_run(args.root, PROJECT, RUN, dask=client,
                                    dask_transfer=args.transfer, **options)
        wall = time.perf_counter() - t0
        after = client.run(worker_state)
        for address in sorted(after):
            a, b = after[address], before.get(address, {})
            io_a, io_b = a["io"], b.get("io", {})
            workers.append({
                "address": address, "maxrss_kib": a["maxrss_kib"], "openblas": a["openblas"],
                "read_bytes": io_a.get("rchar", 0) - io_b.get("rchar", 0),
                "written_bytes": io_a.get("wchar", 0) - io_b.get("wchar", 0),
                "sent_to_workers_bytes": (a["sent"] or 0) - (b.get("sent") or 0)
                if a["sent"] is not None else None,
                "replaced": address not in before})
        client.close()
        cluster.close()
    wall = time.perf_counter() - t0
    out = {"mode": args.mode, "wall_s": wall, "seconds": report.get("seconds"),
           "stage_seconds": [list(s) for s in report.get("stage_seconds", [])],
           "samples": report.get("samples"),
           "shard_tasks": report.get("shard_tasks"),
           "shard_bytes_written": report.get("shard_bytes_written"),
           "shard_bytes_received": report.get("shard_bytes_received"),
           "driver_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
           "openblas": openblas_kernel(), "workers": workers}
    print(json.dumps(out))
    return 0


def run_child(argv):
    """Runs this script as a child; returns (its JSON, wait4's peak RSS in KiB, seconds)."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *argv], stdout=subprocess.PIPE, text=True)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    secs = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])}: exit {proc.returncode}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return (json.loads(lines[-1]) if lines else None), usage.ru_maxrss, secs


def run_details(root):
    """What the finished run's summaries say about its indexes and map: every
    object with an "nlist" (the drift, map and similarity indexes: nlist,
    nprobe, build and tune seconds) or a "stage_seconds" (the map's pca, knn,
    graph, layout and place seconds), keyed by its path in the summary."""
    import sqlite3
    found = {}

    def walk(node, path):
        if isinstance(node, dict):
            if "nlist" in node or "stage_seconds" in node:
                found[path] = {k: v for k, v in node.items()
                               if not isinstance(v, list) or len(v) <= 16}
            for k, v in node.items():
                walk(v, f"{path}.{k}" if path else k)

    for db in pathlib.Path(root).glob(f"{PROJECT}/{RUN}/sextant.db"):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        for scope, text in con.execute("SELECT scope, json FROM summaries"):
            walk(json.loads(text), scope)
        con.close()
    return found


# ---------------------------------------------------------------- report


def mib(kib):
    return f"{kib / 1024:.0f}"


def markdown(meta, results):
    stages = []
    for r in results:
        for name, _ in r.get("stage_seconds", []):
            if name not in stages:
                stages.append(name)
    local = next((r for r in results if r["mode"] == "local" and "seconds" in r), None)
    head = ["mode", "total s", "overhead", *[f"{s} s" for s in stages], "shard tasks",
            "MB to workers", "MB from workers", "driver peak MiB", "worker peak MiB",
            "worker MB read / written"]
    lines = [f"N = {meta['n']:,} training, {meta['validation']:,} validation, Q = {meta['q']:,} "
             f"inference ({meta['shift_fraction']:.0%} shifted), d = {meta['dim']}; "
             f"{meta['cores']} cores; OpenBLAS kernel: {meta.get('openblas')}; "
             f"options: {json.dumps(meta['options'])}", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        if "missing" in r:
            lines.append(f"| {r['mode']} | missing: {r['missing']} |" + " |" * (len(head) - 2))
            continue
        st = dict(r["stage_seconds"])
        over = (f"{(r['seconds'] / local['seconds'] - 1) * 100:+.0f} %"
                if local and r is not local else "-")
        w = r.get("workers", [])
        cells = [r["mode"], f"{r['seconds']:.1f}", over,
                 *[f"{st[s]:.1f}" if s in st else "-" for s in stages],
                 str(r.get("shard_tasks") or 0),
                 f"{(r.get('shard_bytes_written') or 0) / 1e6:.0f}",
                 f"{(r.get('shard_bytes_received') or 0) / 1e6:.0f}",
                 mib(r["driver_maxrss_kib"]),
                 ", ".join(mib(x["maxrss_kib"]) for x in w) or "-",
                 ", ".join(f"{x['read_bytes'] / 1e6:.0f} / {x['written_bytes'] / 1e6:.0f}"
                           for x in w) or "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_log":
        a = sys.argv[2:]
        log_run(pathlib.Path(a[0]), *(int(x) for x in a[1:5]), float(a[5]))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "_finish":
        ap = argparse.ArgumentParser()
        ap.add_argument("_finish")
        ap.add_argument("--root", required=True)
        ap.add_argument("--mode", required=True)
        ap.add_argument("--options", default="{}")
        ap.add_argument("--transfer", default="shared")
        return finish_child(ap.parse_args())

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="training samples")
    ap.add_argument("--q", type=int, default=100_000, help="inference samples")
    ap.add_argument("--validation", type=int, default=20_000, help="validation samples")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--shift-fraction", type=float, default=0.3,
                    help="part of the inference samples moved off the training clusters")
    ap.add_argument("--modes", default="local,dask-1x2,dask-2x1")
    ap.add_argument("--cores", type=int, default=2, help="threads of the local finish")
    ap.add_argument("--transfer", default="shared", help="dask_transfer: shared or upload")
    ap.add_argument("--no-map", action="store_true", help="finish without the 2-D map")
    default_data = pathlib.Path(os.environ.get("SEXTANT_BENCH_DATA", "/tmp/sextant-bench")) / "dask"
    ap.add_argument("--data", type=pathlib.Path, default=default_data)
    ap.add_argument("--out", type=pathlib.Path, help="where the JSON and markdown go (default: --data)")
    args = ap.parse_args()

    folder = args.data / f"n{args.n}-v{args.validation}-q{args.q}-d{args.dim}"
    logged = folder / "logged"
    marker = folder / "logged.ok"
    if not marker.exists():
        shutil.rmtree(logged, ignore_errors=True)
        logged.mkdir(parents=True)
        _, rss, secs = run_child(["_log", str(logged), str(args.n), str(args.validation),
                                  str(args.q), str(args.dim), str(args.shift_fraction)])
        marker.write_text(json.dumps({"log_s": secs, "log_maxrss_kib": rss}))
        print(f"logged in {secs:.0f} s (peak {rss / 1024:.0f} MiB)", flush=True)

    options = {"threads": args.cores}
    if args.no_map:
        options["compute_map"] = False
    meta = {"n": args.n, "validation": args.validation, "q": args.q, "dim": args.dim,
            "shift_fraction": args.shift_fraction, "cores": args.cores, "options": options,
            "transfer": args.transfer, "nproc": os.cpu_count(), "load": os.getloadavg(),
            "logging": json.loads(marker.read_text()),
            "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    results = []
    for mode in args.modes.split(","):
        work = folder / f"work-{mode}"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(logged, work)  # each finish starts from the same logged run
        child_options = dict(options)
        if mode != "local":
            child_options.pop("threads")  # the workers' threads are the cluster's
        try:
            out, rss, secs = run_child(["_finish", "--root", str(work), "--mode", mode,
                                        "--options", json.dumps(child_options),
                                        "--transfer", args.transfer])
        except RuntimeError as e:
            out, rss, secs = {"mode": mode, "missing": f"failed: {e}"}, 0, 0
        try:
            out["details"] = run_details(work)
        except Exception as e:  # the figures above stand without them
            out["details"] = {"error": str(e)}
        out["child_maxrss_kib"] = rss
        out["child_s"] = secs
        if out.get("openblas") and "openblas" not in meta:
            meta["openblas"] = out["openblas"]
        results.append(out)
        print(json.dumps(out), flush=True)
        shutil.rmtree(work, ignore_errors=True)
    meta["load_after"] = os.getloadavg()
    out_dir = args.out or folder
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "dask_bench.json").write_text(json.dumps({"meta": meta, "results": results},
                                                        indent=1))
    table = markdown(meta, results)
    (out_dir / "dask_bench.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
