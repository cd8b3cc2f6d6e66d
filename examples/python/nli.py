#!/usr/bin/env python3
"""Natural language inference on Sextant: trains a small premise/hypothesis
classifier on MNLI and logs it, attaches production data (MNLI mismatched genres,
SNLI image captions) to the same run, finishes it and prints what Sextant found.

    /usr/bin/python3 examples/python/nli.py --root .sextant-demo --project demo --run nli

The same flow as the text-classification example (train.py, infer.py): the
Dataset logs itself (``dq.log_dataset(df, premise="premise",
hypothesis="hypothesis", ...)``), a MonitoredPairModel's forward pass logs one
embedding and one logit row per pair. The model, trained from scratch: premise
and hypothesis each encoded as the mean of word and word-bigram embeddings (an
EmbeddingBag, shared), the features [p, h, |p - h|, p * h] and the hypothesis's
word overlap with the premise, one hidden layer (the embedding Sextant
monitors), a linear classifier.

Splits: training (every epoch), validation = MNLI dev-matched pairs (every
epoch), and three inference sets: ``mnli_matched`` (other dev-matched pairs: the
training genres, no shift, the control), ``mnli_mismatched`` (unseen MNLI genres,
a mild shift) and ``snli`` (image captions, a strong one). Besides the k-NN drift
flags, the results give each inference set's domain-classifier test against the
validation set, which sees the mild genre shift that stays inside the training
data's coverage (docs/algorithms.md). Without $SEXTANT_DATA
(default ../shared/data) it runs on generated pairs about people's everyday
activities, with generated pairs about company finances as production.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import re
import sys
import time
from typing import Any, Optional, Sequence

import pandas as pd
import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from findings import domain_test_text  # noqa: E402
from sentiment import Optimizer, Tokenizer, data_dir  # noqa: E402

import sextant as dq  # noqa: E402

LABELS = ["entailment", "neutral", "contradiction"]
_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9]")  # sentiment.Tokenizer's words


# ---------------------------------------------------------------------- data

def read_jsonl(path: pathlib.Path, max_rows: Optional[int] = None, seed: int = 0) -> pd.DataFrame:
    """Columns id, premise, hypothesis, label (a sample of max_rows when given)."""
    df = pd.read_json(path, lines=True, dtype={"id": str})
    df = df[["id", "premise", "hypothesis", "label"]]
    if max_rows and len(df) > max_rows:
        df = df.sample(n=max_rows, random_state=seed).sort_index()
    return df.reset_index(drop=True)


def has_mnli(data: Optional[pathlib.Path] = None) -> bool:
    return ((data or data_dir()) / "mnli" / "train.jsonl").is_file()


def load_data(max_train: Optional[int] = None, max_eval: Optional[int] = None,
              ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame], str]:
    """(training, validation, {inference name: pairs}, description)."""
    data = data_dir()
    if has_mnli(data):
        mnli = data / "mnli"
        # The matched control and the mismatched set are TextFooler's two samples of
        # MNLI's dev sets, 1,000 pairs each, drawn alike; validation is the course
        # sample of dev-matched without the pairs that the control holds.
        control = read_jsonl(mnli / "validation_matched_sample1000.jsonl", max_eval)
        validation = read_jsonl(mnli / "validation_matched.jsonl")
        seen = set(zip(control["premise"], control["hypothesis"]))
        validation = validation[[pair not in seen
                                 for pair in zip(validation["premise"], validation["hypothesis"])]]
        if max_eval and len(validation) > max_eval:
            validation = validation.sample(n=max_eval, random_state=0).sort_index()
        validation = validation.reset_index(drop=True)
        production = {
            "mnli_matched": control,
            "mnli_mismatched": read_jsonl(mnli / "validation_mismatched_sample1000.jsonl", max_eval)}
        snli = data / "snli" / "test.jsonl"
        if snli.is_file():
            production["snli"] = read_jsonl(snli, min(max_eval or 2000, 2000))
        return (read_jsonl(mnli / "train.jsonl", max_train), validation, production,
                f"MNLI and SNLI from {data}")
    n = max_train or 4000
    m = max_eval or max(200, n // 5)
    return (generate(n, "everyday", 1, "everyday-train-"), generate(m, "everyday", 2, "everyday-val-"),
            {"finance": generate(m, "finance", 3, "finance-")},
            f"generated pairs ({data / 'mnli'} not found)")


# Generated pairs: a premise and, per label, a hypothesis it entails, one it
# contradicts, one it leaves open. Two domains with different words: everyday
# activities (training) and company finances (production, shifted).

_DOMAINS = {
    "everyday": {
        "subject": ["a man", "a woman", "the boy", "the girl", "an old man", "two children", "a dog",
                    "the teacher", "a young woman", "the musician"],
        "general": {"a man": "a person", "a woman": "a person", "the boy": "a child",
                    "the girl": "a child", "an old man": "a person", "two children": "some kids",
                    "a dog": "an animal", "the teacher": "a person", "a young woman": "a person",
                    "the musician": "a person"},
        "action": ["is riding a bike", "is playing guitar", "is reading a book", "is cooking dinner",
                   "is swimming", "is painting a fence", "is running", "is eating an apple"],
        "opposite": ["is sleeping", "is sitting still at home", "is lying in bed"],
        "place": ["in the park", "on the beach", "in the kitchen", "near the river", "in a garden",
                  "at the station"],
        "extra": ["for a competition", "with a friend", "because it is sunny", "after work",
                  "to relax"],
    },
    "finance": {
        "subject": ["the company", "the bank", "the retailer", "the airline", "the insurer",
                    "the carmaker", "the utility", "the startup"],
        "general": {s: "a firm" for s in ["the company", "the bank", "the retailer", "the airline",
                                          "the insurer", "the carmaker", "the utility", "the startup"]},
        "action": ["reported higher quarterly profits", "raised its dividend", "cut costs",
                   "issued new bonds", "acquired a competitor", "expanded into asia"],
        "opposite": ["went bankrupt", "reported record losses", "halted all trading"],
        "place": ["in the third quarter", "last fiscal year", "despite weak demand",
                  "according to analysts", "in its annual filing"],
        "extra": ["to please shareholders", "after a board vote", "under pressure from regulators",
                  "ahead of a merger"],
    },
}


def _pair(rng: random.Random, d: dict[str, Any], label: str) -> tuple[str, str]:
    subject, action, place = rng.choice(d["subject"]), rng.choice(d["action"]), rng.choice(d["place"])
    premise = f"{subject} {action} {place} ."
    if label == "entailment":
        hypothesis = rng.choice([f"{d['general'][subject]} {action} .", f"{subject} {action} .",
                                 f"{d['general'][subject]} is {place} ." if "is " in action
                                 else f"{subject} {action} ."])
    elif label == "contradiction":
        hypothesis = rng.choice([f"{subject} {rng.choice(d['opposite'])} .",
                                 f"nobody {action.split(' ', 1)[1] if action.startswith('is ') else action} {place} .",
                                 f"{subject} never {action.replace('is ', '', 1)} ."])
    else:
        hypothesis = rng.choice([f"{subject} {action} {rng.choice(d['extra'])} .",
                                 f"{d['general'][subject]} {action} {rng.choice(d['extra'])} ."])
    return premise, hypothesis


def generate(n: int, domain: str, seed: int, prefix: str) -> pd.DataFrame:
    """`n` pairs (id, premise, hypothesis, label) of the domain "everyday" or "finance"."""
    if domain not in _DOMAINS:
        raise ValueError(f"domain {domain!r}: expected one of {', '.join(_DOMAINS)}")
    rng = random.Random(f"{domain}:{seed}")
    rows = []
    for i in range(n):
        label = rng.choice(LABELS)
        premise, hypothesis = _pair(rng, _DOMAINS[domain], label)
        rows.append({"id": f"{prefix}{i:06d}", "premise": premise, "hypothesis": hypothesis,
                     "label": label})
    return pd.DataFrame(rows, columns=["id", "premise", "hypothesis", "label"])


# --------------------------------------------------------------------- model

def overlap(tokenizer: Tokenizer, premise: str, hypothesis: str) -> float:
    """The share of the hypothesis's words found in the premise."""
    p = set(tokenizer.words_of(premise))
    h = tokenizer.words_of(hypothesis)
    return sum(w in p for w in h) / max(len(h), 1)


