#!/usr/bin/env python3
"""What `sextant.log_model_outputs` adds to a forward pass (not part of `make test`).

The example model of examples/python (an EmbeddingBag text classifier) at
embedding width 768 and 10 labels, batches of 32 real SST-2 phrases (generated
ones without $SEXTANT_DATA). Measured in the same run, interleaved:

  forward          the model's forward pass (training mode, with autograd), alone
  forward + log    the same forward pass through MonitoredModel, which calls
                   log_model_outputs(embs=, logits=, ids=) on its outputs
  log alone        log_model_outputs on a batch already computed

in a shuffled order per round, and prints medians and two ratios to the
forward pass: log_model_outputs alone, and (forward + log - forward), the
latter noisier on a loaded machine. The target is under 5%. Each logged batch is a new set of ids (one output row per
sample and epoch), so the engine does all of its work: validation, the copy,
the queue to the background writer.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_logging_bench.py [--batches 2000]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import pathlib
import statistics
import sys
import tempfile
import time

import torch

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "examples" / "python"))
import sentiment  # noqa: E402

import sextant as dq  # noqa: E402


def blas_kernel() -> str:
    """The OpenBLAS kernel torch's forward pass ran on (OPENBLAS_CORETYPE may force an older one)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line.split()[-1]}
    for path in sorted(paths):
        get = getattr(ctypes.CDLL(path), "openblas_get_corename", None)
        if get is not None:
            get.restype = ctypes.c_char_p
            return f"OpenBLAS {get().decode()} ({os.path.basename(path)})"
    return f"no OpenBLAS loaded (torch: {torch.__config__.show().count('BLAS')} BLAS lines)"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=2000, help="timed batches per variant")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--width", type=int, default=768, help="embedding width")
    p.add_argument("--labels", type=int, default=10)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)

    train_df, _, source = sentiment.training_data(None)
    tokenizer = sentiment.Tokenizer(train_df["text"])
    model = sentiment.BagOfWordsClassifier(tokenizer.vocab_size, args.labels, token_dim=args.width,
                                           hidden=args.width)
    model.train()
    monitored = sentiment.MonitoredModel(model)
    texts = train_df["text"].tolist()
    n_batches = args.batches * 3 + 50
    batches = []
    for b in range(n_batches):
        rows = [(f"s{b}-{i}", tokenizer.encode(texts[(b * args.batch_size + i) % len(texts)]), 0)
                for i in range(args.batch_size)]
        batches.append(sentiment.collate(rows))

    labels = [f"class_{i}" for i in range(args.labels)]
    with tempfile.TemporaryDirectory() as root:
        dq.init(task_type="text_classification", project_name="bench", run_name="log", root=root)
        dq.set_labels_for_run(labels)
        all_ids = [i for ids, _, _, _ in batches for i in ids]
        dq.log_data_samples(texts=["x"] * len(all_ids), ids=all_ids,
                            labels=[i % args.labels for i in range(len(all_ids))], split="training")
        dq.set_split("training")
        dq.set_epoch(0)

        plain, logged, log_only = [], [], []
        it = iter(batches)
        for _ in range(20):  # warm-up of both paths
            ids, x, mask, _ = next(it)
            model(x, mask)
            monitored(x, mask, ids)
        def forward_only():
            ids, x, mask, _ = next(it)
            t0 = time.perf_counter()
            model(x, mask)
            plain.append(time.perf_counter() - t0)

        def forward_and_log():
            ids, x, mask, _ = next(it)
            t0 = time.perf_counter()
            monitored(x, mask, ids)
            logged.append(time.perf_counter() - t0)

        def log_alone():
            ids, x, mask, _ = next(it)
            emb, logits = model(x, mask)
            t0 = time.perf_counter()
            dq.log_model_outputs(embs=emb, logits=logits, ids=ids)
            log_only.append(time.perf_counter() - t0)

        order = random.Random(0)
        variants = [forward_only, forward_and_log, log_alone]
        for _ in range(args.batches):
            order.shuffle(variants)  # no variant always runs first (or after another)
            for v in variants:
                v()
        t0 = time.perf_counter()
        dq.flush()
        flush_s = time.perf_counter() - t0
        dq._api._close_current()

    f, fl, lo = (statistics.median(v) * 1e6 for v in (plain, logged, log_only))
    tokens = statistics.mean(int(m.sum()) / m.shape[0] for _, _, m, _ in batches)
    print(f"data: {source}; batch {args.batch_size}, width {args.width}, {args.labels} labels, "
          f"{tokens:.1f} tokens per sample, torch threads {args.threads}, {args.batches} batches each")
    print(f"{'variant':16} {'median us':>10} {'mean us':>10}")
    for name, v in [("forward", plain), ("forward + log", logged), ("log alone", log_only)]:
        print(f"{name:16} {statistics.median(v) * 1e6:10.1f} {statistics.mean(v) * 1e6:10.1f}")
    print(f"log_model_outputs alone: {lo:.1f} us = {lo / f:.3f} of the {f:.1f} us forward pass "
          f"(medians); forward + log - forward: {fl - f:+.1f} us = {(fl - f) / f:+.3f}; "
          f"target < 0.05")
    print(f"BLAS: {blas_kernel()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"final flush of the background writer: {flush_s * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
