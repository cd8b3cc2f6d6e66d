"""The samples filter `similar_split/similar_id/similar_k` with each sample's
`distance` and `sort=distance` (GET .../samples, POST .../samples/query, the
map), and the map's `match`/`matched` for the samples filters
(docs/http-api.md, "Samples" and "Map")."""

import json

import pytest

from conftest import api
from test_api import error_of


def neighbours(server, split, id, k, in_split):
    got = server.get(api() + "/similar", {"split": split, "id": id, "k": k, "in": in_split})
    return {n["id"]: n["distance"] for n in got["neighbors"]}


def test_similar_restricts_to_the_k_nearest_with_their_distance(server):
    near = neighbours(server, "training", "tr-4", 12, "training")
    got = server.get(api() + "/samples", {"split": "training", "similar_split": "training",
                                          "similar_id": "tr-4", "similar_k": 12, "limit": 100})
    assert got["total"] == 12
    assert {s["id"] for s in got["samples"]} == set(near)
    assert "tr-4" not in {s["id"] for s in got["samples"]}  # the query sample itself
    for s in got["samples"]:
        assert s["distance"] == pytest.approx(near[s["id"]])
    # The default k is 50.
    got = server.get(api() + "/samples", {"split": "training", "similar_split": "training",
                                          "similar_id": "tr-4", "limit": 1})
    assert got["total"] == 50


def test_sort_by_distance_both_ways(server):
    params = {"split": "training", "similar_split": "training", "similar_id": "tr-9",
              "similar_k": 20, "sort": "distance", "limit": 100}
    asc = server.get(api() + "/samples", params)["samples"]
    d = [s["distance"] for s in asc]
    assert d == sorted(d) and len(d) == 20
    desc = server.get(api() + "/samples", {**params, "order": "desc"})["samples"]
    assert [s["distance"] for s in desc] == sorted(d, reverse=True)
    page = server.get(api() + "/samples", {**params, "offset": 5, "limit": 5})["samples"]
    assert [s["id"] for s in page] == [s["id"] for s in asc[5:10]]


def test_similar_composes_with_the_other_filters(server):
    near = neighbours(server, "training", "tr-2", 40, "training")
    every = server.get(api() + "/samples", {"split": "training", "pred": "positive",
                                            "limit": 1000})["samples"]
    positive = {s["id"] for s in every}
    got = server.get(api() + "/samples", {"split": "training", "similar_split": "training",
                                          "similar_id": "tr-2", "similar_k": 40,
                                          "pred": "positive", "sort": "confidence",
                                          "order": "desc", "limit": 100})
    assert {s["id"] for s in got["samples"]} == set(near) & positive
    assert got["total"] == len(set(near) & positive)
    conf = [s["confidence"] for s in got["samples"]]
    assert conf == sorted(conf, reverse=True)


def test_similar_searches_another_split(server):
    near = neighbours(server, "training", "tr-1", 10, "inference:shifted")
    got = server.get(api() + "/samples", {"split": "inference:shifted", "similar_split": "training",
                                          "similar_id": "tr-1", "similar_k": 10,
                                          "sort": "distance"})
    assert [s["id"] for s in got["samples"]] == sorted(near, key=lambda i: (near[i], i))
    assert all(s["split"] == "inference:shifted" for s in got["samples"])


def test_similar_in_the_post_body(server):
    by_get = server.get(api() + "/samples", {"split": "training", "similar_split": "training",
                                             "similar_id": "tr-3", "similar_k": 8,
                                             "sort": "distance"})
    by_post = server.post(api() + "/samples/query",
                          {"split": "training", "similar": {"split": "training", "id": "tr-3", "k": 8},
                           "sort": "distance"})
    assert by_post == by_get
    err = error_of(server, "POST", api() + "/samples/query",
                   body={"split": "training", "similar": {"split": "training", "id": "tr-3", "k": 0}})
    assert "similar.k" in err["message"]


def test_similar_errors_name_the_field(server):
    base = {"split": "training"}
    err = error_of(server, "GET", api() + "/samples",
                   {**base, "similar_split": "training", "similar_id": "nope"}, expect=404)
    assert "similar_id" in err["message"] and "nope" in err["message"]
    err = error_of(server, "GET", api() + "/samples",
                   {**base, "similar_split": "inference:nope", "similar_id": "tr-1"}, expect=404)
    assert "similar_split" in err["message"] and "inference:nope" in err["message"]
    err = error_of(server, "GET", api() + "/samples", {**base, "sort": "distance"})
    assert "sort" in err["message"] and "similar" in err["message"]
    err = error_of(server, "GET", api() + "/samples",
                   {**base, "similar_split": "training", "similar_id": "tr-1", "similar_k": 1001})
    assert "similar_k" in err["message"]
    err = error_of(server, "GET", api() + "/samples", {**base, "similar_split": "training"})
    assert "similar_id" in err["message"]
    err = error_of(server, "GET", api() + "/samples", {**base, "similar_id": "tr-1"})
    assert "similar_split" in err["message"]


