#!/usr/bin/env python3
"""The cost model of docs/scaling.md, from a bench/dask_bench.py JSON.

Scales each measured stage of the single-machine finish (mode "local") to a
target size and worker count by the stage's own rule (docs/scaling.md,
"The model"), and prints the table in markdown:

    bench/scaling_model.py DASK_BENCH_JSON [--n 10000000] [--q 100000000] [--v 200000]
                           [--dim 64] [--workers 8,32,128] [--worker-cores 8]
                           [--worker-gb 32] [--driver-cores 16] [--link-gbs 1.25]
                           [--fs-gbs 10]

Every figure it prints is a product of a measured stage time and a ratio of
sizes; nothing else is fitted.
"""

import argparse
import json
import math


def stage(report, prefix):
    return sum(s for name, s in report["stage_seconds"] if name.startswith(prefix))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json")
    ap.add_argument("--n", type=float, default=10e6)
    ap.add_argument("--q", type=float, default=100e6)
    ap.add_argument("--v", type=float, default=200e3)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--workers", default="8,32,128")
    ap.add_argument("--worker-cores", type=int, default=8)
    ap.add_argument("--worker-gb", type=float, default=32)
    ap.add_argument("--driver-cores", type=int, default=16)
    ap.add_argument("--link-gbs", type=float, default=1.25, help="each machine's network, GB/s")
    ap.add_argument("--fs-gbs", type=float, default=10, help="the shared store's aggregate reads, GB/s")
    ap.add_argument("--probe-rule", choices=["fraction", "fixed"], default="fraction",
                    help="drift scoring: the probed fraction of cells kept (cost x N) or nprobe kept "
                         "(x sqrt(N))")
    ap.add_argument("--map-layout-s", type=float,
                    help="when the JSON's finish had no map: the layout's seconds (driver)")
    ap.add_argument("--map-place-core-ms", type=float,
                    help="when the JSON's finish had no map: placement core-milliseconds per row")
    a = ap.parse_args()

    data = json.load(open(a.json))
    meta = data["meta"]
    local = next(r for r in data["results"] if r["mode"] == "local")
    cores = meta["cores"]
    n0, q0, v0, d0 = meta["n"], meta["q"], meta["validation"], meta["dim"]
    rows0, rows = n0 + v0 + q0, a.n + a.v + a.q
    dim_ratio = a.dim / d0
    mp = local.get("details", {}).get("run.parameters.map", {}).get("stage_seconds", {})
    layout_points = local.get("details", {}).get("run.parameters.map", {}).get("layout_points",
                                                                                100_000)
    place0 = mp.get("place", 0.0)
    map_fixed = stage(local, "2-D map") - place0  # pca fit, knn graph, layout: fixed size
    if a.map_layout_s is not None:
        map_fixed = a.map_layout_s
    if a.map_place_core_ms is not None:  # as if measured on this run's placed rows
        place0 = a.map_place_core_ms / 1000 * (rows0 - layout_points) / cores
    def row(w):
        wc = w * a.worker_cores  # worker cores in all
        out = {}
        # Driver, linear in rows (join, summaries, commit; at the measured width), and
        # taken as no faster on the driver's more cores: the conservative reading.
        grow = rows / rows0
        out["join outputs and per-sample metrics"] = stage(local, "join") * grow
        # Map: the layout is fixed-size (max_points); placement is sharded, linear in rows.
        out["2-D map: layout (driver)"] = map_fixed
        out["2-D map: placement (workers)"] = (place0 * cores * (rows - layout_points)
                                               / max(rows0 - layout_points, 1) / wc)
        # Drift index on the driver: k-means on a fixed sample plus adding N rows to
        # sqrt(N) cells: N^1.5 x d, on the driver's cores.
        out["drift index (driver)"] = (stage(local, "drift index") * cores / a.driver_cores
                                       * (a.n / n0) ** 1.5 * dim_ratio)
        # Drift scoring, sharded: (V + Q) rows x (nlist + nprobe N / nlist) x d. With the
        # measured run's probed fraction nprobe / nlist kept (the tuning keeps the flags'
        # agreement, and a data set that needed many probes at 1M needs them at 10M), the
        # cost per row grows as N: the conservative reading (a fixed nprobe: sqrt(N)).
        n_rule = a.n / n0 if a.probe_rule == "fraction" else math.sqrt(a.n / n0)
        out["drift scoring (workers)"] = (stage(local, "drift scoring") * cores
                                          * (a.q + a.v) / (q0 + v0) * n_rule
                                          * dim_ratio / wc)
        # The domain test fits on a capped sample (5,000 a side): fixed; the performance
        # estimate reads every inference row: linear in Q.
        out["domain test (driver)"] = stage(local, "domain")
        out["performance estimate (driver)"] = stage(local, "performance") * a.q / q0
        # Similarity index (cells = 2 sqrt(rows)): inner products at the measured size,
        # from the code: hierarchical k-means 84,680 x 2 sqrt(2,117) x 10 = 0.08 G, recall
        # estimate 512 x rows = 0.57 G (both on the driver, ~linear in rows), assignment
        # rows x cells = 2.37 G (sharded, rows^1.5): 21.5 % driver, 78.5 % workers.
        sim = stage(local, "similarity index")
        out["similarity index: k-means, recall (driver)"] = sim * 0.215 * grow * dim_ratio
        out["similarity index: assignment (workers)"] = (sim * 0.785 * cores * (rows / rows0) ** 1.5
                                                         * dim_ratio / wc)
        out["summaries + commit (driver)"] = ((stage(local, "summaries") + stage(local, "commit"))
                                              * grow)
        # Bytes: the training index once per worker, every row once per stage that reads it.
        index_gb = a.n * (4 * a.dim + 8) / 1e9
        rows_gb = rows * 4 * a.dim / 1e9
        moved = w * index_gb + (a.q + a.v) * 4 * a.dim / 1e9 + 2 * rows_gb
        out["_bytes_gb"] = moved
        out["_transfer_s_shared"] = max(moved / a.fs_gbs, (index_gb + 3 * rows_gb / w) / a.link_gbs)
        out["_transfer_s_upload"] = moved / a.link_gbs  # all through the driver's link
        out["_worker_gb"] = index_gb + 0.3
        out["_driver_gb"] = local["driver_maxrss_kib"] * 1024 / 1e9 * grow
        return out

    ws = [int(x) for x in a.workers.split(",")]
    table = {w: row(w) for w in ws}
    names = [k for k in table[ws[0]] if not k.startswith("_")]
    print(f"| stage | " + " | ".join(f"{w} workers" for w in ws) + " |")
    print("|---|" + "---|" * len(ws))
    for k in names:
        print(f"| {k} | " + " | ".join(f"{table[w][k]:,.0f} s" for w in ws) + " |")
    totals = {w: sum(v for k, v in table[w].items() if not k.startswith("_")) for w in ws}
    print("| **total compute** | " + " | ".join(f"**{totals[w]:,.0f} s**" for w in ws) + " |")
    driver = {w: sum(v for k, v in table[w].items() if "driver" in k or k.startswith("join")
                     or k.startswith("summaries")) for w in ws}
    print("| of which the driver | " + " | ".join(f"{driver[w]:,.0f} s" for w in ws) + " |")
    print("| bytes moved (shared path) | " + " | ".join(f"{table[w]['_bytes_gb']:,.0f} GB" for w in ws) + " |")
    print("| transfer, shared path | " + " | ".join(f"{table[w]['_transfer_s_shared']:,.0f} s" for w in ws) + " |")
    print("| transfer, upload mode | " + " | ".join(f"{table[w]['_transfer_s_upload']:,.0f} s" for w in ws) + " |")
    print("| memory per worker | " + " | ".join(f"{table[w]['_worker_gb']:.1f} GB" for w in ws) + " |")
    print("| driver memory | " + " | ".join(f"{table[w]['_driver_gb']:.0f} GB" for w in ws) + " |")


if __name__ == "__main__":
    main()
