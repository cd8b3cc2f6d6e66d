"""End-to-end tests of the 2-D map: `sextant map`, the x and y sample fields and
parameters.map in the summary, through the real binary."""

import math

import numpy as np
import pytest

from conftest import LABELS, DataMaker, Sextant

P = "mapproj"
MAP_KEYS = ["id", "split", "x", "y", "pred", "gold", "drift_score", "shift_score"]
SIZES = {"training": 300, "inference:same": 100, "inference:shifted": 100}


@pytest.fixture(scope="module")
def mapped(sextant_bin, tmp_path_factory):
    base = tmp_path_factory.mktemp("map")
    cli = Sextant(sextant_bin, base / "store")
    dm = DataMaker(base / "data", seed=3)
    files = {
        "training": dm.write("train", SIZES["training"], seed=1, id_prefix="tr-"),
        "inference:same": dm.write("same", SIZES["inference:same"], seed=2, labeled=False,
                                   id_prefix="sa-"),
        "inference:shifted": dm.write("shifted", SIZES["inference:shifted"], seed=3, shift=3.0,
                                      labeled=False, id_prefix="sh-"),
    }
    cli.import_split(P, "m", files["training"], "training")
    cli.import_split(P, "m", files["inference:same"], "inference", inference_name="same", labels=None)
    cli.import_split(P, "m", files["inference:shifted"], "inference", inference_name="shifted",
                     labels=None, finish=True)
    return cli, files


def map_rows(cli, *args, fmt=None):
    r = cli("map", *cli.run_args(P, "m"), *args, *(["--format", fmt] if fmt else []))
    return r.csv() if fmt == "csv" else r.jsonl()


def test_map_lists_every_sample_of_every_split_once(mapped):
    cli, files = mapped
    rows = map_rows(cli)
    assert len(rows) == sum(SIZES.values())
    for r in rows:
        assert list(r) == MAP_KEYS
        assert math.isfinite(r["x"]) and math.isfinite(r["y"])
    for split, f in files.items():
        got = [r for r in rows if r["split"] == split]
        assert [r["id"] for r in got] == f.ids, split  # row (logging) order
        if split == "training":
            assert [r["gold"] for r in got] == f.labels
            assert all(r["drift_score"] is None for r in got)
        if not split.startswith("inference"):
            assert all(r["shift_score"] is None for r in got)  # inference sets only
        if split != "training":
            assert all(r["gold"] is None for r in got)
            assert all(0 <= r["drift_score"] <= 1 for r in got)
        assert all(r["pred"] in LABELS for r in got)


def test_split_filter_and_csv(mapped):
    cli, files = mapped
    all_rows = {(r["split"], r["id"]): r for r in map_rows(cli)}
    shifted = map_rows(cli, "--split", "inference:shifted")
    assert [r["id"] for r in shifted] == files["inference:shifted"].ids
    two = map_rows(cli, "--split", "training,inference:same")
    assert {r["split"] for r in two} == {"training", "inference:same"}
    assert len(two) == SIZES["training"] + SIZES["inference:same"]
    assert map_rows(cli, "--split", "training", "--split", "inference:same") == two
    csv_rows = map_rows(cli, "--split", "training,inference:shifted", fmt="csv")
    assert len(csv_rows) == SIZES["training"] + SIZES["inference:shifted"]
    for c in csv_rows:
        assert list(c) == MAP_KEYS
        j = all_rows[(c["split"], c["id"])]
        assert float(c["x"]) == pytest.approx(j["x"], abs=1e-9)
        assert float(c["y"]) == pytest.approx(j["y"], abs=1e-9)
        assert c["pred"] == j["pred"]
        assert c["gold"] == (j["gold"] or "")
        assert c["drift_score"] == ("" if j["drift_score"] is None else c["drift_score"])
        if j["drift_score"] is not None:
            assert float(c["drift_score"]) == pytest.approx(j["drift_score"], abs=1e-12)


def test_map_rejects_unknown_splits(mapped):
    cli, _ = mapped
    bad = cli("map", *cli.run_args(P, "m"), "--split", "bogus", check=False)
    assert bad.rc == 2 and "--split" in bad.stderr
    absent = cli("map", *cli.run_args(P, "m"), "--split", "test", check=False)
    assert absent.rc == 1 and "test" in absent.stderr


