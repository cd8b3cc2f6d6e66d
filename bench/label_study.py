#!/usr/bin/env python3
"""Which samples to label next: a simulation of one labeling round on real data.

From a production pool whose labels are hidden from Sextant (Amazon reviews, Yelp
reviews), each selection strategy picks B samples; the demo's model is retrained
from scratch on its training data plus those B samples with their gold labels,
and its accuracy is measured on a held-out part of the same production set that
no strategy sees. The gain of a strategy is that accuracy minus the accuracy of
the model retrained on training alone (same seed). Several seeds: each seed
draws its own pool/held-out split, trains its own base model and logs its own
Sextant run, so the spread covers data, model and selection.

Run by hand (not part of `make test`); the table goes to docs/labeling.md:

    /usr/bin/python3 bench/label_study.py --root /tmp/label-study --seeds 0,1,2 \
        --markdown /tmp/label-study/table.md

The strategies are the engine's (`dq.suggest_labels`), so the figures are the
shipped code's.
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import random
import sys
import time
import zlib

import numpy as np
import pandas as pd
import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples" / "python"))
sys.path.insert(0, str(ROOT / "bench"))
import sentiment  # noqa: E402

import sextant as dq  # noqa: E402

POOLS = {  # name: (file under $SEXTANT_DATA, held-out rows)
    "amazon": ("amazon_multidomain_sentiment/reviews.csv", 2000),
    "yelp": ("sentiment_textfooler_samples/yelp.csv", 300),
}


def encode_all(tok: sentiment.Tokenizer, texts) -> list[list[int]]:
    return [tok.encode(t) for t in texts]


def batches(inputs, labels, weights, n_base, batch_size, seed, epoch):
    """Minibatches in an order that depends only on the seed and the epoch for
    the first `n_base` rows (the training set), with the newly labeled rows put
    at seeded random places: every retraining of a seed shares the training
    set's order (common random numbers), so a gain measures the added samples
    rather than another shuffle."""
    order = list(range(n_base))
    random.Random(seed * 1000 + epoch).shuffle(order)
    place = random.Random(seed * 1000 + epoch + 500)
    for i in range(n_base, len(inputs)):
        order.insert(place.randrange(len(order) + 1), i)
    for b in range(0, len(order), batch_size):
        chunk = order[b: b + batch_size]
        _, x, mask, y = sentiment.collate([("", inputs[i], labels[i]) for i in chunk])
        yield x, mask, y, torch.tensor([weights[i] for i in chunk], dtype=torch.float32)


class StableTokenizer(sentiment.Tokenizer):
    """The demo's tokenizer (words of the training vocabulary plus hashed word
    bigrams) with a layout that keeps every training token's row when words of
    the newly labeled texts join the vocabulary: padding, unknown, the bigram
    buckets, the training words, then the new words. So the retrained model's
    initialisation equals the base model's on every shared row."""

    def __init__(self, base_texts, extra_texts=()):
        super().__init__(base_texts)
        counts = collections.Counter(w for t in list(base_texts) + list(extra_texts)
                                     for w in sentiment._TOKEN.findall(t.lower()))
        self.n_base_words = len(self.words)
        known = set(self.words)
        self.words += [w for w, c in counts.most_common() if c >= 2 and w not in known]
        self.index = {w: i for i, w in enumerate(self.words)}

    @property
    def base_vocab_size(self) -> int:
        return 2 + self.bigram_buckets + self.n_base_words

    def encode(self, text: str) -> list[int]:
        words = sentiment._TOKEN.findall(text.lower())[: self.max_tokens]
        first_word = 2 + self.bigram_buckets
        ids = [first_word + self.index[w] if w in self.index else 1 for w in words]
        ids += [2 + zlib.crc32(f"{a} {b}".encode()) % self.bigram_buckets
                for a, b in zip(words, words[1:])]
        return ids or [1]


