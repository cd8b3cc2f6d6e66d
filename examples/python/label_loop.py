#!/usr/bin/env python3
"""The labeling loop on the demo (docs/labeling-tools.md): train on SST-2, log a
run with Amazon reviews as production data, let Sextant suggest what to label,
"label" the suggestions with the data set's hidden gold labels (as a labeler
would, through a Label Studio export and its annotations), import the labels,
retrain on training plus the labeled samples, log the new run, and compare
accuracy on a held-out part of the production data: before, after one round of
suggested labels, and after as many random ones.

    /usr/bin/python3 examples/python/label_loop.py --root .sextant-demo --project loop

Without $SEXTANT_DATA (default ../shared/data) it uses generated movie reviews
for training and generated restaurant reviews as production data.

The production set is split once (seeded): a pool, logged as inference set
"pool" with its labels hidden (and its star rating dropped: it gives the label
away), and a held-out part, logged as the `test` split of both runs so that
Sextant's own summary reports its accuracy too.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import sentiment  # noqa: E402

import sextant as dq  # noqa: E402

LABELS = sentiment.LABELS


# ------------------------------------------------------------------ the model

def train_model(train_df: pd.DataFrame, epochs: int, seed: int, batch_size: int = 32):
    """A fresh BagOfWordsClassifier trained on `train_df` (id, text, label 0/1);
    its vocabulary is built from these texts, as a retraining would."""
    torch.manual_seed(seed)
    tokenizer = sentiment.Tokenizer(train_df["text"])
    model = sentiment.BagOfWordsClassifier(tokenizer.vocab_size, len(LABELS))
    inputs = [tokenizer.encode(t) for t in train_df["text"]]
    labels = train_df["label"].astype(int).tolist()
    rows = list(zip(train_df["id"].astype(str), inputs, labels))
    optimizer = sentiment.Optimizer(model, lr=2e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(rows), generator=generator).tolist()
        for b in range(0, len(order), batch_size):
            _, x, mask, y = sentiment.collate([rows[i] for i in order[b:b + batch_size]])
            _, logits = model(x, mask)
            loss = loss_fn(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    return model, tokenizer


def outputs(model, tokenizer, df: pd.DataFrame, batch_size: int = 256):
    """(embeddings, logits) of every row of `df`, in order."""
    embs, logits = [], []
    texts = df["text"].tolist()
    with torch.no_grad():
        for b in range(0, len(texts), batch_size):
            batch = [("", tokenizer.encode(t), 0) for t in texts[b:b + batch_size]]
            _, x, mask, _ = sentiment.collate(batch)
            e, z = model(x, mask)
            embs.append(e)
            logits.append(z)
    return torch.cat(embs).numpy(), torch.cat(logits).numpy()


def accuracy(model, tokenizer, df: pd.DataFrame) -> float:
    _, logits = outputs(model, tokenizer, df)
    return float((logits.argmax(1) == df["label"].to_numpy()).mean())


# ------------------------------------------------------------------- logging

def log_run(args, run: str, model, tokenizer, splits: dict[str, pd.DataFrame],
            inference: dict[str, pd.DataFrame]) -> dict:
    """Logs the model's outputs for each split (training, validation, test) and
    inference set, then finishes the run; returns its summary. Sets args.root
    to the store root the run went to."""
    dq.init(task_type="text_classification", project_name=args.project, run_name=run,
            root=args.root)
    dq.set_labels_for_run(LABELS)
    items = [(s, None, df) for s, df in splits.items()] + \
            [("inference", n, df) for n, df in inference.items()]
    for split, name, df in items:
        meta = [c for c in ("domain",) if c in df.columns]
        dq.log_dataset(df, text="text", id="id", label="label", split=split, inference_name=name,
                       meta=meta)
        embs, logits = outputs(model, tokenizer, df)
        dq.set_split(split, name)
        dq.set_epoch(0)
        for b in range(0, len(df), 1024):
            dq.log_model_outputs(embs=embs[b:b + 1024], logits=logits[b:b + 1024],
                                 ids=df["id"].astype(str).tolist()[b:b + 1024])
    args.root = str(dq.current_run()[0])
    dq.finish()
    return dq.get_summary(project_name=args.project, run_name=run, root=args.root)


# ------------------------------------------------------------------ labeling

def sextant_binary() -> str | None:
    repo = pathlib.Path(__file__).resolve().parents[2]
    for c in (os.environ.get("SEXTANT_BIN"), shutil.which("sextant"),
              str(repo / "build" / "src" / "cli" / "sextant")):
        if c and pathlib.Path(c).is_file():
            return c
    return None


def suggest(args, run: str, budget: int) -> tuple[list[str], str]:
    """The ids Sextant suggests labeling, and the strategy's name."""
    if hasattr(dq, "suggest_labels"):
        s = dq.suggest_labels("inference", "pool", budget=budget, strategy=args.strategy,
                              seed=args.seed, project_name=args.project, run_name=run,
                              root=args.root)
        return s["id"].astype(str).tolist(), f"dq.suggest_labels({args.strategy})"
    # Before suggestions existed: the lowest margins (uncertainty sampling).
    df = dq.get_dataframe("inference", "pool", project_name=args.project, run_name=run,
                          root=args.root, sort_by="margin", limit=budget)
    return df["id"].astype(str).tolist(), "lowest margin (dq.suggest_labels unavailable)"


