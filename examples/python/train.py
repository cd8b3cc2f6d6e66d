#!/usr/bin/env python3
"""Trains a small text classifier on SST-2 and logs it to Sextant: the data,
the model's embeddings and logits for every training epoch and for validation.

    /usr/bin/python3 examples/python/train.py --root .sextant-demo --project demo --run sentiment

Without $SEXTANT_DATA (default ../shared/data) it trains on generated movie
reviews. Only `import sextant as dq` is Sextant-specific: the same script logs
to Galileo with `import dataquality as dq`.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import sentiment  # noqa: E402

import sextant as dq  # noqa: E402


def evaluate(model: torch.nn.Module, loader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for ids, x, mask, y in loader:
            logits = model(x, mask, ids)
            correct += int((logits.argmax(1) == y).sum())
            total += len(ids)
    return correct / max(total, 1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None, help="store root (default $SEXTANT_HOME, else ~/.sextant)")
    p.add_argument("--project", default="demo")
    p.add_argument("--run", default="sentiment")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-train", type=int, default=None, help="use at most N training rows")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--model-path", default=None,
                   help="where to save the model (default <root>/<project>/<run>.model.pt)")
    p.add_argument("--no-finish", action="store_true", help="log only; the inference job finishes")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: this small model gains nothing from more)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    train_df, val_df, source = sentiment.training_data(args.max_train)
    print(f"data: {source}: training {len(train_df)}, validation {len(val_df)}")
    tokenizer = sentiment.Tokenizer(train_df["text"])
    model = sentiment.BagOfWordsClassifier(tokenizer.vocab_size, len(sentiment.LABELS))
    monitored = sentiment.MonitoredModel(model)

    dq.init(task_type="text_classification", project_name=args.project, run_name=args.run,
            root=args.root)
    dq.set_labels_for_run(sentiment.LABELS)
    train_set = sentiment.SentimentDataset(train_df, tokenizer, split="training")
    val_set = sentiment.SentimentDataset(val_df, tokenizer, split="validation")
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                                               collate_fn=sentiment.collate)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=256, collate_fn=sentiment.collate)

    optimizer = sentiment.Optimizer(model, lr=2e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        start = time.perf_counter()
        dq.set_split("training")
        dq.set_epoch(epoch)
        model.train()
        loss_sum = 0.0
        for ids, x, mask, y in train_loader:
            logits = monitored(x, mask, ids)  # logs embeddings and logits
            loss = loss_fn(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += float(loss) * len(ids)
        dq.set_split("validation")
        accuracy = evaluate(monitored, val_loader)
        print(f"epoch {epoch}: loss {loss_sum / len(train_set):.4f}, validation accuracy "
              f"{accuracy:.3f} ({time.perf_counter() - start:.1f} s)")

    root = pathlib.Path(dq.current_run()[0])
    model_path = pathlib.Path(args.model_path or root / args.project / f"{args.run}.model.pt")
    sentiment.save(model_path, model, tokenizer)
    print(f"model saved to {model_path}")
    if args.no_finish:
        dq.flush()
        return 0
    report = dq.finish()
    print(f"finished {report['samples']} samples in {report['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
