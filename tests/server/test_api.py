"""API tests: the real `sextant serve` over a run made with the real CLI.

Answers are checked against the CLI's (`sextant samples`, `sextant similar`)
and against numpy computations on the map positions the API returns.
"""

import csv
import io
import json
import sqlite3
import urllib.parse

import numpy as np
import pytest

from conftest import LABELS, N_PROD, N_TRAIN, N_VAL, PROJECT, RUN, Served, api

SAMPLE_KEYS = {"id", "split", "row", "text", "meta", "gold", "pred", "confidence", "margin",
               "entropy", "is_on_the_boundary", "is_correct", "dep", "aum", "drift_score",
               "is_drifted", "x", "y"}


def error_of(served, method, path, params=None, body=None, expect=400):
    status, headers, data = served.request(method, path, params, body=body)
    assert status == expect, (status, data[:300])
    assert headers["Content-Type"].startswith("application/json")
    err = json.loads(data)["error"]
    assert err["code"] and err["message"]
    return err


def cli_ids(store, split, *args):
    s = split.split(":")
    extra = ["--inference-name", s[1]] if len(s) == 2 else []
    rows = store["cli"]("samples", "--project", PROJECT, "--run", RUN, "--split", s[0], *extra,
                        *args).jsonl()
    return [r["id"] for r in rows]


# ---- runs, summary, insights -----------------------------------------------------------

def test_health_and_runs(server):
    assert server.get("/api/health")["ok"] is True
    runs = server.get("/api/runs")["runs"]
    assert [(r["project"], r["run"]) for r in runs] == [(PROJECT, RUN)]
    info = server.get(api())
    assert info["labels"] == LABELS
    assert info["finished"] is True
    sizes = {s["split"]: s["samples"] for s in info["splits"]}
    assert sizes == {"training": N_TRAIN, "validation": N_VAL, "inference:shifted": N_PROD,
                     "inference:same": N_PROD}


def test_summary_matches_the_cli(server, store):
    run = server.get(api() + "/summary")
    assert run == store["cli"].summary(PROJECT, RUN)
    split = server.get(api() + "/summary", {"split": "inference:shifted"})
    assert split["split"] == "inference:shifted"
    assert split["samples"] == N_PROD


def test_insights_flag_the_shifted_set(server):
    shifted = server.get(api() + "/insights", {"split": "inference:shifted"})
    assert shifted["reference"] == "validation"  # the run has a validation split (issue 16)
    assert [c["label"] for c in shifted["classes"]] == LABELS
    assert shifted["drifted"]["count"] > N_PROD // 2
    assert "data_drift" in [a["kind"] for a in shifted["alerts"]]
    train = server.get(api() + "/insights", {"split": "training"})
    assert train["alerts"] == []
    assert train["accuracy"] is not None
    assert train["drifted"] is None


def test_insights_verdict_is_the_reports_and_alerts_carry_their_filter(server, store):
    shifted = server.get(api() + "/insights", {"split": "inference:shifted"})
    v = shifted["verdict"]
    drift = v["drift"]
    assert drift["available"] is True and drift["drifted"] is True
    assert drift["k"] > 0 and drift["threshold"] > 0
    assert "percentile" in drift["threshold_source"]
    assert drift["share"]["low"] - 1e-9 <= drift["share"]["value"] <= drift["share"]["high"] + 1e-9
    assert drift["p_text"].startswith(("p = ", "p < ")) and drift["p_text"] != "p = 0"
    # The same words as `sextant report` (one formatter, query/verdict.h).
    report = store["cli"]("report", "--project", PROJECT, "--run", RUN).stdout
    assert drift["text"] in report
    for f in v["findings"]:
        assert f["text"] in report
    if v["domain_test"] is not None:
        assert v["domain_test"]["text"] in report
    assert v["lines"][1] == "Drift verdict: " + drift["text"]
    # Every alert names its split and the samples it is about, as a samples filter.
    assert shifted["alerts"]
    for a in shifted["alerts"]:
        assert a["split"] == "inference:shifted"
        assert isinstance(a["filter"], dict)
    drift_alert = next(a for a in shifted["alerts"] if a["kind"] == "data_drift")
    assert drift_alert["filter"] == {"drifted": True}
    page = server.post(api() + "/samples/query",
                       {"split": "inference:shifted", "limit": 1, **drift_alert["filter"]})
    assert page["total"] == shifted["drifted"]["count"]
    for a in shifted["alerts"]:
        if a["kind"] in ("confidence_drop", "class_share_change"):
            assert a["filter"] == {"pred": [a["label"]]}
    # Training, the neighbours themselves, has no drift verdict; validation is its reference.
    assert server.get(api() + "/insights", {"split": "training"})["verdict"]["drift"] is None


