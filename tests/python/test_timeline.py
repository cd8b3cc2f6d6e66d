"""The timeline (docs/timeline.md) of a run watched for twelve days, checked
against an independent computation from the per-sample results; the time of
inference sets from every way it is given."""

from __future__ import annotations

import datetime
import json
import math
import subprocess

import numpy as np
import pytest

import sextant as dq
from conftest import LABELS, log_split, make_data
import timeline_run

Z95 = 1.959963984540054


def wilson(count, n):
    """The Wilson score interval, written here from its formula."""
    p = count / n
    denom = 1 + Z95 ** 2 / n
    centre = (p + Z95 ** 2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / denom
    return centre - half, centre + half


def mean_interval(values):
    values = np.asarray(values, dtype=np.float64)
    m = values.mean()
    half = Z95 * values.std(ddof=1) / math.sqrt(len(values))
    return m, m - half, m + half


def close(metric, value, low=None, high=None, tol=1e-6):
    assert metric is not None
    assert metric["value"] == pytest.approx(value, abs=tol)
    if low is not None:
        assert metric["low"] == pytest.approx(low, abs=tol)
        assert metric["high"] == pytest.approx(high, abs=tol)


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    root = tmp_path_factory.mktemp("watched") / "store"
    model, sets, desc = timeline_run.build(root, log_order=[11, 3, 0, 7, 1, 2, 4, 5, 6, 8, 9, 10])
    return root, model, sets


def test_sets_are_in_time_order_whatever_the_logging_order(watched, sextant_bin):
    root, _, sets = watched
    t = dq.get_timeline("watch", "sentiment", root=root, raw=True)
    assert [s["name"] for s in t["sets"]] == [name for name, _, _, _ in sets]
    for entry, (name, time, _, _) in zip(t["sets"], sets):
        assert entry["time"] == pytest.approx(time)
        assert entry["time_source"] == "given"
        assert entry["time_iso"] == datetime.datetime.fromtimestamp(
            time, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert set(t["reference"]) == {"training", "validation"}

    # The CLI prints the same order, and the API serves the same JSON.
    out = subprocess.run([str(sextant_bin), "timeline", "--root", str(root), "--project", "watch",
                          "--run", "sentiment", "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["sets"] == t["sets"]
    table = subprocess.run([str(sextant_bin), "timeline", "--root", str(root), "--project",
                            "watch", "--run", "sentiment"],
                           capture_output=True, text=True, check=True).stdout
    names = [line.split()[1] for line in table.splitlines()[2:]]
    assert names == ["training", "validation"] + [name for name, _, _, _ in sets]

    df = dq.get_timeline("watch", "sentiment", root=root)
    assert list(df["set"]) == [name for name, _, _, _ in sets]
    assert df["time"].is_monotonic_increasing


def test_every_metric_matches_an_independent_computation(watched):
    root, _, sets = watched
    t = dq.get_timeline("watch", "sentiment", root=root, raw=True)
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.metrics import roc_auc_score

    val = dq.get_dataframe("validation", include_embs=True, project_name="watch",
                           run_name="sentiment", root=root)
    val_embs = np.stack(val["emb"].to_numpy())
    for entry in t["sets"]:
        df = dq.get_dataframe("inference", entry["name"], include_embs=True,
                              project_name="watch", run_name="sentiment", root=root)
        n = len(df)
        m = entry["metrics"]
        assert entry["samples"] == n and m["samples"]["value"] == n
        drifted = int(df["is_drifted"].sum())
        close(m["drifted_share"], drifted / n, *wilson(drifted, n))
        boundary = int(df["is_on_the_boundary"].sum())
        close(m["on_boundary_share"], boundary / n, *wilson(boundary, n))
        close(m["mean_confidence"], *mean_interval(df["confidence"]))
        for label in LABELS_OF_RUN:
            rows = df[df["pred"] == label]
            c = entry["per_class"][label]
            close(c["pred_share"], len(rows) / n, *wilson(len(rows), n))
            if len(rows) > 1:
                close(c["mean_confidence"], *mean_interval(rows["confidence"]))
            d = int(rows["is_drifted"].sum())
            close(c["drifted_share"], d / max(len(rows), 1), tol=1e-6)
        # The domain classifier's AUC against validation: a cross-validated
        # logistic regression of scikit-learn on the same embeddings agrees.
        embs = np.stack(df["emb"].to_numpy())
        x = np.concatenate([val_embs, embs])
        y = np.concatenate([np.zeros(len(val_embs)), np.ones(len(embs))])
        scores = cross_val_predict(LogisticRegression(C=1.0, max_iter=2000), x, y, cv=5,
                                   method="predict_proba")[:, 1]
        assert m["domain_auc"]["value"] == pytest.approx(roc_auc_score(y, scores), abs=0.08)
        assert m["domain_auc"]["low"] <= m["domain_auc"]["value"] <= m["domain_auc"]["high"]
        assert entry["drift_verdict"] in (True, False)


LABELS_OF_RUN = timeline_run.LABELS


def test_the_shifted_sets_stand_out(watched):
    root, _, sets = watched
    t = dq.get_timeline("watch", "sentiment", root=root, raw=True)
    shifted = {name for name, _, _, is_shifted in sets if is_shifted}
    for e in t["sets"]:
        auc = e["metrics"]["domain_auc"]["value"]
        assert (auc > 0.6) == (e["name"] in shifted), (e["name"], auc)


def test_the_estimate_is_scored_against_hidden_labels(watched):
    root, _, sets = watched
    t = dq.get_timeline("watch", "sentiment", root=root, raw=True)
    by_name = {e["name"]: e for e in t["sets"]}
    covered = 0
    for name, _, frame, _ in sets:
        est = by_name[name]["metrics"]["estimated_accuracy"]
        if est is None:
            pytest.skip("no performance estimate in this build")
        df = dq.get_dataframe("inference", name, project_name="watch", run_name="sentiment",
                              root=root)
        gold = dict(zip([f"{name}-{i}" for i in frame["id"]], frame["label"]))
        real = float(np.mean([timeline_run.LABELS[int(gold[i])] == p
                              for i, p in zip(df["id"], df["pred"])]))
        covered += est["low"] <= real <= est["high"]
        assert abs(est["value"] - real) < 0.15, (name, est, real)
    assert covered >= 10, covered


def test_time_defaults_to_the_first_sample_and_a_given_time_wins(root, sextant_bin, tmp_path):
    dq.init(task_type="text_classification", project_name="p", run_name="r", root=root)
    dq.set_labels_for_run(LABELS)
    log_split("training", make_data(200, "t", 1))
    before = datetime.datetime.now(datetime.timezone.utc).timestamp()
    log_split("inference", make_data(50, "a", 3), inference_name="auto")
    after = datetime.datetime.now(datetime.timezone.utc).timestamp()
    dq.set_split("inference", "dated", timestamp=datetime.datetime(2026, 1, 2, 3, 4, 5))
    log_split("inference", make_data(50, "d", 4), inference_name="dated")
    dq.set_split("inference", "iso", timestamp="2026-01-01T00:00:00Z")
    log_split("inference", make_data(50, "s", 5), inference_name="iso")
    # Bad times are refused, naming the field, and change nothing.
    with pytest.raises(dq.InvalidArgumentError, match="timestamp"):
        dq.set_split("inference", "iso", timestamp=1767225600000.0)  # milliseconds
    with pytest.raises(ValueError, match="timestamp"):
        dq.set_split("inference", "iso", timestamp="yesterday")
    with pytest.raises(dq.InvalidArgumentError, match="timestamp: only inference sets"):
        dq.set_split("training", timestamp=0)

    dq.finish()
    t = dq.get_timeline("p", "r", root=root, raw=True)
    assert [s["name"] for s in t["sets"]] == ["iso", "dated", "auto"]
    auto = t["sets"][2]
    assert auto["time_source"] == "first_sample" and before - 1 <= auto["time"] <= after + 1
    assert t["sets"][1]["time_iso"] == "2026-01-02T03:04:05Z"
    assert t["sets"][0]["time"] == 1767225600.0

    # `sextant import --time` dates a set; the CLI lists it in order.
    data = make_data(40, "c", 6)
    csv = tmp_path / "set.csv"
    csv.write_text("id,text\n" + "".join(f"{i},{t}\n" for i, t in zip(data["ids"], data["texts"])))
    np.save(tmp_path / "embs.npy", data["embs"].astype(np.float32))
    np.save(tmp_path / "logits.npy", data["logits"].astype(np.float32))
    subprocess.run([str(sextant_bin), "import", "--root", str(root), "--project", "p", "--run", "r",
                    "--split", "inference", "--inference-name", "cli", "--time", "2025-12-31",
                    "--data", str(csv), "--embeddings", str(tmp_path / "embs.npy"),
                    "--logits", str(tmp_path / "logits.npy")], check=True, capture_output=True)
    t = dq.get_timeline("p", "r", root=root, raw=True)
    assert [s["name"] for s in t["sets"]] == ["cli", "iso", "dated", "auto"]
    bad = subprocess.run([str(sextant_bin), "import", "--root", str(root), "--project", "p",
                          "--run", "r", "--split", "inference", "--inference-name", "x", "--time",
                          "31/12/2025", "--data", str(csv), "--embeddings",
                          str(tmp_path / "embs.npy"), "--logits", str(tmp_path / "logits.npy")],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--time" in bad.stderr

    # --metric and --class select columns; unknown names are named in the error.
    out = subprocess.run([str(sextant_bin), "timeline", "--root", str(root), "--project", "p",
                          "--run", "r", "--metric", "mean_confidence", "--class", "positive",
                          "--format", "json"], capture_output=True, text=True, check=True).stdout
    rows = json.loads(out)["sets"]
    assert [r["name"] for r in rows] == ["cli", "iso", "dated", "auto"]
    assert set(rows[0]) == {"name", "time", "time_iso", "class", "mean_confidence"}
    bad = subprocess.run([str(sextant_bin), "timeline", "--root", str(root), "--project", "p",
                          "--run", "r", "--metric", "nope"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--metric: 'nope'" in bad.stderr


# ---------------------------------------------------------------- alert rules


class Receiver:
    """A webhook receiver on loopback that answers 500 to the first attempt of
    every delivery and 200 to the next, and keeps what it accepted."""

    def __init__(self):
        import http.server
        import threading

        self.attempts = {}  # delivery id -> attempts seen
        self.accepted = []  # bodies answered 200
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                delivery = self.headers["X-Sextant-Delivery"]
                assert delivery == body["delivery_id"]
                receiver.attempts[delivery] = receiver.attempts.get(delivery, 0) + 1
                code = 500 if receiver.attempts[delivery] == 1 else 200
                if code == 200:
                    receiver.accepted.append(body)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, kind):
        return sorted((b["rule"]["id"], b["set"]) for b in self.accepted if b["event"] == kind)


def alerts(binary, root, *args):
    r = subprocess.run([str(binary), "alerts", *args, "--root", str(root), "--project", "watch"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def firing_sets(binary, root, rule):
    states = json.loads(alerts(binary, root, "states", "--run", "sentiment", "--format", "json"))
    states = states["states"] if isinstance(states, dict) else states
    return sorted(s["set"] for s in states if s["rule_id"] == rule and s["state"] == "firing")


def test_rules_fire_on_exactly_the_shifted_sets_and_each_event_is_delivered_once(
        tmp_path, sextant_bin):
    root = tmp_path / "store"
    receiver = Receiver()
    # Only this test's two rules: the default ones are removed.
    for rule in json.loads(alerts(sextant_bin, root, "list", "--format", "json")):
        alerts(sextant_bin, root, "remove", "--id", rule["id"])
    alerts(sextant_bin, root, "add", "--id", "shift", "--metric", "domain_auc", "--op", ">",
           "--value", "0.6")
    alerts(sextant_bin, root, "add", "--id", "confidence-band", "--metric", "mean_confidence",
           "--kind", "band", "--first-n", "4", "--k", "3")
    alerts(sextant_bin, root, "webhook", "add", "--url", receiver.url)

    _, sets, _ = timeline_run.build(root, log_order=[11, 3, 0, 7, 1, 2, 4, 5, 6, 8, 9, 10])
    shifted = sorted(name for name, _, _, is_shifted in sets if is_shifted)
    t = dq.get_timeline("watch", "sentiment", root=root, raw=True)
    # The band is learned from the first four (in-domain) days, as the test computes it.
    base = np.array([s["metrics"]["mean_confidence"]["value"] for s in t["sets"][:4]])
    low, high = base.mean() - 3 * base.std(), base.mean() + 3 * base.std()
    outside = sorted(s["name"] for s in t["sets"][4:]
                     if not low <= s["metrics"]["mean_confidence"]["value"] <= high)
    assert outside == shifted
    assert firing_sets(sextant_bin, root, "shift") == shifted
    assert firing_sets(sextant_bin, root, "confidence-band") == shifted

    # Each firing reached the receiver once, on the retry after its 500.
    assert receiver.events("firing") == sorted(
        [("shift", s) for s in shifted] + [("confidence-band", s) for s in shifted])
    assert all(n == 2 for n in receiver.attempts.values()), receiver.attempts
    print("\nwebhook deliveries after the first finish:")
    for b in receiver.accepted:
        print(f"  {b['event']:8} {b['rule']['id']:16} {b['set']:7} value {b['value']:.3f} "
              f"attempts {receiver.attempts[b['delivery_id']]}")

    # Yelp's day gets much more in-domain traffic: refreshed, it no longer
    # stands out for the domain classifier, and that rule resolves there.
    extra = timeline_run.more_in_domain(2000)
    dq.init(task_type="text_classification", project_name="watch", run_name="sentiment",
            root=root)
    dq.set_labels_for_run(timeline_run.LABELS)
    yelp_time = dict((name, time) for name, time, _, _ in sets)["yelp"]
    timeline_run.log_set("yelp", yelp_time, extra, timeline_run.Model.last, "extra-")
    dq.finish()
    t = dq.get_timeline("watch", "sentiment", root=root, raw=True)
    yelp = next(s for s in t["sets"] if s["name"] == "yelp")
    assert yelp["samples"] == 300 + len(extra)
    assert yelp["metrics"]["domain_auc"]["value"] <= 0.6
    expected_shift = [s for s in shifted if s != "yelp"]
    assert firing_sets(sextant_bin, root, "shift") == expected_shift
    band_fires = not low <= yelp["metrics"]["mean_confidence"]["value"] <= high
    assert ("yelp" in firing_sets(sextant_bin, root, "confidence-band")) == band_fires

    resolved = [("shift", "yelp")] + ([] if band_fires else [("confidence-band", "yelp")])
    assert receiver.events("resolved") == sorted(resolved)
    # Nothing was sent twice: one accepted body per delivery id, and the
    # unchanged sets sent nothing new.
    ids = [b["delivery_id"] for b in receiver.accepted]
    assert len(ids) == len(set(ids))
    assert len(receiver.accepted) == 2 * len(shifted) + len(resolved)
    for b in receiver.accepted[2 * len(shifted):]:
        print(f"  {b['event']:8} {b['rule']['id']:16} {b['set']:7} value {b['value']:.3f} "
              f"attempts {receiver.attempts[b['delivery_id']]}")
    states = json.loads(alerts(sextant_bin, root, "states", "--run", "sentiment", "--format",
                               "json"))
    states = states["states"] if isinstance(states, dict) else states
    yelp_shift = [s for s in states if s["rule_id"] == "shift" and s["set"] == "yelp"]
    assert [s["state"] for s in yelp_shift] == ["resolved"]
