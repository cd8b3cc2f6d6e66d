"""Results read back from Python equal the `sextant` CLI's on the same run."""

from __future__ import annotations

import json
import math
import subprocess

import pandas as pd

import sextant as dq
from conftest import small_run


def _cli(sextant_bin, *args):
    out = subprocess.run([str(sextant_bin), *args], capture_output=True, text=True, check=True)
    return out.stdout


def _same(a, b):
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if isinstance(a, float) or isinstance(b, float):
        return b is not None and math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
    return a == b


def test_get_dataframe_equals_cli_samples(root, sextant_bin):
    small_run(root, n_train=250, n_val=50, n_inf=70, epochs=(0, 1))
    dq.finish()  # with the map: x and y are compared too
    base = ["--root", str(root), "--project", "p", "--run", "r"]
    for split, name in [("training", None), ("validation", None), ("inference", "prod")]:
        args = ["samples", *base, "--split", split, "--format", "jsonl"]
        if name:
            args += ["--inference-name", name]
        cli = [json.loads(line) for line in _cli(sextant_bin, *args).splitlines()]
        df = dq.get_dataframe(split, name, include_probs=True)
        assert len(cli) == len(df) > 0
        labels = dq.get_summary()["labels"]
        compared = 0
        for want, (_, got) in zip(cli, df.iterrows()):
            for key, value in want.items():
                if key == "probs":
                    for label, p in value.items():
                        assert _same(p, float(got["prob"][labels.index(label)])), (key, want["id"])
                elif key == "meta":
                    continue
                elif key in got.index:
                    g = got[key]
                    g = None if (g is not None and not isinstance(g, str) and pd.isna(g)) else g
                    g = g.item() if hasattr(g, "item") else g
                    assert _same(value, g), (split, want["id"], key, value, g)
                    compared += 1
        assert compared > 15 * len(cli)


def test_get_summary_equals_cli_summary(root, sextant_bin):
    small_run(root, n_train=200, n_inf=50)
    dq.finish(compute_map=False)
    cli = json.loads(_cli(sextant_bin, "summary", "--root", str(root), "--project", "p", "--run", "r"))
    assert dq.get_summary() == cli
    one = json.loads(_cli(sextant_bin, "summary", "--root", str(root), "--project", "p", "--run", "r",
                          "--split", "inference", "--inference-name", "prod"))
    assert dq.get_summary(split="inference", inference_name="prod") == one