def train_model(texts, labels, weights, n_base: int, seed: int, epochs: int):
    """The demo's model (examples/python/sentiment.py) trained from scratch on
    all of `texts`; the first `n_base` are the training set. Every retraining
    of a seed starts from the same initial weights on the training set's
    tokens and layers (common random numbers; new words get their own rows)."""
    torch.manual_seed(seed)
    tok = StableTokenizer(texts[:n_base], texts[n_base:])
    inputs = encode_all(tok, texts)
    model = sentiment.BagOfWordsClassifier(tok.base_vocab_size, len(sentiment.LABELS))
    if tok.vocab_size > tok.base_vocab_size:
        grown = torch.nn.EmbeddingBag(tok.vocab_size, model.config["token_dim"], mode="sum",
                                      sparse=True)
        dim = model.config["token_dim"]
        with torch.no_grad():
            grown.weight[: tok.base_vocab_size] = model.tokens.weight
            extra = torch.Generator().manual_seed(seed + 7)
            grown.weight[tok.base_vocab_size:] = (torch.rand(
                tok.vocab_size - tok.base_vocab_size, dim, generator=extra) * 2 - 1) / dim
        model.tokens = grown
    opt = sentiment.Optimizer(model, lr=2e-3)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
    for epoch in range(epochs):
        model.train()
        for x, mask, y, w in batches(inputs, labels, weights, n_base, 32, seed, epoch):
            _, logits = model(x, mask)
            loss = (loss_fn(logits, y) * w).sum() / w.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return model, tok


def predict(model, tok, texts):
    """(embeddings, logits) in eval mode, in the order of `texts`."""
    embs, logits = [], []
    inputs = encode_all(tok, texts)
    with torch.no_grad():
        for b in range(0, len(inputs), 512):
            _, x, mask, _ = sentiment.collate([("", t, 0) for t in inputs[b: b + 512]])
            e, lo = model(x, mask)
            embs.append(e)
            logits.append(lo)
    return torch.cat(embs).numpy(), torch.cat(logits).numpy()


def accuracy(model, tok, df) -> float:
    _, logits = predict(model, tok, df["text"].tolist())
    return float((logits.argmax(1) == df["label"].to_numpy()).mean())


