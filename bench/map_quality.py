#!/usr/bin/python3
"""Quality and speed of the 2-D map (docs/algorithms.md, "2-D map"). Run by hand, not in `make test`.

Quality: trustworthiness at k = 10 (scikit-learn's sklearn.manifold.trustworthiness, the reference
implementation) of the map a finished run stored, on a seeded sample of its points, for cosine
distances (the engine's) and Euclidean distances in the embedding space. Next to it, on the same
sample, the same score of two baselines: the first two principal components of the unit embeddings,
and (with --tsne) scikit-learn's t-SNE fitted on the sample alone.

    build-map/examples/demo/sextant_demo --root /tmp/mapdemo --project demo --run sentiment \
        --data ../shared/data
    /usr/bin/python3 bench/map_quality.py quality --root /tmp/mapdemo --project demo --run sentiment

Speed: generates clustered embeddings (--points, default 100,000, at each --dims, default 64 and 768),
imports them as one inference set with `sextant import` (an inference set alone has no drift to
compute, so `finish` is the map plus bookkeeping), and prints the map's time and stages as the run
summary records them, with the trustworthiness of that map.

    /usr/bin/python3 bench/map_quality.py speed --sextant build-map/src/cli/sextant

Both print the machine's load average: the figures are wall-clock times on a shared machine.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness


def latest_results(run_dir):
    gens = sorted((run_dir / "results").glob("gen-*"), key=lambda p: int(p.name.split("-")[1]))
    if not gens:
        sys.exit(f"{run_dir}: no results; finish the run first")
    return gens[-1]


def load_run(run_dir):
    """(split names, embeddings, map coordinates, split index per row) of every split."""
    names, emb, xy, which = [], [], [], []
    # Split folders hold embeddings.npy; others (map_model/, span_map_model/) are run-level files.
    for d in sorted(p for p in latest_results(run_dir).iterdir() if (p / "embeddings.npy").exists()):
        if not (d / "map.npy").exists():
            sys.exit(f"{d}: no map.npy (was the run finished with the map off?)")
        names.append(d.name)
        emb.append(np.load(d / "embeddings.npy").astype(np.float32))
        xy.append(np.load(d / "map.npy"))
        which.append(np.full(len(xy[-1]), len(names) - 1))
    return names, np.concatenate(emb), np.concatenate(xy), np.concatenate(which)


def unit(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 0, n, 1)


def scores(x, y, k, tsne, seed):
    """Trustworthiness of the map y of the rows x, and of the baselines on x."""
    rows = [("sextant map (PCA + UMAP)", y)]
    rows.append(("PCA, first two components", PCA(2, random_state=seed).fit_transform(unit(x))))
    if tsne:
        from sklearn.manifold import TSNE
        t0 = time.time()
        t = TSNE(2, metric="cosine", init="pca", random_state=seed).fit_transform(x)
        rows.append((f"sklearn t-SNE on the sample alone ({time.time() - t0:.0f} s)", t))
    out = []
    for name, coords in rows:
        out.append((name, trustworthiness(x, coords, n_neighbors=k, metric="cosine"),
                    trustworthiness(x, coords, n_neighbors=k, metric="euclidean")))
    return out


def print_scores(title, rows, n, k):
    print(f"\n{title}: trustworthiness at k = {k}, {n} sampled points")
    print(f"  {'':48s} {'cosine':>8s} {'euclid':>8s}")
    for name, c, e in rows:
        print(f"  {name:48s} {c:8.4f} {e:8.4f}")


def summary_map(sextant, root, project, run):
    out = subprocess.run([sextant, "summary", "--root", str(root), "--project", project, "--run", run],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["parameters"]["map"]


def map_with_sextant(sextant, x, folder, name):
    """Maps the rows of x with the engine: `sextant import` as one inference set (no
    training split, so no drift), which finishes the run. Returns (map, parameters.map,
    wall seconds of import + finish)."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "emb.npy", x.astype(np.float32))
    np.save(folder / "logits.npy", np.zeros((len(x), 2), np.float32))
    with open(folder / "data.csv", "w") as f:
        f.write("id,text\n")
        for i in range(len(x)):
            f.write(f"s{i},x\n")
    root = folder / "store"
    t0 = time.time()
    subprocess.run([sextant, "import", "--root", str(root), "--project", "bench", "--run", name,
                    "--split", "inference", "--inference-name", "bench", "--data", str(folder / "data.csv"),
                    "--embeddings", str(folder / "emb.npy"), "--logits", str(folder / "logits.npy"),
                    "--labels", "a,b"], check=True, capture_output=True)
    wall = time.time() - t0
    m = summary_map(sextant, root, "bench", name)
    xy = np.load(latest_results(root / "bench" / name) / "inference-bench" / "map.npy")
    return xy, m, wall


