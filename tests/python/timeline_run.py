"""A run watched for twelve days: a small real sentiment model (the examples'
bag-of-words classifier, PyTorch) trained on SST-2 (or on
generated movie reviews without the shared data), then twelve daily inference
sets, eight in-domain and four from shifted domains (Yelp, Amazon, IMDB and
the UCI sentences; generated restaurant reviews without the data).

    /usr/bin/python3 tests/python/timeline_run.py --root /tmp/store   # builds and finishes it
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np
import pandas as pd

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples" / "python"))
import sentiment  # noqa: E402

import sextant as dq  # noqa: E402

LABELS = ["negative", "positive"]
DAY = 86400.0
START = 1796774400.0  # 2026-12-09T00:00:00Z: a future day, so logging time never interleaves
SET_ROWS = 300
# Day index -> shifted source (the others are in-domain).
SHIFTED_DAYS = {4: "yelp", 7: "amazon", 9: "imdb", 11: "uci"}


class Model:
    """The examples' bag-of-words classifier (examples/python/sentiment.py),
    trained here for three epochs; calls return (embeddings, logits)."""

    last = None  # the model build() trained last (a later job of the same run uses it)

    def __init__(self, texts, labels, epochs: int = 3):
        import torch

        torch.manual_seed(0)
        torch.set_num_threads(1)
        self.torch = torch
        self.tokenizer = sentiment.Tokenizer(texts)
        self.model = sentiment.BagOfWordsClassifier(self.tokenizer.vocab_size, len(LABELS))
        opt = sentiment.Optimizer(self.model, lr=2e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        encoded = [self.tokenizer.encode(t) for t in texts]
        y = torch.tensor([int(v) for v in labels])
        g = torch.Generator().manual_seed(0)
        self.model.train()
        for _ in range(epochs):
            order = torch.randperm(len(encoded), generator=g).tolist()
            for b in range(0, len(order), 32):
                rows = order[b:b + 32]
                x, mask = self._batch([encoded[r] for r in rows])
                _, logits = self.model(x, mask)
                loss = loss_fn(logits, y[rows])
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.model.eval()

    def _batch(self, encoded):
        torch = self.torch
        width = max(1, max(len(e) for e in encoded))
        x = torch.zeros(len(encoded), width, dtype=torch.long)
        mask = torch.zeros(len(encoded), width, dtype=torch.long)
        for i, e in enumerate(encoded):
            x[i, :len(e)] = torch.tensor(e, dtype=torch.long)
            mask[i, :len(e)] = 1
        return x, mask

    def __call__(self, texts):
        with self.torch.no_grad():
            embs, logits = [], []
            for b in range(0, len(texts), 256):
                x, mask = self._batch([self.tokenizer.encode(t) for t in texts[b:b + 256]])
                e, l = self.model(x, mask)
                embs.append(e.numpy())
                logits.append(l.numpy())
        return np.concatenate(embs), np.concatenate(logits)


def sources(rows: int = SET_ROWS):
    """(training, validation, in-domain pool, {name: shifted set}, description)."""
    if sentiment.has_sst2():
        data = sentiment.data_dir()
        train = sentiment.read_csv(data / "sst2" / "train.csv", 6000)
        held = sentiment.read_csv(data / "sst2" / "validation.csv")
        val, pool = held.iloc[:2000], held.iloc[2000:]
        shifted = sentiment.production_sets(sorted(set(SHIFTED_DAYS.values())), None)
        shifted = {k: v.sample(n=min(rows, len(v)), random_state=1).reset_index(drop=True)
                   for k, v in shifted.items()}
        return train, val, pool, shifted, "SST-2 and shifted real sets"
    train = sentiment.generate(4000, "movies", 1, "t-")
    val = sentiment.generate(1500, "movies", 2, "v-")
    pool = sentiment.generate(8 * rows, "movies", 3, "p-")
    shifted = {name: sentiment.generate(rows, "restaurants", 10 + i, f"{name}-")
               for i, name in enumerate(sorted(set(SHIFTED_DAYS.values())))}
    return train, val, pool, shifted, "generated movie and restaurant reviews"


def more_in_domain(n: int) -> pd.DataFrame:
    """n in-domain rows no daily set holds (to dilute a shifted set)."""
    if sentiment.has_sst2():
        held = sentiment.read_csv(sentiment.data_dir() / "sst2" / "validation.csv")
        return held.iloc[2000 + 8 * SET_ROWS:].iloc[:n].reset_index(drop=True)
    return sentiment.generate(n, "movies", 4, "m-")


def daily_sets(pool: pd.DataFrame, shifted: dict, rows: int = SET_ROWS):
    """Twelve (name, time, frame, is_shifted) in day order."""
    out, used = [], 0
    for day in range(12):
        if day in SHIFTED_DAYS:
            name = SHIFTED_DAYS[day]
            frame = shifted[name]
        else:
            name = f"day{day + 1:02d}"
            frame = pool.iloc[used:used + rows]
            used += rows
        out.append((name, START + day * DAY, frame.reset_index(drop=True), day in SHIFTED_DAYS))
    return out


def log_set(name, time, frame, model, prefix):
    ids = [f"{prefix}{i}" for i in frame["id"]]
    dq.log_data_samples(texts=list(frame["text"]), ids=ids, split="inference",
                        inference_name=name)
    dq.set_split("inference", name, timestamp=time)
    embs, logits = model(list(frame["text"]))
    dq.log_model_outputs(embs=embs, logits=logits, ids=ids)


def build(root, project="watch", run="sentiment", log_order=None):
    """Logs and finishes the run; returns (model, sets, description)."""
    train, val, pool, shifted, desc = sources()
    model = Model(list(train["text"]), list(train["label"]))
    Model.last = model
    dq.init(task_type="text_classification", project_name=project, run_name=run, root=root)
    dq.set_labels_for_run(LABELS)
    for split, frame in (("training", train), ("validation", val)):
        ids = [f"{split[0]}-{i}" for i in frame["id"]]
        dq.log_data_samples(texts=list(frame["text"]), ids=ids,
                            labels=[LABELS[int(v)] for v in frame["label"]], split=split)
        dq.set_split(split)
        dq.set_epoch(0)
        embs, logits = model(list(frame["text"]))
        dq.log_model_outputs(embs=embs, logits=logits, ids=ids)
    sets = daily_sets(pool, shifted)
    order = log_order if log_order is not None else range(len(sets))
    for i in order:  # logged out of time order: the timeline orders them by time
        name, time, frame, _ = sets[i]
        log_set(name, time, frame, model, f"{name}-")
    dq.finish()
    return model, sets, desc


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True)
    args = p.parse_args()
    _, _, desc = build(args.root, log_order=[11, 3, 0, 7, 1, 2, 4, 5, 6, 8, 9, 10])
    print(f"finished: {desc}")
