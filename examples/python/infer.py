#!/usr/bin/env python3
"""The production job: attaches data from a shifted domain (Yelp and Amazon
reviews) to the training run as inference sets, logs the trained model's
embeddings and logits for it, and finishes the run.

    /usr/bin/python3 examples/python/infer.py --root .sextant-demo --project demo --run sentiment

Without $SEXTANT_DATA it uses generated restaurant reviews.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import sentiment  # noqa: E402

import sextant as dq  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None)
    p.add_argument("--project", default="demo")
    p.add_argument("--run", default="sentiment")
    p.add_argument("--model-path", default=None)
    p.add_argument("--sets", default="yelp,amazon",
                   help="production sets from the shared data (yelp, amazon, uci, mr, imdb)")
    p.add_argument("--max-rows", type=int, default=None, help="at most N rows per production set")
    p.add_argument("--time", default=None,
                   help="when this batch of production data happened (ISO 8601, e.g. 2026-12-06, "
                        "or Unix seconds): the sets' place on the run's timeline (default: now)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: this small model gains nothing from more)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    dq.init(task_type="text_classification", project_name=args.project, run_name=args.run,
            root=args.root)
    root = pathlib.Path(dq.current_run()[0])
    model_path = pathlib.Path(args.model_path or root / args.project / f"{args.run}.model.pt")
    model, tokenizer, labels = sentiment.load(model_path)
    model.eval()
    monitored = sentiment.MonitoredModel(model)
    dq.set_labels_for_run(labels)  # must match the training run's list, same order

    for name, df in sentiment.production_sets(args.sets.split(","), args.max_rows).items():
        dataset = sentiment.SentimentDataset(df, tokenizer, split="inference", inference_name=name)
        loader = torch.utils.data.DataLoader(dataset, batch_size=64, collate_fn=sentiment.collate)
        dq.set_split("inference", name, timestamp=args.time)
        with torch.no_grad():
            for ids, x, mask, _ in loader:
                monitored(x, mask, ids)
        print(f"inference set {name}: {len(dataset)} samples logged")
    report = dq.finish()
    print(f"finished {report['samples']} samples ({', '.join(report['splits'])}) in "
          f"{report['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
