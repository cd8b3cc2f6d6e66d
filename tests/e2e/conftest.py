"""Fixtures for the end-to-end tests: run the real `sextant` binary and make data for it.

The binary comes from $SEXTANT_BIN (CTest sets it); without it, the usual
build folders are tried. Every run store lives under pytest's tmp_path, so the
tests never write into the repository or into ~/.sextant.
"""

import csv
import dataclasses
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
LABELS = ["negative", "neutral", "positive"]
WORDS = {
    "negative": ["awful", "boring", "broken", "dull"],
    "neutral": ["plain", "average", "usual", "ordinary"],
    "positive": ["great", "lovely", "superb", "fun"],
}


def _find_binary(env_name, candidates):
    path = os.environ.get(env_name, "")
    if path:
        return pathlib.Path(path)
    for c in candidates:
        p = REPO / c
        if p.is_file() and os.access(p, os.X_OK):
            return p
    return None


@pytest.fixture(scope="session")
def sextant_bin():
    path = _find_binary("SEXTANT_BIN", ["build-e2e/src/cli/sextant", "build/src/cli/sextant"])
    if path is None or not path.is_file():
        pytest.fail(f"the sextant binary was not found (SEXTANT_BIN={os.environ.get('SEXTANT_BIN')!r}); "
                    "build the `sextant` target and run these tests through CTest")
    return path


@dataclasses.dataclass
class CliResult:
    rc: int
    stdout: str
    stderr: str
    args: list

    def json(self):
        return json.loads(self.stdout)

    def jsonl(self):
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def csv(self):
        return list(csv.DictReader(self.stdout.splitlines()))