def label_like_a_labeler(args, run: str, ids: list[str], gold: dict[str, int],
                         workdir: pathlib.Path, name: str) -> tuple[pathlib.Path, str]:
    """Writes the labels a labeler would send back for `ids`: through Label
    Studio when the `sextant` CLI is at hand (export the tasks, add each task's
    annotation from the hidden gold label: Label Studio's JSON export), else as
    a CSV of id,label. Returns the file and how it was made."""
    workdir.mkdir(parents=True, exist_ok=True)
    binary = sextant_binary()
    if binary is not None and not args.csv_labels:
        tasks_path = workdir / f"{name}-tasks.json"
        root = ["--root", str(args.root)]
        cmd = [binary, "export", *root, "--project", args.project, "--run", run,
               "--split", "inference", "--inference-name", "pool", "--ids", ",".join(ids),
               "--output", str(tasks_path)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        tasks = json.loads(tasks_path.read_text())
        assert len(tasks) == len(ids), (len(tasks), len(ids))
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        for t in tasks:
            label = LABELS[gold[t["data"]["sextant_id"]]]
            t["annotations"] = [{
                "id": t["id"], "was_cancelled": False, "created_at": now, "updated_at": now,
                "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                            "value": {"choices": [label]}}]}]
        done = workdir / f"{name}-labelstudio-export.json"
        done.write_text(json.dumps(tasks))
        return done, "Label Studio tasks and annotations"
    done = workdir / f"{name}-labels.csv"
    pd.DataFrame({"id": ids, "label": [LABELS[gold[i]] for i in ids]}).to_csv(done, index=False)
    return done, "CSV of id,label"


# ---------------------------------------------------------------------- main

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None, help="store root (default $SEXTANT_HOME, else ~/.sextant)")
    p.add_argument("--project", default="loop")
    p.add_argument("--budget", type=int, default=300, help="labels bought in the round")
    p.add_argument("--strategy", default="default", help="dq.suggest_labels strategy")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-train", type=int, default=None, help="use at most N training rows")
    p.add_argument("--max-rows", type=int, default=None, help="use at most N production rows")
    p.add_argument("--production", default="amazon", help="production set (amazon, yelp, ...)")
    p.add_argument("--heldout-share", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv-labels", action="store_true",
                   help="send labels back as a CSV rather than a Label Studio export")
    p.add_argument("--workdir", default=None,
                   help="where label files go (default <root>/<project>/label_loop)")
    p.add_argument("--results-json", default=None, help="write the figures to this file")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    train_df, val_df, source = sentiment.training_data(args.max_train)
    name, prod = next(iter(sentiment.production_sets([args.production], args.max_rows).items()))
    prod = prod.sample(frac=1.0, random_state=args.seed).reset_index(drop=True)
    n_held = int(round(len(prod) * args.heldout_share))
    heldout, pool = prod.iloc[:n_held].copy(), prod.iloc[n_held:].copy()
    gold = dict(zip(pool["id"].astype(str), pool["label"].astype(int)))
    keep = [c for c in ("id", "text", "domain") if c in pool.columns]
    pool_hidden = pool[keep]  # no label, no rating: the labels are hidden from the run
    print(f"data: {source}; production {name}: pool {len(pool)}, held-out {len(heldout)}")

    run1, run2 = "round0", "round1"
    model1, tok1 = train_model(train_df, args.epochs, args.seed)
    acc_before = accuracy(model1, tok1, heldout)
    log_run(args, run1, model1, tok1,
            {"training": train_df, "validation": val_df, "test": heldout}, {"pool": pool_hidden})
    workdir = pathlib.Path(args.workdir or pathlib.Path(args.root) / args.project / "label_loop")

    ids, strategy = suggest(args, run1, args.budget)
    label_file, how = label_like_a_labeler(args, run1, ids, gold, workdir, "suggested")
    report = dq.import_labels("inference", "pool", label_file, project_name=args.project,
                              run_name=run1, root=args.root)
    labeled = dq.get_labeled_dataset("inference", "pool", project_name=args.project,
                                     run_name=run1, root=args.root)
    dataset_path = workdir / "labeled-dataset.csv"
    labeled.to_csv(dataset_path, index=False)
    labeled_acc = float((labeled["label"].map(LABELS.index).to_numpy() ==
                         np.array([gold[i] for i in labeled["id"]])).mean())
    print(f"suggested {len(ids)} ({strategy}); labeled via {how}: imported "
          f"{report['imported']}, run {run1} now has {report['labeled']} labeled pool samples")

    # Retrain: training plus the labeled samples (label names back to indices).
    new = labeled.assign(label=labeled["label"].map(LABELS.index))[["id", "text", "label"]]
    model2, tok2 = train_model(pd.concat([train_df, new], ignore_index=True), args.epochs,
                               args.seed)
    acc_after = accuracy(model2, tok2, heldout)
    summary2 = log_run(args, run2, model2, tok2,
                       {"training": pd.concat([train_df, new.assign(
                           label=new["label"].astype(int))], ignore_index=True),
                        "validation": val_df, "test": heldout},
                       {"pool": pool_hidden[~pool_hidden["id"].isin(set(new["id"]))]})

    # The baseline: as many random pool samples, labeled the same way.
    rng = np.random.default_rng(args.seed)
    random_ids = rng.choice(pool["id"].astype(str).to_numpy(), size=min(args.budget, len(pool)),
                            replace=False).tolist()
    rand = pool[pool["id"].isin(random_ids)][["id", "text", "label"]]
    model3, tok3 = train_model(pd.concat([train_df, rand], ignore_index=True), args.epochs,
                               args.seed)
    acc_random = accuracy(model3, tok3, heldout)

    rows = [("before (training only)", 0, acc_before),
            (f"+ {len(new)} suggested", len(new), acc_after),
            (f"+ {len(rand)} random", len(rand), acc_random)]
    print(f"\naccuracy on the held-out {name} part ({len(heldout)} samples):")
    print(f"{'model':<28} {'labels':>6} {'accuracy':>9} {'gain':>7}")
    for label, n, acc in rows:
        print(f"{label:<28} {n:>6} {acc:>9.4f} {acc - acc_before:>+7.4f}")
    test2 = summary2["splits"]["test"].get("accuracy")
    print(f"(Sextant's summary of {run2}: test accuracy {test2:.4f})" if test2 is not None else "")
    results = {
        "data": source, "production": name, "pool": len(pool), "heldout": len(heldout),
        "budget": args.budget, "strategy": strategy, "labels_via": how,
        "label_file": str(label_file), "labeled_dataset": str(dataset_path),
        "imported": report["imported"], "labels_agree_with_gold": labeled_acc,
        "accuracy_before": acc_before, "accuracy_suggested": acc_after,
        "accuracy_random": acc_random, "gain_suggested": acc_after - acc_before,
        "gain_random": acc_random - acc_before, "runs": [run1, run2],
        "seconds": time.perf_counter() - started,
    }
    if args.results_json:
        pathlib.Path(args.results_json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