# ---- samples ---------------------------------------------------------------------------

def test_samples_default_page(server):
    page = server.get(api() + "/samples", {"split": "training"})
    assert page["total"] == N_TRAIN
    assert page["offset"] == 0 and page["limit"] == 50
    assert len(page["samples"]) == 50
    assert [s["row"] for s in page["samples"]] == list(range(50))
    s = page["samples"][0]
    assert SAMPLE_KEYS <= set(s)
    assert s["meta"]["source"] == "app"
    assert s["x"] is not None and s["gold"] in LABELS


@pytest.mark.parametrize("params,cli_args", [
    ({"gold": "positive", "sort": "confidence", "order": "desc", "limit": 20},
     ["--gold", "positive", "--sort", "confidence:desc", "--limit", "20"]),
    ({"pred": "negative", "misclassified": "true", "limit": 1000},
     ["--class", "negative", "--misclassified"]),
    ({"min_confidence": 0.5, "max_confidence": 0.8, "sort": "margin", "limit": 1000},
     ["--min-confidence", "0.5", "--max-confidence", "0.8", "--sort", "margin"]),
    ({"min_dep": 0.3, "sort": "dep", "order": "desc", "limit": 1000},
     ["--min-dep", "0.3", "--sort", "dep:desc"]),
    ({"on_boundary": "true", "limit": 1000}, ["--on-boundary"]),
    ({"text": "GREAT|superb", "sort": "id", "limit": 1000}, ["--text", "GREAT|superb", "--sort", "id"]),
    ({"ids": "tr-5,tr-7,tr-9999", "limit": 1000}, ["--ids", "tr-5,tr-7,tr-9999"]),
])
def test_samples_filters_match_the_cli(server, store, params, cli_args):
    page = server.get(api() + "/samples", {"split": "training", **params})
    got = [s["id"] for s in page["samples"]]
    assert got == cli_ids(store, "training", *cli_args)
    if params.get("limit") == 1000:
        assert page["total"] == len(got)


def test_samples_drifted_and_paging(server, store):
    all_drifted = cli_ids(store, "inference:shifted", "--drifted", "--sort", "drift_score:desc")
    page = server.get(api() + "/samples", {"split": "inference:shifted", "drifted": "true",
                                           "sort": "drift_score", "order": "desc",
                                           "offset": 5, "limit": 10})
    assert page["total"] == len(all_drifted)
    assert [s["id"] for s in page["samples"]] == all_drifted[5:15]
    assert all(s["is_drifted"] is True and s["gold"] is None for s in page["samples"])
    ooc = server.get(api() + "/samples", {"split": "validation", "drifted": "false", "limit": 1000})
    assert ooc["total"] == len(cli_ids(store, "validation", "--not-drifted"))


def test_samples_meta_and_several_classes(server):
    page = server.get(api() + "/samples", {"split": "training", "meta.source": "app", "limit": 1000})
    assert page["total"] == N_TRAIN // 3
    assert all(s["meta"]["source"] == "app" for s in page["samples"])
    page = server.get(api() + "/samples", {"split": "training", "pred": ["negative", "neutral"],
                                           "limit": 1000})
    assert {s["pred"] for s in page["samples"]} <= {"negative", "neutral"}
    both = server.get(api() + "/samples", {"split": "training", "pred": "negative,neutral", "limit": 1000})
    assert both["total"] == page["total"]


