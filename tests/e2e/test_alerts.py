"""Alert rules end to end through the CLI (docs/alerts.md): rules and a webhook added
with `sextant alerts`, a finish evaluates them over the run's timeline, and a loopback
receiver that answers 500 first gets each firing once.

Needs the run summary's timeline (docs/format.md); skipped on a build without it."""

import http.server
import json
import re
import signal
import subprocess
import threading
import urllib.request

import pytest

P, R = "watch", "prod"


class Receiver:
    """Answers 500 to the first POST of each delivery id, then 200, keeping the bodies."""

    def __init__(self):
        self.seen, self.accepted, self.lock = {}, [], threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                delivery = self.headers["X-Sextant-Delivery"]
                with outer.lock:
                    first = delivery not in outer.seen
                    outer.seen[delivery] = outer.seen.get(delivery, 0) + 1
                    if not first:
                        outer.accepted.append(json.loads(body))
                self.send_response(500 if first else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_a_finish_fires_the_rules_and_notifies_once(sextant, make_data, receiver):
    sextant.import_split(P, R, make_data.write("train", 300, seed=1), "training")
    sextant.import_split(P, R, make_data.write("val", 150, seed=2), "validation")
    shifted = {"s1", "s2"}
    for i, name in enumerate(["d1", "d2", "d3", "s1", "d4", "s2"]):
        data = make_data.write(name, 120, seed=10 + i, labeled=False,
                               shift=2.0 if name in shifted else 0.0)
        sextant.import_split(P, R, data, "inference", inference_name=name)
    for rule in sextant("alerts", "list", "--project", P, "--format", "json").json():
        sextant("alerts", "remove", "--project", P, "--id", rule["id"])
    assert sextant("alerts", "add", "--project", P, "--metric", "drifted_share", "--op", ">",
                   "--value", "0.3", "--id", "drift30").stdout.strip() == "drift30"
    hook = sextant("alerts", "webhook", "add", "--project", P, "--url", receiver.url)
    assert hook.stdout.strip().startswith("wh-")

    finish = sextant("finish", *sextant.run_args(P, R))
    summary = sextant.summary(P, R)
    if "timeline" not in summary:
        pytest.skip("this build's run summary has no timeline")
    assert "alerts: 2 firing" in finish.stderr, finish.stderr

    states = sextant("alerts", "states", "--project", P, "--run", R, "--format", "json").json()
    firing = sorted(s["set"] for s in states if s["state"] == "firing")
    assert firing == sorted(shifted)
    got = sorted((j["set"], j["event"]) for j in receiver.accepted)
    assert got == [("s1", "firing"), ("s2", "firing")]
    assert all(n == 2 for n in receiver.seen.values())  # the 500, then the 200
    deliveries = sextant("alerts", "deliveries", "--project", P, "--format", "json").json()
    assert [d["status"] for d in deliveries] == ["delivered", "delivered"]

    # Finished again with nothing new: nothing is sent again.
    sextant("finish", *sextant.run_args(P, R))
    assert len(receiver.accepted) == 2
    report = sextant("report", *sextant.run_args(P, R)).stdout
    assert "FIRING drift30 on s1" in report

    # `sextant serve` over the same root: the API's states and the Prometheus gauge.
    served = subprocess.Popen([str(sextant.binary), "serve", "--root", str(sextant.root),
                               "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=sextant.env())
    try:
        url = re.search(r"http://[0-9.]+:[0-9]+", served.stdout.readline()).group(0)
        with urllib.request.urlopen(f"{url}/api/projects/{P}/alerts/states?state=firing",
                                    timeout=30) as r:
            api_firing = sorted(s["set"] for s in json.loads(r.read())["states"])
        assert api_firing == sorted(shifted)
        with urllib.request.urlopen(f"{url}/metrics", timeout=30) as r:
            metrics = r.read().decode()
        for name in ["s1", "s2"]:
            assert (f'sextant_alert_firing{{project="{P}",run="{R}",set="{name}",rule="drift30",'
                    f'class=""}} 1') in metrics, metrics
        assert (f'sextant_alert_firing{{project="{P}",run="{R}",set="d1",rule="drift30",'
                f'class=""}} 0') in metrics
    finally:
        served.send_signal(signal.SIGTERM)
        served.wait(timeout=60)

    # The rule edited past the shifted sets' values: each resolves, once.
    sextant("alerts", "update", "--project", P, "--id", "drift30", "--value", "2")
    evaluated = sextant("alerts", "evaluate", "--project", P, "--run", R)
    assert "0 firing, 2 new transition(s)" in evaluated.stdout, evaluated.stdout
    got = sorted((j["set"], j["event"]) for j in receiver.accepted)
    assert got == [("s1", "firing"), ("s1", "resolved"), ("s2", "firing"), ("s2", "resolved")]
    sextant("alerts", "evaluate", "--project", P, "--run", R)
    assert len(receiver.accepted) == 4
