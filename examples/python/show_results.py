#!/usr/bin/env python3
"""Prints what Sextant found, read back through the Python API: per split the
drifted and on-the-boundary shares, and per class the predicted distribution
and mean confidence of each production set next to training.

    /usr/bin/python3 examples/python/show_results.py --root .sextant-demo --project demo --run sentiment
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import sextant as dq

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from findings import domain_test_text  # noqa: E402


def pct(x) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None)
    p.add_argument("--project", default="demo")
    p.add_argument("--run", default="sentiment")
    args = p.parse_args(argv)

    summary = dq.get_summary(project_name=args.project, run_name=args.run, root=args.root)
    labels = summary["labels"]
    splits = summary["splits"]
    print(f"run {args.project}/{args.run}: labels {', '.join(labels)}")
    print(f"{'split':24} {'samples':>8} {'accuracy':>9} {'drifted':>8} {'boundary':>9}")
    for name, s in splits.items():
        drift = s.get("drifted") or s.get("out_of_coverage") or {}
        print(f"{name:24} {s['samples']:8d} {pct(s.get('accuracy')):>9} "
              f"{pct(drift.get('fraction')):>8} {pct(s['on_the_boundary']['fraction']):>9}")

    training = splits.get("training")
    for name, s in splits.items():
        if not name.startswith("inference:"):
            continue
        inference_name = name.split(":", 1)[1]
        df = dq.get_dataframe("inference", inference_name, project_name=args.project,
                              run_name=args.run, root=args.root)
        verdict = s.get("drift_verdict") or {}
        print(f"\n{name}: {len(df)} samples, drifted {pct(df['is_drifted'].astype(bool).mean())} "
              f"(95% CI {pct(verdict.get('ci_low'))} to {pct(verdict.get('ci_high'))}, "
              f"{'drift' if verdict.get('drifted') else 'no drift'} at alpha {verdict.get('alpha')}), "
              f"on the boundary {pct(df['is_on_the_boundary'].mean())}")
        line = domain_test_text(s.get("domain_test"))
        if line:
            print(f"  {line}")
        print(f"  {'class':12} {'training pred':>14} {'production pred':>16} "
              f"{'training conf':>14} {'production conf':>16}")
        for label in labels:
            t_frac = training["pred_distribution"][label]["fraction"] if training else None
            t_conf = training["mean_confidence_per_class"][label] if training else None
            mine = df[df["pred"] == label]
            conf = float(mine["confidence"].mean()) if len(mine) else None
            print(f"  {label:12} {pct(t_frac):>14} {pct(len(mine) / max(len(df), 1)):>16} "
                  f"{'-' if t_conf is None else f'{t_conf:.3f}':>14} "
                  f"{'-' if conf is None else f'{conf:.3f}':>16}")
        worst = df.sort_values("drift_score", ascending=False).head(3)
        for _, row in worst.iterrows():
            print(f"  most drifted: {row['id']} ({row['drift_score']:.3f}) {row['text'][:70]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