def test_samples_lasso_polygon(server):
    pts = server.get(api() + "/map", {"splits": "training", "max_points": 100000})["splits"][0]["points"]
    x, y = np.array(pts["x"]), np.array(pts["y"])
    cx, cy = x[0], y[0]  # a real point: the clusters leave gaps
    w, h = (x.max() - x.min()) / 4, (y.max() - y.min()) / 4
    poly = [[cx - w, cy - h], [cx + w, cy - h], [cx + w, cy + h], [cx - w, cy + h]]
    inside = {i for i, px, py in zip(pts["id"], x, y) if abs(px - cx) < w and abs(py - cy) < h}
    assert 0 < len(inside) < N_TRAIN
    page = server.post(api() + "/samples/query", {"split": "training", "polygon": poly, "limit": 1000})
    assert {s["id"] for s in page["samples"]} == inside
    assert page["total"] == len(inside)
    # With another filter and the JSON forms of the query-string parameters.
    page = server.post(api() + "/samples/query", {"split": "training", "polygon": poly,
                                                  "gold": ["positive"], "misclassified": False})
    assert all(s["gold"] == "positive" and s["is_correct"] for s in page["samples"])


def test_one_sample_with_probabilities(server):
    s = server.get(api() + "/samples/inference%3Ashifted/ps-4")
    assert s["id"] == "ps-4" and s["split"] == "inference:shifted"
    assert list(s["probs"]) == LABELS
    assert abs(sum(s["probs"].values()) - 1) < 1e-4
    assert max(s["probs"], key=s["probs"].get) == s["pred"]
    assert abs(s["probs"][s["pred"]] - s["confidence"]) < 1e-5
    err = error_of(server, "GET", api() + "/samples/training/nope", expect=404)
    assert "nope" in err["message"]


def test_errors_are_json_with_a_message(server):
    err = error_of(server, "GET", api() + "/samples", {"split": "training", "gold": "maybe"})
    assert err["code"] == "invalid_argument" and "maybe" in err["message"]
    err = error_of(server, "GET", api() + "/samples", {"split": "training", "limit": 5000})
    assert "limit" in err["message"]
    err = error_of(server, "GET", api() + "/samples", {"split": "training", "text": "(x"})
    assert "text" in err["message"]
    err = error_of(server, "GET", api() + "/samples", {})
    assert "split" in err["message"]
    err = error_of(server, "GET", api() + "/samples", {"split": "inference:nope"}, expect=404)
    assert err["code"] == "not_found"
    err = error_of(server, "GET", api("proj", "missing"), expect=404)
    assert "missing" in err["message"]
    error_of(server, "GET", "/api/nothing", expect=404)
    error_of(server, "POST", api() + "/samples/query", body={"split": "training", "polygon": [[0, 0]]})
    status, _, body = server.request("POST", api() + "/samples/query", body=None,
                                     headers={"Content-Type": "application/json"})
    assert status == 400


# ---- similar, map ----------------------------------------------------------------------

