#!/usr/bin/python3
"""Clustered synthetic embeddings for the drift benchmarks (bench/run.sh), with a fixed seed.

Each of 200 clusters is a centre (a random Gaussian direction) plus a spread along its own 48-dimensional
random basis plus a little isotropic noise, as the embeddings of a trained model tend to be (low intrinsic
dimension, one lump per class or topic). The production set takes 80% of its rows from the same clusters and
20% from displaced centres (each centre moved by a random vector of its own norm): clearly drifted,
yet with real nearest neighbours in the training set. Rows are written unnormalized, float32, as .npy.

    gen_data.py OUT_DIR NAME:ROWS:KIND[:SEED] ...      KIND is train or production

Files that already exist with the right shape are kept (the arrays are large; generation is deterministic).
"""
import pathlib
import sys
import zlib

import numpy as np

DIM = 768
CLUSTERS = 200
LATENT = 48
SPREAD = 0.12
NOISE = 0.25
SHIFTED = 0.2
SHIFT = 1.0


def model():
    rng = np.random.default_rng(20240601)
    centres = rng.standard_normal((CLUSTERS, DIM), dtype=np.float32)
    bases = rng.standard_normal((CLUSTERS, LATENT, DIM), dtype=np.float32) * SPREAD
    moved = centres + SHIFT * rng.standard_normal((CLUSTERS, DIM), dtype=np.float32)
    return centres, bases, moved


def generate(path, rows, kind, seed):
    centres, bases, moved = model()
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path.with_suffix(".tmp.npy"), mode="w+", dtype=np.float32,
                                    shape=(rows, DIM))
    block = 32768
    for s in range(0, rows, block):
        n = min(block, rows - s)
        c = rng.integers(0, CLUSTERS, n)
        shifted = (rng.random(n) < SHIFTED) if kind == "production" else np.zeros(n, bool)
        x = NOISE * rng.standard_normal((n, DIM), dtype=np.float32)
        x += np.where(shifted[:, None], moved[c], centres[c])
        z = rng.standard_normal((n, LATENT), dtype=np.float32)
        for cl in np.unique(c):
            m = c == cl
            x[m] += z[m] @ bases[cl]
        out[s:s + n] = x
    out.flush()
    del out
    path.with_suffix(".tmp.npy").rename(path)


def main():
    out_dir = pathlib.Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for spec in sys.argv[2:]:
        parts = spec.split(":")
        name, rows, kind = parts[0], int(parts[1]), parts[2]
        seed = int(parts[3]) if len(parts) > 3 else zlib.crc32(name.encode())
        path = out_dir / f"{name}.npy"
        if path.exists():
            try:
                if np.load(path, mmap_mode="r").shape == (rows, DIM):
                    continue
            except ValueError:
                pass
        generate(path, rows, kind, seed)
        print(f"generated {path} ({rows} x {DIM}, {kind})", flush=True)


if __name__ == "__main__":
    main()
