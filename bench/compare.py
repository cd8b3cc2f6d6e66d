#!/usr/bin/python3
"""The reference side of `make bench` (bench/run.sh): python3-faiss, scikit-learn and hnswlib on the same .npy
arrays Sextant's C++ benchmarks used in the same run, and the table that compares them.

    compare.py report --plan PLAN.json       prints the table (and writes RESULTS/summary.json)
    compare.py worker LIB ...                one measurement in a child process (used by `report`)

`report` reads what bench/run.sh left in the results folder (one JSON per C++ measurement, with the k-core
distances and neighbour lists Sextant computed), runs every library measurement in its own child process (so that
each peak resident memory, from wait4, is its own), and computes recall@k and drifted-flag agreement against exact
answers from python3-faiss IndexFlatIP. Exact answers that are expensive and depend only on the data (the
leave-one-out search of a whole training set) are cached next to the data and reused by later runs; every timing
in the table is measured in this run.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

K = 10


# ---------------------------------------------------------------------------------------------------------------
# Workers: each runs in its own process and prints one JSON object.

def blas_info():
    try:
        from threadpoolctl import threadpool_info
        return [{k: v for k, v in i.items() if k in ("internal_api", "architecture", "num_threads", "version")}
                for i in threadpool_info()]
    except ImportError:  # numpy's own description of its BLAS
        import io
        import contextlib
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            np.show_config()
        return buf.getvalue()


def load_unit(path, rows=None):
    """Rows [0, rows) of a .npy as a fresh, writable, C-contiguous float32 array of unit rows."""
    import faiss
    a = np.load(path, mmap_mode="r")
    x = np.array(a[:rows] if rows else a, dtype=np.float32, copy=True)
    faiss.normalize_L2(x)
    return x


def flat_index(path, dim_block=100000):
    import faiss
    a = np.load(path, mmap_mode="r")
    index = faiss.IndexFlatIP(a.shape[1])
    for s in range(0, a.shape[0], dim_block):
        x = np.array(a[s:s + dim_block], dtype=np.float32, copy=True)
        faiss.normalize_L2(x)
        index.add(x)
    return index


def worker_faiss(args):
    import faiss
    faiss.omp_set_num_threads(args.threads)
    t = time.perf_counter()
    index = flat_index(args.train)
    out = {"lib": "faiss", "index_s": time.perf_counter() - t, "faiss_threads": faiss.omp_get_max_threads()}
    arrays = {}
    if args.nq:
        q = load_unit(args.queries, args.nq)
        t = time.perf_counter()
        d, i = index.search(q, args.k)
        out["search_s"] = time.perf_counter() - t
        out["queries"] = len(q)
        arrays["D"], arrays["I"] = d, i
    if args.loo_rows:
        r = load_unit(args.train, args.loo_rows)
        t = time.perf_counter()
        d, i = index.search(r, args.k + 1)
        out["loo_s"] = time.perf_counter() - t
        out["loo_rows"] = len(r)
        arrays["DR"], arrays["IR"] = d, i
    if args.out:
        np.savez(args.out, **arrays)
    return out


def worker_sklearn(args):
    from sklearn.neighbors import NearestNeighbors
    train = np.load(args.train, mmap_mode="r")
    x = np.array(train, dtype=np.float32, copy=True)
    q = np.array(np.load(args.queries, mmap_mode="r")[:args.nq], dtype=np.float32, copy=True)
    t = time.perf_counter()
    nn = NearestNeighbors(n_neighbors=args.k, algorithm="brute", metric="cosine", n_jobs=args.threads).fit(x)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    _, i = nn.kneighbors(q)
    out = {"lib": "sklearn", "fit_s": fit_s, "search_s": time.perf_counter() - t, "queries": len(q)}
    if args.out:
        np.savez(args.out, I=i)
    return out


def worker_hnswlib(args):
    import hnswlib
    x = load_unit(args.train)
    q = load_unit(args.queries, args.nq)
    index = hnswlib.Index(space="ip", dim=x.shape[1])
    t = time.perf_counter()
    index.init_index(max_elements=len(x), M=args.M, ef_construction=args.ef_construction, random_seed=1)
    index.set_num_threads(args.threads)
    index.add_items(x, np.arange(len(x)))
    build_s = time.perf_counter() - t
    index.set_ef(args.ef)
    t = time.perf_counter()
    i, d = index.knn_query(q, k=args.k)
    out = {"lib": "hnswlib", "build_s": build_s, "search_s": time.perf_counter() - t, "queries": len(q),
           "M": args.M, "ef_construction": args.ef_construction, "ef": args.ef}
    if args.out:
        np.savez(args.out, I=i.astype(np.int64), D=d)
    return out


def worker_main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("lib", choices=["faiss", "sklearn", "hnswlib", "blas"])
    p.add_argument("--train")
    p.add_argument("--queries")
    p.add_argument("--nq", type=int, default=0)
    p.add_argument("--loo-rows", type=int, default=0)
    p.add_argument("--k", type=int, default=K)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--out")
    p.add_argument("--M", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=100)
    p.add_argument("--ef", type=int, default=64)
    a = p.parse_args(argv)
    if a.lib == "blas":
        out = {"lib": "blas"}
    else:
        out = {"faiss": worker_faiss, "sklearn": worker_sklearn, "hnswlib": worker_hnswlib}[a.lib](a)
    import resource
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out["blas"] = blas_info()
    out["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE")
    out["OPENBLAS_L2_SIZE"] = os.environ.get("OPENBLAS_L2_SIZE")
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------------------------------
# The report.

def run_worker(args, unset_blas_env=False):
    """Runs `compare.py worker ARGS` in a child process; its JSON plus its own peak memory (wait4)."""
    env = dict(os.environ)
    if unset_blas_env:  # this command only: OpenBLAS picks its kernel by itself
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    cmd = [sys.executable, os.path.abspath(__file__), "worker"] + [str(a) for a in args]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with status {status}")
    res = json.loads(out)
    res["peak_rss_mib"] = usage.ru_maxrss / 1024.0
    res["wall_s"] = time.perf_counter() - t
    return res


def cached_exact(plan, train, queries, nq, loo_rows, tag):
    """Exact answers (faiss IndexFlatIP) for the first nq queries and the first loo_rows training rows, cached."""
    cache = pathlib.Path(plan["data"]) / "cache"
    cache.mkdir(exist_ok=True)
    st = [os.stat(train), os.stat(queries)]
    key = f"{tag}_{pathlib.Path(train).stem}_{st[0].st_size}_{int(st[0].st_mtime)}_" \
          f"{pathlib.Path(queries).stem}_{st[1].st_size}_{int(st[1].st_mtime)}_{nq}_{loo_rows}_{K}.npz"
    path = cache / key
    info = None
    if not path.exists():
        info = run_worker(["faiss", "--train", train, "--queries", queries, "--nq", nq, "--loo-rows", loo_rows,
                           "--threads", plan["threads"], "--out", path])
    return np.load(path), info


def recall(got, truth):
    got = np.asarray(got).reshape(len(truth), -1)[:, :truth.shape[1]]
    hits = sum(len(set(g[g >= 0]) & set(t[t >= 0])) for g, t in zip(got, truth))
    return hits / truth.size


def load_cpp(results, name):
    p = pathlib.Path(results) / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def load_best(results, name, keys):
    """The runs NAME_1.json, NAME_2.json, ... (or NAME.json) merged: the least of each timing in `keys`."""
    runs = [json.loads(p.read_text()) for p in sorted(pathlib.Path(results).glob(f"{name}_[0-9]*.json"))]
    if not runs:
        one = load_cpp(results, name)
        return one
    best = dict(runs[0])
    for key in keys:
        best[key] = min(r[key] for r in runs)
    best["repeats"] = len(runs)
    best["all_runs"] = [{key: r[key] for key in keys} for r in runs]
    return best


def fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)


def report(plan_path):
    plan = json.loads(pathlib.Path(plan_path).read_text())
    res = pathlib.Path(plan["results"])
    T = plan["threads"]
    data = plan["data"]
    f = lambda name: os.path.join(data, name)
    rows = []          # the table: (scenario, what, seconds, ratio, recall, agreement, peak MiB, note)
    summary = {"plan": plan}

    def add(scn, what, sec=None, ratio=None, rec=None, agree=None, mem=None, note=""):
        rows.append((scn, what, sec, ratio, rec, agree, mem, note))

    # Kernels.
    blas_set = run_worker(["blas"])
    blas_unset = run_worker(["blas"], unset_blas_env=True)
    summary["python_blas"] = {"as_set": blas_set, "unset": blas_unset}

    # A. Exact path: Sextant's exact scoring vs the raw Faiss flat search it performs.
    a = plan["exact"]
    cpp_keys = ["faiss_flat_search_s", "sextant_exact_scoring_s"]
    ex_set = load_best(res, "exact_asset", cpp_keys)
    ex_unset = load_best(res, "exact_unset", cpp_keys)
    if ex_set:
        ex_set["ratio"] = ex_set["sextant_exact_scoring_s"] / ex_set["faiss_flat_search_s"]
    if ex_unset:
        ex_unset["ratio"] = ex_unset["sextant_exact_scoring_s"] / ex_unset["faiss_flat_search_s"]
    summary["exact"] = {"cpp_as_set": ex_set, "cpp_unset": ex_unset}
    scn = f"A exact Q={a['nq']:,} N={a['n']:,}"
    for tag, ex, unset in (("as set", ex_set, False), ("unset", ex_unset, True)):
        if not ex:
            continue
        add(scn, f"C++ Faiss IndexFlatIP search [{tag}: {ex['env']['openblas_core']}]", ex["faiss_flat_search_s"],
            mem=None)
        add(scn, f"Sextant exact drift scoring [{tag}]", ex["sextant_exact_scoring_s"],
            ex["sextant_exact_scoring_s"] / ex["faiss_flat_search_s"], mem=ex["env"]["peak_rss_mib"],
            note=f"ratio vs C++ Faiss, same process, best of {ex.get('repeats', 1)} alternated "
                 f"(target <= 1.2)")
        py = load_best(res, "exact_py_" + ("unset" if unset else "asset"), ["search_s"]) or \
            run_worker(["faiss", "--train", f(a["train"]), "--queries", f(a["queries"]), "--nq", a["nq"],
                        "--threads", T], unset_blas_env=unset)
        summary["exact"][f"py_faiss_{tag}"] = py
        add(scn, f"python3-faiss IndexFlatIP search [{tag}]", py["search_s"],
            ex["sextant_exact_scoring_s"] / py["search_s"], mem=py["peak_rss_mib"], note="ratio = Sextant / this")
    sk_nq = a["sklearn_nq"]
    sk = run_worker(["sklearn", "--train", f(a["train"]), "--queries", f(a["queries"]), "--nq", sk_nq,
                     "--threads", T])
    summary["exact"]["sklearn"] = sk
    sk_scaled = sk["search_s"] * a["nq"] / sk_nq
    if ex_set:
        add(scn, f"sklearn brute cosine (measured on {sk_nq:,} queries, x{a['nq'] / sk_nq:g})", sk_scaled,
            ex_set["sextant_exact_scoring_s"] / sk_scaled, mem=sk["peak_rss_mib"], note="ratio = Sextant / this")

    # B. Default path, Q vs N (same size): Sextant's automatic (IVF) path against exact Faiss, sklearn, hnswlib.
    b = plan["default"]
    dr = load_cpp(res, "drift_default")
    summary["default"] = {"cpp": dr}
    scn = f"B default Q={b['nq']:,} N={b['n']:,}"
    if dr:
        gt, gt_info = cached_exact(plan, f(b["train"]), f(b["queries"]), b["gt_nq"], b["gt_ref_rows"],
                                   "default")
        summary["default"]["exact_gt"] = gt_info
        # Faiss flat, measured in this run on a query sample and scaled (the search is linear in Q).
        fl = load_cpp(res, "default_py_asset") or \
            run_worker(["faiss", "--train", f(b["train"]), "--queries", f(b["queries"]), "--nq", b["faiss_nq"],
                        "--threads", T])
        fl_unset = load_cpp(res, "default_py_unset") or \
            run_worker(["faiss", "--train", f(b["train"]), "--queries", f(b["queries"]),
                        "--nq", b["faiss_nq"], "--threads", T], unset_blas_env=True)
        summary["default"]["py_faiss"] = {"as_set": fl, "unset": fl_unset}
        scale = b["nq"] / b["faiss_nq"]
        flat_q = fl["search_s"] * scale
        flat_q_unset = fl_unset["search_s"] * scale
        # The exact drift computation is two such searches: the training leave-one-out reference and the queries.
        ref_rows = dr["reference_rows"]
        flat_drift = flat_q * (1 + ref_rows / b["nq"])
        kc = np.load(res / "drift_default" / "kcore.npy").ravel()
        refk = np.load(res / "drift_default" / "ref_kcore.npy").ravel()
        labels = np.load(res / "drift_default" / "labels.npy").reshape(-1, K)
        n_gt = min(len(gt["I"]), len(labels))
        exact_ref = 1 - gt["DR"][:ref_rows, K]  # the k-th other row: the row itself comes first
        assert len(exact_ref) == ref_rows, "the exact reference must cover Sextant's reference rows"
        thr_exact = float(np.percentile(exact_ref, 100 * plan["percentile"]))
        ex_kc = 1 - gt["D"][:, K - 1]
        agree = float(np.mean((ex_kc > thr_exact) == (kc[:len(ex_kc)] > dr["threshold"])))
        rec = recall(labels[:n_gt], gt["I"][:n_gt])
        idx = dr["index"]
        add(scn, f"Sextant default: {dr['index']['method']} nlist={idx['nlist']} nprobe={idx['nprobe']}, "
                 f"index {dr['index_s']:.1f} s + reference ({ref_rows:,} rows) {dr['reference_s']:.1f} s + "
                 f"scoring {dr['score_s']:.1f} s", dr["total_s"], None, rec, agree, dr["env"]["peak_rss_mib"],
            f"recall on {n_gt:,} queries, agreement on {len(ex_kc):,}; exact threshold from all "
            f"{ref_rows:,} reference rows")
        add(scn, f"Faiss IndexFlatIP, Q={b['nq']:,} (measured on {b['faiss_nq']:,}, x{scale:g}) [as set]", flat_q,
            flat_q / dr["score_s"], 1.0, None, fl["peak_rss_mib"], "ratio = this / Sextant scoring (target >= 5)")
        add(scn, f"Faiss IndexFlatIP, Q={b['nq']:,} [unset: kernel {kernel(fl_unset)}]", flat_q_unset,
            flat_q_unset / dr["score_s"], 1.0, None, fl_unset["peak_rss_mib"], "ratio = this / Sextant scoring")
        add(scn, "Faiss IndexFlatIP, whole exact drift (reference + queries) [as set]", flat_drift,
            flat_drift / dr["total_s"], note="ratio = this / Sextant total (index build included)")
        if gt_info:
            add(scn, f"  (exact leave-one-out of {ref_rows:,} rows, measured for the ground truth)",
                gt_info["loo_s"], mem=gt_info["peak_rss_mib"])
        skb_nq = b["sklearn_nq"]
        skb = run_worker(["sklearn", "--train", f(b["train"]), "--queries", f(b["queries"]), "--nq", skb_nq,
                          "--threads", T])
        sk_q = skb["search_s"] * b["nq"] / skb_nq
        summary["default"]["sklearn"] = skb
        add(scn, f"sklearn brute cosine, Q={b['nq']:,} (measured on {skb_nq:,}, x{b['nq'] / skb_nq:g})", sk_q,
            sk_q / dr["score_s"], mem=skb["peak_rss_mib"], note="ratio = this / Sextant scoring (target >= 20)")
        add(scn, "sklearn, whole exact drift (reference + queries)", sk_q * (1 + ref_rows / b["nq"]),
            sk_q * (1 + ref_rows / b["nq"]) / dr["total_s"], note="ratio = this / Sextant total")
        hn = run_worker(["hnswlib", "--train", f(b["train"]), "--queries", f(b["queries"]), "--nq", b["hnsw_nq"],
                         "--threads", T, "--out", res / "hnsw.npz"])
        summary["default"]["hnswlib"] = hn
        hi = np.load(res / "hnsw.npz")["I"]
        hn_q = hn["search_s"] * b["nq"] / b["hnsw_nq"]
        add(scn, f"hnswlib M={hn['M']} efC={hn['ef_construction']} ef={hn['ef']}: build {hn['build_s']:.1f} s + "
                 f"Q={b['nq']:,} queries (measured on {b['hnsw_nq']:,})", hn["build_s"] + hn_q,
            (hn["build_s"] + hn_q) / (dr["index_s"] + dr["score_s"]),
            recall(hi[:n_gt], gt["I"][:n_gt]), None, hn["peak_rss_mib"],
            "ratio = this / Sextant (index + scoring)")

    # C. Large: Q vs N = 1M, with exact answers for a query sample and a reference sample.
    c = plan.get("large")
    dl = load_cpp(res, "drift_large") if c else None
    summary["large"] = {"cpp": dl}
    if dl:
        scn = f"C large Q={c['nq']:,} N={c['n']:,}"
        gt, gt_info = cached_exact(plan, f(c["train"]), f(c["queries"]), c["gt_nq"], c["gt_ref_rows"], "large")
        summary["large"]["exact_gt"] = gt_info
        kc = np.load(res / "drift_large" / "kcore.npy").ravel()
        refk = np.load(res / "drift_large" / "ref_kcore.npy").ravel()
        labels = np.load(res / "drift_large" / "labels.npy").reshape(-1, K)
        n_gt = min(len(gt["I"]), len(labels))
        exact_ref = 1 - gt["DR"][:, K]
        thr_exact = float(np.percentile(exact_ref, 100 * plan["percentile"]))
        ex_kc = 1 - gt["D"][:, K - 1]
        agree = float(np.mean((ex_kc > thr_exact) == (kc[:len(ex_kc)] > dl["threshold"])))
        agree_same = float(np.mean((ex_kc > dl["threshold"]) == (kc[:len(ex_kc)] > dl["threshold"])))
        idx = dl["index"]
        add(scn, f"Sextant default: {idx['method']} nlist={idx['nlist']} nprobe={idx['nprobe']}, index "
                 f"{dl['index_s']:.1f} s + reference ({dl['reference_rows']:,} rows) {dl['reference_s']:.1f} s + "
                 f"scoring {dl['score_s']:.1f} s", dl["total_s"], None, recall(labels[:n_gt], gt["I"][:n_gt]),
            agree, dl["env"]["peak_rss_mib"],
            f"target < 120 s; exact on {len(ex_kc):,} queries, exact threshold from {len(exact_ref):,} of the "
            f"reference rows (agreement at Sextant's threshold: {agree_same:.4f})")
        if gt_info:
            add(scn, f"Faiss IndexFlatIP, {c['gt_nq']:,} queries (the exact sample)", gt_info["search_s"],
                gt_info["search_s"] * c["nq"] / c["gt_nq"] / dl["score_s"], mem=gt_info["peak_rss_mib"],
                note=f"ratio = this x{c['nq'] / c['gt_nq']:g} / Sextant scoring")

    # R. The demo model's real embeddings: Sextant's approximate path against its exact one.
    dm = plan.get("demo") or {}
    de, da = load_cpp(res, "demo_exact"), load_cpp(res, "demo_approximate")
    summary["demo"] = {"exact": de, "approximate": da}
    if de and da:
        scn = f"R demo embeddings Q={de['queries']:,} N={de['train_rows']:,} d={de['dim']}"
        ke = np.load(res / "demo_exact" / "kcore.npy").ravel()
        ka = np.load(res / "demo_approximate" / "kcore.npy").ravel()
        le = np.load(res / "demo_exact" / "labels.npy").reshape(-1, K)
        la = np.load(res / "demo_approximate" / "labels.npy").reshape(-1, K)
        agree = float(np.mean((ke > de["threshold"]) == (ka > da["threshold"])))
        add(scn, f"Sextant exact (Faiss flat): index + reference + scoring", de["total_s"],
            mem=de["env"]["peak_rss_mib"], note=f"{de['drifted'] / de['queries']:.3f} of the set drifted")
        ia = da["index"]
        add(scn, f"Sextant approximate: nlist={ia['nlist']} nprobe={ia['nprobe']}", da["total_s"],
            de["total_s"] / da["total_s"], recall(la, le), agree, da["env"]["peak_rss_mib"],
            f"ratio = exact / approximate; recall and agreement against the exact path "
            f"({da['drifted'] / da['queries']:.3f} drifted)")

    # D. Similarity service and finish, C++ only.
    sim = load_cpp(res, "similarity")
    summary["similarity"] = sim
    if sim:
        scn = f"D similarity N={sim['rows']:,}"
        for q in sim["queries"]:
            add(scn, f"{q['name']}: p50 {q['p50_ms']:.2f} ms, p99 {q['p99_ms']:.2f} ms, max {q['max_ms']:.2f} ms "
                     f"({q['count']} queries)", q["p99_ms"] / 1000.0, None, q.get("recall"), None, None,
                "seconds = p99 (target < 10 ms)")
        add(scn, f"index build {sim['index']['build_s']:.1f} s (nlist={sim['index']['nlist']}, nprobe="
                 f"{sim['index']['nprobe']}), written + read back {sim['load_s']:.1f} s", sim["index"]["build_s"],
            mem=sim["env"]["peak_rss_mib"])
    fin = load_cpp(res, "finish")
    summary["finish"] = fin
    if fin:
        scn = f"E finish {fin['training']:,} + {fin['inference']:,} samples, d={fin['dim']}"
        add(scn, f"finish end to end (logging {fin['log_s']:.1f} s before it, not included)", fin["finish_s"],
            mem=fin["env"]["peak_rss_mib"])
        for stage, sec in fin["stages"]:
            add(scn, f"  {stage}", sec, note=f"{100 * sec / fin['finish_s']:.1f}% of finish")

    # Print.
    print()
    print(f"Sextant drift benchmarks: k={K}, threads={T}, data in {data}")
    print(f"OpenBLAS kernel: C++ {kernel_cpp(ex_set)} with OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}"
          f" OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')}; {kernel_cpp(ex_unset)} with both unset. "
          f"numpy/python3-faiss: {kernel(blas_set)} as set, {kernel(blas_unset)} unset.")
    print(f"load: {plan.get('uptime_before', '?')}  ->  {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print()
    head = ("scenario", "measurement", "seconds", "ratio", "recall@10", "agreement", "peak MiB", "note")
    w = [max(len(head[0]), max((len(r[0]) for r in rows), default=0)),
         max(len(head[1]), max((len(r[1]) for r in rows), default=0))]
    print(f"{head[0]:<{w[0]}}  {head[1]:<{w[1]}}  {head[2]:>9}  {head[3]:>7}  {head[4]:>9}  {head[5]:>9}  "
          f"{head[6]:>8}  {head[7]}")
    last = None
    for r in rows:
        scn = r[0] if r[0] != last else ""
        last = r[0]
        print(f"{scn:<{w[0]}}  {r[1]:<{w[1]}}  {fmt(r[2], '9.3f')}  {fmt(r[3], '7.2f')}  {fmt(r[4], '9.4f')}  "
              f"{fmt(r[5], '9.4f')}  {fmt(r[6], '8.0f')}  {r[7]}")
    summary["table"] = rows
    (res / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"\n(all figures: {res / 'summary.json'})")


def kernel(worker_out):
    b = worker_out.get("blas") if worker_out else None
    if isinstance(b, list):
        arch = sorted({i.get("architecture") for i in b if i.get("internal_api") == "openblas"} - {None})
        return "/".join(arch) if arch else "?"
    return "see numpy.show_config"


def kernel_cpp(ex):
    return ex["env"]["openblas_core"] if ex else "?"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_main(sys.argv[2:])
        return
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["report"])
    p.add_argument("--plan", required=True)
    a = p.parse_args()
    report(a.plan)


if __name__ == "__main__":
    main()