def test_similar_matches_the_cli(server, store):
    got = server.get(api() + "/similar", {"split": "inference:shifted", "id": "ps-3", "k": 5,
                                          "in": "training"})
    assert got["query"] == {"split": "inference:shifted", "id": "ps-3"}
    assert got["took_ms"] >= 0
    cli = store["cli"]("similar", "--project", PROJECT, "--run", RUN, "--split", "inference",
                       "--inference-name", "shifted", "--id", "ps-3", "--k", "5",
                       "--in", "training").jsonl()
    assert [n["id"] for n in got["neighbors"]] == [r["id"] for r in cli]
    n = got["neighbors"][0]
    assert n["split"] == "training" and n["text"] and n["pred"] in LABELS and n["gold"] in LABELS
    d = [n["distance"] for n in got["neighbors"]]
    assert d == sorted(d)
    several = server.get(api() + "/similar", {"split": "training", "id": "tr-1", "k": 8,
                                              "in": ["validation", "inference:same"],
                                              "pred": "positive"})
    assert {n["split"] for n in several["neighbors"]} <= {"validation", "inference:same"}
    assert all(n["pred"] == "positive" for n in several["neighbors"])
    drifted = server.get(api() + "/similar", {"split": "training", "id": "tr-1", "k": 5,
                                              "in": "inference:shifted", "drifted": "true"})
    assert all(n["is_drifted"] is True for n in drifted["neighbors"])
    error_of(server, "GET", api() + "/similar", {"split": "training", "id": "zzz"}, expect=404)
    error_of(server, "GET", api() + "/similar", {"split": "training", "id": "tr-1", "k": 0})


def test_similar_by_vector(server, store):
    emb = store["data"]["training"].emb
    got = server.post(api() + "/similar", {"vector": emb[7].tolist(), "k": 3, "in": ["training"]})
    assert got["neighbors"][0]["id"] == "tr-7"
    assert got["neighbors"][0]["distance"] < 1e-4
    error_of(server, "POST", api() + "/similar", body={"vector": [1.0, 2.0], "k": 3})


def test_map_points_and_downsampling(server):
    full = server.get(api() + "/map")
    totals = {s["split"]: s["total"] for s in full["splits"]}
    assert totals == {"training": N_TRAIN, "validation": N_VAL, "inference:shifted": N_PROD,
                      "inference:same": N_PROD}
    b = full["bounds"]
    for s in full["splits"]:
        p = s["points"]
        assert len(p["x"]) == s["total"] and set(p["count"]) == {1}
        assert min(p["x"]) >= b["x0"] and max(p["x"]) <= b["x1"]
        assert set(p) >= {"x", "y", "id", "pred", "gold", "confidence", "drift_score", "count"}
    train = next(s for s in full["splits"] if s["split"] == "training")["points"]
    assert all(g >= 0 for g in train["gold"])
    small = server.get(api() + "/map", {"splits": "training,inference:shifted", "max_points": 40})
    assert [s["split"] for s in small["splits"]] == ["training", "inference:shifted"]
    for s in small["splits"]:
        assert 0 < len(s["points"]["x"]) <= 40
        assert sum(s["points"]["count"]) == s["total"]


# ---- selections, export ----------------------------------------------------------------

def test_selections_lifecycle(server, store):
    base = api() + "/selections"
    assert server.get(base)["selections"] == []
    server.post(base, {"name": "to label"}, expect=201)
    err = error_of(server, "POST", base, body={"name": "to label"}, expect=409)
    assert err["code"] == "already_exists"
    got = server.post(base + "/to%20label/add", {"items": [{"split": "training", "id": "tr-1"},
                                                           {"split": "inference:shifted", "id": "ps-2"}]})
    assert got["count"] == 2
    err = error_of(server, "POST", base + "/to%20label/add",
                   body={"items": [{"split": "training", "id": "tr-404404"}]}, expect=404)
    assert "tr-404404" in err["message"]
    got = server.post(base + "/to%20label/add", {"items": [{"split": "training", "id": "tr-1"}]})
    assert got["count"] == 2  # duplicates ignored
    drifted = server.get(api() + "/samples", {"split": "inference:shifted", "drifted": "true",
                                              "limit": 1000})
    got = server.post(base + "/to%20label/add", {"split": "inference:shifted",
                                                 "filter": {"drifted": True}})
    expected = 1 + len({s["id"] for s in drifted["samples"]} | {"ps-2"})
    assert got["count"] == expected
    got = server.post(base + "/to%20label/remove", {"items": [{"split": "training", "id": "tr-1"}]})
    assert got["count"] == expected - 1
    listed = server.get(base)["selections"]
    assert [(s["name"], s["count"]) for s in listed] == [("to label", expected - 1)]
    items = server.get(base + "/to%20label")["items"]
    assert items[0] == {"split": "inference:shifted", "id": "ps-2"}
    # Persisted in the run's database.
    db = sqlite3.connect(store["root"] / PROJECT / RUN / "sextant.db")
    n = db.execute("SELECT COUNT(*) FROM selection_items WHERE name = 'to label'").fetchone()[0]
    db.close()
    assert n == expected - 1
    # Export.
    status, headers, body = server.request("GET", base + "/to%20label/export", {"format": "csv"})
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == expected - 1
    assert list(rows[0])[:11] == ["id", "split", "text", "gold", "pred", "confidence", "margin",
                                  "is_on_the_boundary", "dep", "drift_score", "is_drifted"]
    status, _, body = server.request("GET", base + "/to%20label/export", {"format": "jsonl"})
    lines = [json.loads(l) for l in body.decode().splitlines()]
    assert lines[0]["id"] == "ps-2"
    status, _, _ = server.request("DELETE", base + "/to%20label")
    assert status == 200
    assert server.get(base)["selections"] == []
    error_of(server, "GET", base + "/to%20label", expect=404)


