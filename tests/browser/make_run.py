#!/usr/bin/env python3
"""Makes a small demo-like run for the browser test with the real `sextant` CLI.

usage: make_run.py SEXTANT_BIN ROOT WORKDIR [SCALE]

SCALE (default 1) multiplies the sizes: 900 training, 200 validation, 600 production.

Clustered Gaussian embeddings, one cluster per class (as tests/e2e/conftest.py), logits
that mostly agree with the label; training, validation and a production set
(inference:prod_1) of which about a third is shifted away from training (drift).
A `source` column becomes sample metadata.
"""
import csv
import pathlib
import subprocess
import sys

import numpy as np

LABELS = ["negative", "neutral", "positive"]
WORDS = {
    "negative": ["awful", "boring", "broken", "dull"],
    "neutral": ["plain", "average", "usual", "ordinary"],
    "positive": ["great", "lovely", "superb", "fun"],
}
DIM = 16


def write(folder, name, n, seed, centres, direction, drift_share=0.0, labeled=True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(LABELS), size=n)
    emb = centres[y] + rng.normal(scale=1.0, size=(n, DIM))
    drifted = rng.random(n) < drift_share
    emb[drifted] += 6.0 * direction
    logits = rng.normal(scale=1.0, size=(n, len(LABELS)))
    logits[np.arange(n), y] += rng.uniform(0.0, 3.0, size=n)
    ids = [f"{name}-{i}" for i in range(n)]
    texts = []
    for i in range(n):
        word = WORDS[LABELS[y[i]]][int(rng.integers(0, 4))]
        extra = " about crypto refunds" if drifted[i] else ""
        texts.append(f"Sample {i}: a {word} {name} review{extra}, row {i}")
    data = folder / f"{name}.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "source"] + (["label"] if labeled else []))
        for i in range(n):
            row = [ids[i], texts[i], "app" if i % 2 else "web"]
            w.writerow(row + ([LABELS[y[i]]] if labeled else []))
    np.save(folder / f"{name}.emb.npy", emb.astype(np.float32))
    np.save(folder / f"{name}.logits.npy", logits.astype(np.float32))
    return data, folder / f"{name}.emb.npy", folder / f"{name}.logits.npy"


def main():
    binary, root, work = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    scale = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    n = lambda k: max(10, int(k * scale))
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(len(LABELS), DIM)) * 3.0
    d = rng.normal(size=DIM)
    direction = d / np.linalg.norm(d)
    sets = [
        ("training", "training", None, write(work, "train", n(900), 1, centres, direction)),
        ("validation", "validation", None, write(work, "val", n(200), 2, centres, direction)),
        ("inference", "inference", "prod_1", write(work, "prod", n(600), 3, centres, direction, 0.35, labeled=False)),
    ]
    base = ["--root", str(root), "--project", "demo", "--run", "sentiment"]
    for _, split, inf, (data, emb, logits) in sets:
        cmd = [binary, "import", *base, "--split", split, "--data", str(data), "--embeddings", str(emb),
               "--logits", str(logits), "--labels", ",".join(LABELS), "--no-finish"]
        if inf:
            cmd += ["--inference-name", inf]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([binary, "finish", *base], check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