class PairTokenizer(Tokenizer):
    """sentiment.Tokenizer (lower-cased words plus hashed word bigrams; without
    bigrams when bigram_buckets is 0) with the word list of a text, for the
    overlap feature."""

    def __init__(self, texts=(), bigram_buckets: int = 1 << 16, **kwargs: Any):
        super().__init__(texts, bigram_buckets=max(bigram_buckets, 1), **kwargs)
        self.bigram_buckets = bigram_buckets

    def encode(self, text: str) -> list[int]:
        if self.bigram_buckets:
            return super().encode(text)
        return [self.index.get(w, 1) for w in self.words_of(text)[: self.max_tokens]] or [1]

    def words_of(self, text: str) -> list[str]:
        return _WORD.findall(text.lower())


class PairClassifier(nn.Module):
    """Premise and hypothesis encoded by one EmbeddingBag (mean of word and
    bigram embeddings), features [p, h, |p-h|, p*h, overlap], a hidden layer (the
    embedding), a linear classifier. forward(p_ids, p_mask, h_ids, h_mask,
    overlap) returns (embedding, logits)."""

    def __init__(self, vocab_size: int, num_labels: int, token_dim: int = 64, hidden: int = 128,
                 dropout: float = 0.1):
        super().__init__()
        self.config = {"vocab_size": vocab_size, "num_labels": num_labels, "token_dim": token_dim,
                       "hidden": hidden, "dropout": dropout}
        self.tokens = nn.EmbeddingBag(vocab_size, token_dim, mode="sum", sparse=True)
        nn.init.uniform_(self.tokens.weight, -1.0 / token_dim, 1.0 / token_dim)
        self.hidden = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * token_dim + 1, hidden),
                                    nn.ReLU(), nn.Dropout(dropout))
        self.classifier = nn.Linear(hidden, num_labels)

    def encode(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = mask.to(torch.float32)
        weights = weights / weights.sum(1, keepdim=True).clamp(min=1)
        return self.tokens(ids, per_sample_weights=weights)

    def forward(self, p_ids, p_mask, h_ids, h_mask, overlap):
        p, h = self.encode(p_ids, p_mask), self.encode(h_ids, h_mask)
        emb = self.hidden(torch.cat([p, h, (p - h).abs(), p * h, overlap[:, None]], dim=1))
        return emb, self.classifier(emb)


class MonitoredPairModel(nn.Module):
    """Wraps any pair model returning (embedding, logits): its forward pass logs
    both for the batch's ids, then returns the logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: Sequence[torch.Tensor], ids: Sequence[str]):
        emb, logits = self.model(*inputs)
        dq.log_model_outputs(embs=emb, logits=logits, ids=ids)
        return logits


# ------------------------------------------------------------------- dataset

class NliDataset(torch.utils.data.Dataset):
    """Rows of a DataFrame (id, premise, hypothesis[, label]); logs itself to
    Sextant when built (labels only for labeled splits; inference sets keep them
    here for our own accuracy, unlogged)."""

    def __init__(self, df: pd.DataFrame, tokenizer: PairTokenizer, split: str,
                 inference_name: Optional[str] = None):
        self.ids = df["id"].astype(str).tolist()
        self.inputs = [(tokenizer.encode(p), tokenizer.encode(h), overlap(tokenizer, p, h))
                       for p, h in zip(df["premise"], df["hypothesis"])]
        self.labels = ([LABELS.index(x) for x in df["label"]] if "label" in df.columns
                       else [-1] * len(df))
        dq.log_dataset(df, premise="premise", hypothesis="hypothesis", id="id",
                       label="label" if split != "inference" else None, split=split,
                       inference_name=inference_name)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        return self.ids[i], self.inputs[i], self.labels[i]


def _pad(seqs: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    x = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.long)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return x, mask


def collate(batch):
    ids = [b[0] for b in batch]
    p, pm = _pad([b[1][0] for b in batch])
    h, hm = _pad([b[1][1] for b in batch])
    ov = torch.tensor([b[1][2] for b in batch], dtype=torch.float32)
    return ids, (p, pm, h, hm, ov), torch.tensor([b[2] for b in batch])


def evaluate(model: MonitoredPairModel, loader) -> float:
    """Runs (and so logs) the model over a loader; accuracy against the dataset's labels."""
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for ids, inputs, y in loader:
            logits = model(inputs, ids)
            correct += int((logits.argmax(1) == y).sum())
            total += int((y >= 0).sum())
    return correct / max(total, 1)


# ------------------------------------------------------------------- results

def results(project: str, run: str, root: Optional[str]) -> dict[str, Any]:
    """Per split: accuracy (labeled splits) and the share of samples drifted
    (inference) or out of coverage (validation), from dq.get_summary and
    dq.get_dataframe."""
    summary = dq.get_summary(project_name=project, run_name=run, root=root)
    out: dict[str, Any] = {}
    for name, s in summary["splits"].items():
        split, _, inference_name = name.partition(":")
        df = dq.get_dataframe(split, inference_name or None, project_name=project, run_name=run,
                              root=root)
        drift = s.get("drifted") or s.get("out_of_coverage") or {}
        flags = df["is_drifted"].dropna() if "is_drifted" in df.columns else []
        out[name] = {
            "samples": s.get("samples"),
            "accuracy": s.get("accuracy"),
            "drifted": float(flags.astype(bool).mean()) if len(flags) else None,
            "summary_drift": drift.get("fraction"),
            "on_the_boundary": (s.get("on_the_boundary") or {}).get("fraction"),
            "mean_confidence": float(df["confidence"].mean()) if len(df) else None,
            "drift_verdict": s.get("drift_verdict"),
            "domain_test": s.get("domain_test"),
        }
    return out


def pct(x: Optional[float]) -> str:
    return "    -  " if x is None else f"{100 * x:6.1f}%"


def print_results(figures: dict[str, Any]) -> None:
    print(f"\n{'split':26} {'samples':>8} {'accuracy':>9} {'drifted/out of coverage':>24} "
          f"{'boundary':>9} {'confidence':>10}")
    for name, f in figures.items():
        conf = "-" if f["mean_confidence"] is None else f"{f['mean_confidence']:.3f}"
        print(f"{name:26} {f['samples'] or 0:8d} {pct(f['accuracy']):>9} {pct(f['drifted']):>24} "
              f"{pct(f['on_the_boundary']):>9} {conf:>10}")
    validation = figures.get("validation", {}).get("drifted")
    for name, f in figures.items():
        if name.startswith("inference:"):
            verdict = f.get("drift_verdict") or {}
            ci = (f" (95% CI {pct(verdict.get('ci_low')).strip()} to "
                  f"{pct(verdict.get('ci_high')).strip()}, "
                  f"{'drift' if verdict.get('drifted') else 'no drift'} at alpha {verdict.get('alpha')})"
                  if verdict else "")
            print(f"{name}: {pct(f['drifted']).strip()} drifted{ci} vs {pct(validation).strip()} "
                  f"of validation out of coverage")
    for name, f in figures.items():
        line = domain_test_text(f.get("domain_test"))
        if line:
            print(f"{name}: {line}")


# ---------------------------------------------------------------------- main

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None, help="store root (default $SEXTANT_HOME, else ~/.sextant)")
    p.add_argument("--project", default="demo")
    p.add_argument("--run", default="nli")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-train", type=int, default=None, help="use at most N training pairs")
    p.add_argument("--max-eval", type=int, default=None,
                   help="at most N pairs for validation and each inference set")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-4,
                   help="learning rate (5e-4: with 20k MNLI pairs the bigram table overfits after "
                        "two or three epochs at more)")
    p.add_argument("--bigram-buckets", type=int, default=1 << 16,
                   help="hashed word-bigram embeddings (0: words only)")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: this small model gains nothing from more)")
    p.add_argument("--results-json", default=None, help="also write the printed figures here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    started = time.perf_counter()

    train_df, val_df, production, source = load_data(args.max_train, args.max_eval)
    print(f"data: {source}: training {len(train_df)}, validation {len(val_df)}, "
          + ", ".join(f"{k} {len(v)}" for k, v in production.items()))
    tokenizer = PairTokenizer(pd.concat([train_df["premise"], train_df["hypothesis"]]),
                              bigram_buckets=args.bigram_buckets)
    model = PairClassifier(tokenizer.vocab_size, len(LABELS), dropout=args.dropout)
    monitored = MonitoredPairModel(model)
    print(f"model: EmbeddingBag pair classifier, {sum(p.numel() for p in model.parameters()):,} "
          f"parameters ({len(tokenizer.words):,} words + {tokenizer.bigram_buckets:,} bigram buckets)")

    dq.init(task_type="natural_language_inference", project_name=args.project, run_name=args.run,
            root=args.root)
    dq.set_labels_for_run(LABELS)
    train_set = NliDataset(train_df, tokenizer, "training")
    val_set = NliDataset(val_df, tokenizer, "validation")
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                                               collate_fn=collate)
    loader = lambda ds: torch.utils.data.DataLoader(ds, batch_size=256, collate_fn=collate)  # noqa: E731

    optimizer = Optimizer(model, lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        start = time.perf_counter()
        dq.set_split("training")
        dq.set_epoch(epoch)
        model.train()
        loss_sum = 0.0
        for ids, inputs, y in train_loader:
            logits = monitored(inputs, ids)  # logs embeddings and logits
            loss = loss_fn(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += float(loss) * len(ids)
        dq.set_split("validation")
        dq.set_epoch(epoch)
        accuracy = evaluate(monitored, loader(val_set))
        print(f"epoch {epoch}: loss {loss_sum / len(train_set):.4f}, validation accuracy "
              f"{accuracy:.3f} ({time.perf_counter() - start:.1f} s)")
    train_seconds = time.perf_counter() - started
    root = pathlib.Path(dq.current_run()[0])
    path = root / args.project / f"{args.run}.model.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.config, "state": model.state_dict(),
                "tokenizer": tokenizer.state_dict(), "labels": LABELS}, path)

    own = {}
    for name, df in production.items():
        ds = NliDataset(df, tokenizer, "inference", inference_name=name)
        dq.set_split("inference", name)
        own[name] = evaluate(monitored, loader(ds))  # logs; accuracy against the unlogged labels
        print(f"inference set {name}: {len(ds)} pairs logged (accuracy against its labels, "
              f"not logged: {own[name]:.3f})")
    report = dq.finish()
    print(f"finished {report['samples']} samples in {report['seconds']:.1f} s "
          f"(training {train_seconds:.0f} s, all {time.perf_counter() - started:.0f} s)")

    figures = results(args.project, args.run, args.root)
    print_results(figures)
    if args.results_json:
        pathlib.Path(args.results_json).write_text(json.dumps(
            {"splits": figures, "validation_accuracy": accuracy, "inference_accuracy": own,
             "train_seconds": train_seconds}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