def test_export_of_a_filter(server, store):
    status, headers, body = server.request("GET", api() + "/export",
                                           {"split": "training", "format": "csv", "gold": "neutral"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [r["id"] for r in rows] == cli_ids(store, "training", "--gold", "neutral")
    assert {r["gold"] for r in rows} == {"neutral"}
    assert "source" in rows[0]
    # Texts with commas and quotes come back intact.
    texts = dict(zip(store["data"]["training"].ids, store["data"]["training"].texts))
    assert all(r["text"] == texts[r["id"]] for r in rows)
    status, _, body = server.request("GET", api() + "/export",
                                     {"split": "inference:same", "format": "jsonl"})
    assert len(body.decode().splitlines()) == N_PROD
    error_of(server, "GET", api() + "/export", {"split": "training", "format": "xml"})


def test_export_in_table_order_top_n_with_the_table_columns(server, store):
    page = server.get(api() + "/samples", {"split": "training", "sort": "confidence",
                                           "order": "desc", "gold": "neutral", "limit": 7})
    params = {"split": "training", "sort": "confidence", "order": "desc", "gold": "neutral",
              "limit": 7, "columns": "id,pred,confidence,meta.source", "format": "csv"}
    status, _, body = server.request("GET", api() + "/export", params)
    assert status == 200
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == ["id", "pred", "confidence", "meta.source"]
    assert [r[0] for r in rows[1:]] == [s["id"] for s in page["samples"]]
    assert [r[3] for r in rows[1:]] == [s["meta"]["source"] for s in page["samples"]]
    # JSONL: the same rows, the columns in the order asked.
    status, _, body = server.request("GET", api() + "/export",
                                     {**params, "format": "jsonl", "columns": "confidence,id"})
    lines = [json.loads(l) for l in body.decode().splitlines()]
    assert [list(l) for l in lines] == [["confidence", "id"]] * 7
    assert [l["id"] for l in lines] == [s["id"] for s in page["samples"]]
    # Without limit every match, still in the table's order; without columns today's columns.
    status, _, body = server.request("GET", api() + "/export",
                                     {"split": "training", "sort": "confidence", "order": "asc"})
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == N_TRAIN
    confidences = [float(r["confidence"]) for r in rows]
    assert confidences == sorted(confidences)
    assert list(rows[0])[:3] == ["id", "split", "text"]
    err = error_of(server, "GET", api() + "/export", {"split": "training", "columns": "id,colour"})
    assert "columns" in err["message"] and "'colour'" in err["message"]
    err = error_of(server, "GET", api() + "/export", {"split": "training", "limit": "0"})
    assert err["message"].startswith("limit")
    err = error_of(server, "GET", api() + "/export", {"split": "training", "sort": "nope"})
    assert err["message"].startswith("sort")
    # Selection exports take the columns too.
    base = api() + "/selections/cols"
    server.post(api() + "/selections", {"name": "cols"}, expect=201)
    server.post(base + "/add", {"items": [{"split": "training", "id": "tr-1"}]})
    status, _, body = server.request("GET", base + "/export", {"columns": "split,id"})
    assert body.decode().splitlines() == ["split,id", "training,tr-1"]
    server.request("DELETE", base)


# ---- static files, access token --------------------------------------------------------

def test_static_files_and_client_side_routes(server):
    status, body = server.raw("/")
    assert status == 200 and b"console" in body
    status, body = server.raw("/assets/app.js")
    assert status == 200 and b"console.log" in body
    status, body = server.raw("/runs/proj/console/samples")
    assert status == 200 and b"<title>console</title>" in body


@pytest.mark.parametrize("target", ["/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt",
                                    "/assets/../../secret.txt", "/assets/%2E%2E/%2E%2E/secret.txt",
                                    "/link.txt", "/%2e%2e%5csecret.txt"])
def test_paths_outside_the_static_folder_are_never_served(server, target):
    status, body = server.raw(target)
    assert b"TOP SECRET" not in body
    assert status == 404


def test_missing_ui_build_page(store, tmp_path):
    s = Served(["--root", store["root"], "--port", 0, "--static", tmp_path / "no-dist"])
    try:
        status, body = s.raw("/")
        assert status == 200 and b"not built" in body
        assert s.get("/api/health")["ok"]
    finally:
        s.stop()


def test_non_loopback_needs_a_token(store):
    import subprocess
    from conftest import sextant_binary
    p = subprocess.run([str(sextant_binary()), "serve", "--root", str(store["root"]), "--host",
                        "0.0.0.0", "--port", "0"], capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin"})
    assert p.returncode == 2
    assert "token" in p.stderr


@pytest.mark.parametrize("via_env", [False, True])
def test_token_is_checked_on_every_api_request(store, static_dir, via_env):
    args = ["--root", store["root"], "--host", "0.0.0.0", "--port", 0, "--static", static_dir]
    env = {}
    if via_env:
        env["SEXTANT_TOKEN"] = "s3cret"
    else:
        args += ["--token", "s3cret"]
    s = Served(args, env=env, token="s3cret")
    try:
        s.host = "127.0.0.1"
        s.base = f"http://127.0.0.1:{s.port}"
        for path in ["/api/runs", api() + "/samples?split=training", "/api/whoami"]:
            status, headers, body = s.request("GET", path, auth=False)
            assert status == 401, path
            assert json.loads(body)["error"]["code"] == "unauthenticated"
            assert headers.get("WWW-Authenticate") == "Bearer"
        # Health is public (load balancers, the client's version check).
        assert s.get("/api/health", auth=False)["ok"]
        assert s.get("/api/whoami") == {"key_name": "token", "role": "admin", "projects": [],
                                        "key_required": True}
        status, _, _ = s.request("GET", "/api/runs", auth=False, headers={"Authorization": "Bearer nope"})
        assert status == 401
        status, _, _ = s.request("POST", api() + "/selections", body={"name": "x"}, auth=False)
        assert status == 401
        assert s.get("/api/runs")["runs"]
        assert s.get("/api/runs", {"token": "s3cret"}, auth=False)["runs"]
        status, body = s.raw("/")  # the console's page itself loads, and asks for the token
        assert status == 200
    finally:
        s.stop()


def test_browsers_get_gzip_not_brotli(server):
    """Chromium offers br; Debian's httplib brotli is ~50x slower than gzip on large answers."""
    import gzip
    status, headers, body = server.request(
        "GET", api() + "/map", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert status == 200
    assert headers.get("Content-Encoding") == "gzip", headers
    assert "splits" in json.loads(gzip.decompress(body))
    status, headers, body = server.request("GET", api() + "/map", headers={"Accept-Encoding": "br"})
    assert status == 200 and "Content-Encoding" not in headers
    assert "splits" in json.loads(body)