def describe(m):
    return (f"{m['points']} points: map {m['seconds']:.1f} s, {m.get('cpu_seconds', float('nan')):.1f} CPU s "
            f"(" + ", ".join(f"{k} {v:.1f} s" for k, v in m["stage_seconds"].items()) + ")")


def quality(a):
    run_dir = pathlib.Path(a.root) / a.project / a.run
    names, emb, xy, which = load_run(run_dir)
    assert np.isfinite(xy).all(), "non-finite map coordinates"
    rng = np.random.default_rng(a.seed)
    print(f"run {run_dir}: {len(emb)} points, width {emb.shape[1]}, splits "
          + ", ".join(f"{n} {np.sum(which == i)}" for i, n in enumerate(names)))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if a.sextant:
        print("the run's map: " + describe(summary_map(a.sextant, a.root, a.project, a.run)))
    training = [i for i, n in enumerate(names) if n == "training"]
    if training:
        pool = np.flatnonzero(which == training[0])
        idx = np.sort(rng.choice(pool, min(a.sample, len(pool)), replace=False))
        print_scores("training split", scores(emb[idx], xy[idx], a.k, a.tsne, a.seed), len(idx), a.k)
    idx = np.sort(rng.choice(len(emb), min(a.sample, len(emb)), replace=False))
    print_scores("all splits together", scores(emb[idx], xy[idx], a.k, a.tsne, a.seed), len(idx), a.k)
    if a.refit:
        # The same sample mapped alone: its 10 nearest neighbours are then the
        # points the map was built on, a stricter test of local structure.
        with tempfile.TemporaryDirectory(prefix="sextant-map-refit-") as tmp:
            refit, m, _ = map_with_sextant(a.refit, emb[idx], pathlib.Path(tmp), "refit")
        print_scores("the same sample mapped alone (" + describe(m) + ")",
                     scores(emb[idx], refit, a.k, False, a.seed)[:1], len(idx), a.k)


def clustered(n, d, clusters, seed):
    """Gaussian clusters of unequal sizes and spreads around random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d)).astype(np.float32)
    sizes = rng.dirichlet(np.full(clusters, 2.0))
    label = rng.choice(clusters, size=n, p=sizes)
    spread = rng.uniform(0.3, 0.8, size=clusters).astype(np.float32)
    x = centres[label] + spread[label, None] * rng.normal(size=(n, d)).astype(np.float32)
    return x.astype(np.float32), label


def speed(a):
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="sextant-map-bench-") as tmp:
        for d in a.dims:
            x, _ = clustered(a.points, d, a.clusters, a.seed)
            xy, m, wall = map_with_sextant(a.sextant, x, pathlib.Path(tmp) / f"d{d}", f"d{d}")
            rng = np.random.default_rng(a.seed)
            idx = np.sort(rng.choice(a.points, min(a.sample, a.points), replace=False))
            tw = trustworthiness(x[idx], xy[idx], n_neighbors=a.k, metric="cosine")
            print(f"\nd = {d}, {a.clusters} clusters, " + describe(m) + f"; import + finish {wall:.1f} s")
            print(f"  pca {m['pca_dims']} dims ({m['pca_explained_variance']:.3f} of the variance), "
                  f"{m['edges']} graph edges, {m['epochs']} epochs; trustworthiness at k = {a.k} "
                  f"(cosine, {len(idx)} points): {tw:.4f}")
            print(f"  load average now {os.getloadavg()[0]:.1f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quality", help="trustworthiness of a finished run's map")
    q.add_argument("--root", required=True)
    q.add_argument("--project", required=True)
    q.add_argument("--run", required=True)
    q.add_argument("--sextant", help="the sextant binary, to print the map's recorded time")
    q.add_argument("--tsne", action="store_true", help="also score sklearn's t-SNE on the sample")
    q.add_argument("--refit", metavar="SEXTANT",
                   help="also map the sample alone with this sextant binary and score that map")
    s = sub.add_parser("speed", help="time the map on generated clustered embeddings")
    s.add_argument("--sextant", required=True)
    s.add_argument("--points", type=int, default=100_000)
    s.add_argument("--dims", type=int, nargs="+", default=[64, 768])
    s.add_argument("--clusters", type=int, default=50)
    for c in (q, s):
        c.add_argument("--sample", type=int, default=5000, help="points scored (default 5000)")
        c.add_argument("--k", type=int, default=10)
        c.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    quality(a) if a.cmd == "quality" else speed(a)


if __name__ == "__main__":
    main()