def test_map_match_follows_the_samples_filters(server):
    plain = server.get(api() + "/map")
    drifted = server.get(api() + "/map", {"drifted": "true"})
    assert drifted["bounds"] == plain["bounds"]
    for p, f in zip(plain["splits"], drifted["splits"]):
        assert f["split"] == p["split"]
        assert f["points"] == p["points"]  # the same layout: the client dims, never re-lays out
        assert len(f["match"]) == len(p["points"]["x"])
        assert set(f["match"]) <= {0, 1}
        want = server.get(api() + "/samples", {"split": p["split"], "drifted": "true",
                                               "limit": 1000})
        ids = {s["id"] for s in want["samples"]}
        assert f["matched"] == want["total"]
        assert [int(i in ids) for i in p["points"]["id"]] == f["match"]
        # Each point's drift flag.
        assert len(p["points"]["drifted"]) == len(p["points"]["x"])
        assert set(p["points"]["drifted"]) <= {0, 1, None}
    shifted = next(s for s in plain["splits"] if s["split"] == "inference:shifted")
    assert 1 in shifted["points"]["drifted"]
    train = next(s for s in plain["splits"] if s["split"] == "training")
    assert set(train["points"]["drifted"]) == {None}
    # Without a filter there is no match.
    assert "match" not in plain["splits"][0] and "matched" not in plain["splits"][0]


def test_map_match_with_similar_and_a_class(server):
    got = server.get(api() + "/map", {"splits": "training,inference:shifted",
                                      "similar_split": "training", "similar_id": "tr-5",
                                      "similar_k": 15, "pred": "positive"})
    for s in got["splits"]:
        near = neighbours(server, "training", "tr-5", 15, s["split"])
        rows = server.get(api() + "/samples", {"split": s["split"], "pred": "positive",
                                               "limit": 1000})["samples"]
        want = set(near) & {r["id"] for r in rows}
        assert s["matched"] == len(want)
        assert {i for i, m in zip(s["points"]["id"], s["match"]) if m} == want
    err = error_of(server, "GET", api() + "/map", {"pred": "nope"})
    assert "pred" in err["message"]


def test_map_match_of_a_downsampled_map_counts_every_sample(server):
    got = server.get(api() + "/map", {"splits": "training", "max_points": 16, "pred": "positive"})
    s = got["splits"][0]
    total = server.get(api() + "/samples", {"split": "training", "pred": "positive",
                                            "limit": 1})["total"]
    assert s["downsampled"] and s["matched"] == total
    assert len(s["match"]) == len(s["points"]["x"]) and 1 in s["match"]


def test_export_takes_the_similar_filter(server):
    near = neighbours(server, "training", "tr-6", 7, "training")
    body = server.get(api() + "/export", {"split": "training", "similar_split": "training",
                                          "similar_id": "tr-6", "similar_k": 7, "format": "jsonl"})
    ids = [json.loads(line)["id"] for line in body.decode().splitlines() if line]
    assert sorted(ids) == sorted(near)


def test_export_in_distance_order_has_the_distance_column(server):
    # The console exports what the table shows: with a similar filter that is the
    # distance column, in distance order.
    near = neighbours(server, "training", "tr-6", 7, "training")
    body = server.get(api() + "/export", {"split": "training", "similar_split": "training",
                                          "similar_id": "tr-6", "similar_k": 7, "format": "jsonl",
                                          "sort": "distance", "columns": "id,distance"})
    rows = [json.loads(line) for line in body.decode().splitlines() if line]
    assert [list(r) for r in rows] == [["id", "distance"]] * 7
    assert [r["distance"] for r in rows] == sorted(r["distance"] for r in rows)
    for r in rows:
        assert r["distance"] == pytest.approx(near[r["id"]])
    # Without a similar filter there is no distance to export.
    err = error_of(server, "GET", api() + "/export",
                   {"split": "training", "format": "csv", "columns": "id,distance"})
    assert "distance" in err["message"]