class Sextant:
    """Runs `sextant COMMAND --root ROOT ARGS...` and returns rc, stdout and stderr."""

    def __init__(self, binary, root):
        self.binary = pathlib.Path(binary)
        self.root = pathlib.Path(root)

    def env(self):
        env = dict(os.environ)
        env["SEXTANT_HOME"] = str(self.root)  # never fall back to ~/.sextant
        return env

    def raw(self, *args, timeout=120):
        """Runs the binary with exactly these arguments."""
        args = [str(a) for a in args]
        p = subprocess.run([str(self.binary), *args], capture_output=True, text=True,
                           env=self.env(), timeout=timeout)
        return CliResult(p.returncode, p.stdout, p.stderr, args)

    def __call__(self, command, *args, check=True, root=True, timeout=120):
        full = [command, *(["--root", self.root] if root else []), *args]
        r = self.raw(*full, timeout=timeout)
        if check and r.rc != 0:
            raise AssertionError(f"sextant {' '.join(r.args)} exited {r.rc}\n"
                                 f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        return r

    def run_args(self, project, run):
        return ["--project", project, "--run", run]

    def import_split(self, project, run, data, split, inference_name=None, epoch=None,
                     labels=LABELS, finish=False, extra=(), check=True):
        args = [*self.run_args(project, run), "--split", split, "--data", data.data,
                "--embeddings", data.embeddings, "--logits", data.logits]
        if inference_name is not None:
            args += ["--inference-name", inference_name]
        if epoch is not None:
            args += ["--epoch", epoch]
        if labels:
            args += ["--labels", ",".join(labels)]
        if not finish:
            args.append("--no-finish")
        args += list(extra)
        return self("import", *args, check=check)

    def samples(self, project, run, split, *args, inference_name=None):
        full = [*self.run_args(project, run), "--split", split]
        if inference_name is not None:
            full += ["--inference-name", inference_name]
        return self("samples", *full, *args).jsonl()

    def summary(self, project, run, *args):
        return self("summary", *self.run_args(project, run), *args).json()

    def runs(self):
        return self("runs", "--format", "json").json()


@pytest.fixture
def sextant(sextant_bin, tmp_path):
    """A CLI runner with a fresh store root under tmp_path."""
    return Sextant(sextant_bin, tmp_path / "store")


@dataclasses.dataclass
class SplitFiles:
    """One split's files, and the arrays written to them (for reference computations)."""
    data: pathlib.Path
    embeddings: pathlib.Path
    logits: pathlib.Path
    ids: list
    texts: list
    labels: list       # label names; None for unlabeled data
    emb: np.ndarray    # float32, N x D
    logit: np.ndarray  # float32, N x C


class DataMaker:
    """Clustered Gaussian embeddings (one cluster per class) with logits that
    mostly, but not always, agree with the label.

    `shift` moves a set away from the training clusters along a fixed random
    direction (a production set under drift); the cluster centres are the same
    for every set made by one DataMaker.
    """

    def __init__(self, folder, dim=16, labels=LABELS, seed=0, spread=1.0):
        self.folder = pathlib.Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dim = dim
        self.labels = list(labels)
        rng = np.random.default_rng(seed)
        self.centres = rng.normal(size=(len(labels), dim)) * 3.0
        d = rng.normal(size=dim)
        self.direction = d / np.linalg.norm(d)
        self.spread = spread

    def arrays(self, n, seed, shift=0.0, classes=None):
        rng = np.random.default_rng(seed)
        c = len(self.labels)
        y = rng.integers(0, c, size=n) if classes is None else np.asarray(classes)
        emb = self.centres[y] + rng.normal(scale=self.spread, size=(n, self.dim))
        emb = emb + shift * 3.0 * self.direction
        logits = rng.normal(scale=1.0, size=(n, c))
        logits[np.arange(n), y] += rng.uniform(0.0, 3.0, size=n)
        return y, emb.astype(np.float32), logits.astype(np.float32)

    def write(self, name, n, seed, shift=0.0, labeled=True, id_prefix=None, fmt="csv",
              classes=None, emb=None, logits=None, texts=None, ids=None, label_names=None):
        """Writes NAME.csv|.jsonl, NAME.emb.npy and NAME.logits.npy; any of the
        arrays, ids, texts or labels may be given instead of generated."""
        y, e, z = self.arrays(n, seed, shift, classes)
        emb = e if emb is None else np.asarray(emb, dtype=np.float32)
        logits = z if logits is None else np.asarray(logits, dtype=np.float32)
        prefix = id_prefix if id_prefix is not None else name + "-"
        ids = [f"{prefix}{i}" for i in range(n)] if ids is None else list(ids)
        rng = np.random.default_rng(seed + 7)
        if texts is None:
            texts = []
            for i in range(n):
                word = WORDS.get(self.labels[y[i]], ["thing"])[int(rng.integers(0, 4))]
                # A comma and a quote exercise CSV quoting on the way in and out.
                texts.append(f'Sample {i}: a {word} "{name}" review, row {i}')
        names = [self.labels[v] for v in y] if label_names is None else list(label_names)
        data = self.folder / f"{name}.{fmt}"
        if fmt == "csv":
            with open(data, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["id", "text", "label"] if labeled else ["id", "text"])
                for i in range(len(ids)):
                    w.writerow([ids[i], texts[i], names[i]] if labeled else [ids[i], texts[i]])
        else:
            with open(data, "w") as f:
                for i in range(len(ids)):
                    row = {"id": ids[i], "text": texts[i]}
                    if labeled:
                        row["label"] = names[i]
                    f.write(json.dumps(row) + "\n")
        emb_path = self.folder / f"{name}.emb.npy"
        logit_path = self.folder / f"{name}.logits.npy"
        np.save(emb_path, emb)
        np.save(logit_path, logits)
        return SplitFiles(data, emb_path, logit_path, ids, texts, names if labeled else None,
                          emb, logits)


@pytest.fixture
def make_data(tmp_path):
    """A DataMaker writing into tmp_path/data."""
    return DataMaker(tmp_path / "data")


# ---- reference computations (numpy, independent of the engine) -----------------------

def softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def normalise(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def cosine_distances(a, b):
    return 1.0 - normalise(a) @ normalise(b).T


def brute_force_drift(train_emb, query_embs, k, percentile=95.0):
    """Leave-one-out k-core reference, threshold, and per-query distance/score/flag."""
    d_tt = cosine_distances(train_emb, train_emb)
    np.fill_diagonal(d_tt, np.inf)  # a training sample is not its own neighbour
    ref = np.sort(d_tt, axis=1)[:, k - 1]
    threshold = float(np.percentile(ref, percentile))  # linear interpolation
    sorted_ref = np.sort(ref)
    out = {}
    for name, q in query_embs.items():
        d = np.sort(cosine_distances(q, train_emb), axis=1)[:, k - 1]
        score = np.searchsorted(sorted_ref, d, side="right") / len(sorted_ref)
        out[name] = (d, score, d > threshold)
    return sorted_ref, threshold, out