def log_run(root, project, run, train_df, val_df, pool_df, model, tok):
    """The run a team would have: training and validation with the deployed
    model's outputs, the production pool as an inference set (no labels)."""
    dq.init(task_type="text_classification", project_name=project, run_name=run, root=str(root))
    dq.set_labels_for_run(sentiment.LABELS)
    for split, df in (("training", train_df), ("validation", val_df)):
        dq.log_dataset(df, text="text", id="id", label="label", split=split)
    dq.log_dataset(pool_df[["id", "text"]], text="text", id="id", label=None, split="inference",
                   inference_name="pool")
    for split, df, name in (("training", train_df, None), ("validation", val_df, None),
                            ("inference", pool_df, "pool")):
        dq.set_split(split, name)
        dq.set_epoch(0)
        embs, logits = predict(model, tok, df["text"].tolist())
        dq.log_model_outputs(embs=embs, logits=logits, ids=df["id"].tolist())
    dq.finish()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="store root for the study's runs")
    p.add_argument("--pools", default="amazon,yelp")
    p.add_argument("--budgets", default="100,300,1000")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--strategies", default="random,uncertainty,drift,diverse,default")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--weight", type=float, default=1.0,
                   help="loss weight of a newly labeled sample (training samples weigh 1)")
    p.add_argument("--max-train", type=int, default=None)
    p.add_argument("--results-json", default=None)
    p.add_argument("--markdown", default=None)
    p.add_argument("--impl", choices=["engine", "python"], default="engine",
                   help="the engine's strategies, or bench/label_study_reference.py's numpy ones")
    p.add_argument("--reuse", action="store_true",
                   help="keep a seed's run when it is in the store already (same data and seed)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    data = sentiment.data_dir()
    if not sentiment.has_sst2(data):
        print(f"SST-2 not found under {data}: this study needs the shared data", file=sys.stderr)
        return 2
    train_df, val_df, _ = sentiment.training_data(args.max_train)
    budgets = [int(b) for b in args.budgets.split(",")]
    strategies = args.strategies.split(",")
    root = pathlib.Path(args.root)
    results = []
    for pool_name in args.pools.split(","):
        path, n_test = POOLS[pool_name]
        full = sentiment.read_csv(data / path)
        for seed in [int(s) for s in args.seeds.split(",")]:
            shuffled = full.sample(frac=1.0, random_state=seed).reset_index(drop=True)
            test_df, pool_df = shuffled.iloc[:n_test], shuffled.iloc[n_test:].reset_index(drop=True)
            t0 = time.perf_counter()
            texts, labels = train_df["text"].tolist(), train_df["label"].astype(int).tolist()
            base, tok = train_model(texts, labels, [1.0] * len(texts), len(texts), seed,
                                    args.epochs)
            base_acc = accuracy(base, tok, test_df)
            run = f"{pool_name}-s{seed}"
            if not (args.reuse and (root / "label-study" / run / "results").exists()):
                log_run(root, "label-study", run, train_df, val_df, pool_df, base, tok)
            print(f"{pool_name} seed {seed}: pool {len(pool_df)}, held-out {len(test_df)}, "
                  f"base accuracy {base_acc:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
            if args.impl == "python":
                import label_study_reference
                reference = label_study_reference.Reference(root, "label-study", run)
            gold = dict(zip(pool_df["id"].astype(str), pool_df["label"].astype(int)))
            text_of = dict(zip(pool_df["id"].astype(str), pool_df["text"]))
            for budget in budgets:
                if budget > len(pool_df):
                    continue
                for strategy in strategies:
                    t1 = time.perf_counter()
                    if args.impl == "engine":
                        # "default@uncertainty=1,shift=0": the default with other weights
                        name, _, spec = strategy.partition("@")
                        weights = {k: float(v) for k, v in
                                   (kv.split("=") for kv in spec.split(",") if kv)} or None
                        picked = dq.suggest_labels("inference", "pool", budget=budget,
                                                   strategy=name, seed=seed, weights=weights,
                                                   project_name="label-study", run_name=run,
                                                   root=str(root))
                        ids = picked["id"].astype(str).tolist()
                    else:
                        ids = reference.suggest(strategy, budget, seed)
                    took_suggest = time.perf_counter() - t1
                    new_texts = [text_of[i] for i in ids]
                    model, mtok = train_model(texts + new_texts, labels + [gold[i] for i in ids],
                                              [1.0] * len(texts) + [args.weight] * len(ids), len(texts), seed,
                                              args.epochs)
                    acc = accuracy(model, mtok, test_df)
                    row = {"pool": pool_name, "seed": seed, "budget": budget, "strategy": strategy,
                           "picked": len(ids), "base_accuracy": base_acc, "accuracy": acc,
                           "gain": acc - base_acc, "suggest_s": took_suggest,
                           "picked_accuracy_of_base": None}
                    results.append(row)
                    print(f"  B={budget:5d} {strategy:12s} acc {acc:.4f} gain {100 * (acc - base_acc):+.2f} "
                          f"(suggest {took_suggest:.2f} s, all {time.perf_counter() - t1:.0f} s)",
                          flush=True)
    if args.results_json:
        pathlib.Path(args.results_json).write_text(json.dumps(results, indent=1))
    table = summarise(results, strategies, budgets)
    print(table)
    if args.markdown:
        pathlib.Path(args.markdown).write_text(table)
    return 0


def summarise(results, strategies, budgets) -> str:
    df = pd.DataFrame(results)
    if df.empty:
        return "(no results)\n"
    lines = []
    for pool, part in df.groupby("pool", sort=False):
        seeds = sorted(part["seed"].unique())
        base = part.groupby("seed")["base_accuracy"].first()
        lines.append(f"\n{pool}: {len(seeds)} seeds, base accuracy {100 * base.mean():.2f}% "
                     f"(sd {100 * base.std(ddof=1) if len(base) > 1 else 0:.2f})\n")
        lines.append("| strategy | " + " | ".join(f"B = {b}: gain (sd)" for b in budgets) + " |")
        lines.append("|---|" + "---|" * len(budgets))
        for s in strategies:
            cells = []
            for b in budgets:
                g = part[(part["strategy"] == s) & (part["budget"] == b)]["gain"] * 100
                cells.append("—" if g.empty else
                             f"{g.mean():+.2f} ({g.std(ddof=1) if len(g) > 1 else 0:.2f})")
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        rnd = part[part["strategy"] == "random"].groupby("budget")["gain"].mean()
        if "default" in strategies and not rnd.empty:
            d = part[part["strategy"] == "default"].groupby("budget")["gain"].mean()
            ratios = [f"B={b}: {d[b] / rnd[b]:.2f}" if b in rnd and rnd[b] > 0 and b in d else f"B={b}: —"
                      for b in budgets]
            lines.append("\ndefault gain / random gain: " + ", ".join(ratios))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