def test_samples_carry_their_map_position(mapped):
    cli, _ = mapped
    pos = {(r["split"], r["id"]): (r["x"], r["y"]) for r in map_rows(cli)}
    for split, name in (("training", None), ("inference", "same"), ("inference", "shifted")):
        rows = cli.samples(P, "m", split, inference_name=name)
        key = split if name is None else f"inference:{name}"
        for r in rows:
            assert (r["x"], r["y"]) == pos[(key, r["id"])]
        csv_rows = cli("samples", *cli.run_args(P, "m"), "--split", split,
                       *(["--inference-name", name] if name else []), "--format", "csv").csv()
        for c in csv_rows:
            x, y = pos[(key, c["id"])]
            assert float(c["x"]) == pytest.approx(x, abs=1e-9)
            assert float(c["y"]) == pytest.approx(y, abs=1e-9)


def test_summary_records_the_map_parameters(mapped):
    cli, _ = mapped
    m = cli.summary(P, "m")["parameters"]["map"]
    assert m["computed"] is True
    assert m["n_neighbors"] == 15 and m["min_dist"] == 0.25 and m["seed"] == 42
    assert m["pca_dims"] == 16  # the embedding width, below 100
    assert m["points"] == sum(SIZES.values()) and m["placed_points"] == 0
    assert m["epochs"] == 500
    assert m["a"] == pytest.approx(1.1214, abs=1e-3) and m["b"] == pytest.approx(1.0575, abs=1e-3)
    assert m["seconds"] >= 0 and set(m["stage_seconds"]) == {"pca", "knn", "graph", "layout", "place"}


def test_a_shifted_set_gets_its_own_region(mapped):
    # The shifted set lies away from the training clusters in embedding space;
    # in the map, a shifted point's nearest points are shifted ones, and a point
    # of the undrifted set is surrounded by training and undrifted points.
    cli, _ = mapped
    rows = map_rows(cli)
    xy = np.array([[r["x"], r["y"]] for r in rows])
    shifted = np.array([r["split"] == "inference:shifted" for r in rows])
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, axis=1)[:, :10]
    assert shifted[nn[shifted]].mean() > 0.9
    assert (~shifted[nn[~shifted]]).mean() > 0.9


def test_finishing_again_gives_the_same_map(mapped):
    cli, _ = mapped
    before = map_rows(cli)
    cli("finish", *cli.run_args(P, "m"))  # nothing new: the stored map, reused
    assert cli.summary(P, "m")["parameters"]["map"]["mode"] == "incremental"
    assert map_rows(cli) == before
    cli("finish", *cli.run_args(P, "m"), "--full-map")  # laid out again: the same map
    m = cli.summary(P, "m")["parameters"]["map"]
    assert m["mode"] == "full" and m["full_reason"] == "map_incremental is off"
    assert map_rows(cli) == before


def test_map_flags_of_finish(mapped):
    cli, files = mapped
    run = cli.run_args(P, "flags")
    cli.import_split(P, "flags", files["training"], "training", extra=["--no-map"], finish=True)
    assert cli.summary(P, "flags")["parameters"]["map"] == {"computed": False,
                                                            "reason": "compute_map is off"}
    off = cli("map", *run, check=False)
    assert off.rc == 1 and "no 2-D map" in off.stderr
    rows = cli.samples(P, "flags", "training")
    assert all(r["x"] is None and r["y"] is None for r in rows)

    cli("finish", *run, "--map-seed", "42")
    seed42 = map_rows_of(cli, "flags")
    cli("finish", *run, "--map-seed", "7")
    seed7 = map_rows_of(cli, "flags")
    assert [r["id"] for r in seed7] == [r["id"] for r in seed42]
    assert [(r["x"], r["y"]) for r in seed7] != [(r["x"], r["y"]) for r in seed42]
    assert cli.summary(P, "flags")["parameters"]["map"]["seed"] == 7

    cli("finish", *run, "--map-max-points", "100")
    m = cli.summary(P, "flags")["parameters"]["map"]
    assert m["layout_points"] == 100 and m["placed_points"] == SIZES["training"] - 100
    assert all(math.isfinite(r["x"]) for r in map_rows_of(cli, "flags"))
    bad = cli("finish", *run, "--map-max-points", "1", check=False)
    assert bad.rc == 2 and "max_points" in bad.stderr


def map_rows_of(cli, run):
    return cli("map", *cli.run_args(P, run)).jsonl()
