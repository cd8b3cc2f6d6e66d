"""`sextant compare`: two splits side by side, checked against an independent
computation from the per-sample rows that `sextant samples` prints."""

import math

import numpy as np
import pytest

from conftest import LABELS, DataMaker, Sextant

P, RUN = "p", "cmp"


@pytest.fixture(scope="module")
def run(sextant_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("compare")
    cli = Sextant(sextant_bin, base / "store")
    dm = DataMaker(base / "data", seed=3)
    cli.import_split(P, RUN, dm.write("train", 240, seed=1, id_prefix="tr-"), "training")
    cli.import_split(P, RUN, dm.write("same", 120, seed=2, labeled=False, id_prefix="sa-"),
                     "inference", inference_name="same", labels=None)
    # Shifted away from training, and mostly of one class: the class shares change too.
    classes = np.where(np.arange(120) % 4 == 0, 0, 2)
    cli.import_split(P, RUN, dm.write("moved", 120, seed=3, shift=3.0, labeled=False,
                                      id_prefix="mv-", classes=classes),
                     "inference", inference_name="moved", labels=None, finish=True)
    return cli


def rows(cli, split, name=None):
    return cli.samples(P, RUN, split, inference_name=name)


def two_proportion_p(xa, na, xb, nb):
    p = (xa + xb) / (na + nb)
    se = math.sqrt(p * (1 - p) * (1 / na + 1 / nb))
    return math.erfc(abs(xb / nb - xa / na) / se / math.sqrt(2))


def metric(j, name):
    return next(m for m in j["metrics"] if m["name"] == name)


def test_compare_json_matches_the_rows(run):
    j = run("compare", *run.run_args(P, RUN), "inference:same", "inference:moved",
            "--format", "json").json()
    a, b = rows(run, "inference", "same"), rows(run, "inference", "moved")
    assert j["a"] == {"split": "inference:same", "samples": len(a), "labeled": False}
    assert j["b"]["samples"] == len(b)

    # Drifted share: the two-proportion z test, recomputed.
    da, db = sum(r["is_drifted"] for r in a), sum(r["is_drifted"] for r in b)
    d = metric(j, "drifted_share")
    assert d["a"]["value"] == pytest.approx(da / len(a))
    assert d["b"]["value"] == pytest.approx(db / len(b))
    assert d["change"] == pytest.approx(db / len(b) - da / len(a))
    assert d["test"]["name"] == "two-proportion z"
    assert d["test"]["p_value"] == pytest.approx(two_proportion_p(da, len(a), db, len(b)), rel=1e-9)
    assert d["test"]["significant"]

    # Mean confidence: Welch's t and its degrees of freedom, recomputed.
    ca, cb = np.array([r["confidence"] for r in a]), np.array([r["confidence"] for r in b])
    va, vb = ca.var(ddof=1) / len(ca), cb.var(ddof=1) / len(cb)
    t = (cb.mean() - ca.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(ca) - 1) + vb ** 2 / (len(cb) - 1))
    m = metric(j, "mean_confidence")
    assert m["a"]["value"] == pytest.approx(ca.mean())
    assert m["test"]["statistic"] == pytest.approx(t, rel=1e-9)
    assert m["test"]["df"] == pytest.approx(df, rel=1e-9)

    # Class shares: the chi-square statistic of the 2 x C table, recomputed.
    na = np.array([sum(r["pred"] == l for r in a) for l in LABELS], float)
    nb = np.array([sum(r["pred"] == l for r in b) for l in LABELS], float)
    keep = na + nb > 0
    table = np.stack([na[keep], nb[keep]])
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    chi2 = ((table - expected) ** 2 / expected).sum()
    cs = j["class_shares"]
    assert cs["test"]["statistic"] == pytest.approx(chi2, rel=1e-9)
    assert cs["test"]["df"] == keep.sum() - 1
    assert cs["test"]["significant"]
    assert [c["b"]["count"] for c in cs["classes"]] == nb.astype(int).tolist()

    # Confidence per predicted class.
    for c in j["confidence_per_class"]:
        conf = [r["confidence"] for r in b if r["pred"] == c["label"]]
        assert c["b"]["n"] == len(conf)
        if conf:
            assert c["b"]["mean"] == pytest.approx(np.mean(conf))

    # Both are inference sets: verdicts side by side; the moved set drifted.
    assert j["drift_verdicts"]["b"]["drifted"] is True
    # The grown regions hold the moved set's samples.
    grew = j["regions"]["grew"]
    assert grew and all(g["change"] > 0 for g in grew)
    assert all(e["id"].startswith("mv-") for g in grew for e in g["examples"])


def test_compare_table_and_errors(run):
    r = run("compare", *run.run_args(P, RUN), "training", "inference:moved")
    assert "A = training" in r.stdout and "B = inference:moved" in r.stdout
    for word in ("drifted_share", "mean_confidence", "predicted class shares", "chi-square",
                 "Welch t", "map regions that grew"):
        assert word in r.stdout, word
    missing = run("compare", *run.run_args(P, RUN), "training", "inference:nope", check=False)
    assert missing.rc == 1
    assert "b: split 'inference:nope' is not in run 'p/cmp'" in missing.stderr
    bad = run("compare", *run.run_args(P, RUN), "prod", "training", check=False)
    assert bad.rc == 2 and "prod" in bad.stderr
